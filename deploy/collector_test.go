package deploy

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/sluicelogs/sluice/deploy/internal/k8scheck"
)

// runtimeStandIns replace the environment values only known in a running pod (Secrets, the downward
// API) by plausible ones, so the config can be resolved as the pod would.
var runtimeStandIns = map[string]string{
	"K8S_NODE_NAME":         "node-1",
	"AWS_ACCESS_KEY_ID":     "AKIAEXAMPLE",
	"AWS_SECRET_ACCESS_KEY": "example",
}

func mountedConfigs(t *testing.T, in inputs) []k8scheck.MountedConfig {
	t.Helper()
	var objs []k8scheck.Object
	for name, text := range in.manifests {
		decoded, err := k8scheck.Decode(name, text)
		if err != nil {
			t.Fatal(err)
		}
		objs = append(objs, decoded...)
	}
	report := k8scheck.Check(objs)
	if len(report.Configs) != len(expectedConfigs) {
		t.Fatalf("resolved %d --config arguments, want %d: %v", len(report.Configs), len(expectedConfigs), errors.Join(report.Errors...))
	}
	sort.Slice(report.Configs, func(i, j int) bool { return report.Configs[i].Workload < report.Configs[j].Workload })
	return report.Configs
}

// sluiceValidate runs `sluice validate` on the mounted config with exactly the container's
// environment: the distribution's own check (unknown components, bad values, types after
// ${env:…} expansion) applied to what the pod will run.
func sluiceValidate(t *testing.T, binary string, mc k8scheck.MountedConfig) error {
	t.Helper()
	file := filepath.Join(t.TempDir(), mc.Key)
	if err := os.WriteFile(file, []byte(mc.Data), 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{"PATH=" + os.Getenv("PATH")}
	for name, value := range mc.Env {
		if value == k8scheck.EnvFromRuntime {
			stand, ok := runtimeStandIns[name]
			if !ok {
				t.Fatalf("%s: env %s comes from the pod at run time and has no stand-in value", mc.Workload, name)
			}
			value = stand
		}
		env = append(env, name+"="+value)
	}
	cmd := exec.Command(binary, "validate", "--config", file)
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: sluice validate --config %s: %w\n%s", mc.Workload, mc.Path, err, out)
	}
	return nil
}

// TestManifestConfigsValidate needs bin/sluice, which `make test` builds before running the tests.
func TestManifestConfigsValidate(t *testing.T) {
	binary, err := filepath.Abs(filepath.Join(repoRoot, "bin", "sluice"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(binary); err != nil {
		t.Skipf("%s not built (make build); the ConfigMaps are still compared with configs/ byte for byte", binary)
	}
	configs := mountedConfigs(t, realInputs(t))
	for _, mc := range configs {
		if err := sluiceValidate(t, binary, mc); err != nil {
			t.Error(err)
		}
	}
	// The same run must fail when the environment breaks a config: the agent's TLS switch is a bool.
	agent := configs[0]
	if agent.Workload != "DaemonSet sluice/sluice-agent" {
		t.Fatalf("first config is %s, want the agent's", agent.Workload)
	}
	agent.Env = map[string]string{"SLUICE_GATEWAY_INSECURE": "maybe"}
	err = sluiceValidate(t, binary, agent)
	if err == nil || !strings.Contains(err.Error(), "tls.insecure") {
		t.Errorf("sluice validate accepted SLUICE_GATEWAY_INSECURE=maybe: %v", err)
	}
}
