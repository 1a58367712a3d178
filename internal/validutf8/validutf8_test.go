package validutf8

import (
	"encoding/json"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestString(t *testing.T) {
	valid := "ok ü € 💳 \uFFFD"
	assert.Equal(t, valid, String(valid))
	assert.Equal(t, "\uFFFD\uFFFDabc", String("\xff\xfeabc"))
	assert.Equal(t, "tail \uFFFD\uFFFD", String("tail \xe2\x82"), "a truncated sequence: one per byte")
	assert.Empty(t, String(""))
}

// FuzzString checks the result is valid UTF-8, unchanged for valid input, and
// equal to what encoding/json makes of the string.
func FuzzString(f *testing.F) {
	for _, s := range []string{"", "abc", "\xff", "a\xe2\x82b", "\xed\xa0\x80", "ü€"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := String(s)
		require.True(t, utf8.ValidString(got))
		if utf8.ValidString(s) {
			require.Equal(t, s, got)
		}
		b, err := json.Marshal(s)
		require.NoError(t, err)
		var viaJSON string
		require.NoError(t, json.Unmarshal(b, &viaJSON))
		require.Equal(t, viaJSON, got)
	})
}

func TestCut(t *testing.T) {
	for _, tc := range []struct {
		s    string
		n    int
		want int
	}{
		{"ab", 5, 2},
		{"ab", 0, 0},
		{"aé", 2, 1},                 // not inside the two bytes of é
		{"aéb", 3, 3},                // after é
		{"漢", 2, 0},                  // back to the start of the only character
		{"a\x80\x80\x80\x80b", 5, 5}, // invalid: at most UTFMax-1 bytes back
	} {
		if got := Cut(tc.s, tc.n); got != tc.want {
			t.Errorf("Cut(%q, %d) = %d, want %d", tc.s, tc.n, got, tc.want)
		}
	}
}
