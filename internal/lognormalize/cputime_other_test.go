//go:build !unix

package lognormalize

import "time"

// processCPUTime is unavailable here; CPU metrics then read 0.
func processCPUTime() time.Duration { return 0 }
