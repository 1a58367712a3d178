package detect

import (
	"strings"
	"testing"
)

// Credentials in HTTP headers, command lines and XML, found at the anchors
// the scanner already stops at (':' and '=', '-', '<'), all as secret_kv.

func TestScanAuthorizationSchemeAnyCase(t *testing.T) {
	scanTable(t, allScanner(), []scanCase{
		// no digit and one case: bearer_token alone would not count it, the
		// Authorization key does
		{"authorization: bearer abcdefghijklmnop", "", []string{"secret_kv:abcdefghijklmnop"}},
		{"Authorization: BEARER abcdefghijklmnop", "", []string{"secret_kv:abcdefghijklmnop"}},
		{"authorization=basic dXNlcjpwYXNz", "", []string{"bearer_token:dXNlcjpwYXNz"}},
		{"proxy-authorization: bearer abcdefghijklmnop status=401", "", []string{"secret_kv:abcdefghijklmnop"}},
		// both detectors find it: reported as the specific one
		{"authorization: bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig", "", []string{"bearer_token:eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig"}},
		// the scheme word alone, prose about a bearer, a mask
		{"authorization: bearer", "", nil},
		{"the bearer of this note is welcome", "", nil},
		{"authorization: bearer [REDACTED:secret_kv]", "", nil},
	})
}

func TestScanDigestCredential(t *testing.T) {
	const params = `username="bob", realm="api@example.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", qop=auth, nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1", opaque="5ccc069c403ebaf9f0171e9517f40e41"`
	scanTable(t, allScanner(), []scanCase{
		{"Authorization: Digest " + params + " status=401", "", []string{"secret_kv:" + params}},
		{"authorization: digest username=bob, response=6629fae49393a05397450978507c4ef1", "", []string{"secret_kv:username=bob, response=6629fae49393a05397450978507c4ef1"}},
		// inside a JSON string, with escaped quotes
		{`{"msg":"Authorization: Digest username=\"bob\", response=\"6629fae4\"","x":1}`, "", []string{`secret_kv:username=\"bob\", response=\"6629fae4\"`}},
		// a quoted header value is masked whole, scheme word and all
		{`{"Authorization":"Digest username=\"bob\""}`, "", []string{`secret_kv:Digest username=\"bob\"`}},
		// no parameter list: the token after the scheme word
		{"Authorization: Digest [REDACTED:secret_kv]", "", nil},
		{"Authorization: Digest", "", nil},
		// a challenge is no credential
		{`WWW-Authenticate: Digest realm="testrealm", qop="auth", nonce="dcd98b71"`, "", nil},
	})
}

func TestScanCommandLineSecretFlags(t *testing.T) {
	scanTable(t, allScanner(), []scanCase{
		{"exec mysql --user bob --password hunter2 --host db", "", []string{"secret_kv:hunter2"}},
		{"exec app --password=hunter2", "", []string{"secret_kv:hunter2"}},
		{`args=["--token", "t0k3n"]`, "", nil}, // separate array items: no flag value follows
		{`cmd="--api-key k3yv4lue --passwd 'p w' --secret s3 --pass p1 --client-secret=c5"`, "", []string{
			"secret_kv:k3yv4lue", "secret_kv:p w", "secret_kv:s3", "secret_kv:p1", "secret_kv:c5",
		}},
		// a flag without a value, property flags, other flags
		{"docker login --password-stdin --username bob", "", nil},
		{"run --password --verbose", "", nil},
		{"run --token-file /etc/token --max-tokens 5 --secret-name db", "", nil},
		{"run --user bob --port 5432 --passport-check on", "", nil},
		// not a flag: inside a word
		{"a--password x", "", nil},
	})
}

func TestScanPassKeys(t *testing.T) {
	scanTable(t, allScanner(), []scanCase{
		{"login pass=hunter2 pwd=s3cr3t passwd=letmein", "", []string{"secret_kv:hunter2", "secret_kv:s3cr3t", "secret_kv:letmein"}},
		{"DB_PASS=hunter2", "", []string{"secret_kv:hunter2"}},
		{`{"smtp_pass":"hunter2"}`, "", []string{"secret_kv:hunter2"}},
		{"bypass=true compass=north passport=X1234567 pass_through=all passes=3", "", nil},
		// go test output
		{"--- PASS: TestLogin (0.00s)", "", nil},
	})
}

func TestScanCookieHeaders(t *testing.T) {
	jwt := "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyLTEyMyJ9.c2lnbmF0dXJl"
	scanTable(t, allScanner(), []scanCase{
		// every cookie's value, names kept
		{"Cookie: session=abc123; theme=dark; _ga=GA1.2.3", "", []string{"secret_kv:abc123", "secret_kv:dark", "secret_kv:GA1.2.3"}},
		{"cookie: sid=" + jwt, "", []string{"jwt:" + jwt}},
		{`Cookie: a="quoted value"; b=x==`, "", []string{`secret_kv:quoted value`, "secret_kv:x=="}},
		// Set-Cookie: the cookie, not its attributes
		{"Set-Cookie: sid=abc123; Path=/; Expires=Wed, 21 Oct 2026 07:28:00 GMT; HttpOnly", "", []string{"secret_kv:abc123"}},
		{"set-cookie=sid=abc123; Path=/", "", []string{"secret_kv:abc123"}},
		// a whole quoted header value, a bare token
		{`{"Cookie":"session=abc123; theme=dark"}`, "", []string{"secret_kv:session=abc123; theme=dark"}},
		{"cookie=abc123def", "", []string{"secret_kv:abc123def"}},
		// masked already; other cookie words
		{"Cookie: session=[REDACTED:secret_kv]; theme=[REDACTED:secret_kv]", "", nil},
		{"cookie_consent=accepted cookies=3 cookie_name=sid", "", nil},
	})
}

func TestScanPGPPrivateKey(t *testing.T) {
	block := "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQOYBGVxW0UBCADGm8R1\n=Ab1c\n-----END PGP PRIVATE KEY BLOCK-----"
	scanTable(t, allScanner(), []scanCase{
		{"key: " + block + "\nnext", "", []string{"private_key:" + block}},
		// cut off
		{"-----BEGIN PGP PRIVATE KEY BLOCK-----\nlQOYBGVx", "", []string{"private_key:-----BEGIN PGP PRIVATE KEY BLOCK-----\nlQOYBGVx"}},
		// public keys and signatures are not secret
		{"-----BEGIN PGP PUBLIC KEY BLOCK-----\nmQENBF\n-----END PGP PUBLIC KEY BLOCK-----", "", nil},
		{"-----BEGIN PGP SIGNATURE-----\niQEzBA\n-----END PGP SIGNATURE-----", "", nil},
	})
}

func TestScanXMLSecretElements(t *testing.T) {
	scanTable(t, allScanner(), []scanCase{
		{"<user>bob</user><password>hunter2</password>", "", []string{"secret_kv:hunter2"}},
		{"<Passwd>x y</Passwd><secret>s3</secret><apiKey>k3y</apiKey><ns:password>p</ns:password>", "", []string{
			"secret_kv:x y", "secret_kv:s3", "secret_kv:k3y", "secret_kv:p",
		}},
		// cut off after the opening tag
		{"<token>abc123", "", []string{"secret_kv:abc123"}},
		// empty, masked, not a secret's name, a property of one
		{"<password></password><password>[REDACTED:secret_kv]</password><user>bob</user><password_policy>strong</password_policy>", "", nil},
		{"<password/> <b>bold</b> a < b", "", nil},
		// a generic type in a stack trace, a name before other markup
		{"at Parser.parse(List<Token> tokens, Map<String, Secret> s)", "", nil},
		{"<secret>x<br>y</secret>", "", nil},
	})
}

func TestScanCardSecurityCode(t *testing.T) {
	scanTable(t, allScanner(), []scanCase{
		{"cvv=123 cvc: 4567 cvv2=321 cid=1234 security_code=999", "", []string{
			"secret_kv:123", "secret_kv:4567", "secret_kv:321", "secret_kv:1234", "secret_kv:999",
		}},
		{`{"card_cvv":"042","securityCode":"7531"}`, "", []string{"secret_kv:042", "secret_kv:7531"}},
		// bare numbers, other lengths, other keys, words after the code
		{"status 200 took 123 ms code=404", "", nil},
		{"cvv=12 cvv=12345 cvv=12a cvv=1.5 cvv_enabled=true cvv_count=123 request_cid=1234", "", nil},
	})
	for _, k := range []string{"cvv", "CVV2", "card.cvc", "cardCvc", "security_code", "card-security-code", "cid"} {
		if !CVVKey(k) {
			t.Errorf("CVVKey(%q) = false", k)
		}
	}
	for _, k := range []string{"cvv_enabled", "request_cid", "code", "cidr", "status_code"} {
		if CVVKey(k) {
			t.Errorf("CVVKey(%q) = true", k)
		}
	}
}

// Only the masks the processor writes count as masked: a bracketed value of
// its own may be the secret ("[hunter2]").
func TestScanBracketedSecretIsMasked(t *testing.T) {
	scanTable(t, allScanner(), []scanCase{
		{"password=[hunter2]", "", []string{"secret_kv:[hunter2]"}},
		{`{"token":"[s3cr3t]"}`, "", []string{"secret_kv:[s3cr3t]"}},
		{"password=[REDACTED:secret_kv] token=[REDACTED] pwd=****", "", nil},
	})
	// Without SetMasked, nothing bracketed counts as masked.
	sc := NewScanner([]Detector{SecretKeyValue}, nil)
	if got := found(sc, "password=[REDACTED:secret_kv]", ""); len(got) != 1 {
		t.Fatalf("got %q", got)
	}
	if PlaceholderValue("[hunter2]") {
		t.Fatal(`PlaceholderValue("[hunter2]") = true`)
	}
}

func TestScanNewSecretsOffWithSecretKV(t *testing.T) {
	sc := NewScanner([]Detector{BearerToken, PrivateKey}, nil)
	for _, s := range []string{
		"run --password hunter2", "<password>x</password>", "Cookie: a=b", "cvv=123", "Authorization: Digest a=b",
	} {
		if got := found(sc, s, ""); len(got) != 0 {
			t.Errorf("Scan(%q) with secret_kv off = %q", s, got)
		}
	}
	if !strings.Contains(found(NewScanner([]Detector{PrivateKey}, nil), "-----BEGIN PGP PRIVATE KEY BLOCK-----\nx", "")[0], "PGP") {
		t.Error("private_key alone misses a PGP block")
	}
}
