package journalstorageextension

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.uber.org/zap"

	"github.com/sluicelogs/sluice/extension/journalstorageextension/internal/kvlog"
	"github.com/sluicelogs/sluice/extension/journalstorageextension/internal/metadata"
)

// journalStorage hands out one kvlog store per client, each in its own
// subdirectory of the configured directory.
type journalStorage struct {
	cfg       *Config
	logger    *zap.Logger
	telemetry *metadata.TelemetryBuilder

	mu      sync.Mutex
	clients map[*client]struct{}
}

var _ storage.Extension = (*journalStorage)(nil)

func newJournalStorage(cfg *Config, set extension.Settings) (*journalStorage, error) {
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, fmt.Errorf("create telemetry: %w", err)
	}
	return &journalStorage{cfg: cfg, logger: set.Logger, telemetry: tb, clients: map[*client]struct{}{}}, nil
}

// Start does nothing: directories are opened by the clients that use them.
func (*journalStorage) Start(context.Context, component.Host) error { return nil }

// Shutdown closes the clients their components left open. Idempotent.
func (j *journalStorage) Shutdown(ctx context.Context) error {
	j.mu.Lock()
	open := make([]*client, 0, len(j.clients))
	for c := range j.clients {
		open = append(open, c)
	}
	j.mu.Unlock()
	var errs []error
	for _, c := range open {
		errs = append(errs, c.Close(ctx))
	}
	j.telemetry.Shutdown()
	return errors.Join(errs...)
}

// GetClient opens the journal of one component's storage (kind, id and
// storage name make its directory, as file_storage names its files).
func (j *journalStorage) GetClient(_ context.Context, kind component.Kind, id component.ID, name string) (storage.Client, error) {
	dirName := clientDirName(kind, id, name)
	if j.cfg.CreateDirectory {
		if err := kvlog.MkdirAll(j.cfg.Directory, 0o750, j.cfg.FSync); err != nil {
			return nil, fmt.Errorf("journal_storage: create directory: %w", err)
		}
	}
	dir := filepath.Join(j.cfg.Directory, dirName)
	if err := j.migrateLegacyDir(legacyClientDirName(kind, id, name), dirName); err != nil {
		return nil, fmt.Errorf("journal_storage: %w", err)
	}
	opts := kvlog.Options{
		SegmentSize: j.cfg.SegmentSize,
		InlineMax:   j.cfg.InlineMax,
		FSync:       j.cfg.FSync,
		// "fail" is for operators who inspect any damage themselves.
		FailOnDamage: j.cfg.OnCorruption == onCorruptionFail,
	}
	store, err := kvlog.Open(dir, opts)
	if errors.Is(err, kvlog.ErrCorrupt) && j.cfg.OnCorruption == onCorruptionRecreate {
		store, err = j.recreate(dir, err, opts)
	}
	if errors.Is(err, kvlog.ErrCorrupt) {
		return nil, fmt.Errorf("journal_storage: %w (move %s aside to start with an empty journal, or set on_corruption: recreate)", err, dir)
	}
	if err != nil {
		return nil, fmt.Errorf("journal_storage: %w", err)
	}
	c := &client{store: store, owner: j, name: dirName}
	if torn := store.Stats().TornBytes; torn > 0 {
		j.logger.Warn("Discarded the unfinished last write of a journal (the process stopped mid-write; it was never acknowledged)",
			zap.String("client", dirName), zap.Int64("bytes", torn))
	}
	for _, r := range store.Skipped() {
		j.logger.Warn("Skipped a damaged frame in a journal segment; the writes in it are lost (a value they set is missing, one they deleted is back)",
			zap.String("client", dirName), zap.String("file", r.Path), zap.Int64("offset", r.Offset), zap.Int64("bytes", r.Bytes))
	}
	c.report()
	j.mu.Lock()
	j.clients[c] = struct{}{}
	j.mu.Unlock()
	return c, nil
}

// recreate moves a corrupt journal aside, keeping it for inspection, and
// opens an empty one in its place.
func (j *journalStorage) recreate(dir string, corrupt error, opts kvlog.Options) (*kvlog.Store, error) {
	aside := dir + ".corrupt-" + time.Now().UTC().Format("20060102T150405.000000000Z")
	if err := os.Rename(dir, aside); err != nil {
		return nil, fmt.Errorf("%w; moving it aside failed: %w", corrupt, err)
	}
	j.logger.Error("Journal is corrupt: moved it aside and started an empty one; the queue items and offsets it held are not used (on_corruption: recreate)",
		zap.String("moved_to", aside), zap.Error(corrupt))
	return kvlog.Open(dir, opts)
}

// migrateLegacyDir renames a client directory named as before names were
// made unambiguous, so an upgrade keeps its queue and offsets. Where two
// clients had the same old name, the first to open takes the directory.
func (j *journalStorage) migrateLegacyDir(legacy, current string) error {
	from, to := filepath.Join(j.cfg.Directory, legacy), filepath.Join(j.cfg.Directory, current)
	if _, err := os.Lstat(to); err == nil || !errors.Is(err, os.ErrNotExist) {
		return nil // already there (or unreadable: Open reports it)
	}
	if st, err := os.Lstat(from); err != nil || !st.IsDir() {
		return nil
	}
	// A collector still running on the old directory keeps its flock
	// (which follows the file, not the name), so the next Open fails "in
	// use" instead of sharing it.
	if err := os.Rename(from, to); err != nil {
		return fmt.Errorf("rename %s to %s: %w", from, to, err)
	}
	j.logger.Info("Renamed a journal directory to its unambiguous name", zap.String("from", legacy), zap.String("to", current))
	return nil
}

// clientDirName is kind_type_name[_storage] as file_storage names its files
// (anything but letters, digits, '-', '_' and '.' replaced with '~'),
// followed by a hash of the exact kind, type, name and storage name: the
// readable part alone can be the same for two clients (type otlp_forward
// name logs, type otlp name forward_logs; storage names x/y and x~y).
func clientDirName(kind component.Kind, id component.ID, name string) string {
	readable, _ := readableDirName(kind, id, name)
	if len(readable) > 180 {
		readable = readable[:180]
	}
	h := sha256.New()
	for _, p := range []string{kind.String(), id.Type().String(), id.Name(), name} {
		h.Write(binary.AppendUvarint(nil, uint64(len(p)))) // length-prefixed: no separator to confuse
		h.Write([]byte(p))
	}
	return readable + "-" + hex.EncodeToString(h.Sum(nil)[:6])
}

// legacyClientDirName is the name clientDirName gave before the hash.
func legacyClientDirName(kind component.Kind, id component.ID, name string) string {
	safe, raw := readableDirName(kind, id, name)
	if len(safe) > 200 {
		sum := sha256.Sum256([]byte(raw))
		safe = safe[:100] + "-" + hex.EncodeToString(sum[:16])
	}
	return safe
}

// readableDirName returns kind_type_name[_storage] made safe for a file
// name, and as it was before.
func readableDirName(kind component.Kind, id component.ID, name string) (safe, raw string) {
	parts := []string{strings.ToLower(kind.String()), id.Type().String(), id.Name()}
	if name != "" {
		parts = append(parts, name)
	}
	raw = strings.Join(parts, "_")
	safe = strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '~'
	}, raw)
	return safe, raw
}

// client is one component's storage.
type client struct {
	store *kvlog.Store
	owner *journalStorage
	name  string // its directory

	mu       sync.Mutex
	reported kvlog.Stats // totals already added to the self-metrics
}

var _ storage.Client = (*client)(nil)

func (c *client) Get(ctx context.Context, key string) ([]byte, error) {
	op := storage.GetOperation(key)
	err := c.Batch(ctx, op)
	return op.Value, err
}

func (c *client) Set(ctx context.Context, key string, value []byte) error {
	return c.Batch(ctx, storage.SetOperation(key, value))
}

func (c *client) Delete(ctx context.Context, key string) error {
	return c.Batch(ctx, storage.DeleteOperation(key))
}

// Batch applies ops in order as one atomic write.
func (c *client) Batch(ctx context.Context, ops ...*storage.Operation) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	err := c.store.Batch(ops)
	c.report()
	return err
}

// report adds what the store counted since the last report to the
// self-metrics.
func (c *client) report() {
	c.mu.Lock()
	// Read under c.mu: totals read outside it could be applied out of order
	// by concurrent batches, counting bytes twice.
	st := c.store.Stats()
	d := kvlog.Stats{
		BytesWritten:    st.BytesWritten - c.reported.BytesWritten,
		BytesCopied:     st.BytesCopied - c.reported.BytesCopied,
		TornBytes:       st.TornBytes - c.reported.TornBytes,
		SkippedBytes:    st.SkippedBytes - c.reported.SkippedBytes,
		SegmentsRemoved: st.SegmentsRemoved - c.reported.SegmentsRemoved,

		MaintenanceErrors: st.MaintenanceErrors - c.reported.MaintenanceErrors,
	}
	c.reported = st
	c.mu.Unlock()
	ctx := context.Background()
	t := c.owner.telemetry
	if d.BytesWritten > 0 {
		t.ExtensionJournalStorageWritten.Add(ctx, d.BytesWritten)
	}
	if d.BytesCopied > 0 {
		t.ExtensionJournalStorageCompactionCopied.Add(ctx, d.BytesCopied)
	}
	if d.TornBytes > 0 {
		t.ExtensionJournalStorageTorn.Add(ctx, d.TornBytes)
	}
	if d.SkippedBytes > 0 {
		t.ExtensionJournalStorageDamaged.Add(ctx, d.SkippedBytes)
	}
	if d.SegmentsRemoved > 0 {
		t.ExtensionJournalStorageSegmentsRemoved.Add(ctx, d.SegmentsRemoved)
	}
	if d.MaintenanceErrors > 0 {
		c.owner.logger.Warn("Journal segment rotation or compaction failed; writes continue and it is retried at the next rotation",
			zap.String("client", c.name), zap.Error(c.store.LastMaintenanceError()))
	}
}

// Close closes the client's journal. Idempotent.
func (c *client) Close(context.Context) error {
	c.owner.mu.Lock()
	delete(c.owner.clients, c)
	c.owner.mu.Unlock()
	return c.store.Close()
}
