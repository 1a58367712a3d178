// Command bench runs testbed scenarios against sluice and the contrib-only
// peer side by side, prints a table per scenario and writes it to
// testbed/results/<scenario>.md.
//
//	go run ./testbed/cmd/bench -sluice bin/sluice -peer bin/otelcol-peer -scenarios passthrough-max,passthrough-10k
//	go run ./testbed/cmd/bench -smoke   # ≈20 s correctness run for `make test`
//
// It exits non-zero when any record is lost, duplicated or unexpected, or a
// collector fails to start.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/sluicelogs/sluice/testbed/backend"
	"github.com/sluicelogs/sluice/testbed/bench"
)

func main() {
	sluiceBin := flag.String("sluice", "bin/sluice", "path of the sluice binary")
	peerBin := flag.String("peer", "bin/otelcol-peer", "path of the otelcol-peer binary (empty to skip the peer)")
	scenarios := flag.String("scenarios", "passthrough-max,passthrough-10k", "comma-separated scenarios")
	duration := flag.Duration("duration", 10*time.Second, "load duration of throughput scenarios")
	smoke := flag.Bool("smoke", false, "run the smoke scenario (correctness of realistic SDK traffic) and check the backends from the environment")
	results := flag.String("results", "", "directory for <scenario>.md (default testbed/results; \"-\" to write none)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *sluiceBin, *peerBin, *scenarios, *duration, *smoke, *results); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, sluiceBin, peerBin, names string, duration time.Duration, smoke bool, resultsDir string) error {
	root, err := backend.ModuleRoot()
	if err != nil {
		return err
	}
	if resultsDir == "" {
		resultsDir = filepath.Join(root, "testbed", "results")
	}
	workDir := filepath.Join(root, "testbed", "results", "tmp") // git-ignored
	targets := []bench.Target{{Name: "sluice", Binary: sluiceBin}}
	if peerBin != "" {
		targets = append(targets, bench.Target{Name: "otelcol-peer", Binary: peerBin})
	}
	all := bench.Scenarios(duration)
	var selected []bench.Scenario
	if smoke {
		names = "smoke"
	}
	for _, n := range strings.Split(names, ",") {
		sc, ok := all[strings.TrimSpace(n)]
		if !ok {
			known := make([]string, 0, len(all))
			for k := range all {
				known = append(known, k)
			}
			sort.Strings(known)
			return fmt.Errorf("unknown scenario %q (known: %s)", n, strings.Join(known, ", "))
		}
		selected = append(selected, sc)
	}

	var errs []error
	if smoke {
		errs = append(errs, checkBackends(ctx))
	}
	for _, sc := range selected {
		fmt.Fprintf(os.Stderr, "== %s\n", sc.Name)
		res := bench.Run(ctx, sc, targets, workDir)
		var md bytes.Buffer
		bench.Markdown(&md, sc, res, time.Now())
		fmt.Print(md.String())
		if resultsDir != "-" {
			if err := os.MkdirAll(resultsDir, 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(resultsDir, sc.Name+".md"), md.Bytes(), 0o644); err != nil {
				return err
			}
		}
		for _, r := range res {
			if r.Err != nil {
				errs = append(errs, fmt.Errorf("%s/%s: %w", sc.Name, r.Target, r.Err))
			}
		}
	}
	return errors.Join(errs...)
}

// checkBackends verifies that the servers `backends up` exported answer, so
// `make test` fails early when a backend died.
func checkBackends(ctx context.Context) error {
	var errs []error
	probes := []struct{ env, path string }{
		{backend.EnvOpenSearchURL, "/_cluster/health"},
		{backend.EnvMinIOEndpoint, "/minio/health/live"},
		{backend.EnvPrometheusURL, "/-/ready"},
	}
	for _, p := range probes {
		base := os.Getenv(p.env)
		if base == "" {
			fmt.Fprintf(os.Stderr, "smoke: %s not set, not checked\n", p.env)
			continue
		}
		if err := backend.Probe(ctx, strings.TrimRight(base, "/")+p.path); err != nil {
			errs = append(errs, fmt.Errorf("backend %s=%s: %w", p.env, base, err))
		} else {
			fmt.Fprintf(os.Stderr, "smoke: %s answers\n", p.env)
		}
	}
	if b := os.Getenv(backend.EnvKafkaBrokers); b != "" {
		if err := backend.ProbeKafka(ctx, strings.Split(b, ",")); err != nil {
			errs = append(errs, fmt.Errorf("backend %s=%s: %w", backend.EnvKafkaBrokers, b, err))
		} else {
			fmt.Fprintf(os.Stderr, "smoke: %s answers\n", backend.EnvKafkaBrokers)
		}
	}
	return errors.Join(errs...)
}
