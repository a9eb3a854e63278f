package backend

import (
	"fmt"
	"math"
	"testing"
)

func poolCase(kind PoolKind, n, h, w, c, kh, kw, sh, sw, pt, pb, pl, pr int) Pool2DParams {
	return Pool2DParams{Kind: kind, N: n, H: h, W: w, C: c, KH: kh, KW: kw, StrideH: sh, StrideW: sw,
		PadTop: pt, PadBottom: pb, PadLeft: pl, PadRight: pr,
		OutH: (h+pt+pb-kh)/sh + 1, OutW: (w+pl+pr-kw)/sw + 1}
}

// naivePool returns the outputs, the argmax (max pooling) and the in-bounds count per output.
func naivePool(p Pool2DParams, x []float32) (y []float64, arg []int, count []int) {
	outs := p.N * p.OutH * p.OutW * p.C
	y, arg, count = make([]float64, outs), make([]int, outs), make([]int, outs)
	for n := 0; n < p.N; n++ {
		for oh := 0; oh < p.OutH; oh++ {
			for ow := 0; ow < p.OutW; ow++ {
				for c := 0; c < p.C; c++ {
					o := ((n*p.OutH+oh)*p.OutW+ow)*p.C + c
					best, bi, sum, cnt := math.Inf(-1), -1, 0.0, 0
					for kh := 0; kh < p.KH; kh++ {
						for kw := 0; kw < p.KW; kw++ {
							ih, iw := oh*p.StrideH-p.PadTop+kh, ow*p.StrideW-p.PadLeft+kw
							if ih < 0 || ih >= p.H || iw < 0 || iw >= p.W {
								continue
							}
							i := ((n*p.H+ih)*p.W+iw)*p.C + c
							v := float64(x[i])
							sum += v
							cnt++
							if v > best {
								best, bi = v, i
							}
						}
					}
					count[o], arg[o] = cnt, bi
					if p.Kind == MaxPool {
						y[o] = best
					} else {
						y[o] = sum / float64(cnt)
					}
				}
			}
		}
	}
	return y, arg, count
}

func TestPool2D(t *testing.T) {
	var cases []Pool2DParams
	for _, kind := range []PoolKind{MaxPool, AvgPool} {
		cases = append(cases,
			poolCase(kind, 2, 4, 6, 3, 2, 2, 2, 2, 0, 0, 0, 0), // classic 2×2/2
			poolCase(kind, 1, 5, 5, 2, 3, 3, 2, 2, 1, 1, 1, 1), // batch 1, padded
			poolCase(kind, 2, 7, 5, 3, 3, 3, 2, 2, 0, 1, 0, 1), // Keras "same", stride 2
			poolCase(kind, 2, 5, 6, 4, 3, 3, 1, 1, 1, 1, 1, 1), // overlapping windows
			poolCase(kind, 3, 9, 7, 5, 2, 3, 3, 2, 0, 0, 1, 0), // odd everything
		)
	}
	for ci, p := range cases {
		name := fmt.Sprintf("case %d kind %d", ci, p.Kind)
		r := newRNG(uint64(20 + ci))
		x := randVec(r, p.N*p.H*p.W*p.C, -2, 2)
		outs := p.N * p.OutH * p.OutW * p.C
		y := nanVec(outs)
		arg := make([]int32, outs)
		ref.Pool2DForward(p, x, y, arg)
		want, wantArg, count := naivePool(p, x)
		assertClose(t, name+" forward", y, want, 1e-6, 1e-6)

		dy := randVec(r, outs, -1, 1)
		wdx := make([]float64, len(x))
		for o, g := range dy {
			if p.Kind == MaxPool {
				if int(arg[o]) != wantArg[o] {
					t.Fatalf("%s: argmax[%d] = %d, want %d", name, o, arg[o], wantArg[o])
				}
				wdx[wantArg[o]] += float64(g)
				continue
			}
			// Spread dy evenly over the window's in-bounds inputs.
			n, rem := o/(p.OutH*p.OutW*p.C), o%(p.OutH*p.OutW*p.C)
			oh, ow, c := rem/(p.OutW*p.C), (rem/p.C)%p.OutW, rem%p.C
			for kh := 0; kh < p.KH; kh++ {
				for kw := 0; kw < p.KW; kw++ {
					ih, iw := oh*p.StrideH-p.PadTop+kh, ow*p.StrideW-p.PadLeft+kw
					if ih >= 0 && ih < p.H && iw >= 0 && iw < p.W {
						wdx[((n*p.H+ih)*p.W+iw)*p.C+c] += float64(g) / float64(count[o])
					}
				}
			}
		}
		dx := nanVec(len(x))
		ref.Pool2DBackward(p, dy, arg, dx)
		assertClose(t, name+" backward", dx, wdx, 1e-5, 1e-6)
	}
}

// TestMaxPoolNaN checks that a NaN input shows up in the output instead of being skipped.
func TestMaxPoolNaN(t *testing.T) {
	p := poolCase(MaxPool, 1, 2, 2, 1, 2, 2, 2, 2, 0, 0, 0, 0)
	x := []float32{1, float32(math.NaN()), 3, 2}
	y, arg := make([]float32, 1), make([]int32, 1)
	ref.Pool2DForward(p, x, y, arg)
	if !math.IsNaN(float64(y[0])) || arg[0] != 1 {
		t.Errorf("max pool over a NaN: got %v at %d, want NaN at 1", y[0], arg[0])
	}
}
