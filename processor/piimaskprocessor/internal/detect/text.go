package detect

import (
	"net/netip"
	"strings"
)

// email matches local@domain.tld around the '@' at i. The domain needs two
// or more labels and an alphabetic (or xn--) top-level label, which rules
// out package@1.2.3, image@sha256:… and @mentions; it ends at the last label
// that can be one, so text glued to it (_2024.csv, %3E, +OR, --bounced) is
// left out instead of the address being missed.
func email(s string, i int) (Match, bool) {
	// The local part goes back to the previous separator, non-ASCII bytes
	// and all, however long: stopping early would leave its start in the
	// text (jö… of jörg). The read stops at the previous '@', so the
	// '@'s of a text read each byte once.
	ls := i
	for ls > 0 && (is(s[ls-1], cEmailLocal) || s[ls-1] >= 0x80) {
		ls--
	}
	if ls > 0 && s[ls-1] == '@' {
		// The local part runs back into the address before: it starts where
		// that one's domain ends (a@b.io%2Cc@d.io), as it would once that
		// one is masked; otherwise each address of a chain would need a
		// pass of its own.
		if e := domainEnd(s, ls); e >= 0 {
			ls = e
		}
	}
	for ls < i && s[ls] == '.' {
		ls++
	}
	if ls == i || s[i-1] == '.' {
		return Match{}, false
	}
	if ls > 0 && s[ls-1] == ':' && userinfo(s, ls-1) {
		return Match{}, false
	}
	end := domainEnd(s, i+1)
	if end < 0 {
		return Match{}, false
	}
	// a@b.io@c.io is no address; masking one part would expose a new one.
	if (end < len(s) && s[end] == '@') || (ls > 0 && s[ls-1] == '@') {
		return Match{}, false
	}
	return Match{ls, end, int(Email)}, true
}

// domainEnd returns where the domain of an address starting at p (after
// the '@') ends: after its last label that can be a top-level one, with two
// or more labels; -1 when there is none. It reads no further than the next
// '@'.
func domainEnd(s string, p int) int {
	labels, end := 0, -1
	for {
		e := span(s, p, cDomain)
		if e == p || e-p > 63 || s[p] == '-' {
			return end
		}
		labels++
		if t := tldEnd(s, p, e); labels >= 2 && t > 0 {
			end = t
		}
		if s[e-1] == '-' || e+1 >= len(s) || s[e] != '.' || !is(s[e+1], cDomain) {
			return end
		}
		p = e + 1
	}
}

// tldEnd returns where a domain whose top-level label starts at p (the
// label runs to e) ends: e for an alphabetic label of two or more letters or
// an xn-- label, the end of its letters when a '-' follows them
// (example.com--bounced), or 0 when the label can be no top-level label.
func tldEnd(s string, p, e int) int {
	a := span(s[:e], p, cUpper|cLower)
	switch {
	case a-p < 2:
		return 0
	case a == e:
		return e
	case a-p == 2 && e-p > 4 && hasPrefixFold(s, p, "xn--") && s[e-1] != '-':
		return e
	case s[a] == '-':
		return a
	}
	return 0
}

// userinfo reports whether the ':' at c sits in the user:password part of a
// URL, i.e. "://" precedes it within the same token.
func userinfo(s string, c int) bool {
	for q := c - 1; q >= 2 && c-q < 256; q-- {
		switch s[q] {
		case '/':
			return s[q-1] == '/' && s[q-2] == ':'
		case '@', ' ', '\t', '\n', '"', '\'':
			return false
		}
	}
	return false
}

// urlCredentials matches the password of user:password@host after the
// "://" at i. The password runs to the last '@' of the authority (the part
// before the first '/', '?' or '#'): an '@' in it is often left unescaped
// (app:p@ssw0rd@db).
func urlCredentials(s string, i int) (Match, bool) {
	p := i + 3
	colon, last := -1, -1
	for q := p; q < len(s) && q-p < 256; q++ {
		c := s[q]
		if c == '/' || c == '?' || c == '#' || class[c]&cValueStop != 0 {
			break
		}
		if c == ':' && colon < 0 {
			colon = q
		} else if c == '@' {
			last = q
		}
	}
	// user:password@ and :password@ (redis://:pw@host); not user@ nor
	// user@host:port.
	if colon < 0 || last < colon+2 {
		return Match{}, false
	}
	return Match{colon + 1, last, int(URLCredentials)}, true
}

// ipv6 matches an IPv6 address starting at i (a hex digit or "::"). Shapes
// that cannot be IPv6 (times, MAC addresses, Foo::Bar) are rejected before
// the address is parsed.
func ipv6(s string, i int) (Match, bool) {
	// Only a whole run of hex digits and colons can be an address: not the
	// tail of "0::2::0:2" nor the end of a longer token; but a key may
	// precede it (client_ip:2001:db8::1).
	if i > 0 && ((s[i-1] == ':' && !keyBefore(s, i-1)) || s[i-1] == '.' || is(s[i-1], cWord)) {
		return Match{}, false
	}
	e, colons, double := i, 0, false
	for e < len(s) && e-i < 45 {
		c := s[e]
		if c == ':' {
			colons++
			if e+1 < len(s) && s[e+1] == ':' {
				if double {
					return Match{}, false // a second "::"
				}
				double = true
			}
		} else if !is(c, cHex) && c != '.' {
			break
		}
		e++
	}
	for e > i && s[e-1] == '.' {
		e--
	}
	// A single trailing ':' belongs to the text ("addr 2001:db8::1: refused").
	if e > i+1 && s[e-1] == ':' && s[e-2] != ':' {
		e--
		colons--
	}
	if e < len(s) && (s[e] == ':' || is(s[e], cHex)) {
		return Match{}, false // the run goes on past what can be an address
	}
	if at(s, e, cWord) || (!double && colons != 7) || colons < 2 || (s[i] == ':' && colons < 3) {
		return Match{}, false
	}
	addr, err := netip.ParseAddr(s[i:e])
	if err != nil || !addr.Is6() || addr.IsUnspecified() || addr.IsLoopback() {
		return Match{}, false
	}
	return Match{i, e, int(IPv6)}, true
}

// keyBefore reports whether the ':' at c ends a key (client_ip:) rather
// than a group of hex digits (an address, a time such as 10:20:30): the
// word before it holds a byte no group can, or is longer than a group.
func keyBefore(s string, c int) bool {
	q := c
	for q > 0 && c-q < 5 && is(s[q-1], cWord) {
		if !is(s[q-1], cHex) {
			return true
		}
		q--
	}
	return c-q == 5
}

// secretValue matches the value of key=value, key: value, "key":"value" or
// ?key=value when the key names a secret (see IsSecretKey), or a card
// security code after a CVV key (see CVVKey); i is at the '=' or ':'.
func (sc *Scanner) secretValue(s string, i int, memo *scanMemo) (Match, bool) {
	if s[i] == '=' && i >= memo.cookieListStart && i < memo.cookieListEnd {
		// A cookie of a Cookie header (see below).
		vs, ve := memo.valueSpan(s, i+1)
		if ve <= vs || sc.maskedValue(s[vs:ve]) {
			return Match{}, false
		}
		return Match{vs, ve, int(SecretKeyValue)}, true
	}
	// Key: back over blanks ("password" : x, db.password = x), closing
	// quotes (also escaped ones: \" and \\\" one level deeper), then key
	// bytes.
	ke := i
	for ke > 0 && i-ke < 8 && (s[ke-1] == ' ' || s[ke-1] == '\t') {
		ke--
	}
	for q := 0; q < 8 && ke > 0 && (s[ke-1] == '"' || s[ke-1] == '\'' || s[ke-1] == '\\'); q++ {
		ke--
	}
	ks := ke
	var seen uint16 // the classes of the key's bytes, or-ed
	for ks > 0 && ke-ks < 64 {
		k := class[s[ks-1]]
		if k&cKey == 0 {
			break
		}
		seen |= k
		ks--
	}
	// Key names written as two words: "API key", "access key", "private key".
	if ke-ks == 3 && ks >= 2 && s[ks-1] == ' ' && hasPrefixFold(s, ks, "key") {
		ws := ks - 1
		for ws > 0 && ks-1-ws < 32 && is(s[ws-1], cKey) {
			ws--
		}
		if w := s[ws : ks-1]; secretKeyFirstWord(w) {
			ks = ws
			seen |= cSecretStart
		}
	}
	// A key with no byte a secret word starts with is no secret key.
	if ks == ke || seen&cSecretStart == 0 {
		return Match{}, false
	}
	if !IsSecretKey(s[ks:ke]) {
		if cvvKeyEnd(s[ks:ke]) && CVVKey(s[ks:ke]) {
			return cvvAfter(s, i)
		}
		return Match{}, false
	}
	if ks > 0 && s[ks-1] == '[' && sc.inMask(s, ks-1, i) {
		// "[secret_kv:k1:…]", a hash token: its detector name is no key.
		return Match{}, false
	}
	p := i + 1
	for p < len(s) && (s[p] == ' ' || s[p] == '\t') && p-i < 4 {
		p++
	}
	// A Cookie header holds a list of cookies (a=1; b=2), a Set-Cookie
	// header one (its attributes, Path=/, stay): the list is marked here and
	// each cookie's value is masked at its '=' (names stay readable).
	if pairs := cookiePairs(s[ks:ke]); pairs > 0 && p < len(s) && s[p] != '"' && s[p] != '\'' && s[p] != '\\' {
		if p >= memo.cookieListStart && p < memo.cookieListEnd {
			return Match{}, false
		}
		if e := paramList(s, p, ';', pairs); e > p {
			memo.cookieListStart, memo.cookieListEnd = p, e
			return Match{}, false
		}
	}
	vs, ve := memo.valueSpan(s, p)
	if ve > vs && ve+1 < len(s) && s[ve] == ' ' {
		// "Authorization: Bearer abc…": the credential follows the scheme
		// word; a Digest credential is its whole parameter list.
		switch authScheme(s[vs:ve]) {
		case schemeParams:
			if m, ok, covered := sc.paramListMatch(s, ve+1, memo); ok || covered {
				return m, ok
			}
			fallthrough
		case schemeToken:
			vs = ve + 1
			ve = memo.unquotedEnd(s, vs)
		}
	}
	if ve <= vs || sc.maskedValue(s[vs:ve]) {
		return Match{}, false
	}
	return Match{vs, ve, int(SecretKeyValue)}, true
}

// maxMaskLen bounds the bracketed masks inMask looks for (a hash token is
// its detector's name, the key id and 32 hex digits).
const maxMaskLen = 256

// inMask reports whether the '[' at o opens a mask the processor wrote that
// holds the separator at i.
func (sc *Scanner) inMask(s string, o, i int) bool {
	if sc.masked == nil {
		return false
	}
	end := min(len(s), o+maxMaskLen)
	if end <= i {
		return false
	}
	c := strings.IndexByte(s[i:end], ']')
	return c >= 0 && sc.masked(s[o:i+c+1])
}

// valueSpan returns the value starting at p: quoted (also with escaped
// quotes, at any depth), or unquoted up to a byte that ends a value.
func (memo *scanMemo) valueSpan(s string, p int) (vs, ve int) {
	b := 0 // backslashes before an opening quote: how deeply it is escaped
	for p+b < len(s) && s[p+b] == '\\' && b < 8 {
		b++
	}
	switch {
	case b > 0 && p+b < len(s) && s[p+b] == '"':
		vs = p + b + 1
		return vs, escapedQuoteEnd(s, vs, b)
	case p < len(s) && (s[p] == '"' || s[p] == '\''):
		return p + 1, quoteEnd(s, p+1, s[p])
	}
	return p, memo.unquotedEnd(s, p)
}

// maskedValue reports whether a secret's value hides nothing: a
// placeholder, or a mask this processor wrote (see SetMasked).
func (sc *Scanner) maskedValue(v string) bool {
	return PlaceholderValue(v) || (sc.masked != nil && sc.masked(v))
}

// quoteEnd returns the index of the quote q closing a value that starts at
// vs (backslash escapes skipped), or len(s) when it is missing.
func quoteEnd(s string, vs int, q byte) int {
	ve := vs
	for ve < len(s) && s[ve] != q {
		if s[ve] == '\\' && ve+1 < len(s) {
			ve++
		}
		ve++
	}
	return min(ve, len(s))
}

// maxParams stands for "the whole list" in paramList.
const maxParams = 1 << 30

// paramListMatch matches the name=value list of a Digest credential at p.
// covered reports that p lies in a list already matched: the caller has
// nothing more to find there.
func (sc *Scanner) paramListMatch(s string, p int, memo *scanMemo) (m Match, ok, covered bool) {
	if p >= memo.paramListStart && p < memo.paramListEnd {
		return Match{}, false, true
	}
	e := paramList(s, p, ',', maxParams)
	if e <= p || sc.maskedValue(s[p:e]) {
		return Match{}, false, false
	}
	memo.paramListStart, memo.paramListEnd = p, e
	return Match{p, e, int(SecretKeyValue)}, true, false
}

// paramList returns the end of the list of name=value pairs starting at p,
// separated by sep and blanks; values may be quoted (also with escaped
// quotes, as in a JSON string). It returns p when no pair starts there.
func paramList(s string, p int, sep byte, pairs int) int {
	end, q := p, p
	for n := 0; n < pairs; n++ {
		ne := span(s, q, cKey)
		if ne == q || ne >= len(s) || s[ne] != '=' {
			break
		}
		v := ne + 1
		b := 0
		for v+b < len(s) && s[v+b] == '\\' && b < 8 {
			b++
		}
		switch {
		case b > 0 && v+b < len(s) && s[v+b] == '"':
			ve := escapedQuoteEnd(s, v+b+1, b)
			if !hasPrefix(s, ve, s[v:v+b+1]) {
				// A less escaped quote closes the enclosing string.
				return ve
			}
			end = ve + b + 1
		case v < len(s) && s[v] == '"':
			end = min(quoteEnd(s, v+1, '"')+1, len(s))
		default:
			end = v
			for end < len(s) && class[s[end]]&cValueStop == 0 {
				end++
			}
		}
		r := end
		for r < len(s) && s[r] == ' ' && r-end < 4 {
			r++
		}
		if r >= len(s) || s[r] != sep {
			break
		}
		r++
		for r < len(s) && s[r] == ' ' && r-end < 8 {
			r++
		}
		q = r
	}
	return end
}

// cookiePairs returns how many name=value pairs the value of a cookie
// header key holds (all for Cookie, the first for Set-Cookie), or 0 for
// another key.
func cookiePairs(key string) int {
	n := len(key) - len("cookie")
	if n < 0 || !hasPrefixFold(key, n, "cookie") {
		return 0
	}
	if n > 0 && !is(key[n-1], cLower|cUpper) {
		n--
	}
	if n >= 3 && hasPrefixFold(key, n-3, "set") {
		return 1
	}
	return maxParams
}

// secretFlag matches the value of a command-line flag naming a secret
// given as a separate argument: --password hunter2, --api-key "k". The '='
// form (--token=x) is found at the '='. i is at the first '-'.
func (sc *Scanner) secretFlag(s string, i int, memo *scanMemo) (Match, bool) {
	ne := span(s, i+2, cKey)
	if ne-i-2 > 64 || ne+1 >= len(s) || s[ne] != ' ' || !IsSecretKey(s[i+2:ne]) {
		return Match{}, false
	}
	p := ne + 1
	var vs, ve int
	switch s[p] {
	case '-':
		return Match{}, false // the next flag: this one takes no value
	case '"', '\'':
		vs = p + 1
		ve = quoteEnd(s, vs, s[p])
	default:
		vs = p
		ve = memo.unquotedEnd(s, vs)
	}
	if ve <= vs || sc.maskedValue(s[vs:ve]) {
		return Match{}, false
	}
	return Match{vs, ve, int(SecretKeyValue)}, true
}

// flagStart reports whether the "--" at i starts a command-line flag: it
// stands at the start of an argument, after a blank, a quote, a bracket or
// a comma (so flag names, which hold '-' and '.', are read once).
func flagStart(s string, i int) bool {
	if i == 0 {
		return true
	}
	switch s[i-1] {
	case ' ', '\t', '"', '\'', '[', ',':
		return true
	}
	return false
}

// secretElement matches the text of an XML element naming a secret:
// <password>hunter2</password>, <ns:apiKey>…</ns:apiKey>. i is at the '<'.
func (sc *Scanner) secretElement(s string, i int, memo *scanMemo) (Match, bool) {
	ns := i + 1
	ne := span(s, ns, cKey)
	for ne+1 < len(s) && s[ne] == ':' && is(s[ne+1], cKey) && ne-i < 64 {
		ns = ne + 1 // a namespace prefix
		ne = span(s, ns, cKey)
	}
	if ne == ns || ne-i > 64 || ne+1 >= len(s) || s[ne] != '>' || !IsSecretKey(s[ns:ne]) {
		return Match{}, false
	}
	vs := ne + 1
	// The text runs to the closing tag (each '<' then starts the next read,
	// so the text is read once), or is cut off; a name in angle brackets
	// followed by other markup is no element (List<Token> tokens, <br>).
	ve := strings.IndexByte(s[vs:], '<')
	if ve < 0 {
		ve = memo.unquotedEnd(s, vs)
	} else if ve += vs; ve+1 >= len(s) || s[ve+1] != '/' {
		return Match{}, false
	}
	if ve <= vs || sc.maskedValue(s[vs:ve]) {
		return Match{}, false
	}
	return Match{vs, ve, int(SecretKeyValue)}, true
}

// CVVKey reports whether a key names a card security code: it ends in cvv,
// cvc, cvv2 or cvc2 (card_cvv, cardCvc), or in security_code (any
// separator or camelCase), or it is cid. It reads only the key's end: it
// runs for every key= in free text that is no secret's.
func CVVKey(key string) bool {
	n := len(key)
	if n < 3 {
		return false
	}
	e := n
	if key[e-1] == '2' {
		e--
	}
	if e >= 3 && hasPrefixFold(key, e-3, "cv") && (lower(key[e-1]) == 'v' || lower(key[e-1]) == 'c') {
		return true
	}
	if n == 3 {
		return hasPrefixFold(key, 0, "cid")
	}
	if n < 12 || !hasPrefixFold(key, n-4, "code") {
		return false
	}
	p := n - 4
	if !is(key[p-1], cUpper|cLower) {
		p-- // a separator
	}
	return p >= 8 && hasPrefixFold(key, p-8, "security")
}

// cvvKeyEnd is CVVKey's first filter, inlined into secretValue: the last
// byte of cvv, cvc, cvv2, cid or security_code.
func cvvKeyEnd(k string) bool {
	switch k[len(k)-1] {
	case 'v', 'V', 'c', 'C', '2':
		return true
	case 'd', 'D':
		return len(k) == 3
	case 'e', 'E':
		return len(k) >= 12
	}
	return false
}

// CVVValue reports whether v is a card security code: 3 or 4 digits.
func CVVValue(v string) bool {
	return (len(v) == 3 || len(v) == 4) && span(v, 0, cDigit) == len(v)
}

// cvvAfter matches a 3 or 4 digit security code (optionally quoted) after
// the '=' or ':' at i that follows a CVV key.
func cvvAfter(s string, i int) (Match, bool) {
	p := i + 1
	for p < len(s) && (s[p] == ' ' || s[p] == '\t') && p-i < 4 {
		p++
	}
	if p < len(s) && (s[p] == '"' || s[p] == '\'') {
		p++
	}
	e := span(s, p, cDigit)
	if !CVVValue(s[p:e]) || at(s, e, cWord) || (e+1 < len(s) && (s[e] == '.' || s[e] == '-') && is(s[e+1], cDigit)) {
		return Match{}, false
	}
	return Match{p, e, int(SecretKeyValue)}, true
}

// secretKeyFirstWord reports whether w, the word before "key", makes a
// secret's name: its last part is api, access or private (Google_API key).
func secretKeyFirstWord(w string) bool {
	for _, f := range [...]string{"api", "access", "private"} {
		if p := len(w) - len(f); p >= 0 && hasPrefixFold(w, p, f) && (p == 0 || !is(w[p-1], cUpper|cLower)) {
			return true
		}
	}
	return false
}

// escapedQuoteEnd returns the end of a value opened by a quote escaped with
// b backslashes: the next quote escaped no more deeply (a more deeply
// escaped one is part of the value, a less escaped one ends the enclosing
// string).
func escapedQuoteEnd(s string, vs, b int) int {
	for q := vs; q < len(s); q++ {
		if s[q] != '"' {
			continue
		}
		r := 0
		for r < q-vs && s[q-1-r] == '\\' {
			r++
		}
		if r <= b {
			return q - r
		}
	}
	return len(s)
}

// unquotedEnd returns the end of an unquoted value starting at vs. The run
// read is remembered: the values of key=value pairs nested in it
// (a_token=a_token=…) end where it does, and are not read again.
func (memo *scanMemo) unquotedEnd(s string, vs int) int {
	ve := memo.valueRunEnd
	if vs < memo.valueRunStart || vs >= ve {
		ve = vs
		for ve < len(s) && class[s[ve]]&cValueStop == 0 {
			ve++
		}
		memo.valueRunStart, memo.valueRunEnd = vs, ve
	}
	if ve < len(s) && s[ve] == ']' && ve > vs && s[vs] == '[' {
		ve++ // a bracketed value, as masking leaves it
	}
	return ve
}

// How the credential follows an HTTP authorization scheme word.
const (
	schemeNone   = iota
	schemeToken  // one token: Bearer abc…, Token abc…
	schemeParams // a parameter list: Digest username="…", response="…"
)

// authScheme tells whether w is an HTTP authorization scheme word and how
// its credential follows it. Bearer and Basic credentials are also found by
// bearer_token, but only with a digit or mixed case; after a secret key
// (Authorization: bearer abcdefgh…) the key is evidence enough.
func authScheme(w string) int {
	var buf [32]byte
	switch string(lowerWord(&buf, w)) {
	case "bearer", "basic", "token", "apikey", "api-key", "sso-key", "key", "ntlm", "negotiate", "dsn", "hmac", "aws4-hmac-sha256":
		return schemeToken
	case "digest":
		return schemeParams
	}
	return schemeNone
}

// PlaceholderValue reports whether a secret's value carries nothing to hide:
// empty markers, an HTTP auth scheme word with nothing after it, or stars
// (a partial mask). A bracketed value is no placeholder: only the masks the
// processor writes count as masked (see Scanner.SetMasked).
func PlaceholderValue(v string) bool {
	switch len(v) {
	case 0:
		return true
	case 3, 4, 5, 6:
		switch {
		case hasPrefixFold(v, 0, "null") && len(v) == 4,
			hasPrefixFold(v, 0, "nil") && len(v) == 3,
			hasPrefixFold(v, 0, "none") && len(v) == 4,
			hasPrefixFold(v, 0, "true") && len(v) == 4,
			hasPrefixFold(v, 0, "false") && len(v) == 5,
			hasPrefixFold(v, 0, "bearer") && len(v) == 6,
			hasPrefixFold(v, 0, "basic") && len(v) == 5,
			hasPrefixFold(v, 0, "digest") && len(v) == 6:
			return true
		}
	}
	for k := 0; k < len(v); k++ {
		if v[k] != '*' {
			return false
		}
	}
	return true
}

// secretFirst and secretSecond filter the positions of IsSecretKey: a
// secret word can start at p only if secretFirst[key[p]] and
// secretSecond[key[p+1]] share a bit (one bit per first letter).
var secretFirst, secretSecond = func() (f, s [256]uint8) {
	for b, pairs := range []string{"pawr", "se", "to", "apcu", "cro"} {
		f[pairs[0]] |= 1 << b
		f[pairs[0]-'a'+'A'] |= 1 << b
		for _, c := range []byte(pairs[1:]) {
			s[c] |= 1 << b
			s[c-'a'+'A'] |= 1 << b
		}
	}
	return f, s
}()

// IsSecretKey reports whether a key name says its value is a secret:
// it contains password, passwd, passphrase, pwd, secret, token, api key,
// access key, private key, credential or authorization (any case, any
// separator style, a space included) or ends in the word pass, auth or
// cookie (db_pass, Set-Cookie; not bypass or compass), and its last word is
// not a property of the secret such as _count, _type, _length, _expires_in,
// _id or _url.
func IsSecretKey(key string) bool {
	if len(key) < 3 || len(key) > 64 {
		return false
	}
	if key == "PWD" || key == "OLDPWD" { // shell working directory variables
		return false
	}
	if key == "PASS" { // a test result: "--- PASS: TestLogin"
		return false
	}
	found := false
	// The second letter filters most positions before any word compare.
	for p := 0; p+3 <= len(key) && !found; p++ {
		if secretFirst[key[p]]&secretSecond[key[p+1]] == 0 {
			continue
		}
		c1 := lower(key[p+1])
		switch lower(key[p]) {
		case 'p':
			switch c1 {
			case 'a':
				found = hasPrefixFold(key, p, "password") || hasPrefixFold(key, p, "passwd") ||
					hasPrefixFold(key, p, "passphrase") ||
					(p+4 == len(key) && hasPrefixFold(key, p, "pass") && lastWordAt(key, p, 4))
			case 'w':
				found = hasPrefixFold(key, p, "pwd")
			case 'r':
				found = hasPrefixFold(key, p, "privatekey") || hasPrefixFold(key, p, "private_key") ||
					hasPrefixFold(key, p, "private-key") || hasPrefixFold(key, p, "private key")
			}
		case 's':
			found = c1 == 'e' && hasPrefixFold(key, p, "secret")
		case 't':
			found = c1 == 'o' && hasPrefixFold(key, p, "token") &&
				!hasPrefixFold(key, p+5, "s") && !hasPrefixFold(key, p+5, "iz")
		case 'a':
			switch c1 {
			case 'p':
				found = hasPrefixFold(key, p, "apikey") || hasPrefixFold(key, p, "api_key") ||
					hasPrefixFold(key, p, "api-key") || hasPrefixFold(key, p, "api key")
			case 'c':
				found = hasPrefixFold(key, p, "accesskey") || hasPrefixFold(key, p, "access_key") ||
					hasPrefixFold(key, p, "access key")
			case 'u':
				found = hasPrefixFold(key, p, "authorization") ||
					(p+4 == len(key) && hasPrefixFold(key, p, "auth") && (p == 0 || !is(key[p-1], cLower|cUpper)))
			}
		case 'c':
			found = (c1 == 'r' && hasPrefixFold(key, p, "credential")) ||
				(c1 == 'o' && p+6 == len(key) && hasPrefixFold(key, p, "cookie") && lastWordAt(key, p, 6))
		}
	}
	if !found {
		return false
	}
	return !secretProperty(key)
}

// lastWordAt reports whether the n bytes at p are the last word of key: they
// end it, and no lower-case letter runs into them (a camelCase start counts
// as a word start: userPass).
func lastWordAt(key string, p, n int) bool {
	if p+n != len(key) || p == 0 {
		return p+n == len(key)
	}
	c := key[p-1]
	return !is(c, cLower|cUpper) || (is(c, cLower) && is(key[p], cUpper))
}

// secretProperty reports whether the first or last word of key (split at
// '_', '-', '.', ' ' and camelCase) names a property of a secret rather than the
// secret itself.
func secretProperty(key string) bool {
	ls := 0
	for p := 1; p < len(key); p++ {
		c, prev := key[p], key[p-1]
		if c == '_' || c == '-' || c == '.' || c == ' ' {
			ls = p + 1
		} else if is(c, cUpper) && is(prev, cLower) {
			ls = p
		}
	}
	fe := len(key)
	for p := 1; p < len(key); p++ {
		c, prev := key[p], key[p-1]
		if c == '_' || c == '-' || c == '.' || c == ' ' || (is(c, cUpper) && is(prev, cLower)) {
			fe = p
			break
		}
	}
	if ls < len(key) && propertyWord(key[ls:]) {
		return true
	}
	var buf [32]byte
	switch string(lowerWord(&buf, key[:fe])) {
	case "max", "min", "num", "total", "count", "is", "has", "use", "enable", "enabled":
		return fe < len(key)
	}
	return false
}

// lowerWord lower-cases a short word into buf without allocating; longer
// words are returned as they are (no property word is that long).
func lowerWord(buf *[32]byte, w string) []byte {
	if len(w) > len(buf) {
		return nil
	}
	for q := 0; q < len(w); q++ {
		buf[q] = lower(w[q])
	}
	return buf[:len(w)]
}

func propertyWord(w string) bool {
	var buf [32]byte
	switch string(lowerWord(&buf, w)) {
	case "count", "type", "types", "len", "length", "size", "ttl", "expiry", "expires",
		"expiration", "exp", "in", "at", "name", "names", "id", "ids", "ref", "version",
		"policy", "changed", "expired", "reset", "updated", "created", "set", "enabled",
		"required", "strength", "file", "path", "url", "uri", "endpoint", "provider",
		"source", "limit", "max", "min", "kind", "status", "rotation", "age", "algorithm",
		"alg", "hint", "valid", "validity", "index", "issuer", "usage", "used", "scope",
		"scopes", "header", "field", "format", "mode", "method", "location", "store",
		"manager", "arn", "hash", "error", "errors", "ok", "present", "missing", "last4",
		"stdin":
		return true
	}
	return false
}
