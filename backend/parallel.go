package backend

import (
	"math/bits"
	"sync"
	"sync/atomic"
)

// parallelFor runs fn over [0, n) split into contiguous ranges of at least grain items, on up to
// NumThreads() goroutines (the caller's goroutine takes the first range). Work below two grains
// runs inline: spawning goroutines costs microseconds, which dominates the small kernels of tiny
// models.
//
// The split depends on the thread count, so callers whose result must not depend on it (sums
// across ranges) partition into fixed-size blocks themselves and parallelise over those.
func parallelFor(n, grain int, fn func(lo, hi int)) {
	if n <= 0 {
		return
	}
	if grain < 1 {
		grain = 1
	}
	if n < 2*grain {
		fn(0, n)
		return
	}
	workers := min(NumThreads(), n/grain)
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

// parallelTasks runs fn(i) for every i in [0, n) on up to workers goroutines that take tasks
// from a shared counter, so uneven tasks (edge tiles of a GEMM) balance out.
func parallelTasks(n, workers int, fn func(i int)) {
	workers = min(workers, n, NumThreads())
	if workers <= 1 {
		for i := 0; i < n; i++ {
			fn(i)
		}
		return
	}
	var next atomic.Int64
	run := func() {
		for {
			i := int(next.Add(1) - 1)
			if i >= n {
				return
			}
			fn(i)
		}
	}
	var wg sync.WaitGroup
	wg.Add(workers - 1)
	for w := 1; w < workers; w++ {
		go func() {
			defer wg.Done()
			run()
		}()
	}
	run()
	wg.Wait()
}

// Scratch buffers come from pools bucketed by power-of-two capacity, so a steady training loop
// reuses the same im2col and packing buffers instead of allocating megabytes per step, and a
// small request never pins a huge buffer.
type scratchPool[T any] struct{ buckets [64]sync.Pool }

var (
	scratch32 scratchPool[float32]
	scratch64 scratchPool[float64] // block-partial sums of reductions and batch norm
)

// get returns a buffer of length n with unspecified contents; release it with put.
func (sp *scratchPool[T]) get(n int) *[]T {
	if n <= 0 {
		s := []T{}
		return &s
	}
	class := bits.Len(uint(n - 1))
	if p, ok := sp.buckets[class].Get().(*[]T); ok {
		*p = (*p)[:n]
		return p
	}
	s := make([]T, n, 1<<class)
	return &s
}

func (sp *scratchPool[T]) put(p *[]T) {
	c := cap(*p)
	if c == 0 || c&(c-1) != 0 {
		return
	}
	sp.buckets[bits.Len(uint(c-1))].Put(p)
}

// fill sets every element of s to v, in parallel for large s.
func fill(s []float32, v float32) {
	parallelFor(len(s), 1<<16, func(lo, hi int) {
		part := s[lo:hi]
		for i := range part {
			part[i] = v
		}
	})
}
