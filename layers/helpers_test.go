package layers

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/deepframe/deepframe/autograd"
	"github.com/deepframe/deepframe/tensor"
)

// Input generators. GradCheck steps by 1e-2, so data that meets a kink (ReLU at 0, a max
// between close values) keeps at least 0.05 away from it.

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

// distinct fills a tensor with a shuffled sequence of step 0.1 so that no two elements tie
// within a finite-difference step (max pooling).
func distinct(rng *tensor.RNG, shape ...int) *tensor.Tensor {
	t := tensor.Zeros(shape...)
	d := t.Float32s()
	for i, p := range rng.Perm(len(d)) {
		d[i] = float32(0.1 * (float64(p) - float64(len(d))/2))
	}
	return t
}

// ids fills a float32 tensor with whole numbers in [0, n), as a frame column of ids.
func ids(rng *tensor.RNG, n int, shape ...int) *tensor.Tensor {
	t := tensor.Zeros(shape...)
	for i, d := 0, t.Float32s(); i < len(d); i++ {
		d[i] = float32(rng.IntN(n))
	}
	return t
}

func batchShape(n int, sample tensor.Shape) []int { return append([]int{n}, sample...) }

// mustBuild builds l for the given sample shapes or fails the test.
func mustBuild(t *testing.T, l Layer, seed uint64, shapes ...tensor.Shape) {
	t.Helper()
	if err := l.Build(shapes, tensor.NewRNG(seed)); err != nil {
		t.Fatalf("Build(%v): %v", shapes, err)
	}
	if !l.Built() {
		t.Fatalf("Build returned nil but Built() is false")
	}
}

func call(t *testing.T, l Layer, ctx *Context, xs ...*tensor.Tensor) *tensor.Tensor {
	t.Helper()
	vs := make([]*autograd.Variable, len(xs))
	for i, x := range xs {
		vs[i] = autograd.Constant(x)
	}
	y, err := l.Call(ctx, vs)
	if err != nil {
		t.Fatalf("Call: %v", err)
	}
	return y.Value()
}

// gradCheck checks the layer's gradients with respect to its float inputs (when diffInputs)
// and to each of its trainable weights, by swapping GradCheck's variables in for the
// weights' own.
func gradCheck(t *testing.T, l Layer, ctx *Context, xs []*tensor.Tensor, diffInputs bool, opts autograd.GradCheckOptions) {
	t.Helper()
	var ws []*Weight
	for _, w := range l.Weights() {
		if w.Trainable {
			ws = append(ws, w)
		}
	}
	saved := make([]*autograd.Variable, len(ws))
	for i, w := range ws {
		saved[i] = w.Var
	}
	defer func() {
		for i, w := range ws {
			w.Var = saved[i]
		}
	}()
	var inputs []*tensor.Tensor
	if diffInputs {
		inputs = append(inputs, xs...)
	}
	for _, w := range ws {
		inputs = append(inputs, w.Value().Clone())
	}
	if len(inputs) == 0 {
		t.Fatalf("nothing to check")
	}
	f := func(vs []*autograd.Variable) *autograd.Variable {
		in := make([]*autograd.Variable, len(xs))
		off := 0
		for i, x := range xs {
			in[i] = autograd.Constant(x)
			if diffInputs {
				in[i] = vs[i]
			}
		}
		if diffInputs {
			off = len(xs)
		}
		for i, w := range ws {
			w.Var = vs[off+i]
		}
		y, err := l.Call(ctx, in)
		if err != nil {
			return autograd.Failed(err)
		}
		return y
	}
	// GradCheck passes when neither side sees an input; make sure every one reaches the output.
	probe := make([]*autograd.Variable, len(inputs))
	for i, in := range inputs {
		probe[i] = autograd.NewVariable(in.Clone(), true)
	}
	out := f(probe)
	if err := out.Err(); err != nil {
		t.Fatalf("%s: %v", l.Name(), err)
	}
	if err := out.BackwardWith(tensor.Full(1, out.Shape()...)); err != nil {
		t.Fatalf("%s: backward: %v", l.Name(), err)
	}
	for i, p := range probe {
		if p.Grad() == nil {
			t.Fatalf("%s: gradient input %d (of %d) does not reach the output", l.Name(), i, len(probe))
		}
	}
	if err := autograd.GradCheck(f, inputs, opts); err != nil {
		t.Fatalf("%s: %v", l.Name(), err)
	}
}

// roundTrip saves l's config as JSON, rebuilds the layer from it and checks the rebuilt
// layer saves the same JSON.
func roundTrip(t *testing.T, l Layer) Layer {
	t.Helper()
	raw, err := json.Marshal(l.Config())
	if err != nil {
		t.Fatalf("marshal config: %v", err)
	}
	l2, err := FromConfig(l.ClassName(), raw)
	if err != nil {
		t.Fatalf("FromConfig(%s, %s): %v", l.ClassName(), raw, err)
	}
	raw2, err := json.Marshal(l2.Config())
	if err != nil {
		t.Fatalf("marshal rebuilt config: %v", err)
	}
	if !bytes.Equal(raw, raw2) {
		t.Fatalf("config changed in a round trip:\n%s\n%s", raw, raw2)
	}
	return l2
}

func wantErr(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want one mentioning %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Fatalf("error %q does not mention %q", err, p)
		}
	}
}

func sumOf(t *tensor.Tensor) float64 {
	s := 0.0
	for _, v := range t.Float32s() {
		s += float64(v)
	}
	return s
}
