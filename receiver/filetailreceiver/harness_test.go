package filetailreceiver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/sluicelogs/sluice/receiver/filetailreceiver/internal/checkpoint"
	"github.com/sluicelogs/sluice/receiver/filetailreceiver/internal/metadata"
	"github.com/sluicelogs/sluice/receiver/filetailreceiver/internal/metadatatest"
)

// fakeClock is a manually advanced clock.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

// recordingSink keeps every delivered record and can refuse batches.
type recordingSink struct {
	mu      sync.Mutex
	records []plog.LogRecord
	logs    []plog.Logs
	// refuse, when set, decides the outcome of each ConsumeLogs call before
	// the batch is recorded; accepted batches are recorded.
	refuse  func(plog.Logs) error
	mutates bool
}

func (s *recordingSink) Capabilities() consumer.Capabilities {
	return consumer.Capabilities{MutatesData: s.mutates}
}

func (s *recordingSink) ConsumeLogs(_ context.Context, ld plog.Logs) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refuse != nil {
		if err := s.refuse(ld); err != nil {
			return err
		}
	}
	s.logs = append(s.logs, ld)
	for i := 0; i < ld.ResourceLogs().Len(); i++ {
		sls := ld.ResourceLogs().At(i).ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			lrs := sls.At(j).LogRecords()
			for k := 0; k < lrs.Len(); k++ {
				s.records = append(s.records, lrs.At(k))
			}
		}
	}
	return nil
}

func (s *recordingSink) bodies() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, len(s.records))
	for i, r := range s.records {
		out[i] = r.Body().AsString()
	}
	return out
}

func (s *recordingSink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.records)
}

// harness drives a tailer pass by pass with a fake clock.
type harness struct {
	t      *testing.T
	cfg    *Config
	sink   *recordingSink
	clock  *fakeClock
	tel    *componenttest.Telemetry
	store  checkpoint.Store
	tailer *tailer
	sleeps []time.Duration
}

// testConfig tails dir/*.log from the beginning with small, fast settings.
func testConfig(dir string) *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.Include = []string{filepath.Join(dir, "*.log")}
	cfg.StartAt = StartAtBeginning
	cfg.RotationWait = time.Second
	cfg.CloseInactive = time.Minute
	return cfg
}

func newHarness(t *testing.T, cfg *Config, sink *recordingSink, store checkpoint.Store) *harness {
	t.Helper()
	require.NoError(t, cfg.Validate())
	h := &harness{t: t, cfg: cfg, sink: sink, clock: &fakeClock{t: time.Unix(1_700_000_000, 0)}, store: store}
	h.start()
	return h
}

// start builds a fresh tailer on the same store (a restart).
func (h *harness) start() {
	h.t.Helper()
	h.tel = componenttest.NewTelemetry()
	h.t.Cleanup(func() { _ = h.tel.Shutdown(context.Background()) })
	tb, err := metadata.NewTelemetryBuilder(metadatatest.NewSettings(h.tel).TelemetrySettings)
	require.NoError(h.t, err)
	h.t.Cleanup(tb.Shutdown)
	tl, err := newTailer(h.cfg, metadatatest.NewSettings(h.tel).Logger, h.sink, tb, h.store)
	require.NoError(h.t, err)
	tl.now = h.clock.now
	tl.sleep = func(ctx context.Context, d time.Duration) error {
		h.sleeps = append(h.sleeps, d)
		return ctx.Err()
	}
	require.NoError(h.t, tl.load(context.Background()))
	require.NoError(h.t, tb.RegisterFileTailReadLagCallback(tl.observeReadLag))
	require.NoError(h.t, tb.RegisterFileTailCommitLagCallback(tl.observeCommitLag))
	h.tailer = tl
}

// pass runs one pass after advancing the clock past the scan interval.
func (h *harness) pass() {
	h.t.Helper()
	h.clock.advance(h.cfg.ScanInterval)
	require.NoError(h.t, h.tailer.pass(context.Background()))
}

// crash abandons the tailer without saving anything more (kill -9): only
// what was already saved in the store survives. The caller has made the
// store dead at the moment of the crash.
func (h *harness) crash() {
	for _, f := range h.tailer.files {
		_ = f.f.Close()
	}
	h.tailer = nil
	if cs, ok := h.store.(*crashableStore); ok {
		cs.dead = false // the restarted process persists again
	}
}

func (h *harness) stop() {
	h.t.Helper()
	require.NoError(h.t, h.tailer.close(context.Background()))
}

// saved returns the store's offset for path (-1 when absent).
func (h *harness) saved(path string) int64 {
	h.t.Helper()
	entries, err := h.store.Load(context.Background())
	require.NoError(h.t, err)
	for _, e := range entries {
		if e.Path == path {
			return e.Offset
		}
	}
	return -1
}

// metric sums the data points of an int64 sum or gauge self-metric.
func (h *harness) metric(name string) int64 {
	h.t.Helper()
	m, err := h.tel.GetMetric(name)
	if err != nil {
		return 0
	}
	var total int64
	switch d := m.Data.(type) {
	case metricdata.Sum[int64]:
		for _, dp := range d.DataPoints {
			total += dp.Value
		}
	case metricdata.Gauge[int64]:
		for _, dp := range d.DataPoints {
			total += dp.Value
		}
	default:
		h.t.Fatalf("metric %s has unexpected type %T", name, m.Data)
	}
	return total
}

// crashableStore is a checkpoint file store that stops persisting once the
// simulated process has died.
type crashableStore struct {
	checkpoint.Store
	dead bool
}

func (s *crashableStore) Save(ctx context.Context, entries []checkpoint.Entry) error {
	if s.dead {
		return nil // the process is gone; nothing reaches the disk
	}
	return s.Store.Save(ctx, entries)
}

func fileStore(t *testing.T) *crashableStore {
	t.Helper()
	s, err := checkpoint.NewFile(t.TempDir(), "file_tail")
	require.NoError(t, err)
	return &crashableStore{Store: s}
}

// appendLines writes lines "<prefix>-<n>" for n in [from, to).
func appendLines(t *testing.T, path, prefix string, from, to int) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	require.NoError(t, err)
	defer f.Close()
	var sb strings.Builder
	for i := from; i < to; i++ {
		fmt.Fprintf(&sb, "%s-%06d\n", prefix, i)
	}
	_, err = f.WriteString(sb.String())
	require.NoError(t, err)
}

func appendRaw(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	require.NoError(t, err)
	defer f.Close()
	_, err = f.WriteString(s)
	require.NoError(t, err)
}

// expectLines checks every "<prefix>-<n>" for n in [0, n) was delivered at
// least once and returns how many were delivered more than once.
func expectLines(t *testing.T, bodies []string, prefix string, n int) (duplicates int) {
	t.Helper()
	return expectLinesFrom(t, bodies, prefix, 0, n)
}

// expectLinesFrom is expectLines for the range [from, to).
func expectLinesFrom(t *testing.T, bodies []string, prefix string, from, to int) (duplicates int) {
	t.Helper()
	seen := make(map[string]int, len(bodies))
	for _, b := range bodies {
		seen[b]++
	}
	var missing []string
	for i := from; i < to; i++ {
		key := fmt.Sprintf("%s-%06d", prefix, i)
		switch c := seen[key]; {
		case c == 0:
			missing = append(missing, key)
		case c > 1:
			duplicates += c - 1
		}
	}
	require.Empty(t, missing, "lines lost")
	return duplicates
}

func pad6(i int) string { return fmt.Sprintf("%06d", i) }

// zapWrap replaces a logger's core (to observe warnings).
func zapWrap(core zapcore.Core) zap.Option {
	return zap.WrapCore(func(zapcore.Core) zapcore.Core { return core })
}

var errRefused = errors.New("downstream unavailable")
