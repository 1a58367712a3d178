package esbulkreceiver

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
)

// The timings below are scaled down; the assertions are structural (did the
// client get an answer at all, with which status) and the margins are wide.

// blockingUntilDeadline is a pipeline that honours its context, like an
// exporter queue waiting for room: it accepts only after accept has passed,
// or returns the context's error first.
func blockingUntilDeadline(sink *consumertest.LogsSink, accept time.Duration) consumer.Logs {
	c, _ := consumer.NewLogs(func(ctx context.Context, ld plog.Logs) error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(accept):
			return sink.ConsumeLogs(ctx, ld)
		}
	})
	return c
}

// send does one request and returns status, Retry-After and body; a
// transport error (no answer at all) fails the test.
func send(t *testing.T, method, url string, body io.Reader) (int, string, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-ndjson")
	client := &http.Client{Timeout: 20 * time.Second}
	resp, err := client.Do(req)
	require.NoError(t, err, "the shipper must get an answer, or it resends what the pipeline may have taken")
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	return resp.StatusCode, resp.Header.Get("Retry-After"), string(b)
}

// A pipeline slower than write_timeout gets a 429 (retry later) before the
// write deadline instead of the connection being cut after it accepted.
func TestSlowPipelineAnswered429WithinWriteTimeout(t *testing.T) {
	for _, tc := range []struct{ name, method, path, body string }{
		{"bulk", http.MethodPost, "/_bulk", "{\"create\":{\"_index\":\"i\",\"_id\":\"x1\"}}\n{\"message\":\"a\"}\n"},
		{"document", http.MethodPut, "/logs/_doc/x1", `{"message":"a"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sink := new(consumertest.LogsSink)
			_, url := startServer(t, blockingUntilDeadline(sink, 5*time.Second), func(c *Config) {
				c.ServerConfig.WriteTimeout = time.Second
			})
			status, retryAfter, body := send(t, tc.method, url+tc.path, strings.NewReader(tc.body))
			assert.Equal(t, http.StatusTooManyRequests, status, body)
			assert.Equal(t, "5", retryAfter)
			errType, reason := decodeError(t, []byte(body))
			assert.Equal(t, errTypeRejected, errType)
			assert.Contains(t, reason, "write_timeout")
			assert.Zero(t, sink.LogRecordCount(), "nothing was accepted, so the retry does not duplicate")
		})
	}
}

// A consumer that ignores its context and accepts after write_timeout has
// taken the data: it must still be answered 201.
func TestLateAcceptanceStillAnswered(t *testing.T) {
	sink := new(consumertest.LogsSink)
	late, _ := consumer.NewLogs(func(ctx context.Context, ld plog.Logs) error {
		time.Sleep(1600 * time.Millisecond)
		return sink.ConsumeLogs(ctx, ld)
	})
	_, url := startServer(t, late, func(c *Config) {
		c.ServerConfig.WriteTimeout = time.Second
	})
	status, _, body := send(t, http.MethodPost, url+"/_bulk", strings.NewReader("{\"create\":{\"_index\":\"i\",\"_id\":\"x1\"}}\n{\"message\":\"a\"}\n"))
	require.Equal(t, http.StatusOK, status, body)
	assert.Contains(t, body, `"status":201`)
	assert.Equal(t, 1, sink.LogRecordCount())
}

// An upload slower than write_timeout (but within read_timeout) is forwarded
// and answered: write_timeout runs from the end of the body.
func TestSlowUploadAnswered(t *testing.T) {
	sink := new(consumertest.LogsSink)
	_, url := startServer(t, sink, func(c *Config) {
		c.ServerConfig.ReadTimeout = 20 * time.Second
		c.ServerConfig.WriteTimeout = time.Second
	})
	pr, pw := io.Pipe()
	go func() {
		for i := range 8 {
			fmt.Fprintf(pw, "{\"create\":{\"_index\":\"i\",\"_id\":\"s%d\"}}\n{\"message\":\"a\"}\n", i)
			time.Sleep(250 * time.Millisecond)
		}
		_ = pw.Close()
	}()
	status, _, body := send(t, http.MethodPost, url+"/_bulk", pr)
	require.Equal(t, http.StatusOK, status, body)
	assert.Equal(t, 8, strings.Count(body, `"status":201`), body)
	assert.Equal(t, 8, sink.LogRecordCount())
}

// A body slower than read_timeout is answered 503 (every shipper retries a
// 5xx) with Retry-After, and nothing of it is forwarded.
func TestBodyReadTimeoutAnswered503(t *testing.T) {
	sink := new(consumertest.LogsSink)
	_, url := startServer(t, sink, func(c *Config) {
		c.ServerConfig.ReadTimeout = 500 * time.Millisecond
		c.ServerConfig.WriteTimeout = 10 * time.Second
	})
	pr, pw := io.Pipe()
	go func() {
		for range 20 {
			if _, err := fmt.Fprintf(pw, "{\"create\":{\"_index\":\"i\"}}\n{\"message\":\"a\"}\n"); err != nil {
				return
			}
			time.Sleep(200 * time.Millisecond)
		}
		_ = pw.Close()
	}()
	status, retryAfter, body := send(t, http.MethodPost, url+"/_bulk", pr)
	_ = pr.Close()
	assert.Equal(t, http.StatusServiceUnavailable, status, body)
	assert.Equal(t, "5", retryAfter)
	errType, _ := decodeError(t, []byte(body))
	assert.Equal(t, errTypeTimeout, errType)
	assert.Zero(t, sink.LogRecordCount())
}

// A body cut short (the client half-closes before Content-Length bytes) is
// answered 503, not 400; corrupt compressed data stays a 400.
func TestTruncatedBodyAnswered503(t *testing.T) {
	sink := new(consumertest.LogsSink)
	_, url := startServer(t, sink, nil)
	conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	require.NoError(t, err)
	defer conn.Close()
	part := "{\"create\":{\"_index\":\"i\"}}\n{\"message\":\"a\"}\n"
	_, err = fmt.Fprintf(conn, "POST /_bulk HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-ndjson\r\nContent-Length: 1000\r\n\r\n%s", part)
	require.NoError(t, err)
	require.NoError(t, conn.(*net.TCPConn).CloseWrite())
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(10*time.Second)))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, string(b))
	assert.Zero(t, sink.LogRecordCount())

	// A valid gzip header followed by garbage is malformed input, not transient.
	var gz bytes.Buffer
	gw := gzip.NewWriter(&gz)
	_, _ = gw.Write([]byte(strings.Repeat(part, 50)))
	require.NoError(t, gw.Close())
	corrupt := append(gz.Bytes()[:10:10], bytes.Repeat([]byte{0xff}, 64)...)
	r := post(t, url+"/_bulk", corrupt, "gzip")
	assert.Equal(t, http.StatusBadRequest, r.StatusCode)
	assert.Zero(t, sink.LogRecordCount())
}

// decodeError reads Elasticsearch's request-level error body.
func decodeError(t *testing.T, body []byte) (errType, reason string) {
	t.Helper()
	var e struct {
		Error struct {
			Type   string `json:"type"`
			Reason string `json:"reason"`
		} `json:"error"`
	}
	require.NoError(t, json.Unmarshal(body, &e), string(body))
	return e.Error.Type, e.Error.Reason
}
