package peerbench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/receiver/filelogreceiver"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.uber.org/goleak"

	"github.com/sluicelogs/sluice/internal/cputime"
	"github.com/sluicelogs/sluice/receiver/filetailreceiver"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const lines = 100_000

type countingSink struct{ n atomic.Int64 }

func (*countingSink) Capabilities() consumer.Capabilities { return consumer.Capabilities{} }
func (s *countingSink) ConsumeLogs(_ context.Context, ld plog.Logs) error {
	s.n.Add(int64(ld.LogRecordCount()))
	return nil
}

// writeJSONFile writes lines of ~200-byte JSON log documents.
func writeJSONFile(b *testing.B) (string, int64) {
	b.Helper()
	path := filepath.Join(b.TempDir(), "app.log")
	var sb strings.Builder
	for i := 0; i < lines; i++ {
		fmt.Fprintf(&sb, `{"@timestamp":"2024-05-01T12:00:%02d.%06dZ","level":"info","message":"request handled","service":"checkout","http.method":"GET","http.status":200,"duration_ms":%d,"user":"u%05d","path":"/api/v1/cart"}`+"\n", i%60, i, i%997, i%50000)
	}
	require.NoError(b, os.WriteFile(path, []byte(sb.String()), 0o600))
	return path, int64(sb.Len())
}

// run starts a receiver on the file until every line reached the sink, b.N
// times, and reports wall and CPU rates.
func run(b *testing.B, factory receiver.Factory, conf map[string]any) {
	path, size := writeJSONFile(b)
	conf["include"] = []string{path}
	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	start, cpuStart := time.Now(), cputime.Process()
	for i := 0; i < b.N; i++ {
		if _, ok := conf["checkpoint_dir"]; ok {
			conf["checkpoint_dir"] = b.TempDir() // each run starts without checkpoints
		}
		cfg := factory.CreateDefaultConfig()
		require.NoError(b, confmap.NewFromStringMap(conf).Unmarshal(cfg))
		sink := &countingSink{}
		set := receivertest.NewNopSettings(factory.Type())
		set.ID = component.NewID(factory.Type())
		r, err := factory.CreateLogs(context.Background(), set, cfg, sink)
		require.NoError(b, err)
		require.NoError(b, r.Start(context.Background(), componenttest.NewNopHost()))
		deadline := time.Now().Add(2 * time.Minute)
		for sink.n.Load() < lines {
			require.True(b, time.Now().Before(deadline), "only %d of %d lines delivered", sink.n.Load(), lines)
			time.Sleep(time.Millisecond)
		}
		require.NoError(b, r.Shutdown(context.Background()))
	}
	elapsed, cpu := time.Since(start), cputime.Process()-cpuStart
	n := float64(lines * b.N)
	b.ReportMetric(n/elapsed.Seconds(), "lines/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/n, "cpu-ns/line")
	b.ReportMetric(n/cpu.Seconds(), "lines/cpu-s")
}

// Side by side on the same 100k-line file of ~200-byte JSON lines, read from
// the beginning. file_tail parses JSON and checkpoints (atomically, after
// every accepted batch); file_log parses with json_parser and saves offsets
// without a delivery guarantee.
func BenchmarkFileTailJSONCheckpointed(b *testing.B) {
	run(b, filetailreceiver.NewFactory(), map[string]any{
		"start_at": "beginning", "format": "json", "checkpoint_dir": "",
	})
}

func BenchmarkFileTailUnparsed(b *testing.B) {
	run(b, filetailreceiver.NewFactory(), map[string]any{"start_at": "beginning", "format": "none"})
}

func BenchmarkFileLogJSONParsed(b *testing.B) {
	run(b, filelogreceiver.NewFactory(), map[string]any{
		"start_at": "beginning", "operators": []any{map[string]any{"type": "json_parser"}},
	})
}

func BenchmarkFileLogUnparsed(b *testing.B) {
	run(b, filelogreceiver.NewFactory(), map[string]any{"start_at": "beginning"})
}
