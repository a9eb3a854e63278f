package backend

import (
	"fmt"
	"math"
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
	dims, reduced := collapseReduce(xShape, axes)
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
		var perm []int
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
		tmp := scratch32.get(k * rr)
		defer scratch32.put(tmp)
		transposeGeneral(x, dims, perm, *tmp)
		x = *tmp
		k1, r, k2 = k, rr, 1
	}
	reduce3(op, x, k1, r, k2, y)
}

// collapseReduce drops unit axes (reducing over them is a no-op) and fuses neighbouring axes
// that are both reduced or both kept; y's layout is the kept axes in order either way.
func collapseReduce(shape, axes []int) (dims []int, reduced []bool) {
	isReduced := make([]bool, len(shape))
	for _, a := range axes {
		if a >= 0 && a < len(shape) {
			isReduced[a] = true
		}
	}
	for i, d := range shape {
		if d == 1 {
			continue
		}
		if n := len(dims); n > 0 && reduced[n-1] == isReduced[i] {
			dims[n-1] *= d
			continue
		}
		dims = append(dims, d)
		reduced = append(reduced, isReduced[i])
	}
	return dims, reduced
}

// reduce3 reduces x viewed as [k1, r, k2] over its middle axis into y ([k1, k2]). Work is cut
// into tasks of (k1 index, block of reduced rows, block of columns); when r spans several row
// blocks, each task writes a float64 partial and the partials are folded in block order.
func reduce3(op ReduceOp, x []float32, k1, r, k2 int, y []float32) {
	if k1 == 0 || k2 == 0 {
		return
	}
	cw := min(k2, reduceColBlock)
	nCB := (k2 + cw - 1) / cw
	rowsPerBlock := max(1, reduceBlock/cw)
	nRB := max(1, (r+rowsPerBlock-1)/rowsPerBlock)
	init := reduceInit(op)

	// accumulate reduces rows [r0, r1) of columns [c0, c0+len(acc)) of slab i into acc.
	accumulate := func(i, r0, r1, c0 int, acc []float64) {
		for j := range acc {
			acc[j] = init
		}
		slab := x[i*r*k2:]
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
	finish := func(acc float64) float32 {
		if op == ReduceMean {
			return float32(acc / float64(r))
		}
		return float32(acc)
	}

	if nRB == 1 {
		work := max(1, r*cw)
		parallelFor(k1*nCB, max(1, reduceBlock/work), func(lo, hi int) {
			var buf [reduceColBlock]float64
			for t := lo; t < hi; t++ {
				i, c0 := t/nCB, (t%nCB)*cw
				acc := buf[:min(cw, k2-c0)]
				accumulate(i, 0, r, c0, acc)
				out := y[i*k2+c0:]
				for j, v := range acc {
					out[j] = finish(v)
				}
			}
		})
		return
	}

	partial := scratch64.get(k1 * nRB * k2)
	defer scratch64.put(partial)
	parts := *partial
	parallelFor(k1*nRB*nCB, 1, func(lo, hi int) {
		for t := lo; t < hi; t++ {
			i, rb, c0 := t/(nRB*nCB), (t/nCB)%nRB, (t%nCB)*cw
			r0 := rb * rowsPerBlock
			r1 := min(r0+rowsPerBlock, r)
			acc := parts[(i*nRB+rb)*k2+c0:]
			accumulate(i, r0, r1, c0, acc[:min(cw, k2-c0)])
		}
	})
	parallelFor(k1*k2, elemGrain/nRB+1, func(lo, hi int) {
		for o := lo; o < hi; o++ {
			i, c := o/k2, o%k2
			acc := init
			for rb := 0; rb < nRB; rb++ {
				acc = combine(op, acc, parts[(i*nRB+rb)*k2+c])
			}
			y[o] = finish(acc)
		}
	})
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
