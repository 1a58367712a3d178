// Package envref finds the environment variables a collector config reads through `${env:NAME}` and
// `${env:NAME:-default}`, so deployment files can be checked against the config they run.
package envref

import (
	"regexp"
	"sort"
)

// reference matches ${env:NAME} and ${env:NAME:-default}; group 1 is the name, group 2 the ":-" part.
var reference = regexp.MustCompile(`\$\{env:([A-Za-z_][A-Za-z0-9_]*)(:-)?`)

// Refs is what a config reads from the environment.
type Refs struct {
	// Optional are the variables with a default (`${env:NAME:-default}`).
	Optional map[string]bool
	// Required are the variables without a default anywhere in the config: unset, they expand to "".
	Required map[string]bool
}

// Read returns the variables config references.
func Read(config []byte) Refs {
	refs := Refs{Optional: map[string]bool{}, Required: map[string]bool{}}
	for _, m := range reference.FindAllSubmatchIndex(config, -1) {
		if escaped(config, m[0]) {
			continue
		}
		name := string(config[m[2]:m[3]])
		if m[4] >= 0 {
			refs.Optional[name] = true
		} else {
			refs.Required[name] = true
		}
	}
	for name := range refs.Required {
		// A variable used once with a default and once without is still needed where it has none.
		delete(refs.Optional, name)
	}
	return refs
}

// escaped reports whether the "$" at i is preceded by an odd run of "$": confmap reads "$$" as a
// literal "$", so "$${env:X}" is text, not a reference.
func escaped(config []byte, i int) bool {
	n := 0
	for j := i - 1; j >= 0 && config[j] == '$'; j-- {
		n++
	}
	return n%2 == 1
}

// Reads reports whether the config references name at all.
func (r Refs) Reads(name string) bool { return r.Optional[name] || r.Required[name] }

// Names is every referenced variable, sorted.
func (r Refs) Names() []string {
	names := make([]string, 0, len(r.Optional)+len(r.Required))
	for n := range r.Optional {
		names = append(names, n)
	}
	for n := range r.Required {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ConsumedElsewhere are variables a Sluice process reads without the config naming them: the AWS SDK's
// default credential chain (used by the parquet exporter's S3 storage), the Go runtime, and sluice's
// startup (internal/timerslack).
var ConsumedElsewhere = map[string]bool{
	"SLUICE_TIMER_SLACK":    true,
	"AWS_ACCESS_KEY_ID":     true,
	"AWS_SECRET_ACCESS_KEY": true,
	"AWS_SESSION_TOKEN":     true,
	"GOMEMLIMIT":            true,
	"GOMAXPROCS":            true,
}
