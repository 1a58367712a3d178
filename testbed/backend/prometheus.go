package backend

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	// EnvPrometheusURL names a running Prometheus with the remote-write receiver on.
	EnvPrometheusURL = "SLUICE_PROMETHEUS_URL"
	// EnvInstallPackages names the variable that, set to 1, lets the testbed
	// apt-get install missing packages outside CI (under CI=true it always does).
	EnvInstallPackages  = "SLUICE_INSTALL_PACKAGES"
	prometheusReadyWait = 2 * time.Minute
	prometheusConfig    = "global:\n  scrape_interval: 1m\nscrape_configs: []\n"
)

// Prometheus is a private Prometheus accepting remote write.
type Prometheus struct {
	instance
	// URL is the HTTP API base, e.g. "http://127.0.0.1:PORT".
	URL string
	// RemoteWriteURL is URL + "/api/v1/write".
	RemoteWriteURL string
}

// PrometheusFor returns the Prometheus named by SLUICE_PROMETHEUS_URL, or
// starts a private one stopped in t.Cleanup.
func PrometheusFor(t testing.TB) *Prometheus {
	t.Helper()
	if u := os.Getenv(EnvPrometheusURL); u != "" {
		u = strings.TrimRight(u, "/")
		if err := Probe(context.Background(), u+"/-/ready"); err != nil {
			t.Fatalf("%s=%s is set but not reachable: %v", EnvPrometheusURL, u, err)
		}
		return &Prometheus{URL: u, RemoteWriteURL: u + "/api/v1/write"}
	}
	p, err := StartPrometheus(context.Background(), Options{Logf: t.Logf})
	if err != nil {
		skipOrFail(t, err)
	}
	t.Cleanup(func() { p.stopAfter(t, "prometheus") })
	return p
}

// StartPrometheus starts Prometheus from the Debian package, installing the
// package first under CI=true or SLUICE_INSTALL_PACKAGES=1.
func StartPrometheus(ctx context.Context, opts Options) (*Prometheus, error) {
	began := time.Now()
	bin, err := installPrometheus(ctx, InCI() || os.Getenv(EnvInstallPackages) == "1")
	if err != nil {
		return nil, err
	}
	installTime := time.Since(began)
	runDir, temp, err := makeRunDir(opts.RunDir, "prometheus")
	if err != nil {
		return nil, err
	}
	conf := filepath.Join(runDir, "prometheus.yml")
	if err := os.WriteFile(conf, []byte(prometheusConfig), 0o644); err != nil {
		return nil, fmt.Errorf("write prometheus config: %w", err)
	}
	start := func(ports []int) (*Process, error) {
		cmd := exec.Command(bin,
			"--config.file="+conf,
			"--storage.tsdb.path="+filepath.Join(runDir, "data"),
			"--web.listen-address=127.0.0.1:"+strconv.Itoa(ports[0]),
			"--web.enable-remote-write-receiver",
		)
		cmd.Dir = runDir
		return StartProcess("prometheus", cmd, filepath.Join(runDir, "server.log"))
	}
	ready := func(ctx context.Context, ports []int) error {
		return httpOK(ctx, "http://127.0.0.1:"+strconv.Itoa(ports[0])+"/-/ready")
	}
	proc, ports, startTime, err := launch(ctx, "prometheus", 1, prometheusReadyWait, start, ready)
	if err != nil {
		return nil, err // run dir kept: its server.log explains the failure
	}
	url := "http://127.0.0.1:" + strconv.Itoa(ports[0])
	p := &Prometheus{
		instance:       instance{proc: proc, runDir: runDir, tempRunDir: temp, InstallTime: installTime, StartTime: startTime},
		URL:            url,
		RemoteWriteURL: url + "/api/v1/write",
	}
	opts.logf("prometheus at %s: install %s, start %s", p.URL, installTime.Round(time.Millisecond), startTime.Round(time.Millisecond))
	return p, nil
}

// installPrometheus finds the prometheus binary or installs the Debian package.
func installPrometheus(ctx context.Context, allowInstall bool) (string, error) {
	if p, err := exec.LookPath("prometheus"); err == nil {
		return p, nil
	}
	hint := "install the Debian package: apt-get install -y prometheus (or set " + EnvInstallPackages + "=1 to let the testbed do it)"
	if !allowInstall {
		return "", &MissingError{Backend: "prometheus", What: "command \"prometheus\" not found on PATH; " + hint}
	}
	if _, err := exec.LookPath("apt-get"); err != nil || os.Geteuid() != 0 {
		return "", &MissingError{Backend: "prometheus", What: "prometheus missing and apt-get unavailable or not root; " + hint}
	}
	cache, err := CacheDir()
	if err != nil {
		return "", err
	}
	err = withLock(cache, "apt", func() error {
		if _, err := exec.LookPath("prometheus"); err == nil {
			return nil
		}
		env := append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if err := runLogged(ctx, "", env, "apt-get", "update"); err != nil {
			return err
		}
		return runLogged(ctx, "", env, "apt-get", "install", "-y", "--no-install-recommends", "prometheus")
	})
	if err != nil {
		return "", fmt.Errorf("install prometheus package: %w", err)
	}
	return exec.LookPath("prometheus")
}
