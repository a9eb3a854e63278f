package autograd

import (
	"errors"
	"strings"
	"testing"

	"github.com/deepframe/deepframe/backend"
	"github.com/deepframe/deepframe/tensor"
)

func TestShapeErrors(t *testing.T) {
	c := func(shape ...int) *Variable { return Constant(tensor.Zeros(shape...)) }
	ids, _ := tensor.FromInt64([]int64{0}, 1)
	cases := []struct {
		name string
		v    *Variable
		want []string
	}{
		{"MatMul inner", MatMul(c(3, 4), c(5, 2)), []string{"autograd: MatMul: inner dimensions differ: (3, 4) x (5, 2)"}},
		{"MatMul batch", MatMul(c(2, 3, 4), c(3, 4, 2)), []string{"MatMul", "batch", "(2, 3, 4)", "(3, 4, 2)"}},
		{"MatMul rank", MatMul(c(4), c(4, 2)), []string{"MatMul", "(4,)", "(4, 2)"}},
		{"Add broadcast", Add(c(2, 3), c(4)), []string{"autograd: Add:", "(2, 3)", "(4,)", "broadcast"}},
		{"Pow broadcast", Pow(c(2, 3), c(3, 2)), []string{"Pow", "(2, 3)", "(3, 2)"}},
		{"Dense features", Dense(c(8, 5), c(4, 3), nil, backend.ActReLU), []string{"Dense", "(8, 5)", "(4, 3)"}},
		{"Dense rank", Dense(c(5), c(5, 3), nil, backend.ActNone), []string{"Dense", "(5,)", "rank"}},
		{"Dense bias", Dense(c(8, 4), c(4, 3), c(4), backend.ActNone), []string{"Dense", "bias", "(4,)", "(3,)"}},
		{"Dense activation", Dense(c(8, 4), c(4, 3), nil, backend.Activation(99)), []string{"Dense", "activation"}},
		{"Conv2D channels", Conv2D(c(1, 5, 5, 3), c(3, 3, 4, 8), nil, Conv2DOptions{}), []string{"Conv2D", "(1, 5, 5, 3)", "(3, 3, 4, 8)", "channels"}},
		{"Conv2D too small", Conv2D(c(1, 2, 2, 1), c(3, 3, 1, 1), nil, Conv2DOptions{}), []string{"Conv2D", "(1, 2, 2, 1)", "(3, 3, 1, 1)", "valid"}},
		{"Conv2D rank", Conv2D(c(5, 5, 3), c(3, 3, 3, 8), nil, Conv2DOptions{}), []string{"Conv2D", "(5, 5, 3)", "rank 4"}},
		{"Conv2D padding", Conv2D(c(1, 5, 5, 1), c(3, 3, 1, 1), nil, Conv2DOptions{Padding: "full"}), []string{"Conv2D", "full"}},
		{"Conv2D stride", Conv2D(c(1, 5, 5, 1), c(3, 3, 1, 1), nil, Conv2DOptions{Strides: [2]int{-1, 1}}), []string{"Conv2D", "strides"}},
		{"Conv2D bias", Conv2D(c(1, 5, 5, 1), c(3, 3, 1, 2), c(3), Conv2DOptions{}), []string{"Conv2D", "bias", "(3,)", "(2,)"}},
		{"MaxPool2D rank", MaxPool2D(c(4, 4), Pool2DOptions{Size: [2]int{2, 2}}), []string{"MaxPool2D", "(4, 4)"}},
		{"AvgPool2D window", AvgPool2D(c(1, 1, 4, 1), Pool2DOptions{Size: [2]int{2, 2}}), []string{"AvgPool2D", "(1, 1, 4, 1)"}},
		{"Reshape", Reshape(c(2, 3), 4, -1), []string{"Reshape", "(2, 3)", "(4, -1)"}},
		{"Reshape two -1", Reshape(c(2, 3), -1, -1), []string{"Reshape", "(-1, -1)"}},
		{"Flatten scalar", Flatten(c()), []string{"Flatten", "()"}},
		{"Transpose perm", Transpose(c(2, 3, 4), 0, 0, 1), []string{"Transpose", "[0 0 1]", "(2, 3, 4)"}},
		{"Transpose length", Transpose(c(2, 3), 1, 0, 2), []string{"Transpose", "(2, 3)"}},
		{"Slice range", Slice(c(2, 3), 1, 2, 5), []string{"Slice", "[2:5]", "(2, 3)"}},
		{"Slice axis", Slice(c(2, 3), 2, 0, 1), []string{"Slice", "axis 2", "(2, 3)"}},
		{"Concat shapes", Concat(0, c(2, 3), c(2, 4)), []string{"Concat", "(2, 3)", "(2, 4)"}},
		{"Concat ranks", Concat(0, c(2, 3), c(2)), []string{"Concat", "(2,)", "ranks"}},
		{"Concat none", Concat(0), []string{"Concat", "no inputs"}},
		{"Stack shapes", Stack(0, c(2, 3), c(3, 2)), []string{"Stack", "(3, 2)", "(2, 3)"}},
		{"Sum axis", Sum(c(2, 3), []int{2}, false), []string{"Sum", "axis 2", "(2, 3)"}},
		{"Mean repeated axis", Mean(c(2, 3), []int{1, -1}, false), []string{"Mean", "twice", "(2, 3)"}},
		{"Max empty axis", Max(c(2, 0), []int{1}, false), []string{"Max", "(2, 0)"}},
		{"Softmax axis", Softmax(c(2, 3), 2), []string{"Softmax", "axis 2", "(2, 3)"}},
		{"SoftmaxCrossEntropy", SoftmaxCrossEntropy(c(2, 3), c(2, 4)), []string{"SoftmaxCrossEntropy", "(2, 3)", "(2, 4)"}},
		{"SigmoidCrossEntropy", SigmoidCrossEntropy(c(2, 3), c(3)), []string{"SigmoidCrossEntropy", "(2, 3)", "(3,)"}},
		{"SparseSoftmaxCrossEntropy rank", SparseSoftmaxCrossEntropy(c(3), ids), []string{"SparseSoftmaxCrossEntropy", "(3,)"}},
		{"Embedding table", Embedding(c(5), ids), []string{"Embedding", "(5,)"}},
		{"BatchNorm rank", BatchNorm(c(3), nil, nil, nil, nil, true, 0.9, 1e-3), []string{"BatchNorm", "(3,)"}},
		{"Clip bounds", Clip(c(2), 1, -1), []string{"Clip", "1", "-1"}},
		{"Unary op", Unary(backend.UnaryOp(200), 0, c(2)), []string{"Unary", "unknown"}},
		{"nil input", Add(c(2), nil), []string{"Add", "input 1 is nil"}},
		{"int input", Exp(Constant(tensor.New(tensor.Int64, 2))), []string{"Exp", "int64", "float32"}},
	}
	for _, tc := range cases {
		wantErr(t, tc.name, tc.v, tc.want...)
	}
}

func TestErrorsPropagate(t *testing.T) {
	x := leaf(tensor.Full(1, 3, 4))
	bad := MatMul(x, Constant(tensor.Zeros(5, 2)))
	root := bad.Err()
	if root == nil {
		t.Fatal("no error from a bad MatMul")
	}
	chain := MeanAll(Softmax(Add(ReLU(Dense(bad, Constant(tensor.Zeros(2, 2)), nil, backend.ActTanh)), x), -1))
	if !errors.Is(chain.Err(), root) {
		t.Fatalf("chain error %v, want the first error %v", chain.Err(), root)
	}
	if err := chain.Backward(); !errors.Is(err, root) {
		t.Errorf("Backward returned %v, want %v", err, root)
	}
	if _, err := chain.Item(); !errors.Is(err, root) {
		t.Errorf("Item returned %v, want %v", err, root)
	}
	// Every op family passes errors on unchanged.
	for name, v := range map[string]*Variable{
		"Conv2D":       Conv2D(bad, x, nil, Conv2DOptions{}),
		"MaxPool2D":    MaxPool2D(bad, Pool2DOptions{Size: [2]int{2, 2}}),
		"BatchNorm":    BatchNorm(bad, nil, nil, nil, nil, true, 0.9, 1e-3),
		"Dropout":      Dropout(bad, 0.5, tensor.NewRNG(1)),
		"Embedding":    Embedding(bad, tensor.New(tensor.Int64, 1)),
		"Concat":       Concat(0, x, bad),
		"SparseCE":     SparseSoftmaxCrossEntropy(bad, tensor.New(tensor.Int64, 3)),
		"Reshape":      Reshape(bad, -1),
		"Transpose":    Transpose(bad),
		"SigmoidCE":    SigmoidCrossEntropy(x, bad),
		"Max":          Max(bad, nil, false),
		"Clip":         Clip(bad, 0, 1),
		"LogSoftmax":   LogSoftmax(bad, 0),
		"GlobalAvgP2D": GlobalAvgPool2D(bad),
	} {
		if !errors.Is(v.Err(), root) {
			t.Errorf("%s: error %v, want %v", name, v.Err(), root)
		}
	}
}

func TestBackwardAccumulates(t *testing.T) {
	w := leaf(tensorOf(t, []float32{1, -2, 3}, 3))
	x := Constant(tensorOf(t, []float32{2, 2, 2}, 3))
	for i := 0; i < 2; i++ {
		if err := SumAll(Mul(w, x)).Backward(); err != nil {
			t.Fatal(err)
		}
	}
	closeTo(t, "two Backward calls", w.Grad(), []float32{4, 4, 4}, tensor.Shape{3}, 0)
	w.ZeroGrad()
	closeTo(t, "after ZeroGrad", w.Grad(), []float32{0, 0, 0}, tensor.Shape{3}, 0)

	// A second Backward through the same, released graph is refused rather than silently
	// stopping at an intermediate value.
	loss := SumAll(Mul(w, x))
	if err := loss.Backward(); err != nil {
		t.Fatal(err)
	}
	if loss.IsLeaf() {
		t.Error("a released op output reports IsLeaf")
	}
	if err := loss.Backward(); err == nil || !strings.Contains(err.Error(), "released") {
		t.Errorf("second Backward through one graph: %v, want an error", err)
	}
	closeTo(t, "after refused Backward", w.Grad(), []float32{2, 2, 2}, tensor.Shape{3}, 0)
}

func TestValueUsedTwice(t *testing.T) {
	x := leaf(tensorOf(t, []float32{1, -2, 3}, 3))
	if err := SumAll(Mul(x, x)).Backward(); err != nil {
		t.Fatal(err)
	}
	closeTo(t, "x*x", x.Grad(), []float32{2, -4, 6}, tensor.Shape{3}, 0)
	x.ClearGrad()
	if err := SumAll(Add(x, x)).Backward(); err != nil {
		t.Fatal(err)
	}
	closeTo(t, "x+x", x.Grad(), []float32{2, 2, 2}, tensor.Shape{3}, 0)
	x.ClearGrad()
	// y is consumed twice downstream, and x once more directly.
	y := Mul(x, x)
	if err := SumAll(Add(Add(y, y), x)).Backward(); err != nil {
		t.Fatal(err)
	}
	closeTo(t, "2x²+x", x.Grad(), []float32{5, -7, 13}, tensor.Shape{3}, 0)

	rng := tensor.NewRNG(21)
	checkGrad(t, "x*x", func(v []*Variable) *Variable { return Mul(v[0], v[0]) }, normal(rng, 2, 3))
	checkGrad(t, "x+x broadcast", func(v []*Variable) *Variable { return Add(v[0], Sum(v[0], []int{0}, true)) }, normal(rng, 2, 3))
	checkGrad(t, "x·xᵀ", func(v []*Variable) *Variable { return MatMul(v[0], Transpose(v[0])) }, normal(rng, 3, 2))
}

func TestInferenceRecordsNoNode(t *testing.T) {
	rng := tensor.NewRNG(22)
	c := func(shape ...int) *Variable { return Constant(normal(rng, shape...)) }
	x := c(2, 3)
	img := c(1, 4, 4, 2)
	ids, _ := tensor.FromInt64([]int64{0, 1}, 2)
	mm, mv := tensor.Zeros(3), tensor.Full(1, 3)
	outs := map[string]*Variable{
		"Add":        Add(x, c(3)),
		"Pow":        Pow(x, c(3)),
		"MulScalar":  MulScalar(x, 2),
		"Tanh":       Tanh(x),
		"Clip":       Clip(x, 0, 1),
		"Sum":        Sum(x, nil, false),
		"Max":        Max(x, []int{1}, true),
		"Reshape":    Reshape(x, 3, 2),
		"Transpose":  Transpose(x),
		"Slice":      Slice(x, 1, 0, 2),
		"Concat":     Concat(0, x, x),
		"MatMul":     MatMul(x, c(3, 2)),
		"Dense":      Dense(x, c(3, 2), c(2), backend.ActSigmoid),
		"Softmax":    Softmax(x, 0),
		"SoftmaxCE":  SoftmaxCrossEntropy(x, x),
		"SparseCE":   SparseSoftmaxCrossEntropy(x, ids),
		"SigmoidCE":  SigmoidCrossEntropy(x, x),
		"Conv2D":     Conv2D(img, c(2, 2, 2, 3), c(3), Conv2DOptions{}),
		"MaxPool2D":  MaxPool2D(img, Pool2DOptions{Size: [2]int{2, 2}}),
		"AvgPool2D":  AvgPool2D(img, Pool2DOptions{Size: [2]int{2, 2}}),
		"BatchNorm":  BatchNorm(x, c(3), c(3), mm, mv, false, 0.9, 1e-3),
		"BatchNormT": BatchNorm(x, c(3), c(3), mm, mv, true, 0.9, 1e-3),
		"Dropout":    Dropout(x, 0.5, tensor.NewRNG(1)),
		"Embedding":  Embedding(c(4, 2), ids),
	}
	for name, v := range outs {
		must(t, v)
		if !v.IsLeaf() || v.RequiresGrad() {
			t.Errorf("%s: inference output records a node (IsLeaf %v, RequiresGrad %v)", name, v.IsLeaf(), v.RequiresGrad())
		}
	}
	// With a trainable input the same op records one.
	if y := Tanh(leaf(normal(rng, 2))); y.IsLeaf() || !y.RequiresGrad() {
		t.Error("Tanh of a trainable input recorded no node")
	}
}

func TestGradCheckCatchesWrongGradient(t *testing.T) {
	// A custom op whose backward is off by a factor of two on one element.
	double := func(v []*Variable) *Variable {
		x := v[0]
		y := tensor.Zeros(x.Shape()...)
		for i, e := range x.Value().Float32s() {
			y.Float32s()[i] = 2 * e
		}
		return Record(y, []*Variable{x}, func(g *tensor.Tensor) []*tensor.Tensor {
			dx := scaled(nil, g, 2)
			dx.Float32s()[3] *= 2
			return []*tensor.Tensor{dx}
		})
	}
	err := GradCheck(double, []*tensor.Tensor{tensor.Full(1, 2, 3)}, GradCheckOptions{})
	if err == nil {
		t.Fatal("GradCheck accepted a wrong gradient")
	}
	for _, want := range []string{"input 0", "element 3", "[1 0]", "analytic", "numeric", "1 of 6"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("GradCheck error %q does not mention %q", err, want)
		}
	}
	// A gradient that is missing altogether is caught too.
	detached := func(v []*Variable) *Variable { return Add(v[0], v[1].Detach()) }
	err = GradCheck(detached, []*tensor.Tensor{tensor.Full(1, 2), tensor.Full(1, 2)}, GradCheckOptions{})
	if err == nil || !strings.Contains(err.Error(), "input 1") {
		t.Errorf("GradCheck with a detached input: %v, want a failure on input 1", err)
	}
	if err := GradCheck(func(v []*Variable) *Variable { return MatMul(v[0], v[0]) }, []*tensor.Tensor{tensor.Zeros(2, 3)}, GradCheckOptions{}); err == nil || !strings.Contains(err.Error(), "inner dimensions") {
		t.Errorf("GradCheck of a failing op: %v, want its error", err)
	}
}

func TestBackwardSeedChecks(t *testing.T) {
	x := leaf(tensor.Full(1, 2))
	y := MulScalar(x, 3)
	if err := y.Backward(); err == nil {
		t.Error("Backward of a two-element value without a seed succeeded")
	}
	if err := y.BackwardWith(tensor.New(tensor.Int64, 2)); err == nil {
		t.Error("Backward with an int64 seed succeeded")
	}
	if err := y.BackwardWith(tensor.Full(1, 2)); err != nil {
		t.Fatal(err)
	}
	closeTo(t, "3x", x.Grad(), []float32{3, 3}, tensor.Shape{2}, 0)
}

func TestEmptyTensors(t *testing.T) {
	// Zero-sized axes (an empty last batch, a layer with no inputs) flow through without
	// reaching the kernels with sizes they need not handle.
	x := leaf(tensor.Zeros(2, 0))
	w := leaf(tensor.Zeros(0, 3))
	b := leaf(tensorOf(t, []float32{-1, 0, 2}, 3))
	y := must(t, Dense(x, w, b, backend.ActSigmoid))
	want := []float32{0.26894143, 0.5, 0.8807971}
	closeTo(t, "Dense with no inputs", y.Value(), append(append([]float32(nil), want...), want...), tensor.Shape{2, 3}, 1e-6)
	if err := SumAll(y).Backward(); err != nil {
		t.Fatal(err)
	}
	if g := b.Grad().Float32s(); g[1] != 0.5 { // 2 rows × σ'(0) = 2 × 0.25
		t.Errorf("bias gradient %v, want 0.5 at index 1", g)
	}
	if !x.Grad().Shape().Equal(tensor.Shape{2, 0}) || !w.Grad().Shape().Equal(tensor.Shape{0, 3}) {
		t.Errorf("gradient shapes %v and %v", x.Grad().Shape(), w.Grad().Shape())
	}

	img := leaf(tensor.Zeros(0, 4, 4, 2))
	k := leaf(tensor.Zeros(3, 3, 2, 2))
	out := must(t, MaxPool2D(Conv2D(img, k, nil, Conv2DOptions{Padding: "same"}), Pool2DOptions{Size: [2]int{2, 2}}))
	if !out.Shape().Equal(tensor.Shape{0, 2, 2, 2}) {
		t.Errorf("empty batch through Conv2D and MaxPool2D: shape %v", out.Shape())
	}
	if err := SumAll(out).Backward(); err != nil {
		t.Fatal(err)
	}
	if s := must(t, Sum(Constant(tensor.Zeros(2, 0)), []int{1}, false)); !tensor.Equal(s.Value(), tensor.Zeros(2)) {
		t.Errorf("sum over an empty axis: %v, want zeros", s.Value())
	}
}
