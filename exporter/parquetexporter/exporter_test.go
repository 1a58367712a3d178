package parquetexporter

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/sluicelogs/sluice/exporter/parquetexporter/internal/journal"
	"github.com/sluicelogs/sluice/exporter/parquetexporter/internal/metadata"
	"github.com/sluicelogs/sluice/exporter/parquetexporter/internal/store"
	"github.com/sluicelogs/sluice/internal/logarchive"
)

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestFactoryExportLocalRoundTrip(t *testing.T) {
	cfg := testConfig(t)
	set := exportertest.NewNopSettings(metadata.Type)
	set.ID = component.NewID(metadata.Type) // the default instance: names are <writer_id>-<seq>.parquet
	exp, err := NewFactory().CreateLogs(context.Background(), set, cfg)
	require.NoError(t, err)
	require.NoError(t, exp.Start(context.Background(), componenttest.NewNopHost()))
	ld := genLogs(900, 0, "checkout", "pay/ments=eu", "")
	want := canonicalRows(t, ld)
	require.NoError(t, exp.ConsumeLogs(context.Background(), ld))
	require.NoError(t, exp.Shutdown(context.Background()))

	files := archiveFiles(t, cfg.Storage.Local.Path)
	require.Len(t, files, 3, "one file per service partition")
	layout, err := logarchive.NewLayout(cfg.PathTemplate)
	require.NoError(t, err)
	services := map[string]bool{}
	for _, f := range files {
		rel, err := filepath.Rel(cfg.Storage.Local.Path, f)
		require.NoError(t, err)
		af, err := layout.ParseFilePath(filepath.ToSlash(rel))
		require.NoError(t, err, rel)
		assert.Equal(t, "test-writer", af.Writer)
		assert.Equal(t, baseTime, af.Partition.Start)
		services[af.Partition.Service] = true
		assertSortedByTime(t, f)
	}
	assert.Equal(t, map[string]bool{"checkout": true, "pay/ments=eu": true, "": true}, services)
	assert.Equal(t, want, readArchiveGo(t, cfg.Storage.Local.Path))
	assertStagingEmpty(t, cfg)
}

// assertSortedByTime checks rows of a single-service file are in time order.
func assertSortedByTime(t *testing.T, path string) {
	t.Helper()
	var prev int64
	for i, r := range readRowsGo(t, path) {
		ts := jsonInt(t, r, "timestamp")
		require.GreaterOrEqual(t, ts, prev, "row %d of %s out of order", i, path)
		prev = ts
	}
}

func jsonInt(t *testing.T, row, key string) int64 {
	t.Helper()
	i := strings.Index(row, `"`+key+`":`)
	require.GreaterOrEqual(t, i, 0)
	var v int64
	for _, c := range row[i+len(key)+3:] {
		if c < '0' || c > '9' {
			break
		}
		v = v*10 + int64(c-'0')
	}
	return v
}

func assertStagingEmpty(t *testing.T, cfg *Config) {
	t.Helper()
	var left []string
	_ = filepath.Walk(cfg.Staging.Directory, func(p string, info os.FileInfo, err error) error {
		// The sequence reservation outlives every run by design.
		if err == nil && !info.IsDir() && info.Name() != sequenceFile {
			left = append(left, p)
		}
		return nil
	})
	assert.Empty(t, left, "staging must hold no journal after a clean shutdown")
}

func TestRollByRowsAndAge(t *testing.T) {
	cfg := testConfig(t)
	cfg.Roll.MaxRows = 400
	cfg.Roll.MaxAge = time.Minute
	clock := &fakeClock{t: baseTime.Add(2 * time.Hour)}
	e := newTestExporter(t, cfg, clock.Now)
	require.NoError(t, e.start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, e.shutdown(context.Background())) })

	// 1000 rows of one partition in batches of 100: rolls at 400 and 800.
	for b := 0; b < 10; b++ {
		require.NoError(t, e.pushLogs(context.Background(), genLogs(100, b*100)))
	}
	require.NoError(t, e.publishPending(context.Background()))
	assert.Len(t, archiveFiles(t, cfg.Storage.Local.Path), 2, "two files rolled by row count")

	// The remaining 200 rows are published once the file is older than max_age.
	clock.Advance(59 * time.Second)
	e.rollExpired(clock.Now())
	require.NoError(t, e.publishPending(context.Background()))
	assert.Len(t, archiveFiles(t, cfg.Storage.Local.Path), 2, "not yet due")
	clock.Advance(time.Second)
	e.rollExpired(clock.Now())
	require.NoError(t, e.publishPending(context.Background()))
	files := archiveFiles(t, cfg.Storage.Local.Path)
	require.Len(t, files, 3)
	total := 0
	for _, f := range files {
		total += len(readRowsGo(t, f))
	}
	assert.Equal(t, 1000, total)
}

func TestRollByBytesAndMaxOpenFiles(t *testing.T) {
	cfg := testConfig(t)
	cfg.Roll.MaxBytes = 16 << 10
	cfg.Roll.MaxOpenFiles = 2
	e := newTestExporter(t, cfg, func() time.Time { return baseTime })
	require.NoError(t, e.start(context.Background(), componenttest.NewNopHost()))
	// Three services → three partitions with at most two open: the oldest is closed.
	require.NoError(t, e.pushLogs(context.Background(), genLogs(30, 0, "a", "b", "c")))
	e.mu.Lock()
	open := len(e.open)
	e.mu.Unlock()
	assert.Equal(t, 2, open)
	// Enough rows of one partition to pass 16 KiB of staged Arrow data.
	for b := 0; b < 5; b++ {
		require.NoError(t, e.pushLogs(context.Background(), genLogs(100, 1000+b*100, "c")))
	}
	require.NoError(t, e.shutdown(context.Background()))
	files := archiveFiles(t, cfg.Storage.Local.Path)
	assert.Greater(t, len(files), 4, "byte limit must roll service c's file")
	assert.Len(t, readArchiveGo(t, cfg.Storage.Local.Path), 30+500)
}

func TestStagingFullIsRetryable(t *testing.T) {
	cfg := testConfig(t)
	cfg.Staging.MaxSize = 1
	cfg.Roll.MaxBytes = 1
	e := newTestExporter(t, cfg, func() time.Time { return baseTime })
	require.NoError(t, e.start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, e.shutdown(context.Background())) })
	// Stop background publishing so staged bytes stay.
	e.publishMu.Lock()
	require.NoError(t, e.pushLogs(context.Background(), genLogs(10, 0)))
	err := e.pushLogs(context.Background(), genLogs(10, 10))
	e.publishMu.Unlock()
	require.ErrorIs(t, err, errStagingFull)
}

// failingStore fails every Put until healed.
type failingStore struct {
	mu     sync.Mutex
	failed int
	healed bool
	inner  store.Store
}

func (f *failingStore) Close() { f.inner.Close() }

func (f *failingStore) Put(ctx context.Context, key, src string, size int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.healed {
		f.failed++
		return os.ErrDeadlineExceeded
	}
	return f.inner.Put(ctx, key, src, size)
}

func (f *failingStore) String() string { return "failing" }

func TestUploadFailureKeepsJournalUntilRestart(t *testing.T) {
	cfg := testConfig(t)
	cfg.UploadRetry.InitialInterval = time.Hour // only explicit publishing in this test
	cfg.UploadRetry.MaxInterval = time.Hour
	e := newTestExporter(t, cfg, func() time.Time { return baseTime })
	require.NoError(t, e.start(context.Background(), componenttest.NewNopHost()))
	fs := &failingStore{inner: e.store}
	e.publishMu.Lock()
	e.store = fs
	e.publishMu.Unlock()
	ld := genLogs(500, 0, "x", "y")
	want := canonicalRows(t, ld)
	require.NoError(t, e.pushLogs(context.Background(), ld))
	require.NoError(t, e.shutdown(context.Background()))
	fs.mu.Lock()
	assert.Positive(t, fs.failed)
	fs.mu.Unlock()
	assert.Empty(t, archiveFiles(t, cfg.Storage.Local.Path))

	// Restart: the staged journals are recovered and published.
	e2 := newTestExporter(t, cfg, func() time.Time { return baseTime })
	require.NoError(t, e2.start(context.Background(), componenttest.NewNopHost()))
	require.NoError(t, e2.shutdown(context.Background()))
	assert.Equal(t, want, readArchiveGo(t, cfg.Storage.Local.Path))
	assertStagingEmpty(t, cfg)
}

// crash stops an exporter's goroutines and file handles without sealing or
// publishing anything, like a kill -9 after the last acknowledged push.
func crash(e *parquetExporter) {
	e.stopOnce.Do(func() {
		close(e.stop)
		e.bgCancel()
		e.wg.Wait()
		e.mu.Lock()
		for _, of := range e.open {
			_ = of.w.Close()
		}
		e.mu.Unlock()
		e.tb.Shutdown()
	})
}

func TestRecoveryAfterCrashWithTornJournal(t *testing.T) {
	cfg := testConfig(t)
	e := newTestExporter(t, cfg, func() time.Time { return baseTime })
	require.NoError(t, e.start(context.Background(), componenttest.NewNopHost()))
	var want []string
	for b := 0; b < 5; b++ {
		ld := genLogs(100, b*100, "svc")
		want = append(want, canonicalRows(t, ld)...)
		require.NoError(t, e.pushLogs(context.Background(), ld))
	}
	sort.Strings(want)
	crash(e)

	// Simulate an append torn by the crash: half a frame at the end.
	journals, err := filepath.Glob(filepath.Join(e.stagingDir, "*"+journal.Extension))
	require.NoError(t, err)
	require.Len(t, journals, 1)
	appendTornFrame(t, journals[0])
	// And a journal whose header never made it to disk.
	require.NoError(t, os.WriteFile(filepath.Join(e.stagingDir, "00000000000000000001"+journal.Extension), []byte("SLUICEJ1"), 0o600))
	// And a half-built Parquet file.
	require.NoError(t, os.WriteFile(filepath.Join(e.stagingDir, "00000000000000000002"+builtSuffix), []byte("PAR1"), 0o600))

	e2 := newTestExporter(t, cfg, func() time.Time { return baseTime })
	require.NoError(t, e2.start(context.Background(), componenttest.NewNopHost()))
	require.NoError(t, e2.shutdown(context.Background()))
	assert.Equal(t, want, readArchiveGo(t, cfg.Storage.Local.Path))
	assertStagingEmpty(t, cfg)
}

func TestRepublishSameKeyKeepsOneFile(t *testing.T) {
	// A crash after the store confirmed but before the journal was deleted
	// republishes the journal under the same deterministic key.
	cfg := testConfig(t)
	e := newTestExporter(t, cfg, func() time.Time { return baseTime })
	require.NoError(t, e.start(context.Background(), componenttest.NewNopHost()))
	ld := genLogs(200, 0)
	require.NoError(t, e.pushLogs(context.Background(), ld))
	crash(e)
	journals, err := filepath.Glob(filepath.Join(e.stagingDir, "*"+journal.Extension))
	require.NoError(t, err)
	require.Len(t, journals, 1)
	saved, err := os.ReadFile(journals[0])
	require.NoError(t, err)

	e2 := newTestExporter(t, cfg, func() time.Time { return baseTime })
	require.NoError(t, e2.start(context.Background(), componenttest.NewNopHost()))
	require.NoError(t, e2.shutdown(context.Background()))
	require.NoError(t, os.WriteFile(journals[0], saved, 0o600)) // the journal "survived"
	e3 := newTestExporter(t, cfg, func() time.Time { return baseTime })
	require.NoError(t, e3.start(context.Background(), componenttest.NewNopHost()))
	require.NoError(t, e3.shutdown(context.Background()))

	assert.Len(t, archiveFiles(t, cfg.Storage.Local.Path), 1)
	assert.Equal(t, canonicalRows(t, ld), readArchiveGo(t, cfg.Storage.Local.Path))
}

func TestRetentionDeletesOldPartitions(t *testing.T) {
	cfg := testConfig(t)
	cfg.Retention.MaxAge = 48 * time.Hour
	now := baseTime.Add(72 * time.Hour)
	e := newTestExporter(t, cfg, func() time.Time { return now })
	require.NoError(t, e.start(context.Background(), componenttest.NewNopHost()))
	old := genLogs(10, 0, "old")
	recent := plog.NewLogs()
	genLogs(10, 100, "recent").ResourceLogs().MoveAndAppendTo(recent.ResourceLogs())
	for i := 0; i < recent.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().Len(); i++ {
		lr := recent.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(i)
		lr.SetTimestamp(lr.Timestamp() + 48*3600*1e9)
	}
	require.NoError(t, e.pushLogs(context.Background(), old))
	require.NoError(t, e.pushLogs(context.Background(), recent))
	e.sealAll()
	require.NoError(t, e.publishPending(context.Background()))
	require.Len(t, archiveFiles(t, cfg.Storage.Local.Path), 2)
	// Stray directories that are not partitions are left alone.
	stray := filepath.Join(cfg.Storage.Local.Path, "logs", "notes")
	require.NoError(t, os.MkdirAll(stray, 0o755))
	e.applyRetention(now)
	require.NoError(t, e.shutdown(context.Background()))
	files := archiveFiles(t, cfg.Storage.Local.Path)
	require.Len(t, files, 1)
	assert.Contains(t, files[0], "service=recent")
	assert.DirExists(t, stray)
}

func TestShutdownWithoutStart(t *testing.T) {
	e := newTestExporter(t, testConfig(t), nil)
	require.NoError(t, e.shutdown(context.Background()))
	require.NoError(t, e.shutdown(context.Background()))
}
