package errorrateconnector

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/connector"
	"go.opentelemetry.io/collector/connector/connectortest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/sluicelogs/sluice/connector/errorrateconnector/internal/metadata"
	"github.com/sluicelogs/sluice/connector/errorrateconnector/internal/metadatatest"
)

// outputConsumer is a metrics and logs consumer that reports every call on
// a channel and, while gated, blocks until released (an exporter with
// wait_for_result during an outage).
type outputConsumer struct {
	calls   chan struct{}
	gated   bool
	release chan struct{}
	once    sync.Once
	metrics consumertest.MetricsSink
	logs    consumertest.LogsSink
}

func newOutputConsumer(gated bool) *outputConsumer {
	return &outputConsumer{calls: make(chan struct{}, 1000), gated: gated, release: make(chan struct{})}
}

func (*outputConsumer) Capabilities() consumer.Capabilities { return consumer.Capabilities{} }

func (o *outputConsumer) ConsumeMetrics(ctx context.Context, md pmetric.Metrics) error {
	o.calls <- struct{}{}
	if o.gated {
		<-o.release
	}
	return o.metrics.ConsumeMetrics(ctx, md)
}

func (o *outputConsumer) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	o.calls <- struct{}{}
	if o.gated {
		<-o.release
	}
	return o.logs.ConsumeLogs(ctx, ld)
}

func (o *outputConsumer) open() { o.once.Do(func() { close(o.release) }) }

// awaitCall fails the test instead of hanging when no call comes; the
// timeout is a safety net, not a measure of speed.
func (o *outputConsumer) awaitCall(t *testing.T, what string) {
	t.Helper()
	select {
	case <-o.calls:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s never reached its next consumer", what)
	}
}

// alertingConfig fires on every breaching window and resolves on the next
// clean one, so that each close produces an alert event when breaches alternate.
func alertingConfig() *Config {
	cfg := createDefaultConfig()
	cfg.Window.AllowedLateness = 0
	cfg.Alerts.Rules = []RuleConfig{{Name: "any_errors", RatioThreshold: 0.5, MinRecords: 1, FireAfter: 1, ResolveAfter: 1}}
	return cfg
}

// newOutputNodes builds a logs→metrics and a logs→logs node of cfg feeding
// metricsNext and logsNext, started.
func newOutputNodes(t *testing.T, cfg *Config, clock Clock, tel *componenttest.Telemetry, metricsNext consumer.Metrics, logsNext consumer.Logs) (toM, toL connector.Logs) {
	t.Helper()
	set := connectortest.NewNopSettings(metadata.Type)
	if tel != nil {
		set.TelemetrySettings = tel.NewTelemetrySettings()
	}
	ctx := contextWithClock(context.Background(), clock)
	var err error
	toM, err = NewFactory().CreateLogsToMetrics(ctx, set, cfg, metricsNext)
	require.NoError(t, err)
	toL, err = NewFactory().CreateLogsToLogs(ctx, set, cfg, logsNext)
	require.NoError(t, err)
	require.NoError(t, toM.Start(ctx, componenttest.NewNopHost()))
	require.NoError(t, toL.Start(ctx, componenttest.NewNopHost()))
	return toM, toL
}

func consumeBoth(t *testing.T, toM, toL connector.Logs, ld plog.Logs) {
	t.Helper()
	require.NoError(t, toM.ConsumeLogs(context.Background(), ld))
	require.NoError(t, toL.ConsumeLogs(context.Background(), ld))
}

func TestBlockedOutputDoesNotDelayTheOther(t *testing.T) {
	t.Run("alerts blocked, metrics flow", func(t *testing.T) {
		clock := newFakeClock(t0)
		metrics, alerts := newOutputConsumer(false), newOutputConsumer(true)
		toM, toL := newOutputNodes(t, alertingConfig(), clock, nil, metrics, alerts)
		consumeBoth(t, toM, toL, makeLogs(batch("api", t0, 10, 10, userNotFound)...))
		clock.Set(t0.Add(time.Minute))
		clock.Tick() // closes 10:00: the rule fires and the alerts exporter blocks
		alerts.awaitCall(t, "the firing event")
		metrics.awaitCall(t, "the 10:00 metrics")
		consumeBoth(t, toM, toL, makeLogs(batch("api", t0.Add(time.Minute), 10, 0, nil)...))
		clock.Set(t0.Add(2 * time.Minute))
		clock.Tick() // closes 10:01 while the firing event is still stuck
		metrics.awaitCall(t, "the 10:01 metrics")
		alerts.open()
		require.NoError(t, toM.Shutdown(context.Background()))
		require.NoError(t, toL.Shutdown(context.Background()))
		assert.Len(t, alertEvents(&alerts.logs), 2, "firing and resolved are delivered once released")
	})
	t.Run("metrics blocked, alerts flow", func(t *testing.T) {
		clock := newFakeClock(t0)
		metrics, alerts := newOutputConsumer(true), newOutputConsumer(false)
		toM, toL := newOutputNodes(t, alertingConfig(), clock, nil, metrics, alerts)
		consumeBoth(t, toM, toL, makeLogs(batch("api", t0, 10, 10, userNotFound)...))
		clock.Set(t0.Add(time.Minute))
		clock.Tick() // closes 10:00: the metrics exporter blocks
		metrics.awaitCall(t, "the 10:00 metrics")
		alerts.awaitCall(t, "the firing event")
		metrics.open()
		require.NoError(t, toM.Shutdown(context.Background()))
		require.NoError(t, toL.Shutdown(context.Background()))
		assert.NotEmpty(t, points(&metrics.metrics))
	})
}

func TestEmitDroppedCountedPerOutput(t *testing.T) {
	clock := newFakeClock(t0)
	tel := componenttest.NewTelemetry()
	defer func() { require.NoError(t, tel.Shutdown(context.Background())) }()
	metrics, alerts := newOutputConsumer(false), newOutputConsumer(true)
	toM, toL := newOutputNodes(t, alertingConfig(), clock, tel, metrics, alerts)
	const closes = maxPendingOutputs + 3
	for m := range closes + 1 {
		at := t0.Add(time.Duration(m) * time.Minute)
		clock.Set(at)
		errs := 0
		if m%2 == 0 {
			errs = 10
		}
		// Each batch closes the previous minute, which fired or resolved.
		consumeBoth(t, toM, toL, makeLogs(batch("api", at, 10, errs, userNotFound)...))
		if m == 1 {
			// The first event is in flight; the next ones queue behind it.
			alerts.awaitCall(t, "the first alert event")
		}
		if m > 0 {
			metrics.awaitCall(t, "a close's metrics")
		}
	}
	// One event in flight, maxPendingOutputs queued, the rest dropped oldest first.
	alerts.open()
	clock.Set(t0.Add(closes*time.Minute + 30*time.Second))
	require.NoError(t, toM.Shutdown(context.Background()))
	require.NoError(t, toL.Shutdown(context.Background()))
	metadatatest.AssertEqualConnectorErrorRateEmitDropped(t, tel, []metricdata.DataPoint[int64]{{
		Attributes: attribute.NewSet(attribute.String("signal", "logs"), attribute.String("output", "logs")),
		Value:      closes - 1 - maxPendingOutputs,
	}}, metricdatatest.IgnoreTimestamp())
	assert.Len(t, alertEvents(&alerts.logs), 1+maxPendingOutputs)
	assert.Len(t, find(points(&metrics.metrics), "sluice.error_rate.records", nil), closes+1, "every close and the final flush")
}

func TestShutdownFlushesMetricsWhileAlertsBlocked(t *testing.T) {
	clock := newFakeClock(t0)
	metrics, alerts := newOutputConsumer(false), newOutputConsumer(true)
	defer alerts.open()
	toM, toL := newOutputNodes(t, alertingConfig(), clock, nil, metrics, alerts)
	consumeBoth(t, toM, toL, makeLogs(batch("api", t0, 10, 10, userNotFound)...))
	clock.Set(t0.Add(time.Minute))
	clock.Tick() // closes 10:00: the firing event blocks
	alerts.awaitCall(t, "the firing event")
	metrics.awaitCall(t, "the 10:00 metrics")
	consumeBoth(t, toM, toL, makeLogs(batch("api", t0.Add(time.Minute), 10, 0, nil)...))
	clock.Set(t0.Add(time.Minute + 30*time.Second))
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	require.ErrorIs(t, toM.Shutdown(ctx), context.DeadlineExceeded, "the alerts output did not drain")
	require.NoError(t, toL.Shutdown(ctx), "Shutdown is done once")
	recs := find(points(&metrics.metrics), "sluice.error_rate.records", nil)
	require.Len(t, recs, 2, "the final flush reaches the metrics output despite the stuck alerts output")
	assert.Equal(t, int64(20), recs[1].intVal)
	assert.Equal(t, t0.Add(time.Minute+30*time.Second), recs[1].end.UTC())
}
