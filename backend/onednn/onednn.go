// Package onednn is a deepframe compute backend over oneDNN (libdnnl.so.2, the library
// PyTorch and TensorFlow use on CPUs), loaded at run time with purego: no cgo, so
// CGO_ENABLED=0 builds still work, and a machine without the library falls back to the next
// backend.
//
// Importing the package registers the backend as "onednn". Convolution, pooling, batch
// normalisation, element-wise functions and softmax map onto oneDNN primitives, created once
// per shape and cached; so does GEMM, except for small products, which go to OpenBLAS when
// it is installed (see gemm.go). Everything oneDNN does not cover (broadcast binary ops,
// reductions, transposes, gather/scatter) goes to the reference backend.
package onednn

import (
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/deepframe/deepframe/backend"
	"github.com/deepframe/deepframe/backend/openblas"
)

// Priority is the registry priority, the highest of the CPU backends: it measured fastest on
// the CNN training step (2-4x the OpenBLAS backend, ~10x the reference) and at least as fast
// on dense layers, since it runs them on oneDNN's matmul or OpenBLAS, whichever is faster
// for the size.
const Priority = 20

func init() {
	backend.Register("onednn", Priority, func() (backend.Backend, error) { return Open() })
}

// Backend runs the kernels oneDNN covers and delegates the rest to the embedded fallback
// (the OpenBLAS backend when that library loads, else the reference backend).
type Backend struct {
	backend.Backend
	lib      *lib
	fallback string
	// matmulMin is the smallest GEMM (M·N·K) that runs on oneDNN's matmul (see gemm.go).
	matmulMin int

	convFwd, convBwdData, convBwdWeights planCache[convKey]
	poolFwd, poolBwd                     planCache[poolKey]
	bnFwd, bnBwd                         planCache[bnKey]
	elt                                  planCache[eltKey]
	softmax                              planCache[softmaxKey]
	gemm                                 planCache[gemmKey]
}

var (
	openOnce sync.Once
	opened   *Backend
	openErr  error
)

// Open loads oneDNN (once per process) and returns the backend, or an error naming the
// package to install.
func Open() (*Backend, error) {
	openOnce.Do(func() {
		l, err := load()
		if err != nil {
			openErr = err
			return
		}
		b := &Backend{lib: l}
		if ob, err := openblas.Open(); err == nil {
			b.Backend, b.fallback, b.matmulMin = ob, "openblas", matmulMinWithBLAS
		} else {
			b.Backend, b.fallback, b.matmulMin = backend.Reference(), "reference", matmulMinNoBLAS
		}
		opened = b
	})
	return opened, openErr
}

func (b *Backend) Name() string { return "onednn" }

// Version reports the oneDNN release, the instruction set its kernels were generated for,
// its thread pool and where the other kernels come from.
func (b *Backend) Version() string {
	threads := fmt.Sprintf("%d OpenMP threads", b.lib.ompThreads)
	if b.lib.ompThreadsSource != "deepframe" {
		threads += " (from OMP_NUM_THREADS)"
	}
	s := fmt.Sprintf("onednn (oneDNN %s, ISA %s, %s, %s)", b.lib.versionString, b.lib.isa, threads, b.lib.path)
	if b.fallback == "openblas" {
		s += "; GEMM: oneDNN matmul, small products and other kernels: " + b.Backend.Version()
	} else {
		s += "; GEMM: oneDNN matmul; other kernels: reference (" + openblas.AptPackage + " not installed)"
	}
	return s
}

var verbose = os.Getenv("DEEPFRAME_ONEDNN_VERBOSE") != ""

// debugf explains, when DEEPFRAME_ONEDNN_VERBOSE is set, why a kernel fell back.
func debugf(format string, args ...any) {
	if verbose {
		fmt.Fprintf(os.Stderr, "onednn: "+strings.TrimSuffix(format, "\n")+"\n", args...)
	}
}
