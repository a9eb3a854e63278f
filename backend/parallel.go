package backend

import "github.com/deepframe/deepframe/backend/internal/par"

// split returns the thread budget and whether n items of the given grain are too few to share
// out, in which case the caller runs its loop body directly. Kernels build their body's
// arguments as a stack value and only copy them into a pooled task (see par) when the loop
// goes parallel, so neither path allocates.
//
// The ranges a loop is cut into depend on the thread count, so callers whose result must not
// depend on it (sums across ranges) partition into fixed-size blocks themselves and
// parallelise over those.
func split(n, grain int) (threads int, inline bool) {
	threads = NumThreads()
	return threads, par.Parts(threads, n, grain) <= 1
}

// Scratch buffers (im2col patches, packed GEMM operands, partial sums) are reused across
// calls, so a steady training loop allocates none of them.
var (
	scratch32 par.Scratch[float32]
	scratch64 par.Scratch[float64] // block-partial sums of reductions and batch norm
)

const fillGrain = 1 << 16

// fill sets every element of s to v, in parallel for large s.
func fill(s []float32, v float32) {
	t := fillTask{s, v}
	if threads, inline := split(len(s), fillGrain); inline {
		t.Run(0, len(s))
	} else {
		fillTasks.For(threads, len(s), fillGrain, t)
	}
}

type fillTask struct {
	s []float32
	v float32
}

func (t *fillTask) Run(lo, hi int) {
	part := t.s[lo:hi]
	for i := range part {
		part[i] = t.v
	}
}

var fillTasks par.Pool[fillTask, *fillTask]

// Task is a loop body over the index range [lo, hi), for ParallelFor.
type Task interface {
	Run(lo, hi int)
}

// ParallelFor runs t over [0, n) on the worker pool the Go kernels share, within the
// NumThreads budget, so code above the backends (optimizer updates) neither oversubscribes the
// cores nor starts goroutines of its own. Fewer than two grains of work run on the caller. The
// ranges are contiguous and depend only on n, grain and NumThreads, and t.Run may be called
// concurrently on disjoint ranges.
//
// It allocates nothing when t is a pointer the caller keeps and reuses (a field of a
// long-lived struct); a fresh t per call, or a closure, costs a heap allocation each time.
func ParallelFor(n, grain int, t Task) {
	par.For(NumThreads(), n, grain, t)
}
