package errorrateconnector

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/connector/connectortest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/sluicelogs/sluice/connector/errorrateconnector/internal/metadata"
)

func userNotFound(i int) string { return fmt.Sprintf("user %d not found in \"accounts\"", 1000+i) }

func TestTumblingEventTimeCumulativeWithStableStart(t *testing.T) {
	cfg := createDefaultConfig()
	cfg.Window.AllowedLateness = 10 * time.Second
	h := newHarness(t, cfg, t0.Add(5*time.Second))
	h.start()

	h.consume(makeLogs(batch("checkout", t0.Add(10*time.Second), 100, 10, userNotFound)...))
	h.consume(makeLogs(batch("search", t0.Add(20*time.Second), 50, 0, nil)...))
	// 10:01:09: the 10:00 bucket is still open for late records.
	h.at(t0.Add(time.Minute + 9*time.Second))
	assert.Empty(t, points(h.metrics))
	// 10:01:10: it closes.
	h.at(t0.Add(time.Minute + 10*time.Second))
	h.consume(makeLogs(batch("checkout", t0.Add(70*time.Second), 200, 50, userNotFound)...))
	h.at(t0.Add(2*time.Minute + 10*time.Second))

	ps := points(h.metrics)
	checkout := map[string]any{"service.name": "checkout", "sluice.signal": "logs"}
	recs := find(ps, "sluice.error_rate.records", checkout)
	errs := find(ps, "sluice.error_rate.errors", checkout)
	require.Len(t, recs, 2)
	require.Len(t, errs, 2)
	assert.Equal(t, []int64{100, 300}, []int64{recs[0].intVal, recs[1].intVal})
	assert.Equal(t, []int64{10, 60}, []int64{errs[0].intVal, errs[1].intVal})
	for _, p := range append(recs, errs...) {
		assert.Equal(t, pmetric.AggregationTemporalityCumulative, p.temporal)
		assert.Equal(t, t0, p.start.UTC(), "cumulative start must stay at the group's first bucket")
	}
	assert.Equal(t, t0.Add(time.Minute), recs[0].end.UTC())
	assert.Equal(t, t0.Add(2*time.Minute), recs[1].end.UTC())

	ratios := find(ps, "sluice.error_rate.ratio", checkout)
	require.Len(t, ratios, 2)
	assert.InDelta(t, 0.10, ratios[0].dblVal, 1e-9)
	assert.InDelta(t, 0.25, ratios[1].dblVal, 1e-9)

	search := find(ps, "sluice.error_rate.records", map[string]any{"service.name": "search"})
	require.Len(t, search, 2, "an idle group keeps reporting its cumulative total")
	assert.Equal(t, []int64{50, 50}, []int64{search[0].intVal, search[1].intVal})
	assert.Len(t, find(ps, "sluice.error_rate.ratio", map[string]any{"service.name": "search"}), 1,
		"no ratio for a window without records")

	fps := find(ps, "sluice.error_rate.fingerprint.errors", checkout)
	require.Len(t, fps, 2)
	assert.Equal(t, `user <num> not found in <str>`, fps[0].attrs["error.fingerprint"])
	assert.Equal(t, int64(10), fps[0].intVal)

	assert.Equal(t, int64(350), h.counter("otelcol_connector_error_rate_records"))
	assert.Equal(t, int64(60), h.counter("otelcol_connector_error_rate_errors"))
	assert.Equal(t, int64(2), h.counter("otelcol_connector_error_rate_groups"))
	// 10:00 and 10:01, plus 09:59 which was still open when the connector started.
	assert.Equal(t, int64(3), h.counter("otelcol_connector_error_rate_windows_closed"))
}

func TestLateRecordsCountedNotLost(t *testing.T) {
	cfg := createDefaultConfig()
	cfg.Window.AllowedLateness = 5 * time.Second
	h := newHarness(t, cfg, t0)
	h.start()
	h.consume(makeLogs(batch("api", t0.Add(30*time.Second), 10, 1, userNotFound)...))
	h.at(t0.Add(time.Minute + 5*time.Second)) // closes 10:00
	// Three records stamped 10:00:50 arrive after their bucket closed.
	h.consume(makeLogs(batch("api", t0.Add(50*time.Second), 3, 3, userNotFound)...))
	assert.Equal(t, int64(3), h.counter("otelcol_connector_error_rate_late_records"))
	h.at(t0.Add(2*time.Minute + 5*time.Second))

	ps := points(h.metrics)
	api := map[string]any{"service.name": "api"}
	recs := find(ps, "sluice.error_rate.records", api)
	errs := find(ps, "sluice.error_rate.errors", api)
	require.Len(t, recs, 2)
	assert.Equal(t, int64(13), recs[1].intVal, "late records reach the cumulative total")
	assert.Equal(t, int64(4), errs[1].intVal)
	ratios := find(ps, "sluice.error_rate.ratio", api)
	require.Len(t, ratios, 1, "late records open no window of their own")
	assert.InDelta(t, 0.1, ratios[0].dblVal, 1e-9)
}

func TestSlidingWindow(t *testing.T) {
	cfg := createDefaultConfig()
	cfg.Window = WindowConfig{Type: WindowSliding, Size: 3 * time.Minute, Step: time.Minute, TimeSource: TimeSourceEvent}
	h := newHarness(t, cfg, t0)
	h.start()
	// Minute 0: 100 records 30 errors; minute 1: 100 records 0 errors; minute 2: 100/0; minute 3: 100/0.
	for m := range 4 {
		errs := 0
		if m == 0 {
			errs = 30
		}
		h.consume(makeLogs(batch("api", t0.Add(time.Duration(m)*time.Minute+time.Second), 100, errs, userNotFound)...))
		h.at(t0.Add(time.Duration(m+1) * time.Minute))
	}
	ratios := find(points(h.metrics), "sluice.error_rate.ratio", map[string]any{"service.name": "api"})
	require.Len(t, ratios, 4)
	want := []float64{30.0 / 100, 30.0 / 200, 30.0 / 300, 0}
	for i, r := range ratios {
		assert.InDelta(t, want[i], r.dblVal, 1e-9, "window %d", i)
		assert.Equal(t, t0.Add(time.Duration(i-2)*time.Minute), r.start.UTC(), "window %d starts size-step before its step", i)
		assert.Equal(t, t0.Add(time.Duration(i+1)*time.Minute), r.end.UTC())
	}
	fps := find(points(h.metrics), "sluice.error_rate.fingerprint.errors", map[string]any{"service.name": "api"})
	require.Len(t, fps, 3, "the minute-0 errors stay in three sliding windows")
	for _, f := range fps {
		assert.Equal(t, int64(30), f.intVal)
	}
}

func TestProcessingTimeIgnoresRecordTimestamps(t *testing.T) {
	cfg := createDefaultConfig()
	cfg.Window.TimeSource = TimeSourceProcessing
	h := newHarness(t, cfg, t0.Add(10*time.Second))
	h.start()
	// Timestamps a day old: processing time counts them now, not late.
	h.consume(makeLogs(batch("api", t0.Add(-24*time.Hour), 10, 5, userNotFound)...))
	h.at(t0.Add(time.Minute))
	assert.Zero(t, h.counter("otelcol_connector_error_rate_late_records"))
	ratios := find(points(h.metrics), "sluice.error_rate.ratio", nil)
	require.Len(t, ratios, 1)
	assert.InDelta(t, 0.5, ratios[0].dblVal, 1e-9)
	assert.Equal(t, t0.Add(time.Minute), ratios[0].end.UTC())
}

func TestShutdownFlushesOpenWindow(t *testing.T) {
	cfg := createDefaultConfig()
	h := newHarness(t, cfg, t0)
	h.start()
	h.consume(makeLogs(batch("api", t0.Add(10*time.Second), 40, 4, userNotFound)...))
	h.clock.Set(t0.Add(30 * time.Second))
	h.shutdown()
	h.shutdown() // idempotent
	ps := points(h.metrics)
	recs := find(ps, "sluice.error_rate.records", map[string]any{"service.name": "api"})
	require.Len(t, recs, 1)
	assert.Equal(t, int64(40), recs[0].intVal)
	assert.Equal(t, t0.Add(30*time.Second), recs[0].end.UTC(), "a forced close never reports a future timestamp")
	assert.Empty(t, alertEvents(h.alerts))
}

func TestShutdownWithoutStartFlushes(t *testing.T) {
	cfg := createDefaultConfig()
	h := newHarness(t, cfg, t0)
	h.consume(makeLogs(batch("api", t0, 5, 1, userNotFound)...))
	h.clock.Set(t0.Add(time.Second))
	h.shutdown()
	recs := find(points(h.metrics), "sluice.error_rate.records", nil)
	require.Len(t, recs, 1)
	assert.Equal(t, int64(5), recs[0].intVal)
}

func TestOverflowGroup(t *testing.T) {
	cfg := createDefaultConfig()
	cfg.MaxGroups = 2
	h := newHarness(t, cfg, t0)
	h.start()
	var recs []logRec
	for i := range 5 {
		recs = append(recs, batch(fmt.Sprintf("svc-%d", i), t0.Add(time.Second), 10, 1, userNotFound)...)
	}
	h.consume(makeLogs(recs...))
	h.at(t0.Add(time.Minute + cfg.Window.AllowedLateness))
	ps := points(h.metrics)
	assert.Len(t, find(ps, "sluice.error_rate.records", nil), 3, "two groups plus the overflow group")
	over := find(ps, "sluice.error_rate.records", map[string]any{"otel.metric.overflow": true})
	require.Len(t, over, 1)
	assert.Equal(t, int64(30), over[0].intVal)
	assert.Equal(t, int64(30), h.counter("otelcol_connector_error_rate_overflow_records"))
	assert.Equal(t, int64(3), h.counter("otelcol_connector_error_rate_groups"))
}

func TestGroupExpiryRestartsSeries(t *testing.T) {
	cfg := createDefaultConfig()
	cfg.GroupExpiry = 2 * time.Minute
	cfg.Window.AllowedLateness = 0
	h := newHarness(t, cfg, t0)
	h.start()
	h.consume(makeLogs(batch("api", t0, 10, 0, nil)...))
	for m := 1; m <= 4; m++ {
		h.at(t0.Add(time.Duration(m) * time.Minute))
	}
	assert.Equal(t, int64(1), h.counter("otelcol_connector_error_rate_groups_expired"))
	assert.Zero(t, h.counter("otelcol_connector_error_rate_groups"))
	h.consume(makeLogs(batch("api", t0.Add(4*time.Minute+time.Second), 7, 0, nil)...))
	h.at(t0.Add(5 * time.Minute))
	recs := find(points(h.metrics), "sluice.error_rate.records", nil)
	last := recs[len(recs)-1]
	assert.Equal(t, int64(7), last.intVal, "a returning group starts from zero")
	assert.Equal(t, t0.Add(4*time.Minute), last.start.UTC(), "with a new start time")
}

func TestDeltaTemporality(t *testing.T) {
	cfg := createDefaultConfig()
	cfg.Metrics.Temporality = TemporalityDelta
	cfg.Window.AllowedLateness = 0
	h := newHarness(t, cfg, t0)
	h.start()
	h.consume(makeLogs(batch("api", t0, 10, 2, userNotFound)...))
	h.at(t0.Add(time.Minute))
	h.consume(makeLogs(batch("api", t0.Add(time.Minute), 5, 1, userNotFound)...))
	h.at(t0.Add(2 * time.Minute))
	recs := find(points(h.metrics), "sluice.error_rate.records", nil)
	require.Len(t, recs, 2)
	assert.Equal(t, []int64{10, 5}, []int64{recs[0].intVal, recs[1].intVal})
	assert.Equal(t, pmetric.AggregationTemporalityDelta, recs[1].temporal)
	assert.Equal(t, t0.Add(time.Minute), recs[1].start.UTC())
	assert.Equal(t, t0.Add(2*time.Minute), recs[1].end.UTC())
}

func TestAlertHysteresisAndEventShape(t *testing.T) {
	cfg := createDefaultConfig()
	cfg.Window.AllowedLateness = 0
	cfg.Alerts.Rules = []RuleConfig{{Name: "high_error_ratio", RatioThreshold: 0.2, MinRecords: 50, FireAfter: 2, ResolveAfter: 2}}
	h := newHarness(t, cfg, t0)
	h.start()
	// Per minute: errors out of 100 records. Minute 2 has too few records to count.
	plan := []struct{ n, errs int }{{100, 30}, {100, 40}, {10, 10}, {100, 50}, {100, 0}, {100, 0}, {100, 0}}
	for m, p := range plan {
		h.consume(makeLogs(batch("checkout", t0.Add(time.Duration(m)*time.Minute), p.n, p.errs, userNotFound)...))
		h.at(t0.Add(time.Duration(m+1) * time.Minute))
	}
	events := alertEvents(h.alerts)
	require.Len(t, events, 2)
	fired, resolved := events[0], events[1]
	assert.Equal(t, "sluice.alert", fired.EventName())
	assert.Equal(t, plog.SeverityNumberWarn, fired.SeverityNumber())
	a := fired.Attributes().AsRaw()
	assert.Equal(t, "high_error_ratio", a["sluice.alert.rule"])
	assert.Equal(t, "firing", a["sluice.alert.state"])
	assert.Equal(t, "checkout", a["service.name"])
	assert.InDelta(t, 0.4, a["sluice.alert.ratio"], 1e-9)
	assert.Equal(t, int64(40), a["sluice.alert.errors"])
	assert.Equal(t, int64(100), a["sluice.alert.records"])
	assert.Equal(t, "2026-11-21T10:01:00Z", a["sluice.alert.window.start"])
	assert.Equal(t, "2026-11-21T10:02:00Z", a["sluice.alert.window.end"])
	assert.InDelta(t, 0.2, a["sluice.alert.threshold.ratio"], 1e-9)
	assert.Equal(t, []any{map[string]any{"template": `user <num> not found in <str>`, "count": int64(40)}}, a["sluice.alert.fingerprints"])
	assert.Contains(t, fired.Body().Str(), "high_error_ratio firing for service.name=checkout: 40.00% errors (40 of 100)")

	// Minute 2 (10 records) is below the guard and counts as healthy; minute 3
	// breaches again, so the resolve streak restarts; minutes 4 and 5 resolve.
	r := resolved.Attributes().AsRaw()
	assert.Equal(t, "resolved", r["sluice.alert.state"])
	assert.Equal(t, "2026-11-21T10:06:00Z", r["sluice.alert.window.end"])
	assert.Equal(t, plog.SeverityNumberInfo, resolved.SeverityNumber())
	assert.Equal(t, int64(1), h.counter("otelcol_connector_error_rate_alerts_fired"))
	assert.Equal(t, int64(1), h.counter("otelcol_connector_error_rate_alerts_resolved"))
}

func TestSharedNodesCountOnce(t *testing.T) {
	cfg := createDefaultConfig()
	h := newHarness(t, cfg, t0)
	h.start()
	h.consume(makeLogs(batch("api", t0, 10, 1, userNotFound)...)) // fed to both nodes
	h.at(t0.Add(time.Minute + cfg.Window.AllowedLateness))
	recs := find(points(h.metrics), "sluice.error_rate.records", nil)
	require.Len(t, recs, 1)
	assert.Equal(t, int64(10), recs[0].intVal)
	assert.Equal(t, int64(10), h.counter("otelcol_connector_error_rate_records"))
}

func TestErrorsFromConditionsAndSeverityText(t *testing.T) {
	cfg := createDefaultConfig()
	cfg.Errors.Conditions = []ConditionConfig{{Attribute: "http.response.status_code", Op: ">=", Value: "500"}}
	h := newHarness(t, cfg, t0)
	h.start()
	ld := makeLogs(
		logRec{service: "web", at: t0, msg: "GET /a", attrs: map[string]any{"http.response.status_code": 503}},
		logRec{service: "web", at: t0, msg: "GET /b", attrs: map[string]any{"http.response.status_code": "500"}},
		logRec{service: "web", at: t0, msg: "GET /c", attrs: map[string]any{"http.response.status_code": 404}},
		logRec{service: "web", at: t0, msg: "GET /d"},
	)
	ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(3).SetSeverityText("error")
	h.consume(ld)
	h.at(t0.Add(time.Minute + cfg.Window.AllowedLateness))
	errs := find(points(h.metrics), "sluice.error_rate.errors", nil)
	require.Len(t, errs, 1)
	assert.Equal(t, int64(3), errs[0].intVal)
}

func TestTracesSpanStatusAndGroupByRecordAttribute(t *testing.T) {
	cfg := createDefaultConfig()
	cfg.GroupBy = []string{"service.name", "http.route"}
	clock := newFakeClock(t0)
	sink := new(consumertest.MetricsSink)
	ctx := contextWithClock(context.Background(), clock)
	c, err := NewFactory().CreateTracesToMetrics(ctx, connectortest.NewNopSettings(metadata.Type), cfg, sink)
	require.NoError(t, err)
	require.NoError(t, c.Start(ctx, componenttest.NewNopHost()))
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "cart")
	spans := rs.ScopeSpans().AppendEmpty().Spans()
	for i := range 8 {
		s := spans.AppendEmpty()
		s.SetEndTimestamp(pcommon.NewTimestampFromTime(t0.Add(time.Second)))
		s.Attributes().PutStr("http.route", []string{"/cart", "/pay"}[i%2])
		if i < 3 {
			s.Status().SetCode(ptrace.StatusCodeError)
			s.Status().SetMessage(fmt.Sprintf("stock for sku %d exhausted", 77+i))
		}
	}
	require.NoError(t, c.ConsumeTraces(ctx, td))
	clock.Set(t0.Add(time.Minute + cfg.Window.AllowedLateness))
	clock.Tick()
	waitSent(t, c)
	ps := points(sink)
	require.NoError(t, c.Shutdown(ctx))
	pay := find(ps, "sluice.error_rate.errors", map[string]any{"service.name": "cart", "http.route": "/pay", "sluice.signal": "traces"})
	cart := find(ps, "sluice.error_rate.errors", map[string]any{"http.route": "/cart"})
	require.Len(t, pay, 1)
	require.Len(t, cart, 1)
	assert.Equal(t, int64(1), pay[0].intVal)  // spans 1
	assert.Equal(t, int64(2), cart[0].intVal) // spans 0, 2
	fps := find(ps, "sluice.error_rate.fingerprint.errors", map[string]any{"http.route": "/cart"})
	require.Len(t, fps, 1)
	assert.Equal(t, "stock for sku <num> exhausted", fps[0].attrs["error.fingerprint"])
}

func TestTopNFingerprintsBounded(t *testing.T) {
	cfg := createDefaultConfig()
	cfg.Fingerprints.TopN = 2
	// Space-Saving keeps every key more frequent than total/tracked (60/8).
	cfg.Fingerprints.Tracked = 8
	h := newHarness(t, cfg, t0)
	h.start()
	var recs []logRec
	add := func(n int, msg string) {
		for range n {
			recs = append(recs, logRec{service: "api", at: t0, sev: plog.SeverityNumberError, msg: msg})
		}
	}
	add(20, "db timeout after 30s")
	add(10, "payment 991 declined")
	for i := range 30 {
		add(1, fmt.Sprintf("unique failure kind %c", 'a'+i%26)+fmt.Sprint(i))
	}
	h.consume(makeLogs(recs...))
	h.at(t0.Add(time.Minute + cfg.Window.AllowedLateness))
	fps := find(points(h.metrics), "sluice.error_rate.fingerprint.errors", nil)
	require.Len(t, fps, 2)
	assert.Equal(t, "db timeout after <num>s", fps[0].attrs["error.fingerprint"])
	assert.Equal(t, "payment <num> declined", fps[1].attrs["error.fingerprint"])
}

func TestConsumerErrorCountedNotFatal(t *testing.T) {
	cfg := createDefaultConfig()
	clock := newFakeClock(t0)
	tel := componenttest.NewTelemetry()
	defer func() { require.NoError(t, tel.Shutdown(context.Background())) }()
	set := connectortest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	ctx := contextWithClock(context.Background(), clock)
	c, err := NewFactory().CreateLogsToMetrics(ctx, set, cfg, consumertest.NewErr(assert.AnError))
	require.NoError(t, err)
	require.NoError(t, c.ConsumeLogs(ctx, makeLogs(batch("api", t0, 3, 1, userNotFound)...)))
	clock.Set(t0.Add(time.Second))
	require.ErrorIs(t, c.Shutdown(ctx), assert.AnError)
	m, err := tel.GetMetric("otelcol_connector_error_rate_emit_failures")
	require.NoError(t, err)
	require.NotNil(t, m.Data)
}

func TestStallFoldsOldBuckets(t *testing.T) {
	cfg := createDefaultConfig()
	cfg.Window.AllowedLateness = 0
	h := newHarness(t, cfg, t0)
	h.start()
	h.consume(makeLogs(batch("api", t0, 10, 0, nil)...))
	// The loop does not run for an hour; the next tick must not emit 60 closes.
	h.at(t0.Add(time.Hour))
	recs := find(points(h.metrics), "sluice.error_rate.records", nil)
	assert.LessOrEqual(t, len(recs), 4)
	assert.Equal(t, int64(10), recs[len(recs)-1].intVal, "folded buckets still reach the totals")
}

func TestOverflowGroupDoesNotTakeARegularSlot(t *testing.T) {
	cfg := createDefaultConfig()
	cfg.MaxGroups = 1
	cfg.GroupExpiry = 2 * time.Minute
	cfg.Window.AllowedLateness = 0
	h := newHarness(t, cfg, t0)
	h.start()
	// "a" takes the only slot, "b" overflows.
	h.consume(makeLogs(append(batch("a", t0, 1, 0, nil), batch("b", t0, 1, 0, nil)...)...))
	for m := 1; m <= 3; m++ {
		h.at(t0.Add(time.Duration(m) * time.Minute))
		h.consume(makeLogs(batch("b", t0.Add(time.Duration(m)*time.Minute), 1, 0, nil)...))
	}
	// "a" expired at 10:03 while the overflow group was busy; "b" took the freed slot.
	require.Equal(t, int64(1), h.counter("otelcol_connector_error_rate_groups_expired"))
	assert.Equal(t, int64(3), h.counter("otelcol_connector_error_rate_overflow_records"))
	h.at(t0.Add(4 * time.Minute))
	assert.NotEmpty(t, find(points(h.metrics), "sluice.error_rate.records", map[string]any{"service.name": "b"}))
}

func TestFutureTimestampsCountNow(t *testing.T) {
	cfg := createDefaultConfig()
	cfg.Window.AllowedLateness = 0
	h := newHarness(t, cfg, t0.Add(10*time.Second))
	h.start()
	h.consume(makeLogs(batch("api", t0.Add(24*time.Hour), 4, 1, userNotFound)...))
	h.at(t0.Add(time.Minute))
	recs := find(points(h.metrics), "sluice.error_rate.records", nil)
	require.Len(t, recs, 1)
	assert.Equal(t, int64(4), recs[0].intVal)
}

func TestMessageFromAttributeAndMapBody(t *testing.T) {
	cfg := createDefaultConfig()
	cfg.Fingerprints.MessageAttributes = []string{"exception.message"}
	h := newHarness(t, cfg, t0)
	h.start()
	ld := makeLogs(
		logRec{service: "api", at: t0, sev: plog.SeverityNumberError, msg: "ignored", attrs: map[string]any{"exception.message": "NullPointerException at line 42"}},
		logRec{service: "api", at: t0, sev: plog.SeverityNumberError},
	)
	_ = ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(1).Body().SetEmptyMap().FromRaw(map[string]any{"msg": "quota of 300 exceeded", "level": "error"})
	h.consume(ld)
	h.at(t0.Add(time.Minute + cfg.Window.AllowedLateness))
	var got []string
	for _, p := range find(points(h.metrics), "sluice.error_rate.fingerprint.errors", nil) {
		got = append(got, p.attrs["error.fingerprint"].(string))
	}
	assert.ElementsMatch(t, []string{"NullPointerException at line <num>", "quota of <num> exceeded"}, got)
}

func TestOutOfOrderFirstRecordOpensEarlierWindow(t *testing.T) {
	for _, temporality := range []string{TemporalityCumulative, TemporalityDelta} {
		t.Run(temporality, func(t *testing.T) {
			cfg := createDefaultConfig()
			cfg.Metrics.Temporality = temporality
			cfg.Window.AllowedLateness = 15 * time.Second
			cfg.Alerts.Rules = []RuleConfig{{Name: "burst", ErrorsThreshold: 1, MinRecords: 1, FireAfter: 1, ResolveAfter: 1}}
			h := newHarness(t, cfg, t0.Add(65*time.Second))
			h.start()
			// 10:01:05: the group's first record is stamped 10:01:02, the next
			// 10:00:50, whose step stays open until 10:01:15.
			h.consume(makeLogs(batch("api", t0.Add(62*time.Second), 1, 0, nil)...))
			h.consume(makeLogs(batch("api", t0.Add(50*time.Second), 30, 30, userNotFound)...))
			assert.Zero(t, h.counter("otelcol_connector_error_rate_late_records"))
			h.at(t0.Add(75 * time.Second))  // closes 10:00
			h.at(t0.Add(135 * time.Second)) // closes 10:01

			ps := points(h.metrics)
			api := map[string]any{"service.name": "api"}
			ratios := find(ps, "sluice.error_rate.ratio", api)
			require.Len(t, ratios, 2, "window 10:00 holds 30 records of the group")
			assert.Equal(t, t0.Add(time.Minute), ratios[0].end.UTC())
			assert.InDelta(t, 1.0, ratios[0].dblVal, 1e-9)
			recs := find(ps, "sluice.error_rate.records", api)
			require.Len(t, recs, 2)
			if temporality == TemporalityCumulative {
				assert.Equal(t, []int64{30, 31}, []int64{recs[0].intVal, recs[1].intVal})
				assert.Equal(t, t0, recs[1].start.UTC(), "the series starts at its earliest step")
			} else {
				assert.Equal(t, []int64{30, 1}, []int64{recs[0].intVal, recs[1].intVal})
			}
			events := alertEvents(h.alerts)
			require.NotEmpty(t, events, "window 10:00 breaches the rule")
			assert.Equal(t, "2026-11-21T10:01:00Z", events[0].Attributes().AsRaw()["sluice.alert.window.end"])
		})
	}
}

// ctxRecorder records the context of each call and, like an exporter with
// wait_for_result, refuses data whose context is already done.
type ctxRecorder struct {
	mu      sync.Mutex
	ctxVals []any
	ends    []time.Time
}

func (*ctxRecorder) Capabilities() consumer.Capabilities { return consumer.Capabilities{} }

func (c *ctxRecorder) ConsumeMetrics(ctx context.Context, md pmetric.Metrics) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	c.ctxVals = append(c.ctxVals, ctx.Value(tenantKey{}))
	c.ends = append(c.ends, md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(0).Sum().DataPoints().At(0).Timestamp().AsTime().UTC())
	return nil
}

type tenantKey struct{}

func TestWindowOutputNotTiedToTriggeringRequest(t *testing.T) {
	cfg := createDefaultConfig()
	cfg.Window.AllowedLateness = 0
	clock := newFakeClock(t0)
	next := &ctxRecorder{}
	ctx := contextWithClock(context.Background(), clock)
	c, err := NewFactory().CreateLogsToMetrics(ctx, connectortest.NewNopSettings(metadata.Type), cfg, next)
	require.NoError(t, err)
	require.NoError(t, c.Start(ctx, componenttest.NewNopHost()))
	require.NoError(t, c.ConsumeLogs(ctx, makeLogs(batch("api", t0, 10, 1, userNotFound)...)))
	// A request of tenant "acme" whose client already gave up triggers the close of 10:00.
	clock.Set(t0.Add(time.Minute))
	req, cancel := context.WithCancel(context.WithValue(context.Background(), tenantKey{}, "acme"))
	cancel()
	require.NoError(t, c.ConsumeLogs(req, makeLogs(batch("other", t0.Add(time.Minute), 1, 0, nil)...)))
	waitSent(t, c)
	require.NoError(t, c.Shutdown(ctx))
	next.mu.Lock()
	defer next.mu.Unlock()
	require.Len(t, next.ends, 2, "the 10:00 close and the shutdown flush")
	assert.Equal(t, t0.Add(time.Minute), next.ends[0])
	assert.Nil(t, next.ctxVals[0], "the request's context values must not ride on the window's metrics")
}

// blockingMetrics blocks every call until released, as an exporter with
// wait_for_result does while its backend is down.
type blockingMetrics struct {
	entered chan struct{}
	release chan struct{}
	once    sync.Once
	sink    consumertest.MetricsSink
}

func newBlockingMetrics() *blockingMetrics {
	return &blockingMetrics{entered: make(chan struct{}), release: make(chan struct{})}
}

func (*blockingMetrics) Capabilities() consumer.Capabilities { return consumer.Capabilities{} }

func (b *blockingMetrics) ConsumeMetrics(ctx context.Context, md pmetric.Metrics) error {
	b.once.Do(func() { close(b.entered) })
	<-b.release
	return b.sink.ConsumeMetrics(ctx, md)
}

func TestIngestDoesNotWaitForBlockedDownstream(t *testing.T) {
	cfg := createDefaultConfig()
	cfg.Window.AllowedLateness = 0
	clock := newFakeClock(t0)
	next := newBlockingMetrics()
	ctx := contextWithClock(context.Background(), clock)
	c, err := NewFactory().CreateLogsToMetrics(ctx, connectortest.NewNopSettings(metadata.Type), cfg, next)
	require.NoError(t, err)
	require.NoError(t, c.Start(ctx, componenttest.NewNopHost()))
	consumed := make(chan struct{})
	go func() {
		defer close(consumed)
		for m := range 3 {
			at := t0.Add(time.Duration(m) * time.Minute)
			clock.Set(at)
			// Each batch closes the previous minute.
			assert.NoError(t, c.ConsumeLogs(ctx, makeLogs(batch("api", at, 10, 1, userNotFound)...)))
		}
	}()
	select {
	case <-consumed:
	case <-time.After(5 * time.Second):
		t.Fatal("ingest waited for a blocked next consumer")
	}
	<-next.entered
	close(next.release)
	clock.Set(t0.Add(3*time.Minute + 30*time.Second))
	require.NoError(t, c.Shutdown(ctx))
	var ends []time.Time
	for _, p := range points(&next.sink) {
		if p.metric == "sluice.error_rate.records" {
			ends = append(ends, p.end.UTC())
		}
	}
	want := []time.Time{t0.Add(time.Minute), t0.Add(2 * time.Minute), t0.Add(3 * time.Minute), t0.Add(3*time.Minute + 30*time.Second)}
	assert.Equal(t, want, ends, "windows arrive in close order")
}

func TestShutdownReturnsAtDeadlineWhileSendBlocks(t *testing.T) {
	cfg := createDefaultConfig()
	cfg.Window.AllowedLateness = 0
	clock := newFakeClock(t0)
	next := newBlockingMetrics()
	ctx := contextWithClock(context.Background(), clock)
	c, err := NewFactory().CreateLogsToMetrics(ctx, connectortest.NewNopSettings(metadata.Type), cfg, next)
	require.NoError(t, err)
	require.NoError(t, c.Start(ctx, componenttest.NewNopHost()))
	require.NoError(t, c.ConsumeLogs(ctx, makeLogs(batch("api", t0, 10, 1, userNotFound)...)))
	clock.Set(t0.Add(time.Minute))
	clock.Tick() // closes 10:00; the send blocks
	<-next.entered
	done := make(chan error, 1)
	go func() {
		sctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		done <- c.Shutdown(sctx)
	}()
	select {
	case err := <-done:
		require.ErrorIs(t, err, context.DeadlineExceeded)
	case <-time.After(5 * time.Second):
		t.Error("Shutdown with a 100ms deadline still blocked after 5s")
		close(next.release)
		<-done
		return
	}
	close(next.release)
}

// hookClock runs a hook once inside Now, to interleave a close between a
// batch reading the clock and taking the lock.
type hookClock struct {
	*fakeClock
	hook atomic.Pointer[func()]
}

func (c *hookClock) Now() time.Time {
	now := c.fakeClock.Now()
	if f := c.hook.Swap(nil); f != nil {
		(*f)()
	}
	return now
}

func TestProcessingTimeBatchRacingACloseIsNotLate(t *testing.T) {
	cfg := createDefaultConfig()
	cfg.Window.TimeSource = TimeSourceProcessing
	clock := &hookClock{fakeClock: newFakeClock(t0)}
	tel := componenttest.NewTelemetry()
	defer func() { require.NoError(t, tel.Shutdown(context.Background())) }()
	set := connectortest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	sink := new(consumertest.MetricsSink)
	ctx := contextWithClock(context.Background(), clock)
	c, err := NewFactory().CreateLogsToMetrics(ctx, set, cfg, sink)
	require.NoError(t, err)
	agg := c.(*node).agg
	clock.Set(t0.Add(time.Minute - time.Millisecond))
	// After the batch reads 10:00:59.999 the ticker closes 10:00.
	closeStep := func() {
		clock.Set(t0.Add(time.Minute))
		agg.tick()
	}
	clock.hook.Store(&closeStep)
	require.NoError(t, c.ConsumeLogs(ctx, makeLogs(batch("api", time.Time{}, 10, 5, userNotFound)...)))
	clock.Set(t0.Add(2 * time.Minute))
	agg.tick()
	require.NoError(t, c.Shutdown(ctx))
	_, err = tel.GetMetric("otelcol_connector_error_rate_late_records")
	assert.Error(t, err, "processing time counts nothing late")
	ratios := find(points(sink), "sluice.error_rate.ratio", nil)
	require.Len(t, ratios, 1)
	assert.Equal(t, t0.Add(2*time.Minute), ratios[0].end.UTC(), "the batch lands in the step after the close")
	assert.InDelta(t, 0.5, ratios[0].dblVal, 1e-9)
}

func TestExpiryKeepsGroupWithRecordsInOpenStep(t *testing.T) {
	cfg := createDefaultConfig()
	cfg.Window.AllowedLateness = 5 * time.Minute
	cfg.GroupExpiry = time.Minute
	h := newHarness(t, cfg, t0.Add(10*time.Second))
	h.start()
	h.consume(makeLogs(batch("api", t0.Add(5*time.Second), 7, 2, userNotFound)...))
	for m := 1; m <= 7; m++ {
		h.at(t0.Add(time.Duration(m) * time.Minute))
	}
	recs := find(points(h.metrics), "sluice.error_rate.records", map[string]any{"service.name": "api"})
	require.Len(t, recs, 1, "the 10:00 step closes at 10:06, after the group looked idle")
	assert.Equal(t, int64(7), recs[0].intVal)
	assert.Equal(t, int64(1), h.counter("otelcol_connector_error_rate_groups_expired"), "expired once reported")
}

func TestDeltaStallKeepsFoldedRecords(t *testing.T) {
	cfg := createDefaultConfig()
	cfg.Metrics.Temporality = TemporalityDelta
	cfg.Window.AllowedLateness = 0
	h := newHarness(t, cfg, t0)
	h.start()
	h.consume(makeLogs(batch("api", t0, 10, 3, userNotFound)...))
	h.at(t0.Add(time.Hour)) // folds 10:00 without a close of its own
	var recs, errs int64
	for _, p := range find(points(h.metrics), "sluice.error_rate.records", nil) {
		recs += p.intVal
	}
	for _, p := range find(points(h.metrics), "sluice.error_rate.errors", nil) {
		errs += p.intVal
	}
	assert.Equal(t, int64(10), recs)
	assert.Equal(t, int64(3), errs)
}

func TestEmptyGroupValueIsMissing(t *testing.T) {
	cfg := createDefaultConfig()
	cfg.GroupBy = []string{"service.name", "deployment.environment"}
	h := newHarness(t, cfg, t0)
	h.start()
	ld := makeLogs(
		logRec{service: "api", at: t0, sev: plog.SeverityNumberInfo, msg: "a"},
		logRec{service: "api", at: t0, sev: plog.SeverityNumberInfo, msg: "b", attrs: map[string]any{"deployment.environment": ""}},
		logRec{service: "web", at: t0, sev: plog.SeverityNumberInfo, msg: "c", attrs: map[string]any{"deployment.environment": ""}},
	)
	// An empty record value falls back to the resource's, like a missing one.
	ld.ResourceLogs().At(1).Resource().Attributes().PutStr("deployment.environment", "prod")
	h.consume(ld)
	h.at(t0.Add(time.Minute + cfg.Window.AllowedLateness))
	recs := find(points(h.metrics), "sluice.error_rate.records", nil)
	require.Len(t, recs, 2, "one group per Prometheus series")
	api := find(recs, "sluice.error_rate.records", map[string]any{"service.name": "api"})
	require.Len(t, api, 1)
	assert.Equal(t, int64(2), api[0].intVal)
	assert.NotContains(t, api[0].attrs, "deployment.environment")
	web := find(recs, "sluice.error_rate.records", map[string]any{"service.name": "web", "deployment.environment": "prod"})
	require.Len(t, web, 1)
}

func TestConsumeAfterShutdownIsRefused(t *testing.T) {
	cfg := createDefaultConfig()
	h := newHarness(t, cfg, t0)
	h.start()
	h.shutdown()
	err := h.toM.ConsumeLogs(context.Background(), makeLogs(batch("api", t0, 1, 0, nil)...))
	require.ErrorIs(t, err, errShutdown)
	assert.True(t, consumererror.IsPermanent(err))
}

// Run with -race: Shutdown must not read state that batches still write.
func TestShutdownWhileConsuming(t *testing.T) {
	cfg := createDefaultConfig()
	clock := newFakeClock(t0)
	ctx := contextWithClock(context.Background(), clock)
	c, err := NewFactory().CreateLogsToMetrics(ctx, connectortest.NewNopSettings(metadata.Type), cfg, new(consumertest.MetricsSink))
	require.NoError(t, err)
	require.NoError(t, c.Start(ctx, componenttest.NewNopHost()))
	var wg sync.WaitGroup
	var accepted, refused atomic.Int64
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				if err := c.ConsumeLogs(ctx, makeLogs(batch(fmt.Sprintf("s-%d-%d", w, i), t0, 1, 0, nil)...)); err != nil {
					refused.Add(1)
					return
				}
				accepted.Add(1)
			}
		}()
	}
	for accepted.Load() < 20 {
		time.Sleep(time.Millisecond)
	}
	require.NoError(t, c.Shutdown(ctx))
	wg.Wait()
	assert.Equal(t, int64(4), refused.Load(), "every worker is refused after Shutdown")
}
