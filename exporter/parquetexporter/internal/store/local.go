package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sluicelogs/sluice/internal/logarchive"
)

// Local stores the archive under a root directory.
type Local struct {
	root string
}

// NewLocal returns a Local store rooted at root (created if missing).
func NewLocal(root string) (*Local, error) {
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("create archive directory: %w", err)
	}
	return &Local{root: root}, nil
}

// String implements Store.
func (l *Local) String() string { return "file://" + l.root }

// Close implements Store; a local directory holds nothing to release.
func (*Local) Close() {}

// Put copies src to "<dir>/.<name>.tmp", fsyncs it, hard-links it under the
// final name (which, unlike a rename, never replaces an existing file) and
// fsyncs the directory, so readers never see a partial file.
func (l *Local) Put(ctx context.Context, key, src string, size int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	dst := filepath.Join(l.root, filepath.FromSlash(key))
	if !strings.HasPrefix(dst, filepath.Clean(l.root)+string(filepath.Separator)) {
		return fmt.Errorf("key %q escapes the archive root", key)
	}
	if done, err := alreadyPublished(dst, key, size); done || err != nil {
		return err
	}
	dir := filepath.Dir(dst)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create partition directory: %w", err)
	}
	tmp := filepath.Join(dir, "."+filepath.Base(dst)+".tmp")
	// A temporary left by a crash may be a link to the published file:
	// remove it rather than write through it.
	if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove stale temporary file: %w", err)
	}
	if err := copyFileSynced(src, tmp); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	err := os.Link(tmp, dst)
	_ = os.Remove(tmp)
	if errors.Is(err, fs.ErrExist) {
		// Published concurrently since the check above.
		if done, cerr := alreadyPublished(dst, key, size); done || cerr != nil {
			return cerr
		}
	}
	if err != nil {
		return fmt.Errorf("publish %s: %w", key, err)
	}
	return SyncDir(dir)
}

// alreadyPublished reports whether dst exists with size bytes (an earlier
// attempt published it) and fails with ErrConflict when it has another size.
func alreadyPublished(dst, key string, size int64) (bool, error) {
	fi, err := os.Lstat(dst)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("check %s: %w", key, err)
	case !fi.Mode().IsRegular() || fi.Size() != size:
		return false, fmt.Errorf("publish %s (%d bytes): existing file has %d bytes: %w", key, size, fi.Size(), ErrConflict)
	}
	return true, nil
}

func copyFileSynced(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("open staged file: %w", err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("create temporary file: %w", err)
	}
	if _, err := io.Copy(out, in); err != nil {
		_ = out.Close()
		return fmt.Errorf("copy to %s: %w", dst, err)
	}
	if err := out.Sync(); err != nil {
		_ = out.Close()
		return fmt.Errorf("sync %s: %w", dst, err)
	}
	return out.Close()
}

// SyncDir fsyncs a directory so a rename or create in it is durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open directory for sync: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

// DeleteBefore removes every partition directory of layout and signal whose
// time range ended at or before cutoff and returns how many it removed.
// Directories that do not parse as partitions, or (with {signal} in the
// template) belong to another signal, are left alone.
func (l *Local) DeleteBefore(layout *logarchive.Layout, signal string, cutoff time.Time) (int, error) {
	bySignal := strings.Contains(layout.Template(), logarchive.PlaceholderSignal)
	depth := strings.Count(layout.Template(), "/") + 1
	removed := 0
	var errs []error
	err := filepath.WalkDir(l.root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if !d.IsDir() || path == l.root {
			return nil
		}
		rel, err := filepath.Rel(l.root, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		n := strings.Count(rel, "/") + 1
		if n < depth {
			return nil
		}
		if n > depth {
			return fs.SkipDir
		}
		p, perr := layout.ParsePath(rel)
		if perr != nil || layout.End(p).After(cutoff) || bySignal && p.Signal != signal {
			return fs.SkipDir
		}
		if err := os.RemoveAll(path); err != nil {
			errs = append(errs, fmt.Errorf("remove partition %s: %w", rel, err))
			return fs.SkipDir
		}
		removed++
		return fs.SkipDir
	})
	if err != nil {
		errs = append(errs, err)
	}
	return removed, errors.Join(errs...)
}
