// Package deploy holds Sluice's deployment artefacts — Kubernetes manifests (kubernetes/), the
// container image recipe (docker/) and a systemd unit for VMs (systemd/) — and the tests that keep
// them correct: every manifest is decoded strictly into the real Kubernetes API types and
// cross-checked (selectors, volumes, references, ports, mounted configs), the ConfigMaps must hold
// configs/agent.yaml and configs/gateway.yaml byte for byte, and the unit file is verified.
//
// The collector-config ConfigMaps are generated from configs/; regenerate them with
// `go generate ./deploy/...` after editing a config.
package deploy

//go:generate go run ./internal/configmapgen -root ..
