package par

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/deepframe/deepframe/backend/internal/alloctest"
)

// funcTask adapts a closure for tests; kernels use pooled structs instead, since a closure
// handed to a worker escapes to the heap.
type funcTask func(lo, hi int)

func (f funcTask) Run(lo, hi int) { f(lo, hi) }

func TestFor(t *testing.T) {
	for _, threads := range []int{1, 2, 3} {
		for _, tc := range []struct{ n, grain int }{{0, 1}, {1, 1}, {5, 0}, {10, 3}, {100, 7}, {1000, 1000}, {1001, 500}, {12345, 64}} {
			seen := make([]atomic.Int32, tc.n)
			var mu sync.Mutex
			var ranges [][2]int
			For(threads, tc.n, tc.grain, funcTask(func(lo, hi int) {
				mu.Lock()
				ranges = append(ranges, [2]int{lo, hi})
				mu.Unlock()
				if hi-lo < max(tc.grain, 1) && !(lo == 0 && hi == tc.n) {
					t.Errorf("n=%d grain=%d: range [%d,%d) is below the grain", tc.n, tc.grain, lo, hi)
				}
				for i := lo; i < hi; i++ {
					seen[i].Add(1)
				}
			}))
			for i := range seen {
				if v := seen[i].Load(); v != 1 {
					t.Fatalf("threads=%d n=%d grain=%d: index %d visited %d times", threads, tc.n, tc.grain, i, v)
				}
			}
			if parts := Parts(threads, tc.n, tc.grain); len(ranges) != parts {
				t.Errorf("threads=%d n=%d grain=%d: %d ranges, Parts says %d", threads, tc.n, tc.grain, len(ranges), parts)
			}
			if len(ranges) > threads && tc.n > 0 {
				t.Errorf("n=%d grain=%d: %d ranges for a budget of %d threads", tc.n, tc.grain, len(ranges), threads)
			}
		}
	}
}

func TestEach(t *testing.T) {
	for _, n := range []int{0, 1, 7, 100} {
		for _, workers := range []int{1, 2, 8} {
			seen := make([]atomic.Int32, n)
			Each(4, n, workers, funcTask(func(lo, hi int) {
				if hi != lo+1 {
					t.Errorf("Each ran [%d,%d), want one item", lo, hi)
				}
				seen[lo].Add(1)
			}))
			for i := range seen {
				if v := seen[i].Load(); v != 1 {
					t.Fatalf("n=%d workers=%d: task %d ran %d times", n, workers, i, v)
				}
			}
		}
	}
}

// TestNested runs parallel loops inside parallel loops, from several goroutines at once: a
// caller that finds no idle worker runs its ranges itself, so nothing can wait on itself.
func TestNested(t *testing.T) {
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var total atomic.Int64
			For(4, 64, 1, funcTask(func(lo, hi int) {
				for range hi - lo {
					For(4, 100, 10, funcTask(func(lo, hi int) { total.Add(int64(hi - lo)) }))
				}
			}))
			if got := total.Load(); got != 6400 {
				t.Errorf("nested loops covered %d items, want 6400", got)
			}
		}()
	}
	wg.Wait()
}

type sumTask struct {
	xs  []int64
	out *atomic.Int64
}

func (s *sumTask) Run(lo, hi int) {
	var acc int64
	for _, v := range s.xs[lo:hi] {
		acc += v
	}
	s.out.Add(acc)
}

var sumTasks Pool[sumTask, *sumTask]

// TestPoolAllocs checks the point of the package: once the workers exist and the pools are
// warm, a parallel loop allocates nothing.
func TestPoolAllocs(t *testing.T) {
	if alloctest.Race {
		t.Skip("sync.Pool drops items at random under the race detector")
	}
	xs := make([]int64, 1<<12)
	for i := range xs {
		xs[i] = int64(i)
	}
	var out atomic.Int64
	loop := func() {
		out.Store(0)
		sumTasks.For(2, len(xs), 64, sumTask{xs: xs, out: &out})
		if got, want := out.Load(), int64(len(xs)*(len(xs)-1)/2); got != want {
			t.Fatalf("sum %d, want %d", got, want)
		}
	}
	for range 10 {
		loop()
	}
	if a := alloctest.PerCall(loop); a != 0 {
		t.Errorf("a pooled parallel loop allocates %v times", a)
	}
}

// TestFreeListAcrossCollections checks the two halves of FreeList's contract: what a loop
// keeps using survives garbage collections (a sync.Pool would drop it), and what goes unused
// for idleTrim is let go at the next collection.
func TestFreeListAcrossCollections(t *testing.T) {
	const idle = 250 * time.Millisecond
	saved := idleTrim.Swap(int64(idle))
	defer idleTrim.Store(saved)
	// gcAndTrim collects until a trim has run (it runs on a cleanup goroutine, and a
	// collection that began before the trims' sentinel was allocated does not run one).
	gcAndTrim := func() {
		before := trims.runs.Load()
		for deadline := time.Now().Add(5 * time.Second); trims.runs.Load() == before; {
			if time.Now().After(deadline) {
				t.Fatal("no trim ran after collections")
			}
			runtime.GC()
			time.Sleep(time.Millisecond)
		}
	}
	var f FreeList[[64]byte]
	if f.Get() != nil { // as a user would, finding the list empty
		t.Fatal("a new free list is not empty")
	}
	x := new([64]byte)
	f.Put(x)
	for range 3 {
		gcAndTrim()
		gcAndTrim() // several collections between two uses, as while a model is being built
		if got := f.Get(); got != x {
			t.Fatalf("an object in use was dropped by a collection (got %p)", got)
		}
		f.Put(x)
	}
	gcAndTrim()
	time.Sleep(2 * idle)
	gcAndTrim()
	if got := f.Get(); got != nil {
		t.Error("a free list idle for longer than idleTrim kept its object across a collection")
	}
}

func TestScratch(t *testing.T) {
	var s Scratch[float32]
	for _, n := range []int{0, 1, 3, 4, 5, 1000, 1 << 20} {
		p := s.Get(n)
		if len(*p) != n {
			t.Fatalf("Get(%d) has length %d", n, len(*p))
		}
		s.Put(p)
		if q := s.Get(n); q != p || len(*q) != n {
			t.Fatalf("Get(%d) after Put did not reuse the buffer at the right length", n)
		}
	}
}
