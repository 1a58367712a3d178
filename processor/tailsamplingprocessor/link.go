package tailsamplingprocessor // import "github.com/sluicelogs/sluice/processor/tailsamplingprocessor"

// A log record carrying both a trace id and a correlation value joins the two
// keys: they are one request, so their groups are decided together. Records
// stay in the storage of the group they arrived in (the record log frees
// slabs in group creation order; moving records would break that); the link
// table only says which groups to decide at the same moment.

// maxLinkedKeys bounds the keys one request joins (a trace id, its
// correlation values, further trace ids logged with the same value). Links
// beyond it are refused and counted: the groups are then decided apart, as
// without links.
const maxLinkedKeys = 8

// Accounted bytes per linked key (map entry, key in the set) and per set.
const (
	linkKeyOverhead = 64
	linkSetOverhead = 64
)

// linkSet is one request's keys. Every key of the set maps to it in
// sampler.links. A set lives while its trace group is undecided: the trace
// group exists when the set is made, and deciding any member frees the set.
type linkSet struct {
	// traceKey is the trace id the request is decided on (probabilistic,
	// rate limit, per-key), so that separate gateways agree.
	traceKey groupKey
	keys     []groupKey
	// accounted is what the set adds to the buffered bytes.
	accounted int64
}

// pendingLink is a log record's correlation key when the record also has a
// trace id (its group key). idx is the record's entry.
type pendingLink struct {
	idx  int
	key  groupKey
	hash uint64
}

// link joins the undecided trace group g with the correlation key c. It
// reports false when the join would exceed maxLinkedKeys. Under the lock.
func (s *sampler) link(g *group, c groupKey, cHash uint64) bool {
	if c == g.key {
		return true
	}
	a, b := s.links[g.key], s.links[c]
	if a != nil && a == b {
		return true
	}
	if s.links == nil {
		s.links = map[groupKey]*linkSet{}
	}
	cg := s.groups.GetHashed(&c, cHash)
	switch {
	case a == nil && b == nil:
		set := &linkSet{traceKey: g.key, keys: []groupKey{g.key, c}}
		s.addLinkBytes(set, linkSetOverhead+2*linkKeyOverhead)
		s.links[g.key], s.links[c] = set, set
	case b == nil:
		if len(a.keys) >= maxLinkedKeys {
			return false
		}
		a.keys = append(a.keys, c)
		s.addLinkBytes(a, linkKeyOverhead)
		s.links[c] = a
	case a == nil:
		if len(b.keys) >= maxLinkedKeys {
			return false
		}
		b.keys = append(b.keys, g.key)
		s.addLinkBytes(b, linkKeyOverhead)
		s.links[g.key] = b
	default:
		if len(a.keys)+len(b.keys) > maxLinkedKeys {
			return false
		}
		for _, k := range b.keys {
			s.links[k] = a
		}
		a.keys = append(a.keys, b.keys...)
		// b's keys are accounted already; only its set struct goes.
		a.accounted += b.accounted - linkSetOverhead
		s.buffered -= linkSetOverhead
	}
	g.linked = true
	if cg != nil {
		cg.linked = true
	} else if b == nil {
		// The value's own group may have been decided before anything
		// joined it to this trace (a request longer than decision_wait).
		// If it was kept, its records are out: keep the rest of the request
		// too. A dropped one's records are gone; the trace decides alone.
		if v, ok := s.kept.Get(c); ok && g.keptPart == 0 {
			g.keptPart = v
		}
	}
	return true
}

func (s *sampler) addLinkBytes(set *linkSet, n int64) {
	set.accounted += n
	s.buffered += n
}

// linkedTraceGroup returns the undecided group of the request correlation
// key c was linked to, or nil.
func (s *sampler) linkedTraceGroup(c groupKey) *group {
	set := s.links[c]
	if set == nil {
		return nil
	}
	return s.groups.Get(set.traceKey)
}

// unlink removes g's set from the link table, frees its bytes and returns it.
func (s *sampler) unlink(g *group) *linkSet {
	set := s.links[g.key]
	if set == nil {
		return nil
	}
	for _, k := range set.keys {
		delete(s.links, k)
	}
	s.buffered -= set.accounted
	return set
}
