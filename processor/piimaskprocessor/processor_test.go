package piimaskprocessor

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
	}
	for i := range want {
		assert.Equal(t, want[i], out.At(i).Attributes().AsRaw(), "record %d", i)
	}
}
