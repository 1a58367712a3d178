package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/sluicelogs/sluice/testbed/validate"
)

// BulkConfig shapes an Elasticsearch `_bulk` workload (what Beats, Logstash
// or Fluent Bit's es output send).
type BulkConfig struct {
	// URL is the base URL of the bulk endpoint, e.g. http://127.0.0.1:9200 (POST URL/_bulk).
	URL string
	// Index is the target index named in each action line.
	Index string
	// Docs in total, BatchSize per request (default 500).
	Docs      int
	BatchSize int
	// RunID prefixes the ids (default a random one).
	RunID string
	// Client sends the requests (default a client with a 30 s timeout).
	Client *http.Client
}

// BulkResult lists the ids the server accepted item by item.
type BulkResult struct {
	Accepted *validate.Multiset
	// Failed counts items the server answered with an error status.
	Failed  int
	Elapsed time.Duration
}

// SendBulk posts cfg.Docs documents, each carrying "sluice.test.id".
func SendBulk(ctx context.Context, cfg BulkConfig) (*BulkResult, error) {
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 500
	}
	if cfg.RunID == "" {
		cfg.RunID = NewRunID()
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 30 * time.Second}
	}
	res := &BulkResult{Accepted: validate.NewMultiset(cfg.RunID + "-b")}
	began := time.Now()
	var body bytes.Buffer
	for start := 0; start < cfg.Docs; start += cfg.BatchSize {
		n := min(cfg.BatchSize, cfg.Docs-start)
		body.Reset()
		ids := make([]string, n)
		for i := range n {
			ids[i] = res.Accepted.ID(uint64(start + i))
			writeBulkItem(&body, cfg.Index, ids[i], start+i)
		}
		statuses, err := postBulk(ctx, cfg, body.Bytes())
		if err != nil {
			return res, err
		}
		if len(statuses) != n {
			return res, fmt.Errorf("bulk response has %d items for %d documents", len(statuses), n)
		}
		for i, st := range statuses {
			if st >= 200 && st < 300 {
				res.Accepted.Add(ids[i])
			} else {
				res.Failed++
			}
		}
	}
	res.Elapsed = time.Since(began)
	return res, nil
}

func writeBulkItem(b *bytes.Buffer, index, id string, n int) {
	b.WriteString(`{"create":{"_index":`)
	b.WriteString(strconv.Quote(index))
	b.WriteString("}}\n")
	b.WriteString(`{"@timestamp":"`)
	b.WriteString(time.Now().UTC().Format(time.RFC3339Nano))
	b.WriteString(`","message":"GET /api/items/`)
	b.WriteString(strconv.Itoa(n % 1000))
	b.WriteString(` 200","log":{"level":"`)
	b.WriteString(levels[n%len(levels)])
	b.WriteString(`"},"host":{"name":"beat-1"},"sluice.test.id":"`)
	b.WriteString(id)
	b.WriteString("\"}\n")
}

// postBulk sends one request and returns each item's status.
func postBulk(ctx context.Context, cfg BulkConfig, body []byte) ([]int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, cfg.URL+"/_bulk", bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("bulk request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	resp, err := cfg.Client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("post bulk: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("read bulk response: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("bulk: HTTP %d: %.300s", resp.StatusCode, raw)
	}
	var parsed struct {
		Items []map[string]struct {
			Status int `json:"status"`
		} `json:"items"`
	}
	if err := json.Unmarshal(raw, &parsed); err != nil {
		return nil, fmt.Errorf("decode bulk response: %w", err)
	}
	statuses := make([]int, len(parsed.Items))
	for i, item := range parsed.Items {
		for _, v := range item { // one action key per item
			statuses[i] = v.Status
		}
	}
	return statuses, nil
}
