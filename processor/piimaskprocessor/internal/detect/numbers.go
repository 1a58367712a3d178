package detect

import (
	"strconv"

	"github.com/sluicelogs/sluice/processor/piimaskprocessor/internal/checksum"
)

var (
	phoneContext = []string{"phone", "tel", "mobile", "cell", "fax", "call", "sms", "whatsapp", "contact", "telephone", "cellphone", "phonenumber"}
	ssnContext   = []string{"ssn", "social security", "social_security", "socialsecurity"}
	// cardContext makes a 17-19 digit number without separators a card
	// number: most such numbers in logs are 64-bit ids (Datadog trace and
	// span ids), one in ten of which passes Luhn.
	cardContext = []string{"card", "cards", "pan", "cc", "ccnum", "cardnumber", "credit", "debit", "visa", "mastercard", "amex", "maestro", "unionpay", "discover", "jcb", "diners", "payment"}
)

// maxGroups bounds the digit groups one run is split into.
const maxGroups = 8

// digitRun is a run of digit groups joined by one kind of separator.
type digitRun struct {
	start, end [maxGroups]int
	n          int
	sep        byte // 0 when the run is a single group
}

func (r *digitRun) digits(a, b int) int {
	t := 0
	for k := a; k <= b; k++ {
		t += r.end[k] - r.start[k]
	}
	return t
}

func (r *digitRun) lens(k int) int { return r.end[k] - r.start[k] }

// readDigitRun reads digit groups from i joined by single ' ', '-' or '.'.
func readDigitRun(s string, i, j int) digitRun {
	var r digitRun
	r.start[0], r.end[0], r.n = i, j, 1
	for r.n < maxGroups {
		e := r.end[r.n-1]
		if e+1 >= len(s) || !is(s[e+1], cDigit) {
			break
		}
		sep := s[e]
		if sep != ' ' && sep != '-' && sep != '.' {
			break
		}
		if r.sep != 0 && sep != r.sep {
			break
		}
		ge := span(s, e+1, cDigit)
		r.sep = sep
		r.start[r.n], r.end[r.n] = e+1, ge
		r.n++
	}
	return r
}

// digits runs the number detectors on a token starting with a digit.
func (sc *Scanner) digits(s string, i, j int, key string) (Match, bool, int) {
	// A number glued to a letter (150ms, 4bf92f35…, v1) is no entity, and
	// neither is one continuing a compound token (pod-7d9f8b6c4, a.1).
	// s[i:j] is the whole word token, so the letters may be inside it
	// (0X0000…, 1a2b3c…): such a token is no number either.
	if span(s, i, cDigit) < j {
		return Match{}, false, j
	}
	if i >= 2 && (s[i-1] == '-' || s[i-1] == '.') && is(s[i-2], cWord) {
		// Except the second address of a range (10.0.0.1-10.0.0.9): masking
		// only the first would leave the second to be found on a second pass.
		if s[i-1] == '-' && sc.on[IPv4] && ipv4Before(s, i-1) {
			if m, ok := ipv4(s, i); ok {
				return m, true, m.End
			}
		}
		// And a card number joined to its name (pan-4111111111111111).
		if s[i-1] == '-' && sc.gluedCardLength(j-i) {
			if m, ok := cardToken(s, i, j, key); ok {
				return m, true, m.End
			}
		}
		return Match{}, false, j
	}
	// A short number standing alone (a status, a count, a port) can be
	// nothing: every entity here needs 9+ digits, or groups, or dots.
	if j-i < 9 && (j+1 >= len(s) || !is(s[j+1], cDigit) || (s[j] != ' ' && s[j] != '-' && s[j] != '.')) {
		return Match{}, false, j
	}
	if sc.on[IPv4] && j < len(s) && s[j] == '.' {
		if m, ok := ipv4(s, i); ok {
			return m, true, m.End
		}
	}
	r := readDigitRun(s, i, j)
	runEnd := r.end[r.n-1]
	if runEnd < len(s) && is(s[runEnd], cWord) {
		// The last group is glued to letters (a UUID, a dashed hash).
		return Match{}, false, runEnd
	}
	if r.sep == '.' {
		// Dotted numbers are versions, OIDs or decimals; only phones use
		// dots, and only with context. A card-long number with decimals is
		// a card number printed as an amount (4111111111111111.00).
		if r.n == 2 && sc.gluedCardLength(j-i) {
			if m, ok := cardToken(s, i, j, key); ok {
				return m, true, m.End
			}
		}
		if sc.on[Phone] {
			if m, ok := phoneWithContext(s, &r, key); ok {
				return m, true, m.End
			}
		}
		return Match{}, false, runEnd
	}
	if sc.on[USSSN] {
		if m, ok := ssn(s, &r, key); ok {
			return m, true, m.End
		}
	}
	if sc.on[PaymentCard] {
		if m, ok := card(s, &r, key); ok {
			return m, true, m.End
		}
	}
	if sc.on[Phone] {
		if m, ok := phoneWithContext(s, &r, key); ok {
			return m, true, m.End
		}
	}
	if r.sep == ' ' {
		// Space-separated numbers are separate tokens: each later one gets
		// its own chance ("port 0 10.0.0.1").
		return Match{}, false, j
	}
	return Match{}, false, runEnd
}

func atoi(s string) int {
	v := 0
	for k := 0; k < len(s); k++ {
		v = v*10 + int(s[k]-'0')
	}
	return v
}

// ipv4Before reports whether an IPv4 address ends at e.
func ipv4Before(s string, e int) bool {
	b := e
	for b > 0 && e-b < 15 && (is(s[b-1], cDigit) || s[b-1] == '.') {
		b--
	}
	m, ok := ipv4(s, b)
	return ok && m.End == e
}

// ipv4 matches a dotted quad of decimal octets without leading zeros that is
// not part of a longer dotted number (an OID or a four-part version tail).
func ipv4(s string, i int) (Match, bool) {
	p := i
	for part := 0; part < 4; part++ {
		if part > 0 {
			if p >= len(s) || s[p] != '.' {
				return Match{}, false
			}
			p++
		}
		e := span(s, p, cDigit)
		if e == p || e-p > 3 || (e-p > 1 && s[p] == '0') || atoi(s[p:e]) > 255 {
			return Match{}, false
		}
		p = e
	}
	if p < len(s) && (is(s[p], cWord) || (s[p] == '.' && at(s, p+1, cDigit))) {
		return Match{}, false
	}
	if i > 0 && s[i-1] == '.' {
		return Match{}, false
	}
	// Loopback, "any" and broadcast addresses identify no one.
	if hasPrefix(s, i, "127.") || s[i:p] == "0.0.0.0" || s[i:p] == "255.255.255.255" {
		return Match{}, false
	}
	return Match{i, p, int(IPv4)}, true
}

// ssn matches AAA-GG-SSSS with valid allocation, or nine plain digits with
// an SSN context word nearby.
func ssn(s string, r *digitRun, key string) (Match, bool) {
	start, end := r.start[0], r.end[r.n-1]
	switch {
	case r.n == 3 && r.sep == '-' && r.lens(0) == 3 && r.lens(1) == 2 && r.lens(2) == 4:
		a := atoi(s[r.start[0]:r.end[0]])
		g := atoi(s[r.start[1]:r.end[1]])
		n := atoi(s[r.start[2]:r.end[2]])
		if checksum.SSN(a, g, n) {
			return Match{start, end, int(USSSN)}, true
		}
	case r.n == 1 && r.lens(0) == 9:
		a := atoi(s[start : start+3])
		g := atoi(s[start+3 : start+5])
		n := atoi(s[start+5 : end])
		if checksum.SSN(a, g, n) && hasNearContext(s, start, key, ssnContext) {
			return Match{start, end, int(USSSN)}, true
		}
	}
	return Match{}, false
}

// cardIssuer reports whether a card number of n digits starting with the
// six digits p6 belongs to a known issuer range of that length.
func cardIssuer(p6, n int) bool {
	p1, p2, p3, p4 := p6/100000, p6/10000, p6/1000, p6/100
	switch {
	case p1 == 4: // Visa
		return n == 13 || n == 16 || n == 19
	case p2 >= 51 && p2 <= 55, p4 >= 2221 && p4 <= 2720: // Mastercard
		return n == 16
	case p2 == 34 || p2 == 37: // American Express
		return n == 15
	case p4 >= 2200 && p4 <= 2204: // Mir
		return n >= 16 && n <= 19
	case p4 == 6011, p3 >= 644 && p3 <= 649, p2 == 65, p6 >= 622126 && p6 <= 622925: // Discover
		return n >= 16 && n <= 19
	case p4 >= 3528 && p4 <= 3589: // JCB
		return n >= 16 && n <= 19
	case p3 >= 300 && p3 <= 305, p2 == 36, p2 == 38, p2 == 39: // Diners Club
		return n >= 14 && n <= 19
	case p2 == 62: // UnionPay
		return n >= 16 && n <= 19
	case p4 == 5018, p4 == 5020, p4 == 5038, p4 == 5893, p4 == 6304, p4 == 6759, p4 >= 6761 && p4 <= 6763: // Maestro
		return n >= 13 && n <= 19
	}
	return false
}

// cardGrouping reports whether groups a..b look like a printed card number:
// fours with a shorter tail (4-4-4-4, 4-4-4-4-3) or Amex/Diners 4-6-5, 4-6-4.
func cardGrouping(r *digitRun, a, b int) bool {
	if a == b {
		return true
	}
	if b-a == 2 && r.lens(a) == 4 && r.lens(a+1) == 6 && (r.lens(b) == 5 || r.lens(b) == 4) {
		return true
	}
	for k := a; k < b; k++ {
		if r.lens(k) != 4 {
			return false
		}
	}
	return r.lens(b) >= 1 && r.lens(b) <= 4
}

// prefix6 returns the first six digits of groups a.. as a number.
func prefix6(s string, r *digitRun, a int) int {
	v, got := 0, 0
	for k := a; k < r.n && got < 6; k++ {
		for p := r.start[k]; p < r.end[k] && got < 6; p++ {
			v = v*10 + int(s[p]-'0')
			got++
		}
	}
	for ; got < 6; got++ {
		v *= 10
	}
	return v
}

// card finds a payment card number in the run: 13-19 digits, known issuer
// prefix for that length, Luhn-valid, grouped as cards are printed. A dashed
// run must be a card as a whole; a space-separated run may hold one among
// other numbers.
func card(s string, r *digitRun, key string) (Match, bool) {
	if r.sep == '-' {
		if r.n > 1 && !cardGrouping(r, 0, r.n-1) {
			return Match{}, false
		}
		return cardWindow(s, r, 0, r.n-1, key)
	}
	for a := 0; a < r.n; a++ {
		for b := r.n - 1; b >= a; b-- {
			if m, ok := cardWindow(s, r, a, b, key); ok && cardGrouping(r, a, b) {
				return m, true
			}
		}
	}
	return Match{}, false
}

// cardToken checks the digits s[i:j], joined to a word or followed by
// decimals, for a card number; j may be followed by '.' and decimals only.
func cardToken(s string, i, j int, key string) (Match, bool) {
	if j < len(s) && s[j] == '.' && at(s, j+1, cDigit) {
		e := span(s, j+1, cDigit)
		if at(s, e, cWord) || (e < len(s) && s[e] == '.' && at(s, e+1, cDigit)) {
			return Match{}, false
		}
	}
	var r digitRun
	r.start[0], r.end[0], r.n = i, j, 1
	return cardWindow(s, &r, 0, 0, key)
}

func cardWindow(s string, r *digitRun, a, b int, key string) (Match, bool) {
	n := r.digits(a, b)
	if n < 13 || n > 19 {
		return Match{}, false
	}
	if !cardIssuer(prefix6(s, r, a), n) {
		return Match{}, false
	}
	if !checksum.Luhn(s[r.start[a]:r.end[b]]) {
		return Match{}, false
	}
	if n == 13 && checksum.EAN13(s[r.start[a]:r.end[b]]) {
		// Visa stopped issuing 13-digit numbers long ago; a 13-digit number
		// with a valid GS1 check digit is far more likely a product barcode.
		return Match{}, false
	}
	if n >= 17 && a == b && !hasNearContext(s, r.start[a], key, cardContext) {
		// 17-19 digits in one group are mostly 64-bit ids; printed cards
		// of that length are grouped, or named.
		return Match{}, false
	}
	return Match{r.start[a], r.end[b], int(PaymentCard)}, true
}

// CardInt reports whether the integer v is a valid payment card number
// (numbers stored as ints in attributes).
func CardInt(v int64) bool {
	if v <= 0 {
		return false
	}
	u := uint64(v)
	n := 0
	for x := u; x > 0; x /= 10 {
		n++
	}
	if n < 13 || n > 19 {
		return false
	}
	p := u
	for k := n; k > 6; k-- {
		p /= 10
	}
	return cardIssuer(int(p), n) && checksum.LuhnInt(u) && (n != 13 || !checksum.EAN13(strconv.FormatUint(u, 10)))
}

// CardIntKey is CardInt for an integer stored under key: a number of 17 or
// more digits (a 64-bit id such as dd.trace_id) counts only when the key
// names a card.
func CardIntKey(v int64, key string) bool {
	if !CardInt(v) {
		return false
	}
	return v < 1e16 || containsWordFold(key, cardContext)
}

// phoneWithContext matches a national phone number after a context word:
// NANP 10 digits (or 11 with a leading 1) or, with separators, a 9-12 digit
// number with a leading trunk 0.
func phoneWithContext(s string, r *digitRun, key string) (Match, bool) {
	for b := r.n - 1; b >= 0; b-- {
		n := r.digits(0, b)
		if n < 9 || n > 12 {
			// Every case below needs 9 to 12 digits.
			continue
		}
		ok := false
		first := s[r.start[0]]
		p6 := prefix6(s, r, 0)
		switch {
		case n == 10 && first >= '2' && (p6/100)%10 >= 2:
			ok = b == 0 || (b == 2 && r.lens(0) == 3 && r.lens(1) == 3)
		case n == 11 && first == '1' && (p6/10000)%10 >= 2 && (p6/10)%10 >= 2:
			ok = b == 0 || (b == 3 && r.lens(0) == 1 && r.lens(1) == 3 && r.lens(2) == 3)
		case n >= 9 && n <= 12 && first == '0' && b >= 1:
			ok = true
		}
		if ok && hasNearContext(s, r.start[0], key, phoneContext) {
			return Match{r.start[0], r.end[b], int(Phone)}, true
		}
	}
	return Match{}, false
}

// phoneE164 matches '+', a country code and 8-15 digits in total, with
// optional single separators ( space, '-', '.', parentheses). The country
// code must exist; a +1 or +7 number needs ten national digits; and one
// without separators or a context word needs ten digits and no trunk 0, so
// that "+104857600 bytes" or "+250000000 credits" are not phone numbers.
func phoneE164(s string, i int, key string) (Match, bool) {
	if at(s, i-1, cWord) || !at(s, i+1, cDigit) || s[i+1] == '0' {
		return Match{}, false
	}
	var nat [16]byte // the digits read
	p, digits, last := i+1, 0, i+1
	separated := false
	for p < len(s) && digits <= 15 {
		c := s[p]
		switch {
		case is(c, cDigit):
			nat[digits] = c
			digits++
			p++
			last = p
			continue
		case c == ' ' || c == '-' || c == '.' || c == '(' || c == ')':
			// One separator, or ") " / " (" pairs.
			q := p + 1
			if q < len(s) && (s[q] == ' ' || s[q] == '(') && (c == ')' || c == ' ') {
				q++
			}
			if at(s, q, cDigit) {
				p = q
				separated = true
				continue
			}
		}
		break
	}
	if digits < 8 || digits > 15 || at(s, last, cWord) || (last < len(s) && s[last] == '+') {
		return Match{}, false
	}
	if last < len(s) && s[last] == '.' && at(s, last+1, cDigit) {
		return Match{}, false
	}
	cc := countryCodeLen(nat[:3])
	if cc == 0 {
		return Match{}, false
	}
	national := nat[cc:digits]
	switch nat[0] {
	case '1': // NANP: area code and exchange start with 2-9
		if len(national) != 10 || national[0] < '2' || national[3] < '2' {
			return Match{}, false
		}
	case '7':
		if len(national) != 10 {
			return Match{}, false
		}
	default:
		if !separated && (digits < 10 || national[0] == '0') && !hasNearContext(s, i, key, phoneContext) {
			return Match{}, false
		}
	}
	return Match{i, last, int(Phone)}, true
}

// countryCodeLen returns the length of the E.164 country code the digits
// start with (codes are prefix-free), or 0 when no code is assigned.
func countryCodeLen(d []byte) int {
	if d[0] == '1' || d[0] == '7' {
		return 1
	}
	cc2 := int(d[0]-'0')*10 + int(d[1]-'0')
	if countryCodes2[cc2/64]&(1<<(cc2%64)) != 0 {
		return 2
	}
	cc3 := cc2*10 + int(d[2]-'0')
	if countryCodes3[cc3/64]&(1<<(cc3%64)) != 0 {
		return 3
	}
	return 0
}

// countryCodes2 and countryCodes3 are the assigned two- and three-digit
// E.164 country codes (ITU-T E.164 list), as bit sets.
var countryCodes2, countryCodes3 = func() (two [2]uint64, three [16]uint64) {
	for _, c := range []int{
		20, 27, 30, 31, 32, 33, 34, 36, 39, 40, 41, 43, 44, 45, 46, 47, 48, 49,
		51, 52, 53, 54, 55, 56, 57, 58, 60, 61, 62, 63, 64, 65, 66, 81, 82, 84, 86,
		90, 91, 92, 93, 94, 95, 98,
	} {
		two[c/64] |= 1 << (c % 64)
	}
	// Ranges of three-digit codes, first and last.
	ranges := []int{
		211, 213, 216, 216, 218, 218, 220, 258, 260, 269, 290, 291, 297, 299,
		350, 359, 370, 383, 385, 387, 389, 389, 420, 421, 423, 423, 500, 509,
		590, 599, 670, 670, 672, 683, 685, 692, 800, 800, 808, 808, 850, 850,
		852, 853, 855, 856, 870, 870, 878, 878, 880, 883, 886, 886, 888, 888,
		960, 968, 970, 977, 979, 979, 992, 996, 998, 998,
	}
	for k := 0; k < len(ranges); k += 2 {
		for c := ranges[k]; c <= ranges[k+1]; c++ {
			three[c/64] |= 1 << (c % 64)
		}
	}
	return two, three
}()

// phoneNANPParen matches "(NXX) NXX-XXXX" and "(NXX)NXX-XXXX".
func phoneNANPParen(s string, i int) (Match, bool) {
	p := i + 1
	if span(s, p, cDigit) != p+3 || s[p] < '2' || !hasPrefix(s, p+3, ")") {
		return Match{}, false
	}
	p += 4
	if p < len(s) && s[p] == ' ' {
		p++
	}
	if span(s, p, cDigit) != p+3 || s[p] < '2' || p+3 >= len(s) || (s[p+3] != '-' && s[p+3] != '.' && s[p+3] != ' ') {
		return Match{}, false
	}
	p += 4
	if span(s, p, cDigit) != p+4 || at(s, p+4, cWord) {
		return Match{}, false
	}
	return Match{i, p + 4, int(Phone)}, true
}
