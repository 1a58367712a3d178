package validate

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// ReadOpenSearch scrolls through every document of index (a name or
// pattern) and adds the value at field (a dotted path such as
// "attributes.sluice.test.id"; nested objects and dotted keys both match)
// to into. Documents without the field are counted in the returned int.
func ReadOpenSearch(ctx context.Context, baseURL, index, field string, into *Multiset) (int, error) {
	client := &http.Client{Timeout: 60 * time.Second}
	defer client.CloseIdleConnections()
	if _, err := osRequest(ctx, client, http.MethodPost, baseURL+"/"+index+"/_refresh", nil); err != nil {
		return 0, err
	}
	body := []byte(`{"size":1000,"sort":["_doc"],"query":{"match_all":{}}}`)
	raw, err := osRequest(ctx, client, http.MethodPost, baseURL+"/"+index+"/_search?scroll=1m", body)
	if err != nil {
		return 0, err
	}
	path := strings.Split(field, ".")
	withoutField := 0
	var scrollID string
	defer func() {
		if scrollID != "" {
			_, _ = osRequest(context.WithoutCancel(ctx), client, http.MethodDelete, baseURL+"/_search/scroll",
				[]byte(`{"scroll_id":`+jsonString(scrollID)+`}`))
		}
	}()
	for {
		var page struct {
			ScrollID string `json:"_scroll_id"`
			Hits     struct {
				Hits []struct {
					Source map[string]any `json:"_source"`
				} `json:"hits"`
			} `json:"hits"`
		}
		if err := json.Unmarshal(raw, &page); err != nil {
			return withoutField, fmt.Errorf("decode search page: %w", err)
		}
		scrollID = page.ScrollID
		if len(page.Hits.Hits) == 0 {
			return withoutField, nil
		}
		for _, h := range page.Hits.Hits {
			if v, ok := lookupDotted(h.Source, path).(string); ok {
				into.Add(v)
			} else {
				withoutField++
			}
		}
		raw, err = osRequest(ctx, client, http.MethodPost, baseURL+"/_search/scroll",
			[]byte(`{"scroll":"1m","scroll_id":`+jsonString(scrollID)+`}`))
		if err != nil {
			return withoutField, err
		}
	}
}

// lookupDotted finds path in nested maps, letting one key span several
// path segments ("sluice.test.id" stored as a single dotted key).
func lookupDotted(m map[string]any, path []string) any {
	for n := len(path); n >= 1; n-- {
		v, ok := m[strings.Join(path[:n], ".")]
		if !ok {
			continue
		}
		if n == len(path) {
			return v
		}
		if sub, ok := v.(map[string]any); ok {
			if found := lookupDotted(sub, path[n:]); found != nil {
				return found
			}
		}
	}
	return nil
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func osRequest(ctx context.Context, client *http.Client, method, url string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, url, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("read %s %s: %w", method, url, err)
	}
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("%s %s: HTTP %d: %.300s", method, url, resp.StatusCode, raw)
	}
	return raw, nil
}
