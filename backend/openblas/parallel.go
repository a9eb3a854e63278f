package openblas

import (
	"github.com/deepframe/deepframe/backend"
	"github.com/deepframe/deepframe/backend/internal/par"
)

// split returns the thread budget and whether n items of the given grain run on the calling
// goroutine. Loop bodies are structs: run inline from the stack, or copied into a pooled task
// (see backend/internal/par) when shared among threads, so neither path allocates.
func split(n, grain int) (threads int, inline bool) {
	threads = backend.NumThreads()
	return threads, par.Parts(threads, n, grain) <= 1
}

// scratch holds im2col buffers and scratch64 the partial sums of bias gradients, allocated
// once and reused by every later step of a training loop.
var (
	scratch   par.Scratch[float32]
	scratch64 par.Scratch[float64]
)
