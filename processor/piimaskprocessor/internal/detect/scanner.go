package detect

import (
	"regexp"

	"github.com/sluicelogs/sluice/processor/piimaskprocessor/internal/checksum"
)

// Validator is the check a custom detector's regex match must pass.
type Validator uint8

const (
	// ValidateNone accepts every regex match.
	ValidateNone Validator = iota
	// ValidateLuhn requires the digits of the match to pass the Luhn check.
	ValidateLuhn
	// ValidateMod97 requires the match to pass the IBAN mod-97 check.
	ValidateMod97
)

// Custom is a detector defined in configuration.
type Custom struct {
	// Regexp finds candidates.
	Regexp *regexp.Regexp
	// Validator must accept a candidate for it to count.
	Validator Validator
	// Context, when not empty, lists lower-case words of which one must
	// appear shortly before the candidate or in its key.
	Context []string
}

// scanMemo remembers, for one Scan call, how far reads that cannot succeed
// from a later start reached, so that no candidate start re-reads the rest of
// the text ("eyJ-" or "a_token=" repeated over a megabyte would be quadratic).
type scanMemo struct {
	// noJWTBefore: no JWT can start before this offset (a failed read
	// stopped there, and every later start in its run stops there too).
	noJWTBefore int
	// valueRun is the last run of bytes an unquoted value may hold that was
	// read: a value starting inside it ends where it does.
	valueRunStart, valueRunEnd int
	// paramList is the last Digest parameter list matched: a list starting
	// inside it is already masked, and reading it again from every nested
	// key would be quadratic.
	paramListStart, paramListEnd int
	// cookieList is the last Cookie header's list of cookies: the value
	// after an '=' in it is a cookie's.
	cookieListStart, cookieListEnd int
}

// Scanner finds the enabled detectors' matches in text. It holds no
// per-call state and is safe for concurrent use.
type Scanner struct {
	on     [NumBuiltin]bool
	custom []Custom
	// masked reports whether a secret's value is already a mask this
	// processor wrote (nil: none is).
	masked func(v string) bool
}

// NewScanner returns a scanner running the enabled built-in detectors and
// the custom ones.
func NewScanner(enabled []Detector, custom []Custom) *Scanner {
	sc := &Scanner{custom: custom}
	for _, d := range enabled {
		if d < NumBuiltin {
			sc.on[d] = true
		}
	}
	return sc
}

// SetMasked tells the scanner which secret values are masks already written
// (a redact template's text, a hash token), so that they are not masked
// again; any other bracketed value ("[hunter2]") may be the secret itself.
// It must be called before the first Scan.
func (sc *Scanner) SetMasked(masked func(v string) bool) { sc.masked = masked }

// Enabled reports whether the built-in detector d runs.
func (sc *Scanner) Enabled(d Detector) bool { return sc.on[d] }

// Scan appends to dst the non-overlapping matches found in s, in order, and
// returns the extended slice. key is the attribute or map key s is the value
// of ("" when none); it serves as context for ambiguous numbers.
func (sc *Scanner) Scan(dst []Match, s, key string) []Match {
	base := len(dst)
	n := len(s)
	var memo scanMemo
	for i := 0; i < n; {
		c := s[i]
		k := class[c]
		if k&(cWord|cAnchor) == 0 {
			i++
			continue
		}
		if k&cWord != 0 {
			j := span(s, i+1, cWord)
			// Fast paths for the words atWord finds nothing in and resumes
			// after: not followed by what continues an IPv6 address or a
			// base64 secret, and then either
			//   - a word that starts no token, number or IBAN (most words of
			//     a log line), or
			//   - a number atWord's digits rejects at once: a short number
			//     standing alone or glued to letters (a status, 150ms), a
			//     single token of 20+ bytes (too long for a card, phone or
			//     SSN; a hex trace ID, not followed by '.' for IPv4), one
			//     continuing a compound token (pod-7d9f8b6c4, a.1) unless it
			//     may be a card number (pan-4111…).
			// A word ending in a card-long number may hold one after a '_'
			// (card_4111…), so it is not skipped.
			if j-i < 40 && (j == n || (s[j] != ':' && s[j] != '/' && s[j] != '+')) {
				if k&cDigit == 0 {
					if (k&cTokStart == 0 || j-i < 2 || !tokenPrefix(c, s[i+1])) &&
						(j-i < 4 || class[s[i+2]]&cDigit == 0 || class[s[i+3]]&cDigit == 0) &&
						(j-i < 15 || class[s[j-1]]&cDigit == 0 || !sc.on[PaymentCard]) {
						i = j
						continue
					}
				} else if ((j-i < 9 || (j-i >= 20 && (j == n || s[j] != '.'))) &&
					(j+1 >= n || class[s[j+1]]&cDigit == 0 || (s[j] != ' ' && s[j] != '-' && s[j] != '.'))) ||
					(i >= 2 && (s[i-1] == '-' || s[i-1] == '.') && class[s[i-2]]&cWord != 0 &&
						(s[i-1] != '-' || ((!sc.on[IPv4] || !ipv4Before(s, i-1)) && !sc.gluedCardLength(j-i)))) {
					i = j
					continue
				}
			}
			m, ok, next := sc.atWord(s, i, j, key, &memo)
			if ok {
				dst = appendMatch(dst, base, m)
				if m.End > next {
					next = m.End
				}
			}
			if next <= i {
				next = j
			}
			i = next
			continue
		}
		var m Match
		ok := false
		switch c {
		case '@':
			if sc.on[Email] {
				m, ok = email(s, i)
			}
		case '=', ':':
			m, ok = sc.atSeparator(s, i, &memo)
		case '+':
			// When no phone number starts here, the digits after the '+' are
			// scanned as a number (q=card+4111…, my+ssn+is+123-45-6789).
			if sc.on[Phone] {
				m, ok = phoneE164(s, i, key)
			}
		case '(':
			if sc.on[Phone] {
				m, ok = phoneNANPParen(s, i)
			}
		case '-':
			// Only "--" starts a flag or a PEM line; a single '-' (dates,
			// UUIDs, pod names) costs no call.
			if i+2 < n && s[i+1] == '-' {
				if sc.on[SecretKeyValue] && is(s[i+2], cUpper|cLower) && flagStart(s, i) {
					m, ok = sc.secretFlag(s, i, &memo)
				}
				if !ok && sc.on[PrivateKey] && s[i+2] == '-' {
					m, ok = pemBlock(s, i)
				}
			}
		case '<':
			if sc.on[SecretKeyValue] {
				m, ok = sc.secretElement(s, i, &memo)
			}
		}
		if ok {
			dst = appendMatch(dst, base, m)
			// A secret value is scanned on, so a specific detector (a Stripe
			// key in STRIPE_KEY=…) can claim it; see wins.
			if m.End > i && m.Detector != int(SecretKeyValue) {
				i = m.End
				continue
			}
		}
		i++
	}
	if len(sc.custom) > 0 {
		dst = sc.scanCustom(dst, base, s, key)
	}
	return dst
}

// appendMatch adds m to the sorted, non-overlapping matches dst[base:].
// Overlapping matches become one match over their union, named after the
// longest (the earlier one on a tie): masking only the winner would leave the
// rest of the loser in the text, to be found on its own by a second pass
// ("1::0@0.AA": the email wins, and "1::" would stay an IPv6 address).
func appendMatch(dst []Match, base int, m Match) []Match {
	if len(dst) == base || dst[len(dst)-1].End <= m.Start {
		return append(dst, m)
	}
	// dst[base:] is sorted and disjoint, so the matches m overlaps or
	// precedes are a suffix; finding it from the end keeps a scan with many
	// matches linear.
	f := len(dst)
	for f > base && dst[f-1].End > m.Start {
		f--
	}
	best, u := m, m
	w := f
	for k := f; k < len(dst); k++ {
		o := dst[k]
		if o.Start < m.End {
			if !wins(best, o) {
				best = o
			}
			u.Start, u.End = min(u.Start, o.Start), max(u.End, o.End)
			continue
		}
		dst[w] = o
		w++
	}
	u.Detector = best.Detector
	dst = append(dst[:w], u)
	for k := len(dst) - 1; k > f && dst[k-1].Start > u.Start; k-- {
		dst[k], dst[k-1] = dst[k-1], dst[k]
	}
	return dst
}

// tokenPrefix reports whether a word starting with c0 c1 may be one of the
// prefixed tokens (AKIA…, AIza…, Bearer, Basic, gh…, gl…, xox…, hooks…,
// sk_…, rk_…, whsec_…, eyJ…).
func tokenPrefix(c0, c1 byte) bool {
	switch c0 {
	case 'A':
		return true
	case 'B', 'b':
		c1 = lower(c1)
		return c1 == 'e' || c1 == 'a'
	case 'g':
		return c1 == 'h' || c1 == 'l'
	case 'x', 'h':
		return c1 == 'o'
	case 's', 'r':
		return c1 == 'k'
	case 'w':
		return c1 == 'h'
	case 'e':
		return c1 == 'y'
	}
	return false
}

// wins reports whether m replaces the overlapping match o: the longer one
// wins; on a tie a specific detector beats secret_kv (a Stripe key in
// STRIPE_KEY=… is reported as a Stripe key), otherwise the first found stays.
func wins(m, o Match) bool {
	ml, ol := m.End-m.Start, o.End-o.Start
	if ml != ol {
		return ml > ol
	}
	return o.Detector == int(SecretKeyValue) && m.Detector != int(SecretKeyValue)
}

// atWord runs the detectors that start at a word token s[i:j]. It returns the
// match, if any, and where scanning resumes when there is none.
func (sc *Scanner) atWord(s string, i, j int, key string, memo *scanMemo) (Match, bool, int) {
	c := s[i]
	if sc.on[IPv6] && j < len(s) && s[j] == ':' {
		if m, ok := ipv6Token(s, i, j); ok {
			return m, true, m.End
		}
	}
	if class[c]&cDigit != 0 {
		m, ok, next := sc.digits(s, i, j, key)
		if !ok && sc.on[AWSSecretKey] && awsSecretCandidate(s, i, j) {
			if m, ok := awsSecret(s, i, key); ok {
				return m, true, m.End
			}
		}
		return m, ok, next
	}
	switch c {
	case 'A':
		if sc.on[AWSAccessKey] && j-i == 20 && awsKeyID(s[i:j]) {
			return Match{i, j, int(AWSAccessKey)}, true, j
		}
		if sc.on[GoogleAPIKey] && hasPrefix(s, i, "AIza") {
			// Read no further than a key is long: "AIza-" repeated would
			// otherwise re-read the rest of the text from every AIza. A key
			// may be followed by another (keys joined by '-'): each masked
			// one would otherwise expose only its left neighbour.
			e := i + 4
			for e < len(s) && e-i < 39 && class[s[e]]&cB64URL != 0 {
				e++
			}
			if e-i == 39 && (!at(s, e, cB64URL) || hasPrefix(s, e, "AIza")) {
				return Match{i, e, int(GoogleAPIKey)}, true, e
			}
		}
	case 'g':
		if sc.on[GitHubToken] {
			if m, ok := githubToken(s, i, j); ok {
				return m, true, m.End
			}
		}
		if sc.on[GitLabToken] {
			if m, ok := gitlabToken(s, i); ok {
				return m, true, m.End
			}
		}
	case 'x':
		if sc.on[SlackToken] {
			if m, ok := slackToken(s, i); ok {
				return m, true, m.End
			}
		}
	case 'h':
		if sc.on[SlackToken] {
			if m, ok := slackWebhook(s, i); ok {
				return m, true, m.End
			}
		}
	case 's', 'r', 'w':
		if sc.on[StripeKey] {
			if m, ok := stripeKey(s, i, j); ok {
				return m, true, m.End
			}
		}
	case 'e':
		if sc.on[JWT] && i >= memo.noJWTBefore {
			m, ok, reached := jwt(s, i)
			if ok {
				return m, true, m.End
			}
			memo.noJWTBefore = reached
		}
	case 'b', 'B':
		if sc.on[BearerToken] {
			if m, ok := bearer(s, i, j); ok {
				return m, true, m.End
			}
		}
	}
	if sc.on[IBAN] && j-i >= 4 && is(s[i+2], cDigit) && is(s[i+3], cDigit) {
		if m, ok := iban(s, i, j); ok {
			return m, true, m.End
		}
	}
	if sc.on[AWSSecretKey] && awsSecretCandidate(s, i, j) {
		if m, ok := awsSecret(s, i, key); ok {
			return m, true, m.End
		}
	}
	if sc.on[PaymentCard] && j-i >= 15 && is(s[j-1], cDigit) {
		// A card number joined to its name: card_4111111111111111.
		d := j - 1
		for d > i && j-d < 20 && is(s[d-1], cDigit) {
			d--
		}
		if s[d-1] == '_' && sc.gluedCardLength(j-d) {
			if m, ok := cardToken(s, d, j, key); ok {
				return m, true, m.End
			}
		}
	}
	return Match{}, false, j
}

// gluedCardLength reports whether a number of n digits joined to a word
// by '_' or '-' is worth a card check.
func (sc *Scanner) gluedCardLength(n int) bool {
	return sc.on[PaymentCard] && n >= 13 && n <= 19
}

// awsSecretCandidate is the cheap test for a 40-character base64 token: the
// word is that long, or continues with '/' or '+'.
func awsSecretCandidate(s string, i, j int) bool {
	return j-i >= 40 || (j < len(s) && (s[j] == '/' || s[j] == '+'))
}

// ipv6Token tries an IPv6 address at a token of hex digits followed by ':'.
func ipv6Token(s string, i, j int) (Match, bool) {
	if j-i > 4 || span(s, i, cHex) != j || at(s, i-1, cWord) {
		return Match{}, false
	}
	return ipv6(s, i)
}

// atSeparator runs the detectors anchored on '=' or ':'.
func (sc *Scanner) atSeparator(s string, i int, memo *scanMemo) (Match, bool) {
	if s[i] == ':' {
		if hasPrefix(s, i, "://") {
			if sc.on[URLCredentials] {
				return urlCredentials(s, i)
			}
			return Match{}, false
		}
		if sc.on[IPv6] && hasPrefix(s, i, "::") && !at(s, i-1, cWord) {
			if m, ok := ipv6(s, i); ok {
				return m, true
			}
		}
	}
	if sc.on[SecretKeyValue] {
		return sc.secretValue(s, i, memo)
	}
	return Match{}, false
}

func (sc *Scanner) scanCustom(dst []Match, base int, s, key string) []Match {
	for ci := range sc.custom {
		cd := &sc.custom[ci]
		for _, loc := range cd.Regexp.FindAllStringIndex(s, -1) {
			if loc[0] == loc[1] {
				continue
			}
			v := s[loc[0]:loc[1]]
			switch cd.Validator {
			case ValidateLuhn:
				if !checksum.Luhn(v) {
					continue
				}
			case ValidateMod97:
				if !checksum.Mod97(v) {
					continue
				}
			}
			if len(cd.Context) > 0 && !hasContext(s, loc[0], key, cd.Context) {
				continue
			}
			dst = appendMatch(dst, base, Match{loc[0], loc[1], int(NumBuiltin) + ci})
		}
	}
	return dst
}
