package keras

import (
	"math"
	"testing"

	"github.com/deepframe/deepframe/layers"
	"github.com/deepframe/deepframe/losses"
	"github.com/deepframe/deepframe/optim"
	"github.com/deepframe/deepframe/tensor"
)

// A softmax output trained with cross-entropy on probabilities must train exactly like the
// same network emitting logits trained with the from-logits loss: that is the fusion.
func TestSoftmaxCrossEntropyFusionMatchesLogitsModel(t *testing.T) {
	for _, tc := range []struct {
		name   string
		output func() []layers.Layer
		loss   losses.Loss
		labels func(rows int) *tensor.Tensor
	}{
		{"dense softmax, sparse", func() []layers.Layer {
			return []layers.Layer{layers.Dense(3, layers.Activation("softmax"), layers.Name("out"))}
		}, losses.SparseCategoricalCrossEntropy(), sparseLabels},
		{"activation layer, categorical", func() []layers.Layer {
			return []layers.Layer{layers.Dense(3, layers.Name("out")), layers.Activation("softmax")}
		}, losses.CategoricalCrossEntropy(), oneHotLabels},
	} {
		t.Run(tc.name, func(t *testing.T) {
			SetRandomSeed(5)
			fused := Sequential(append([]layers.Layer{layers.Dense(8, layers.Activation("tanh"), layers.InputShape(4), layers.Name("h"))}, tc.output()...)...)
			SetRandomSeed(5)
			plain := Sequential(layers.Dense(8, layers.Activation("tanh"), layers.InputShape(4), layers.Name("h")), layers.Dense(3, layers.Name("out")))
			if err := plain.SetWeights(fused.GetWeights()); err != nil {
				t.Fatal(err)
			}
			fromLogits := losses.SparseCategoricalCrossEntropy(losses.FromLogits())
			if tc.loss.Name() == "categorical_crossentropy" {
				fromLogits = losses.CategoricalCrossEntropy(losses.FromLogits())
			}
			mustCompile(t, fused, optim.SGD(0.1), tc.loss)
			mustCompile(t, plain, optim.SGD(0.1), fromLogits)
			x := tensor.NewRNG(9).RandN(16, 4)
			y := tc.labels(16)
			for step := 0; step < 3; step++ {
				lf, err := fused.TrainOnBatch([]*tensor.Tensor{x}, []*tensor.Tensor{y})
				if err != nil {
					t.Fatal(err)
				}
				lp, err := plain.TrainOnBatch([]*tensor.Tensor{x}, []*tensor.Tensor{y})
				if err != nil {
					t.Fatal(err)
				}
				if lf != lp {
					t.Fatalf("step %d: fused loss %v, logits model loss %v", step, lf, lp)
				}
			}
			for i, w := range fused.GetWeights() {
				if !tensor.Equal(w, plain.GetWeights()[i]) {
					t.Fatalf("weight %d differs after training", i)
				}
			}
		})
	}
}

// From probabilities a confident wrong answer is clipped at -log(1e-7) ≈ 16.1; the fused path
// sees the logits and reports the true, larger loss, and still trains.
func TestSoftmaxCrossEntropyFusionIsExactForExtremeLogits(t *testing.T) {
	SetRandomSeed(1)
	m := Sequential(layers.Dense(2, layers.Activation("softmax"), layers.InputShape(1), layers.Name("out")))
	w := []*tensor.Tensor{tensor.Full(0, 1, 2), mustTensor(t, []float32{0, 40}, 2)}
	if err := m.SetWeights(w); err != nil {
		t.Fatal(err)
	}
	mustCompile(t, m, optim.SGD(0.01), losses.SparseCategoricalCrossEntropy())
	x := tensor.Full(1, 1, 1)
	y := tensor.New(tensor.Int64, 1) // label 0, while the model is sure of class 1
	loss, err := m.TrainOnBatch([]*tensor.Tensor{x}, []*tensor.Tensor{y})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(loss-40) > 1e-3 {
		t.Errorf("loss %v, want 40 (the exact cross-entropy of logits 0 and 40)", loss)
	}
}

func mustCompile(t *testing.T, m *Model, opt optim.Optimizer, loss losses.Loss) {
	t.Helper()
	if err := m.Compile(opt, loss); err != nil {
		t.Fatal(err)
	}
}

func sparseLabels(rows int) *tensor.Tensor {
	y := tensor.New(tensor.Int64, rows)
	for i := range y.Int64s() {
		y.Int64s()[i] = int64(i % 3)
	}
	return y
}

func oneHotLabels(rows int) *tensor.Tensor {
	y := tensor.Zeros(rows, 3)
	for i := 0; i < rows; i++ {
		y.Float32s()[i*3+i%3] = 1
	}
	return y
}
