package monitor

import (
	"os"
	"strings"
)

// MiB converts bytes to mebibytes for reports.
func MiB(b uint64) float64 { return float64(b) / (1 << 20) }

// LoadAverage returns the 1, 5 and 15 minute load averages, or "unknown".
func LoadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
