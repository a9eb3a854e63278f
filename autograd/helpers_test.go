package autograd

import (
	"math"
	"strings"
	"testing"

	"github.com/deepframe/deepframe/tensor"
)

// Input generators for gradient checks. GradCheck steps by 1e-2, so every generator that
// feeds a kink (ReLU, Abs, a max) keeps values at least 0.05 away from it.

func normal(rng *tensor.RNG, shape ...int) *tensor.Tensor { return rng.RandN(shape...) }

func uniform(rng *tensor.RNG, lo, hi float64, shape ...int) *tensor.Tensor {
	return rng.RandU(lo, hi, shape...)
}

// away draws values with |v| in [margin, margin+1.5) and random signs.
func away(rng *tensor.RNG, margin float64, shape ...int) *tensor.Tensor {
	t := tensor.Zeros(shape...)
	for i, d := 0, t.Float32s(); i < len(d); i++ {
		v := margin + 1.5*rng.Float64()
		if rng.Float64() < 0.5 {
			v = -v
		}
		d[i] = float32(v)
	}
	return t
}

// grid draws values 0.1*k + offset for integer k in [-15, 15]: two grids with offsets that
// differ by 0.05 never come within 0.05 of each other, which keeps Maximum, Minimum and Clip
// away from their ties.
func grid(rng *tensor.RNG, offset float64, shape ...int) *tensor.Tensor {
	t := tensor.Zeros(shape...)
	for i, d := 0, t.Float32s(); i < len(d); i++ {
		d[i] = float32(0.1*float64(rng.IntN(31)-15) + offset)
	}
	return t
}

// distinct fills a tensor with a shuffled arithmetic sequence of step 0.1, so no two elements
// are within 0.1 of each other: max reductions and max pooling have no near-ties.
func distinct(rng *tensor.RNG, shape ...int) *tensor.Tensor {
	t := tensor.Zeros(shape...)
	d := t.Float32s()
	perm := rng.Perm(len(d))
	for i, p := range perm {
		d[i] = float32(0.1 * (float64(p) - float64(len(d))/2))
	}
	return t
}

// randDims returns rank dimensions in [lo, hi].
func randDims(rng *tensor.RNG, rank, lo, hi int) []int {
	d := make([]int, rank)
	for i := range d {
		d[i] = lo + rng.IntN(hi-lo+1)
	}
	return d
}

func checkGrad(t *testing.T, name string, f func([]*Variable) *Variable, inputs ...*tensor.Tensor) {
	t.Helper()
	if err := GradCheck(f, inputs, GradCheckOptions{Seed: 11}); err != nil {
		t.Errorf("%s: %v", name, err)
	}
	arenaParity(t, name, f, inputs...)
}

// arenaParity runs f forward and backward without an arena and then, three times, with one
// (its inputs bound to the arena, scribbled over between steps), and requires the same
// output and gradients to the bit each time, and that steps after the first allocate nothing
// from the arena. Every op whose gradient checkGrad checks is thereby checked on recycled
// buffers too.
func arenaParity(t *testing.T, name string, f func([]*Variable) *Variable, inputs ...*tensor.Tensor) {
	t.Helper()
	// The same input and seed tensors every step, as a training loop's parameters: views of
	// them are cached by source.
	values := make([]*tensor.Tensor, len(inputs))
	for i, in := range inputs {
		values[i] = in.Clone()
	}
	var w *tensor.Tensor
	run := func(a *Arena) (*tensor.Tensor, []*tensor.Tensor) {
		leaves := make([]*Variable, len(inputs))
		vars := make([]*Variable, len(inputs))
		for i := range inputs {
			leaves[i] = NewVariable(values[i], true)
			vars[i] = leaves[i]
			if a != nil {
				vars[i] = a.Bind(leaves[i])
			}
		}
		out := f(vars)
		if err := out.Err(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if a != nil && out.Arena() != a {
			t.Fatalf("%s: output of an op on arena inputs is not in the arena", name)
		}
		if w == nil {
			w = tensor.Zeros(out.Shape()...)
			for i, ws := 0, w.Float32s(); i < len(ws); i++ {
				ws[i] = float32(i%7) - 2.5
			}
		}
		if err := out.BackwardWith(w); err != nil {
			t.Fatalf("%s: backward: %v", name, err)
		}
		grads := make([]*tensor.Tensor, len(leaves))
		for i, l := range leaves {
			if l.Grad() != nil {
				grads[i] = l.Grad().Clone()
			}
		}
		return out.Value().Clone(), grads
	}
	wantOut, wantGrads := run(nil)
	a := NewArena()
	for step := 0; step < 3; step++ {
		a.scribble()
		a.Reset()
		before := a.misses
		out, grads := run(a)
		if !sameBits(out, wantOut) {
			t.Errorf("%s: arena step %d: output differs from the heap's", name, step)
		}
		for i := range grads {
			if (grads[i] == nil) != (wantGrads[i] == nil) || grads[i] != nil && !sameBits(grads[i], wantGrads[i]) {
				t.Errorf("%s: arena step %d: gradient of input %d differs from the heap's", name, step, i)
			}
		}
		if step > 0 && a.misses != before {
			t.Errorf("%s: arena step %d allocated %d times, want 0 in a repeated step", name, step, a.misses-before)
		}
	}
}

// sameBits compares shapes and float32 bit patterns, so NaNs in the same places match.
func sameBits(x, y *tensor.Tensor) bool {
	if !x.Shape().Equal(y.Shape()) {
		return false
	}
	xs, ys := x.Float32s(), y.Float32s()
	for i := range xs {
		if math.Float32bits(xs[i]) != math.Float32bits(ys[i]) {
			return false
		}
	}
	return true
}

// wantErr asserts that v failed with a message holding every fragment.
func wantErr(t *testing.T, name string, v *Variable, fragments ...string) {
	t.Helper()
	if v.Err() == nil {
		t.Errorf("%s: no error, want one mentioning %q", name, fragments)
		return
	}
	msg := v.Err().Error()
	for _, f := range fragments {
		if !strings.Contains(msg, f) {
			t.Errorf("%s: error %q does not mention %q", name, msg, f)
		}
	}
	if v.Value() != nil {
		t.Errorf("%s: failed Variable has a value", name)
	}
}

func must(t *testing.T, v *Variable) *Variable {
	t.Helper()
	if v.Err() != nil {
		t.Fatalf("unexpected error: %v", v.Err())
	}
	return v
}

func leaf(x *tensor.Tensor) *Variable { return NewVariable(x, true) }

func tensorOf(t *testing.T, data []float32, shape ...int) *tensor.Tensor {
	t.Helper()
	x, err := tensor.FromFloat32(data, shape...)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// closeTo compares got with want element-wise within |got-want| <= tol*(1+|want|).
func closeTo(t *testing.T, name string, got *tensor.Tensor, want []float32, wantShape tensor.Shape, tol float64) {
	t.Helper()
	if !got.Shape().Equal(wantShape) {
		t.Errorf("%s: shape %v, want %v", name, got.Shape(), wantShape)
		return
	}
	g := got.Float32s()
	if len(g) != len(want) {
		t.Errorf("%s: %d elements, want %d", name, len(g), len(want))
		return
	}
	for i := range g {
		if d := math.Abs(float64(g[i] - want[i])); !(d <= tol*(1+math.Abs(float64(want[i])))) {
			t.Errorf("%s: element %d is %g, want %g", name, i, g[i], want[i])
			return
		}
	}
}
