package fingerprint

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestPrefixMatching(t *testing.T) {
	content := []byte("first line\nsecond line\nthird line\n")
	short := Of(content[:11])
	assert.True(t, short.Matches(content), "a grown file matches its shorter fingerprint")
	assert.False(t, Of(content).Matches(content[:11]), "a longer fingerprint never matches a shorter file")
	assert.False(t, short.Matches([]byte("other line\nsecond line\n")))
	assert.False(t, Print{}.Matches(content), "an empty fingerprint matches nothing")
}

func TestStringRoundTrip(t *testing.T) {
	p := Of([]byte("hello"))
	got, err := Parse(p.String())
	require.NoError(t, err)
	assert.Equal(t, p, got)

	for _, bad := range []string{"", "x:00", "5:zz", "5:0011", "-1:" + p.String()[2:]} {
		_, err := Parse(bad)
		assert.Error(t, err, bad)
	}
}

func TestReadPrefix(t *testing.T) {
	src := bytes.NewReader([]byte("abcdef"))
	got, err := ReadPrefix(src, 4, nil)
	require.NoError(t, err)
	assert.Equal(t, "abcd", string(got))
	got, err = ReadPrefix(src, 100, got)
	require.NoError(t, err)
	assert.Equal(t, "abcdef", string(got))
}

func FuzzParse(f *testing.F) {
	f.Add(Of([]byte("seed")).String())
	f.Add("0:00000000000000000000000000000000")
	f.Add("12:zz")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := Parse(s)
		if err != nil {
			return
		}
		again, err := Parse(p.String())
		if err != nil || again != p {
			t.Fatalf("round trip of %q: %v %v", s, again, err)
		}
	})
}
