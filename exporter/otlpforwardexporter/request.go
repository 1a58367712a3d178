package otlpforwardexporter // import "github.com/sluicelogs/sluice/exporter/otlpforwardexporter"

import (
	"bytes"
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
	"github.com/sluicelogs/sluice/internal/snappyframe"
)

// encodedRequest is one OTLP Export<Signal>ServiceRequest, already encoded to protobuf,
// and, when the exporter compresses with snappy, already compressed the way gRPC sends it.
// body is immutable: the queue, the retry loop and the gRPC stream all share it. Only a
// request sent in parts changes, in push, which the retry sender calls sequentially.
type encodedRequest struct {
	signal queueitem.Signal
	// body is the protobuf request, or its snappy framed stream when framed.
	body   []byte
	framed bool
	// item, when set, is body's persistent queue item (body is its tail): built with
	// the request, so the queue stores it without a copy.
	item    []byte
	bodyLen int // the protobuf request's size
	records int

	// parts, once push split the request, are the protobuf requests not yet sent;
	// refused counts records the server refused as too large on their own.
	parts   [][]byte
	refused int

	// unreadable, when set, is why the persistent queue item this request was read
	// from cannot be sent (an unknown format version, a corrupt body): push refuses
	// it permanently, so that it is logged as an error and counted as failed instead
	// of dropped by the queue with a debug line. item then holds the item as read.
	unreadable error
}

// split divides the request into protobuf requests of at most limit bytes each (a
// record larger than that alone), to be sent in turn.
func (r *encodedRequest) split(limit int) error {
	body := r.body
	if r.framed {
		var err error
		if body, err = snappyframe.AppendDecoded(nil, r.body, r.bodyLen); err != nil {
			return fmt.Errorf("otlp_forward: decompress a request to split it: %w", err)
		}
	}
	parts, err := otlpwire.SplitRequest(body, max(limit, 1))
	if err != nil {
		return fmt.Errorf("otlp_forward: split a request: %w", err)
	}
	if parts == nil {
		parts = [][]byte{} // nothing to send, but split: push must not send body
	}
	r.parts = parts
	return nil
}

var _ xexporterhelper.Request = (*encodedRequest)(nil)

// ItemsCount is the number of log records or spans, for the `items` queue sizer and the
// exporter's sent/failed counters.
func (r *encodedRequest) ItemsCount() int { return r.records }

// BytesSize is the encoded (uncompressed) size, for the `bytes` queue sizer.
func (r *encodedRequest) BytesSize() int { return r.bodyLen }

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

// requestEncoder turns pipeline data into requests. With framed set (snappy
// compression), a request holds its snappy framed stream: compressed once here,
// stored in the queue as is and sent as is.
type requestEncoder struct {
	framed bool
}

// logsToRequest encodes ld with otlpwire, faster than pdata's marshaler (a
// fifth less CPU on tailed log lines) and read back by any OTLP receiver
// alike.
func (e requestEncoder) logsToRequest(_ context.Context, ld plog.Logs) (xexporterhelper.Request, error) {
	return e.encode(queueitem.SignalLogs, func(b *otlpwire.Batch) { b.EncodeLogs(ld) }), nil
}

func (e requestEncoder) tracesToRequest(_ context.Context, td ptrace.Traces) (xexporterhelper.Request, error) {
	return e.encode(queueitem.SignalTraces, func(b *otlpwire.Batch) { b.EncodeTraces(td) }), nil
}

// encode runs fill on a pooled encoder and copies the request out of it, framed
// or as is.
func (e requestEncoder) encode(signal queueitem.Signal, fill func(*otlpwire.Batch)) *encodedRequest {
	b := batches.Get().(*otlpwire.Batch)
	defer releaseBatch(b)
	fill(b)
	r := &encodedRequest{signal: signal, framed: e.framed, bodyLen: b.DataSize(), records: len(b.Records)}
	if !e.framed {
		r.body = b.AppendData(make([]byte, 0, r.bodyLen))
		return r
	}
	s := scratch.Get().(*scratchBuffers)
	defer s.release()
	s.body = b.AppendData(s.body[:0])
	// The queue item is the request's header and framed stream: build both at once.
	// Over the item size limit there is no header and no item: Marshal refuses the
	// request, as for any compression, and it can still be sent without a persistent queue.
	var err error
	s.framed, err = queueitem.AppendFramedHeader(s.framed[:0], signal, r.records, r.bodyLen)
	header := len(s.framed)
	s.framed = snappyframe.Append(s.framed, s.body)
	framed := bytes.Clone(s.framed)
	if err == nil {
		r.item = framed
	}
	r.body = framed[header:]
	return r
}

// scratchBuffers hold a request's protobuf and its framed stream while it is
// compressed; buffers grown past maxPooledBatchBytes are let go.
type scratchBuffers struct {
	body, framed []byte
}

var scratch = sync.Pool{New: func() any { return new(scratchBuffers) }}

func (s *scratchBuffers) release() {
	if cap(s.body) <= maxPooledBatchBytes && cap(s.framed) <= maxPooledBatchBytes {
		scratch.Put(s)
	}
}

// queueEncoding stores a request in the persistent queue as its encoded bytes behind a
// versioned header (see queueitem), so reading it back costs a structure check, not a decode.
// With framed set the items hold the snappy framed stream, which is read back without
// decompressing it. The request context (client metadata, span context) is not persisted.
type queueEncoding struct {
	signal queueitem.Signal
	framed bool
}

func (e queueEncoding) Marshal(_ context.Context, req xexporterhelper.Request) ([]byte, error) {
	r, ok := req.(*encodedRequest)
	if !ok {
		return nil, fmt.Errorf("otlp_forward queue: unexpected request type %T", req)
	}
	if r.item != nil {
		return r.item, nil
	}
	if r.framed {
		return queueitem.EncodeFramed(r.signal, r.records, r.bodyLen, r.body)
	}
	return queueitem.Encode(r.signal, r.records, r.body)
}

// Unmarshal reads an item of either format into the form this exporter sends. It
// never fails: exporterhelper's persistent queue drops an item it cannot unmarshal
// with a debug log line and counts nothing, so an unreadable item becomes a request
// that push refuses permanently (see encodedRequest.unreadable).
func (e queueEncoding) Unmarshal(item []byte) (context.Context, xexporterhelper.Request, error) {
	if e.framed {
		records, bodyLen, framed, err := queueitem.DecodeFramed(item, e.signal)
		if err != nil {
			return context.Background(), unreadableRequest(e.signal, true, item, err), nil
		}
		return context.Background(), &encodedRequest{signal: e.signal, body: framed, framed: true, bodyLen: bodyLen, records: records}, nil
	}
	records, body, err := queueitem.Decode(item, e.signal)
	if err != nil {
		return context.Background(), unreadableRequest(e.signal, false, item, err), nil
	}
	return context.Background(), &encodedRequest{signal: e.signal, body: body, bodyLen: len(body), records: records}, nil
}

// unreadableRequest stands for a queue item that cannot be read back, sized as its
// header says (as it was counted when queued). It keeps a copy of the item (the
// storage may reuse the bytes), which Marshal stores again unchanged.
func unreadableRequest(signal queueitem.Signal, framed bool, item []byte, err error) *encodedRequest {
	records, bodyLen := queueitem.Peek(item)
	return &encodedRequest{
		signal: signal, framed: framed, item: bytes.Clone(item), bodyLen: bodyLen, records: records,
		unreadable: err,
	}
}

// queueBatchSettings: no ReferenceCounter (requests hold no pooled pdata) and no
// partitioner (batching is rejected).
func queueBatchSettings(signal queueitem.Signal, framed bool) xexporterhelper.QueueBatchSettings {
	return xexporterhelper.QueueBatchSettings{Encoding: queueEncoding{signal: signal, framed: framed}}
}
