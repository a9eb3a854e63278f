package optim

import (
	"testing"

	"github.com/deepframe/deepframe/autograd"
)

// One step over a million parameters; updates are memory-bound, so the figure to watch is bytes
// moved per second (Adam touches w, g, m, v: 16 bytes read and 12 written per element).
func benchmarkStep(b *testing.B, o Optimizer) {
	p := param(b, "w", make([]float32, 1<<20)...)
	setGrad(b, p, make([]float32, 1<<20)...)
	p.Grad().Fill(0.01)
	ps := []*autograd.Variable{p}
	mustStep(b, o, ps...)
	b.SetBytes(4 << 20)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := o.Step(ps); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSGDMomentum(b *testing.B) { benchmarkStep(b, SGD(0.01, Momentum(0.9))) }
func BenchmarkAdam(b *testing.B)        { benchmarkStep(b, Adam(0.001)) }
func BenchmarkAdamClipped(b *testing.B) {
	benchmarkStep(b, Adam(0.001, ClipValue(1), GlobalClipNorm(1)))
}
func BenchmarkRMSprop(b *testing.B) { benchmarkStep(b, RMSprop(0.001)) }
