// Package keyhash holds the stable 64-bit hashes of the tail sampler. They
// are part of its behaviour: separate instances must compute the same values
// (probabilistic decisions) in every version.
package keyhash // import "github.com/sluicelogs/sluice/processor/tailsamplingprocessor/internal/keyhash"

// Seeded is FNV-1a over the seed (4 bytes, little endian) and b, followed by
// Mix64 so that every input bit moves the high bits.
func Seeded[T string | []byte](seed uint32, b T) uint64 {
	const (
		offset = 14695981039346656037
		prime  = 1099511628211
	)
	h := uint64(offset)
	for i := range 4 {
		h ^= uint64(byte(seed >> (8 * i)))
		h *= prime
	}
	for i := 0; i < len(b); i++ {
		h ^= uint64(b[i])
		h *= prime
	}
	return Mix64(h)
}

// Mix64 is the murmur3 64-bit finalizer.
func Mix64(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}
