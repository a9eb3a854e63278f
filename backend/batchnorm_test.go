package backend

import (
	"fmt"
	"math"
	"testing"
)

// bnForward64 is batch normalisation with batch statistics in float64.
func bnForward64(rows, ch int, eps float64, x, gamma, beta []float64) (y, mean, invStd []float64) {
	mean, invStd = make([]float64, ch), make([]float64, ch)
	y = make([]float64, rows*ch)
	for c := 0; c < ch; c++ {
		var s float64
		for r := 0; r < rows; r++ {
			s += x[r*ch+c]
		}
		m := s / float64(rows)
		var v float64
		for r := 0; r < rows; r++ {
			d := x[r*ch+c] - m
			v += d * d
		}
		mean[c] = m
		invStd[c] = 1 / math.Sqrt(v/float64(rows)+eps)
		for r := 0; r < rows; r++ {
			y[r*ch+c] = (x[r*ch+c]-m)*invStd[c]*gamma[c] + beta[c]
		}
	}
	return y, mean, invStd
}

func ones(n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = 1
	}
	return v
}

func TestBatchNorm(t *testing.T) {
	const eps = 1e-3
	cases := []struct {
		rows, ch   int
		offset     float64 // a large common offset tests the two-pass variance
		noAffine   bool
		finiteDiff bool
	}{
		{7, 3, 0, false, true},
		{1, 4, 0, false, true},
		{40, 5, 10, false, true},
		{13, 2, 0, true, true},
		{5000, 5, 100, false, false}, // several row blocks
		{20, 1500, 0, false, false},  // several column blocks
	}
	for ci, tc := range cases {
		name := fmt.Sprintf("case %d (%d×%d)", ci, tc.rows, tc.ch)
		r := newRNG(uint64(30 + ci))
		x := randVec(r, tc.rows*tc.ch, tc.offset-2, tc.offset+2)
		gamma := randVec(r, tc.ch, 0.5, 1.5)
		beta := randVec(r, tc.ch, -1, 1)
		dy := randVec(r, tc.rows*tc.ch, -1, 1)
		g64, b64 := to64(gamma), to64(beta)
		if tc.noAffine {
			gamma, beta, g64, b64 = nil, nil, ones(tc.ch), make([]float64, tc.ch)
		}
		x64 := to64(x)
		wy, wmean, winv := bnForward64(tc.rows, tc.ch, eps, x64, g64, b64)

		y, mean, inv := nanVec(len(x)), nanVec(tc.ch), nanVec(tc.ch)
		ref.BatchNormForwardTraining(tc.rows, tc.ch, eps, x, gamma, beta, y, mean, inv)
		assertClose(t, name+" y", y, wy, 1e-4, 1e-4)
		assertClose(t, name+" mean", mean, wmean, 1e-5, 1e-6)
		assertClose(t, name+" invStd", inv, winv, 1e-4, 0)

		// Inference with the batch's own statistics must reproduce the training output.
		mv := make([]float32, tc.ch)
		for c := range mv {
			mv[c] = float32(1/(winv[c]*winv[c]) - eps)
		}
		yi := nanVec(len(x))
		ref.BatchNormForwardInference(tc.rows, tc.ch, eps, x, gamma, beta, mean, mv, yi)
		assertClose(t, name+" inference", yi, wy, 1e-4, 1e-3)

		dx, dgamma, dbeta := nanVec(len(x)), nanVec(tc.ch), nanVec(tc.ch)
		ref.BatchNormBackward(tc.rows, tc.ch, x, dy, gamma, mean, inv, dx, dgamma, dbeta)

		// Oracle: central differences of L = Σ dy·y, or for big cases the closed form in float64.
		wdx := make([]float64, len(x))
		wdg, wdb := make([]float64, tc.ch), make([]float64, tc.ch)
		loss := func(x, g, b []float64) float64 {
			y, _, _ := bnForward64(tc.rows, tc.ch, eps, x, g, b)
			var s float64
			for i, v := range y {
				s += v * float64(dy[i])
			}
			return s
		}
		if tc.finiteDiff {
			fd := func(v []float64, i int, f func() float64) float64 {
				h := 1e-6 * max(1, math.Abs(v[i]))
				old := v[i]
				v[i] = old + h
				up := f()
				v[i] = old - h
				down := f()
				v[i] = old
				return (up - down) / (2 * h)
			}
			f := func() float64 { return loss(x64, g64, b64) }
			for i := range x64 {
				wdx[i] = fd(x64, i, f)
			}
			for c := 0; c < tc.ch; c++ {
				wdg[c] = fd(g64, c, f)
				wdb[c] = fd(b64, c, f)
			}
		} else {
			for c := 0; c < tc.ch; c++ {
				var sdy, sdyx float64
				for r := 0; r < tc.rows; r++ {
					xh := (x64[r*tc.ch+c] - wmean[c]) * winv[c]
					sdy += float64(dy[r*tc.ch+c])
					sdyx += float64(dy[r*tc.ch+c]) * xh
				}
				wdg[c], wdb[c] = sdyx, sdy
				n := float64(tc.rows)
				for r := 0; r < tc.rows; r++ {
					xh := (x64[r*tc.ch+c] - wmean[c]) * winv[c]
					wdx[r*tc.ch+c] = g64[c] * winv[c] / n * (n*float64(dy[r*tc.ch+c]) - sdy - xh*sdyx)
				}
			}
		}
		assertClose(t, name+" dx", dx, wdx, 1e-4, 1e-5*max(1, maxAbs(wdx)))
		assertClose(t, name+" dgamma", dgamma, wdg, 1e-4, 1e-5*float64(tc.rows))
		assertClose(t, name+" dbeta", dbeta, wdb, 1e-4, 1e-5*float64(tc.rows))
	}
}
