//go:generate go tool mdatagen metadata.yaml

// Package esbulkreceiver implements the es_bulk receiver: an HTTP server that
// speaks enough of the Elasticsearch/OpenSearch API (cluster info, license and
// template probes, _bulk and single-document indexing) for unmodified log
// shippers to send to Sluice. Documents are turned into log records by
// internal/lognormalize; a request is answered 2xx only for documents the next
// consumer accepted.
package esbulkreceiver // import "github.com/sluicelogs/sluice/receiver/esbulkreceiver"
