// Package otlpforwardexporter forwards logs and traces over OTLP/gRPC with every
// request encoded to protobuf exactly once: the encoded ExportLogsServiceRequest /
// ExportTraceServiceRequest is what the persistent sending queue stores and what is
// written to the gRPC stream, so a queued request is never decoded back into pdata
// and re-encoded (which is what the core otlp_grpc exporter does with a persistent
// queue, at about 3 µs per record).
//
//go:generate go tool mdatagen metadata.yaml
package otlpforwardexporter // import "github.com/sluicelogs/sluice/exporter/otlpforwardexporter"
