package logarchive

import (
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
)

func TestLogSchemaColumnsAndPromotedRoundTrip(t *testing.T) {
	promoted := []PromotedColumn{
		{Column: "http_status", Key: "http.response.status_code", Source: SourceRecord, Type: TypeInt},
		{Column: "host_name", Key: "host.name", Source: SourceResource, Type: TypeString},
		{Column: "duration_s", Key: "duration", Source: SourceRecord, Type: TypeDouble},
		{Column: "cached", Key: "cache.hit", Source: SourceRecord, Type: TypeBool},
	}
	s, err := LogSchema(promoted)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s.NumFields(), NumLeadingColumns+len(promoted)+2; got != want {
		t.Fatalf("fields = %d, want %d", got, want)
	}
	if s.Field(0).Name != ColTimestamp || !arrow.TypeEqual(s.Field(0).Type, TimestampType) {
		t.Fatalf("first field = %v", s.Field(0))
	}
	if f := s.Field(NumLeadingColumns); f.Name != "http_status" || f.Type.ID() != arrow.INT64 || !f.Nullable {
		t.Fatalf("first promoted field = %v", f)
	}
	if f := s.Field(s.NumFields() - 1); f.Name != ColResourceAttributes || !arrow.TypeEqual(f.Type, AttributeMapType) {
		t.Fatalf("last field = %v", f)
	}
	if v, ok := s.Metadata().GetValue(SchemaVersionKey); !ok || v != SchemaVersion {
		t.Fatalf("schema version metadata = %q, %v", v, ok)
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
}

func TestValidatePromotedErrors(t *testing.T) {
	ok := PromotedColumn{Column: "a", Key: "a", Source: SourceRecord, Type: TypeString}
	tests := []struct {
		name string
		in   []PromotedColumn
		want string
	}{
		{"bad name", []PromotedColumn{{Column: "A-b", Key: "k", Source: SourceRecord, Type: TypeString}}, `promoted column 0: column "A-b" must match ^[a-z_][a-z0-9_]*$`},
		{"fixed name", []PromotedColumn{{Column: "body", Key: "k", Source: SourceRecord, Type: TypeString}}, `promoted column 0: column "body" is a fixed archive column`},
		{"duplicate column", []PromotedColumn{ok, {Column: "a", Key: "b", Source: SourceRecord, Type: TypeString}}, `promoted column 1: column "a" is defined twice`},
		{"empty key", []PromotedColumn{{Column: "a", Source: SourceRecord, Type: TypeString}}, `promoted column 0 (a): key must not be empty`},
		{"bad source", []PromotedColumn{{Column: "a", Key: "k", Source: "scope", Type: TypeString}}, `promoted column 0 (a): source "scope" must be one of record, resource`},
		{"service name", []PromotedColumn{{Column: "a", Key: "service.name", Source: SourceResource, Type: TypeString}}, `promoted column 0 (a): resource key service.name is already the service_name column`},
		{"duplicate key", []PromotedColumn{ok, {Column: "b", Key: "a", Source: SourceRecord, Type: TypeInt}}, `promoted column 1 (b): record key "a" is promoted twice`},
		{"bad type", []PromotedColumn{{Column: "a", Key: "k", Source: SourceRecord, Type: "uint"}}, `promoted column 0 (a): type "uint" must be one of string, int, double, bool`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidatePromoted(tt.in)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("err = %v, want %s", err, tt.want)
			}
		})
	}
	// Same key from different sources is allowed.
	if err := ValidatePromoted([]PromotedColumn{ok, {Column: "b", Key: "a", Source: SourceResource, Type: TypeString}}); err != nil {
		t.Fatal(err)
	}
}
