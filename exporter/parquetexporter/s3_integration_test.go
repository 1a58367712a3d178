package parquetexporter

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/sluicelogs/sluice/exporter/parquetexporter/internal/metadata"
	"github.com/sluicelogs/sluice/exporter/parquetexporter/internal/store"
	"github.com/sluicelogs/sluice/internal/logarchive"
	"github.com/sluicelogs/sluice/testbed/backend"
)

// faultProxy forwards to MinIO but answers 503 to the first `fail` PUT/POST
// requests (or to all of them while down is set).
type faultProxy struct {
	srv  *httptest.Server
	fail atomic.Int64
	down atomic.Bool
	seen atomic.Int64 // failed requests
}

func newFaultProxy(t *testing.T, target string) *faultProxy {
	u, err := url.Parse(target)
	require.NoError(t, err)
	p := &faultProxy{}
	rp := httputil.NewSingleHostReverseProxy(u)
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut || r.Method == http.MethodPost {
			if p.down.Load() || p.fail.Add(-1) >= 0 {
				p.seen.Add(1)
				_, _ = io.Copy(io.Discard, r.Body)
				w.Header().Set("Content-Type", "application/xml")
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>injected</Message></Error>`)
				return
			}
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func s3Config(t *testing.T, m *backend.MinIO, endpoint, bucket, prefix string) *Config {
	cfg := testConfig(t)
	cfg.Storage.Type = StorageS3
	cfg.Storage.S3.Bucket = bucket
	cfg.Storage.S3.Prefix = prefix
	cfg.Storage.S3.Region = m.Region
	cfg.Storage.S3.Endpoint = endpoint
	cfg.Storage.S3.ForcePathStyle = true
	cfg.Storage.S3.AccessKeyID = m.AccessKey
	cfg.Storage.S3.SecretAccessKey = configOpaque(m.SecretKey)
	cfg.Storage.S3.MaxAttempts = 2
	cfg.UploadRetry.InitialInterval = time.Hour // publishing is driven explicitly in these tests
	cfg.UploadRetry.MaxInterval = time.Hour
	return cfg
}

// objects lists keys under prefix and downloads them into dir, returning
// the local paths.
func downloadObjects(t *testing.T, c *s3.Client, bucket, prefix, dir string) []string {
	t.Helper()
	ctx := context.Background()
	out, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	require.NoError(t, err)
	var paths []string
	for _, o := range out.Contents {
		key := aws.ToString(o.Key)
		require.False(t, logarchive.IsTemporary(key), key)
		obj, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: o.Key})
		require.NoError(t, err)
		data, err := io.ReadAll(obj.Body)
		obj.Body.Close()
		require.NoError(t, err)
		p := filepath.Join(dir, strings.ReplaceAll(key, "/", "_"))
		require.NoError(t, os.WriteFile(p, data, 0o600))
		paths = append(paths, p)
	}
	sort.Strings(paths)
	return paths
}

func readFiles(t *testing.T, paths []string) []string {
	var rows []string
	for _, p := range paths {
		rows = append(rows, readRowsGo(t, p)...)
	}
	sort.Strings(rows)
	return rows
}

func TestS3MinIO(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode")
	}
	m := backend.MinIOFor(t)
	bucket := fmt.Sprintf("sluice-parquet-%d", time.Now().UnixNano())
	m.CreateBucket(t, bucket)
	client := m.S3Client()

	t.Run("upload", func(t *testing.T) {
		cfg := s3Config(t, m, m.Endpoint, bucket, "upload")
		e := newTestExporter(t, cfg, func() time.Time { return baseTime })
		require.NoError(t, e.start(context.Background(), componenttest.NewNopHost()))
		ld := genLogs(600, 0, "checkout", "search")
		require.NoError(t, e.pushLogs(context.Background(), ld))
		require.NoError(t, e.shutdown(context.Background()))
		paths := downloadObjects(t, client, bucket, "upload/", t.TempDir())
		require.Len(t, paths, 2)
		assert.Contains(t, paths[0], "upload_logs_service=checkout_dt=2026-03-01_hour=10_test-writer-")
		assert.Equal(t, canonicalRows(t, ld), readFiles(t, paths))
	})

	t.Run("missing_bucket_is_reported_at_start", func(t *testing.T) {
		cfg := s3Config(t, m, m.Endpoint, bucket+"-missing", "missing")
		core, logs := observer.New(zap.ErrorLevel)
		set := exportertest.NewNopSettings(metadata.Type)
		set.ID = component.NewID(metadata.Type)
		set.Logger = zap.New(core)
		e, err := newExporter(cfg, set, logarchive.SignalLogs, func() time.Time { return baseTime })
		require.NoError(t, err)
		require.NoError(t, e.start(context.Background(), componenttest.NewNopHost()))
		assert.Eventually(t, func() bool { return logs.FilterMessage("Parquet archive bucket check failed").Len() == 1 },
			30*time.Second, 50*time.Millisecond)
		require.NoError(t, e.shutdown(context.Background()))
		assert.Contains(t, logs.All()[0].ContextMap()["error"], "does not exist")

		// An existing bucket: nothing reported.
		core, logs = observer.New(zap.ErrorLevel)
		set.Logger = zap.New(core)
		e, err = newExporter(s3Config(t, m, m.Endpoint, bucket, "present"), set, logarchive.SignalLogs, func() time.Time { return baseTime })
		require.NoError(t, err)
		require.NoError(t, e.start(context.Background(), componenttest.NewNopHost()))
		require.NoError(t, e.shutdown(context.Background()))
		assert.Zero(t, logs.Len())
	})

	t.Run("conditional_put_keeps_first_object_and_reports_conflict", func(t *testing.T) {
		st, err := store.NewS3(context.Background(), store.S3Options{
			Bucket: bucket, Region: m.Region, Endpoint: m.Endpoint, ForcePathStyle: true,
			AccessKeyID: m.AccessKey, SecretAccessKey: m.SecretKey,
			MultipartThreshold: 64 << 20, PartSize: 5 << 20, ConditionalWrites: true, MaxAttempts: 1,
		})
		require.NoError(t, err)
		t.Cleanup(st.Close)
		dir := t.TempDir()
		first, second := filepath.Join(dir, "a"), filepath.Join(dir, "b")
		require.NoError(t, os.WriteFile(first, []byte("first"), 0o600))
		require.NoError(t, os.WriteFile(second, []byte("second"), 0o600))
		require.NoError(t, st.Put(context.Background(), "cond/x.parquet", first, 5))
		require.NoError(t, st.Put(context.Background(), "cond/x.parquet", first, 5), "412 on an object of the same size: already published")
		err = st.Put(context.Background(), "cond/x.parquet", second, 6)
		require.ErrorIs(t, err, store.ErrConflict, "412 on a different object must not count as published")
		obj, err := client.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("cond/x.parquet")})
		require.NoError(t, err)
		data, _ := io.ReadAll(obj.Body)
		obj.Body.Close()
		assert.Equal(t, "first", string(data))
	})

	t.Run("multipart", func(t *testing.T) {
		st, err := store.NewS3(context.Background(), store.S3Options{
			Bucket: bucket, Prefix: "mp", Region: m.Region, Endpoint: m.Endpoint, ForcePathStyle: true,
			AccessKeyID: m.AccessKey, SecretAccessKey: m.SecretKey,
			MultipartThreshold: 5 << 20, PartSize: 5 << 20, ConditionalWrites: true, MaxAttempts: 2,
		})
		require.NoError(t, err)
		t.Cleanup(st.Close)
		data := make([]byte, 11<<20+12345)
		_, _ = rand.Read(data)
		src := filepath.Join(t.TempDir(), "big")
		require.NoError(t, os.WriteFile(src, data, 0o600))
		require.NoError(t, st.Put(context.Background(), "big.parquet", src, int64(len(data))))
		require.NoError(t, st.Put(context.Background(), "big.parquet", src, int64(len(data))), "second multipart upload of the same key")
		obj, err := client.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("mp/big.parquet")})
		require.NoError(t, err)
		got, err := io.ReadAll(obj.Body)
		obj.Body.Close()
		require.NoError(t, err)
		assert.True(t, bytes.Equal(data, got), "multipart object differs")
		assert.True(t, strings.HasSuffix(strings.Trim(aws.ToString(obj.ETag), `"`), "-3"), "ETag %s is not a 3-part upload", aws.ToString(obj.ETag))
		uploads, err := client.ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket), Prefix: aws.String("mp/")})
		require.NoError(t, err)
		assert.Empty(t, uploads.Uploads, "no incomplete uploads left")
	})

	t.Run("retry_on_5xx", func(t *testing.T) {
		proxy := newFaultProxy(t, m.Endpoint)
		proxy.fail.Store(3) // SDK makes 2 attempts: the first publish fails, the retry succeeds
		cfg := s3Config(t, m, proxy.srv.URL, bucket, "retry")
		e := newTestExporter(t, cfg, func() time.Time { return baseTime })
		require.NoError(t, e.start(context.Background(), componenttest.NewNopHost()))
		ld := genLogs(300, 0, "checkout")
		require.NoError(t, e.pushLogs(context.Background(), ld))
		e.sealAll()
		// An empty critical section on purpose: it waits for any background publish attempt.
		e.publishMu.Lock()
		e.publishMu.Unlock() //nolint:staticcheck // see above

		for i := 0; i < 5; i++ {
			if err := e.publishPending(context.Background()); err == nil {
				break
			}
		}
		require.NoError(t, e.shutdown(context.Background()))
		assert.GreaterOrEqual(t, proxy.seen.Load(), int64(3))
		paths := downloadObjects(t, client, bucket, "retry/", t.TempDir())
		require.Len(t, paths, 1)
		assert.Equal(t, canonicalRows(t, ld), readFiles(t, paths))
	})

	t.Run("restart_with_staged_data", func(t *testing.T) {
		proxy := newFaultProxy(t, m.Endpoint)
		proxy.down.Store(true)
		cfg := s3Config(t, m, proxy.srv.URL, bucket, "restart")
		e := newTestExporter(t, cfg, func() time.Time { return baseTime })
		require.NoError(t, e.start(context.Background(), componenttest.NewNopHost()))
		ld := genLogs(400, 0, "a", "b")
		require.NoError(t, e.pushLogs(context.Background(), ld))
		require.NoError(t, e.shutdown(context.Background()))
		assert.Empty(t, downloadObjects(t, client, bucket, "restart/", t.TempDir()))

		proxy.down.Store(false)
		e2 := newTestExporter(t, cfg, func() time.Time { return baseTime })
		require.NoError(t, e2.start(context.Background(), componenttest.NewNopHost()))
		require.NoError(t, e2.shutdown(context.Background()))
		paths := downloadObjects(t, client, bucket, "restart/", t.TempDir())
		require.Len(t, paths, 2)
		assert.Equal(t, canonicalRows(t, ld), readFiles(t, paths))
		assertStagingEmpty(t, cfg)
	})
}
