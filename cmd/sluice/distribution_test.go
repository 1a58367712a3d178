package main

import (
	"bytes"
	"context"
	"go/format"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/provider/envprovider"
	"go.opentelemetry.io/collector/confmap/provider/fileprovider"
	"go.opentelemetry.io/collector/confmap/provider/yamlprovider"
	"go.opentelemetry.io/collector/otelcol"
	"go.yaml.in/yaml/v3"
)

// ourModule is the module path of the components we build ourselves (listed in the manifest with path: .).
const ourModule = "github.com/sluicelogs/sluice"

// repoRoot is where go.mod lives; tests run in cmd/sluice.
const repoRoot = "../.."

// upstreamComponents are the upstream components the distribution promises (issue: distribution).
var upstreamComponents = map[string][]string{
	"receivers":  {"otlp", "file_log", "kafka"},
	"processors": {"batch", "memory_limiter", "transform", "filter", "attributes", "resource_detection", "k8s_attributes"},
	"exporters":  {"otlp_grpc", "otlp_http", "debug", "file", "kafka", "prometheus_remote_write"},
	"extensions": {"file_storage", "health_check", "pprof", "zpages", "basicauth", "bearertokenauth"},
}

func mustFactories(t *testing.T) otelcol.Factories {
	t.Helper()
	f, err := components()
	if err != nil {
		t.Fatalf("components(): %v", err)
	}
	return f
}

func typeNames[F component.Factory](m map[component.Type]F) []string {
	names := make([]string, 0, len(m))
	for typ := range m {
		names = append(names, typ.String())
	}
	sort.Strings(names)
	return names
}

func TestUpstreamComponentsPresent(t *testing.T) {
	f := mustFactories(t)
	have := map[string][]string{
		"receivers":  typeNames(f.Receivers),
		"processors": typeNames(f.Processors),
		"exporters":  typeNames(f.Exporters),
		"extensions": typeNames(f.Extensions),
	}
	for kind, want := range upstreamComponents {
		for _, name := range want {
			found := false
			for _, h := range have[kind] {
				if h == name {
					found = true
					break
				}
			}
			if !found {
				t.Errorf("%s: %q missing from the distribution (have %v)", kind, name, have[kind])
			}
		}
	}
}

// TestEveryFactoryCreatesValidDefaultConfig builds every factory's default configuration and checks its
// structure, so a component that cannot even be configured fails here rather than at `make run`.
func TestEveryFactoryCreatesValidDefaultConfig(t *testing.T) {
	f := mustFactories(t)
	check := func(kind string, typ component.Type, cfg component.Config) {
		t.Helper()
		if cfg == nil {
			t.Errorf("%s %s: CreateDefaultConfig returned nil", kind, typ)
			return
		}
		if err := componenttest.CheckConfigStruct(cfg); err != nil {
			t.Errorf("%s %s: config struct: %v", kind, typ, err)
		}
	}
	for typ, fac := range f.Receivers {
		check("receiver", typ, fac.CreateDefaultConfig())
	}
	for typ, fac := range f.Processors {
		check("processor", typ, fac.CreateDefaultConfig())
	}
	for typ, fac := range f.Exporters {
		check("exporter", typ, fac.CreateDefaultConfig())
	}
	for typ, fac := range f.Extensions {
		check("extension", typ, fac.CreateDefaultConfig())
	}
	for typ, fac := range f.Connectors {
		check("connector", typ, fac.CreateDefaultConfig())
	}
}

type manifestEntry struct {
	GoMod  string `yaml:"gomod"`
	Import string `yaml:"import"`
	Path   string `yaml:"path"`
}

type manifest struct {
	Receivers  []manifestEntry `yaml:"receivers"`
	Processors []manifestEntry `yaml:"processors"`
	Exporters  []manifestEntry `yaml:"exporters"`
	Extensions []manifestEntry `yaml:"extensions"`
	Connectors []manifestEntry `yaml:"connectors"`
}

func readManifest(t *testing.T) manifest {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot, "builder-config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var m manifest
	if err := yaml.Unmarshal(raw, &m); err != nil {
		t.Fatalf("parse builder-config.yaml: %v", err)
	}
	return m
}

// TestOwnComponentsHaveLifecycleTests fails when one of our components is wired into the distribution
// without a lifecycle test (create → start → shutdown, and shutdown without start). Upstream components
// carry their own; ours must too. mdatagen writes TestComponentLifecycle into generated_component_test.go.
func TestOwnComponentsHaveLifecycleTests(t *testing.T) {
	m := readManifest(t)
	var own []string
	for _, list := range [][]manifestEntry{m.Receivers, m.Processors, m.Exporters, m.Extensions, m.Connectors} {
		for _, e := range list {
			if strings.HasPrefix(e.GoMod, ourModule+" ") {
				if e.Import == "" {
					t.Errorf("manifest entry %q for our module needs an import: line", e.GoMod)
					continue
				}
				own = append(own, e.Import)
			}
		}
	}
	for _, imp := range own {
		dir := filepath.Join(repoRoot, strings.TrimPrefix(imp, ourModule+"/"))
		tests, err := filepath.Glob(filepath.Join(dir, "*_test.go"))
		if err != nil || len(tests) == 0 {
			t.Errorf("%s: no test files in %s", imp, dir)
			continue
		}
		found := false
		for _, f := range tests {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(src, []byte("func TestComponentLifecycle(")) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("%s: no TestComponentLifecycle in %s (run `go tool mdatagen metadata.yaml` there)", imp, dir)
		}
	}
}

// TestGeneratedDistributionIsCurrent regenerates cmd/sluice from builder-config.yaml into a temporary
// folder with the pinned ocb and fails when the committed output differs: run `make generate`.
func TestGeneratedDistributionIsCurrent(t *testing.T) {
	if testing.Short() {
		t.Skip("runs ocb; skipped in -short mode")
	}
	raw, err := os.ReadFile(filepath.Join(repoRoot, "builder-config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	var doc map[string]any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	dist, ok := doc["dist"].(map[string]any)
	if !ok {
		t.Fatal("builder-config.yaml has no dist section")
	}
	dist["output_path"] = out
	tmpManifest := filepath.Join(t.TempDir(), "builder-config.yaml")
	rewritten, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tmpManifest, rewritten, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "tool", "builder", "--config", tmpManifest, "--skip-compilation", "--skip-get-modules")
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
		if err != nil {
			t.Errorf("%s is generated by ocb but not committed: run `make generate`", filepath.Base(g))
			continue
		}
		if !bytes.Equal(want, have) {
			t.Errorf("cmd/sluice/%s is stale against builder-config.yaml: run `make generate`", filepath.Base(g))
		}
	}
}

// shippedConfigs lists the files in configs/.
func shippedConfigs(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(repoRoot, "configs", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no configs found: %v", err)
	}
	return files
}

// TestConfigsValidate resolves and validates every file in configs/ the way `sluice validate` does,
// with no environment variables set, so the defaults in ${env:VAR:-default} must be usable.
func TestConfigsValidate(t *testing.T) {
	for _, file := range shippedConfigs(t) {
		t.Run(filepath.Base(file), func(t *testing.T) {
			abs, err := filepath.Abs(file)
			if err != nil {
				t.Fatal(err)
			}
			col, err := otelcol.NewCollector(otelcol.CollectorSettings{
				BuildInfo: component.NewDefaultBuildInfo(),
				Factories: components,
				ConfigProviderSettings: otelcol.ConfigProviderSettings{
					ResolverSettings: confmap.ResolverSettings{
						URIs: []string{"file:" + abs},
						ProviderFactories: []confmap.ProviderFactory{
							envprovider.NewFactory(), fileprovider.NewFactory(), yamlprovider.NewFactory(),
						},
					},
				},
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := col.DryRun(context.Background()); err != nil {
				t.Fatalf("%s: %v", file, err)
			}
		})
	}
}

// TestRawInputIsMasked guards the promise that nothing sensitive leaves for a store unmasked: in every
// shipped config, a pipeline that takes input no Sluice agent has masked (files, _bulk from other
// shippers) runs pii_mask. OTLP and Kafka input on the gateway come from agents, which mask on the node.
func TestRawInputIsMasked(t *testing.T) {
	rawReceivers := map[string]bool{"file_tail": true, "es_bulk": true}
	for _, file := range shippedConfigs(t) {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var cfg struct {
			Service struct {
				Pipelines map[string]struct {
					Receivers  []string `yaml:"receivers"`
					Processors []string `yaml:"processors"`
				} `yaml:"pipelines"`
			} `yaml:"service"`
		}
		if err := yaml.Unmarshal(raw, &cfg); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		checked := 0
		for name, p := range cfg.Service.Pipelines {
			for _, r := range p.Receivers {
				typ, _, _ := strings.Cut(r, "/")
				if !rawReceivers[typ] {
					continue
				}
				checked++
				if !slices.ContainsFunc(p.Processors, func(proc string) bool { return proc == "pii_mask" || strings.HasPrefix(proc, "pii_mask/") }) {
					t.Errorf("%s: pipeline %s receives from %s but has no pii_mask processor (processors: %v)", filepath.Base(file), name, r, p.Processors)
				}
			}
		}
		// Every shipped mode takes files or _bulk input.
		if checked == 0 {
			t.Errorf("%s: no pipeline with file_tail or es_bulk found", filepath.Base(file))
		}
	}
}
