package opensearchexporter

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/sluicelogs/sluice/exporter/opensearchexporter/internal/deadletter"
	"github.com/sluicelogs/sluice/exporter/opensearchexporter/internal/indexname"
	"github.com/sluicelogs/sluice/exporter/opensearchexporter/internal/metadata"
	"github.com/sluicelogs/sluice/exporter/opensearchexporter/internal/osclient"
)

// bulkClient is the part of osclient.Client the sender needs.
type bulkClient interface {
	Bulk(ctx context.Context, body []byte, n int) ([]osclient.ItemResult, error)
}

// item is one encoded document waiting to be indexed. doc points into the
// push's arena and is only valid until the push returns.
type item struct {
	index   string
	id      string
	doc     []byte
	ordinal int // position of the source record in the pushed batch
	// contentID is the content hash of a log document whose id is derived
	// from it ("" otherwise); copies of one record share it (see repeats).
	contentID string
	// res, attrs and ts render the dead-letter index name like the document's own.
	res, attrs pcommon.Map
	ts         pcommon.Timestamp
}

// outcome of one item after a delivery attempt.
type outcome uint8

const (
	outcomePending outcome = iota
	outcomeIndexed
	outcomeDuplicate
	outcomeRetry
	outcomeDead
)

// itemState pairs an item with its outcome and, for dead ones, the reason.
type itemState struct {
	outcome outcome
	status  int
	errType string
	reason  string
}

var (
	attrSuccess        = metric.WithAttributeSet(attribute.NewSet(attribute.String("outcome", "success")))
	attrPartial        = metric.WithAttributeSet(attribute.NewSet(attribute.String("outcome", "partial")))
	attrFailed         = metric.WithAttributeSet(attribute.NewSet(attribute.String("outcome", "failed")))
	attrTooLarge       = metric.WithAttributeSet(attribute.NewSet(attribute.String("outcome", "too_large")))
	attrThrottled      = metric.WithAttributeSet(attribute.NewSet(attribute.String("outcome", "throttled")))
	attrTransportError = metric.WithAttributeSet(attribute.NewSet(attribute.String("outcome", "transport_error")))
)

// sender delivers encoded items with per-item outcome handling. It is shared by
// the logs and traces exporters and knows nothing about pdata.
type sender struct {
	client   bulkClient
	maxBytes int
	maxDocs  int
	signal   string
	tb       *metadata.TelemetryBuilder
	logger   *zap.Logger
	now      func() time.Time

	dlqIndex *indexname.Template // nil: no dead-letter index
	dlqFile  *deadletter.File    // nil: no dead-letter file
}

// deliver sends items and returns the ordinals that must be retried. Items
// that OpenSearch rejected permanently are dead-lettered here; if that fails
// they are returned for retry too, so nothing is dropped.
func (s *sender) deliver(ctx context.Context, items []item) []int {
	states := make([]itemState, len(items))
	s.sendAll(ctx, items, states)

	var dead []int
	var retry []int
	var indexed, dup, retried int64
	for i := range states {
		switch states[i].outcome {
		case outcomeIndexed:
			indexed++
		case outcomeDuplicate:
			dup++
		case outcomeDead:
			dead = append(dead, i)
		default: // retry or never attempted
			retried++
			retry = append(retry, items[i].ordinal)
		}
	}
	if indexed > 0 {
		s.tb.ExporterOpensearchDocumentsIndexed.Add(ctx, indexed)
	}
	if dup > 0 {
		s.tb.ExporterOpensearchDocumentsDuplicate.Add(ctx, dup)
	}
	if retried > 0 {
		s.tb.ExporterOpensearchDocumentsRetried.Add(ctx, retried)
	}
	if len(dead) > 0 {
		retry = append(retry, s.deadLetter(ctx, items, states, dead)...)
	}
	return retry
}

// sendAll sends items in requests bounded by maxBytes and maxDocs. After a
// transport failure the remaining requests are not attempted: they stay
// pending and are retried later.
func (s *sender) sendAll(ctx context.Context, items []item, states []itemState) {
	start := 0
	size := 0
	for i := range items {
		n := actionSize(&items[i])
		if i > start && (size+n > s.maxBytes || i-start >= s.maxDocs) {
			if !s.sendChunk(ctx, items[start:i], states[start:i]) {
				return
			}
			start, size = i, 0
		}
		size += n
	}
	if start < len(items) {
		s.sendChunk(ctx, items[start:], states[start:])
	}
}

// actionSize is the number of body bytes one item adds (an upper bound, since
// escaping of index and id is not counted; both are escape-free in practice).
func actionSize(it *item) int {
	return len(`{"create":{"_index":"","_id":""}}`) + 2 + len(it.index) + len(it.id) + len(it.doc)
}

// sendChunk sends one request and records each item's outcome. It returns
// false when the endpoint is unreachable, so the caller stops sending.
func (s *sender) sendChunk(ctx context.Context, items []item, states []itemState) bool {
	buf := getBuf()
	defer putBuf(buf)
	body := slices.Grow(*buf, s.bodySize(items))
	for i := range items {
		body = osclient.AppendCreate(body, items[i].index, items[i].id, items[i].doc)
	}
	*buf = body
	started := s.now()
	results, err := s.client.Bulk(ctx, body, len(items))
	s.tb.ExporterOpensearchBulkLatency.Record(ctx, float64(s.now().Sub(started).Microseconds())/1000)
	if err != nil {
		return s.handleRequestError(ctx, items, states, err)
	}
	partial := false
	for i, r := range results {
		st := &states[i]
		st.status = r.Status
		switch {
		case r.Status >= 200 && r.Status < 300:
			st.outcome = outcomeIndexed
		case r.Status == http.StatusConflict:
			st.outcome = outcomeDuplicate
		case retryableStatus(r.Status):
			st.outcome = outcomeRetry
			partial = true
		default:
			st.outcome, st.errType, st.reason = outcomeDead, r.Type, r.Reason
			partial = true
		}
	}
	if partial {
		s.tb.ExporterOpensearchBulkRequests.Add(ctx, 1, attrPartial)
	} else {
		s.tb.ExporterOpensearchBulkRequests.Add(ctx, 1, attrSuccess)
	}
	return true
}

func (s *sender) bodySize(items []item) int {
	n := 0
	for i := range items {
		n += actionSize(&items[i])
	}
	return n
}

// retryableStatus: throttling, timeouts, server errors, and AOSS's transient
// 402 capacity answer. Auth failures are retried too, since credentials can be
// fixed without losing what is queued.
func retryableStatus(status int) bool {
	switch status {
	case http.StatusTooManyRequests, http.StatusRequestTimeout, http.StatusPaymentRequired,
		http.StatusUnauthorized, http.StatusForbidden:
		return true
	}
	return status >= 500
}

// handleRequestError handles a request that failed as a whole.
func (s *sender) handleRequestError(ctx context.Context, items []item, states []itemState, err error) bool {
	status := osclient.StatusOf(err)
	switch {
	case status == 0:
		s.tb.ExporterOpensearchBulkRequests.Add(ctx, 1, attrTransportError)
		s.logger.Warn("bulk request failed; documents will be retried", zap.String("signal", s.signal), zap.Int("documents", len(items)), zap.Error(err))
		markRetry(states)
		return errors.Is(err, osclient.ErrItemCount) // a protocol mismatch is not an outage
	case status == http.StatusRequestEntityTooLarge:
		s.tb.ExporterOpensearchBulkRequests.Add(ctx, 1, attrTooLarge)
		if len(items) == 1 {
			states[0] = itemState{outcome: outcomeDead, status: status, errType: "document_too_large", reason: err.Error()}
			return true
		}
		return s.split(ctx, items, states)
	case status == http.StatusTooManyRequests:
		s.tb.ExporterOpensearchBulkRequests.Add(ctx, 1, attrThrottled)
		markRetry(states)
		return true
	case retryableStatus(status):
		s.tb.ExporterOpensearchBulkRequests.Add(ctx, 1, attrFailed)
		s.logger.Warn("bulk request rejected; documents will be retried", zap.String("signal", s.signal), zap.Int("documents", len(items)), zap.Error(err))
		markRetry(states)
		return true
	case !aboutTheDocuments(err):
		// A 404, 405, … or a 400 without an OpenSearch error: a wrong path
		// prefix or a proxy refusing the request, nothing to do with the
		// documents. Splitting would dead-letter every one of them.
		s.tb.ExporterOpensearchBulkRequests.Add(ctx, 1, attrFailed)
		s.logger.Warn("bulk request refused, not for its documents (check the endpoint and any proxy); documents will be retried",
			zap.String("signal", s.signal), zap.Int("documents", len(items)), zap.Error(err))
		markRetry(states)
		return true
	default:
		// OpenSearch refused the request for its content: split to isolate
		// the offending documents, and dead-letter what is still rejected alone.
		s.tb.ExporterOpensearchBulkRequests.Add(ctx, 1, attrFailed)
		if len(items) == 1 {
			var se *osclient.StatusError
			errors.As(err, &se)
			typ := se.Type
			if typ == "" {
				typ = fmt.Sprintf("http_%d", status)
			}
			states[0] = itemState{outcome: outcomeDead, status: status, errType: typ, reason: err.Error()}
			return true
		}
		return s.split(ctx, items, states)
	}
}

// aboutTheDocuments reports whether a whole-request error is OpenSearch
// refusing the request's content: a 400 with an OpenSearch error body.
func aboutTheDocuments(err error) bool {
	var se *osclient.StatusError
	return errors.As(err, &se) && se.Status == http.StatusBadRequest && se.Type != ""
}

func (s *sender) split(ctx context.Context, items []item, states []itemState) bool {
	mid := len(items) / 2
	if !s.sendChunk(ctx, items[:mid], states[:mid]) {
		return false
	}
	return s.sendChunk(ctx, items[mid:], states[mid:])
}

func markRetry(states []itemState) {
	for i := range states {
		states[i].outcome = outcomeRetry
	}
}

// deadLetter stores the dead items and returns the ordinals it could not store.
func (s *sender) deadLetter(ctx context.Context, items []item, states []itemState, dead []int) []int {
	entries := make([]deadletter.Entry, len(dead))
	for k, i := range dead {
		entries[k] = deadletter.Entry{
			Signal: s.signal, Index: items[i].index, DocumentID: items[i].id, Status: states[i].status,
			ErrType: states[i].errType, Reason: states[i].reason, Document: items[i].doc,
		}
		if entries[k].ErrType == "" {
			entries[k].ErrType = fmt.Sprintf("http_%d", states[i].status)
		}
	}
	stored := make([]bool, len(dead))
	// refused holds, for dead letters the dead-letter index itself rejected
	// permanently, that rejection's type: retrying could only repeat it
	// forever and, with max_elapsed_time 0, hold a queue consumer for good.
	refused := make([]string, len(dead))
	if s.dlqFile != nil {
		if err := s.dlqFile.Write(entries); err != nil {
			s.logger.Error("dead-letter file write failed; documents will be retried", zap.Error(err))
		} else {
			for k := range stored {
				stored[k] = true
			}
		}
	}
	if s.dlqIndex != nil {
		s.indexDeadLetters(ctx, items, dead, entries, stored, refused)
	}
	var retry []int
	for k, i := range dead {
		if !stored[k] && refused[k] != "" {
			s.drop(ctx, &entries[k], refused[k])
			continue
		}
		if !stored[k] {
			retry = append(retry, items[i].ordinal)
			continue
		}
		s.tb.ExporterOpensearchDocumentsDeadLettered.Add(ctx, 1,
			metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", entries[k].ErrType))))
	}
	if n := countTrue(stored); n > 0 {
		s.logger.Warn("documents rejected by OpenSearch were dead-lettered",
			zap.String("signal", s.signal), zap.Int("documents", n), zap.String("first_reason", entries[0].ErrType))
	}
	return retry
}

// drop gives up a document that neither OpenSearch nor the dead-letter index
// will take: counted and logged at error level. The log names the document,
// never its content nor OpenSearch's reason text (which quotes field values):
// the collector's own logs must not carry what masking may have missed.
func (s *sender) drop(ctx context.Context, e *deadletter.Entry, dlqErrType string) {
	s.tb.ExporterOpensearchDocumentsDropped.Add(ctx, 1,
		metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", e.ErrType))))
	s.logger.Error("document dropped: OpenSearch rejected it and the dead-letter index rejected its dead letter",
		zap.String("signal", s.signal), zap.String("index", e.Index), zap.String("document_id", e.DocumentID),
		zap.String("error_type", e.ErrType), zap.String("dead_letter_error_type", dlqErrType))
}

func countTrue(bs []bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}

// maxDeadLetterDocBytes bounds the original document kept in a dead-letter
// index record; the dead-letter file keeps it whole.
const maxDeadLetterDocBytes = 1 << 20

// indexDeadLetters indexes dead-letter records with the original document id,
// so a retried dead-letter is recognised as a duplicate too.
func (s *sender) indexDeadLetters(ctx context.Context, items []item, dead []int, entries []deadletter.Entry, stored []bool, refused []string) {
	dl := make([]item, len(dead))
	now := s.now()
	for k, i := range dead {
		entries[k].MaxDocumentBytes = min(maxDeadLetterDocBytes, s.maxBytes/2)
		dl[k] = item{
			index: string(s.dlqIndex.AppendName(nil, items[i].res, items[i].attrs, items[i].ts)),
			id:    items[i].id,
			doc:   deadletter.AppendRecord(nil, now, &entries[k]),
		}
	}
	states := make([]itemState, len(dl))
	s.sendAll(ctx, dl, states)
	fileOnly := 0
	for k := range states {
		switch states[k].outcome {
		case outcomeIndexed, outcomeDuplicate:
			stored[k] = true
			continue
		case outcomeDead:
			// No reason text: OpenSearch quotes the field's value in it.
			s.logger.Error("dead-letter index rejected a record", zap.String("index", dl[k].index),
				zap.String("error_type", states[k].errType))
			refused[k] = states[k].errType
			if refused[k] == "" {
				refused[k] = fmt.Sprintf("http_%d", states[k].status)
			}
		}
		if stored[k] {
			fileOnly++
		}
	}
	if fileOnly > 0 {
		// Retrying would write the file a second time; the file's copy counts.
		s.logger.Warn("dead-letter index unavailable; these dead letters are in the dead-letter file only",
			zap.Int("documents", fileOnly))
	}
}
