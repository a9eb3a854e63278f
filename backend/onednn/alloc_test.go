package onednn

import (
	"testing"

	"github.com/deepframe/deepframe/backend"
	"github.com/deepframe/deepframe/backend/internal/alloctest"
)

// TestSteadyStateAllocations checks that repeated calls of every kernel the backend maps onto
// oneDNN allocate nothing once their plans exist: execution sets, workspaces and argument
// lists are reused, and the Go loops around the library (the max-pooling argmax translation)
// run from pooled tasks. Sizes are the CNN's, large enough for oneDNN and for the Go loops
// to go parallel.
func TestSteadyStateAllocations(t *testing.T) {
	b := openOrSkip(t)
	if testing.Short() || alloctest.Race {
		t.Skip("allocation counts need warm pools (and no race detector)")
	}
	t.Setenv("DEEPFRAME_NUM_THREADS", "2")
	r := newRNG(9)
	vec := func(n int) []float32 { return randVec(r, n, -1, 1) }
	cp := convCase(16, 28, 28, 8, 5, 5, 16, 1, 1, 1, 1, 2, 2, 2, 2)
	x, k, bias := vec(cp.N*cp.H*cp.W*cp.C), vec(cp.KH*cp.KW*cp.C*cp.OutC), vec(cp.OutC)
	y := vec(cp.N * cp.OutH * cp.OutW * cp.OutC)
	dx, dk, db := make([]float32, len(x)), make([]float32, len(k)), make([]float32, len(bias))
	pp := pool(backend.MaxPool, 16, 28, 28, 16, 2, 2, 2, 2, 0, 0, 0, 0)
	py := vec(pp.N * pp.OutH * pp.OutW * pp.C)
	arg, pdx, ydx := make([]int32, len(py)), make([]float32, len(y)), make([]float32, len(y))
	ap := pp
	ap.Kind = backend.AvgPool
	rows, ch := pp.N*pp.H*pp.W, pp.C
	mean, inv, dg, dbeta := make([]float32, ch), make([]float32, ch), make([]float32, ch), make([]float32, ch)
	gamma := vec(ch)
	m, n, kk := 128, 512, 784
	a, bm, c, gb := vec(m*kk), vec(kk*n), vec(m*n), vec(n)
	for _, kc := range []struct {
		name string
		call func()
	}{
		{"conv forward", func() { b.Conv2DForward(cp, x, k, bias, y) }},
		{"conv backward data", func() { b.Conv2DBackwardData(cp, y, k, dx) }},
		{"conv backward weights", func() { b.Conv2DBackwardWeights(cp, x, y, dk, db) }},
		{"max pool forward", func() { b.Pool2DForward(pp, y, py, arg) }},
		{"max pool backward", func() { b.Pool2DBackward(pp, py, arg, pdx) }},
		{"average pool forward", func() { b.Pool2DForward(ap, y, py, arg) }},
		{"average pool backward", func() { b.Pool2DBackward(ap, py, arg, pdx) }},
		{"batch norm", func() { b.BatchNormForwardTraining(rows, ch, 1e-3, y, gamma, gamma, pdx, mean, inv) }},
		{"batch norm backward", func() { b.BatchNormBackward(rows, ch, y, pdx, gamma, mean, inv, ydx, dg, dbeta) }},
		{"relu", func() { b.Unary(backend.ReLU, 0, y, pdx) }},
		{"relu backward", func() { b.UnaryBackward(backend.ReLU, 0, y, nil, pdx, ydx) }},
		{"log softmax", func() { b.LogSoftmax(m, n, c, c) }},
		{"gemm", func() {
			b.Gemm(backend.GemmParams{M: m, N: n, K: kk, Alpha: 1, Bias: gb, Act: backend.ActReLU}, a, bm, c)
		}},
		{"small gemm", func() { b.Gemm(backend.GemmParams{M: 8, N: 10, K: 4, Alpha: 1}, a, bm, c) }},
	} {
		if got := alloctest.PerCall(kc.call); got != 0 {
			t.Errorf("%s: %v allocations per call, want 0", kc.name, got)
		}
	}
}
