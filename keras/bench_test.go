package keras

import (
	"testing"

	"github.com/deepframe/deepframe/losses"
	"github.com/deepframe/deepframe/metrics"
	"github.com/deepframe/deepframe/optim"
	"github.com/deepframe/deepframe/tensor"
)

// BenchmarkFitEpoch is one epoch of the iris network on 120 rows in batches of 32: the
// per-step overhead of Fit around the layers' own work.
func BenchmarkFitEpoch(b *testing.B) {
	rng := tensor.NewRNG(1)
	x := rng.RandN(120, 4)
	y := tensor.Zeros(120)
	for i := range y.Float32s() {
		y.Float32s()[i] = float32(i % 3)
	}
	ds := mustDataset(b, x, y)
	m := irisModel()
	if err := m.Compile(optim.SGD(0.01), losses.SparseCategoricalCrossEntropy(), metrics.Accuracy()); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Fit(bg, ds, Verbose(0)); err != nil {
			b.Fatal(err)
		}
	}
}
