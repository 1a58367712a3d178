// Package monitor samples the CPU and memory of a process from /proc while a
// testbed scenario runs.
package monitor

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"
)

// clockTicks is USER_HZ, the unit of utime/stime in /proc/<pid>/stat (100 on
// every Linux platform Go supports).
const clockTicks = 100

// Sample is one observation.
type Sample struct {
	At       time.Time
	CPUTicks uint64 // utime+stime so far
	RSSBytes uint64
	// AnonRSSBytes is the anonymous part of RSS (heap, stacks): unlike
	// RSSBytes it leaves out the pages of the binary mapped from the page
	// cache, which differ between builds and copies of one binary by tens
	// of MiB.
	AnonRSSBytes uint64
}

// Stats summarise a sampling window.
type Stats struct {
	Samples    int
	Elapsed    time.Duration
	CPUSeconds float64
	// CPUPercent is CPU time over wall time ×100 (100 = one full core).
	CPUPercent    float64
	MaxCPUPercent float64 // highest between two consecutive samples
	AvgRSSBytes   uint64
	MaxRSSBytes   uint64
	// MaxAnonRSSBytes is the highest anonymous RSS (see Sample).
	MaxAnonRSSBytes uint64
}

// Sampler reads /proc/<pid>/stat and /proc/<pid>/status every Interval.
type Sampler struct {
	pid      int
	interval time.Duration

	mu      sync.Mutex
	samples []Sample
	err     error
	cancel  context.CancelFunc
	done    chan struct{}
}

// Start begins sampling pid every interval until Stop.
func Start(pid int, interval time.Duration) (*Sampler, error) {
	first, err := Read(pid)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Sampler{pid: pid, interval: interval, samples: []Sample{first}, cancel: cancel, done: make(chan struct{})}
	go s.loop(ctx)
	return s, nil
}

func (s *Sampler) loop(ctx context.Context) {
	defer close(s.done)
	tick := time.NewTicker(s.interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		smp, err := Read(s.pid)
		s.mu.Lock()
		if err != nil {
			s.err = err // the process ended: keep what we have
			s.mu.Unlock()
			return
		}
		s.samples = append(s.samples, smp)
		s.mu.Unlock()
	}
}

// Stop ends sampling (taking a last sample if the process is alive) and
// returns the summary. Safe to call twice.
func (s *Sampler) Stop() Stats {
	s.cancel()
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		if smp, err := Read(s.pid); err == nil {
			s.samples = append(s.samples, smp)
		}
		s.err = context.Canceled
	}
	return Summarize(s.samples)
}

// Samples returns a copy of the samples so far.
func (s *Sampler) Samples() []Sample {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Sample(nil), s.samples...)
}

// Summarize computes Stats from ordered samples.
func Summarize(samples []Sample) Stats {
	var st Stats
	st.Samples = len(samples)
	if len(samples) == 0 {
		return st
	}
	var rssSum uint64
	for i, smp := range samples {
		rssSum += smp.RSSBytes
		st.MaxRSSBytes = max(st.MaxRSSBytes, smp.RSSBytes)
		st.MaxAnonRSSBytes = max(st.MaxAnonRSSBytes, smp.AnonRSSBytes)
		if i > 0 {
			prev := samples[i-1]
			if wall := smp.At.Sub(prev.At).Seconds(); wall > 0 {
				pct := float64(smp.CPUTicks-prev.CPUTicks) / clockTicks / wall * 100
				st.MaxCPUPercent = max(st.MaxCPUPercent, pct)
			}
		}
	}
	st.AvgRSSBytes = rssSum / uint64(len(samples))
	first, last := samples[0], samples[len(samples)-1]
	st.Elapsed = last.At.Sub(first.At)
	st.CPUSeconds = float64(last.CPUTicks-first.CPUTicks) / clockTicks
	if st.Elapsed > 0 {
		st.CPUPercent = st.CPUSeconds / st.Elapsed.Seconds() * 100
	}
	return st
}

// Read takes one sample of pid.
func Read(pid int) (Sample, error) {
	now := time.Now()
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return Sample{}, fmt.Errorf("read stat of pid %d: %w", pid, err)
	}
	ticks, err := ParseStatCPU(stat)
	if err != nil {
		return Sample{}, fmt.Errorf("pid %d: %w", pid, err)
	}
	status, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return Sample{}, fmt.Errorf("read status of pid %d: %w", pid, err)
	}
	rss, err := ParseStatusRSS(status)
	if err != nil {
		return Sample{}, fmt.Errorf("pid %d: %w", pid, err)
	}
	anon, err := ParseStatusKB(status, "RssAnon")
	if err != nil {
		return Sample{}, fmt.Errorf("pid %d: %w", pid, err)
	}
	return Sample{At: now, CPUTicks: ticks, RSSBytes: rss, AnonRSSBytes: anon}, nil
}

// ParseStatCPU returns utime+stime (fields 14 and 15) of a /proc/<pid>/stat
// line. The command name may contain spaces and parentheses, so fields are
// counted after the last ')'.
func ParseStatCPU(stat []byte) (uint64, error) {
	end := bytes.LastIndexByte(stat, ')')
	if end < 0 {
		return 0, fmt.Errorf("malformed /proc stat: no ')'")
	}
	fields := bytes.Fields(stat[end+1:])
	// fields[0] is field 3 (state); utime is field 14 → index 11, stime index 12.
	if len(fields) < 13 {
		return 0, fmt.Errorf("malformed /proc stat: %d fields after the command", len(fields))
	}
	utime, err := strconv.ParseUint(string(fields[11]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parse utime: %w", err)
	}
	stime, err := strconv.ParseUint(string(fields[12]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parse stime: %w", err)
	}
	return utime + stime, nil
}

// ParseStatusRSS returns VmRSS in bytes from /proc/<pid>/status.
func ParseStatusRSS(status []byte) (uint64, error) {
	return ParseStatusKB(status, "VmRSS")
}

// ParseStatusKB returns the field name (e.g. "RssAnon") of /proc/<pid>/status,
// given there in kB, in bytes.
func ParseStatusKB(status []byte, name string) (uint64, error) {
	prefix := []byte(name + ":")
	for line := range bytes.Lines(status) {
		rest, ok := bytes.CutPrefix(line, prefix)
		if !ok {
			continue
		}
		fields := bytes.Fields(rest)
		if len(fields) != 2 || string(fields[1]) != "kB" {
			return 0, fmt.Errorf("malformed %s line %q", name, bytes.TrimSpace(line))
		}
		kb, err := strconv.ParseUint(string(fields[0]), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parse %s: %w", name, err)
		}
		return kb * 1024, nil
	}
	return 0, fmt.Errorf("no %s in /proc status (zombie process?)", name)
}
