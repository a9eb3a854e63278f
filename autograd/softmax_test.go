package autograd

import (
	"fmt"
	"math"
	"testing"

	"github.com/deepframe/deepframe/tensor"
)

func TestSoftmaxGradients(t *testing.T) {
	rng := tensor.NewRNG(10)
	d := randDims(rng, 3, 2, 4)
	x := normal(rng, d...)
	for _, axis := range []int{-1, 0, 1, 2, -3} {
		checkGrad(t, fmt.Sprintf("Softmax(axis %d)", axis), func(in []*Variable) *Variable { return Softmax(in[0], axis) }, x)
		checkGrad(t, fmt.Sprintf("LogSoftmax(axis %d)", axis), func(in []*Variable) *Variable { return LogSoftmax(in[0], axis) }, x)
	}
}

func TestSoftmaxForward(t *testing.T) {
	x := Constant(tensorOf(t, []float32{1, 2, 3, 1, 1, 1}, 2, 3))
	e := []float64{math.Exp(1), math.Exp(2), math.Exp(3)}
	s := e[0] + e[1] + e[2]
	want := []float32{float32(e[0] / s), float32(e[1] / s), float32(e[2] / s), 1.0 / 3, 1.0 / 3, 1.0 / 3}
	closeTo(t, "Softmax", must(t, Softmax(x, -1)).Value(), want, tensor.Shape{2, 3}, 1e-6)
	// Along axis 0 each column sums to one.
	y := must(t, Softmax(x, 0)).Float32s()
	for c := 0; c < 3; c++ {
		if sum := y[c] + y[3+c]; math.Abs(float64(sum)-1) > 1e-6 {
			t.Errorf("Softmax(axis 0) column %d sums to %g", c, sum)
		}
	}
	logs := must(t, LogSoftmax(x, 1)).Float32s()
	for i, v := range logs {
		if math.Abs(float64(v)-math.Log(float64(want[i]))) > 1e-5 {
			t.Errorf("LogSoftmax element %d is %g, want %g", i, v, math.Log(float64(want[i])))
		}
	}
}

// probabilities draws rows that sum to one.
func probabilities(rng *tensor.RNG, n, c int) *tensor.Tensor {
	t := uniform(rng, 0.1, 1, n, c)
	d := t.Float32s()
	for r := 0; r < n; r++ {
		var s float32
		for _, v := range d[r*c : (r+1)*c] {
			s += v
		}
		for j := r * c; j < (r+1)*c; j++ {
			d[j] /= s
		}
	}
	return t
}

func TestSoftmaxCrossEntropy(t *testing.T) {
	rng := tensor.NewRNG(11)
	d := randDims(rng, 2, 2, 5)
	n, c := d[0], d[1]
	logits := normal(rng, n, c)
	target := probabilities(rng, n, c)
	loss := must(t, SoftmaxCrossEntropy(Constant(logits), Constant(target)))
	want := make([]float32, n)
	for r := 0; r < n; r++ {
		row := logits.Float32s()[r*c : (r+1)*c]
		lse := 0.0
		for _, v := range row {
			lse += math.Exp(float64(v))
		}
		lse = math.Log(lse)
		s := 0.0
		for j, v := range row {
			s -= float64(target.Float32s()[r*c+j]) * (float64(v) - lse)
		}
		want[r] = float32(s)
	}
	closeTo(t, "SoftmaxCrossEntropy forward", loss.Value(), want, tensor.Shape{n}, 1e-5)
	// Both inputs, the target's rows not normalised: the full gradient, not softmax - target.
	checkGrad(t, "SoftmaxCrossEntropy", func(in []*Variable) *Variable { return SoftmaxCrossEntropy(in[0], in[1]) },
		logits, uniform(rng, 0, 1, n, c))
	checkGrad(t, "SoftmaxCrossEntropy(constant target)", func(in []*Variable) *Variable {
		return SoftmaxCrossEntropy(in[0], Constant(target))
	}, logits)

	// With a probability target the logits' gradient is softmax - target.
	lv := leaf(logits)
	if err := SoftmaxCrossEntropy(lv, Constant(target)).BackwardWith(tensor.Full(1, n)); err != nil {
		t.Fatal(err)
	}
	sm := must(t, Softmax(Constant(logits), -1)).Float32s()
	for i, g := range lv.Grad().Float32s() {
		if w := sm[i] - target.Float32s()[i]; math.Abs(float64(g-w)) > 1e-5 {
			t.Fatalf("gradient element %d is %g, want softmax - target = %g", i, g, w)
		}
	}
}

func TestSparseSoftmaxCrossEntropy(t *testing.T) {
	rng := tensor.NewRNG(12)
	n, c := 4, 3
	logits := normal(rng, n, c)
	ids := []int64{2, 0, 1, 2}
	onehot := tensor.Zeros(n, c)
	for r, id := range ids {
		onehot.Float32s()[r*c+int(id)] = 1
	}
	dense := must(t, SoftmaxCrossEntropy(Constant(logits), Constant(onehot))).Float32s()

	i64, _ := tensor.FromInt64(ids, n)
	i32, _ := tensor.FromInt32([]int32{2, 0, 1, 2}, n, 1)
	f32, _ := tensor.FromFloat32([]float32{2, 0, 1, 2}, n)
	for _, lab := range []*tensor.Tensor{i64, i32, f32} {
		name := fmt.Sprintf("SparseSoftmaxCrossEntropy(%s%v)", lab.DType(), lab.Shape())
		loss := must(t, SparseSoftmaxCrossEntropy(Constant(logits), lab))
		closeTo(t, name, loss.Value(), dense, tensor.Shape{n}, 1e-6)
		checkGrad(t, name, func(in []*Variable) *Variable { return SparseSoftmaxCrossEntropy(in[0], lab) }, logits)
	}

	bad, _ := tensor.FromInt64([]int64{0, 1, 3, 0}, n)
	wantErr(t, "label out of range", SparseSoftmaxCrossEntropy(Constant(logits), bad), "label 3", "row 2", "3 classes")
	neg, _ := tensor.FromInt32([]int32{0, -1, 0, 0}, n)
	wantErr(t, "negative label", SparseSoftmaxCrossEntropy(Constant(logits), neg), "label -1", "row 1")
	frac, _ := tensor.FromFloat32([]float32{0, 1.5, 0, 0}, n)
	wantErr(t, "fractional label", SparseSoftmaxCrossEntropy(Constant(logits), frac), "1.5", "whole number")
	short, _ := tensor.FromInt64([]int64{0, 1}, 2)
	wantErr(t, "label count", SparseSoftmaxCrossEntropy(Constant(logits), short), "(2,)", "(4, 3)")
}

func TestSigmoidCrossEntropy(t *testing.T) {
	rng := tensor.NewRNG(13)
	shape := randDims(rng, 2, 2, 4)
	x := normal(rng, shape...)
	x.Float32s()[0] = 40 // large logits must not overflow
	x.Float32s()[1] = -40
	target := uniform(rng, 0, 1, shape...)
	loss := must(t, SigmoidCrossEntropy(Constant(x), Constant(target)))
	want := make([]float32, x.Len())
	for i, v := range x.Float32s() {
		p := 1 / (1 + math.Exp(-float64(v)))
		tv := float64(target.Float32s()[i])
		// log(1-p) written via log(sigmoid(-x)) to stay finite at ±40.
		want[i] = float32(-tv*math.Log(p) - (1-tv)*(-float64(v)+math.Log(p)))
	}
	closeTo(t, "SigmoidCrossEntropy forward", loss.Value(), want, shape, 1e-5)
	x.Float32s()[0], x.Float32s()[1] = 0.3, -0.7
	checkGrad(t, "SigmoidCrossEntropy", func(in []*Variable) *Variable { return SigmoidCrossEntropy(in[0], in[1]) }, x, target)
}
