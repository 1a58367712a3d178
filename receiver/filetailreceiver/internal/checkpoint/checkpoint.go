// Package checkpoint persists the acknowledged offset of every tailed file,
// either in a collector storage extension (file_storage) or in a file written
// atomically (temp file, fsync, rename, fsync of the directory).
package checkpoint // import "github.com/sluicelogs/sluice/receiver/filetailreceiver/internal/checkpoint"

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"go.opentelemetry.io/collector/extension/xextension/storage"

	"github.com/sluicelogs/sluice/receiver/filetailreceiver/internal/fingerprint"
)

// formatVersion is stored with every checkpoint so the encoding can evolve.
const formatVersion = 1

// StorageKey is the key under which checkpoints are kept in a storage client.
const StorageKey = "file_tail.checkpoints"

// Entry is the saved state of one file.
type Entry struct {
	// Fingerprint identifies the file by its first bytes.
	Fingerprint fingerprint.Print `json:"-"`
	// Offset is where reading resumes: every byte before it was delivered.
	Offset int64 `json:"offset"`
	// Read is how far the file had been read when the entry was saved; the
	// bytes between Offset and Read are re-read after a restart.
	Read int64 `json:"read"`
	// Path is the last path the file was seen at (informational).
	Path string `json:"path"`
	// Dev and Ino are the device and inode, used to follow renames.
	Dev uint64 `json:"dev"`
	Ino uint64 `json:"ino"`
	// Updated is the Unix time in seconds of the last change, used to expire
	// entries of files gone for good.
	Updated int64 `json:"updated"`
}

type entryJSON struct {
	Entry
	FP string `json:"fp"`
}

type document struct {
	Version int         `json:"version"`
	Files   []entryJSON `json:"files"`
}

// Encode renders entries in the stored format.
func Encode(entries []Entry) ([]byte, error) {
	doc := document{Version: formatVersion, Files: make([]entryJSON, len(entries))}
	for i, e := range entries {
		doc.Files[i] = entryJSON{Entry: e, FP: e.Fingerprint.String()}
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("encode checkpoints: %w", err)
	}
	return b, nil
}

// Decode parses the stored format.
func Decode(b []byte) ([]Entry, error) {
	var doc document
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("decode checkpoints: %w", err)
	}
	if doc.Version != formatVersion {
		return nil, fmt.Errorf("decode checkpoints: unsupported version %d (want %d)", doc.Version, formatVersion)
	}
	out := make([]Entry, 0, len(doc.Files))
	for _, f := range doc.Files {
		fp, err := fingerprint.Parse(f.FP)
		if err != nil {
			return nil, fmt.Errorf("decode checkpoints: %w", err)
		}
		if f.Offset < 0 || f.Read < f.Offset {
			return nil, fmt.Errorf("decode checkpoints: bad offsets %d/%d for %q", f.Offset, f.Read, f.Path)
		}
		e := f.Entry
		e.Fingerprint = fp
		out = append(out, e)
	}
	return out, nil
}

// Store loads and saves the full set of entries.
type Store interface {
	// Load returns the saved entries: nil when nothing was ever saved, an
	// empty non-nil slice when an empty set was saved.
	Load(ctx context.Context) ([]Entry, error)
	// Save replaces the saved entries; it returns once they are durable.
	Save(ctx context.Context, entries []Entry) error
	// Close releases the store.
	Close(ctx context.Context) error
}

// Memory keeps entries in memory only (no persistence configured).
type Memory struct{ entries []Entry }

// Load returns the saved entries (none when nothing was saved yet).
func (m *Memory) Load(context.Context) ([]Entry, error) {
	if m.entries == nil {
		return nil, nil
	}
	return append([]Entry{}, m.entries...), nil
}

// Save replaces the saved entries.
func (m *Memory) Save(_ context.Context, entries []Entry) error {
	m.entries = append(make([]Entry, 0, len(entries)), entries...)
	return nil
}

// Close releases the store.
func (*Memory) Close(context.Context) error { return nil }

// Client keeps entries in a storage extension client under StorageKey.
type Client struct{ client storage.Client }

// NewClient wraps a storage client (e.g. from file_storage).
func NewClient(c storage.Client) *Client { return &Client{client: c} }

// Load returns the saved entries (none when nothing was saved yet).
func (c *Client) Load(ctx context.Context) ([]Entry, error) {
	b, err := c.client.Get(ctx, StorageKey)
	if err != nil {
		return nil, fmt.Errorf("load checkpoints from storage: %w", err)
	}
	if b == nil {
		return nil, nil
	}
	return Decode(b)
}

// Save replaces the saved entries.
func (c *Client) Save(ctx context.Context, entries []Entry) error {
	b, err := Encode(entries)
	if err != nil {
		return err
	}
	if err := c.client.Set(ctx, StorageKey, b); err != nil {
		return fmt.Errorf("save checkpoints to storage: %w", err)
	}
	return nil
}

// Close releases the store.
func (c *Client) Close(ctx context.Context) error { return c.client.Close(ctx) }

// File keeps entries in one file, replaced atomically on every save.
type File struct{ path string }

// NewFile stores checkpoints at dir/name.json, creating dir if needed.
func NewFile(dir, name string) (*File, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("create checkpoint_dir: %w", err)
	}
	return &File{path: filepath.Join(dir, name+".json")}, nil
}

// Path is the checkpoint file's path.
func (f *File) Path() string { return f.path }

// Load returns the saved entries (none when nothing was saved yet).
func (f *File) Load(context.Context) ([]Entry, error) {
	b, err := os.ReadFile(f.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load checkpoints: %w", err)
	}
	return Decode(b)
}

// Save replaces the saved entries.
func (f *File) Save(_ context.Context, entries []Entry) error {
	b, err := Encode(entries)
	if err != nil {
		return err
	}
	dir := filepath.Dir(f.path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(f.path)+".tmp*")
	if err != nil {
		return fmt.Errorf("save checkpoints: %w", err)
	}
	_, werr := tmp.Write(b)
	if werr == nil {
		werr = tmp.Sync()
	}
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), f.path)
	}
	if werr != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("save checkpoints: %w", werr)
	}
	// The rename is durable only once the directory entry is synced.
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("save checkpoints: sync dir: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("save checkpoints: sync dir: %w", err)
	}
	return nil
}

// Close releases the store.
func (*File) Close(context.Context) error { return nil }
