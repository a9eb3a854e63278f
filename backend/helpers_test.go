package backend

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

var ref = Reference()

func newRNG(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15)) }

// randVec returns n values uniform in [lo, hi).
func randVec(r *rand.Rand, n int, lo, hi float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(lo + (hi-lo)*r.Float64())
	}
	return v
}

func to64(x []float32) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}

func nanVec(n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(math.NaN())
	}
	return v
}

// assertClose checks |got-want| <= atol + rtol*|want| element-wise and reports the first few
// offenders.
func assertClose(t *testing.T, name string, got []float32, want []float64, rtol, atol float64) {
	t.Helper()
	if len(got) < len(want) {
		t.Fatalf("%s: got %d values, want %d", name, len(got), len(want))
	}
	var bad []string
	count := 0
	for i, w := range want {
		g := float64(got[i])
		if math.IsNaN(w) && math.IsNaN(g) {
			continue
		}
		if math.IsInf(w, 0) && g == w {
			continue
		}
		if d := math.Abs(g - w); !(d <= atol+rtol*math.Abs(w)) {
			count++
			if len(bad) < 5 {
				bad = append(bad, fmt.Sprintf("[%d] got %.8g want %.8g", i, g, w))
			}
		}
	}
	if count > 0 {
		t.Errorf("%s: %d of %d values differ: %s", name, count, len(want), strings.Join(bad, "; "))
	}
}

// maxAbs is the largest magnitude in v, used to scale absolute tolerances for results that
// come out of cancellations.
func maxAbs(v []float64) float64 {
	m := 0.0
	for _, x := range v {
		m = max(m, math.Abs(x))
	}
	return m
}

func sameBits(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

// benchFlops runs op b.N times and reports GFLOP/s of wall time and, where the platform says,
// GFLOP per CPU-second (GFLOP/cpu-s × threads is what an idle machine would reach).
func benchFlops(b *testing.B, flopsPerOp float64, op func()) {
	b.ResetTimer()
	cpu0, t0 := processCPU(), time.Now()
	for i := 0; i < b.N; i++ {
		op()
	}
	wall, cpu := time.Since(t0), processCPU()-cpu0
	total := flopsPerOp * float64(b.N)
	b.ReportMetric(total/wall.Seconds()/1e9, "GFLOP/s")
	if cpu > 0 {
		b.ReportMetric(total/cpu.Seconds()/1e9, "GFLOP/cpu-s")
	}
}
