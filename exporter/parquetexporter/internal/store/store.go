// Package store publishes finished Parquet files into the archive: a local
// directory or an S3-compatible bucket. Both make a file visible atomically
// under a deterministic key, and publishing the same key twice is harmless,
// so an upload retried after a crash never creates a second copy.
package store

import (
	"context"
)

// Store publishes files into the archive.
type Store interface {
	// Put makes the local file at src (size bytes) visible under the
	// archive-relative key. When key already holds a file, Put succeeds
	// without changing it (S3 with conditional writes) or atomically
	// replaces it with identical content (local, S3 without them).
	Put(ctx context.Context, key, src string, size int64) error
	// String names the target for logs, e.g. "s3://bucket/prefix".
	String() string
	// Close releases network resources (idle connections); the store is not used afterwards.
	Close()
}
