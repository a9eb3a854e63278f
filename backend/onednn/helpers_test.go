package onednn

import (
	"testing"

	"github.com/deepframe/deepframe/backend"
	"github.com/deepframe/deepframe/backend/internal/paritytest"
)

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

func openOrSkip(t testing.TB) *Backend {
	t.Helper()
	b, err := Open()
	if err != nil {
		t.Skipf("oneDNN not available (apt-get install %s): %v", AptPackage, err)
	}
	return b
}

// withMinimums lowers the size thresholds below which kernels stay with the fallback, so
// small test shapes exercise oneDNN too.
func withMinimums(t *testing.T, n int) {
	t.Helper()
	e, ec, s, bn, pm := eltMin, eltMinCheap, softmaxMin, bnMin, poolMin
	eltMin, eltMinCheap, softmaxMin, bnMin, poolMin = n, n, n, n, n
	t.Cleanup(func() { eltMin, eltMinCheap, softmaxMin, bnMin, poolMin = e, ec, s, bn, pm })
}

func copyOf(s []float32) []float32 { return append([]float32(nil), s...) }
