package sharedcomponent

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

type thing struct{ n int }

func TestAcquireSharesAndReleaseCounts(t *testing.T) {
	m := NewMap[string, *thing]()
	created := 0
	create := func() (*thing, error) { created++; return &thing{n: created}, nil }

	a, err := m.Acquire("x", create)
	require.NoError(t, err)
	b, err := m.Acquire("x", create)
	require.NoError(t, err)
	c, err := m.Acquire("y", create)
	require.NoError(t, err)
	assert.Same(t, a, b)
	assert.NotSame(t, a, c)
	assert.Equal(t, 2, created)

	assert.False(t, m.Release("x", a))
	assert.True(t, m.Release("x", a))
	assert.False(t, m.Release("x", a), "already removed")
	assert.Equal(t, 1, m.Len())

	d, err := m.Acquire("x", create)
	require.NoError(t, err)
	assert.NotSame(t, a, d, "a released key is created afresh")
}

func TestAcquireCreateError(t *testing.T) {
	m := NewMap[string, *thing]()
	_, err := m.Acquire("x", func() (*thing, error) { return nil, errors.New("boom") })
	require.EqualError(t, err, "boom")
	assert.Equal(t, 0, m.Len())
}

func TestReleaseOfReplacedValue(t *testing.T) {
	m := NewMap[string, *thing]()
	a, _ := m.Acquire("x", func() (*thing, error) { return &thing{}, nil })
	assert.True(t, m.Release("x", a))
	b, _ := m.Acquire("x", func() (*thing, error) { return &thing{}, nil })
	assert.False(t, m.Release("x", a), "stale value must not release the new one")
	assert.True(t, m.Release("x", b))
}
