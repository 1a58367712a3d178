package esbulkreceiver

import (
	"encoding/base64"
	"encoding/binary"
	"net/http"
	"strconv"
	"strings"

	"github.com/sluicelogs/sluice/internal/jsonenc"
	"github.com/sluicelogs/sluice/receiver/esbulkreceiver/internal/bulk"
)

// Elasticsearch error types used in responses.
const (
	errTypeRejected      = "es_rejected_execution_exception"
	errTypeMapperParsing = "mapper_parsing_exception"
	errTypeIllegalArg    = "illegal_argument_exception"
	errTypeParse         = "parse_exception"
	errTypeTooLarge      = "content_too_long_exception"
	errTypePipeline      = "pipeline_rejected_exception"
	errTypeTimeout       = "timeout_exception"
	errTypeIncomplete    = "i_o_exception" // Elasticsearch's name for a Java IOException
)

// maxReasonBytes bounds error reasons echoed to clients.
const maxReasonBytes = 512

// itemResult is the outcome of one bulk action, kept until the response is written.
type itemResult struct {
	op      bulk.Op
	index   string
	id      string // client id; empty means autoID
	autoID  uint64 // generated id counter when id is empty
	status  int
	errType string
	reason  string
}

// Item field bits for filter_path.
const (
	fieldIndex uint16 = 1 << iota
	fieldID
	fieldVersion
	fieldResult
	fieldShards
	fieldSeqNo
	fieldPrimaryTerm
	fieldStatus
	fieldError
	fieldAll = fieldIndex | fieldID | fieldVersion | fieldResult | fieldShards | fieldSeqNo | fieldPrimaryTerm | fieldStatus | fieldError
)

// responseFilter is the subset of filter_path that shippers send
// (e.g. Beats and Logstash: errors,items.*.error,items.*.status).
type responseFilter struct {
	took, errors, items bool
	itemFields          uint16
}

var noFilter = responseFilter{took: true, errors: true, items: true, itemFields: fieldAll}

// parseFilterPath understands took, errors, items, items.*, items.*.<field>;
// anything else falls back to the full response, which every client reads.
func parseFilterPath(fp string) responseFilter {
	if fp == "" {
		return noFilter
	}
	var f responseFilter
	for p := range strings.SplitSeq(fp, ",") {
		switch p = strings.TrimSpace(p); p {
		case "took":
			f.took = true
		case "errors":
			f.errors = true
		case "items", "items.*", "items.*.*":
			f.items = true
			f.itemFields = fieldAll
		default:
			field, ok := strings.CutPrefix(p, "items.*.")
			if !ok {
				return noFilter
			}
			bit := itemFieldBit(field)
			if bit == 0 {
				return noFilter
			}
			f.items = true
			f.itemFields |= bit
		}
	}
	return f
}

func itemFieldBit(name string) uint16 {
	switch name {
	case "_index":
		return fieldIndex
	case "_id":
		return fieldID
	case "_version":
		return fieldVersion
	case "result":
		return fieldResult
	case "_shards":
		return fieldShards
	case "_seq_no":
		return fieldSeqNo
	case "_primary_term":
		return fieldPrimaryTerm
	case "status":
		return fieldStatus
	case "error":
		return fieldError
	}
	return 0
}

// appendBulkResponse writes {"took":…,"errors":…,"items":[…]}; seqBase is
// the sequence number of the first created item.
func (r *esBulkReceiver) appendBulkResponse(b []byte, items []itemResult, tookMs int64, seqBase int64, f responseFilter) []byte {
	hasErrors := false
	for i := range items {
		if items[i].status >= 300 {
			hasErrors = true
			break
		}
	}
	b = append(b, '{')
	sep := false
	if f.took {
		b = append(b, `"took":`...)
		b = strconv.AppendInt(b, tookMs, 10)
		sep = true
	}
	if f.errors {
		if sep {
			b = append(b, ',')
		}
		b = append(b, `"errors":`...)
		b = strconv.AppendBool(b, hasErrors)
		sep = true
	}
	if f.items {
		if sep {
			b = append(b, ',')
		}
		b = append(b, `"items":[`...)
		first := true
		seq := seqBase
		for i := range items {
			it := &items[i]
			fields := f.itemFields
			if it.status < 300 {
				fields &^= fieldError
			} else {
				fields &^= fieldVersion | fieldResult | fieldSeqNo | fieldPrimaryTerm
			}
			if fields == 0 { // filtered to nothing: Elasticsearch drops empty objects
				if it.status < 300 {
					seq++
				}
				continue
			}
			if !first {
				b = append(b, ',')
			}
			first = false
			b = r.appendItem(b, it, fields, seq)
			if it.status < 300 {
				seq++
			}
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

func (r *esBulkReceiver) appendItem(b []byte, it *itemResult, fields uint16, seq int64) []byte {
	b = append(b, '{')
	b = jsonenc.AppendString(b, it.op.String())
	b = append(b, `:{`...)
	sep := false
	field := func(name string) {
		if sep {
			b = append(b, ',')
		}
		sep = true
		b = append(b, name...)
	}
	if fields&fieldIndex != 0 {
		field(`"_index":`)
		b = jsonenc.AppendString(b, it.index)
	}
	if fields&fieldID != 0 {
		field(`"_id":`)
		b = r.appendID(b, it)
	}
	if fields&fieldVersion != 0 {
		field(`"_version":1`)
	}
	if fields&fieldResult != 0 {
		field(`"result":"created"`)
	}
	if fields&fieldShards != 0 {
		if it.status < 300 {
			field(`"_shards":{"total":1,"successful":1,"failed":0}`)
		} else {
			field(`"_shards":{"total":1,"successful":0,"failed":1}`)
		}
	}
	if fields&fieldSeqNo != 0 {
		field(`"_seq_no":`)
		b = strconv.AppendInt(b, seq, 10)
	}
	if fields&fieldPrimaryTerm != 0 {
		field(`"_primary_term":1`)
	}
	if fields&fieldStatus != 0 {
		field(`"status":`)
		b = strconv.AppendInt(b, int64(it.status), 10)
	}
	if fields&fieldError != 0 {
		field(`"error":{"type":`)
		b = jsonenc.AppendString(b, it.errType)
		b = append(b, `,"reason":`...)
		b = jsonenc.AppendString(b, it.reason)
		b = append(b, `,"index":`...)
		b = jsonenc.AppendString(b, it.index)
		b = append(b, '}')
	}
	return append(b, `}}`...)
}

// appendID writes the client's id or a generated 20-character one, shaped
// like Elasticsearch's auto ids (base64url of 15 bytes).
func (r *esBulkReceiver) appendID(b []byte, it *itemResult) []byte {
	if it.id != "" {
		return jsonenc.AppendString(b, it.id)
	}
	var raw [15]byte
	copy(raw[:7], r.idPrefix[:])
	binary.BigEndian.PutUint64(raw[7:], it.autoID)
	b = append(b, '"')
	b = base64.RawURLEncoding.AppendEncode(b, raw[:])
	return append(b, '"')
}

// appendErrorBody writes Elasticsearch's request-level error shape.
func appendErrorBody(b []byte, status int, errType, reason string) []byte {
	b = append(b, `{"error":{"root_cause":[{"type":`...)
	b = jsonenc.AppendString(b, errType)
	b = append(b, `,"reason":`...)
	b = jsonenc.AppendString(b, reason)
	b = append(b, `}],"type":`...)
	b = jsonenc.AppendString(b, errType)
	b = append(b, `,"reason":`...)
	b = jsonenc.AppendString(b, reason)
	b = append(b, `},"status":`...)
	b = strconv.AppendInt(b, int64(status), 10)
	return append(b, '}')
}

// writeError answers a whole request with an Elasticsearch-style error.
func (r *esBulkReceiver) writeError(w http.ResponseWriter, status int, errType, reason string) {
	if (status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable) && r.retryAfter != "" {
		w.Header().Set("Retry-After", r.retryAfter)
	}
	writeJSON(w, status, appendErrorBody(nil, status, errType, truncateReason(reason)))
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=UTF-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body) // the client went away; nothing to do
}

func truncateReason(s string) string {
	if len(s) <= maxReasonBytes {
		return s
	}
	return s[:maxReasonBytes] + "..."
}

func appendInt(b []byte, v int64) []byte { return strconv.AppendInt(b, v, 10) }
