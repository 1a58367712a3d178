package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/sluicelogs/sluice/testbed/backend"
	"github.com/sluicelogs/sluice/testbed/loadgen"
	"github.com/sluicelogs/sluice/testbed/monitor"
	"github.com/sluicelogs/sluice/testbed/validate"
)

// gatewayDecisionWait is the gateway's tail-sampling wait in the benchmark
// (the shipped default, 10s).
const gatewayDecisionWait = 10 * time.Second

// peerGatewayConfig is the closest pipeline the contrib-built peer can run:
// contrib has no logs tail sampling and no OpenSearch or Parquet exporter at
// v0.155, so it is OTLP → memory_limiter → batch → file (OTLP JSON).
func peerGatewayConfig(grpcPort int, outPath string) string {
	return `receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:` + strconv.Itoa(grpcPort) + `
processors:
  memory_limiter:
    check_interval: 1s
    limit_percentage: 80
    spike_limit_percentage: 20
  batch:
    send_batch_size: 8192
    timeout: 1s
exporters:
  file:
    path: ` + outPath + `
service:
  telemetry:
    logs:
      level: warn
    metrics:
      level: none
  pipelines:
    logs:
      receivers: [otlp]
      processors: [memory_limiter, batch]
      exporters: [file]
`
}

// gatewayRun is a collector started for the gateway scenario.
type gatewayRun struct {
	*runningCollector
	metricsURL string // sluice only
	indexGlob  string // sluice only
	search     string
}

// startGateway starts sluice with configs/gateway.yaml against the backends
// named by the environment (make backends-up), or the peer with its closest
// pipeline.
func startGateway(ctx context.Context, t Target, dir, run string) (*gatewayRun, error) {
	bin, err := filepath.Abs(t.Binary)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	endpoint := "127.0.0.1:" + strconv.Itoa(port)
	out := filepath.Join(dir, "out.json")
	g := &gatewayRun{}
	var cmd *exec.Cmd
	if t.Name == "sluice" {
		env, search, err := gatewayEnv(ctx, run)
		if err != nil {
			return nil, err
		}
		root, err := backend.ModuleRoot()
		if err != nil {
			return nil, err
		}
		ports := make([]int, 4)
		for i := range ports {
			if ports[i], err = freePort(); err != nil {
				return nil, err
			}
		}
		env = append(env,
			"SLUICE_OTLP_GRPC_ENDPOINT="+endpoint,
			"SLUICE_OTLP_HTTP_ENDPOINT=127.0.0.1:"+strconv.Itoa(ports[0]),
			"SLUICE_ES_BULK_ENDPOINT=127.0.0.1:"+strconv.Itoa(ports[1]),
			"SLUICE_HEALTH_ENDPOINT=127.0.0.1:"+strconv.Itoa(ports[2]),
			"SLUICE_METRICS_PORT="+strconv.Itoa(ports[3]),
			"SLUICE_STATE_DIR="+filepath.Join(dir, "state"),
			"SLUICE_WRITER_ID="+run,
		)
		cmd = exec.Command(bin, "--config", filepath.Join(root, "configs", "gateway.yaml"))
		cmd.Env = append(os.Environ(), env...)
		g.metricsURL = "http://127.0.0.1:" + strconv.Itoa(ports[3]) + "/metrics"
		g.indexGlob = run + "_logs-*"
		g.search = search
	} else {
		conf := filepath.Join(dir, "config.yaml")
		if err := os.WriteFile(conf, []byte(peerGatewayConfig(port, out)), 0o644); err != nil {
			return nil, err
		}
		cmd = exec.Command(bin, "--config", conf)
	}
	cmd.Dir = dir
	proc, err := backend.StartProcess(t.Name, cmd, filepath.Join(dir, "collector.log"))
	if err != nil {
		return nil, err
	}
	if err := proc.WaitReady(ctx, collectorReadyWait, dialReady(endpoint)); err != nil {
		_ = proc.Stop()
		return nil, err
	}
	g.runningCollector = &runningCollector{proc: proc, endpoint: endpoint, outPath: out}
	return g, nil
}

// gatewayEnv points configs/gateway.yaml at the backends of the environment;
// all three must be set (`make backends-up`, then source testbed/.cache/backends.env).
func gatewayEnv(ctx context.Context, run string) ([]string, string, error) {
	search := os.Getenv(backend.EnvOpenSearchURL)
	s3End := os.Getenv(backend.EnvMinIOEndpoint)
	prom := os.Getenv(backend.EnvPrometheusURL)
	if search == "" || s3End == "" || prom == "" {
		return nil, "", errors.New("the gateway scenario needs SLUICE_OPENSEARCH_URL, SLUICE_MINIO_ENDPOINT and SLUICE_PROMETHEUS_URL (make backends-up; source testbed/.cache/backends.env)")
	}
	minio := &backend.MinIO{Endpoint: s3End, AccessKey: os.Getenv(backend.EnvMinIOAccessKey), SecretKey: os.Getenv(backend.EnvMinIOSecretKey), Region: "us-east-1"}
	bucket := "bench-" + run
	_, err := minio.S3Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)})
	var owned *types.BucketAlreadyOwnedByYou
	if err != nil && !errors.As(err, &owned) {
		return nil, "", fmt.Errorf("create bucket %s: %w", bucket, err)
	}
	return []string{
		"OPENSEARCH_URL=" + search,
		"SLUICE_INDEX_PREFIX=" + run,
		"SLUICE_ARCHIVE_BUCKET=" + bucket,
		"SLUICE_S3_ENDPOINT=" + s3End,
		"AWS_REGION=" + minio.Region,
		"AWS_ACCESS_KEY_ID=" + minio.AccessKey,
		"AWS_SECRET_ACCESS_KEY=" + minio.SecretKey,
		"SLUICE_PROMETHEUS_REMOTE_WRITE_URL=" + strings.TrimRight(prom, "/") + "/api/v1/write",
		"SLUICE_DECISION_WAIT=" + gatewayDecisionWait.String(),
	}, search, nil
}

// runGateway drives the gateway scenario for one target. CPU covers the
// load and the drain (deciding and storing what was buffered), divided by
// the records acknowledged.
func runGateway(ctx context.Context, sc Scenario, t Target, dir string) Result {
	res := Result{Target: t.Name}
	run := loadgen.NewRunID()
	g, err := startGateway(ctx, t, dir, run)
	if err != nil {
		res.Err = fmt.Errorf("start %s: %w", t.Name, err)
		return res
	}
	sampler, err := monitor.Start(g.proc.Pid(), 250*time.Millisecond)
	if err != nil {
		_ = g.stop()
		res.Err = err
		return res
	}
	cfg := *sc.Raw
	cfg.Endpoint, cfg.RunID = g.endpoint, run
	raw, err := loadgen.RunRaw(ctx, cfg)
	if raw != nil {
		res.Acked, res.Elapsed = raw.Acked, raw.Elapsed
	}
	var dropped uint64
	if err == nil && g.metricsURL != "" {
		// Drain: every buffered request decided and stored.
		err = waitDrained(ctx, g.metricsURL, 3*gatewayDecisionWait+30*time.Second)
		if err == nil {
			dropped, err = scrapeCounter(ctx, g.metricsURL, "otelcol_processor_tail_sampling_records_sampled", `decision="dropped"`, `signal="logs"`)
		}
	}
	res.Resources = sampler.Stop()
	if err = errors.Join(err, g.stop()); err != nil {
		res.Err = fmt.Errorf("run %s: %w (collector log %s)", t.Name, err, g.proc.LogPath)
		return res
	}
	if g.metricsURL == "" {
		res.Err = account(&res, g.outPath, false, raw.Sent, nil)
		return res
	}
	delivered := validate.NewMultiset(raw.Sent.Prefix())
	if _, err := validate.ReadOpenSearch(ctx, g.search, g.indexGlob, "attributes."+validate.IDAttribute, delivered); err != nil {
		res.Err = fmt.Errorf("read OpenSearch: %w", err)
		return res
	}
	res.Logs = validate.Account(raw.Sent, validate.Outcome{Delivered: delivered, SampledOutReported: dropped})
	if err := res.Logs.Err(false); err != nil {
		res.Err = fmt.Errorf("logs: %w", err)
	}
	return res
}

// waitDrained waits until the gateway holds no undecided request and its
// exporters have nothing queued.
func waitDrained(ctx context.Context, metricsURL string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	quiet := 0
	for time.Now().Before(deadline) {
		groups, err := scrapeCounter(ctx, metricsURL, "otelcol_processor_tail_sampling_groups_active")
		if err == nil && groups == 0 {
			queued, qerr := scrapeCounter(ctx, metricsURL, "otelcol_exporter_queue_size")
			if qerr == nil && queued == 0 {
				if quiet++; quiet >= 3 {
					return nil
				}
			}
		} else {
			quiet = 0
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
	return fmt.Errorf("gateway not drained after %s", timeout)
}

// scrapeCounter sums the samples of metric whose labels contain every one of
// labels, from a Prometheus text endpoint. A metric not exported yet is 0.
func scrapeCounter(ctx context.Context, url, metric string, labels ...string) (uint64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
lines:
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, metric) || (len(line) > len(metric) && line[len(metric)] != '{' && line[len(metric)] != ' ') {
			continue
		}
		for _, l := range labels {
			if !strings.Contains(line, l) {
				continue lines
			}
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			return 0, fmt.Errorf("metric line %q: %w", line, err)
		}
		sum += v
	}
	return uint64(sum), sc.Err()
}
