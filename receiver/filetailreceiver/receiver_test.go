package filetailreceiver

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/sluicelogs/sluice/internal/storagetest"
	"github.com/sluicelogs/sluice/receiver/filetailreceiver/internal/metadata"
)

// TestStorageAcrossRestarts runs the receiver on its own goroutine with
// checkpoints in a storage extension, restarts it, and checks that only
// lines written after the checkpoint are read again.
func TestStorageAcrossRestarts(t *testing.T) {
	for _, kind := range storagetest.Kinds {
		t.Run(kind, func(t *testing.T) { testStorageAcrossRestarts(t, kind) })
	}
}

func testStorageAcrossRestarts(t *testing.T, kind string) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	id, ext := storagetest.Start(t, kind, t.TempDir(), "")
	defer func() { require.NoError(t, ext.Shutdown(context.Background())) }()
	host := storagetest.Host(id, ext)

	cfg := testConfig(dir)
	cfg.PollInterval = 5 * time.Millisecond
	cfg.ScanInterval = 5 * time.Millisecond
	cfg.Storage = &id
	sink := &recordingSink{}
	run := func(until int) {
		r, err := NewFactory().CreateLogs(context.Background(), stableSettings(), cfg, sink)
		require.NoError(t, err)
		require.NoError(t, r.Start(context.Background(), host))
		require.Eventually(t, func() bool { return sink.count() >= until }, 10*time.Second, 5*time.Millisecond)
		require.NoError(t, r.Shutdown(context.Background()))
		require.NoError(t, r.Shutdown(context.Background()), "Shutdown is idempotent")
	}
	appendLines(t, path, "a", 0, 100)
	run(100)
	appendLines(t, path, "a", 100, 150)
	run(150)
	assert.Equal(t, 0, expectLines(t, sink.bodies(), "a", 150))
	assert.Equal(t, 150, sink.count())
}

func TestShutdownWithoutStart(t *testing.T) {
	r, err := NewFactory().CreateLogs(context.Background(), stableSettings(), testConfig(t.TempDir()), &recordingSink{})
	require.NoError(t, err)
	require.NoError(t, r.Shutdown(context.Background()))
	require.NoError(t, r.Shutdown(context.Background()))
	require.Error(t, r.Start(context.Background(), componenttest.NewNopHost()), "no restart after shutdown")
}

func TestStartFailsOnBadStorage(t *testing.T) {
	missing := component.MustNewID("file_storage")
	notStorage := component.MustNewIDWithName("file_storage", "fake")
	host := storagetest.Host(notStorage, nopComponent{})
	for id, want := range map[component.ID]string{
		missing:    `storage: extension "file_storage" not found`,
		notStorage: `storage: extension "file_storage/fake" is not a storage extension`,
	} {
		cfg := testConfig(t.TempDir())
		cfg.Storage = &id
		r, err := NewFactory().CreateLogs(context.Background(), stableSettings(), cfg, &recordingSink{})
		require.NoError(t, err)
		require.EqualError(t, r.Start(context.Background(), host), want)
		require.NoError(t, r.Shutdown(context.Background()))
	}
}

func TestCheckpointDirStore(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	cfg := testConfig(dir)
	cfg.PollInterval = 5 * time.Millisecond
	cfg.CheckpointDir = filepath.Join(t.TempDir(), "state")
	sink := &recordingSink{}
	appendLines(t, path, "a", 0, 10)
	for round := 1; round <= 2; round++ {
		r, err := NewFactory().CreateLogs(context.Background(), stableSettings(), cfg, sink)
		require.NoError(t, err)
		require.NoError(t, r.Start(context.Background(), componenttest.NewNopHost()))
		require.Eventually(t, func() bool { return sink.count() >= 10*round }, 10*time.Second, 5*time.Millisecond)
		require.NoError(t, r.Shutdown(context.Background()))
		appendLines(t, path, "a", 10*round, 10*round+10)
	}
	assert.Equal(t, 0, expectLines(t, sink.bodies(), "a", 20))
	assert.FileExists(t, filepath.Join(cfg.CheckpointDir, "file_tail.json"))
}

type nopComponent struct{}

func (nopComponent) Start(context.Context, component.Host) error { return nil }
func (nopComponent) Shutdown(context.Context) error              { return nil }

// stableSettings gives the receiver the same ID on every start, as a
// collector does (NewNopSettings picks a random name).
func stableSettings() receiver.Settings {
	set := receivertest.NewNopSettings(metadata.Type)
	set.ID = component.NewID(metadata.Type)
	return set
}
