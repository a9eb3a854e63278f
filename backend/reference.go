package backend

import "runtime"

// reference is the pure-Go backend: always available, the oracle other backends are tested
// against, and parallel within the NumThreads budget. It holds no state (scratch buffers come
// from sync.Pools), so one value serves any number of goroutines at once.
//
// Its kernels are deterministic for a given input: every parallel split either gives each
// output element to exactly one goroutine or sums fixed-size blocks in a fixed order, so the
// results do not change with NumThreads or scheduling.
//
// The kernels live beside this file by family: gemm.go, conv.go, pool.go, batchnorm.go,
// elementwise.go, reduce.go, transpose.go, softmax.go, gather.go; parallel.go holds the
// parallel-for and the scratch pools.
type reference struct{}

var referenceBackend Backend = reference{}

// Reference returns the pure-Go backend, which is always available.
func Reference() Backend { return referenceBackend }

func (reference) Name() string { return "reference" }

func (reference) Version() string {
	return "reference (pure Go, gonum blas32 GEMM, " + runtime.Version() + ")"
}
