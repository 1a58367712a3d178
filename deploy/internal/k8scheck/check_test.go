package k8scheck

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func readValid(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile("testdata/valid.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

// run decodes and checks a manifest text, returning every problem as one error.
func run(t *testing.T, text string) (Report, error) {
	t.Helper()
	objs, err := Decode("test.yaml", []byte(text))
	if err != nil {
		return Report{}, err
	}
	r := Check(objs)
	return r, errors.Join(r.Errors...)
}

func TestValidSetPasses(t *testing.T) {
	r, err := run(t, readValid(t))
	if err != nil {
		t.Fatalf("valid fixture rejected:\n%v", err)
	}
	if len(r.Configs) != 1 {
		t.Fatalf("Configs = %+v, want the one --config of the Deployment", r.Configs)
	}
	got := r.Configs[0]
	if got.Workload != "Deployment demo/demo" || got.Container != "app" || got.ConfigMap != "demo-config" ||
		got.Key != "app.yaml" || got.Data != "listen: ${env:LISTEN:-127.0.0.1:8080}\n" {
		t.Errorf("resolved config = %+v", got)
	}
	wantEnv := map[string]string{"LISTEN": "0.0.0.0:8080", "NODE": EnvFromRuntime, "TOKEN": EnvFromRuntime, "REGION": "eu-west-1"}
	if !reflect.DeepEqual(got.Env, wantEnv) {
		t.Errorf("Env = %v, want %v", got.Env, wantEnv)
	}
	wantSecrets := map[string]map[string]bool{"demo-token": {"token": true}}
	if !reflect.DeepEqual(r.ExternalSecrets, wantSecrets) {
		t.Errorf("ExternalSecrets = %v, want %v", r.ExternalSecrets, wantSecrets)
	}
}

// TestBrokenSetsAreRejected breaks the valid fixture one way at a time; each must be reported.
func TestBrokenSetsAreRejected(t *testing.T) {
	tests := []struct {
		name     string
		old, new string
		want     string
	}{
		// Strict decoding into the API types.
		{"unknown field", "image: example.org/demo:1\n", "image: example.org/demo:1\n          imagePulPolicy: Always\n", `unknown field "spec.template.spec.containers[0].imagePulPolicy"`},
		{"wrong type", "replicas: 2", `replicas: "two"`, "replicas"},
		{"field in the wrong case", "containerPort: 8081", "ContainerPort: 8081", `unknown field "spec.template.spec.containers[0].ports[1].ContainerPort"`},
		{"duplicate field", "  minAvailable: 1\n", "  minAvailable: 1\n  minAvailable: 2\n", `"minAvailable" already set`},
		{"unknown kind", "kind: PodDisruptionBudget", "kind: PodDisruptionBudgt", `no kind "PodDisruptionBudgt" is registered`},
		{"missing kind", "apiVersion: v1\nkind: ServiceAccount\n", "apiVersion: v1\n", "Object 'Kind' is missing"},
		// Selectors.
		{"workload selector does not match its pods", "matchLabels:\n      app: demo\n  template", "matchLabels:\n      app: dem0\n  template", `spec.selector "app=dem0" does not match the pod template's labels`},
		{"service selects nothing", "selector:\n    app: demo\n  ports", "selector:\n    app: web\n  ports", "selects no pod template"},
		{"pdb selects nothing", "  minAvailable: 1\n  selector:\n    matchLabels:\n      app: demo\n", "  minAvailable: 1\n  selector:\n    matchLabels:\n      app: api\n", `PodDisruptionBudget demo/demo): spec.selector "app=api" selects no pod template`},
		{"spread selector misses own pods", "labelSelector:\n            matchLabels:\n              app: demo", "labelSelector:\n            matchLabels:\n              app: other", "topologySpreadConstraints[0].labelSelector does not select"},
		// Volumes.
		{"typo'd volume name", "- name: state\n              mountPath", "- name: stat\n              mountPath", `volumeMount "stat" names no volume of the pod (volumes: config, state)`},
		{"unused volume", "emptyDir: {}\n", "emptyDir: {}\n        - name: extra\n          emptyDir: {}\n", `volume "extra" is declared but no container mounts it`},
		// References.
		{"missing ConfigMap volume", "configMap:\n            name: demo-config", "configMap:\n            name: demo-conf", `volume config: ConfigMap "demo-conf" is not defined`},
		{"missing envFrom ConfigMap", "name: demo-settings\n          env:", "name: demo-setings\n          env:", `envFrom: ConfigMap "demo-setings" is not defined`},
		{"missing ServiceAccount", "serviceAccountName: demo", "serviceAccountName: demo-sa", `serviceAccountName "demo-sa": no such ServiceAccount`},
		{"missing Namespace", "kind: Namespace\nmetadata:\n  name: demo", "kind: Namespace\nmetadata:\n  name: prod", `namespace "demo" is not defined`},
		{"namespaced object without namespace", "name: demo\n  namespace: demo\n---\napiVersion: apps/v1", "name: demo\n---\napiVersion: apps/v1", "metadata.namespace is empty"},
		{"object defined twice", "metadata:\n  name: demo-settings\n", "metadata:\n  name: demo-config\n", "defined twice"},
		{"bad downward field", "fieldPath: spec.nodeName", "fieldPath: spec.node", `fieldRef.fieldPath "spec.node" is not a downward-API field`},
		// Ports.
		{"service targetPort name", "targetPort: http", "targetPort: htp", "targetPort htp is not a container port of Deployment demo/demo"},
		{"service default targetPort", "port: 8081\n---", "port: 8082\n---", "targetPort 8082 is not a container port"},
		{"probe named port", "path: /\n              port: health", "path: /\n              port: healthz", `livenessProbe.httpGet: port "healthz" is not a named port`},
		{"probe port number", "port: 8080\n          resources", "port: 9090\n          resources", "readinessProbe.tcpSocket: port 9090 is not declared"},
		{"port name too long", "- name: health\n              containerPort", "- name: health-endpoints\n              containerPort", `port name "health-endpoints"`},
		// The mounted config.
		{"--config outside every mount", `"/etc/demo/app.yaml"`, `"/etc/app/app.yaml"`, "--config /etc/app/app.yaml is not inside any volumeMount"},
		{"--config names a missing key", `"/etc/demo/app.yaml"`, `"/etc/demo/main.yaml"`, `ConfigMap "demo-config" has no key "main.yaml"`},
		{"--config inside a non-ConfigMap mount", `"/etc/demo/app.yaml"`, `"/var/lib/demo/app.yaml"`, `inside volumeMount "state", which is not a ConfigMap volume`},
		// Policy.
		{"missing memory limit", "cpu: \"1\"\n              memory: 128Mi", "cpu: \"1\"", "resources.limits.memory is not set"},
		{"request above limit", "memory: 64Mi", "memory: 256Mi", "resources.requests.memory 256Mi exceeds the limit 128Mi"},
		{"writable root filesystem", "readOnlyRootFilesystem: true", "readOnlyRootFilesystem: false", "readOnlyRootFilesystem must be true"},
		{"pdb blocks evictions", "minAvailable: 1", "minAvailable: 2", "blocks every voluntary eviction"},
		// Names.
		{"bad label value", "tier: web", `tier: "web app"`, `spec.template.metadata.labels["tier"] value "web app"`},
		{"bad env name", "- name: LISTEN", "- name: 1LISTEN", `"1LISTEN"`},
	}
	valid := readValid(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if n := strings.Count(valid, tt.old); n != 1 {
				t.Fatalf("the fixture holds %q %d times; the mutation must hit exactly once", tt.old, n)
			}
			_, err := run(t, strings.Replace(valid, tt.old, tt.new, 1))
			if err == nil {
				t.Fatalf("accepted; want an error containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error does not contain %q:\n%v", tt.want, err)
			}
		})
	}
}

func TestSecretsDefinedOrOptionalAreNotExternal(t *testing.T) {
	valid := readValid(t)
	withSecret := valid + "---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: demo-token\n  namespace: demo\nstringData:\n  token: x\n"
	r, err := run(t, withSecret)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.ExternalSecrets) != 0 {
		t.Errorf("ExternalSecrets = %v, want none once the Secret is in the set", r.ExternalSecrets)
	}
	_, err = run(t, strings.Replace(withSecret, "  token: x\n", "  other: x\n", 1))
	if err == nil || !strings.Contains(err.Error(), `Secret "demo-token" has no key "token"`) {
		t.Errorf("missing key of a defined Secret: err = %v", err)
	}
	optional := strings.Replace(valid, "key: token\n", "key: token\n                  optional: true\n", 1)
	r, err = run(t, optional)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.ExternalSecrets) != 0 {
		t.Errorf("ExternalSecrets = %v, want none for an optional reference", r.ExternalSecrets)
	}
}

func TestDecode(t *testing.T) {
	objs, err := Decode("x.yaml", []byte("# only a comment\n---\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n---\n# trailing comment\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 1 || objs[0].ID() != "Namespace a" || !strings.HasPrefix(objs[0].Source, "x.yaml#") {
		t.Fatalf("objs = %+v", objs)
	}
	for name, text := range map[string]string{
		"not YAML":      "apiVersion: v1\nkind: [Namespace\n",
		"not a mapping": "- a\n- b\n",
	} {
		if _, err := Decode("x.yaml", []byte(text)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
