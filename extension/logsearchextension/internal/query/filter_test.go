package query

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestKeywordMatcherFoldsCase(t *testing.T) {
	tests := []struct {
		keyword, text string
		want          bool
	}{
		{"declined", "payment DECLINED for order 1", true},
		{"DECLINED", "payment declined", true},
		{"declined", "payment decline", false},
		// Lower case longer in UTF-8 than the text's upper case.
		{"Ⱥ", "Ⱥ", true},
		{"ⱥ", "Ⱥ", true},
		{"Ⱥ", "xxⱥ", true},
		{"ⱥⱥ", "Ⱥ", false},
		// The Kelvin sign folds to ASCII k, the long s to s.
		{"k", "5 \u212a", true},
		{"\u212a", "5 k", true},
		{"\u212a", "5 K", true},
		{"\u212a", "5 \u212a", true},
		{"kelvin", "\u212aELVIN", true},
		{"mask", "MAſK", true},
		{"mask", "MAſT", false},
		{"k", "ä", false},
		// Sigma's three forms are one fold orbit.
		{"σ", "ΟΔΟΣ", true},
		{"ς", "σ", true},
		{"für", "Zahlung FÜR Bestellung", true},
		{"für", "Zahlung FUR Bestellung", false},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, newKeywordMatcher(tt.keyword).match(tt.text), "%q in %q", tt.keyword, tt.text)
	}
}

// TestKeywordMatcherAgreesWithEqualFold compares the matcher with the
// obvious definition (some substring of the text equals the keyword under
// strings.EqualFold) over random strings of case-tricky runes.
func TestKeywordMatcherAgreesWithEqualFold(t *testing.T) {
	alphabet := []rune("aAkK\u212asSſKxΣσςȺⱥÄäß\u0130i")
	rng := rand.New(rand.NewPCG(1, 2))
	randString := func(n int) string {
		var b strings.Builder
		for range n {
			b.WriteRune(alphabet[rng.IntN(len(alphabet))])
		}
		return b.String()
	}
	reference := func(k, s string) bool {
		var bounds []int
		for i := range s {
			bounds = append(bounds, i)
		}
		bounds = append(bounds, len(s))
		for x, i := range bounds {
			for _, j := range bounds[x:] {
				if strings.EqualFold(s[i:j], k) {
					return true
				}
			}
		}
		return false
	}
	for range 20000 {
		k, s := randString(1+rng.IntN(3)), randString(rng.IntN(8))
		assert.Equal(t, reference(k, s), newKeywordMatcher(k).match(s), "%q in %q", k, s)
	}
}
