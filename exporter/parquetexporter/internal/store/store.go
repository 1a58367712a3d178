// Package store publishes finished Parquet files into the archive: a local
// directory or an S3-compatible bucket. Both make a file visible atomically
// under a deterministic key and never replace an existing file: publishing
// the same file twice is harmless (an upload retried after a crash never
// creates a second copy), and a different file under a taken key is an error.
package store

import (
	"context"
	"errors"
	"syscall"
)

// ErrConflict means the key already holds a file of a different size: some
// other writer published under the same name. The archive file is kept.
var ErrConflict = errors.New("archive already holds a different file under this key")

// Permanent reports whether a Put error can never go away by retrying the
// same key: a conflicting file, or a path too long for the file system.
func Permanent(err error) bool {
	return errors.Is(err, ErrConflict) || errors.Is(err, syscall.ENAMETOOLONG)
}

// Store publishes files into the archive.
type Store interface {
	// Put makes the local file at src (size bytes) visible under the
	// archive-relative key. When key already holds a file of the same size
	// (an earlier attempt published it), Put succeeds without changing it;
	// of another size, it fails with ErrConflict and leaves it alone. S3
	// without conditional writes cannot tell and replaces the object.
	Put(ctx context.Context, key, src string, size int64) error
	// String names the target for logs, e.g. "s3://bucket/prefix".
	String() string
	// Close releases network resources (idle connections); the store is not used afterwards.
	Close()
}
