package backend

import (
	"fmt"
	"math"
	"testing"
)

// naiveGemm is the float64 oracle: op(A)·op(B) by the definition, then alpha, beta, bias, act.
func naiveGemm(p GemmParams, a, b, c []float32) []float64 {
	out := make([]float64, p.M*p.N)
	for i := 0; i < p.M; i++ {
		for j := 0; j < p.N; j++ {
			var s float64
			for k := 0; k < p.K; k++ {
				var av, bv float32
				if p.TransA {
					av = a[k*p.M+i]
				} else {
					av = a[i*p.K+k]
				}
				if p.TransB {
					bv = b[j*p.K+k]
				} else {
					bv = b[k*p.N+j]
				}
				s += float64(av) * float64(bv)
			}
			v := float64(p.Alpha) * s
			if p.Beta != 0 {
				v += float64(p.Beta) * float64(c[i*p.N+j])
			}
			if p.Bias != nil {
				v += float64(p.Bias[j])
			}
			switch p.Act {
			case ActReLU:
				v = math.Max(v, 0)
			case ActSigmoid:
				v = 1 / (1 + math.Exp(-v))
			case ActTanh:
				v = math.Tanh(v)
			}
			out[i*p.N+j] = v
		}
	}
	return out
}

func TestGemm(t *testing.T) {
	sizes := [][3]int{ // M, N, K
		{1, 1, 1}, {1, 3, 17}, {3, 1, 33}, {17, 33, 1}, {33, 17, 3}, {3, 130, 17},
		{130, 3, 33}, {17, 17, 130}, {130, 33, 17}, {33, 130, 130}, {1, 130, 130}, {130, 1, 130},
		{130, 130, 1},
		// Parallel, with one side too thin to repack.
		{3, 130, 130}, {130, 3, 130},
		// Several row and column tiles, a K split, and the parallel path.
		{130, 200, 270},
	}
	scalars := []struct{ alpha, beta float32 }{{1, 0}, {0.5, 1}, {-1.5, 0.25}, {0, 0.5}, {0, 0}}
	epilogues := []struct {
		bias bool
		act  Activation
	}{{false, ActNone}, {true, ActNone}, {true, ActReLU}, {false, ActSigmoid}, {true, ActTanh}}
	r := newRNG(1)
	for _, sz := range sizes {
		m, n, k := sz[0], sz[1], sz[2]
		a := randVec(r, m*k, -1, 1)
		b := randVec(r, k*n, -1, 1)
		c0 := randVec(r, m*n, -1, 1)
		bias := randVec(r, n, -1, 1)
		for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
			for si, sc := range scalars {
				for ei, ep := range epilogues {
					if m*n*k > 1<<20 && !(si == ei && si%2 == 0) {
						continue // the tiled size needs only a few combinations
					}
					if m*n*k > 1<<16 && (si+ei)%2 == 1 {
						continue
					}
					p := GemmParams{TransA: tr[0], TransB: tr[1], M: m, N: n, K: k, Alpha: sc.alpha, Beta: sc.beta, Act: ep.act}
					if ep.bias {
						p.Bias = bias
					}
					c := append([]float32(nil), c0...)
					if sc.beta == 0 {
						c = nanVec(m * n) // beta 0 must overwrite, not scale, garbage
					}
					want := naiveGemm(p, a, b, c0)
					ref.Gemm(p, a, b, c)
					name := fmt.Sprintf("M%d N%d K%d tA%v tB%v alpha%g beta%g bias%v act%d", m, n, k, tr[0], tr[1], sc.alpha, sc.beta, ep.bias, ep.act)
					assertClose(t, name, c, want, 1e-4, 1e-4*math.Sqrt(float64(k)))
				}
			}
		}
	}
}

// TestGemmZeroK checks that an empty product still applies beta and the epilogue.
func TestGemmZeroK(t *testing.T) {
	c := []float32{1, float32(math.NaN()), 3, 4}
	ref.Gemm(GemmParams{M: 2, N: 2, K: 0, Alpha: 1, Beta: 0, Bias: []float32{1, -2}, Act: ActReLU}, nil, nil, c)
	assertClose(t, "K=0 beta=0", c, []float64{1, 0, 1, 0}, 0, 0)
	c = []float32{1, 2, 3, 4}
	ref.Gemm(GemmParams{M: 2, N: 2, K: 0, Alpha: 1, Beta: 2}, nil, nil, c)
	assertClose(t, "K=0 beta=2", c, []float64{2, 4, 6, 8}, 0, 0)
}

// TestDeterministicAcrossThreads checks that results do not depend on the thread budget, which
// the determinism contract (same seed, same backend → same weights) relies on.
func TestDeterministicAcrossThreads(t *testing.T) {
	r := newRNG(2)
	m, n, k := 150, 200, 300
	a, b := randVec(r, m*k, -1, 1), randVec(r, k*n, -1, 1)
	cp := Conv2DParams{N: 3, H: 12, W: 11, C: 5, KH: 3, KW: 3, OutC: 6, StrideH: 1, StrideW: 1,
		DilationH: 1, DilationW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1, OutH: 12, OutW: 11}
	x := randVec(r, cp.N*cp.H*cp.W*cp.C, -1, 1)
	dy := randVec(r, cp.N*cp.OutH*cp.OutW*cp.OutC, -1, 1)
	big := randVec(r, 40000*3, -1, 1)
	run := func() [][]float32 {
		c := make([]float32, m*n)
		ref.Gemm(GemmParams{M: m, N: n, K: k, Alpha: 1, TransA: true}, a, b, c)
		dk := make([]float32, 9*cp.C*cp.OutC)
		db := make([]float32, cp.OutC)
		old, oldMin := convChunkBytes, convMinChunkRows
		convChunkBytes, convMinChunkRows = 4*9*cp.C*100, 1
		ref.Conv2DBackwardWeights(cp, x, dy, dk, db)
		dx := make([]float32, len(x))
		ref.Conv2DBackwardData(cp, dy, randVec(newRNG(3), len(dk), -1, 1), dx)
		convChunkBytes, convMinChunkRows = old, oldMin
		s := make([]float32, 3)
		ref.Reduce(ReduceSum, big, []int{40000, 3}, []int{0}, s)
		mean, inv := make([]float32, 3), make([]float32, 3)
		ybn := make([]float32, len(big))
		ref.BatchNormForwardTraining(40000, 3, 1e-3, big, nil, nil, ybn, mean, inv)
		return [][]float32{c, dk, db, dx, s, mean, inv, ybn}
	}
	t.Setenv("DEEPFRAME_NUM_THREADS", "1")
	one := run()
	t.Setenv("DEEPFRAME_NUM_THREADS", "3")
	three := run()
	for i := range one {
		if !sameBits(one[i], three[i]) {
			t.Errorf("output %d differs between 1 and 3 threads", i)
		}
	}
}

func BenchmarkGemm(b *testing.B) {
	for _, n := range []int{128, 512, 1024} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			r := newRNG(1)
			x, w := randVec(r, n*n, -1, 1), randVec(r, n*n, -1, 1)
			c := make([]float32, n*n)
			p := GemmParams{M: n, N: n, K: n, Alpha: 1}
			benchFlops(b, 2*float64(n)*float64(n)*float64(n), func() { ref.Gemm(p, x, w, c) })
		})
	}
}
