package piimaskprocessor

import (
	"context"
	"testing"
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

// FuzzProcessLogs feeds arbitrary bodies, keys and values (also as JSON-ish
// structured bodies) through the whole processor: it must not fail or
// panic, and a second pass must change nothing (masking is idempotent, under
// redact and under hash).
// Under partial masks, valid UTF-8 in must give valid UTF-8 out.
func FuzzProcessLogs(f *testing.F) {
	f.Add("user jane@example.com paid 4111 1111 1111 1111", "password", "hunter2", int64(4111111111111111))
	f.Add("Authorization: Bearer abc123DEF456", "authorization", "Basic dXNlcjpwYXNz", int64(1700000000123))
	f.Add("\xff\xfe@\x00password=\xff", "\xff", "::1", int64(-1))
	f.Add(`{"api_key":"k","ip":"203.0.113.9"}`, "client.ip", "2001:db8::1:2:3", int64(0))
	f.Add("-----BEGIN PRIVATE KEY-----\nMIIE", "token_count", "12", int64(378282246310005))
	// a mask that turns its neighbour into an address (found by FuzzScan)
	f.Add("1::X0@0.AA", "note", "1::X0@0.AA", int64(1))
	// partial masks once kept the last four bytes, splitting a character
	f.Add("Kunde François Lefèvre", "user.name", "François Lefèvre", int64(2))
	// credentials found at ':', '=', '-' and '<'; a hash token of secret_kv
	// was once hashed again inside itself
	f.Add(`Authorization: Digest username="bob", response="6629fae4" Cookie: a=1; b="x"`, "Set-Cookie", "sid=1; Path=/", int64(123))
	f.Add("run --password hunter2 <password>x</password> cvv=123 pass=[p]", "cvv", "123", int64(123))
	f.Add("password=[secret_kv:k1:0123456789abcdef0123456789abcdef]", "cookie", "[REDACTED:secret_kv]", int64(7))

	cfg := defaultCfg()
	cfg.DetectorsAttribute = "pii.detectors"
	p, err := newPIIMask(cfg, nopSettings().TelemetrySettings)
	if err != nil {
		f.Fatal(err)
	}
	pcfg := defaultCfg()
	pcfg.DefaultAction = "partial"
	pcfg.MaskKeys = []string{"user.name"}
	pcfg.CustomDetectors = []CustomDetectorConfig{{Name: "name", Regex: `\pL{2,} \pL{2,}`}}
	partial, err := newPIIMask(pcfg, nopSettings().TelemetrySettings)
	if err != nil {
		f.Fatal(err)
	}
	hcfg := defaultCfg()
	hcfg.DefaultAction = "hash"
	hcfg.Hash = HashConfig{KeyEnv: "PII_FUZZ_HASH_KEY", KeyID: "k1"}
	f.Setenv("PII_FUZZ_HASH_KEY", "k3y")
	hashed, err := newPIIMask(hcfg, nopSettings().TelemetrySettings)
	if err != nil {
		f.Fatal(err)
	}
	build := func(body, key, val string, n int64) plog.Logs {
		ld := plog.NewLogs()
		lrs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
		lr := lrs.AppendEmpty()
		lr.Body().SetStr(body)
		lr.Attributes().PutStr(key, val)
		lr.Attributes().PutInt("n", n)
		lr.Attributes().PutStr("user.name", val)
		m := lrs.AppendEmpty().Body().SetEmptyMap()
		m.PutStr(key, body)
		m.PutEmptySlice("list").AppendEmpty().SetStr(val)
		return ld
	}
	f.Fuzz(func(t *testing.T, body, key, val string, n int64) {
		if utf8.ValidString(body) && utf8.ValidString(key) && utf8.ValidString(val) {
			masked, err := partial.processLogs(context.Background(), build(body, key, val, n))
			if err != nil {
				t.Fatal(err)
			}
			lrs := masked.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
			for i := 0; i < lrs.Len(); i++ {
				if s, ok := invalidUTF8(lrs.At(i).Body()); ok {
					t.Fatalf("partial mask wrote invalid UTF-8 in the body: %q", s)
				}
				v := pcommon.NewValueMap()
				lrs.At(i).Attributes().CopyTo(v.Map())
				if s, ok := invalidUTF8(v); ok {
					t.Fatalf("partial mask wrote invalid UTF-8 in an attribute: %q", s)
				}
			}
		}
		for _, pm := range []*piiMask{p, hashed} {
			once, err := pm.processLogs(context.Background(), build(body, key, val, n))
			if err != nil {
				t.Fatal(err)
			}
			again := plog.NewLogs()
			once.CopyTo(again)
			twice, err := pm.processLogs(context.Background(), again)
			if err != nil {
				t.Fatal(err)
			}
			a := once.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
			b := twice.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
			for i := 0; i < a.Len(); i++ {
				if !a.At(i).Body().Equal(b.At(i).Body()) {
					t.Fatalf("body not idempotent: %q then %q", a.At(i).Body().AsString(), b.At(i).Body().AsString())
				}
				if !a.At(i).Attributes().Equal(b.At(i).Attributes()) {
					t.Fatalf("attributes not idempotent: %v then %v", a.At(i).Attributes().AsRaw(), b.At(i).Attributes().AsRaw())
				}
			}
		}
	})
}

// invalidUTF8 returns the first string in v, or a map key, that is not valid UTF-8.
func invalidUTF8(v pcommon.Value) (string, bool) {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return v.Str(), !utf8.ValidString(v.Str())
	case pcommon.ValueTypeMap:
		var bad string
		var found bool
		v.Map().Range(func(k string, e pcommon.Value) bool {
			if !utf8.ValidString(k) {
				bad, found = k, true
			} else {
				bad, found = invalidUTF8(e)
			}
			return !found
		})
		return bad, found
	case pcommon.ValueTypeSlice:
		for i := 0; i < v.Slice().Len(); i++ {
			if s, ok := invalidUTF8(v.Slice().At(i)); ok {
				return s, true
			}
		}
	}
	return "", false
}
