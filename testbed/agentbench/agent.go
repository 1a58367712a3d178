package agentbench

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/sluicelogs/sluice/testbed/backend"
)

// Target is one agent set-up under test.
type Target struct {
	// Name labels the results ("sluice", "sluice batch 10ms", "otelcol-peer").
	Name string
	// Binary is the collector executable.
	Binary string
	// Config is the sluice agent config (configs/agent.yaml), used as is with
	// its environment variables pointed at the run. Empty for the peer, whose
	// config PeerConfig writes.
	Config string
	// Set are --set overrides (e.g. "processors::batch::timeout=10ms").
	Set []string
	// Env are extra KEY=VALUE environment variables of the agent process
	// (e.g. GOGC=200), applied after the ones pointing it at the run.
	Env []string
	// MustMask makes a record with surviving PII a failure (sluice's pii_mask
	// is part of the product; the peer's regex redaction is only reported).
	MustMask bool
}

// agentReadyWait bounds how long a collector may take to start.
const agentReadyWait = 60 * time.Second

// runningAgent is one started collector.
type runningAgent struct {
	proc *backend.Process
}

// startAgent runs t in dir, tailing logDir/*.log and forwarding to sinkEndpoint,
// and waits until it answers (health check for sluice, metrics for the peer).
func startAgent(ctx context.Context, t Target, dir, logDir, sinkEndpoint string) (*runningAgent, error) {
	bin, err := filepath.Abs(t.Binary) // the collector runs in dir
	if err != nil {
		return nil, fmt.Errorf("%s binary: %w", t.Name, err)
	}
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("%s binary: %w", t.Name, err)
	}
	ports, err := backend.FreePorts(4)
	if err != nil {
		return nil, err
	}
	health, metrics := "127.0.0.1:"+strconv.Itoa(ports[0]), ports[1]
	env := os.Environ()
	var config, readyURL string
	if t.Config != "" {
		if config, err = filepath.Abs(t.Config); err != nil {
			return nil, fmt.Errorf("agent config: %w", err)
		}
		env = append(env,
			"SLUICE_TAIL_INCLUDE="+filepath.Join(logDir, "*.log"),
			"SLUICE_GATEWAY_ENDPOINT="+sinkEndpoint,
			"SLUICE_GATEWAY_INSECURE=true",
			"SLUICE_STATE_DIR="+filepath.Join(dir, "state"),
			"SLUICE_HEALTH_ENDPOINT="+health,
			"SLUICE_METRICS_HOST=127.0.0.1",
			"SLUICE_METRICS_PORT="+strconv.Itoa(metrics),
			"SLUICE_OTLP_GRPC_ENDPOINT=127.0.0.1:"+strconv.Itoa(ports[2]),
			"SLUICE_OTLP_HTTP_ENDPOINT=127.0.0.1:"+strconv.Itoa(ports[3]),
			"K8S_NODE_NAME=agentbench",
		)
		readyURL = "http://" + health + "/"
	} else {
		config = filepath.Join(dir, "peer.yaml")
		if err := os.WriteFile(config, []byte(PeerConfig(logDir, sinkEndpoint, metrics)), 0o644); err != nil {
			return nil, fmt.Errorf("write peer config: %w", err)
		}
		readyURL = "http://127.0.0.1:" + strconv.Itoa(metrics) + "/metrics"
	}
	env = append(env, t.Env...)
	args := []string{"--config", config}
	for _, s := range t.Set {
		args = append(args, "--set="+s)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = env
	proc, err := backend.StartProcess(t.Name, cmd, filepath.Join(dir, "agent.log"))
	if err != nil {
		return nil, err
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	err = proc.WaitReady(ctx, agentReadyWait, func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, readyURL, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: status %d", readyURL, resp.StatusCode)
		}
		return nil
	})
	if err != nil {
		_ = proc.Stop()
		return nil, err
	}
	return &runningAgent{proc: proc}, nil
}

// stop shuts the agent down gracefully and reports a panic in its log.
func (a *runningAgent) stop() error {
	if err := a.proc.Stop(); err != nil {
		return err
	}
	if tail := a.proc.LogTail(); strings.Contains(tail, "panic:") {
		return fmt.Errorf("agent panicked; log tail:\n%s", tail)
	}
	return nil
}

// PeerConfig is the closest contrib pipeline to the sluice agent that the
// peer can run: file_log with a json_parser lifting time and level and
// moving msg to the body, the redaction processor with regexes for the kinds
// of PII the lines carry, the same memory_limiter and batch settings, and the
// otlp_grpc exporter. Its sending queue is in memory: the peer has no
// file_storage extension, so unlike the sluice agent it loses what it holds
// on a crash.
func PeerConfig(logDir, sinkEndpoint string, metricsPort int) string {
	return `receivers:
  file_log:
    include: ["` + filepath.Join(logDir, "*.log") + `"]
    start_at: beginning
    operators:
      - type: json_parser
        timestamp:
          parse_from: attributes.time
          layout_type: gotime
          layout: "2006-01-02T15:04:05.999999999Z07:00"
        severity:
          parse_from: attributes.level
      - type: move
        from: attributes.msg
        to: body
processors:
  memory_limiter:
    check_interval: 1s
    limit_percentage: 80
    spike_limit_percentage: 20
  redaction:
    allow_all_keys: true
    summary: silent
    blocked_values:
      - '[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}'
      - '\b[3-6][0-9]{12,18}\b'
      - '\b(?:[0-9]{1,3}\.){3}[0-9]{1,3}\b'
  batch:
    send_batch_size: 4096
    timeout: 200ms
exporters:
  otlp_grpc:
    endpoint: ` + sinkEndpoint + `
    tls:
      insecure: true
    sending_queue:
      enabled: true
      queue_size: 10000
    retry_on_failure:
      enabled: true
      max_elapsed_time: 0s
service:
  telemetry:
    metrics:
      readers:
        - pull:
            exporter:
              prometheus:
                host: 127.0.0.1
                port: ` + strconv.Itoa(metricsPort) + `
  pipelines:
    logs:
      receivers: [file_log]
      processors: [memory_limiter, redaction, batch]
      exporters: [otlp_grpc]
`
}
