package agentbench

import (
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/sluicelogs/sluice/testbed/monitor"
)

// Targets of issue 12 the table is read against.
const (
	TargetCPUPercent = 10.0
	TargetP95        = 25 * time.Millisecond
)

// Markdown renders the results as one table, a row per target, followed by
// each target's settings, accounting and errors.
func Markdown(w io.Writer, cfg Config, results []Result, when time.Time) {
	fmt.Fprintf(w, "# Agent: tail → parse → mask → forward, %.0f lines/s for %s\n\n", cfg.Rate, cfg.Duration)
	fmt.Fprintf(w, "Run ending %s on %d CPU(s) (load average then: %s); targets one after the other. JSON app-log lines (~480 B, e-mail and IPv4 in every line, a card number in every fourth) "+
		"appended to one file; the agent forwards over OTLP/gRPC to an in-process sink in the benchmark process. "+
		"Latency = arrival at the sink − the time written into the line just before the write. "+
		"CPU = agent process CPU time / wall time of the write phase (100 %% = one core); machine busy = all processes' share of all CPUs meanwhile. "+
		"Median 1-s p95: the p95 of each second of writing, median over the run (the steady state); seconds p95 > 25 ms counts stalled seconds. Targets: CPU ≤ %.0f %%, p95 ≤ %s.\n\n",
		when.UTC().Format(time.RFC3339), runtime.NumCPU(), monitor.LoadAverage(), TargetCPUPercent, TargetP95)
	fmt.Fprintln(w, "| agent | lines written | written/s | sustained/s | CPU % (of one core) | CPU µs/line | RSS avg MiB | RSS max MiB | anon RSS max MiB | p50 ms | p95 ms | p99 ms | max ms | median 1-s p95 ms | seconds p95 > 25 ms | drain ms | machine busy % | lost | dup | PII left | verdict |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
	for _, r := range results {
		fmt.Fprintf(w, "| %s | %d | %.0f | %.0f | %.1f | %.2f | %.1f | %.1f | %.1f | %s | %s | %s | %s | %s | %d of %d | %s | %s | %d | %d | %d | %s |\n",
			r.Target, r.Written, r.WrittenPerSecond(), r.SustainedPerSecond(), r.Resources.CPUPercent, r.CPUMicrosPerLine(),
			monitor.MiB(r.Resources.AvgRSSBytes), monitor.MiB(r.Resources.MaxRSSBytes), monitor.MiB(r.Resources.MaxAnonRSSBytes),
			ms(r.Latency.P50), ms(r.Latency.P95), ms(r.Latency.P99), ms(r.Latency.Max),
			ms(r.Timeline.MedianP95), r.Timeline.SlowSeconds, r.Timeline.Seconds, ms(r.Drain), percent(r.MachineBusy),
			r.Accounting.Lost, r.Accounting.Duplicates, r.Leaked, verdict(r))
	}
	fmt.Fprintln(w)
	for _, r := range results {
		settings := "config as shipped"
		if r.Peer {
			settings = "contrib file_log (json_parser) → memory_limiter → redaction → batch → otlp_grpc, in-memory sending queue (the peer has no file_storage)"
		}
		if len(r.Settings) > 0 {
			settings += " with --set " + strings.Join(r.Settings, " --set ")
		}
		if len(r.Env) > 0 {
			settings += ", environment " + strings.Join(r.Env, " ")
		}
		fmt.Fprintf(w, "- %s: %s; %s; load average at its start %s\n", r.Target, settings, r.Accounting, r.LoadBefore)
		if r.Timeline.Seconds > 0 {
			fmt.Fprintf(w, "  - worst second: %d s after the first line, p95 %s ms, max %s ms (%d lines)\n",
				r.Timeline.WorstAt, ms(r.Timeline.Worst.P95), ms(r.Timeline.Worst.Max), r.Timeline.Worst.Count)
		}
		if r.FirstLeak != "" {
			fmt.Fprintf(w, "  - PII left, e.g. %s\n", r.FirstLeak)
		}
		if r.Err != nil {
			fmt.Fprintf(w, "  - error: %s\n", strings.ReplaceAll(r.Err.Error(), "\n", " "))
		}
	}
}

// MarkdownMedians summarizes repeated runs: per target, in the order the
// targets first ran, the median and range of CPU % and the median p95 and
// RSS max of its successful runs. On a machine whose speed drifts, only
// targets run alternately, round after round, compare.
func MarkdownMedians(w io.Writer, results []Result) {
	var order []string
	byTarget := map[string][]Result{}
	for _, r := range results {
		if _, ok := byTarget[r.Target]; !ok {
			order = append(order, r.Target)
		}
		if r.Err == nil {
			byTarget[r.Target] = append(byTarget[r.Target], r)
		} else if byTarget[r.Target] == nil {
			byTarget[r.Target] = []Result{}
		}
	}
	fmt.Fprintln(w, "| agent | runs | CPU % median (range) | p95 ms median | RSS max MiB median | anon RSS max MiB median |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|")
	for _, name := range order {
		rs := byTarget[name]
		if len(rs) == 0 {
			fmt.Fprintf(w, "| %s | 0 | — | — | — | — |\n", name)
			continue
		}
		cpu := sortedBy(rs, func(r Result) float64 { return r.Resources.CPUPercent })
		p95 := sortedBy(rs, func(r Result) float64 { return float64(r.Latency.P95) })
		rss := sortedBy(rs, func(r Result) float64 { return float64(r.Resources.MaxRSSBytes) })
		anon := sortedBy(rs, func(r Result) float64 { return float64(r.Resources.MaxAnonRSSBytes) })
		fmt.Fprintf(w, "| %s | %d | %.1f (%.1f–%.1f) | %s | %.1f | %.1f |\n", name, len(rs), median(cpu), cpu[0], cpu[len(cpu)-1],
			ms(time.Duration(median(p95))), monitor.MiB(uint64(median(rss))), monitor.MiB(uint64(median(anon))))
	}
}

func sortedBy(rs []Result, f func(Result) float64) []float64 {
	v := make([]float64, len(rs))
	for i, r := range rs {
		v[i] = f(r)
	}
	slices.Sort(v)
	return v
}

// median of sorted values.
func median(v []float64) float64 {
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

// verdict says whether the run was correct and which targets it met.
func verdict(r Result) string {
	if r.Err != nil {
		return "FAILED"
	}
	var misses []string
	if r.Resources.CPUPercent > TargetCPUPercent {
		misses = append(misses, "CPU")
	}
	if r.Latency.P95 > TargetP95 {
		misses = append(misses, "p95")
	}
	if len(misses) == 0 {
		return "ok, meets targets"
	}
	return "ok, misses " + strings.Join(misses, "+")
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d)/float64(time.Millisecond)) }

func percent(share float64) string {
	if share < 0 {
		return "?"
	}
	return fmt.Sprintf("%.0f", share*100)
}
