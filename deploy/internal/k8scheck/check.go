package k8scheck

import (
	"fmt"
	"path"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Report is the outcome of Check.
type Report struct {
	// Errors lists every problem found; empty means the set passed.
	Errors []error
	// Configs are the collector configs the containers' `--config` arguments resolve to.
	Configs []MountedConfig
	// ExternalSecrets are Secrets referenced but not defined in the set (name → keys referenced; a
	// whole-Secret reference such as envFrom adds no key). The caller decides whether they are
	// documented as created by the user.
	ExternalSecrets map[string]map[string]bool
}

// MountedConfig is a `--config` argument resolved to the ConfigMap key mounted at that path.
type MountedConfig struct {
	// Workload is the owning object's ID, e.g. "DaemonSet sluice/sluice-agent".
	Workload string
	// Container is the container's name.
	Container string
	// Path is the argument's value.
	Path string
	// ConfigMap and Key name the mounted data.
	ConfigMap, Key string
	// Data is the config text.
	Data string
	// Env is the container's environment: name → value. Values that only exist at run time (Secrets,
	// the downward API) are EnvFromRuntime.
	Env map[string]string
}

// EnvFromRuntime stands for an environment value known only at run time (a Secret, the downward API).
const EnvFromRuntime = "<runtime>"

// clusterScoped are the kinds that take no namespace.
var clusterScoped = map[string]bool{
	"Namespace": true, "ClusterRole": true, "ClusterRoleBinding": true, "PersistentVolume": true,
	"PriorityClass": true, "StorageClass": true,
}

// downwardFields are the fieldRef paths the API accepts for environment variables (besides
// metadata.labels['…'] and metadata.annotations['…']).
var downwardFields = map[string]bool{
	"metadata.name": true, "metadata.namespace": true, "metadata.uid": true, "spec.nodeName": true,
	"spec.serviceAccountName": true, "status.hostIP": true, "status.hostIPs": true, "status.podIP": true,
	"status.podIPs": true,
}

type checker struct {
	objs   []Object
	byKey  map[string]Object // kind/namespace/name
	report Report
}

// workload is an object that runs pods.
type workload struct {
	obj      Object
	selector *metav1.LabelSelector
	template *corev1.PodTemplateSpec
	replicas *int32 // nil for DaemonSets
}

// Check cross-checks a decoded manifest set. Besides consistency it applies Sluice's policy for
// every container, which the API itself does not require: CPU and memory requests and limits
// (request ≤ limit), a read-only root filesystem and no privilege escalation.
func Check(objs []Object) Report {
	c := &checker{objs: objs, byKey: map[string]Object{}}
	c.report.ExternalSecrets = map[string]map[string]bool{}
	for _, o := range objs {
		c.checkMeta(o)
	}
	for _, o := range objs {
		c.checkNamespace(o)
	}
	workloads := c.workloads()
	for _, w := range workloads {
		c.checkWorkload(w)
	}
	for _, o := range objs {
		switch obj := o.Obj.(type) {
		case *corev1.Service:
			c.checkService(o, obj, workloads)
		case *policyv1.PodDisruptionBudget:
			c.checkPDB(o, obj, workloads)
		case *corev1.ConfigMap:
			for key := range obj.Data {
				c.keyName(o, key)
			}
			for key := range obj.BinaryData {
				c.keyName(o, key)
			}
		case *corev1.Secret:
			for key := range obj.Data {
				c.keyName(o, key)
			}
			for key := range obj.StringData {
				c.keyName(o, key)
			}
		}
	}
	return c.report
}

func (c *checker) errorf(o Object, format string, args ...any) {
	c.report.Errors = append(c.report.Errors, fmt.Errorf("%s (%s): %s", o.Source, o.ID(), fmt.Sprintf(format, args...)))
}

func key(kind, namespace, name string) string { return kind + "/" + namespace + "/" + name }

func (c *checker) lookup(kind, namespace, name string) (Object, bool) {
	o, ok := c.byKey[key(kind, namespace, name)]
	return o, ok
}

func (c *checker) keyName(o Object, k string) {
	for _, msg := range validation.IsConfigMapKey(k) {
		c.errorf(o, "data key %q: %s", k, msg)
	}
}

// checkMeta checks names, namespaces, labels and duplicates. It runs over the whole set first, so
// later checks can look objects up.
func (c *checker) checkMeta(o Object) {
	name, ns := o.Meta.GetName(), o.Meta.GetNamespace()
	var msgs []string
	switch o.Kind {
	case "Namespace":
		msgs = validation.IsDNS1123Label(name)
	case "Service":
		msgs = validation.IsDNS1035Label(name)
	default:
		msgs = validation.IsDNS1123Subdomain(name)
	}
	for _, msg := range msgs {
		c.errorf(o, "metadata.name %q: %s", name, msg)
	}
	k := key(o.Kind, ns, name)
	if prev, dup := c.byKey[k]; dup {
		c.errorf(o, "defined twice (also in %s)", prev.Source)
	} else {
		c.byKey[k] = o
	}
	c.checkLabels(o, "metadata.labels", o.Meta.GetLabels())
	if clusterScoped[o.Kind] && ns != "" {
		c.errorf(o, "metadata.namespace is set on a cluster-scoped kind")
	}
}

func (c *checker) checkLabels(o Object, field string, set map[string]string) {
	for k, v := range set {
		for _, msg := range validation.IsQualifiedName(k) {
			c.errorf(o, "%s key %q: %s", field, k, msg)
		}
		for _, msg := range validation.IsValidLabelValue(v) {
			c.errorf(o, "%s[%q] value %q: %s", field, k, v, msg)
		}
	}
}

// checkNamespace requires every namespaced object to name a Namespace of the set: an object without
// one would land in whatever namespace the kubectl context has.
func (c *checker) checkNamespace(o Object) {
	if clusterScoped[o.Kind] {
		return
	}
	ns := o.Meta.GetNamespace()
	if ns == "" {
		c.errorf(o, "metadata.namespace is empty: the object would land in the kubectl context's namespace")
	} else if _, ok := c.lookup("Namespace", "", ns); !ok {
		c.errorf(o, "namespace %q is not defined in the manifest set", ns)
	}
}

func (c *checker) workloads() []workload {
	var out []workload
	for _, o := range c.objs {
		switch obj := o.Obj.(type) {
		case *appsv1.Deployment:
			out = append(out, workload{o, obj.Spec.Selector, &obj.Spec.Template, obj.Spec.Replicas})
		case *appsv1.DaemonSet:
			out = append(out, workload{o, obj.Spec.Selector, &obj.Spec.Template, nil})
		case *appsv1.StatefulSet:
			out = append(out, workload{o, obj.Spec.Selector, &obj.Spec.Template, obj.Spec.Replicas})
		}
	}
	return out
}

func (c *checker) checkWorkload(w workload) {
	o := w.obj
	c.checkLabels(o, "spec.template.metadata.labels", w.template.Labels)
	switch sel, err := metav1.LabelSelectorAsSelector(w.selector); {
	case w.selector == nil:
		c.errorf(o, "spec.selector is missing")
	case err != nil:
		c.errorf(o, "spec.selector: %v", err)
	case sel.Empty():
		c.errorf(o, "spec.selector is empty: it would select every pod in the namespace")
	case !sel.Matches(labels.Set(w.template.Labels)):
		c.errorf(o, "spec.selector %q does not match the pod template's labels %v", sel, w.template.Labels)
	}
	for i, tsc := range w.template.Spec.TopologySpreadConstraints {
		sel, err := metav1.LabelSelectorAsSelector(tsc.LabelSelector)
		if err != nil || tsc.LabelSelector == nil || !sel.Matches(labels.Set(w.template.Labels)) {
			c.errorf(o, "topologySpreadConstraints[%d].labelSelector does not select this workload's own pods, so it spreads nothing", i)
		}
	}
	c.checkPodSpec(o, &w.template.Spec)
}

func (c *checker) checkPodSpec(o Object, spec *corev1.PodSpec) {
	ns := o.Meta.GetNamespace()
	if sa := spec.ServiceAccountName; sa != "" && sa != "default" {
		if _, ok := c.lookup("ServiceAccount", ns, sa); !ok {
			c.errorf(o, "serviceAccountName %q: no such ServiceAccount in namespace %q", sa, ns)
		}
	}
	volumes := map[string]*corev1.Volume{}
	used := map[string]bool{}
	for i := range spec.Volumes {
		v := &spec.Volumes[i]
		if _, dup := volumes[v.Name]; dup {
			c.errorf(o, "volume %q declared twice", v.Name)
		}
		volumes[v.Name] = v
		c.checkVolume(o, v)
	}
	containers := append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...)
	names := map[string]bool{}
	for i := range containers {
		ctr := &containers[i]
		if names[ctr.Name] {
			c.errorf(o, "container name %q used twice", ctr.Name)
		}
		names[ctr.Name] = true
		c.checkContainer(o, spec, ctr, volumes, used)
	}
	for name := range volumes {
		if !used[name] {
			c.errorf(o, "volume %q is declared but no container mounts it", name)
		}
	}
}

func (c *checker) checkVolume(o Object, v *corev1.Volume) {
	ns := o.Meta.GetNamespace()
	switch {
	case v.ConfigMap != nil:
		c.configMapRef(o, "volume "+v.Name, v.ConfigMap.Name, itemKeys(v.ConfigMap.Items), v.ConfigMap.Optional)
	case v.Secret != nil:
		c.secretRef(o, "volume "+v.Name, v.Secret.SecretName, itemKeys(v.Secret.Items), v.Secret.Optional)
	case v.HostPath != nil:
		if !path.IsAbs(v.HostPath.Path) {
			c.errorf(o, "volume %q: hostPath.path %q is not absolute", v.Name, v.HostPath.Path)
		}
	case v.PersistentVolumeClaim != nil:
		if _, ok := c.lookup("PersistentVolumeClaim", ns, v.PersistentVolumeClaim.ClaimName); !ok {
			c.errorf(o, "volume %q: PersistentVolumeClaim %q is not defined", v.Name, v.PersistentVolumeClaim.ClaimName)
		}
	}
}

func itemKeys(items []corev1.KeyToPath) []string {
	keys := make([]string, 0, len(items))
	for _, it := range items {
		keys = append(keys, it.Key)
	}
	return keys
}

func (c *checker) configMapRef(o Object, what, name string, keys []string, optional *bool) {
	cmObj, ok := c.lookup("ConfigMap", o.Meta.GetNamespace(), name)
	if !ok {
		if optional == nil || !*optional {
			c.errorf(o, "%s: ConfigMap %q is not defined in the manifest set", what, name)
		}
		return
	}
	cm := cmObj.Obj.(*corev1.ConfigMap)
	for _, k := range keys {
		_, inData := cm.Data[k]
		_, inBinary := cm.BinaryData[k]
		if !inData && !inBinary {
			c.errorf(o, "%s: ConfigMap %q has no key %q", what, name, k)
		}
	}
}

func (c *checker) secretRef(o Object, what, name string, keys []string, optional *bool) {
	if name == "" {
		c.errorf(o, "%s: Secret name is empty", what)
		return
	}
	if sObj, ok := c.lookup("Secret", o.Meta.GetNamespace(), name); ok {
		s := sObj.Obj.(*corev1.Secret)
		for _, k := range keys {
			_, inData := s.Data[k]
			_, inString := s.StringData[k]
			if !inData && !inString {
				c.errorf(o, "%s: Secret %q has no key %q", what, name, k)
			}
		}
		return
	}
	if optional != nil && *optional {
		return
	}
	ext := c.report.ExternalSecrets[name]
	if ext == nil {
		ext = map[string]bool{}
		c.report.ExternalSecrets[name] = ext
	}
	for _, k := range keys {
		ext[k] = true
	}
}

func (c *checker) checkContainer(o Object, spec *corev1.PodSpec, ctr *corev1.Container, volumes map[string]*corev1.Volume, used map[string]bool) {
	where := "container " + ctr.Name
	for _, msg := range validation.IsDNS1123Label(ctr.Name) {
		c.errorf(o, "%s: name: %s", where, msg)
	}
	if strings.TrimSpace(ctr.Image) == "" {
		c.errorf(o, "%s: image is empty", where)
	}
	portNames := map[string]bool{}
	portNumbers := map[int32]bool{}
	for _, p := range ctr.Ports {
		if p.ContainerPort < 1 || p.ContainerPort > 65535 {
			c.errorf(o, "%s: containerPort %d is outside 1-65535", where, p.ContainerPort)
		}
		if portNumbers[p.ContainerPort] {
			c.errorf(o, "%s: containerPort %d declared twice", where, p.ContainerPort)
		}
		portNumbers[p.ContainerPort] = true
		if p.Name != "" {
			for _, msg := range validation.IsValidPortName(p.Name) {
				c.errorf(o, "%s: port name %q: %s", where, p.Name, msg)
			}
			if portNames[p.Name] {
				c.errorf(o, "%s: port name %q declared twice", where, p.Name)
			}
			portNames[p.Name] = true
		}
	}

	mountPaths := map[string]bool{}
	for _, m := range ctr.VolumeMounts {
		if volumes[m.Name] == nil {
			c.errorf(o, "%s: volumeMount %q names no volume of the pod (volumes: %s)", where, m.Name, volumeNames(volumes))
			continue
		}
		used[m.Name] = true
		if !path.IsAbs(m.MountPath) {
			c.errorf(o, "%s: mountPath %q is not absolute", where, m.MountPath)
		}
		if mountPaths[m.MountPath] {
			c.errorf(o, "%s: mountPath %q used twice", where, m.MountPath)
		}
		mountPaths[m.MountPath] = true
	}

	env := c.checkEnv(o, where, spec, ctr)

	for _, probe := range []struct {
		name string
		p    *corev1.Probe
	}{{"livenessProbe", ctr.LivenessProbe}, {"readinessProbe", ctr.ReadinessProbe}, {"startupProbe", ctr.StartupProbe}} {
		if probe.p == nil {
			continue
		}
		h := probe.p.ProbeHandler
		switch {
		case h.HTTPGet != nil:
			c.probePort(o, where+" "+probe.name+".httpGet", h.HTTPGet.Port, portNames, portNumbers)
		case h.TCPSocket != nil:
			c.probePort(o, where+" "+probe.name+".tcpSocket", h.TCPSocket.Port, portNames, portNumbers)
		case h.GRPC != nil:
			c.probePort(o, where+" "+probe.name+".grpc", intstr.FromInt32(h.GRPC.Port), portNames, portNumbers)
		case h.Exec == nil:
			c.errorf(o, "%s: %s has no handler", where, probe.name)
		}
	}

	c.checkResources(o, where, ctr.Resources)
	sc := ctr.SecurityContext
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		c.errorf(o, "%s: securityContext.readOnlyRootFilesystem must be true", where)
	}
	if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		c.errorf(o, "%s: securityContext.allowPrivilegeEscalation must be false", where)
	}

	c.resolveConfig(o, where, ctr, volumes, env)
}

func volumeNames(volumes map[string]*corev1.Volume) string {
	names := make([]string, 0, len(volumes))
	for n := range volumes {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func (c *checker) probePort(o Object, where string, port intstr.IntOrString, names map[string]bool, numbers map[int32]bool) {
	if port.Type == intstr.String {
		if !names[port.StrVal] {
			c.errorf(o, "%s: port %q is not a named port of the container", where, port.StrVal)
		}
		return
	}
	if !numbers[port.IntVal] {
		c.errorf(o, "%s: port %d is not declared by the container", where, port.IntVal)
	}
}

// checkEnv checks the container's environment and returns it resolved as far as the manifests tell.
func (c *checker) checkEnv(o Object, where string, spec *corev1.PodSpec, ctr *corev1.Container) map[string]string {
	env := map[string]string{}
	for _, from := range ctr.EnvFrom {
		switch {
		case from.ConfigMapRef != nil:
			c.configMapRef(o, where+" envFrom", from.ConfigMapRef.Name, nil, from.ConfigMapRef.Optional)
			if cmObj, ok := c.lookup("ConfigMap", o.Meta.GetNamespace(), from.ConfigMapRef.Name); ok {
				for k, v := range cmObj.Obj.(*corev1.ConfigMap).Data {
					c.envName(o, where+" envFrom", from.Prefix+k)
					env[from.Prefix+k] = v
				}
			}
		case from.SecretRef != nil:
			c.secretRef(o, where+" envFrom", from.SecretRef.Name, nil, from.SecretRef.Optional)
			if sObj, ok := c.lookup("Secret", o.Meta.GetNamespace(), from.SecretRef.Name); ok {
				s := sObj.Obj.(*corev1.Secret)
				for k := range s.Data {
					env[from.Prefix+k] = EnvFromRuntime
				}
				for k := range s.StringData {
					env[from.Prefix+k] = EnvFromRuntime
				}
			}
		}
	}
	seen := map[string]bool{}
	for _, e := range ctr.Env {
		c.envName(o, where+" env", e.Name)
		if seen[e.Name] {
			c.errorf(o, "%s: env %s set twice", where, e.Name)
		}
		seen[e.Name] = true
		env[e.Name] = e.Value
		vf := e.ValueFrom
		if vf == nil {
			continue
		}
		if e.Value != "" {
			c.errorf(o, "%s: env %s has both value and valueFrom", where, e.Name)
		}
		env[e.Name] = EnvFromRuntime
		switch {
		case vf.ConfigMapKeyRef != nil:
			ref := vf.ConfigMapKeyRef
			c.configMapRef(o, where+" env "+e.Name, ref.Name, []string{ref.Key}, ref.Optional)
			if cmObj, ok := c.lookup("ConfigMap", o.Meta.GetNamespace(), ref.Name); ok {
				env[e.Name] = cmObj.Obj.(*corev1.ConfigMap).Data[ref.Key]
			}
		case vf.SecretKeyRef != nil:
			ref := vf.SecretKeyRef
			c.secretRef(o, where+" env "+e.Name, ref.Name, []string{ref.Key}, ref.Optional)
		case vf.FieldRef != nil:
			fp := vf.FieldRef.FieldPath
			if !downwardFields[fp] && !strings.HasPrefix(fp, "metadata.labels['") && !strings.HasPrefix(fp, "metadata.annotations['") {
				c.errorf(o, "%s: env %s: fieldRef.fieldPath %q is not a downward-API field", where, e.Name, fp)
			}
		case vf.ResourceFieldRef != nil:
			ref := vf.ResourceFieldRef
			if ref.ContainerName != "" && !hasContainer(spec, ref.ContainerName) {
				c.errorf(o, "%s: env %s: resourceFieldRef.containerName %q is not a container of the pod", where, e.Name, ref.ContainerName)
			}
		}
	}
	return env
}

func hasContainer(spec *corev1.PodSpec, name string) bool {
	for _, list := range [][]corev1.Container{spec.InitContainers, spec.Containers} {
		for _, ctr := range list {
			if ctr.Name == name {
				return true
			}
		}
	}
	return false
}

func (c *checker) envName(o Object, where, name string) {
	for _, msg := range validation.IsEnvVarName(name) {
		c.errorf(o, "%s: %q: %s", where, name, msg)
	}
}

func (c *checker) checkResources(o Object, where string, r corev1.ResourceRequirements) {
	for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, hasReq := r.Requests[res]
		limit, hasLimit := r.Limits[res]
		if !hasReq {
			c.errorf(o, "%s: resources.requests.%s is not set", where, res)
		}
		if !hasLimit {
			c.errorf(o, "%s: resources.limits.%s is not set", where, res)
		}
		if hasReq && hasLimit && req.Cmp(limit) > 0 {
			c.errorf(o, "%s: resources.requests.%s %s exceeds the limit %s", where, res, req.String(), limit.String())
		}
	}
}

// resolveConfig follows a `--config <path>` argument to the ConfigMap key mounted there.
func (c *checker) resolveConfig(o Object, where string, ctr *corev1.Container, volumes map[string]*corev1.Volume, env map[string]string) {
	args := append(append([]string{}, ctr.Command...), ctr.Args...)
	for i, a := range args {
		var value string
		switch {
		case a == "--config" && i+1 < len(args):
			value = args[i+1]
		case strings.HasPrefix(a, "--config="):
			value = strings.TrimPrefix(a, "--config=")
		default:
			continue
		}
		file, isFile := strings.CutPrefix(value, "file:")
		if !isFile && strings.Contains(value, ":") {
			continue // another confmap provider (env:, yaml:, http:): nothing mounted to check
		}
		if !path.IsAbs(file) {
			c.errorf(o, "%s: --config %q is not an absolute path", where, value)
			continue
		}
		cm, k, ok := c.mountedKey(o, where, file, ctr.VolumeMounts, volumes)
		if !ok {
			continue
		}
		data := cm.Data[k]
		c.report.Configs = append(c.report.Configs, MountedConfig{
			Workload: o.ID(), Container: ctr.Name, Path: file, ConfigMap: cm.Name, Key: k, Data: data, Env: env,
		})
	}
}

// mountedKey finds the ConfigMap key that appears at file inside the container.
func (c *checker) mountedKey(o Object, where, file string, mounts []corev1.VolumeMount, volumes map[string]*corev1.Volume) (*corev1.ConfigMap, string, bool) {
	var best *corev1.VolumeMount
	for i := range mounts {
		m := &mounts[i]
		mp := path.Clean(m.MountPath)
		if file == mp || strings.HasPrefix(file, mp+"/") {
			if best == nil || len(mp) > len(path.Clean(best.MountPath)) {
				best = m
			}
		}
	}
	if best == nil {
		c.errorf(o, "%s: --config %s is not inside any volumeMount", where, file)
		return nil, "", false
	}
	v := volumes[best.Name]
	if v == nil || v.ConfigMap == nil {
		c.errorf(o, "%s: --config %s is inside volumeMount %q, which is not a ConfigMap volume", where, file, best.Name)
		return nil, "", false
	}
	rel := strings.TrimPrefix(strings.TrimPrefix(file, path.Clean(best.MountPath)), "/")
	if best.SubPath != "" {
		if rel != "" {
			c.errorf(o, "%s: --config %s is below the subPath mount %s, which is a single file", where, file, best.MountPath)
			return nil, "", false
		}
		rel = best.SubPath
	}
	k := rel
	if len(v.ConfigMap.Items) > 0 {
		k = ""
		for _, it := range v.ConfigMap.Items {
			if path.Clean(it.Path) == rel {
				k = it.Key
			}
		}
		if k == "" {
			c.errorf(o, "%s: --config %s: volume %q projects no item to %q", where, file, v.Name, rel)
			return nil, "", false
		}
	}
	cmObj, ok := c.lookup("ConfigMap", o.Meta.GetNamespace(), v.ConfigMap.Name)
	if !ok {
		return nil, "", false // reported by checkVolume
	}
	cm := cmObj.Obj.(*corev1.ConfigMap)
	if _, ok := cm.Data[k]; !ok {
		c.errorf(o, "%s: --config %s: ConfigMap %q has no key %q", where, file, cm.Name, k)
		return nil, "", false
	}
	return cm, k, true
}

func (c *checker) selected(namespace string, sel labels.Selector, workloads []workload) []workload {
	var out []workload
	for _, w := range workloads {
		if w.obj.Meta.GetNamespace() == namespace && sel.Matches(labels.Set(w.template.Labels)) {
			out = append(out, w)
		}
	}
	return out
}

func (c *checker) checkService(o Object, svc *corev1.Service, workloads []workload) {
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		return
	}
	if len(svc.Spec.Selector) == 0 {
		c.errorf(o, "spec.selector is empty")
		return
	}
	targets := c.selected(o.Meta.GetNamespace(), labels.SelectorFromSet(svc.Spec.Selector), workloads)
	if len(targets) == 0 {
		c.errorf(o, "spec.selector %v selects no pod template in the manifest set", svc.Spec.Selector)
		return
	}
	names := map[string]bool{}
	for _, p := range svc.Spec.Ports {
		if len(svc.Spec.Ports) > 1 && p.Name == "" {
			c.errorf(o, "port %d needs a name (the Service has several ports)", p.Port)
		}
		if p.Name != "" {
			for _, msg := range validation.IsDNS1123Label(p.Name) {
				c.errorf(o, "port name %q: %s", p.Name, msg)
			}
			if names[p.Name] {
				c.errorf(o, "port name %q used twice", p.Name)
			}
			names[p.Name] = true
		}
		target := p.TargetPort
		if target.Type == intstr.Int && target.IntVal == 0 {
			target = intstr.FromInt32(p.Port)
		}
		for _, w := range targets {
			if !podHasPort(&w.template.Spec, target) {
				c.errorf(o, "port %q: targetPort %s is not a container port of %s", p.Name, target.String(), w.obj.ID())
			}
		}
	}
}

func podHasPort(spec *corev1.PodSpec, port intstr.IntOrString) bool {
	for _, ctr := range spec.Containers {
		for _, p := range ctr.Ports {
			if (port.Type == intstr.String && p.Name == port.StrVal) || (port.Type == intstr.Int && p.ContainerPort == port.IntVal) {
				return true
			}
		}
	}
	return false
}

func (c *checker) checkPDB(o Object, pdb *policyv1.PodDisruptionBudget, workloads []workload) {
	sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
	switch {
	case pdb.Spec.Selector == nil:
		c.errorf(o, "spec.selector is missing")
		return
	case err != nil:
		c.errorf(o, "spec.selector: %v", err)
		return
	case sel.Empty():
		c.errorf(o, "spec.selector is empty")
		return
	}
	targets := c.selected(o.Meta.GetNamespace(), sel, workloads)
	if len(targets) == 0 {
		c.errorf(o, "spec.selector %q selects no pod template in the manifest set", sel)
		return
	}
	for _, w := range targets {
		replicas := int32(1)
		if w.replicas != nil {
			replicas = *w.replicas
		} else if w.obj.Kind == "DaemonSet" {
			continue // size depends on the cluster
		}
		if m := pdb.Spec.MinAvailable; m != nil && m.Type == intstr.Int && m.IntVal >= replicas {
			c.errorf(o, "minAvailable %d with %d replicas of %s blocks every voluntary eviction (node drains hang)", m.IntVal, replicas, w.obj.ID())
		}
		if m := pdb.Spec.MaxUnavailable; m != nil && m.Type == intstr.Int && m.IntVal == 0 {
			c.errorf(o, "maxUnavailable 0 blocks every voluntary eviction of %s (node drains hang)", w.obj.ID())
		}
	}
}
