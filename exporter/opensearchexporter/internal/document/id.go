package document

import (
	"crypto/sha256"
	"encoding/base64"
	"strconv"
)

// MaxIDBytes is OpenSearch's limit on the length of _id.
const MaxIDBytes = 512

// HashIDLen is the length of the ids ContentID returns.
const HashIDLen = 22

// AppendContentID appends the id derived from an encoded document: the first 128
// bits of its SHA-256, base64url without padding (22 bytes). Equal documents get
// equal ids, so a resent document is answered with 409 instead of duplicated;
// 128 bits keep accidental collisions out of reach at any realistic volume.
func AppendContentID(dst, doc []byte) []byte {
	sum := sha256.Sum256(doc)
	return base64.RawURLEncoding.AppendEncode(dst, sum[:16])
}

// AppendRepeatID appends the id of the nth repeat (n ≥ 1) of doc within one
// request: the hash of doc followed by a NUL byte and n in decimal. A JSON
// document never contains a raw NUL, so this hashes no other document's
// bytes; equal requests give equal ids, so a resent request still gets 409s.
func AppendRepeatID(dst, doc []byte, n int) []byte {
	h := sha256.New()
	h.Write(doc)
	var suffix [1 + 20]byte // a NUL, then n
	h.Write(strconv.AppendInt(suffix[:1], int64(n), 10))
	var sum [sha256.Size]byte
	return base64.RawURLEncoding.AppendEncode(dst, h.Sum(sum[:0])[:16])
}
