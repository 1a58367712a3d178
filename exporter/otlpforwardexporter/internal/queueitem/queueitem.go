// Package queueitem is the format in which otlp_forward stores one request in the
// persistent sending queue: a small versioned header followed by the OTLP
// Export<Signal>ServiceRequest protobuf, compressed.
//
//	bytes 0-3  magic "SLFW"
//	byte  4    format version
//	byte  5    signal (1 logs, 2 traces)
//	uvarint    number of records (log records or spans) in the body
//	version 1: rest = s2(encoded Export<Signal>ServiceRequest), S2 block format
//	version 2: uvarint body length, then rest = the request as a snappy framed
//	           stream (internal/snappyframe), exactly the bytes gRPC sends with
//	           grpc-encoding snappy
//
// Version 2 is written when the exporter compresses with snappy: the item is
// sent as stored, with no decompression and no second compression. Version 1
// (S2 block, faster to decode) is written for every other compression. Both
// are read whatever the configuration, so changing `compression` never
// strands a queue.
//
// Compressed because the queue's cost is per byte stored: bbolt allocates, zeroes,
// copies and writes every page of an item, then frees them when it is sent. Log
// text compresses 3-5× for ~1 GB/s of S2, far less than the pages it saves.
//
// Decoding checks the header, bounds the decompressed size and walks the protobuf
// structure (no pdata) to confirm the body is well-formed and holds the recorded
// number of records, so a corrupt or foreign queue item is rejected instead of sent.
// A version 2 item sent as stored is checked for its header and stream
// identifier only: its chunks carry CRC-32C checksums that the receiving
// server verifies, and the storage checksums every item it writes.
package queueitem // import "github.com/sluicelogs/sluice/exporter/otlpforwardexporter/internal/queueitem"

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/klauspost/compress/s2"

	"github.com/sluicelogs/sluice/internal/otlpwire"
	"github.com/sluicelogs/sluice/internal/snappyframe"
)

// Format versions; this build reads both.
const (
	// Version is the S2 block format.
	Version byte = 1
	// VersionFramed is the snappy framed format.
	VersionFramed byte = 2
)

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

// AppendFramedHeader appends the header of a version 2 item for a request
// whose body of bodyLen bytes holds records log records or spans; the framed
// body (snappyframe.Append) follows it.
func AppendFramedHeader(dst []byte, signal Signal, records, bodyLen int) ([]byte, error) {
	if bodyLen > maxBody {
		return dst, fmt.Errorf("otlp_forward request of %d bytes is over the %d-byte queue item limit", bodyLen, maxBody)
	}
	dst = append(dst, magic...)
	dst = append(dst, VersionFramed, byte(signal))
	dst = binary.AppendUvarint(dst, uint64(records))
	return binary.AppendUvarint(dst, uint64(bodyLen)), nil
}

// EncodeFramed returns the version 2 queue item for a request whose body of
// bodyLen bytes, holding records log records or spans, is already framed.
func EncodeFramed(signal Signal, records, bodyLen int, framed []byte) ([]byte, error) {
	out, err := AppendFramedHeader(make([]byte, 0, headerSize+2*binary.MaxVarintLen64+len(framed)), signal, records, bodyLen)
	if err != nil {
		return nil, err
	}
	return append(out, framed...), nil
}

// header is what every item starts with.
type header struct {
	version byte
	records int
	bodyLen int    // version 2 only
	payload []byte // compressed body
}

func parseHeader(item []byte, want Signal) (header, error) {
	if len(item) < headerSize || string(item[:len(magic)]) != magic {
		return header{}, ErrNotQueueItem
	}
	h := header{version: item[len(magic)]}
	if h.version != Version && h.version != VersionFramed {
		return header{}, fmt.Errorf("otlp_forward queue item format version %d is not supported (this build reads versions %d and %d)", h.version, Version, VersionFramed)
	}
	if s := Signal(item[len(magic)+1]); s != want {
		return header{}, fmt.Errorf("otlp_forward queue item holds %s, expected %s", s, want)
	}
	rest := item[headerSize:]
	n, size := binary.Uvarint(rest)
	if size <= 0 || n > uint64(maxBody) {
		return header{}, errors.New("otlp_forward queue item: bad record count")
	}
	h.records, rest = int(n), rest[size:]
	if h.version == VersionFramed {
		l, size := binary.Uvarint(rest)
		if size <= 0 {
			return header{}, errors.New("otlp_forward queue item: bad body length")
		}
		if l > uint64(maxBody) {
			return header{}, fmt.Errorf("otlp_forward queue item body: %d bytes decompressed, over the %d-byte limit", l, maxBody)
		}
		h.bodyLen, rest = int(l), rest[size:]
	}
	h.payload = rest
	return h, nil
}

// Decode checks item and returns the number of records and the decompressed body.
// want is the signal the caller's queue holds; an item of another signal is an error.
func Decode(item []byte, want Signal) (records int, body []byte, err error) {
	h, err := parseHeader(item, want)
	if err != nil {
		return 0, nil, err
	}
	if h.version == VersionFramed {
		body, err = snappyframe.AppendDecoded(nil, h.payload, h.bodyLen)
		if err == nil && len(body) != h.bodyLen {
			err = fmt.Errorf("%d bytes, the header says %d", len(body), h.bodyLen)
		}
	} else {
		body, err = decodeBlock(h.payload)
	}
	if err != nil {
		return 0, nil, fmt.Errorf("otlp_forward queue item body: %w", err)
	}
	counted, err := otlpwire.CountRecords(body)
	if err != nil {
		return 0, nil, fmt.Errorf("otlp_forward queue item body: %w", err)
	}
	if counted != h.records {
		return 0, nil, fmt.Errorf("otlp_forward queue item: header says %d records, body holds %d", h.records, counted)
	}
	return counted, body, nil
}

// DecodeFramed checks item and returns the number of records, the body's
// length and the body as a snappy framed stream: a version 2 item's payload
// as stored (aliasing item), a version 1 item's body decoded, checked and
// framed.
func DecodeFramed(item []byte, want Signal) (records, bodyLen int, framed []byte, err error) {
	h, err := parseHeader(item, want)
	if err != nil {
		return 0, 0, nil, err
	}
	if h.version == VersionFramed {
		if !snappyframe.HasStreamID(h.payload) {
			return 0, 0, nil, fmt.Errorf("otlp_forward queue item body: %w: no stream identifier", snappyframe.ErrFraming)
		}
		return h.records, h.bodyLen, h.payload, nil
	}
	records, body, err := Decode(item, want)
	if err != nil {
		return 0, 0, nil, err
	}
	return records, len(body), snappyframe.Append(nil, body), nil
}

func decodeBlock(compressed []byte) ([]byte, error) {
	bodyLen, err := s2.DecodedLen(compressed)
	if err == nil && bodyLen > maxBody {
		return nil, fmt.Errorf("%d bytes decompressed, over the %d-byte limit", bodyLen, maxBody)
	}
	return s2.Decode(nil, compressed)
}

// Peek reads what it can of a queue item's header without judging the item:
// its record count and its request's encoded size, each 0 when unknown. It
// sizes an item that cannot be read back (Decode or DecodeFramed refused it),
// so that the item is still counted by the queue and as failed.
func Peek(item []byte) (records, bodyLen int) {
	if len(item) < headerSize || string(item[:len(magic)]) != magic {
		return 0, 0
	}
	rest := item[headerSize:]
	n, size := binary.Uvarint(rest)
	if size <= 0 || n > uint64(maxBody) {
		return 0, 0
	}
	records, rest = int(n), rest[size:]
	switch item[len(magic)] {
	case VersionFramed:
		if l, size := binary.Uvarint(rest); size > 0 && l <= uint64(maxBody) {
			bodyLen = int(l)
		}
	case Version:
		if l, err := s2.DecodedLen(rest); err == nil && l <= maxBody {
			bodyLen = l
		}
	}
	return records, bodyLen
}
