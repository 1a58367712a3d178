package configmap

import (
	"strings"
	"testing"

	"go.uber.org/goleak"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var testSpec = Spec{Name: "x-config", Component: "agent", Source: "configs/x.yaml", Manifest: "deploy/x.yaml"}

// TestRenderRoundTrips: whatever the config's edges look like, the ConfigMap decodes to it exactly.
func TestRenderRoundTrips(t *testing.T) {
	for name, config := range map[string]string{
		"one trailing newline":  "a: 1\nb: ${env:B:-x}\n",
		"no trailing newline":   "a: 1",
		"two trailing newlines": "a: 1\n\n",
		"blank lines inside":    "a: 1\n\n\nb:\n  - c\n",
		"leading space":         "  a: 1\nb: 2\n",
		"comment first":         "# c\n\ta tab inside: x\n",
		"trailing spaces":       "a: 1   \n",
		"whitespace-only line":  "a: 1\n  \nb: 2\n",
	} {
		t.Run(name, func(t *testing.T) {
			out, err := Render(testSpec, []byte(config))
			if err != nil {
				t.Fatal(err)
			}
			var cm corev1.ConfigMap
			if err := yaml.UnmarshalStrict(out, &cm); err != nil {
				t.Fatal(err)
			}
			if cm.Data["x.yaml"] != config || cm.Name != "x-config" || cm.Namespace != Namespace ||
				cm.Labels["app.kubernetes.io/component"] != "agent" {
				t.Errorf("decoded %+v from\n%s", cm, out)
			}
			if !strings.HasPrefix(string(out), "# Code generated") {
				t.Error("no generated-code header")
			}
		})
	}
}

func TestRenderRejects(t *testing.T) {
	for name, config := range map[string]string{
		"empty":            "",
		"only whitespace":  " \n\n",
		"carriage returns": "a: 1\r\nb: 2\r\n",
	} {
		if _, err := Render(testSpec, []byte(config)); err == nil {
			t.Errorf("%s: rendered a config a literal block cannot carry unchanged", name)
		}
	}
}
