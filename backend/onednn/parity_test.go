package onednn

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/deepframe/deepframe/backend"
)

func TestVersion(t *testing.T) {
	b := openOrSkip(t)
	v := b.Version()
	t.Log(v)
	if b.Name() != "onednn" || !containsAll(v, "oneDNN 2.", "ISA") {
		t.Fatalf("Name %q, Version %q", b.Name(), v)
	}
	if !slices.Contains(backend.Names(), "onednn") {
		t.Fatalf("onednn not registered: %v", backend.Names())
	}
	if be, err := backend.Open("onednn"); err != nil || be.Name() != "onednn" {
		t.Fatalf("backend.Open(onednn) = %v, %v", be, err)
	}
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

func TestConvParity(t *testing.T) {
	b := openOrSkip(t)
	for _, anyW := range []bool{true, false} {
		saved := convWeightsAny
		convWeightsAny = anyW
		// Plans cache the layout choice, so each setting gets a fresh backend.
		be := &Backend{Backend: b.Backend, lib: b.lib, fallback: b.fallback}
		for ci, p := range convCases {
			r := newRNG(uint64(ci))
			x := randVec(r, p.N*p.H*p.W*p.C, -1, 1)
			k := randVec(r, p.KH*p.KW*p.C*p.OutC, -1, 1)
			bias := randVec(r, p.OutC, -1, 1)
			ny := p.N * p.OutH * p.OutW * p.OutC
			dy := randVec(r, ny, -1, 1)
			name := fmt.Sprintf("weightsAny=%v case %d %+v", anyW, ci, p)
			for _, bs := range [][]float32{bias, nil} {
				want, got := make([]float32, ny), randVec(r, ny, -9, 9)
				ref.Conv2DForward(p, x, k, bs, want)
				be.Conv2DForward(p, x, k, bs, got)
				checkParity(t, fmt.Sprintf("%s forward bias=%v", name, bs != nil), got, want)
			}
			wantDx, gotDx := make([]float32, len(x)), randVec(r, len(x), -9, 9)
			ref.Conv2DBackwardData(p, dy, k, wantDx)
			be.Conv2DBackwardData(p, dy, k, gotDx)
			checkParity(t, name+" backward data", gotDx, wantDx)
			wantDk, gotDk := make([]float32, len(k)), randVec(r, len(k), -9, 9)
			wantDb, gotDb := make([]float32, p.OutC), randVec(r, p.OutC, -9, 9)
			ref.Conv2DBackwardWeights(p, x, dy, wantDk, wantDb)
			be.Conv2DBackwardWeights(p, x, dy, gotDk, gotDb)
			checkParity(t, name+" backward weights", gotDk, wantDk)
			checkParity(t, name+" backward bias", gotDb, wantDb)
			gotDk2 := randVec(r, len(k), -9, 9)
			be.Conv2DBackwardWeights(p, x, dy, gotDk2, nil)
			checkParity(t, name+" backward weights (no bias)", gotDk2, wantDk)
		}
		reportFallbacks(t, be)
		convWeightsAny = saved
	}
}

// reportFallbacks lists the parameter sets oneDNN declined (they ran on the fallback, which
// is correct but slower), so a regression in coverage shows in the verbose log.
func reportFallbacks(t *testing.T, b *Backend) {
	t.Helper()
	for name, c := range map[string]*planCache[convKey]{"conv forward": &b.convFwd, "conv backward data": &b.convBwdData, "conv backward weights": &b.convBwdWeights} {
		c.mu.RLock()
		for k, p := range c.m {
			if p == nil {
				t.Logf("%s fell back for %+v", name, k)
			}
		}
		c.mu.RUnlock()
	}
}

func pool(kind backend.PoolKind, n, h, w, c, kh, kw, sh, sw, pt, pb, pl, pr int) backend.Pool2DParams {
	return backend.Pool2DParams{Kind: kind, N: n, H: h, W: w, C: c, KH: kh, KW: kw, StrideH: sh, StrideW: sw,
		PadTop: pt, PadBottom: pb, PadLeft: pl, PadRight: pr,
		OutH: (h+pt+pb-kh)/sh + 1, OutW: (w+pl+pr-kw)/sw + 1}
}

var poolCases = func() []backend.Pool2DParams {
	var cs []backend.Pool2DParams
	for _, kind := range []backend.PoolKind{backend.MaxPool, backend.AvgPool} {
		cs = append(cs,
			pool(kind, 2, 28, 28, 32, 2, 2, 2, 2, 0, 0, 0, 0),  // the CNN's MaxPool 2
			pool(kind, 1, 5, 5, 3, 2, 2, 2, 2, 0, 0, 0, 0),     // odd input, valid (floor)
			pool(kind, 3, 7, 6, 17, 3, 3, 2, 2, 1, 1, 1, 1),    // padded, odd channels
			pool(kind, 2, 6, 6, 1, 3, 3, 1, 1, 1, 1, 1, 1),     // stride 1 "same"
			pool(kind, 2, 9, 8, 5, 3, 2, 2, 3, 0, 1, 1, 0),     // asymmetric
			pool(kind, 1, 4, 4, 33, 4, 4, 4, 4, 0, 0, 0, 0),    // global
			pool(kind, 2, 11, 13, 16, 3, 3, 3, 3, 1, 2, 1, 2),  // Keras "same" with stride 3
			pool(kind, 64, 14, 14, 64, 2, 2, 2, 2, 0, 0, 0, 0), // the CNN's second pool
		)
	}
	return cs
}()

func TestPoolParity(t *testing.T) {
	b := openOrSkip(t)
	withMinimums(t, 0)
	for ci, p := range poolCases {
		r := newRNG(uint64(100 + ci))
		x := randVec(r, p.N*p.H*p.W*p.C, -1, 1)
		if ci%3 == 0 {
			// ReLU outputs: many exact ties at zero, where the argmax rule matters.
			for i := range x {
				x[i] = max(x[i], 0)
			}
		}
		ny := p.N * p.OutH * p.OutW * p.C
		name := fmt.Sprintf("case %d %+v", ci, p)
		want, got := make([]float32, ny), randVec(r, ny, -9, 9)
		wantArg, gotArg := make([]int32, ny), make([]int32, ny)
		ref.Pool2DForward(p, x, want, wantArg)
		b.Pool2DForward(p, x, got, gotArg)
		checkParity(t, name+" forward", got, want)
		if p.Kind == backend.MaxPool {
			bad := 0
			for i := range wantArg {
				// A different winner among equal values is equally correct; a different
				// value is not.
				if wantArg[i] != gotArg[i] && (gotArg[i] < 0 || int(gotArg[i]) >= len(x) || x[gotArg[i]] != x[wantArg[i]]) {
					bad++
				}
			}
			if bad > 0 {
				t.Errorf("%s: %d argmax entries point at a different value", name, bad)
			}
		}
		dy := randVec(r, ny, -1, 1)
		wantDx, gotDx := make([]float32, len(x)), randVec(r, len(x), -9, 9)
		ref.Pool2DBackward(p, dy, wantArg, wantDx)
		b.Pool2DBackward(p, dy, wantArg, gotDx)
		checkParity(t, name+" backward", gotDx, wantDx)
	}
}

func TestBatchNormParity(t *testing.T) {
	b := openOrSkip(t)
	withMinimums(t, 0)
	shapes := [][2]int{{1, 1}, {3, 17}, {64 * 14 * 14, 32}, {17, 3}, {128, 512}, {5, 100}, {2, 1}}
	for si, sh := range shapes {
		rows, ch := sh[0], sh[1]
		r := newRNG(uint64(200 + si))
		x := randVec(r, rows*ch, -2, 3)
		for i := range x { // a channel-dependent offset: |mean| well away from 0
			x[i] += float32(i%ch) * 0.5
		}
		gamma, beta := randVec(r, ch, 0.5, 1.5), randVec(r, ch, -1, 1)
		dy := randVec(r, rows*ch, -1, 1)
		for _, aff := range []struct{ gamma, beta []float32 }{{gamma, beta}, {nil, nil}, {gamma, nil}, {nil, beta}} {
			name := fmt.Sprintf("%dx%d gamma=%v beta=%v", rows, ch, aff.gamma != nil, aff.beta != nil)
			eps := float32(1e-3)
			wy, gy := make([]float32, len(x)), randVec(r, len(x), -9, 9)
			wm, gm := make([]float32, ch), randVec(r, ch, -9, 9)
			wi, gi := make([]float32, ch), randVec(r, ch, -9, 9)
			ref.BatchNormForwardTraining(rows, ch, eps, x, aff.gamma, aff.beta, wy, wm, wi)
			b.BatchNormForwardTraining(rows, ch, eps, x, aff.gamma, aff.beta, gy, gm, gi)
			if rows > 1 { // one row: every x̂ is 0, both give beta
				checkParity(t, name+" training y", gy, wy)
			}
			checkParity(t, name+" training mean", gm, wm)
			checkParity(t, name+" training invStd", gi, wi)

			mv := randVec(r, ch, 0.1, 2)
			iy, giy := make([]float32, len(x)), randVec(r, len(x), -9, 9)
			ref.BatchNormForwardInference(rows, ch, eps, x, aff.gamma, aff.beta, wm, mv, iy)
			b.BatchNormForwardInference(rows, ch, eps, x, aff.gamma, aff.beta, wm, mv, giy)
			checkParity(t, name+" inference y", giy, iy)

			for _, want := range []struct{ dgamma, dbeta bool }{{true, true}, {false, false}, {true, false}, {false, true}} {
				n2 := fmt.Sprintf("%s dgamma=%v dbeta=%v", name, want.dgamma, want.dbeta)
				wdx, gdx := make([]float32, len(x)), randVec(r, len(x), -9, 9)
				var wdg, gdg, wdb, gdb []float32
				if want.dgamma {
					wdg, gdg = make([]float32, ch), randVec(r, ch, -9, 9)
				}
				if want.dbeta {
					wdb, gdb = make([]float32, ch), randVec(r, ch, -9, 9)
				}
				ref.BatchNormBackward(rows, ch, x, dy, aff.gamma, wm, wi, wdx, wdg, wdb)
				b.BatchNormBackward(rows, ch, x, dy, aff.gamma, wm, wi, gdx, gdg, gdb)
				if rows > 1 {
					checkParity(t, n2+" dx", gdx, wdx)
				}
				if want.dgamma {
					checkParity(t, n2+" dgamma", gdg, wdg)
				}
				if want.dbeta {
					checkParity(t, n2+" dbeta", gdb, wdb)
				}
			}
		}
	}
}

// unaryDomains gives each op an input range inside its domain (and away from poles, where
// any two correct float32 implementations disagree in relative terms).
var unaryDomains = map[backend.UnaryOp][2]float64{
	backend.Log: {0.05, 10}, backend.Sqrt: {0.01, 10}, backend.Rsqrt: {0.05, 10}, backend.Reciprocal: {0.1, 5},
	backend.Exp: {-20, 20},
}

func TestUnaryParity(t *testing.T) {
	b := openOrSkip(t)
	withMinimums(t, 0)
	ops := []backend.UnaryOp{backend.Identity, backend.Neg, backend.Exp, backend.Log, backend.Sqrt, backend.Rsqrt,
		backend.Square, backend.Abs, backend.Sign, backend.Reciprocal, backend.ReLU, backend.LeakyReLU, backend.ELU,
		backend.SELU, backend.GELU, backend.Sigmoid, backend.Tanh, backend.Softplus, backend.Softsign, backend.Swish}
	for _, n := range []int{1, 3, 17, 1000, 65537} {
		for oi, op := range ops {
			r := newRNG(uint64(300 + oi*7 + n))
			dom, ok := unaryDomains[op]
			if !ok {
				dom = [2]float64{-6, 6}
			}
			x := randVec(r, n, dom[0], dom[1])
			if n > 3 {
				x[0] = 0 // the kink of ReLU, Abs and friends
			}
			alpha := float32(0.2)
			name := fmt.Sprintf("%v n=%d", op, n)
			want, got := make([]float32, n), randVec(r, n, -9, 9)
			ref.Unary(op, alpha, x, want)
			b.Unary(op, alpha, x, got)
			checkParity(t, name+" forward", got, want)
			dy := randVec(r, n, -1, 1)
			for _, y := range [][]float32{want, nil} { // from the output, and from x alone
				wdx, gdx := make([]float32, n), randVec(r, n, -9, 9)
				ref.UnaryBackward(op, alpha, x, y, dy, wdx)
				b.UnaryBackward(op, alpha, x, y, dy, gdx)
				checkParity(t, fmt.Sprintf("%s backward (y kept: %v)", name, y != nil), gdx, wdx)
			}
		}
	}
}

func TestSoftmaxParity(t *testing.T) {
	b := openOrSkip(t)
	withMinimums(t, 0)
	for si, sh := range [][2]int{{1, 1}, {1, 10}, {3, 17}, {128, 10}, {64, 1000}, {17, 3}, {1, 4099}} {
		rows, cols := sh[0], sh[1]
		r := newRNG(uint64(400 + si))
		x := randVec(r, rows*cols, -8, 8)
		dy := randVec(r, rows*cols, -1, 1)
		for _, log := range []bool{false, true} {
			name := fmt.Sprintf("%dx%d log=%v", rows, cols, log)
			want, got := make([]float32, len(x)), randVec(r, len(x), -9, 9)
			wdx, gdx := make([]float32, len(x)), randVec(r, len(x), -9, 9)
			if log {
				ref.LogSoftmax(rows, cols, x, want)
				b.LogSoftmax(rows, cols, x, got)
				ref.LogSoftmaxBackward(rows, cols, want, dy, wdx)
				b.LogSoftmaxBackward(rows, cols, want, dy, gdx)
			} else {
				ref.Softmax(rows, cols, x, want)
				b.Softmax(rows, cols, x, got)
				ref.SoftmaxBackward(rows, cols, want, dy, wdx)
				b.SoftmaxBackward(rows, cols, want, dy, gdx)
			}
			checkParity(t, name+" forward", got, want)
			checkParity(t, name+" backward", gdx, wdx)
		}
	}
}

// TestGemmParity checks both GEMM paths, the backend as opened and one that sends every
// product it can to oneDNN's matmul, with transposes, alpha/beta (the matmul path hands
// scaled products to the fallback), bias and every activation.
func TestGemmParity(t *testing.T) {
	b := openOrSkip(t)
	matmul := &Backend{Backend: backend.Reference(), lib: b.lib, fallback: "reference", matmulMin: 0}
	r := newRNG(5)
	for _, be := range []*Backend{b, matmul} {
		for _, sz := range [][3]int{{1, 1, 1}, {3, 17, 33}, {64, 100, 784}, {130, 129, 3}, {257, 65, 300}, {1, 512, 784}, {17, 1, 3}} {
			m, n, k := sz[0], sz[1], sz[2]
			a, bm, c0, bias := randVec(r, m*k, -1, 1), randVec(r, k*n, -1, 1), randVec(r, m*n, -1, 1), randVec(r, n, -1, 1)
			for tr := 0; tr < 4; tr++ {
				for _, sc := range []struct{ alpha, beta float32 }{{1, 0}, {1.5, 0.5}} {
					for _, bs := range [][]float32{bias, nil} {
						p := backend.GemmParams{TransA: tr&1 != 0, TransB: tr&2 != 0, M: m, N: n, K: k, Alpha: sc.alpha, Beta: sc.beta,
							Bias: bs, Act: backend.Activation((tr + len(bs)) % 4)}
						want, got := copyOf(c0), copyOf(c0)
						ref.Gemm(p, a, bm, want)
						be.Gemm(p, a, bm, got)
						checkParity(t, fmt.Sprintf("matmulMin=%d %dx%dx%d %+v", be.matmulMin, m, n, k, p), got, want)
					}
				}
			}
		}
	}
	ran := 0
	matmul.gemm.mu.RLock()
	for _, p := range matmul.gemm.m {
		if p != nil {
			ran++
		}
	}
	matmul.gemm.mu.RUnlock()
	if ran == 0 {
		t.Fatal("no product ran on oneDNN's matmul")
	}
}

// TestConcurrent runs every oneDNN-backed kernel from several goroutines at once, on the
// same cached primitives (run it with -race): each result must equal the one computed alone.
func TestConcurrent(t *testing.T) {
	b := openOrSkip(t)
	withMinimums(t, 0)
	cp := convCases[11]
	pp := poolCases[0]
	r := newRNG(9)
	x := randVec(r, cp.N*cp.H*cp.W*cp.C, -1, 1)
	kern := randVec(r, cp.KH*cp.KW*cp.C*cp.OutC, -1, 1)
	bias := randVec(r, cp.OutC, -1, 1)
	ny := cp.N * cp.OutH * cp.OutW * cp.OutC
	px := randVec(r, pp.N*pp.H*pp.W*pp.C, -1, 1)
	np := pp.N * pp.OutH * pp.OutW * pp.C
	run := func() [][]float32 {
		y := make([]float32, ny)
		b.Conv2DForward(cp, x, kern, bias, y)
		dx := make([]float32, len(x))
		b.Conv2DBackwardData(cp, y, kern, dx)
		dk := make([]float32, len(kern))
		b.Conv2DBackwardWeights(cp, x, y, dk, nil)
		py, arg := make([]float32, np), make([]int32, np)
		b.Pool2DForward(pp, px, py, arg)
		pdx := make([]float32, len(px))
		b.Pool2DBackward(pp, py, arg, pdx)
		s := make([]float32, len(x))
		b.Unary(backend.Tanh, 0, x, s)
		sm := make([]float32, len(x))
		b.Softmax(len(x)/32, 32, x, sm)
		bn, mean, inv := make([]float32, len(x)), make([]float32, 32), make([]float32, 32)
		b.BatchNormForwardTraining(len(x)/32, 32, 1e-3, x, bias[:32], bias[:32], bn, mean, inv)
		return [][]float32{y, dx, dk, py, pdx, s, sm, bn, mean, inv}
	}
	want := run()
	var wg sync.WaitGroup
	for g := 0; g < 6; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for it := 0; it < 5; it++ {
				got := run()
				for i := range want {
					if e := relErr(got[i], want[i]); !(e <= tolerance) {
						t.Errorf("concurrent result %d: relative error %.3g", i, e)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
}

// TestFallbackOnEmpty checks that degenerate shapes never reach oneDNN (which rejects zero
// dimensions) and still produce the fallback's results.
func TestFallbackOnEmpty(t *testing.T) {
	b := openOrSkip(t)
	p := convCase(0, 5, 5, 2, 3, 3, 4, 1, 1, 1, 1, 1, 1, 1, 1)
	b.Conv2DForward(p, nil, make([]float32, 3*3*2*4), nil, nil)
	b.Unary(backend.Exp, 0, nil, nil)
	b.Softmax(0, 10, nil, nil)
	y := []float32{float32(math.NaN())}
	b.Unary(backend.Exp, 0, []float32{0}, y)
	if y[0] != 1 {
		t.Fatalf("exp(0) = %v", y[0])
	}
}

// TestMissingLibrary checks the error a machine without oneDNN gets (the registry logs it and
// falls back): it must name the package to install.
func TestMissingLibrary(t *testing.T) {
	saved := libraryNames
	libraryNames = []string{"/nonexistent/libdnnl.so.2"}
	defer func() { libraryNames = saved }()
	t.Setenv("DEEPFRAME_ONEDNN_LIBRARY", "")
	_, err := doLoad()
	if err == nil || !strings.Contains(err.Error(), "apt-get install "+AptPackage) {
		t.Fatalf("load with no library: %v", err)
	}
}
