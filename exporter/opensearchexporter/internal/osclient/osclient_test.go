package osclient

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBulkSendsGzipNDJSONAndParsesItems(t *testing.T) {
	var gotBody []byte
	var gotHeaders http.Header
	var signed []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotHeaders = r.Header.Clone()
		assert.Equal(t, bulkPath, r.URL.RequestURI())
		zr, err := gzip.NewReader(r.Body)
		require.NoError(t, err)
		gotBody, _ = io.ReadAll(zr)
		_, _ = io.WriteString(w, `{"errors":true,"items":[{"create":{"status":201}},{"create":{"status":409,"error":{"type":"version_conflict_engine_exception","reason":"exists"}}},{"create":{"status":400,"error":{"type":"mapper_parsing_exception","reason":"bad"}}}]}`)
	}))
	defer srv.Close()
	c := &Client{
		HTTP: srv.Client(), BaseURL: srv.URL, Gzip: true,
		Sign: func(_ *http.Request, body []byte) error { signed = body; return nil },
	}
	var body []byte
	body = AppendCreate(body, "idx", "a", []byte(`{"x":1}`))
	body = AppendCreate(body, "idx", "b", []byte(`{"x":2}`))
	body = AppendCreate(body, "idx", "", []byte(`{"x":3}`))
	res, err := c.Bulk(context.Background(), body, 3)
	require.NoError(t, err)
	assert.Equal(t, string(body), string(gotBody))
	assert.Equal(t, "{\"create\":{\"_index\":\"idx\",\"_id\":\"a\"}}\n{\"x\":1}\n", string(body[:len(`{"create":{"_index":"idx","_id":"a"}}`)+9]))
	assert.Equal(t, "gzip", gotHeaders.Get("Content-Encoding"))
	assert.Equal(t, "application/x-ndjson", gotHeaders.Get("Content-Type"))
	assert.NotEmpty(t, signed)
	assert.NotEqual(t, body, signed, "the signer sees the compressed payload")
	assert.Equal(t, []ItemResult{
		{Status: 201},
		{Status: 409, Type: "version_conflict_engine_exception", Reason: "exists"},
		{Status: 400, Type: "mapper_parsing_exception", Reason: "bad"},
	}, res)
}

func TestBulkStatusErrors(t *testing.T) {
	for _, tc := range []struct {
		status int
		body   string
		want   string
	}{
		{413, "", "POST /_bulk: HTTP 413"},
		{429, `{"error":{"type":"rejected_execution_exception","reason":"queue full"},"status":429}`, "POST /_bulk: HTTP 429 rejected_execution_exception: queue full"},
		{400, `{"error":"no handler found"}`, "POST /_bulk: HTTP 400: no handler found"},
		{503, "<html>down</html>", "POST /_bulk: HTTP 503: <html>down</html>"},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(tc.status)
			_, _ = io.WriteString(w, tc.body)
		}))
		c := &Client{HTTP: srv.Client(), BaseURL: srv.URL}
		_, err := c.Bulk(context.Background(), AppendCreate(nil, "i", "1", []byte("{}")), 1)
		srv.Close()
		require.Error(t, err)
		assert.Equal(t, tc.want, err.Error())
		assert.Equal(t, tc.status, StatusOf(err))
	}
}

func TestBulkTransportError(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	c := &Client{HTTP: http.DefaultClient, BaseURL: url}
	_, err := c.Bulk(context.Background(), AppendCreate(nil, "i", "1", []byte("{}")), 1)
	require.Error(t, err)
	assert.Equal(t, 0, StatusOf(err))
}

func TestParseBulkResponse(t *testing.T) {
	res, err := ParseBulkResponse([]byte(`{"errors":false,"items":[{"create":{"status":201}},{"create":{"status":201}}]}`), 2)
	require.NoError(t, err)
	assert.Equal(t, []ItemResult{{Status: 201}, {Status: 201}}, res)

	_, err = ParseBulkResponse([]byte(`{"errors":false,"items":[{"create":{"status":201}}]}`), 2)
	require.ErrorIs(t, err, ErrItemCount)
	_, err = ParseBulkResponse([]byte(`{"errors":true,"items":[]}`), 1)
	require.ErrorIs(t, err, ErrItemCount)
	_, err = ParseBulkResponse([]byte(`{"errors":true,"items":[{"delete":{"status":200}}]}`), 1)
	require.EqualError(t, err, "decode bulk response: item 0 has no create result")
	_, err = ParseBulkResponse([]byte(`not json`), 1)
	require.Error(t, err)
}

func FuzzParseBulkResponse(f *testing.F) {
	f.Add([]byte(`{"errors":false,"items":[{"create":{"status":201}}]}`), 1)
	f.Add([]byte(`{"errors":true,"items":[{"create":{"status":429,"error":{"type":"rejected_execution_exception","reason":"r"}}}]}`), 1)
	f.Add([]byte(`{"errors":false`), 0)
	f.Add([]byte(`{"errors":true,"items":[{"index":{"status":"x"}}]}`), 1)
	f.Fuzz(func(t *testing.T, body []byte, n int) {
		if n < 0 || n > 1000 {
			return
		}
		res, err := ParseBulkResponse(body, n)
		if err == nil && len(res) != n {
			t.Fatalf("got %d results for %d", len(res), n)
		}
	})
}

func FuzzParseErrorBody(f *testing.F) {
	f.Add([]byte(`{"error":{"type":"t","reason":"r"},"status":400}`))
	f.Add([]byte(`{"error":"no handler found for uri [/x] and method [GET]"}`))
	f.Add([]byte(``))
	f.Add([]byte(`{"error":[1,2]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		_, reason := ParseErrorBody(body)
		// Bodies that are not JSON are quoted back bounded in size.
		if !json.Valid(body) && len(reason) > 256 {
			t.Fatalf("reason not bounded: %d bytes", len(reason))
		}
	})
}
