package bench

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/sluicelogs/sluice/testbed/backend"
)

// Target is one collector binary under test.
type Target struct {
	// Name labels the results ("sluice", "otelcol-peer").
	Name string
	// Binary is the path of the collector executable (accepts --config FILE).
	Binary string
}

// collectorReadyWait bounds how long a collector may take to open its port.
const collectorReadyWait = 60 * time.Second

// passThroughConfig is OTLP gRPC in → file out for logs and traces, no
// processors, own telemetry off so nothing else binds a port.
func passThroughConfig(grpcPort int, outPath string) string {
	return `receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:` + strconv.Itoa(grpcPort) + `
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
      exporters: [file]
    traces:
      receivers: [otlp]
      exporters: [file]
`
}

// runningCollector is a collector process started for one scenario.
type runningCollector struct {
	proc     *backend.Process
	endpoint string
	outPath  string
}

// startPassThrough writes the config into dir and starts the collector.
func startPassThrough(ctx context.Context, t Target, dir string) (*runningCollector, error) {
	bin, err := filepath.Abs(t.Binary) // the collector runs in dir
	if err != nil {
		return nil, fmt.Errorf("%s binary: %w", t.Name, err)
	}
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("%s binary: %w", t.Name, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	out := filepath.Join(dir, "out.json")
	conf := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(conf, []byte(passThroughConfig(port, out)), 0o644); err != nil {
		return nil, fmt.Errorf("write config: %w", err)
	}
	cmd := exec.Command(bin, "--config", conf)
	cmd.Dir = dir
	proc, err := backend.StartProcess(t.Name, cmd, filepath.Join(dir, "collector.log"))
	if err != nil {
		return nil, err
	}
	endpoint := "127.0.0.1:" + strconv.Itoa(port)
	err = proc.WaitReady(ctx, collectorReadyWait, dialReady(endpoint))
	if err != nil {
		_ = proc.Stop()
		return nil, err
	}
	return &runningCollector{proc: proc, endpoint: endpoint, outPath: out}, nil
}

// stop shuts the collector down gracefully (the file exporter flushes) and
// reports an unclean exit with the log tail.
func (c *runningCollector) stop() error {
	if err := c.proc.Stop(); err != nil {
		return err
	}
	if tail := c.proc.LogTail(); strings.Contains(tail, "panic:") {
		return fmt.Errorf("collector panicked; log tail:\n%s", tail)
	}
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// dialReady reports a collector ready once its OTLP port accepts connections.
func dialReady(endpoint string) func(context.Context) error {
	return func(ctx context.Context) error {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", endpoint)
		if err != nil {
			return err
		}
		return c.Close()
	}
}
