// Package lognormalize turns one JSON log document (a line written by a JSON
// logger, or a document sent to an Elasticsearch-compatible _bulk endpoint)
// into an OpenTelemetry log record plus resource attributes.
//
// It is the single implementation shared by Sluice's receivers (es_bulk,
// file_tail). Well-known fields are lifted into the record's typed fields:
//
//   - timestamp: @timestamp, timestamp, time, ts (RFC 3339 and common layouts,
//     epoch numbers or numeric strings in s, ms, µs or ns detected by magnitude)
//   - severity: level, log.level (dotted key or nested {"log":{"level":…}}),
//     severity, lvl, loglevel, severity_text, PRIORITY (names, syslog 0–7,
//     pino/bunyan 10–60)
//   - body: message, msg, log (when a string), @message, MESSAGE
//   - trace and span ids: trace_id, traceId, traceID, traceid, trace.id,
//     {"trace":{"id":…}}; span_id, spanId, spanID, spanid, span.id, {"span":{"id":…}}
//   - correlation ids renamed to request.id / correlation.id
//   - resource service.name: service.name, {"service":{"name":…}}, service,
//     service_name, serviceName, app
//
// Every other field becomes a log attribute with its JSON type kept (objects
// become maps, arrays slices). A field that was recognized but cannot be
// interpreted (an unparsable timestamp, a malformed trace id) is kept as an
// ordinary attribute, so nothing from the document is lost.
//
// Documents are read by the package's own scanner (scan.go): one pass
// records every value's position on a reused tape, with no allocation and
// no copy, and strings are unescaped only when their value is used. The
// record is then written straight from the tape (no map[string]any, no
// intermediate tree). The grammar is RFC 8259's, plus raw control characters
// and unknown escapes inside strings (kept as written) and NaN, Infinity and
// -Infinity as numbers; malformed numbers such as 01, 1. or +1 are errors, so
// a receiver keeps such a line as text instead of guessing. See
// BenchmarkNormalize and BenchmarkScanAppLog for the cost.
package lognormalize // import "github.com/sluicelogs/sluice/internal/lognormalize"
