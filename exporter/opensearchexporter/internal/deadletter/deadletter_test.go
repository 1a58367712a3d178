package deadletter

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var now = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func TestAppendRecord(t *testing.T) {
	e := &Entry{
		Signal: "logs", Index: "i", DocumentID: "id1", Status: 400, ErrType: "mapper_parsing_exception",
		Reason: "failed to parse \"x\"", Document: []byte(`{"body":"a\nb"}`),
	}
	rec := AppendRecord(nil, now, e)
	var got map[string]any
	require.NoError(t, json.Unmarshal(rec, &got))
	assert.Equal(t, map[string]any{
		"@timestamp": "2026-01-02T03:04:05Z", "signal": "logs", "index": "i", "documentId": "id1",
		"status": float64(400), "error": map[string]any{"type": "mapper_parsing_exception", "reason": "failed to parse \"x\""},
		"document": `{"body":"a\nb"}`,
	}, got)

	e.MaxDocumentBytes = 4
	require.NoError(t, json.Unmarshal(AppendRecord(nil, now, e), &got))
	assert.Equal(t, `{"bo`, got["document"])
	assert.Equal(t, true, got["documentTruncated"])
}

func TestFileAppendsAndSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "dlq.ndjson")
	clock := func() time.Time { return now }
	f, err := OpenFile(path, clock)
	require.NoError(t, err)
	require.NoError(t, f.Write([]Entry{{Signal: "logs", Document: []byte("{}")}, {Signal: "traces", Document: []byte("{}")}}))
	require.NoError(t, f.Close())
	require.NoError(t, f.Close())
	require.Error(t, f.Write([]Entry{{}}))

	f, err = OpenFile(path, clock)
	require.NoError(t, err)
	require.NoError(t, f.Write([]Entry{{Signal: "logs", Document: []byte("{}")}}))
	require.NoError(t, f.Close())
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	require.Len(t, lines, 3)
	for _, l := range lines {
		assert.True(t, json.Valid([]byte(l)), l)
	}
}

func TestOpenFileError(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "file")
	require.NoError(t, os.WriteFile(blocker, nil, 0o600))
	_, err := OpenFile(filepath.Join(blocker, "dlq.ndjson"), time.Now)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "dead-letter file")
}
