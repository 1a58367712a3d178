package errorrateconnector // import "github.com/sluicelogs/sluice/connector/errorrateconnector"

import (
	"context"
	"errors"

	"go.opentelemetry.io/collector/consumer/consumererror"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// batchState is what counting one batch needs besides the records.
type batchState struct {
	nowNanos, nowIdx int64
	seen, errors     int64
	late, overflow   int64
}

// errShutdown refuses batches that arrive after Shutdown's final flush: their
// steps would never close.
var errShutdown = consumererror.NewPermanent(errors.New("error_rate connector is shut down"))

// consumeBatch runs count under the lock. Windows that became due are closed
// first (so a group's ring never wraps onto an open step, even when the
// ticker lags); what they produce goes to the sender, never sent from here.
func (a *aggregator) consumeBatch(ctx context.Context, count func(b *batchState)) error {
	now := a.clock.Now()
	b := batchState{nowNanos: now.UnixNano(), nowIdx: a.spec.Bucket(now)}
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return errShutdown
	}
	a.enqueueLocked(a.closeDueLocked(now))
	// The clock was read before the lock: a close in between must not make
	// this batch's current records late.
	b.nowIdx = max(b.nowIdx, a.closedThrough+1)
	count(&b)
	a.mu.Unlock()
	a.report(ctx, &b)
	return nil
}

// countLocked counts one record with event time ts (0 when unknown).
func (a *aggregator) countLocked(b *batchState, attrs, scope, resource pcommon.Map, ts pcommon.Timestamp, isErr bool, msg string, cache *resourceGroup) {
	idx := a.bucketFor(int64(ts), b.nowIdx)
	g, overflowed := a.groupLocked(attrs, scope, resource, idx, b.nowNanos, cache)
	g.lastSeen = b.nowNanos
	b.seen++
	if a.addLocked(g, idx, isErr, msg) {
		b.late++
	}
	if isErr {
		b.errors++
	}
	if overflowed {
		b.overflow++
	}
}

// consumeLogs counts a batch of log records; a record's event time is its
// timestamp, else its observed timestamp.
func (a *aggregator) consumeLogs(ctx context.Context, ld plog.Logs) error {
	return a.consumeBatch(ctx, func(b *batchState) {
		for i, rls := 0, ld.ResourceLogs(); i < rls.Len(); i++ {
			rl := rls.At(i)
			res := rl.Resource().Attributes()
			for j, sls := 0, rl.ScopeLogs(); j < sls.Len(); j++ {
				sl := sls.At(j)
				scope := sl.Scope().Attributes()
				var cache resourceGroup
				for k, lrs := 0, sl.LogRecords(); k < lrs.Len(); k++ {
					lr := lrs.At(k)
					isErr := a.logIsError(lr, res)
					ts := lr.Timestamp()
					if ts == 0 {
						ts = lr.ObservedTimestamp()
					}
					var msg string
					if isErr && a.templater != nil {
						msg = a.logMessage(lr)
					}
					a.countLocked(b, lr.Attributes(), scope, res, ts, isErr, msg, &cache)
				}
			}
		}
	})
}

// consumeTraces counts a batch of spans; a span's event time is its end.
func (a *aggregator) consumeTraces(ctx context.Context, td ptrace.Traces) error {
	return a.consumeBatch(ctx, func(b *batchState) {
		for i, rss := 0, td.ResourceSpans(); i < rss.Len(); i++ {
			rs := rss.At(i)
			res := rs.Resource().Attributes()
			for j, sss := 0, rs.ScopeSpans(); j < sss.Len(); j++ {
				ss := sss.At(j)
				scope := ss.Scope().Attributes()
				var cache resourceGroup
				for k, spans := 0, ss.Spans(); k < spans.Len(); k++ {
					span := spans.At(k)
					isErr := a.spanIsError(span, res)
					ts := span.EndTimestamp()
					if ts == 0 {
						ts = span.StartTimestamp()
					}
					var msg string
					if isErr && a.templater != nil {
						msg = a.spanMessage(span)
					}
					a.countLocked(b, span.Attributes(), scope, res, ts, isErr, msg, &cache)
				}
			}
		}
	})
}

func (a *aggregator) report(ctx context.Context, b *batchState) {
	tb := a.telemetry
	if b.seen > 0 {
		tb.ConnectorErrorRateRecords.Add(ctx, b.seen, a.signalOpt)
	}
	if b.errors > 0 {
		tb.ConnectorErrorRateErrors.Add(ctx, b.errors, a.signalOpt)
	}
	if b.late > 0 {
		tb.ConnectorErrorRateLateRecords.Add(ctx, b.late, a.signalOpt)
	}
	if b.overflow > 0 {
		tb.ConnectorErrorRateOverflowRecords.Add(ctx, b.overflow, a.signalOpt)
	}
}
