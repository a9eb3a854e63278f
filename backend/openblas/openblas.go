// Package openblas is a deepframe compute backend that runs matrix products (and the
// convolutions lowered onto them) through OpenBLAS's sgemm, loaded at run time with purego:
// no cgo, so CGO_ENABLED=0 builds still work, and a machine without the library falls back to
// the reference backend.
//
// Importing the package registers the backend as "openblas". Kernels it does not accelerate
// are the reference backend's, which is also the oracle its tests compare against.
package openblas

import (
	"fmt"
	"math"
	"os"
	"sync"

	"github.com/deepframe/deepframe/backend"
	"github.com/deepframe/deepframe/backend/internal/par"
)

// Priority is the registry priority: above the reference backend (0), which it beats on
// every kernel it overrides, and below oneDNN (20), which measured 2-4x faster on the CNN
// training step and uses this package's GEMM itself for small products.
const Priority = 10

func init() {
	backend.Register("openblas", Priority, func() (backend.Backend, error) { return Open() })
}

// Backend accelerates Gemm and Conv2D and inherits every other kernel from the embedded
// reference backend.
type Backend struct {
	backend.Backend
	lib *Library
}

var (
	openOnce sync.Once
	opened   *Backend
	openErr  error
)

// Open loads OpenBLAS (once per process) and returns the backend, or an error naming the
// package to install.
func Open() (*Backend, error) {
	openOnce.Do(func() {
		lib, err := Load()
		if err != nil {
			openErr = err
			return
		}
		lib.SetThreads(backend.NumThreads())
		opened = &Backend{Backend: backend.Reference(), lib: lib}
	})
	return opened, openErr
}

// Library returns the loaded OpenBLAS.
func (b *Backend) Library() *Library { return b.lib }

func (b *Backend) Name() string { return "openblas" }

func (b *Backend) Version() string {
	l := b.lib
	core := l.CoreName
	if l.CoreTypeSet {
		core += " (OPENBLAS_CORETYPE set by deepframe for this AVX-512 CPU)"
	} else if v := os.Getenv("OPENBLAS_CORETYPE"); v != "" {
		core += " (OPENBLAS_CORETYPE=" + v + " from the environment)"
	}
	return fmt.Sprintf("openblas (%s; core %s; %d threads; %s)", l.Config, core, l.Threads(), l.Path)
}

// Gemm computes C = act(alpha·op(A)·op(B) + beta·C + bias) with sgemm and then the epilogue
// over C in Go.
func (b *Backend) Gemm(p backend.GemmParams, a, bm, c []float32) {
	if p.M <= 0 || p.N <= 0 {
		return
	}
	// Degenerate products are the reference's: its K == 0 and alpha == 0 handling (beta·C
	// then the epilogue, beta 0 clearing NaNs) is the contract. Every other size goes to
	// sgemm: even at 8×8×8 it beat the reference (BenchmarkGemmSmall), since OpenBLAS runs
	// small products on the calling thread without waking its pool.
	if p.K <= 0 || p.Alpha == 0 {
		b.Backend.Gemm(p, a, bm, c)
		return
	}
	b.lib.SetThreads(backend.NumThreads())
	if err := b.lib.Sgemm(p.TransA, p.TransB, p.M, p.N, p.K, p.Alpha, a, bm, p.Beta, c); err != nil {
		b.Backend.Gemm(p, a, bm, c)
		return
	}
	Epilogue(c, p.M, p.N, p.Bias, p.Act)
}

// Epilogue applies C[i,j] = act(C[i,j] + bias[j]) to a row-major m×n matrix, in parallel
// over row blocks. bias may be nil.
func Epilogue(c []float32, m, n int, bias []float32, act backend.Activation) {
	if (bias == nil && act == backend.ActNone) || m <= 0 || n <= 0 {
		return
	}
	// Handing work to another goroutine costs microseconds on an idle machine and, measured
	// on this shared 2-core one under load, up to a few hundred: more than a bias add and
	// ReLU over an MLP layer's 65536 outputs take on one core. Only epilogues long enough to
	// amortise that go parallel; transcendental activations, ~20x the cost per element,
	// sooner.
	grain := 1 << 18
	if act == backend.ActSigmoid || act == backend.ActTanh {
		grain = 1 << 14
	}
	rowGrain := max(1, grain/n)
	if threads, inline := split(m, rowGrain); inline {
		epilogueRows(c, n, bias, act, 0, m)
	} else {
		epilogueTasks.For(threads, m, rowGrain, epilogueTask{c: c, n: n, bias: bias, act: act})
	}
}

type epilogueTask struct {
	c, bias []float32
	n       int
	act     backend.Activation
}

func (t *epilogueTask) Run(lo, hi int) { epilogueRows(t.c, t.n, t.bias, t.act, lo, hi) }

var epilogueTasks par.Pool[epilogueTask, *epilogueTask]

func epilogueRows(c []float32, n int, bias []float32, act backend.Activation, lo, hi int) {
	for i := lo; i < hi; i++ {
		row := c[i*n : (i+1)*n]
		if bias != nil {
			for j, v := range bias[:n] {
				row[j] += v
			}
		}
		activate(act, row)
	}
}

// activate matches the reference backend's definitions exactly (float64 exp and tanh, NaN
// passed through by ReLU) so that the two backends agree to rounding.
func activate(act backend.Activation, row []float32) {
	switch act {
	case backend.ActReLU:
		for j, v := range row {
			if v < 0 {
				row[j] = 0
			}
		}
	case backend.ActSigmoid:
		for j, v := range row {
			row[j] = sigmoid(v)
		}
	case backend.ActTanh:
		for j, v := range row {
			row[j] = float32(math.Tanh(float64(v)))
		}
	}
}

// sigmoid evaluates exp only of non-positive numbers, so it cannot overflow.
func sigmoid(x float32) float32 {
	if x >= 0 {
		return float32(1 / (1 + math.Exp(-float64(x))))
	}
	e := math.Exp(float64(x))
	return float32(e / (1 + e))
}
