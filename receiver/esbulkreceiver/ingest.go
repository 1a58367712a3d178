package esbulkreceiver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/sluicelogs/sluice/internal/jsonenc"
	"github.com/sluicelogs/sluice/internal/lognormalize"
	"github.com/sluicelogs/sluice/internal/validutf8"
	"github.com/sluicelogs/sluice/receiver/esbulkreceiver/internal/bulk"
	"github.com/sluicelogs/sluice/receiver/esbulkreceiver/internal/metadata"
)

// Attributes added to every record.
const (
	// AttrIndex holds the target index (or data stream) named by the shipper.
	AttrIndex = "elasticsearch.index"
	// AttrDocumentID holds the document id when the shipper supplied one.
	AttrDocumentID = "elasticsearch.document_id"
)

// Reasons of es_bulk_documents_rejected.
const (
	reasonMalformedAction   = "malformed_action"
	reasonMissingDocument   = "missing_document"
	reasonInvalidMetadata   = "invalid_metadata"
	reasonMalformedDocument = "malformed_document"
	reasonUnsupportedAction = "unsupported_action"
	reasonPipelineRejected  = "pipeline_rejected"
)

// errorReason maps parser error kinds to rejection reasons.
var errorReason = map[bulk.ErrorKind]string{
	bulk.KindMalformedAction: reasonMalformedAction,
	bulk.KindInvalidMetadata: reasonInvalidMetadata,
	bulk.KindMissingDocument: reasonMissingDocument,
}

var allReasons = []string{
	reasonMalformedAction, reasonMissingDocument, reasonInvalidMetadata,
	reasonMalformedDocument, reasonUnsupportedAction, reasonPipelineRejected,
}

// requestState is the per-request working set, pooled across requests.
type requestState struct {
	reader     *bulk.Reader
	normalizer *lognormalize.Normalizer
	scratch    plog.LogRecord // a document is normalized here, then moved
	resource   pcommon.Map    // resource attributes of the current document
	items      []itemResult
	pending    []int // indexes of items waiting for the consumer's answer
	rejected   map[string]int64
	groups     map[string]plog.LogRecordSlice // by service.name
	lastIndex  string                         // interned index name
	out        []byte
}

func (r *esBulkReceiver) getState() *requestState {
	if st, ok := r.states.Get().(*requestState); ok {
		return st
	}
	return &requestState{
		reader:     bulk.NewReader(http.NoBody, ""),
		normalizer: lognormalize.New(),
		scratch:    plog.NewLogRecord(),
		resource:   pcommon.NewMap(),
		rejected:   make(map[string]int64),
		groups:     make(map[string]plog.LogRecordSlice),
	}
}

// maxPooledOut keeps one huge response from pinning memory in the pool.
const maxPooledOut = 1 << 20

func (r *esBulkReceiver) putState(st *requestState) {
	st.reader.Reset(http.NoBody, "")
	clear(st.items)
	st.items = st.items[:0]
	st.pending = st.pending[:0]
	clear(st.rejected)
	clear(st.groups)
	st.lastIndex = ""
	if cap(st.out) > maxPooledOut {
		st.out = nil
	}
	st.out = st.out[:0]
	r.states.Put(st)
}

// internIndex returns the index as valid UTF-8, reusing the previous string
// when equal: a bulk request usually targets a single index.
func (st *requestState) internIndex(b []byte) string {
	if string(b) != st.lastIndex {
		st.lastIndex = validutf8.String(string(b))
	}
	return st.lastIndex
}

// addDocument normalizes one document into logs; it reports the rejection
// reason and message when the document cannot be used.
func (r *esBulkReceiver) addDocument(st *requestState, logs plog.Logs, doc []byte, index, id string, observed pcommon.Timestamp) error {
	if _, err := st.normalizer.Normalize(doc, st.scratch, st.resource); err != nil {
		return err
	}
	attrs := st.scratch.Attributes()
	attrs.PutStr(AttrIndex, index)
	if id != "" {
		attrs.PutStr(AttrDocumentID, id)
	}
	st.scratch.SetObservedTimestamp(observed)

	service := ""
	if v, ok := st.resource.Get(lognormalize.AttrServiceName); ok {
		service = v.Str()
	}
	records, ok := st.groups[service]
	if !ok {
		rl := logs.ResourceLogs().AppendEmpty()
		if service != "" {
			rl.Resource().Attributes().PutStr(lognormalize.AttrServiceName, service)
		}
		sl := rl.ScopeLogs().AppendEmpty()
		sl.Scope().SetName(metadata.ScopeName)
		sl.Scope().SetVersion(r.settings.BuildInfo.Version)
		records = sl.LogRecords()
		st.groups[service] = records
	}
	st.scratch.MoveTo(records.AppendEmpty())
	st.resource.Clear()
	return nil
}

// handleBulk serves _bulk: it streams the body item by item, builds one
// plog.Logs, hands it to the next consumer once, and answers per item. Items
// are reported created only after the consumer accepted them; a retryable
// refusal answers the whole request 429 so the shipper sends it again.
func (r *esBulkReceiver) handleBulk(w http.ResponseWriter, req *http.Request, defaultIndex string) {
	start := r.now()
	observed := pcommon.NewTimestampFromTime(start)
	st := r.getState()
	defer r.putState(st)

	body, ok := r.newBudgetReader(req)
	defer body.release()
	if !ok {
		r.refuseInFlight(w, req)
		return
	}
	st.reader.Reset(body, defaultIndex)
	logs := plog.NewLogs()
	var it bulk.Item
	for {
		err := st.reader.Next(&it)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			r.telemetry.EsBulkRequestBodySize.Add(req.Context(), body.n)
			r.writeReadError(w, req, err)
			return
		}
		res := itemResult{op: it.Op, index: st.internIndex(it.Index), id: validutf8.String(string(it.ID))}
		switch {
		case it.Err != nil:
			res.status, res.errType, res.reason = http.StatusBadRequest, it.Err.Type, it.Err.Reason
			st.rejected[errorReason[it.Err.Kind]]++
		case it.Op == bulk.OpUpdate || it.Op == bulk.OpDelete:
			res.status, res.errType = http.StatusBadRequest, errTypeIllegalArg
			res.reason = "action [" + it.Op.String() + "] is not supported: the es_bulk receiver only ingests index and create actions"
			st.rejected[reasonUnsupportedAction]++
		default:
			if err := r.addDocument(st, logs, it.Source, res.index, res.id, observed); err != nil {
				res.status, res.errType = http.StatusBadRequest, errTypeMapperParsing
				res.reason = truncateReason("failed to parse: " + err.Error())
				st.rejected[reasonMalformedDocument]++
			} else {
				st.pending = append(st.pending, len(st.items))
			}
		}
		st.items = append(st.items, res)
	}
	ctx := req.Context()
	r.telemetry.EsBulkRequestBodySize.Add(ctx, body.n)

	if len(st.pending) > 0 {
		if err := r.consumeInTime(w, req, logs, len(st.pending)); err != nil {
			if retryable(err) {
				r.refuse(ctx, w, err, len(st.pending))
				return
			}
			for _, i := range st.pending {
				it := &st.items[i]
				it.status, it.errType = http.StatusBadRequest, errTypePipeline
				it.reason = truncateReason("rejected by the pipeline: " + err.Error())
			}
			st.rejected[reasonPipelineRejected] += int64(len(st.pending))
			st.pending = st.pending[:0]
		}
	}
	accepted := int64(len(st.pending))
	seqBase := r.seqNo.Add(accepted) - accepted
	for _, i := range st.pending {
		it := &st.items[i]
		it.status = http.StatusCreated
		if it.id == "" {
			it.autoID = r.autoID.Add(1)
		}
	}
	for i := range st.items { // failed items without a client id still get one in the response
		if st.items[i].id == "" && st.items[i].autoID == 0 {
			st.items[i].autoID = r.autoID.Add(1)
		}
	}
	r.telemetry.EsBulkDocumentsAccepted.Add(ctx, accepted)
	r.countRejected(ctx, st.rejected)

	took := r.now().Sub(start).Milliseconds()
	st.out = r.appendBulkResponse(st.out[:0], st.items, took, seqBase, parseFilterPath(req.URL.Query().Get("filter_path")))
	writeJSON(w, http.StatusOK, st.out)
}

// handleDocument serves POST /{index}/_doc, PUT|POST /{index}/_doc/{id} and
// PUT|POST /{index}/_create/{id}: one document, answered like Elasticsearch.
func (r *esBulkReceiver) handleDocument(w http.ResponseWriter, req *http.Request, index, id string) {
	start := r.now()
	st := r.getState()
	defer r.putState(st)
	ctx := req.Context()

	if len(id) > bulk.MaxIDBytes {
		st.rejected[reasonInvalidMetadata]++
		r.countRejected(ctx, st.rejected)
		r.writeError(w, http.StatusBadRequest, bulk.ErrTypeValidation, fmt.Sprintf("Validation Failed: 1: id is too long, must be no longer than 512 bytes but was: %d;", len(id)))
		return
	}
	index, id = validutf8.String(index), validutf8.String(id) // the path may carry %FF
	body, ok := r.newBudgetReader(req)
	defer body.release()
	if !ok {
		r.refuseInFlight(w, req)
		return
	}
	doc, err := readAllInto(st.out[:0], body)
	st.out = doc
	r.telemetry.EsBulkRequestBodySize.Add(ctx, body.n)
	if err != nil {
		r.writeReadError(w, req, err)
		return
	}
	logs := plog.NewLogs()
	if err := r.addDocument(st, logs, doc, index, id, pcommon.NewTimestampFromTime(start)); err != nil {
		st.rejected[reasonMalformedDocument]++
		r.countRejected(ctx, st.rejected)
		r.writeError(w, http.StatusBadRequest, errTypeMapperParsing, "failed to parse: "+err.Error())
		return
	}
	if err := r.consumeInTime(w, req, logs, 1); err != nil {
		if retryable(err) {
			r.refuse(ctx, w, err, 1)
			return
		}
		st.rejected[reasonPipelineRejected]++
		r.countRejected(ctx, st.rejected)
		r.writeError(w, http.StatusBadRequest, errTypePipeline, "rejected by the pipeline: "+err.Error())
		return
	}
	r.telemetry.EsBulkDocumentsAccepted.Add(ctx, 1)
	res := itemResult{index: index, id: id, status: http.StatusCreated}
	if id == "" {
		res.autoID = r.autoID.Add(1)
	}
	seq := r.seqNo.Add(1) - 1
	b := append(st.out[:0], `{"_index":`...)
	b = jsonenc.AppendString(b, index)
	b = append(b, `,"_id":`...)
	b = r.appendID(b, &res)
	b = append(b, `,"_version":1,"result":"created","_shards":{"total":1,"successful":1,"failed":0},"_seq_no":`...)
	b = appendInt(b, seq)
	b = append(b, `,"_primary_term":1}`...)
	st.out = b
	writeJSON(w, http.StatusCreated, b)
}

// maxResponseReserve caps the part of write_timeout kept for writing the
// response after the pipeline answered.
const maxResponseReserve = 5 * time.Second

// errPipelineTimeout marks a pipeline that did not answer within write_timeout.
var errPipelineTimeout = errors.New("the pipeline did not accept the data within write_timeout")

// consumeInTime hands logs to the next consumer once the body has been read,
// so that whatever the pipeline accepts can still be answered: Go's write
// deadline runs from the end of the headers, and a slow upload or a slow
// pipeline would leave accepted data unanswered, which the shipper resends
// (duplicates). The write deadline is restarted here and the pipeline gets
// write_timeout minus a reserve for the response; a pipeline that has not
// answered by then sees its context expire, and its error becomes a 429.
func (r *esBulkReceiver) consumeInTime(w http.ResponseWriter, req *http.Request, logs plog.Logs, n int) error {
	timeout := r.cfg.ServerConfig.WriteTimeout
	if timeout <= 0 {
		return r.consume(req.Context(), logs, n)
	}
	reserve := min(timeout/4, maxResponseReserve)
	rc := http.NewResponseController(w)
	now := time.Now()
	_ = rc.SetWriteDeadline(now.Add(timeout)) // not supported by test recorders only
	ctx, cancel := context.WithDeadline(req.Context(), now.Add(timeout-reserve))
	defer cancel()
	err := r.consume(ctx, logs, n)
	if ctx.Err() == nil {
		return err
	}
	// Past the budget: a consumer that ignored its context and accepted
	// anyway must still get its 201 written, so the reserve starts again.
	_ = rc.SetWriteDeadline(time.Now().Add(reserve))
	if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%w: %w", errPipelineTimeout, err)
	}
	return err
}

// retryable reports whether a pipeline error is answered 429: not permanent,
// or caused by our deadline (a consumer may mark a context error permanent).
func retryable(err error) bool {
	return errors.Is(err, errPipelineTimeout) || !consumererror.IsPermanent(err)
}

// consume hands logs to the next consumer, reporting the standard receiver
// metrics (otelcol_receiver_accepted/refused_log_records).
func (r *esBulkReceiver) consume(ctx context.Context, logs plog.Logs, n int) error {
	ctx = r.obsrecv.StartLogsOp(ctx)
	err := r.next.ConsumeLogs(ctx, logs)
	r.obsrecv.EndLogsOp(ctx, metadata.Type.String(), n, err)
	return err
}

// refuse answers a whole request 429: the pipeline could not take the data
// now, and every shipper retries a 429.
func (r *esBulkReceiver) refuse(ctx context.Context, w http.ResponseWriter, err error, n int) {
	r.telemetry.EsBulkDocumentsRefused.Add(ctx, int64(n))
	r.writeError(w, http.StatusTooManyRequests, errTypeRejected, "rejected execution: the pipeline refused the data, retry later: "+err.Error())
}

// writeReadError answers a body that could not be read: 429 when reading it
// would exceed max_in_flight_bytes; 413 when it exceeds
// max_request_body_size after decompression; 503 when it arrived too slowly
// (read_timeout) or cut short, which a retry can cure and every shipper
// retries (Vector does not retry a 408); else 400 (corrupt compression).
func (r *esBulkReceiver) writeReadError(w http.ResponseWriter, req *http.Request, err error) {
	if errors.Is(err, errInFlightBudget) {
		r.refuseInFlight(w, req)
		return
	}
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		r.writeError(w, http.StatusRequestEntityTooLarge, errTypeTooLarge,
			fmt.Sprintf("request body is larger than max_request_body_size (%d bytes) after decompression", tooLarge.Limit))
		return
	}
	var netErr net.Error
	if errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &netErr) && netErr.Timeout()) {
		r.writeError(w, http.StatusServiceUnavailable, errTypeTimeout, "request body not received within read_timeout, retry: "+err.Error())
		return
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		r.writeError(w, http.StatusServiceUnavailable, errTypeIncomplete, "request body ended early, retry: "+err.Error())
		return
	}
	r.writeError(w, http.StatusBadRequest, errTypeParse, "cannot read request body: "+err.Error())
}

func (r *esBulkReceiver) countRejected(ctx context.Context, rejected map[string]int64) {
	for reason, n := range rejected {
		if n > 0 {
			r.telemetry.EsBulkDocumentsRejected.Add(ctx, n, r.reasonAttrs[reason])
		}
	}
}

// readAllInto reads r to the end, appending to buf.
func readAllInto(buf []byte, r io.Reader) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}
