package errorrateconnector // import "github.com/sluicelogs/sluice/connector/errorrateconnector"

import (
	"context"
	"encoding/binary"
	"fmt"
	"strconv"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/sluicelogs/sluice/connector/errorrateconnector/internal/alert"
	"github.com/sluicelogs/sluice/connector/errorrateconnector/internal/fingerprint"
	"github.com/sluicelogs/sluice/connector/errorrateconnector/internal/metadata"
	"github.com/sluicelogs/sluice/connector/errorrateconnector/internal/topk"
	"github.com/sluicelogs/sluice/connector/errorrateconnector/internal/window"
)

// Input signals.
const (
	signalLogs   = "logs"
	signalTraces = "traces"
)

// maxTickInterval bounds how late a window close can be when no records arrive.
const maxTickInterval = time.Second

// bucket holds one step of one group.
type bucket struct {
	idx     int64
	records uint64
	errors  uint64
	// templates is allocated on the bucket's first fingerprinted error.
	templates *topk.Sketch
}

// noBucket marks an unused ring slot; no real bucket index is that low.
const noBucket = -1 << 62

// group is the state of one combination of group_by values.
type group struct {
	key      string
	values   []pcommon.Value // one per group_by key; Empty type when absent
	overflow bool
	// start is the start time of the group's cumulative series: the start of
	// bucket startIdx, the earliest open bucket it has records in.
	start    pcommon.Timestamp
	startIdx int64
	// totals are the cumulative sums reported so far plus late records.
	totalRecords, totalErrors uint64
	// late counts records of already-closed buckets since the last close (delta mode).
	lateRecords, lateErrors uint64
	// lastSeen is the processing time (Unix ns) of the group's last record.
	lastSeen int64
	ring     []bucket
	alerts   []alert.State
}

// firing reports whether any rule is firing for the group.
func (g *group) firing() bool {
	for i := range g.alerts {
		if g.alerts[i].Firing() {
			return true
		}
	}
	return false
}

// outgoing is what one window close sends downstream, built under the lock
// and sent by the sender goroutine.
type outgoing struct {
	// built is false for a close that had nothing to do.
	built bool
	// final marks Shutdown's flush, whose send error Shutdown returns.
	final   bool
	metrics pmetric.Metrics
	logs    plog.Logs
	fired   int64
	resolve int64
	closes  int64
	expired int64
}

// aggregator is the shared state of every error_rate node built from one
// configuration for one input signal.
type aggregator struct {
	signal       string
	cfg          *Config
	spec         window.Spec
	eventTime    bool
	minSeverity  plog.SeverityNumber
	conditions   []condition
	rules        []alert.Rule
	metricNames  metricNames
	cumulative   bool
	resource     pcommon.Resource
	clock        Clock
	logger       *zap.Logger
	telemetry    *metadata.TelemetryBuilder
	signalOpt    metric.MeasurementOption
	metricsOpt   metric.MeasurementOption
	logsOpt      metric.MeasurementOption
	metricsNext  consumer.Metrics
	logsNext     consumer.Logs
	startOnce    sync.Once
	shutdownOnce sync.Once
	stop         chan struct{}
	done         chan struct{}
	release      func()

	// senders deliver metrics and alert events, each from its own queue.
	senders senders
	// id names the connector to the storage extension.
	id component.ID
	// store keeps the alert state across restarts (cfg.Storage); nil without.
	store *alertStore

	mu            sync.Mutex
	closed        bool // set by Shutdown's flush; later batches are refused
	groups        map[string]*group
	closedThrough int64
	keyBuf        []byte
	templater     *fingerprint.Templater
	merged        *topk.Sketch
	topBuf        []topk.Counter
}

type metricNames struct {
	records, errors, ratio, fingerprint string
}

func newAggregator(set component.TelemetrySettings, resource pcommon.Resource, cfg *Config, signal string, clock Clock) (*aggregator, error) {
	spec, err := cfg.windowSpec()
	if err != nil {
		return nil, err
	}
	minSev, err := parseSeverity(cfg.Errors.MinSeverity)
	if err != nil {
		return nil, err
	}
	conds := make([]condition, 0, len(cfg.Errors.Conditions))
	for i, c := range cfg.Errors.Conditions {
		cond, err := newCondition(c)
		if err != nil {
			return nil, fmt.Errorf("errors::conditions[%d]: %w", i, err)
		}
		conds = append(conds, cond)
	}
	rules := make([]alert.Rule, len(cfg.Alerts.Rules))
	for i, r := range cfg.Alerts.Rules {
		rules[i] = r.rule()
	}
	tb, err := metadata.NewTelemetryBuilder(set)
	if err != nil {
		return nil, fmt.Errorf("build self-telemetry: %w", err)
	}
	res := pcommon.NewResource()
	resource.CopyTo(res)
	a := &aggregator{
		signal:      signal,
		cfg:         cfg,
		spec:        spec,
		eventTime:   cfg.Window.TimeSource == TimeSourceEvent,
		minSeverity: minSev,
		conditions:  conds,
		rules:       rules,
		metricNames: metricNames{
			records:     cfg.Metrics.Prefix + ".records",
			errors:      cfg.Metrics.Prefix + ".errors",
			ratio:       cfg.Metrics.Prefix + ".ratio",
			fingerprint: cfg.Metrics.Prefix + ".fingerprint.errors",
		},
		cumulative: cfg.Metrics.Temporality == TemporalityCumulative,
		resource:   res,
		clock:      clock,
		logger:     set.Logger,
		telemetry:  tb,
		signalOpt:  metric.WithAttributeSet(attribute.NewSet(attribute.String("signal", signal))),
		metricsOpt: metric.WithAttributeSet(attribute.NewSet(attribute.String("signal", signal), attribute.String("output", outputMetrics))),
		logsOpt:    metric.WithAttributeSet(attribute.NewSet(attribute.String("signal", signal), attribute.String("output", outputLogs))),
		stop:       make(chan struct{}),
		done:       make(chan struct{}),
		groups:     make(map[string]*group),
	}
	// The next consumers are registered after construction, before Start.
	a.senders = senders{
		metrics: newSender(outputMetrics, signal, func(ctx context.Context, md pmetric.Metrics) error {
			return a.metricsNext.ConsumeMetrics(ctx, md)
		}, set.Logger, tb, a.metricsOpt),
		logs: newSender(outputLogs, signal, a.sendAlerts, set.Logger, tb, a.logsOpt),
	}
	a.closedThrough = spec.LastClosable(clock.Now())
	if cfg.Fingerprints.Enabled {
		a.templater = fingerprint.NewTemplater(cfg.Fingerprints.MaxLength)
		a.merged = topk.New(cfg.Fingerprints.Tracked * spec.Buckets())
	}
	return a, nil
}

// start restores the alert state (with storage) and launches the
// window-closing loop and the senders, once.
func (a *aggregator) start(ctx context.Context, host component.Host) error {
	var err error
	a.startOnce.Do(func() {
		if a.cfg.Storage != nil && a.alertsEvaluated() {
			err = a.openAlertState(ctx, host)
		}
		go a.run(a.clock.NewTicker(min(a.spec.Step, maxTickInterval)))
		a.senders.start()
	})
	return err
}

// alertsEvaluated reports whether rules run: only with a logs output.
func (a *aggregator) alertsEvaluated() bool {
	return a.logsNext != nil && len(a.rules) > 0
}

// openAlertState opens the storage and restores the groups that were
// alerting. State that cannot be restored is logged and ignored: the
// connector then starts as it would without storage.
func (a *aggregator) openAlertState(ctx context.Context, host component.Host) error {
	store, err := openAlertStore(ctx, host, a.id, a.cfg, a.signal)
	if err != nil {
		return err
	}
	data, err := store.load(ctx)
	a.mu.Lock()
	defer a.mu.Unlock()
	// Set even when loading fails, so that Shutdown closes it.
	a.store = store
	if err != nil {
		return fmt.Errorf("storage: load alert state: %w", err)
	}
	if len(data) == 0 {
		return nil
	}
	n, err := a.restoreAlertsLocked(data)
	if err != nil {
		a.logger.Warn("error_rate: stored alert state not restored", zap.String("signal", a.signal), zap.Error(err))
	}
	if n > 0 {
		a.logger.Info("error_rate: restored firing alerts", zap.String("signal", a.signal), zap.Int("alerts", n))
	}
	return nil
}

// shutdown stops the loop, force-closes open buckets, refuses later batches
// and waits until both senders have delivered everything or ctx expires.
// Safe to call several times and without start.
func (a *aggregator) shutdown(ctx context.Context) error {
	var err error
	a.shutdownOnce.Do(func() {
		started := true
		a.startOnce.Do(func() { started = false })
		close(a.stop)
		if started {
			select {
			case <-a.done:
			case <-ctx.Done():
				err = ctx.Err()
			}
		}
		// Outputs queued by batches consumed without Start still go out.
		a.senders.start()
		a.mu.Lock()
		out := a.flushLocked(a.clock.Now())
		out.final = true
		a.enqueueLocked(out)
		a.closed = true
		groups := len(a.groups)
		a.mu.Unlock()
		if sendErr := a.senders.finish(ctx); err == nil {
			err = sendErr
		}
		if a.store != nil {
			if closeErr := a.store.close(ctx); err == nil && closeErr != nil {
				err = fmt.Errorf("storage: close: %w", closeErr)
			}
		}
		a.telemetry.ConnectorErrorRateGroups.Add(context.Background(), -int64(groups), a.signalOpt)
		a.telemetry.Shutdown()
		if a.release != nil {
			a.release()
		}
	})
	return err
}

func (a *aggregator) run(t Ticker) {
	defer close(a.done)
	defer t.Stop()
	for {
		select {
		case <-a.stop:
			return
		case <-t.C():
			a.tick()
		}
	}
}

// tick closes every bucket that is due at the clock's current time.
func (a *aggregator) tick() {
	now := a.clock.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return
	}
	a.enqueueLocked(a.closeDueLocked(now))
}

// closeDueLocked closes every bucket whose end plus lateness has passed.
func (a *aggregator) closeDueLocked(now time.Time) outgoing {
	target := a.spec.LastClosable(now)
	if target <= a.closedThrough {
		return outgoing{}
	}
	out := a.newOutgoing()
	a.closeThroughLocked(&out, target, now, true)
	a.expireLocked(&out, now)
	return out
}

// flushLocked closes what is due, then force-closes the open buckets
// (shutdown). Alert rules are not evaluated on those partial windows, so a
// restart raises no false alert.
func (a *aggregator) flushLocked(now time.Time) outgoing {
	out := a.newOutgoing()
	open, end := a.spec.Bucket(now), now
	if a.spec.Start(open).Equal(now) {
		// Shutdown on a step boundary: the step starting now has no length,
		// and a close of it would repeat the timestamp of the step ending now
		// in every series, which Prometheus rejects as a duplicate sample.
		switch {
		case open-1 > a.closedThrough:
			// Its records, stamped exactly now, join the step ending now.
			a.mergeBucketLocked(open, open-1)
			open--
		case !a.bucketHasRecordsLocked(open):
			open--
		default:
			// The step ending now was already sent, so records stamped
			// exactly now go out one millisecond (Prometheus' resolution)
			// later rather than be lost.
			end = now.Add(time.Millisecond)
		}
	}
	a.closeThroughLocked(&out, a.spec.LastClosable(now), now, true)
	a.closeThroughLocked(&out, open, end, false)
	return out
}

// mergeBucketLocked moves bucket from of every group into bucket into, which
// is still open, and starts a series born in from at into instead: no point
// of it was sent yet.
func (a *aggregator) mergeBucketLocked(from, into int64) {
	for _, g := range a.groups {
		src := a.slot(g, from)
		if src.idx != from {
			continue
		}
		dst := a.slot(g, into)
		if dst.idx != into {
			dst.idx, dst.records, dst.errors = into, 0, 0
			if dst.templates != nil {
				dst.templates.Reset()
			}
		}
		dst.records += src.records
		dst.errors += src.errors
		if src.templates != nil && src.templates.Len() > 0 {
			if dst.templates == nil {
				dst.templates = topk.New(a.cfg.Fingerprints.Tracked)
			}
			a.topBuf = src.templates.Top(src.templates.Len(), a.topBuf[:0])
			for _, c := range a.topBuf {
				dst.templates.AddCounter(c)
			}
		}
		src.idx, src.records, src.errors = noBucket, 0, 0
		if g.startIdx == from {
			g.startIdx = into
			g.start = pcommon.NewTimestampFromTime(a.spec.Start(into))
		}
	}
}

// bucketHasRecordsLocked reports whether any group has records in bucket idx.
func (a *aggregator) bucketHasRecordsLocked(idx int64) bool {
	for _, g := range a.groups {
		if b := a.slot(g, idx); b.idx == idx && b.records > 0 {
			return true
		}
	}
	return false
}

// closeThroughLocked closes buckets closedThrough+1 … target.
func (a *aggregator) closeThroughLocked(out *outgoing, target int64, now time.Time, evaluate bool) {
	if target <= a.closedThrough {
		return
	}
	// After a long stall only the buckets still in a window matter; older
	// ones are folded into the totals without data points of their own.
	if keep := int64(a.spec.RingLen()); target-a.closedThrough > keep {
		for c := a.closedThrough + 1; c <= target-keep; c++ {
			a.foldLocked(c)
		}
		a.closedThrough = target - keep
	}
	for c := a.closedThrough + 1; c <= target; c++ {
		a.closeBucketLocked(out, c, now, evaluate)
	}
	a.closedThrough = target
}

func (a *aggregator) newOutgoing() outgoing {
	out := outgoing{built: true, metrics: pmetric.NewMetrics(), logs: plog.NewLogs()}
	if a.metricsNext != nil {
		rm := out.metrics.ResourceMetrics().AppendEmpty()
		a.resource.CopyTo(rm.Resource())
		sm := rm.ScopeMetrics().AppendEmpty()
		sm.Scope().SetName(scopeName)
	}
	if a.logsNext != nil && len(a.rules) > 0 {
		rl := out.logs.ResourceLogs().AppendEmpty()
		a.resource.CopyTo(rl.Resource())
		rl.ScopeLogs().AppendEmpty().Scope().SetName(scopeName)
	}
	return out
}

const scopeName = "github.com/sluicelogs/sluice/connector/errorrateconnector"

// slot returns the ring slot of bucket idx in g.
func (a *aggregator) slot(g *group, idx int64) *bucket {
	n := int64(len(g.ring))
	return &g.ring[((idx%n)+n)%n]
}

// foldLocked moves bucket c of every group into the late counters without a
// close of its own: the next close adds them to the totals and, in delta
// mode, to its delta, which would otherwise never report them.
func (a *aggregator) foldLocked(c int64) {
	for _, g := range a.groups {
		if b := a.slot(g, c); b.idx == c {
			g.lateRecords += b.records
			g.lateErrors += b.errors
		}
	}
}

// closeBucketLocked closes bucket c for every group: it updates the totals
// and appends the data points and alert transitions of the window ending at c.
func (a *aggregator) closeBucketLocked(out *outgoing, c int64, now time.Time, evaluate bool) {
	out.closes++
	end := a.spec.End(c)
	if end.After(now) {
		// A forced close of the open bucket reports no future timestamp.
		end = now
	}
	var ms closeMetrics
	if a.metricsNext != nil {
		sm := out.metrics.ResourceMetrics().At(0).ScopeMetrics().At(0)
		ms.records = a.addSum(sm, a.metricNames.records, "Records seen per group.")
		ms.errors = a.addSum(sm, a.metricNames.errors, "Error records per group.")
		ms.ratio = a.addGauge(sm, a.metricNames.ratio, "Errors divided by records in the window ending at the timestamp.", "1")
		if a.merged != nil {
			ms.templates = a.addGauge(sm, a.metricNames.fingerprint, "Errors per message template (top templates) in the window ending at the timestamp.", "{records}")
		}
		a.closeGroups(out, c, evaluate, end, &ms)
		sm.Metrics().RemoveIf(func(m pmetric.Metric) bool { return dataPoints(m) == 0 })
		return
	}
	a.closeGroups(out, c, evaluate, end, nil)
}

// closeMetrics are the metrics one close appends data points to.
type closeMetrics struct {
	records, errors, ratio, templates pmetric.Metric
}

func dataPoints(m pmetric.Metric) int {
	switch m.Type() {
	case pmetric.MetricTypeSum:
		return m.Sum().DataPoints().Len()
	case pmetric.MetricTypeGauge:
		return m.Gauge().DataPoints().Len()
	}
	return 0
}

func (a *aggregator) addGauge(sm pmetric.ScopeMetrics, name, desc, unit string) pmetric.Metric {
	m := sm.Metrics().AppendEmpty()
	m.SetName(name)
	m.SetDescription(desc)
	m.SetUnit(unit)
	m.SetEmptyGauge()
	return m
}

func (a *aggregator) addSum(sm pmetric.ScopeMetrics, name, desc string) pmetric.Metric {
	m := sm.Metrics().AppendEmpty()
	m.SetName(name)
	m.SetDescription(desc)
	m.SetUnit("{records}")
	s := m.SetEmptySum()
	s.SetIsMonotonic(true)
	if a.cumulative {
		s.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	} else {
		s.SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
	}
	return m
}

func (a *aggregator) closeGroups(out *outgoing, c int64, evaluate bool, end time.Time, ms *closeMetrics) {
	endTS := pcommon.NewTimestampFromTime(end)
	winStart := a.spec.WindowStart(c)
	stepStart := pcommon.NewTimestampFromTime(a.spec.Start(c))
	winStartTS := pcommon.NewTimestampFromTime(winStart)
	for _, g := range a.groups {
		// Totals and delta for the step that just closed.
		var stepRecords, stepErrors uint64
		if b := a.slot(g, c); b.idx == c {
			stepRecords, stepErrors = b.records, b.errors
		}
		stepRecords += g.lateRecords
		stepErrors += g.lateErrors
		g.lateRecords, g.lateErrors = 0, 0
		g.totalRecords += stepRecords
		g.totalErrors += stepErrors
		if g.start >= endTS {
			// The group was created by a record in a later bucket: it has no
			// series yet at this close.
			continue
		}
		// Window sums over the last Buckets() steps.
		var winRecords, winErrors uint64
		if a.merged != nil {
			a.merged.Reset()
		}
		for i := c - int64(a.spec.Buckets()) + 1; i <= c; i++ {
			b := a.slot(g, i)
			if b.idx != i {
				continue
			}
			winRecords += b.records
			winErrors += b.errors
			if a.merged != nil && b.templates != nil {
				for _, ctr := range b.templates.Top(b.templates.Len(), a.topBuf[:0]) {
					a.merged.AddCounter(ctr)
				}
			}
		}
		var top []topk.Counter
		if a.merged != nil && winErrors > 0 {
			a.topBuf = a.merged.Top(a.cfg.Fingerprints.TopN, a.topBuf[:0])
			top = a.topBuf
		}
		if ms != nil {
			a.appendCount(ms.records, g, stepStart, endTS, g.totalRecords, stepRecords)
			a.appendCount(ms.errors, g, stepStart, endTS, g.totalErrors, stepErrors)
			if winRecords > 0 {
				dp := ms.ratio.Gauge().DataPoints().AppendEmpty()
				a.putGroupAttrs(dp.Attributes(), g)
				dp.SetStartTimestamp(winStartTS)
				dp.SetTimestamp(endTS)
				dp.SetDoubleValue(float64(winErrors) / float64(winRecords))
			}
			if a.merged != nil {
				for _, t := range top {
					dp := ms.templates.Gauge().DataPoints().AppendEmpty()
					a.putGroupAttrs(dp.Attributes(), g)
					dp.Attributes().PutStr("error.fingerprint", t.Key)
					dp.SetStartTimestamp(winStartTS)
					dp.SetTimestamp(endTS)
					dp.SetIntValue(int64(t.Count - t.Overcount))
				}
			}
		}
		if evaluate && a.logsNext != nil {
			for r := range a.rules {
				rule := &a.rules[r]
				switch g.alerts[r].Observe(rule, rule.Breaches(winRecords, winErrors)) {
				case alert.Fired:
					out.fired++
					a.appendAlert(out.logs, rule, g, "firing", winStart, endTS, winRecords, winErrors, top)
				case alert.Resolved:
					out.resolve++
					a.appendAlert(out.logs, rule, g, "resolved", winStart, endTS, winRecords, winErrors, top)
				}
			}
		}
	}
}

func (a *aggregator) appendCount(m pmetric.Metric, g *group, stepStart, endTS pcommon.Timestamp, total, step uint64) {
	dp := m.Sum().DataPoints().AppendEmpty()
	a.putGroupAttrs(dp.Attributes(), g)
	dp.SetTimestamp(endTS)
	if a.cumulative {
		dp.SetStartTimestamp(g.start)
		dp.SetIntValue(int64(total))
		return
	}
	dp.SetStartTimestamp(stepStart)
	dp.SetIntValue(int64(step))
}

// putGroupAttrs writes the group's attributes (or the overflow marker).
func (a *aggregator) putGroupAttrs(m pcommon.Map, g *group) {
	m.EnsureCapacity(len(g.values) + 1)
	m.PutStr("sluice.signal", a.signal)
	if g.overflow {
		m.PutBool("otel.metric.overflow", true)
		return
	}
	for i, v := range g.values {
		if v.Type() != pcommon.ValueTypeEmpty {
			v.CopyTo(m.PutEmpty(a.cfg.GroupBy[i]))
		}
	}
}

// expireLocked forgets idle groups without a firing alert whose records
// have all been reported.
func (a *aggregator) expireLocked(out *outgoing, now time.Time) {
	cutoff := now.Add(-a.cfg.GroupExpiry).UnixNano()
	for k, g := range a.groups {
		if g.lastSeen < cutoff && !g.firing() && !a.unreportedLocked(g) {
			delete(a.groups, k)
			out.expired++
		}
	}
}

// unreportedLocked reports whether g has records in a window not closed yet:
// lastSeen is arrival time, so with event time and a long allowed_lateness a
// group can look idle while its records still wait in open steps.
func (a *aggregator) unreportedLocked(g *group) bool {
	if g.lateRecords > 0 {
		return true
	}
	// The next close's window starts at this bucket.
	first := a.closedThrough + 2 - int64(a.spec.Buckets())
	for i := range g.ring {
		if g.ring[i].idx >= first && g.ring[i].records > 0 {
			return true
		}
	}
	return false
}

// appendAlert adds one sluice.alert event.
func (a *aggregator) appendAlert(ld plog.Logs, rule *alert.Rule, g *group, state string, winStart time.Time, endTS pcommon.Timestamp, records, errs uint64, top []topk.Counter) {
	lr := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().AppendEmpty()
	lr.SetEventName("sluice.alert")
	lr.SetTimestamp(endTS)
	lr.SetObservedTimestamp(pcommon.NewTimestampFromTime(a.clock.Now()))
	if state == "firing" {
		lr.SetSeverityNumber(plog.SeverityNumberWarn)
		lr.SetSeverityText("WARN")
	} else {
		lr.SetSeverityNumber(plog.SeverityNumberInfo)
		lr.SetSeverityText("INFO")
	}
	ratio := 0.0
	if records > 0 {
		ratio = float64(errs) / float64(records)
	}
	attrs := lr.Attributes()
	a.putGroupAttrs(attrs, g)
	attrs.PutStr("sluice.alert.rule", rule.Name)
	attrs.PutStr("sluice.alert.state", state)
	attrs.PutDouble("sluice.alert.ratio", ratio)
	attrs.PutInt("sluice.alert.errors", int64(errs))
	attrs.PutInt("sluice.alert.records", int64(records))
	attrs.PutStr("sluice.alert.window.start", winStart.UTC().Format(time.RFC3339Nano))
	attrs.PutStr("sluice.alert.window.end", endTS.AsTime().UTC().Format(time.RFC3339Nano))
	if rule.RatioThreshold > 0 {
		attrs.PutDouble("sluice.alert.threshold.ratio", rule.RatioThreshold)
	}
	if rule.ErrorsThreshold > 0 {
		attrs.PutInt("sluice.alert.threshold.errors", int64(rule.ErrorsThreshold))
	}
	attrs.PutInt("sluice.alert.min_records", int64(rule.MinRecords))
	fps := attrs.PutEmptySlice("sluice.alert.fingerprints")
	for _, t := range top {
		m := fps.AppendEmpty().SetEmptyMap()
		m.PutStr("template", t.Key)
		m.PutInt("count", int64(t.Count-t.Overcount))
	}
	lr.Body().SetStr(fmt.Sprintf("error_rate rule %s %s for %s: %.2f%% errors (%d of %d) in window %s – %s",
		rule.Name, state, a.describeGroup(g), 100*ratio, errs, records,
		winStart.UTC().Format(time.RFC3339), endTS.AsTime().UTC().Format(time.RFC3339)))
}

func (a *aggregator) describeGroup(g *group) string {
	if g.overflow {
		return "overflow group"
	}
	var b []byte
	for i, v := range g.values {
		if v.Type() == pcommon.ValueTypeEmpty {
			continue
		}
		if len(b) > 0 {
			b = append(b, ',')
		}
		b = append(b, a.cfg.GroupBy[i]...)
		b = append(b, '=')
		b = append(b, v.AsString()...)
	}
	if len(b) == 0 {
		return "records without " + fmt.Sprint(a.cfg.GroupBy)
	}
	return string(b)
}

// resourceGroup caches the group of records whose group_by values all come
// from their resource (the common case: service.name), so that most records
// skip key building and the map lookup. Valid for one resource and scope.
type resourceGroup struct {
	g          *group
	overflowed bool
}

// groupLocked returns the group of a record whose group_by values are looked
// up in attrs, then scope, then resource. overflowed reports a record sent to
// the overflow group.
func (a *aggregator) groupLocked(attrs, scope, resource pcommon.Map, idx, nowNanos int64, cache *resourceGroup) (g *group, overflowed bool) {
	fromResource := true
	for _, k := range a.cfg.GroupBy {
		// Get is called directly so that the common absent key costs no
		// more per record than before (get does not inline).
		if v, ok := attrs.Get(k); ok && !emptyStr(v) {
			fromResource = false
			break
		}
		if v, ok := scope.Get(k); ok && !emptyStr(v) {
			fromResource = false
			break
		}
	}
	if fromResource && cache.g != nil {
		return cache.g, cache.overflowed
	}
	g, overflowed = a.lookupGroupLocked(attrs, scope, resource, idx, nowNanos)
	if fromResource {
		cache.g, cache.overflowed = g, overflowed
	}
	return g, overflowed
}

func (a *aggregator) lookupGroupLocked(attrs, scope, resource pcommon.Map, idx, nowNanos int64) (g *group, overflowed bool) {
	key := a.keyBuf[:0]
	for _, k := range a.cfg.GroupBy {
		v, ok := lookup(k, attrs, scope, resource)
		if !ok {
			key = append(key, 0)
			continue
		}
		key = append(key, 1)
		key = appendValue(key, v)
	}
	a.keyBuf = key
	if g = a.groups[string(key)]; g != nil {
		return g, false
	}
	over := a.groups[overflowKey]
	regular := len(a.groups)
	if over != nil {
		regular--
	}
	if regular >= a.cfg.MaxGroups {
		// The overflow group comes on top of max_groups.
		if over == nil {
			over = a.newGroup(overflowKey, nil, idx, nowNanos)
			over.overflow = true
		}
		return over, true
	}
	values := make([]pcommon.Value, len(a.cfg.GroupBy))
	for i, k := range a.cfg.GroupBy {
		values[i] = pcommon.NewValueEmpty()
		if v, ok := lookup(k, attrs, scope, resource); ok {
			v.CopyTo(values[i])
		}
	}
	return a.newGroup(string(key), values, idx, nowNanos), false
}

// overflowKey cannot collide with an encoded key, which starts with 0 or 1.
const overflowKey = "\xffoverflow"

func (a *aggregator) newGroup(key string, values []pcommon.Value, idx, nowNanos int64) *group {
	// A group born from a late record starts with the next close, not in the past.
	startIdx := max(idx, a.closedThrough+1)
	g := &group{
		key:      key,
		values:   values,
		start:    pcommon.NewTimestampFromTime(a.spec.Start(startIdx)),
		startIdx: startIdx,
		lastSeen: nowNanos,
		ring:     make([]bucket, a.spec.RingLen()),
		alerts:   make([]alert.State, len(a.rules)),
	}
	for i := range g.ring {
		g.ring[i].idx = noBucket
	}
	a.groups[key] = g
	a.telemetry.ConnectorErrorRateGroups.Add(context.Background(), 1, a.signalOpt)
	return g
}

// lookup finds key in the record's attributes, then its scope's, then its resource's.
func lookup(key string, attrs, scope, resource pcommon.Map) (pcommon.Value, bool) {
	if v, ok := get(attrs, key); ok {
		return v, true
	}
	if v, ok := get(scope, key); ok {
		return v, true
	}
	return get(resource, key)
}

// get treats an empty string as missing: Prometheus drops empty labels, so
// "" and absent would be two groups writing one series.
func get(m pcommon.Map, key string) (pcommon.Value, bool) {
	v, ok := m.Get(key)
	return v, ok && !emptyStr(v)
}

func emptyStr(v pcommon.Value) bool { return v.Type() == pcommon.ValueTypeStr && v.Str() == "" }

// appendValue appends a length-prefixed encoding of v (no allocation for
// strings, ints, doubles and bools).
func appendValue(dst []byte, v pcommon.Value) []byte {
	var tmp [32]byte
	var b []byte
	switch v.Type() {
	case pcommon.ValueTypeStr:
		s := v.Str()
		dst = binary.AppendUvarint(dst, uint64(len(s)))
		return append(dst, s...)
	case pcommon.ValueTypeInt:
		b = strconv.AppendInt(tmp[:0], v.Int(), 10)
	case pcommon.ValueTypeDouble:
		b = strconv.AppendFloat(tmp[:0], v.Double(), 'g', -1, 64)
	case pcommon.ValueTypeBool:
		b = strconv.AppendBool(tmp[:0], v.Bool())
	default:
		b = []byte(v.AsString())
	}
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

// addLocked counts one record in group g at bucket idx. It reports whether
// the record was late. msg is only read for errors.
func (a *aggregator) addLocked(g *group, idx int64, isError bool, msg string) (late bool) {
	if idx <= a.closedThrough {
		if isError {
			g.lateErrors++
		}
		g.lateRecords++
		return true
	}
	if idx < g.startIdx {
		// An out-of-order first record in an earlier open step: the series
		// starts there, so that step's window is reported for the group. No
		// point has been emitted yet, as no close reached startIdx.
		g.startIdx = idx
		g.start = pcommon.NewTimestampFromTime(a.spec.Start(idx))
	}
	b := a.slot(g, idx)
	if b.idx != idx {
		b.idx, b.records, b.errors = idx, 0, 0
		if b.templates != nil {
			b.templates.Reset()
		}
	}
	b.records++
	if !isError {
		return false
	}
	b.errors++
	if a.templater != nil {
		if b.templates == nil {
			b.templates = topk.New(a.cfg.Fingerprints.Tracked)
		}
		tpl := a.templater.Template(msg)
		b.templates.Add(hashBytes(tpl), tpl, 1)
	}
	return false
}

// hashBytes is FNV-1a, inlined to avoid a hash.Hash allocation per record.
func hashBytes(b []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h
}

// bucketFor returns the bucket of a record with event time tsNanos (0 when
// unknown), clamped so that clock skew cannot open buckets in the future.
func (a *aggregator) bucketFor(tsNanos, nowIdx int64) int64 {
	if !a.eventTime || tsNanos == 0 {
		return nowIdx
	}
	return min(a.spec.BucketOf(tsNanos), nowIdx)
}
