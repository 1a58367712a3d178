package decisioncache

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func key(i int) Key { return Key{byte(i), byte(i >> 8)} }

func TestFIFOEvictsOldestFirst(t *testing.T) {
	c := New(3)
	for i := range 3 {
		assert.False(t, c.Put(key(i), uint8(i)))
	}
	assert.True(t, c.Put(key(3), 3))
	_, ok := c.Get(key(0))
	assert.False(t, ok, "oldest entry must be evicted")
	for i := 1; i <= 3; i++ {
		v, ok := c.Get(key(i))
		assert.True(t, ok)
		assert.Equal(t, uint8(i), v)
	}
	assert.Equal(t, 3, c.Len())
}

func TestFIFOUpdateInPlace(t *testing.T) {
	c := New(2)
	c.Put(key(1), 1)
	assert.False(t, c.Put(key(1), 7))
	v, _ := c.Get(key(1))
	assert.Equal(t, uint8(7), v)
	assert.Equal(t, 1, c.Len())
}

func TestFIFODisabled(t *testing.T) {
	c := New(0)
	assert.False(t, c.Put(key(1), 1))
	_, ok := c.Get(key(1))
	assert.False(t, ok)
}

func TestFIFOStructuredKeysDoNotCollide(t *testing.T) {
	c := New(100_000)
	for i := range 100_000 {
		var k Key
		k[7], k[15] = byte(i), byte(i)
		k[6], k[14] = byte(i>>8), byte(i>>8)
		k[5], k[13] = byte(i>>16), byte(i>>16)
		assert.False(t, c.Put(k, 1))
	}
	assert.Equal(t, 100_000, c.Len(), "equal halves must not cancel out")
}
