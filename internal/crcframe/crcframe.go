// Package crcframe is the checksummed framing of Sluice's append-only files
// (the parquet exporter's staging journals, journal_storage's segments):
// frames of [u32 payload length][u32 CRC-32C of the payload][payload], little
// endian. A crash mid-append leaves a prefix of a frame, which fails its
// length or CRC check, so a reader stops at the last whole frame.
package crcframe // import "github.com/sluicelogs/sluice/internal/crcframe"

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
)

// HeaderSize is the bytes before each payload.
const HeaderSize = 8

// MaxPayload bounds a frame's payload, so a corrupt length cannot make a
// reader allocate gigabytes.
const MaxPayload = 1 << 30

// ErrTooLarge is returned for a payload over MaxPayload.
var ErrTooLarge = errors.New("frame payload exceeds 1 GiB")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Append appends payload as one frame to dst.
func Append(dst, payload []byte) []byte {
	start := len(dst)
	dst = append(dst, make([]byte, HeaderSize)...)
	dst = append(dst, payload...)
	Seal(dst[start:])
	return dst
}

// Begin appends a header placeholder to dst; the caller appends the payload
// right after it and then calls Seal on the frame (dst[start:]), which saves
// building the payload in a buffer of its own.
func Begin(dst []byte) []byte {
	return append(dst, make([]byte, HeaderSize)...)
}

// Seal fills in the header of frame, whose payload is frame[HeaderSize:].
func Seal(frame []byte) {
	payload := frame[HeaderSize:]
	binary.LittleEndian.PutUint32(frame[0:4], uint32(len(payload)))
	binary.LittleEndian.PutUint32(frame[4:8], crc32.Checksum(payload, castagnoli))
}

// Reader reads consecutive frames, verifying each CRC. It stops at the end
// of the data or at the first incomplete or corrupt frame, which sets Torn.
type Reader struct {
	r        io.Reader
	left     int64 // bytes of r not yet read
	consumed int64 // bytes of whole, valid frames read
	hdr      [HeaderSize]byte
	payload  []byte // current frame's payload (buffer reused across frames)
	torn     bool
	done     bool
	err      error // a read error other than the data ending
}

// NewReader reads frames from the size bytes of r.
func NewReader(r io.Reader, size int64) *Reader {
	return &Reader{r: r, left: size}
}

// Next loads the next frame; false at the end of the valid frames.
func (fr *Reader) Next() bool {
	if fr.done {
		return false
	}
	if fr.left == 0 {
		fr.done = true
		return false
	}
	if fr.left < HeaderSize {
		fr.done, fr.torn = true, true
		return false
	}
	if _, err := io.ReadFull(fr.r, fr.hdr[:]); err != nil {
		fr.done, fr.err = true, err
		return false
	}
	fr.left -= HeaderSize
	n := binary.LittleEndian.Uint32(fr.hdr[0:4])
	sum := binary.LittleEndian.Uint32(fr.hdr[4:8])
	if n > MaxPayload || int64(n) > fr.left {
		fr.done, fr.torn = true, true
		return false
	}
	if cap(fr.payload) < int(n) {
		fr.payload = make([]byte, n)
	}
	fr.payload = fr.payload[:n]
	if _, err := io.ReadFull(fr.r, fr.payload); err != nil {
		fr.done, fr.err = true, err
		return false
	}
	fr.left -= int64(n)
	if crc32.Checksum(fr.payload, castagnoli) != sum {
		fr.done, fr.torn = true, true
		return false
	}
	fr.consumed += HeaderSize + int64(n)
	return true
}

// Payload is the current frame's payload, valid until the next call to Next.
func (fr *Reader) Payload() []byte { return fr.payload }

// Consumed is the bytes of the whole, valid frames read so far: where the
// next frame starts, and after the last one where the valid data ends.
func (fr *Reader) Consumed() int64 { return fr.consumed }

// Torn reports that reading stopped at an incomplete or corrupt frame.
func (fr *Reader) Torn() bool { return fr.torn }

// Err is a read error of the underlying reader (not a torn frame).
func (fr *Reader) Err() error { return fr.err }

// CheckAt reports whether a whole frame whose CRC matches starts at offset
// off of the first size bytes of r, and the length of its payload. It reads
// the payload through buf (at least HeaderSize bytes) piece by piece, so a
// corrupt length costs reading, not allocating; recovery uses it to look for
// the next valid frame after a damaged one.
func CheckAt(r io.ReaderAt, off, size int64, buf []byte) (payloadLen int64, ok bool, err error) {
	if off < 0 || size-off < HeaderSize {
		return 0, false, nil
	}
	if _, err := r.ReadAt(buf[:HeaderSize], off); err != nil {
		return 0, false, err
	}
	n := int64(binary.LittleEndian.Uint32(buf[0:4]))
	sum := binary.LittleEndian.Uint32(buf[4:8])
	if n > MaxPayload || n > size-off-HeaderSize {
		return 0, false, nil
	}
	var crc uint32
	for p := off + HeaderSize; p < off+HeaderSize+n; {
		chunk := buf[:min(int64(len(buf)), off+HeaderSize+n-p)]
		if _, err := r.ReadAt(chunk, p); err != nil {
			return 0, false, err
		}
		crc = crc32.Update(crc, castagnoli, chunk)
		p += int64(len(chunk))
	}
	return n, crc == sum, nil
}
