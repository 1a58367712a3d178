package logarchive

import (
	"github.com/apache/arrow-go/v18/arrow"
)

// SignalKey is the Arrow schema metadata key naming the signal of a span
// archive file (SignalTraces). Log files do not carry it (their schema
// predates it), so a schema without the key is a log schema.
const SignalKey = "sluice.archive.signal"

// Fixed column names of a span row that the log schema does not have, in
// schema order together with the shared ones (ColTraceID, ColSpanID,
// ColFlags, ColServiceName, ColScopeName, ColScopeVersion). Promoted columns
// follow ColDroppedLinksCount; ColAttributes, ColResourceAttributes,
// ColEvents and ColLinks always come last.
const (
	// ColStartTime is the span start (StartTimestamp, else EndTimestamp, else
	// export time) as TIMESTAMP(MICROS, UTC); never null.
	ColStartTime = "start_time"
	// ColStartTimeUnixNano is StartTimestamp in exact nanoseconds; null when unset.
	ColStartTimeUnixNano = "start_time_unix_nano"
	// ColEndTime is EndTimestamp as TIMESTAMP(MICROS, UTC); null when unset.
	ColEndTime = "end_time"
	// ColEndTimeUnixNano is EndTimestamp in exact nanoseconds; null when unset.
	ColEndTimeUnixNano = "end_time_unix_nano"
	// ColDurationNano is EndTimestamp - StartTimestamp in nanoseconds; null
	// unless both are set.
	ColDurationNano = "duration_ns"
	// ColParentSpanID is the 8-byte parent span id; null for root spans.
	ColParentSpanID = "parent_span_id"
	// ColTraceState is the W3C tracestate; null when empty.
	ColTraceState = "trace_state"
	// ColName is the span name; null when empty.
	ColName = "name"
	// ColKind is the span kind: Unspecified, Internal, Server, Client,
	// Producer or Consumer.
	ColKind = "kind"
	// ColStatusCode is the status code: Unset, Ok or Error.
	ColStatusCode = "status_code"
	// ColStatusMessage is the status message; null when empty.
	ColStatusMessage = "status_message"
	// ColDroppedAttributesCount is the span's dropped attribute count.
	ColDroppedAttributesCount = "dropped_attributes_count"
	// ColDroppedEventsCount is the span's dropped event count.
	ColDroppedEventsCount = "dropped_events_count"
	// ColDroppedLinksCount is the span's dropped link count.
	ColDroppedLinksCount = "dropped_links_count"
	// ColEvents is the span's events as LIST<STRUCT> (EventType); never null.
	ColEvents = "events"
	// ColLinks is the span's links as LIST<STRUCT> (LinkType); never null.
	ColLinks = "links"
)

// Field names inside an event or link struct.
const (
	// FieldTime is an event's time as TIMESTAMP(MICROS, UTC); null when unset.
	FieldTime = "time"
	// FieldTimeUnixNano is an event's time in exact nanoseconds; null when unset.
	FieldTimeUnixNano = "time_unix_nano"
	// FieldName is an event's name; null when empty.
	FieldName = "name"
	// FieldTraceID, FieldSpanID, FieldTraceState and FieldFlags describe a
	// link's target span (ids null when unset, trace state null when empty).
	FieldTraceID    = "trace_id"
	FieldSpanID     = "span_id"
	FieldTraceState = "trace_state"
	FieldFlags      = "flags"
	// FieldAttributes is an event's or link's attributes, encoded like
	// ColAttributes.
	FieldAttributes = "attributes"
	// FieldDroppedAttributesCount is an event's or link's dropped attribute count.
	FieldDroppedAttributesCount = "dropped_attributes_count"
)

// traceIDType and spanIDType are the physical id types shared by both schemas.
var (
	traceIDType = &arrow.FixedSizeBinaryType{ByteWidth: 16}
	spanIDType  = &arrow.FixedSizeBinaryType{ByteWidth: 8}
)

// EventType is the Arrow type of one element of ColEvents.
var EventType = arrow.StructOf(
	arrow.Field{Name: FieldTime, Type: TimestampType, Nullable: true},
	arrow.Field{Name: FieldTimeUnixNano, Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	arrow.Field{Name: FieldName, Type: arrow.BinaryTypes.String, Nullable: true},
	arrow.Field{Name: FieldAttributes, Type: AttributeMapType},
	arrow.Field{Name: FieldDroppedAttributesCount, Type: arrow.PrimitiveTypes.Int64},
)

// LinkType is the Arrow type of one element of ColLinks.
var LinkType = arrow.StructOf(
	arrow.Field{Name: FieldTraceID, Type: traceIDType, Nullable: true},
	arrow.Field{Name: FieldSpanID, Type: spanIDType, Nullable: true},
	arrow.Field{Name: FieldTraceState, Type: arrow.BinaryTypes.String, Nullable: true},
	arrow.Field{Name: FieldFlags, Type: arrow.PrimitiveTypes.Int64},
	arrow.Field{Name: FieldAttributes, Type: AttributeMapType},
	arrow.Field{Name: FieldDroppedAttributesCount, Type: arrow.PrimitiveTypes.Int64},
)

// spanFixedColumns lists the fixed span columns before the promoted ones.
var spanFixedColumns = []arrow.Field{
	{Name: ColStartTime, Type: TimestampType},
	{Name: ColStartTimeUnixNano, Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: ColEndTime, Type: TimestampType, Nullable: true},
	{Name: ColEndTimeUnixNano, Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: ColDurationNano, Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: ColTraceID, Type: traceIDType, Nullable: true},
	{Name: ColSpanID, Type: spanIDType, Nullable: true},
	{Name: ColParentSpanID, Type: spanIDType, Nullable: true},
	{Name: ColTraceState, Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: ColFlags, Type: arrow.PrimitiveTypes.Int64},
	{Name: ColName, Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: ColKind, Type: arrow.BinaryTypes.String},
	{Name: ColStatusCode, Type: arrow.BinaryTypes.String},
	{Name: ColStatusMessage, Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: ColServiceName, Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: ColScopeName, Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: ColScopeVersion, Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: ColDroppedAttributesCount, Type: arrow.PrimitiveTypes.Int64},
	{Name: ColDroppedEventsCount, Type: arrow.PrimitiveTypes.Int64},
	{Name: ColDroppedLinksCount, Type: arrow.PrimitiveTypes.Int64},
}

// spanTrailingColumns always end a span row, after the promoted columns.
var spanTrailingColumns = []arrow.Field{
	{Name: ColAttributes, Type: AttributeMapType},
	{Name: ColResourceAttributes, Type: AttributeMapType},
	{Name: ColEvents, Type: arrow.ListOf(EventType)},
	{Name: ColLinks, Type: arrow.ListOf(LinkType)},
}

// NumSpanLeadingColumns is the number of fixed span columns before the
// promoted ones (the index of the first promoted column).
var NumSpanLeadingColumns = len(spanFixedColumns)

// IsSpanFixedColumn reports whether name is one of the fixed span column names.
func IsSpanFixedColumn(name string) bool {
	return hasField(name, spanFixedColumns, spanTrailingColumns)
}

// ValidateSpanPromoted checks promoted column definitions for the span
// schema: the same rules as ValidatePromoted, against the span column names.
func ValidateSpanPromoted(promoted []PromotedColumn) error {
	return validatePromoted(promoted, IsSpanFixedColumn)
}

// SpanSchema returns the Arrow schema of a span row: the fixed columns, one
// nullable column per promoted attribute in the given order, then
// ColAttributes, ColResourceAttributes, ColEvents and ColLinks. The schema
// metadata carries SchemaVersionKey, SignalKey = SignalTraces and the
// promoted column definitions (PromotedFromSchema reads them back).
func SpanSchema(promoted []PromotedColumn) (*arrow.Schema, error) {
	if err := ValidateSpanPromoted(promoted); err != nil {
		return nil, err
	}
	fields := make([]arrow.Field, 0, len(spanFixedColumns)+len(promoted)+len(spanTrailingColumns))
	fields = append(fields, spanFixedColumns...)
	keys := []string{SchemaVersionKey, SignalKey}
	vals := []string{SchemaVersion, SignalTraces}
	fields, keys, vals = appendPromotedFields(fields, keys, vals, promoted)
	fields = append(fields, spanTrailingColumns...)
	md := arrow.NewMetadata(keys, vals)
	return arrow.NewSchema(fields, &md), nil
}

// SignalOfSchema returns the signal an archive schema holds: the SignalKey
// metadata value, or SignalLogs when the key is absent.
func SignalOfSchema(s *arrow.Schema) string {
	if v, ok := s.Metadata().GetValue(SignalKey); ok {
		return v
	}
	return SignalLogs
}

// TimeColumn returns the column rows of a signal are sorted and
// partitioned by: ColStartTime for traces, ColTimestamp otherwise.
func TimeColumn(signal string) string {
	if signal == SignalTraces {
		return ColStartTime
	}
	return ColTimestamp
}
