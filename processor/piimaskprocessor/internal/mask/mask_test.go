package mask

import (
	"strings"
	"testing"
	"unicode/utf8"

	"go.uber.org/goleak"

	"github.com/sluicelogs/sluice/processor/piimaskprocessor/internal/detect"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestParseAction(t *testing.T) {
	for _, n := range ActionNames() {
		a, err := ParseAction(n)
		if err != nil || a.String() != n {
			t.Errorf("ParseAction(%q) = %v, %v", n, a, err)
		}
	}
	_, err := ParseAction("scramble")
	if err == nil || err.Error() != `unknown action "scramble"; allowed: redact, partial, hash, drop` {
		t.Errorf("ParseAction(scramble) error = %v", err)
	}
	if Action(9).String() != "unknown" {
		t.Error("out of range action has a name")
	}
}

func TestPartial(t *testing.T) {
	tests := []struct {
		kind detect.Detector
		in   string
		want string
	}{
		{detect.Email, "jane.doe@example.com", "***@example.com"},
		{detect.PaymentCard, "4111 1111 1111 1234", "**** **** **** 1234"},
		{detect.USSSN, "536-22-1234", "***-**-1234"},
		{detect.Phone, "+1 415-555-2671", "+* ***-***-2671"},
		{detect.IBAN, "DE89370400440532013000", "DE****************3000"},
		{detect.IPv4, "203.0.113.42", "203.0.113.0"},
		{detect.IPv6, "2001:db8:85a3::8a2e:370:7334", "2001:db8:85a3::"},
		{detect.GitHubToken, "ghp_1234567890abcdefghijABCDEFGHIJ123456", "ghp_****"},
		{detect.SecretKeyValue, "hunter2", "****"},
		{detect.BearerToken, "abc123DEF456", "****"},
		{detect.NumBuiltin, "EMP-123456", "******3456"},
		{detect.NumBuiltin, "short", "****"},
	}
	for _, tt := range tests {
		if got := string(partial(nil, tt.kind, tt.in)); got != tt.want {
			t.Errorf("partial(%v, %q) = %q, want %q", tt.kind, tt.in, got, tt.want)
		}
	}
}

func TestApply(t *testing.T) {
	rules := []Rule{
		{Name: "email", Kind: detect.Email, Action: Redact},
		{Name: "payment_card", Kind: detect.PaymentCard, Action: Partial},
		{Name: "secret_kv", Kind: detect.SecretKeyValue, Action: Drop},
		{Name: "us_ssn", Kind: detect.USSSN, Action: Hash},
	}
	m, err := New(rules, "<{detector}>", []byte("k3y"), "k1")
	if err != nil {
		t.Fatal(err)
	}
	s := "a@b.co paid 4111111111111111 ssn 536-22-1234"
	out, drop := m.Apply(nil, s, []detect.Match{{Start: 0, End: 6, Detector: 0}, {Start: 12, End: 28, Detector: 1}, {Start: 33, End: 44, Detector: 3}})
	got := string(out)
	if !strings.HasPrefix(got, "<email> paid ************1111 ssn [us_ssn:k1:") || drop {
		t.Fatalf("Apply = %q, drop %v", got, drop)
	}
	token := got[len("<email> paid ************1111 ssn "):]
	if len(token) != len("[us_ssn:k1:]")+2*HashBytes {
		t.Fatalf("hash token %q has the wrong length", token)
	}
	// Same value, same token; another key, another token.
	again, _ := m.Value(nil, 3, "536-22-1234")
	if string(again) != token {
		t.Errorf("hash not deterministic: %q vs %q", again, token)
	}
	m2, _ := New(rules, "<{detector}>", []byte("other"), "k2")
	rotated, _ := m2.Value(nil, 3, "536-22-1234")
	if string(rotated) == token || !strings.HasPrefix(string(rotated), "[us_ssn:k2:") {
		t.Errorf("rotated key gives %q", rotated)
	}
	out, drop = m.Apply(nil, "password=x", []detect.Match{{Start: 9, End: 10, Detector: 2}})
	if string(out) != "password=<secret_kv>" || !drop {
		t.Errorf("drop rule: %q, %v", out, drop)
	}
	if m.Redacted(0) != "<email>" || m.Rule(2).Action != Drop {
		t.Error("accessors return the wrong rule")
	}
}

func TestHashNeedsKey(t *testing.T) {
	_, err := New([]Rule{{Name: "email", Action: Hash}}, "x", nil, "")
	if err == nil {
		t.Fatal("hash without key accepted")
	}
	if _, err := New([]Rule{{Name: "email", Action: Redact}}, "x", nil, ""); err != nil {
		t.Fatalf("redact without key rejected: %v", err)
	}
}

// Partial masks count characters: keeping the last four bytes of
// "François Lefèvre" cut the è in half and wrote invalid UTF-8.
func TestPartialKeepsWholeCharacters(t *testing.T) {
	tests := []struct {
		kind detect.Detector
		in   string
		want string
	}{
		{detect.NumBuiltin, "François Lefèvre", "******** ***èvre"},
		{detect.NumBuiltin, "Łódź-Kraków", "*******aków"},
		{detect.NumBuiltin, "日本語のなまえです", "*****まえです"},
		{detect.NumBuiltin, "Zoë Åsa", "****"},                // 7 characters, 9 bytes: short
		{detect.NumBuiltin, "ab\xffcdefgh\xfe", "******fgh*"}, // invalid bytes kept at the end become '*'
		{detect.GitHubToken, "ééééééééé", "éé****"},           // prefix cut at a character boundary
		{detect.GitHubToken, "aaaébcdefghijklmnop", "aaa****"},
	}
	for _, tt := range tests {
		got := string(partial(nil, tt.kind, tt.in))
		if got != tt.want || !utf8.ValidString(got) {
			t.Errorf("partial(%v, %q) = %q, want %q", tt.kind, tt.in, got, tt.want)
		}
	}
}

func TestMaskedRecognisesOnlyOwnOutput(t *testing.T) {
	rules := []Rule{
		{Name: "email", Kind: detect.Email, Action: Redact},
		{Name: "secret_kv", Kind: detect.SecretKeyValue, Action: Hash},
	}
	m, err := New(rules, "[REDACTED:{detector}]", []byte("k3y"), "k1")
	if err != nil {
		t.Fatal(err)
	}
	token, _ := m.Value(nil, 1, "hunter2")
	other, _ := New(rules, "[REDACTED:{detector}]", []byte("k3y"), "k2")
	otherToken, _ := other.Value(nil, 1, "hunter2")
	for v, want := range map[string]bool{
		"[REDACTED:email]":     true,
		"[REDACTED:secret_kv]": true,
		string(token):          true,
		"[REDACTED:phone]":     false, // not a rule of this masker
		string(otherToken):     false, // another key id
		"[email:k1:" + strings.Repeat("0", 2*HashBytes) + "]": false, // email does not hash
		"[s3cr3tpw]":         false,
		"[secret_kv:k1:xyz]": false,
		"[]":                 false,
		"":                   false,
	} {
		if got := m.Masked(v); got != want {
			t.Errorf("Masked(%q) = %v, want %v", v, got, want)
		}
	}
}

// FuzzPartial: whatever the input, a partial mask is valid UTF-8, and for
// valid input it keeps the character count of the key and custom rule form.
func FuzzPartial(f *testing.F) {
	for _, s := range []string{"François Lefèvre", "jane@exämple.com", "4111 1111 1111 1111", "\xff\xfe\xc3", "ééééééééé", "short"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		for kind := detect.Detector(0); kind <= detect.NumBuiltin; kind++ {
			if kind == detect.Email && !strings.Contains(v, "@") {
				continue // the scanner only hands over addresses
			}
			out := partial(nil, kind, v)
			if !utf8.Valid(out) {
				t.Fatalf("partial(%v, %q) = %q is not valid UTF-8", kind, v, out)
			}
		}
		if n := utf8.RuneCountInString(v); n >= 8 && utf8.ValidString(v) {
			if got := utf8.RuneCount(partial(nil, detect.NumBuiltin, v)); got != n {
				t.Fatalf("partial(%q) has %d characters, want %d", v, got, n)
			}
		}
	})
}
