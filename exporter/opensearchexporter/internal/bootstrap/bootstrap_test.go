package bootstrap

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicelogs/sluice/exporter/opensearchexporter/internal/osclient"
)

type call struct{ method, uri, body string }

// recorder answers each request with the next scripted response.
type recorder struct {
	mu      sync.Mutex
	calls   []call
	answers []func(w http.ResponseWriter)
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, call{req.Method, req.URL.RequestURI(), string(body)})
	if len(r.answers) == 0 {
		_, _ = io.WriteString(w, `{"acknowledged":true}`)
		return
	}
	a := r.answers[0]
	r.answers = r.answers[1:]
	a(w)
}

func answer(status int, body string) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

func client(t *testing.T, r *recorder) *osclient.Client {
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return &osclient.Client{HTTP: srv.Client(), BaseURL: srv.URL}
}

func TestInstallTemplate(t *testing.T) {
	r := &recorder{}
	c := client(t, r)
	spec := TemplateSpec{Name: "sluice-logs", Pattern: "logs-*", Kind: KindLogs, Priority: 950, Shards: 2, Replicas: 0}
	require.NoError(t, InstallTemplate(context.Background(), c, spec))
	require.Len(t, r.calls, 1)
	assert.Equal(t, "PUT", r.calls[0].method)
	assert.Equal(t, "/_index_template/sluice-logs", r.calls[0].uri)
	var body map[string]any
	require.NoError(t, json.Unmarshal([]byte(r.calls[0].body), &body))
	assert.Equal(t, []any{"logs-*"}, body["index_patterns"])
	settings := body["template"].(map[string]any)["settings"].(map[string]any)
	assert.Equal(t, float64(2), settings["index.number_of_shards"])
	assert.Equal(t, float64(0), settings["index.number_of_replicas"])
	props := body["template"].(map[string]any)["mappings"].(map[string]any)["properties"].(map[string]any)
	assert.Equal(t, "flat_object", props["attributes"].(map[string]any)["type"])
	assert.Equal(t, "date_nanos", props["@timestamp"].(map[string]any)["type"])
}

func TestInstallTemplatePermissionDenied(t *testing.T) {
	r := &recorder{answers: []func(http.ResponseWriter){answer(403, `{"error":{"type":"security_exception","reason":"no permissions for [indices:admin/index_template/put]"},"status":403}`)}}
	err := InstallTemplate(context.Background(), client(t, r), TemplateSpec{Name: "t", Pattern: "p-*", Replicas: -1})
	require.Error(t, err)
	assert.True(t, Permanent(err))
	assert.Equal(t, "install index template t: permission denied (PUT /_index_template/t: HTTP 403 security_exception: no permissions for [indices:admin/index_template/put]); grant cluster permission indices:admin/index_template/put to the exporter's user or disable this install", err.Error())
}

func TestInstallTemplateUnreachableIsNotPermanent(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	err := InstallTemplate(context.Background(), &osclient.Client{HTTP: http.DefaultClient, BaseURL: url}, TemplateSpec{Name: "t", Pattern: "p-*"})
	require.Error(t, err)
	assert.False(t, Permanent(err))
}

func TestInstallPolicy(t *testing.T) {
	spec := PolicySpec{ID: "sluice-logs", Pattern: "logs-*", Retention: 30 * 24 * time.Hour, Priority: 950}
	body, fp, err := policyBody(spec)
	require.NoError(t, err)
	assert.Contains(t, string(body), `"min_index_age":"30d"`)

	t.Run("missing plugin", func(t *testing.T) {
		r := &recorder{answers: []func(http.ResponseWriter){answer(400, `{"error":"no handler found for uri [/_plugins/_ism/policies/sluice-logs] and method [GET]"}`)}}
		require.ErrorIs(t, InstallPolicy(context.Background(), client(t, r), spec), ErrISMUnavailable)
	})
	t.Run("create", func(t *testing.T) {
		r := &recorder{answers: []func(http.ResponseWriter){answer(404, `{"error":{"type":"status_exception","reason":"Policy not found"},"status":404}`)}}
		require.NoError(t, InstallPolicy(context.Background(), client(t, r), spec))
		require.Len(t, r.calls, 2)
		assert.Equal(t, call{"PUT", "/_plugins/_ism/policies/sluice-logs", string(body)}, r.calls[1])
	})
	t.Run("identical is left alone", func(t *testing.T) {
		r := &recorder{answers: []func(http.ResponseWriter){answer(200, `{"_id":"sluice-logs","_seq_no":4,"_primary_term":2,"policy":{"description":"Managed by Sluice [`+fp+`]"}}`)}}
		require.NoError(t, InstallPolicy(context.Background(), client(t, r), spec))
		assert.Len(t, r.calls, 1)
	})
	t.Run("different is updated with concurrency control", func(t *testing.T) {
		r := &recorder{answers: []func(http.ResponseWriter){answer(200, `{"_id":"sluice-logs","_seq_no":4,"_primary_term":2,"policy":{"description":"hand made"}}`)}}
		require.NoError(t, InstallPolicy(context.Background(), client(t, r), spec))
		require.Len(t, r.calls, 2)
		assert.Equal(t, "/_plugins/_ism/policies/sluice-logs?if_seq_no=4&if_primary_term=2", r.calls[1].uri)
	})
	t.Run("forbidden", func(t *testing.T) {
		r := &recorder{answers: []func(http.ResponseWriter){answer(403, `{"error":{"type":"security_exception","reason":"denied"},"status":403}`)}}
		err := InstallPolicy(context.Background(), client(t, r), spec)
		require.Error(t, err)
		assert.True(t, strings.HasPrefix(err.Error(), "install ISM policy sluice-logs: permission denied"), err.Error())
	})
}

func TestISMAge(t *testing.T) {
	assert.Equal(t, "30d", ISMAge(30*24*time.Hour))
	assert.Equal(t, "36h", ISMAge(36*time.Hour))
	assert.Equal(t, "90m", ISMAge(90*time.Minute))
	assert.Equal(t, "1m", ISMAge(10*time.Second))
}
