package osclient

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/sluicelogs/sluice/exporter/opensearchexporter/internal/document"
)

// bulkPath asks only for what per-item handling needs, which keeps responses small.
const bulkPath = "/_bulk?filter_path=errors,items.*.status,items.*.error.type,items.*.error.reason"

// AppendCreate appends one create action and its document to a bulk body.
// doc must be one line of JSON.
func AppendCreate(dst []byte, index, id string, doc []byte) []byte {
	dst = append(dst, `{"create":{"_index":`...)
	dst = document.AppendString(dst, index)
	if id != "" {
		dst = append(dst, `,"_id":`...)
		dst = document.AppendString(dst, id)
	}
	dst = append(dst, "}}\n"...)
	dst = append(dst, doc...)
	return append(dst, '\n')
}

// Bulk sends a body of n actions built with AppendCreate and returns one result
// per action, in order. A non-2xx answer is a *StatusError; any other error is a
// transport or protocol failure after which nothing is known about the items.
func (c *Client) Bulk(ctx context.Context, body []byte, n int) ([]ItemResult, error) {
	resp := bufPool.Get().(*bytes.Buffer)
	defer bufPool.Put(resp)
	resp.Reset()
	if err := c.do(ctx, "POST", bulkPath, "application/x-ndjson", body, resp); err != nil {
		return nil, err
	}
	results, err := ParseBulkResponse(resp.Bytes(), n)
	if err != nil {
		return nil, fmt.Errorf("POST /_bulk: %w", err)
	}
	return results, nil
}

// ErrItemCount means the response did not have one item per action.
var ErrItemCount = errors.New("bulk response item count does not match the request")
