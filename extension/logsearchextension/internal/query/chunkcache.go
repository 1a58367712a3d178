package query

import (
	"context"
	"fmt"
	"io"
	"sort"

	"github.com/apache/arrow-go/v18/parquet/metadata"

	"github.com/sluicelogs/sluice/extension/logsearchextension/internal/archive"
)

// defaultMaterializeCacheBytes bounds the bytes of one row group held in
// memory while its rows are fetched one by one: each seek re-reads every
// column chunk (and the page index) of the row group, so without the cache
// a page of rows costs one ranged read per column per row. Row groups above
// it are streamed once instead. At most maxWorkers row groups are fetched at
// once, so a query holds at most 4 × 16 MiB of cached bytes.
const defaultMaterializeCacheBytes = 16 << 20

// coalesceGap is the largest hole between two byte ranges fetched with one
// read: fewer round trips for at most this many unneeded bytes per hole.
const coalesceGap = 64 << 10

// byteRange is a range of a file.
type byteRange struct{ off, n int64 }

func (r byteRange) end() int64 { return r.off + r.n }

// chunkRange returns the byte range the Parquet reader reads for column c
// of a row group: from the dictionary page (when first) over the total
// compressed size.
func chunkRange(rgm *metadata.RowGroupMetaData, c int) (start, length int64, err error) {
	col, err := rgm.ColumnChunk(c)
	if err != nil {
		return 0, 0, err
	}
	start = col.DataPageOffset()
	if col.HasDictionaryPage() && col.DictionaryPageOffset() > 0 && start > col.DictionaryPageOffset() {
		start = col.DictionaryPageOffset()
	}
	return start, col.TotalCompressedSize(), nil
}

// rowGroupRanges returns the byte ranges read to fetch rows of a row group
// (every column chunk and the offset index), merged where they are at most
// coalesceGap apart, and whether they fit in budget bytes and in the file.
func rowGroupRanges(rgm *metadata.RowGroupMetaData, size, budget int64) ([]byteRange, bool) {
	var rs []byteRange
	for c := 0; c < rgm.NumColumns(); c++ {
		start, n, err := chunkRange(rgm, c)
		if err != nil || start < 0 || n < 0 {
			return nil, false
		}
		rs = append(rs, byteRange{off: start, n: n})
		col, err := rgm.ColumnChunk(c)
		if err != nil {
			return nil, false
		}
		if loc := col.GetOffsetIndexLocation(); loc != nil && loc.Offset >= 0 && loc.Length > 0 {
			rs = append(rs, byteRange{off: loc.Offset, n: int64(loc.Length)})
		}
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].off < rs[j].off })
	var merged []byteRange
	var total int64
	for _, r := range rs {
		if r.end() > size {
			return nil, false
		}
		if k := len(merged) - 1; k >= 0 && r.off <= merged[k].end()+coalesceGap {
			if e := r.end(); e > merged[k].end() {
				total += e - merged[k].end()
				merged[k].n = e - merged[k].off
			}
			continue
		}
		merged = append(merged, r)
		total += r.n
	}
	return merged, total <= budget
}

// span is a fetched byte range.
type span struct {
	off  int64
	data []byte
}

// spanReader serves reads that fall inside its fetched spans from memory and
// passes the others through. The spans are fetched before the Parquet reader
// uses it and never change after, so concurrent reads are safe.
type spanReader struct {
	archive.ReadAtCloser
	spans []span // sorted by offset, disjoint
}

// fetch reads each range with one read.
func (r *spanReader) fetch(ctx context.Context, ranges []byteRange) error {
	for _, br := range ranges {
		if err := ctx.Err(); err != nil {
			return err
		}
		buf := make([]byte, br.n)
		if n, err := r.ReadAtCloser.ReadAt(buf, br.off); n < len(buf) {
			if err == nil {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("read %d bytes at %d: %w", br.n, br.off, err)
		}
		r.spans = append(r.spans, span{off: br.off, data: buf})
	}
	return nil
}

func (r *spanReader) ReadAt(p []byte, off int64) (int, error) {
	end := off + int64(len(p))
	i := sort.Search(len(r.spans), func(i int) bool { return r.spans[i].off+int64(len(r.spans[i].data)) >= end })
	if i < len(r.spans) && r.spans[i].off <= off {
		return copy(p, r.spans[i].data[off-r.spans[i].off:]), nil
	}
	return r.ReadAtCloser.ReadAt(p, off)
}

// wrappedStore opens objects through wrap.
type wrappedStore struct {
	archive.Store
	wrap func(archive.ReadAtCloser) archive.ReadAtCloser
}

func (s wrappedStore) Open(ctx context.Context, obj archive.Object) (archive.ReadAtCloser, error) {
	r, err := s.Store.Open(ctx, obj)
	if err != nil {
		return nil, err
	}
	return s.wrap(r), nil
}
