package optim

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/deepframe/deepframe/autograd"
)

// A parameter large enough to be split must end up bit-identical whatever the thread budget,
// and the split update must allocate nothing once its range views exist.
func TestParallelUpdateMatchesSerial(t *testing.T) {
	const n = 100_003 // not a multiple of any range count, so ranges are uneven
	if updateParts(4, n) < 2 {
		t.Fatalf("a %d-element parameter is not split; the test would not exercise the parallel path", n)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	w0, g0 := make([]float32, n), make([]float32, n)
	for i := range w0 {
		w0[i] = rng.Float32()*2 - 1
		g0[i] = rng.Float32()*2 - 1
	}
	makers := map[string]func() Optimizer{
		"sgd-momentum": func() Optimizer { return SGD(0.1, Momentum(0.9), WeightDecay(1e-3)) },
		"sgd-nesterov": func() Optimizer { return SGD(0.1, Momentum(0.9), Nesterov(), ClipValue(0.5)) },
		"adam":         func() Optimizer { return Adam(0.01, ClipNorm(10)) },
		"adam-amsgrad": func() Optimizer { return Adam(0.01, AMSGrad()) },
		"adamw":        func() Optimizer { return AdamW(0.01) },
		"rmsprop":      func() Optimizer { return RMSprop(0.01) },
		"rmsprop-all":  func() Optimizer { return RMSprop(0.01, Centered(), Momentum(0.9)) },
		"adagrad":      func() Optimizer { return Adagrad(0.01) },
		"adadelta":     func() Optimizer { return Adadelta(1) },
	}
	run := func(threads int, mk func() Optimizer) []float32 {
		t.Setenv("DEEPFRAME_NUM_THREADS", strconv.Itoa(threads))
		p := param(t, "w", w0...)
		setGrad(t, p, g0...)
		small := param(t, "b", 1, 2, 3)
		setGrad(t, small, 0.5, -0.5, 0.25)
		o := mk()
		ps := []*autograd.Variable{p, small}
		for range 3 {
			mustStep(t, o, ps...)
		}
		if a := testing.AllocsPerRun(10, func() { mustStep(t, o, ps...) }); a != 0 {
			t.Errorf("%v with %d threads: %v allocations per Step", o, threads, a)
		}
		return append([]float32(nil), p.Float32s()...)
	}
	for name, mk := range makers {
		want := run(1, mk)
		for _, threads := range []int{2, 3, 4} {
			got := run(threads, mk)
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Errorf("%s with %d threads: w[%d] = %v, serial gives %v", name, threads, i, got[i], want[i])
					break
				}
			}
		}
	}
}
