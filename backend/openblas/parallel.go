package openblas

import (
	"math/bits"
	"sync"

	"github.com/deepframe/deepframe/backend"
)

// parallelFor splits [0, n) into at most backend.NumThreads() contiguous ranges of at least
// grain items; the calling goroutine takes the first. Below two grains it runs inline, since
// a goroutine hand-off costs more than small loops save.
func parallelFor(n, grain int, fn func(lo, hi int)) {
	if n <= 0 {
		return
	}
	grain = max(grain, 1)
	workers := min(backend.NumThreads(), n/grain)
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

// scratch hands out float32 buffers bucketed by power-of-two capacity, so im2col buffers are
// allocated once and reused by every later step of a training loop.
type scratchPool struct{ buckets [48]sync.Pool }

var scratch scratchPool

func (sp *scratchPool) get(n int) *[]float32 {
	n = max(n, 1)
	class := bits.Len(uint(n - 1))
	if p, ok := sp.buckets[class].Get().(*[]float32); ok {
		*p = (*p)[:n]
		return p
	}
	s := make([]float32, n, 1<<class)
	return &s
}

func (sp *scratchPool) put(p *[]float32) {
	c := cap(*p)
	if c == 0 || c&(c-1) != 0 {
		return
	}
	sp.buckets[bits.Len(uint(c-1))].Put(p)
}

var scratch64 struct{ buckets [48]sync.Pool }

func get64(n int) *[]float64 {
	n = max(n, 1)
	class := bits.Len(uint(n - 1))
	if p, ok := scratch64.buckets[class].Get().(*[]float64); ok {
		*p = (*p)[:n]
		return p
	}
	s := make([]float64, n, 1<<class)
	return &s
}

func put64(p *[]float64) {
	c := cap(*p)
	if c != 0 && c&(c-1) == 0 {
		scratch64.buckets[bits.Len(uint(c-1))].Put(p)
	}
}
