package openblas

import (
	"fmt"
	"testing"

	"github.com/deepframe/deepframe/backend"
)

// The benchmarks compare this backend with the reference on the same inputs. Run with
//
//	go test -run '^$' -bench . -benchtime 20x ./backend/openblas/
//
// GEMM reports GFLOP/s (2·M·N·K per product); convolutions report GFLOP/s of the direct
// convolution's multiply-adds, so the two backends' numbers compare directly.

func benchBackends(b *testing.B) []backend.Backend {
	bs := []backend.Backend{backend.Reference()}
	if ob, err := Open(); err == nil {
		bs = append(bs, ob)
	} else {
		b.Logf("openblas not available: %v", err)
	}
	return bs
}

func BenchmarkGemm(b *testing.B) {
	for _, n := range []int{512, 1024, 2048} {
		r := newRNG(uint64(n))
		a, bm, c := randVec(r, n*n, -1, 1), randVec(r, n*n, -1, 1), make([]float32, n*n)
		for _, be := range benchBackends(b) {
			b.Run(fmt.Sprintf("%d/%s", n, be.Name()), func(b *testing.B) {
				p := backend.GemmParams{M: n, N: n, K: n, Alpha: 1}
				be.Gemm(p, a, bm, c)
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					be.Gemm(p, a, bm, c)
				}
				b.ReportMetric(2*float64(n)*float64(n)*float64(n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// BenchmarkGemmSmall justifies sending even tiny products (the iris network's) to sgemm.
func BenchmarkGemmSmall(b *testing.B) {
	for _, s := range [][3]int{{32, 100, 4}, {32, 100, 100}, {8, 8, 8}, {16, 16, 16}, {32, 32, 32}, {1, 512, 784}, {128, 10, 512}} {
		m, n, k := s[0], s[1], s[2]
		r := newRNG(1)
		a, bm, c := randVec(r, m*k, -1, 1), randVec(r, k*n, -1, 1), make([]float32, m*n)
		for _, be := range benchBackends(b) {
			b.Run(fmt.Sprintf("%dx%dx%d/%s", m, n, k, be.Name()), func(b *testing.B) {
				p := backend.GemmParams{M: m, N: n, K: k, Alpha: 1, Act: backend.ActReLU, Bias: bm[:n]}
				b.ReportAllocs()
				for i := 0; i < b.N; i++ {
					be.Gemm(p, a, bm, c)
				}
			})
		}
	}
}

// The Fashion-MNIST CNN's two convolutions at batch 64, Keras "same" padding.
var benchConvs = []struct {
	name string
	p    backend.Conv2DParams
}{
	{"28x28x1-32-5x5", sameConv(64, 28, 28, 1, 5, 32)},
	{"14x14x32-64-5x5", sameConv(64, 14, 14, 32, 5, 64)},
}

func sameConv(n, h, w, c, k, oc int) backend.Conv2DParams {
	return backend.Conv2DParams{N: n, H: h, W: w, C: c, KH: k, KW: k, OutC: oc, StrideH: 1, StrideW: 1,
		DilationH: 1, DilationW: 1, PadTop: (k - 1) / 2, PadBottom: k / 2, PadLeft: (k - 1) / 2, PadRight: k / 2,
		OutH: h, OutW: w}
}

func BenchmarkConv(b *testing.B) {
	for _, cc := range benchConvs {
		p := cc.p
		r := newRNG(7)
		x := randVec(r, p.N*p.H*p.W*p.C, -1, 1)
		k := randVec(r, p.KH*p.KW*p.C*p.OutC, -1, 1)
		bias := randVec(r, p.OutC, -1, 1)
		y := make([]float32, p.N*p.OutH*p.OutW*p.OutC)
		dy := randVec(r, len(y), -1, 1)
		dx, dk := make([]float32, len(x)), make([]float32, len(k))
		db := make([]float32, p.OutC)
		flops := 2 * float64(p.N*p.OutH*p.OutW) * float64(p.KH*p.KW*p.C*p.OutC)
		for _, be := range benchBackends(b) {
			for _, dir := range []string{"fwd", "bwd_data", "bwd_weights"} {
				b.Run(fmt.Sprintf("%s/%s/%s", cc.name, dir, be.Name()), func(b *testing.B) {
					run := func() {
						switch dir {
						case "fwd":
							be.Conv2DForward(p, x, k, bias, y)
						case "bwd_data":
							be.Conv2DBackwardData(p, dy, k, dx)
						default:
							be.Conv2DBackwardWeights(p, x, dy, dk, db)
						}
					}
					run()
					b.ResetTimer()
					for i := 0; i < b.N; i++ {
						run()
					}
					b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				})
			}
		}
	}
}
