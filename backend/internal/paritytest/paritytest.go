// Package paritytest is what the accelerated backends' tests share: the one error measure an
// accelerated kernel must meet against the reference backend, random inputs, and the
// convolution shapes every backend is checked on. One copy, so the backends cannot drift to
// different bars.
package paritytest

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/deepframe/deepframe/backend"
)

// Tolerance bounds RelErr for float32 kernels. The measure is the larger of a norm-wise and
// an element-wise relative error,
//
//	err = max( ‖got−want‖₂ / ‖want‖₂ ,  max_i |got_i−want_i| / (|want_i| + ‖want‖∞) ),
//
// The norm-wise term is the usual accuracy measure for products and sums; the element-wise
// term catches a single bad element that a large tensor's norm would hide. Elements are
// measured against the tensor's scale rather than their own magnitude because a sum whose
// terms cancel to nearly zero legitimately differs, between two correct summation orders, by
// about K·eps·max|term|, which is large relative to itself. (Both denominators have a 1e-6
// floor for all-zero results.)
const Tolerance = 1e-4

// RelErr is the measure above. NaNs must meet NaNs and infinities must be equal.
func RelErr(got, want []float32) float64 {
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

// Check fails t when got is farther than Tolerance from want.
func Check(t *testing.T, name string, got, want []float32) {
	t.Helper()
	if e := RelErr(got, want); !(e <= Tolerance) {
		t.Errorf("%s: relative error %.3g > %.0e", name, e, Tolerance)
	} else if testing.Verbose() && e > Tolerance/10 {
		t.Logf("%s: relative error %.3g (within 10x of the bound)", name, e)
	}
}

// NewRNG returns the seeded source the parity tests draw inputs from.
func NewRNG(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x2545f4914f6cdd1d)) }

// RandVec returns n values uniform in [lo, hi).
func RandVec(r *rand.Rand, n int, lo, hi float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(lo + (hi-lo)*r.Float64())
	}
	return v
}

// ConvCase builds a convolution's parameters from input, kernel, strides, dilation and the
// four paddings, deriving the output size.
func ConvCase(n, h, w, c, kh, kw, oc, sh, sw, dh, dw, pt, pb, pl, pr int) backend.Conv2DParams {
	return backend.Conv2DParams{N: n, H: h, W: w, C: c, KH: kh, KW: kw, OutC: oc, StrideH: sh, StrideW: sw,
		DilationH: dh, DilationW: dw, PadTop: pt, PadBottom: pb, PadLeft: pl, PadRight: pr,
		OutH: (h+pt+pb-(dh*(kh-1)+1))/sh + 1, OutW: (w+pl+pr-(dw*(kw-1)+1))/sw + 1}
}

// ConvCases covers batch 1, odd channel counts (1, 3, 17, 33: not multiples of the 16-wide
// vectors), strides, dilation, valid, "same" (Keras's extra bottom/right row) and asymmetric
// padding, 1×1 kernels, even kernels, kernels larger than the input, and the Fashion-MNIST
// CNN's two layers.
var ConvCases = []backend.Conv2DParams{
	ConvCase(1, 5, 5, 1, 3, 3, 2, 1, 1, 1, 1, 1, 1, 1, 1),
	ConvCase(2, 7, 6, 3, 3, 2, 4, 2, 1, 1, 1, 0, 0, 0, 0),
	ConvCase(2, 9, 8, 2, 3, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2),
	ConvCase(2, 9, 7, 3, 3, 3, 2, 1, 2, 2, 1, 1, 2, 0, 1),
	ConvCase(3, 6, 6, 2, 3, 3, 5, 2, 2, 1, 1, 0, 1, 0, 1),
	ConvCase(3, 4, 5, 6, 1, 1, 7, 1, 1, 1, 1, 0, 0, 0, 0),
	ConvCase(2, 5, 7, 3, 1, 1, 4, 2, 2, 1, 1, 0, 0, 0, 0),
	ConvCase(1, 4, 4, 3, 5, 5, 2, 1, 1, 1, 1, 2, 2, 2, 2),
	ConvCase(2, 11, 13, 17, 3, 3, 33, 1, 1, 1, 1, 1, 1, 1, 1),
	ConvCase(1, 3, 3, 2, 2, 2, 1, 3, 3, 1, 1, 1, 1, 1, 1),
	ConvCase(4, 28, 28, 1, 5, 5, 32, 1, 1, 1, 1, 2, 2, 2, 2),
	ConvCase(3, 14, 14, 32, 5, 5, 64, 1, 1, 1, 1, 2, 2, 2, 2),
	ConvCase(2, 17, 15, 3, 4, 4, 17, 1, 1, 1, 1, 1, 2, 1, 2),
	ConvCase(1, 1, 1, 3, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0),
	ConvCase(2, 8, 8, 16, 3, 3, 16, 2, 2, 1, 1, 0, 1, 0, 1),
}
