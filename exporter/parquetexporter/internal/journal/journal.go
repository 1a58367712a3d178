// Package journal is the crash-safe staging format of the parquet exporter:
// an Arrow IPC stream cut into checksummed frames, fsynced per append.
//
// File layout: 8-byte magic, then frames of [u32 length][u32 CRC-32C][payload]
// (internal/crcframe).
// The first frame's payload is a JSON Header; the following payloads,
// concatenated, form one Arrow IPC stream (schema message first). A torn or
// corrupt tail fails its CRC and is ignored on read: everything before it was
// fsynced and acknowledged, nothing after it was.
package journal

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/sluicelogs/sluice/internal/crcframe"
)

// Extension ends every journal file name.
const Extension = ".journal"

var magic = [8]byte{'S', 'L', 'U', 'I', 'C', 'E', 'J', '1'}

// Header describes what a journal will become.
type Header struct {
	// File is the archive-relative path of the Parquet file built from the
	// journal (deterministic, so a retried upload overwrites/finds the same key).
	File string `json:"file"`
	// CreatedUnixNano is when the journal was opened (drives age rolling).
	CreatedUnixNano int64 `json:"created_unix_nano"`
}

// Writer appends record batches to a journal file.
type Writer struct {
	f      *os.File
	ipcw   *ipc.Writer
	buf    bytes.Buffer // the IPC writer's output for the current append
	frame  []byte
	fsync  bool
	size   int64
	rows   int64
	header Header
	// broken is set after a failed append: a partial frame may sit at the
	// end of the file and anything appended after it would be unreadable.
	broken bool
}

// Create creates a new journal at path (which must not exist), writes its
// header and syncs it.
func Create(path string, h Header, schema *arrow.Schema, mem memory.Allocator, fsync bool) (*Writer, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create journal: %w", err)
	}
	w := &Writer{f: f, fsync: fsync, header: h}
	w.ipcw = ipc.NewWriter(&w.buf, ipc.WithSchema(schema), ipc.WithAllocator(mem))
	hb, err := json.Marshal(h)
	if err == nil {
		_, err = f.Write(magic[:])
		w.size = int64(len(magic))
	}
	if err == nil {
		err = w.writeFrame(hb)
	}
	if err == nil && fsync {
		err = f.Sync()
	}
	if err != nil {
		_ = f.Close()
		_ = os.Remove(path)
		return nil, fmt.Errorf("write journal header %s: %w", path, err)
	}
	return w, nil
}

// Header returns the journal's header.
func (w *Writer) Header() Header { return w.header }

// Size returns the bytes written so far.
func (w *Writer) Size() int64 { return w.size }

// Rows returns the rows appended so far.
func (w *Writer) Rows() int64 { return w.rows }

func (w *Writer) writeFrame(payload []byte) error {
	w.frame = crcframe.Append(w.frame[:0], payload)
	// One write per frame: a crash leaves a prefix of the frame, which the
	// CRC rejects.
	n, err := w.f.Write(w.frame)
	w.size += int64(n)
	return err
}

// Append writes rec as one frame and, with fsync on, syncs the file before
// returning: once Append returns nil the rows survive a crash.
func (w *Writer) Append(rec arrow.RecordBatch) error {
	if w.broken {
		return ErrBroken
	}
	w.buf.Reset()
	if err := w.ipcw.Write(rec); err != nil {
		w.broken = true // the IPC writer's state (schema sent?) no longer matches the file
		return fmt.Errorf("encode journal batch: %w", err)
	}
	if err := w.writeFrame(w.buf.Bytes()); err != nil {
		w.broken = true
		return fmt.Errorf("append journal: %w", err)
	}
	if w.fsync {
		if err := w.f.Sync(); err != nil {
			w.broken = true
			return fmt.Errorf("sync journal: %w", err)
		}
	}
	w.rows += rec.NumRows()
	return nil
}

// ErrBroken is returned by Append after an earlier append failed; the
// journal must be sealed and a new one started.
var ErrBroken = errors.New("journal is broken by an earlier failed append")

// Broken reports whether an append failed (see ErrBroken).
func (w *Writer) Broken() bool { return w.broken }

// Close closes the file. The journal stays on disk until Remove.
func (w *Writer) Close() error {
	// The IPC writer only buffers into w.buf; closing it would append an EOS
	// marker we do not need (frames already end the stream).
	return w.f.Close()
}

// Contents is what Read recovers from a journal.
type Contents struct {
	Header  Header
	Schema  *arrow.Schema
	Records []arrow.RecordBatch
	Rows    int64
	// Torn reports that bytes after the last valid frame were ignored.
	Torn bool
}

// Release releases the recovered records.
func (c *Contents) Release() {
	for _, r := range c.Records {
		r.Release()
	}
	c.Records = nil
}

// ErrNoHeader means the file is not a journal or its header frame is damaged;
// such a file carries no acknowledged rows (the header is synced before any
// append is acknowledged).
var ErrNoHeader = errors.New("journal has no valid header")

// Read loads every complete frame of the journal at path. Frames are
// streamed through one reused buffer into the IPC decoder, so the journal
// is not held in memory besides the decoded records.
func Read(path string, mem memory.Allocator) (*Contents, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read journal: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read journal: %w", err)
	}
	return decode(f, st.Size(), mem)
}

// Decode parses journal bytes (see Read).
func Decode(data []byte, mem memory.Allocator) (*Contents, error) {
	return decode(bytes.NewReader(data), int64(len(data)), mem)
}

// frameReader serves the payloads of consecutive valid frames as one byte
// stream (the IPC stream).
type frameReader struct {
	frames  *crcframe.Reader
	payload []byte // current frame's payload
	off     int    // bytes of payload already served
}

func (fr *frameReader) next() bool {
	if !fr.frames.Next() {
		return false
	}
	fr.payload, fr.off = fr.frames.Payload(), 0
	return true
}

// Read implements io.Reader over the payloads of the remaining frames.
func (fr *frameReader) Read(p []byte) (int, error) {
	for fr.off == len(fr.payload) {
		if !fr.next() {
			if err := fr.frames.Err(); err != nil {
				return 0, err
			}
			return 0, io.EOF
		}
	}
	n := copy(p, fr.payload[fr.off:])
	fr.off += n
	return n, nil
}

// decode parses a journal of size bytes read from r.
func decode(r io.Reader, size int64, mem memory.Allocator) (c *Contents, err error) {
	var m [len(magic)]byte
	if size < int64(len(magic)) {
		return nil, ErrNoHeader
	}
	if _, err := io.ReadFull(r, m[:]); err != nil {
		return nil, fmt.Errorf("read journal: %w", err)
	}
	if m != magic {
		return nil, ErrNoHeader
	}
	fr := &frameReader{frames: crcframe.NewReader(r, size-int64(len(magic)))}
	if !fr.next() {
		if err := fr.frames.Err(); err != nil {
			return nil, fmt.Errorf("read journal: %w", err)
		}
		return nil, ErrNoHeader
	}
	c = &Contents{}
	if err := json.Unmarshal(fr.payload, &c.Header); err != nil || c.Header.File == "" {
		return nil, ErrNoHeader
	}
	if !fr.next() {
		if err := fr.frames.Err(); err != nil {
			return nil, fmt.Errorf("read journal: %w", err)
		}
		c.Torn = fr.frames.Torn()
		return c, nil
	}
	// The CRC makes a malformed stream all but impossible, but the IPC
	// decoder panics on some malformed metadata: turn that into an error.
	defer func() {
		if r := recover(); r != nil {
			if c != nil {
				c.Release()
			}
			c, err = nil, fmt.Errorf("journal stream is malformed: %v", r)
		}
	}()
	// No message can be larger than the journal that holds it: bound what
	// the decoder may allocate for a length it reads from the data.
	limit := size
	rdr, err := ipc.NewReader(fr, ipc.WithAllocator(mem),
		ipc.WithMetadataSizeLimit(limit), ipc.WithBodySizeLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("journal stream schema: %w", err)
	}
	defer rdr.Release()
	c.Schema = rdr.Schema()
	for rdr.Next() {
		rec := rdr.RecordBatch()
		rec.Retain()
		c.Records = append(c.Records, rec)
		c.Rows += rec.NumRows()
	}
	if err := rdr.Err(); err != nil && !errors.Is(err, io.EOF) {
		c.Release()
		return nil, fmt.Errorf("journal stream: %w", err)
	}
	if err := fr.frames.Err(); err != nil {
		c.Release()
		return nil, fmt.Errorf("read journal: %w", err)
	}
	c.Torn = fr.frames.Torn()
	return c, nil
}
