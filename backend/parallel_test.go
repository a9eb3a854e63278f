package backend

import (
	"sync/atomic"
	"testing"
)

func TestParallelFor(t *testing.T) {
	t.Setenv("DEEPFRAME_NUM_THREADS", "3")
	for _, tc := range []struct{ n, grain int }{{0, 1}, {1, 1}, {5, 0}, {10, 3}, {100, 7}, {1000, 1000}, {1001, 500}, {12345, 64}} {
		seen := make([]atomic.Int32, tc.n)
		var calls atomic.Int32
		parallelFor(tc.n, tc.grain, func(lo, hi int) {
			calls.Add(1)
			if hi-lo < max(tc.grain, 1) && !(lo == 0 && hi == tc.n) {
				t.Errorf("n=%d grain=%d: range [%d,%d) is below the grain", tc.n, tc.grain, lo, hi)
			}
			for i := lo; i < hi; i++ {
				seen[i].Add(1)
			}
		})
		for i := range seen {
			if v := seen[i].Load(); v != 1 {
				t.Fatalf("n=%d grain=%d: index %d visited %d times", tc.n, tc.grain, i, v)
			}
		}
		if c := calls.Load(); c > 3 {
			t.Errorf("n=%d grain=%d: %d ranges for a budget of 3 threads", tc.n, tc.grain, c)
		}
	}
}

func TestParallelTasks(t *testing.T) {
	t.Setenv("DEEPFRAME_NUM_THREADS", "4")
	for _, n := range []int{0, 1, 7, 100} {
		for _, workers := range []int{1, 2, 8} {
			seen := make([]atomic.Int32, n)
			parallelTasks(n, workers, func(i int) { seen[i].Add(1) })
			for i := range seen {
				if v := seen[i].Load(); v != 1 {
					t.Fatalf("n=%d workers=%d: task %d ran %d times", n, workers, i, v)
				}
			}
		}
	}
}

func TestScratchPool(t *testing.T) {
	for _, n := range []int{0, 1, 3, 4, 5, 1000, 1 << 20} {
		p := scratch32.get(n)
		if len(*p) != n {
			t.Fatalf("get(%d) has length %d", n, len(*p))
		}
		scratch32.put(p)
		q := scratch32.get(n)
		if len(*q) != n {
			t.Fatalf("get(%d) after put has length %d", n, len(*q))
		}
		scratch32.put(q)
	}
}

// TestSteadyStateAllocations checks that repeated kernel calls reuse their scratch instead of
// allocating it each time: what is left is goroutine bookkeeping, a few small objects.
func TestSteadyStateAllocations(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation counts need a warm pool")
	}
	p := convCase(4, 16, 16, 8, 3, 3, 16, 1, 1, 1, 1, 1, 1, 1, 1)
	r := newRNG(5)
	x := randVec(r, p.N*p.H*p.W*p.C, -1, 1)
	k := randVec(r, 9*p.C*p.OutC, -1, 1)
	y := make([]float32, p.N*p.OutH*p.OutW*p.OutC)
	dk := make([]float32, len(k))
	dx := make([]float32, len(x))
	for name, f := range map[string]func(){
		"forward":          func() { ref.Conv2DForward(p, x, k, nil, y) },
		"backward data":    func() { ref.Conv2DBackwardData(p, y, k, dx) },
		"backward weights": func() { ref.Conv2DBackwardWeights(p, x, y, dk, nil) },
	} {
		f()
		allocs := testing.AllocsPerRun(20, f)
		// The im2col buffer alone would be 36 KiB per call; a pooled one costs nothing.
		if allocs > 20 {
			t.Errorf("%s: %v allocations per call", name, allocs)
		}
		t.Logf("%s: %v allocations per call", name, allocs)
	}
}
