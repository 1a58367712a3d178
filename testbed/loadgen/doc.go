// Package loadgen produces test traffic whose every record carries a unique
// id (attribute sluice.test.id, or the id inside a line or document) so a
// validator can account for it:
//
//   - SDK: realistic OTLP logs and traces through the OpenTelemetry Go SDK
//     (multi-service requests sharing a trace id, a few percent failing,
//     correlation ids, JSON and plain-text bodies, multiline stack traces, PII).
//   - Raw: a fast pdata/OTLP gRPC sender for throughput runs.
//   - FileWriter: appends lines at a set rate and rotates by rename or copytruncate.
//   - BulkSender: Elasticsearch/OpenSearch `_bulk` requests.
//
// Each generator records the ids the receiving side acknowledged in a
// validate.Multiset, which the validate package compares with what arrived.
package loadgen
