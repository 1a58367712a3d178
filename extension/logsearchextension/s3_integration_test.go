package logsearchextension

import (
	"bytes"
	"context"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configopaque"

	"github.com/sluicelogs/sluice/extension/logsearchextension/internal/api"
	"github.com/sluicelogs/sluice/extension/logsearchextension/internal/archivetest"
	"github.com/sluicelogs/sluice/extension/logsearchextension/internal/metadatatest"
	"github.com/sluicelogs/sluice/internal/logarchive"
	"github.com/sluicelogs/sluice/testbed/backend"
)

// TestS3ArchiveOnMinIO serves an archive from a MinIO bucket (path-style,
// under a prefix) and checks search, trace and services against the
// generator, exactly like the local archive.
func TestS3ArchiveOnMinIO(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test skipped in -short mode")
	}
	m := backend.MinIOFor(t)
	bucket := "logsearch-" + time.Now().UTC().Format("150405") + "-" + hex.EncodeToString([]byte{byte(os.Getpid()), byte(os.Getpid() >> 8)})
	m.CreateBucket(t, bucket)

	// Write an archive locally, then upload it under a prefix, plus a
	// temporary object that must be ignored.
	dir := t.TempDir()
	layout, err := logarchive.NewLayout(logarchive.DefaultTemplate)
	require.NoError(t, err)
	spec := testArchiveSpec(time.Now().UTC())
	_, err = archivetest.WriteSpec(dir, layout, spec, archivetest.Options{RowGroupRows: 200})
	require.NoError(t, err)
	client := m.S3Client()
	ctx := context.Background()
	put := func(key string, body []byte) {
		_, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body)})
		require.NoError(t, err)
	}
	require.NoError(t, filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		put("archive/"+filepath.ToSlash(rel), b)
		return nil
	}))
	put("archive/logs/service=checkout/dt=2026-01-01/hour=00/.w-00000000000000000009.parquet.tmp", []byte("partial"))

	cfg := createDefaultConfig().(*Config)
	cfg.NetAddr.Endpoint = freeEndpoint(t)
	cfg.Storage.Type = StorageS3
	cfg.Storage.S3 = S3Config{
		Bucket: bucket, Prefix: "archive", Region: m.Region, Endpoint: m.Endpoint, ForcePathStyle: true,
		AccessKeyID: m.AccessKey, SecretAccessKey: configopaque.String(m.SecretKey),
	}
	require.NoError(t, cfg.Validate())
	tt := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tt.Shutdown(context.Background())) })
	ext, err := NewFactory().Create(ctx, metadatatest.NewSettings(tt), cfg)
	require.NoError(t, err)
	require.NoError(t, ext.Start(ctx, componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, ext.Shutdown(context.Background())) })
	base := "http://" + cfg.NetAddr.Endpoint

	var res api.SearchResponse
	getJSON(t, base+"/api/v1/search?"+url.Values{"q": {"declined"}, "limit": {"1000"}}.Encode(), 200, &res)
	assert.Len(t, res.Records, spec.Records/spec.KeywordEvery)
	// A bounded range lists the service directories (LIST with a delimiter)
	// and one prefix per service and day: the same records.
	var bounded api.SearchResponse
	now := time.Now().UTC()
	getJSON(t, base+"/api/v1/search?"+url.Values{
		"q": {"declined"}, "limit": {"1000"},
		"from": {now.Add(-30 * 24 * time.Hour).Format(time.RFC3339)}, "to": {now.Add(24 * time.Hour).Format(time.RFC3339)},
	}.Encode(), 200, &bounded)
	assert.Len(t, bounded.Records, spec.Records/spec.KeywordEvery)
	id := archivetest.TraceID(42)
	var tr api.TraceResponse
	getJSON(t, base+"/api/v1/trace/"+hex.EncodeToString(id[:]), 200, &tr)
	assert.Len(t, tr.Records, 3)
	assert.Positive(t, tr.Stats.RowGroupsSkippedBloom)
	var svc api.ServicesResponse
	getJSON(t, base+"/api/v1/services", 200, &svc)
	assert.Equal(t, []string{"checkout", "frontend", "payments"}, svc.Services)
}
