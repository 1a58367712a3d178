// Package fingerprint identifies a file by a hash of its first bytes, so a
// file is recognized after a rename, a restart or inode reuse.
//
// A file shorter than the configured size is identified by the bytes it has;
// its fingerprint grows with the file, and a stored fingerprint matches any
// file whose first Size bytes hash to the same sum (prefix comparison).
package fingerprint // import "github.com/sluicelogs/sluice/receiver/filetailreceiver/internal/fingerprint"

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
)

// Print is the identity of a file's first Size bytes.
type Print struct {
	// Size is the number of leading bytes hashed; 0 means the file was empty.
	Size int
	// Sum is the SHA-256 of those bytes, truncated to 16 bytes.
	Sum [16]byte
}

// Of returns the fingerprint of prefix.
func Of(prefix []byte) Print {
	full := sha256.Sum256(prefix)
	p := Print{Size: len(prefix)}
	copy(p.Sum[:], full[:16])
	return p
}

// IsZero reports whether the fingerprint identifies nothing (an empty file).
func (p Print) IsZero() bool { return p.Size == 0 }

// String renders the fingerprint as "size:hex", the form stored in checkpoints.
func (p Print) String() string { return fmt.Sprintf("%d:%s", p.Size, hex.EncodeToString(p.Sum[:])) }

// Parse is the inverse of String.
func Parse(s string) (Print, error) {
	var p Print
	var sum string
	if _, err := fmt.Sscanf(s, "%d:%s", &p.Size, &sum); err != nil {
		return Print{}, fmt.Errorf("parse fingerprint %q: %w", s, err)
	}
	b, err := hex.DecodeString(sum)
	if err != nil || len(b) != len(p.Sum) || p.Size < 0 {
		return Print{}, fmt.Errorf("parse fingerprint %q: malformed sum or size", s)
	}
	copy(p.Sum[:], b)
	return p, nil
}

// ReadPrefix reads up to n leading bytes of src into buf (reused when large
// enough) and returns them.
func ReadPrefix(src io.ReaderAt, n int, buf []byte) ([]byte, error) {
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	got, err := src.ReadAt(buf, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read fingerprint: %w", err)
	}
	return buf[:got], nil
}

// Matches reports whether a file whose first bytes are prefix (read with at
// least p.Size bytes available) has fingerprint p.
func (p Print) Matches(prefix []byte) bool {
	if p.Size == 0 || len(prefix) < p.Size {
		return false
	}
	return Of(prefix[:p.Size]) == p
}
