package journalstorageextension

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

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
		if err := os.MkdirAll(j.cfg.Directory, 0o750); err != nil {
			return nil, fmt.Errorf("journal_storage: create directory: %w", err)
		}
	}
	store, err := kvlog.Open(filepath.Join(j.cfg.Directory, dirName), kvlog.Options{
		SegmentSize: j.cfg.SegmentSize,
		InlineMax:   j.cfg.InlineMax,
		FSync:       j.cfg.FSync,
	})
	if err != nil {
		return nil, fmt.Errorf("journal_storage: %w", err)
	}
	c := &client{store: store, owner: j, name: dirName}
	if torn := store.Stats().TornBytes; torn > 0 {
		j.logger.Warn("Discarded the unfinished last write of a journal (the process stopped mid-write; it was never acknowledged)",
			zap.String("client", dirName), zap.Int64("bytes", torn))
	}
	c.report()
	j.mu.Lock()
	j.clients[c] = struct{}{}
	j.mu.Unlock()
	return c, nil
}

// clientDirName is kind_type_name[_storage], with anything but letters,
// digits, '-', '_' and '.' replaced, hashed when too long for a file name.
func clientDirName(kind component.Kind, id component.ID, name string) string {
	parts := []string{strings.ToLower(kind.String()), id.Type().String(), id.Name()}
	if name != "" {
		parts = append(parts, name)
	}
	raw := strings.Join(parts, "_")
	safe := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '~'
	}, raw)
	if len(safe) > 200 {
		sum := sha256.Sum256([]byte(raw))
		safe = safe[:100] + "-" + hex.EncodeToString(sum[:16])
	}
	return safe
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
	st := c.store.Stats()
	c.mu.Lock()
	d := kvlog.Stats{
		BytesWritten:    st.BytesWritten - c.reported.BytesWritten,
		BytesCopied:     st.BytesCopied - c.reported.BytesCopied,
		TornBytes:       st.TornBytes - c.reported.TornBytes,
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
