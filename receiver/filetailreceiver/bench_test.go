package filetailreceiver

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/sluicelogs/sluice/internal/cputime"
	"github.com/sluicelogs/sluice/receiver/filetailreceiver/internal/checkpoint"
	"github.com/sluicelogs/sluice/receiver/filetailreceiver/internal/metadata"
	"github.com/sluicelogs/sluice/receiver/filetailreceiver/internal/metadatatest"
)

const benchLines = 50_000

// countingSink counts records without keeping them.
type countingSink struct{ n atomic.Int64 }

func (*countingSink) Capabilities() consumer.Capabilities { return consumer.Capabilities{} }
func (s *countingSink) ConsumeLogs(_ context.Context, ld plog.Logs) error {
	s.n.Add(int64(ld.LogRecordCount()))
	return nil
}

// writeBenchFile writes benchLines lines of about 200 bytes in the given style.
func writeBenchFile(b *testing.B, dir, style string) (string, int64) {
	b.Helper()
	path := filepath.Join(dir, style+".log")
	var sb strings.Builder
	for i := 0; i < benchLines; i++ {
		switch style {
		case "json":
			fmt.Fprintf(&sb, `{"@timestamp":"2024-05-01T12:00:%02d.%06dZ","level":"info","message":"request handled","service":"checkout","http.method":"GET","http.status":200,"duration_ms":%d,"user":"u%05d","path":"/api/v1/cart"}`+"\n", i%60, i, i%997, i%50000)
		case "text":
			fmt.Fprintf(&sb, "2024-05-01 12:00:%02d.%06d INFO [http-nio-8080-exec-%d] c.e.checkout.CartController - request handled path=/api/v1/cart status=200 duration=%dms user=u%05d\n", i%60, i, i%16, i%997, i%50000)
		case "cri":
			fmt.Fprintf(&sb, `2024-05-01T12:00:%02d.%09dZ stdout F {"level":"info","msg":"request handled","service":"checkout","status":200,"duration_ms":%d,"user":"u%05d","path":"/api/v1/cart"}`+"\n", i%60, i, i%997, i%50000)
		}
	}
	require.NoError(b, os.WriteFile(path, []byte(sb.String()), 0o600))
	return path, int64(sb.Len())
}

// benchTailer reads a whole file per iteration with a fresh tailer, as at
// start-up with a backlog: this measures the peak rate on one goroutine.
func benchTailer(b *testing.B, style, format string, persist bool) {
	dir := b.TempDir()
	_, size := writeBenchFile(b, dir, style)
	cfg := createDefaultConfig().(*Config)
	cfg.Include = []string{filepath.Join(dir, "*.log")}
	cfg.StartAt = StartAtBeginning
	cfg.Format = format
	tel := componenttest.NewTelemetry()
	defer func() { _ = tel.Shutdown(context.Background()) }()
	set := metadatatest.NewSettings(tel)
	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	start, cpuStart := time.Now(), cputime.Process()
	for i := 0; i < b.N; i++ {
		var store checkpoint.Store = &checkpoint.Memory{}
		if persist {
			fs, err := checkpoint.NewFile(b.TempDir(), "bench")
			require.NoError(b, err)
			store = fs
		}
		tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
		require.NoError(b, err)
		sink := &countingSink{}
		tl, err := newTailer(cfg, set.Logger, sink, tb, store)
		require.NoError(b, err)
		for sink.n.Load() < benchLines {
			require.NoError(b, tl.pass(context.Background()))
		}
		require.NoError(b, tl.close(context.Background()))
		tb.Shutdown()
	}
	reportRates(b, start, cpuStart)
}

// reportRates adds lines/s (wall), cpu-ns/line and lines/cpu-s (CPU of the
// whole process, GC included: the rate one core sustains).
func reportRates(b *testing.B, start time.Time, cpuStart time.Duration) {
	elapsed, cpu := time.Since(start), cputime.Process()-cpuStart
	lines := float64(benchLines * b.N)
	b.ReportMetric(lines/elapsed.Seconds(), "lines/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/lines, "cpu-ns/line")
	b.ReportMetric(lines/cpu.Seconds(), "lines/cpu-s")
}

// BenchmarkTail* measure file_tail's peak rate: lines/s, MB/s and ns (CPU,
// one goroutine) per ~200-byte line, with at-least-once checkpoints written
// atomically after every acknowledged batch where marked Checkpointed.
func BenchmarkTailJSONParsedCheckpointed(b *testing.B) { benchTailer(b, "json", FormatAuto, true) }
func BenchmarkTailJSONParsed(b *testing.B)             { benchTailer(b, "json", FormatAuto, false) }
func BenchmarkTailUnparsed(b *testing.B)               { benchTailer(b, "json", FormatNone, false) }
func BenchmarkTailTextSeverity(b *testing.B)           { benchTailer(b, "text", FormatAuto, false) }
func BenchmarkTailCRIWithJSON(b *testing.B)            { benchTailer(b, "cri", FormatAuto, true) }
