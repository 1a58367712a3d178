//go:build !unix

package cputime // import "github.com/sluicelogs/sluice/internal/cputime"

import "time"

// Process is unavailable on this system; it returns 0 and callers skip
// CPU-based figures.
func Process() time.Duration { return 0 }
