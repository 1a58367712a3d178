// Package osclient is a small OpenSearch HTTP client: _bulk requests with
// per-item results, and plain JSON calls for the start-up installs. It leaves
// retry decisions to the caller and reports every non-2xx answer as a
// *StatusError carrying the HTTP status.
package osclient // import "github.com/sluicelogs/sluice/exporter/opensearchexporter/internal/osclient"

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
)

// maxResponseBytes bounds what is read from one response.
const maxResponseBytes = 64 << 20

// Signer signs a request whose body is exactly body (AWS SigV4 hashes it).
type Signer func(req *http.Request, body []byte) error

// Client talks to one OpenSearch endpoint.
type Client struct {
	HTTP    *http.Client
	BaseURL string // scheme://host:port[/prefix], no trailing slash
	Gzip    bool   // compress request bodies
	Sign    Signer // optional

	conns connTracker
}

// Close closes the idle connections and every connection the client opened;
// call it once no request is in flight any more.
func (c *Client) Close() {
	c.HTTP.CloseIdleConnections()
	c.conns.closeAll()
}

// StatusError is a non-2xx HTTP answer.
type StatusError struct {
	Status int
	// Type and Reason come from an OpenSearch error body when there is one.
	Type, Reason string
	Method, Path string
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("%s %s: HTTP %d", e.Method, e.Path, e.Status)
	if e.Type != "" {
		msg += " " + e.Type
	}
	if e.Reason != "" {
		msg += ": " + e.Reason
	}
	return msg
}

// StatusOf returns the HTTP status carried by err, or 0 for transport errors.
func StatusOf(err error) int {
	var se *StatusError
	if errors.As(err, &se) {
		return se.Status
	}
	return 0
}

var gzipPool = sync.Pool{New: func() any {
	w, _ := gzip.NewWriterLevel(io.Discard, gzip.BestSpeed)
	return w
}}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// Do sends one request and returns the response body for a 2xx answer.
// contentType is used when body is non-nil.
func (c *Client) Do(ctx context.Context, method, path, contentType string, body []byte) ([]byte, error) {
	respBuf := bufPool.Get().(*bytes.Buffer)
	defer bufPool.Put(respBuf)
	respBuf.Reset()
	if err := c.do(ctx, method, path, contentType, body, respBuf); err != nil {
		return nil, err
	}
	return bytes.Clone(respBuf.Bytes()), nil
}

// do sends the request and reads the response into out.
func (c *Client) do(ctx context.Context, method, path, contentType string, body []byte, out *bytes.Buffer) error {
	payload := body
	var zbuf *bytes.Buffer
	if c.Gzip && len(body) > 0 {
		zbuf = bufPool.Get().(*bytes.Buffer)
		defer bufPool.Put(zbuf)
		zbuf.Reset()
		zw := gzipPool.Get().(*gzip.Writer)
		zw.Reset(zbuf)
		_, _ = zw.Write(body) // writes to a bytes.Buffer cannot fail
		_ = zw.Close()
		gzipPool.Put(zw)
		payload = zbuf.Bytes()
	}
	var rd io.Reader
	if payload != nil {
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(c.conns.withTrace(ctx), method, c.BaseURL+path, rd)
	if err != nil {
		return fmt.Errorf("build %s %s: %w", method, path, err)
	}
	if payload != nil {
		req.Header.Set("Content-Type", contentType)
		if zbuf != nil {
			req.Header.Set("Content-Encoding", "gzip")
		}
	}
	req.Header.Set("Accept", "application/json")
	if c.Sign != nil {
		if err := c.Sign(req, payload); err != nil {
			return fmt.Errorf("sign %s %s: %w", method, path, err)
		}
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	_, readErr := out.ReadFrom(io.LimitReader(resp.Body, maxResponseBytes))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		se := &StatusError{Status: resp.StatusCode, Method: method, Path: trimQuery(path)}
		se.Type, se.Reason = ParseErrorBody(out.Bytes())
		return se
	}
	if readErr != nil {
		return fmt.Errorf("%s %s: read response: %w", method, path, readErr)
	}
	return nil
}

func trimQuery(p string) string {
	if i := strings.IndexByte(p, '?'); i >= 0 {
		return p[:i]
	}
	return p
}
