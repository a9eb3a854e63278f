package backend

import "runtime"

// reference is the pure-Go backend: always available, the oracle other backends are tested
// against, and parallel within the NumThreads budget. It holds no state (scratch buffers and
// the parallel loops' tasks come from shared free lists, see internal/par), so one value
// serves any number of goroutines at once, and a steady training loop allocates nothing.
//
// Its kernels are deterministic for a given input: every parallel split either gives each
// output element to exactly one goroutine or sums fixed-size blocks in a fixed order, so the
// results do not change with NumThreads or scheduling.
//
// The kernels live beside this file by family: gemm.go, conv.go, pool.go, batchnorm.go,
// elementwise.go, reduce.go, transpose.go, softmax.go, gather.go; parallel.go holds the
// scratch pools and how kernels decide to run a loop inline or in parallel.
type reference struct{}

var referenceBackend Backend = reference{}

// Reference returns the pure-Go backend, which is always available.
func Reference() Backend { return referenceBackend }

func (reference) Name() string { return "reference" }

func (reference) Version() string {
	return "reference (pure Go, gonum blas32 GEMM, " + runtime.Version() + ")"
}
