package kafkagroupreceiver // import "github.com/sluicelogs/sluice/receiver/kafkagroupreceiver"

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receiverhelper"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/sluicelogs/sluice/internal/ack"
	"github.com/sluicelogs/sluice/receiver/kafkagroupreceiver/internal/metadata"
)

const transport = "kafka"

var (
	logsAttrs   = metric.WithAttributeSet(attribute.NewSet(attribute.String("signal", SignalLogs)))
	tracesAttrs = metric.WithAttributeSet(attribute.NewSet(attribute.String("signal", SignalTraces)))
)

func reasonAttr(r string) metric.MeasurementOption {
	return metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", r)))
}

// pipelineHandle is what one pipeline holds of the shared group member.
type pipelineHandle struct {
	r            *groupReceiver
	release      func() (last bool)
	shutdownOnce sync.Once
	shutdownErr  error
}

func (h *pipelineHandle) Start(ctx context.Context, host component.Host) error {
	return h.r.start(ctx, host)
}

// Shutdown stops the member when the last pipeline using it shuts down.
func (h *pipelineHandle) Shutdown(ctx context.Context) error {
	h.shutdownOnce.Do(func() {
		if h.release() {
			h.shutdownErr = h.r.shutdown(ctx)
		}
	})
	return h.shutdownErr
}

// groupReceiver is one consumer-group member feeding the logs and traces
// pipelines.
type groupReceiver struct {
	cfg    *Config
	set    receiver.Settings
	tel    *metadata.TelemetryBuilder
	obs    *receiverhelper.ObsReport
	logs   consumer.Logs
	traces consumer.Traces

	startOnce  sync.Once
	stopOnce   sync.Once
	client     *kgo.Client
	tracker    *tracker
	cancel     context.CancelFunc
	done       chan struct{}
	host       component.Host
	lastCommit time.Time
	// rebalanceWanted is set when a rebalance waits for this member to
	// finish its poll (the client's OnPartitionsCallbackBlocked) and
	// cleared when the loop allows it; rebalanceWake wakes a retry wait.
	rebalanceWanted atomic.Bool
	rebalanceWake   chan struct{}
}

func newGroupReceiver(cfg *Config, set receiver.Settings) (*groupReceiver, error) {
	tel, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, fmt.Errorf("kafka_group telemetry: %w", err)
	}
	obs, err := receiverhelper.NewObsReport(receiverhelper.ObsReportSettings{
		ReceiverID: set.ID, Transport: transport, ReceiverCreateSettings: set, LongLivedCtx: true,
	})
	if err != nil {
		tel.Shutdown()
		return nil, fmt.Errorf("kafka_group obsreport: %w", err)
	}
	r := &groupReceiver{cfg: cfg, set: set, tel: tel, obs: obs, rebalanceWake: make(chan struct{}, 1)}
	r.tracker = newTracker(func() { tel.KafkaGroupBatchesFailed.Add(context.Background(), 1) })
	return r, nil
}

func (r *groupReceiver) setLogs(next consumer.Logs)     { r.logs = next }
func (r *groupReceiver) setTraces(next consumer.Traces) { r.traces = next }

// start creates the client and the consume loop; it never blocks on the
// brokers (the client connects in the background).
func (r *groupReceiver) start(_ context.Context, host component.Host) error {
	var err error
	r.startOnce.Do(func() {
		brokers := r.cfg.SeedBrokers()
		if len(brokers) == 0 {
			r.set.Logger.Info("kafka_group: no brokers configured; not consuming")
			return
		}
		reset := kgo.NewOffset().AtStart()
		if r.cfg.InitialOffset == OffsetLatest {
			reset = kgo.NewOffset().AtEnd()
		}
		opts := []kgo.Opt{
			kgo.SeedBrokers(brokers...),
			kgo.ClientID(r.cfg.ClientID),
			kgo.ConsumerGroup(r.cfg.GroupID),
			kgo.ConsumeTopics(r.cfg.Topic),
			kgo.ConsumeResetOffset(reset),
			kgo.DisableAutoCommit(),
			kgo.BlockRebalanceOnPoll(),
			kgo.Balancers(kgo.CooperativeStickyBalancer()),
			kgo.SessionTimeout(r.cfg.SessionTimeout),
			kgo.HeartbeatInterval(r.cfg.HeartbeatInterval),
			kgo.RebalanceTimeout(r.cfg.RebalanceTimeout),
			kgo.OnPartitionsAssigned(r.onAssigned),
			kgo.OnPartitionsRevoked(r.onRevoked),
			kgo.OnPartitionsLost(r.onLost),
			kgo.OnPartitionsCallbackBlocked(r.onRebalanceBlocked),
			kgo.WithLogger(kgoLogger{r.set.Logger}),
		}
		var cl *kgo.Client
		cl, err = kgo.NewClient(opts...)
		if err != nil {
			err = fmt.Errorf("kafka_group: create client: %w", err)
			return
		}
		r.client = cl
		r.host = host
		ctx, cancel := context.WithCancel(context.Background())
		r.cancel = cancel
		r.done = make(chan struct{})
		r.lastCommit = time.Now()
		go r.consumeLoop(ctx)
	})
	return err
}

// shutdown stops reading, cancels what downstream still holds (it is read
// again by the next owner), commits what is finished and leaves the group.
func (r *groupReceiver) shutdown(ctx context.Context) error {
	r.stopOnce.Do(func() {
		if r.client != nil {
			r.cancel()
			<-r.done
			r.commit(ctx, r.tracker.release(nil))
			r.client.CloseAllowingRebalance()
		}
		r.tel.Shutdown()
	})
	return nil
}

func (r *groupReceiver) onAssigned(_ context.Context, _ *kgo.Client, assigned map[string][]int32) {
	for topic, parts := range assigned {
		r.tracker.assign(topic, parts)
		r.set.Logger.Info("kafka_group: partitions assigned", zap.String("topic", topic), zap.Int32s("partitions", parts))
	}
}

// onRevoked hands partitions over cleanly: what downstream still holds is
// cancelled (the next owner reads it again from the commit position, so a
// request is never judged on part of its records), and what is finished is
// committed before the partitions move.
func (r *groupReceiver) onRevoked(ctx context.Context, _ *kgo.Client, revoked map[string][]int32) {
	for topic, parts := range revoked {
		r.set.Logger.Info("kafka_group: partitions revoked", zap.String("topic", topic), zap.Int32s("partitions", parts))
		r.commit(ctx, r.tracker.release(parts))
	}
}

// onRebalanceBlocked is called (on a goroutine of its own) when a rebalance
// waits for the loop to finish its poll: a batch being retried gives way.
func (r *groupReceiver) onRebalanceBlocked(context.Context, *kgo.Client) {
	r.rebalanceWanted.Store(true)
	select {
	case r.rebalanceWake <- struct{}{}:
	default:
	}
}

// allowRebalance lets a rebalance waiting for this poll go ahead.
func (r *groupReceiver) allowRebalance() {
	r.rebalanceWanted.Store(false)
	// A wake-up left from a rebalance no retry was waiting for must not cut
	// a later retry short.
	select {
	case <-r.rebalanceWake:
	default:
	}
	r.client.AllowRebalance()
}

func (r *groupReceiver) onLost(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
	for topic, parts := range lost {
		r.set.Logger.Warn("kafka_group: partitions lost; their unfinished records are read again by the next owner",
			zap.String("topic", topic), zap.Int32s("partitions", parts))
		r.tracker.release(parts)
	}
}

func (r *groupReceiver) commit(ctx context.Context, offsets map[string]map[int32]kgo.EpochOffset) {
	if len(offsets) == 0 {
		return
	}
	n := 0
	for _, parts := range offsets {
		n += len(parts)
	}
	var commitErr error
	r.client.CommitOffsetsSync(ctx, offsets, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		commitErr = commitError(resp, err)
	})
	if commitErr != nil {
		// The positions stay where they were; they are committed again at the next
		// interval (or the final commit) even if nothing more finishes meanwhile.
		r.set.Logger.Warn("kafka_group: commit failed; trying again at the next commit", zap.Error(commitErr))
		r.tracker.uncommit(offsets)
		return
	}
	r.tel.KafkaGroupOffsetsCommitted.Add(context.Background(), int64(n))
}

func (r *groupReceiver) consumeLoop(ctx context.Context) {
	defer close(r.done)
	for ctx.Err() == nil {
		if rewinds := r.tracker.takeRewinds(); len(rewinds) > 0 {
			set := map[string]map[int32]kgo.EpochOffset{r.cfg.Topic: rewinds}
			r.set.Logger.Warn("kafka_group: downstream failed; reading partitions again from their first unfinished record",
				zap.Any("offsets", rewinds))
			r.client.SetOffsets(set)
		}
		if r.tracker.pendingMessages() >= r.cfg.MaxPendingMessages {
			// Back-pressure: wait for downstream to finish some.
			r.maybeCommit(ctx)
			r.allowRebalance()
			select {
			case <-ctx.Done():
			case <-r.tracker.wake:
			case <-time.After(r.cfg.CommitInterval):
			}
			continue
		}
		pollCtx, cancel := context.WithTimeout(ctx, r.cfg.CommitInterval)
		fetches := r.client.PollRecords(pollCtx, r.cfg.MaxPollRecords)
		cancel()
		if fetches.IsClientClosed() {
			return
		}
		failed := false
		fetches.EachError(func(topic string, partition int32, err error) {
			if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
				return
			}
			failed = true
			r.set.Logger.Warn("kafka_group: fetch error", zap.String("topic", topic), zap.Int32("partition", partition), zap.Error(err))
			componentstatus.ReportStatus(r.host, componentstatus.NewRecoverableErrorEvent(err))
		})
		if failed && fetches.NumRecords() == 0 {
			// Brokers unreachable or the topic missing: errors come back at
			// once, so pause rather than spin and flood the log.
			r.allowRebalance()
			select {
			case <-ctx.Done():
			case <-time.After(r.cfg.RetryOnFailure.InitialInterval):
			}
			continue
		}
		fetches.EachPartition(func(p kgo.FetchTopicPartition) {
			if len(p.Records) > 0 && ctx.Err() == nil {
				r.handlePartition(ctx, p.Partition, p.Records)
			}
		})
		r.maybeCommit(ctx)
		r.allowRebalance()
	}
}

func (r *groupReceiver) maybeCommit(ctx context.Context) {
	if time.Since(r.lastCommit) < r.cfg.CommitInterval {
		return
	}
	r.lastCommit = time.Now()
	r.commit(ctx, r.tracker.uncommitted())
}

// handlePartition decodes one poll's records of a partition and hands them
// downstream as one ack.Batch.
func (r *groupReceiver) handlePartition(ctx context.Context, partition int32, recs []*kgo.Record) {
	f := r.tracker.start(partition, recs[0], recs[len(recs)-1], len(recs))
	if f == nil {
		return // revoked or rewinding since the poll
	}
	r.tel.KafkaGroupPendingMessages.Add(ctx, int64(len(recs)))
	b := ack.NewBatch(func(err error) {
		r.tel.KafkaGroupPendingMessages.Add(context.Background(), -int64(len(recs)))
		r.tracker.finish(f, err)
	})
	f.batch = b

	logs, traces := plog.NewLogs(), ptrace.NewTraces()
	var nLogs, nTraces int64
	for _, rec := range recs {
		signal := r.signalOf(rec)
		switch signal {
		case SignalLogs:
			ld, err := logsUnmarshaler.UnmarshalLogs(rec.Value)
			if err != nil {
				r.deadLetter(rec, "undecodable", err)
				continue
			}
			nLogs++
			ld.ResourceLogs().MoveAndAppendTo(logs.ResourceLogs())
		case SignalTraces:
			td, err := tracesUnmarshaler.UnmarshalTraces(rec.Value)
			if err != nil {
				r.deadLetter(rec, "undecodable", err)
				continue
			}
			nTraces++
			td.ResourceSpans().MoveAndAppendTo(traces.ResourceSpans())
		default:
			r.deadLetter(rec, "unknown_signal", fmt.Errorf("signal %q", signal))
		}
	}
	r.hand(ctx, b, nLogs, logs.LogRecordCount(), logsAttrs, func(c context.Context, n int) error {
		if r.logs == nil {
			return consumererror.NewPermanent(errors.New("no logs pipeline uses this receiver"))
		}
		obsCtx := r.obs.StartLogsOp(c)
		err := r.logs.ConsumeLogs(obsCtx, logs)
		r.obs.EndLogsOp(obsCtx, "otlp_proto", n, err)
		return err
	})
	r.hand(ctx, b, nTraces, traces.SpanCount(), tracesAttrs, func(c context.Context, n int) error {
		if r.traces == nil {
			return consumererror.NewPermanent(errors.New("no traces pipeline uses this receiver"))
		}
		obsCtx := r.obs.StartTracesOp(c)
		err := r.traces.ConsumeTraces(obsCtx, traces)
		r.obs.EndTracesOp(obsCtx, "otlp_proto", n, err)
		return err
	})
	b.Release(nil) // this call's own hold
}

// hand counts one signal's part of a batch and delivers it under its own
// hold on b.
func (r *groupReceiver) hand(ctx context.Context, b *ack.Batch, messages int64, records int, attrs metric.MeasurementOption,
	consume func(context.Context, int) error,
) {
	if messages == 0 {
		return
	}
	r.tel.KafkaGroupMessagesReceived.Add(ctx, messages, attrs)
	if records == 0 {
		return
	}
	r.tel.KafkaGroupRecordsReceived.Add(ctx, int64(records), attrs)
	b.Hold()
	b.Release(r.deliver(ctx, b, messages, records, func(c context.Context) error { return consume(c, records) }))
}

// deliver offers a batch to the pipeline, retrying retryable refusals
// (memory_limiter) with backoff until shutdown. A permanent refusal cannot
// succeed on retry: it is logged, counted as dead-lettered and finished, so
// one poisoned message cannot stall its partition.
func (r *groupReceiver) deliver(ctx context.Context, b *ack.Batch, messages int64, records int, consume func(context.Context) error) error {
	bo := backoff.NewExponentialBackOff()
	bo.InitialInterval = r.cfg.RetryOnFailure.InitialInterval
	bo.MaxInterval = r.cfg.RetryOnFailure.MaxInterval
	bo.Multiplier = r.cfg.RetryOnFailure.Multiplier
	bo.RandomizationFactor = r.cfg.RetryOnFailure.RandomizationFactor
	started := time.Now()
	for {
		err := consume(ack.NewContext(ctx, b))
		switch {
		case err == nil:
			return nil
		case consumererror.IsPermanent(err):
			r.set.Logger.Error("kafka_group: pipeline rejected records permanently; skipping them",
				zap.Int64("messages", messages), zap.Int("records", records), zap.Error(err))
			// Every message of the batch is skipped, not one per batch.
			r.tel.KafkaGroupMessagesDeadLettered.Add(ctx, messages, reasonAttr("rejected"))
			return nil
		case !r.cfg.RetryOnFailure.Enabled,
			r.cfg.RetryOnFailure.MaxElapsedTime > 0 && time.Since(started) > r.cfg.RetryOnFailure.MaxElapsedTime:
			return err
		}
		if r.rebalanceWanted.Load() {
			return r.leaveForRebalance(messages, err)
		}
		r.tel.KafkaGroupConsumeRetries.Add(ctx, 1)
		select {
		case <-ctx.Done():
			// Shutting down: the batch is left for the next owner to read again,
			// not a held batch that failed (batches_failed).
			return fmt.Errorf("%w: %w", ack.ErrAbandoned, err)
		case <-r.rebalanceWake:
			return r.leaveForRebalance(messages, err)
		case <-time.After(bo.NextBackOff()):
		}
	}
}

// leaveForRebalance gives up retrying a refused batch while a rebalance
// waits: retrying would hold the rebalance until rebalance_timeout, which
// then expels this member. The batch's partition is read again from its
// first unfinished record, here if it stays, else by its next owner.
func (r *groupReceiver) leaveForRebalance(messages int64, err error) error {
	r.set.Logger.Info("kafka_group: a rebalance is waiting; a refused batch will be read again",
		zap.Int64("messages", messages), zap.Error(err))
	return fmt.Errorf("%w: rebalance pending: %w", ack.ErrAbandoned, err)
}

func (r *groupReceiver) signalOf(rec *kgo.Record) string {
	for _, h := range rec.Headers {
		if h.Key == r.cfg.SignalHeader {
			return string(h.Value)
		}
	}
	return r.cfg.DefaultSignal
}

func (r *groupReceiver) deadLetter(rec *kgo.Record, reason string, err error) {
	r.set.Logger.Error("kafka_group: skipping message", zap.String("reason", reason),
		zap.String("topic", rec.Topic), zap.Int32("partition", rec.Partition), zap.Int64("offset", rec.Offset), zap.Error(err))
	r.tel.KafkaGroupMessagesDeadLettered.Add(context.Background(), 1, reasonAttr(reason))
}

var (
	logsUnmarshaler   = &plog.ProtoUnmarshaler{}
	tracesUnmarshaler = &ptrace.ProtoUnmarshaler{}
)
