// Package ack lets a receiver learn when the records it handed to a pipeline
// are finished with — delivered, sampled out, or given up for redelivery —
// even when a processor downstream holds them past the Consume call.
//
// A receiver that can replay its input (a Kafka consumer) creates a Batch per
// Consume call and passes it in the context; a processor that buffers records
// (tail_sampling) takes a Hold on the batch for each buffered unit and
// releases it once those records are emitted or dropped. The receiver commits
// its input position only when the batch is done, so a crash loses nothing it
// had committed. Components that do not know this package simply finish within
// the Consume call, which is what the receiver's own hold covers.
package ack

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
)

// ErrAbandoned is the result of a batch whose records a holder gave up on
// because the batch was cancelled: they were neither delivered nor sampled
// out and must be read again from the source.
var ErrAbandoned = errors.New("records abandoned for redelivery")

// Batch counts the holds on one unit of input. It is done when the last hold
// is released; onDone then runs once with the first error released (nil when
// every holder succeeded).
type Batch struct {
	holds     atomic.Int64
	cancelled atomic.Bool
	mu        sync.Mutex
	err       error
	onDone    func(error)
}

// NewBatch returns a batch holding one hold for its creator, who must
// Release it after the Consume call returns.
func NewBatch(onDone func(error)) *Batch {
	b := &Batch{onDone: onDone}
	b.holds.Store(1)
	return b
}

// Hold adds a hold; each must be matched by one Release.
func (b *Batch) Hold() { b.holds.Add(1) }

// Release drops a hold with the holder's outcome.
func (b *Batch) Release(err error) {
	if err != nil {
		b.mu.Lock()
		if b.err == nil {
			b.err = err
		}
		b.mu.Unlock()
	}
	switch n := b.holds.Add(-1); {
	case n == 0:
		b.mu.Lock()
		err := b.err
		b.mu.Unlock()
		if b.onDone != nil {
			b.onDone(err)
		}
	case n < 0:
		panic("ack: Release without Hold")
	}
}

// Cancel tells holders the source will deliver these records again (its
// partition moved to another consumer): a holder that has not yet emitted
// them should drop them and release with ErrAbandoned, so they are not
// emitted twice or judged on part of their request.
func (b *Batch) Cancel() { b.cancelled.Store(true) }

// Cancelled reports whether Cancel was called.
func (b *Batch) Cancelled() bool { return b.cancelled.Load() }

type ctxKey struct{}

// NewContext returns ctx carrying b.
func NewContext(ctx context.Context, b *Batch) context.Context {
	return context.WithValue(ctx, ctxKey{}, b)
}

// FromContext returns the batch in ctx, or nil.
func FromContext(ctx context.Context) *Batch {
	b, _ := ctx.Value(ctxKey{}).(*Batch)
	return b
}
