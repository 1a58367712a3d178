// Command agentbench measures the node agent (configs/agent.yaml as shipped,
// then any variants given with -variant) and, side by side, the contrib-only
// peer running the closest pipeline it can (file_log → redaction → batch →
// otlp_grpc with an in-memory queue), at a fixed rate of JSON app-log lines:
// lines/s sustained, agent CPU % of one core, RSS, ingest latency
// p50/p95/p99/max (line written → arrived at the gateway stand-in), loss,
// duplicates and surviving PII. It prints a markdown table and writes it to
// <results>/agent-<rate>.md.
//
//	go run ./testbed/cmd/agentbench -sluice bin/sluice -peer bin/otelcol-peer -rate 10000 -duration 60s
//	go run ./testbed/cmd/agentbench -peer "" -variant 'batch-10ms=processors::batch::timeout=10ms;env:GOGC=200'
//
// It exits non-zero when a line is lost or duplicated, PII survives the
// sluice agent, or an agent fails to start.
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
	"strings"
	"syscall"
	"time"

	"github.com/sluicelogs/sluice/testbed/agentbench"
	"github.com/sluicelogs/sluice/testbed/backend"
)

// listFlag collects a repeatable flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, " ") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	sluiceBin := flag.String("sluice", "bin/sluice", "path of the sluice binary")
	peerBin := flag.String("peer", "bin/otelcol-peer", "path of the otelcol-peer binary (empty to skip the peer)")
	config := flag.String("config", "configs/agent.yaml", "agent config run by sluice")
	rate := flag.Float64("rate", 10000, "lines written per second")
	duration := flag.Duration("duration", 60*time.Second, "measured write phase")
	results := flag.String("results", "", `directory for agent-<rate>.md (default testbed/results; "-" to write none)`)
	shipped := flag.Bool("shipped", true, "run the agent config as shipped (no overrides)")
	rounds := flag.Int("rounds", 1, "run every target this many times, alternately (round after round), and add a table of medians: on a machine whose speed drifts only alternated runs compare")
	var variants, peerSet listFlag
	flag.Var(&variants, "variant", `a sluice run with overrides, "name=key=value;key=value" (keys as for --set, e.g. processors::batch::timeout=10ms; "env:K=V" sets an environment variable of the agent, e.g. env:GOGC=200; "bin:PATH" runs another sluice binary, e.g. a build of the base commit for an A/B; "config:PATH" another agent config, e.g. the base commit's for that build); repeatable`)
	flag.Var(&peerSet, "peer-set", "a --set override for the peer run (e.g. receivers::file_log::poll_interval=10ms); repeatable")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	targets, err := buildTargets(*sluiceBin, *peerBin, *config, *shipped, variants, peerSet)
	if err == nil {
		err = run(ctx, targets, agentbench.Config{Rate: *rate, Duration: *duration}, *rounds, *results)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "agentbench:", err)
		os.Exit(1)
	}
}

func buildTargets(sluiceBin, peerBin, config string, shipped bool, variants, peerSet []string) ([]agentbench.Target, error) {
	var targets []agentbench.Target
	if shipped {
		targets = append(targets, agentbench.Target{Name: "sluice", Binary: sluiceBin, Config: config, MustMask: true})
	}
	for _, v := range variants {
		name, sets, ok := strings.Cut(v, "=")
		if !ok || name == "" || sets == "" {
			return nil, fmt.Errorf(`-variant %q: want "name=key=value;key=value"`, v)
		}
		var set, env []string
		bin, cfg := sluiceBin, config
		for _, s := range strings.Split(sets, ";") {
			s = strings.TrimSpace(s)
			if kv, ok := strings.CutPrefix(s, "env:"); ok {
				env = append(env, kv)
			} else if path, ok := strings.CutPrefix(s, "bin:"); ok {
				bin = path
			} else if path, ok := strings.CutPrefix(s, "config:"); ok {
				cfg = path
			} else if s != "" {
				set = append(set, s)
			}
		}
		targets = append(targets, agentbench.Target{Name: "sluice " + name, Binary: bin, Config: cfg, Set: set, Env: env, MustMask: true})
	}
	if peerBin != "" {
		targets = append(targets, agentbench.Target{Name: "otelcol-peer (in-memory queue)", Binary: peerBin, Set: peerSet})
	}
	if len(targets) == 0 {
		return nil, errors.New("nothing to run: -shipped=false, no -variant and no -peer")
	}
	return targets, nil
}

func run(ctx context.Context, targets []agentbench.Target, cfg agentbench.Config, rounds int, resultsDir string) error {
	if rounds < 1 {
		return fmt.Errorf("-rounds must be at least 1, got %d", rounds)
	}
	root, err := backend.ModuleRoot()
	if err != nil {
		return err
	}
	if resultsDir == "" {
		resultsDir = filepath.Join(root, "testbed", "results")
	}
	// Log files, agent state and logs go to a temp dir on the same disk as
	// the repository; a failed target's directory is kept and named in its error.
	if cfg.WorkDir, err = os.MkdirTemp("", "sluice-agentbench-"); err != nil {
		return fmt.Errorf("create work dir: %w", err)
	}
	var errs []error
	var all []agentbench.Result
	for round := 1; round <= rounds; round++ {
		for _, t := range targets {
			fmt.Fprintf(os.Stderr, "== %s (round %d of %d)\n", t.Name, round, rounds)
			all = append(all, agentbench.Run(ctx, cfg, []agentbench.Target{t})...)
			if r := all[len(all)-1]; r.Err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", r.Target, r.Err))
			}
		}
	}
	if len(errs) == 0 {
		_ = os.RemoveAll(cfg.WorkDir)
	}
	var md bytes.Buffer
	agentbench.Markdown(&md, cfg, all, time.Now())
	if rounds > 1 {
		fmt.Fprintf(&md, "\n## Medians over %d alternated rounds\n\n", rounds)
		agentbench.MarkdownMedians(&md, all)
	}
	fmt.Print(md.String())
	if resultsDir != "-" {
		if err := os.MkdirAll(resultsDir, 0o755); err != nil {
			return err
		}
		name := fmt.Sprintf("agent-%.0f.md", cfg.Rate)
		if err := os.WriteFile(filepath.Join(resultsDir, name), md.Bytes(), 0o644); err != nil {
			return err
		}
	}
	return errors.Join(errs...)
}
