package kafkagroupreceiver // import "github.com/sluicelogs/sluice/receiver/kafkagroupreceiver"

import (
	"errors"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicelogs/sluice/internal/ack"
)

// inflight is one poll's records of one partition, handed downstream as one
// ack.Batch: offsets [first, next) finish together.
type inflight struct {
	part     *partState
	first    kgo.EpochOffset
	next     kgo.EpochOffset
	messages int
	batch    *ack.Batch
	done     bool
}

// partState is what this member knows of one assigned partition.
type partState struct {
	topic     string
	partition int32
	// batches are in offset order; the finished prefix is popped and becomes
	// the commit position.
	batches []*inflight
	commit  kgo.EpochOffset
	dirty   bool
	// rewind is set when a held batch failed: its records are read again
	// from here and everything after it is forgotten.
	rewind *kgo.EpochOffset
}

// tracker keeps, per assigned partition, the batches not yet finished
// downstream and the offset up to which everything is: the commit position.
// finish may be called from any goroutine (a processor releasing its hold).
type tracker struct {
	mu      sync.Mutex
	parts   map[int32]*partState
	pending int
	// wake is signalled (non-blocking) when pending drops or a rewind is due.
	wake chan struct{}
	// onFailed counts a held batch that finished with an error.
	onFailed func()
}

func newTracker(onFailed func()) *tracker {
	return &tracker{parts: map[int32]*partState{}, wake: make(chan struct{}, 1), onFailed: onFailed}
}

// assign starts tracking partitions of topic.
func (t *tracker) assign(topic string, partitions []int32) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, p := range partitions {
		if _, ok := t.parts[p]; !ok {
			t.parts[p] = &partState{topic: topic, partition: p, commit: kgo.EpochOffset{Epoch: -1, Offset: -1}}
		}
	}
}

// start registers the batch of messages [first, last] of a partition. It
// returns nil when the partition is not (or no longer) assigned.
func (t *tracker) start(partition int32, first, last *kgo.Record, messages int) *inflight {
	t.mu.Lock()
	defer t.mu.Unlock()
	ps := t.parts[partition]
	if ps == nil || ps.rewind != nil {
		return nil
	}
	f := &inflight{
		part:     ps,
		first:    kgo.EpochOffset{Epoch: first.LeaderEpoch, Offset: first.Offset},
		next:     kgo.EpochOffset{Epoch: last.LeaderEpoch, Offset: last.Offset + 1},
		messages: messages,
	}
	ps.batches = append(ps.batches, f)
	t.pending += messages
	return f
}

// finish records the downstream outcome of f. A failure (other than records
// abandoned because the partition moved) stops the partition's commits at f
// and asks for its records to be read again.
func (t *tracker) finish(f *inflight, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if f.done {
		return
	}
	f.done = true
	t.pending -= f.messages
	ps := f.part
	if t.parts[ps.partition] != ps || ps.rewind != nil {
		// Revoked, lost or already rewinding: another reading owns these.
		t.signal()
		return
	}
	if err != nil {
		if !errors.Is(err, ack.ErrAbandoned) && t.onFailed != nil {
			t.onFailed()
		}
		// Read again from the earliest batch not finished successfully:
		// batches before f that are still held are forgotten with it.
		first := ps.batches[0].first
		ps.rewind = &first
		t.signal()
		return
	}
	k := 0
	for k < len(ps.batches) && ps.batches[k].done {
		ps.commit = ps.batches[k].next
		ps.dirty = true
		k++
	}
	ps.batches = ps.batches[k:]
	t.signal()
}

func (t *tracker) signal() {
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// takeRewinds returns the partitions to read again from a failed batch and
// forgets their in-flight batches (cancelled, so holders drop what they have
// not emitted: it is read again).
func (t *tracker) takeRewinds() map[int32]kgo.EpochOffset {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out map[int32]kgo.EpochOffset
	for p, ps := range t.parts {
		if ps.rewind == nil {
			continue
		}
		if out == nil {
			out = map[int32]kgo.EpochOffset{}
		}
		out[p] = *ps.rewind
		t.forget(ps)
		// A fresh state: the commit position stays where it was.
		t.parts[p] = &partState{topic: ps.topic, partition: p, commit: ps.commit, dirty: ps.dirty}
	}
	return out
}

// forget cancels and stops counting the in-flight batches of ps.
func (t *tracker) forget(ps *partState) {
	for _, f := range ps.batches {
		if !f.done {
			f.done = true
			t.pending -= f.messages
			if f.batch != nil {
				f.batch.Cancel()
			}
		}
	}
	ps.batches = nil
}

// uncommit marks the positions of a failed commit as not committed, for the
// partitions still tracked whose position has not moved since: the next
// uncommitted (or the final commit) returns them again.
func (t *tracker) uncommit(offsets map[string]map[int32]kgo.EpochOffset) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for topic, parts := range offsets {
		for p, off := range parts {
			if ps := t.parts[p]; ps != nil && ps.topic == topic && ps.commit == off {
				ps.dirty = true
			}
		}
	}
}

// uncommitted returns the commit positions that moved since the last call.
func (t *tracker) uncommitted() map[string]map[int32]kgo.EpochOffset {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.collect(nil)
}

func (t *tracker) collect(only []int32) map[string]map[int32]kgo.EpochOffset {
	var out map[string]map[int32]kgo.EpochOffset
	add := func(ps *partState) {
		if !ps.dirty {
			return
		}
		ps.dirty = false
		if out == nil {
			out = map[string]map[int32]kgo.EpochOffset{}
		}
		if out[ps.topic] == nil {
			out[ps.topic] = map[int32]kgo.EpochOffset{}
		}
		out[ps.topic][ps.partition] = ps.commit
	}
	if only == nil {
		for _, ps := range t.parts {
			add(ps)
		}
		return out
	}
	for _, p := range only {
		if ps := t.parts[p]; ps != nil {
			add(ps)
		}
	}
	return out
}

// release stops tracking partitions (revoked, lost, or shutting down): their
// unfinished batches are cancelled, since whoever reads the partition next
// starts from the commit position. It returns the commit positions not yet
// committed, for a final commit when the partitions were revoked cleanly.
func (t *tracker) release(partitions []int32) map[string]map[int32]kgo.EpochOffset {
	t.mu.Lock()
	defer t.mu.Unlock()
	if partitions == nil {
		for p := range t.parts {
			partitions = append(partitions, p)
		}
	}
	out := t.collect(partitions)
	for _, p := range partitions {
		if ps := t.parts[p]; ps != nil {
			t.forget(ps)
			delete(t.parts, p)
		}
	}
	t.signal()
	return out
}

// pendingMessages is the number of messages read and not yet finished.
func (t *tracker) pendingMessages() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.pending
}
