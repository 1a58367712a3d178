package esbulkreceiver

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/config/confighttp"
)

// Defaults.
const (
	// DefaultEndpoint is Elasticsearch's port, so shippers need only a host change.
	DefaultEndpoint = "localhost:9200"
	// DefaultVersion is the Elasticsearch version reported by GET /. Beats 8.1–8.10
	// refuse a server older than themselves, so it is a recent 8.x.
	DefaultVersion = "8.17.0"
	// DefaultClusterName is reported by GET / and the health endpoints.
	DefaultClusterName = "sluice"
	// DefaultRetryAfter is the Retry-After sent with 429 responses.
	DefaultRetryAfter = 5 * time.Second
	// DefaultMaxRequestBodySize matches Elasticsearch's http.max_content_length
	// (100mb), applied to the decompressed body.
	DefaultMaxRequestBodySize = 100 << 20
	// DefaultMaxInFlightBytes bounds the decompressed request bodies being
	// processed at once. Parsed into log records, a body takes a few times
	// its size in heap (about 4x for Filebeat-like documents) until the
	// pipeline accepts it, so 256 MiB of bodies is roughly 1 GiB of heap:
	// safe for a 2-core gateway with GOMEMLIMIT around 1-2 GiB, and at least
	// DefaultMaxRequestBodySize so a largest request always fits beside
	// smaller ones.
	DefaultMaxInFlightBytes = 256 << 20
	// DefaultReadTimeout bounds reading a whole request (headers and body).
	DefaultReadTimeout = time.Minute
	// minWriteTimeout keeps the pipeline's share of write_timeout useful:
	// below it nearly every request under load would be answered 429.
	minWriteTimeout = time.Second
	// maxRetryAfter keeps Retry-After sane.
	maxRetryAfter = time.Hour
)

// Config configures the es_bulk receiver.
type Config struct {
	// ServerConfig is the collector's HTTP server block: endpoint, tls, auth,
	// max_request_body_size (checked after decompression), compression_algorithms,
	// read_timeout, read_header_timeout, write_timeout, idle_timeout, etc.
	//
	// read_timeout bounds receiving a request (headers and body); write_timeout
	// starts again once the body has been read and bounds waiting for the
	// pipeline (write_timeout minus a reserve of a quarter, at most 5s, then
	// 429) plus writing the response. The two no longer add up, so a
	// read_timeout longer than write_timeout is fine with HTTP/1.1; with HTTP/2
	// (TLS) Go starts the write timer at the request's start, and an upload
	// slower than write_timeout is reset unanswered (and not forwarded).
	ServerConfig confighttp.ServerConfig `mapstructure:",squash"`

	// Version is the Elasticsearch version number reported by GET / as
	// version.number (MAJOR.MINOR.PATCH). Shippers check it; keep it at least
	// as high as your newest Beats/Logstash.
	Version string `mapstructure:"version"`

	// ClusterName is reported by GET /, _cluster/health and _cat/health.
	ClusterName string `mapstructure:"cluster_name"`

	// RetryAfter is sent as the Retry-After header (whole seconds, rounded up)
	// of 429 responses given when the pipeline refuses data. 0 omits the header.
	RetryAfter time.Duration `mapstructure:"retry_after"`

	// MaxInFlightBytes bounds the decompressed body bytes of _bulk and
	// document requests being processed at once, across all connections
	// (like Elasticsearch's indexing_pressure.memory.limit). Each request
	// reserves its Content-Length before reading, then whatever it reads
	// beyond (compressed or chunked bodies), and releases it once it has been
	// handed to the pipeline and answered. A request that cannot reserve is
	// answered 429 with Retry-After at once, without reading further, and
	// nothing of it is forwarded; shippers retry. It never waits for budget.
	// A single request may exceed the bound when nothing else is in flight
	// (so one request up to max_request_body_size is never refused for good):
	// the bound is max(max_in_flight_bytes, max_request_body_size). The heap
	// held is a few times this (parsed log records). 0 means no limit.
	MaxInFlightBytes int64 `mapstructure:"max_in_flight_bytes"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// Validate checks the configuration; errors name the YAML key.
func (c *Config) Validate() error {
	var errs []error
	if err := validateVersion(c.Version); err != nil {
		errs = append(errs, err)
	}
	if strings.TrimSpace(c.ClusterName) == "" {
		errs = append(errs, errors.New("cluster_name: must not be empty"))
	}
	if c.RetryAfter < 0 || c.RetryAfter > maxRetryAfter {
		errs = append(errs, fmt.Errorf("retry_after: must be between 0s and %s, got %s", maxRetryAfter, c.RetryAfter))
	}
	if wt := c.ServerConfig.WriteTimeout; wt != 0 && wt < minWriteTimeout {
		errs = append(errs, fmt.Errorf("write_timeout: must be 0 (no limit) or at least %s, got %s", minWriteTimeout, wt))
	}
	if c.ServerConfig.MaxRequestBodySize < 0 {
		errs = append(errs, fmt.Errorf("max_request_body_size: must be 0 (collector default) or a positive number of bytes, got %d", c.ServerConfig.MaxRequestBodySize))
	}
	if c.MaxInFlightBytes < 0 {
		errs = append(errs, fmt.Errorf("max_in_flight_bytes: must be 0 (no limit) or a positive number of bytes, got %d", c.MaxInFlightBytes))
	}
	return errors.Join(errs...)
}

func validateVersion(v string) error {
	parts := strings.Split(v, ".")
	if len(parts) != 3 {
		return fmt.Errorf("version: must be MAJOR.MINOR.PATCH such as %q, got %q", DefaultVersion, v)
	}
	for _, p := range parts {
		if _, err := strconv.ParseUint(p, 10, 16); err != nil {
			return fmt.Errorf("version: must be MAJOR.MINOR.PATCH such as %q, got %q", DefaultVersion, v)
		}
	}
	return nil
}

// majorVersion returns the major number of a validated version.
func (c *Config) majorVersion() string {
	major, _, _ := strings.Cut(c.Version, ".")
	return major
}
