package filetailreceiver // import "github.com/sluicelogs/sluice/receiver/filetailreceiver"

import (
	"os"
	"path/filepath"
	"syscall"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/otel/metric"

	"github.com/sluicelogs/sluice/receiver/filetailreceiver/internal/container"
	"github.com/sluicelogs/sluice/receiver/filetailreceiver/internal/fingerprint"
	"github.com/sluicelogs/sluice/receiver/filetailreceiver/internal/k8spath"
	"github.com/sluicelogs/sluice/receiver/filetailreceiver/internal/multiline"
	"github.com/sluicelogs/sluice/receiver/filetailreceiver/internal/reader"
)

// fileKey is a file's device and inode: stable while the file exists,
// reusable after it is deleted (so never an identity on its own).
type fileKey struct{ dev, ino uint64 }

func keyOf(fi os.FileInfo) fileKey {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return fileKey{dev: uint64(st.Dev), ino: st.Ino} //nolint:unconvert // Dev is int32 on some platforms
	}
	return fileKey{}
}

// ctimeOf returns the file's change time in nanoseconds (0 when unknown):
// it changes with every write, truncation, rename and inode reuse.
func ctimeOf(fi os.FileInfo) int64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ctim.Nano()
	}
	return 0
}

func linksOf(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Nlink) //nolint:unconvert // Nlink width differs by platform
	}
	return 1
}

// lineMeta is what a container runtime envelope says about a line.
type lineMeta struct {
	time   time.Time
	stream string
}

// tailedFile is an open file being tailed.
type tailedFile struct {
	seq  uint64 // creation order, for stable iteration
	path string
	name string
	key  fileKey
	f    *os.File

	// prefix holds up to fingerprint_size leading bytes; fp is their print.
	prefix []byte
	fp     fingerprint.Print

	rd     *reader.Reader
	joiner *container.Joiner
	agg    *multiline.Aggregator[lineMeta]
	// aggErr frames the stderr lines of a container log (created on the
	// first one): the runtime interleaves stdout and stderr in one file, and
	// a record must not take lines of the other stream.
	aggErr *multiline.Aggregator[lineMeta]
	emit   func(multiline.Record[lineMeta]) // bound once, no per-line closure

	// acked is the offset up to which every record was accepted downstream.
	acked int64
	// recorded is the last offset a pending delivery will acknowledge
	// (acked when none is pending), so unchanged files are not snapshotted
	// on every flush.
	recorded int64
	// generation counts restarts of the file from offset 0 (copytruncate):
	// offsets recorded before a restart belong to the old content.
	generation int
	// size is the file size seen at the last read pass.
	size int64
	// lastGrowth is when the file last grew (or was opened).
	lastGrowth time.Time
	// gone is set once the file's path no longer leads to it (renamed away
	// or deleted); it is then read to the end and released.
	gone    bool
	deleted bool

	resource pcommon.Map // k8s metadata and static attributes

	// lagAttr is the read-lag gauge attribute for lagPath (rebuilt on rename).
	lagPath string
	lagAttr metric.MeasurementOption
}

// safeOffset is the offset a checkpoint may advance to: nothing before it is
// buffered (an incomplete line, partial container chunks, a multiline record).
func (f *tailedFile) safeOffset() int64 {
	off := f.rd.Offset()
	if f.joiner != nil {
		if s, ok := f.joiner.Pending(); ok && s < off {
			off = s
		}
	}
	if f.agg != nil {
		if s, ok := f.agg.Pending(); ok && s < off {
			off = s
		}
		if f.aggErr != nil {
			if s, ok := f.aggErr.Pending(); ok && s < off {
				off = s
			}
		}
	}
	return off
}

// idle reports whether the file holds nothing undelivered and is read to its end.
func (f *tailedFile) idle() bool {
	return f.rd.ReadPos() >= f.size && f.rd.Buffered() == 0 && f.safeOffset() == f.acked
}

func newResource(path string, static map[string]string) pcommon.Map {
	res := pcommon.NewMap()
	for k, v := range static {
		// Empty: an unset variable (${env:K8S_NODE_NAME:-} on a VM) adds nothing.
		if v != "" {
			res.PutStr(k, v)
		}
	}
	if m, ok := k8spath.Parse(filepath.ToSlash(path)); ok {
		res.PutStr("k8s.namespace.name", m.Namespace)
		res.PutStr("k8s.pod.name", m.PodName)
		res.PutStr("k8s.container.name", m.Container)
		if m.PodUID != "" {
			res.PutStr("k8s.pod.uid", m.PodUID)
		}
		if m.HasRestartCount {
			res.PutInt("k8s.container.restart_count", int64(m.RestartCount))
		}
		if m.ContainerID != "" {
			res.PutStr("container.id", m.ContainerID)
		}
	}
	return res
}
