// Package k8spath extracts Kubernetes metadata from the paths kubelet uses
// for container logs, so records carry namespace, pod and container without
// asking the API server.
package k8spath // import "github.com/sluicelogs/sluice/receiver/filetailreceiver/internal/k8spath"

import (
	"strconv"
	"strings"
)

// Meta is what a log path tells about its container.
type Meta struct {
	Namespace    string
	PodName      string
	PodUID       string
	Container    string
	ContainerID  string
	RestartCount int
	// HasRestartCount is false when the path carries no restart count
	// (the /var/log/containers symlink layout).
	HasRestartCount bool
}

// Parse recognizes
//
//	…/pods/<namespace>_<pod>_<uid>/<container>/<restart>.log[.<rotation suffix>]
//	…/containers/<pod>_<namespace>_<container>-<container id>.log
//
// Names are DNS labels/subdomains and cannot contain '_', which makes the
// split unambiguous.
func Parse(path string) (Meta, bool) {
	path = strings.ReplaceAll(path, "\\", "/")
	if i := strings.LastIndex(path, "/pods/"); i >= 0 {
		return parsePods(path[i+len("/pods/"):])
	}
	if i := strings.LastIndex(path, "/containers/"); i >= 0 {
		return parseContainers(path[i+len("/containers/"):])
	}
	return Meta{}, false
}

func parsePods(rest string) (Meta, bool) {
	parts := strings.Split(rest, "/")
	if len(parts) != 3 {
		return Meta{}, false
	}
	ids := strings.Split(parts[0], "_")
	if len(ids) != 3 || ids[0] == "" || ids[1] == "" || ids[2] == "" || parts[1] == "" {
		return Meta{}, false
	}
	m := Meta{Namespace: ids[0], PodName: ids[1], PodUID: ids[2], Container: parts[1]}
	file := parts[2]
	dot := strings.Index(file, ".log")
	if dot <= 0 {
		return Meta{}, false
	}
	n, err := strconv.Atoi(file[:dot])
	if err != nil || n < 0 {
		return Meta{}, false
	}
	m.RestartCount, m.HasRestartCount = n, true
	return m, true
}

func parseContainers(file string) (Meta, bool) {
	if strings.Contains(file, "/") {
		return Meta{}, false
	}
	file, ok := strings.CutSuffix(file, ".log")
	if !ok {
		return Meta{}, false
	}
	ids := strings.Split(file, "_")
	if len(ids) != 3 || ids[0] == "" || ids[1] == "" {
		return Meta{}, false
	}
	dash := strings.LastIndexByte(ids[2], '-')
	if dash <= 0 || dash == len(ids[2])-1 {
		return Meta{}, false
	}
	return Meta{PodName: ids[0], Namespace: ids[1], Container: ids[2][:dash], ContainerID: ids[2][dash+1:]}, true
}
