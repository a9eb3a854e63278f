package onednn

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/deepframe/deepframe/backend"
)

// Parity: every kernel this backend maps onto oneDNN is compared with the reference backend
// on the same random inputs. The error measure is the larger of a norm-wise and an
// element-wise one,
//
//	err = max( ‖got−want‖₂ / ‖want‖₂ ,  max_i |got_i−want_i| / (|want_i| + ‖want‖∞) ),
//
// and must be ≤ 1e-4 in float32. The norm-wise term is the usual accuracy measure for
// products and sums; the element-wise term catches a single bad element that a large tensor's
// norm would hide. Elements are measured against the tensor's scale rather than their own
// magnitude because a sum whose terms cancel to nearly zero legitimately differs, between two
// correct summation orders, by about K·eps·max|term|, which is large relative to itself.
// (Both denominators have a 1e-6 floor for all-zero results.)
const tolerance = 1e-4

var ref = backend.Reference()

func newRNG(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x2545f4914f6cdd1d)) }

func randVec(r *rand.Rand, n int, lo, hi float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(lo + (hi-lo)*r.Float64())
	}
	return v
}

// relErr is the parity measure above; NaNs must match NaNs and infinities must be equal.
func relErr(got, want []float32) float64 {
	if len(got) != len(want) {
		return math.Inf(1)
	}
	var norm2, diff2, normInf float64
	for i, w := range want {
		g, w := float64(got[i]), float64(w)
		if math.IsNaN(w) || math.IsNaN(g) || math.IsInf(w, 0) || math.IsInf(g, 0) {
			if !(math.IsNaN(w) && math.IsNaN(g)) && g != w {
				return math.Inf(1)
			}
			continue
		}
		d := g - w
		norm2 += w * w
		diff2 += d * d
		normInf = max(normInf, math.Abs(w))
	}
	normInf = max(normInf, 1e-6)
	worst := math.Sqrt(diff2) / max(math.Sqrt(norm2), 1e-6)
	for i, w := range want {
		g, w := float64(got[i]), float64(w)
		if d := math.Abs(g - w); !math.IsNaN(d) && !math.IsInf(d, 0) {
			worst = max(worst, d/(math.Abs(w)+normInf))
		}
	}
	return worst
}

func checkParity(t *testing.T, name string, got, want []float32) {
	t.Helper()
	if e := relErr(got, want); !(e <= tolerance) {
		t.Errorf("%s: relative error %.3g > %.0e", name, e, tolerance)
	} else if testing.Verbose() && e > tolerance/10 {
		t.Logf("%s: relative error %.3g (within 10x of the bound)", name, e)
	}
}

func openOrSkip(t testing.TB) *Backend {
	t.Helper()
	b, err := Open()
	if err != nil {
		t.Skipf("oneDNN not available (apt-get install %s): %v", AptPackage, err)
	}
	return b
}

// withMinimums lowers the size thresholds below which kernels stay with the fallback, so
// small test shapes exercise oneDNN too.
func withMinimums(t *testing.T, n int) {
	t.Helper()
	e, ec, s, bn, pm := eltMin, eltMinCheap, softmaxMin, bnMin, poolMin
	eltMin, eltMinCheap, softmaxMin, bnMin, poolMin = n, n, n, n, n
	t.Cleanup(func() { eltMin, eltMinCheap, softmaxMin, bnMin, poolMin = e, ec, s, bn, pm })
}

func copyOf(s []float32) []float32 { return append([]float32(nil), s...) }
