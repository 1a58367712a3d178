package deploy

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/sluicelogs/sluice/deploy/internal/configmap"
	"github.com/sluicelogs/sluice/deploy/internal/envref"
	"github.com/sluicelogs/sluice/deploy/internal/k8scheck"
)

const (
	repoRoot     = ".."
	manifestsDir = "kubernetes/manifests"
	imageRepo    = "ghcr.io/sluicelogs/sluice"
)

// expectedConfigs says which config each workload must run.
var expectedConfigs = map[string]string{
	"DaemonSet sluice/sluice-agent":    "configs/agent.yaml",
	"Deployment sluice/sluice-gateway": "configs/gateway.yaml",
}

// listenSettings ties the listen-address variables of configs/*.yaml to the container port that
// serves them. The configs default to 127.0.0.1, which nothing outside the pod reaches: a declared
// port needs its variable set to 0.0.0.0:<that port>.
var listenSettings = []struct{ env, port string }{
	{"SLUICE_OTLP_GRPC_ENDPOINT", "otlp-grpc"},
	{"SLUICE_OTLP_HTTP_ENDPOINT", "otlp-http"},
	{"SLUICE_ES_BULK_ENDPOINT", "es-bulk"},
	{"SLUICE_HEALTH_ENDPOINT", "health"},
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.FromSlash(name))
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// readManifests returns the manifest files by base name.
func readManifests(t *testing.T) map[string][]byte {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(manifestsDir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in %s (%v)", manifestsDir, err)
	}
	out := map[string][]byte{}
	for _, f := range files {
		out[filepath.Base(f)] = readFile(t, f)
	}
	return out
}

// distVersion is the distribution's version from the ocb manifest; images are tagged with it.
func distVersion(t *testing.T) string {
	t.Helper()
	var manifest struct {
		Dist struct {
			Version string `yaml:"version"`
		} `yaml:"dist"`
	}
	if err := yaml.Unmarshal(readFile(t, repoRoot+"/builder-config.yaml"), &manifest); err != nil {
		t.Fatal(err)
	}
	if manifest.Dist.Version == "" {
		t.Fatal("builder-config.yaml has no dist.version")
	}
	return manifest.Dist.Version
}

// inputs is everything the Kubernetes validation reads, so tests can break any part of it.
type inputs struct {
	manifests map[string][]byte
	configs   map[string][]byte // by repository path, e.g. configs/agent.yaml
	readme    []byte
	version   string
}

func realInputs(t *testing.T) inputs {
	t.Helper()
	in := inputs{
		manifests: readManifests(t),
		configs:   map[string][]byte{},
		readme:    readFile(t, "README.md"),
		version:   distVersion(t),
	}
	for _, src := range expectedConfigs {
		in.configs[src] = readFile(t, path.Join(repoRoot, src))
	}
	return in
}

// validate runs the strict decoding and the generic cross-checks of k8scheck, then what only holds
// for Sluice: which config each workload runs, its environment against that config, listen
// addresses, the state directory, the agent's host mounts, images and documented Secrets.
func validate(in inputs) []error {
	var errs []error
	var objs []k8scheck.Object
	names := make([]string, 0, len(in.manifests))
	for name := range in.manifests {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		decoded, err := k8scheck.Decode(name, in.manifests[name])
		if err != nil {
			errs = append(errs, err)
		}
		objs = append(objs, decoded...)
	}
	report := k8scheck.Check(objs)
	errs = append(errs, report.Errors...)

	found := map[string]bool{}
	for _, mc := range report.Configs {
		src, ok := expectedConfigs[mc.Workload]
		if !ok {
			errs = append(errs, fmt.Errorf("%s runs --config %s, but no config is expected for it", mc.Workload, mc.Path))
			continue
		}
		found[mc.Workload] = true
		errs = append(errs, checkMountedConfig(mc, src, in.configs[src])...)
	}
	for workload, src := range expectedConfigs {
		if !found[workload] {
			errs = append(errs, fmt.Errorf("%s: no container runs --config with %s mounted from a ConfigMap", workload, src))
		}
	}

	for _, o := range objs {
		spec := podSpec(o)
		if spec == nil {
			continue
		}
		if v := o.Meta.GetLabels()["app.kubernetes.io/version"]; v != in.version {
			errs = append(errs, fmt.Errorf("%s: label app.kubernetes.io/version %q, want %q (builder-config.yaml dist.version)", o.ID(), v, in.version))
		}
		for _, ctr := range spec.Containers {
			if want := imageRepo + ":" + in.version; ctr.Image != want {
				errs = append(errs, fmt.Errorf("%s container %s: image %q, want %q", o.ID(), ctr.Name, ctr.Image, want))
			}
			errs = append(errs, checkListenAddresses(o.ID(), ctr)...)
			errs = append(errs, checkStateDir(o.ID(), ctr)...)
		}
		if o.ID() == "DaemonSet sluice/sluice-agent" {
			errs = append(errs, checkAgentHost(o.ID(), spec)...)
		}
	}
	errs = append(errs, checkSecretsDocumented(report.ExternalSecrets, in.readme)...)
	return errs
}

func podSpec(o k8scheck.Object) *corev1.PodSpec {
	switch w := o.Obj.(type) {
	case *appsv1.DaemonSet:
		return &w.Spec.Template.Spec
	case *appsv1.Deployment:
		return &w.Spec.Template.Spec
	case *appsv1.StatefulSet:
		return &w.Spec.Template.Spec
	}
	return nil
}

// checkMountedConfig: the mounted config is configs/<x>.yaml byte for byte (configs/ is validated by
// cmd/sluice's distribution test), and the container's environment matches what that config reads.
func checkMountedConfig(mc k8scheck.MountedConfig, src string, want []byte) []error {
	var errs []error
	where := fmt.Sprintf("%s container %s", mc.Workload, mc.Container)
	if path.Base(src) != mc.Key {
		errs = append(errs, fmt.Errorf("%s: --config %s is ConfigMap %s key %q, want %s", where, mc.Path, mc.ConfigMap, mc.Key, path.Base(src)))
		return errs
	}
	if mc.Data != string(want) {
		errs = append(errs, fmt.Errorf("%s: ConfigMap %s key %s differs from %s: run `go generate ./deploy/...`", where, mc.ConfigMap, mc.Key, src))
	}
	refs := envref.Read(want)
	for name := range mc.Env {
		if !refs.Reads(name) && !envref.ConsumedElsewhere[name] {
			errs = append(errs, fmt.Errorf("%s: env %s is not read by %s (it reads %s)", where, name, src, strings.Join(refs.Names(), ", ")))
		}
	}
	for name := range refs.Required {
		if _, ok := mc.Env[name]; !ok {
			errs = append(errs, fmt.Errorf("%s: %s reads ${env:%s} without a default, and the container does not set it", where, src, name))
		}
	}
	return errs
}

func envValue(ctr corev1.Container, name string) (string, bool) {
	for _, e := range ctr.Env {
		if e.Name == name {
			return e.Value, true
		}
	}
	return "", false
}

func containerPort(ctr corev1.Container, name string) (int32, bool) {
	for _, p := range ctr.Ports {
		if p.Name == name {
			return p.ContainerPort, true
		}
	}
	return 0, false
}

func checkListenAddresses(id string, ctr corev1.Container) []error {
	var errs []error
	where := fmt.Sprintf("%s container %s", id, ctr.Name)
	for _, s := range listenSettings {
		port, declared := containerPort(ctr, s.port)
		value, set := envValue(ctr, s.env)
		switch {
		case declared && !set:
			errs = append(errs, fmt.Errorf("%s: port %s is declared but %s is not set, so the config listens on its 127.0.0.1 default", where, s.port, s.env))
		case declared && value != fmt.Sprintf("0.0.0.0:%d", port):
			errs = append(errs, fmt.Errorf("%s: %s=%q, want 0.0.0.0:%d (port %s)", where, s.env, value, port, s.port))
		case !declared && set:
			errs = append(errs, fmt.Errorf("%s: %s is set but no container port %s serves it", where, s.env, s.port))
		}
	}
	if port, declared := containerPort(ctr, "metrics"); declared {
		host, _ := envValue(ctr, "SLUICE_METRICS_HOST")
		p, _ := envValue(ctr, "SLUICE_METRICS_PORT")
		if host != "0.0.0.0" || p != fmt.Sprint(port) {
			errs = append(errs, fmt.Errorf("%s: metrics port %d needs SLUICE_METRICS_HOST=0.0.0.0 and SLUICE_METRICS_PORT=%d (have %q, %q)", where, port, port, host, p))
		}
	}
	return errs
}

// checkStateDir: with a read-only root filesystem the state directory must be a writable mount.
func checkStateDir(id string, ctr corev1.Container) []error {
	dir, ok := envValue(ctr, "SLUICE_STATE_DIR")
	if !ok {
		return []error{fmt.Errorf("%s container %s: SLUICE_STATE_DIR is not set (the default ./data/… is on the read-only root filesystem)", id, ctr.Name)}
	}
	for _, m := range ctr.VolumeMounts {
		mp := path.Clean(m.MountPath)
		if (dir == mp || strings.HasPrefix(dir, mp+"/")) && !m.ReadOnly {
			return nil
		}
	}
	return []error{fmt.Errorf("%s container %s: SLUICE_STATE_DIR %s is not on a writable volumeMount", id, ctr.Name, dir)}
}

// checkAgentHost: the agent reads the host's pod logs read-only, keeps its state in a host
// directory, knows its node and runs on every node.
func checkAgentHost(id string, spec *corev1.PodSpec) []error {
	var errs []error
	volumes := map[string]corev1.Volume{}
	for _, v := range spec.Volumes {
		volumes[v.Name] = v
	}
	for _, ctr := range spec.Containers {
		where := fmt.Sprintf("%s container %s", id, ctr.Name)
		var logsMounted bool
		state, _ := envValue(ctr, "SLUICE_STATE_DIR")
		var stateOnHost bool
		for _, m := range ctr.VolumeMounts {
			hp := volumes[m.Name].HostPath
			if hp == nil {
				continue
			}
			if hp.Path == "/var/log/pods" && m.MountPath == "/var/log/pods" {
				logsMounted = true
				if !m.ReadOnly {
					errs = append(errs, fmt.Errorf("%s: /var/log/pods must be mounted readOnly", where))
				}
			}
			if m.MountPath == state {
				stateOnHost = hp.Type != nil && *hp.Type == corev1.HostPathDirectoryOrCreate && hp.Path == "/var/lib/sluice-agent"
			}
		}
		if !logsMounted {
			errs = append(errs, fmt.Errorf("%s: hostPath /var/log/pods is not mounted at /var/log/pods", where))
		}
		if include, _ := envValue(ctr, "SLUICE_TAIL_INCLUDE"); !strings.HasPrefix(include, "/var/log/pods/") {
			errs = append(errs, fmt.Errorf("%s: SLUICE_TAIL_INCLUDE %q is not under the mounted /var/log/pods", where, include))
		}
		if !stateOnHost {
			errs = append(errs, fmt.Errorf("%s: SLUICE_STATE_DIR %q is not the hostPath /var/lib/sluice-agent (DirectoryOrCreate)", where, state))
		}
		nodeName := false
		for _, e := range ctr.Env {
			if e.Name == "K8S_NODE_NAME" && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "spec.nodeName" {
				nodeName = true
			}
		}
		if !nodeName {
			errs = append(errs, fmt.Errorf("%s: K8S_NODE_NAME must come from the downward API (spec.nodeName)", where))
		}
	}
	everyTaint := false
	for _, tol := range spec.Tolerations {
		if tol.Operator == corev1.TolerationOpExists && tol.Key == "" && tol.Effect == "" {
			everyTaint = true
		}
	}
	if !everyTaint {
		errs = append(errs, fmt.Errorf("%s: needs a toleration {operator: Exists} to run on every node", id))
	}
	return errs
}

// secretCommand finds `kubectl … create secret generic NAME …` commands (continuation lines joined).
var secretCommand = regexp.MustCompile(`kubectl\s[^\n]*?create secret generic ([a-z0-9.-]+)([^\n]*)`)

var fromLiteral = regexp.MustCompile(`--from-(?:literal|file)=([A-Za-z_][A-Za-z0-9_.-]*)=`)

// checkSecretsDocumented: Secrets the manifests reference but do not define are created by the user,
// so deploy/README.md must show the command, with every key the manifests read.
func checkSecretsDocumented(secrets map[string]map[string]bool, readme []byte) []error {
	joined := strings.ReplaceAll(string(readme), "\\\n", " ")
	documented := map[string]map[string]bool{}
	for _, m := range secretCommand.FindAllStringSubmatch(joined, -1) {
		keys := documented[m[1]]
		if keys == nil {
			keys = map[string]bool{}
			documented[m[1]] = keys
		}
		for _, k := range fromLiteral.FindAllStringSubmatch(m[2], -1) {
			keys[k[1]] = true
		}
	}
	var errs []error
	for name, keys := range secrets {
		have, ok := documented[name]
		if !ok {
			errs = append(errs, fmt.Errorf("Secret %s is referenced but neither defined nor documented: deploy/README.md needs `kubectl -n sluice create secret generic %s …`", name, name))
			continue
		}
		for k := range keys {
			if !have[k] {
				errs = append(errs, fmt.Errorf("Secret %s: key %s is read by the manifests but the README's create command has no --from-literal=%s=", name, k, k))
			}
		}
	}
	return errs
}

func TestKubernetesManifests(t *testing.T) {
	if err := errors.Join(validate(realInputs(t))...); err != nil {
		t.Fatalf("deploy/kubernetes:\n%v", err)
	}
}

// TestBrokenKubernetesManifestsAreRejected breaks the real manifests one way at a time: each break
// must be reported, which shows the checks above can fail.
func TestBrokenKubernetesManifestsAreRejected(t *testing.T) {
	tests := []struct {
		name, file, old, new, want string
	}{
		{"unknown field", "20-agent.yaml", "imagePullPolicy: IfNotPresent", "imagePullPolicy: IfNotPresent\n          hostNetwork: true", `unknown field "spec.template.spec.containers[0].hostNetwork"`},
		{"wrong type", "30-gateway.yaml", "replicas: 2", "replicas: two", "replicas"},
		{"typo'd volume name", "30-gateway.yaml", "- name: state\n              mountPath", "- name: sate\n              mountPath", `volumeMount "sate" names no volume`},
		{"mismatched selector", "30-gateway.yaml", "  selector:\n    matchLabels:\n      app.kubernetes.io/name: sluice\n      app.kubernetes.io/component: gateway\n  strategy", "  selector:\n    matchLabels:\n      app.kubernetes.io/name: sluice\n      app.kubernetes.io/component: gatewy\n  strategy", "does not match the pod template's labels"},
		{"service port not declared", "30-gateway.yaml", "targetPort: es-bulk", "targetPort: esbulk", "targetPort esbulk is not a container port"},
		{"missing ConfigMap", "30-gateway.yaml", "name: sluice-gateway-settings\n          env:", "name: sluice-gateway-setting\n          env:", `ConfigMap "sluice-gateway-setting" is not defined`},
		{"agent runs the gateway config", "20-agent.yaml", `"/etc/sluice/agent.yaml"`, `"/etc/sluice/gateway.yaml"`, `ConfigMap "sluice-agent-config" has no key "gateway.yaml"`},
		{"env var the config does not read", "20-agent.yaml", "name: SLUICE_GATEWAY_INSECURE", "name: SLUICE_GATEWAY_TLS_INSECURE", "env SLUICE_GATEWAY_TLS_INSECURE is not read by configs/agent.yaml"},
		{"listening on loopback", "20-agent.yaml", "value: 0.0.0.0:13133", "value: 127.0.0.1:13133", `SLUICE_HEALTH_ENDPOINT="127.0.0.1:13133", want 0.0.0.0:13133`},
		{"state dir on the read-only root", "30-gateway.yaml", "value: /var/lib/sluice\n", "value: /data\n", "SLUICE_STATE_DIR /data is not on a writable volumeMount"},
		{"pod logs writable", "20-agent.yaml", "mountPath: /var/log/pods\n              readOnly: true", "mountPath: /var/log/pods", "/var/log/pods must be mounted readOnly"},
		{"agent not on tainted nodes", "20-agent.yaml", "- operator: Exists", "- key: dedicated\n          operator: Exists", "needs a toleration {operator: Exists}"},
		{"undocumented Secret", "30-gateway.yaml", "name: sluice-s3-credentials\n                  key: AWS_SECRET_ACCESS_KEY", "name: sluice-s3-secret\n                  key: AWS_SECRET_ACCESS_KEY", "Secret sluice-s3-secret is referenced but neither defined nor documented"},
		{"image tag not the release", "30-gateway.yaml", "image: ghcr.io/sluicelogs/sluice:0.1.0", "image: ghcr.io/sluicelogs/sluice:latest", `image "ghcr.io/sluicelogs/sluice:latest"`},
		{"stale ConfigMap", "10-agent-config.yaml", "start_at: end", "start_at: beginning", "differs from configs/agent.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := realInputs(t)
			in.manifests[tt.file] = mutateOnce(t, tt.file, in.manifests[tt.file], tt.old, tt.new)
			err := errors.Join(validate(in)...)
			if err == nil {
				t.Fatalf("accepted; want an error containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error does not contain %q:\n%v", tt.want, err)
			}
		})
	}
}

func TestSecretDocumentationCheck(t *testing.T) {
	secrets := map[string]map[string]bool{"creds": {"A": true, "B": true}}
	readme := []byte("```sh\nkubectl -n sluice create secret generic creds \\\n  --from-literal=A=x \\\n  --from-literal=B=y\n```\n")
	if errs := checkSecretsDocumented(secrets, readme); len(errs) != 0 {
		t.Errorf("documented Secret rejected: %v", errs)
	}
	missingKey := bytes.Replace(readme, []byte("--from-literal=B=y"), nil, 1)
	if err := errors.Join(checkSecretsDocumented(secrets, missingKey)...); err == nil || !strings.Contains(err.Error(), "key B") {
		t.Errorf("missing key: err = %v", err)
	}
	if err := errors.Join(checkSecretsDocumented(secrets, []byte("no commands here"))...); err == nil {
		t.Error("undocumented Secret accepted")
	}
}

// TestConfigMapsAreCurrent regenerates the config ConfigMaps and compares them with the committed
// files: run `go generate ./deploy/...` after editing configs/.
func TestConfigMapsAreCurrent(t *testing.T) {
	for _, spec := range configmap.Specs {
		want, err := configmap.Render(spec, readFile(t, path.Join(repoRoot, spec.Source)))
		if err != nil {
			t.Fatal(err)
		}
		have := readFile(t, path.Join(repoRoot, spec.Manifest))
		if !bytes.Equal(have, want) {
			t.Errorf("%s is stale against %s: run `go generate ./deploy/...`", spec.Manifest, spec.Source)
		}
	}
}

// TestKustomizationListsEveryManifest keeps `kubectl apply -k deploy/kubernetes` and
// `kubectl apply -f deploy/kubernetes/manifests/` equivalent.
func TestKustomizationListsEveryManifest(t *testing.T) {
	var k struct {
		APIVersion string   `json:"apiVersion"`
		Kind       string   `json:"kind"`
		Resources  []string `json:"resources"`
	}
	if err := sigsyaml.UnmarshalStrict(readFile(t, "kubernetes/kustomization.yaml"), &k); err != nil {
		t.Fatalf("kustomization.yaml: %v", err)
	}
	if k.APIVersion != "kustomize.config.k8s.io/v1beta1" || k.Kind != "Kustomization" {
		t.Errorf("kustomization.yaml is %s %s", k.APIVersion, k.Kind)
	}
	var want []string
	for name := range readManifests(t) {
		want = append(want, "manifests/"+name)
	}
	sort.Strings(want)
	got := append([]string(nil), k.Resources...)
	sort.Strings(got)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("kustomization.yaml resources = %v, want every file of %s: %v", k.Resources, manifestsDir, want)
	}
}
