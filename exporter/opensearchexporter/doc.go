// Package opensearchexporter exports logs and traces to OpenSearch through the
// _bulk API without losing or duplicating accepted records: every document gets a
// deterministic id and is sent with the create action, 409 counts as already
// delivered, only the items OpenSearch rejected as retryable are retried, and
// permanently rejected documents go to a dead-letter destination.
//
//go:generate go tool mdatagen metadata.yaml
package opensearchexporter // import "github.com/sluicelogs/sluice/exporter/opensearchexporter"
