package backend

// elemGrain is the number of cheap element operations one goroutine should get at least;
// below it the hand-off costs more than the work.
const elemGrain = 1 << 14

func (reference) Transpose(x []float32, xShape []int, perm []int, y []float32) {
	dims, p := collapsePerm(xShape, perm)
	total := 1
	for _, d := range dims {
		total *= d
	}
	if total == 0 {
		return
	}
	switch {
	case len(dims) <= 1:
		parallelFor(total, elemGrain, func(lo, hi int) { copy(y[lo:hi], x[lo:hi]) })
	case len(dims) == 2: // p is [1 0]: the only non-trivial permutation left of rank 2
		transposeBatched(x, 1, dims[0], dims[1], y)
	case len(dims) == 3 && p[0] == 0 && p[1] == 2 && p[2] == 1:
		transposeBatched(x, dims[0], dims[1], dims[2], y)
	default:
		transposeGeneral(x, dims, p, y)
	}
}

// collapsePerm removes unit axes and fuses runs of axes that stay adjacent and in order under
// the permutation, so that e.g. NHWC→NCHW becomes a batched 2-D transpose of (H*W)×C.
func collapsePerm(shape, perm []int) ([]int, []int) {
	// Drop unit axes, renumbering the survivors.
	newIndex := make([]int, len(shape))
	kept := 0
	for i, d := range shape {
		if d == 1 {
			newIndex[i] = -1
			continue
		}
		newIndex[i] = kept
		kept++
	}
	dims := make([]int, 0, kept)
	for _, d := range shape {
		if d != 1 {
			dims = append(dims, d)
		}
	}
	p := make([]int, 0, kept)
	for _, a := range perm {
		if newIndex[a] >= 0 {
			p = append(p, newIndex[a])
		}
	}
	if len(p) == 0 {
		return dims, p
	}
	// Group consecutive output axes whose input axes are consecutive too.
	type group struct{ first, last int }
	var groups []group
	for i, a := range p {
		if i > 0 && a == p[i-1]+1 {
			groups[len(groups)-1].last = a
			continue
		}
		groups = append(groups, group{a, a})
	}
	// A group's rank in input order is its new input axis number.
	rank := make([]int, len(dims))
	for i := range rank {
		rank[i] = -1
	}
	for _, g := range groups {
		rank[g.first] = 0
	}
	next := 0
	for a := range rank {
		if rank[a] == 0 {
			rank[a] = next
			next++
		}
	}
	newDims := make([]int, len(groups))
	newPerm := make([]int, len(groups))
	for i, g := range groups {
		size := 1
		for a := g.first; a <= g.last; a++ {
			size *= dims[a]
		}
		newDims[rank[g.first]] = size
		newPerm[i] = rank[g.first]
	}
	return newDims, newPerm
}

// transposeBatched transposes batch row-major rows×cols matrices, in square tiles so both the
// reads and the writes stay within a few cache lines per row.
func transposeBatched(src []float32, batch, rows, cols int, dst []float32) {
	const tile = 32
	colTiles := (cols + tile - 1) / tile
	grain := max(1, elemGrain/(tile*rows))
	parallelFor(batch*colTiles, grain, func(lo, hi int) {
		for t := lo; t < hi; t++ {
			b, j0 := t/colTiles, (t%colTiles)*tile
			j1 := min(j0+tile, cols)
			s := src[b*rows*cols:]
			d := dst[b*rows*cols:]
			for i0 := 0; i0 < rows; i0 += tile {
				i1 := min(i0+tile, rows)
				for j := j0; j < j1; j++ {
					drow := d[j*rows : j*rows+rows]
					for i := i0; i < i1; i++ {
						drow[i] = s[i*cols+j]
					}
				}
			}
		}
	})
}

// transpose2D writes the cols×rows transpose of the rows×cols matrix src into dst.
func transpose2D(src []float32, rows, cols int, dst []float32) {
	transposeBatched(src, 1, rows, cols, dst)
}

// transposeGeneral walks y in order with an odometer over its axes, reading x through the
// permuted strides.
func transposeGeneral(x []float32, dims, perm []int, y []float32) {
	r := len(dims)
	xStrides := make([]int, r)
	s := 1
	for i := r - 1; i >= 0; i-- {
		xStrides[i] = s
		s *= dims[i]
	}
	yDims := make([]int, r)
	yStr := make([]int, r) // stride in x of each y axis
	for i, a := range perm {
		yDims[i] = dims[a]
		yStr[i] = xStrides[a]
	}
	inner := yDims[r-1]
	innerStride := yStr[r-1]
	outer := s / inner
	parallelFor(outer, max(1, elemGrain/inner), func(lo, hi int) {
		idx := make([]int, r-1)
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
	})
}
