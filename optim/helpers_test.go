package optim

import (
	"math"
	"testing"

	"github.com/deepframe/deepframe/autograd"
	"github.com/deepframe/deepframe/tensor"
)

// param makes a trainable variable holding vals.
func param(t testing.TB, name string, vals ...float32) *autograd.Variable {
	t.Helper()
	v, err := tensor.FromFloat32(append([]float32(nil), vals...), len(vals))
	if err != nil {
		t.Fatal(err)
	}
	p := autograd.NewVariable(v, true)
	p.Name = name
	return p
}

// setGrad gives p the gradient g the way a real backward pass would (through a recorded node),
// so the tests need no backend kernels. Later calls overwrite the same buffer.
func setGrad(t testing.TB, p *autograd.Variable, g ...float32) {
	t.Helper()
	if p.Grad() != nil {
		copy(p.Grad().Float32s(), g)
		return
	}
	gt, err := tensor.FromFloat32(append([]float32(nil), g...), p.Shape()...)
	if err != nil {
		t.Fatal(err)
	}
	out := autograd.Record(tensor.Zeros(1), []*autograd.Variable{p}, func(*tensor.Tensor) []*tensor.Tensor {
		return []*tensor.Tensor{gt}
	})
	if err := out.BackwardWith(tensor.Full(1, 1)); err != nil {
		t.Fatal(err)
	}
}

func mustStep(t testing.TB, o Optimizer, ps ...*autograd.Variable) {
	t.Helper()
	if err := o.Step(ps); err != nil {
		t.Fatal(err)
	}
}

func closeTo(got, want, rel float64) bool {
	return math.Abs(got-want) <= rel*math.Max(1, math.Abs(want))
}

func values(p *autograd.Variable) []float64 {
	var out []float64
	for _, x := range p.Float32s() {
		out = append(out, float64(x))
	}
	return out
}
