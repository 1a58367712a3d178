package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/sluicelogs/sluice/testbed/loadgen"
	"github.com/sluicelogs/sluice/testbed/monitor"
	"github.com/sluicelogs/sluice/testbed/validate"
)

// Scenario is one named workload.
type Scenario struct {
	Name        string
	Description string
	// Raw drives throughput runs; SDK drives realistic correctness runs. One is set.
	Raw *loadgen.RawConfig
	SDK *loadgen.SDKConfig
	// Gateway runs sluice with configs/gateway.yaml against the backends of
	// the environment, and the peer with its closest pipeline; Raw drives it.
	Gateway bool
}

// Scenarios are the built-in workloads, by name.
func Scenarios(duration time.Duration) map[string]Scenario {
	return map[string]Scenario{
		"passthrough-max": {
			Name:        "passthrough-max",
			Description: fmt.Sprintf("OTLP gRPC → file exporter, no processors; raw pdata load as fast as acknowledged (2 workers × 100-record batches, ~120 B bodies) for %s", duration),
			Raw:         &loadgen.RawConfig{Workers: 2, BatchSize: 100, Duration: duration, BodySize: 120},
		},
		"passthrough-10k": {
			Name:        "passthrough-10k",
			Description: fmt.Sprintf("OTLP gRPC → file exporter, no processors; 10,000 logs/s fixed rate (100-record batches, ~120 B bodies) for %s", duration),
			Raw:         &loadgen.RawConfig{Workers: 1, BatchSize: 100, Rate: 10000, Duration: duration, BodySize: 120},
		},
		"gateway-max": {
			Name:        "gateway-max",
			Description: fmt.Sprintf("configs/gateway.yaml as shipped (OTLP → memory_limiter → error_rate + tail_sampling (errors, 10 %% baseline, decision_wait %s) → OpenSearch + Parquet on MinIO, error-rate metrics → Prometheus); raw logs in requests of 5 records, 1 request in 33 failing, as fast as acknowledged (8 workers × 500-record batches, as several agents send) for %s; CPU includes the drain. Peer: the closest contrib pipeline (no logs tail sampling, no OpenSearch/Parquet exporter in contrib): OTLP → memory_limiter → batch → file", gatewayDecisionWait, duration),
			Raw:         &loadgen.RawConfig{Workers: 8, BatchSize: 500, Duration: duration, BodySize: 120, RecordsPerTrace: 5, ErrorTraceEvery: 33},
			Gateway:     true,
		},
		"gateway-50k": {
			Name:        "gateway-50k",
			Description: fmt.Sprintf("as gateway-max, at a fixed 50,000 logs/s for %s", duration),
			Raw:         &loadgen.RawConfig{Workers: 2, BatchSize: 500, Rate: 50000, Duration: duration, BodySize: 120, RecordsPerTrace: 5, ErrorTraceEvery: 33},
			Gateway:     true,
		},
		"smoke": {
			Name:        "smoke",
			Description: "OTLP gRPC → file exporter; realistic SDK traffic (4 services per request, logs + spans, 3 % failing, PII, stack traces); every log and span accounted for exactly once",
			SDK:         &loadgen.SDKConfig{Requests: 400, Rate: 50, Seed: 42},
		},
	}
}

// Result is one target's outcome in one scenario.
type Result struct {
	Target    string
	Acked     uint64        // records acknowledged by the collector
	Elapsed   time.Duration // load phase wall time
	Resources monitor.Stats
	Logs      validate.Report
	Spans     *validate.Report // SDK scenarios only
	Err       error            // accounting or run failure
}

// Throughput is acknowledged records per second.
func (r Result) Throughput() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Acked) / r.Elapsed.Seconds()
}

// CPUMicrosPerRecord is collector CPU time per acknowledged record.
func (r Result) CPUMicrosPerRecord() float64 {
	if r.Acked == 0 {
		return 0
	}
	return r.Resources.CPUSeconds * 1e6 / float64(r.Acked)
}

// Run executes the scenario against each target in turn, in workDir.
func Run(ctx context.Context, sc Scenario, targets []Target, workDir string) []Result {
	results := make([]Result, 0, len(targets))
	for _, t := range targets {
		dir := filepath.Join(workDir, sc.Name, t.Name)
		_ = os.RemoveAll(dir)
		r := runOne(ctx, sc, t, dir)
		if r.Err == nil {
			_ = os.RemoveAll(dir) // outputs can be large; keep them only to debug failures
		}
		results = append(results, r)
	}
	return results
}

func runOne(ctx context.Context, sc Scenario, t Target, dir string) Result {
	if sc.Gateway {
		return runGateway(ctx, sc, t, dir)
	}
	res := Result{Target: t.Name}
	col, err := startPassThrough(ctx, t, dir)
	if err != nil {
		res.Err = fmt.Errorf("start %s: %w", t.Name, err)
		return res
	}
	sampler, err := monitor.Start(col.proc.Pid(), 250*time.Millisecond)
	if err != nil {
		_ = col.stop()
		res.Err = err
		return res
	}
	var sentLogs, sentSpans *validate.Multiset
	switch {
	case sc.Raw != nil:
		cfg := *sc.Raw
		cfg.Endpoint = col.endpoint
		raw, rerr := loadgen.RunRaw(ctx, cfg)
		err = rerr
		if raw != nil {
			res.Acked, res.Elapsed, sentLogs = raw.Acked, raw.Elapsed, raw.Sent
		}
	case sc.SDK != nil:
		cfg := *sc.SDK
		cfg.Endpoint = col.endpoint
		began := time.Now()
		sdk, serr := loadgen.RunSDK(ctx, cfg)
		err = serr
		res.Elapsed = time.Since(began)
		if sdk != nil {
			sentLogs, sentSpans = sdk.Logs, sdk.Spans
			res.Acked = sdk.Logs.Total() + sdk.Spans.Total()
			if err == nil && sdk.ExportErrors > 0 {
				err = fmt.Errorf("%d SDK export calls failed", sdk.ExportErrors)
			}
		}
	default:
		err = errors.New("scenario has no load")
	}
	res.Resources = sampler.Stop()
	stopErr := col.stop()
	if err = errors.Join(err, stopErr); err != nil {
		res.Err = fmt.Errorf("run %s: %w (collector log %s)", t.Name, err, col.proc.LogPath)
		return res
	}
	res.Err = account(&res, col.outPath, sc.SDK != nil, sentLogs, sentSpans)
	return res
}

// account reads the file exporter output and compares it with what was acked.
func account(res *Result, outPath string, decode bool, sentLogs, sentSpans *validate.Multiset) error {
	logs := validate.NewMultiset(sentLogs.Prefix())
	if decode {
		spans := validate.NewMultiset(sentSpans.Prefix())
		if err := validate.ReadFileExport(outPath, logs, spans); err != nil {
			return err
		}
		sr := validate.Account(sentSpans, validate.Outcome{Delivered: spans})
		res.Spans = &sr
	} else if err := validate.ScanFileExportIDs(outPath, logs); err != nil {
		return err
	}
	res.Logs = validate.Account(sentLogs, validate.Outcome{Delivered: logs})
	var errs []error
	if err := res.Logs.Err(false); err != nil {
		errs = append(errs, fmt.Errorf("logs: %w", err))
	}
	if res.Spans != nil {
		if err := res.Spans.Err(false); err != nil {
			errs = append(errs, fmt.Errorf("spans: %w", err))
		}
	}
	return errors.Join(errs...)
}
