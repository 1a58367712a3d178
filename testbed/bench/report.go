package bench

import (
	"fmt"
	"io"
	"runtime"
	"strings"
	"time"

	"github.com/sluicelogs/sluice/testbed/monitor"
)

// Markdown renders a scenario's results as a side-by-side table; the last
// row is the ratio of the first target to the second.
func Markdown(w io.Writer, sc Scenario, results []Result, when time.Time) {
	fmt.Fprintf(w, "# Scenario `%s`\n\n%s.\n\n", sc.Name, sc.Description)
	fmt.Fprintf(w, "Run %s on %d CPU(s), load average before the run: %s. Targets run one after the other with the same config and load; the load generator runs on the same machine.\n\n",
		when.UTC().Format(time.RFC3339), runtime.NumCPU(), monitor.LoadAverage())
	fmt.Fprintln(w, "| collector | records acked | records/s | CPU % (of one core) | CPU µs/record | RSS avg MiB | RSS max MiB | accounting |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---|")
	for _, r := range results {
		fmt.Fprintf(w, "| %s | %d | %.0f | %.1f | %.2f | %.1f | %.1f | %s |\n", r.Target, r.Acked, r.Throughput(),
			r.Resources.CPUPercent, r.CPUMicrosPerRecord(), monitor.MiB(r.Resources.AvgRSSBytes), monitor.MiB(r.Resources.MaxRSSBytes), verdict(r))
	}
	if len(results) >= 2 && results[1].Throughput() > 0 && results[1].CPUMicrosPerRecord() > 0 && results[1].Resources.MaxRSSBytes > 0 {
		a, b := results[0], results[1]
		fmt.Fprintf(w, "| **%s / %s** | | %.2f× | %.2f× | %.2f× | %.2f× | %.2f× | |\n", a.Target, b.Target,
			a.Throughput()/b.Throughput(), a.Resources.CPUPercent/b.Resources.CPUPercent,
			a.CPUMicrosPerRecord()/b.CPUMicrosPerRecord(),
			float64(a.Resources.AvgRSSBytes)/float64(b.Resources.AvgRSSBytes),
			float64(a.Resources.MaxRSSBytes)/float64(b.Resources.MaxRSSBytes))
	}
	fmt.Fprintln(w)
	for _, r := range results {
		fmt.Fprintf(w, "- %s logs: %s\n", r.Target, r.Logs)
		if r.Spans != nil {
			fmt.Fprintf(w, "- %s spans: %s\n", r.Target, *r.Spans)
		}
		if r.Err != nil {
			fmt.Fprintf(w, "- %s error: %s\n", r.Target, strings.ReplaceAll(r.Err.Error(), "\n", " "))
		}
	}
}

func verdict(r Result) string {
	if r.Err != nil {
		return "FAILED"
	}
	return "ok: 0 lost, 0 duplicated"
}
