package tailsamplingprocessor // import "github.com/sluicelogs/sluice/processor/tailsamplingprocessor"

import (
	"bytes"
	"hash/maphash"

	"github.com/sluicelogs/sluice/internal/ack"
	"github.com/sluicelogs/sluice/processor/tailsamplingprocessor/internal/recordlog"
)

// Estimated bytes of bookkeeping per buffered group (group struct of 176
// bytes, group table slot, queue slot) and per interned header (struct, map
// entry). They are counted in buffered bytes so that max_buffer_bytes bounds
// memory, not only payload; BenchmarkSteadyState compares the accounted
// bytes with the measured heap.
const (
	groupOverhead  = 224
	headerOverhead = 96
)

type groupKey = [16]byte

// group is one undecided request: where its records are, in wire form, and
// what the record predicates found in them.
type group struct {
	// The fields buffering a record uses come first (64 bytes), so that a
	// record touches as few of the group's cache lines as possible.

	// seq is the group's place in creation order; the record log frees a
	// slab once every group up to the newest that wrote into it is decided.
	seq recordlog.Owner
	// last is the group's newest record in the record log; each record links
	// to the one before it. Records are tagged with their output index and
	// the index of their header (recordTag).
	last recordlog.Ref
	// bytes is what the records take in the log (max_group_bytes).
	bytes int64
	// matched has the bit of every predicate policy a record matched.
	matched uint64
	// records counts records per signal, total all of them.
	records [numSignals]int32
	total   int32
	decided bool
	// linked marks a group joined with others into one request (link.go).
	linked bool
	// unheld marks a group with records from a receiver that cannot deliver
	// them again (OTLP, es_bulk): such a group is never abandoned.
	unheld bool
	// The resource/scope headers the records refer to: the first two (most
	// groups need one) in hdr, any further ones in moreHdr.
	nhdr    uint8
	hdr     [2]*header
	moreHdr []*header

	key groupKey
	// firstNanos is the arrival time of the first record (nanoseconds since
	// the sampler's epoch, monotonic).
	firstNanos int64
	// accounted is what this group's bookkeeping adds to the buffered bytes
	// (its records are accounted as the log's slabs).
	accounted int64
	// hasRoot is set once a root span (no parent) was buffered; without
	// one, spanStart and spanEnd (Unix nanoseconds, tracked only when a
	// latency policy exists) bound the group's spans for that policy.
	hasRoot bool
	// keptPart is the policy index + 1 of an earlier, already kept part of
	// the request joined to this group (link.go); 0 for none. Such a
	// request is kept whole.
	keptPart           uint8
	spanStart, spanEnd uint64
	// routeKeys holds one key per per_key_minimum policy.
	routeKeys []string
	// holds are the acknowledgements of the receivers' batches that
	// delivered records of this group (internal/ack), released once the
	// group is emitted or dropped.
	holds []*ack.Batch
}

// headerIndex returns the index of h among g's headers, adding it (and
// taking a reference on it) the first time.
func (g *group) headerIndex(h *header) int {
	for i := range int(g.nhdr) {
		if g.hdr[i] == h {
			return i
		}
	}
	for i, x := range g.moreHdr {
		if x == h {
			return len(g.hdr) + i
		}
	}
	h.refs++
	if int(g.nhdr) < len(g.hdr) {
		g.hdr[g.nhdr] = h
		g.nhdr++
		return int(g.nhdr) - 1
	}
	g.moreHdr = append(g.moreHdr, h)
	return len(g.hdr) + len(g.moreHdr) - 1
}

// header returns the header at index i (headerIndex).
func (g *group) header(i int) *header {
	if i < len(g.hdr) {
		return g.hdr[i]
	}
	return g.moreHdr[i-len(g.hdr)]
}

// releaseHeaders drops g's references on its headers and returns the bytes
// freed.
func (g *group) releaseHeaders(t *headerTable) int64 {
	var freed int64
	for _, h := range g.hdr[:g.nhdr] {
		freed += t.release(h)
	}
	for _, h := range g.moreHdr {
		freed += t.release(h)
	}
	g.hdr, g.nhdr, g.moreHdr = [2]*header{}, 0, nil
	return freed
}

// recordTag packs what a buffered record needs besides its bytes: the
// pipeline it came from (< 256) and its header.
func recordTag(out, headerIndex int) uint64 { return uint64(headerIndex)<<8 | uint64(out) }

func splitRecordTag(tag uint64) (out, headerIndex int) { return int(tag & 0xff), int(tag >> 8) }

func (g *group) recordCount() int { return int(g.total) }

// header is the resource and scope part of a record, shared by the records
// of every group that came with it. Immutable once created.
type header struct {
	resource, scope []byte
	hash            uint64
	refs            int
	next            *header
}

func (h *header) size() int64 {
	return int64(len(h.resource)+len(h.scope)) + headerOverhead
}

// headerTable interns headers so that a resource's attributes are held once,
// not once per buffered record.
type headerTable struct {
	seed   maphash.Seed
	byHash map[uint64]*header
}

func newHeaderTable() headerTable {
	return headerTable{seed: maphash.MakeSeed(), byHash: map[uint64]*header{}}
}

// intern returns the stored header equal to (resource, scope), storing a copy
// when there is none, and the bytes added to the table.
func (t *headerTable) intern(resource, scope []byte) (*header, int64) {
	hv := maphash.Bytes(t.seed, resource)*31 ^ maphash.Bytes(t.seed, scope)
	for h := t.byHash[hv]; h != nil; h = h.next {
		if bytes.Equal(h.resource, resource) && bytes.Equal(h.scope, scope) {
			return h, 0
		}
	}
	buf := make([]byte, len(resource)+len(scope))
	copy(buf, resource)
	copy(buf[len(resource):], scope)
	h := &header{
		resource: buf[:len(resource):len(resource)],
		scope:    buf[len(resource):],
		hash:     hv,
		next:     t.byHash[hv],
	}
	t.byHash[hv] = h
	return h, h.size()
}

// release drops one reference on h and returns the bytes freed when it was
// the last one.
func (t *headerTable) release(h *header) int64 {
	h.refs--
	if h.refs > 0 {
		return 0
	}
	var prev *header
	for x := t.byHash[h.hash]; x != nil; prev, x = x, x.next {
		if x != h {
			continue
		}
		switch {
		case prev != nil:
			prev.next = x.next
		case x.next != nil:
			t.byHash[h.hash] = x.next
		default:
			delete(t.byHash, h.hash)
		}
		return h.size()
	}
	return h.size()
}

// groupQueue holds groups in arrival order of their first record, which is
// also the order of their decision deadlines. Decided groups stay in the
// queue, flagged, until they reach its front; then they leave it and are
// kept for reuse (the group table and the queue are their only holders).
type groupQueue struct {
	items []*group
	head  int
	// base is the seq of items[0].
	base recordlog.Owner
	free []*group
}

// maxFreeGroups bounds the decided groups kept for reuse: enough for the
// groups decided in one tick under heavy load.
const maxFreeGroups = 4096

// newGroup returns a zeroed group, reused when possible.
func (q *groupQueue) newGroup() *group {
	n := len(q.free)
	if n == 0 {
		return &group{}
	}
	g := q.free[n-1]
	q.free[n-1] = nil
	q.free = q.free[:n-1]
	return g
}

// push appends g and gives it the next seq.
func (q *groupQueue) push(g *group) {
	g.seq = q.base + recordlog.Owner(len(q.items))
	q.items = append(q.items, g)
}

// oldest returns the oldest undecided group, or nil.
func (q *groupQueue) oldest() *group {
	for q.head < len(q.items) {
		g := q.items[q.head]
		if !g.decided {
			// Reclaim the consumed prefix once it dominates the slice.
			if q.head >= 1024 && q.head*2 >= len(q.items) {
				n := copy(q.items, q.items[q.head:])
				clear(q.items[n:])
				q.base += recordlog.Owner(q.head)
				q.items, q.head = q.items[:n], 0
			}
			return g
		}
		q.items[q.head] = nil
		q.head++
		if len(q.free) < maxFreeGroups {
			*g = group{}
			q.free = append(q.free, g)
		}
	}
	q.base += recordlog.Owner(q.head)
	q.items, q.head = q.items[:0], 0
	return nil
}

// frontSeq returns the seq of the queue's first item: groups before it
// have left the queue (and may have been recycled).
func (q *groupQueue) frontSeq() recordlog.Owner { return q.base + recordlog.Owner(q.head) }

// oldestSeq returns the seq of the oldest undecided group, or the next seq
// when every group is decided.
func (q *groupQueue) oldestSeq() recordlog.Owner {
	q.oldest()
	return q.base + recordlog.Owner(q.head)
}
