package errorrateconnector

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/connector"
	"go.opentelemetry.io/collector/connector/connectortest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/sluicelogs/sluice/connector/errorrateconnector/internal/metadata"
)

// fakeClock is a manually advanced clock. Its tickers are unbuffered, so a
// test that sends a tick knows the loop has taken it.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	tickers []*fakeTicker
}

func newFakeClock(now time.Time) *fakeClock { return &fakeClock{now: now} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

func (c *fakeClock) NewTicker(time.Duration) Ticker {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTicker{ch: make(chan time.Time)}
	c.tickers = append(c.tickers, t)
	return t
}

// Tick delivers one tick to every ticker and waits until the loop has
// processed it: the second send is only received once the first is handled.
func (c *fakeClock) Tick() {
	c.mu.Lock()
	ts := append([]*fakeTicker(nil), c.tickers...)
	now := c.now
	c.mu.Unlock()
	for _, t := range ts {
		t.ch <- now
		t.ch <- now
	}
}

type fakeTicker struct{ ch chan time.Time }

func (t *fakeTicker) C() <-chan time.Time { return t.ch }
func (*fakeTicker) Stop()                 {}

// t0 is a minute boundary used as the start of every scenario.
var t0 = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

// harness wires a logs→metrics and a logs→logs node of one config to sinks.
type harness struct {
	t       *testing.T
	clock   *fakeClock
	tel     *componenttest.Telemetry
	metrics *consumertest.MetricsSink
	alerts  *consumertest.LogsSink
	toM     connector.Logs
	toL     connector.Logs
}

func newHarness(t *testing.T, cfg *Config, now time.Time) *harness {
	t.Helper()
	require.NoError(t, cfg.Validate())
	h := &harness{
		t:       t,
		clock:   newFakeClock(now),
		tel:     componenttest.NewTelemetry(),
		metrics: new(consumertest.MetricsSink),
		alerts:  new(consumertest.LogsSink),
	}
	t.Cleanup(func() { require.NoError(t, h.tel.Shutdown(context.Background())) })
	set := connectortest.NewNopSettings(metadata.Type)
	// A stable ID, as in a collector: it names the state in storage.
	set.ID = component.NewID(metadata.Type)
	set.TelemetrySettings = h.tel.NewTelemetrySettings()
	ctx := contextWithClock(context.Background(), h.clock)
	f := NewFactory()
	var err error
	h.toM, err = f.CreateLogsToMetrics(ctx, set, cfg, h.metrics)
	require.NoError(t, err)
	h.toL, err = f.CreateLogsToLogs(ctx, set, cfg, h.alerts)
	require.NoError(t, err)
	return h
}

func (h *harness) start() { h.startOn(componenttest.NewNopHost()) }

// startOn starts both nodes on host (one holding storage extensions).
func (h *harness) startOn(host component.Host) {
	h.t.Helper()
	require.NoError(h.t, h.toM.Start(context.Background(), host))
	require.NoError(h.t, h.toL.Start(context.Background(), host))
	h.t.Cleanup(h.shutdown)
}

func (h *harness) shutdown() {
	require.NoError(h.t, h.toM.Shutdown(context.Background()))
	require.NoError(h.t, h.toL.Shutdown(context.Background()))
}

// consume feeds ld to both nodes, as the collector's fan-out does, and waits
// until what a close it triggered has been sent.
func (h *harness) consume(ld plog.Logs) {
	h.t.Helper()
	require.NoError(h.t, h.toM.ConsumeLogs(context.Background(), ld))
	require.NoError(h.t, h.toL.ConsumeLogs(context.Background(), ld))
	waitSent(h.t, h.toM)
}

// at moves the clock, lets the window loop run once and waits until its
// output has been sent.
func (h *harness) at(now time.Time) {
	h.clock.Set(now)
	h.clock.Tick()
	waitSent(h.t, h.toM)
}

// waitSent waits until the sender of c's aggregator has nothing queued or in
// flight (the sender only runs after Start).
func waitSent(t *testing.T, c any) {
	t.Helper()
	agg := c.(*node).agg
	deadline := time.Now().Add(5 * time.Second)
	for agg.pendingOutputs() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("sender still has %d outputs after 5s", agg.pendingOutputs())
		}
		time.Sleep(time.Millisecond)
	}
}

func (h *harness) counter(name string) int64 {
	h.t.Helper()
	m, err := h.tel.GetMetric(name)
	if err != nil {
		return 0
	}
	var total int64
	for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
		total += dp.Value
	}
	return total
}

// logRec describes one generated log record.
type logRec struct {
	service string
	at      time.Time
	sev     plog.SeverityNumber
	msg     string
	attrs   map[string]any
}

func makeLogs(recs ...logRec) plog.Logs {
	ld := plog.NewLogs()
	byService := map[string]plog.LogRecordSlice{}
	for _, r := range recs {
		lrs, ok := byService[r.service]
		if !ok {
			rl := ld.ResourceLogs().AppendEmpty()
			if r.service != "" {
				rl.Resource().Attributes().PutStr("service.name", r.service)
			}
			lrs = rl.ScopeLogs().AppendEmpty().LogRecords()
			byService[r.service] = lrs
		}
		lr := lrs.AppendEmpty()
		if !r.at.IsZero() {
			lr.SetTimestamp(pcommon.NewTimestampFromTime(r.at))
		}
		lr.SetSeverityNumber(r.sev)
		lr.Body().SetStr(r.msg)
		_ = lr.Attributes().FromRaw(r.attrs)
	}
	return ld
}

// batch returns n records of service at time at, errs of them errors with
// messages produced by msg(i).
func batch(service string, at time.Time, n, errs int, msg func(i int) string) []logRec {
	out := make([]logRec, 0, n)
	for i := range n {
		r := logRec{service: service, at: at, sev: plog.SeverityNumberInfo, msg: "ok"}
		if i < errs {
			r.sev = plog.SeverityNumberError
			r.msg = msg(i)
		}
		out = append(out, r)
	}
	return out
}

// point is one data point flattened for assertions.
type point struct {
	metric     string
	attrs      map[string]any
	start, end time.Time
	intVal     int64
	dblVal     float64
	temporal   pmetric.AggregationTemporality
}

func points(sink *consumertest.MetricsSink) []point {
	var out []point
	for _, md := range sink.AllMetrics() {
		rms := md.ResourceMetrics()
		for i := 0; i < rms.Len(); i++ {
			sms := rms.At(i).ScopeMetrics()
			for j := 0; j < sms.Len(); j++ {
				ms := sms.At(j).Metrics()
				for k := 0; k < ms.Len(); k++ {
					m := ms.At(k)
					switch m.Type() {
					case pmetric.MetricTypeSum:
						dps := m.Sum().DataPoints()
						for d := 0; d < dps.Len(); d++ {
							dp := dps.At(d)
							out = append(out, point{m.Name(), dp.Attributes().AsRaw(), dp.StartTimestamp().AsTime(), dp.Timestamp().AsTime(), dp.IntValue(), 0, m.Sum().AggregationTemporality()})
						}
					case pmetric.MetricTypeGauge:
						dps := m.Gauge().DataPoints()
						for d := 0; d < dps.Len(); d++ {
							dp := dps.At(d)
							out = append(out, point{m.Name(), dp.Attributes().AsRaw(), dp.StartTimestamp().AsTime(), dp.Timestamp().AsTime(), dp.IntValue(), dp.DoubleValue(), 0})
						}
					}
				}
			}
		}
	}
	return out
}

// find returns the points of metric whose attributes include want.
func find(ps []point, metric string, want map[string]any) []point {
	var out []point
	for _, p := range ps {
		if p.metric != metric {
			continue
		}
		match := true
		for k, v := range want {
			if p.attrs[k] != v {
				match = false
			}
		}
		if match {
			out = append(out, p)
		}
	}
	return out
}

// alertEvents flattens the alert sink.
func alertEvents(sink *consumertest.LogsSink) []plog.LogRecord {
	var out []plog.LogRecord
	for _, ld := range sink.AllLogs() {
		for i := 0; i < ld.ResourceLogs().Len(); i++ {
			sls := ld.ResourceLogs().At(i).ScopeLogs()
			for j := 0; j < sls.Len(); j++ {
				lrs := sls.At(j).LogRecords()
				for k := 0; k < lrs.Len(); k++ {
					out = append(out, lrs.At(k))
				}
			}
		}
	}
	return out
}
