package parquetexporter

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/sluicelogs/sluice/exporter/parquetexporter/internal/metadata"
	"github.com/sluicelogs/sluice/exporter/parquetexporter/internal/metadatatest"
	"github.com/sluicelogs/sluice/internal/logarchive"
)

func newNamedTestExporter(t *testing.T, cfg *Config, name string, now func() time.Time) *parquetExporter {
	t.Helper()
	set := exportertest.NewNopSettings(metadata.Type)
	set.ID = component.NewIDWithName(metadata.Type, name)
	e, err := newExporter(cfg, set, logarchive.SignalLogs, now)
	require.NoError(t, err)
	return e
}

// archiveWriters returns the writer part of every archive file name.
func archiveWriters(t *testing.T, root string) map[string]int {
	t.Helper()
	writers := map[string]int{}
	for _, f := range archiveFiles(t, root) {
		w, _, err := logarchive.ParseFileName(filepath.Base(f))
		require.NoError(t, err, f)
		writers[w]++
	}
	return writers
}

// Two parquet exporters of one collector writing logs to the same archive
// with the same writer_id start a microsecond apart: their sequences would
// overlap, so each named instance writes under its own name.
func TestNamedInstancesSharingWriterIDNeverOverwrite(t *testing.T) {
	cfg := testConfig(t)
	cfg.Roll.MaxRows = 100
	a := newNamedTestExporter(t, cfg, "a", func() time.Time { return baseTime })
	b := newNamedTestExporter(t, cfg, "b", func() time.Time { return baseTime.Add(time.Microsecond) })
	ctx := context.Background()
	require.NoError(t, a.start(ctx, componenttest.NewNopHost()))
	require.NoError(t, b.start(ctx, componenttest.NewNopHost()))
	var want []string
	for i, e := range []*parquetExporter{a, a, b} {
		ld := genLogs(100, i*100, "svc")
		want = append(want, canonicalRows(t, ld)...)
		require.NoError(t, e.pushLogs(ctx, ld))
	}
	require.NoError(t, a.shutdown(ctx))
	require.NoError(t, b.shutdown(ctx))
	got := readArchiveGo(t, cfg.Storage.Local.Path)
	require.Equal(t, len(want), len(got), "rows in archive (files: %v)", archiveFiles(t, cfg.Storage.Local.Path))
	assert.Equal(t, map[string]int{"test-writer.a": 2, "test-writer.b": 1}, archiveWriters(t, cfg.Storage.Local.Path))
}

func TestInstanceWriterID(t *testing.T) {
	long := strings.Repeat("n", 200)
	for _, tc := range []struct{ name, want string }{
		{"", "gw-1"},
		{"eu", "gw-1.eu"},
		{"a:b", "gw-1.a_b_" + shortDigest("a:b")},
		{"a_b", "gw-1.a_b"},
		{long, ("gw-1." + long)[:maxWriterIDLen-9] + "_" + shortDigest("gw-1."+long)},
	} {
		got := instanceWriterID("gw-1", component.NewIDWithName(metadata.Type, tc.name))
		assert.Equal(t, tc.want, got, "instance %q", tc.name)
		require.NoError(t, logarchive.ValidateWriterID(got))
	}
}

// A restart whose clock reads earlier than the previous run (clock stepped
// back by NTP, VM restore, RTC-less boot) must not reuse published names.
func TestRestartWithClockBehindNeverReusesNames(t *testing.T) {
	cfg := testConfig(t)
	ctx := context.Background()
	var want []string
	// Run 1 starts at baseTime; the clock is then stepped back and the
	// collector restarts reading baseTime again, then earlier still.
	for run, clock := range []time.Time{baseTime, baseTime, baseTime.Add(-time.Hour)} {
		e := newTestExporter(t, cfg, func() time.Time { return clock })
		require.NoError(t, e.start(ctx, componenttest.NewNopHost()))
		ld := genLogs(100, run*100, "svc") // all in the 10:00 partition
		want = append(want, canonicalRows(t, ld)...)
		require.NoError(t, e.pushLogs(ctx, ld))
		require.NoError(t, e.shutdown(ctx))
	}
	got := readArchiveGo(t, cfg.Storage.Local.Path)
	require.Equal(t, len(want), len(got), "rows in archive (files: %v)", archiveFiles(t, cfg.Storage.Local.Path))
	assert.Len(t, archiveFiles(t, cfg.Storage.Local.Path), 3)
}

// A service.name longer than a path segment may be (255 bytes on Linux) is
// published under a bounded partition segment instead of being retried
// forever until staging is full and every push is refused.
func TestLongServiceNameIsPublished(t *testing.T) {
	cfg := testConfig(t)
	cfg.Staging.MaxSize = 64 << 10
	cfg.Roll.MaxBytes = 32 << 10
	ctx := context.Background()
	e := newTestExporter(t, cfg, func() time.Time { return baseTime })
	require.NoError(t, e.start(ctx, componenttest.NewNopHost()))
	long := strings.Repeat("s", 300)
	ld := genLogs(50, 0, long, long+"-other", "ok")
	want := canonicalRows(t, ld)
	require.NoError(t, e.pushLogs(ctx, ld))
	require.NoError(t, e.shutdown(ctx))
	assertStagingEmpty(t, cfg)
	assert.Equal(t, want, readArchiveGo(t, cfg.Storage.Local.Path))
	assert.Len(t, archiveFiles(t, cfg.Storage.Local.Path), 3, "one partition per distinct service")
}

// A journal whose file name is already taken by a different file can never
// be published: the archive file stays, the journal is moved to failed/,
// counted, and no longer holds up staging or the other journals.
func TestConflictingArchiveFileIsKeptAndJournalDeadLettered(t *testing.T) {
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	cfg := testConfig(t)
	cfg.UploadRetry.InitialInterval = time.Hour // only explicit publishing in this test
	cfg.UploadRetry.MaxInterval = time.Hour
	set := metadatatest.NewSettings(tel)
	set.ID = component.NewID(metadata.Type)
	e, err := newExporter(cfg, set, logarchive.SignalLogs, func() time.Time { return baseTime })
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, e.start(ctx, componenttest.NewNopHost()))

	// Another writer already published the name the first journal gets.
	layout, err := logarchive.NewLayout(cfg.PathTemplate)
	require.NoError(t, err)
	taken := filepath.Join(cfg.Storage.Local.Path, filepath.FromSlash(layout.FilePath(logarchive.ArchiveFile{
		Partition: layout.PartitionFor(logarchive.SignalLogs, "first", baseTime),
		Writer:    cfg.WriterID, Seq: uint64(baseTime.UnixMicro()),
	})))
	require.NoError(t, os.MkdirAll(filepath.Dir(taken), 0o755))
	require.NoError(t, os.WriteFile(taken, []byte("another writer's file"), 0o644))

	require.NoError(t, e.pushLogs(ctx, genLogs(50, 0, "first")))
	other := genLogs(50, 100, "second")
	require.NoError(t, e.pushLogs(ctx, other))
	require.NoError(t, e.shutdown(ctx))

	data, err := os.ReadFile(taken)
	require.NoError(t, err)
	assert.Equal(t, "another writer's file", string(data), "an archive file must never be replaced")
	failed, err := filepath.Glob(filepath.Join(e.stagingDir, failedStagingSubdir, "*.journal"))
	require.NoError(t, err)
	assert.Len(t, failed, 1, "the conflicting journal is kept aside")
	left, err := filepath.Glob(filepath.Join(e.stagingDir, "*.journal"))
	require.NoError(t, err)
	assert.Empty(t, left)
	assert.Len(t, archiveFiles(t, cfg.Storage.Local.Path), 2)

	opts := []metricdatatest.Option{metricdatatest.IgnoreTimestamp()}
	metadatatest.AssertEqualExporterParquetJournalsDeadLettered(t, tel, []metricdata.DataPoint[int64]{{Value: 1}}, opts...)
	metadatatest.AssertEqualExporterParquetStagingSize(t, tel, []metricdata.DataPoint[int64]{{Value: 0}}, opts...)
	metadatatest.AssertEqualExporterParquetRowsWritten(t, tel, []metricdata.DataPoint[int64]{{Value: 50}}, opts...)

	// A restart neither retries nor counts the dead-lettered journal.
	e2 := newTestExporter(t, cfg, func() time.Time { return baseTime })
	require.NoError(t, e2.start(ctx, componenttest.NewNopHost()))
	e2.mu.Lock()
	assert.Empty(t, e2.sealed)
	assert.Zero(t, e2.staged)
	e2.mu.Unlock()
	require.NoError(t, e2.shutdown(ctx))
}

// One journal that fails to publish at shutdown must not leave the healthy
// ones behind.
func TestShutdownPublishesOtherJournalsAfterAFailure(t *testing.T) {
	cfg := testConfig(t)
	cfg.Roll.MaxRows = 50
	cfg.UploadRetry.InitialInterval = time.Hour
	cfg.UploadRetry.MaxInterval = time.Hour
	ctx := context.Background()
	// A file where the partition directory of service "blocked" belongs.
	blocked := filepath.Join(cfg.Storage.Local.Path, "logs", "service=blocked")
	require.NoError(t, os.MkdirAll(filepath.Dir(blocked), 0o755))
	require.NoError(t, os.WriteFile(blocked, nil, 0o644))

	e := newTestExporter(t, cfg, func() time.Time { return baseTime })
	require.NoError(t, e.start(ctx, componenttest.NewNopHost()))
	require.NoError(t, e.pushLogs(ctx, genLogs(50, 0, "blocked"))) // sealed (max_rows) and queued first
	var want []string
	for i, svc := range []string{"a", "b", "c"} {
		ld := genLogs(10, 100*(i+1), svc)
		want = append(want, canonicalRows(t, ld)...)
		require.NoError(t, e.pushLogs(ctx, ld))
	}
	require.NoError(t, e.shutdown(ctx))
	require.NoError(t, os.Remove(blocked))
	assert.ElementsMatch(t, want, readArchiveGo(t, cfg.Storage.Local.Path))
	left, err := filepath.Glob(filepath.Join(e.stagingDir, "*.journal"))
	require.NoError(t, err)
	assert.Len(t, left, 1, "only the blocked journal stays staged, for the next start")
}

// A partition path the file system can never create (a template segment
// longer than a file name may be) is dead-lettered, not retried forever
// while it holds staging.
func TestJournalWithUncreatablePathIsDeadLettered(t *testing.T) {
	cfg := testConfig(t)
	cfg.PathTemplate = "{signal}/" + strings.Repeat("x", 300) + "/dt={date}"
	cfg.UploadRetry.InitialInterval = time.Hour
	cfg.UploadRetry.MaxInterval = time.Hour
	ctx := context.Background()
	e := newTestExporter(t, cfg, func() time.Time { return baseTime })
	require.NoError(t, e.start(ctx, componenttest.NewNopHost()))
	require.NoError(t, e.pushLogs(ctx, genLogs(20, 0, "svc")))
	require.NoError(t, e.shutdown(ctx))
	failed, err := filepath.Glob(filepath.Join(e.stagingDir, failedStagingSubdir, "*.journal"))
	require.NoError(t, err)
	assert.Len(t, failed, 1)
	left, err := filepath.Glob(filepath.Join(e.stagingDir, "*.journal"))
	require.NoError(t, err)
	assert.Empty(t, left, "nothing left to retry")
}
