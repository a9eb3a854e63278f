package onednn

import (
	"fmt"
	"strings"
	"testing"
	"unsafe"

	"github.com/deepframe/deepframe/backend"
	"github.com/deepframe/deepframe/backend/openblas"
	"github.com/ebitengine/purego"
)

// The benchmarks run each kernel on the reference backend, the OpenBLAS backend and this one,
// on the same inputs:
//
//	go test -run '^$' -bench . -benchtime 20x ./backend/onednn/
//
// GEMM and convolutions report GFLOP/s (2 flops per multiply-add of the direct algorithm),
// so the backends' numbers compare directly.

type namedBackend struct {
	name string
	b    backend.Backend
}

func benchBackends(b *testing.B) []namedBackend {
	bs := []namedBackend{{"reference", backend.Reference()}}
	if ob, err := openblas.Open(); err == nil {
		bs = append(bs, namedBackend{"openblas", ob})
	}
	if db, err := Open(); err == nil {
		bs = append(bs, namedBackend{"onednn", db})
	} else {
		b.Logf("oneDNN not available: %v", err)
	}
	return bs
}

func gflops(b *testing.B, flops float64) {
	b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

func BenchmarkGemm(b *testing.B) {
	for _, n := range []int{512, 1024, 2048} {
		r := newRNG(uint64(n))
		a, bm, c := randVec(r, n*n, -1, 1), randVec(r, n*n, -1, 1), make([]float32, n*n)
		flops := 2 * float64(n) * float64(n) * float64(n)
		for _, nb := range benchBackends(b) {
			b.Run(fmt.Sprintf("%d/%s", n, nb.name), func(b *testing.B) {
				p := backend.GemmParams{M: n, N: n, K: n, Alpha: 1}
				nb.b.Gemm(p, a, bm, c)
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					nb.b.Gemm(p, a, bm, c)
				}
				gflops(b, flops)
			})
		}
		// oneDNN's own sgemm, the alternative to OpenBLAS for this backend's GEMM.
		b.Run(fmt.Sprintf("%d/dnnl_sgemm", n), func(b *testing.B) {
			sgemm := dnnlSgemm(b)
			sgemm('N', 'N', int64(n), int64(n), int64(n), 1, unsafe.SliceData(a), int64(n), unsafe.SliceData(bm), int64(n), 0, unsafe.SliceData(c), int64(n))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				sgemm('N', 'N', int64(n), int64(n), int64(n), 1, unsafe.SliceData(a), int64(n), unsafe.SliceData(bm), int64(n), 0, unsafe.SliceData(c), int64(n))
			}
			gflops(b, flops)
		})
	}
}

type sgemmFunc func(ta, tb byte, m, n, k int64, alpha float32, a *float32, lda int64, b *float32, ldb int64, beta float32, c *float32, ldc int64) int32

func dnnlSgemm(b *testing.B) sgemmFunc {
	if _, err := Open(); err != nil {
		b.Skip(err)
	}
	h, err := purego.Dlopen(theLib.path, purego.RTLD_NOW|purego.RTLD_LOCAL)
	if err != nil {
		b.Skip(err)
	}
	addr, err := purego.Dlsym(h, "dnnl_sgemm")
	if err != nil {
		b.Skip(err)
	}
	var f sgemmFunc
	purego.RegisterFunc(&f, addr)
	return f
}

func sameConv(n, h, w, c, k, oc int) backend.Conv2DParams {
	return backend.Conv2DParams{N: n, H: h, W: w, C: c, KH: k, KW: k, OutC: oc, StrideH: 1, StrideW: 1,
		DilationH: 1, DilationW: 1, PadTop: (k - 1) / 2, PadBottom: k / 2, PadLeft: (k - 1) / 2, PadRight: k / 2,
		OutH: h, OutW: w}
}

// The Fashion-MNIST CNN's two convolutions at batch 64, Keras "same" padding.
var benchConvs = []struct {
	name string
	p    backend.Conv2DParams
}{
	{"28x28x1-32-5x5", sameConv(64, 28, 28, 1, 5, 32)},
	{"14x14x32-64-5x5", sameConv(64, 14, 14, 32, 5, 64)},
}

func BenchmarkConv(b *testing.B) {
	db, err := Open()
	for _, cc := range benchConvs {
		p := cc.p
		r := newRNG(7)
		x := randVec(r, p.N*p.H*p.W*p.C, -1, 1)
		k := randVec(r, p.KH*p.KW*p.C*p.OutC, -1, 1)
		bias := randVec(r, p.OutC, -1, 1)
		y := make([]float32, p.N*p.OutH*p.OutW*p.OutC)
		dy := randVec(r, len(y), -1, 1)
		dx, dk, dbias := make([]float32, len(x)), make([]float32, len(k)), make([]float32, p.OutC)
		flops := 2 * float64(p.N*p.OutH*p.OutW) * float64(p.KH*p.KW*p.C*p.OutC)
		bs := benchBackends(b)
		if err == nil {
			// The same oneDNN primitives fed HWIO weights as they are, without the reorder
			// into oneDNN's blocked layout.
			saved := convWeightsAny
			convWeightsAny = false
			hw := &Backend{Backend: db.Backend, lib: db.lib, fallback: db.fallback}
			for _, dir := range []int{0, 1, 2} { // build the plans while the flag is off
				runConv(hw, dir, p, x, k, bias, y, dy, dx, dk, dbias)
			}
			convWeightsAny = saved
			bs = append(bs, namedBackend{"onednn-hwio", hw})
		}
		for _, nb := range bs {
			for dir, dname := range []string{"fwd", "bwd_data", "bwd_weights"} {
				b.Run(fmt.Sprintf("%s/%s/%s", cc.name, dname, nb.name), func(b *testing.B) {
					runConv(nb.b, dir, p, x, k, bias, y, dy, dx, dk, dbias)
					b.ReportAllocs()
					b.ResetTimer()
					for i := 0; i < b.N; i++ {
						runConv(nb.b, dir, p, x, k, bias, y, dy, dx, dk, dbias)
					}
					gflops(b, flops)
				})
			}
		}
	}
}

func runConv(be backend.Backend, dir int, p backend.Conv2DParams, x, k, bias, y, dy, dx, dk, dbias []float32) {
	switch dir {
	case 0:
		be.Conv2DForward(p, x, k, bias, y)
	case 1:
		be.Conv2DBackwardData(p, dy, k, dx)
	default:
		be.Conv2DBackwardWeights(p, x, dy, dk, dbias)
	}
}

type kernelCase struct {
	name string
	run  func(be backend.Backend)
}

// kernelCases are the other mapped kernels at the CNN's sizes (batch 64) and at the sizes
// around the thresholds below which the fallback runs.
func kernelCases() []kernelCase {
	r := newRNG(11)
	pool := backend.Pool2DParams{Kind: backend.MaxPool, N: 64, H: 28, W: 28, C: 32, KH: 2, KW: 2, StrideH: 2, StrideW: 2, OutH: 14, OutW: 14}
	px := randVec(r, 64*28*28*32, -1, 1)
	py, parg := make([]float32, 64*14*14*32), make([]int32, 64*14*14*32)
	pdx := make([]float32, len(px))
	big := randVec(r, 64*28*28*32, -3, 3)
	out, out2 := make([]float32, len(big)), make([]float32, len(big))
	gamma, beta := randVec(r, 32, 0.5, 1.5), randVec(r, 32, -1, 1)
	mean, inv := make([]float32, 32), make([]float32, 32)
	logits := randVec(r, 128*10, -3, 3)
	cases := []kernelCase{
		{"maxpool2 fwd 64x28x28x32", func(be backend.Backend) { be.Pool2DForward(pool, px, py, parg) }},
		{"maxpool2 bwd 64x28x28x32", func(be backend.Backend) { be.Pool2DBackward(pool, py, parg, pdx) }},
		{"bn fwd train 50176x32", func(be backend.Backend) {
			be.BatchNormForwardTraining(64*28*28, 32, 1e-3, big, gamma, beta, out, mean, inv)
		}},
		{"bn bwd 50176x32", func(be backend.Backend) {
			be.BatchNormBackward(64*28*28, 32, big, big, gamma, mean, inv, out, out2[:32], out2[32:64])
		}},
		{"softmax 128x10", func(be backend.Backend) { be.Softmax(128, 10, logits, out) }},
		{"logsoftmax 6272x256", func(be backend.Backend) { be.LogSoftmax(6272, 256, big, out) }},
	}
	for _, op := range []backend.UnaryOp{backend.ReLU, backend.Tanh, backend.GELU} {
		for _, n := range []int{1024, 4096, 16384, 65536, len(big)} {
			cases = append(cases,
				kernelCase{fmt.Sprintf("%v fwd %d", op, n), func(be backend.Backend) { be.Unary(op, 0, big[:n], out[:n]) }},
				kernelCase{fmt.Sprintf("%v bwd %d", op, n), func(be backend.Backend) { be.UnaryBackward(op, 0, big[:n], out[:n], big[:n], out2[:n]) }})
		}
	}
	return cases
}

// BenchmarkKernels runs kernelCases on the reference backend and this one.
func BenchmarkKernels(b *testing.B) {
	for _, c := range kernelCases() {
		for _, nb := range benchBackends(b) {
			if nb.name == "openblas" {
				continue // these kernels are the reference's in the OpenBLAS backend
			}
			b.Run(strings.ReplaceAll(c.name, " ", "_")+"/"+nb.name, func(b *testing.B) {
				c.run(nb.b)
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					c.run(nb.b)
				}
			})
		}
	}
}

// cnnStep is one training step of the Fashion-MNIST CNN (batch 64) written directly against
// the kernels, the way autograd lowers it: Conv 32 5x5 same + ReLU + MaxPool 2, Conv 64 5x5
// same + ReLU + MaxPool 2, Dense 512 ReLU, Dense 10, log-softmax, and the backward pass (no
// gradient for the input images). It measures what the backend choice does to a whole step,
// including the hand-offs between oneDNN's, OpenBLAS's and Go's threads.
type cnnStep struct {
	c1, c2                  backend.Conv2DParams
	p1, p2                  backend.Pool2DParams
	x, k1, b1, k2, b2       []float32
	w3, b3, w4, b4          []float32
	y1, a1, q1, y2, a2, q2  []float32
	arg1, arg2              []int32
	h, logits, logp         []float32
	dlogp, dlogits, dh, dz  []float32
	dq2, da2, dy2, dq1, da1 []float32
	dy1, dk1, db1, dk2, db2 []float32
	dw3, db3, dw4, db4      []float32
}

func newCNNStep() *cnnStep {
	r := newRNG(21)
	s := &cnnStep{
		c1: sameConv(64, 28, 28, 1, 5, 32), c2: sameConv(64, 14, 14, 32, 5, 64),
		p1: backend.Pool2DParams{Kind: backend.MaxPool, N: 64, H: 28, W: 28, C: 32, KH: 2, KW: 2, StrideH: 2, StrideW: 2, OutH: 14, OutW: 14},
		p2: backend.Pool2DParams{Kind: backend.MaxPool, N: 64, H: 14, W: 14, C: 64, KH: 2, KW: 2, StrideH: 2, StrideW: 2, OutH: 7, OutW: 7},
	}
	s.x = randVec(r, 64*28*28, 0, 1)
	s.k1, s.b1 = randVec(r, 5*5*1*32, -0.2, 0.2), randVec(r, 32, -0.1, 0.1)
	s.k2, s.b2 = randVec(r, 5*5*32*64, -0.05, 0.05), randVec(r, 64, -0.1, 0.1)
	s.w3, s.b3 = randVec(r, 3136*512, -0.02, 0.02), randVec(r, 512, -0.1, 0.1)
	s.w4, s.b4 = randVec(r, 512*10, -0.1, 0.1), randVec(r, 10, -0.1, 0.1)
	n1, n2 := 64*28*28*32, 64*14*14*64
	s.y1, s.a1, s.q1 = make([]float32, n1), make([]float32, n1), make([]float32, n1/4)
	s.y2, s.a2, s.q2 = make([]float32, n2), make([]float32, n2), make([]float32, n2/4)
	s.arg1, s.arg2 = make([]int32, n1/4), make([]int32, n2/4)
	s.h, s.logits, s.logp = make([]float32, 64*512), make([]float32, 640), make([]float32, 640)
	s.dlogp, s.dlogits = randVec(r, 640, -1, 1), make([]float32, 640)
	s.dh, s.dz = make([]float32, 64*512), make([]float32, 64*512)
	s.dq2, s.da2, s.dy2 = make([]float32, n2/4), make([]float32, n2), make([]float32, n2)
	s.dq1, s.da1, s.dy1 = make([]float32, n1/4), make([]float32, n1), make([]float32, n1)
	s.dk1, s.db1, s.dk2, s.db2 = make([]float32, len(s.k1)), make([]float32, 32), make([]float32, len(s.k2)), make([]float32, 64)
	s.dw3, s.db3, s.dw4, s.db4 = make([]float32, len(s.w3)), make([]float32, 512), make([]float32, len(s.w4)), make([]float32, 10)
	return s
}

var (
	shape64x512 = []int{64, 512}
	shape64x10  = []int{64, 10}
	axis0       = []int{0}
)

func (s *cnnStep) run(be backend.Backend) {
	be.Conv2DForward(s.c1, s.x, s.k1, s.b1, s.y1)
	be.Unary(backend.ReLU, 0, s.y1, s.a1)
	be.Pool2DForward(s.p1, s.a1, s.q1, s.arg1)
	be.Conv2DForward(s.c2, s.q1, s.k2, s.b2, s.y2)
	be.Unary(backend.ReLU, 0, s.y2, s.a2)
	be.Pool2DForward(s.p2, s.a2, s.q2, s.arg2)
	be.Gemm(backend.GemmParams{M: 64, N: 512, K: 3136, Alpha: 1, Bias: s.b3, Act: backend.ActReLU}, s.q2, s.w3, s.h)
	be.Gemm(backend.GemmParams{M: 64, N: 10, K: 512, Alpha: 1, Bias: s.b4}, s.h, s.w4, s.logits)
	be.LogSoftmax(64, 10, s.logits, s.logp)

	be.LogSoftmaxBackward(64, 10, s.logp, s.dlogp, s.dlogits)
	be.Gemm(backend.GemmParams{TransB: true, M: 64, N: 512, K: 10, Alpha: 1}, s.dlogits, s.w4, s.dh)
	be.Gemm(backend.GemmParams{TransA: true, M: 512, N: 10, K: 64, Alpha: 1}, s.h, s.dlogits, s.dw4)
	be.Reduce(backend.ReduceSum, s.dlogits, shape64x10, axis0, s.db4)
	for i, v := range s.h { // the Dense ReLU's derivative, read off its output as autograd does
		s.dz[i] = 0
		if v > 0 {
			s.dz[i] = s.dh[i]
		}
	}
	be.Gemm(backend.GemmParams{TransB: true, M: 64, N: 3136, K: 512, Alpha: 1}, s.dz, s.w3, s.dq2)
	be.Gemm(backend.GemmParams{TransA: true, M: 3136, N: 512, K: 64, Alpha: 1}, s.q2, s.dz, s.dw3)
	be.Reduce(backend.ReduceSum, s.dz, shape64x512, axis0, s.db3)
	be.Pool2DBackward(s.p2, s.dq2, s.arg2, s.da2)
	be.UnaryBackward(backend.ReLU, 0, s.y2, s.a2, s.da2, s.dy2)
	be.Conv2DBackwardData(s.c2, s.dy2, s.k2, s.dq1)
	be.Conv2DBackwardWeights(s.c2, s.q1, s.dy2, s.dk2, s.db2)
	be.Pool2DBackward(s.p1, s.dq1, s.arg1, s.da1)
	be.UnaryBackward(backend.ReLU, 0, s.y1, s.a1, s.da1, s.dy1)
	be.Conv2DBackwardWeights(s.c1, s.x, s.dy1, s.dk1, s.db1)
}

// BenchmarkCNNStep reports samples/s of the whole CNN training step per backend.
func BenchmarkCNNStep(b *testing.B) {
	s := newCNNStep()
	for _, nb := range benchBackends(b) {
		b.Run(nb.name, func(b *testing.B) {
			s.run(nb.b)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				s.run(nb.b)
			}
			b.ReportMetric(64*float64(b.N)/b.Elapsed().Seconds(), "samples/s")
		})
	}
}

// BenchmarkMLPStep is the MLP 784-512-512-10 (ReLU) training step at batch 128, lowered the
// same way: dense layers are GEMMs with fused bias+ReLU, then log-softmax and the backward.
func BenchmarkMLPStep(b *testing.B) {
	r := newRNG(23)
	const n = 128
	x := randVec(r, n*784, 0, 1)
	w1, b1 := randVec(r, 784*512, -0.05, 0.05), randVec(r, 512, -0.1, 0.1)
	w2, b2 := randVec(r, 512*512, -0.05, 0.05), randVec(r, 512, -0.1, 0.1)
	w3, b3 := randVec(r, 512*10, -0.1, 0.1), randVec(r, 10, -0.1, 0.1)
	h1, h2, lo, lp := make([]float32, n*512), make([]float32, n*512), make([]float32, n*10), make([]float32, n*10)
	dlp, dlo := randVec(r, n*10, -1, 1), make([]float32, n*10)
	dh2, dz2, dh1, dz1 := make([]float32, n*512), make([]float32, n*512), make([]float32, n*512), make([]float32, n*512)
	dw1, dw2, dw3 := make([]float32, len(w1)), make([]float32, len(w2)), make([]float32, len(w3))
	db1, db2, db3 := make([]float32, 512), make([]float32, 512), make([]float32, 10)
	shapeH, shapeO := []int{n, 512}, []int{n, 10}
	relu := func(y, g, d []float32) {
		for i, v := range y {
			d[i] = 0
			if v > 0 {
				d[i] = g[i]
			}
		}
	}
	step := func(be backend.Backend) {
		be.Gemm(backend.GemmParams{M: n, N: 512, K: 784, Alpha: 1, Bias: b1, Act: backend.ActReLU}, x, w1, h1)
		be.Gemm(backend.GemmParams{M: n, N: 512, K: 512, Alpha: 1, Bias: b2, Act: backend.ActReLU}, h1, w2, h2)
		be.Gemm(backend.GemmParams{M: n, N: 10, K: 512, Alpha: 1, Bias: b3}, h2, w3, lo)
		be.LogSoftmax(n, 10, lo, lp)
		be.LogSoftmaxBackward(n, 10, lp, dlp, dlo)
		be.Gemm(backend.GemmParams{TransB: true, M: n, N: 512, K: 10, Alpha: 1}, dlo, w3, dh2)
		be.Gemm(backend.GemmParams{TransA: true, M: 512, N: 10, K: n, Alpha: 1}, h2, dlo, dw3)
		be.Reduce(backend.ReduceSum, dlo, shapeO, axis0, db3)
		relu(h2, dh2, dz2)
		be.Gemm(backend.GemmParams{TransB: true, M: n, N: 512, K: 512, Alpha: 1}, dz2, w2, dh1)
		be.Gemm(backend.GemmParams{TransA: true, M: 512, N: 512, K: n, Alpha: 1}, h1, dz2, dw2)
		be.Reduce(backend.ReduceSum, dz2, shapeH, axis0, db2)
		relu(h1, dh1, dz1)
		be.Gemm(backend.GemmParams{TransA: true, M: 784, N: 512, K: n, Alpha: 1}, x, dz1, dw1)
		be.Reduce(backend.ReduceSum, dz1, shapeH, axis0, db1)
	}
	for _, nb := range benchBackends(b) {
		b.Run(nb.name, func(b *testing.B) {
			step(nb.b)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				step(nb.b)
			}
			b.ReportMetric(n*float64(b.N)/b.Elapsed().Seconds(), "samples/s")
		})
	}
}
