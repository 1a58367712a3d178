package query

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/sluicelogs/sluice/extension/logsearchextension/internal/archive"
	"github.com/sluicelogs/sluice/internal/logarchive"
)

// DefaultBatchSize is the number of rows decoded at a time while scanning;
// it bounds the memory of one scan together with the projected columns.
const DefaultBatchSize = 8192

// Options configure an Engine.
type Options struct {
	// Store holds the archive.
	Store archive.Store
	// Layout is the archive's partition layout.
	Layout *logarchive.Layout
	// FooterCacheSize is the number of file footers kept parsed.
	FooterCacheSize int
	// FooterConcurrency is the number of file footers one query reads at
	// once (default DefaultFooterConcurrency; 1 reads them one at a time).
	FooterConcurrency int
	// BatchSize is the rows decoded per batch (default DefaultBatchSize).
	BatchSize int64
	// Allocator allocates Arrow buffers (default Go allocator).
	Allocator memory.Allocator
}

// Engine answers queries over one archive. It is safe for concurrent use.
type Engine struct {
	store   archive.Store
	catalog *archive.Catalog
	layout  *logarchive.Layout
	footers *archive.FooterCache
	// footerConcurrency bounds the footers one query reads at once.
	footerConcurrency int
	batchSize         int64
	mem               memory.Allocator
	// materializeCacheBytes bounds the bytes of a row group held to fetch
	// its rows one by one (0 reads them again for every row: tests only).
	materializeCacheBytes int64
}

// New returns an engine over the logs signal of an archive.
func New(o Options) (*Engine, error) {
	if o.Store == nil || o.Layout == nil {
		return nil, errors.New("query engine needs a store and a layout")
	}
	if o.BatchSize <= 0 {
		o.BatchSize = DefaultBatchSize
	}
	if o.Allocator == nil {
		o.Allocator = memory.NewGoAllocator()
	}
	if o.FooterConcurrency <= 0 {
		o.FooterConcurrency = DefaultFooterConcurrency
	}
	return &Engine{
		store:             o.Store,
		catalog:           &archive.Catalog{Store: o.Store, Layout: o.Layout, Signal: logarchive.SignalLogs},
		layout:            o.Layout,
		footers:           archive.NewFooterCache(o.FooterCacheSize),
		footerConcurrency: o.FooterConcurrency,
		batchSize:         o.BatchSize,
		mem:               o.Allocator,

		materializeCacheBytes: defaultMaterializeCacheBytes,
	}, nil
}

// openFile is a file opened for reading row groups.
type openFile struct {
	idx int
	rdr *file.Reader
	fr  *pqarrow.FileReader
}

// fileCursor keeps the most recently used file open so consecutive row
// groups of one file share a reader; at most one file is open at a time.
type fileCursor struct {
	e    *Engine
	p    *plan
	cur  *openFile
	size int64
	// parallel decodes the columns of a read concurrently (used to fetch
	// whole rows, where per-column setup dominates).
	parallel bool
	// wrap, when set, wraps every object opened.
	wrap func(archive.ReadAtCloser) archive.ReadAtCloser
}

func (c *fileCursor) open(ctx context.Context, idx int) (*openFile, error) {
	if c.cur != nil && c.cur.idx == idx {
		return c.cur, nil
	}
	c.close()
	store := c.e.store
	if c.wrap != nil {
		store = wrappedStore{Store: store, wrap: c.wrap}
	}
	rdr, _, err := c.e.footers.Open(ctx, store, c.p.files[idx].Object)
	if err != nil {
		return nil, err
	}
	fr, err := pqarrow.NewFileReader(rdr, pqarrow.ArrowReadProperties{BatchSize: c.size, Parallel: c.parallel}, c.e.mem)
	if err != nil {
		rdr.Close()
		return nil, fmt.Errorf("file %s: %w", c.p.files[idx].Key, err)
	}
	c.cur = &openFile{idx: idx, rdr: rdr, fr: fr}
	return c.cur, nil
}

func (c *fileCursor) close() {
	if c.cur != nil {
		c.cur.rdr.Close()
		c.cur = nil
	}
}

// columnsFor returns the leaf indices of the named columns present in fi.
func columnsFor(fi *archive.FileInfo, names []string) []int {
	var leaves []int
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n] {
			continue
		}
		seen[n] = true
		leaves = append(leaves, fi.Leaves(n)...)
	}
	return leaves
}

// filterColumns lists the columns needed to evaluate f row by row.
func filterColumns(f *Filter, fi *archive.FileInfo, extra ...string) []string {
	cols := append([]string(nil), extra...)
	if !f.From.IsZero() || !f.To.IsZero() {
		cols = append(cols, logarchive.ColTimestamp)
	}
	if f.HasService {
		cols = append(cols, logarchive.ColServiceName)
	}
	if f.MinSeverity > 0 {
		cols = append(cols, logarchive.ColSeverityNumber)
	}
	if f.HasTraceID {
		cols = append(cols, logarchive.ColTraceID)
	}
	if f.Keyword != "" {
		cols = append(cols, logarchive.ColBody)
	}
	for _, a := range f.Attributes {
		if a.Key == "service.name" {
			cols = append(cols, logarchive.ColServiceName)
		}
		for _, p := range fi.Promoted {
			if p.Key == a.Key {
				cols = append(cols, p.Column)
			}
		}
		cols = append(cols, logarchive.ColAttributes, logarchive.ColResourceAttributes)
	}
	return cols
}

// rowVisitor receives the rows of a batch that pass the filter. row is the
// row number within the row group.
type rowVisitor func(b *batch, i int, row int64) error

// errStop ends a scan early without error.
var errStop = errors.New("stop scan")

// scanRowGroup streams the filter columns (plus extra) of one row group and
// calls visit for each matching row.
// A file deleted since the plan listed it is skipped (see skipMissing).
func (e *Engine) scanRowGroup(ctx context.Context, fc *fileCursor, ref rowGroupRef, f *Filter, km *keywordMatcher, st *Stats, visit rowVisitor, extra ...string) error {
	if fc.p.missing[ref.file].Load() {
		return nil
	}
	of, err := fc.open(ctx, ref.file)
	if err != nil {
		return e.skipMissing(ctx, fc.p, ref.file, st, err)
	}
	fi := fc.p.infos[ref.file]
	leaves := columnsFor(fi, filterColumns(f, fi, extra...))
	rr, err := of.fr.GetRecordReader(ctx, leaves, []int{ref.rg})
	if err != nil {
		return e.skipMissing(ctx, fc.p, ref.file, st, fmt.Errorf("file %s row group %d: %w", fc.p.files[ref.file].Key, ref.rg, err))
	}
	defer rr.Release()
	st.RowGroupsScanned++
	if fc.p.scanned[ref.file].CompareAndSwap(false, true) {
		st.FilesScanned++
	}
	ev, err := newEvaluator(f, fi, km)
	if err != nil {
		return err
	}
	var row int64
	for rr.Next() {
		if err := ctx.Err(); err != nil {
			return err
		}
		rec := rr.RecordBatch()
		b := bindBatch(rec, fi)
		n := int(rec.NumRows())
		st.RowsScanned += int64(n)
		for i := 0; i < n; i++ {
			if ev.match(&b, i) {
				if err := visit(&b, i, row+int64(i)); err != nil {
					return err
				}
			}
		}
		row += int64(n)
	}
	if err := rr.Err(); err != nil && !errors.Is(err, errStop) {
		return e.skipMissing(ctx, fc.p, ref.file, st, fmt.Errorf("read file %s row group %d: %w", fc.p.files[ref.file].Key, ref.rg, err))
	}
	return nil
}

// batch gives typed access to the columns of one record batch; absent
// columns are nil.
type batch struct {
	rec      arrow.RecordBatch
	ts       *array.Timestamp
	nano     *array.Int64
	service  *array.String
	severity *array.Int32
	sevText  *array.String
	body     *array.String
	trace    *array.FixedSizeBinary
	span     *array.FixedSizeBinary
	attrs    *array.Map
	resource *array.Map
	promoted []promotedArray
}

type promotedArray struct {
	col logarchive.PromotedColumn
	arr arrow.Array
}

func bindBatch(rec arrow.RecordBatch, fi *archive.FileInfo) batch {
	b := batch{rec: rec}
	sc := rec.Schema()
	get := func(name string) arrow.Array {
		if idx := sc.FieldIndices(name); len(idx) > 0 {
			return rec.Column(idx[0])
		}
		return nil
	}
	b.ts, _ = get(logarchive.ColTimestamp).(*array.Timestamp)
	b.nano, _ = get(logarchive.ColTimeUnixNano).(*array.Int64)
	b.service, _ = get(logarchive.ColServiceName).(*array.String)
	b.severity, _ = get(logarchive.ColSeverityNumber).(*array.Int32)
	b.sevText, _ = get(logarchive.ColSeverityText).(*array.String)
	b.body, _ = get(logarchive.ColBody).(*array.String)
	b.trace, _ = get(logarchive.ColTraceID).(*array.FixedSizeBinary)
	b.span, _ = get(logarchive.ColSpanID).(*array.FixedSizeBinary)
	b.attrs, _ = get(logarchive.ColAttributes).(*array.Map)
	b.resource, _ = get(logarchive.ColResourceAttributes).(*array.Map)
	for _, p := range fi.Promoted {
		if a := get(p.Column); a != nil {
			b.promoted = append(b.promoted, promotedArray{col: p, arr: a})
		}
	}
	return b
}

func (b *batch) str(a *array.String, i int) string {
	if a == nil || a.IsNull(i) {
		return ""
	}
	return a.Value(i)
}

// timeMicros returns the row's timestamp column value.
func (b *batch) timeMicros(i int) int64 { return int64(b.ts.Value(i)) }

// timeNanos returns the exact record time: time_unix_nano when set, else
// the microsecond timestamp.
func (b *batch) timeNanos(i int) int64 {
	if b.nano != nil && b.nano.IsValid(i) {
		return b.nano.Value(i)
	}
	return int64(b.ts.Value(i)) * 1000
}

// mapLookup returns the value of key in the map at row i.
func mapLookup(m *array.Map, i int, key string) (string, bool) {
	if m == nil || m.IsNull(i) {
		return "", false
	}
	keys, ok1 := m.Keys().(*array.String)
	items, ok2 := m.Items().(*array.String)
	if !ok1 || !ok2 {
		return "", false
	}
	start, end := m.ValueOffsets(i)
	for j := int(start); j < int(end); j++ {
		if keys.Value(j) == key {
			if items.IsNull(j) {
				return "", true
			}
			return items.Value(j), true
		}
	}
	return "", false
}

// promotedString renders a promoted column value the way attribute maps
// store non-string values (JSON text).
func promotedString(a arrow.Array, i int) (string, bool) {
	if a.IsNull(i) {
		return "", false
	}
	switch a := a.(type) {
	case *array.String:
		return a.Value(i), true
	case *array.Int64:
		return strconv.FormatInt(a.Value(i), 10), true
	case *array.Float64:
		return strconv.FormatFloat(a.Value(i), 'g', -1, 64), true
	case *array.Boolean:
		return strconv.FormatBool(a.Value(i)), true
	}
	return "", false
}
