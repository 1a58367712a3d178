package esbulkreceiver

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/consumer/consumertest"
)

// FuzzBulkHandler sends arbitrary bodies through the whole _bulk handler and
// checks the accounting: the response is valid JSON with integer statuses,
// and exactly as many records reach the pipeline as items answered 201.
func FuzzBulkHandler(f *testing.F) {
	for _, s := range []string{
		"{\"create\":{\"_index\":\"a\"}}\n{\"message\":\"x\",\"level\":\"info\"}\n",
		"{\"index\":{\"_index\":\"a\",\"_id\":\"1\",\"_type\":\"events\"}}\n{\"@timestamp\":1714558830,\"msg\":\"m\"}\n{\"delete\":{\"_id\":\"1\"}}\n",
		"garbage\n{\"index\":{}}\n{}\n",
		"{\"index\":{\"_index\":\"\\u00ff\\\"q\"}}\n[1]\n{\"index\":{\"_index\":\"b\"}}\n\"str\"\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		sink := new(consumertest.LogsSink)
		r, _ := newTestReceiver(t, sink)
		req := httptest.NewRequest(http.MethodPost, "/_bulk", strings.NewReader(body))
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("status %d: %s", rec.Code, rec.Body.String())
		}
		var resp struct {
			Items []map[string]struct {
				Status int `json:"status"`
			} `json:"items"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
			t.Fatalf("response is not valid JSON: %v\n%s", err, rec.Body.String())
		}
		created := 0
		for _, item := range resp.Items {
			if len(item) != 1 {
				t.Fatalf("item with %d keys", len(item))
			}
			for _, v := range item {
				if v.Status == http.StatusCreated {
					created++
				} else if v.Status != http.StatusBadRequest {
					t.Fatalf("unexpected item status %d", v.Status)
				}
			}
		}
		if created != sink.LogRecordCount() {
			t.Fatalf("%d items answered 201 but %d records delivered", created, sink.LogRecordCount())
		}
	})
}
