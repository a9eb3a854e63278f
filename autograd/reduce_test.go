package autograd

import (
	"fmt"
	"testing"

	"github.com/deepframe/deepframe/tensor"
)

func TestReductionGradients(t *testing.T) {
	rng := tensor.NewRNG(4)
	ops := []struct {
		name string
		f    func(*Variable, []int, bool) *Variable
		in   func(...int) *tensor.Tensor
	}{
		{"Sum", Sum, func(s ...int) *tensor.Tensor { return normal(rng, s...) }},
		{"Mean", Mean, func(s ...int) *tensor.Tensor { return normal(rng, s...) }},
		{"Max", Max, func(s ...int) *tensor.Tensor { return distinct(rng, s...) }},
		{"Min", Min, func(s ...int) *tensor.Tensor { return distinct(rng, s...) }},
	}
	axesCases := [][]int{nil, {}, {0}, {1}, {-1}, {0, 2}, {2, 0}, {-3, -2, -1}}
	for _, op := range ops {
		for _, axes := range axesCases {
			for _, keep := range []bool{false, true} {
				shape := randDims(rng, 3, 2, 4)
				name := fmt.Sprintf("%s/axes=%v/keep=%v", op.name, axes, keep)
				x := op.in(shape...)
				y := must(t, op.f(Constant(x), axes, keep))
				if want := reducedShape(shape, axes, keep); !y.Shape().Equal(want) {
					t.Errorf("%s: shape %v, want %v", name, y.Shape(), want)
				}
				checkGrad(t, name, func(in []*Variable) *Variable { return op.f(in[0], axes, keep) }, x)
			}
		}
	}
	x := normal(rng, 3, 2)
	checkGrad(t, "SumAll", func(in []*Variable) *Variable { return SumAll(in[0]) }, x)
	checkGrad(t, "MeanAll", func(in []*Variable) *Variable { return MeanAll(in[0]) }, x)
	if s := must(t, MeanAll(Constant(x))).Shape(); len(s) != 0 {
		t.Errorf("MeanAll shape %v, want ()", s)
	}
}

// reducedShape is the expected result shape, written independently of the code under test.
func reducedShape(shape, axes []int, keep bool) tensor.Shape {
	drop := map[int]bool{}
	if axes == nil {
		for i := range shape {
			drop[i] = true
		}
	}
	for _, a := range axes {
		if a < 0 {
			a += len(shape)
		}
		drop[a] = true
	}
	out := tensor.Shape{}
	for i, d := range shape {
		switch {
		case !drop[i]:
			out = append(out, d)
		case keep:
			out = append(out, 1)
		}
	}
	return out
}

func TestReductionForward(t *testing.T) {
	x := Constant(tensorOf(t, []float32{1, 5, 3, 4, 2, 6}, 2, 3))
	closeTo(t, "Sum axis 0", must(t, Sum(x, []int{0}, false)).Value(), []float32{5, 7, 9}, tensor.Shape{3}, 0)
	closeTo(t, "Mean axis 1 keep", must(t, Mean(x, []int{1}, true)).Value(), []float32{3, 4}, tensor.Shape{2, 1}, 1e-6)
	closeTo(t, "Max axis -1", must(t, Max(x, []int{-1}, false)).Value(), []float32{5, 6}, tensor.Shape{2}, 0)
	closeTo(t, "SumAll", must(t, SumAll(x)).Value(), []float32{21}, tensor.Shape{}, 0)
}

func TestMaxSplitsTies(t *testing.T) {
	x := leaf(tensorOf(t, []float32{1, 3, 3, 2, 2, 2}, 2, 3))
	if err := SumAll(Max(x, []int{1}, false)).Backward(); err != nil {
		t.Fatal(err)
	}
	third := float32(1.0 / 3)
	closeTo(t, "Max ties", x.Grad(), []float32{0, 0.5, 0.5, third, third, third}, tensor.Shape{2, 3}, 1e-6)
}
