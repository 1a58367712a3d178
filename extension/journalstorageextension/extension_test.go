package journalstorageextension

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/extension/extensiontest"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/sluicelogs/sluice/extension/journalstorageextension/internal/metadatatest"
)

func newTestExtension(t *testing.T, cfg *Config) (*journalStorage, *componenttest.Telemetry) {
	t.Helper()
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	set := extensiontest.NewNopSettings(NewFactory().Type())
	set.TelemetrySettings = tel.NewTelemetrySettings()
	ext, err := NewFactory().Create(context.Background(), set, cfg)
	require.NoError(t, err)
	require.NoError(t, ext.Start(context.Background(), componenttest.NewNopHost()))
	return ext.(*journalStorage), tel
}

func testConfig(dir string) *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.Directory = dir
	return cfg
}

var (
	exporterID = component.MustNewIDWithName("otlp_forward", "logs")
	receiverID = component.MustNewID("file_tail")
)

func TestClientsAreSeparateAndPersist(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	ext, _ := newTestExtension(t, testConfig(dir))
	queue, err := ext.GetClient(ctx, component.KindExporter, exporterID, "logs")
	require.NoError(t, err)
	offsets, err := ext.GetClient(ctx, component.KindReceiver, receiverID, "")
	require.NoError(t, err)
	require.NoError(t, queue.Set(ctx, "k", []byte("queue")))
	require.NoError(t, offsets.Set(ctx, "k", []byte("offsets")))

	// One client per storage at a time: a second open would interleave writes.
	_, err = ext.GetClient(ctx, component.KindExporter, exporterID, "logs")
	require.ErrorContains(t, err, "in use")

	require.NoError(t, queue.Close(ctx))
	require.NoError(t, queue.Close(ctx), "Close is idempotent")
	// Shutdown closes what components left open (offsets), then restart.
	require.NoError(t, ext.Shutdown(ctx))
	require.NoError(t, ext.Shutdown(ctx), "Shutdown is idempotent")

	require.ElementsMatch(t, []string{
		clientDirName(component.KindExporter, exporterID, "logs"),
		clientDirName(component.KindReceiver, receiverID, ""),
	}, mustEntries(t, dir))

	ext, _ = newTestExtension(t, testConfig(dir))
	queue, err = ext.GetClient(ctx, component.KindExporter, exporterID, "logs")
	require.NoError(t, err)
	offsets, err = ext.GetClient(ctx, component.KindReceiver, receiverID, "")
	require.NoError(t, err)
	v, err := queue.Get(ctx, "k")
	require.NoError(t, err)
	require.Equal(t, []byte("queue"), v)
	v, err = offsets.Get(ctx, "k")
	require.NoError(t, err)
	require.Equal(t, []byte("offsets"), v)
	require.NoError(t, offsets.Delete(ctx, "k"))
	v, err = offsets.Get(ctx, "k")
	require.NoError(t, err)
	require.Nil(t, v)
	require.NoError(t, ext.Shutdown(ctx))
	_, err = queue.Get(ctx, "k")
	require.Error(t, err, "a client closed by Shutdown refuses operations")
}

func TestBatchFillsGets(t *testing.T) {
	ctx := context.Background()
	ext, _ := newTestExtension(t, testConfig(t.TempDir()))
	defer func() { require.NoError(t, ext.Shutdown(ctx)) }()
	c, err := ext.GetClient(ctx, component.KindExporter, exporterID, "")
	require.NoError(t, err)
	get := storage.GetOperation("meta")
	require.NoError(t, c.Batch(ctx, storage.SetOperation("meta", []byte("m1")), get, storage.DeleteOperation("other")))
	require.Equal(t, []byte("m1"), get.Value)

	canceled, cancel := context.WithCancel(ctx)
	cancel()
	require.ErrorIs(t, c.Set(canceled, "meta", []byte("m2")), context.Canceled)
	require.ErrorContains(t, c.Batch(ctx, &storage.Operation{Type: storage.OpType(7), Key: "x"}), "unknown operation type 7")
	v, err := c.Get(ctx, "meta")
	require.NoError(t, err)
	require.Equal(t, []byte("m1"), v, "a refused batch changes nothing")
}

func TestCreateDirectory(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "a", "b")
	cfg := testConfig(dir)
	cfg.CreateDirectory = true
	ext, _ := newTestExtension(t, cfg)
	c, err := ext.GetClient(ctx, component.KindExporter, exporterID, "")
	require.NoError(t, err)
	require.NoError(t, c.Set(ctx, "k", nil))
	require.DirExists(t, filepath.Join(dir, clientDirName(component.KindExporter, exporterID, "")))
	require.NoError(t, ext.Shutdown(ctx))
}

func TestSelfMetrics(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.SegmentSize = minSegmentSize
	ext, tel := newTestExtension(t, cfg)
	c, err := ext.GetClient(ctx, component.KindExporter, exporterID, "")
	require.NoError(t, err)
	value := []byte(strings.Repeat("x", 1000))
	var written int64
	for i := range 200 { // ~200 KB through 64 KiB segments, each value deleted right away
		require.NoError(t, c.Batch(ctx, storage.SetOperation("item", value), storage.SetOperation("meta", []byte{byte(i)})))
		require.NoError(t, c.Delete(ctx, "item"))
	}
	require.NoError(t, ext.Shutdown(ctx))
	clientDir := filepath.Join(dir, clientDirName(component.KindExporter, exporterID, ""))
	for _, e := range mustEntries(t, clientDir) {
		if strings.HasSuffix(e, ".seg") {
			st, err := os.Stat(filepath.Join(clientDir, e))
			require.NoError(t, err)
			written += st.Size()
		}
	}
	total := sumOf(t, mustMetric(t, tel, "otelcol_extension_journal_storage_written"))
	require.Greater(t, total, int64(200*1000))
	require.GreaterOrEqual(t, total, written, "what is on disk was counted")
	removed := sumOf(t, mustMetric(t, tel, "otelcol_extension_journal_storage_segments_removed"))
	require.GreaterOrEqual(t, removed, int64(2))
	// When a segment went, at most the item in flight and "meta" were live:
	// compaction copied those, not the segment.
	copied := sumOf(t, mustMetric(t, tel, "otelcol_extension_journal_storage_compaction_copied"))
	require.Positive(t, copied)
	require.Less(t, copied, 1100*removed)

	// A torn tail is counted when the client opens again.
	segs, err := filepath.Glob(filepath.Join(clientDir, "*.seg"))
	require.NoError(t, err)
	last := segs[len(segs)-1]
	f, err := os.OpenFile(last, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.Write([]byte{1, 2, 3})
	require.NoError(t, err)
	require.NoError(t, f.Close())
	ext, tel = newTestExtension(t, cfg)
	_, err = ext.GetClient(ctx, component.KindExporter, exporterID, "")
	require.NoError(t, err)
	metadatatest.AssertEqualExtensionJournalStorageTorn(t, tel, []metricdata.DataPoint[int64]{{Value: 3}},
		metricdatatest.IgnoreTimestamp(), metricdatatest.IgnoreExemplars())
	require.NoError(t, ext.Shutdown(ctx))
}

func mustEntries(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func mustMetric(t *testing.T, tel *componenttest.Telemetry, name string) metricdata.Metrics {
	t.Helper()
	m, err := tel.GetMetric(name)
	require.NoError(t, err)
	return m
}

func sumOf(t *testing.T, m metricdata.Metrics) int64 {
	t.Helper()
	sum, ok := m.Data.(metricdata.Sum[int64])
	require.True(t, ok, "%s is an int64 sum", m.Name)
	var total int64
	for _, dp := range sum.DataPoints {
		total += dp.Value
	}
	return total
}

// Two clients never share a directory, even where the readable part of
// their names is the same.
func TestClientDirNamesAreDistinct(t *testing.T) {
	pairs := [][2]string{
		{
			clientDirName(component.KindExporter, component.MustNewIDWithName("otlp_forward", "logs"), ""),
			clientDirName(component.KindExporter, component.MustNewIDWithName("otlp", "forward_logs"), ""),
		},
		{
			clientDirName(component.KindExporter, exporterID, "x/y"),
			clientDirName(component.KindExporter, exporterID, "x~y"),
		},
		{
			clientDirName(component.KindExporter, component.MustNewIDWithName("otlp_forward", "logs"), ""),
			clientDirName(component.KindExporter, component.MustNewID("otlp_forward"), "logs"),
		},
	}
	for _, p := range pairs {
		require.NotEqual(t, p[0], p[1])
	}
	long := clientDirName(component.KindExporter, exporterID, strings.Repeat("n", 300))
	require.LessOrEqual(t, len(long), 200)
	require.NotEqual(t, long, clientDirName(component.KindExporter, exporterID, strings.Repeat("n", 301)))
}

// A journal in a directory named the old way is found after an upgrade.
func TestLegacyClientDirIsRenamed(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	ext, _ := newTestExtension(t, testConfig(dir))
	c, err := ext.GetClient(ctx, component.KindExporter, exporterID, "logs")
	require.NoError(t, err)
	require.NoError(t, c.Set(ctx, "k", []byte("queued")))
	require.NoError(t, ext.Shutdown(ctx))
	current := clientDirName(component.KindExporter, exporterID, "logs")
	legacy := legacyClientDirName(component.KindExporter, exporterID, "logs")
	require.Equal(t, "exporter_otlp_forward_logs_logs", legacy)
	require.NoError(t, os.Rename(filepath.Join(dir, current), filepath.Join(dir, legacy)))

	ext, _ = newTestExtension(t, testConfig(dir))
	c, err = ext.GetClient(ctx, component.KindExporter, exporterID, "logs")
	require.NoError(t, err)
	v, err := c.Get(ctx, "k")
	require.NoError(t, err)
	require.Equal(t, []byte("queued"), v)
	require.Equal(t, []string{current}, mustEntries(t, dir))
	require.NoError(t, ext.Shutdown(ctx))
}

// corruptOlderSegment writes two segments through a client and cuts the
// first short, so it does not end in a whole frame: damage of unknown
// extent, which no skipping can recover from.
func corruptOlderSegment(t *testing.T, cfg *Config) string {
	t.Helper()
	ctx := context.Background()
	ext, _ := newTestExtension(t, cfg)
	c, err := ext.GetClient(ctx, component.KindExporter, exporterID, "logs")
	require.NoError(t, err)
	for i := range 100 {
		require.NoError(t, c.Set(ctx, fmt.Sprint("k", i), bytes.Repeat([]byte("v"), 1000)))
	}
	require.NoError(t, ext.Shutdown(ctx))
	clientDir := filepath.Join(cfg.Directory, clientDirName(component.KindExporter, exporterID, "logs"))
	segs, err := filepath.Glob(filepath.Join(clientDir, "*.seg"))
	require.NoError(t, err)
	require.Greater(t, len(segs), 1)
	st, err := os.Stat(segs[0])
	require.NoError(t, err)
	require.NoError(t, os.Truncate(segs[0], st.Size()-10))
	return segs[0]
}

// A damaged frame that valid frames follow is skipped, logged with its file
// and offset and counted; with on_corruption: fail the client does not open.
func TestDamagedFrameIsSkippedLoggedAndCounted(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig(t.TempDir())
	ext, _ := newTestExtension(t, cfg)
	c, err := ext.GetClient(ctx, component.KindExporter, exporterID, "")
	require.NoError(t, err)
	for i := range 3 {
		require.NoError(t, c.Set(ctx, fmt.Sprint("k", i), bytes.Repeat([]byte("v"), 100)))
	}
	require.NoError(t, ext.Shutdown(ctx))
	clientDir := filepath.Join(cfg.Directory, clientDirName(component.KindExporter, exporterID, ""))
	segs, err := filepath.Glob(filepath.Join(clientDir, "*.seg"))
	require.NoError(t, err)
	require.Len(t, segs, 1)
	data, err := os.ReadFile(segs[0])
	require.NoError(t, err)
	frameLen := len(data) / 3 // three frames of the same size
	data[frameLen+50] ^= 0xff // in the second one
	require.NoError(t, os.WriteFile(segs[0], data, 0o600))

	ext, tel := newTestExtension(t, cfg)
	core, logs := observer.New(zap.WarnLevel)
	ext.logger = zap.New(core)
	c, err = ext.GetClient(ctx, component.KindExporter, exporterID, "")
	require.NoError(t, err)
	for i, want := range [][]byte{bytes.Repeat([]byte("v"), 100), nil, bytes.Repeat([]byte("v"), 100)} {
		v, err := c.Get(ctx, fmt.Sprint("k", i))
		require.NoError(t, err)
		require.Equal(t, want, v, i)
	}
	metadatatest.AssertEqualExtensionJournalStorageDamaged(t, tel, []metricdata.DataPoint[int64]{{Value: int64(frameLen)}},
		metricdatatest.IgnoreTimestamp(), metricdatatest.IgnoreExemplars())
	skipped := logs.FilterMessageSnippet("Skipped a damaged frame").All()
	require.Len(t, skipped, 1)
	fields := skipped[0].ContextMap()
	require.Equal(t, segs[0], fields["file"])
	require.Equal(t, int64(frameLen), fields["offset"])
	require.Equal(t, int64(frameLen), fields["bytes"])
	require.NoError(t, ext.Shutdown(ctx))

	cfg.OnCorruption = onCorruptionFail
	ext, _ = newTestExtension(t, cfg)
	_, err = ext.GetClient(ctx, component.KindExporter, exporterID, "")
	require.ErrorContains(t, err, fmt.Sprintf("%s has a damaged frame at byte %d", segs[0], frameLen))
	require.NoError(t, ext.Shutdown(ctx))
}

func TestCorruptJournalIsMovedAside(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig(t.TempDir())
	cfg.SegmentSize = minSegmentSize
	corruptOlderSegment(t, cfg)

	ext, _ := newTestExtension(t, cfg)
	c, err := ext.GetClient(ctx, component.KindExporter, exporterID, "logs")
	require.NoError(t, err)
	v, err := c.Get(ctx, "k99")
	require.NoError(t, err)
	require.Nil(t, v, "started empty")
	require.NoError(t, c.Set(ctx, "new", []byte("x")))
	require.NoError(t, ext.Shutdown(ctx))
	name := clientDirName(component.KindExporter, exporterID, "logs")
	entries := mustEntries(t, cfg.Directory)
	require.Len(t, entries, 2)
	require.Contains(t, entries, name)
	aside, err := filepath.Glob(filepath.Join(cfg.Directory, name+".corrupt-*"))
	require.NoError(t, err)
	require.Len(t, aside, 1, "kept for inspection")
}

func TestCorruptJournalFailsWhenConfigured(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig(t.TempDir())
	cfg.SegmentSize = minSegmentSize
	cfg.OnCorruption = onCorruptionFail
	bad := corruptOlderSegment(t, cfg)

	ext, _ := newTestExtension(t, cfg)
	_, err := ext.GetClient(ctx, component.KindExporter, exporterID, "logs")
	require.ErrorContains(t, err, filepath.Base(bad))
	require.ErrorContains(t, err, "on_corruption: recreate")
	require.NoError(t, ext.Shutdown(ctx))
}

// The written metric adds up to what the store wrote, however batches from
// several goroutines interleave.
func TestWrittenMetricUnderConcurrency(t *testing.T) {
	ctx := context.Background()
	ext, tel := newTestExtension(t, testConfig(t.TempDir()))
	c, err := ext.GetClient(ctx, component.KindExporter, exporterID, "")
	require.NoError(t, err)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				assert.NoError(t, c.Set(ctx, fmt.Sprint(g, "/", i%10), []byte("value")))
			}
		})
	}
	wg.Wait()
	want := c.(*client).store.Stats().BytesWritten
	require.Equal(t, want, sumOf(t, mustMetric(t, tel, "otelcol_extension_journal_storage_written")))
	require.NoError(t, ext.Shutdown(ctx))
}
