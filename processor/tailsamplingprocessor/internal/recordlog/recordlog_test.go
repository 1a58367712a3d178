package recordlog

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

type stored struct {
	tag uint64
	rec []byte
}

// model is one group as the test sees it.
type model struct {
	owner   Owner
	last    Ref
	records []stored
}

func (l *Log) collect(m *model) []stored {
	var got []stored
	l.Walk(m.last, len(m.records), nil, func(tag uint64, rec []byte) {
		got = append(got, stored{tag, bytes.Clone(rec)})
	})
	return got
}

// Records of interleaved groups come back per group, in order, with their
// tags, across slab boundaries and with records larger than a slab.
func TestAppendWalkInterleavedGroups(t *testing.T) {
	l := New(MinSlabSize)
	rng := rand.New(rand.NewPCG(1, 2))
	groups := make([]*model, 20)
	for i := range groups {
		groups[i] = &model{owner: Owner(i)}
	}
	var held int64
	for i := range 2000 {
		g := groups[rng.IntN(len(groups))]
		size := rng.IntN(300)
		if i%97 == 0 {
			size = 3 * MinSlabSize // its own slab
		}
		rec := make([]byte, size)
		for j := range rec {
			rec[j] = byte(rng.Uint32())
		}
		tag := rng.Uint64() >> rng.IntN(64)
		ref, _, opened := l.Append(g.owner, g.last, tag, rec)
		held += opened
		g.last = ref
		g.records = append(g.records, stored{tag, rec})
	}
	for _, g := range groups {
		require.Equal(t, g.records, l.collect(g), "owner %d", g.owner)
	}
	// Nothing decided: nothing released.
	assert.Zero(t, l.Release(0))
	// Everything decided: every slab released, the bytes held given back.
	assert.Equal(t, held, l.Release(Owner(len(groups))))
	assert.Zero(t, l.Held())
}

// A slab is released only once every owner that wrote into it is decided,
// and only from the oldest slab on.
func TestReleaseWaitsForEveryOwner(t *testing.T) {
	l := New(MinSlabSize)
	rec := make([]byte, MinSlabSize/2-16) // two records per slab
	var held int64
	add := func(o Owner) Ref {
		r, _, opened := l.Append(o, 0, 0, rec)
		held += opened
		return r
	}
	add(0)
	add(2) // slab 1 holds owners 0 and 2
	add(1)
	add(1) // slab 2 holds owner 1
	add(3) // slab 3 (open) holds owner 3
	require.Equal(t, 3, l.Held())

	assert.Zero(t, l.Release(1), "owner 2 still lives in the first slab")
	assert.Zero(t, l.Release(2), "owner 2 still lives in the first slab")
	freed := l.Release(3)
	assert.Equal(t, int64(2*l.SlabSize()), freed, "owners 0-2 decided: two slabs")
	assert.Equal(t, 1, l.Held())
	assert.Equal(t, int64(l.SlabSize()), l.Release(4), "the open slab goes too")
	assert.Zero(t, l.Held())

	// The next record opens a (recycled) slab; references stay consistent.
	r := add(4)
	var got []byte
	l.Walk(r, 1, nil, func(_ uint64, b []byte) { got = b })
	assert.Equal(t, rec, got)
}

func TestSlabSizeIsClamped(t *testing.T) {
	assert.Equal(t, MinSlabSize, New(0).SlabSize())
	assert.Equal(t, MaxSlabSize, New(1<<30).SlabSize())
	assert.Equal(t, 8<<10, New(8<<10).SlabSize())
}

func TestFrameSize(t *testing.T) {
	for _, c := range []struct {
		tag  uint64
		n    int
		want int
	}{
		{0, 0, refSize + 2},
		{127, 127, refSize + 2 + 127},
		{128, 128, refSize + 4 + 128},
		{1 << 20, 1 << 14, refSize + 3 + 3 + 1<<14},
	} {
		t.Run(fmt.Sprint(c.tag, c.n), func(t *testing.T) {
			l := New(MaxSlabSize)
			assert.Equal(t, c.want, FrameSize(c.tag, c.n))
			_, frame, opened := l.Append(0, 0, c.tag, make([]byte, c.n))
			assert.Equal(t, c.want, frame)
			r2, _, _ := l.Append(0, 0, 0, nil)
			if opened == int64(MaxSlabSize) && c.want <= MaxSlabSize {
				assert.Equal(t, Ref(c.want), r2&0xffffffff, "the next frame starts right after")
			}
		})
	}
}

// Slab ids wrap around after 2^32 slabs; references use differences only.
func TestSlabIDsWrapAround(t *testing.T) {
	l := New(MinSlabSize)
	l.nextID = ^uint32(0) - 1
	rec := make([]byte, MinSlabSize-refSize-4)
	var refs []Ref
	for i := range 5 {
		r, _, _ := l.Append(Owner(0), 0, uint64(i), rec)
		refs = append(refs, r)
	}
	for i, r := range refs {
		l.Walk(r, 1, nil, func(tag uint64, _ []byte) { assert.Equal(t, uint64(i), tag) })
	}
	l.Release(1)
	assert.Zero(t, l.Held())
}
