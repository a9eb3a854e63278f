package openblas

import (
	"testing"

	"github.com/deepframe/deepframe/backend"
	"github.com/deepframe/deepframe/backend/internal/alloctest"
)

// TestSteadyStateAllocations checks that repeated GEMM and convolution calls allocate
// nothing: sgemm's arguments, im2col buffers and the Go loops around the library (im2col,
// col2im, bias sums, the epilogue) all come from pools, at sizes where the loops go parallel.
func TestSteadyStateAllocations(t *testing.T) {
	b := openOrSkip(t)
	if testing.Short() || alloctest.Race {
		t.Skip("allocation counts need warm pools (and no race detector)")
	}
	t.Setenv("DEEPFRAME_NUM_THREADS", "2")
	r := newRNG(9)
	vec := func(n int) []float32 { return randVec(r, n, -1, 1) }
	m, n, k := 512, 512, 256
	a, bm, c, bias := vec(m*k), vec(k*n), vec(m*n), vec(n)
	calls := []struct {
		name string
		call func()
	}{
		{"gemm", func() {
			b.Gemm(backend.GemmParams{M: m, N: n, K: k, Alpha: 1, Bias: bias, Act: backend.ActSigmoid}, a, bm, c)
		}},
		{"small gemm", func() { b.Gemm(backend.GemmParams{M: 8, N: 10, K: 4, Alpha: 1, Bias: bias}, a, bm, c) }},
	}
	for _, p := range []backend.Conv2DParams{
		convCase(16, 28, 28, 8, 5, 5, 16, 1, 1, 1, 1, 2, 2, 2, 2),
		convCase(8, 33, 33, 8, 3, 3, 16, 2, 2, 1, 1, 0, 0, 0, 0),
		convCase(1, 64, 64, 32, 3, 3, 8, 2, 2, 1, 1, 0, 0, 0, 0), // one image: col2im by channel
	} {
		x, kern, cb := vec(p.N*p.H*p.W*p.C), vec(p.KH*p.KW*p.C*p.OutC), vec(p.OutC)
		y := vec(p.N * p.OutH * p.OutW * p.OutC)
		dx, dk, db := make([]float32, len(x)), make([]float32, len(kern)), make([]float32, len(cb))
		calls = append(calls, []struct {
			name string
			call func()
		}{
			{"conv forward", func() { b.Conv2DForward(p, x, kern, cb, y) }},
			{"conv backward data", func() { b.Conv2DBackwardData(p, y, kern, dx) }},
			{"conv backward weights", func() { b.Conv2DBackwardWeights(p, x, y, dk, db) }},
		}...)
	}
	for _, c := range calls {
		if got := alloctest.PerCall(c.call); got != 0 {
			t.Errorf("%s: %v allocations per call, want 0", c.name, got)
		}
	}
}
