package deploy

import (
	"bufio"
	"bytes"
	"path"
	"regexp"
	"strings"
	"testing"

	"github.com/sluicelogs/sluice/deploy/internal/envref"
)

// headerComment returns the comment block at the top of a config: its leading lines that start with "#".
func headerComment(config []byte) string {
	var header strings.Builder
	sc := bufio.NewScanner(bytes.NewReader(config))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "#") {
			break
		}
		header.WriteString(line + "\n")
	}
	return header.String()
}

// unlistedVariables returns the variables config reads that its header comment does not name.
func unlistedVariables(config []byte) []string {
	header := headerComment(config)
	var missing []string
	for _, name := range envref.Read(config).Names() {
		if !regexp.MustCompile(`\b` + name + `\b`).MatchString(header) {
			missing = append(missing, name)
		}
	}
	return missing
}

// TestConfigHeadersListEveryVariable keeps the promise of README.md and deploy/README.md: every
// environment variable a config reads is listed in the comment at its top.
func TestConfigHeadersListEveryVariable(t *testing.T) {
	for _, name := range []string{"agent.yaml", "gateway.yaml", "standalone.yaml"} {
		config := readFile(t, path.Join(repoRoot, "configs", name))
		if missing := unlistedVariables(config); len(missing) > 0 {
			t.Errorf("configs/%s reads %s, not listed in its header comment", name, strings.Join(missing, ", "))
		}
	}
	// The check must fail when a config reads a variable its header does not name.
	broken := mutateOnce(t, "configs/agent.yaml", readFile(t, path.Join(repoRoot, "configs", "agent.yaml")),
		"${env:SLUICE_TAIL_INCLUDE:-", "${env:SLUICE_TAIL_PATHS:-")
	if missing := unlistedVariables(broken); len(missing) != 1 || missing[0] != "SLUICE_TAIL_PATHS" {
		t.Errorf("unlisted variables of a config reading SLUICE_TAIL_PATHS: %v, want [SLUICE_TAIL_PATHS]", missing)
	}
}
