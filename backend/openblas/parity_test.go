package openblas

import (
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/deepframe/deepframe/backend"
	"github.com/deepframe/deepframe/backend/internal/paritytest"
)

// Parity: every kernel this backend overrides is compared with the reference backend on the
// same random inputs, by the measure in backend/internal/paritytest (≤ 1e-4 in float32).

func openOrSkip(t testing.TB) *Backend {
	t.Helper()
	b, err := Open()
	if err != nil {
		t.Skipf("OpenBLAS not available (apt-get install %s): %v", AptPackage, err)
	}
	return b
}

var ref = backend.Reference()

// The parity measure, inputs and convolution shapes are shared with the other accelerated
// backends (backend/internal/paritytest); these names keep the tests short.
const tolerance = paritytest.Tolerance

var (
	relErr      = paritytest.RelErr
	checkParity = paritytest.Check
	newRNG      = paritytest.NewRNG
	randVec     = paritytest.RandVec
	convCase    = paritytest.ConvCase
	convCases   = paritytest.ConvCases
)

func TestVersion(t *testing.T) {
	b := openOrSkip(t)
	t.Log(b.Version())
	if b.Name() != "openblas" {
		t.Fatalf("Name() = %q", b.Name())
	}
}

func TestGemmParity(t *testing.T) {
	b := openOrSkip(t)
	sizes := [][3]int{ // M, N, K
		{1, 1, 1}, {1, 3, 17}, {3, 1, 33}, {17, 33, 1}, {33, 17, 3}, {3, 130, 17}, {17, 17, 17},
		{130, 3, 33}, {1, 130, 130}, {130, 1, 130}, {130, 130, 1}, {64, 64, 64}, {100, 257, 129},
		{257, 100, 300},
	}
	scalars := []struct{ alpha, beta float32 }{{1, 0}, {0.5, 1}, {-1.5, 0.25}, {0, 0.5}, {2, 0}}
	eps := []struct {
		bias bool
		act  backend.Activation
	}{{false, backend.ActNone}, {true, backend.ActNone}, {true, backend.ActReLU}, {false, backend.ActSigmoid}, {true, backend.ActTanh}}
	r := newRNG(1)
	{
		for _, sz := range sizes {
			m, n, k := sz[0], sz[1], sz[2]
			a, bm := randVec(r, m*k, -1, 1), randVec(r, k*n, -1, 1)
			c0, bias := randVec(r, m*n, -1, 1), randVec(r, n, -1, 1)
			for tr := 0; tr < 4; tr++ {
				for si, sc := range scalars {
					ep := eps[(si+tr)%len(eps)]
					p := backend.GemmParams{TransA: tr&1 != 0, TransB: tr&2 != 0, M: m, N: n, K: k,
						Alpha: sc.alpha, Beta: sc.beta, Act: ep.act}
					if ep.bias {
						p.Bias = bias
					}
					want := append([]float32(nil), c0...)
					got := append([]float32(nil), c0...)
					if sc.beta == 0 {
						for i := range got { // beta 0 must overwrite, NaN included
							got[i] = float32(math.NaN())
						}
					}
					ref.Gemm(p, a, bm, want)
					b.Gemm(p, a, bm, got)
					checkParity(t, fmt.Sprintf("%dx%dx%d tA=%v tB=%v a=%g b=%g bias=%v act=%d",
						m, n, k, p.TransA, p.TransB, sc.alpha, sc.beta, ep.bias, ep.act), got, want)
				}
			}
		}
	}
}

func TestConvParity(t *testing.T) {
	b := openOrSkip(t)
	savedChunk := convChunkFloats
	defer func() { convChunkFloats = savedChunk }()
	for _, chunk := range []int{savedChunk, 500} { // one chunk, then many (some inside an image)
		convChunkFloats = chunk
		for ci, p := range convCases {
			r := newRNG(uint64(ci))
			x := randVec(r, p.N*p.H*p.W*p.C, -1, 1)
			k := randVec(r, p.KH*p.KW*p.C*p.OutC, -1, 1)
			bias := randVec(r, p.OutC, -1, 1)
			ny := p.N * p.OutH * p.OutW * p.OutC
			dy := randVec(r, ny, -1, 1)
			name := fmt.Sprintf("chunk=%d case %d %+v", chunk, ci, p)
			for _, bs := range [][]float32{bias, nil} {
				want, got := make([]float32, ny), randVec(r, ny, -9, 9)
				ref.Conv2DForward(p, x, k, bs, want)
				b.Conv2DForward(p, x, k, bs, got)
				checkParity(t, name+" forward", got, want)
			}
			wantDx, gotDx := make([]float32, len(x)), randVec(r, len(x), -9, 9)
			ref.Conv2DBackwardData(p, dy, k, wantDx)
			b.Conv2DBackwardData(p, dy, k, gotDx)
			checkParity(t, name+" backward data", gotDx, wantDx)
			wantDk, gotDk := make([]float32, len(k)), randVec(r, len(k), -9, 9)
			wantDb, gotDb := make([]float32, p.OutC), randVec(r, p.OutC, -9, 9)
			ref.Conv2DBackwardWeights(p, x, dy, wantDk, wantDb)
			b.Conv2DBackwardWeights(p, x, dy, gotDk, gotDb)
			checkParity(t, name+" backward weights", gotDk, wantDk)
			checkParity(t, name+" backward bias", gotDb, wantDb)
			gotDk2 := randVec(r, len(k), -9, 9)
			b.Conv2DBackwardWeights(p, x, dy, gotDk2, nil)
			checkParity(t, name+" backward weights (no bias)", gotDk2, wantDk)
		}
	}
}

// TestConcurrent runs the accelerated kernels from several goroutines at once (run it with
// -race): each must produce what it produces alone.
func TestConcurrent(t *testing.T) {
	b := openOrSkip(t)
	const m, n, k = 96, 80, 70
	r := newRNG(3)
	a, bm, bias := randVec(r, m*k, -1, 1), randVec(r, k*n, -1, 1), randVec(r, n, -1, 1)
	p := backend.GemmParams{M: m, N: n, K: k, Alpha: 1, Bias: bias, Act: backend.ActTanh}
	want := make([]float32, m*n)
	ref.Gemm(p, a, bm, want)
	cp := convCases[8]
	x := randVec(r, cp.N*cp.H*cp.W*cp.C, -1, 1)
	kern := randVec(r, cp.KH*cp.KW*cp.C*cp.OutC, -1, 1)
	wantY := make([]float32, cp.N*cp.OutH*cp.OutW*cp.OutC)
	ref.Conv2DForward(cp, x, kern, nil, wantY)
	// Large enough for OpenBLAS to use its own thread pool, from several callers at once.
	const big = 256
	ba, bb := randVec(r, big*big, -1, 1), randVec(r, big*big, -1, 1)
	bp := backend.GemmParams{M: big, N: big, K: big, Alpha: 1, TransB: true}
	wantBig := make([]float32, big*big)
	ref.Gemm(bp, ba, bb, wantBig)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := make([]float32, m*n)
			cb := make([]float32, big*big)
			y := make([]float32, len(wantY))
			for it := 0; it < 20; it++ {
				b.Gemm(p, a, bm, c)
				if e := relErr(c, want); !(e <= tolerance) {
					t.Errorf("concurrent Gemm: relative error %.3g", e)
					return
				}
				b.Gemm(bp, ba, bb, cb)
				if e := relErr(cb, wantBig); !(e <= tolerance) {
					t.Errorf("concurrent threaded Gemm: relative error %.3g", e)
					return
				}
				b.Conv2DForward(cp, x, kern, nil, y)
				if e := relErr(y, wantY); !(e <= tolerance) {
					t.Errorf("concurrent Conv2DForward: relative error %.3g", e)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// TestRegistered checks the registry entry and that DEEPFRAME_BACKEND can force it.
func TestRegistered(t *testing.T) {
	openOrSkip(t)
	found := false
	for _, n := range backend.Names() {
		found = found || n == "openblas"
	}
	if !found {
		t.Fatalf("openblas not in backend.Names() = %v", backend.Names())
	}
	be, err := backend.Open("openblas")
	if err != nil || be.Name() != "openblas" {
		t.Fatalf("backend.Open(openblas) = %v, %v", be, err)
	}
}

// TestMissingLibrary checks the error a machine without OpenBLAS gets (the registry logs it
// and falls back): it must name the package to install.
func TestMissingLibrary(t *testing.T) {
	saved := libraryNames
	libraryNames = []string{"/nonexistent/libopenblas.so.0"}
	defer func() { libraryNames = saved }()
	t.Setenv("DEEPFRAME_OPENBLAS_LIBRARY", "")
	_, err := load()
	if err == nil || !strings.Contains(err.Error(), "apt-get install "+AptPackage) {
		t.Fatalf("load with no library: %v", err)
	}
}
