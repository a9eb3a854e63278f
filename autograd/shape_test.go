package autograd

import (
	"fmt"
	"testing"

	"github.com/deepframe/deepframe/tensor"
)

func TestShapeOpGradients(t *testing.T) {
	rng := tensor.NewRNG(5)
	d := randDims(rng, 4, 2, 4)
	x := normal(rng, d...)
	cases := []struct {
		name string
		f    func(*Variable) *Variable
		want tensor.Shape
	}{
		{"Reshape", func(v *Variable) *Variable { return Reshape(v, d[0]*d[1], d[2]*d[3]) }, tensor.Shape{d[0] * d[1], d[2] * d[3]}},
		{"Reshape(-1)", func(v *Variable) *Variable { return Reshape(v, d[0], -1, d[3]) }, tensor.Shape{d[0], d[1] * d[2], d[3]}},
		{"Flatten", Flatten, tensor.Shape{d[0], d[1] * d[2] * d[3]}},
		{"Transpose(reverse)", func(v *Variable) *Variable { return Transpose(v) }, tensor.Shape{d[3], d[2], d[1], d[0]}},
		{"Transpose(0,2,3,1)", func(v *Variable) *Variable { return Transpose(v, 0, 2, 3, 1) }, tensor.Shape{d[0], d[2], d[3], d[1]}},
		{"Transpose(negative)", func(v *Variable) *Variable { return Transpose(v, -1, 0, 1, 2) }, tensor.Shape{d[3], d[0], d[1], d[2]}},
		{"Slice(axis 0)", func(v *Variable) *Variable { return Slice(v, 0, 1, d[0]) }, tensor.Shape{d[0] - 1, d[1], d[2], d[3]}},
		{"Slice(axis 2)", func(v *Variable) *Variable { return Slice(v, 2, 0, 1) }, tensor.Shape{d[0], d[1], 1, d[3]}},
		{"Slice(axis -1)", func(v *Variable) *Variable { return Slice(v, -1, 1, 2) }, tensor.Shape{d[0], d[1], d[2], 1}},
		{"Slice(empty)", func(v *Variable) *Variable { return Slice(v, 1, 1, 1) }, tensor.Shape{d[0], 0, d[2], d[3]}},
	}
	for _, c := range cases {
		y := must(t, c.f(Constant(x)))
		if !y.Shape().Equal(c.want) {
			t.Errorf("%s: shape %v, want %v", c.name, y.Shape(), c.want)
		}
		if y.Shape().Size() > 0 {
			checkGrad(t, c.name, func(in []*Variable) *Variable { return c.f(in[0]) }, x)
		}
	}
}

func TestShapeOpValues(t *testing.T) {
	x := Constant(tensorOf(t, []float32{0, 1, 2, 3, 4, 5}, 2, 3))
	closeTo(t, "Transpose", must(t, Transpose(x)).Value(), []float32{0, 3, 1, 4, 2, 5}, tensor.Shape{3, 2}, 0)
	closeTo(t, "Slice", must(t, Slice(x, 1, 1, 3)).Value(), []float32{1, 2, 4, 5}, tensor.Shape{2, 2}, 0)
	y := Constant(tensorOf(t, []float32{6, 7}, 2, 1))
	closeTo(t, "Concat", must(t, Concat(1, x, y)).Value(), []float32{0, 1, 2, 6, 3, 4, 5, 7}, tensor.Shape{2, 4}, 0)
	closeTo(t, "Stack", must(t, Stack(0, x, x)).Value(), []float32{0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5}, tensor.Shape{2, 2, 3}, 0)
	closeTo(t, "Stack(-1)", must(t, Stack(-1, y, y)).Value(), []float32{6, 6, 7, 7}, tensor.Shape{2, 1, 2}, 0)
	closeTo(t, "Flatten(rank 1)", must(t, Flatten(Constant(tensorOf(t, []float32{1, 2}, 2)))).Value(), []float32{1, 2}, tensor.Shape{2, 1}, 0)
}

func TestConcatStackGradients(t *testing.T) {
	rng := tensor.NewRNG(6)
	for axis := -3; axis < 3; axis++ {
		base := randDims(rng, 3, 1, 3)
		var inputs []*tensor.Tensor
		for i := 0; i < 3; i++ {
			s := append([]int(nil), base...)
			a := axis
			if a < 0 {
				a += 3
			}
			s[a] = 1 + rng.IntN(3)
			inputs = append(inputs, normal(rng, s...))
		}
		name := fmt.Sprintf("Concat(axis %d)", axis)
		checkGrad(t, name, func(in []*Variable) *Variable { return Concat(axis, in...) }, inputs...)
	}
	for axis := -3; axis < 3; axis++ {
		s := randDims(rng, 2, 1, 3)
		name := fmt.Sprintf("Stack(axis %d)", axis)
		checkGrad(t, name, func(in []*Variable) *Variable { return Stack(axis, in...) }, normal(rng, s...), normal(rng, s...))
	}
	// Only the inputs that need a gradient get one.
	a, b := leaf(normal(rng, 2, 2)), Constant(normal(rng, 2, 3))
	if err := SumAll(Concat(1, a, b)).Backward(); err != nil {
		t.Fatal(err)
	}
	if a.Grad() == nil || b.Grad() != nil {
		t.Errorf("Concat: grads %v and %v, want one for a only", a.Grad(), b.Grad())
	}
}
