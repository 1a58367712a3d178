package filetailreceiver

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/sluicelogs/sluice/internal/cputime"
)

// latencySink records, for each record, the time from its write to its
// delivery (the write time is looked up by the sequence number in the body).
type latencySink struct {
	written   []atomic.Int64
	mu        sync.Mutex
	latencies []time.Duration
	n         atomic.Int64
}

func (*latencySink) Capabilities() consumer.Capabilities { return consumer.Capabilities{} }

func (s *latencySink) ConsumeLogs(_ context.Context, ld plog.Logs) error {
	now := time.Now().UnixNano()
	s.mu.Lock()
	defer s.mu.Unlock()
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		lrs := rls.At(i).ScopeLogs().At(0).LogRecords()
		for j := 0; j < lrs.Len(); j++ {
			body := lrs.At(j).Body().Str()
			if k := strings.LastIndexByte(body, ' '); k > 0 {
				if seq, err := strconv.Atoi(body[k+1:]); err == nil && seq < len(s.written) {
					s.latencies = append(s.latencies, time.Duration(now-s.written[seq].Load()))
				}
			}
			s.n.Add(1)
		}
	}
	return nil
}

// BenchmarkSteady10kJSONLinesPerSecond runs the receiver as deployed (own
// goroutine, default poll_interval, checkpoints fsynced to disk after every
// accepted batch) against a writer appending ~200-byte JSON lines at
// 10,000 lines/s for 5 s. It reports the CPU used by the process as a share
// of one core (writer included), the p95/p99 write-to-delivery latency, and
// the heap and RSS at the end. Run with -benchtime=1x.
func BenchmarkSteady10kJSONLinesPerSecond(b *testing.B) {
	b.Run("commit_every_batch", func(b *testing.B) { steady(b, 0, true) })
	b.Run("commit_interval_200ms", func(b *testing.B) { steady(b, 200*time.Millisecond, true) })
	b.Run("commit_interval_1s", func(b *testing.B) { steady(b, time.Second, true) })
	// The writer alone: subtract its %cpu-of-core from the runs above to get
	// the receiver's share.
	b.Run("writer_only", func(b *testing.B) { steady(b, 0, false) })
}

func steady(b *testing.B, commitInterval time.Duration, withReceiver bool) {
	const (
		rate     = 10_000
		duration = 5 * time.Second
		perTick  = 10 // lines per millisecond tick
	)
	total := int(rate * duration / time.Second)
	for i := 0; i < b.N; i++ {
		dir := b.TempDir()
		path := filepath.Join(dir, "app.log")
		require.NoError(b, os.WriteFile(path, nil, 0o600))
		cfg := createDefaultConfig().(*Config)
		cfg.Include = []string{filepath.Join(dir, "*.log")}
		cfg.CheckpointDir = filepath.Join(dir, "state")
		cfg.CommitInterval = commitInterval
		sink := &latencySink{written: make([]atomic.Int64, total)}
		r, err := NewFactory().CreateLogs(context.Background(), stableSettings(), cfg, sink)
		require.NoError(b, err)
		if withReceiver {
			require.NoError(b, r.Start(context.Background(), componenttest.NewNopHost()))
			time.Sleep(50 * time.Millisecond) // let the first scan open the file
		} else {
			sink.n.Store(int64(total))
		}

		w, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0o600)
		require.NoError(b, err)
		start, cpuStart := time.Now(), cputime.Process()
		var buf bytes.Buffer
		ticker := time.NewTicker(time.Millisecond)
		for seq := 0; seq < total; {
			<-ticker.C
			// catch up to the schedule so the rate holds despite tick jitter
			due := min(total, int(time.Since(start)*rate/time.Second)+perTick)
			buf.Reset()
			for ; seq < due; seq++ {
				fmt.Fprintf(&buf, `{"@timestamp":"2024-05-01T12:00:00.000Z","level":"info","service":"checkout","http.method":"GET","http.status":200,"duration_ms":%d,"user":"u%05d","message":"request handled %d"}`+"\n", seq%997, seq%50000, seq)
				sink.written[seq].Store(time.Now().UnixNano())
			}
			_, err := w.Write(buf.Bytes())
			require.NoError(b, err)
		}
		ticker.Stop()
		for sink.n.Load() < int64(total) && time.Since(start) < duration+10*time.Second {
			time.Sleep(5 * time.Millisecond)
		}
		elapsed, cpu := time.Since(start), cputime.Process()-cpuStart
		require.NoError(b, w.Close())
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		rss := readRSS()
		require.NoError(b, r.Shutdown(context.Background()))
		require.EqualValues(b, total, sink.n.Load())
		b.ReportMetric(100*cpu.Seconds()/elapsed.Seconds(), "%cpu-of-core")
		b.ReportMetric(rss, "rss-MiB")
		if !withReceiver {
			continue
		}

		slices.Sort(sink.latencies)
		p := func(q float64) float64 {
			return float64(sink.latencies[int(q*float64(len(sink.latencies)-1))]) / float64(time.Millisecond)
		}
		b.ReportMetric(p(0.50), "p50-ms")
		b.ReportMetric(p(0.95), "p95-ms")
		b.ReportMetric(p(0.99), "p99-ms")
		b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MiB")
	}
}

// readRSS returns the process's resident set in MiB (Linux), 0 elsewhere.
func readRSS() float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			if err == nil {
				return float64(kb) / 1024
			}
		}
	}
	return 0
}
