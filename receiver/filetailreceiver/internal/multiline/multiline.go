// Package multiline joins physical lines into records: a record starts at a
// line a Classifier recognizes as a start and takes every following
// continuation line, up to a maximum size.
package multiline // import "github.com/sluicelogs/sluice/receiver/filetailreceiver/internal/multiline"

import (
	"time"
)

// Classifier decides whether a line continues the record before it. It may
// keep state (stack-trace presets do); it sees every line in order.
type Classifier interface {
	Continues(line []byte) bool
}

// Record is a joined record.
type Record[M any] struct {
	// Data is the lines joined by "\n"; valid until the next Add or Flush.
	Data []byte
	// Meta is the metadata of the record's first line.
	Meta M
	// Start is the file offset of the first line, End the offset after the last.
	Start, End int64
	// Truncated is set when the record was cut at the maximum size (or one of
	// its lines was truncated before).
	Truncated bool
}

// Aggregator accumulates one pending record.
type Aggregator[M any] struct {
	cls     Classifier
	maxSize int

	buf       []byte
	meta      M
	start     int64
	end       int64
	pending   bool
	truncated bool
	lastAdd   time.Time
}

// NewAggregator returns an aggregator splitting records with cls and cutting
// them at maxSize bytes.
func NewAggregator[M any](cls Classifier, maxSize int) *Aggregator[M] {
	return &Aggregator[M]{cls: cls, maxSize: maxSize}
}

// Add feeds the line spanning [start, end) of the file. When the line starts
// a new record, the pending one is passed to emit first.
func (a *Aggregator[M]) Add(line []byte, meta M, start, end int64, truncated bool, now time.Time, emit func(Record[M])) {
	if a.pending && a.cls.Continues(line) {
		if len(a.buf) < a.maxSize {
			a.buf = append(a.buf, '\n')
			room := a.maxSize - len(a.buf)
			if len(line) > room {
				line = line[:max(room, 0)]
				truncated = true
			}
			a.buf = append(a.buf, line...)
		} else {
			truncated = true
		}
		a.truncated = a.truncated || truncated
		a.end = end
		a.lastAdd = now
		return
	}
	if a.pending {
		a.Flush(emit)
	} else {
		// The first line of all still goes through the classifier so stateful
		// classifiers see it.
		a.cls.Continues(line)
	}
	if len(line) > a.maxSize {
		line = line[:a.maxSize]
		truncated = true
	}
	a.buf = append(a.buf[:0], line...)
	a.meta, a.start, a.end, a.truncated = meta, start, end, truncated
	a.pending = true
	a.lastAdd = now
}

// Flush emits the pending record, if any.
func (a *Aggregator[M]) Flush(emit func(Record[M])) {
	if !a.pending {
		return
	}
	a.pending = false
	emit(Record[M]{Data: a.buf, Meta: a.meta, Start: a.start, End: a.end, Truncated: a.truncated})
	var zero M
	a.meta = zero
}

// FlushIdle emits the pending record when no line was added for timeout.
func (a *Aggregator[M]) FlushIdle(now time.Time, timeout time.Duration, emit func(Record[M])) {
	if a.pending && now.Sub(a.lastAdd) >= timeout {
		a.Flush(emit)
	}
}

// Pending returns the file offset where the pending record starts; ok is
// false when nothing is pending. Checkpoints must not pass this offset.
func (a *Aggregator[M]) Pending() (start int64, ok bool) { return a.start, a.pending }

// PendingBytes is the size of the pending record.
func (a *Aggregator[M]) PendingBytes() int {
	if !a.pending {
		return 0
	}
	return len(a.buf)
}
