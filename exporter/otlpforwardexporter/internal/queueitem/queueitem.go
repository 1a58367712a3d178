// Package queueitem is the format in which otlp_forward stores one request in the
// persistent sending queue: a small versioned header followed by the OTLP
// Export<Signal>ServiceRequest protobuf, compressed with S2 (klauspost/compress: the
// snappy block format's faster successor).
//
//	bytes 0-3  magic "SLFW"
//	byte  4    format version (1)
//	byte  5    signal (1 logs, 2 traces)
//	uvarint    number of records (log records or spans) in the body
//	rest       s2(encoded Export<Signal>ServiceRequest)
//
// Compressed because the queue's cost is per byte stored: bbolt allocates, zeroes,
// copies and writes every page of an item, then frees them when it is sent. Log
// text compresses 3-5× for ~1 GB/s of S2, far less than the pages it saves.
//
// Decoding checks the header, bounds the decompressed size and walks the protobuf
// structure (no pdata) to confirm the body is well-formed and holds the recorded
// number of records, so a corrupt or foreign queue item is rejected instead of sent.
package queueitem // import "github.com/sluicelogs/sluice/exporter/otlpforwardexporter/internal/queueitem"

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/klauspost/compress/s2"

	"github.com/sluicelogs/sluice/internal/otlpwire"
)

// Version is the format version this build writes and the only one it reads.
const Version byte = 1

// MaxBody bounds the decompressed body of an item: far above any request the
// exporter writes (gRPC's default message limit is 4 MiB), low enough that a
// corrupt length cannot make the decoder allocate gigabytes.
const MaxBody = 256 << 20

// maxBody is MaxBody, lowered by tests.
var maxBody = MaxBody

const (
	magic      = "SLFW"
	headerSize = len(magic) + 2 // magic, version, signal; the count follows
)

// Signal says which OTLP service request a body holds.
type Signal byte

const (
	// SignalLogs marks an ExportLogsServiceRequest body.
	SignalLogs Signal = 1
	// SignalTraces marks an ExportTraceServiceRequest body.
	SignalTraces Signal = 2
)

func (s Signal) String() string {
	switch s {
	case SignalLogs:
		return "logs"
	case SignalTraces:
		return "traces"
	default:
		return fmt.Sprintf("unknown(%d)", byte(s))
	}
}

// ErrNotQueueItem is returned for bytes that do not start with the otlp_forward magic.
var ErrNotQueueItem = errors.New("not an otlp_forward queue item (bad magic)")

// Encode returns the queue item for body, which holds records log records or spans.
// A body over MaxBody is refused: Decode would refuse it too.
func Encode(signal Signal, records int, body []byte) ([]byte, error) {
	if len(body) > maxBody {
		return nil, fmt.Errorf("otlp_forward request of %d bytes is over the %d-byte queue item limit", len(body), maxBody)
	}
	// S2 needs room for its worst case (≈ 1.17× the body) while log text
	// compresses 3–5×: compress into a reused buffer and hand out an item of
	// the exact size, rather than allocate (and zero) the worst case.
	scratch := encodeScratch.Get().(*[]byte)
	defer releaseScratch(scratch)
	need := headerSize + binary.MaxVarintLen64 + s2.MaxEncodedLen(len(body))
	if cap(*scratch) < need {
		*scratch = make([]byte, 0, need)
	}
	out := (*scratch)[:0]
	out = append(out, magic...)
	out = append(out, Version, byte(signal))
	out = binary.AppendUvarint(out, uint64(records))
	n := len(out)
	enc := s2.Encode(out[n:cap(out)], body) // fits: the capacity is the bound
	return bytes.Clone(out[:n+len(enc)]), nil
}

// encodeScratch holds compression buffers; one grown past
// maxPooledScratch by a rare huge request is let go.
var encodeScratch = sync.Pool{New: func() any { return new([]byte) }}

const maxPooledScratch = 8 << 20

func releaseScratch(b *[]byte) {
	if cap(*b) <= maxPooledScratch {
		encodeScratch.Put(b)
	}
}

// Decode checks item and returns the number of records and the decompressed body.
// want is the signal the caller's queue holds; an item of another signal is an error.
func Decode(item []byte, want Signal) (records int, body []byte, err error) {
	if len(item) < headerSize || string(item[:len(magic)]) != magic {
		return 0, nil, ErrNotQueueItem
	}
	if v := item[len(magic)]; v != Version {
		return 0, nil, fmt.Errorf("otlp_forward queue item format version %d is not supported (this build reads version %d)", v, Version)
	}
	if s := Signal(item[len(magic)+1]); s != want {
		return 0, nil, fmt.Errorf("otlp_forward queue item holds %s, expected %s", s, want)
	}
	n, size := binary.Uvarint(item[headerSize:])
	if size <= 0 {
		return 0, nil, errors.New("otlp_forward queue item: bad record count")
	}
	compressed := item[headerSize+size:]
	bodyLen, err := s2.DecodedLen(compressed)
	if err == nil && bodyLen > maxBody {
		return 0, nil, fmt.Errorf("otlp_forward queue item body: %d bytes decompressed, over the %d-byte limit", bodyLen, maxBody)
	}
	body, err = s2.Decode(nil, compressed)
	if err != nil {
		return 0, nil, fmt.Errorf("otlp_forward queue item body: %w", err)
	}
	counted, err := otlpwire.CountRecords(body)
	if err != nil {
		return 0, nil, fmt.Errorf("otlp_forward queue item body: %w", err)
	}
	if uint64(counted) != n {
		return 0, nil, fmt.Errorf("otlp_forward queue item: header says %d records, body holds %d", n, counted)
	}
	return counted, body, nil
}
