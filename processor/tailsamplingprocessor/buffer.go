package tailsamplingprocessor // import "github.com/sluicelogs/sluice/processor/tailsamplingprocessor"

import (
	"bytes"
	"encoding/binary"
	"hash/maphash"

	"github.com/sluicelogs/sluice/internal/ack"
)

// Estimated bytes of bookkeeping per buffered group (group struct, map entry,
// queue slot, header list) and per interned header (struct, map entry). They
// are counted in buffered bytes so that max_buffer_bytes bounds memory, not
// only payload; BenchmarkSteadyStateMemory compares the estimate with the
// measured heap.
const (
	groupOverhead  = 224
	headerOverhead = 96
)

type groupKey = [16]byte

// group is one undecided request: its records, in wire form, and what the
// record predicates found in them.
type group struct {
	key groupKey
	// firstNanos is the arrival time of the first record (unix nanoseconds).
	firstNanos int64
	// arena holds the records, each framed as
	// [output index byte][header index uvarint][length uvarint][bytes].
	arena []byte
	// headers are the resource/scope headers the records refer to; most
	// groups need one or two, held in headerBuf without an allocation.
	headers   []*header
	headerBuf [2]*header
	// routeKeys holds one key per per_key_minimum policy.
	routeKeys []string
	// matched has the bit of every predicate policy a record matched.
	matched uint64
	// records counts records per signal, total all of them.
	records [numSignals]int32
	total   int32
	// accounted is what this group adds to the buffered bytes.
	accounted int64
	decided   bool
	// holds are the acknowledgements of the receivers' batches that
	// delivered records of this group (internal/ack), released once the
	// group is emitted or dropped.
	holds []*ack.Batch
	// unheld marks a group with records from a receiver that cannot deliver
	// them again (OTLP, es_bulk): such a group is never abandoned.
	unheld bool
}

// add appends one record and returns the growth of the group's accounted
// bytes. The group takes a reference on h the first time it uses it.
// sizeHint is the expected final size of the group (its first allocation).
func (g *group) add(out int, h *header, rec []byte, sig signal, sizeHint int) int64 {
	if g.headers == nil {
		g.headers = g.headerBuf[:0]
	}
	hi := -1
	for i, x := range g.headers {
		if x == h {
			hi = i
			break
		}
	}
	if hi < 0 {
		hi = len(g.headers)
		g.headers = append(g.headers, h)
		h.refs++
	}
	need := 1 + uvarintLen(uint64(hi)) + uvarintLen(uint64(len(rec))) + len(rec)
	a := g.arena // a local: one write barrier per record, not four
	oldCap := cap(a)
	if len(a)+need > oldCap {
		// First allocation: the typical group size, so that most groups
		// never grow. Then grow by half rather than double: groups are many
		// and slack counts against max_buffer_bytes.
		newCap := len(a) + need
		if oldCap == 0 {
			// An eighth more than the average, so that an average group
			// fits despite small variations.
			newCap = max(newCap, sizeHint+sizeHint/8)
		} else {
			newCap += newCap / 2
		}
		grown := make([]byte, len(a), newCap)
		copy(grown, a)
		a = grown
	}
	a = append(a, byte(out))
	a = binary.AppendUvarint(a, uint64(hi))
	a = binary.AppendUvarint(a, uint64(len(rec)))
	a = append(a, rec...)
	g.arena = a
	g.records[sig]++
	g.total++
	delta := int64(cap(g.arena) - oldCap)
	g.accounted += delta
	return delta
}

// eachRecord calls fn for every buffered record in arrival order.
func (g *group) eachRecord(fn func(out int, h *header, rec []byte)) {
	a := g.arena
	for len(a) > 0 {
		out := int(a[0])
		hi, n := binary.Uvarint(a[1:])
		a = a[1+n:]
		l, m := binary.Uvarint(a)
		a = a[m:]
		fn(out, g.headers[hi], a[:l:l])
		a = a[l:]
	}
}

func (g *group) recordCount() int { return int(g.total) }

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

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
// also the order of their decision deadlines. Groups decided early stay in
// the queue, flagged, until they reach its front.
type groupQueue struct {
	items []*group
	head  int
}

func (q *groupQueue) push(g *group) { q.items = append(q.items, g) }

// oldest returns the oldest undecided group, or nil.
func (q *groupQueue) oldest() *group {
	for q.head < len(q.items) {
		g := q.items[q.head]
		if !g.decided {
			return g
		}
		q.items[q.head] = nil
		q.head++
	}
	q.items, q.head = q.items[:0], 0
	return nil
}

// pop removes the front group (the one oldest returned).
func (q *groupQueue) pop() {
	q.items[q.head] = nil
	q.head++
	// Reclaim the consumed prefix once it dominates the slice.
	if q.head >= 1024 && q.head*2 >= len(q.items) {
		n := copy(q.items, q.items[q.head:])
		clear(q.items[n:])
		q.items, q.head = q.items[:n], 0
	}
}
