package document

import (
	"crypto/sha256"
	"encoding/base64"
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
