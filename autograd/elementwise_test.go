package autograd

import (
	"fmt"
	"math"
	"testing"

	"github.com/deepframe/deepframe/backend"
	"github.com/deepframe/deepframe/tensor"
)

// broadcastPairs returns operand shapes covering each way broadcasting can pair axes, with
// random sizes.
func broadcastPairs(rng *tensor.RNG) []struct {
	name string
	a, b []int
} {
	d := randDims(rng, 3, 2, 4)
	return []struct {
		name string
		a, b []int
	}{
		{"same", []int{d[0], d[1]}, []int{d[0], d[1]}},
		{"trailing", []int{d[0], d[1]}, []int{d[1]}},
		{"outer", []int{d[0], 1}, []int{1, d[1]}},
		{"rank3-vs-rank2", []int{d[0], d[1], d[2]}, []int{d[1], 1}},
		{"scalar-left", []int{}, []int{d[0], d[1]}},
		{"middle", []int{d[0], 1, d[2]}, []int{d[0], d[1], 1}},
		{"leading-ones", []int{1, 1, d[2]}, []int{d[2]}},
	}
}

func TestBinaryGradients(t *testing.T) {
	rng := tensor.NewRNG(1)
	ops := []struct {
		name string
		f    func(a, b *Variable) *Variable
		a, b func(shape []int) *tensor.Tensor
	}{
		{"Add", Add, func(s []int) *tensor.Tensor { return normal(rng, s...) }, func(s []int) *tensor.Tensor { return normal(rng, s...) }},
		{"Sub", Sub, func(s []int) *tensor.Tensor { return normal(rng, s...) }, func(s []int) *tensor.Tensor { return normal(rng, s...) }},
		{"Mul", Mul, func(s []int) *tensor.Tensor { return normal(rng, s...) }, func(s []int) *tensor.Tensor { return normal(rng, s...) }},
		{"Div", Div, func(s []int) *tensor.Tensor { return normal(rng, s...) }, func(s []int) *tensor.Tensor { return away(rng, 0.5, s...) }},
		{"Pow", Pow, func(s []int) *tensor.Tensor { return uniform(rng, 0.5, 2, s...) }, func(s []int) *tensor.Tensor { return uniform(rng, -1.5, 1.5, s...) }},
		{"Maximum", Maximum, func(s []int) *tensor.Tensor { return grid(rng, 0.05, s...) }, func(s []int) *tensor.Tensor { return grid(rng, 0, s...) }},
		{"Minimum", Minimum, func(s []int) *tensor.Tensor { return grid(rng, 0.05, s...) }, func(s []int) *tensor.Tensor { return grid(rng, 0, s...) }},
	}
	for _, op := range ops {
		for _, p := range broadcastPairs(rng) {
			for _, swap := range []bool{false, true} {
				as, bs := p.a, p.b
				if swap {
					as, bs = bs, as
				}
				name := fmt.Sprintf("%s/%s/%v", op.name, p.name, swap)
				t.Run(name, func(t *testing.T) {
					f := func(in []*Variable) *Variable { return op.f(in[0], in[1]) }
					checkGrad(t, name, f, op.a(as), op.b(bs))
				})
			}
		}
	}
}

func TestBinaryForwardAndTies(t *testing.T) {
	a := leaf(tensorOf(t, []float32{1, 2, 3, 4}, 2, 2))
	b := leaf(tensorOf(t, []float32{3, 2}, 2))
	cases := []struct {
		name string
		y    *Variable
		want []float32
	}{
		{"Add", Add(a, b), []float32{4, 4, 6, 6}},
		{"Sub", Sub(a, b), []float32{-2, 0, 0, 2}},
		{"Mul", Mul(a, b), []float32{3, 4, 9, 8}},
		{"Div", Div(a, b), []float32{1.0 / 3, 1, 1, 2}},
		{"Maximum", Maximum(a, b), []float32{3, 2, 3, 4}},
		{"Minimum", Minimum(a, b), []float32{1, 2, 3, 2}},
		{"Pow", Pow(a, b), []float32{1, 4, 27, 16}},
		{"AddScalar", AddScalar(a, 1), []float32{2, 3, 4, 5}},
		{"MulScalar", MulScalar(a, -2), []float32{-2, -4, -6, -8}},
		{"Add(Scalar)", Add(a, Scalar(10)), []float32{11, 12, 13, 14}},
	}
	for _, c := range cases {
		closeTo(t, c.name, must(t, c.y).Value(), c.want, tensor.Shape{2, 2}, 1e-6)
	}

	// Ties in Maximum go to the first operand only: the two gradients still sum to one.
	x := leaf(tensorOf(t, []float32{1, 2}, 2))
	y := leaf(tensorOf(t, []float32{1, 3}, 2))
	if err := SumAll(Maximum(x, y)).Backward(); err != nil {
		t.Fatal(err)
	}
	closeTo(t, "Maximum tie dx", x.Grad(), []float32{1, 0}, tensor.Shape{2}, 0)
	closeTo(t, "Maximum tie dy", y.Grad(), []float32{0, 1}, tensor.Shape{2}, 0)
}

func TestScalarOpGradients(t *testing.T) {
	rng := tensor.NewRNG(2)
	shape := randDims(rng, 3, 1, 4)
	checkGrad(t, "AddScalar", func(in []*Variable) *Variable { return AddScalar(in[0], 0.7) }, normal(rng, shape...))
	checkGrad(t, "MulScalar", func(in []*Variable) *Variable { return MulScalar(in[0], -1.3) }, normal(rng, shape...))
	checkGrad(t, "Mul(Scalar)", func(in []*Variable) *Variable { return Mul(Scalar(3), in[0]) }, normal(rng, shape...))
}

func TestUnaryGradients(t *testing.T) {
	rng := tensor.NewRNG(3)
	nrm := func(s []int) *tensor.Tensor { return normal(rng, s...) }
	pos := func(s []int) *tensor.Tensor { return uniform(rng, 0.3, 3, s...) }
	off := func(s []int) *tensor.Tensor { return away(rng, 0.1, s...) }
	cases := []struct {
		name string
		f    func(*Variable) *Variable
		in   func([]int) *tensor.Tensor
	}{
		{"Neg", Neg, nrm},
		{"Exp", Exp, func(s []int) *tensor.Tensor { return uniform(rng, -2, 2, s...) }},
		{"Log", Log, pos},
		{"Sqrt", Sqrt, pos},
		{"Rsqrt", Rsqrt, pos},
		{"Square", Square, nrm},
		{"Abs", Abs, off},
		{"Sign", Sign, off},
		{"Reciprocal", Reciprocal, func(s []int) *tensor.Tensor { return away(rng, 0.5, s...) }},
		{"ReLU", ReLU, off},
		{"LeakyReLU", func(x *Variable) *Variable { return LeakyReLU(x, 0.2) }, off},
		{"ELU", func(x *Variable) *Variable { return ELU(x, 1.5) }, off},
		{"SELU", SELU, off},
		{"GELU", GELU, nrm},
		{"Sigmoid", Sigmoid, nrm},
		{"Tanh", Tanh, nrm},
		{"Softplus", Softplus, nrm},
		{"Softsign", Softsign, off},
		{"Swish", Swish, nrm},
		{"Unary(identity)", func(x *Variable) *Variable { return Unary(backend.Identity, 0, x) }, nrm},
		{"Clip", func(x *Variable) *Variable { return Clip(x, -0.5, 0.5) }, func(s []int) *tensor.Tensor { return grid(rng, 0.05, s...) }},
	}
	for _, c := range cases {
		shape := randDims(rng, 1+rng.IntN(3), 1, 4)
		checkGrad(t, c.name, func(in []*Variable) *Variable { return c.f(in[0]) }, c.in(shape))
	}
}

func TestUnaryForward(t *testing.T) {
	x := Constant(tensorOf(t, []float32{-2, -0.5, 0.5, 2}, 4))
	closeTo(t, "ReLU", must(t, ReLU(x)).Value(), []float32{0, 0, 0.5, 2}, tensor.Shape{4}, 0)
	closeTo(t, "LeakyReLU", must(t, LeakyReLU(x, 0.1)).Value(), []float32{-0.2, -0.05, 0.5, 2}, tensor.Shape{4}, 1e-6)
	closeTo(t, "Clip", must(t, Clip(x, -1, 1)).Value(), []float32{-1, -0.5, 0.5, 1}, tensor.Shape{4}, 0)
	elu := []float32{float32(math.Expm1(-2)), float32(math.Expm1(-0.5)), 0.5, 2}
	closeTo(t, "ELU", must(t, ELU(x, 1)).Value(), elu, tensor.Shape{4}, 1e-6)

	// A value sitting on a Clip bound still gets its gradient.
	v := leaf(tensorOf(t, []float32{-1, 0, 1, 2}, 4))
	if err := SumAll(Clip(v, -1, 1)).Backward(); err != nil {
		t.Fatal(err)
	}
	closeTo(t, "Clip grad", v.Grad(), []float32{1, 1, 1, 0}, tensor.Shape{4}, 0)
}
