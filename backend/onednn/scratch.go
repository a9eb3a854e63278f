package onednn

import (
	"math/bits"
	"sync"

	"github.com/deepframe/deepframe/backend"
)

// bucketPool hands out slices bucketed by power-of-two capacity, so per-call temporaries
// (pooling workspaces, batch-norm variances) are allocated once and reused by every later
// training step.
type bucketPool[T any] struct{ buckets [48]sync.Pool }

func (bp *bucketPool[T]) get(n int) *[]T {
	n = max(n, 1)
	class := bits.Len(uint(n - 1))
	if p, ok := bp.buckets[class].Get().(*[]T); ok {
		*p = (*p)[:n]
		return p
	}
	s := make([]T, n, 1<<class)
	return &s
}

func (bp *bucketPool[T]) put(p *[]T) {
	if c := cap(*p); c != 0 && c&(c-1) == 0 {
		bp.buckets[bits.Len(uint(c-1))].Put(p)
	}
}

var (
	bytesPool bucketPool[byte]
	f32Pool   bucketPool[float32]
)

// parallelFor splits [0, n) into at most backend.NumThreads() ranges of at least grain items.
func parallelFor(n, grain int, fn func(lo, hi int)) {
	if n <= 0 {
		return
	}
	workers := min(backend.NumThreads(), n/max(grain, 1))
	if workers <= 1 {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	wg.Add(workers - 1)
	for w := 1; w < workers; w++ {
		lo, hi := w*n/workers, (w+1)*n/workers
		go func() {
			defer wg.Done()
			fn(lo, hi)
		}()
	}
	fn(0, n/workers)
	wg.Wait()
}
