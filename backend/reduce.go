package backend

import (
	"fmt"
	"math"

	"github.com/deepframe/deepframe/backend/internal/par"
)

// Block sizes of the reduction. They are fixed (not derived from the thread count) so that a
// sum is always added up in the same order and the result is identical for any budget.
const (
	reduceColBlock = 1024    // output columns one task accumulates at a time
	reduceBlock    = 1 << 14 // input elements one task reduces before its partial is combined
)

func (reference) Reduce(op ReduceOp, x []float32, xShape []int, axes []int, y []float32) {
	switch op {
	case ReduceSum, ReduceMean, ReduceMax, ReduceMin:
	default:
		panic(fmt.Sprintf("backend: unknown reduce op %d", op))
	}
	var dimBuf [maxRank]int
	var redBuf [maxRank]bool
	dims, reduced := collapseReduce(xShape, axes, dimBuf[:0], redBuf[:0])
	// The collapsed axes alternate kept/reduced. [K1, R, K2] (any part may be absent) is
	// reduced in place; anything with more alternations is first transposed to [K, R].
	var k1, r, k2 int
	switch {
	case len(dims) == 0:
		k1, r, k2 = 1, 1, 1
	case len(dims) == 1 && reduced[0]:
		k1, r, k2 = 1, dims[0], 1
	case len(dims) == 1:
		k1, r, k2 = dims[0], 1, 1
	case len(dims) == 2 && reduced[1]:
		k1, r, k2 = dims[0], dims[1], 1
	case len(dims) == 2:
		k1, r, k2 = 1, dims[0], dims[1]
	case len(dims) == 3 && reduced[1]:
		k1, r, k2 = dims[0], dims[1], dims[2]
	default:
		var permBuf [maxRank]int
		perm := permBuf[:0]
		k, rr := 1, 1
		for i, red := range reduced {
			if !red {
				perm = append(perm, i)
				k *= dims[i]
			}
		}
		for i, red := range reduced {
			if red {
				perm = append(perm, i)
				rr *= dims[i]
			}
		}
		tmp := scratch32.Get(k * rr)
		defer scratch32.Put(tmp)
		transposeGeneral(x, dims, perm, *tmp)
		x = *tmp
		k1, r, k2 = k, rr, 1
	}
	reduce3(op, x, k1, r, k2, y)
}

// maxRank is the rank up to which shape bookkeeping lives in fixed-size arrays on the stack;
// higher ranks work the same but allocate.
const maxRank = 8

// collapseReduce drops unit axes (reducing over them is a no-op) and fuses neighbouring axes
// that are both reduced or both kept; y's layout is the kept axes in order either way. The
// results are appended to dims and reduced, so callers can pass stack arrays.
func collapseReduce(shape, axes []int, dims []int, reduced []bool) ([]int, []bool) {
	for i, d := range shape {
		if d == 1 {
			continue
		}
		red := false
		for _, a := range axes {
			red = red || a == i
		}
		if n := len(dims); n > 0 && reduced[n-1] == red {
			dims[n-1] *= d
			continue
		}
		dims = append(dims, d)
		reduced = append(reduced, red)
	}
	return dims, reduced
}

// reduceTask is one phase of reduce3 over a range of its tasks.
type reduceTask struct {
	phase                  reducePhase
	op                     ReduceOp
	x, y                   []float32
	parts                  []float64
	k1, r, k2              int
	cw, nCB, nRB, rowsPerB int
}

type reducePhase uint8

const (
	reduceWhole   reducePhase = iota // each task reduces all of r for its columns into y
	reducePartial                    // each task reduces one row block into parts
	reduceFold                       // each output folds its row blocks' partials in order
)

var reduceTasks par.Pool[reduceTask, *reduceTask]

// reduce3 reduces x viewed as [k1, r, k2] over its middle axis into y ([k1, k2]). Work is cut
// into tasks of (k1 index, block of reduced rows, block of columns); when r spans several row
// blocks, each task writes a float64 partial and the partials are folded in block order.
func reduce3(op ReduceOp, x []float32, k1, r, k2 int, y []float32) {
	if k1 == 0 || k2 == 0 {
		return
	}
	t := reduceTask{op: op, x: x, y: y, k1: k1, r: r, k2: k2}
	t.cw = min(k2, reduceColBlock)
	t.nCB = (k2 + t.cw - 1) / t.cw
	t.rowsPerB = max(1, reduceBlock/t.cw)
	t.nRB = max(1, (r+t.rowsPerB-1)/t.rowsPerB)

	if t.nRB == 1 {
		t.phase = reduceWhole
		t.run(k1*t.nCB, max(1, reduceBlock/max(1, r*t.cw)))
		return
	}
	partial := scratch64.Get(k1 * t.nRB * k2)
	defer scratch64.Put(partial)
	t.parts = *partial
	t.phase = reducePartial
	t.run(k1*t.nRB*t.nCB, 1)
	t.phase = reduceFold
	t.run(k1*k2, elemGrain/t.nRB+1)
}

func (t reduceTask) run(n, grain int) {
	if threads, inline := split(n, grain); inline {
		t.Run(0, n)
	} else {
		reduceTasks.For(threads, n, grain, t)
	}
}

func (t *reduceTask) Run(lo, hi int) {
	k2, nCB, nRB, cw := t.k2, t.nCB, t.nRB, t.cw
	switch t.phase {
	case reduceWhole:
		var buf [reduceColBlock]float64
		for j := lo; j < hi; j++ {
			i, c0 := j/nCB, (j%nCB)*cw
			acc := buf[:min(cw, k2-c0)]
			t.accumulate(i, 0, t.r, c0, acc)
			out := t.y[i*k2+c0:]
			for c, v := range acc {
				out[c] = t.finish(v)
			}
		}
	case reducePartial:
		for j := lo; j < hi; j++ {
			i, rb, c0 := j/(nRB*nCB), (j/nCB)%nRB, (j%nCB)*cw
			r0 := rb * t.rowsPerB
			r1 := min(r0+t.rowsPerB, t.r)
			acc := t.parts[(i*nRB+rb)*k2+c0:]
			t.accumulate(i, r0, r1, c0, acc[:min(cw, k2-c0)])
		}
	case reduceFold:
		init := reduceInit(t.op)
		for o := lo; o < hi; o++ {
			i, c := o/k2, o%k2
			acc := init
			for rb := 0; rb < nRB; rb++ {
				acc = combine(t.op, acc, t.parts[(i*nRB+rb)*k2+c])
			}
			t.y[o] = t.finish(acc)
		}
	}
}

// accumulate reduces rows [r0, r1) of columns [c0, c0+len(acc)) of slab i into acc.
func (t *reduceTask) accumulate(i, r0, r1, c0 int, acc []float64) {
	op, k2 := t.op, t.k2
	init := reduceInit(op)
	for j := range acc {
		acc[j] = init
	}
	slab := t.x[i*t.r*k2:]
	if k2 == 1 {
		acc[0] = reduceSeg(op, slab[r0:r1], init)
		return
	}
	for row := r0; row < r1; row++ {
		seg := slab[row*k2+c0 : row*k2+c0+len(acc)]
		switch op {
		case ReduceSum, ReduceMean:
			for j, v := range seg {
				acc[j] += float64(v)
			}
		case ReduceMax:
			for j, v := range seg {
				if w := float64(v); w > acc[j] || w != w {
					acc[j] = w
				}
			}
		case ReduceMin:
			for j, v := range seg {
				if w := float64(v); w < acc[j] || w != w {
					acc[j] = w
				}
			}
		}
	}
}

func (t *reduceTask) finish(acc float64) float32 {
	if t.op == ReduceMean {
		return float32(acc / float64(t.r))
	}
	return float32(acc)
}

func reduceInit(op ReduceOp) float64 {
	switch op {
	case ReduceMax:
		return math.Inf(-1)
	case ReduceMin:
		return math.Inf(1)
	}
	return 0
}

func combine(op ReduceOp, acc, v float64) float64 {
	switch op {
	case ReduceMax:
		if v > acc || v != v {
			return v
		}
		return acc
	case ReduceMin:
		if v < acc || v != v {
			return v
		}
		return acc
	}
	return acc + v
}

// reduceSeg folds a contiguous run into acc.
func reduceSeg(op ReduceOp, seg []float32, acc float64) float64 {
	switch op {
	case ReduceSum, ReduceMean:
		for _, v := range seg {
			acc += float64(v)
		}
	case ReduceMax:
		for _, v := range seg {
			if w := float64(v); w > acc || w != w {
				acc = w
			}
		}
	case ReduceMin:
		for _, v := range seg {
			if w := float64(v); w < acc || w != w {
				acc = w
			}
		}
	}
	return acc
}
