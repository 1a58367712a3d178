package keyhash

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// The values are pinned: changing them changes which traces every deployed
// instance keeps, so a change must be deliberate.
func TestSeededIsStable(t *testing.T) {
	assert.Equal(t, Seeded(0, []byte{}), Seeded(0, ""))
	assert.Equal(t, Seeded(7, []byte("trace")), Seeded(7, "trace"))
	assert.NotEqual(t, Seeded(7, "trace"), Seeded(8, "trace"))
	// Expected value computed independently (Python) from the README's description.
	assert.Equal(t, uint64(0x695277c8c0df6262), Seeded(0, []byte{1, 2, 3}))
}

func TestMix64(t *testing.T) {
	assert.Equal(t, uint64(0), Mix64(0))
	assert.NotEqual(t, Mix64(1), Mix64(2))
}
