package loadgen

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/sluicelogs/sluice/testbed/validate"
)

// RawConfig shapes a throughput run that builds OTLP requests with pdata
// directly (no SDK overhead) and sends them over gRPC.
type RawConfig struct {
	// Endpoint is the collector's OTLP gRPC host:port.
	Endpoint string
	// Workers send concurrently (default 2).
	Workers int
	// BatchSize is records per export request (default 100).
	BatchSize int
	// Rate is records per second over all workers; 0 sends as fast as acknowledged.
	Rate float64
	// Duration bounds the run; MaxRecords bounds it too when > 0.
	Duration   time.Duration
	MaxRecords uint64
	// BodySize is the approximate body length in bytes (default 120).
	BodySize int
	// RunID prefixes the ids (default a random one).
	RunID string
	// RecordsPerTrace, when > 0, groups consecutive records into requests:
	// they share a trace id (derived from the record number, so any two
	// runs agree) and carry span ids, as a traced service's logs do.
	RecordsPerTrace int
	// ErrorTraceEvery, with RecordsPerTrace, makes every n-th request a
	// failed one (its last record at ERROR); the others log at INFO, WARN
	// and DEBUG only. 0 keeps the fixed severity cycle, one ERROR in five.
	ErrorTraceEvery int
}

// RawResult reports a throughput run.
type RawResult struct {
	// Sent holds the ids of records the collector acknowledged.
	Sent *validate.Multiset
	// Acked and Rejected count records; Rejected were in requests that still
	// failed after retries (not in Sent, so not expected at the destination).
	Acked, Rejected uint64
	// Elapsed is the wall time from first send to last acknowledgement.
	Elapsed time.Duration
}

// RecordsPerSecond is the acknowledged rate.
func (r *RawResult) RecordsPerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Acked) / r.Elapsed.Seconds()
}

const rawRetries = 5

// RunRaw sends until Duration or MaxRecords is reached.
func RunRaw(ctx context.Context, cfg RawConfig) (*RawResult, error) {
	if cfg.Workers <= 0 {
		cfg.Workers = 2
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 100
	}
	if cfg.BodySize <= 0 {
		cfg.BodySize = 120
	}
	if cfg.RunID == "" {
		cfg.RunID = NewRunID()
	}
	if cfg.Duration <= 0 && cfg.MaxRecords == 0 {
		return nil, fmt.Errorf("raw load: set Duration or MaxRecords")
	}
	conn, err := grpc.NewClient(cfg.Endpoint, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", cfg.Endpoint, err)
	}
	defer conn.Close()
	client := plogotlp.NewGRPCClient(conn)

	res := &RawResult{Sent: validate.NewMultiset(cfg.RunID + "-")}
	if cfg.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.Duration)
		defer cancel()
	}
	var next atomic.Uint64 // next id number to hand out
	var acked, rejected atomic.Uint64
	var perWorkerInterval time.Duration
	if cfg.Rate > 0 {
		perWorkerInterval = time.Duration(float64(time.Second) * float64(cfg.BatchSize*cfg.Workers) / cfg.Rate)
	}
	began := time.Now()
	var wg sync.WaitGroup
	for w := range cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			batch := newRawBatch(cfg, w)
			due := time.Now()
			for ctx.Err() == nil {
				start := next.Add(uint64(cfg.BatchSize)) - uint64(cfg.BatchSize)
				n := uint64(cfg.BatchSize)
				if cfg.MaxRecords > 0 {
					if start >= cfg.MaxRecords {
						return
					}
					n = min(n, cfg.MaxRecords-start)
				}
				req := batch.fill(res.Sent, start, int(n))
				if sendWithRetry(ctx, client, req) {
					res.Sent.AddSeq(start, n)
					acked.Add(n)
				} else {
					rejected.Add(n)
				}
				if perWorkerInterval > 0 {
					due = due.Add(perWorkerInterval)
					if d := time.Until(due); d > 0 {
						select {
						case <-ctx.Done():
						case <-time.After(d):
						}
					}
				}
			}
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(began)
	res.Acked, res.Rejected = acked.Load(), rejected.Load()
	return res, nil
}

// sendWithRetry exports with a short backoff. A request that was cut by the
// end of the run is retried with a fresh deadline so the outcome is known.
func sendWithRetry(ctx context.Context, client plogotlp.GRPCClient, req plogotlp.ExportRequest) bool {
	backoff := 50 * time.Millisecond
	for attempt := 0; attempt < rawRetries; attempt++ {
		callCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		_, err := client.Export(callCtx, req)
		cancel()
		if err == nil {
			return true
		}
		time.Sleep(backoff)
		backoff *= 2
	}
	return false
}

// rawBatch is one worker's reusable request: bodies and attributes are built
// once, only ids and timestamps change per send.
type rawBatch struct {
	logs       plog.Logs
	records    plog.LogRecordSlice
	idBuf      []byte
	perTrace   int
	errorEvery int
}

var rawSeverities = []plog.SeverityNumber{plog.SeverityNumberInfo, plog.SeverityNumberInfo, plog.SeverityNumberWarn, plog.SeverityNumberDebug, plog.SeverityNumberError}

func newRawBatch(cfg RawConfig, worker int) *rawBatch {
	logs := plog.NewLogs()
	rl := logs.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "loadgen-"+strconv.Itoa(worker))
	rl.Resource().Attributes().PutStr("host.name", "testbed")
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName("sluice.testbed/raw")
	records := sl.LogRecords()
	filler := strings.Repeat("lorem ipsum dolor sit amet ", cfg.BodySize/27+1)
	for i := range cfg.BatchSize {
		lr := records.AppendEmpty()
		sev := rawSeverities[i%len(rawSeverities)]
		lr.SetSeverityNumber(sev)
		lr.SetSeverityText(sev.String())
		lr.Body().SetStr(("request handled path=/api/items/" + strconv.Itoa(i) + " " + filler)[:cfg.BodySize])
		attrs := lr.Attributes()
		attrs.PutStr(validate.IDAttribute, "")
		attrs.PutStr("http.route", "/api/items/{id}")
		attrs.PutInt("http.status_code", 200)
	}
	return &rawBatch{logs: logs, records: records, idBuf: make([]byte, 0, 32), perTrace: cfg.RecordsPerTrace, errorEvery: cfg.ErrorTraceEvery}
}

// RequestTraceID is the trace id of request number req of a run whose ids
// start with prefix: a hash, so ids are spread like real ones.
func RequestTraceID(prefix string, req uint64) pcommon.TraceID {
	h := fnv.New128a()
	_, _ = h.Write([]byte(prefix))
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], req)
	_, _ = h.Write(b[:])
	var id pcommon.TraceID
	copy(id[:], h.Sum(nil))
	return id
}

// fill stamps ids start..start+n-1 and the current time, trimming the batch to n.
func (b *rawBatch) fill(ids *validate.Multiset, start uint64, n int) plogotlp.ExportRequest {
	if n < b.records.Len() {
		kept := 0
		b.records.RemoveIf(func(plog.LogRecord) bool { kept++; return kept > n })
	}
	now := pcommon.NewTimestampFromTime(time.Now())
	for i := 0; i < b.records.Len(); i++ {
		lr := b.records.At(i)
		lr.SetTimestamp(now)
		lr.SetObservedTimestamp(now)
		n := start + uint64(i)
		b.idBuf = strconv.AppendUint(append(b.idBuf[:0], ids.Prefix()...), n, 10)
		lr.Attributes().PutStr(validate.IDAttribute, string(b.idBuf))
		if b.perTrace > 0 {
			req := n / uint64(b.perTrace)
			lr.SetTraceID(RequestTraceID(ids.Prefix(), req))
			var span pcommon.SpanID
			binary.BigEndian.PutUint64(span[:], n+1)
			lr.SetSpanID(span)
			sev := rawSeverities[n%4] // INFO, INFO, WARN, DEBUG
			if b.errorEvery > 0 && req%uint64(b.errorEvery) == 0 && (n+1)%uint64(b.perTrace) == 0 {
				sev = plog.SeverityNumberError
			}
			lr.SetSeverityNumber(sev)
			lr.SetSeverityText(sev.String())
		}
	}
	return plogotlp.NewExportRequestFromLogs(b.logs)
}
