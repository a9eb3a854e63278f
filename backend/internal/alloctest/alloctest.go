// Package alloctest counts the heap allocations of kernel calls for the backends' tests.
package alloctest

import (
	"math"
	"runtime"
)

// PerCall calls f until its pools are warm and returns the heap allocations of one more call,
// averaged over a window of calls: the fewest of a few windows. It counts as
// testing.AllocsPerRun does but exactly, and without AllocsPerRun's switch to GOMAXPROCS(1),
// which would keep parallel paths from running unless DEEPFRAME_NUM_THREADS is set.
//
// The best window, not the first, because what a parallel call goes through settles late,
// whenever the scheduler first arranges the case that grows it: the runtime's per-P caches of
// the records goroutines park with (sudogs) allocate until the P that frees them (where a
// woken caller resumes) has spilled some to the central cache the other P draws on, and
// purego's sync.Pool of call frames allocates per P as callers migrate. Each happens a
// bounded number of times. A call that allocates every time shows in every window.
func PerCall(f func()) float64 {
	runtime.GC() // so that no collection, which empties the pools, starts in a window
	for range 8 {
		f()
	}
	const runs = 16
	best := math.Inf(1)
	for range 10 {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range runs {
			f()
		}
		runtime.ReadMemStats(&after)
		best = min(best, float64(after.Mallocs-before.Mallocs)/runs)
		if best == 0 {
			break
		}
	}
	return best
}
