//go:build !race

package alloctest

// Race reports the race detector, under which allocation counts mean nothing: sync.Pool (which
// purego uses for every library call) drops a random quarter of what is put into it, on
// purpose, and the detector's own bookkeeping changes what escapes.
const Race = false
