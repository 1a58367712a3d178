package agentbench

import (
	"fmt"
	"io"
	"runtime"
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
	fmt.Fprintln(w, "| agent | lines written | written/s | sustained/s | CPU % (of one core) | CPU µs/line | RSS avg MiB | RSS max MiB | p50 ms | p95 ms | p99 ms | max ms | median 1-s p95 ms | seconds p95 > 25 ms | drain ms | machine busy % | lost | dup | PII left | verdict |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
	for _, r := range results {
		fmt.Fprintf(w, "| %s | %d | %.0f | %.0f | %.1f | %.2f | %.1f | %.1f | %s | %s | %s | %s | %s | %d of %d | %s | %s | %d | %d | %d | %s |\n",
			r.Target, r.Written, r.WrittenPerSecond(), r.SustainedPerSecond(), r.Resources.CPUPercent, r.CPUMicrosPerLine(),
			monitor.MiB(r.Resources.AvgRSSBytes), monitor.MiB(r.Resources.MaxRSSBytes),
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
