package tailsamplingprocessor // import "github.com/sluicelogs/sluice/processor/tailsamplingprocessor"

import (
	"context"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.uber.org/zap"

	"github.com/sluicelogs/sluice/internal/ack"
	"github.com/sluicelogs/sluice/internal/otlpwire"
	"github.com/sluicelogs/sluice/processor/tailsamplingprocessor/internal/decisioncache"
	"github.com/sluicelogs/sluice/processor/tailsamplingprocessor/internal/keyhash"
	"github.com/sluicelogs/sluice/processor/tailsamplingprocessor/internal/keytable"
	"github.com/sluicelogs/sluice/processor/tailsamplingprocessor/internal/metadata"
	"github.com/sluicelogs/sluice/processor/tailsamplingprocessor/internal/recordlog"
)

type signal uint8

const (
	signalLogs signal = iota
	signalTraces
	numSignals
)

// Why a group was decided before its decision_wait elapsed; reasonNone when
// it was not.
const (
	reasonNone = iota - 1
	reasonMaxBufferBytes
	reasonMaxGroups
	reasonMaxGroupRecords
	reasonMaxGroupBytes
	reasonShutdown
	numReasons
)

// Policy indexes with a special meaning in emissions and the decision caches
// (which store the policy index + 1).
const (
	policyDefault = -1 // decided by default_decision
	policyNone    = -2 // ungrouped record: no policy to name
)

// slabsPerBuffer sizes the record log's slabs from max_buffer_bytes, so that
// the open slab and the granularity of releases stay small against it.
const slabsPerBuffer = 64

// Bounds of the decision ticker period (decision_wait / 10, clamped).
const (
	minTick = 10 * time.Millisecond
	maxTick = time.Second
)

// output is one pipeline served by the shared sampler.
type output struct {
	signal signal
	logs   consumer.Logs
	traces consumer.Traces
}

// sampler is the state shared by every pipeline that references one
// tail_sampling component id: one group table, so one decision per group
// across logs and traces.
type sampler struct {
	cfg    *Config
	logger *zap.Logger
	tel    *metadata.TelemetryBuilder
	attrs  *telemetryAttrs
	now    func() time.Time
	// epoch is the clock's reading at creation: group ages are measured
	// from it with time.Time.Sub, which uses the monotonic clock, so a
	// stepped wall clock neither holds groups back nor decides them early.
	epoch      time.Time
	policies   []*policy
	predicates []*policy
	// trackExtent: a latency policy needs each group's span extent.
	trackExtent bool
	perKeys     []*policy
	defaultKeep bool
	ungrouped   struct {
		sample    bool
		all       bool
		threshold uint64
	}
	tick time.Duration

	mu      sync.Mutex
	outputs []*output
	groups  *keytable.Table[group]
	queue   groupQueue
	// touchSink keeps touchDue's reads from being optimized away.
	touchSink uint64
	buffered  int64
	headers   headerTable
	// log holds the records of undecided groups.
	log      *recordlog.Log
	walkRefs []recordlog.Ref
	kept     *decisioncache.Cache
	dropped  *decisioncache.Cache
	// tickEmission is reused by the decisions of the ticker.
	tickEmission atomic.Pointer[emission]
	closing      bool
	started      bool
	stop         chan struct{}
	wg           sync.WaitGroup
	// links joins the keys of one request (link.go); linkMembers is
	// scratch for deciding them.
	links       map[groupKey]*linkSet
	linkMembers []*group
}

func newSampler(set processor.Settings, cfg *Config, now func() time.Time) (*sampler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	policies, err := compilePolicies(cfg.Policies)
	if err != nil {
		return nil, err
	}
	tel, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, fmt.Errorf("create telemetry: %w", err)
	}
	s := &sampler{
		cfg:         cfg,
		logger:      set.Logger,
		tel:         tel,
		attrs:       newTelemetryAttrs(policies),
		now:         now,
		epoch:       now(),
		policies:    policies,
		defaultKeep: cfg.DefaultDecision == decisionKeep,
		tick:        min(max(cfg.DecisionWait/10, minTick), maxTick),
		groups:      keytable.New[group](),
		headers:     newHeaderTable(),
		log:         recordlog.New(int(min(cfg.MaxBufferBytes/slabsPerBuffer, recordlog.MaxSlabSize))),
		kept:        decisioncache.New(cfg.DecisionCache.KeptSize),
		dropped:     decisioncache.New(cfg.DecisionCache.DroppedSize),
		stop:        make(chan struct{}),
	}
	for _, p := range policies {
		switch p.kind {
		case kindPredicate:
			s.predicates = append(s.predicates, p)
			s.trackExtent = s.trackExtent || p.rootlessLatency > 0
		case kindPerKey:
			s.perKeys = append(s.perKeys, p)
		}
	}
	if cfg.Ungrouped.Action == ungroupedSample {
		s.ungrouped.sample = true
		s.ungrouped.threshold, s.ungrouped.all = hashThreshold(cfg.Ungrouped.SamplingPercentage)
	}
	return s, nil
}

// addOutput registers a pipeline and returns its index (stored with each
// buffered record, so at most 256 pipelines).
func (s *sampler) addOutput(o *output) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.outputs) >= 256 {
		return 0, fmt.Errorf("tail_sampling: at most 256 pipelines can share one instance")
	}
	// Copy on write: emitters read a snapshot without the lock.
	outs := make([]*output, len(s.outputs), len(s.outputs)+1)
	copy(outs, s.outputs)
	s.outputs = append(outs, o)
	return len(s.outputs) - 1, nil
}

// start launches the decision ticker once for all pipelines.
func (s *sampler) start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started || s.closing {
		return
	}
	s.started = true
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(s.tick)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				s.decideDue(context.Background())
			case <-s.stop:
				return
			}
		}
	}()
}

// shutdownOne is called once per pipeline. The first call decides and emits
// every pending group while all downstream consumers are still running (the
// collector stops components in topological order); afterwards records that
// still arrive from other pipelines are decided on arrival. The last call
// releases the telemetry.
func (s *sampler) shutdownOne(ctx context.Context, last bool) error {
	s.mu.Lock()
	first := !s.closing
	s.closing = true
	started := s.started
	s.mu.Unlock()
	if first {
		if started {
			close(s.stop)
			s.wg.Wait()
		}
		s.decideAll(ctx)
	}
	if last {
		s.tel.Shutdown()
	}
	return nil
}

// entry is what the lock-free pass learns about one record. No pointers:
// storing it costs no write barrier while the garbage collector runs.
type entry struct {
	key groupKey
	// hash is key's hash in the group table, computed before the lock.
	hash    uint64
	grouped bool
	root    bool
	mask    uint64
	// start and end are the span's timestamps when a latency policy needs
	// the group's extent.
	start, end uint64
}

// recordAttrs are the attributes per_key_minimum reads from a record.
type recordAttrs struct {
	attrs, res pcommon.Map
}

// scratch is per-call working memory, pooled.
type scratch struct {
	entries []entry
	// links are the correlation keys of log records that also have a
	// trace id, in entry order.
	links []pendingLink
	// attrs has one element per entry when per_key_minimum policies exist.
	attrs     []recordAttrs
	batch     otlpwire.Batch
	interned  []*header
	transient []*header
	st        stats
}

var scratchPool = sync.Pool{New: func() any { return &scratch{} }}

func getScratch() *scratch {
	sc := scratchPool.Get().(*scratch)
	sc.entries = sc.entries[:0]
	sc.attrs = sc.attrs[:0]
	sc.links = sc.links[:0]
	return sc
}

func putScratch(sc *scratch) {
	clear(sc.attrs) // drop pdata references
	clear(sc.interned)
	clear(sc.transient)
	sc.st.reset()
	scratchPool.Put(sc)
}

var (
	logsUnmarshaler   = &plog.ProtoUnmarshaler{}
	tracesUnmarshaler = &ptrace.ProtoUnmarshaler{}
)

func (s *sampler) consumeLogs(ctx context.Context, out int, next consumer.Logs, ld plog.Logs) error {
	n := ld.LogRecordCount()
	if n == 0 {
		return nil
	}
	sc := getScratch()
	defer putScratch(sc)
	sc.st.received[signalLogs] += int64(n)
	if !s.ungrouped.sample && !s.anyGroupedLog(ld) {
		return s.passThrough(ctx, sc, signalLogs, n, func() error { return next.ConsumeLogs(ctx, ld) })
	}
	// One pass: each record is keyed, encoded and matched against the
	// predicates while it is in the CPU cache.
	b := &sc.batch
	b.Reset()
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		rl := rls.At(i)
		res := rl.Resource().Attributes()
		b.AddResource(rl.Resource(), rl.SchemaUrl())
		sls := rl.ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			sl := sls.At(j)
			b.AddScope(sl.Scope(), sl.SchemaUrl())
			lrs := sl.LogRecords()
			for k := 0; k < lrs.Len(); k++ {
				lr := lrs.At(k)
				b.AddLogRecord(lr)
				var e entry
				if tid := lr.TraceID(); !tid.IsEmpty() {
					e.key, e.grouped = groupKey(tid), true
					// Its correlation value joins the trace's group with
					// the records that carry only that value.
					if len(s.cfg.CorrelationAttributes) > 0 {
						if c, ok := s.correlationKey(lr.Attributes(), res); ok {
							sc.links = append(sc.links, pendingLink{idx: len(sc.entries), key: c, hash: s.groups.Hash(&c)})
						}
					}
				} else {
					e.key, e.grouped = s.correlationKey(lr.Attributes(), res)
				}
				if e.grouped {
					e.hash = s.groups.Hash(&e.key)
					for _, p := range s.predicates {
						if p.pred.matchLog(lr, res) {
							e.mask |= p.bit
						}
					}
				}
				sc.entries = append(sc.entries, e)
				if len(s.perKeys) > 0 {
					sc.attrs = append(sc.attrs, recordAttrs{lr.Attributes(), res})
				}
			}
		}
	}
	b.Finish()
	sc.prepareHeaders()
	s.buffer(ctx, sc, out, signalLogs)
	return nil
}

// anyGroupedLog tells whether a log record of ld has a group key. Most
// batches answer on their first record.
func (s *sampler) anyGroupedLog(ld plog.Logs) bool {
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		rl := rls.At(i)
		res := rl.Resource().Attributes()
		sls := rl.ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			lrs := sls.At(j).LogRecords()
			for k := 0; k < lrs.Len(); k++ {
				lr := lrs.At(k)
				if !lr.TraceID().IsEmpty() {
					return true
				}
				if _, ok := s.correlationKey(lr.Attributes(), res); ok {
					return true
				}
			}
		}
	}
	return false
}

func (s *sampler) consumeTraces(ctx context.Context, out int, next consumer.Traces, td ptrace.Traces) error {
	n := td.SpanCount()
	if n == 0 {
		return nil
	}
	sc := getScratch()
	defer putScratch(sc)
	sc.st.received[signalTraces] += int64(n)
	if !s.ungrouped.sample && !anyTraceID(td) {
		return s.passThrough(ctx, sc, signalTraces, n, func() error { return next.ConsumeTraces(ctx, td) })
	}
	// One pass, as for logs.
	b := &sc.batch
	b.Reset()
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		res := rs.Resource().Attributes()
		b.AddResource(rs.Resource(), rs.SchemaUrl())
		sss := rs.ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			ss := sss.At(j)
			b.AddScope(ss.Scope(), ss.SchemaUrl())
			spans := ss.Spans()
			for k := 0; k < spans.Len(); k++ {
				sp := spans.At(k)
				b.AddSpan(sp)
				var e entry
				if tid := sp.TraceID(); !tid.IsEmpty() {
					e.key, e.grouped = groupKey(tid), true
					e.hash = s.groups.Hash(&e.key)
					e.root = sp.ParentSpanID().IsEmpty()
					if s.trackExtent {
						e.start, e.end = uint64(sp.StartTimestamp()), uint64(sp.EndTimestamp())
					}
					for _, p := range s.predicates {
						if p.pred.matchSpan(sp, res) {
							e.mask |= p.bit
						}
					}
				}
				sc.entries = append(sc.entries, e)
				if len(s.perKeys) > 0 {
					sc.attrs = append(sc.attrs, recordAttrs{sp.Attributes(), res})
				}
			}
		}
	}
	b.Finish()
	sc.prepareHeaders()
	s.buffer(ctx, sc, out, signalTraces)
	return nil
}

// anyTraceID tells whether a span of td has a trace id.
func anyTraceID(td ptrace.Traces) bool {
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		sss := rss.At(i).ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			spans := sss.At(j).Spans()
			for k := 0; k < spans.Len(); k++ {
				if !spans.At(k).TraceID().IsEmpty() {
					return true
				}
			}
		}
	}
	return false
}

// passThrough forwards a batch without any group key unchanged. Its error is
// returned: nothing of the batch was accepted, so the caller may retry it.
func (s *sampler) passThrough(ctx context.Context, sc *scratch, sig signal, n int, forward func() error) error {
	if err := forward(); err != nil {
		return err
	}
	sc.st.ungrouped[sig][outcomePassed] += int64(n)
	s.record(ctx, &sc.st)
	return nil
}

// prepareHeaders sizes the per-scope header slots of the encoded batch.
func (sc *scratch) prepareHeaders() {
	n := len(sc.batch.Scopes)
	sc.interned = growHeaders(sc.interned, n)
	sc.transient = growHeaders(sc.transient, n)
}

func growHeaders(h []*header, n int) []*header {
	if cap(h) < n {
		return make([]*header, n)
	}
	h = h[:n]
	clear(h)
	return h
}

// correlationKey groups a log record without a trace id by the first
// configured correlation attribute it carries (record, then resource).
func (s *sampler) correlationKey(attrs, res pcommon.Map) (groupKey, bool) {
	for _, name := range s.cfg.CorrelationAttributes {
		// An empty record value does not hide the resource's value.
		str, ok := correlationValue(attrs, name)
		if !ok {
			str, ok = correlationValue(res, name)
		}
		if !ok {
			continue
		}
		return correlationGroupKey(str), true
	}
	return groupKey{}, false
}

// correlationValue returns the non-empty value of attribute name, as text.
func correlationValue(m pcommon.Map, name string) (string, bool) {
	v, ok := m.Get(name)
	if !ok {
		return "", false
	}
	var str string
	if v.Type() == pcommon.ValueTypeStr {
		str = v.Str()
	} else {
		str = v.AsString()
	}
	return str, str != ""
}

// correlationGroupKey derives a 16-byte key from a correlation value, with
// two differently seeded hashes. It depends only on the value, so a request
// id logged under different attribute names still forms one group.
func correlationGroupKey(v string) groupKey {
	var k groupKey
	h1, h2 := keyhash.Seeded(0x636f7272, v), keyhash.Seeded(0x69643132, v)
	for i := range 8 {
		k[i] = byte(h1 >> (8 * i))
		k[8+i] = byte(h2 >> (8 * i))
	}
	return k
}

// buffer runs under the lock: it routes every record of the call to its
// group, the decision cache, or straight through, then enforces the memory
// bounds. Emission happens after the lock is released.
func (s *sampler) buffer(ctx context.Context, sc *scratch, out int, sig signal) {
	now := s.now()
	nowNanos := s.sinceEpoch(now)
	em := getEmission()
	defer putEmission(em)
	held := ack.FromContext(ctx)
	st := &sc.st
	s.mu.Lock()
	groups0, bytes0 := s.groups.Len(), s.buffered
	scope, nextLink := 0, 0
	for i := range sc.entries {
		e := &sc.entries[i]
		for i >= sc.batch.Scopes[scope].End {
			scope++
		}
		rec := sc.batch.Records[i]
		if !e.grouped {
			outcome := outcomePassed
			if s.ungrouped.sample {
				outcome = outcomeDropped
				if s.ungrouped.all || keyhash.Seeded(s.cfg.HashSeed, rec) < s.ungrouped.threshold {
					outcome = outcomeKept
				}
			}
			st.ungrouped[sig][outcome]++
			if outcome != outcomeDropped {
				em.add(out, policyNone, sc.transientHeader(scope), rec)
			}
			continue
		}
		// An undecided group is never in the decision caches (a group is
		// created only on a cache miss and cached only once decided), so
		// the common case — another record of a buffered group — needs one
		// lookup.
		g := s.groups.GetHashed(&e.key, e.hash)
		if g == nil && len(s.links) > 0 {
			// A correlation value already joined to a pending trace: the
			// record goes to the trace's group.
			g = s.linkedTraceGroup(e.key)
		}
		if g == nil {
			if v, ok := s.kept.Get(e.key); ok {
				em.add(out, int(v)-1, sc.transientHeader(scope), rec)
				st.late[sig][1]++
				st.sampled[sig][1]++
				if nextLink < len(sc.links) && sc.links[nextLink].idx == i {
					s.followDecision(&sc.links[nextLink], int(v)-1, true, st, em)
					nextLink++
				}
				continue
			}
			if v, ok := s.dropped.Get(e.key); ok {
				st.late[sig][0]++
				st.sampled[sig][0]++
				if nextLink < len(sc.links) && sc.links[nextLink].idx == i {
					s.followDecision(&sc.links[nextLink], int(v)-1, false, st, em)
					nextLink++
				}
				continue
			}
			g = s.queue.newGroup()
			g.key, g.firstNanos, g.accounted = e.key, nowNanos, groupOverhead
			s.groups.PutHashed(e.key, e.hash, g)
			s.queue.push(g)
			s.buffered += groupOverhead
			if len(s.perKeys) > 0 {
				g.routeKeys = make([]string, len(s.perKeys))
			}
		}
		h := sc.interned[scope]
		// refs is 0 when every group holding h was decided earlier in this
		// batch: h left the table and must be interned again.
		if h == nil || h.refs == 0 {
			var added int64
			h, added = s.headers.intern(sc.batch.Scopes[scope].Resource, sc.batch.Scopes[scope].Scope)
			s.buffered += added
			sc.interned[scope] = h
		}
		s.appendRecord(g, out, h, rec, sig)
		switch {
		case held == nil:
			g.unheld = true
		case len(g.holds) == 0 || g.holds[len(g.holds)-1] != held:
			// The receiver's batch is finished only once this group is.
			held.Hold()
			g.holds = append(g.holds, held)
		}
		g.matched |= e.mask
		if e.root {
			g.hasRoot = true
		}
		if e.end > e.start && e.start > 0 {
			if g.spanStart == 0 || e.start < g.spanStart {
				g.spanStart = e.start
			}
			g.spanEnd = max(g.spanEnd, e.end)
		}
		if len(s.perKeys) > 0 && (e.root || g.recordCount() == 1) {
			s.setRouteKeys(g, &sc.attrs[i])
		}
		if nextLink < len(sc.links) && sc.links[nextLink].idx == i {
			if lk := &sc.links[nextLink]; !s.link(g, lk.key, lk.hash) {
				st.linksRefused++
			}
			nextLink++
		}
		switch {
		case g.recordCount() >= s.cfg.MaxGroupRecords:
			s.decide(g, now, reasonMaxGroupRecords, st, em, nil)
		case g.bytes >= s.cfg.MaxGroupBytes:
			s.decide(g, now, reasonMaxGroupBytes, st, em, nil)
		}
		s.enforceBounds(now, st, em)
	}
	if s.closing {
		s.decidePending(now, false, st, em)
	}
	st.groupsDelta += int64(s.groups.Len() - groups0)
	st.bytesDelta += s.buffered - bytes0
	outs := s.outputs
	s.mu.Unlock()
	if held != nil && len(em.buckets) > 0 {
		// Records sent during this call (late records of kept groups,
		// ungrouped ones) are the caller's: a failed send must reach it.
		held.Hold()
		em.sent = append(em.sent, held)
	}
	// Most of what is sent here was accepted earlier, much of it from other
	// callers, and this call answers success whatever the send does: the
	// caller's deadline or cancellation must not fail it. Values (client
	// metadata) stay.
	s.recordThenEmit(context.WithoutCancel(ctx), em, outs, st)
}

// recordThenEmit records st (received, decided and sampled records, the
// buffer's gauges) as of now, then emits and records what the emission adds
// (failed sends). The emission can wait long on slow exporters
// (wait_for_result); the metrics must not lag the buffer meanwhile.
func (s *sampler) recordThenEmit(ctx context.Context, em *emission, outs []*output, st *stats) {
	s.record(ctx, st)
	st.reset()
	s.emitAndRelease(ctx, em, outs, st)
	s.record(ctx, st)
}

// appendRecord stores one record of g in the record log.
func (s *sampler) appendRecord(g *group, out int, h *header, rec []byte, sig signal) {
	tag := recordTag(out, g.headerIndex(h))
	ref, frame, opened := s.log.Append(g.seq, g.last, tag, rec)
	g.last = ref
	g.bytes += int64(frame)
	g.records[sig]++
	g.total++
	s.buffered += opened
}

// releaseSlabs frees the record log's slabs that only decided groups use.
func (s *sampler) releaseSlabs() {
	s.buffered -= s.log.Release(s.queue.oldestSeq())
}

func (sc *scratch) transientHeader(scope int) *header {
	if h := sc.transient[scope]; h != nil {
		return h
	}
	s := sc.batch.Scopes[scope]
	h := &header{resource: s.Resource, scope: s.Scope}
	sc.transient[scope] = h
	return h
}

func (s *sampler) setRouteKeys(g *group, e *recordAttrs) {
	for _, p := range s.perKeys {
		old := g.routeKeys[p.perKeyIdx]
		k := p.perKey.routeKey(e.attrs, e.res)
		g.routeKeys[p.perKeyIdx] = k
		delta := int64(len(k) - len(old))
		g.accounted += delta
		s.buffered += delta
	}
}

// enforceBounds decides the oldest groups early while the buffer is over
// max_buffer_bytes or max_groups. Nothing is dropped undecided.
func (s *sampler) enforceBounds(now time.Time, st *stats, em *emission) {
	for {
		reason := reasonNone
		switch {
		case s.buffered > s.cfg.MaxBufferBytes:
			reason = reasonMaxBufferBytes
		case s.groups.Len() > s.cfg.MaxGroups:
			reason = reasonMaxGroups
		}
		if reason == reasonNone {
			return
		}
		g := s.queue.oldest()
		if g == nil {
			return
		}
		s.decide(g, now, reason, st, em, nil)
	}
}

// sinceEpoch returns the nanoseconds from the sampler's creation to now, on
// the monotonic clock when now carries it (time.Now).
func (s *sampler) sinceEpoch(now time.Time) int64 { return int64(now.Sub(s.epoch)) }

// decidePending decides queued groups: all of them, or (dueOnly) those whose
// decision_wait has elapsed.
//
// Deciding a group writes to three places in large tables: its group-table
// slot and its decision-cache buckets, plus the group itself. One by one,
// each group waits for those cache misses in turn (≈ 100 ns a group). So
// groups are decided in batches whose memory is read first (touchDue), with
// all their misses outstanding together.
func (s *sampler) decidePending(now time.Time, dueOnly bool, st *stats, em *emission) {
	deadline := s.sinceEpoch(now) - int64(s.cfg.DecisionWait)
	reason := reasonNone
	if !dueOnly {
		deadline, reason = math.MaxInt64, reasonShutdown
	}
	var batch dueGroups
	for s.collectDue(&batch, s.queue.oldestSeq(), deadline) > 0 {
		s.touchDue(&batch)
		for i := range batch.n {
			// A group of the batch may have been decided with a group it
			// is linked to, and even recycled (zeroed) since: its seq,
			// taken when collected, is then behind the queue's oldest.
			if g := batch.groups[i]; batch.seqs[i] >= s.queue.frontSeq() && g.seq == batch.seqs[i] && !g.decided {
				s.decide(g, now, reason, st, em, &batch.hashes[i])
			}
		}
	}
}

// dueGroupsMax is how many groups a batch of decidePending holds: enough
// for the processor to have all their cache misses in flight.
const dueGroupsMax = 16

// dueGroups is a batch of groups to decide, with their hashes.
type dueGroups struct {
	n      int
	groups [dueGroupsMax]*group
	seqs   [dueGroupsMax]recordlog.Owner
	hashes [dueGroupsMax]groupHashes
}

// groupHashes are a group's hashes in the group table and the decision
// caches.
type groupHashes struct {
	table, cache uint64
}

// collectDue fills d with the undecided groups that arrived by deadline,
// oldest first from the queue position from (a seq), and returns how many.
func (s *sampler) collectDue(d *dueGroups, from recordlog.Owner, deadline int64) int {
	d.n = 0
	q := &s.queue
	for _, g := range q.items[from-q.base:] {
		if d.n == dueGroupsMax {
			break
		}
		if g.decided {
			continue // decided early; only the undecided ones' arrival counts
		}
		if g.firstNanos > deadline {
			break
		}
		d.groups[d.n] = g
		d.seqs[d.n] = g.seq
		d.n++
	}
	return d.n
}

// touchDue computes the hashes of d's groups and reads their table slots
// and cache buckets, in a loop short enough per group that all those reads
// are in flight at once.
func (s *sampler) touchDue(d *dueGroups) {
	for i, g := range d.groups[:d.n] {
		d.hashes[i] = groupHashes{table: s.groups.Hash(&g.key), cache: decisioncache.Fingerprint(g.key)}
	}
	var sink uint64
	for _, h := range d.hashes[:d.n] {
		sink += s.groups.TouchHashed(h.table) + s.dropped.Touch(h.cache) + s.kept.Touch(h.cache)
	}
	s.touchSink += sink
}

// decideDue decides every group whose decision_wait has elapsed.
func (s *sampler) decideDue(ctx context.Context) {
	s.decideAndEmit(ctx, true)
}

// decideAll decides every pending group (shutdown).
func (s *sampler) decideAll(ctx context.Context) {
	s.decideAndEmit(ctx, false)
}

func (s *sampler) decideAndEmit(ctx context.Context, dueOnly bool) {
	var st stats
	// The ticker's emission is kept by the sampler rather than pooled: it
	// is large and a pool would lose it at every garbage collection.
	em := s.tickEmission.Swap(nil)
	if em == nil {
		em = getEmission()
	}
	defer func() {
		if old := s.tickEmission.Swap(em.reset()); old != nil {
			putEmission(old)
		}
	}()
	now := s.now()
	s.mu.Lock()
	groups0, bytes0 := s.groups.Len(), s.buffered
	s.decidePending(now, dueOnly, &st, em)
	st.groupsDelta = int64(s.groups.Len() - groups0)
	st.bytesDelta = s.buffered - bytes0
	outs := s.outputs
	s.mu.Unlock()
	s.recordThenEmit(ctx, em, outs, &st)
}

// decide evaluates the policies for g, releases its memory, remembers the
// decision and queues its records for emission when kept. A group linked
// with others (link.go) is decided with them. hs, when not nil, holds g's
// hashes (touchDue). Under the lock.
func (s *sampler) decide(g *group, now time.Time, reason int, st *stats, em *emission, hs *groupHashes) {
	if g.linked {
		s.decideLinked(g, now, reason, st, em)
		return
	}
	if hs == nil {
		hs = &groupHashes{table: s.groups.Hash(&g.key), cache: decisioncache.Fingerprint(g.key)}
	}
	s.groups.DeleteHashed(g.key, hs.table)
	g.decided = true
	if !s.abandon(g, st, em) {
		pi, keep := s.evaluate(g, now)
		s.remember(hs.cache, pi, keep, st)
		if keep {
			s.perKeyKept(now, g)
		}
		s.settle(g, pi, keep, reason, st, em)
	}
	s.releaseSlabs()
}

// decideLinked decides every undecided group of g's request at once: one
// evaluation over all their records, on the request's trace id, applied to
// each group and remembered for every key of the request.
func (s *sampler) decideLinked(g *group, now time.Time, reason int, st *stats, em *emission) {
	set := s.unlink(g)
	if set == nil { // not expected: the set lives while its groups do
		g.linked = false
		s.decide(g, now, reason, st, em, nil)
		return
	}
	members := s.linkMembers[:0]
	var u group
	u.key = set.traceKey
	var route *group
	for _, k := range set.keys {
		m := s.groups.Get(k)
		if m == nil {
			continue
		}
		s.groups.Delete(k)
		m.decided = true
		m.linked = false
		if s.abandon(m, st, em) {
			continue
		}
		members = append(members, m)
		u.matched |= m.matched
		u.total += m.total
		u.hasRoot = u.hasRoot || m.hasRoot
		u.keptPart = max(u.keptPart, m.keptPart)
		if m.spanEnd > m.spanStart && m.spanStart > 0 {
			if u.spanStart == 0 || m.spanStart < u.spanStart {
				u.spanStart = m.spanStart
			}
			u.spanEnd = max(u.spanEnd, m.spanEnd)
		}
		// per_key_minimum reads the keys of the root span's group, else
		// of the trace's.
		if route == nil || m.hasRoot && !route.hasRoot || m.key == set.traceKey && !route.hasRoot {
			route = m
		}
	}
	if len(members) > 0 {
		u.routeKeys = route.routeKeys
		pi, keep := s.evaluate(&u, now)
		for _, k := range set.keys {
			s.remember(decisioncache.Fingerprint(k), pi, keep, st)
		}
		if keep {
			s.perKeyKept(now, &u)
		}
		for _, m := range members {
			s.settle(m, pi, keep, reason, st, em)
		}
	}
	clear(members)
	s.linkMembers = members[:0]
	s.releaseSlabs()
}

// followDecision applies a cached decision, met by a record whose trace id
// was decided, to the undecided group of the record's correlation key: a
// request is not decided twice.
func (s *sampler) followDecision(lk *pendingLink, pi int, keep bool, st *stats, em *emission) {
	g := s.groups.GetHashed(&lk.key, lk.hash)
	if g == nil || g.linked {
		// No group (the key is remembered with the decision below), or one
		// already joined to another pending trace: that request decides.
		if g == nil {
			s.remember(decisioncache.Fingerprint(lk.key), pi, keep, st)
		}
		return
	}
	s.groups.DeleteHashed(lk.key, lk.hash)
	g.decided = true
	if !s.abandon(g, st, em) {
		s.remember(decisioncache.Fingerprint(lk.key), pi, keep, st)
		s.settle(g, pi, keep, reasonNone, st, em)
	}
	s.releaseSlabs()
}

// abandon drops g undecided when its receiver lost the partition, and
// reports whether it did. g has left the group table.
func (s *sampler) abandon(g *group, st *stats, em *emission) bool {
	if g.unheld || !abandoned(g.holds) {
		return false
	}
	// Its receiver lost the partition: the next owner reads these
	// records again from Kafka, with the rest of their request. Judged
	// here they would be judged on part of it, and emitted twice. (A
	// group that also holds records nobody can deliver again is decided
	// as usual: duplicates later rather than loss.)
	s.buffered -= g.accounted + g.releaseHeaders(&s.headers)
	for sig, n := range g.records {
		st.abandoned[sig] += int64(n)
	}
	em.abandoned = append(em.abandoned, g.holds...)
	g.routeKeys, g.holds = nil, nil
	return true
}

// remember stores a decision in the decision cache.
func (s *sampler) remember(fp uint64, pi int, keep bool, st *stats) {
	if keep {
		if s.kept.PutFingerprint(fp, uint8(pi+1)) {
			st.evictions[1]++
		}
		return
	}
	// The policy is kept for drops too: a group that later follows this
	// decision through a link is counted under it.
	if s.dropped.PutFingerprint(fp, uint8(pi+1)) {
		st.evictions[0]++
	}
}

func (s *sampler) perKeyKept(now time.Time, g *group) {
	for _, p := range s.perKeys {
		p.perKey.kept(now, g.routeKeys[p.perKeyIdx])
	}
}

// settle applies a decision to g, which has left the group table: queues
// its records when kept, counts them, and releases its memory except the
// record log's slabs: the caller releases them (releaseSlabs) once done
// with every group it decides, as that recycles decided groups.
func (s *sampler) settle(g *group, pi int, keep bool, reason int, st *stats, em *emission) {
	k := 0
	if keep {
		k = 1
		// Copied out: the log may reuse the slab before the emission is sent.
		s.walkRefs = s.log.Walk(g.last, g.recordCount(), s.walkRefs, func(tag uint64, rec []byte) {
			out, hi := splitRecordTag(tag)
			em.add(out, pi, g.header(hi), em.copy(rec))
		})
		em.sent = append(em.sent, g.holds...)
	} else {
		em.finished = append(em.finished, g.holds...)
	}
	for sig, n := range g.records {
		st.sampled[sig][k] += int64(n)
	}
	st.decided = growInt64(st.decided, 2*(len(s.policies)+1))
	st.decided[2*(pi+1)+k]++
	if reason != reasonNone {
		st.early[reason]++
	}
	// Emitted records keep their header objects alive; this only takes
	// them out of the table once no group uses them.
	s.buffered -= g.accounted + g.releaseHeaders(&s.headers)
	g.routeKeys, g.holds = nil, nil
}

func abandoned(holds []*ack.Batch) bool {
	for _, b := range holds {
		if b.Cancelled() {
			return true
		}
	}
	return false
}

func growInt64(v []int64, n int) []int64 {
	if len(v) >= n {
		return v
	}
	for len(v) < n {
		v = append(v, 0)
	}
	return v
}

// evaluate returns the index of the first matching policy and its decision,
// or policyDefault and default_decision; a request with a part kept earlier
// is kept under that part's policy.
func (s *sampler) evaluate(g *group, now time.Time) (int, bool) {
	if g.keptPart != 0 {
		return int(g.keptPart) - 1, true
	}
	for i, p := range s.policies {
		var match bool
		switch p.kind {
		case kindPredicate:
			match = g.matched&p.bit != 0 ||
				p.rootlessLatency > 0 && !g.hasRoot && g.spanEnd > g.spanStart && time.Duration(g.spanEnd-g.spanStart) >= p.rootlessLatency
		case kindProbabilistic:
			match = p.all || keyHash(s.cfg.HashSeed, g.key) < p.threshold
		case kindRateLimit:
			match = p.limiter.take(now)
		case kindPerKey:
			match = p.perKey.below(now, g.routeKeys[p.perKeyIdx])
		case kindAlways:
			match = true
		}
		if match {
			return i, p.keep
		}
	}
	return policyDefault, s.defaultKeep
}

func (s *sampler) policyName(pi int) string {
	if pi == policyDefault {
		return defaultDecisionPolicyTag
	}
	return s.policies[pi].name
}
