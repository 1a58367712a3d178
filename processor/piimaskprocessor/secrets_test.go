package piimaskprocessor

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const redactedSecret = "[REDACTED:secret_kv]"

// Credentials in HTTP headers, command lines, XML and card forms written
// into free text are masked as secret_kv; ordinary text around them stays.
func TestFreeTextCredentialsAreMasked(t *testing.T) {
	r := redactedSecret
	tests := []struct{ in, want string }{
		{"GET /api authorization: bearer abcdefghijklmnop status=401", "GET /api authorization: bearer " + r + " status=401"},
		{`Authorization: Digest username="bob", realm="x", nonce="dcd98b71", response="6629fae49393a05397450978507c4ef1"`, "Authorization: Digest " + r},
		{"exec: pg_dump --username bob --password hunter2 --host db", "exec: pg_dump --username bob --password " + r + " --host db"},
		{"exec: app --token=t0k3n --api-key 'k 3' --secret s3", "exec: app --token=" + r + " --api-key '" + r + "' --secret " + r},
		{"login pass=hunter2 pwd=s3cr3t passwd=letmein", "login pass=" + r + " pwd=" + r + " passwd=" + r},
		{"Cookie: session=abc123; theme=dark", "Cookie: session=" + r + "; theme=" + r},
		{"Set-Cookie: sid=abc123; Path=/; HttpOnly", "Set-Cookie: sid=" + r + "; Path=/; HttpOnly"},
		{"-----BEGIN PGP PRIVATE KEY BLOCK-----\nlQOYBGVx\n=Ab1c\n-----END PGP PRIVATE KEY BLOCK----- loaded", "[REDACTED:private_key] loaded"},
		{"<auth><user>bob</user><password>hunter2</password><apiKey>k3y</apiKey></auth>", "<auth><user>bob</user><password>" + r + "</password><apiKey>" + r + "</apiKey></auth>"},
		{"charge card cvv=123 cvc: 4567 cid=1234 security_code=999", "charge card cvv=" + r + " cvc: " + r + " cid=" + r + " security_code=" + r},
		{"password=[hunter2]", "password=" + r},
	}
	for _, tt := range tests {
		ld, _ := oneLog(tt.in)
		got := firstRecord(runLogs(t, defaultCfg(), nopSettings(), ld)).Body().Str()
		assert.Equal(t, tt.want, got, "input %q", tt.in)
		// A second pii_mask (agent, then gateway) changes nothing.
		ld, _ = oneLog(got)
		assert.Equal(t, got, firstRecord(runLogs(t, defaultCfg(), nopSettings(), ld)).Body().Str(), "masked again %q", got)
	}
}

// Look-alikes of the new rules: nothing here is masked.
func TestFreeTextCredentialLookalikesStay(t *testing.T) {
	for _, in := range []string{
		"the bearer of this note; basic auth disabled; digest computed",
		"GET /orders 200 took 123 ms code=404 retries=3 port=5432",
		"run --user bob --port 5432 --max-tokens 5 --token-file /etc/t --password-stdin",
		"bypass=true compass=north passport=X1234567 pass_through=all",
		"cookie_consent=accepted cookies=3; set cookie policy",
		"-----BEGIN PGP PUBLIC KEY BLOCK-----\nmQENBF\n-----END PGP PUBLIC KEY BLOCK-----",
		"<user>bob</user> <b>bold</b> if a < b then <password_policy>strong</password_policy>",
		"cvv_enabled=true cvv=12345 request_cid=1234 status_code=503",
		"WWW-Authenticate: Digest realm=\"testrealm\", qop=\"auth\", nonce=\"dcd98b71\"",
		"--- PASS: TestLogin (0.00s)",
		"at Parser.parse(List<Token> tokens, Map<String, Secret> s)",
	} {
		ld, _ := oneLog(in)
		assert.Equal(t, in, firstRecord(runLogs(t, defaultCfg(), nopSettings(), ld)).Body().Str())
	}
}

// In free text, too, only this processor's own masks count as masked: its
// redact template text (whatever the template) and its hash tokens.
func TestFreeTextBracketedSecretIsMaskedUnlessOwnMask(t *testing.T) {
	cfg := defaultCfg()
	cfg.Detectors = map[string]DetectorConfig{"secret_kv": {Action: "hash"}}
	cfg.Hash = HashConfig{KeyEnv: "PII_TEST_HASH_KEY", KeyID: "k1"}
	t.Setenv("PII_TEST_HASH_KEY", "k3y")
	ld, _ := oneLog("password=[hunter2] token=[REDACTED:secret_kv]")
	once := firstRecord(runLogs(t, cfg, nopSettings(), ld)).Body().Str()
	require.Regexp(t, `^password=\[secret_kv:k1:[0-9a-f]{32}\] token=\[REDACTED:secret_kv\]$`, once)
	// The hash token is not hashed again.
	ld, _ = oneLog(once)
	assert.Equal(t, once, firstRecord(runLogs(t, cfg, nopSettings(), ld)).Body().Str())

	cfg = defaultCfg()
	cfg.RedactTemplate = "MASKED"
	ld, _ = oneLog("password=[hunter2] pwd=MASKED passwd=[REDACTED:secret_kv]")
	assert.Equal(t, "password=MASKED pwd=MASKED passwd=MASKED", firstRecord(runLogs(t, cfg, nopSettings(), ld)).Body().Str())
}

// Attributes whose key names a cookie header or ends in the word pass are
// masked whole, keeping their shape; look-alike keys are scanned as usual.
func TestCookieAndPassAttributeKeysAreMaskedWhole(t *testing.T) {
	ld, lr := oneLog("x")
	a := lr.Attributes()
	a.PutStr("cookie", "session=abc123; theme=dark")
	a.PutStr("Set-Cookie", "sid=abc123; Path=/; HttpOnly")
	a.PutEmptySlice("http.request.header.cookie").AppendEmpty().SetStr("session=abc123")
	a.PutEmptySlice("http.response.header.set-cookie").AppendEmpty().SetStr("sid=abc123; Path=/")
	a.PutStr("pass", "hunter2")
	a.PutStr("pwd", "hunter2")
	a.PutStr("passwd", "hunter2")
	a.PutStr("db.pass", "hunter2")
	a.PutStr("cookie_consent", "accepted")
	a.PutStr("passport", "X1234567")
	a.PutStr("bypass", "cache")
	out := firstRecord(runLogs(t, defaultCfg(), nopSettings(), ld))
	r := redactedSecret
	assert.Equal(t, map[string]any{
		"cookie":                          r,
		"Set-Cookie":                      r,
		"http.request.header.cookie":      []any{r},
		"http.response.header.set-cookie": []any{r},
		"pass":                            r,
		"pwd":                             r,
		"passwd":                          r,
		"db.pass":                         r,
		"cookie_consent":                  "accepted",
		"passport":                        "X1234567",
		"bypass":                          "cache",
	}, out.Attributes().AsRaw())
}

// A card security code under a CVV key is masked, as a string of 3 or 4
// digits or an integer; other values under such keys, and the same numbers
// under other keys, stay.
func TestCVVAttributesAreMasked(t *testing.T) {
	ld, lr := oneLog("x")
	a := lr.Attributes()
	a.PutStr("cvv", "123")
	a.PutInt("card.cvc", 42)
	a.PutStr("payment.security_code", "0421")
	a.PutStr("cid", "1234")
	a.PutStr("cvv2", "12345")
	a.PutStr("card_cvv", "not set")
	a.PutInt("status_code", 123)
	a.PutStr("request_cid", "1234")
	out := firstRecord(runLogs(t, defaultCfg(), nopSettings(), ld))
	r := redactedSecret
	assert.Equal(t, map[string]any{
		"cvv":                   r,
		"card.cvc":              r,
		"payment.security_code": r,
		"cid":                   r,
		"cvv2":                  "12345",
		"card_cvv":              "not set",
		"status_code":           int64(123),
		"request_cid":           "1234",
	}, out.Attributes().AsRaw())

	// secret_kv off: CVV keys are left alone too.
	cfg := defaultCfg()
	off := false
	cfg.Detectors = map[string]DetectorConfig{"secret_kv": {Enabled: &off}}
	ld, lr = oneLog("cvv=123 pass=hunter2")
	lr.Attributes().PutStr("cvv", "123")
	out = firstRecord(runLogs(t, cfg, nopSettings(), ld))
	assert.Equal(t, "cvv=123 pass=hunter2", out.Body().Str())
	v, _ := out.Attributes().Get("cvv")
	assert.Equal(t, "123", v.Str())
}

// A hash token names its detector: "[secret_kv:k1:…]" and
// "[bearer_token:k1:…]" read like a secret key and its value, and each pass
// hashed the token again inside itself ("[secret_kv:[secret_kv:[…]]]").
func TestHashTokensInFreeTextAreNotHashedAgain(t *testing.T) {
	cfg := defaultCfg()
	cfg.DefaultAction = "hash"
	cfg.Hash = HashConfig{KeyEnv: "PII_TEST_HASH_KEY", KeyID: "k1"}
	t.Setenv("PII_TEST_HASH_KEY", "k3y")
	ld, _ := oneLog("password=hunter2 token: abc123 Authorization: Bearer abc123DEF456ghi")
	once := firstRecord(runLogs(t, cfg, nopSettings(), ld)).Body().Str()
	require.Regexp(t, `^password=\[secret_kv:k1:[0-9a-f]{32}\] token: \[secret_kv:k1:[0-9a-f]{32}\] `+
		`Authorization: Bearer \[bearer_token:k1:[0-9a-f]{32}\]$`, once)
	ld, _ = oneLog(once)
	assert.Equal(t, once, firstRecord(runLogs(t, cfg, nopSettings(), ld)).Body().Str())
}
