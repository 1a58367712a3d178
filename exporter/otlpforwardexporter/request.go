package otlpforwardexporter // import "github.com/sluicelogs/sluice/exporter/otlpforwardexporter"

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/exporter/exporterhelper/xexporterhelper"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/sluicelogs/sluice/exporter/otlpforwardexporter/internal/queueitem"
	"github.com/sluicelogs/sluice/internal/otlpwire"
)

// encodedRequest is one OTLP Export<Signal>ServiceRequest, already encoded to protobuf.
// It is immutable: the queue, the retry loop and the gRPC stream all share body.
type encodedRequest struct {
	signal  queueitem.Signal
	body    []byte
	records int
}

var _ xexporterhelper.Request = (*encodedRequest)(nil)

// ItemsCount is the number of log records or spans, for the `items` queue sizer and the
// exporter's sent/failed counters.
func (r *encodedRequest) ItemsCount() int { return r.records }

// BytesSize is the encoded size, for the `bytes` queue sizer.
func (r *encodedRequest) BytesSize() int { return len(r.body) }

// errMergeSplit is never seen by users: Config.Validate rejects sending_queue.batch, the
// only feature that merges or splits requests.
var errMergeSplit = errors.New("otlp_forward does not merge or split requests (sending_queue.batch is not supported)")

// MergeSplit is required by the Request interface; batching is rejected at config time.
func (r *encodedRequest) MergeSplit(context.Context, int, exporterhelper.RequestSizerType, xexporterhelper.Request) ([]xexporterhelper.Request, error) {
	return nil, errMergeSplit
}

// batches are encoders reused across requests: each keeps the buffer of the
// largest batch it encoded, so one that encoded more than maxPooledBatchBytes
// is not kept (a rare huge request would otherwise stay in memory for good).
var batches = sync.Pool{New: func() any { return new(otlpwire.Batch) }}

const maxPooledBatchBytes = 8 << 20

func releaseBatch(b *otlpwire.Batch) {
	if b.Held() <= maxPooledBatchBytes {
		batches.Put(b)
	}
}

// logsToRequest encodes ld with otlpwire, faster than pdata's marshaler (a
// fifth less CPU on tailed log lines) and read back by any OTLP receiver
// alike.
func logsToRequest(_ context.Context, ld plog.Logs) (xexporterhelper.Request, error) {
	return encode(queueitem.SignalLogs, func(b *otlpwire.Batch) { b.EncodeLogs(ld) }), nil
}

func tracesToRequest(_ context.Context, td ptrace.Traces) (xexporterhelper.Request, error) {
	return encode(queueitem.SignalTraces, func(b *otlpwire.Batch) { b.EncodeTraces(td) }), nil
}

// encode runs fill on a pooled encoder and copies the request out of it.
func encode(signal queueitem.Signal, fill func(*otlpwire.Batch)) *encodedRequest {
	b := batches.Get().(*otlpwire.Batch)
	defer releaseBatch(b)
	fill(b)
	return &encodedRequest{signal: signal, body: b.AppendData(make([]byte, 0, b.DataSize())), records: len(b.Records)}
}

// queueEncoding stores a request in the persistent queue as its encoded bytes behind a
// versioned header (see queueitem), so reading it back costs a structure check, not a decode.
// The request context (client metadata, span context) is not persisted.
type queueEncoding struct {
	signal queueitem.Signal
}

func (e queueEncoding) Marshal(_ context.Context, req xexporterhelper.Request) ([]byte, error) {
	r, ok := req.(*encodedRequest)
	if !ok {
		return nil, fmt.Errorf("otlp_forward queue: unexpected request type %T", req)
	}
	return queueitem.Encode(r.signal, r.records, r.body)
}

func (e queueEncoding) Unmarshal(item []byte) (context.Context, xexporterhelper.Request, error) {
	records, body, err := queueitem.Decode(item, e.signal)
	if err != nil {
		return context.Background(), nil, err
	}
	return context.Background(), &encodedRequest{signal: e.signal, body: body, records: records}, nil
}

// queueBatchSettings: no ReferenceCounter (requests hold no pooled pdata) and no
// partitioner (batching is rejected).
func queueBatchSettings(signal queueitem.Signal) xexporterhelper.QueueBatchSettings {
	return xexporterhelper.QueueBatchSettings{Encoding: queueEncoding{signal: signal}}
}
