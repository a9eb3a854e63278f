package backend

import (
	"fmt"
	"runtime"
	"syscall"
	"testing"
	"time"
)

func threadCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(1, &ru) // RUSAGE_THREAD
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func BenchmarkExp(b *testing.B) {
	rows := 2560
	r := newRNG(1)
	col := randVec(r, rows*800, -1, 1)
	w := randVec(r, 800*64, -1, 1)
	_ = 0


	out := make([]float32, rows*800)
	type shape struct {
		name string
		p    GemmParams
		a, b []float32
	}
	var shapes []shape
	for _, k := range []int{16, 32, 64, 128, 256} {
		for _, n := range []int{64, 800} {
			shapes = append(shapes, shape{fmt.Sprintf("k%d_n%d", k, n), GemmParams{M: rows, N: n, K: k, Alpha: 1}, col, w})
		}
	}
	for _, dotMin := range []int{1, 1 << 30} {
		for _, s := range shapes {
			b.Run(fmt.Sprintf("%s/dot%v", s.name, dotMin == 1), func(b *testing.B) {
				gemmDotMinK = dotMin
				defer func() { gemmDotMinK = 32 }()
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				start := threadCPU()
				for i := 0; i < b.N; i++ {
					gemm(s.p, s.a, s.b, out)
				}
				b.ReportMetric(2*float64(s.p.M*s.p.N*s.p.K)*float64(b.N)/(threadCPU()-start).Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
