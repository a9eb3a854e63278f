// Package par is the parallel loop the CPU backends share: a fixed set of long-lived worker
// goroutines that take ranges of a loop, so that a kernel call in a steady training loop
// allocates nothing.
//
// Starting goroutines per call (go func() { fn(lo, hi) }()) costs a heap-allocated closure
// per goroutine, and fn itself escapes to the heap with every variable it captures. Here the
// loop body is a Task: a pointer to a struct the caller takes from a Pool and fills with its
// arguments, so handing it to a worker copies one interface value and nothing is allocated.
// Kernels small enough to run on the calling goroutine (Parts reports 1) should call their
// body directly on a stack value and never touch a Pool.
package par

import (
	"sync"
	"sync/atomic"
)

// Task is a loop body over the index range [lo, hi).
type Task interface {
	Run(lo, hi int)
}

// Parts is how many contiguous ranges For cuts n items into for a budget of threads: 0 when
// there is nothing to do, 1 when the caller should run everything itself (below two grains a
// hand-off costs more than it saves), else at most threads ranges of at least grain items.
func Parts(threads, n, grain int) int {
	if n <= 0 {
		return 0
	}
	grain = max(grain, 1)
	if n < 2*grain {
		return 1
	}
	return max(1, min(threads, n/grain))
}

// For runs t over [0, n) in Parts(threads, n, grain) ranges, range i being
// [i·n/parts, (i+1)·n/parts): the calling goroutine and up to parts-1 workers take ranges
// until none are left. Which goroutine runs a range may vary; the ranges themselves depend
// only on threads, n and grain.
func For(threads, n, grain int, t Task) {
	switch parts := Parts(threads, n, grain); parts {
	case 0:
	case 1:
		t.Run(0, n)
	default:
		run(t, n, parts, parts-1, threads)
	}
}

// Each calls t.Run(i, i+1) for every i in [0, n) on up to workers goroutines (within the
// budget of threads), which take items from a shared counter so uneven items balance out.
func Each(threads, n, workers int, t Task) {
	workers = min(workers, n, threads)
	if workers <= 1 {
		for i := 0; i < n; i++ {
			t.Run(i, i+1)
		}
		return
	}
	run(t, n, n, workers-1, threads)
}

// A batch is one parallel loop in flight: its ranges are claimed through next, and done
// counts the workers that accepted it.
type batch struct {
	t        Task
	n, parts int
	next     atomic.Int64
	done     sync.WaitGroup
}

func (b *batch) work() {
	for {
		i := int(b.next.Add(1) - 1)
		if i >= b.parts {
			return
		}
		b.t.Run(i*b.n/b.parts, (i+1)*b.n/b.parts)
	}
}

var batches FreeList[batch]

// The workers wait on jobs, which is unbuffered: a send succeeds only when a worker is idle
// and so commits that worker to the batch at once. A caller that finds none runs the ranges
// itself instead of queueing, so nested or concurrent loops can never wait on each other.
var (
	jobs    = make(chan *batch)
	spawnMu sync.Mutex
	spawned int
)

func worker(b *batch) {
	for {
		b.work()
		b.done.Done()
		b = <-jobs
	}
}

// run offers the batch to up to helpers workers, starting workers as long as fewer than
// threads-1 exist (the caller is the budget's remaining thread), then takes ranges itself and
// waits for the helpers: they may still be running a range it handed out.
func run(t Task, n, parts, helpers, threads int) {
	b := batches.Get()
	if b == nil {
		b = new(batch)
	}
	b.t, b.n, b.parts = t, n, parts
	b.next.Store(0)
offer:
	for range helpers {
		b.done.Add(1)
		select {
		case jobs <- b:
			continue
		default:
		}
		spawnMu.Lock()
		grow := spawned < threads-1
		if grow {
			spawned++
		}
		spawnMu.Unlock()
		if !grow {
			b.done.Done()
			break offer
		}
		go worker(b)
	}
	b.work()
	b.done.Wait()
	b.t = nil // the task's buffers must not stay reachable from the list
	batches.Put(b)
}

// Pool recycles the task structs of one kernel (see FreeList for why not a sync.Pool). P is
// the pointer type whose Run method is the kernel's loop body.
type Pool[T any, P interface {
	*T
	Task
}] struct{ free FreeList[T] }

// For copies v into a pooled T and runs it as For(threads, n, grain, &copy) does. v travels by
// value so the caller's own T stays on its stack.
func (p *Pool[T, P]) For(threads, n, grain int, v T) {
	pt := p.Get()
	*pt = v
	For(threads, n, grain, pt)
	p.Put(pt)
}

// Each is For's counterpart for the package-level Each.
func (p *Pool[T, P]) Each(threads, n, workers int, v T) {
	pt := p.Get()
	*pt = v
	Each(threads, n, workers, pt)
	p.Put(pt)
}

// Get returns a zeroed T, for callers that fill it field by field.
func (p *Pool[T, P]) Get() P {
	if pt := p.free.Get(); pt != nil {
		return P(pt)
	}
	return P(new(T))
}

// Put zeroes pt, so a pooled task does not keep the caller's tensors alive, and recycles it.
func (p *Pool[T, P]) Put(pt P) {
	var zero T
	*pt = zero
	p.free.Put((*T)(pt))
}
