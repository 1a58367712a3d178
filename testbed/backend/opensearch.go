package backend

import (
	"archive/zip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	// OpenSearchVersion is the integ-test-zip release used (last 2.x line, runs on Java 17).
	OpenSearchVersion = "2.19.6"
	// EnvOpenSearchURL names a running OpenSearch to reuse, e.g. http://127.0.0.1:9200.
	EnvOpenSearchURL = "SLUICE_OPENSEARCH_URL"
	// openSearchUser runs OpenSearch when we are root (it refuses to run as root).
	openSearchUser = "sluicetest"
	// openSearchHeap keeps the JVM small on shared 2-core machines.
	openSearchHeap      = "-Xms512m -Xmx512m"
	openSearchReadyWait = 5 * time.Minute
	mavenDependencyPlug = "org.apache.maven.plugins:maven-dependency-plugin:3.6.1"
)

// OpenSearch is a single-node OpenSearch without security.
type OpenSearch struct {
	instance
	// URL is the HTTP endpoint, e.g. "http://127.0.0.1:PORT".
	URL string
}

// OpenSearchFor returns the OpenSearch named by SLUICE_OPENSEARCH_URL, or
// starts a private one stopped in t.Cleanup.
func OpenSearchFor(t testing.TB) *OpenSearch {
	t.Helper()
	if u := os.Getenv(EnvOpenSearchURL); u != "" {
		o := &OpenSearch{URL: strings.TrimRight(u, "/")}
		if err := Probe(context.Background(), o.URL+"/_cluster/health"); err != nil {
			t.Fatalf("%s=%s is set but not reachable: %v", EnvOpenSearchURL, u, err)
		}
		return o
	}
	o, err := StartOpenSearch(context.Background(), Options{Logf: t.Logf})
	if err != nil {
		skipOrFail(t, err)
	}
	t.Cleanup(func() { o.stopAfter(t, "opensearch") })
	return o
}

// StartOpenSearch installs (once) and starts an OpenSearch node.
func StartOpenSearch(ctx context.Context, opts Options) (*OpenSearch, error) {
	javaHome, err := findJavaHome("opensearch")
	if err != nil {
		return nil, err
	}
	began := time.Now()
	home, err := installOpenSearch(ctx)
	if err != nil {
		return nil, err
	}
	installTime := time.Since(began)

	runAs := ""
	if os.Geteuid() == 0 {
		if err := ensureUser(openSearchUser); err != nil {
			return nil, err
		}
		runAs = openSearchUser
	}
	runDir, temp, err := makeRunDir(opts.RunDir, "opensearch")
	if err != nil {
		return nil, err
	}
	confDir := filepath.Join(runDir, "config")
	if err := copyDir(filepath.Join(home, "config"), confDir); err != nil {
		return nil, fmt.Errorf("copy opensearch config: %w", err)
	}
	for _, d := range []string{"data", "logs"} {
		if err := os.MkdirAll(filepath.Join(runDir, d), 0o755); err != nil {
			return nil, fmt.Errorf("create opensearch %s dir: %w", d, err)
		}
	}
	if err := relocateJVMFiles(filepath.Join(confDir, "jvm.options"), runDir); err != nil {
		return nil, err
	}
	if runAs != "" {
		if err := chownTree(runDir, runAs); err != nil {
			return nil, err
		}
	}

	start := func(ports []int) (*Process, error) {
		args := []string{
			filepath.Join(home, "bin", "opensearch"),
			"-Ediscovery.type=single-node",
			"-Enetwork.host=127.0.0.1",
			"-Ehttp.port=" + strconv.Itoa(ports[0]),
			"-Etransport.port=" + strconv.Itoa(ports[1]),
			"-Epath.data=" + filepath.Join(runDir, "data"),
			"-Epath.logs=" + filepath.Join(runDir, "logs"),
			"-Ecluster.name=sluice-test",
			"-Ecluster.routing.allocation.disk.threshold_enabled=false",
		}
		var cmd *exec.Cmd
		if runAs != "" {
			cmd = exec.Command("runuser", append([]string{"-u", runAs, "--"}, args...)...)
		} else {
			cmd = exec.Command(args[0], args[1:]...)
		}
		cmd.Dir = runDir // jvm.options writes gc logs and heap dumps relative to it
		cmd.Env = append(os.Environ(),
			"OPENSEARCH_JAVA_HOME="+javaHome,
			"OPENSEARCH_JAVA_OPTS="+openSearchHeap,
			"OPENSEARCH_PATH_CONF="+confDir,
		)
		return StartProcess("opensearch", cmd, filepath.Join(runDir, "server.log"))
	}
	ready := func(ctx context.Context, ports []int) error {
		return openSearchHealthy(ctx, "http://127.0.0.1:"+strconv.Itoa(ports[0]))
	}
	proc, ports, startTime, err := launch(ctx, "opensearch", 2, openSearchReadyWait, start, ready)
	if err != nil {
		return nil, err // run dir kept: its server.log explains the failure
	}
	o := &OpenSearch{
		instance: instance{proc: proc, runDir: runDir, tempRunDir: temp, InstallTime: installTime, StartTime: startTime},
		URL:      "http://127.0.0.1:" + strconv.Itoa(ports[0]),
	}
	opts.logf("opensearch %s at %s: install %s, start %s", OpenSearchVersion, o.URL, installTime.Round(time.Millisecond), startTime.Round(time.Millisecond))
	return o, nil
}

func openSearchHealthy(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/_cluster/health?wait_for_status=yellow&timeout=2s", http.NoBody)
	if err != nil {
		return err
	}
	req.Close = true // no idle keep-alive goroutines left behind
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var health struct {
		Status string `json:"status"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&health); err != nil {
		return fmt.Errorf("decode cluster health (HTTP %d): %w", resp.StatusCode, err)
	}
	if resp.StatusCode != http.StatusOK || (health.Status != "green" && health.Status != "yellow") {
		return fmt.Errorf("cluster health HTTP %d status %q", resp.StatusCode, health.Status)
	}
	return nil
}

// installOpenSearch fetches the integ-test-zip through Maven and unpacks it.
func installOpenSearch(ctx context.Context) (string, error) {
	if _, err := needCommand("opensearch", "mvn", "install Maven, e.g. apt-get install maven"); err != nil {
		return "", err
	}
	cache, err := CacheDir()
	if err != nil {
		return "", err
	}
	name := "opensearch-" + OpenSearchVersion
	dir, err := InstallOnce(cache, name, func(staging string) error {
		dl := filepath.Join(staging, "download")
		err := runMaven(ctx, staging, "-q", "-B", mavenDependencyPlug+":copy",
			"-Dartifact=org.opensearch.distribution.integ-test-zip:opensearch:"+OpenSearchVersion+":zip",
			"-DoutputDirectory="+dl)
		if err != nil {
			return err
		}
		if err := unzip(filepath.Join(dl, name+".zip"), staging); err != nil {
			return err
		}
		return os.RemoveAll(dl)
	})
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, name), nil
}

// relocateJVMFiles points the relative gc log, heap dump and error file paths
// of jvm.options (resolved against the read-only install dir) into runDir.
func relocateJVMFiles(jvmOptions, runDir string) error {
	b, err := os.ReadFile(jvmOptions)
	if err != nil {
		return fmt.Errorf("read jvm.options: %w", err)
	}
	logs, data := filepath.Join(runDir, "logs"), filepath.Join(runDir, "data")
	s := strings.NewReplacer(
		"file=logs/", "file="+logs+"/",
		"-Xloggc:logs/", "-Xloggc:"+logs+"/",
		"-XX:ErrorFile=logs/", "-XX:ErrorFile="+logs+"/",
		"-XX:HeapDumpPath=data", "-XX:HeapDumpPath="+data,
	).Replace(string(b))
	if err := os.WriteFile(jvmOptions, []byte(s), 0o644); err != nil {
		return fmt.Errorf("write jvm.options: %w", err)
	}
	return nil
}

// findJavaHome resolves the JDK OpenSearch and Kafka run on; OpenSearch never
// uses java from PATH, so the home must be explicit.
func findJavaHome(backend string) (string, error) {
	for _, v := range []string{"OPENSEARCH_JAVA_HOME", "JAVA_HOME"} {
		if h := os.Getenv(v); h != "" {
			return h, nil
		}
	}
	java, err := needCommand(backend, "java", "install a JDK 17+, e.g. apt-get install openjdk-17-jdk-headless")
	if err != nil {
		return "", err
	}
	resolved, err := filepath.EvalSymlinks(java)
	if err != nil {
		return "", fmt.Errorf("resolve %s: %w", java, err)
	}
	return filepath.Dir(filepath.Dir(resolved)), nil
}

// ensureUser creates a system user (no login) when it does not exist yet.
func ensureUser(name string) error {
	if _, err := user.Lookup(name); err == nil {
		return nil
	}
	cache, err := CacheDir()
	if err != nil {
		return err
	}
	return withLock(cache, "user-"+name, func() error {
		if _, err := user.Lookup(name); err == nil {
			return nil
		}
		if _, err := needCommand("opensearch", "useradd", "needed to create the non-root user OpenSearch runs as"); err != nil {
			return err
		}
		return runLogged(context.Background(), "", nil, "useradd", "-r", "-M", "-s", "/usr/sbin/nologin", name)
	})
}

func chownTree(root, userName string) error {
	u, err := user.Lookup(userName)
	if err != nil {
		return fmt.Errorf("look up user %s: %w", userName, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return filepath.Walk(root, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
}

func copyDir(src, dst string) error {
	return filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if info.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		return copyFile(p, target, info.Mode().Perm())
	})
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// unzip extracts an archive keeping file modes (bin/ scripts must stay executable).
func unzip(archive, dst string) error {
	r, err := zip.OpenReader(archive)
	if err != nil {
		return fmt.Errorf("open %s: %w", archive, err)
	}
	defer r.Close()
	for _, f := range r.File {
		target := filepath.Join(dst, f.Name)
		if !strings.HasPrefix(target, filepath.Clean(dst)+string(os.PathSeparator)) {
			return fmt.Errorf("zip entry %q escapes the target directory", f.Name)
		}
		if f.FileInfo().IsDir() {
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		if err := extractFile(f, target); err != nil {
			return fmt.Errorf("extract %s: %w", f.Name, err)
		}
	}
	return nil
}

func extractFile(f *zip.File, target string) error {
	rc, err := f.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	mode := f.Mode().Perm() | 0o444 // readable by the unprivileged run user
	out, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, rc); err != nil { //nolint:gosec // trusted archive from Maven Central
		out.Close()
		return err
	}
	return out.Close()
}
