// Package snappyframe writes and reads the snappy framing format
// (github.com/google/snappy, framing_format.txt): what gRPC's "snappy"
// encoding carries on the wire. otlp_forward frames each request once, when
// it is encoded, stores the stream in its queue and sends it as is: no
// decompression from the queue and no second compression by gRPC.
//
// It is a thin layer over the libraries: S2's stream writer in its
// snappy-compatible mode (faster than the reference encoder) writes, and the
// reference reader (github.com/golang/snappy, which the collector's gRPC
// servers use) reads, with a bound on the decoded size.
package snappyframe // import "github.com/sluicelogs/sluice/internal/snappyframe"

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/golang/snappy"
	"github.com/klauspost/compress/s2"
)

// streamID is the chunk every framed stream starts with.
var streamID = []byte{0xff, 0x06, 0x00, 0x00, 's', 'N', 'a', 'P', 'p', 'Y'}

// writers are snappy-compatible S2 stream writers that compress on the
// calling goroutine (no concurrency: one request is small).
var writers = sync.Pool{New: func() any {
	return s2.NewWriter(nil, s2.WriterSnappyCompat(), s2.WriterConcurrency(1))
}}

// Append appends body to dst as a snappy framed stream.
func Append(dst, body []byte) []byte {
	out := bytes.NewBuffer(dst)
	w := writers.Get().(*s2.Writer)
	defer writers.Put(w)
	w.Reset(out)
	// Writing to a bytes.Buffer cannot fail.
	_ = w.EncodeBuffer(body)
	_ = w.Close()
	w.Reset(nil) // let go of out
	return out.Bytes()
}

// ErrFraming wraps every error of AppendDecoded.
var ErrFraming = errors.New("snappy framed stream")

// HasStreamID reports whether b starts with the stream identifier chunk.
func HasStreamID(b []byte) bool { return bytes.HasPrefix(b, streamID) }

// AppendDecoded appends the input of framed stream src to dst, refusing a
// stream that decodes to more than limit bytes and anything the reference
// reader refuses (bad checksum, chunk or length). An empty src is an empty
// stream, as the reference encoder writes it.
func AppendDecoded(dst, src []byte, limit int) ([]byte, error) {
	if len(src) == 0 {
		return dst, nil
	}
	if !HasStreamID(src) {
		return dst, fmt.Errorf("%w: no stream identifier", ErrFraming)
	}
	out := bytes.NewBuffer(dst)
	start := out.Len()
	n, err := out.ReadFrom(io.LimitReader(snappy.NewReader(bytes.NewReader(src)), int64(limit)+1))
	if err != nil {
		return dst, fmt.Errorf("%w: %w", ErrFraming, err)
	}
	if n > int64(limit) {
		return dst, fmt.Errorf("%w: decodes to more than %d bytes", ErrFraming, limit)
	}
	if n == 0 {
		return dst, nil // as given, not the buffer's spare room
	}
	return out.Bytes()[:start+int(n)], nil
}
