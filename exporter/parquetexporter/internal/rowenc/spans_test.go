package rowenc

import (
	"strconv"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/sluicelogs/sluice/internal/logarchive"
)

func TestEncodeSpansPartitionsTimesAndNested(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	layout, err := logarchive.NewLayout(logarchive.DefaultTemplate)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := NewSpanEncoder([]logarchive.PromotedColumn{
		{Column: "route", Key: "http.route", Source: logarchive.SourceRecord, Type: logarchive.TypeString},
	}, layout, mem)
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 5, 1, 9, 59, 59, 0, time.UTC)
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "api")
	spans := rs.ScopeSpans().AppendEmpty().Spans()
	a := spans.AppendEmpty() // hour 09, start+end, event and link
	a.SetStartTimestamp(pcommon.NewTimestampFromTime(base))
	a.SetEndTimestamp(pcommon.NewTimestampFromTime(base.Add(1500 * time.Millisecond)))
	a.SetKind(ptrace.SpanKindServer)
	a.Status().SetCode(ptrace.StatusCodeError)
	a.Attributes().PutStr("http.route", "/x")
	ev := a.Events().AppendEmpty()
	ev.SetName("exception")
	ev.Attributes().PutInt("n", 1)
	a.Links().AppendEmpty().SetSpanID(pcommon.SpanID{1, 2, 3, 4, 5, 6, 7, 8})
	b := spans.AppendEmpty() // only an end time: partitioned by it (hour 10)
	b.SetEndTimestamp(pcommon.NewTimestampFromTime(base.Add(2 * time.Second)))
	b.SetKind(ptrace.SpanKind(42))
	spans.AppendEmpty() // no times at all: now

	now := base.Add(3 * time.Hour)
	batches, err := enc.Encode(td, now)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, bt := range batches {
			bt.Record.Release()
		}
	}()
	if len(batches) != 3 {
		t.Fatalf("batches = %d, want 3", len(batches))
	}
	for i, h := range []int{9, 10, 12} {
		p := batches[i].Partition
		if p.Signal != logarchive.SignalTraces || p.Service != "api" || p.Start.Hour() != h || batches[i].Record.NumRows() != 1 {
			t.Fatalf("batch %d = %+v", i, p)
		}
	}
	sch := enc.Schema()
	col := func(bi int, name string) any {
		return batches[bi].Record.Column(sch.FieldIndices(name)[0])
	}
	if d := col(0, logarchive.ColDurationNano).(*array.Int64); d.Value(0) != 1_500_000_000 {
		t.Fatalf("duration = %d", d.Value(0))
	}
	if k := col(0, logarchive.ColKind).(*array.String); k.Value(0) != "Server" {
		t.Fatalf("kind = %q", k.Value(0))
	}
	if k := col(1, logarchive.ColKind).(*array.String); k.Value(0) != "42" {
		t.Fatalf("unknown kind = %q, want its number", k.Value(0))
	}
	if s := col(0, logarchive.ColStatusCode).(*array.String); s.Value(0) != "Error" {
		t.Fatalf("status = %q", s.Value(0))
	}
	if r := col(0, "route").(*array.String); r.Value(0) != "/x" {
		t.Fatal("promoted route")
	}
	if m := col(0, logarchive.ColAttributes).(*array.Map); m.Keys().Len() != 0 {
		t.Fatal("promoted attribute must leave the map")
	}
	if s := col(1, logarchive.ColStartTimeUnixNano).(*array.Int64); !s.IsNull(0) {
		t.Fatal("start_time_unix_nano must be null when unset")
	}
	if s := col(1, logarchive.ColStartTime).(*array.Timestamp); int64(s.Value(0)) != base.Add(2*time.Second).UnixMicro() {
		t.Fatal("start_time must fall back to the end time")
	}
	if d := col(1, logarchive.ColDurationNano).(*array.Int64); !d.IsNull(0) {
		t.Fatal("duration must be null without a start")
	}
	if s := col(2, logarchive.ColStartTime).(*array.Timestamp); int64(s.Value(0)) != now.UnixMicro() {
		t.Fatal("span without times must use now")
	}
	events := col(0, logarchive.ColEvents).(*array.List)
	evs := events.ListValues().(*array.Struct)
	if events.Len() != 1 || evs.Len() != 1 {
		t.Fatalf("events = %v", events)
	}
	if n := evs.Field(2).(*array.String); n.Value(0) != "exception" {
		t.Fatal("event name")
	}
	if tm := evs.Field(0); !tm.IsNull(0) {
		t.Fatal("event time must be null when unset")
	}
	if m := evs.Field(3).(*array.Map); m.Items().(*array.String).Value(0) != "1" {
		t.Fatal("event attribute values as text")
	}
	links := col(0, logarchive.ColLinks).(*array.List)
	lks := links.ListValues().(*array.Struct)
	if lks.Len() != 1 || !lks.Field(0).IsNull(0) || lks.Field(1).IsNull(0) {
		t.Fatal("link: trace id null, span id set")
	}
	if l := col(1, logarchive.ColLinks).(*array.List); l.IsNull(0) || l.ListValues().Len() != 0 {
		t.Fatal("a span without links has an empty list, not null")
	}
}

// TestSizeHintsBoundedAndEffective encodes a batch with one huge value and
// many map entries, then a normal one: the hints learned from the first must
// not make the second reserve without bound, and rows stay exact.
func TestSizeHintsBoundedAndEffective(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	layout, err := logarchive.NewLayout(logarchive.DefaultTemplate)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := NewSpanEncoder(nil, layout, mem)
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	encode := func(td ptrace.Traces) {
		t.Helper()
		batches, err := enc.Encode(td, base)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range batches {
			if b.Record.NumRows() != int64(td.SpanCount()) {
				t.Fatalf("rows = %d, want %d", b.Record.NumRows(), td.SpanCount())
			}
			b.Record.Release()
		}
	}
	huge := ptrace.NewTraces()
	sp := huge.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	sp.SetStartTimestamp(pcommon.NewTimestampFromTime(base))
	sp.SetName(string(make([]byte, 8<<20)))
	for i := 0; i < 5000; i++ {
		sp.Attributes().PutInt(strconv.Itoa(i), int64(i))
	}
	encode(huge)
	if per := enc.hints.nodes[0].valuesPer1k.Load(); per != 1024 {
		t.Fatalf("top-level values per 1k rows = %d", per)
	}

	normal := ptrace.NewTraces()
	spans := normal.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans()
	for i := 0; i < 2000; i++ {
		s := spans.AppendEmpty()
		s.SetStartTimestamp(pcommon.NewTimestampFromTime(base))
		s.SetName("n")
	}
	before := mem.CurrentAlloc()
	rb := array.NewRecordBuilder(mem, enc.schema)
	enc.hints.reserve(rb, 2000)
	reserved := mem.CurrentAlloc() - before
	rb.Release()
	// Name data alone would be 2000 × 8 MiB without the caps.
	if reserved > 8*maxReserveBytes+64*maxReserveValues {
		t.Fatalf("reserved %d bytes for 2000 rows", reserved)
	}
	encode(normal)
}
