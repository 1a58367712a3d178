// Package archive lists and opens the files of a Parquet log archive: it
// walks the partition directories of a storage backend, keeps the files whose
// partition overlaps a query, and caches file footers (files are immutable
// once visible, so a footer never goes stale).
package archive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/apache/arrow-go/v18/parquet"
)

// Object is one archive file as listed by a Store.
type Object struct {
	// Key is the path relative to the archive root, '/'-separated.
	Key string
	// Size is the file size in bytes.
	Size int64
}

// Store is where the archive lives. Implementations must be safe for
// concurrent use.
type Store interface {
	// List returns every object whose key starts with prefix ("" = all).
	// A missing root is not an error: the archive is simply empty.
	List(ctx context.Context, prefix string) ([]Object, error)
	// Open returns a random-access reader over one object.
	Open(ctx context.Context, obj Object) (ReadAtCloser, error)
}

// DirLister is implemented by stores that can list one directory level
// (S3: ListObjectsV2 with delimiter "/"; local: ReadDir). The catalog uses
// it to walk only the partition directories a query can match; stores
// without it are listed by prefix only.
type DirLister interface {
	// ListDirs returns the names of the immediate subdirectories of prefix
	// ("" or ending in '/'), without hidden ones (names starting with '.').
	// A missing prefix is not an error.
	ListDirs(ctx context.Context, prefix string) ([]string, error)
}

// ReadAtCloser is what the Parquet reader needs, plus Close.
type ReadAtCloser interface {
	parquet.ReaderAtSeeker
	io.Closer
}

// LocalStore is an archive in a local directory.
type LocalStore struct {
	root string
}

// NewLocalStore returns a store rooted at dir.
func NewLocalStore(dir string) *LocalStore { return &LocalStore{root: filepath.Clean(dir)} }

// List walks the directory tree under root/prefix. Hidden entries (names
// starting with '.') are in-progress temporaries and are skipped, as are
// their subtrees.
func (s *LocalStore) List(ctx context.Context, prefix string) ([]Object, error) {
	start := s.root
	if prefix != "" {
		start = filepath.Join(s.root, filepath.FromSlash(strings.TrimSuffix(prefix, "/")))
	}
	var out []Object
	err := filepath.WalkDir(start, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) || path == start && errors.Is(err, syscall.ENOTDIR) {
				// Root missing (or a file where the prefix names a
				// directory), or a retention sweep removed a directory
				// while we walked: nothing to list there.
				return nil
			}
			return err
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		if path != start && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() || !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		rel, err := filepath.Rel(s.root, path)
		if err != nil {
			return err
		}
		out = append(out, Object{Key: filepath.ToSlash(rel), Size: info.Size()})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list archive directory %s: %w", start, err)
	}
	return out, nil
}

// ListDirs reads the directory root/prefix and returns its visible
// subdirectories.
func (s *LocalStore) ListDirs(ctx context.Context, prefix string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	dir := filepath.Join(s.root, filepath.FromSlash(strings.TrimSuffix(prefix, "/")))
	ents, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			return nil, nil
		}
		return nil, fmt.Errorf("list archive directory %s: %w", dir, err)
	}
	var out []string
	for _, d := range ents {
		if d.IsDir() && !strings.HasPrefix(d.Name(), ".") {
			out = append(out, d.Name())
		}
	}
	return out, nil
}

// Open opens one file of the archive.
func (s *LocalStore) Open(_ context.Context, obj Object) (ReadAtCloser, error) {
	f, err := os.Open(filepath.Join(s.root, filepath.FromSlash(obj.Key)))
	if err != nil {
		return nil, fmt.Errorf("open archive file %s: %w", obj.Key, err)
	}
	return f, nil
}
