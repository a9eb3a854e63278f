package onednn

import (
	"github.com/deepframe/deepframe/backend"
	"github.com/deepframe/deepframe/backend/internal/par"
)

// Per-call temporaries (pooling workspaces, batch-norm variances) are reused by every later
// training step.
var (
	bytesPool par.Scratch[byte]
	f32Pool   par.Scratch[float32]
)

// split returns the thread budget and whether n items of the given grain run on the calling
// goroutine. Loop bodies are structs: run inline from the stack, or copied into a pooled task
// (see backend/internal/par) when shared among threads, so neither path allocates.
func split(n, grain int) (threads int, inline bool) {
	threads = backend.NumThreads()
	return threads, par.Parts(threads, n, grain) <= 1
}
