// Package deadletter builds dead-letter records for documents OpenSearch
// rejected permanently and appends them to a local NDJSON file. The same record
// is what the exporter indexes into the dead-letter index.
package deadletter // import "github.com/sluicelogs/sluice/exporter/opensearchexporter/internal/deadletter"

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/sluicelogs/sluice/exporter/opensearchexporter/internal/document"
)

// Entry is one rejected document and why it was rejected.
type Entry struct {
	Signal     string // "logs" or "traces"
	Index      string // the index the document was meant for
	DocumentID string
	Status     int
	ErrType    string
	Reason     string
	Document   []byte // the original JSON document
	// MaxDocumentBytes truncates Document in the record when positive: a
	// document too large for OpenSearch would be too large as a dead letter too.
	MaxDocumentBytes int
}

// AppendRecord appends the dead-letter JSON record for e: the original
// document is kept as a JSON string so it can never conflict with the
// dead-letter index mapping.
func AppendRecord(dst []byte, now time.Time, e *Entry) []byte {
	dst = append(dst, `{"@timestamp":"`...)
	dst = now.UTC().AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, `","signal":`...)
	dst = document.AppendString(dst, e.Signal)
	dst = append(dst, `,"index":`...)
	dst = document.AppendString(dst, e.Index)
	if e.DocumentID != "" {
		dst = append(dst, `,"documentId":`...)
		dst = document.AppendString(dst, e.DocumentID)
	}
	dst = append(dst, `,"status":`...)
	dst = strconv.AppendInt(dst, int64(e.Status), 10)
	dst = append(dst, `,"error":{"type":`...)
	dst = document.AppendString(dst, e.ErrType)
	dst = append(dst, `,"reason":`...)
	dst = document.AppendString(dst, e.Reason)
	doc := e.Document
	truncated := e.MaxDocumentBytes > 0 && len(doc) > e.MaxDocumentBytes
	if truncated {
		doc = doc[:e.MaxDocumentBytes]
	}
	dst = append(dst, `},"document":`...)
	dst = document.AppendString(dst, string(doc))
	if truncated {
		dst = append(dst, `,"documentTruncated":true`...)
	}
	return append(dst, '}')
}

// File appends dead-letter records to a local file, one JSON object per line.
// Each Write is synced before it returns, so a record reported as written
// survives a crash.
type File struct {
	mu   sync.Mutex
	path string
	f    *os.File
	buf  []byte
	now  func() time.Time
}

// OpenFile opens (creating if needed) the dead-letter file at path.
func OpenFile(path string, now func() time.Time) (*File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("dead-letter file %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return nil, fmt.Errorf("dead-letter file %s: %w", path, err)
	}
	return &File{path: path, f: f, now: now}, nil
}

// Write appends entries and syncs the file.
func (w *File) Write(entries []Entry) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return fmt.Errorf("dead-letter file %s: %w", w.path, os.ErrClosed)
	}
	w.buf = w.buf[:0]
	now := w.now()
	for i := range entries {
		w.buf = AppendRecord(w.buf, now, &entries[i])
		w.buf = append(w.buf, '\n')
	}
	if _, err := w.f.Write(w.buf); err != nil {
		return fmt.Errorf("dead-letter file %s: write: %w", w.path, err)
	}
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("dead-letter file %s: sync: %w", w.path, err)
	}
	return nil
}

// Close closes the file; it is safe to call more than once.
func (w *File) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	if err != nil && !errors.Is(err, os.ErrClosed) {
		return fmt.Errorf("dead-letter file %s: close: %w", w.path, err)
	}
	return nil
}
