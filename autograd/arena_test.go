package autograd

import (
	"strings"
	"testing"

	"github.com/deepframe/deepframe/backend"
	"github.com/deepframe/deepframe/tensor"
)

// mlpStep is one training step of a two-layer network on the arena a (nil: the heap):
// forward, a mean cross-entropy, backward into the parameters' gradients.
func mlpStep(t *testing.T, a *Arena, x, labels *tensor.Tensor, params []*Variable) float64 {
	t.Helper()
	in := Constant(x)
	if a != nil {
		in = a.Constant(x)
	}
	h := Dense(in, params[0], params[1], backend.ActReLU)
	logits := Dense(h, params[2], params[3], backend.ActNone)
	loss := must(t, MeanAll(SparseSoftmaxCrossEntropy(logits, labels)))
	if a != nil && loss.Arena() != a {
		t.Fatal("the loss of a step on arena inputs is not in the arena")
	}
	if err := loss.Backward(); err != nil {
		t.Fatal(err)
	}
	v, err := loss.Item()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func mlpParams(rng *tensor.RNG) []*Variable {
	return []*Variable{
		leaf(normal(rng, 5, 8)), leaf(normal(rng, 8)),
		leaf(normal(rng, 8, 3)), leaf(normal(rng, 3)),
	}
}

func gradsOf(ps []*Variable) []*tensor.Tensor {
	out := make([]*tensor.Tensor, len(ps))
	for i, p := range ps {
		out[i] = p.Grad().Clone()
		p.ZeroGrad()
	}
	return out
}

// TestArenaShapeChange alternates two batch sizes. Each step must match the heap to the bit,
// and once both sizes have been seen the arena serves either without allocating: the tensors
// a step of the other size displaced wait among the spares.
func TestArenaShapeChange(t *testing.T) {
	rng := tensor.NewRNG(1)
	params := mlpParams(rng)
	batches := []struct{ x, y *tensor.Tensor }{}
	for _, n := range []int{6, 6, 2, 6, 2, 2, 6, 2} {
		y := tensor.New(tensor.Int64, n)
		for i := range y.Int64s() {
			y.Int64s()[i] = int64(rng.IntN(3))
		}
		batches = append(batches, struct{ x, y *tensor.Tensor }{normal(rng, n, 5), y})
	}
	a := NewArena()
	for i, b := range batches {
		want := mlpStep(t, nil, b.x, b.y, params)
		wantGrads := gradsOf(params)
		a.scribble()
		a.Reset()
		before := a.misses
		got := mlpStep(t, a, b.x, b.y, params)
		gotGrads := gradsOf(params)
		if got != want {
			t.Errorf("step %d: loss %v with the arena, %v without", i, got, want)
		}
		for j := range gotGrads {
			if !sameBits(gotGrads[j], wantGrads[j]) {
				t.Errorf("step %d: gradient %d differs with the arena", i, j)
			}
		}
		// Steps 0 and 2 are the first of each size; from step 3 on both sizes are known.
		if i >= 3 && a.misses != before {
			t.Errorf("step %d (batch %d) allocated %d times from the arena, want 0", i, b.x.Dim(0), a.misses-before)
		}
	}
}

// TestArenaBoundsSpares checks that the arena keeps at most about one step's worth of
// displaced tensors, and lets them go once their shapes stop coming.
func TestArenaBoundsSpares(t *testing.T) {
	a := NewArena()
	step := func(n int) {
		a.Reset()
		for range 4 {
			a.zeros(n, 16)
		}
	}
	step(64)
	step(8)
	elems := func(ts []*tensor.Tensor) (n int) {
		for _, t := range ts {
			n += t.Len()
		}
		return n
	}
	if got, peak := elems(a.tensors.spare), 4*64*16; got > peak {
		t.Errorf("spares hold %d elements, more than the largest step's %d", got, peak)
	}
	for range spareIdleLimit + 2 {
		step(8)
	}
	if len(a.tensors.spare) != 0 {
		t.Errorf("%d spares kept after %d steps that never used them", len(a.tensors.spare), spareIdleLimit)
	}
	before := a.misses
	step(8)
	if a.misses != before {
		t.Error("a repeated step allocated after the spares were let go")
	}
}

// TestArenaCustomOpAndBind covers what user code does with an arena: a custom op made with
// Record on arena inputs, and a computation from a parameter alone joined to the arena with
// Bind. Gradients must reach the parameter through both.
func TestArenaCustomOpAndBind(t *testing.T) {
	a := NewArena()
	w := leaf(tensor.Full(2, 3))
	double := func(x *Variable) *Variable {
		y := x.Arena().Zeros(x.Shape()...)
		for i, v := range x.Value().Float32s() {
			y.Float32s()[i] = 2 * v
		}
		return Record(y, []*Variable{x}, func(g *tensor.Tensor) []*tensor.Tensor {
			return []*tensor.Tensor{scaled(nil, g, 2)}
		})
	}
	for step := range 3 {
		a.Reset()
		x := a.Constant(tensor.Full(1, 3))
		bound := a.Bind(w)
		if bound.Arena() != a || !bound.RequiresGrad() {
			t.Fatal("Bind did not make a variable of the arena that needs a gradient")
		}
		y := double(Mul(x, bound))
		if y.Arena() != a {
			t.Fatal("a custom op on arena inputs made its output outside the arena")
		}
		// Σ 2·x·w + Σ w²: dL/dw = 2x + 2w = 6.
		loss := Add(SumAll(y), SumAll(Square(bound)))
		if err := loss.Backward(); err != nil {
			t.Fatal(err)
		}
		for i, g := range w.Grad().Float32s() {
			if g != 6 {
				t.Fatalf("step %d: gradient %d of the bound parameter is %v, want 6", step, i, g)
			}
		}
		if err := loss.Backward(); err == nil || !strings.Contains(err.Error(), "released") {
			t.Errorf("a second Backward through an arena graph: %v, want the released-graph error", err)
		}
		w.ZeroGrad()
	}
	if a.Bind(w.Detach()).RequiresGrad() {
		t.Error("Bind of a constant requires a gradient")
	}
	if v := Errorf("broken"); a.Bind(v) != v {
		t.Error("Bind of a failed variable did not pass it on")
	}
}

// TestArenaInference checks that ops on arena constants record nothing and that the first
// input with an arena decides where an op's output goes, whatever its position.
func TestArenaInference(t *testing.T) {
	a := NewArena()
	w := Constant(tensor.Full(1, 4, 2))
	x := a.Constant(tensor.Full(1, 3, 4))
	y := MatMul(x, w)
	if y.Arena() != a || !y.IsLeaf() || y.RequiresGrad() {
		t.Errorf("inference output: arena %v, leaf %v, requires grad %v", y.Arena() == a, y.IsLeaf(), y.RequiresGrad())
	}
	if z := Add(Constant(tensor.Full(1, 2)), y); z.Arena() != a {
		t.Error("an op whose second input has the arena made its output elsewhere")
	}
	if z := Add(w, w); z.Arena() != nil {
		t.Error("an op without arena inputs made its output in an arena")
	}
}
