package logfmt

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type pair struct{ k, v string }

func decode(t *testing.T, line string) ([]pair, error) {
	t.Helper()
	var d Decoder
	var out []pair
	err := d.Decode([]byte(line), func(k, v []byte) { out = append(out, pair{string(k), string(v)}) })
	return out, err
}

func TestDecode(t *testing.T) {
	got, err := decode(t, `time=2024-05-01T12:00:00Z level=INFO msg="hello \"world\"\n" user.id=42 empty= flag path=/a/b é=ü`)
	require.NoError(t, err)
	assert.Equal(t, []pair{
		{"time", "2024-05-01T12:00:00Z"},
		{"level", "INFO"},
		{"msg", "hello \"world\"\n"},
		{"user.id", "42"},
		{"empty", ""},
		{"flag", ""},
		{"path", "/a/b"},
		{"é", "ü"},
	}, got)

	for _, bad := range []string{`a="unterminated`, `a="x"b`, `=v`, `a=b"c`, `a="\q"`, `"k"=v`} {
		_, err := decode(t, bad)
		assert.ErrorIs(t, err, ErrSyntax, bad)
	}
}

func TestLooksLikeLogfmt(t *testing.T) {
	assert.True(t, LooksLikeLogfmt([]byte("level=info msg=x")))
	assert.True(t, LooksLikeLogfmt([]byte(`time="2024" a=b`)))
	assert.False(t, LooksLikeLogfmt([]byte("INFO started")))
	assert.False(t, LooksLikeLogfmt([]byte("x= y")))
	assert.False(t, LooksLikeLogfmt([]byte(`{"a":1}`)))
}

func TestDecodeDoesNotAllocate(t *testing.T) {
	var d Decoder
	line := []byte(`level=info msg="plain quoted" n=1`)
	fn := func(_, _ []byte) {}
	assert.Zero(t, testing.AllocsPerRun(100, func() { _ = d.Decode(line, fn) }))
}

// FuzzDecode checks that decoding never panics and that re-encoding the pairs
// decodes to the same pairs.
func FuzzDecode(f *testing.F) {
	f.Add(`a=1 b="two words" c`)
	f.Add(`msg="esc \" \\ \u00e9"`)
	f.Add(`k==`)
	f.Fuzz(func(t *testing.T, line string) {
		var d Decoder
		var pairs []pair
		if err := d.Decode([]byte(line), func(k, v []byte) { pairs = append(pairs, pair{string(k), string(v)}) }); err != nil {
			return
		}
		var enc []byte
		for _, p := range pairs {
			enc = append(enc, p.k...)
			enc = append(enc, '=')
			enc = strconv.AppendQuote(enc, p.v)
			enc = append(enc, ' ')
		}
		var again []pair
		if err := d.Decode(enc, func(k, v []byte) { again = append(again, pair{string(k), string(v)}) }); err != nil {
			t.Fatalf("re-encoded %q does not decode: %v", enc, err)
		}
		if len(again) != len(pairs) {
			t.Fatalf("%d pairs, %d after round trip", len(pairs), len(again))
		}
		for i := range pairs {
			if again[i] != pairs[i] && strconv.Quote(again[i].v) != strconv.Quote(pairs[i].v) {
				t.Fatalf("pair %d: %q became %q", i, pairs[i], again[i])
			}
		}
	})
}
