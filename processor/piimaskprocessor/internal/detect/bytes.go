package detect

// Byte classes, looked up once per byte on the hot path.
const (
	cWord        uint16 = 1 << iota // [A-Za-z0-9_]
	cDigit                          // [0-9]
	cUpper                          // [A-Z]
	cLower                          // [a-z]
	cHex                            // [0-9A-Fa-f]
	cB64                            // [A-Za-z0-9+/]
	cB64URL                         // [A-Za-z0-9_-]
	cEmailLocal                     // [A-Za-z0-9._%+-]
	cDomain                         // [A-Za-z0-9-]
	cKey                            // [A-Za-z0-9_.-], characters of a key name
	cToken68                        // [A-Za-z0-9-._~+/], RFC 7235 token68
	cValueStop                      // ends an unquoted value
	cAnchor                         // a byte a non-word detector is anchored on
	cTokStart                       // a first byte tokenPrefix may accept
	cSecretStart                    // [pPsStTaAcC], may start a word of IsSecretKey
)

var class = func() (t [256]uint16) {
	for c := 0; c < 256; c++ {
		b := byte(c)
		alpha := (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z')
		digit := b >= '0' && b <= '9'
		alnum := alpha || digit
		var v uint16
		if alnum || b == '_' {
			v |= cWord
		}
		if digit {
			v |= cDigit
		}
		if b >= 'A' && b <= 'Z' {
			v |= cUpper
		}
		if b >= 'a' && b <= 'z' {
			v |= cLower
		}
		if digit || (b >= 'a' && b <= 'f') || (b >= 'A' && b <= 'F') {
			v |= cHex
		}
		if alnum || b == '+' || b == '/' {
			v |= cB64
		}
		if alnum || b == '_' || b == '-' {
			v |= cB64URL
		}
		if alnum || b == '.' || b == '_' || b == '%' || b == '+' || b == '-' {
			v |= cEmailLocal
		}
		if alnum || b == '-' {
			v |= cDomain
		}
		if alnum || b == '_' || b == '.' || b == '-' {
			v |= cKey
		}
		if alnum || b == '-' || b == '.' || b == '_' || b == '~' || b == '+' || b == '/' {
			v |= cToken68
		}
		switch b {
		case ' ', '\t', '\n', '\r', '\f', '\v', ',', ';', '&', '"', '\'', '}', ']', ')', '<', '>', '|':
			v |= cValueStop
		}
		switch b {
		case '@', '=', ':', '+', '(', '-', '<':
			v |= cAnchor
		}
		switch b {
		case 'A', 'B', 'b', 'g', 'x', 'h', 's', 'r', 'w', 'e':
			v |= cTokStart
		}
		switch b {
		case 'p', 'P', 's', 'S', 't', 'T', 'a', 'A', 'c', 'C':
			v |= cSecretStart
		}
		if b < 0x20 || b == 0x7f {
			v |= cValueStop
		}
		t[c] = v
	}
	return t
}()

func is(c byte, k uint16) bool { return class[c]&k != 0 }

// at reports whether s[i] exists and is in class k.
func at(s string, i int, k uint16) bool { return i >= 0 && i < len(s) && class[s[i]]&k != 0 }

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// hasPrefixFold reports whether s[i:] starts with the lower-case ASCII word w,
// ignoring case.
func hasPrefixFold(s string, i int, w string) bool {
	if len(s)-i < len(w) {
		return false
	}
	for k := 0; k < len(w); k++ {
		if lower(s[i+k]) != w[k] {
			return false
		}
	}
	return true
}

func hasPrefix(s string, i int, p string) bool {
	return len(s)-i >= len(p) && s[i:i+len(p)] == p
}

// span returns the end of the run of class-k bytes starting at i.
func span(s string, i int, k uint16) int {
	for i < len(s) && class[s[i]]&k != 0 {
		i++
	}
	return i
}

// containsFold reports whether the lower-case word w occurs in s, ignoring case.
func containsFold(s, w string) bool {
	for p := 0; p+len(w) <= len(s); p++ {
		if lower(s[p]) == w[0] && hasPrefixFold(s, p, w) {
			return true
		}
	}
	return false
}

// containsWordFold reports whether one of the lower-case words occurs in s as
// a word, ignoring case: at neither end may a letter or digit continue it,
// except a camelCase start or end (phoneNumber) or a plural 's'. "tel" is
// not in hotel_booking_id nor telemetry, "call" not in syscall.
func containsWordFold(s string, words []string) bool {
	for _, w := range words {
		for p := 0; p+len(w) <= len(s); p++ {
			if lower(s[p]) != w[0] || !hasPrefixFold(s, p, w) {
				continue
			}
			if p > 0 && is(s[p-1], cWord) && s[p-1] != '_' && !(is(s[p-1], cLower) && is(s[p], cUpper)) {
				continue
			}
			e := p + len(w)
			if e < len(s) && (s[e] == 's' || s[e] == 'S') {
				e++ // plural
			}
			if e < len(s) && is(s[e], cWord) && s[e] != '_' && !(is(s[e-1], cLower) && is(s[e], cUpper)) {
				continue
			}
			return true
		}
	}
	return false
}

// contextWindow is how far before a candidate context words are looked for.
const contextWindow = 48

// hasNearContext is hasContext for numbers, with whole words (see
// containsWordFold): no other number may stand
// between the context word and the candidate, so "callback at (415)
// 555-0100 by 7896837430" does not make the second number a phone. A masked
// value (ending in ']' or made of '*') counts as a number, which keeps
// masking idempotent.
func hasNearContext(s string, start int, key string, words []string) bool {
	from := start - contextWindow
	if from < 0 {
		from = 0
	}
	for p := start - 1; p >= from; p-- {
		if c := s[p]; is(c, cDigit) || c == ']' || c == '*' {
			from = p + 1
			break
		}
	}
	return containsWordFold(s[from:start], words) || containsWordFold(key, words)
}

// hasContext reports whether one of words (lower case) occurs in the
// contextWindow bytes before start, or in the key the value belongs to.
func hasContext(s string, start int, key string, words []string) bool {
	from := start - contextWindow
	if from < 0 {
		from = 0
	}
	before := s[from:start]
	for _, w := range words {
		if containsFold(before, w) || containsFold(key, w) {
			return true
		}
	}
	return false
}
