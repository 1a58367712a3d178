package logarchive

import (
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
)

func TestSpanSchemaColumnsAndPromotedRoundTrip(t *testing.T) {
	promoted := []PromotedColumn{
		{Column: "http_route", Key: "http.route", Source: SourceRecord, Type: TypeString},
		// "body" is a log column but not a span column: allowed here.
		{Column: "body", Key: "message", Source: SourceRecord, Type: TypeString},
		{Column: "host", Key: "host.name", Source: SourceResource, Type: TypeString},
	}
	s, err := SpanSchema(promoted)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s.NumFields(), NumSpanLeadingColumns+len(promoted)+4; got != want {
		t.Fatalf("fields = %d, want %d", got, want)
	}
	if f := s.Field(0); f.Name != ColStartTime || f.Nullable || !arrow.TypeEqual(f.Type, TimestampType) {
		t.Fatalf("first field = %v", f)
	}
	if f := s.Field(NumSpanLeadingColumns); f.Name != "http_route" || !f.Nullable {
		t.Fatalf("first promoted field = %v", f)
	}
	names := []string{ColAttributes, ColResourceAttributes, ColEvents, ColLinks}
	for i, n := range names {
		if f := s.Field(s.NumFields() - 4 + i); f.Name != n {
			t.Fatalf("trailing field %d = %s, want %s", i, f.Name, n)
		}
	}
	// Ids have the same physical types as in the log schema.
	logs, err := LogSchema(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{ColTraceID, ColSpanID, ColFlags, ColServiceName, ColScopeName, ColScopeVersion, ColAttributes, ColResourceAttributes} {
		lf, _ := logs.FieldsByName(c)
		sf, _ := s.FieldsByName(c)
		if len(lf) != 1 || len(sf) != 1 || !arrow.TypeEqual(lf[0].Type, sf[0].Type) {
			t.Fatalf("column %s differs between log and span schemas", c)
		}
	}
	if SignalOfSchema(s) != SignalTraces || SignalOfSchema(logs) != SignalLogs {
		t.Fatal("SignalOfSchema")
	}
	if _, ok := logs.Metadata().GetValue(SignalKey); ok {
		t.Fatal("the log schema must not change: no signal key")
	}
	back, err := PromotedFromSchema(s)
	if err != nil {
		t.Fatal(err)
	}
	if len(back) != len(promoted) {
		t.Fatalf("promoted from schema = %v", back)
	}
	for i := range promoted {
		if back[i] != promoted[i] {
			t.Fatalf("promoted[%d] = %+v, want %+v", i, back[i], promoted[i])
		}
	}
	if TimeColumn(SignalTraces) != ColStartTime || TimeColumn(SignalLogs) != ColTimestamp {
		t.Fatal("TimeColumn")
	}
}

func TestValidateSpanPromotedErrors(t *testing.T) {
	for _, col := range []string{ColKind, ColEvents, ColLinks, ColAttributes, ColTraceID, ColDurationNano} {
		err := ValidateSpanPromoted([]PromotedColumn{{Column: col, Key: "k", Source: SourceRecord, Type: TypeString}})
		want := `promoted column 0: column "` + col + `" is a fixed archive column`
		if err == nil || err.Error() != want {
			t.Fatalf("err = %v, want %s", err, want)
		}
	}
	if _, err := SpanSchema([]PromotedColumn{{Column: "a", Key: "service.name", Source: SourceResource, Type: TypeString}}); err == nil {
		t.Fatal("promoting resource service.name must fail")
	}
}
