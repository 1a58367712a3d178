package opensearchexporter

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/zap"

	"github.com/sluicelogs/sluice/exporter/opensearchexporter/internal/bootstrap"
	"github.com/sluicelogs/sluice/exporter/opensearchexporter/internal/deadletter"
	"github.com/sluicelogs/sluice/exporter/opensearchexporter/internal/document"
	"github.com/sluicelogs/sluice/exporter/opensearchexporter/internal/indexname"
	"github.com/sluicelogs/sluice/exporter/opensearchexporter/internal/metadata"
	"github.com/sluicelogs/sluice/exporter/opensearchexporter/internal/osclient"
)

const (
	signalLogs   = "logs"
	signalTraces = "traces"
	// setupBackoffMax caps the wait between install attempts while the cluster is unreachable.
	setupBackoffMax = 30 * time.Second
)

// osExporter exports one signal. The factory creates one per pipeline signal.
type osExporter struct {
	cfg    *Config
	set    exporter.Settings
	signal string
	index  *indexname.Template
	dlq    *indexname.Template
	tb     *metadata.TelemetryBuilder
	now    func() time.Time

	client *osclient.Client
	sender *sender

	setupDone chan struct{}
	// stopping is closed when Shutdown begins, before exporterhelper drains
	// the queue: pushes then stop waiting for the template install.
	stopping     chan struct{}
	stoppingOnce sync.Once
	cancel       context.CancelFunc
	wg           sync.WaitGroup
	stopOnce     sync.Once
}

func newExporter(cfg *Config, set exporter.Settings, signal string) (*osExporter, error) {
	tmpl := cfg.LogsIndex
	if signal == signalTraces {
		tmpl = cfg.TracesIndex
	}
	index, err := indexname.Parse(tmpl, cfg.IndexMissingValue)
	if err != nil {
		return nil, fmt.Errorf("%s_index: %w", signal, err)
	}
	var dlq *indexname.Template
	if cfg.DeadLetter.Index != "" {
		if dlq, err = indexname.Parse(cfg.DeadLetter.Index, cfg.IndexMissingValue); err != nil {
			return nil, fmt.Errorf("dead_letter.index: %w", err)
		}
	}
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, fmt.Errorf("create telemetry: %w", err)
	}
	e := &osExporter{
		cfg: cfg, set: set, signal: signal, index: index, dlq: dlq, tb: tb, now: time.Now,
		setupDone: make(chan struct{}), stopping: make(chan struct{}),
	}
	return e, nil
}

// start builds the HTTP client and starts the background install of templates
// and policies; it does not wait for the cluster.
func (e *osExporter) start(ctx context.Context, host component.Host) error {
	clientCfg := e.cfg.ClientConfig
	// Bodies are compressed here, before signing, not by confighttp.
	clientCfg.Compression = ""
	httpClient, err := clientCfg.ToClient(ctx, host.GetExtensions(), e.set.TelemetrySettings)
	if err != nil {
		return fmt.Errorf("create HTTP client: %w", err)
	}
	e.client = &osclient.Client{
		HTTP:    httpClient,
		BaseURL: trimSlash(e.cfg.ClientConfig.Endpoint),
		Gzip:    e.cfg.ClientConfig.Compression == "gzip",
	}
	if e.cfg.AWSSigV4.Enabled {
		if e.client.Sign, err = newSigV4Signer(ctx, e.cfg.AWSSigV4, e.now); err != nil {
			return err
		}
	}
	var dlqFile *deadletter.File
	if e.cfg.DeadLetter.File != "" {
		if dlqFile, err = deadletter.OpenFile(e.cfg.DeadLetter.File, e.now); err != nil {
			return err
		}
	}
	e.sender = &sender{
		client: e.client, maxBytes: e.cfg.Bulk.MaxBytes, maxDocs: e.cfg.Bulk.MaxDocuments,
		signal: e.signal, tb: e.tb, logger: e.set.Logger, now: e.now,
		dlqIndex: e.dlq, dlqFile: dlqFile,
	}
	setupCtx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		defer close(e.setupDone)
		e.runSetup(setupCtx, host)
	}()
	return nil
}

func trimSlash(s string) string {
	for len(s) > 0 && s[len(s)-1] == '/' {
		s = s[:len(s)-1]
	}
	return s
}

// runSetup installs templates and policies, retrying transient failures until
// it succeeds or the exporter stops. Permanent failures are reported and
// exporting goes on (the templates may have been installed by an operator).
func (e *osExporter) runSetup(ctx context.Context, host component.Host) {
	delay := time.Second
	for {
		err := e.installAll(ctx)
		if err == nil || ctx.Err() != nil {
			return
		}
		if bootstrap.Permanent(err) {
			e.set.Logger.Error("OpenSearch start-up install failed; exporting continues without it", zap.Error(err))
			componentstatus.ReportStatus(host, componentstatus.NewRecoverableErrorEvent(err))
			return
		}
		e.set.Logger.Warn("OpenSearch start-up install failed; retrying", zap.Error(err), zap.Duration("delay", delay))
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		delay = min(2*delay, setupBackoffMax)
	}
}

func (e *osExporter) installAll(ctx context.Context) error {
	kind := bootstrap.KindLogs
	if e.signal == signalTraces {
		kind = bootstrap.KindTraces
	}
	type target struct {
		suffix  string
		pattern string
		kind    bootstrap.Kind
	}
	targets := []target{{e.signal, e.index.Pattern(), kind}}
	if e.dlq != nil {
		targets = append(targets, target{"dlq", e.dlq.Pattern(), bootstrap.KindDeadLetter})
	}
	if e.cfg.IndexTemplate.Enabled {
		for _, t := range targets {
			err := bootstrap.InstallTemplate(ctx, e.client, bootstrap.TemplateSpec{
				Name: e.cfg.IndexTemplate.NamePrefix + "-" + t.suffix, Pattern: t.pattern, Kind: t.kind,
				Priority: e.priority(t.pattern), Shards: e.cfg.IndexTemplate.Shards, Replicas: e.cfg.IndexTemplate.Replicas,
			})
			if err != nil {
				return err
			}
		}
	}
	if e.cfg.ISMPolicy.Enabled {
		for _, t := range targets {
			err := bootstrap.InstallPolicy(ctx, e.client, bootstrap.PolicySpec{
				ID: e.cfg.IndexTemplate.NamePrefix + "-" + t.suffix, Pattern: t.pattern,
				Retention: e.cfg.ISMPolicy.Retention, Priority: e.priority(t.pattern),
			})
			if errors.Is(err, bootstrap.ErrISMUnavailable) {
				e.set.Logger.Warn("ISM plugin not installed on the cluster: retention (ism_policy) is not managed; "+
					"install opensearch-index-management or set ism_policy.enabled: false", zap.String("policy", e.cfg.IndexTemplate.NamePrefix+"-"+t.suffix))
				return nil
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// priority is the configured priority plus the length of the pattern's
// literal part. OpenSearch refuses a template (and ISM a policy) whose
// patterns overlap another's at the same priority: logs in "app-*" and spans
// in "app-traces-*" would leave one signal without its mapping. This way the
// more specific pattern is installed too, and wins for the indices it matches.
func (e *osExporter) priority(pattern string) int {
	return e.cfg.IndexTemplate.Priority + len(strings.TrimSuffix(pattern, "*"))
}

// waitSetup holds the first pushes until the templates are in place, so that
// no index is created with a dynamic mapping.
func (e *osExporter) waitSetup(ctx context.Context) error {
	select {
	case <-e.setupDone:
		return nil
	default:
	}
	t := time.NewTimer(e.cfg.ClientConfig.Timeout)
	defer t.Stop()
	select {
	case <-e.setupDone:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for index template install: %w", ctx.Err())
	case <-e.stopping:
		return errors.New("shutting down before the index templates could be installed (OpenSearch not reachable)")
	case <-t.C:
		return errors.New("waiting for index template install: OpenSearch not reachable yet")
	}
}

// beginShutdown stops pushes waiting for the template install. Without it,
// exporterhelper's queue drain (before e.shutdown runs) waited the client
// timeout for every queued request while OpenSearch was unreachable: minutes.
func (e *osExporter) beginShutdown() {
	e.stoppingOnce.Do(func() { close(e.stopping) })
}

func (e *osExporter) shutdown(context.Context) error {
	var err error
	e.stopOnce.Do(func() {
		if e.cancel != nil {
			e.cancel()
		}
		e.wg.Wait()
		if e.sender != nil && e.sender.dlqFile != nil {
			err = e.sender.dlqFile.Close()
		}
		if e.client != nil {
			e.client.Close()
		}
		e.tb.Shutdown()
	})
	return err
}

// bufPool recycles document arenas and bulk bodies between pushes.
var bufPool = sync.Pool{New: func() any { return new([]byte) }}

func getBuf() *[]byte { return bufPool.Get().(*[]byte) }

func putBuf(b *[]byte) {
	*b = (*b)[:0]
	bufPool.Put(b)
}

// batchEncoder turns records into items, sharing one arena for documents.
type batchEncoder struct {
	e        *osExporter
	items    []item
	arena    []byte
	spans    [][2]int // doc offsets in arena, parallel to items
	name     []byte
	lastName string
	// repeats counts the log documents of this request by content id, so that
	// identical records (a line logged twice in one poll, without its own
	// timestamp) are stored as the separate records they are.
	repeats  map[string]int
	repeated bool // some content id occurred more than once
}

func (b *batchEncoder) add(res pcommon.Resource, attrs pcommon.Map, ts pcommon.Timestamp, ordinal int, appendDoc func([]byte) []byte) {
	start := len(b.arena)
	b.arena = appendDoc(b.arena)
	doc := b.arena[start:]
	b.name = b.e.index.AppendName(b.name[:0], res.Attributes(), attrs, ts)
	if string(b.name) != b.lastName {
		b.lastName = string(b.name)
	}
	id, hashed := b.e.documentID(attrs, doc)
	contentID := ""
	if hashed && b.e.signal == signalLogs {
		contentID = id
		// Spans are not numbered: an identical span (same trace and span id) is a resend.
		if b.repeats == nil {
			b.repeats = make(map[string]int, cap(b.items))
		}
		n := b.repeats[id]
		b.repeats[id] = n + 1
		if n > 0 {
			b.repeated = true
			var buf [document.HashIDLen]byte
			id = string(document.AppendRepeatID(buf[:0], doc, n))
		}
	}
	b.items = append(b.items, item{
		index: b.lastName, id: id, ordinal: ordinal, contentID: contentID,
		res: res.Attributes(), attrs: attrs, ts: ts,
	})
	b.spans = append(b.spans, [2]int{start, len(b.arena)})
}

// finish points every item at its document once the arena no longer moves.
func (b *batchEncoder) finish() []item {
	for i := range b.items {
		b.items[i].doc = b.arena[b.spans[i][0]:b.spans[i][1]:b.spans[i][1]]
	}
	return b.items
}

// documentID derives the _id of one document (see README, "Document ids") and
// tells whether it is the content hash.
func (e *osExporter) documentID(attrs pcommon.Map, doc []byte) (id string, hashed bool) {
	switch e.cfg.DocumentID.Mode {
	case IDModeNone:
		return "", false
	case IDModeAttribute:
		if v, ok := attrs.Get(e.cfg.DocumentID.Attribute); ok {
			if s := v.AsString(); s != "" && len(s) <= document.MaxIDBytes {
				return s, false
			}
		}
	}
	var buf [document.HashIDLen]byte
	return string(document.AppendContentID(buf[:0], doc)), true
}

// encodeLogs encodes every record of ld; documents live in arena, which is
// returned grown so the caller can reuse it. repeated tells whether some
// records were identical (numbered as repeats).
func (e *osExporter) encodeLogs(ld plog.Logs, arena []byte) (items []item, grown []byte, repeated bool) {
	enc := batchEncoder{e: e, items: make([]item, 0, ld.LogRecordCount()), arena: arena}
	ordinal := 0
	for _, rl := range ld.ResourceLogs().All() {
		res := rl.Resource()
		for _, sl := range rl.ScopeLogs().All() {
			scope, schema := sl.Scope(), sl.SchemaUrl()
			for _, lr := range sl.LogRecords().All() {
				enc.add(res, lr.Attributes(), document.LogTimestamp(lr), ordinal, func(dst []byte) []byte {
					return document.AppendLog(dst, res, scope, schema, lr)
				})
				ordinal++
			}
		}
	}
	return enc.finish(), enc.arena, enc.repeated
}

// withAllCopies adds to the ordinals to retry every other copy of a retried
// record that has identical copies in the request. Copies are numbered in
// request order, so a retry must carry them all for each to get the id it
// had: alone, a second copy would be numbered as the first, answered 409
// (the first copy's document) and lost. Copies already indexed are answered
// 409 again and counted as duplicates.
func withAllCopies(items []item, retry []int) []int {
	copied := make(map[string]bool)
	for _, o := range retry {
		if c := items[o].contentID; c != "" {
			copied[c] = true
		}
	}
	sel := selection(len(items), retry)
	out := retry[:0:0]
	for i := range items {
		if sel[i] || (items[i].contentID != "" && copied[items[i].contentID]) {
			out = append(out, i)
		}
	}
	return out
}

func (e *osExporter) pushLogs(ctx context.Context, ld plog.Logs) error {
	if err := e.waitSetup(ctx); err != nil {
		return err
	}
	arena := getBuf()
	defer putBuf(arena)
	var items []item
	var repeated bool
	items, *arena, repeated = e.encodeLogs(ld, *arena)
	retry := e.sender.deliver(ctx, items)
	if len(retry) == 0 {
		return nil
	}
	err := fmt.Errorf("%d of %d log documents not yet indexed; retrying them", len(retry), len(items))
	if repeated {
		retry = withAllCopies(items, retry)
	}
	return consumererror.NewLogs(err, logsSubset(ld, retry))
}

// encodeTraces is encodeLogs for spans.
func (e *osExporter) encodeTraces(td ptrace.Traces, arena []byte) ([]item, []byte) {
	enc := batchEncoder{e: e, items: make([]item, 0, td.SpanCount()), arena: arena}
	ordinal := 0
	for _, rs := range td.ResourceSpans().All() {
		res := rs.Resource()
		for _, ss := range rs.ScopeSpans().All() {
			scope, schema := ss.Scope(), ss.SchemaUrl()
			for _, span := range ss.Spans().All() {
				enc.add(res, span.Attributes(), span.StartTimestamp(), ordinal, func(dst []byte) []byte {
					return document.AppendSpan(dst, res, scope, schema, span)
				})
				ordinal++
			}
		}
	}
	return enc.finish(), enc.arena
}

func (e *osExporter) pushTraces(ctx context.Context, td ptrace.Traces) error {
	if err := e.waitSetup(ctx); err != nil {
		return err
	}
	arena := getBuf()
	defer putBuf(arena)
	var items []item
	items, *arena = e.encodeTraces(td, *arena)
	retry := e.sender.deliver(ctx, items)
	if len(retry) == 0 {
		return nil
	}
	return consumererror.NewTraces(
		fmt.Errorf("%d of %d span documents not yet indexed; retrying them", len(retry), len(items)),
		tracesSubset(td, retry))
}

func selection(n int, ordinals []int) []bool {
	sel := make([]bool, n)
	for _, o := range ordinals {
		sel[o] = true
	}
	return sel
}

// logsSubset copies the records at the given ordinals (in traversal order),
// with their resource and scope, into a new plog.Logs.
func logsSubset(ld plog.Logs, ordinals []int) plog.Logs {
	sel := selection(ld.LogRecordCount(), ordinals)
	out := plog.NewLogs()
	ordinal := 0
	for _, rl := range ld.ResourceLogs().All() {
		var outRL plog.ResourceLogs
		haveRL := false
		for _, sl := range rl.ScopeLogs().All() {
			var outSL plog.ScopeLogs
			haveSL := false
			for _, lr := range sl.LogRecords().All() {
				if sel[ordinal] {
					if !haveRL {
						outRL = out.ResourceLogs().AppendEmpty()
						rl.Resource().CopyTo(outRL.Resource())
						outRL.SetSchemaUrl(rl.SchemaUrl())
						haveRL = true
					}
					if !haveSL {
						outSL = outRL.ScopeLogs().AppendEmpty()
						sl.Scope().CopyTo(outSL.Scope())
						outSL.SetSchemaUrl(sl.SchemaUrl())
						haveSL = true
					}
					lr.CopyTo(outSL.LogRecords().AppendEmpty())
				}
				ordinal++
			}
		}
	}
	return out
}

// tracesSubset is logsSubset for spans.
func tracesSubset(td ptrace.Traces, ordinals []int) ptrace.Traces {
	sel := selection(td.SpanCount(), ordinals)
	out := ptrace.NewTraces()
	ordinal := 0
	for _, rs := range td.ResourceSpans().All() {
		var outRS ptrace.ResourceSpans
		haveRS := false
		for _, ss := range rs.ScopeSpans().All() {
			var outSS ptrace.ScopeSpans
			haveSS := false
			for _, span := range ss.Spans().All() {
				if sel[ordinal] {
					if !haveRS {
						outRS = out.ResourceSpans().AppendEmpty()
						rs.Resource().CopyTo(outRS.Resource())
						outRS.SetSchemaUrl(rs.SchemaUrl())
						haveRS = true
					}
					if !haveSS {
						outSS = outRS.ScopeSpans().AppendEmpty()
						ss.Scope().CopyTo(outSS.Scope())
						outSS.SetSchemaUrl(ss.SchemaUrl())
						haveSS = true
					}
					span.CopyTo(outSS.Spans().AppendEmpty())
				}
				ordinal++
			}
		}
	}
	return out
}
