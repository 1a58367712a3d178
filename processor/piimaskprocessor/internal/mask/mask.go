// Package mask rewrites detected values: redact with a template, keep a
// harmless part (partial), replace with a keyed HMAC token (hash), or signal
// that the containing attribute is to be dropped.
package mask // import "github.com/sluicelogs/sluice/processor/piimaskprocessor/internal/mask"

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"net/netip"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/sluicelogs/sluice/internal/validutf8"

	"github.com/sluicelogs/sluice/processor/piimaskprocessor/internal/detect"
)

// Action is what happens to a detected value.
type Action uint8

// Actions, by configuration name.
const (
	Redact Action = iota
	Partial
	Hash
	Drop
)

var actionNames = [...]string{Redact: "redact", Partial: "partial", Hash: "hash", Drop: "drop"}

// ActionNames lists the configuration names of the actions.
func ActionNames() []string { return append([]string(nil), actionNames[:]...) }

// ParseAction returns the action called name.
func ParseAction(name string) (Action, error) {
	for i, n := range actionNames {
		if n == name {
			return Action(i), nil
		}
	}
	return 0, fmt.Errorf("unknown action %q; allowed: %s", name, strings.Join(actionNames[:], ", "))
}

func (a Action) String() string {
	if int(a) < len(actionNames) {
		return actionNames[a]
	}
	return "unknown"
}

// DetectorPlaceholder is replaced by the detector name in redact templates.
const DetectorPlaceholder = "{detector}"

// HashBytes is how many bytes of the HMAC-SHA256 a hash token keeps (128 bits).
const HashBytes = 16

// Rule is how one detector's values are masked.
type Rule struct {
	// Name is the detector name used in templates, tokens and metrics.
	Name string
	// Kind is the built-in detector, or detect.NumBuiltin for custom and
	// key rules (which get the generic partial form).
	Kind   detect.Detector
	Action Action
}

// Masker applies the rules. It is safe for concurrent use.
type Masker struct {
	rules    []Rule
	redacted []string // rendered template per rule
	keyID    string
	hmacs    sync.Pool // of hash.Hash, nil New when no key
}

// New returns a masker for rules (indexed like detect.Match.Detector, plus any
// extra rules the caller adds). template must contain no other placeholder
// than {detector}. key and keyID are needed only when a rule hashes.
func New(rules []Rule, template string, key []byte, keyID string) (*Masker, error) {
	m := &Masker{rules: rules, keyID: keyID}
	needKey := false
	for _, r := range rules {
		m.redacted = append(m.redacted, strings.ReplaceAll(template, DetectorPlaceholder, r.Name))
		needKey = needKey || r.Action == Hash
	}
	if needKey {
		if len(key) == 0 {
			return nil, errors.New("a detector uses action hash but no HMAC key is configured")
		}
		k := append([]byte(nil), key...)
		m.hmacs.New = func() any { return hmac.New(sha256.New, k) }
	}
	return m, nil
}

// Rule returns rule i.
func (m *Masker) Rule(i int) Rule { return m.rules[i] }

// Redacted returns the redact replacement for rule i.
func (m *Masker) Redacted(i int) string { return m.redacted[i] }

// Masked reports whether v is exactly a replacement this masker writes: a
// rule's redact text or a hash token under its key id. Only these count as
// already masked; any other bracketed text may be a secret ("[s3cr3t]").
func (m *Masker) Masked(v string) bool {
	for _, r := range m.redacted {
		if v == r {
			return true
		}
	}
	// "[name:keyID:hex]"
	n := len(v) - 2*HashBytes - len(m.keyID) - 3
	if n < 2 || v[0] != '[' || v[len(v)-1] != ']' || m.hmacs.New == nil {
		return false
	}
	tail := v[n:]
	if tail[0] != ':' || tail[1+len(m.keyID)] != ':' || tail[1:1+len(m.keyID)] != m.keyID {
		return false
	}
	for _, c := range []byte(tail[2+len(m.keyID) : len(tail)-1]) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	name := v[1:n]
	for _, r := range m.rules {
		if r.Action == Hash && r.Name == name {
			return true
		}
	}
	return false
}

// Apply appends s with every match replaced to dst. drop reports that a
// matched rule asks for the whole attribute to be removed; the text is still
// fully masked so a caller that cannot drop (a string log body) can use it.
func (m *Masker) Apply(dst []byte, s string, matches []detect.Match) (out []byte, drop bool) {
	prev := 0
	for _, mt := range matches {
		dst = append(dst, s[prev:mt.Start]...)
		var d bool
		dst, d = m.Value(dst, mt.Detector, s[mt.Start:mt.End])
		drop = drop || d
		prev = mt.End
	}
	return append(dst, s[prev:]...), drop
}

// Value appends the masked form of v under rule i to dst.
func (m *Masker) Value(dst []byte, i int, v string) ([]byte, bool) {
	r := m.rules[i]
	switch r.Action {
	case Partial:
		return partial(dst, r.Kind, v), false
	case Hash:
		return m.hashToken(dst, r.Name, v), false
	case Drop:
		return append(dst, m.redacted[i]...), true
	default:
		return append(dst, m.redacted[i]...), false
	}
}

// hashToken appends "[name:keyID:hex]" where hex is the first HashBytes
// bytes of HMAC-SHA256(key, v): equal values give equal tokens under one key,
// and the key id tells tokens of rotated keys apart.
func (m *Masker) hashToken(dst []byte, name, v string) []byte {
	h := m.hmacs.Get().(hash.Hash)
	h.Reset()
	_, _ = h.Write([]byte(v))
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	m.hmacs.Put(h)
	dst = append(dst, '[')
	dst = append(dst, name...)
	dst = append(dst, ':')
	dst = append(dst, m.keyID...)
	dst = append(dst, ':')
	dst = hex.AppendEncode(dst, sum[:HashBytes])
	return append(dst, ']')
}

const stars = "****"

// partial keeps the part of a value that identifies no one: an email's
// domain, a card's or account's last four digits, an address's network,
// a token's type prefix. Secrets keep nothing. What it writes is always
// valid UTF-8: it counts and keeps whole characters, and an invalid byte in
// a kept part becomes '*'.
func partial(dst []byte, kind detect.Detector, v string) []byte {
	start := len(dst)
	dst = partialParts(dst, kind, v)
	if !utf8.Valid(dst[start:]) {
		dst = starInvalid(dst, start)
	}
	return dst
}

func partialParts(dst []byte, kind detect.Detector, v string) []byte {
	switch kind {
	case detect.Email:
		at := strings.LastIndexByte(v, '@')
		return append(append(dst, "***"...), v[at:]...)
	case detect.PaymentCard, detect.USSSN, detect.Phone:
		return keepLastDigits(dst, v, 4)
	case detect.IBAN:
		return keepEnds(dst, v, 2, 4)
	case detect.IPv4, detect.IPv6:
		addr, err := netip.ParseAddr(v)
		if err != nil {
			return append(dst, stars...)
		}
		bits := 24
		if addr.Is6() {
			bits = 48
		}
		p, _ := addr.Prefix(bits)
		return p.Addr().AppendTo(dst)
	case detect.JWT, detect.AWSAccessKey, detect.GitHubToken, detect.GitLabToken,
		detect.SlackToken, detect.StripeKey, detect.GoogleAPIKey:
		return append(append(dst, v[:validutf8.Cut(v, min(4, len(v)/4))]...), stars...)
	case detect.BearerToken, detect.AWSSecretKey, detect.PrivateKey, detect.SecretKeyValue, detect.URLCredentials:
		return append(dst, stars...)
	default: // custom detectors and key rules
		if utf8.RuneCountInString(v) < 8 {
			return append(dst, stars...)
		}
		return keepEnds(dst, v, 0, 4)
	}
}

// keepLastDigits replaces every digit but the last n with '*', keeping
// separators so the shape stays readable.
func keepLastDigits(dst []byte, v string, n int) []byte {
	total := 0
	for k := 0; k < len(v); k++ {
		if v[k] >= '0' && v[k] <= '9' {
			total++
		}
	}
	seen := 0
	for k := 0; k < len(v); k++ {
		c := v[k]
		if c >= '0' && c <= '9' {
			seen++
			if seen <= total-n {
				c = '*'
			}
		}
		dst = append(dst, c)
	}
	return dst
}

// keepEnds keeps head leading and tail trailing characters and puts one '*'
// for each character between (spaces are kept). Counting characters, not
// bytes, keeps a multi-byte letter whole ("Lefèvre" ends in "èvre").
func keepEnds(dst []byte, v string, head, tail int) []byte {
	n := utf8.RuneCountInString(v)
	k := 0
	for i := 0; i < len(v); k++ {
		_, size := utf8.DecodeRuneInString(v[i:])
		if k < head || k >= n-tail {
			dst = append(dst, v[i:i+size]...)
		} else if v[i] == ' ' {
			dst = append(dst, ' ')
		} else {
			dst = append(dst, '*')
		}
		i += size
	}
	return dst
}

// starInvalid replaces each invalid byte of dst[start:] with '*', for input
// that was not valid UTF-8 to begin with.
func starInvalid(dst []byte, start int) []byte {
	for i := start; i < len(dst); {
		r, size := utf8.DecodeRune(dst[i:])
		if r == utf8.RuneError && size == 1 {
			dst[i] = '*'
		}
		i += size
	}
	return dst
}
