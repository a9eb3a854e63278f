package par

import (
	"math/bits"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// freeListCap bounds what one FreeList keeps: more objects than this of one kind are never
// in use at once in a training loop (one per concurrent kernel call).
const freeListCap = 32

// FreeList is a bounded stack of reusable objects for the steady state of a training loop.
//
// A sync.Pool would not do: every garbage collection empties it, and refilling it allocates
// again (each pool's per-P array, each P's shared queue), as does its lazy per-P bookkeeping
// whenever a caller resumes on another P than it started on, which a goroutine waiting for
// its helpers usually does. A FreeList keeps what it holds across collections, so a loop that
// reuses a fixed set of objects allocates nothing, however often other code collects. It
// still lets go of what nobody uses: the first collection after a list has gone unused for
// idleTrim (a minute) empties it. Counting collections instead, as sync.Pool does, would
// empty lists during the first steps of training, which collect many times while they build
// the model's state, and the next step would allocate the buffers again.
//
// The zero FreeList is empty and ready to use.
type FreeList[T any] struct {
	mu         sync.Mutex
	n          int
	items      [freeListCap]*T
	lastUse    int64 // the trim count at the last Get
	registered bool
}

// idleTrim is how long a FreeList must go unused before a collection may empty it (a
// variable for tests).
var idleTrim atomic.Int64

func init() { idleTrim.Store(int64(time.Minute)) }

// Get returns an object put earlier, or nil.
func (f *FreeList[T]) Get() *T {
	f.mu.Lock()
	f.lastUse = trims.runs.Load()
	var x *T
	if f.n > 0 {
		f.n--
		x, f.items[f.n] = f.items[f.n], nil
	}
	f.mu.Unlock()
	return x
}

// Put keeps x for a later Get, or drops it when the list is full.
func (f *FreeList[T]) Put(x *T) {
	f.mu.Lock()
	if f.n < freeListCap {
		f.items[f.n] = x
		f.n++
	}
	register := !f.registered
	f.registered = true
	f.mu.Unlock()
	if register {
		registerTrim(f)
	}
}

// trim empties the list if it has been idle for idleTrim; now is the trim count.
func (f *FreeList[T]) trim(now int64, at time.Time) {
	f.mu.Lock()
	if idleSince(f.lastUse, now, at) >= time.Duration(idleTrim.Load()) {
		clear(f.items[:f.n])
		f.n = 0
	}
	f.mu.Unlock()
}

// Lists are trimmed after every garbage collection, which a cleanup attached to a sentinel
// object detects: the collection that frees the sentinel runs the cleanup, which trims and
// arms the next sentinel. A list records the number of trims so far when it is used; the
// times of recent trims bound how long ago that was.
var trims struct {
	sync.Mutex
	lists []interface{ trim(int64, time.Time) }
	armed bool
	runs  atomic.Int64
	times [64]time.Time // times[k%64]: when trim k ran
}

// idleSince is how long, at least, a list last used when the trim count was used has been
// idle at trim now (time at): it was last used before trim used+1 ran. The caller holds
// trims' lock.
func idleSince(used, now int64, at time.Time) time.Duration {
	next := used + 1
	if next > now {
		return 0
	}
	if now-next >= int64(len(trims.times)) {
		return at.Sub(trims.times[(now+1)%int64(len(trims.times))]) // older than the oldest kept
	}
	return at.Sub(trims.times[next%int64(len(trims.times))])
}

type sentinel struct{ _ *byte } // holds a pointer: no tiny-allocator block to outlive it

func registerTrim(l interface{ trim(int64, time.Time) }) {
	trims.Lock()
	defer trims.Unlock()
	trims.lists = append(trims.lists, l)
	if !trims.armed {
		trims.armed = true
		armTrim()
	}
}

func armTrim() { runtime.AddCleanup(new(sentinel), afterGC, 0) }

func afterGC(int) {
	trims.Lock()
	defer trims.Unlock()
	now := trims.runs.Load() + 1
	at := time.Now()
	trims.times[now%int64(len(trims.times))] = at
	for _, l := range trims.lists {
		l.trim(now, at)
	}
	// Armed before the count moves, so whoever waits for this trim and then collects finds
	// the next sentinel already there. (One allocated while a collection is marking survives
	// it, and only the collection after runs the next trim.)
	armTrim()
	trims.runs.Store(now)
}

// Scratch hands out slices bucketed by power-of-two capacity, so a steady training loop reuses
// the same scratch buffers (im2col patches, packed operands, partial sums) instead of
// allocating them every step, and a small request never pins a huge buffer.
type Scratch[T any] struct{ buckets [64]FreeList[[]T] }

// Get returns a slice of length n with unspecified contents; give it back with Put.
func (s *Scratch[T]) Get(n int) *[]T {
	n = max(n, 0)
	class := bits.Len(uint(max(n, 1) - 1))
	if p := s.buckets[class].Get(); p != nil {
		*p = (*p)[:n]
		return p
	}
	b := make([]T, n, 1<<class)
	return &b
}

// Put recycles a slice from Get.
func (s *Scratch[T]) Put(p *[]T) {
	if c := cap(*p); c != 0 && c&(c-1) == 0 {
		s.buckets[bits.Len(uint(c-1))].Put(p)
	}
}
