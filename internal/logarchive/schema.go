package logarchive

import (
	"fmt"
	"regexp"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
)

// SchemaVersion is stored in the Arrow schema metadata (key SchemaVersionKey)
// of every archive file. It changes only when a column is added.
const SchemaVersion = "1"

// SchemaVersionKey is the Arrow schema metadata key holding SchemaVersion.
const SchemaVersionKey = "sluice.archive.schema_version"

// Fixed column names of a log row, in schema order. Promoted attribute
// columns follow ColScopeVersion; ColAttributes and ColResourceAttributes
// always come last.
const (
	// ColTimestamp is the record time (Timestamp, or ObservedTimestamp when
	// Timestamp is unset) as TIMESTAMP(MICROS, UTC); never null.
	ColTimestamp = "timestamp"
	// ColTimeUnixNano is the record's Timestamp in exact nanoseconds; null when unset.
	ColTimeUnixNano = "time_unix_nano"
	// ColObservedTimestamp is ObservedTimestamp as TIMESTAMP(MICROS, UTC); null when unset.
	ColObservedTimestamp = "observed_timestamp"
	// ColObservedTimeUnixNano is ObservedTimestamp in exact nanoseconds; null when unset.
	ColObservedTimeUnixNano = "observed_time_unix_nano"
	// ColSeverityNumber is the OTel severity number (0 = unspecified).
	ColSeverityNumber = "severity_number"
	// ColSeverityText is the severity text; null when empty.
	ColSeverityText = "severity_text"
	// ColBody is the body as text: string bodies verbatim, other values as
	// JSON (bytes as base64 JSON string); null when the body is empty.
	ColBody = "body"
	// ColTraceID is the 16-byte trace id; null when unset.
	ColTraceID = "trace_id"
	// ColSpanID is the 8-byte span id; null when unset.
	ColSpanID = "span_id"
	// ColFlags is the record's trace flags.
	ColFlags = "flags"
	// ColEventName is the record's event name; null when empty.
	ColEventName = "event_name"
	// ColServiceName is the resource attribute service.name; null when absent.
	ColServiceName = "service_name"
	// ColScopeName is the instrumentation scope name; null when empty.
	ColScopeName = "scope_name"
	// ColScopeVersion is the instrumentation scope version; null when empty.
	ColScopeVersion = "scope_version"
	// ColAttributes holds the record attributes not promoted to a column, as
	// MAP<string,string>: string values verbatim, others as JSON.
	ColAttributes = "attributes"
	// ColResourceAttributes holds the resource attributes other than
	// service.name and promoted ones, encoded like ColAttributes.
	ColResourceAttributes = "resource_attributes"
)

// ColumnType is the Arrow/Parquet type of a promoted attribute column.
type ColumnType string

// Promoted column types.
const (
	TypeString ColumnType = "string"
	TypeInt    ColumnType = "int"
	TypeDouble ColumnType = "double"
	TypeBool   ColumnType = "bool"
)

// AttributeSource says where a promoted attribute is looked up.
type AttributeSource string

// Attribute sources.
const (
	SourceRecord   AttributeSource = "record"
	SourceResource AttributeSource = "resource"
)

// PromotedColumn is an attribute lifted out of the attribute maps into its
// own typed, nullable column. A value whose type does not match stays in the
// map and the column is null for that row, so nothing is lost.
type PromotedColumn struct {
	// Column is the column name: lower_snake_case, not a fixed column name.
	Column string
	// Key is the attribute key, e.g. "http.response.status_code".
	Key string
	// Source is SourceRecord or SourceResource.
	Source AttributeSource
	// Type is the column type.
	Type ColumnType
}

var columnNamePattern = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// fixedColumns lists the fixed columns before the promoted ones.
var fixedColumns = []arrow.Field{
	{Name: ColTimestamp, Type: TimestampType},
	{Name: ColTimeUnixNano, Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: ColObservedTimestamp, Type: TimestampType, Nullable: true},
	{Name: ColObservedTimeUnixNano, Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: ColSeverityNumber, Type: arrow.PrimitiveTypes.Int32},
	{Name: ColSeverityText, Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: ColBody, Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: ColTraceID, Type: &arrow.FixedSizeBinaryType{ByteWidth: 16}, Nullable: true},
	{Name: ColSpanID, Type: &arrow.FixedSizeBinaryType{ByteWidth: 8}, Nullable: true},
	{Name: ColFlags, Type: arrow.PrimitiveTypes.Int64},
	{Name: ColEventName, Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: ColServiceName, Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: ColScopeName, Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: ColScopeVersion, Type: arrow.BinaryTypes.String, Nullable: true},
}

// TimestampType is the Arrow type of the timestamp columns: microseconds in
// UTC, which Parquet stores as TIMESTAMP(MICROS, isAdjustedToUTC=true) —
// readable as a timestamp by DuckDB, Spark, Trino and Athena.
var TimestampType = &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}

// AttributeMapType is the Arrow type of the attribute map columns.
var AttributeMapType = arrow.MapOf(arrow.BinaryTypes.String, arrow.BinaryTypes.String)

// NumLeadingColumns is the number of fixed columns before the promoted ones (the index of the first
// promoted column).
var NumLeadingColumns = len(fixedColumns)

// IsFixedColumn reports whether name is one of the fixed column names.
func IsFixedColumn(name string) bool {
	return name == ColAttributes || name == ColResourceAttributes || hasField(name, fixedColumns)
}

// hasField reports whether one of the field lists has a field called name.
func hasField(name string, lists ...[]arrow.Field) bool {
	for _, fields := range lists {
		for _, f := range fields {
			if f.Name == name {
				return true
			}
		}
	}
	return false
}

// ValidatePromoted checks promoted column definitions: names match
// ^[a-z_][a-z0-9_]*$, are unique and not fixed names; keys are non-empty and
// unique per source; types and sources are known.
func ValidatePromoted(promoted []PromotedColumn) error {
	return validatePromoted(promoted, IsFixedColumn)
}

// validatePromoted checks promoted columns against the fixed column names of
// one signal (isFixed).
func validatePromoted(promoted []PromotedColumn, isFixed func(string) bool) error {
	seenCol := make(map[string]bool, len(promoted))
	seenKey := make(map[string]bool, len(promoted))
	for i, p := range promoted {
		if !columnNamePattern.MatchString(p.Column) {
			return fmt.Errorf("promoted column %d: column %q must match ^[a-z_][a-z0-9_]*$", i, p.Column)
		}
		if isFixed(p.Column) {
			return fmt.Errorf("promoted column %d: column %q is a fixed archive column", i, p.Column)
		}
		if seenCol[p.Column] {
			return fmt.Errorf("promoted column %d: column %q is defined twice", i, p.Column)
		}
		seenCol[p.Column] = true
		if p.Key == "" {
			return fmt.Errorf("promoted column %d (%s): key must not be empty", i, p.Column)
		}
		switch p.Source {
		case SourceRecord, SourceResource:
		default:
			return fmt.Errorf("promoted column %d (%s): source %q must be one of record, resource", i, p.Column, p.Source)
		}
		if p.Source == SourceResource && p.Key == "service.name" {
			return fmt.Errorf("promoted column %d (%s): resource key service.name is already the %s column", i, p.Column, ColServiceName)
		}
		sk := string(p.Source) + "\x00" + p.Key
		if seenKey[sk] {
			return fmt.Errorf("promoted column %d (%s): %s key %q is promoted twice", i, p.Column, p.Source, p.Key)
		}
		seenKey[sk] = true
		if _, err := p.Type.arrowType(); err != nil {
			return fmt.Errorf("promoted column %d (%s): %w", i, p.Column, err)
		}
	}
	return nil
}

func (t ColumnType) arrowType() (arrow.DataType, error) {
	switch t {
	case TypeString:
		return arrow.BinaryTypes.String, nil
	case TypeInt:
		return arrow.PrimitiveTypes.Int64, nil
	case TypeDouble:
		return arrow.PrimitiveTypes.Float64, nil
	case TypeBool:
		return arrow.FixedWidthTypes.Boolean, nil
	default:
		return nil, fmt.Errorf("type %q must be one of string, int, double, bool", string(t))
	}
}

// LogSchema returns the Arrow schema of a log row: the fixed columns, then
// one nullable column per promoted attribute in the given order, then
// ColAttributes and ColResourceAttributes. Promoted column definitions are
// stored in the schema metadata (PromotedKeyPrefix) so a reader can map
// columns back to attribute keys.
func LogSchema(promoted []PromotedColumn) (*arrow.Schema, error) {
	if err := ValidatePromoted(promoted); err != nil {
		return nil, err
	}
	fields := make([]arrow.Field, 0, len(fixedColumns)+len(promoted)+2)
	fields = append(fields, fixedColumns...)
	keys := []string{SchemaVersionKey}
	vals := []string{SchemaVersion}
	fields, keys, vals = appendPromotedFields(fields, keys, vals, promoted)
	fields = append(fields,
		arrow.Field{Name: ColAttributes, Type: AttributeMapType},
		arrow.Field{Name: ColResourceAttributes, Type: AttributeMapType},
	)
	md := arrow.NewMetadata(keys, vals)
	return arrow.NewSchema(fields, &md), nil
}

// appendPromotedFields adds one nullable field per promoted column and its
// description to the schema metadata keys/values.
func appendPromotedFields(fields []arrow.Field, keys, vals []string, promoted []PromotedColumn) ([]arrow.Field, []string, []string) {
	for i, p := range promoted {
		dt, _ := p.Type.arrowType()
		fields = append(fields, arrow.Field{Name: p.Column, Type: dt, Nullable: true})
		keys = append(keys, PromotedKeyPrefix+strconv.Itoa(i))
		vals = append(vals, p.Column+"\x1f"+string(p.Source)+"\x1f"+p.Key+"\x1f"+string(p.Type))
	}
	return fields, keys, vals
}

// PromotedKeyPrefix prefixes the schema metadata keys that describe promoted
// columns: "<prefix><n>" = column \x1f source \x1f key \x1f type.
const PromotedKeyPrefix = "sluice.archive.promoted."

// PromotedFromSchema recovers the promoted column definitions stored by
// LogSchema (or SpanSchema) in a schema's metadata, in column order.
func PromotedFromSchema(s *arrow.Schema) ([]PromotedColumn, error) {
	md := s.Metadata()
	var out []PromotedColumn
	for i := 0; ; i++ {
		idx := md.FindKey(PromotedKeyPrefix + strconv.Itoa(i))
		if idx < 0 {
			break
		}
		parts := splitUnit(md.Values()[idx])
		if len(parts) != 4 {
			return nil, fmt.Errorf("schema metadata %s%d: want 4 fields, got %d", PromotedKeyPrefix, i, len(parts))
		}
		out = append(out, PromotedColumn{Column: parts[0], Source: AttributeSource(parts[1]), Key: parts[2], Type: ColumnType(parts[3])})
	}
	validate := ValidatePromoted
	if SignalOfSchema(s) == SignalTraces {
		validate = ValidateSpanPromoted
	}
	if err := validate(out); err != nil {
		return nil, fmt.Errorf("schema metadata: %w", err)
	}
	return out, nil
}

func splitUnit(s string) []string {
	var parts []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == 0x1f {
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}
