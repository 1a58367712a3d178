package errorrateconnector // import "github.com/sluicelogs/sluice/connector/errorrateconnector"

import (
	"context"
	"fmt"

	"go.uber.org/zap"
)

// maxPendingOutputs bounds the window closes waiting for a blocked next
// consumer (e.g. an exporter with wait_for_result retrying an outage); beyond
// it the oldest is dropped and counted, so memory stays bounded.
const maxPendingOutputs = 100

// enqueueLocked hands a close's output to the sender. It runs under a.mu, so
// outputs are queued in close order, and it never blocks: ingest must not
// wait for downstream.
func (a *aggregator) enqueueLocked(out outgoing) {
	if !out.built {
		return
	}
	a.qmu.Lock()
	if len(a.queue) >= maxPendingOutputs {
		a.drop(a.queue[0])
		a.queue[0] = outgoing{}
		a.queue = a.queue[1:]
		a.pending--
	}
	a.queue = append(a.queue, out)
	a.pending++
	a.qmu.Unlock()
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// dequeue pops the oldest output.
func (a *aggregator) dequeue() (outgoing, bool) {
	a.qmu.Lock()
	defer a.qmu.Unlock()
	if len(a.queue) == 0 {
		return outgoing{}, false
	}
	out := a.queue[0]
	a.queue[0] = outgoing{}
	a.queue = a.queue[1:]
	return out, true
}

// pendingOutputs is the number of outputs queued or being sent.
func (a *aggregator) pendingOutputs() int {
	a.qmu.Lock()
	defer a.qmu.Unlock()
	return a.pending
}

// sendLoop is the only goroutine that calls the next consumers. Its context
// is not derived from any request: a cancelled client or its metadata must
// not decide the fate of everyone's windows. It drains the queue and exits
// once sendStop is closed; after sendCtx is cancelled (Shutdown deadline) it
// drops what is left.
func (a *aggregator) sendLoop() {
	defer close(a.sendDone)
	stopping := false
	for {
		out, ok := a.dequeue()
		if !ok {
			if stopping {
				return
			}
			select {
			case <-a.wake:
			case <-a.sendStop:
				stopping = true
			}
			continue
		}
		if a.sendCtx.Err() != nil {
			a.drop(out)
		} else if err := a.send(a.sendCtx, out); out.final {
			a.flushErr = err
		}
		a.qmu.Lock()
		a.pending--
		a.qmu.Unlock()
	}
}

// drop records what an unsent output would have counted.
func (a *aggregator) drop(out outgoing) {
	a.record(out)
	a.telemetry.ConnectorErrorRateEmitDropped.Add(context.Background(), 1, a.signalOpt)
	a.logger.Warn("error_rate window output dropped unsent: the next consumer is blocked",
		zap.String("signal", a.signal), zap.Int("max_pending", maxPendingOutputs))
}

// record updates the self-metrics of one close.
func (a *aggregator) record(out outgoing) {
	tb, ctx := a.telemetry, context.Background()
	if out.closes > 0 {
		tb.ConnectorErrorRateWindowsClosed.Add(ctx, out.closes, a.signalOpt)
	}
	if out.expired > 0 {
		tb.ConnectorErrorRateGroupsExpired.Add(ctx, out.expired, a.signalOpt)
		tb.ConnectorErrorRateGroups.Add(ctx, -out.expired, a.signalOpt)
	}
	if out.fired > 0 {
		tb.ConnectorErrorRateAlertsFired.Add(ctx, out.fired, a.signalOpt)
	}
	if out.resolve > 0 {
		tb.ConnectorErrorRateAlertsResolved.Add(ctx, out.resolve, a.signalOpt)
	}
}

// send delivers what a close produced; failures are counted and logged
// because the window cannot be re-sent (its state has moved on).
func (a *aggregator) send(ctx context.Context, out outgoing) error {
	a.record(out)
	tb := a.telemetry
	var firstErr error
	if a.metricsNext != nil && out.metrics.DataPointCount() > 0 {
		if err := a.metricsNext.ConsumeMetrics(ctx, out.metrics); err != nil {
			tb.ConnectorErrorRateEmitFailures.Add(context.Background(), 1, a.metricsOpt)
			a.logger.Warn("error_rate metrics refused by the next consumer", zap.String("signal", a.signal), zap.Error(err))
			firstErr = fmt.Errorf("send error_rate metrics: %w", err)
		}
	}
	if a.logsNext != nil && out.logs.LogRecordCount() > 0 {
		if err := a.logsNext.ConsumeLogs(ctx, out.logs); err != nil {
			tb.ConnectorErrorRateEmitFailures.Add(context.Background(), 1, a.logsOpt)
			a.logger.Warn("error_rate alert events refused by the next consumer", zap.String("signal", a.signal), zap.Error(err))
			if firstErr == nil {
				firstErr = fmt.Errorf("send error_rate alert events: %w", err)
			}
		}
	}
	return firstErr
}
