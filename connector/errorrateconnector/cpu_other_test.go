//go:build !unix

package errorrateconnector

import "time"

// processCPU is not measured on this platform; cpu-ns/record then reads 0.
func processCPU() time.Duration { return 0 }
