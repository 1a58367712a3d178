package piimaskprocessor

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicelogs/sluice/processor/piimaskprocessor/internal/detect"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/sluicelogs/sluice/internal/cputime"
	"github.com/sluicelogs/sluice/processor/piimaskprocessor/internal/metadata"
	"github.com/sluicelogs/sluice/processor/piimaskprocessor/internal/metadatatest"
)

func defaultCfg() *Config { return createDefaultConfig().(*Config) }

// runLogs passes ld through a pii_mask processor built from cfg and returns
// what reached the next consumer.
func runLogs(t *testing.T, cfg *Config, set processor.Settings, ld plog.Logs) plog.Logs {
	t.Helper()
	require.NoError(t, cfg.Validate())
	sink := new(consumertest.LogsSink)
	p, err := NewFactory().CreateLogs(context.Background(), set, cfg, sink)
	require.NoError(t, err)
	require.NoError(t, p.Start(context.Background(), componenttest.NewNopHost()))
	require.NoError(t, p.ConsumeLogs(context.Background(), ld))
	require.NoError(t, p.Shutdown(context.Background()))
	require.Len(t, sink.AllLogs(), 1)
	return sink.AllLogs()[0]
}

func nopSettings() processor.Settings { return processortest.NewNopSettings(metadata.Type) }

func oneLog(body string) (plog.Logs, plog.LogRecord) {
	ld := plog.NewLogs()
	lr := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.Body().SetStr(body)
	return ld, lr
}

func firstRecord(ld plog.Logs) plog.LogRecord {
	return ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0)
}

func TestLogsMaskBodyAttributesResourceAndScope(t *testing.T) {
	cfg := defaultCfg()
	cfg.DetectorsAttribute = "pii.detectors"
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("host.ip", "203.0.113.7")
	rl.Resource().Attributes().PutStr("service.name", "checkout")
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().Attributes().PutStr("owner", "ops@example.com")
	lr := sl.LogRecords().AppendEmpty()
	lr.Body().SetStr("user jane@example.com paid with 4111 1111 1111 1111 at 1700000000123")
	lr.Attributes().PutStr("password", "hunter2")
	lr.Attributes().PutInt("card", 4111111111111111)
	lr.Attributes().PutInt("ts_ms", 1700000000123)
	lr.Attributes().PutStr("trace_id", "4bf92f3577b34da6a3ce929d0e0e4736")
	clean := sl.LogRecords().AppendEmpty()
	clean.Body().SetStr("GET /healthz 200 1.2ms")

	out := runLogs(t, cfg, nopSettings(), ld)
	orl := out.ResourceLogs().At(0)
	res := orl.Resource().Attributes().AsRaw()
	assert.Equal(t, map[string]any{"host.ip": "[REDACTED:ipv4]", "service.name": "checkout"}, res)
	assert.Equal(t, map[string]any{"owner": "[REDACTED:email]"}, orl.ScopeLogs().At(0).Scope().Attributes().AsRaw())
	got := orl.ScopeLogs().At(0).LogRecords().At(0)
	assert.Equal(t, "user [REDACTED:email] paid with [REDACTED:payment_card] at 1700000000123", got.Body().Str())
	assert.Equal(t, map[string]any{
		"password":      "[REDACTED:secret_kv]",
		"card":          "[REDACTED:payment_card]",
		"ts_ms":         int64(1700000000123),
		"trace_id":      "4bf92f3577b34da6a3ce929d0e0e4736",
		"pii.detectors": "email,payment_card,secret_kv",
	}, got.Attributes().AsRaw())
	untouched := orl.ScopeLogs().At(0).LogRecords().At(1)
	assert.Equal(t, "GET /healthz 200 1.2ms", untouched.Body().Str())
	_, has := untouched.Attributes().Get("pii.detectors")
	assert.False(t, has, "a record without PII must not get the detectors attribute")
}

func TestLogsStructuredBody(t *testing.T) {
	ld, lr := oneLog("")
	body := lr.Body().SetEmptyMap()
	require.NoError(t, body.FromRaw(map[string]any{
		"msg": "refund to DE89370400440532013000",
		"user": map[string]any{
			"email":     "bob@example.org",
			"phones":    []any{"+14155552671", "n/a"},
			"api_token": "abc123",
		},
		"count": int64(3),
	}))
	out := runLogs(t, defaultCfg(), nopSettings(), ld)
	assert.Equal(t, map[string]any{
		"msg": "refund to [REDACTED:iban]",
		"user": map[string]any{
			"email":     "[REDACTED:email]",
			"phones":    []any{"[REDACTED:phone]", "n/a"},
			"api_token": "[REDACTED:secret_kv]",
		},
		"count": int64(3),
	}, firstRecord(out).Body().Map().AsRaw())
}

func TestActions(t *testing.T) {
	key := filepath.Join(t.TempDir(), "hmac.key")
	require.NoError(t, os.WriteFile(key, []byte("s3cr3t-key\n"), 0o600))
	cfg := defaultCfg()
	cfg.Detectors = map[string]DetectorConfig{
		"payment_card": {Action: "partial"},
		"email":        {Action: "hash"},
		"us_ssn":       {Action: "drop"},
		"ipv4":         {Action: "partial"},
	}
	cfg.Hash = HashConfig{KeyFile: key, KeyID: "k1"}
	ld, lr := oneLog("card 4111 1111 1111 1234? no: 4111111111111111 from 198.51.100.23 ssn 536-22-1234")
	lr.Attributes().PutStr("email", "Jane@Example.com")
	lr.Attributes().PutStr("email2", "Jane@Example.com")
	lr.Attributes().PutStr("ssn", "536-22-1234")
	lr.Attributes().PutStr("note", "ok")

	out := firstRecord(runLogs(t, cfg, nopSettings(), ld))
	assert.Equal(t, "card 4111 1111 1111 1234? no: ************1111 from 198.51.100.0 ssn [REDACTED:us_ssn]", out.Body().Str(),
		"a string body under drop keeps its redacted text")
	attrs := out.Attributes()
	_, hasSSN := attrs.Get("ssn")
	assert.False(t, hasSSN, "drop removes the attribute")
	e1, _ := attrs.Get("email")
	e2, _ := attrs.Get("email2")
	assert.Regexp(t, `^\[email:k1:[0-9a-f]{32}\]$`, e1.Str())
	assert.Equal(t, e1.Str(), e2.Str(), "equal values hash to equal tokens")
	note, _ := attrs.Get("note")
	assert.Equal(t, "ok", note.Str())
}

func TestHashKeyFromEnvAndMissingKey(t *testing.T) {
	cfg := defaultCfg()
	cfg.DefaultAction = "hash"
	cfg.Hash = HashConfig{KeyEnv: "SLUICE_TEST_PII_KEY", KeyID: "k2"}
	t.Setenv("SLUICE_TEST_PII_KEY", "")
	_, err := NewFactory().CreateLogs(context.Background(), nopSettings(), cfg, consumertest.NewNop())
	require.EqualError(t, err, `create pii_mask processor: hash::key_env: environment variable "SLUICE_TEST_PII_KEY" is unset or empty`)

	t.Setenv("SLUICE_TEST_PII_KEY", "abc")
	ld, _ := oneLog("mail a@b.co")
	out := firstRecord(runLogs(t, cfg, nopSettings(), ld))
	assert.Regexp(t, `^mail \[email:k2:[0-9a-f]{32}\]$`, out.Body().Str())

	cfg.Hash = HashConfig{KeyFile: filepath.Join(t.TempDir(), "missing"), KeyID: "k2"}
	_, err = NewFactory().CreateLogs(context.Background(), nopSettings(), cfg, consumertest.NewNop())
	require.ErrorContains(t, err, "hash::key_file: open ")
}

func TestKeyRules(t *testing.T) {
	cfg := defaultCfg()
	cfg.MaskKeys = []string{"User.Name", "session"}
	cfg.AllowKeys = []string{"debug_dump"}
	ld, lr := oneLog("x")
	lr.Attributes().PutStr("user.name", "Jane Doe")
	lr.Attributes().PutEmptyMap("session").PutStr("id", "s-1")
	lr.Attributes().PutStr("debug_dump", "jane@example.com password=x")
	lr.Attributes().PutStr("password", "[REDACTED:secret_kv]")
	out := firstRecord(runLogs(t, cfg, nopSettings(), ld))
	assert.Equal(t, map[string]any{
		"user.name":  "[REDACTED:masked_key]",
		"session":    "[REDACTED:masked_key]",
		"debug_dump": "jane@example.com password=x",
		"password":   "[REDACTED:secret_kv]",
	}, out.Attributes().AsRaw())

	cfg.MaskKeysAction = "drop"
	ld, lr = oneLog("x")
	lr.Attributes().PutStr("user.name", "Jane Doe")
	out = firstRecord(runLogs(t, cfg, nopSettings(), ld))
	assert.Equal(t, 0, out.Attributes().Len())
}

func TestDisabledDetectorAndCustomDetector(t *testing.T) {
	cfg := defaultCfg()
	off := false
	cfg.Detectors = map[string]DetectorConfig{"email": {Enabled: &off}}
	cfg.CustomDetectors = []CustomDetectorConfig{
		{Name: "employee_id", Regex: `EMP-\d{6}`, Context: []string{"employee"}},
		{Name: "member_no", Regex: `\d{12}`, Action: "partial"},
	}
	ld, lr := oneLog("EMP-654321 has no context word before it; employee EMP-123456 mailed a@b.co")
	lr.Attributes().PutInt("member", 123456789012)
	out := firstRecord(runLogs(t, cfg, nopSettings(), ld))
	assert.Equal(t, "EMP-654321 has no context word before it; employee [REDACTED:employee_id] mailed a@b.co", out.Body().Str())
	m, _ := out.Attributes().Get("member")
	assert.Equal(t, "********9012", m.Str())
}

func TestTraces(t *testing.T) {
	cfg := defaultCfg()
	cfg.DetectorsAttribute = "pii.detectors"
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	span := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	span.Attributes().PutStr("http.url", "https://api.example.com/v1?api_key=AbC123xyz&q=1")
	span.Attributes().PutStr("http.request.header.authorization", "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.sig")
	span.Attributes().PutStr("db.statement", "SELECT * FROM users WHERE email = 'x@y.io'")
	ev := span.Events().AppendEmpty()
	ev.Attributes().PutStr("exception.message", "card 5555555555554444 declined")

	sink := new(consumertest.TracesSink)
	p, err := NewFactory().CreateTraces(context.Background(), nopSettings(), cfg, sink)
	require.NoError(t, err)
	require.NoError(t, p.ConsumeTraces(context.Background(), td))
	require.NoError(t, p.Shutdown(context.Background()))
	got := sink.AllTraces()[0].ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0)
	assert.Equal(t, map[string]any{
		"http.url":                          "https://api.example.com/v1?api_key=[REDACTED:secret_kv]&q=1",
		"http.request.header.authorization": "[REDACTED:secret_kv]",
		"db.statement":                      "SELECT * FROM users WHERE email = '[REDACTED:email]'",
		"pii.detectors":                     "email,payment_card,secret_kv", // the card is in an event
	}, got.Attributes().AsRaw())
	assert.Equal(t, map[string]any{"exception.message": "card [REDACTED:payment_card] declined"},
		got.Events().At(0).Attributes().AsRaw())
}

func TestMetricsDatapointAttributes(t *testing.T) {
	md := pmetric.NewMetrics()
	ms := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics()
	ms.AppendEmpty().SetEmptyGauge().DataPoints().AppendEmpty().Attributes().PutStr("client", "203.0.113.9")
	ms.AppendEmpty().SetEmptySum().DataPoints().AppendEmpty().Attributes().PutStr("user", "a@b.co")
	ms.AppendEmpty().SetEmptyHistogram().DataPoints().AppendEmpty().Attributes().PutStr("user", "a@b.co")
	ms.AppendEmpty().SetEmptyExponentialHistogram().DataPoints().AppendEmpty().Attributes().PutStr("user", "a@b.co")
	ms.AppendEmpty().SetEmptySummary().DataPoints().AppendEmpty().Attributes().PutStr("route", "/users/{id}")

	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	sink := new(consumertest.MetricsSink)
	p, err := NewFactory().CreateMetrics(context.Background(), metadatatest.NewSettings(tel), defaultCfg(), sink)
	require.NoError(t, err)
	require.NoError(t, p.ConsumeMetrics(context.Background(), md))
	require.NoError(t, p.Shutdown(context.Background()))
	got := sink.AllMetrics()[0].ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics()
	v, _ := got.At(0).Gauge().DataPoints().At(0).Attributes().Get("client")
	assert.Equal(t, "[REDACTED:ipv4]", v.Str())
	v, _ = got.At(3).ExponentialHistogram().DataPoints().At(0).Attributes().Get("user")
	assert.Equal(t, "[REDACTED:email]", v.Str())
	v, _ = got.At(4).Summary().DataPoints().At(0).Attributes().Get("route")
	assert.Equal(t, "/users/{id}", v.Str())
	metadatatest.AssertEqualProcessorPiiMaskRecordsScanned(t, tel, []metricdata.DataPoint[int64]{{Value: 5}}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualProcessorPiiMaskRecordsMasked(t, tel, []metricdata.DataPoint[int64]{{Value: 4}}, metricdatatest.IgnoreTimestamp())
}

func TestSelfMetrics(t *testing.T) {
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	cfg := defaultCfg()
	cfg.MaxValueBytes = 64
	cfg.MaxDepth = 1
	ld := plog.NewLogs()
	lrs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	lrs.AppendEmpty().Body().SetStr("a@b.co and c@d.co")                          // 17 bytes
	lrs.AppendEmpty().Body().SetStr("ok")                                         // 2 bytes
	lrs.AppendEmpty().Body().SetStr(strings.Repeat("x", 70) + " hidden@tail.com") // 64 scanned
	deep := lrs.AppendEmpty()
	deep.Attributes().PutEmptyMap("l1").PutEmptyMap("l2").PutStr("mail", "x@y.co")
	deep.Attributes().PutStr("ip", "10.0.0.1")

	out := runLogs(t, cfg, metadatatest.NewSettings(tel), ld)
	tail := out.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(2).Body().Str()
	assert.True(t, strings.HasSuffix(tail, "hidden@tail.com"), "bytes past max_value_bytes are left as they are")

	opts := []metricdatatest.Option{metricdatatest.IgnoreTimestamp()}
	metadatatest.AssertEqualProcessorPiiMaskRecordsScanned(t, tel, []metricdata.DataPoint[int64]{{Value: 4}}, opts...)
	metadatatest.AssertEqualProcessorPiiMaskRecordsMasked(t, tel, []metricdata.DataPoint[int64]{{Value: 2}}, opts...)
	metadatatest.AssertEqualProcessorPiiMaskBytesScanned(t, tel, []metricdata.DataPoint[int64]{{Value: 17 + 2 + 64 + 8}}, opts...)
	metadatatest.AssertEqualProcessorPiiMaskValuesMasked(t, tel, []metricdata.DataPoint[int64]{
		{Value: 2, Attributes: attribute.NewSet(attribute.String("detector", "email"), attribute.String("location", "body"))},
		{Value: 1, Attributes: attribute.NewSet(attribute.String("detector", "ipv4"), attribute.String("location", "log_attribute"))},
	}, opts...)
	metadatatest.AssertEqualProcessorPiiMaskLimitsExceeded(t, tel, []metricdata.DataPoint[int64]{
		{Value: 1, Attributes: attribute.NewSet(attribute.String("limit", "max_value_bytes"))},
		{Value: 1, Attributes: attribute.NewSet(attribute.String("limit", "max_depth"))},
	}, opts...)
}

func TestIdempotent(t *testing.T) {
	in := "jane@example.com password=hunter2 card 4111111111111111 https://u:pw@h.io key AKIAIOSFODNN7EXAMPLE"
	ld, _ := oneLog(in)
	once := firstRecord(runLogs(t, defaultCfg(), nopSettings(), ld)).Body().Str()
	ld2, _ := oneLog(once)
	twice := firstRecord(runLogs(t, defaultCfg(), nopSettings(), ld2)).Body().Str()
	assert.Equal(t, once, twice)
	assert.NotContains(t, once, "hunter2")
}

func TestHostileValues(t *testing.T) {
	cfg := defaultCfg()
	cfg.MaxDepth = 4
	ld, lr := oneLog("\xff\xfe jane@example.com \xc3\x28 password=\xff\xff")
	m := lr.Attributes().PutEmptyMap("a")
	for i := 0; i < 50; i++ {
		m = m.PutEmptyMap("n")
	}
	m.PutStr("mail", "x@y.co")
	out := firstRecord(runLogs(t, cfg, nopSettings(), ld))
	assert.Equal(t, "\xff\xfe [REDACTED:email] \xc3\x28 password=[REDACTED:secret_kv]", out.Body().Str())
}

func TestShutdownWithoutStartTwice(t *testing.T) {
	p, err := NewFactory().CreateLogs(context.Background(), nopSettings(), defaultCfg(), consumertest.NewNop())
	require.NoError(t, err)
	require.NoError(t, p.Shutdown(context.Background()))
	require.NoError(t, p.Shutdown(context.Background()))
	assert.True(t, p.Capabilities().MutatesData)
}

func TestBytesBodyIsLeftAlone(t *testing.T) {
	ld, lr := oneLog("")
	lr.Body().SetEmptyBytes().FromRaw([]byte("a@b.co"))
	lr.Attributes().PutDouble("amount", 4111111111111111)
	lr.Attributes().PutBool("ok", true)
	out := firstRecord(runLogs(t, defaultCfg(), nopSettings(), ld))
	assert.Equal(t, []byte("a@b.co"), out.Body().Bytes().AsRaw())
	assert.Equal(t, pcommon.ValueTypeDouble, func() pcommon.ValueType { v, _ := out.Attributes().Get("amount"); return v.Type() }())
}

func TestConcurrentConsumers(t *testing.T) {
	cfg := defaultCfg()
	cfg.DetectorsAttribute = "pii.detectors"
	sink := new(consumertest.LogsSink)
	p, err := NewFactory().CreateLogs(context.Background(), nopSettings(), cfg, sink)
	require.NoError(t, err)
	const workers, batches = 4, 25
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		go func() {
			var err error
			for b := 0; b < batches && err == nil; b++ {
				ld, lr := oneLog("mail jane@example.com card 4111111111111111")
				lr.Attributes().PutStr("password", "x")
				err = p.ConsumeLogs(context.Background(), ld)
			}
			errs <- err
		}()
	}
	for w := 0; w < workers; w++ {
		require.NoError(t, <-errs)
	}
	require.NoError(t, p.Shutdown(context.Background()))
	require.Len(t, sink.AllLogs(), workers*batches)
	for _, ld := range sink.AllLogs() {
		lr := firstRecord(ld)
		assert.Equal(t, "mail [REDACTED:email] card [REDACTED:payment_card]", lr.Body().Str())
		d, _ := lr.Attributes().Get("pii.detectors")
		assert.Equal(t, "email,payment_card,secret_kv", d.Str())
	}
}

// Secret-key verdicts are remembered per key position across records (and
// batches): a different key at a remembered position must be judged afresh.
func TestSecretKeyVerdictsFollowTheKeys(t *testing.T) {
	ld := plog.NewLogs()
	lrs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	keys := [][]string{
		{"user", "password", "nested"},
		{"password", "user", "nested"},
		{"user", "password", "nested"},
		{"api_key", "token_count", "nested"},
		// an optional key shifts the others; keys of one length and the same
		// first and last bytes share a slot of the second memory
		{"pips", "pass", "nested"},
		{"pass", "pips", "nested"},
		{"pips", "pass", "nested"},
	}
	for _, ks := range keys {
		lr := lrs.AppendEmpty()
		lr.Body().SetStr("x")
		for _, k := range ks {
			if k == "nested" { // a map inside shares the positions
				lr.Attributes().PutEmptyMap(k).PutStr("secret", "hunter2")
				continue
			}
			lr.Attributes().PutStr(k, "hunter2")
		}
	}
	out := runLogs(t, defaultCfg(), nopSettings(), ld).ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
	masked := "[REDACTED:secret_kv]"
	want := []map[string]any{
		{"user": "hunter2", "password": masked, "nested": map[string]any{"secret": masked}},
		{"password": masked, "user": "hunter2", "nested": map[string]any{"secret": masked}},
		{"user": "hunter2", "password": masked, "nested": map[string]any{"secret": masked}},
		{"api_key": masked, "token_count": "hunter2", "nested": map[string]any{"secret": masked}},
		{"pips": "hunter2", "pass": masked, "nested": map[string]any{"secret": masked}},
		{"pass": masked, "pips": "hunter2", "nested": map[string]any{"secret": masked}},
		{"pips": "hunter2", "pass": masked, "nested": map[string]any{"secret": masked}},
	}
	for i := range want {
		assert.Equal(t, want[i], out.At(i).Attributes().AsRaw(), "record %d", i)
	}
}

// OTel HTTP conventions store headers as string arrays: a key that names a
// secret masks every value under it, in attributes and in body maps, and
// arrays and maps keep their shape.
func TestSecretKeyMasksArraysMapsAndBytes(t *testing.T) {
	ld, lr := oneLog("x")
	a := lr.Attributes()
	a.PutEmptySlice("http.request.header.x-api-key").AppendEmpty().SetStr("q8zr2klm9xpvabcd")
	auth := a.PutEmptySlice("http.request.header.authorization")
	auth.AppendEmpty().SetStr("Token 9f8e7d6c5b4a")
	auth.AppendEmpty().SetStr("Basic dXNlcjpwYXNz")
	a.PutEmptySlice("client_secret").AppendEmpty().SetStr("plainsecretvalue")
	pw := a.PutEmptyMap("password")
	pw.PutStr("value", "hunter2xyz")
	pw.PutInt("pin", 4711)
	pw.PutBool("set", true) // nothing to hide in a flag
	pw.PutEmptySlice("history").AppendEmpty().SetStr("hunter1xyz")
	a.PutEmptyBytes("api_key").FromRaw([]byte("rawbyteskey1234"))
	a.PutEmptySlice("token").AppendEmpty().SetStr("[REDACTED:secret_kv]") // masked before: unchanged
	require.NoError(t, lr.Body().SetEmptyMap().FromRaw(map[string]any{
		"headers": map[string]any{"Authorization": []any{"Token 9f8e7d6c5b4a"}, "X-Api-Key": []any{"q8zr2klm9xpvabcd"}},
	}))
	out := firstRecord(runLogs(t, defaultCfg(), nopSettings(), ld))
	m := "[REDACTED:secret_kv]"
	assert.Equal(t, map[string]any{
		"http.request.header.x-api-key":     []any{m},
		"http.request.header.authorization": []any{m, m},
		"client_secret":                     []any{m},
		"password":                          map[string]any{"value": m, "pin": m, "set": true, "history": []any{m}},
		"api_key":                           m,
		"token":                             []any{m},
	}, out.Attributes().AsRaw())
	assert.Equal(t, map[string]any{
		"headers": map[string]any{"Authorization": []any{m}, "X-Api-Key": []any{m}},
	}, out.Body().Map().AsRaw())

	// drop removes the entry however its value is shaped.
	cfg := defaultCfg()
	cfg.Detectors = map[string]DetectorConfig{"secret_kv": {Action: "drop"}}
	ld, lr = oneLog("x")
	lr.Attributes().PutEmptySlice("http.request.header.x-api-key").AppendEmpty().SetStr("q8zr2klm9xpvabcd")
	lr.Attributes().PutEmptyMap("password").PutStr("value", "hunter2xyz")
	lr.Attributes().PutStr("user", "jo")
	out = firstRecord(runLogs(t, cfg, nopSettings(), ld))
	assert.Equal(t, map[string]any{"user": "jo"}, out.Attributes().AsRaw())
}

// A secret's value deeper than max_depth is masked whole, not passed on.
func TestSecretKeyValueDeeperThanMaxDepthIsMaskedWhole(t *testing.T) {
	cfg := defaultCfg()
	cfg.MaxDepth = 2
	ld, lr := oneLog("x")
	lr.Attributes().PutEmptyMap("credentials").PutEmptyMap("db").PutEmptyMap("primary").PutStr("pw", "hunter2xyz")
	out := firstRecord(runLogs(t, cfg, nopSettings(), ld))
	assert.Equal(t, map[string]any{"credentials": map[string]any{"db": map[string]any{"primary": "[REDACTED:secret_kv]"}}},
		out.Attributes().AsRaw())
}

// Only the processor's own masks count as already masked under a secret's
// key: any other bracketed value may be the secret itself.
func TestSecretKeyBracketedValueIsMaskedUnlessOwnMask(t *testing.T) {
	cfg := defaultCfg()
	cfg.Detectors = map[string]DetectorConfig{"email": {Action: "hash"}}
	cfg.Hash = HashConfig{KeyEnv: "PII_TEST_HASH_KEY", KeyID: "k1"}
	t.Setenv("PII_TEST_HASH_KEY", "k3y")
	ld, lr := oneLog("mail a@b.co")
	lr.Attributes().PutStr("password", "[s3cr3tpw]")
	lr.Attributes().PutStr("api_key", "[REDACTED:phone]")
	lr.Attributes().PutStr("token", "[REDACTED:secret_kv]")
	lr.Attributes().PutStr("secret", "****")
	out := firstRecord(runLogs(t, cfg, nopSettings(), ld))
	token := strings.TrimPrefix(out.Body().Str(), "mail ")
	require.Regexp(t, `^\[email:k1:[0-9a-f]{32}\]$`, token)
	assert.Equal(t, map[string]any{
		"password": "[REDACTED:secret_kv]",
		"api_key":  "[REDACTED:phone]", // another rule's redact text
		"token":    "[REDACTED:secret_kv]",
		"secret":   "****",
	}, out.Attributes().AsRaw())

	// A hash token written by this processor passes a second time unchanged.
	ld, lr = oneLog("x")
	lr.Attributes().PutStr("password", token)
	out = firstRecord(runLogs(t, cfg, nopSettings(), ld))
	v, _ := out.Attributes().Get("password")
	assert.Equal(t, token, v.Str())
}

// partial keeps the last four characters, not bytes: "François Lefèvre"
// used to come out as "********* ****\xa8vre".
func TestPartialMaskKeepsValidUTF8(t *testing.T) {
	cfg := defaultCfg()
	cfg.MaskKeys = []string{"user.name"}
	cfg.MaskKeysAction = "partial"
	cfg.CustomDetectors = []CustomDetectorConfig{{Name: "customer", Regex: `Kunde \S+ \S+`, Action: "partial"}}
	ld, lr := oneLog("Kunde François Lefèvre angemeldet")
	lr.Attributes().PutStr("user.name", "François Lefèvre")
	out := firstRecord(runLogs(t, cfg, nopSettings(), ld))
	v, _ := out.Attributes().Get("user.name")
	assert.Equal(t, "******** ***èvre", v.Str())
	assert.Equal(t, "***** ******** ***èvre angemeldet", out.Body().Str())
	_, err := (&plog.ProtoMarshaler{}).MarshalLogs(ld)
	require.NoError(t, err)
}

// The drop action removes the flagged entries by position, in one pass: it
// compared every key with every dropped key (10k attributes 0.4 s, 40k 4.8 s).
// The check is on how the cost per entry grows (process CPU time, best of
// three), not on a time limit, so a loaded machine does not fail it: linear
// removal costs about the same per entry at 8 times the entries, quadratic
// removal 8 times more.
func TestDropActionIsLinearInMapSize(t *testing.T) {
	if testing.Short() {
		t.Skip("times maps of 40k entries")
	}
	cfg := defaultCfg()
	cfg.DefaultAction = "drop"
	p, err := newPIIMask(cfg, nopSettings().TelemetrySettings)
	require.NoError(t, err)
	defer func() { require.NoError(t, p.shutdown(context.Background())) }()
	source := func(n int) plog.Logs {
		raw := map[string]any{"kept": "ok"} // FromRaw: Put looks for the key, a quadratic build
		for i := 0; i < n; i++ {
			raw["k"+strconv.Itoa(i)] = "u" + strconv.Itoa(i) + "@example.com"
		}
		src, _ := oneLog("x")
		require.NoError(t, firstRecord(src).Attributes().FromRaw(raw))
		return src
	}
	perEntry := func(src plog.Logs, n int) time.Duration {
		ld := plog.NewLogs()
		src.CopyTo(ld)
		start, c0 := time.Now(), cputime.Process()
		_, err := p.processLogs(context.Background(), ld)
		require.NoError(t, err)
		d := cputime.Process() - c0
		if d <= 0 { // no CPU clock on this platform
			d = time.Since(start)
		}
		require.Equal(t, map[string]any{"kept": "ok"}, firstRecord(ld).Attributes().AsRaw())
		return d / time.Duration(n)
	}
	const smallN, largeN, limit = 5000, 40000, 4
	small, large := time.Duration(math.MaxInt64), time.Duration(math.MaxInt64)
	src := source(smallN)
	for range 3 {
		small = min(small, perEntry(src, smallN))
	}
	src = source(largeN)
	for try := 0; try < 3 && large >= limit*small; try++ {
		large = min(large, perEntry(src, largeN))
	}
	t.Logf("per entry: %v at %d, %v at %d", small, smallN, large, largeN)
	assert.Less(t, large, limit*small, "drop cost per entry grows with the map size")
}

// Duplicate keys (possible on the wire) are removed by position: only the
// entry whose value asked for it goes.
func TestDropActionRemovesOnlyFlaggedEntries(t *testing.T) {
	cfg := defaultCfg()
	cfg.DefaultAction = "drop"
	ld, err := (&plog.JSONUnmarshaler{}).UnmarshalLogs([]byte(`{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"attributes":[
		{"key":"a","value":{"stringValue":"ok"}},
		{"key":"a","value":{"stringValue":"jane@example.com"}},
		{"key":"b","value":{"stringValue":"4111111111111111"}},
		{"key":"b","value":{"stringValue":"fine"}}]}]}]}]}`))
	require.NoError(t, err)
	out := firstRecord(runLogs(t, cfg, nopSettings(), ld)).Attributes()
	var kept []string
	out.Range(func(k string, v pcommon.Value) bool {
		kept = append(kept, k+"="+v.Str())
		return true
	})
	assert.Equal(t, []string{"a=ok", "b=fine"}, kept)
}

// Exception text and user input end up in span names, status messages and
// event names; links carry attributes like spans do.
func TestTracesScanNamesStatusAndLinks(t *testing.T) {
	cfg := defaultCfg()
	cfg.DetectorsAttribute = "pii.detectors"
	td := ptrace.NewTraces()
	span := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	span.SetName("GET /users/jane.doe@example.com")
	span.Status().SetCode(ptrace.StatusCodeError)
	span.Status().SetMessage("user jane.doe@example.com card 4111111111111111 not found")
	span.TraceState().FromRaw("vendor=opaque")
	ev := span.Events().AppendEmpty()
	ev.SetName("sent to jane.doe@example.com")
	span.Links().AppendEmpty().Attributes().PutStr("note", "from 203.0.113.9")

	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	sink := new(consumertest.TracesSink)
	p, err := NewFactory().CreateTraces(context.Background(), metadatatest.NewSettings(tel), cfg, sink)
	require.NoError(t, err)
	require.NoError(t, p.ConsumeTraces(context.Background(), td))
	require.NoError(t, p.Shutdown(context.Background()))
	got := sink.AllTraces()[0].ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0)
	assert.Equal(t, "GET /users/[REDACTED:email]", got.Name())
	assert.Equal(t, "user [REDACTED:email] card [REDACTED:payment_card] not found", got.Status().Message())
	assert.Equal(t, ptrace.StatusCodeError, got.Status().Code())
	assert.Equal(t, "sent to [REDACTED:email]", got.Events().At(0).Name())
	assert.Equal(t, map[string]any{"note": "from [REDACTED:ipv4]"}, got.Links().At(0).Attributes().AsRaw())
	assert.Equal(t, map[string]any{"pii.detectors": "email,payment_card,ipv4"}, got.Attributes().AsRaw())
	metadatatest.AssertEqualProcessorPiiMaskValuesMasked(t, tel, []metricdata.DataPoint[int64]{
		{Value: 1, Attributes: attribute.NewSet(attribute.String("detector", "email"), attribute.String("location", "span_name"))},
		{Value: 1, Attributes: attribute.NewSet(attribute.String("detector", "email"), attribute.String("location", "span_status_message"))},
		{Value: 1, Attributes: attribute.NewSet(attribute.String("detector", "payment_card"), attribute.String("location", "span_status_message"))},
		{Value: 1, Attributes: attribute.NewSet(attribute.String("detector", "email"), attribute.String("location", "span_event_name"))},
		{Value: 1, Attributes: attribute.NewSet(attribute.String("detector", "ipv4"), attribute.String("location", "span_link_attribute"))},
	}, metricdatatest.IgnoreTimestamp())
}

func TestLogEventNameIsScanned(t *testing.T) {
	ld, lr := oneLog("x")
	lr.SetEventName("login jane.doe@example.com")
	out := firstRecord(runLogs(t, defaultCfg(), nopSettings(), ld))
	assert.Equal(t, "login [REDACTED:email]", out.EventName())
}

func TestMetricExemplarFilteredAttributesAreScanned(t *testing.T) {
	md := pmetric.NewMetrics()
	ms := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics()
	ms.AppendEmpty().SetEmptySum().DataPoints().AppendEmpty().Exemplars().AppendEmpty().FilteredAttributes().PutStr("user", "jane.doe@example.com")
	ms.AppendEmpty().SetEmptyGauge().DataPoints().AppendEmpty().Exemplars().AppendEmpty().FilteredAttributes().PutStr("user", "jane.doe@example.com")
	ms.AppendEmpty().SetEmptyHistogram().DataPoints().AppendEmpty().Exemplars().AppendEmpty().FilteredAttributes().PutStr("user", "jane.doe@example.com")
	ms.AppendEmpty().SetEmptyExponentialHistogram().DataPoints().AppendEmpty().Exemplars().AppendEmpty().FilteredAttributes().PutStr("user", "jane.doe@example.com")
	sink := new(consumertest.MetricsSink)
	p, err := NewFactory().CreateMetrics(context.Background(), nopSettings(), defaultCfg(), sink)
	require.NoError(t, err)
	require.NoError(t, p.ConsumeMetrics(context.Background(), md))
	require.NoError(t, p.Shutdown(context.Background()))
	got := sink.AllMetrics()[0].ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics()
	want := map[string]any{"user": "[REDACTED:email]"}
	assert.Equal(t, want, got.At(0).Sum().DataPoints().At(0).Exemplars().At(0).FilteredAttributes().AsRaw())
	assert.Equal(t, want, got.At(1).Gauge().DataPoints().At(0).Exemplars().At(0).FilteredAttributes().AsRaw())
	assert.Equal(t, want, got.At(2).Histogram().DataPoints().At(0).Exemplars().At(0).FilteredAttributes().AsRaw())
	assert.Equal(t, want, got.At(3).ExponentialHistogram().DataPoints().At(0).Exemplars().At(0).FilteredAttributes().AsRaw())
}

// Decimal trace and span ids (Datadog's dd.trace_id) pass the Luhn check;
// under keys naming ids they are not card or phone numbers. Other detectors
// still run there, and id_keys: [] restores the check.
func TestIDKeysAreNotCheckedForCardsOrPhones(t *testing.T) {
	build := func() plog.Logs {
		ld, lr := oneLog("")
		a := lr.Attributes()
		a.PutStr("dd.trace_id", "4088995790328921840")
		a.PutInt("dd.span_id", 6287380695604230411)
		a.PutStr("traceId", "4088995790328921840")
		a.PutEmptySlice("http.request.header.x-request-id").AppendEmpty().SetStr("4111111111111111")
		a.PutStr("correlation_id", "jane.doe@example.com") // still an email
		a.PutStr("order_id", "4111111111111111")           // not an id key
		require.NoError(t, lr.Body().SetEmptyMap().FromRaw(map[string]any{
			"dd": map[string]any{"trace_id": "6287380695604230411", "span_id": int64(4088995790328921840)},
		}))
		return ld
	}
	out := firstRecord(runLogs(t, defaultCfg(), nopSettings(), build()))
	assert.Equal(t, map[string]any{
		"dd.trace_id":                      "4088995790328921840",
		"dd.span_id":                       int64(6287380695604230411),
		"traceId":                          "4088995790328921840",
		"http.request.header.x-request-id": []any{"4111111111111111"},
		"correlation_id":                   "[REDACTED:email]",
		"order_id":                         "[REDACTED:payment_card]",
	}, out.Attributes().AsRaw())
	assert.Equal(t, map[string]any{
		"dd": map[string]any{"trace_id": "6287380695604230411", "span_id": int64(4088995790328921840)},
	}, out.Body().Map().AsRaw())

	// Without id_keys, a 16-digit card-shaped value under an id key is a
	// card (17+ digit ids are left alone by the scanner itself, see
	// detect.CardIntKey).
	cfg := defaultCfg()
	cfg.IDKeys = nil
	ld, lr := oneLog("")
	lr.Attributes().PutStr("dd.trace_id", "4111111111111111")
	lr.Attributes().PutInt("dd.span_id", 4111111111111111)
	out = firstRecord(runLogs(t, cfg, nopSettings(), ld))
	v, _ := out.Attributes().Get("dd.trace_id")
	assert.Equal(t, "[REDACTED:payment_card]", v.Str())
	v, _ = out.Attributes().Get("dd.span_id")
	assert.Equal(t, "[REDACTED:payment_card]", v.Str())
}

// tail_sampling groups records by request_id / correlation_id (configs/);
// pii_mask runs before it. Card-like numeric request ids masked to their last
// four digits (the shipped payment_card: partial) would put unrelated
// requests into one group.
func TestCorrelationIDsStayDistinctForTailSampling(t *testing.T) {
	cfg := defaultCfg()
	cfg.Detectors = map[string]DetectorConfig{"payment_card": {Action: "partial"}, "ipv4": {Action: "partial"}}
	ld := plog.NewLogs()
	lrs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	ids := []string{"4111111111111111", "4012888888881881", "5555555555554444"}
	for _, id := range ids {
		lr := lrs.AppendEmpty()
		lr.Attributes().PutStr("request_id", id)
		lr.Attributes().PutStr("correlation_id", id)
	}
	out := runLogs(t, cfg, nopSettings(), ld).ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
	for i, id := range ids {
		assert.Equal(t, map[string]any{"request_id": id, "correlation_id": id}, out.At(i).Attributes().AsRaw())
	}
}

// A 64-bit id stored as an int (17+ digits) under a key that does not name a
// card is not a card number, even when it passes the checks by chance.
func TestLongIntegerIDIsNotACard(t *testing.T) {
	const id = int64(4088995790328921840) // passes Luhn with a card prefix
	require.True(t, detect.CardInt(id))
	ld := plog.NewLogs()
	attrs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty().Attributes()
	attrs.PutInt("upstream.request_seq", id)
	attrs.PutInt("payment.card_number", id)
	out := runLogs(t, defaultCfg(), nopSettings(), ld)
	got := out.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).Attributes()
	seq, _ := got.Get("upstream.request_seq")
	assert.Equal(t, id, seq.Int(), "an id, not a card")
	card, _ := got.Get("payment.card_number")
	assert.Equal(t, pcommon.ValueTypeStr, card.Type(), "a key naming a card: masked")
}
