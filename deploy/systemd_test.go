package deploy

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicelogs/sluice/deploy/internal/envref"
	"github.com/sluicelogs/sluice/deploy/internal/unitfile"
)

const (
	unitPath           = "systemd/sluice.service"
	envFilePath        = "systemd/sluice.env"
	gatewayDropInPath  = "systemd/sluice.service.d/gateway.conf"
	gatewayEnvFilePath = "systemd/sluice-gateway.env"
	// installedEnvFile is where either env file goes on a VM: the unit reads this one file.
	installedEnvFile = "/etc/sluice/sluice.env"
	// wantExecStart is the agent command on a VM; /etc/sluice/<x>.yaml is configs/<x>.yaml installed.
	wantExecStart        = "/usr/local/bin/sluice --config /etc/sluice/agent.yaml"
	wantGatewayExecStart = "/usr/local/bin/sluice --config /etc/sluice/gateway.yaml"
)

// vmRole is one way deploy/README.md runs the unit: the agent as shipped, or a gateway with the drop-in
// added and the gateway's env file installed as /etc/sluice/sluice.env in place of the agent's.
type vmRole struct {
	name      string
	dropIn    string // drop-in appended to the unit ("" for none)
	envFile   string // file of deploy/ installed as installedEnvFile
	execStart string
}

var (
	agentVM   = vmRole{name: "agent", envFile: envFilePath, execStart: wantExecStart}
	gatewayVM = vmRole{name: "gateway", dropIn: gatewayDropInPath, envFile: gatewayEnvFilePath, execStart: wantGatewayExecStart}
)

// requiredServiceKeys are the [Service] settings the unit must keep: identity, restart policy and the
// hardening that confines the collector to reading logs, writing its state and talking TCP.
var requiredServiceKeys = map[string]string{
	"User":                  "sluice",
	"Group":                 "sluice",
	"Restart":               "on-failure",
	"StateDirectory":        "sluice",
	"NoNewPrivileges":       "yes",
	"ProtectSystem":         "strict",
	"ProtectHome":           "yes",
	"PrivateTmp":            "yes",
	"PrivateDevices":        "yes",
	"ProtectKernelTunables": "yes",
	"ProtectKernelModules":  "yes",
	"ProtectControlGroups":  "yes",
	"RestrictSUIDSGID":      "yes",
	"CapabilityBoundingSet": "",
	"LimitNOFILE":           "65536",
}

// validateUnit checks the unit file (with the role's drop-in appended: systemd merges drop-in sections
// into the unit, and an empty assignment such as ExecStart= clears the key) and the role's environment
// file against the config it runs.
func validateUnit(unitText, envText []byte, configs map[string][]byte, role vmRole) []error {
	unit, err := unitfile.Parse(unitText)
	if err != nil {
		return []error{fmt.Errorf("%s: %w", unitPath, err)}
	}
	envPath := role.envFile
	var errs []error
	want := func(section, key, value string) {
		got, ok := unit.Get(section, key)
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("%s: [%s] %s= is missing (want %q)", unitPath, section, key, value))
		case got != value:
			errs = append(errs, fmt.Errorf("%s: [%s] %s=%s, want %q", unitPath, section, key, got, value))
		}
	}
	contains := func(section, key, item string) {
		got, _ := unit.Get(section, key)
		if !strings.Contains(" "+got+" ", " "+item+" ") {
			errs = append(errs, fmt.Errorf("%s: [%s] %s= must include %s", unitPath, section, key, item))
		}
	}
	if d, _ := unit.Get("Unit", "Description"); d == "" {
		errs = append(errs, fmt.Errorf("%s: [Unit] Description= is missing", unitPath))
	}
	contains("Unit", "Wants", "network-online.target")
	contains("Unit", "After", "network-online.target")
	for key, value := range requiredServiceKeys {
		want("Service", key, value)
	}
	want("Service", "ExecStart", role.execStart)
	want("Service", "EnvironmentFile", "-"+installedEnvFile)
	want("Install", "WantedBy", "multi-user.target")

	// The config ExecStart names must be one of configs/, installed under /etc/sluice.
	exec, _ := unit.Get("Service", "ExecStart")
	fields := strings.Fields(exec)
	var config []byte
	if len(fields) == 3 && fields[1] == "--config" && path.Dir(fields[2]) == "/etc/sluice" {
		src := "configs/" + path.Base(fields[2])
		if config = configs[src]; config == nil {
			errs = append(errs, fmt.Errorf("%s: ExecStart runs %s, which is not a file of configs/", unitPath, fields[2]))
		}
	} else {
		errs = append(errs, fmt.Errorf("%s: ExecStart %q is not `<binary> --config /etc/sluice/<config>.yaml`", unitPath, exec))
	}

	env, err := unitfile.ParseEnvFile(envText)
	if err != nil {
		return append(errs, fmt.Errorf("%s: %w", envPath, err))
	}
	for _, assignment := range unit["Service"]["Environment"] {
		if name, value, ok := strings.Cut(assignment, "="); ok {
			env[name] = value
		}
	}
	if config != nil {
		refs := envref.Read(config)
		for name := range env {
			if !refs.Reads(name) && !envref.ConsumedElsewhere[name] {
				errs = append(errs, fmt.Errorf("%s: %s is not read by the config ExecStart runs (it reads %s)", envPath, name, strings.Join(refs.Names(), ", ")))
			}
		}
		for name := range refs.Required {
			if _, ok := env[name]; !ok {
				errs = append(errs, fmt.Errorf("%s: the config reads ${env:%s} without a default; set it", envPath, name))
			}
		}
	}

	// Under ProtectSystem=strict only the StateDirectory (and ReadWritePaths) are writable.
	stateDir, _ := unit.Get("Service", "StateDirectory")
	writable := []string{"/var/lib/" + stateDir}
	for _, rw := range unit["Service"]["ReadWritePaths"] {
		for _, p := range strings.Fields(rw) {
			writable = append(writable, strings.TrimPrefix(p, "-"))
		}
	}
	if dir, ok := env["SLUICE_STATE_DIR"]; !ok {
		errs = append(errs, fmt.Errorf("%s: SLUICE_STATE_DIR is not set (the default ./data/… is not writable under ProtectSystem=strict)", envPath))
	} else if !underAny(dir, writable) {
		errs = append(errs, fmt.Errorf("%s: SLUICE_STATE_DIR=%s is not writable under ProtectSystem=strict (writable: %s)", envPath, dir, strings.Join(writable, ", ")))
	}
	return errs
}

func underAny(dir string, roots []string) bool {
	dir = path.Clean(dir)
	for _, r := range roots {
		r = path.Clean(r)
		if dir == r || strings.HasPrefix(dir, r+"/") {
			return true
		}
	}
	return false
}

// unitInputs returns the unit as the role runs it (drop-in appended), the role's env file and configs/.
func unitInputs(t *testing.T, role vmRole) (unitText, envText []byte, configs map[string][]byte) {
	t.Helper()
	configs = map[string][]byte{}
	for _, name := range []string{"agent.yaml", "gateway.yaml", "standalone.yaml"} {
		configs["configs/"+name] = readFile(t, path.Join(repoRoot, "configs", name))
	}
	unitText = readFile(t, unitPath)
	if role.dropIn != "" {
		unitText = append(append(unitText, '\n'), readFile(t, role.dropIn)...)
	}
	return unitText, readFile(t, role.envFile), configs
}

func TestSystemdUnit(t *testing.T) {
	for _, role := range []vmRole{agentVM, gatewayVM} {
		t.Run(role.name, func(t *testing.T) {
			unitText, envText, configs := unitInputs(t, role)
			if err := errors.Join(validateUnit(unitText, envText, configs, role)...); err != nil {
				t.Fatalf("deploy/systemd (%s VM):\n%v", role.name, err)
			}
		})
	}
}

func TestBrokenSystemdUnitsAreRejected(t *testing.T) {
	tests := []struct {
		name, file, old, new, want string
		role                       vmRole
	}{
		{"no restart", unitPath, "Restart=on-failure\n", "", "Restart= is missing", agentVM},
		{"weaker sandbox", unitPath, "\nProtectSystem=strict\n", "\nProtectSystem=full\n", "ProtectSystem=full, want \"strict\"", agentVM},
		{"runs as root", unitPath, "User=sluice", "User=root", "User=root", agentVM},
		{"unknown config", unitPath, "--config /etc/sluice/agent.yaml", "--config /etc/sluice/node.yaml", "/etc/sluice/node.yaml, which is not a file of configs/", agentVM},
		{"env var the config does not read", envFilePath, "SLUICE_GATEWAY_ENDPOINT=", "SLUICE_GATEWAY_ADDRESS=", "SLUICE_GATEWAY_ADDRESS is not read", agentVM},
		{"state outside the writable paths", envFilePath, "SLUICE_STATE_DIR=/var/lib/sluice", "SLUICE_STATE_DIR=/opt/sluice", "SLUICE_STATE_DIR=/opt/sluice is not writable", agentVM},
		{"malformed line", unitPath, "[Install]\n", "[Install]\nWantedBy\n", "is not Key=Value", agentVM},
		// The gateway's env file is checked against configs/gateway.yaml, not the agent's config.
		{"agent variable in the gateway env", gatewayEnvFilePath, "SLUICE_STATE_DIR=", "SLUICE_TAIL_INCLUDE=/var/log/*.log\nSLUICE_STATE_DIR=", "SLUICE_TAIL_INCLUDE is not read", gatewayVM},
		{"gateway drop-in keeps the agent command", gatewayDropInPath, "--config /etc/sluice/gateway.yaml", "--config /etc/sluice/agent.yaml", "want \"" + wantGatewayExecStart + "\"", gatewayVM},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			role := tt.role
			unitText, envText, configs := unitInputs(t, role)
			target := &unitText
			if tt.file == role.envFile {
				target = &envText
			}
			*target = mutateOnce(t, tt.file, *target, tt.old, tt.new)
			err := errors.Join(validateUnit(unitText, envText, configs, role)...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("want an error containing %q, got:\n%v", tt.want, err)
			}
		})
	}
}

// systemdVerify runs `systemd-analyze verify` on a copy of the unit (and of the drop-in, when not nil,
// in the unit's .d directory, where verify reads it) whose binary is a stub (verify insists the
// ExecStart binary exists) and returns what it printed.
func systemdVerify(t *testing.T, analyze string, unitText, dropIn []byte) (string, error) {
	t.Helper()
	dir := t.TempDir()
	stub := filepath.Join(dir, "sluice")
	if err := os.WriteFile(stub, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	text := bytes.Replace(unitText, []byte("\nExecStart=/usr/local/bin/sluice "), []byte("\nExecStart="+stub+" "), 1)
	unit := filepath.Join(dir, "sluice.service")
	if err := os.WriteFile(unit, text, 0o644); err != nil {
		t.Fatal(err)
	}
	if dropIn != nil {
		text := bytes.Replace(dropIn, []byte("\nExecStart=/usr/local/bin/sluice "), []byte("\nExecStart="+stub+" "), 1)
		conf := filepath.Join(dir, "sluice.service.d", path.Base(gatewayDropInPath))
		if err := os.MkdirAll(filepath.Dir(conf), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(conf, text, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, err := exec.Command(analyze, "verify", "--man=no", unit).CombinedOutput()
	if err != nil {
		return string(out), err
	}
	// Security exposure on systemd's 0–100 scale (printed as 0.0–10.0): at most 2.0.
	sec, err := exec.Command(analyze, "security", "--offline=true", "--threshold=20", "--no-pager", unit).CombinedOutput()
	if err != nil {
		return string(out) + string(sec), fmt.Errorf("systemd-analyze security: %w", err)
	}
	return string(out), nil
}

// TestSystemdAnalyzeVerify lets systemd itself judge the unit where it is installed: verify warns
// (exit status 0) about unknown keys and bad values, so any output fails the test.
func TestSystemdAnalyzeVerify(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed; TestSystemdUnit still checks the unit")
	}
	unitText := readFile(t, unitPath)
	if out, err := systemdVerify(t, analyze, unitText, nil); err != nil || strings.TrimSpace(out) != "" {
		t.Fatalf("systemd-analyze rejects %s (%v):\n%s", unitPath, err, out)
	}
	dropIn := readFile(t, gatewayDropInPath)
	if out, err := systemdVerify(t, analyze, unitText, dropIn); err != nil || strings.TrimSpace(out) != "" {
		t.Fatalf("systemd-analyze rejects %s with %s (%v):\n%s", unitPath, gatewayDropInPath, err, out)
	}
	broken := mutateOnce(t, unitPath, unitText, "\nProtectSystem=strict\n", "\nProtectSystem=stric\n")
	if out, err := systemdVerify(t, analyze, broken, nil); err == nil && strings.TrimSpace(out) == "" {
		t.Fatal("systemd-analyze accepted ProtectSystem=stric: the check cannot fail")
	}
	brokenDropIn := mutateOnce(t, gatewayDropInPath, dropIn, "\nExecStart=\n", "\nExecStart=\nExecStop=bogus\n")
	if out, err := systemdVerify(t, analyze, unitText, brokenDropIn); err == nil && strings.TrimSpace(out) == "" {
		t.Fatal("systemd-analyze accepted a drop-in with ExecStop=bogus: the drop-in is not read")
	}
}
