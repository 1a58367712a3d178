package tailsamplingprocessor // import "github.com/sluicelogs/sluice/processor/tailsamplingprocessor"

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/zap"

	"github.com/sluicelogs/sluice/internal/ack"
	"github.com/sluicelogs/sluice/internal/otlpwire"
)

// emission collects the records to forward after the lock is released,
// bucketed by pipeline, deciding policy and resource/scope header so that
// each bucket becomes one resource entry of the outgoing batch.
type emission struct {
	index   map[bucketKey]*bucket
	buckets []*bucket
	// spare are buckets of an earlier use, kept for reuse.
	spare []*bucket
	// data holds copies of buffered records (copy), whose slabs the record
	// log may reuse once the lock is released.
	data []byte
	// wire and mine are emit's working memory.
	wire []byte
	mine []*bucket
	// Receivers' acknowledgements to release after sending: of kept groups
	// (with the outcome of the send), of dropped groups, and of groups
	// abandoned for redelivery.
	sent, finished, abandoned []*ack.Batch
}

type bucketKey struct {
	out    int
	policy int
	h      *header
}

type bucket struct {
	bucketKey
	records [][]byte
}

// Emissions are pooled: deciding a few thousand groups per tick would
// otherwise leave megabytes of garbage behind each time.
var emissionPool = sync.Pool{New: func() any { return &emission{} }}

// maxPooledBytes bounds the buffers an emission keeps for reuse, so that one
// huge emission (a shutdown) does not stay allocated.
const maxPooledBytes = 4 << 20

func getEmission() *emission { return emissionPool.Get().(*emission) }

func putEmission(em *emission) { emissionPool.Put(em.reset()) }

// reset empties em, keeping its memory for reuse.
func (em *emission) reset() *emission {
	clear(em.index)
	for _, b := range em.buckets {
		clear(b.records)
		b.records = b.records[:0]
	}
	em.spare = append(em.spare, em.buckets...)
	clear(em.buckets)
	em.buckets = em.buckets[:0]
	clear(em.mine)
	em.mine = em.mine[:0]
	em.data, em.wire = reuseBytes(em.data), reuseBytes(em.wire)
	for _, l := range []*[]*ack.Batch{&em.sent, &em.finished, &em.abandoned} {
		clear(*l)
		*l = (*l)[:0]
	}
	return em
}

func reuseBytes(b []byte) []byte {
	if cap(b) > maxPooledBytes {
		return nil
	}
	return b[:0]
}

// copy returns a copy of rec owned by the emission.
func (em *emission) copy(rec []byte) []byte {
	start := len(em.data)
	em.data = append(em.data, rec...)
	// Earlier copies stay valid when data grows: they keep the old array.
	return em.data[start:len(em.data):len(em.data)]
}

func (em *emission) add(out, policy int, h *header, rec []byte) {
	k := bucketKey{out: out, policy: policy, h: h}
	b := em.index[k]
	if b == nil {
		if em.index == nil {
			em.index = map[bucketKey]*bucket{}
		}
		if n := len(em.spare); n > 0 {
			b = em.spare[n-1]
			em.spare = em.spare[:n-1]
			b.bucketKey = k
		} else {
			b = &bucket{bucketKey: k}
		}
		em.index[k] = b
		em.buckets = append(em.buckets, b)
	}
	b.records = append(b.records, rec)
}

// emitAndRelease emits, then releases the receivers' acknowledgements held
// by the groups decided: a receiver that can replay (kafka_group) reads the
// records of a failed send again.
func (s *sampler) emitAndRelease(ctx context.Context, em *emission, outs []*output, st *stats) {
	err := s.emit(ctx, em, outs, st)
	for _, b := range em.sent {
		b.Release(err)
	}
	for _, b := range em.finished {
		b.Release(nil)
	}
	for _, b := range em.abandoned {
		b.Release(ack.ErrAbandoned)
	}
}

// emit sends each pipeline its records as one batch and returns the first
// retryable refusal (a permanent one is counted and logged, not returned:
// reading the records again would not help). A refusal is also counted and logged: the records were accepted
// earlier (or belong to other callers), so the error cannot be returned to
// their sender; only a receiver holding an acknowledgement learns of it.
func (s *sampler) emit(ctx context.Context, em *emission, outs []*output, st *stats) error {
	if len(em.buckets) == 0 {
		return nil
	}
	var firstErr error
	buf, mine := em.wire, em.mine
	defer func() { em.wire, em.mine = buf, mine }()
	for oi, o := range outs {
		mine = mine[:0]
		n, size := 0, 0
		for _, b := range em.buckets {
			if b.out == oi {
				mine = append(mine, b)
				n += len(b.records)
				size += otlpwire.ResourceSize(b.h.resource, b.h.scope, b.records)
			}
		}
		if n == 0 {
			continue
		}
		// Sized up front: growing a batch-sized buffer by appends would
		// leave several times its size in garbage.
		buf = slices.Grow(buf[:0], size)
		for _, b := range mine {
			buf = otlpwire.AppendResource(buf, b.h.resource, b.h.scope, b.records)
		}
		if err := s.send(ctx, o, buf, mine); err != nil {
			st.sendFailed[o.signal] += int64(n)
			// Never log record contents: they may carry PII.
			if consumererror.IsPermanent(err) {
				// Refused again if read again: the receiver must not
				// replay them (kafka_group would loop on them forever),
				// as it skips a permanent refusal of its own call.
				s.logger.Error("next consumer refused sampled records permanently; they are dropped",
					zap.Int("records", n), zap.Error(err))
				continue
			}
			s.logger.Error("next consumer refused sampled records; they are lost unless their receiver replays them",
				zap.Int("records", n), zap.Error(err))
			if firstErr == nil {
				firstErr = err
			}
		}
	}
	return firstErr
}

func (s *sampler) send(ctx context.Context, o *output, buf []byte, buckets []*bucket) error {
	switch o.signal {
	case signalLogs:
		ld, err := logsUnmarshaler.UnmarshalLogs(buf)
		if err != nil {
			return fmt.Errorf("rebuild logs: %w", err)
		}
		if attr := s.cfg.PolicyAttribute; attr != "" {
			rls := ld.ResourceLogs()
			for i, b := range buckets {
				if b.policy == policyNone {
					continue
				}
				tagLogs(rls.At(i), attr, s.policyName(b.policy))
			}
		}
		return o.logs.ConsumeLogs(ctx, ld)
	default:
		td, err := tracesUnmarshaler.UnmarshalTraces(buf)
		if err != nil {
			return fmt.Errorf("rebuild traces: %w", err)
		}
		if attr := s.cfg.PolicyAttribute; attr != "" {
			rss := td.ResourceSpans()
			for i, b := range buckets {
				if b.policy == policyNone {
					continue
				}
				tagSpans(rss.At(i), attr, s.policyName(b.policy))
			}
		}
		return o.traces.ConsumeTraces(ctx, td)
	}
}

func tagLogs(rl plog.ResourceLogs, attr, name string) {
	sls := rl.ScopeLogs()
	for i := 0; i < sls.Len(); i++ {
		lrs := sls.At(i).LogRecords()
		for j := 0; j < lrs.Len(); j++ {
			lrs.At(j).Attributes().PutStr(attr, name)
		}
	}
}

func tagSpans(rs ptrace.ResourceSpans, attr, name string) {
	sss := rs.ScopeSpans()
	for i := 0; i < sss.Len(); i++ {
		spans := sss.At(i).Spans()
		for j := 0; j < spans.Len(); j++ {
			spans.At(j).Attributes().PutStr(attr, name)
		}
	}
}
