package query

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"

	"github.com/sluicelogs/sluice/extension/logsearchextension/internal/archive"
	"github.com/sluicelogs/sluice/internal/logarchive"
)

// Stats counts what a query read and what pruning let it skip.
type Stats struct {
	FilesScanned               int `json:"files_scanned"`
	FilesSkippedPartition      int `json:"files_skipped_partition"`
	FilesSkippedStatistics     int `json:"files_skipped_statistics"`
	RowGroupsScanned           int `json:"row_groups_scanned"`
	RowGroupsSkippedStatistics int `json:"row_groups_skipped_statistics"`
	RowGroupsSkippedBloom      int `json:"row_groups_skipped_bloom_filter"`
	RowGroupsSkippedLimit      int `json:"row_groups_skipped_limit"`
	// FilesSkippedLimit counts files a search left unread (footer
	// included) because their partition ends before the oldest of the
	// newest records it already holds.
	FilesSkippedLimit int   `json:"files_skipped_limit"`
	RowsScanned       int64 `json:"rows_scanned"`
	// FilesSkippedMissing counts listed files deleted before they could be
	// read (retention at the edge of the range).
	FilesSkippedMissing int `json:"files_skipped_missing"`
}

// rowGroupRef is one row group that survived pruning.
type rowGroupRef struct {
	file         int // index in plan.files
	rg           int
	minTS, maxTS int64 // timestamp column bounds in microseconds
}

type plan struct {
	files  []archive.File
	infos  []*archive.FileInfo
	groups []rowGroupRef
	// scanned marks files with at least one row group read.
	scanned []atomic.Bool
	// missing marks files found deleted while the query read them.
	missing []atomic.Bool
}

// plan lists the files the filter's partitions allow and keeps the row
// groups that statistics and bloom filters cannot rule out. Footers are read
// footerConcurrency at a time (each is a round trip on S3) and added in
// listing order, so the plan, its stats and the error returned are those of
// reading them one after another.
func (e *Engine) plan(ctx context.Context, f *Filter, st *Stats) (*plan, error) {
	files, err := e.selectFiles(ctx, f, st)
	if err != nil {
		return nil, err
	}
	p := newPlan(len(files))
	fp := e.prefetchFooters(ctx, files, f, func(int, int) bool { return true })
	defer fp.close()
	for i, af := range files {
		if _, err := p.add(af, fp.take(i), st); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// selectFiles lists the files the filter's partitions allow.
func (e *Engine) selectFiles(ctx context.Context, f *Filter, st *Stats) ([]archive.File, error) {
	lr, err := e.catalog.Select(ctx, archive.Selection{From: f.From, To: f.To, Service: f.Service, HasService: f.HasService})
	if err != nil {
		return nil, err
	}
	st.FilesSkippedPartition += lr.Skipped
	return lr.Files, nil
}

// newPlan returns an empty plan for at most n files.
func newPlan(n int) *plan {
	return &plan{scanned: make([]atomic.Bool, n), missing: make([]atomic.Bool, n)}
}

// footerRead is one file's footer with the row groups pruning keeps
// (their file index not yet set), before the file is added to a plan.
type footerRead struct {
	info   *archive.FileInfo // nil when no row group is kept
	groups []rowGroupRef
	// skippedStatistics and skippedBloom count the pruned row groups.
	skippedStatistics, skippedBloom int
	// missing is set when the file was deleted since it was listed.
	missing bool
	err     error
}

// readFooter reads the footer of af and prunes its row groups against f.
// It only reads: counting and adding to a plan is left to plan.add, so
// footers can be read concurrently and still be added in listing order.
func (e *Engine) readFooter(ctx context.Context, af archive.File, f *Filter) footerRead {
	rdr, fi, err := e.footers.Open(ctx, e.store, af.Object)
	if err != nil {
		if e.vanished(ctx, af.Object, err) {
			return footerRead{missing: true}
		}
		return footerRead{err: err}
	}
	defer rdr.Close()
	var r footerRead
	for rg := 0; rg < fi.Meta.NumRowGroups(); rg++ {
		ref, reason, err := pruneRowGroup(rdr, fi, rg, f)
		if err != nil {
			return footerRead{err: fmt.Errorf("file %s row group %d: %w", af.Key, rg, err)}
		}
		switch reason {
		case pruneStatistics:
			r.skippedStatistics++
		case pruneBloom:
			r.skippedBloom++
		default:
			r.groups = append(r.groups, ref)
		}
	}
	if len(r.groups) > 0 {
		r.info = fi
	}
	return r
}

// add adds file af, whose footer r holds, to p with the row groups pruning
// kept, which it returns (a file with none, or deleted since it was
// listed, is counted and left out); r's read error is returned.
func (p *plan) add(af archive.File, r footerRead, st *Stats) ([]rowGroupRef, error) {
	if r.err != nil {
		return nil, r.err
	}
	if r.missing {
		st.FilesSkippedMissing++
		return nil, nil
	}
	st.RowGroupsSkippedStatistics += r.skippedStatistics
	st.RowGroupsSkippedBloom += r.skippedBloom
	if len(r.groups) == 0 {
		st.FilesSkippedStatistics++
		return nil, nil
	}
	idx := len(p.files)
	first := len(p.groups)
	for _, ref := range r.groups {
		ref.file = idx
		p.groups = append(p.groups, ref)
	}
	p.files = append(p.files, af)
	p.infos = append(p.infos, r.info)
	return p.groups[first:], nil
}

// vanished reports whether err, from reading obj, is because obj was
// deleted after it was listed. Stores say so with fs.ErrNotExist; as a
// Parquet reader may not wrap its source's errors, any other failure is
// checked by listing the object again (only on this error path).
func (e *Engine) vanished(ctx context.Context, obj archive.Object, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	if errors.Is(err, fs.ErrNotExist) {
		return true
	}
	objs, lerr := e.store.List(ctx, obj.Key)
	if lerr != nil {
		return false
	}
	for _, o := range objs {
		if o.Key == obj.Key {
			return false
		}
	}
	return true
}

// skipMissing turns a read error of plan file idx into a skip when the
// file was deleted, counting the file once; other errors are returned.
func (e *Engine) skipMissing(ctx context.Context, p *plan, idx int, st *Stats, err error) error {
	if !e.vanished(ctx, p.files[idx].Object, err) {
		return err
	}
	if p.missing[idx].CompareAndSwap(false, true) {
		st.FilesSkippedMissing++
	}
	return nil
}

type pruneReason int

const (
	pruneNone pruneReason = iota
	pruneStatistics
	pruneBloom
)

func pruneRowGroup(rdr *file.Reader, fi *archive.FileInfo, rg int, f *Filter) (rowGroupRef, pruneReason, error) {
	ref := rowGroupRef{rg: rg, minTS: math.MinInt64, maxTS: math.MaxInt64}
	rgmd := fi.Meta.RowGroup(rg)
	if rgmd.NumRows() == 0 {
		return ref, pruneStatistics, nil
	}
	if st := columnStats(rgmd, fi.Leaf(logarchive.ColTimestamp)); st != nil {
		if s, ok := st.(*metadata.Int64Statistics); ok && s.HasMinMax() {
			ref.minTS, ref.maxTS = s.Min(), s.Max()
			if !f.From.IsZero() && ref.maxTS < f.From.UnixMicro() || !f.To.IsZero() && ref.minTS >= f.To.UnixMicro() {
				return ref, pruneStatistics, nil
			}
		}
	}
	if f.MinSeverity > 0 {
		if s, ok := columnStats(rgmd, fi.Leaf(logarchive.ColSeverityNumber)).(*metadata.Int32Statistics); ok && s.HasMinMax() && s.Max() < f.MinSeverity {
			return ref, pruneStatistics, nil
		}
	}
	if f.HasService {
		if s, ok := columnStats(rgmd, fi.Leaf(logarchive.ColServiceName)).(*metadata.ByteArrayStatistics); ok {
			if f.Service == "" {
				// The row filter takes null and "" alike (the exporter writes
				// an empty service.name as ""); "" sorts first, so a non-empty
				// min without nulls rules out both.
				if s.HasNullCount() && s.NullCount() == 0 && s.HasMinMax() && len(s.Min()) > 0 {
					return ref, pruneStatistics, nil
				}
			} else if s.HasMinMax() && (bytes.Compare([]byte(f.Service), s.Min()) < 0 || bytes.Compare([]byte(f.Service), s.Max()) > 0) {
				return ref, pruneStatistics, nil
			}
		}
	}
	if f.HasTraceID {
		col := fi.Leaf(logarchive.ColTraceID)
		if col < 0 {
			return ref, pruneStatistics, nil
		}
		if s, ok := columnStats(rgmd, col).(*metadata.FixedLenByteArrayStatistics); ok && s.HasMinMax() &&
			(bytes.Compare(f.TraceID[:], s.Min()) < 0 || bytes.Compare(f.TraceID[:], s.Max()) > 0) {
			return ref, pruneStatistics, nil
		}
		bfr, err := rdr.GetBloomFilterReader().RowGroup(rg)
		if err != nil {
			return ref, pruneNone, fmt.Errorf("bloom filter reader: %w", err)
		}
		absent := false
		// Visit recycles the filter's buffer after the check.
		err = bfr.VisitColumnBloomFilter(col, func(bf metadata.BloomFilter) error {
			if bf != nil {
				tbf := metadata.TypedBloomFilter[parquet.FixedLenByteArray]{BloomFilter: bf}
				absent = !tbf.Check(f.TraceID[:])
			}
			return nil
		})
		if err != nil {
			return ref, pruneNone, fmt.Errorf("read trace_id bloom filter: %w", err)
		}
		if absent {
			return ref, pruneBloom, nil
		}
	}
	return ref, pruneNone, nil
}

// columnStats returns the statistics of one column chunk, or nil.
func columnStats(rgmd *metadata.RowGroupMetaData, leaf int) metadata.TypedStatistics {
	if leaf < 0 {
		return nil
	}
	cc, err := rgmd.ColumnChunk(leaf)
	if err != nil {
		return nil
	}
	if ok, err := cc.StatsSet(); err != nil || !ok {
		return nil
	}
	st, err := cc.Statistics()
	if err != nil {
		return nil
	}
	return st
}
