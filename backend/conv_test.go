package backend

import (
	"fmt"
	"testing"
)

// convCase builds Conv2DParams, deriving the output size from the padded extent.
func convCase(n, h, w, c, kh, kw, oc, sh, sw, dh, dw, pt, pb, pl, pr int) Conv2DParams {
	return Conv2DParams{N: n, H: h, W: w, C: c, KH: kh, KW: kw, OutC: oc, StrideH: sh, StrideW: sw,
		DilationH: dh, DilationW: dw, PadTop: pt, PadBottom: pb, PadLeft: pl, PadRight: pr,
		OutH: (h+pt+pb-(dh*(kh-1)+1))/sh + 1, OutW: (w+pl+pr-(dw*(kw-1)+1))/sw + 1}
}

var convCases = []Conv2DParams{
	convCase(1, 5, 5, 1, 3, 3, 2, 1, 1, 1, 1, 1, 1, 1, 1),     // batch 1, "same"
	convCase(2, 7, 6, 3, 3, 2, 4, 2, 1, 1, 1, 0, 0, 0, 0),     // strides differ, valid
	convCase(2, 9, 8, 2, 3, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2),     // dilation 2
	convCase(2, 9, 7, 3, 3, 3, 2, 1, 2, 2, 1, 1, 2, 0, 1),     // mixed dilation, uneven padding
	convCase(3, 6, 6, 2, 3, 3, 5, 2, 2, 1, 1, 0, 1, 0, 1),     // Keras "same" with stride 2
	convCase(3, 4, 5, 6, 1, 1, 7, 1, 1, 1, 1, 0, 0, 0, 0),     // pointwise (plain GEMM path)
	convCase(2, 5, 7, 3, 1, 1, 4, 2, 2, 1, 1, 0, 0, 0, 0),     // 1x1 with stride
	convCase(1, 4, 4, 3, 5, 5, 2, 1, 1, 1, 1, 2, 2, 2, 2),     // kernel larger than the input
	convCase(2, 11, 13, 17, 3, 3, 33, 1, 1, 1, 1, 1, 1, 1, 1), // odd channel counts
	convCase(1, 3, 3, 2, 2, 2, 1, 3, 3, 1, 1, 1, 1, 1, 1),     // stride larger than the kernel
	convCase(2, 4, 5, 3, 1, 1, 2, 1, 1, 1, 1, 1, 0, 1, 1),     // padding beyond the kernel's reach
	convCase(2, 6, 7, 4, 2, 4, 3, 1, 1, 1, 1, 0, 1, 2, 1),     // even kernel, stride 1, uneven padding
	convCase(2, 7, 9, 3, 3, 2, 2, 1, 1, 2, 3, 3, 1, 0, 2),     // dilations, stride 1, uneven padding
}

func convIndexes(p Conv2DParams, visit func(n, oh, ow, kh, kw, ih, iw int)) {
	for n := 0; n < p.N; n++ {
		for oh := 0; oh < p.OutH; oh++ {
			for ow := 0; ow < p.OutW; ow++ {
				for kh := 0; kh < p.KH; kh++ {
					for kw := 0; kw < p.KW; kw++ {
						ih := oh*p.StrideH - p.PadTop + kh*p.DilationH
						iw := ow*p.StrideW - p.PadLeft + kw*p.DilationW
						if ih >= 0 && ih < p.H && iw >= 0 && iw < p.W {
							visit(n, oh, ow, kh, kw, ih, iw)
						}
					}
				}
			}
		}
	}
}

// naiveConv is the direct seven-loop convolution (the channel loops are inside visit).
func naiveConv(p Conv2DParams, x, k, bias []float32) []float64 {
	y := make([]float64, p.N*p.OutH*p.OutW*p.OutC)
	if bias != nil {
		for i := range y {
			y[i] = float64(bias[i%p.OutC])
		}
	}
	convIndexes(p, func(n, oh, ow, kh, kw, ih, iw int) {
		for c := 0; c < p.C; c++ {
			xv := float64(x[((n*p.H+ih)*p.W+iw)*p.C+c])
			for o := 0; o < p.OutC; o++ {
				y[((n*p.OutH+oh)*p.OutW+ow)*p.OutC+o] += xv * float64(k[((kh*p.KW+kw)*p.C+c)*p.OutC+o])
			}
		}
	})
	return y
}

func naiveConvBackward(p Conv2DParams, x, k, dy []float32) (dx, dk, db []float64) {
	dx = make([]float64, p.N*p.H*p.W*p.C)
	dk = make([]float64, p.KH*p.KW*p.C*p.OutC)
	db = make([]float64, p.OutC)
	for i, g := range dy {
		db[i%p.OutC] += float64(g)
	}
	convIndexes(p, func(n, oh, ow, kh, kw, ih, iw int) {
		for c := 0; c < p.C; c++ {
			xi := ((n*p.H+ih)*p.W+iw)*p.C + c
			for o := 0; o < p.OutC; o++ {
				g := float64(dy[((n*p.OutH+oh)*p.OutW+ow)*p.OutC+o])
				ki := ((kh*p.KW+kw)*p.C+c)*p.OutC + o
				dx[xi] += g * float64(k[ki])
				dk[ki] += g * float64(x[xi])
			}
		}
	})
	return dx, dk, db
}

func dot64(a []float32, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

func TestConv2D(t *testing.T) {
	for _, chunkBytes := range []int{convChunkBytes, 0} {
		for ci, p := range convCases {
			kkc := p.KH * p.KW * p.C
			old, oldMin := convChunkBytes, convMinChunkRows
			if chunkBytes == 0 {
				// Seven patch rows per chunk: chunks end mid-image and mid-row.
				convChunkBytes, convMinChunkRows = 4*kkc*7, 1
			}
			name := fmt.Sprintf("case %d chunk %d", ci, convChunkBytes)
			r := newRNG(uint64(10 + ci))
			x := randVec(r, p.N*p.H*p.W*p.C, -1, 1)
			k := randVec(r, kkc*p.OutC, -1, 1)
			bias := randVec(r, p.OutC, -1, 1)
			dy := randVec(r, p.N*p.OutH*p.OutW*p.OutC, -1, 1)
			tol := 1e-5 * float64(kkc)

			y := nanVec(len(dy))
			ref.Conv2DForward(p, x, k, bias, y)
			assertClose(t, name+" forward", y, naiveConv(p, x, k, bias), 1e-4, tol)
			ref.Conv2DForward(p, x, k, nil, y)
			assertClose(t, name+" forward no bias", y, naiveConv(p, x, k, nil), 1e-4, tol)

			dx := nanVec(len(x))
			ref.Conv2DBackwardData(p, dy, k, dx)
			dk, db := nanVec(len(k)), nanVec(p.OutC)
			ref.Conv2DBackwardWeights(p, x, dy, dk, db)
			wdx, wdk, wdb := naiveConvBackward(p, x, k, dy)
			assertClose(t, name+" backward data", dx, wdx, 1e-4, 1e-5*float64(p.KH*p.KW*p.OutC))
			assertClose(t, name+" backward weights", dk, wdk, 1e-4, 1e-5*float64(len(dy)/p.OutC))
			assertClose(t, name+" backward bias", db, wdb, 1e-4, 1e-5*float64(len(dy)/p.OutC))

			// Backward-data is the adjoint of the (bias-free) forward: <dy, conv(x)> = <conv_bwd(dy), x>.
			lhs := dot64(dy, y)
			rhs := dot64(dx, x)
			assertClose(t, name+" adjoint", []float32{float32(lhs)}, []float64{rhs}, 1e-4, 1e-4)

			ref.Conv2DBackwardWeights(p, x, dy, dk, nil) // nil dbias is allowed
			assertClose(t, name+" backward weights, no bias", dk, wdk, 1e-4, 1e-5*float64(len(dy)/p.OutC))
			convChunkBytes, convMinChunkRows = old, oldMin
		}
	}
}

// The CNN layer of a Fashion-MNIST model: 64×28×28×32 → 64 channels, 5×5, "same".
var benchConv = convCase(64, 28, 28, 32, 5, 5, 64, 1, 1, 1, 1, 2, 2, 2, 2)

func convFlops(p Conv2DParams) float64 {
	return 2 * float64(p.N*p.OutH*p.OutW) * float64(p.KH*p.KW*p.C) * float64(p.OutC)
}

func BenchmarkConv2DForward(b *testing.B) {
	p := benchConv
	r := newRNG(1)
	x := randVec(r, p.N*p.H*p.W*p.C, -1, 1)
	k := randVec(r, p.KH*p.KW*p.C*p.OutC, -1, 1)
	bias := randVec(r, p.OutC, -1, 1)
	y := make([]float32, p.N*p.OutH*p.OutW*p.OutC)
	benchFlops(b, convFlops(p), func() { ref.Conv2DForward(p, x, k, bias, y) })
}

func BenchmarkConv2DBackward(b *testing.B) {
	p := benchConv
	r := newRNG(1)
	x := randVec(r, p.N*p.H*p.W*p.C, -1, 1)
	k := randVec(r, p.KH*p.KW*p.C*p.OutC, -1, 1)
	dy := randVec(r, p.N*p.OutH*p.OutW*p.OutC, -1, 1)
	dx := make([]float32, len(x))
	dk := make([]float32, len(k))
	db := make([]float32, p.OutC)
	b.Run("data", func(b *testing.B) {
		benchFlops(b, convFlops(p), func() { ref.Conv2DBackwardData(p, dy, k, dx) })
	})
	b.Run("weights", func(b *testing.B) {
		benchFlops(b, convFlops(p), func() { ref.Conv2DBackwardWeights(p, x, dy, dk, db) })
	})
	b.Run("both", func(b *testing.B) {
		benchFlops(b, 2*convFlops(p), func() {
			ref.Conv2DBackwardData(p, dy, k, dx)
			ref.Conv2DBackwardWeights(p, x, dy, dk, db)
		})
	})
}
