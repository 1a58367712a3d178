// Package k8scheck checks a set of Kubernetes manifests without a cluster: every document is decoded
// strictly into the real API types (unknown or duplicate fields, wrong types and wrong key case are
// errors, as with `kubectl apply --validate=strict`), then the set is cross-checked for what a schema
// alone misses — selectors that do not select, mounts of undeclared volumes, references to
// ConfigMaps, Secrets and ServiceAccounts that do not exist, probe and Service ports no container
// declares, and `--config` paths that are not a mounted ConfigMap key.
package k8scheck

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// Object is one decoded manifest document.
type Object struct {
	// Source locates the document for messages: "file.yaml#2" is the file's second document.
	Source string
	// Kind is the document's kind, e.g. "Deployment".
	Kind string
	// Obj is the typed object (*appsv1.Deployment, *corev1.ConfigMap, …).
	Obj runtime.Object
	// Meta is Obj's metadata.
	Meta metav1.Object
}

// ID names the object in messages: "Deployment sluice/sluice-gateway".
func (o Object) ID() string {
	if ns := o.Meta.GetNamespace(); ns != "" {
		return fmt.Sprintf("%s %s/%s", o.Kind, ns, o.Meta.GetName())
	}
	return fmt.Sprintf("%s %s", o.Kind, o.Meta.GetName())
}

// strictDecoder decodes any registered kind, rejecting unknown fields, duplicate fields and fields
// whose case differs from the API's (the strict mode of the API server and kubectl).
var strictDecoder runtime.Decoder

func init() {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme, policyv1.AddToScheme, rbacv1.AddToScheme,
	} {
		utilruntime.Must(add(scheme))
	}
	strictDecoder = serializer.NewCodecFactory(scheme, serializer.EnableStrict).UniversalDeserializer()
}

// Decode strictly decodes every YAML document of one manifest file. Documents that are empty or only
// comments are skipped. source names the file in messages.
func Decode(source string, data []byte) ([]Object, error) {
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var objs []Object
	var errs []error
	for n := 1; ; n++ {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: split YAML documents: %w", source, err)
		}
		where := fmt.Sprintf("%s#%d", source, n)
		asJSON, err := yaml.YAMLToJSONStrict(doc)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", where, err))
			continue
		}
		if string(bytes.TrimSpace(asJSON)) == "null" {
			continue // only comments or "---"
		}
		obj, gvk, err := strictDecoder.Decode(doc, nil, nil)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", where, err))
			continue
		}
		accessor, err := meta.Accessor(obj)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %s has no object metadata: %w", where, gvk.Kind, err))
			continue
		}
		objs = append(objs, Object{Source: where, Kind: gvk.Kind, Obj: obj, Meta: accessor})
	}
	return objs, errors.Join(errs...)
}
