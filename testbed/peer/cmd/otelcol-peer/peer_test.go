package main

import (
	"bytes"
	"go/format"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/component"
	"go.uber.org/goleak"
	"go.yaml.in/yaml/v3"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// repoRoot is where go.mod lives; tests run in testbed/peer/cmd/otelcol-peer.
const repoRoot = "../../../.."

// peerComponents are what the side-by-side scenarios rely on.
var peerComponents = map[string][]string{
	"receivers":  {"otlp", "file_log"},
	"processors": {"batch", "memory_limiter", "redaction", "tail_sampling"},
	"exporters":  {"otlp_grpc", "otlp_http", "debug", "file"},
	"connectors": {"count"},
}

func names[F component.Factory](m map[component.Type]F) []string {
	out := make([]string, 0, len(m))
	for typ := range m {
		out = append(out, typ.String())
	}
	sort.Strings(out)
	return out
}

func TestPeerComponentsPresent(t *testing.T) {
	f, err := components()
	if err != nil {
		t.Fatal(err)
	}
	have := map[string][]string{
		"receivers": names(f.Receivers), "processors": names(f.Processors),
		"exporters": names(f.Exporters), "connectors": names(f.Connectors),
	}
	for kind, want := range peerComponents {
		for _, n := range want {
			if !strings.Contains(" "+strings.Join(have[kind], " ")+" ", " "+n+" ") {
				t.Errorf("%s: %q missing from otelcol-peer (have %v)", kind, n, have[kind])
			}
		}
	}
	for typ := range f.Receivers {
		if strings.HasPrefix(f.ReceiverModules[typ], "github.com/sluicelogs/") {
			t.Errorf("receiver %s comes from our module; the peer must be contrib-only", typ)
		}
	}
}

// TestGeneratedPeerIsCurrent regenerates the peer from its manifest with the
// pinned ocb into a temporary folder and compares with the committed files.
func TestGeneratedPeerIsCurrent(t *testing.T) {
	if testing.Short() {
		t.Skip("runs ocb")
	}
	raw, err := os.ReadFile(filepath.Join(repoRoot, "testbed", "peer", "builder-config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	dist, ok := doc["dist"].(map[string]any)
	if !ok {
		t.Fatal("testbed/peer/builder-config.yaml has no dist section")
	}
	out := t.TempDir()
	dist["output_path"] = out
	manifest := filepath.Join(t.TempDir(), "builder-config.yaml")
	rewritten, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(manifest, rewritten, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "tool", "builder", "--config", manifest, "--skip-compilation", "--skip-get-modules")
	cmd.Dir = repoRoot
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ocb: %v\n%s", err, b)
	}
	generated, err := filepath.Glob(filepath.Join(out, "*.go"))
	if err != nil || len(generated) == 0 {
		t.Fatalf("ocb wrote no Go files into %s", out)
	}
	for _, g := range generated {
		raw, err := os.ReadFile(g)
		if err != nil {
			t.Fatal(err)
		}
		// The committed files are gofmt-ed (make generate runs go fmt on them).
		want, err := format.Source(raw)
		if err != nil {
			t.Fatalf("format %s: %v", g, err)
		}
		have, err := os.ReadFile(filepath.Base(g))
		if err != nil || !bytes.Equal(want, have) {
			t.Errorf("testbed/peer/cmd/otelcol-peer/%s is stale: run `.tools/builder --config testbed/peer/builder-config.yaml --skip-compilation --skip-get-modules` (or go tool builder)", filepath.Base(g))
		}
	}
}
