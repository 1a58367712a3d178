package detect

import (
	"strings"
	"testing"
)

var fuzzSeeds = []string{
	"user jane.doe@example.com card 4111 1111 1111 1111 ssn 536-22-1234",
	"call +1 (415) 555-2671 or phone: 415.555.2671 from 203.0.113.9 / 2001:db8::1:2:3",
	"iban GB82 WEST 1234 5698 7654 32 jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig",
	"Authorization: Bearer abc123DEF456 AKIAIOSFODNN7EXAMPLE ghp_1234567890abcdefghijABCDEFGHIJ123456",
	"aws secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY glpat-xYz12345678901234567 xoxb-1234567890-abc",
	"sk_live_4eC39HqLyjWDarjtT1zdp7dc AIzaSyA1234567890abcdefghijklmnopqrstuv",
	"-----BEGIN EC PRIVATE KEY-----\nMHcC\n-----END EC PRIVATE KEY-----",
	`{"password":"p@ss","api_key":"k"} ?token=abc&x=1 https://u:pw@h.io`,
	"ts 1700000000123 uuid 550e8400-e29b-41d4-a716-446655440000 v1.2.3 150ms :8080",
	"password=[REDACTED:secret_kv] token=****",
	// an address range: both ends are masked in one pass (found by FuzzScan)
	"0.0.1.0-0.0.0.1 allow 10.0.0.1-10.0.0.9",
	// a word that starts with digits but holds letters is no number: it was
	// read as one, so it matched only where it started a token (FuzzScan)
	"pwd=0 0X00000000000000",
	// overlapping matches are masked as their union (FuzzScan)
	"1::0@0.AA",
	// a mask changes a neighbour's boundary: "1::" is an address once the
	// email after it is masked, so a second pass masks it
	"1::X0@0.AA",
	// credentials at ':', '=', '-' and '<'
	`authorization: bearer abcdefgh Authorization: Digest username="bob", response=\"6629\"`,
	"Cookie: a=1; b=\"x y\"; c=[REDACTED] Set-Cookie: sid=2; Path=/",
	"run --password hunter2 --api-key 'k' <ns:password>x</ns:password> <token>cut",
	"pass=[hunter2] cvv=123 cid: 4567 -----BEGIN PGP PRIVATE KEY BLOCK-----\nx",
}

// check verifies the scanner's contract on s: matches are in bounds, sorted
// and disjoint; masking them leaves none of a match's value behind; and
// masking converges within MaskPasses.
func check(t *testing.T, sc *Scanner, s string) {
	matches := sc.Scan(nil, s, "")
	prev := 0
	for _, m := range matches {
		if m.Start < prev || m.End <= m.Start || m.End > len(s) {
			t.Fatalf("bad match %+v (previous end %d) in %q", m, prev, s)
		}
		prev = m.End
	}
	masked := redact(s, matches, "\x00")
	for _, m := range matches {
		v := s[m.Start:m.End]
		if len(v) >= 6 && strings.Count(s, v) == 1 && !strings.Contains(v, "\x00") && strings.Contains(masked, v) {
			t.Fatalf("masked text %q still holds %q", masked, v)
		}
	}
	// Masking, then masking what a rescan finds (as the processor does, up
	// to MaskPasses times), must reach a text in which nothing is found.
	out := redact(s, matches, "[REDACTED]")
	for pass := 1; pass < MaskPasses; pass++ {
		more := sc.Scan(nil, out, "")
		if len(more) == 0 {
			return
		}
		out = redact(out, more, "[REDACTED]")
	}
	if more := sc.Scan(nil, out, ""); len(more) != 0 {
		t.Fatalf("masking does not converge in %d passes:\n in   %q\n out  %q\n still %q", MaskPasses, s, out, out[more[0].Start:more[0].End])
	}
}

func redact(s string, matches []Match, with string) string {
	var b strings.Builder
	prev := 0
	for _, m := range matches {
		b.WriteString(s[prev:m.Start])
		b.WriteString(with)
		prev = m.End
	}
	b.WriteString(s[prev:])
	return b.String()
}

func FuzzScan(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	sc := allScanner()
	f.Fuzz(func(t *testing.T, s string) {
		check(t, sc, s)
	})
}

// FuzzDetector runs one built-in detector at a time, chosen by d.
func FuzzDetector(f *testing.F) {
	for i, s := range fuzzSeeds {
		for d := 0; d < int(NumBuiltin); d += 1 + i%3 {
			f.Add(uint8(d), s)
		}
	}
	scanners := make([]*Scanner, NumBuiltin)
	for d := range scanners {
		scanners[d] = withMasks(NewScanner([]Detector{Detector(d)}, nil))
	}
	f.Fuzz(func(t *testing.T, d uint8, s string) {
		check(t, scanners[int(d)%int(NumBuiltin)], s)
	})
}

func FuzzIsSecretKey(f *testing.F) {
	for _, k := range []string{"password", "max_tokens", "apiKeyId", "X-Auth", "PWD", "secretName"} {
		f.Add(k)
	}
	f.Fuzz(func(t *testing.T, k string) {
		_ = IsSecretKey(k)
		_ = PlaceholderValue(k)
	})
}
