package errorrateconnector // import "github.com/sluicelogs/sluice/connector/errorrateconnector"

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/sluicelogs/sluice/connector/errorrateconnector/internal/metadata"
)

// maxPendingOutputs bounds, per output, the window closes waiting for a
// blocked next consumer (e.g. an exporter with wait_for_result retrying an
// outage); beyond it the oldest is dropped and counted, so memory stays
// bounded.
const maxPendingOutputs = 100

// Outputs, as the self-metrics' output attribute names them.
const (
	outputMetrics = "metrics"
	outputLogs    = "logs"
)

// queued is one close's batch for one output.
type queued[T any] struct {
	data T
	// final marks Shutdown's flush, whose send error Shutdown returns.
	final bool
}

// sender delivers one output's batches in close order from a bounded queue
// on a goroutine of its own, so that a blocked consumer of one output (say
// the alerts exporter) never delays the other. Its context is not derived
// from any request: a cancelled client or its metadata must not decide the
// fate of everyone's windows.
type sender[T any] struct {
	output    string
	signal    string
	consume   func(context.Context, T) error
	logger    *zap.Logger
	telemetry *metadata.TelemetryBuilder
	opt       metric.MeasurementOption // signal and output

	ctx       context.Context
	cancel    context.CancelFunc
	wake      chan struct{}
	stop      chan struct{}
	done      chan struct{}
	startOnce sync.Once
	stopOnce  sync.Once
	finalErr  error // set by the loop, read after done

	mu      sync.Mutex
	queue   []queued[T]
	pending int // queued or being sent
}

func newSender[T any](output, signal string, consume func(context.Context, T) error, logger *zap.Logger, tb *metadata.TelemetryBuilder, opt metric.MeasurementOption) *sender[T] {
	s := &sender[T]{
		output:    output,
		signal:    signal,
		consume:   consume,
		logger:    logger,
		telemetry: tb,
		opt:       opt,
		wake:      make(chan struct{}, 1),
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s
}

// start launches the loop once.
func (s *sender[T]) start() {
	s.startOnce.Do(func() { go s.loop() })
}

// enqueue adds a batch without blocking: ingest must not wait for downstream.
// Callers hold the aggregator's lock, so batches queue in close order.
func (s *sender[T]) enqueue(data T, final bool) {
	s.mu.Lock()
	if len(s.queue) >= maxPendingOutputs {
		s.queue[0] = queued[T]{}
		s.queue = s.queue[1:]
		s.pending--
		s.dropped("the next consumer is blocked")
	}
	s.queue = append(s.queue, queued[T]{data: data, final: final})
	s.pending++
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *sender[T]) dequeue() (queued[T], bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queue) == 0 {
		return queued[T]{}, false
	}
	q := s.queue[0]
	s.queue[0] = queued[T]{}
	s.queue = s.queue[1:]
	return q, true
}

// pendingBatches is the number of batches queued or being sent.
func (s *sender[T]) pendingBatches() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pending
}

// loop sends the queue in order and exits once stop is closed and the queue
// is empty; after ctx is cancelled (Shutdown deadline) it drops what is left.
func (s *sender[T]) loop() {
	defer close(s.done)
	stopping := false
	for {
		q, ok := s.dequeue()
		if !ok {
			if stopping {
				return
			}
			select {
			case <-s.wake:
			case <-s.stop:
				stopping = true
			}
			continue
		}
		if s.ctx.Err() != nil {
			s.dropped("the Shutdown deadline passed")
		} else if err := s.send(q.data); q.final {
			s.finalErr = err
		}
		s.mu.Lock()
		s.pending--
		s.mu.Unlock()
	}
}

// send delivers one batch; a failure is counted and logged because the
// window cannot be re-sent (its state has moved on).
func (s *sender[T]) send(data T) error {
	err := s.consume(s.ctx, data)
	if err == nil {
		return nil
	}
	s.telemetry.ConnectorErrorRateEmitFailures.Add(context.Background(), 1, s.opt)
	s.logger.Warn("error_rate output refused by the next consumer",
		zap.String("signal", s.signal), zap.String("output", s.output), zap.Error(err))
	return fmt.Errorf("send error_rate %s: %w", s.output, err)
}

func (s *sender[T]) dropped(why string) {
	s.telemetry.ConnectorErrorRateEmitDropped.Add(context.Background(), 1, s.opt)
	s.logger.Warn("error_rate window output dropped unsent: "+why,
		zap.String("signal", s.signal), zap.String("output", s.output), zap.Int("max_pending", maxPendingOutputs))
}

// finish tells the loop to exit once its queue is empty and waits for that
// or ctx; at the deadline it cancels the send in flight, after which the
// loop drops the rest. It returns the final batch's send error or ctx's.
func (s *sender[T]) finish(ctx context.Context) error {
	s.stopOnce.Do(func() { close(s.stop) })
	select {
	case <-s.done:
		return s.finalErr
	case <-ctx.Done():
		s.cancel()
		return ctx.Err()
	}
}

// senders are the aggregator's two outputs.
type senders struct {
	metrics *sender[pmetric.Metrics]
	logs    *sender[alertBatch]
}

// alertBatch is one close's alert events and, with storage, the alert state
// after them.
type alertBatch struct {
	logs  plog.Logs
	state []byte
}

func (ss senders) start() {
	ss.metrics.start()
	ss.logs.start()
}

// finish drains both outputs concurrently within ctx's deadline, so that a
// blocked output leaves the other its full share of the deadline.
func (ss senders) finish(ctx context.Context) error {
	logsDone := make(chan error, 1)
	go func() { logsDone <- ss.logs.finish(ctx) }()
	metricsErr := ss.metrics.finish(ctx)
	logsErr := <-logsDone
	if err := ctx.Err(); err != nil && (errors.Is(metricsErr, err) || errors.Is(logsErr, err)) {
		// Both may report the deadline; say it once.
		return err
	}
	return errors.Join(metricsErr, logsErr)
}

func (ss senders) pendingBatches() int {
	return ss.metrics.pendingBatches() + ss.logs.pendingBatches()
}

// enqueueLocked hands a close's output to the senders and records its
// self-metrics. It runs under a.mu, so batches queue in close order.
func (a *aggregator) enqueueLocked(out outgoing) {
	if !out.built {
		return
	}
	a.record(out)
	if a.metricsNext != nil && out.metrics.DataPointCount() > 0 {
		a.senders.metrics.enqueue(out.metrics, out.final)
	}
	if a.logsNext != nil && out.logs.LogRecordCount() > 0 {
		b := alertBatch{logs: out.logs}
		if a.store != nil && out.fired+out.resolve > 0 {
			b.state = a.alertStateLocked()
		}
		a.senders.logs.enqueue(b, out.final)
	}
}

// sendAlerts delivers alert events, then saves the state they leave: a crash
// in between sends an event twice rather than never.
func (a *aggregator) sendAlerts(ctx context.Context, b alertBatch) error {
	err := a.logsNext.ConsumeLogs(ctx, b.logs)
	if b.state != nil {
		if saveErr := a.store.save(ctx, b.state); saveErr != nil {
			a.telemetry.ConnectorErrorRateAlertStateSaveFailures.Add(context.Background(), 1, a.signalOpt)
			a.logger.Warn("error_rate: alert state not saved; a restart may fire or resolve again",
				zap.String("signal", a.signal), zap.Error(saveErr))
		}
	}
	return err
}

// pendingOutputs is the number of batches queued or being sent.
func (a *aggregator) pendingOutputs() int {
	return a.senders.pendingBatches()
}

// record updates the self-metrics of one close when it is handed over: a
// close counts once however many outputs it has and whether they are sent.
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
