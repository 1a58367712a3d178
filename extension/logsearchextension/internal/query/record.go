package query

import (
	"context"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/sluicelogs/sluice/extension/logsearchextension/internal/archive"
	"github.com/sluicelogs/sluice/internal/logarchive"
)

// Record is one archived log record as returned by the API.
type Record struct {
	Timestamp         time.Time         `json:"timestamp"`
	ObservedTimestamp *time.Time        `json:"observed_timestamp,omitempty"`
	SeverityNumber    int32             `json:"severity_number"`
	SeverityText      string            `json:"severity_text,omitempty"`
	Body              string            `json:"body"`
	TraceID           string            `json:"trace_id,omitempty"`
	SpanID            string            `json:"span_id,omitempty"`
	Flags             int64             `json:"flags,omitempty"`
	EventName         string            `json:"event_name,omitempty"`
	ServiceName       string            `json:"service_name,omitempty"`
	ScopeName         string            `json:"scope_name,omitempty"`
	ScopeVersion      string            `json:"scope_version,omitempty"`
	Attributes        map[string]string `json:"attributes"`
	Resource          map[string]string `json:"resource_attributes"`
	// File is the archive file holding the record (relative path).
	File string `json:"file"`
}

// materializeSeekMax is the number of wanted rows in a row group up to
// which rows are fetched one by one (seeking with the page index); above
// it, the row group is streamed once.
const materializeSeekMax = 16

// materialize reads every column of the hit rows and returns them in the
// order of hits, with the hits they came from: hits of files deleted since
// they were scanned are left out (and counted in st).
func (e *Engine) materialize(ctx context.Context, p *plan, hits []hit, st *Stats) ([]Record, []hit, error) {
	out := make([]Record, len(hits))
	groups := map[[2]int][]slot{}
	var keys [][2]int
	for pos, h := range hits {
		k := [2]int{h.file, h.rg}
		if _, ok := groups[k]; !ok {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], slot{row: h.row, pos: pos})
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i][0] != keys[j][0] {
			return keys[i][0] < keys[j][0]
		}
		return keys[i][1] < keys[j][1]
	})
	// Only files found missing are counted: materialization reads are not
	// pruning decisions.
	err := e.forEach(ctx, p, len(keys), maxWorkers(), st, func(ctx context.Context, ki int, _ *fileCursor, st *Stats) error {
		k := keys[ki]
		if p.missing[k[0]].Load() {
			return nil
		}
		slots := groups[k]
		sort.Slice(slots, func(i, j int) bool { return slots[i].row < slots[j].row })
		if err := e.materializeGroup(ctx, p, k[0], k[1], slots, out); err != nil {
			return e.skipMissing(ctx, p, k[0], st, err)
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	kept := hits[:0:0]
	recs := out[:0]
	for i, h := range hits {
		if !p.missing[h.file].Load() {
			kept = append(kept, h)
			recs = append(recs, out[i])
		}
	}
	return recs, kept, nil
}

// slot is a wanted row of a row group and its position in the output.
type slot struct {
	row int64
	pos int
}

// materializeGroup reads the rows of slots (sorted by row) from one row
// group into out.
func (e *Engine) materializeGroup(ctx context.Context, p *plan, fileIdx, rg int, slots []slot, out []Record) error {
	fi := p.infos[fileIdx]
	key := p.files[fileIdx].Key
	batchSize := e.batchSize
	seek := len(slots) <= materializeSeekMax
	var cache *spanReader
	var ranges []byteRange
	if seek && e.materializeCacheBytes > 0 {
		// Each seek re-reads every column chunk: fetch them once and seek
		// in memory, or stream the row group once when it is too large.
		var fits bool
		ranges, fits = rowGroupRanges(fi.Meta.RowGroup(rg), p.files[fileIdx].Size, e.materializeCacheBytes)
		if fits {
			cache = &spanReader{}
		} else {
			seek = false
		}
	}
	if seek {
		batchSize = 1
	}
	fc := &fileCursor{e: e, p: p, size: batchSize}
	if cache != nil {
		fc.wrap = func(r archive.ReadAtCloser) archive.ReadAtCloser {
			cache.ReadAtCloser = r
			return cache
		}
	}
	defer fc.close()
	of, err := fc.open(ctx, fileIdx)
	if err != nil {
		return err
	}
	if cache != nil {
		if err := cache.fetch(ctx, ranges); err != nil {
			return fmt.Errorf("file %s row group %d: %w", key, rg, err)
		}
	}
	rr, err := of.fr.GetRecordReader(ctx, nil, []int{rg})
	if err != nil {
		return fmt.Errorf("file %s row group %d: %w", key, rg, err)
	}
	defer rr.Release()
	if seek {
		for _, s := range slots {
			if err := rr.SeekToRow(s.row); err != nil {
				return fmt.Errorf("file %s row group %d: seek row %d: %w", key, rg, s.row, err)
			}
			if !rr.Next() {
				return fmt.Errorf("file %s row group %d: row %d missing: %v", key, rg, s.row, rr.Err())
			}
			b := bindBatch(rr.RecordBatch(), fi)
			out[s.pos] = b.record(0, key)
		}
		return nil
	}
	var base int64
	next := 0
	for next < len(slots) && rr.Next() {
		if err := ctx.Err(); err != nil {
			return err
		}
		rec := rr.RecordBatch()
		b := bindBatch(rec, fi)
		n := rec.NumRows()
		for next < len(slots) && slots[next].row < base+n {
			out[slots[next].pos] = b.record(int(slots[next].row-base), key)
			next++
		}
		base += n
	}
	if next < len(slots) {
		return fmt.Errorf("file %s row group %d: row %d missing: %v", key, rg, slots[next].row, rr.Err())
	}
	return nil
}

// record converts row i of a batch holding every column.
func (b *batch) record(i int, file string) Record {
	r := Record{
		Timestamp:    time.Unix(0, b.timeNanos(i)).UTC(),
		SeverityText: strings.Clone(b.str(b.sevText, i)),
		Body:         strings.Clone(b.str(b.body, i)),
		ServiceName:  strings.Clone(b.str(b.service, i)),
		File:         file,
	}
	if b.severity != nil {
		r.SeverityNumber = b.severity.Value(i)
	}
	rec := b.rec
	sc := rec.Schema()
	col := func(name string) int {
		if idx := sc.FieldIndices(name); len(idx) > 0 {
			return idx[0]
		}
		return -1
	}
	if c := col(logarchive.ColObservedTimeUnixNano); c >= 0 {
		if a, ok := rec.Column(c).(*array.Int64); ok && a.IsValid(i) {
			t := time.Unix(0, a.Value(i)).UTC()
			r.ObservedTimestamp = &t
		}
	}
	if b.trace != nil && b.trace.IsValid(i) {
		r.TraceID = hex.EncodeToString(b.trace.Value(i))
	}
	if b.span != nil && b.span.IsValid(i) {
		r.SpanID = hex.EncodeToString(b.span.Value(i))
	}
	if c := col(logarchive.ColFlags); c >= 0 {
		if a, ok := rec.Column(c).(*array.Int64); ok && a.IsValid(i) {
			r.Flags = a.Value(i)
		}
	}
	strCol := func(name string) string {
		if c := col(name); c >= 0 {
			if a, ok := rec.Column(c).(*array.String); ok && a.IsValid(i) {
				return strings.Clone(a.Value(i))
			}
		}
		return ""
	}
	r.EventName = strCol(logarchive.ColEventName)
	r.ScopeName = strCol(logarchive.ColScopeName)
	r.ScopeVersion = strCol(logarchive.ColScopeVersion)
	r.Attributes = mapValues(b.attrs, i)
	r.Resource = mapValues(b.resource, i)
	// Promoted columns go back under their attribute keys.
	for _, pa := range b.promoted {
		if v, ok := promotedString(pa.arr, i); ok {
			v = strings.Clone(v)
			if pa.col.Source == logarchive.SourceResource {
				r.Resource[pa.col.Key] = v
			} else {
				r.Attributes[pa.col.Key] = v
			}
		}
	}
	return r
}

func mapValues(m *array.Map, i int) map[string]string {
	out := map[string]string{}
	if m == nil || m.IsNull(i) {
		return out
	}
	keys, ok1 := m.Keys().(*array.String)
	items, ok2 := m.Items().(*array.String)
	if !ok1 || !ok2 {
		return out
	}
	start, end := m.ValueOffsets(i)
	for j := int(start); j < int(end); j++ {
		if items.IsNull(j) {
			out[strings.Clone(keys.Value(j))] = ""
			continue
		}
		out[strings.Clone(keys.Value(j))] = strings.Clone(items.Value(j))
	}
	return out
}
