package detect

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sluicelogs/sluice/internal/cputime"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func allScanner() *Scanner {
	all := make([]Detector, NumBuiltin)
	for d := range all {
		all[d] = Detector(d)
	}
	return withMasks(NewScanner(all, nil))
}

// withMasks makes sc take "[REDACTED]" (the mask the fuzz targets write) and
// "[REDACTED:<detector>]" (the default template's) for already masked
// values, as the processor does with its own masks.
func withMasks(sc *Scanner) *Scanner {
	sc.SetMasked(func(v string) bool {
		return v == "[REDACTED]" || (strings.HasPrefix(v, "[REDACTED:") && strings.HasSuffix(v, "]") && !strings.Contains(v[1:], "["))
	})
	return sc
}

// found renders the matches as "detector:value" for compact comparisons.
func found(sc *Scanner, s, key string) []string {
	var out []string
	for _, m := range sc.Scan(nil, s, key) {
		name := "custom"
		if m.Detector < int(NumBuiltin) {
			name = Detector(m.Detector).String()
		}
		out = append(out, name+":"+s[m.Start:m.End])
	}
	return out
}

func TestScanPositives(t *testing.T) {
	sc := allScanner()
	tests := []struct {
		in   string
		key  string
		want []string
	}{
		{"user jane.doe+tag@mail.example.co.uk logged in", "", []string{"email:jane.doe+tag@mail.example.co.uk"}},
		{"mailto:ops@example.org.", "", []string{"email:ops@example.org"}},
		{"card 4111 1111 1111 1111 charged", "", []string{"payment_card:4111 1111 1111 1111"}},
		{"card=4111-1111-1111-1111;", "", []string{"payment_card:4111-1111-1111-1111"}},
		{"amex 3782 822463 10005 ok", "", []string{"payment_card:3782 822463 10005"}},
		{"pan:5555555555554444", "", []string{"payment_card:5555555555554444"}},
		{"amount 100 4111111111111111 EUR", "", []string{"payment_card:4111111111111111"}},
		{"ssn 536-22-1234 on file", "", []string{"us_ssn:536-22-1234"}},
		{"536221234", "ssn", []string{"us_ssn:536221234"}},
		{"SSN: 536221234", "", []string{"us_ssn:536221234"}},
		{"call +1 415-555-2671 now", "", []string{"phone:+1 415-555-2671"}},
		{"to +447911123456.", "", []string{"phone:+447911123456"}},
		{"office (415) 555-2671", "", []string{"phone:(415) 555-2671"}},
		{"phone: 415-555-2671", "", []string{"phone:415-555-2671"}},
		{"4155552671", "mobile", []string{"phone:4155552671"}},
		{"tel 030 1234567", "", []string{"phone:030 1234567"}},
		{"client 203.0.113.42 connected", "", []string{"ipv4:203.0.113.42"}},
		{"from [2001:db8::8a2e:370:7334]:443", "", []string{"ipv6:2001:db8::8a2e:370:7334"}},
		{"peer fe80::1ff:fe23:4567:890a dropped", "", []string{"ipv6:fe80::1ff:fe23:4567:890a"}},
		{"peer 2001:0db8:85a3:0000:0000:8a2e:0370:7334", "", []string{"ipv6:2001:0db8:85a3:0000:0000:8a2e:0370:7334"}},
		{"iban DE89370400440532013000 ok", "", []string{"iban:DE89370400440532013000"}},
		{"IBAN GB82 WEST 1234 5698 7654 32.", "", []string{"iban:GB82 WEST 1234 5698 7654 32"}},
		{"t=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U x", "", []string{"jwt:eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"}},
		{"Authorization: Bearer abc123DEF456ghi789", "", []string{"bearer_token:abc123DEF456ghi789"}},
		{"Authorization: Basic dXNlcjpwYXNzd29yZA==", "", []string{"bearer_token:dXNlcjpwYXNzd29yZA=="}},
		{"key AKIAIOSFODNN7EXAMPLE used", "", []string{"aws_access_key:AKIAIOSFODNN7EXAMPLE"}},
		{"aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "", []string{"aws_secret_key:wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}},
		{"db_password=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "", []string{"secret_kv:wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}},
		{"STRIPE_KEY=sk_live_4eC39HqLyjWDarjtT1zdp7dc & password=a@b.co x", "", []string{"stripe_key:sk_live_4eC39HqLyjWDarjtT1zdp7dc", "email:a@b.co"}},
		{"aws creds wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "", []string{"aws_secret_key:wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}},
		{"gh ghp_1234567890abcdefghijABCDEFGHIJ123456 push", "", []string{"github_token:ghp_1234567890abcdefghijABCDEFGHIJ123456"}},
		{"glpat-xYz12345678901234567 ok", "", []string{"gitlab_token:glpat-xYz12345678901234567"}},
		{"xoxb-1234567890-abcdefghijkl", "", []string{"slack_token:xoxb-1234567890-abcdefghijkl"}},
		{"https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX", "", []string{"slack_token:T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"}},
		{"stripe sk_live_4eC39HqLyjWDarjtT1zdp7dc", "", []string{"stripe_key:sk_live_4eC39HqLyjWDarjtT1zdp7dc"}},
		{"AIzaSyA1234567890abcdefghijklmnopqrstuv", "", []string{"google_api_key:AIzaSyA1234567890abcdefghijklmnopqrstuv"}},
		{"k=-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY----- done", "", []string{"private_key:-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----"}},
		{"-----BEGIN PRIVATE KEY-----\nMIIE", "", []string{"private_key:-----BEGIN PRIVATE KEY-----\nMIIE"}},
		{"login password=hunter2 ok", "", []string{"secret_kv:hunter2"}},
		{`{"user":"bob","password":"p@ss w0rd"}`, "", []string{"secret_kv:p@ss w0rd"}},
		{`{\"client_secret\":\"s3cr3t\"}`, "", []string{"secret_kv:s3cr3t"}},
		{"GET /cb?code=1&access_token=abc.def&x=1", "", []string{"secret_kv:abc.def"}},
		{"db_pwd: 'x y'", "", []string{"secret_kv:x y"}},
		{"apiKey=AbC123", "", []string{"secret_kv:AbC123"}},
		{"postgres://app:s3cret@db.internal:5432/app", "", []string{"url_credentials:s3cret"}},
		{"a@b.co and 4111111111111111", "", []string{"email:a@b.co", "payment_card:4111111111111111"}},
	}
	for _, tt := range tests {
		got := found(sc, tt.in, tt.key)
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("Scan(%q, key %q)\n got  %q\n want %q", tt.in, tt.key, got, tt.want)
		}
	}
}

func TestScanNegatives(t *testing.T) {
	sc := allScanner()
	tests := []struct{ in, key string }{
		{"ts=1700000000 ms=1700000000123 us=1700000000123456 ns=1700000000123456789", ""},
		{"1732147200123", ""},
		{"created 1711111111111 and 4111111111111111111111", ""},
		{"request 550e8400-e29b-41d4-a716-446655440000 done", ""},
		{"id 12345678-1234-5678-1234-567812345678", ""},
		{"sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", ""},
		{"sha1 da39a3ee5e6b4b0d3255bfef95601890afd80709 aws secret", ""},
		{"trace_id=4bf92f3577b34da6a3ce929d0e0e4736 span_id=00f067aa0ba902b7", ""},
		{"version 1.2.3 v2.10.0-rc.1 go1.22.4", ""},
		{"took 150ms 2.5s 1h30m 500µs", ""},
		{"listening on :8080 and localhost:9200", ""},
		{"date 2024-01-15 01/15/2024 2024-01-15T10:20:30.123Z", ""},
		{"pod api-7d9f8b6c4-x2x9z node ip-10-0-1-23.ec2.internal", ""},
		{"order 555-123-4567 shipped", ""},
		{"order number 4155552671", ""},
		{"oid 1.3.6.1.4.1.2021", ""},
		{"mac 00:1a:2b:3c:4d:5e time 10:20:30", ""},
		{"std::vector Foo::Bar", ""},
		{"npm lodash@4.17.21 image@sha256:abcdef", ""},
		{"max_tokens=256 token_count=12 tokens=99 token_type=bearer", ""},
		{"password_length=12 secret_name=db api_key_id=7", ""},
		{"PWD=/home/user", ""},
		{"basic authentication required", ""},
		{"the bearer of bad news", ""},
		{"password=[REDACTED:secret_kv] token=****", ""},
		{"+0100 +1234 x+12345678901", ""},
		{"ssn 000-12-3456 666-12-3456 900-12-3456", ""},
		{"card 4111 1111 1111 1112", ""},
		{"random 1234567890123456", ""},
		{"DE89370400440532013001", ""},
		{"3.14159265358979", ""},
		{"ip 256.1.1.1 and 1.02.3.4", ""},
		// digits with letters inside one word: a hex id, not a card
		{"id 0X00000000000000 ref 4111111a11111111", ""},
	}
	for _, tt := range tests {
		if got := found(sc, tt.in, tt.key); len(got) != 0 {
			t.Errorf("Scan(%q) found %q, want nothing", tt.in, got)
		}
	}
}

func TestDisabledDetectorsDoNotRun(t *testing.T) {
	sc := NewScanner([]Detector{Email}, nil)
	got := found(sc, "a@b.co 4111111111111111 password=x 203.0.113.9", "")
	if fmt.Sprint(got) != fmt.Sprint([]string{"email:a@b.co"}) {
		t.Fatalf("got %q", got)
	}
	if sc.Enabled(PaymentCard) || !sc.Enabled(Email) {
		t.Fatal("Enabled reports the wrong set")
	}
}

func TestCustomDetectors(t *testing.T) {
	sc := NewScanner(nil, []Custom{
		{Regexp: regexp.MustCompile(`EMP-\d{6}`)},
		{Regexp: regexp.MustCompile(`\d{16}`), Validator: ValidateLuhn},
		{Regexp: regexp.MustCompile(`[A-Z]{2}\d{20}`), Validator: ValidateMod97},
		{Regexp: regexp.MustCompile(`\d{8}`), Context: []string{"member"}},
	})
	got := found(sc, "87654321 EMP-123456 4111111111111111 4111111111111112 DE89370400440532013000 member 12345678", "")
	want := []string{"custom:EMP-123456", "custom:4111111111111111", "custom:DE89370400440532013000", "custom:12345678"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
}

func TestPartialOverlapsMaskTheirUnion(t *testing.T) {
	sc := NewScanner([]Detector{Email, IPv6}, nil)
	got := found(sc, "from 1::0@0.AA now", "")
	want := []string{"email:1::0@0.AA"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
}

func TestOverlapsKeepLongest(t *testing.T) {
	sc := NewScanner([]Detector{Email, URLCredentials}, []Custom{{Regexp: regexp.MustCompile(`doe`)}})
	got := found(sc, "smtp://jane:pw@mail.example.com jane.doe@example.com", "")
	want := []string{"url_credentials:pw", "email:jane.doe@example.com"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
}

func TestIsSecretKey(t *testing.T) {
	yes := []string{
		"password", "DB_PASSWORD", "passwd", "user.pwd", "client_secret", "accessToken",
		"x-api-key", "api_key", "AWS_SECRET_ACCESS_KEY", "private_key", "authorization", "auth", "credentials", "refresh_token",
		// the word pass ends the key; cookie headers
		"pass", "DB_PASS", "smtp.pass", "userPass", "cookie", "Set-Cookie", "http.request.header.cookie",
		"http.response.header.set-cookie", "session_cookie",
	}
	no := []string{
		"bypass", "compass", "passport", "pass_through", "passenger", "passes", "cookie_consent", "cookies",
		"cookie_name", "password_stdin", "author", "tokens", "max_tokens", "token_count", "password_length", "secretName",
		"api_key_id", "PWD", "tokenizer", "enable_auth", "username", "key", "ab",
	}
	for _, k := range yes {
		if !IsSecretKey(k) {
			t.Errorf("IsSecretKey(%q) = false, want true", k)
		}
	}
	for _, k := range no {
		if IsSecretKey(k) {
			t.Errorf("IsSecretKey(%q) = true, want false", k)
		}
	}
}

func TestCardInt(t *testing.T) {
	if !CardInt(4111111111111111) || !CardInt(378282246310005) {
		t.Error("valid card numbers stored as ints not recognised")
	}
	for _, v := range []int64{1700000000123, 1700000000123456, 1700000000123456789, 4111111111111112, 42, -4111111111111111} {
		if CardInt(v) {
			t.Errorf("CardInt(%d) = true", v)
		}
	}
}

func TestNamesRoundTrip(t *testing.T) {
	for _, n := range Names() {
		d, ok := ByName(n)
		if !ok || d.String() != n {
			t.Errorf("ByName(%q) = %v, %v", n, d, ok)
		}
	}
	if _, ok := ByName("nope"); ok {
		t.Error("ByName accepted an unknown name")
	}
	if Detector(200).String() != "unknown" {
		t.Error("out of range detector has a name")
	}
}

func TestScanHostileInput(t *testing.T) {
	sc := allScanner()
	inputs := []string{
		strings.Repeat("@", 10000),
		strings.Repeat("a@", 5000),
		strings.Repeat("1 ", 5000),
		strings.Repeat("4111-", 3000),
		strings.Repeat("password=", 2000),
		strings.Repeat("-----BEGIN ", 1000),
		strings.Repeat("::", 5000),
		"\xff\xfe@\x00password=\xff" + strings.Repeat("\xc3", 100),
		"+", "(", "-", "=", ":", "@", "eyJ", "AKIA", "ghp_", "Bearer ", "://",
	}
	for _, in := range inputs {
		for _, m := range sc.Scan(nil, in, "") {
			if m.Start < 0 || m.End > len(in) || m.Start >= m.End {
				t.Fatalf("bad match %+v for input of %d bytes", m, len(in))
			}
		}
	}
}

// scanTable runs table-driven Scan cases; a nil want means nothing is found.
func scanTable(t *testing.T, sc *Scanner, tests []scanCase) {
	t.Helper()
	for _, tt := range tests {
		got := found(sc, tt.in, tt.key)
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("Scan(%q, key %q)\n got  %q\n want %q", tt.in, tt.key, got, tt.want)
		}
	}
}

type scanCase struct {
	in, key string
	want    []string
}

// The digits after a '+' that starts no phone number are still a number
// (form-encoded text uses '+' for spaces).
func TestScanNumberAfterPlus(t *testing.T) {
	scanTable(t, allScanner(), []scanCase{
		{"msg=my+ssn+is+536-22-1234", "", []string{"us_ssn:536-22-1234"}},
		{"q=card+4111111111111111&x=1", "", []string{"payment_card:4111111111111111"}},
		{"q=from+203.0.113.77+blocked", "", []string{"ipv4:203.0.113.77"}},
		{"amount +4111111111111111", "", []string{"payment_card:4111111111111111"}},
		{"call +1 415-555-2671 now", "", []string{"phone:+1 415-555-2671"}},
	})
}

func TestScanSecretKeyValueSpacing(t *testing.T) {
	scanTable(t, allScanner(), []scanCase{
		{`{ "user" : "jo", "password" : "hunter2xyz" }`, "", []string{"secret_kv:hunter2xyz"}},
		{"db.password = hunter2xyz", "", []string{"secret_kv:hunter2xyz"}},
		{"password : x", "", []string{"secret_kv:x"}},
		{"password\t= x1", "", []string{"secret_kv:x1"}},
		{"API key: q8Zr2kLm9XpV", "", []string{"secret_kv:q8Zr2kLm9XpV"}},
		{"Google API key = q8Zr2kLm9XpV", "", []string{"secret_kv:q8Zr2kLm9XpV"}},
		{"access key: q8Zr2kLm9XpV", "", []string{"secret_kv:q8Zr2kLm9XpV"}},
		{`{\"password\": \"hunter2xyz\"}`, "", []string{"secret_kv:hunter2xyz"}},
		{`{"log":"{\\\"password\\\":\\\"hunter2xyz\\\"}"}`, "", []string{"secret_kv:hunter2xyz"}},
		// a more deeply escaped quote belongs to the value
		{`{\"password\":\"a\\\"b\"}`, "", []string{`secret_kv:a\\\"b`}},
		// only api, access and private make "key" a secret's name
		{"the key: abc", "", nil},
		{"monkey : abc", "", nil},
	})
	for _, k := range []string{"API key", "Google API key", "private key", "Access Key"} {
		if !IsSecretKey(k) {
			t.Errorf("IsSecretKey(%q) = false", k)
		}
	}
	for _, k := range []string{"API key id", "password reset", "turkey"} {
		if IsSecretKey(k) {
			t.Errorf("IsSecretKey(%q) = true", k)
		}
	}
}

func TestScanEmailBoundaries(t *testing.T) {
	scanTable(t, NewScanner([]Detector{Email}, nil), []scanCase{
		// addresses joined by bytes a local part may hold: each starts where
		// the one before ends, all found in one pass (a chain needed a pass
		// per address, found by FuzzScan)
		{"to=a@x.com%2Cb@y.com%2Cc@z.com", "", []string{"email:a@x.com", "email:%2Cb@y.com", "email:%2Cc@z.com"}},
		{"0@0.AA%@0.AA%0@0.AA%@0.AA", "", []string{"email:0@0.AA", "email:%@0.AA", "email:%0@0.AA", "email:%@0.AA"}},
		{"a@b.io@c.io", "", nil},
		{"export report_jane.doe@example.com_2024.csv", "", []string{"email:report_jane.doe@example.com"}},
		{"redirect=mailto:jane.doe@example.com%3E", "", []string{"email:jane.doe@example.com"}},
		{"q=jane.doe@example.com+OR+x", "", []string{"email:jane.doe@example.com"}},
		{"to jane.doe@example.com--bounced", "", []string{"email:jane.doe@example.com"}},
		{"to jane.doe@mail-1.example.com.2024", "", []string{"email:jane.doe@mail-1.example.com"}},
		{"from jörg.schmidt@example.de", "", []string{"email:jörg.schmidt@example.de"}},
		{"to " + strings.Repeat("a", 60) + ".verylongname@example.com", "", []string{"email:" + strings.Repeat("a", 60) + ".verylongname@example.com"}},
		{"from ivan@example.xn--p1ai", "", []string{"email:ivan@example.xn--p1ai"}},
		{"a@b.io@c.io", "", nil},
		{"npm lodash@4.17.21 image@sha256:abcdef", "", nil},
	})
}

func TestScanIPv6AfterKey(t *testing.T) {
	scanTable(t, NewScanner([]Detector{IPv6}, nil), []scanCase{
		{"client_ip:2001:db8:85a3::8a2e:370:7334 connected", "", []string{"ipv6:2001:db8:85a3::8a2e:370:7334"}},
		{"peer:2a00:1450:4001:81c::200e ok", "", []string{"ipv6:2a00:1450:4001:81c::200e"}},
		{"addr:fe80::1ff:fe23:4567:890a", "", []string{"ipv6:fe80::1ff:fe23:4567:890a"}},
		// a group of hex digits before the ':' is part of the run, not a key
		{"at:10:20:30 time 10:20:30 mac 00:1a:2b:3c:4d:5e", "", nil},
		{"0::2::0:2 a:b:c", "", nil},
	})
}

func TestScanGoogleAPIKeysJoined(t *testing.T) {
	key := "AIza" + strings.Repeat("0", 34) + "-"
	scanTable(t, NewScanner([]Detector{GoogleAPIKey}, nil), []scanCase{
		// the last is no key (it goes on), those before it are
		{key + key + key + "x", "", []string{"google_api_key:" + key, "google_api_key:" + key}},
		{"AIza" + strings.Repeat("0", 36), "", nil},
		{key + key + "AIza" + strings.Repeat("0", 35), "", []string{"google_api_key:" + key, "google_api_key:" + key, "google_api_key:AIza" + strings.Repeat("0", 35)}},
	})
}

func TestScanCardJoined(t *testing.T) {
	scanTable(t, NewScanner([]Detector{PaymentCard}, nil), []scanCase{
		{"ref=card_4111111111111111", "", []string{"payment_card:4111111111111111"}},
		{"pan-4111111111111111", "", []string{"payment_card:4111111111111111"}},
		{"charged 4111111111111111.00", "", []string{"payment_card:4111111111111111"}},
		{"id_5555555555554444 x", "", []string{"payment_card:5555555555554444"}},
		// still Luhn and an issuer prefix, and no version or longer token
		{"build-4111111111111112 id_1234567890123456 v4111111111111111", "", nil},
		{"4111111111111111.0.1 4111111111111111.00x", "", nil},
	})
}

func TestScanURLCredentialsWithAt(t *testing.T) {
	scanTable(t, NewScanner([]Detector{URLCredentials, Email}, nil), []scanCase{
		{"postgres://app:p@ssw0rd@db.internal:5432/x", "", []string{"url_credentials:p@ssw0rd"}},
		{"amqp://guest:s3cret@rabbit:5672/?q=a@b.io", "", []string{"url_credentials:s3cret", "email:a@b.io"}},
		{"redis://:pw@cache:6379", "", []string{"url_credentials:pw"}},
		{"ssh://git@host:22/repo http://user:@host/", "", nil},
	})
}

func TestScanNumberFalsePositives(t *testing.T) {
	sc := allScanner()
	scanTable(t, sc, []scanCase{
		// 17-19 digits in one group are ids unless a card is named
		{"4088995790328921840", "dd.trace_id", nil},
		{`{"dd":{"trace_id":"6287380695604230411","span_id":"3698174104090161033"}}`, "", nil},
		{"card 4088995790328921840", "", []string{"payment_card:4088995790328921840"}},
		{"4088995790328921840", "card_number", []string{"payment_card:4088995790328921840"}},
		{"pan 4088 9957 9032 8921 840", "", []string{"payment_card:4088 9957 9032 8921 840"}},
		{"4111111111111111", "dd.trace_id", []string{"payment_card:4111111111111111"}},
		// context words are whole words
		{"8005551234", "cancellation_ref", nil},
		{"5125550199", "hotel_booking_id", nil},
		{"7185551234", "telemetry.batch_seq", nil},
		{"syscall returned 4294967295", "", nil},
		{"4155552671", "user.phoneNumber", []string{"phone:4155552671"}},
		{"4155552671", "Tel", []string{"phone:4155552671"}},
		{"calls 415-555-2671", "", []string{"phone:415-555-2671"}},
		{"536221234", "user_ssn", []string{"us_ssn:536221234"}},
		// a '+' number needs a country code and a plausible length
		{"heap delta +104857600 bytes", "", nil},
		{"balance change: +250000000 credits", "", nil},
		{"x +999123456789 +1 123-555-2671", "", nil},
		{"to +447911123456.", "", []string{"phone:+447911123456"}},
		{"sms +33 1 42 68 42 34", "", []string{"phone:+33 1 42 68 42 34"}},
		{"phone +3531234567", "", []string{"phone:+3531234567"}},
	})
}

func TestCardIntKey(t *testing.T) {
	tests := []struct {
		v    int64
		key  string
		want bool
	}{
		{4088995790328921840, "dd.trace_id", false},
		{4088995790328921840, "card_number", true},
		{4111111111111111, "dd.trace_id", true},
		{378282246310005, "", true},
		{4111111111111112, "card", false},
	}
	for _, tt := range tests {
		if got := CardIntKey(tt.v, tt.key); got != tt.want {
			t.Errorf("CardIntKey(%d, %q) = %v, want %v", tt.v, tt.key, got, tt.want)
		}
	}
}

// adversarialInputs repeat a unit that starts a candidate without completing
// it; each once made every candidate start re-read the rest of the text.
// lead, when set, fills the first half of the text.
var adversarialInputs = []struct{ name, unit, prefix, lead string }{
	{"jwt header", "eyJ-", "", ""},
	{"jwt header realistic", "eyJhbGciOi-", "", ""},
	{"jwt payload", "eyJ-", "eyJhbGciOiJIUzI1NiJ9.", ""},
	{"google api key", "AIza-", "", ""},
	{"unquoted secret values", "a_token=", "", ""},
	{"unquoted secret values after matches", "a_token=", "", "4111111111111111 "},
	{"quoted secret values", `a_token="`, "", ""},
	{"escaped secret values", `a_token=\"`, "", ""},
	{"gitlab token", "glpat-", "", ""},
	{"plus digits", "+1 ", "", ""},
	{"digest parameter lists", `authorization: Digest a="`, "", ""},
	{"escaped digest parameter lists", `authorization: Digest a=\"`, "", ""},
	{"cookie lists", `Cookie: a="`, "", ""},
	{"cookies", "cookie: a=b; ", "", ""},
	{"command-line flags", `--password "`, "", ""},
	{"flag names", " --a.", "", ""},
	{"xml elements", "<password>", "", ""},
	{"xml namespaces", "<a:", "", ""},
	{"addresses joined by local-part bytes", "a@b.io%", "", ""},
}

// adversarial returns about n bytes of the input.
func adversarial(prefix, unit, lead string, n int) string {
	var b strings.Builder
	b.WriteString(prefix)
	if lead != "" {
		b.WriteString(strings.Repeat(lead, n/2/len(lead)))
	}
	b.WriteString(strings.Repeat(unit, (n-b.Len())/len(unit)))
	return b.String()
}

// TestScanTimeIsLinear checks that scanning the adversarial inputs costs
// about the same per byte at 256 KiB and 1 MiB as at 64 KiB: the CPU time of
// one long text may be at most 2.5 times that of the same bytes in four
// texts a quarter as long (quadratic scans cost four times as much; 16 times
// the input may cost at most 40 times the time).
func TestScanTimeIsLinear(t *testing.T) {
	if cputime.Process() == 0 {
		t.Skip("no process CPU time on this system")
	}
	sc := allScanner()
	var dst []Match
	cost := func(s string, times int) time.Duration {
		best := time.Duration(1<<63 - 1)
		for try := 0; try < 3; try++ {
			c0 := cputime.Process()
			for k := 0; k < times; k++ {
				dst = sc.Scan(dst[:0], s, "")
			}
			best = min(best, cputime.Process()-c0)
		}
		return best
	}
	for _, in := range adversarialInputs {
		t.Run(in.name, func(t *testing.T) {
			for _, n := range []int{256 << 10, 1 << 20} {
				long := adversarial(in.prefix, in.unit, in.lead, n)
				short := adversarial(in.prefix, in.unit, in.lead, n/4)
				cs := cost(short, 4)
				cl := cost(long, 1)
				// 2 ms for the clock's granularity.
				if cl > cs*5/2+2*time.Millisecond {
					t.Fatalf("%d bytes cost %v, 4 x %d bytes %v: not linear", len(long), cl, len(short), cs)
				}
			}
		})
	}
}
