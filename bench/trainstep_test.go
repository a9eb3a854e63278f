package bench

import (
	"context"
	"testing"

	"github.com/deepframe/deepframe/keras"
	"github.com/deepframe/deepframe/losses"
	"github.com/deepframe/deepframe/metrics"
	"github.com/deepframe/deepframe/tensor"
)

// BenchmarkTrainStep measures one optimizer step (forward, loss, backward, update) on a
// fixed batch; samples/s and GFLOP/s are what docs/PERFORMANCE.md records.
func BenchmarkTrainStep(b *testing.B) {
	for _, w := range TrainWorkloads {
		b.Run(w.Name, func(b *testing.B) {
			keras.SetRandomSeed(1)
			m := w.Build()
			if err := m.Compile(w.Opt(), losses.SparseCategoricalCrossEntropy(), metrics.Accuracy()); err != nil {
				b.Fatal(err)
			}
			x, y := RandomBatch(w, 1)
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
			b.ReportMetric(float64(w.Batch*b.N)/sec, "samples/s")
			b.ReportMetric(6*float64(w.MACs)*float64(w.Batch*b.N)/sec/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkPredict measures inference of the MLP at batch 1 (latency) and 128 (throughput).
func BenchmarkPredict(b *testing.B) {
	for _, batch := range []int{1, 128} {
		b.Run(map[int]string{1: "mlp/batch1", 128: "mlp/batch128"}[batch], func(b *testing.B) {
			keras.SetRandomSeed(1)
			m := MLP()
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
			b.ReportMetric(2*float64(MLPMACs)*float64(batch*b.N)/sec/1e9, "GFLOP/s")
		})
	}
}
