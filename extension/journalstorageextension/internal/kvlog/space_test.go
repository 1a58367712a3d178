package kvlog

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/extension/xextension/storage"
)

// fakeDisk models a file system with free bytes: allocating and writing
// past what a file already holds takes them, removing a file gives back
// what it held. Out of bytes, both fail with ENOSPC.
type fakeDisk struct {
	mu        sync.Mutex
	free      int64
	held      map[*os.File]int64 // bytes allocated or written per file
	failRemov int                // removals to fail
}

func newFakeDisk(free int64) *fakeDisk {
	return &fakeDisk{free: free, held: map[*os.File]int64{}}
}

func (d *fakeDisk) ops() *fileOps {
	return &fileOps{
		writeAt: func(f *os.File, b []byte, off int64) (int, error) {
			d.mu.Lock()
			defer d.mu.Unlock()
			need := off + int64(len(b)) - d.held[f]
			if need > 0 {
				if need > d.free {
					return 0, &os.PathError{Op: "write", Path: f.Name(), Err: syscall.ENOSPC}
				}
				d.free -= need
				d.held[f] += need
			}
			return f.WriteAt(b, off)
		},
		allocate: func(f *os.File, size int64) error {
			d.mu.Lock()
			defer d.mu.Unlock()
			need := size - d.held[f]
			if need > d.free {
				return syscall.ENOSPC
			}
			if need > 0 {
				d.free -= need
				d.held[f] += need
			}
			return nil
		},
		remove: func(f *os.File, path string) error {
			d.mu.Lock()
			defer d.mu.Unlock()
			if d.failRemov > 0 {
				d.failRemov--
				return &os.PathError{Op: "remove", Path: path, Err: syscall.EBUSY}
			}
			if err := os.Remove(path); err != nil {
				return err
			}
			d.free += d.held[f]
			delete(d.held, f)
			return nil
		},
	}
}

// A persistent queue on a full disk: new items are refused with
// ErrStorageFull, but every delete that drains the queue goes through, and
// once compaction has freed segments new items are accepted again.
func TestFullDiskStillDrains(t *testing.T) {
	dir := t.TempDir()
	disk := newFakeDisk(40 << 10)
	opts := testOptions()
	opts.files = disk.ops()
	s := open(t, dir, opts)
	item := bytes.Repeat([]byte("i"), 300)
	n := 0
	var fullErr error
	for ; n < 1000; n++ {
		fullErr = s.Batch([]*storage.Operation{storage.SetOperation(fmt.Sprintf("item/%d", n), item), storage.SetOperation("wi", fmt.Append(nil, n))})
		if fullErr != nil {
			break
		}
	}
	require.ErrorIs(t, fullErr, storage.ErrStorageFull)
	require.Positive(t, n)
	require.Nil(t, get(t, s, fmt.Sprintf("item/%d", n)), "the refused item is not there")

	for i := range n {
		// The queue's read (get the item, record it dispatched) and delete.
		ops := []*storage.Operation{storage.GetOperation(fmt.Sprintf("item/%d", i)), storage.SetOperation("di", fmt.Append(nil, i))}
		require.NoError(t, s.Batch(ops), "read %d of %d", i, n)
		require.Equal(t, item, ops[0].Value)
		require.NoError(t, s.Batch([]*storage.Operation{storage.DeleteOperation(fmt.Sprintf("item/%d", i)), storage.SetOperation("ri", fmt.Append(nil, i))}), "delete %d of %d", i, n)
	}
	set(t, s, "item/after", item)
	require.NoError(t, s.Close())

	s = open(t, dir, testOptions())
	for i := range n {
		require.Nil(t, get(t, s, fmt.Sprintf("item/%d", i)))
	}
	require.Equal(t, item, get(t, s, "item/after"))
	require.Equal(t, fmt.Append(nil, n-1), get(t, s, "ri"))
}

// Without a spare (no fallocate), a write that fails for space compacts and
// retries once: segments made dead since the last rotation are freed then,
// not only after the next rotation (which needs a successful write).
func TestFullDiskWithoutPreallocationCompactsAndRetries(t *testing.T) {
	dir := t.TempDir()
	disk := newFakeDisk(1 << 20)
	opts := testOptions()
	files := disk.ops()
	files.allocate = func(*os.File, int64) error { return errors.ErrUnsupported }
	opts.files = files
	s := open(t, dir, opts)
	require.NoFileExists(t, filepath.Join(dir, spareName))
	item := bytes.Repeat([]byte("i"), 300)
	for i := range 40 {
		set(t, s, fmt.Sprintf("item/%d", i), item)
	}
	for i := range 40 {
		require.NoError(t, s.Batch([]*storage.Operation{storage.DeleteOperation(fmt.Sprintf("item/%d", i))}))
	}
	before := len(segments(t, dir))
	require.Greater(t, before, 2, "dead segments wait for the next rotation")
	disk.mu.Lock()
	disk.free = 0 // something else filled the disk
	disk.mu.Unlock()
	set(t, s, "item/after", item)
	require.Less(t, len(segments(t, dir)), before)
	require.NoError(t, s.Close())
	s = open(t, dir, testOptions())
	require.Equal(t, item, get(t, s, "item/after"))
	require.Nil(t, get(t, s, "item/0"))
}

// A segment whose removal failed stays first in line (no later segment may
// go before it) without breaking Close, and is removed at the next try.
func TestFailedSegmentRemovalIsRetried(t *testing.T) {
	dir := t.TempDir()
	disk := newFakeDisk(1 << 30)
	disk.failRemov = 1 << 20
	opts := testOptions()
	opts.files = disk.ops()
	s := open(t, dir, opts)
	value := bytes.Repeat([]byte("v"), 500)
	churn := func(s *Store) {
		for i := range 20 {
			set(t, s, "churn", value)
			if i == 3 {
				set(t, s, "kept", []byte("k"))
			}
		}
	}
	churn(s)
	require.ErrorContains(t, s.LastMaintenanceError(), "remove segment")
	require.Zero(t, s.Stats().SegmentsRemoved)
	require.NoError(t, s.Close(), "the closed file of the segment left behind is not closed again")

	disk.failRemov = 1
	s = open(t, dir, opts)
	churn(s)
	require.Positive(t, s.Stats().SegmentsRemoved, "retried at the next rotation")
	require.NoError(t, s.Close())
	s = open(t, dir, testOptions())
	require.Equal(t, value, get(t, s, "churn"))
	require.Equal(t, []byte("k"), get(t, s, "kept"))
}
