//go:build race

package keras

// raceEnabled skips the allocation counts: under the race detector sync.Pool (which keras's
// inference passes and purego's library calls use) drops a random quarter of what is put
// into it, on purpose, and the detector's own bookkeeping changes what escapes.
const raceEnabled = true
