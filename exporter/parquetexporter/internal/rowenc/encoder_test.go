package rowenc

import (
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.uber.org/goleak"

	"github.com/sluicelogs/sluice/internal/logarchive"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestEncodeSplitsPartitionsAndPromotes(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	layout, err := logarchive.NewLayout(logarchive.DefaultTemplate)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := NewEncoder([]logarchive.PromotedColumn{
		{Column: "status", Key: "status", Source: logarchive.SourceRecord, Type: logarchive.TypeInt},
		{Column: "region", Key: "cloud.region", Source: logarchive.SourceResource, Type: logarchive.TypeString},
	}, layout, mem)
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 5, 1, 9, 59, 59, 0, time.UTC)
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "api")
	rl.Resource().Attributes().PutStr("cloud.region", "eu-1")
	rl.Resource().Attributes().PutInt("service.name.dup", 1)
	lrs := rl.ScopeLogs().AppendEmpty().LogRecords()
	a := lrs.AppendEmpty() // hour 09
	a.SetTimestamp(pcommon.NewTimestampFromTime(base))
	a.Attributes().PutInt("status", 200)
	b := lrs.AppendEmpty() // hour 10, wrong-typed status stays in the map
	b.SetTimestamp(pcommon.NewTimestampFromTime(base.Add(2 * time.Second)))
	b.Attributes().PutStr("status", "ok")
	c := lrs.AppendEmpty() // no timestamps: observed, then "now"
	_ = c
	rl2 := ld.ResourceLogs().AppendEmpty() // no service.name
	rl2.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty().SetObservedTimestamp(pcommon.NewTimestampFromTime(base))

	now := base.Add(3 * time.Hour)
	batches, err := enc.Encode(ld, logarchive.SignalLogs, now)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, bt := range batches {
			bt.Record.Release()
		}
	}()
	if len(batches) != 4 {
		t.Fatalf("batches = %d, want 4 (api@09, api@10, api@12, ''@09)", len(batches))
	}
	want := []struct {
		svc  string
		hour int
	}{{"api", 9}, {"api", 10}, {"api", 12}, {"", 9}}
	for i, w := range want {
		p := batches[i].Partition
		if p.Service != w.svc || p.Start.Hour() != w.hour || batches[i].Record.NumRows() != 1 {
			t.Fatalf("batch %d = %+v rows %d, want %+v", i, p, batches[i].Record.NumRows(), w)
		}
	}
	sch := enc.Schema()
	col := func(bi int, name string) any {
		idx := sch.FieldIndices(name)[0]
		return batches[bi].Record.Column(idx)
	}
	status0 := col(0, "status").(*array.Int64)
	status1 := col(1, "status").(*array.Int64)
	if status0.Value(0) != 200 || !status1.IsNull(0) {
		t.Fatal("promoted status: want 200 then null")
	}
	attrs1 := col(1, logarchive.ColAttributes).(*array.Map)
	if k := attrs1.Keys().(*array.String); k.Len() != 1 || k.Value(0) != "status" {
		t.Fatal("wrong-typed status must stay in attributes")
	}
	if r := col(0, "region").(*array.String); r.Value(0) != "eu-1" {
		t.Fatal("resource promoted region missing")
	}
	res0 := col(0, logarchive.ColResourceAttributes).(*array.Map)
	if k := res0.Keys().(*array.String); k.Len() != 1 || k.Value(0) != "service.name.dup" {
		t.Fatalf("resource attributes must drop service.name and promoted keys, got %v", k)
	}
	if ts := col(2, logarchive.ColTimestamp).(*array.Timestamp); int64(ts.Value(0)) != now.UnixMicro() {
		t.Fatal("record without times must use now")
	}
	if tn := col(2, logarchive.ColTimeUnixNano).(*array.Int64); !tn.IsNull(0) {
		t.Fatal("time_unix_nano must be null when unset")
	}
	if svc := col(3, logarchive.ColServiceName).(*array.String); !svc.IsNull(0) {
		t.Fatal("service_name must be null without service.name")
	}
}
