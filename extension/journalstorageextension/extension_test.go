package journalstorageextension

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/extension/extensiontest"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

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

	require.ElementsMatch(t, []string{"exporter_otlp_forward_logs_logs", "receiver_file_tail_"}, mustEntries(t, dir))

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
	require.DirExists(t, filepath.Join(dir, "exporter_otlp_forward_logs"))
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
	for _, e := range mustEntries(t, filepath.Join(dir, "exporter_otlp_forward_logs")) {
		if strings.HasSuffix(e, ".seg") {
			st, err := os.Stat(filepath.Join(dir, "exporter_otlp_forward_logs", e))
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
	segs, err := filepath.Glob(filepath.Join(dir, "exporter_otlp_forward_logs", "*.seg"))
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
