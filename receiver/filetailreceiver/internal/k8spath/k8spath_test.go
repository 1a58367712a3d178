package k8spath

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestParse(t *testing.T) {
	tests := []struct {
		path string
		want Meta
		ok   bool
	}{
		{
			path: "/var/log/pods/kube-system_coredns-5d78c9869d-abcde_0f1e2d3c-1111-2222-3333-444455556666/coredns/2.log",
			want: Meta{Namespace: "kube-system", PodName: "coredns-5d78c9869d-abcde", PodUID: "0f1e2d3c-1111-2222-3333-444455556666", Container: "coredns", RestartCount: 2, HasRestartCount: true},
			ok:   true,
		},
		{
			path: "/var/log/pods/default_web-0_uid/nginx/0.log.20240501-120000",
			want: Meta{Namespace: "default", PodName: "web-0", PodUID: "uid", Container: "nginx", HasRestartCount: true},
			ok:   true,
		},
		{
			path: "/var/log/containers/web-0_default_nginx-0123456789abcdef.log",
			want: Meta{Namespace: "default", PodName: "web-0", Container: "nginx", ContainerID: "0123456789abcdef"},
			ok:   true,
		},
		{path: "/var/log/syslog"},
		{path: "/var/log/pods/default_web-0/nginx/0.log"},
		{path: "/var/log/pods/default_web-0_uid/nginx/x.log"},
		{path: "/var/log/pods/default_web-0_uid/nginx/extra/0.log"},
		{path: "/var/log/containers/web-0_default_nginx.log"},
		{path: "/var/log/containers/web-0_default_nginx-abc.txt"},
	}
	for _, tt := range tests {
		got, ok := Parse(tt.path)
		assert.Equal(t, tt.ok, ok, tt.path)
		assert.Equal(t, tt.want, got, tt.path)
	}
}

func FuzzParse(f *testing.F) {
	f.Add("/var/log/pods/ns_pod_uid/c/0.log")
	f.Add("/var/log/containers/pod_ns_c-id.log")
	f.Add("/pods/_/")
	f.Fuzz(func(t *testing.T, path string) {
		m, ok := Parse(path)
		if !ok {
			return
		}
		if m.Namespace == "" || m.PodName == "" || m.Container == "" || strings.Contains(m.Namespace, "_") {
			t.Fatalf("accepted %q with incomplete meta %+v", path, m)
		}
	})
}
