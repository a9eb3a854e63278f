package onednn

import (
	"fmt"
	"math"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/deepframe/deepframe/backend"
)

// TestBenchTable prints, per kernel, the median and best time of each backend, with the
// backends interleaved round by round so that a shared machine's changing load hits them
// alike. It is how the choices in this package (and the registry priorities) were made:
//
//	DEEPFRAME_BENCH_TABLE=1 go test -run BenchTable -v ./backend/onednn/
func TestBenchTable(t *testing.T) {
	if os.Getenv("DEEPFRAME_BENCH_TABLE") == "" {
		t.Skip("set DEEPFRAME_BENCH_TABLE=1 to print the benchmark table")
	}
	db := openOrSkip(t)
	rounds := 15
	filter := os.Getenv("DEEPFRAME_BENCH_FILTER")
	bs := benchBackends(&testing.B{})
	saved := convWeightsAny
	convWeightsAny = false
	hw := &Backend{Backend: db.Backend, lib: db.lib, fallback: db.fallback}
	convWeightsAny = saved
	mm := &Backend{Backend: db.Backend, lib: db.lib, fallback: db.fallback, matmulMin: 0}
	blasGemm := &Backend{Backend: db.Backend, lib: db.lib, fallback: db.fallback, matmulMin: math.MaxInt}
	type row struct {
		name string
		run  func(be backend.Backend)
		alts []namedBackend // extra contenders for this row
	}
	var rows []row
	for _, n := range []int{512, 1024, 2048} {
		r := newRNG(1)
		a, bm, c := randVec(r, n*n, -1, 1), randVec(r, n*n, -1, 1), make([]float32, n*n)
		p := backend.GemmParams{M: n, N: n, K: n, Alpha: 1}
		rows = append(rows, row{name: fmt.Sprintf("gemm %d", n), run: func(be backend.Backend) { be.Gemm(p, a, bm, c) }, alts: []namedBackend{{"onednn-matmul", mm}, {"onednn-blasgemm", blasGemm}}})
	}
	// The MLP's products (batch 128), forward and backward.
	for _, g := range []backend.GemmParams{
		{M: 128, N: 512, K: 784, Bias: make([]float32, 512), Act: backend.ActReLU},
		{M: 128, N: 512, K: 512, Bias: make([]float32, 512), Act: backend.ActReLU},
		{M: 128, N: 512, K: 512, TransB: true},
		{M: 784, N: 512, K: 128, TransA: true},
		// The CNN's dense layers (batch 64) and the iris network's (batch 32).
		{M: 64, N: 512, K: 3136, Bias: make([]float32, 512), Act: backend.ActReLU},
		{M: 64, N: 3136, K: 512, TransB: true},
		{M: 3136, N: 512, K: 64, TransA: true},
		{M: 32, N: 100, K: 4, Bias: make([]float32, 100), Act: backend.ActReLU},
		{M: 32, N: 100, K: 100, Bias: make([]float32, 100), Act: backend.ActReLU},
		{M: 100, N: 100, K: 32, TransA: true},
	} {
		r := newRNG(2)
		a, bm, c := randVec(r, g.M*g.K, -1, 1), randVec(r, g.K*g.N, -1, 1), make([]float32, g.M*g.N)
		g.Alpha = 1
		rows = append(rows, row{name: fmt.Sprintf("gemm %dx%dx%d tA=%v tB=%v", g.M, g.N, g.K, g.TransA, g.TransB),
			run: func(be backend.Backend) { be.Gemm(g, a, bm, c) }, alts: []namedBackend{{"onednn-matmul", mm}, {"onednn-blasgemm", blasGemm}}})
	}
	for _, cc := range benchConvs {
		p := cc.p
		r := newRNG(7)
		x := randVec(r, p.N*p.H*p.W*p.C, -1, 1)
		k := randVec(r, p.KH*p.KW*p.C*p.OutC, -1, 1)
		bias := randVec(r, p.OutC, -1, 1)
		y := make([]float32, p.N*p.OutH*p.OutW*p.OutC)
		dy := randVec(r, len(y), -1, 1)
		dx, dk, dbias := make([]float32, len(x)), make([]float32, len(k)), make([]float32, p.OutC)
		for dir, dname := range []string{"fwd", "bwd_data", "bwd_weights"} {
			convWeightsAny = false
			runConv(hw, dir, p, x, k, bias, y, dy, dx, dk, dbias)
			convWeightsAny = saved
			rows = append(rows, row{name: fmt.Sprintf("conv %s %s", cc.name, dname),
				run:  func(be backend.Backend) { runConv(be, dir, p, x, k, bias, y, dy, dx, dk, dbias) },
				alts: []namedBackend{{"onednn-hwio", hw}}})
		}
	}
	s := newCNNStep()
	rows = append(rows, row{name: "CNN step (batch 64)", run: s.run, alts: []namedBackend{{"onednn-matmul", mm}, {"onednn-blasgemm", blasGemm}}})
	for _, c := range kernelCases() {
		rows = append(rows, row{name: c.name, run: c.run})
	}
	for _, rw := range rows {
		if filter != "" && !strings.Contains(rw.name, filter) {
			continue
		}
		contenders := append(append([]namedBackend(nil), bs...), rw.alts...)
		times := make([][]time.Duration, len(contenders))
		for i, c := range contenders {
			rw.run(c.b) // warm-up: plans, JIT, page faults
			_ = i
		}
		for r := 0; r < rounds; r++ {
			for i, c := range contenders {
				start := time.Now()
				rw.run(c.b)
				times[i] = append(times[i], time.Since(start))
			}
		}
		var parts []string
		for i, c := range contenders {
			ts := times[i]
			sort.Slice(ts, func(a, b int) bool { return ts[a] < ts[b] })
			parts = append(parts, fmt.Sprintf("%s %s (best %s)", c.name, fmtDur(ts[len(ts)/2]), fmtDur(ts[0])))
		}
		t.Logf("%-36s %s", rw.name, strings.Join(parts, " | "))
	}
}

func fmtDur(d time.Duration) string {
	switch {
	case d >= time.Millisecond:
		return fmt.Sprintf("%.2fms", float64(d)/1e6)
	default:
		return fmt.Sprintf("%.1fµs", float64(d)/1e3)
	}
}
