// Package validutf8 replaces the bytes of a string that are not part of valid
// UTF-8, each by U+FFFD, the way encoding/json (and internal/jsonenc) does, so
// that a record looks the same in every store it reaches.
package validutf8 // import "github.com/sluicelogs/sluice/internal/validutf8"

import "unicode/utf8"

// String returns s when it is valid UTF-8, else a copy with every invalid
// byte replaced by U+FFFD.
func String(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return string(Append(make([]byte, 0, len(s)+8), s))
}

// Append appends s to dst with every invalid byte replaced by U+FFFD.
func Append(dst []byte, s string) []byte {
	for len(s) > 0 {
		r, size := utf8.DecodeRuneInString(s)
		if r == utf8.RuneError && size == 1 {
			dst = utf8.AppendRune(dst, utf8.RuneError)
		} else {
			dst = append(dst, s[:size]...)
		}
		s = s[size:]
	}
	return dst
}

// Cut returns the length of s cut to at most n bytes without splitting a
// character: n moved back to the start of the character it falls in. Over
// invalid UTF-8 it moves back at most utf8.UTFMax-1 bytes, so it stays
// bounded whatever the input.
func Cut(s string, n int) int {
	if n >= len(s) {
		return len(s)
	}
	if n <= 0 {
		return 0
	}
	for k := n; k > n-utf8.UTFMax && k >= 0; k-- {
		if utf8.RuneStart(s[k]) {
			return k
		}
	}
	return n
}
