// Package s3client builds the S3 client shared by the components that read or write the archive on
// S3-compatible storage (the parquet exporter, the log_search extension), the same way for both:
// static or default-chain credentials, an optional endpoint with path-style addressing for MinIO and
// similar stores, checksums only when required, and a transport of our own that Close can release.
package s3client // import "github.com/sluicelogs/sluice/internal/s3client"

import (
	"context"
	"fmt"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Options say where the store is and how to sign requests.
type Options struct {
	Region         string
	Endpoint       string // empty: AWS
	ForcePathStyle bool
	// Static credentials; when AccessKeyID is empty the default AWS chain is used
	// (environment, shared files, IMDS).
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	// MaxAttempts bounds the SDK's own retries per request; 0 keeps the SDK default.
	MaxAttempts int
}

// Client is an S3 client whose idle connections can be closed.
type Client struct {
	*s3.Client
	transport *http.Transport
}

// New builds a client. Loading reads only the environment and shared files; it makes no request.
func New(ctx context.Context, o Options) (*Client, error) {
	opts := []func(*config.LoadOptions) error{config.WithRegion(o.Region)}
	if o.AccessKeyID != "" {
		opts = append(opts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(o.AccessKeyID, o.SecretAccessKey, o.SessionToken)))
	}
	if o.MaxAttempts > 0 {
		opts = append(opts, config.WithRetryMaxAttempts(o.MaxAttempts))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("load AWS config: %w", err)
	}
	// Keep our own copy of the SDK's transport (it carries AWS_CA_BUNDLE and the SDK's defaults): the
	// SDK's buildable client offers no way to close idle connections, which would outlive the component.
	transport := http.DefaultTransport.(*http.Transport).Clone()
	if b, ok := cfg.HTTPClient.(*awshttp.BuildableClient); ok {
		transport = b.GetTransport()
	}
	client := s3.NewFromConfig(cfg, func(so *s3.Options) {
		so.HTTPClient = &http.Client{Transport: transport}
		so.UsePathStyle = o.ForcePathStyle
		if o.Endpoint != "" {
			so.BaseEndpoint = aws.String(o.Endpoint)
		}
		// Default CRC32 trailers and whole-object checksums are rejected by some S3-compatible stores,
		// and ranged GETs carry none.
		so.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		so.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
	return &Client{Client: client, transport: transport}, nil
}

// Close drops idle connections; the client still works afterwards but opens new ones.
func (c *Client) Close() { c.transport.CloseIdleConnections() }
