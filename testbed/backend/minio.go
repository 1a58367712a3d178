package backend

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

const (
	// MinIOModule is the pinned MinIO source (community edition is source-only).
	MinIOModule = "github.com/minio/minio@v0.0.0-20260212201848-7aac2a2c5b7c"
	// EnvMinIOEndpoint names a running S3-compatible server, e.g. http://127.0.0.1:9000.
	EnvMinIOEndpoint = "SLUICE_MINIO_ENDPOINT"
	// EnvMinIOAccessKey is the access key that goes with EnvMinIOEndpoint.
	EnvMinIOAccessKey = "SLUICE_MINIO_ACCESS_KEY"
	// EnvMinIOSecretKey is the secret key that goes with EnvMinIOEndpoint.
	EnvMinIOSecretKey = "SLUICE_MINIO_SECRET_KEY"
	// MinIO credentials and region of started instances (test-only secrets).
	minIOAccessKey = "sluicetest"
	minIOSecretKey = "sluicetest-secret"
	minIORegion    = "us-east-1"
	minIOReadyWait = 2 * time.Minute
)

// MinIO is a single-drive MinIO server.
type MinIO struct {
	instance
	// Endpoint is "http://127.0.0.1:PORT"; use path-style addressing.
	Endpoint  string
	AccessKey string
	SecretKey string
	Region    string
}

// MinIOFor returns the server named by SLUICE_MINIO_ENDPOINT, or starts a
// private one stopped in t.Cleanup.
func MinIOFor(t testing.TB) *MinIO {
	t.Helper()
	if e := os.Getenv(EnvMinIOEndpoint); e != "" {
		m := &MinIO{Endpoint: strings.TrimRight(e, "/"), AccessKey: minIOAccessKey, SecretKey: minIOSecretKey, Region: minIORegion}
		if v := os.Getenv(EnvMinIOAccessKey); v != "" {
			m.AccessKey = v
		}
		if v := os.Getenv(EnvMinIOSecretKey); v != "" {
			m.SecretKey = v
		}
		if err := Probe(context.Background(), m.Endpoint+"/minio/health/live"); err != nil {
			t.Fatalf("%s=%s is set but not reachable: %v", EnvMinIOEndpoint, e, err)
		}
		return m
	}
	m, err := StartMinIO(context.Background(), Options{Logf: t.Logf})
	if err != nil {
		skipOrFail(t, err)
	}
	t.Cleanup(func() { m.stopAfter(t, "minio") })
	return m
}

// StartMinIO builds (once) and starts a MinIO server.
func StartMinIO(ctx context.Context, opts Options) (*MinIO, error) {
	began := time.Now()
	bin, err := installMinIO(ctx)
	if err != nil {
		return nil, err
	}
	installTime := time.Since(began)
	runDir, temp, err := makeRunDir(opts.RunDir, "minio")
	if err != nil {
		return nil, err
	}
	start := func(ports []int) (*Process, error) {
		cmd := exec.Command(bin, "server", filepath.Join(runDir, "data"),
			"--address", "127.0.0.1:"+strconv.Itoa(ports[0]),
			"--console-address", "127.0.0.1:"+strconv.Itoa(ports[1]))
		cmd.Dir = runDir
		cmd.Env = append(os.Environ(),
			"MINIO_ROOT_USER="+minIOAccessKey,
			"MINIO_ROOT_PASSWORD="+minIOSecretKey,
			"MINIO_BROWSER=off",
			"MINIO_UPDATE=off",
		)
		return StartProcess("minio", cmd, filepath.Join(runDir, "server.log"))
	}
	ready := func(ctx context.Context, ports []int) error {
		return httpOK(ctx, "http://127.0.0.1:"+strconv.Itoa(ports[0])+"/minio/health/ready")
	}
	proc, ports, startTime, err := launch(ctx, "minio", 2, minIOReadyWait, start, ready)
	if err != nil {
		return nil, err // run dir kept: its server.log explains the failure
	}
	m := &MinIO{
		instance:  instance{proc: proc, runDir: runDir, tempRunDir: temp, InstallTime: installTime, StartTime: startTime},
		Endpoint:  "http://127.0.0.1:" + strconv.Itoa(ports[0]),
		AccessKey: minIOAccessKey, SecretKey: minIOSecretKey, Region: minIORegion,
	}
	opts.logf("minio at %s: install %s, start %s", m.Endpoint, installTime.Round(time.Millisecond), startTime.Round(time.Millisecond))
	return m, nil
}

// S3Client returns an aws-sdk-go-v2 client for this server (path-style).
// Keep-alives are off so tests using goleak see no idle connection goroutines.
func (m *MinIO) S3Client() *s3.Client {
	return s3.New(s3.Options{
		HTTPClient:   &http.Client{Transport: &http.Transport{DisableKeepAlives: true}},
		Region:       m.Region,
		BaseEndpoint: aws.String(m.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(m.AccessKey, m.SecretKey, ""),
	})
}

// CreateBucket creates a bucket (an existing one owned by us is fine).
func (m *MinIO) CreateBucket(t testing.TB, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := m.S3Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)})
	var owned *types.BucketAlreadyOwnedByYou
	if err != nil && !errors.As(err, &owned) {
		t.Fatalf("create bucket %s: %v", name, err)
	}
}

// installMinIO builds the pinned MinIO with `go install` into cache/bin,
// outside our module so it never touches go.mod.
func installMinIO(ctx context.Context) (string, error) {
	goBin, err := needCommand("minio", "go", "needed to build MinIO from source")
	if err != nil {
		return "", err
	}
	cache, err := CacheDir()
	if err != nil {
		return "", err
	}
	dir, err := InstallOnce(cache, "minio", func(staging string) error {
		work, err := os.MkdirTemp("", "sluice-minio-build-")
		if err != nil {
			return fmt.Errorf("create build dir: %w", err)
		}
		defer os.RemoveAll(work)
		env := append(os.Environ(), "CGO_ENABLED=0", "GOBIN="+filepath.Join(staging, "bin"), "GOFLAGS=", "GOWORK=off")
		return runLogged(ctx, work, env, goBin, "install", MinIOModule)
	})
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "bin", "minio"), nil
}

// httpOK succeeds when GET url answers 2xx.
func httpOK(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, http.NoBody)
	if err != nil {
		return err
	}
	req.Close = true // no idle keep-alive goroutines left behind
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("GET %s: HTTP %d", url, resp.StatusCode)
	}
	return nil
}
