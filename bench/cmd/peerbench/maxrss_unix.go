//go:build unix

package main

import (
	"os"
	"runtime"
	"syscall"
)

// childPeakRSS is a finished child's peak resident size in bytes (ru_maxrss), the figure the
// report gives per framework. Linux reports it in KiB and macOS in bytes.
func childPeakRSS(ps *os.ProcessState) int64 {
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok || ru == nil {
		return 0
	}
	if runtime.GOOS == "darwin" {
		return int64(ru.Maxrss)
	}
	return int64(ru.Maxrss) << 10
}
