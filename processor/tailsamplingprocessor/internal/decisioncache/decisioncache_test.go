package decisioncache

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func key(i int) Key {
	var k Key
	binary.LittleEndian.PutUint64(k[:], uint64(i))
	return k
}

func TestCacheEvictsOldestFirstInBucket(t *testing.T) {
	c := New(bucketEntries) // one bucket: every key lands in it
	for i := range bucketEntries {
		assert.False(t, c.Put(key(i), uint8(i)))
	}
	assert.True(t, c.Put(key(bucketEntries), bucketEntries))
	_, ok := c.Get(key(0))
	assert.False(t, ok, "oldest entry must be evicted")
	for i := 1; i <= bucketEntries; i++ {
		v, ok := c.Get(key(i))
		assert.True(t, ok)
		assert.Equal(t, uint8(i), v)
	}
	assert.Equal(t, bucketEntries, c.Len())
	assert.True(t, c.Put(key(bucketEntries+1), 1))
	_, ok = c.Get(key(1))
	assert.False(t, ok, "then the next oldest")
}

func TestCacheUpdateInPlace(t *testing.T) {
	c := New(2)
	c.Put(key(1), 1)
	assert.False(t, c.Put(key(1), 7))
	v, _ := c.Get(key(1))
	assert.Equal(t, uint8(7), v)
	assert.Equal(t, 1, c.Len())
}

func TestCacheDisabled(t *testing.T) {
	c := New(0)
	assert.False(t, c.Put(key(1), 1))
	_, ok := c.Get(key(1))
	assert.False(t, ok)
}

// TestCacheMatchesModel runs random puts and gets against a model with one
// FIFO queue per bucket.
func TestCacheMatchesModel(t *testing.T) {
	for _, size := range []int{1, 7, 1000, 5000} {
		c := New(size)
		c.Put(key(-1), 0) // allocate the table, so locate works for the model
		model := map[Key]uint8{key(-1): 0}
		queues := map[uint64][]Key{}
		_, b := c.locate(Fingerprint(key(-1)))
		queues[b] = []Key{key(-1)}
		rng := rand.New(rand.NewPCG(uint64(size), 1))
		for op := range 200_000 {
			k := key(rng.IntN(3 * size))
			if rng.IntN(3) == 0 {
				v, ok := c.Get(k)
				mv, mok := model[k]
				require.Equal(t, mok, ok, "size %d op %d: Get(%v) found", size, op, k)
				require.Equal(t, mv, v, "size %d op %d: Get(%v)", size, op, k)
				continue
			}
			v := uint8(rng.IntN(256))
			wantEvict := false
			if _, ok := model[k]; !ok {
				_, b := c.locate(Fingerprint(k))
				queues[b] = append(queues[b], k)
				if len(queues[b]) > bucketEntries {
					delete(model, queues[b][0])
					queues[b] = queues[b][1:]
					wantEvict = true
				}
			}
			model[k] = v
			require.Equal(t, wantEvict, c.Put(k, v), "size %d op %d: Put evicted", size, op)
			require.Equal(t, len(model), c.Len(), "size %d op %d: Len", size, op)
		}
		for k, mv := range model {
			v, ok := c.Get(k)
			require.True(t, ok, "size %d: final Get(%v)", size, k)
			require.Equal(t, mv, v)
		}
	}
}

// TestCacheStructuredKeysSpread: ids that differ only in a few bytes, the
// same in both halves, must spread over the buckets (equal halves must not
// cancel out) and keep distinct entries.
func TestCacheStructuredKeysSpread(t *testing.T) {
	const size, n = 100_000, 50_000
	c := New(size)
	keys := make([]Key, n)
	evictions := 0
	for i := range keys {
		var k Key
		k[7], k[15] = byte(i), byte(i)
		k[6], k[14] = byte(i>>8), byte(i>>8)
		k[5], k[13] = byte(i>>16), byte(i>>16)
		keys[i] = k
		if c.Put(k, 1) {
			evictions++
		}
	}
	// Half full, 8 entries per bucket: a few buckets overflow.
	assert.Less(t, evictions, n/50)
	assert.Equal(t, n-evictions, c.Len())
	found := 0
	for _, k := range keys {
		if _, ok := c.Get(k); ok {
			found++
		}
	}
	assert.Equal(t, n-evictions, found)
}

// TestCacheRetention checks the documented retention: about 5 % of entries
// are gone before half the cache's size of newer decisions, and the cache
// holds its size once full.
func TestCacheRetention(t *testing.T) {
	const size = 100_000
	c := New(size)
	const total = 4 * size
	lost := 0
	for i := range total {
		c.Put(key(i), 1)
		if j := i - size/2; j >= 2*size { // steady state: the cache is full
			if _, ok := c.Get(key(j)); !ok {
				lost++
			}
		}
	}
	share := float64(lost) / float64(total-2*size-size/2)
	assert.InDelta(t, 0.05, share, 0.02, "share evicted before size/2 newer entries")
	assert.Equal(t, size, c.Len())
}

func BenchmarkPutEvict(b *testing.B) {
	c := New(100_000)
	for i := range b.N {
		c.Put(key(i), 1)
	}
}
