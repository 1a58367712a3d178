package agentbench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "go.opentelemetry.io/collector/config/configgrpc" // registers the snappy and zstd codecs the exporter may be set to
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	_ "google.golang.org/grpc/encoding/gzip" // the otlp_grpc exporter's default compression
	"google.golang.org/grpc/status"

	"github.com/sluicelogs/sluice/testbed/loadgen"
	"github.com/sluicelogs/sluice/testbed/validate"
)

// Sink is an OTLP/gRPC logs receiver standing in for the gateway. For every
// record of the measured run (id prefix Prefix) it counts the id, takes the
// ingest latency (arrival − write time) and checks that none of the PII
// planted in the line survived; records of the warm-up run are only counted.
type Sink struct {
	plogotlp.UnimplementedGRPCServer

	// Endpoint is host:port of the listening server.
	Endpoint string

	prefix     string
	warmPrefix string
	received   *validate.Multiset
	srv        *grpc.Server
	served     chan error
	stopOnce   sync.Once

	// unavailable makes Export refuse with codes.Unavailable (a gateway
	// outage), so an agent's queue must hold what it accepted.
	unavailable atomic.Bool

	mu          sync.Mutex
	latencies   []LatencySample
	measured    uint64
	warmup      uint64
	unexpected  uint64
	leaked      uint64
	noWriteTime uint64
	firstLeak   string
	last        time.Time
}

// LatencySample is one record's ingest latency and when its line was written.
type LatencySample struct {
	WrittenUnixNano int64
	Latency         time.Duration
}

// SinkStats is what a sink saw.
type SinkStats struct {
	// Received counts measured ids (with duplicates), for accounting.
	Received *validate.Multiset
	// Latencies of every measured record, in arrival order.
	Latencies []LatencySample
	// Warmup records of the warm-up run.
	Warmup uint64
	// Unexpected records carry no id or one of neither run.
	Unexpected uint64
	// Leaked records still hold a value planted as PII; FirstLeak describes one.
	Leaked    uint64
	FirstLeak string
	// NoWriteTime records had neither a timestamp nor a parsable time attribute.
	NoWriteTime uint64
	// LastArrival is when the last measured record arrived.
	LastArrival time.Time
}

// StartSink listens on a free 127.0.0.1 port. prefix is the dense id prefix
// of the measured lines (loadgen.FileResult.Written.Prefix()), warmPrefix
// that of the warm-up lines.
func StartSink(prefix, warmPrefix string) (*Sink, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("sink listen: %w", err)
	}
	s := &Sink{
		Endpoint:   l.Addr().String(),
		prefix:     prefix,
		warmPrefix: warmPrefix,
		received:   validate.NewMultiset(prefix),
		srv:        grpc.NewServer(grpc.MaxRecvMsgSize(64 << 20)),
		served:     make(chan error, 1),
	}
	plogotlp.RegisterGRPCServer(s.srv, s)
	go func() { s.served <- s.srv.Serve(l) }()
	return s, nil
}

// Stop ends the server after the calls in flight. Safe to call twice.
func (s *Sink) Stop() error {
	var err error
	s.stopOnce.Do(func() {
		s.srv.GracefulStop()
		if serr := <-s.served; serr != nil && !errors.Is(serr, grpc.ErrServerStopped) {
			err = fmt.Errorf("sink serve: %w", serr)
		}
	})
	return err
}

// SetUnavailable starts (true) or ends a simulated gateway outage: while it
// lasts every Export is refused with codes.Unavailable and nothing is counted.
func (s *Sink) SetUnavailable(down bool) { s.unavailable.Store(down) }

// Measured is how many measured records arrived so far (duplicates included).
func (s *Sink) Measured() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.measured
}

// ReceivedAll reports whether every id of written has arrived. The count is
// checked first (cheap); it alone would be reached early by duplicates.
func (s *Sink) ReceivedAll(written *validate.Multiset) bool {
	if s.Measured() < written.Total() {
		return false
	}
	return validate.Account(written, validate.Outcome{Delivered: s.received}).Lost == 0
}

// Warmup is how many warm-up records arrived so far.
func (s *Sink) Warmup() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.warmup
}

// LastArrival is when the last measured record arrived (zero before the first).
func (s *Sink) LastArrival() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// Stats returns a snapshot of what arrived.
func (s *Sink) Stats() SinkStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return SinkStats{
		Received:    s.received,
		Latencies:   append([]LatencySample(nil), s.latencies...),
		Warmup:      s.warmup,
		Unexpected:  s.unexpected,
		Leaked:      s.leaked,
		FirstLeak:   s.firstLeak,
		NoWriteTime: s.noWriteTime,
		LastArrival: s.last,
	}
}

// Export takes one request from the agent: the arrival time is taken first,
// so the sink's own work does not count as agent latency.
func (s *Sink) Export(_ context.Context, req plogotlp.ExportRequest) (plogotlp.ExportResponse, error) {
	arrived := time.Now()
	if s.unavailable.Load() {
		return plogotlp.NewExportResponse(), status.Error(codes.Unavailable, "sink: simulated gateway outage")
	}
	logs := req.Logs()
	var batch recordBatch
	for i := 0; i < logs.ResourceLogs().Len(); i++ {
		rl := logs.ResourceLogs().At(i)
		for j := 0; j < rl.ScopeLogs().Len(); j++ {
			recs := rl.ScopeLogs().At(j).LogRecords()
			for k := 0; k < recs.Len(); k++ {
				s.inspect(&batch, rl.Resource().Attributes(), recs.At(k), arrived)
			}
		}
	}
	s.mu.Lock()
	s.latencies = append(s.latencies, batch.latencies...)
	s.measured += batch.measured
	s.warmup += batch.warmup
	s.unexpected += batch.unexpected
	s.leaked += batch.leaked
	s.noWriteTime += batch.noWriteTime
	if s.firstLeak == "" {
		s.firstLeak = batch.firstLeak
	}
	if batch.measured > 0 {
		s.last = arrived
	}
	s.mu.Unlock()
	return plogotlp.NewExportResponse(), nil
}

// recordBatch accumulates one request's counts outside the sink's lock.
type recordBatch struct {
	latencies                                         []LatencySample
	measured, warmup, unexpected, leaked, noWriteTime uint64
	firstLeak                                         string
}

func (s *Sink) inspect(b *recordBatch, resource pcommon.Map, rec plog.LogRecord, arrived time.Time) {
	idv, ok := rec.Attributes().Get(validate.IDAttribute)
	id := idv.Str()
	switch {
	case !ok || idv.Type() != pcommon.ValueTypeStr:
		b.unexpected++
		return
	case strings.HasPrefix(id, s.warmPrefix):
		b.warmup++
		return
	case !strings.HasPrefix(id, s.prefix):
		b.unexpected++
		return
	}
	b.measured++
	s.received.Add(id)
	if written, ok := writeTime(rec); ok {
		b.latencies = append(b.latencies, LatencySample{WrittenUnixNano: written.UnixNano(), Latency: arrived.Sub(written)})
	} else {
		b.noWriteTime++
	}
	n, err := strconv.Atoi(id[len(s.prefix):])
	if err != nil {
		b.unexpected++
		return
	}
	for _, pii := range loadgen.AppLogPII(n) {
		where := findValue(rec.Body(), pii)
		if where != "" {
			where = "body" + where
		} else if where = findInMap(rec.Attributes(), pii); where != "" {
			where = "attributes" + where
		} else if where = findInMap(resource, pii); where != "" {
			where = "resource" + where
		}
		if where != "" {
			b.leaked++ // a record counts once, however many of its values survived
			if b.firstLeak == "" {
				b.firstLeak = fmt.Sprintf("record %s: %q in %s", id, pii, where)
			}
			return
		}
	}
}

// writeTime is the record's timestamp (the agent lifts the line's time field
// into it) or, failing that, the time attribute parsed as RFC 3339.
func writeTime(rec plog.LogRecord) (time.Time, bool) {
	if ts := rec.Timestamp(); ts != 0 {
		return ts.AsTime(), true
	}
	if v, ok := rec.Attributes().Get(loadgen.AppLogTimeKey); ok && v.Type() == pcommon.ValueTypeStr {
		if t, err := time.Parse(time.RFC3339Nano, v.Str()); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// findValue returns where (".key.key", "" at the top, "[i]") s occurs in v, or "" when it does not.
func findValue(v pcommon.Value, s string) string {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		if strings.Contains(v.Str(), s) {
			return "."
		}
	case pcommon.ValueTypeInt:
		if strings.Contains(strconv.FormatInt(v.Int(), 10), s) {
			return "."
		}
	case pcommon.ValueTypeMap:
		return findInMap(v.Map(), s)
	case pcommon.ValueTypeSlice:
		for i := 0; i < v.Slice().Len(); i++ {
			if where := findValue(v.Slice().At(i), s); where != "" {
				return "[" + strconv.Itoa(i) + "]" + where
			}
		}
	}
	return ""
}

func findInMap(m pcommon.Map, s string) string {
	var found string
	m.Range(func(k string, v pcommon.Value) bool {
		if where := findValue(v, s); where != "" {
			found = "." + k + strings.TrimSuffix(where, ".")
			return false
		}
		return true
	})
	return found
}
