// Package logsearchextension implements the log_search extension: an HTTP
// API and a web page that search the Parquet log archive written by the
// parquet exporter (keyword, time range, service, severity, trace id and
// attribute filters; request timelines; severity histograms), pruning files
// by partition path and row groups by statistics and trace-id bloom filters.
//
//go:generate go tool mdatagen metadata.yaml
package logsearchextension // import "github.com/sluicelogs/sluice/extension/logsearchextension"
