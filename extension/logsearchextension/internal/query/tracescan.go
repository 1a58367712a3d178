package query

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"

	"github.com/sluicelogs/sluice/internal/logarchive"
)

// scanTraceRows finds the rows of one row group whose trace_id equals id by
// reading the column's values directly (no Arrow arrays): a trace lookup
// reads whole trace_id chunks of the few row groups its bloom filter kept,
// and this is its hot loop.
func (e *Engine) scanTraceRows(ctx context.Context, fc *fileCursor, ref rowGroupRef, id [16]byte, st *Stats, visit func(row int64)) error {
	of, err := fc.open(ctx, ref.file)
	if err != nil {
		return err
	}
	fi := fc.p.infos[ref.file]
	key := fc.p.files[ref.file].Key
	col := fi.Leaf(logarchive.ColTraceID)
	if col < 0 {
		return nil
	}
	st.RowGroupsScanned++
	if fc.p.scanned[ref.file].CompareAndSwap(false, true) {
		st.FilesScanned++
	}
	maxDef := fi.Meta.Schema.Column(col).MaxDefinitionLevel()
	if done, err := scanPlainTracePages(ctx, of.rdr.RowGroup(ref.rg), col, maxDef, id, st, visit); err != nil {
		return fmt.Errorf("file %s row group %d: %w", key, ref.rg, err)
	} else if done {
		return nil
	}
	// Pages this fast path does not handle (dictionary-encoded, V2, …):
	// decode values with the column reader.
	cr, err := of.rdr.RowGroup(ref.rg).Column(col)
	if err != nil {
		return fmt.Errorf("file %s row group %d: trace_id column: %w", key, ref.rg, err)
	}
	flba, ok := cr.(*file.FixedLenByteArrayColumnChunkReader)
	if !ok {
		return fmt.Errorf("file %s: trace_id is %T, want fixed-length byte array", key, cr)
	}
	batch := int(e.batchSize)
	values := make([]parquet.FixedLenByteArray, batch)
	defs := make([]int16, batch)
	var row int64
	for flba.HasNext() {
		if err := ctx.Err(); err != nil {
			return err
		}
		levels, n, err := flba.ReadBatch(int64(batch), values, defs, nil)
		if err != nil {
			return fmt.Errorf("file %s row group %d: read trace_id: %w", key, ref.rg, err)
		}
		if levels == 0 {
			break
		}
		st.RowsScanned += levels
		v := 0
		for i := 0; i < int(levels); i++ {
			if defs[i] < maxDef {
				continue // null trace id
			}
			if v < n && bytes.Equal(values[v], id[:]) {
				visit(row + int64(i))
			}
			v++
		}
		row += levels
	}
	return nil
}

// scanPlainTracePages searches the trace_id pages of a row group in place:
// in a V1 data page with PLAIN encoding the non-null ids are contiguous
// 16-byte values, so bytes.Index finds a match without decoding anything;
// definition levels are decoded only to turn a match into a row number. It
// reports false (having visited nothing) when a page is in another format.
func scanPlainTracePages(ctx context.Context, rgr *file.RowGroupReader, col int, maxDef int16, id [16]byte, st *Stats, visit func(row int64)) (bool, error) {
	pr, err := rgr.GetColumnPageReader(col)
	if err != nil {
		return false, fmt.Errorf("trace_id pages: %w", err)
	}
	defer pr.Close()
	if maxDef > 1 {
		return false, nil
	}
	var rows []int64 // collected first: a later unsupported page means fallback
	var base int64
	for pr.Next() {
		if err := ctx.Err(); err != nil {
			return false, err
		}
		pg, ok := pr.Page().(*file.DataPageV1)
		if !ok || parquet.Encoding(pg.Encoding()) != parquet.Encodings.Plain ||
			maxDef == 1 && pg.DefinitionLevelEncoding() != parquet.Encodings.RLE {
			return false, nil
		}
		levels := int(pg.NumValues())
		data := pg.Data()
		var defs []byte
		if maxDef == 1 {
			if len(data) < 4 {
				return false, errors.New("trace_id page: truncated definition levels")
			}
			n := int(binary.LittleEndian.Uint32(data))
			if n > len(data)-4 {
				return false, errors.New("trace_id page: truncated definition levels")
			}
			defs, data = data[4:4+n], data[4+n:]
		}
		for off := 0; off+16 <= len(data); {
			i := bytes.Index(data[off:], id[:])
			if i < 0 {
				break
			}
			pos := off + i
			off = pos + 1
			if pos%16 != 0 {
				continue
			}
			level := pos / 16
			if maxDef == 1 {
				if level, err = levelOfValue(defs, levels, level); err != nil {
					return false, err
				}
			}
			rows = append(rows, base+int64(level))
		}
		st.RowsScanned += int64(levels)
		base += int64(levels)
	}
	if err := pr.Err(); err != nil {
		return false, fmt.Errorf("read trace_id pages: %w", err)
	}
	for _, r := range rows {
		visit(r)
	}
	return true, nil
}

// levelOfValue returns the index of the level holding the n-th (0-based)
// defined value, decoding 1-bit RLE/bit-packed hybrid definition levels.
func levelOfValue(defs []byte, levels, n int) (int, error) {
	level, seen := 0, 0
	for level < levels {
		header, k := binary.Uvarint(defs)
		if k <= 0 {
			return 0, errors.New("trace_id page: bad definition level run")
		}
		defs = defs[k:]
		if header&1 == 0 { // RLE run of one value
			count := min(int(header>>1), levels-level) // runs may be padded past the page
			if count < 0 || len(defs) < 1 {
				return 0, errors.New("trace_id page: bad definition level run")
			}
			v := defs[0]
			defs = defs[1:]
			if v == 1 && n < seen+count {
				return level + (n - seen), nil
			}
			if v == 1 {
				seen += count
			}
			level += count
			continue
		}
		groups := int(header >> 1) // bit-packed: 8 one-bit values per byte
		if len(defs) < groups {
			return 0, errors.New("trace_id page: bad definition level run")
		}
		for g := 0; g < groups; g++ {
			for bit := 0; bit < 8 && level < levels; bit++ {
				if defs[g]>>bit&1 == 1 {
					if seen == n {
						return level, nil
					}
					seen++
				}
				level++
			}
		}
		defs = defs[groups:]
	}
	return 0, fmt.Errorf("trace_id page: value %d beyond its %d levels", n, levels)
}
