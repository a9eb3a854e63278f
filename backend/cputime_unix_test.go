//go:build unix

package backend

import (
	"syscall"
	"time"
)

// processCPU is the CPU time this process has used. The benchmarks report work per CPU-second
// besides per wall-second because the shared build machine makes wall time swing widely.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
