// Package unitfile parses systemd unit files and EnvironmentFile= files, enough to check what a
// unit declares without systemd: sections, keys (repeatable), comments and line continuations.
package unitfile

import (
	"bufio"
	"bytes"
	"fmt"
	"regexp"
	"strings"
)

// Unit maps section → key → values, in file order (a key may be given several times).
type Unit map[string]map[string][]string

// Get returns the last value of section.key (systemd's "last assignment wins" for single-value keys).
func (u Unit) Get(section, key string) (string, bool) {
	values := u[section][key]
	if len(values) == 0 {
		return "", false
	}
	return values[len(values)-1], true
}

// Parse reads a unit file. Lines outside a section, lines without "=", empty keys and unterminated
// continuations are errors naming the line.
func Parse(data []byte) (Unit, error) {
	unit := Unit{}
	section := ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	lineNo := 0
	var pending strings.Builder // a logical line continued with a trailing backslash
	pendingStart := 0
	for sc.Scan() {
		lineNo++
		line := strings.TrimSpace(sc.Text())
		if pending.Len() == 0 && (line == "" || line[0] == '#' || line[0] == ';') {
			continue
		}
		if pending.Len() > 0 && (strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";")) {
			continue // comments inside a continuation are skipped by systemd too
		}
		if cont, ok := strings.CutSuffix(line, "\\"); ok {
			if pending.Len() == 0 {
				pendingStart = lineNo
			}
			pending.WriteString(strings.TrimSpace(cont) + " ")
			continue
		}
		start := lineNo
		if pending.Len() > 0 {
			pending.WriteString(line)
			line = strings.TrimSpace(pending.String())
			pending.Reset()
			start = pendingStart
		}
		if strings.HasPrefix(line, "[") {
			if !strings.HasSuffix(line, "]") || len(line) < 3 {
				return nil, fmt.Errorf("line %d: malformed section header %q", start, line)
			}
			section = line[1 : len(line)-1]
			if unit[section] == nil {
				unit[section] = map[string][]string{}
			}
			continue
		}
		if section == "" {
			return nil, fmt.Errorf("line %d: %q is outside any [Section]", start, line)
		}
		k, v, ok := strings.Cut(line, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("line %d: %q is not Key=Value", start, line)
		}
		unit[section][k] = append(unit[section][k], strings.TrimSpace(v))
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if pending.Len() > 0 {
		return nil, fmt.Errorf("line %d: the file ends inside a continued line", pendingStart)
	}
	return unit, nil
}

// envName is what systemd accepts as a variable name in an EnvironmentFile.
var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// ParseEnvFile reads an EnvironmentFile=: NAME=value lines, "#" and ";" comments, values optionally
// in matching single or double quotes. Later assignments override earlier ones.
func ParseEnvFile(data []byte) (map[string]string, error) {
	env := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for lineNo := 1; sc.Scan(); lineNo++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		k = strings.TrimSpace(k)
		if !ok || !envName.MatchString(k) {
			return nil, fmt.Errorf("line %d: %q is not NAME=value", lineNo, line)
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		env[k] = v
	}
	return env, sc.Err()
}
