package opensearchexporter

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/sluicelogs/sluice/exporter/opensearchexporter/internal/osclient"
)

// newSigV4Signer signs requests for Amazon OpenSearch Service ("es") or
// Serverless ("aoss") with credentials from the AWS default chain
// (environment, shared config, web identity, instance role).
func newSigV4Signer(ctx context.Context, cfg AWSSigV4Config, now func() time.Time) (osclient.Signer, error) {
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(cfg.Region))
	if err != nil {
		return nil, fmt.Errorf("aws_sigv4: load AWS configuration: %w", err)
	}
	return sigV4Signer(awsCfg.Credentials, cfg.Region, cfg.Service, now), nil
}

func sigV4Signer(creds aws.CredentialsProvider, region, service string, now func() time.Time) osclient.Signer {
	cache := aws.NewCredentialsCache(creds)
	signer := v4.NewSigner()
	return func(req *http.Request, body []byte) error {
		c, err := cache.Retrieve(req.Context())
		if err != nil {
			return fmt.Errorf("aws_sigv4: retrieve credentials: %w", err)
		}
		sum := sha256.Sum256(body)
		hash := hex.EncodeToString(sum[:])
		// Serverless requires the payload hash header.
		req.Header.Set("X-Amz-Content-Sha256", hash)
		return signer.SignHTTP(req.Context(), c, req, hash, service, region, now())
	}
}
