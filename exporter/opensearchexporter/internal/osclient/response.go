package osclient

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// ItemResult is the outcome of one bulk action.
type ItemResult struct {
	Status int
	Type   string // error type, e.g. mapper_parsing_exception
	Reason string
}

type itemBody struct {
	Status int `json:"status"`
	Error  *struct {
		Type   string `json:"type"`
		Reason string `json:"reason"`
	} `json:"error"`
}

type bulkItem struct {
	Create *itemBody `json:"create"`
	Index  *itemBody `json:"index"`
}

type bulkResponse struct {
	Errors bool       `json:"errors"`
	Items  []bulkItem `json:"items"`
}

var noErrorsPrefix = []byte(`{"errors":false`)

// ParseBulkResponse decodes a filtered _bulk response for n actions. When the
// response says there were no errors, every item is taken as created (201)
// without decoding the item list.
func ParseBulkResponse(body []byte, n int) ([]ItemResult, error) {
	out := make([]ItemResult, n)
	if bytes.HasPrefix(body, noErrorsPrefix) {
		// filter_path keeps errors first; the count is still checked cheaply.
		if c := bytes.Count(body, []byte(`"status":`)); c != n {
			return nil, fmt.Errorf("%w: %d items for %d actions", ErrItemCount, c, n)
		}
		for i := range out {
			out[i].Status = 201
		}
		return out, nil
	}
	var r bulkResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("decode bulk response: %w", err)
	}
	if len(r.Items) != n {
		return nil, fmt.Errorf("%w: %d items for %d actions", ErrItemCount, len(r.Items), n)
	}
	for i, it := range r.Items {
		b := it.Create
		if b == nil {
			b = it.Index
		}
		if b == nil {
			return nil, fmt.Errorf("decode bulk response: item %d has no create result", i)
		}
		out[i].Status = b.Status
		if b.Error != nil {
			out[i].Type, out[i].Reason = b.Error.Type, b.Error.Reason
		}
	}
	return out, nil
}

// ParseErrorBody extracts error.type and error.reason from an OpenSearch error
// body such as {"error":{"type":...,"reason":...},"status":400}. Bodies that are
// not of that shape yield a shortened copy of the body as reason.
func ParseErrorBody(body []byte) (typ, reason string) {
	var e struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && len(e.Error) > 0 {
		var obj struct {
			Type   string `json:"type"`
			Reason string `json:"reason"`
		}
		if json.Unmarshal(e.Error, &obj) == nil && (obj.Type != "" || obj.Reason != "") {
			return obj.Type, obj.Reason
		}
		var s string
		if json.Unmarshal(e.Error, &s) == nil {
			return "", s
		}
	}
	const maxReason = 256
	body = bytes.TrimSpace(body)
	if len(body) > maxReason {
		body = body[:maxReason]
	}
	return "", string(body)
}
