// Command backends starts and stops the testbed's real servers for manual use
// and for `make test`:
//
//	go run ./testbed/cmd/backends up    # start OpenSearch, Kafka, MinIO, Prometheus; write testbed/.cache/backends.env
//	go run ./testbed/cmd/backends env   # print the export lines of the running set
//	go run ./testbed/cmd/backends down  # stop them (process groups from pid files) and remove their data
//
// `up` is idempotent: when every server in backends.env is still alive it only
// prints the file. Source the file (set -a; . testbed/.cache/backends.env) to
// make tests reuse the servers instead of starting their own.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sluicelogs/sluice/testbed/backend"
)

// stopGrace is how long each server gets to exit after SIGTERM.
const stopGrace = 20 * time.Second

var allBackends = []string{"opensearch", "kafka", "minio", "prometheus"}

func main() {
	fs := flag.NewFlagSet("backends", flag.ExitOnError)
	only := fs.String("only", strings.Join(allBackends, ","), "comma-separated backends to start")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: backends [-only list] up|down|env\n")
		fs.PrintDefaults()
	}
	if len(os.Args) < 2 {
		fs.Usage()
		os.Exit(2)
	}
	cmd := os.Args[1]
	if err := fs.Parse(os.Args[2:]); err != nil {
		os.Exit(2)
	}
	cache, err := backend.CacheDir()
	if err != nil {
		fail(err)
	}
	runRoot := filepath.Join(cache, "run")
	envFile := filepath.Join(cache, "backends.env")
	switch cmd {
	case "up":
		err = up(runRoot, envFile, strings.Split(*only, ","))
	case "down":
		err = down(runRoot, envFile)
	case "env":
		var b []byte
		b, err = os.ReadFile(envFile)
		if err == nil {
			fmt.Print(string(b))
		}
	default:
		fs.Usage()
		os.Exit(2)
	}
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "backends:", err)
	os.Exit(1)
}

// started is what one backend contributes to backends.env.
type started struct {
	name    string
	pid     int
	exports []string
	timing  string
}

func up(runRoot, envFile string, names []string) error {
	if b, err := os.ReadFile(envFile); err == nil && allAlive(runRoot) {
		fmt.Fprintln(os.Stderr, "backends already running; stop them with: go run ./testbed/cmd/backends down")
		fmt.Print(string(b))
		return nil
	}
	if err := down(runRoot, envFile); err != nil { // leftovers of a crashed run
		return err
	}
	ctx := context.Background()
	logf := func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }
	results := make([]started, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			opts := backend.Options{RunDir: filepath.Join(runRoot, name), Logf: logf}
			results[i], errs[i] = startOne(ctx, name, opts)
		}()
	}
	wg.Wait()

	var lines []string
	var failed []error
	for i, r := range results {
		err := errs[i]
		var missing *backend.MissingError
		switch {
		case err == nil:
			if werr := os.WriteFile(filepath.Join(runRoot, r.name, "pid"), []byte(strconv.Itoa(r.pid)+"\n"), 0o644); werr != nil {
				failed = append(failed, werr)
			}
			lines = append(lines, r.exports...)
			fmt.Fprintf(os.Stderr, "%-10s %s\n", r.name, r.timing)
		case errors.As(err, &missing) && !backend.InCI():
			fmt.Fprintf(os.Stderr, "%-10s skipped: %v\n", names[i], err)
		default:
			failed = append(failed, fmt.Errorf("%s: %w", names[i], err))
		}
	}
	if len(failed) > 0 {
		_ = down(runRoot, envFile)
		return errors.Join(failed...)
	}
	content := strings.Join(lines, "\n") + "\n"
	if err := os.WriteFile(envFile, []byte(content), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", envFile, err)
	}
	fmt.Print(content)
	return nil
}

func startOne(ctx context.Context, name string, opts backend.Options) (started, error) {
	if err := os.RemoveAll(opts.RunDir); err != nil {
		return started{}, fmt.Errorf("clean %s: %w", opts.RunDir, err)
	}
	timing := func(install, start time.Duration) string {
		return fmt.Sprintf("install %s, start %s", install.Round(time.Millisecond), start.Round(time.Millisecond))
	}
	switch name {
	case "opensearch":
		o, err := backend.StartOpenSearch(ctx, opts)
		if err != nil {
			return started{}, err
		}
		return started{name, o.Pid(), []string{exportLine(backend.EnvOpenSearchURL, o.URL)}, timing(o.InstallTime, o.StartTime)}, nil
	case "kafka":
		k, err := backend.StartKafka(ctx, opts)
		if err != nil {
			return started{}, err
		}
		return started{name, k.Pid(), []string{exportLine(backend.EnvKafkaBrokers, strings.Join(k.Brokers, ","))}, timing(k.InstallTime, k.StartTime)}, nil
	case "minio":
		m, err := backend.StartMinIO(ctx, opts)
		if err != nil {
			return started{}, err
		}
		return started{name, m.Pid(), []string{
			exportLine(backend.EnvMinIOEndpoint, m.Endpoint),
			exportLine(backend.EnvMinIOAccessKey, m.AccessKey),
			exportLine(backend.EnvMinIOSecretKey, m.SecretKey),
		}, timing(m.InstallTime, m.StartTime)}, nil
	case "prometheus":
		p, err := backend.StartPrometheus(ctx, opts)
		if err != nil {
			return started{}, err
		}
		return started{name, p.Pid(), []string{exportLine(backend.EnvPrometheusURL, p.URL)}, timing(p.InstallTime, p.StartTime)}, nil
	default:
		return started{}, fmt.Errorf("unknown backend %q (known: %s)", name, strings.Join(allBackends, ", "))
	}
}

func exportLine(name, value string) string { return "export " + name + "=" + value }

// pidFiles lists run/<name>/pid files with their process group ids.
func pidFiles(runRoot string) map[string]int {
	out := map[string]int{}
	matches, _ := filepath.Glob(filepath.Join(runRoot, "*", "pid"))
	for _, m := range matches {
		b, err := os.ReadFile(m)
		if err != nil {
			continue
		}
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			out[m] = pid
		}
	}
	return out
}

func allAlive(runRoot string) bool {
	pids := pidFiles(runRoot)
	if len(pids) == 0 {
		return false
	}
	for _, pid := range pids {
		if !backend.GroupAlive(pid) {
			return false
		}
	}
	return true
}

func down(runRoot, envFile string) error {
	var errs []error
	for file, pid := range pidFiles(runRoot) {
		if err := backend.StopGroup(pid, stopGrace); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", file, err))
			continue
		}
		fmt.Fprintf(os.Stderr, "stopped %s (process group %d)\n", filepath.Base(filepath.Dir(file)), pid)
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if err := os.RemoveAll(runRoot); err != nil {
		return fmt.Errorf("remove %s: %w", runRoot, err)
	}
	if err := os.Remove(envFile); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("remove %s: %w", envFile, err)
	}
	return nil
}
