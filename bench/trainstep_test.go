package bench

import (
	"context"
	"testing"

	"github.com/deepframe/deepframe/keras"
	"github.com/deepframe/deepframe/layers"
	"github.com/deepframe/deepframe/losses"
	"github.com/deepframe/deepframe/metrics"
	"github.com/deepframe/deepframe/optim"
	"github.com/deepframe/deepframe/tensor"
)

// workload is one model with a batch to train on and the FLOPs one training step costs
// (forward 2·MACs, backward 4·MACs, the convention of the peers' published figures).
type workload struct {
	name  string
	build func() *keras.Model
	opt   func() optim.Optimizer
	input []int // one sample's shape
	batch int
	macs  int // multiply-accumulates of one sample's forward pass
}

func mlp() *keras.Model {
	return keras.Sequential(
		layers.Dense(512, layers.Activation("relu"), layers.InputShape(784)),
		layers.Dense(512, layers.Activation("relu")),
		layers.Dense(10, layers.Activation("softmax")),
	)
}

func iris() *keras.Model {
	return keras.Sequential(
		layers.Dense(100, layers.Activation("relu"), layers.InputShape(4)),
		layers.Dense(100, layers.Activation("relu")),
		layers.Dense(3, layers.Activation("softmax")),
	)
}

func cnn() *keras.Model {
	return keras.Sequential(
		layers.Conv2D(32, []int{5}, layers.Padding("same"), layers.Activation("relu"), layers.InputShape(28, 28, 1)),
		layers.MaxPooling2D(),
		layers.Conv2D(64, []int{5}, layers.Padding("same"), layers.Activation("relu")),
		layers.MaxPooling2D(),
		layers.Flatten(),
		layers.Dense(512, layers.Activation("relu")),
		layers.Dropout(0.5),
		layers.Dense(10, layers.Activation("softmax")),
	)
}

var workloads = []workload{
	{name: "mlp-784-512-512-10/adam/batch128", build: mlp, opt: func() optim.Optimizer { return optim.Adam(1e-3) },
		input: []int{784}, batch: 128, macs: 784*512 + 512*512 + 512*10},
	{name: "cnn-fashion-mnist/adam/batch64", build: cnn, opt: func() optim.Optimizer { return optim.Adam(1e-3) },
		input: []int{28, 28, 1}, batch: 64,
		macs: 28*28*32*25 + 14*14*64*25*32 + 7*7*64*512 + 512*10},
	{name: "iris-4-100-100-3/sgd/batch32", build: iris, opt: func() optim.Optimizer { return optim.SGD(0.01) },
		input: []int{4}, batch: 32, macs: 4*100 + 100*100 + 100*3},
}

func batchFor(w workload) (*tensor.Tensor, *tensor.Tensor) {
	rng := tensor.NewRNG(1)
	x := rng.RandN(append([]int{w.batch}, w.input...)...)
	y := tensor.New(tensor.Int64, w.batch)
	for i := range y.Int64s() {
		y.Int64s()[i] = int64(rng.IntN(3))
	}
	return x, y
}

// BenchmarkTrainStep measures one optimizer step (forward, loss, backward, update) on a
// fixed batch; samples/s and GFLOP/s are what docs/PERFORMANCE.md records.
func BenchmarkTrainStep(b *testing.B) {
	for _, w := range workloads {
		b.Run(w.name, func(b *testing.B) {
			keras.SetRandomSeed(1)
			m := w.build()
			if err := m.Compile(w.opt(), losses.SparseCategoricalCrossEntropy(), metrics.Accuracy()); err != nil {
				b.Fatal(err)
			}
			x, y := batchFor(w)
			xs, ys := []*tensor.Tensor{x}, []*tensor.Tensor{y}
			if _, err := m.TrainOnBatch(xs, ys); err != nil { // warm-up: first-step allocations
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := m.TrainOnBatch(xs, ys); err != nil {
					b.Fatal(err)
				}
			}
			sec := b.Elapsed().Seconds()
			b.ReportMetric(float64(w.batch*b.N)/sec, "samples/s")
			b.ReportMetric(6*float64(w.macs)*float64(w.batch*b.N)/sec/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkPredict measures inference of the MLP at batch 1 (latency) and 128 (throughput).
func BenchmarkPredict(b *testing.B) {
	for _, batch := range []int{1, 128} {
		b.Run(map[int]string{1: "mlp/batch1", 128: "mlp/batch128"}[batch], func(b *testing.B) {
			keras.SetRandomSeed(1)
			m := mlp()
			x := tensor.NewRNG(2).RandN(batch, 784)
			ctx := context.Background()
			if _, err := m.Predict(ctx, x, keras.BatchSize(batch)); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := m.Predict(ctx, x, keras.BatchSize(batch)); err != nil {
					b.Fatal(err)
				}
			}
			sec := b.Elapsed().Seconds()
			b.ReportMetric(float64(batch*b.N)/sec, "samples/s")
			b.ReportMetric(2*float64(784*512+512*512+512*10)*float64(batch*b.N)/sec/1e9, "GFLOP/s")
		})
	}
}
