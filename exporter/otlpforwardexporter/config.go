package otlpforwardexporter // import "github.com/sluicelogs/sluice/exporter/otlpforwardexporter"

import (
	"errors"
	"fmt"

	"go.opentelemetry.io/collector/config/configcompression"
	"go.opentelemetry.io/collector/config/configgrpc"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
)

// Defaults that differ from configgrpc's; everything else is the core otlp_grpc exporter's default.
const (
	// defaultWriteBufferSize matches otlp_grpc: requests are large, responses tiny.
	defaultWriteBufferSize = 512 * 1024
	// defaultMaxRequestBytes is the receive limit of a gRPC server by default, and so of
	// the collector's OTLP receiver unless its max_recv_msg_size_mib is raised.
	defaultMaxRequestBytes = 4 << 20
	// minMaxRequestBytes keeps requests from being split into absurdly many.
	minMaxRequestBytes = 1 << 10
)

// Config is the otlp_forward exporter configuration. Its YAML is the core otlp_grpc
// exporter's: the gRPC client settings at the top level, plus timeout, sending_queue
// and retry_on_failure.
type Config struct {
	// TimeoutConfig holds `timeout`: how long one Export call may take (default 5s).
	TimeoutConfig exporterhelper.TimeoutConfig `mapstructure:",squash"`

	// QueueConfig is `sending_queue`. With `storage:` the queue is persistent and stores
	// each request as its encoded OTLP bytes. `batch` is not supported (see Validate).
	QueueConfig configoptional.Optional[exporterhelper.QueueBatchConfig] `mapstructure:"sending_queue"`

	// RetryConfig is `retry_on_failure`: backoff for retryable gRPC errors.
	RetryConfig configretry.BackOffConfig `mapstructure:"retry_on_failure"`

	// MaxRequestBytes is `max_request_bytes`: the largest request, encoded and before
	// compression, sent in one Export call. A larger batch is sent as several requests,
	// each record once, because the server refuses a message over its receive limit for
	// good. Set it to the gateway's limit (OTLP receiver: max_recv_msg_size_mib).
	MaxRequestBytes int `mapstructure:"max_request_bytes"`

	// ClientConfig holds the gRPC client settings (endpoint, tls, compression, headers,
	// keepalive, auth, balancer_name, wait_for_ready, ...), exactly as for otlp_grpc.
	ClientConfig configgrpc.ClientConfig `mapstructure:",squash"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// Validate checks what the embedded blocks' own validation does not.
func (c *Config) Validate() error {
	var errs []error
	if c.ClientConfig.Endpoint == "" {
		errs = append(errs, errors.New(`endpoint: must be set, e.g. "gateway:4317"`))
	}
	switch c.ClientConfig.Compression {
	case "", "none", configcompression.TypeGzip, configcompression.TypeSnappy, configcompression.TypeZstd:
	default:
		// gRPC registers only these; anything else would fail every send.
		errs = append(errs, fmt.Errorf("compression: %q is not supported over gRPC; use none, gzip, snappy or zstd", c.ClientConfig.Compression))
	}
	if c.MaxRequestBytes < minMaxRequestBytes {
		errs = append(errs, fmt.Errorf("max_request_bytes: must be at least %d, got %d", minMaxRequestBytes, c.MaxRequestBytes))
	}
	if c.QueueConfig.HasValue() && c.QueueConfig.Get().Batch.HasValue() {
		// A request is forwarded as the bytes it was encoded to; batching in the queue would
		// have to split encoded requests to honour max_size, which this exporter does not do.
		errs = append(errs, errors.New("sending_queue.batch: not supported by otlp_forward (requests are forwarded as encoded); remove it and batch before the exporter if needed"))
	}
	return errors.Join(errs...)
}
