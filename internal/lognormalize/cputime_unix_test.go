//go:build unix

package lognormalize

import (
	"syscall"
	"time"
)

// processCPUTime is the CPU time (user+system, all threads) used so far; the
// benchmarks report CPU per document because wall time on a shared box is noise.
func processCPUTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
