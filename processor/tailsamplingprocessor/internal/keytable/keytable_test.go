package keytable

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

func key(i uint64) Key {
	var k Key
	binary.LittleEndian.PutUint64(k[:8], i)
	binary.LittleEndian.PutUint64(k[8:], ^i)
	return k
}

// Random puts, deletes and gets against Go's map, through growth and
// shrinking; keys from a small range so that probe runs collide, get
// deleted from the middle and wrap around the end of the slots.
func TestMatchesGoMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	tab := New[int]()
	ref := map[Key]*int{}
	for step := range 200_000 {
		// Phases: grow to a few thousand entries, then drain, repeatedly.
		span := uint64(4000)
		del := (step/20_000)%2 == 1
		k := key(rng.Uint64N(span))
		switch op := rng.IntN(10); {
		case op < 3 || (del && op < 8):
			tab.Delete(k)
			delete(ref, k)
		case op < 7:
			v := new(int)
			*v = step
			tab.Put(k, v)
			ref[k] = v
		default:
			assert.Equal(t, ref[k], tab.Get(k))
		}
		if step%5000 == 0 {
			require.Equal(t, len(ref), tab.Len())
			seen := map[Key]*int{}
			for k, v := range tab.All() {
				seen[k] = v
			}
			require.Equal(t, ref, seen)
			for k, v := range ref {
				require.Same(t, v, tab.Get(k))
			}
		}
	}
}

func TestShrinksWhenDrained(t *testing.T) {
	tab := New[int]()
	v := new(int)
	for i := range uint64(100_000) {
		tab.Put(key(i), v)
	}
	big := len(tab.slots)
	for i := range uint64(100_000) {
		tab.Delete(key(i))
	}
	assert.Zero(t, tab.Len())
	assert.Less(t, len(tab.slots), big/100)
	assert.Nil(t, tab.Get(key(1)))
}

// Structured ids (sequential in either half, as some generators and the
// correlation keys produce, or differing in one bit) must spread over the
// slots: the home slot comes from the low bits of the hash, which the
// folding of the 128-bit products must fill from every key bit.
func TestHashSpreadsStructuredKeys(t *testing.T) {
	const n, buckets = 1 << 16, 1 << 10
	shapes := map[string]func(i uint64) Key{
		"low word":  func(i uint64) Key { var k Key; binary.LittleEndian.PutUint64(k[:8], i); return k },
		"high word": func(i uint64) Key { var k Key; binary.LittleEndian.PutUint64(k[8:], i); return k },
		"high bits": func(i uint64) Key { var k Key; binary.BigEndian.PutUint64(k[:8], i); return k },
		"one bit": func(i uint64) Key {
			var k Key
			k[i/8%8] = 1 << (i % 8)
			binary.LittleEndian.PutUint64(k[8:], i/64)
			return k
		},
	}
	for name, key := range shapes {
		t.Run(name, func(t *testing.T) {
			tab := New[int]()
			var load [buckets]int
			for i := range uint64(n) {
				load[tab.Hash(new(key(i)))%buckets]++
			}
			// 64 keys per bucket on average; a uniform hash stays well
			// below twice that (the chance of reaching it is < 1e-12).
			for b, c := range load {
				require.Less(t, c, 2*n/buckets, "bucket %d", b)
			}
		})
	}
}
