package backend

import (
	"fmt"
	"math"
	"testing"
)

// naiveReduce visits every element and folds it into the output its kept indices select.
func naiveReduce(op ReduceOp, x []float32, shape, axes []int) []float64 {
	reduced := make([]bool, len(shape))
	for _, a := range axes {
		reduced[a] = true
	}
	outSize, count := 1, 1
	for i, d := range shape {
		if reduced[i] {
			count *= d
		} else {
			outSize *= d
		}
	}
	out := make([]float64, outSize)
	for i := range out {
		switch op {
		case ReduceMax:
			out[i] = math.Inf(-1)
		case ReduceMin:
			out[i] = math.Inf(1)
		}
	}
	idx := make([]int, len(shape))
	for flat := range x {
		rem := flat
		for i := len(shape) - 1; i >= 0; i-- {
			idx[i] = rem % shape[i]
			rem /= shape[i]
		}
		o := 0
		for i, d := range shape {
			if !reduced[i] {
				o = o*d + idx[i]
			}
		}
		v := float64(x[flat])
		switch op {
		case ReduceSum, ReduceMean:
			out[o] += v
		case ReduceMax:
			out[o] = math.Max(out[o], v)
		case ReduceMin:
			out[o] = math.Min(out[o], v)
		}
	}
	if op == ReduceMean {
		for i := range out {
			out[i] /= float64(count)
		}
	}
	return out
}

func TestReduce(t *testing.T) {
	cases := []struct {
		shape, axes []int
	}{
		{[]int{5, 7}, []int{0}},
		{[]int{5, 7}, []int{1}},
		{[]int{5, 7}, []int{0, 1}},
		{[]int{2, 3, 4}, []int{1}},
		{[]int{2, 3, 4}, []int{0, 2}},
		{[]int{2, 3, 4}, []int{0, 1}},
		{[]int{2, 3, 4}, []int{1, 2}},
		{[]int{2, 3, 4}, []int{}},
		{[]int{2, 3, 4, 5}, []int{0, 2}},
		{[]int{2, 3, 4, 5}, []int{1, 3}},
		{[]int{2, 3, 4, 5}, []int{0, 1, 3}},
		{[]int{1, 6, 1}, []int{0}},
		{[]int{1, 6, 1}, []int{1, 2}},
		{[]int{3}, []int{0}},
		{[]int{}, []int{}},
		{[]int{3, 20000}, []int{1}},        // several blocks per row
		{[]int{40000, 3}, []int{0}},        // several row blocks, first axis
		{[]int{2, 5000, 7}, []int{1}},      // middle axis
		{[]int{3, 2500}, []int{0}},         // several column blocks
		{[]int{50000}, []int{0}},           // full reduction over blocks
		{[]int{4, 9, 130, 3}, []int{1, 3}}, // the transposing fallback
	}
	for ci, c := range cases {
		r := newRNG(uint64(60 + ci))
		x := randVec(r, size(c.shape), -2, 2)
		for _, op := range []ReduceOp{ReduceSum, ReduceMean, ReduceMax, ReduceMin} {
			name := fmt.Sprintf("%v over %v op %d", c.shape, c.axes, op)
			want := naiveReduce(op, x, c.shape, c.axes)
			y := nanVec(len(want))
			ref.Reduce(op, x, c.shape, c.axes, y)
			assertClose(t, name, y, want, 1e-5, 1e-6)
		}
	}
}

func TestReduceNaN(t *testing.T) {
	x := []float32{1, float32(math.NaN()), 3}
	for _, op := range []ReduceOp{ReduceSum, ReduceMax, ReduceMin} {
		y := make([]float32, 1)
		ref.Reduce(op, x, []int{3}, []int{0}, y)
		if !math.IsNaN(float64(y[0])) {
			t.Errorf("op %d over a NaN = %v, want NaN", op, y[0])
		}
	}
}

func naiveTranspose(x []float32, shape, perm []int) []float64 {
	r := len(shape)
	yShape := make([]int, r)
	for i, a := range perm {
		yShape[i] = shape[a]
	}
	xStride := make([]int, r)
	s := 1
	for i := r - 1; i >= 0; i-- {
		xStride[i] = s
		s *= shape[i]
	}
	out := make([]float64, len(x))
	idx := make([]int, r)
	for flat := range out {
		rem := flat
		for i := r - 1; i >= 0; i-- {
			idx[i] = rem % yShape[i]
			rem /= yShape[i]
		}
		off := 0
		for i, a := range perm {
			off += idx[i] * xStride[a]
		}
		out[flat] = float64(x[off])
	}
	return out
}

func TestTranspose(t *testing.T) {
	cases := []struct {
		shape []int
		perms [][]int
	}{
		{[]int{2, 3}, [][]int{{1, 0}, {0, 1}}},
		{[]int{2, 3, 4}, [][]int{{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}}},
		{[]int{2, 3, 4, 5}, [][]int{{0, 3, 1, 2}, {0, 2, 3, 1}, {3, 2, 1, 0}, {1, 0, 3, 2}, {2, 0, 3, 1}}},
		{[]int{1, 3, 1, 4}, [][]int{{3, 2, 1, 0}, {1, 3, 0, 2}, {2, 0, 3, 1}}},
		{[]int{40, 70}, [][]int{{1, 0}}},
		{[]int{130, 257}, [][]int{{1, 0}}}, // parallel tiles
		{[]int{3, 33, 65}, [][]int{{0, 2, 1}}},
		{[]int{7, 9, 11, 13, 3}, [][]int{{4, 2, 0, 3, 1}}}, // parallel general path
		{[]int{}, [][]int{{}}},
		{[]int{5}, [][]int{{0}}},
	}
	for ci, c := range cases {
		r := newRNG(uint64(70 + ci))
		x := randVec(r, size(c.shape), -1, 1)
		for _, perm := range c.perms {
			y := nanVec(len(x))
			ref.Transpose(x, c.shape, perm, y)
			assertClose(t, fmt.Sprintf("%v perm %v", c.shape, perm), y, naiveTranspose(x, c.shape, perm), 0, 0)
		}
	}
}
