package opensearchexporter

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSigV4SignsTheExactPayload(t *testing.T) {
	creds := aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "secret"}, nil
	})
	now := func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }
	sign := sigV4Signer(creds, "eu-west-1", "aoss", now)
	body := []byte("{\"create\":{}}\n{}\n")
	req, err := http.NewRequest(http.MethodPost, "https://abc.eu-west-1.aoss.amazonaws.com/_bulk", nil)
	require.NoError(t, err)
	require.NoError(t, sign(req, body))
	sum := sha256.Sum256(body)
	assert.Equal(t, hex.EncodeToString(sum[:]), req.Header.Get("X-Amz-Content-Sha256"))
	assert.True(t, strings.HasPrefix(req.Header.Get("Authorization"),
		"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260102/eu-west-1/aoss/aws4_request"), req.Header.Get("Authorization"))
	assert.Equal(t, "20260102T030405Z", req.Header.Get("X-Amz-Date"))
}

func TestSigV4CredentialErrorIsReported(t *testing.T) {
	creds := aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{}, assert.AnError
	})
	sign := sigV4Signer(creds, "eu-west-1", "es", time.Now)
	req, err := http.NewRequest(http.MethodGet, "https://x/", nil)
	require.NoError(t, err)
	err = sign(req, nil)
	require.ErrorIs(t, err, assert.AnError)
	assert.Contains(t, err.Error(), "aws_sigv4: retrieve credentials")
}
