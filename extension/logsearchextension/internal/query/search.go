package query

import (
	"container/heap"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/sluicelogs/sluice/internal/logarchive"
)

// Cursor marks the last record of a page; the next page continues after it
// in newest-first order. Records are totally ordered by (time, file, row).
type Cursor struct {
	TimeMicros int64
	File       string
	Row        int64
}

// Encode returns the opaque cursor string given to API clients.
func (c Cursor) Encode() string {
	s := strconv.FormatInt(c.TimeMicros, 10) + "|" + strconv.FormatInt(c.Row, 10) + "|" + c.File
	return base64.RawURLEncoding.EncodeToString([]byte(s))
}

// ParseCursor decodes a cursor string made by Encode.
func ParseCursor(s string) (Cursor, error) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return Cursor{}, errors.New("cursor is not valid base64url")
	}
	parts := strings.SplitN(string(raw), "|", 3)
	if len(parts) != 3 || parts[2] == "" {
		return Cursor{}, errors.New("cursor is malformed")
	}
	ts, err1 := strconv.ParseInt(parts[0], 10, 64)
	row, err2 := strconv.ParseInt(parts[1], 10, 64)
	if err1 != nil || err2 != nil || row < 0 {
		return Cursor{}, errors.New("cursor is malformed")
	}
	return Cursor{TimeMicros: ts, Row: row, File: parts[2]}, nil
}

// hit is a matching row found by a scan.
type hit struct {
	ts   int64 // micros
	nano int64
	file int
	rg   int
	row  int64 // row within the row group
}

// SearchResult is one page of a search.
type SearchResult struct {
	Records []Record
	// Next continues after the last record; nil when there are no more.
	Next  *Cursor
	Stats Stats
}

// Search returns up to limit records matching f, newest first, after the
// cursor when one is given.
func (e *Engine) Search(ctx context.Context, f Filter, limit int, after *Cursor) (*SearchResult, error) {
	if limit <= 0 {
		return nil, errors.New("limit must be positive")
	}
	var st Stats
	if after != nil {
		// Everything newer than the cursor was on earlier pages.
		bound := time.UnixMicro(after.TimeMicros + 1).UTC()
		if f.To.IsZero() || bound.Before(f.To) {
			f.To = bound
		}
	}
	files, err := e.selectFiles(ctx, &f, &st)
	if err != nil {
		return nil, err
	}
	// Files by the end of their partition, newest first: a file's records
	// are older than its partition's end, so once limit+1 records are held
	// the files ending at or before the oldest of them cannot change the
	// result, and their footers are never read.
	sort.SliceStable(files, func(i, j int) bool { return files[i].End.After(files[j].End) })
	p := newPlan(len(files))
	top := &newestHeap{p: p}
	want := limit + 1 // one more tells whether a next page exists
	km := newKeywordMatcher(f.Keyword)
	fc := &fileCursor{e: e, p: p, size: e.batchSize}
	defer fc.close()
	full := func(ts int64) bool { return top.Len() >= want && ts < top.hits[0].ts }
	// Newest row groups first, so the limit can stop the scan early; a
	// file's footer is read once its partition could hold records as new
	// as the newest row group pending.
	pending := &groupHeap{}
	// Once one file is read, the loop below reads every other file ending
	// at the same time before scanning anything (their row groups end
	// before it), so their footers are read together. Only row groups
	// without timestamp statistics, or with records past their partition's
	// end, can stop it earlier, leaving up to footerConcurrency-1 footers
	// read in vain.
	fp := e.prefetchFooters(ctx, files, &f, func(i, j int) bool { return files[j].End.Equal(files[i].End) })
	defer fp.close()
	next := 0
	for next < len(files) || pending.Len() > 0 {
		for next < len(files) && (pending.Len() == 0 || files[next].End.UnixMicro() > pending.refs[0].maxTS) {
			if full(files[next].End.UnixMicro() - 1) {
				st.FilesSkippedLimit += len(files) - next
				next = len(files)
				break
			}
			refs, err := p.add(files[next], fp.take(next), &st)
			if err != nil {
				return nil, err
			}
			next++
			for _, ref := range refs {
				heap.Push(pending, ref)
			}
		}
		if pending.Len() == 0 {
			continue
		}
		ref := heap.Pop(pending).(rowGroupRef)
		if full(ref.maxTS) {
			st.RowGroupsSkippedLimit += 1 + pending.Len()
			pending.refs = nil
			continue
		}
		err := e.scanRowGroup(ctx, fc, ref, &f, km, &st, func(b *batch, i int, row int64) error {
			h := hit{ts: b.timeMicros(i), file: ref.file, rg: ref.rg, row: row}
			if after != nil && !p.olderThanCursor(h, after) {
				return nil
			}
			if top.Len() < want {
				heap.Push(top, h)
			} else if p.newer(h, top.hits[0]) {
				top.hits[0] = h
				heap.Fix(top, 0)
			}
			return nil
		}, logarchive.ColTimestamp)
		if err != nil {
			return nil, err
		}
	}
	hits := make([]hit, top.Len())
	for i := len(hits) - 1; i >= 0; i-- {
		hits[i] = heap.Pop(top).(hit)
	}
	res := &SearchResult{}
	if len(hits) > limit {
		hits = hits[:limit]
		last := hits[len(hits)-1]
		res.Next = &Cursor{TimeMicros: last.ts, File: p.files[last.file].Key, Row: p.rowInFile(last)}
	}
	recs, _, err := e.materialize(ctx, p, hits, &st)
	if err != nil {
		return nil, err
	}
	res.Records = recs
	res.Stats = st
	return res, nil
}

// rowInFile numbers a row across the row groups of its file, so cursors do
// not depend on which row groups a query kept.
func (p *plan) rowInFile(h hit) int64 {
	md := p.infos[h.file].Meta
	var n int64
	for rg := 0; rg < h.rg; rg++ {
		n += md.RowGroup(rg).NumRows()
	}
	return n + h.row
}

// newer orders hits newest first: by time, then file key, then row.
func (p *plan) newer(a, b hit) bool {
	if a.ts != b.ts {
		return a.ts > b.ts
	}
	if a.file != b.file {
		return p.files[a.file].Key > p.files[b.file].Key
	}
	return p.rowInFile(a) > p.rowInFile(b)
}

func (p *plan) olderThanCursor(h hit, c *Cursor) bool {
	if h.ts != c.TimeMicros {
		return h.ts < c.TimeMicros
	}
	if k := p.files[h.file].Key; k != c.File {
		return k < c.File
	}
	return p.rowInFile(h) < c.Row
}

// newestHeap is a min-heap by newness: the root is the oldest kept hit.
type newestHeap struct {
	p    *plan
	hits []hit
}

func (h *newestHeap) Len() int           { return len(h.hits) }
func (h *newestHeap) Less(i, j int) bool { return h.p.newer(h.hits[j], h.hits[i]) }
func (h *newestHeap) Swap(i, j int)      { h.hits[i], h.hits[j] = h.hits[j], h.hits[i] }
func (h *newestHeap) Push(x any)         { h.hits = append(h.hits, x.(hit)) }
func (h *newestHeap) Pop() any {
	x := h.hits[len(h.hits)-1]
	h.hits = h.hits[:len(h.hits)-1]
	return x
}

// groupHeap is a max-heap of row groups by their newest timestamp.
type groupHeap struct{ refs []rowGroupRef }

func (h *groupHeap) Len() int           { return len(h.refs) }
func (h *groupHeap) Less(i, j int) bool { return h.refs[i].maxTS > h.refs[j].maxTS }
func (h *groupHeap) Swap(i, j int)      { h.refs[i], h.refs[j] = h.refs[j], h.refs[i] }
func (h *groupHeap) Push(x any)         { h.refs = append(h.refs, x.(rowGroupRef)) }
func (h *groupHeap) Pop() any {
	x := h.refs[len(h.refs)-1]
	h.refs = h.refs[:len(h.refs)-1]
	return x
}

// TraceResult is the timeline of one trace.
type TraceResult struct {
	Records []Record
	// Truncated is set when more than the maximum records matched.
	Truncated bool
	Stats     Stats
}

// traceScanFactor bounds the hits a trace scan collects before it gives up
// on completeness (a runaway trace must not exhaust memory).
const traceScanFactor = 16

// Trace returns the records of one trace in time order (oldest first), at
// most maxRecords of them. The scan reads only the trace_id column; record
// times are read only when more than maxRecords match.
func (e *Engine) Trace(ctx context.Context, traceID [16]byte, from, to time.Time, maxRecords int) (*TraceResult, error) {
	if maxRecords <= 0 {
		return nil, errors.New("maxRecords must be positive")
	}
	f := Filter{TraceID: traceID, HasTraceID: true, From: from, To: to}
	var st Stats
	p, err := e.plan(ctx, &f, &st)
	if err != nil {
		return nil, err
	}
	// Oldest row groups first: when the scan bound stops a runaway trace,
	// the groups left unread are the newest, so the oldest records (what a
	// truncated timeline promises) are among those found.
	sort.SliceStable(p.groups, func(i, j int) bool { return p.groups[i].minTS < p.groups[j].minTS })
	// Row groups that passed the bloom filter are few and independent:
	// read them in parallel.
	byGroup := make([][]hit, len(p.groups))
	var found, skipped atomic.Int64
	bound := int64(traceScanFactor * maxRecords)
	err = e.forEach(ctx, p, len(p.groups), maxWorkers(), &st, func(ctx context.Context, gi int, fc *fileCursor, st *Stats) error {
		if found.Load() > bound {
			skipped.Add(1)
			return nil
		}
		ref := p.groups[gi]
		if from.IsZero() && to.IsZero() {
			if p.missing[ref.file].Load() {
				return nil
			}
			err := e.scanTraceRows(ctx, fc, ref, traceID, st, func(row int64) {
				byGroup[gi] = append(byGroup[gi], hit{file: ref.file, rg: ref.rg, row: row})
				found.Add(1)
			})
			if err != nil {
				return e.skipMissing(ctx, p, ref.file, st, err)
			}
			return nil
		}
		return e.scanRowGroup(ctx, fc, ref, &f, nil, st, func(_ *batch, _ int, row int64) error {
			byGroup[gi] = append(byGroup[gi], hit{file: ref.file, rg: ref.rg, row: row})
			found.Add(1)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	var hits []hit
	for _, g := range byGroup {
		hits = append(hits, g...)
	}
	truncated := skipped.Load() > 0
	fc := &fileCursor{e: e, p: p, size: e.batchSize}
	defer fc.close()
	st.RowGroupsSkippedLimit += int(skipped.Load())
	if len(hits) > maxRecords {
		// Too many to fetch: read the times of the hits and keep the oldest.
		if err := e.fillTimes(ctx, fc, p, &f, &st, hits); err != nil {
			return nil, err
		}
		// Hits of files deleted meanwhile have no time.
		hits = slices.DeleteFunc(hits, func(h hit) bool { return p.missing[h.file].Load() })
		hits = p.oldest(hits, maxRecords)
		truncated = true
	}
	recs, hits, err := e.materialize(ctx, p, hits, &st)
	if err != nil {
		return nil, err
	}
	order := make([]int, len(recs))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool {
		ra, rb := recs[order[a]], recs[order[b]]
		if !ra.Timestamp.Equal(rb.Timestamp) {
			return ra.Timestamp.Before(rb.Timestamp)
		}
		ha, hb := hits[order[a]], hits[order[b]]
		if ra.File != rb.File {
			return ra.File < rb.File
		}
		if ha.rg != hb.rg {
			return ha.rg < hb.rg
		}
		return ha.row < hb.row
	})
	sorted := make([]Record, len(recs))
	for i, k := range order {
		sorted[i] = recs[k]
	}
	return &TraceResult{Records: sorted, Truncated: truncated, Stats: st}, nil
}

// fillTimes sets the nano field of hits (which are in scan order) by
// re-reading the time columns of their row groups.
func (e *Engine) fillTimes(ctx context.Context, fc *fileCursor, p *plan, f *Filter, st *Stats, hits []hit) error {
	next := 0
	for next < len(hits) {
		ref := rowGroupRef{file: hits[next].file, rg: hits[next].rg}
		err := e.scanRowGroup(ctx, fc, ref, f, nil, st, func(b *batch, i int, row int64) error {
			if next < len(hits) && hits[next].file == ref.file && hits[next].rg == ref.rg && hits[next].row == row {
				hits[next].nano = b.timeNanos(i)
				next++
			}
			return nil
		}, logarchive.ColTimestamp, logarchive.ColTimeUnixNano)
		if err != nil {
			return err
		}
		for next < len(hits) && hits[next].file == ref.file && hits[next].rg == ref.rg {
			if p.missing[ref.file].Load() {
				next++
				continue
			}
			return fmt.Errorf("file %s row group %d: row %d vanished", p.files[ref.file].Key, ref.rg, hits[next].row)
		}
	}
	return nil
}

// oldest sorts hits by exact time (then file, row) and keeps the first n.
func (p *plan) oldest(hits []hit, n int) []hit {
	sort.Slice(hits, func(i, j int) bool {
		a, b := hits[i], hits[j]
		if a.nano != b.nano {
			return a.nano < b.nano
		}
		if a.file != b.file {
			return p.files[a.file].Key < p.files[b.file].Key
		}
		if a.rg != b.rg {
			return a.rg < b.rg
		}
		return a.row < b.row
	})
	if len(hits) > n {
		hits = hits[:n]
	}
	return hits
}

// errTooMany reports a bound exceeded.
func errTooMany(what string, limit int) error {
	return fmt.Errorf("more than %d %s", limit, what)
}
