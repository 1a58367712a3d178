// Package reader splits a growing file into complete lines, tracking the file
// offset just after each line so the caller can checkpoint exactly there.
//
// Unlike bufio.Scanner it survives EOF (the file may grow), bounds the bytes
// kept for one line (the rest of an over-long line is skipped, and the line is
// reported as truncated), and never hands out a line before its newline has
// been written.
package reader // import "github.com/sluicelogs/sluice/receiver/filetailreceiver/internal/reader"

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

const (
	// minBufferSize is the initial buffer; it grows for long lines only.
	minBufferSize = 16 << 10
	// readChunk is the smallest free space we read into.
	readChunk = 16 << 10
)

// Line is one complete line of a file.
type Line struct {
	// Data is the line without its trailing "\n" (and "\r"); it is only valid
	// until the next call to Next.
	Data []byte
	// Start is the file offset of the first byte of the line.
	Start int64
	// End is the file offset just after the line's newline: the offset to
	// checkpoint once this line is delivered.
	End int64
	// Truncated is set when the line was longer than the maximum and its
	// tail was skipped.
	Truncated bool
}

// Reader reads complete lines from a file starting at a given offset.
type Reader struct {
	src     io.ReaderAt
	maxLine int

	buf  []byte
	r, w int // unconsumed bytes are buf[r:w]
	scan int // buf[r:scan] is known to contain no newline

	// readPos is the file offset of the next byte to read (just after buf[w-1]).
	readPos int64
	// lineStart is the file offset of buf[r].
	lineStart int64
	// skipping is set while the tail of an over-long line is dropped.
	skipping bool
	// hole is the offset up to which NULs at the start of the file were
	// skipped, -1 once a byte other than NUL was seen there (or when reading
	// did not start at offset 0).
	hole int64
	// BytesRead counts bytes read from the file (for self-metrics).
	BytesRead int64
}

// New returns a Reader of src positioned at offset. maxLine bounds the bytes
// kept for one line.
func New(src io.ReaderAt, offset int64, maxLine int) *Reader {
	return &Reader{src: src, maxLine: maxLine, readPos: offset, lineStart: offset, hole: holeAt(offset)}
}

// Offset returns the offset just after the last line returned by Next (the
// start of the buffered, incomplete line if any).
func (r *Reader) Offset() int64 { return r.lineStart }

// ReadPos returns the offset up to which the file has been read.
func (r *Reader) ReadPos() int64 { return r.readPos }

// Buffered reports how many bytes of an incomplete line are held.
func (r *Reader) Buffered() int { return r.w - r.r }

// Reset repositions the reader at offset (after a truncation) and drops
// buffered bytes.
func (r *Reader) Reset(offset int64) {
	r.r, r.w, r.scan = 0, 0, 0
	r.readPos, r.lineStart = offset, offset
	r.skipping = false
	r.hole = holeAt(offset)
	r.shrink()
}

// holeAt is the initial hole offset for reading from offset: NULs are
// skipped only at the start of the file.
func holeAt(offset int64) int64 {
	if offset == 0 {
		return 0
	}
	return -1
}

// Next returns the next complete line. ok is false when no complete line is
// available yet (the file has no further bytes for now).
func (r *Reader) Next() (line Line, ok bool, err error) {
	for {
		if r.lineStart == r.hole && r.scan == r.r && r.r < r.w && r.buf[r.r] == 0 {
			r.skipHole()
		}
		if i := bytes.IndexByte(r.buf[r.scan:r.w], '\n'); i >= 0 {
			return r.cut(r.scan + i), true, nil
		}
		r.scan = r.w
		if r.w-r.r > r.maxLine {
			// Keep the first maxLine bytes and drop the rest until a newline.
			r.w = r.r + r.maxLine
			r.scan = r.w
			r.skipping = true
		}
		n, err := r.fill()
		if n == 0 {
			if err != nil && !errors.Is(err, io.EOF) {
				return Line{}, false, fmt.Errorf("read at offset %d: %w", r.readPos, err)
			}
			return Line{}, false, nil
		}
	}
}

// skipHole consumes NUL bytes at the start of the file. A writer without
// O_APPEND keeps writing at its old offset after copytruncate, which leaves
// the truncated file starting with a hole of NULs as long as the old file
// (often far longer than a line may be) before its next line: the hole is
// not data, and kept as a line it would bury that next line.
func (r *Reader) skipHole() {
	n := 0
	for r.r+n < r.w && r.buf[r.r+n] == 0 {
		n++
	}
	r.r += n
	r.scan = r.r
	r.lineStart += int64(n)
	if r.r < r.w {
		r.hole = -1 // the hole ended: later NULs are data
	} else {
		r.hole = r.lineStart // the hole may go on past what is read
	}
}

// Remainder returns the incomplete last line (no newline written), consuming
// it. It is used when a file is released after deletion: nothing more will be
// appended, so the partial line is a line of its own.
func (r *Reader) Remainder() (line Line, ok bool) {
	if r.w == r.r && !r.skipping {
		return Line{}, false
	}
	data := r.buf[r.r:r.w]
	line = Line{Data: trimCR(data), Start: r.lineStart, End: r.readPos, Truncated: r.skipping}
	r.r, r.w, r.scan = 0, 0, 0
	r.lineStart = r.readPos
	r.skipping = false
	return line, true
}

// cut consumes the line ending with the newline at buf[nl].
func (r *Reader) cut(nl int) Line {
	end := r.readPos - int64(r.w-nl-1)
	data := r.buf[r.r:nl]
	truncated := r.skipping
	if len(data) > r.maxLine {
		data = data[:r.maxLine]
		truncated = true
	}
	line := Line{Data: trimCR(data), Start: r.lineStart, End: end, Truncated: truncated}
	r.r = nl + 1
	r.scan = r.r
	r.lineStart = end
	r.skipping = false
	return line
}

// fill reads more bytes into the buffer, compacting or growing it first.
func (r *Reader) fill() (int, error) {
	if r.r > 0 && (r.r == r.w || len(r.buf)-r.w < readChunk) {
		n := copy(r.buf, r.buf[r.r:r.w])
		r.scan -= r.r
		r.r, r.w = 0, n
	}
	if len(r.buf)-r.w < readChunk {
		size := max(2*len(r.buf), minBufferSize)
		for size-r.w < readChunk {
			size *= 2
		}
		nb := make([]byte, size)
		copy(nb, r.buf[r.r:r.w])
		r.scan -= r.r
		r.w -= r.r
		r.r = 0
		r.buf = nb
	}
	n, err := r.src.ReadAt(r.buf[r.w:], r.readPos)
	if n > 0 {
		r.w += n
		r.readPos += int64(n)
		r.BytesRead += int64(n)
	}
	return n, err
}

// shrink drops a buffer grown for a long line once it is empty.
func (r *Reader) shrink() {
	if r.r == r.w && len(r.buf) > 4*minBufferSize {
		r.buf = nil
		r.r, r.w, r.scan = 0, 0, 0
	}
}

// Release frees the buffer when nothing is pending (for idle files).
func (r *Reader) Release() { r.shrink() }

func trimCR(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\r' {
		return b[:n-1]
	}
	return b
}
