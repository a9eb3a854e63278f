package backend

import "github.com/deepframe/deepframe/backend/internal/par"

// elemGrain is the number of cheap element operations one goroutine should get at least;
// below it the hand-off costs more than the work.
const elemGrain = 1 << 14

func (reference) Transpose(x []float32, xShape []int, perm []int, y []float32) {
	var dimBuf, permBuf [maxRank]int
	dims, p := collapsePerm(xShape, perm, dimBuf[:0], permBuf[:0])
	total := 1
	for _, d := range dims {
		total *= d
	}
	if total == 0 {
		return
	}
	switch {
	case len(dims) <= 1:
		transposeTask{kind: transposeCopy, src: x, dst: y}.run(total, elemGrain)
	case len(dims) == 2: // p is [1 0]: the only non-trivial permutation left of rank 2
		transposeBatched(x, 1, dims[0], dims[1], y)
	case len(dims) == 3 && p[0] == 0 && p[1] == 2 && p[2] == 1:
		transposeBatched(x, dims[0], dims[1], dims[2], y)
	default:
		transposeGeneral(x, dims, p, y)
	}
}

// collapsePerm removes unit axes and fuses runs of axes that stay adjacent and in order under
// the permutation, so that e.g. NHWC→NCHW becomes a batched 2-D transpose of (H*W)×C. The
// collapsed shape and permutation are appended to dims and p; up to maxRank axes, the
// bookkeeping stays on the stack.
func collapsePerm(shape, perm []int, dims, p []int) ([]int, []int) {
	// Drop unit axes, renumbering the survivors.
	var indexBuf, keptBuf, pBuf [maxRank]int
	newIndex, kept := indexBuf[:0], keptBuf[:0]
	for _, d := range shape {
		if d == 1 {
			newIndex = append(newIndex, -1)
			continue
		}
		newIndex = append(newIndex, len(kept))
		kept = append(kept, d)
	}
	q := pBuf[:0]
	for _, a := range perm {
		if newIndex[a] >= 0 {
			q = append(q, newIndex[a])
		}
	}
	if len(q) == 0 {
		return append(dims, kept...), p
	}
	// Group consecutive output axes whose input axes are consecutive too: group g spans input
	// axes first[g]..last[g].
	var firstBuf, lastBuf [maxRank]int
	first, last := firstBuf[:0], lastBuf[:0]
	for i, a := range q {
		if i > 0 && a == q[i-1]+1 {
			last[len(last)-1] = a
			continue
		}
		first, last = append(first, a), append(last, a)
	}
	// A group's rank in input order is its new input axis number.
	var rankBuf [maxRank]int
	rank := rankBuf[:0]
	for range kept {
		rank = append(rank, -1)
	}
	for _, f := range first {
		rank[f] = 0
	}
	next := 0
	for a := range rank {
		if rank[a] == 0 {
			rank[a] = next
			next++
		}
	}
	base := len(dims)
	for range first {
		dims, p = append(dims, 0), append(p, 0)
	}
	for g, f := range first {
		size := 1
		for a := f; a <= last[g]; a++ {
			size *= kept[a]
		}
		dims[base+rank[f]] = size
		p[base+g] = rank[f]
	}
	return dims, p
}

// transposeTask is one of the transpose loops over [lo, hi): a plain copy of elements, the
// tiles of a batched 2-D transpose, or the output rows of the general case.
type transposeTask struct {
	kind     transposeKind
	src, dst []float32
	// batched
	rows, cols, colTiles int
	// general: y's axes (yDims) with the x stride of each (yStr)
	yDims, yStr       []int
	yDimsBuf, yStrBuf [maxRank]int
}

type transposeKind uint8

const (
	transposeCopy transposeKind = iota
	transposeTiles
	transposeRows
)

var transposeTasks par.Pool[transposeTask, *transposeTask]

// run serves the copy and tile kinds, which hold no shape slices.
func (t transposeTask) run(n, grain int) {
	if threads, inline := split(n, grain); inline {
		t.Run(0, max(n, 0))
	} else {
		transposeTasks.For(threads, n, grain, t)
	}
}

const transposeTile = 32

func (t *transposeTask) Run(lo, hi int) {
	switch t.kind {
	case transposeCopy:
		copy(t.dst[lo:hi], t.src[lo:hi])
	case transposeTiles:
		transposeTileRange(t, lo, hi)
	case transposeRows:
		transposeRowRange(t, lo, hi)
	}
}

// transposeBatched transposes batch row-major rows×cols matrices, in square tiles so both the
// reads and the writes stay within a few cache lines per row.
func transposeBatched(src []float32, batch, rows, cols int, dst []float32) {
	colTiles := (cols + transposeTile - 1) / transposeTile
	grain := max(1, elemGrain/(transposeTile*rows))
	transposeTask{kind: transposeTiles, src: src, dst: dst, rows: rows, cols: cols, colTiles: colTiles}.run(batch*colTiles, grain)
}

// transposeTileRange transposes column tiles [lo, hi) (flat over batch, tile).
func transposeTileRange(t *transposeTask, lo, hi int) {
	rows, cols, colTiles := t.rows, t.cols, t.colTiles
	for k := lo; k < hi; k++ {
		b, j0 := k/colTiles, (k%colTiles)*transposeTile
		j1 := min(j0+transposeTile, cols)
		s := t.src[b*rows*cols:]
		d := t.dst[b*rows*cols:]
		for i0 := 0; i0 < rows; i0 += transposeTile {
			i1 := min(i0+transposeTile, rows)
			for j := j0; j < j1; j++ {
				drow := d[j*rows : j*rows+rows]
				for i := i0; i < i1; i++ {
					drow[i] = s[i*cols+j]
				}
			}
		}
	}
}

// transpose2D writes the cols×rows transpose of the rows×cols matrix src into dst.
func transpose2D(src []float32, rows, cols int, dst []float32) {
	transposeBatched(src, 1, rows, cols, dst)
}

// transposeGeneral walks y in order with an odometer over its axes, reading x through the
// permuted strides.
func transposeGeneral(x []float32, dims, perm []int, y []float32) {
	r := len(dims)
	var strideBuf, yDimsBuf, yStrBuf [maxRank]int
	xStrides, yDims, yStr := strideBuf[:0], yDimsBuf[:0], yStrBuf[:0]
	for range r {
		xStrides = append(xStrides, 0)
	}
	s := 1
	for i := r - 1; i >= 0; i-- {
		xStrides[i] = s
		s *= dims[i]
	}
	for _, a := range perm {
		yDims = append(yDims, dims[a])
		yStr = append(yStr, xStrides[a]) // stride in x of each y axis
	}
	inner := yDims[r-1]
	rows, grain := s/inner, max(1, elemGrain/inner)
	threads, inline := split(rows, grain)
	if inline {
		t := transposeTask{kind: transposeRows, src: x, dst: y, yDims: yDims, yStr: yStr}
		t.Run(0, rows)
		return
	}
	// The pooled task gets copies of the axes in its own arrays: pointing it at this frame's
	// would move them to the heap on every call.
	pt := transposeTasks.Get()
	pt.kind, pt.src, pt.dst = transposeRows, x, y
	pt.yDims = append(pt.yDimsBuf[:0], yDims...)
	pt.yStr = append(pt.yStrBuf[:0], yStr...)
	par.For(threads, rows, grain, pt)
	transposeTasks.Put(pt)
}

// transposeRowRange writes y's rows [lo, hi) (all axes but the last).
func transposeRowRange(t *transposeTask, lo, hi int) {
	x, y, yDims, yStr := t.src, t.dst, t.yDims, t.yStr
	r := len(yDims)
	inner := yDims[r-1]
	innerStride := yStr[r-1]
	var idxBuf [maxRank]int
	idx := idxBuf[:0]
	for range r - 1 {
		idx = append(idx, 0)
	}
	rem := lo
	off := 0
	for i := r - 2; i >= 0; i-- {
		idx[i] = rem % yDims[i]
		rem /= yDims[i]
		off += idx[i] * yStr[i]
	}
	for row := lo; row < hi; row++ {
		out := y[row*inner : row*inner+inner]
		for j, o := 0, off; j < inner; j, o = j+1, o+innerStride {
			out[j] = x[o]
		}
		for i := r - 2; i >= 0; i-- {
			idx[i]++
			off += yStr[i]
			if idx[i] < yDims[i] {
				break
			}
			off -= idx[i] * yStr[i]
			idx[i] = 0
		}
	}
}
