// Package snappyframe writes and reads the snappy framing format
// (github.com/google/snappy, framing_format.txt): what gRPC's "snappy"
// encoding carries on the wire. otlp_forward frames each request once, when
// it is encoded, stores the stream in its queue and sends it as is: no
// decompression from the queue and no second compression by gRPC.
package snappyframe // import "github.com/sluicelogs/sluice/internal/snappyframe"

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/klauspost/compress/s2"
)

// A stream is an identifier chunk, then chunks of at most 64 KiB of input,
// each compressed (or stored) with a masked CRC-32C of its input.

const (
	chunkCompressed   = 0x00
	chunkUncompressed = 0x01
	chunkStreamID     = 0xff
	maxChunkInput     = 64 << 10
	chunkHeaderSize   = 4 + 4 // type and 3-byte length, then the masked CRC
)

// streamID is the chunk every framed stream starts with.
var streamID = []byte{chunkStreamID, 0x06, 0x00, 0x00, 's', 'N', 'a', 'P', 'p', 'Y'}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// maskedCRC is the framing format's checksum of a chunk's input.
func maskedCRC(b []byte) uint32 {
	c := crc32.Checksum(b, castagnoli)
	return (c>>15 | c<<17) + 0xa282ead8
}

// MaxLen bounds the framed size of n bytes of input.
func MaxLen(n int) int {
	chunks := (n + maxChunkInput - 1) / maxChunkInput
	return len(streamID) + chunks*chunkHeaderSize + s2.MaxEncodedLen(min(n, maxChunkInput))*chunks
}

// Append appends body to dst as a snappy framed stream. Each chunk is
// compressed with S2's snappy-compatible encoder, or stored when that does
// not save an eighth (as the reference encoder does).
func Append(dst, body []byte) []byte {
	dst = append(dst, streamID...)
	for len(body) > 0 {
		chunk := body[:min(len(body), maxChunkInput)]
		body = body[len(chunk):]
		header := len(dst)
		dst = append(dst, make([]byte, chunkHeaderSize)...)
		bound := s2.MaxEncodedLen(len(chunk))
		if cap(dst)-len(dst) < bound {
			dst = append(dst[:cap(dst)], make([]byte, bound)...)[:len(dst)]
		}
		enc := s2.EncodeSnappy(dst[len(dst):len(dst)+bound], chunk)
		typ := byte(chunkCompressed)
		if len(enc) >= len(chunk)-len(chunk)/8 {
			typ = chunkUncompressed
			dst = append(dst, chunk...)
		} else {
			dst = dst[:len(dst)+len(enc)]
		}
		length := len(dst) - header - 4 // the CRC counts, the chunk header does not
		dst[header] = typ
		dst[header+1], dst[header+2], dst[header+3] = byte(length), byte(length>>8), byte(length>>16)
		binary.LittleEndian.PutUint32(dst[header+4:], maskedCRC(chunk))
	}
	return dst
}

// ErrFraming wraps every error of AppendDecoded.
var ErrFraming = errors.New("snappy framed stream")

// HasStreamID reports whether b starts with the stream identifier chunk.
func HasStreamID(b []byte) bool {
	return len(b) >= len(streamID) && string(b[:len(streamID)]) == string(streamID)
}

// AppendDecoded appends the input of framed stream src to dst, refusing a
// stream that would decode to more than limit bytes, a wrong checksum and
// anything the framing format does not allow. An empty src is an empty
// stream.
func AppendDecoded(dst, src []byte, limit int) ([]byte, error) {
	if len(src) == 0 {
		return dst, nil // the reference encoder writes nothing for no input
	}
	if len(src) < len(streamID) || string(src[:len(streamID)]) != string(streamID) {
		return dst, fmt.Errorf("%w: no stream identifier", ErrFraming)
	}
	src = src[len(streamID):]
	start := len(dst)
	for len(src) > 0 {
		if len(src) < 4 {
			return dst, fmt.Errorf("%w: truncated chunk header", ErrFraming)
		}
		typ := src[0]
		length := int(src[1]) | int(src[2])<<8 | int(src[3])<<16
		if len(src)-4 < length {
			return dst, fmt.Errorf("%w: chunk of %d bytes, %d left", ErrFraming, length, len(src)-4)
		}
		data := src[4 : 4+length]
		src = src[4+length:]
		switch {
		case typ == chunkCompressed || typ == chunkUncompressed:
			if length < 4 {
				return dst, fmt.Errorf("%w: chunk without checksum", ErrFraming)
			}
			want := binary.LittleEndian.Uint32(data)
			data = data[4:]
			from := len(dst)
			if typ == chunkCompressed {
				n, err := s2.DecodedLen(data)
				if err != nil {
					return dst, fmt.Errorf("%w: %w", ErrFraming, err)
				}
				if n > maxChunkInput {
					return dst, fmt.Errorf("%w: a chunk decodes to %d bytes, over 64 KiB", ErrFraming, n)
				}
				if len(dst)-start+n > limit {
					return dst, fmt.Errorf("%w: decodes to more than %d bytes", ErrFraming, limit)
				}
				dst = append(dst, make([]byte, n)...)
				if _, err := s2.Decode(dst[from:], data); err != nil {
					return dst[:from], fmt.Errorf("%w: %w", ErrFraming, err)
				}
			} else {
				if len(data) > maxChunkInput {
					return dst, fmt.Errorf("%w: a chunk holds %d bytes, over 64 KiB", ErrFraming, len(data))
				}
				if len(dst)-start+len(data) > limit {
					return dst, fmt.Errorf("%w: decodes to more than %d bytes", ErrFraming, limit)
				}
				dst = append(dst, data...)
			}
			if maskedCRC(dst[from:]) != want {
				return dst[:from], fmt.Errorf("%w: checksum mismatch", ErrFraming)
			}
		case typ == chunkStreamID:
			if string(data) != string(streamID[4:]) {
				return dst, fmt.Errorf("%w: bad stream identifier", ErrFraming)
			}
		case typ >= 0x02 && typ <= 0x7f:
			return dst, fmt.Errorf("%w: reserved unskippable chunk type %#x", ErrFraming, typ)
		default: // 0x80-0xfe: padding and reserved skippable chunks
		}
	}
	return dst, nil
}
