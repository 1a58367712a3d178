package detect

import (
	"strings"

	"github.com/sluicelogs/sluice/processor/piimaskprocessor/internal/checksum"
)

var awsSecretContext = []string{"aws", "secret"}

// awsKeyID matches an AWS access key id: a known prefix and 16 more
// upper-case letters or digits (20 in all).
func awsKeyID(t string) bool {
	switch t[:4] {
	case "AKIA", "ASIA", "ABIA", "ACCA":
	default:
		return false
	}
	for k := 4; k < len(t); k++ {
		if !is(t[k], cUpper|cDigit) {
			return false
		}
	}
	return true
}

// awsSecret matches a 40-character base64 secret access key next to an
// "aws" or "secret" context word. Hex digests of the same length are
// single-case and never match.
func awsSecret(s string, i int, key string) (Match, bool) {
	if at(s, i-1, cB64) {
		return Match{}, false
	}
	e := span(s, i, cB64)
	if e-i != 40 || at(s, e, cB64|cB64URL) || (e < len(s) && s[e] == '=') {
		return Match{}, false
	}
	var up, lo, dg bool
	for k := i; k < e; k++ {
		c := class[s[k]]
		up = up || c&cUpper != 0
		lo = lo || c&cLower != 0
		dg = dg || c&cDigit != 0
	}
	if !up || !lo || !dg || !hasContext(s, i, key, awsSecretContext) {
		return Match{}, false
	}
	return Match{i, e, int(AWSSecretKey)}, true
}

// githubToken matches classic (ghp_, gho_, ghu_, ghs_, ghr_ + 36) and
// fine-grained (github_pat_ + 82) GitHub tokens.
func githubToken(s string, i, j int) (Match, bool) {
	if j-i == 40 && hasPrefix(s, i, "gh") && s[i+3] == '_' {
		switch s[i+2] {
		case 'p', 'o', 'u', 's', 'r':
			return Match{i, j, int(GitHubToken)}, true
		}
	}
	if hasPrefix(s, i, "github_pat_") && j-i >= 60 {
		return Match{i, j, int(GitHubToken)}, true
	}
	return Match{}, false
}

// gitlabToken matches GitLab personal, pipeline-trigger, runner and deploy
// tokens: a "gl…-" prefix and at least 20 token characters.
func gitlabToken(s string, i int) (Match, bool) {
	for _, p := range [...]string{"glpat-", "glptt-", "glrt-", "gldt-", "glsoat-"} {
		if hasPrefix(s, i, p) {
			e := span(s, i+len(p), cB64URL)
			if e-i-len(p) >= 20 {
				return Match{i, e, int(GitLabToken)}, true
			}
		}
	}
	return Match{}, false
}

// slackToken matches xoxb-/xoxp-/xoxa-/xoxr-/xoxs-/xoxe- tokens.
func slackToken(s string, i int) (Match, bool) {
	if !hasPrefix(s, i, "xox") || len(s) < i+5 || s[i+4] != '-' {
		return Match{}, false
	}
	switch s[i+3] {
	case 'b', 'p', 'a', 'r', 's', 'e':
	default:
		return Match{}, false
	}
	e := span(s, i+5, cDomain)
	if e-i < 15 {
		return Match{}, false
	}
	return Match{i, e, int(SlackToken)}, true
}

// slackWebhook matches the secret path of a Slack incoming-webhook URL.
func slackWebhook(s string, i int) (Match, bool) {
	const p = "hooks.slack.com/services/"
	if !hasPrefix(s, i, p) {
		return Match{}, false
	}
	st := i + len(p)
	e := st
	for e < len(s) && (is(s[e], cWord) || s[e] == '/') {
		e++
	}
	if e-st < 20 {
		return Match{}, false
	}
	return Match{st, e, int(SlackToken)}, true
}

// stripeKey matches secret and restricted Stripe keys and webhook secrets.
func stripeKey(s string, i, j int) (Match, bool) {
	for _, p := range [...]string{"sk_live_", "sk_test_", "rk_live_", "rk_test_", "whsec_"} {
		if hasPrefix(s, i, p) && j-i >= len(p)+16 {
			return Match{i, j, int(StripeKey)}, true
		}
	}
	return Match{}, false
}

// jwt matches a compact JWS: base64url header starting {" (eyJ), payload,
// and an optional signature, dot separated. When there is none, reached is
// where the failed read stopped: a JWT starting before it would read the
// same run and fail the same way.
func jwt(s string, i int) (m Match, ok bool, reached int) {
	if !hasPrefix(s, i, "eyJ") {
		return Match{}, false, i
	}
	e1 := span(s, i, cB64URL)
	if e1-i < 10 || e1 >= len(s) || s[e1] != '.' {
		return Match{}, false, e1
	}
	e2 := span(s, e1+1, cB64URL)
	if e2-e1-1 < 10 || e2 >= len(s) || s[e2] != '.' {
		return Match{}, false, e2
	}
	e3 := span(s, e2+1, cB64URL)
	return Match{i, e3, int(JWT)}, true, e3
}

// bearer matches the credential after an HTTP "Bearer" or "Basic" scheme
// word. Prose ("basic authentication") is kept out by requiring a digit or
// mixed case in the credential, and base64 shape for Basic.
func bearer(s string, i, j int) (Match, bool) {
	basic := false
	switch {
	case j-i == 6 && hasPrefixFold(s, i, "bearer"):
	case j-i == 5 && hasPrefixFold(s, i, "basic"):
		basic = true
	default:
		return Match{}, false
	}
	p := j
	for p < len(s) && s[p] == ' ' && p-j < 4 {
		p++
	}
	if p == j {
		return Match{}, false
	}
	e := span(s, p, cToken68)
	for e < len(s) && s[e] == '=' {
		e++
	}
	if e-p < 8 || at(s, e, cWord) {
		return Match{}, false
	}
	var up, lo, dg bool
	for k := p; k < e; k++ {
		c := class[s[k]]
		up = up || c&cUpper != 0
		lo = lo || c&cLower != 0
		dg = dg || c&cDigit != 0
	}
	if !dg && (!up || !lo) {
		return Match{}, false
	}
	if basic && ((e-p)%4 != 0 || strings.ContainsAny(s[p:e], "-._~")) {
		return Match{}, false
	}
	return Match{p, e, int(BearerToken)}, true
}

// iban matches an IBAN, compact or printed in groups of four, whose country
// length and mod-97 check digits are right.
func iban(s string, i, j int) (Match, bool) {
	c0, c1 := s[i], s[i+1]
	if !is(c0, cUpper|cLower) || !is(c1, cUpper|cLower) || !is(s[i+2], cDigit) || !is(s[i+3], cDigit) {
		return Match{}, false
	}
	if is(c0, cUpper) != is(c1, cUpper) {
		return Match{}, false
	}
	want := checksum.IBANLength(c0&^0x20, c1&^0x20)
	if want == 0 {
		return Match{}, false
	}
	var e int
	if j-i == want {
		e = j
	} else {
		// Printed form: groups of four separated by single spaces.
		if j-i != 4 {
			return Match{}, false
		}
		got, p := 4, j
		for got < want && p+1 < len(s) && s[p] == ' ' {
			ge := span(s, p+1, cUpper|cLower|cDigit)
			g := ge - p - 1
			if g == 0 || g > 4 || got+g > want || (g < 4 && got+g != want) {
				return Match{}, false
			}
			got += g
			p = ge
		}
		if got != want {
			return Match{}, false
		}
		e = p
	}
	if at(s, e, cWord) {
		return Match{}, false
	}
	for k := i + 4; k < e; k++ {
		if !is(s[k], cUpper|cLower|cDigit|cValueStop) {
			return Match{}, false
		}
	}
	if !checksum.Mod97(s[i:e]) {
		return Match{}, false
	}
	return Match{i, e, int(IBAN)}, true
}

// pemBlock matches a PEM private key block (or an OpenPGP armored one,
// "PGP PRIVATE KEY BLOCK") from its BEGIN line to the end of its END line,
// or to the end of the text when the block is cut off.
func pemBlock(s string, i int) (Match, bool) {
	const begin = "-----BEGIN "
	if !hasPrefix(s, i, begin) {
		return Match{}, false
	}
	hs := i + len(begin)
	he := strings.Index(s[hs:], "-----")
	if he < 0 || he > 64 || !privateKeyLabel(s[hs:hs+he]) {
		return Match{}, false
	}
	body := hs + he + 5
	end := strings.Index(s[body:], "-----END ")
	if end < 0 {
		return Match{i, len(s), int(PrivateKey)}, true
	}
	tail := body + end + len("-----END ")
	closing := strings.Index(s[tail:], "-----")
	if closing < 0 {
		return Match{i, len(s), int(PrivateKey)}, true
	}
	return Match{i, tail + closing + 5, int(PrivateKey)}, true
}

// privateKeyLabel reports whether an armor label names a private key.
func privateKeyLabel(l string) bool {
	return strings.HasSuffix(l, "PRIVATE KEY") || l == "PGP PRIVATE KEY BLOCK"
}
