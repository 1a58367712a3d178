package agentbench

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"time"
)

// Percentiles summarise ingest latencies.
type Percentiles struct {
	Count              int
	P50, P95, P99, Max time.Duration
}

// LatencyPercentiles computes nearest-rank percentiles (the p95 is the
// smallest latency at least 95 % of records did not exceed).
func LatencyPercentiles(d []time.Duration) Percentiles {
	if len(d) == 0 {
		return Percentiles{}
	}
	s := slices.Clone(d)
	slices.Sort(s)
	rank := func(p float64) time.Duration {
		i := int(math.Ceil(p*float64(len(s)))) - 1
		return s[min(max(i, 0), len(s)-1)]
	}
	return Percentiles{Count: len(s), P50: rank(0.50), P95: rank(0.95), P99: rank(0.99), Max: s[len(s)-1]}
}

// Timeline is latency per second of writing (by the time a line was written).
type Timeline struct {
	// Seconds with at least one line.
	Seconds int
	// SlowSeconds had a p95 above TargetP95.
	SlowSeconds int
	// MedianP95 is the median of the per-second p95s: the steady state,
	// unmoved by a few stalled seconds.
	MedianP95 time.Duration
	// Worst is the second with the highest p95, At seconds after the first line.
	Worst   Percentiles
	WorstAt int
}

// summarizeLatencies returns the percentiles over all records and per second.
func summarizeLatencies(samples []LatencySample) (Percentiles, Timeline) {
	var tl Timeline
	if len(samples) == 0 {
		return Percentiles{}, tl
	}
	all := make([]time.Duration, len(samples))
	first := samples[0].WrittenUnixNano
	for i, s := range samples {
		all[i] = s.Latency
		first = min(first, s.WrittenUnixNano)
	}
	buckets := map[int][]time.Duration{}
	for _, s := range samples {
		sec := int((s.WrittenUnixNano - first) / int64(time.Second))
		buckets[sec] = append(buckets[sec], s.Latency)
	}
	p95s := make([]time.Duration, 0, len(buckets))
	for sec, d := range buckets {
		p := LatencyPercentiles(d)
		p95s = append(p95s, p.P95)
		if p.P95 > TargetP95 {
			tl.SlowSeconds++
		}
		if p.P95 > tl.Worst.P95 || (p.P95 == tl.Worst.P95 && sec < tl.WorstAt) {
			tl.Worst, tl.WorstAt = p, sec
		}
	}
	tl.Seconds = len(buckets)
	slices.Sort(p95s)
	tl.MedianP95 = p95s[(len(p95s)-1)/2]
	return LatencyPercentiles(all), tl
}

// cpuTimes are the machine-wide jiffies of /proc/stat's "cpu" line.
type cpuTimes struct{ busy, total uint64 }

func readCPUTimes() (cpuTimes, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return cpuTimes{}, fmt.Errorf("read /proc/stat: %w", err)
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := bytes.Fields(line)
	if len(f) < 5 || string(f[0]) != "cpu" {
		return cpuTimes{}, fmt.Errorf("malformed /proc/stat cpu line %q", line)
	}
	var t cpuTimes
	for i, v := range f[1:] {
		n, err := strconv.ParseUint(string(v), 10, 64)
		if err != nil {
			return cpuTimes{}, fmt.Errorf("parse /proc/stat field %d: %w", i+1, err)
		}
		t.total += n
		if i != 3 && i != 4 { // idle and iowait
			t.busy += n
		}
	}
	// guest and guest_nice (fields 9, 10) are already counted in user and nice.
	if len(f) > 10 {
		g1, _ := strconv.ParseUint(string(f[9]), 10, 64)
		g2, _ := strconv.ParseUint(string(f[10]), 10, 64)
		t.total -= g1 + g2
		t.busy -= g1 + g2
	}
	return t, nil
}

// busyShareSince is the busy share of all CPUs between two readings.
func (t cpuTimes) busyShareSince(before cpuTimes) float64 {
	if t.total <= before.total {
		return -1
	}
	return float64(t.busy-before.busy) / float64(t.total-before.total)
}
