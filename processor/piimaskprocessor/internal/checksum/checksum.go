// Package checksum holds the check-digit and numbering-plan rules that turn a
// shape match into a validated identifier: Luhn for payment cards, ISO 7064
// mod-97 for IBANs, and the US Social Security number allocation rules.
package checksum // import "github.com/sluicelogs/sluice/processor/piimaskprocessor/internal/checksum"

// Luhn reports whether the ASCII digits of s (other bytes are ignored, so
// separators may stay in place) pass the Luhn check. At least two digits are
// required.
func Luhn(s string) bool {
	sum, n := 0, 0
	for i := len(s) - 1; i >= 0; i-- {
		c := s[i]
		if c < '0' || c > '9' {
			continue
		}
		d := int(c - '0')
		if n%2 == 1 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		n++
	}
	return n >= 2 && sum%10 == 0
}

// LuhnInt is Luhn for a non-negative integer, without formatting it.
func LuhnInt(v uint64) bool {
	sum, n := uint64(0), 0
	for ; v > 0; v /= 10 {
		d := v % 10
		if n%2 == 1 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		n++
	}
	return n >= 2 && sum%10 == 0
}

// EAN13 reports whether the 13 ASCII digits of s (other bytes ignored) carry
// a valid GS1 (EAN-13 / GTIN-13) check digit: weights 1 and 3 alternating
// from the left.
func EAN13(s string) bool {
	sum, n := 0, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			continue
		}
		d := int(c - '0')
		if n%2 == 1 {
			d *= 3
		}
		sum += d
		n++
	}
	return n == 13 && sum%10 == 0
}

// Mod97 reports whether s, an IBAN-like string of letters and digits (spaces
// ignored), gives remainder 1 under ISO 7064 mod-97-10 once its first four
// characters are moved to the end and letters are expanded to 10..35.
func Mod97(s string) bool {
	// Compact into a fixed buffer so the rotation needs no allocation.
	var buf [64]byte
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == ' ' {
			continue
		}
		if n == len(buf) {
			return false
		}
		buf[n] = c
		n++
	}
	if n < 5 {
		return false
	}
	rem := 0
	for k := 0; k < n; k++ {
		c := buf[(k+4)%n]
		switch {
		case c >= '0' && c <= '9':
			rem = (rem*10 + int(c-'0')) % 97
		case c >= 'A' && c <= 'Z':
			rem = (rem*100 + int(c-'A') + 10) % 97
		case c >= 'a' && c <= 'z':
			rem = (rem*100 + int(c-'a') + 10) % 97
		default:
			return false
		}
	}
	return rem == 1
}

// ibanLengths is the registered IBAN length per country (SWIFT IBAN registry).
var ibanLengths = map[[2]byte]int{
	{'A', 'D'}: 24, {'A', 'E'}: 23, {'A', 'L'}: 28, {'A', 'T'}: 20, {'A', 'Z'}: 28,
	{'B', 'A'}: 20, {'B', 'E'}: 16, {'B', 'G'}: 22, {'B', 'H'}: 22, {'B', 'R'}: 29,
	{'B', 'Y'}: 28, {'C', 'H'}: 21, {'C', 'R'}: 22, {'C', 'Y'}: 28, {'C', 'Z'}: 24,
	{'D', 'E'}: 22, {'D', 'K'}: 18, {'D', 'O'}: 28, {'E', 'E'}: 20, {'E', 'G'}: 29,
	{'E', 'S'}: 24, {'F', 'I'}: 18, {'F', 'O'}: 18, {'F', 'R'}: 27, {'G', 'B'}: 22,
	{'G', 'E'}: 22, {'G', 'I'}: 23, {'G', 'L'}: 18, {'G', 'R'}: 27, {'G', 'T'}: 28,
	{'H', 'R'}: 21, {'H', 'U'}: 28, {'I', 'E'}: 22, {'I', 'L'}: 23, {'I', 'Q'}: 23,
	{'I', 'S'}: 26, {'I', 'T'}: 27, {'J', 'O'}: 30, {'K', 'W'}: 30, {'K', 'Z'}: 20,
	{'L', 'B'}: 28, {'L', 'C'}: 32, {'L', 'I'}: 21, {'L', 'T'}: 20, {'L', 'U'}: 20,
	{'L', 'V'}: 21, {'M', 'C'}: 27, {'M', 'D'}: 24, {'M', 'E'}: 22, {'M', 'K'}: 19,
	{'M', 'R'}: 27, {'M', 'T'}: 31, {'M', 'U'}: 30, {'N', 'L'}: 18, {'N', 'O'}: 15,
	{'P', 'K'}: 24, {'P', 'L'}: 28, {'P', 'S'}: 29, {'P', 'T'}: 25, {'Q', 'A'}: 29,
	{'R', 'O'}: 24, {'R', 'S'}: 22, {'S', 'A'}: 24, {'S', 'C'}: 31, {'S', 'E'}: 24,
	{'S', 'I'}: 19, {'S', 'K'}: 24, {'S', 'M'}: 27, {'T', 'L'}: 23, {'T', 'N'}: 24,
	{'T', 'R'}: 26, {'U', 'A'}: 29, {'V', 'A'}: 22, {'V', 'G'}: 24, {'X', 'K'}: 20,
}

// IBANLength returns the registered length for the two-letter country code
// cc (upper case), or 0 when the country issues no IBANs.
func IBANLength(c0, c1 byte) int {
	return ibanLengths[[2]byte{c0, c1}]
}

// SSN reports whether area-group-serial (already split, digits only) is a
// number the US Social Security Administration can issue: area not 000, 666
// or 900-999; group not 00; serial not 0000; and not one of the two numbers
// printed on sample cards decades ago.
func SSN(area, group, serial int) bool {
	switch {
	case area == 0 || area == 666 || area >= 900:
		return false
	case group == 0 || serial == 0:
		return false
	case area == 78 && group == 5 && serial == 1120: // the Woolworth wallet card
		return false
	case area == 219 && group == 9 && serial == 9999: // a 1940s advertisement
		return false
	}
	return true
}
