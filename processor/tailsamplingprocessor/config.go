package tailsamplingprocessor // import "github.com/sluicelogs/sluice/processor/tailsamplingprocessor"

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/collector/confmap"
)

// Defaults of the top-level settings.
const (
	defaultDecisionWait      = 10 * time.Second
	defaultMaxBufferBytes    = 128 << 20
	defaultMaxGroups         = 100_000
	defaultMaxGroupRecords   = 10_000
	defaultMaxGroupBytes     = 1 << 20
	defaultKeptCacheSize     = 100_000
	defaultDroppedCacheSize  = 100_000
	defaultDefaultDecision   = decisionDrop
	defaultUngroupedAction   = ungroupedPass
	defaultPolicyDecision    = decisionKeep
	defaultMinSeverity       = "error"
	defaultMinHTTPStatus     = 500
	defaultAttributeUnit     = "ms"
	defaultPerKeyInterval    = time.Minute
	defaultPerKeyMaxKeys     = 10_000
	maxPolicies              = 64
	defaultDecisionPolicyTag = "default_decision"
)

// Decisions a policy (or the default) can make.
const (
	decisionKeep = "keep"
	decisionDrop = "drop"
)

// What happens to records that have neither a trace id nor a correlation
// attribute.
const (
	ungroupedPass   = "pass"
	ungroupedSample = "sample"
)

// Policy types.
const (
	policyErrors        = "errors"
	policyLatency       = "latency"
	policyAttribute     = "attribute"
	policyProbabilistic = "probabilistic"
	policyRateLimit     = "rate_limit"
	policyPerKeyMinimum = "per_key_minimum"
	policyAlways        = "always"
	policyNever         = "never"
)

var (
	policyTypes    = []string{policyErrors, policyLatency, policyAttribute, policyProbabilistic, policyRateLimit, policyPerKeyMinimum, policyAlways, policyNever}
	severityLevels = []string{"trace", "debug", "info", "warn", "error", "fatal", "none"}
	durationUnits  = map[string]time.Duration{"ns": time.Nanosecond, "us": time.Microsecond, "ms": time.Millisecond, "s": time.Second}
)

// Config is the configuration of the tail_sampling processor.
type Config struct {
	// DecisionWait is how long after a group's first record the group is
	// decided. Records of the group arriving within this time are decided
	// together.
	DecisionWait time.Duration `mapstructure:"decision_wait"`
	// MaxBufferBytes bounds the memory held by undecided groups (record bytes,
	// shared resource/scope bytes and per-group bookkeeping). When exceeded,
	// the oldest groups are decided early; nothing is dropped undecided.
	MaxBufferBytes int64 `mapstructure:"max_buffer_bytes"`
	// MaxGroups bounds the number of undecided groups; when exceeded the
	// oldest groups are decided early.
	MaxGroups int `mapstructure:"max_groups"`
	// MaxGroupRecords decides a group as soon as it holds this many records.
	MaxGroupRecords int `mapstructure:"max_group_records"`
	// MaxGroupBytes decides a group as soon as its records take this many
	// bytes, so one huge request cannot starve the others.
	MaxGroupBytes int64 `mapstructure:"max_group_bytes"`
	// CorrelationAttributes are the attributes (record first, then resource)
	// that group log records without a trace id, tried in order; e.g.
	// correlation_id, request_id, http.request.header.x-request-id.
	CorrelationAttributes []string `mapstructure:"correlation_attributes"`
	// Ungrouped says what happens to records with neither a trace id nor a
	// correlation attribute.
	Ungrouped UngroupedConfig `mapstructure:"ungrouped"`
	// DecisionCache remembers recent decisions so that late records follow
	// their group's decision.
	DecisionCache DecisionCacheConfig `mapstructure:"decision_cache"`
	// HashSeed seeds the hash used by probabilistic decisions. Instances with
	// the same seed make the same decision for the same trace id.
	HashSeed uint32 `mapstructure:"hash_seed"`
	// PolicyAttribute, when set, is the name of an attribute added to every
	// kept record naming the policy that kept its group.
	PolicyAttribute string `mapstructure:"policy_attribute"`
	// DefaultDecision applies to groups no policy matched: keep or drop.
	DefaultDecision string `mapstructure:"default_decision"`
	// Policies are evaluated in order; the first that matches a group decides
	// it.
	Policies []PolicyConfig `mapstructure:"policies"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// UngroupedConfig configures records that have no group key.
type UngroupedConfig struct {
	// Action is pass (forward every such record) or sample (keep
	// sampling_percentage of them, deterministically on the record's bytes).
	Action string `mapstructure:"action"`
	// SamplingPercentage is the share kept when action is sample, in [0, 100].
	SamplingPercentage float64 `mapstructure:"sampling_percentage"`
}

// DecisionCacheConfig sizes the cache of recent decisions.
type DecisionCacheConfig struct {
	// KeptSize is the number of kept group ids remembered (0 disables).
	KeptSize int `mapstructure:"kept_size"`
	// DroppedSize is the number of dropped group ids remembered (0 disables).
	DroppedSize int `mapstructure:"dropped_size"`
}

// PolicyConfig is one sampling policy. Exactly the block named by Type is
// read.
type PolicyConfig struct {
	// Name identifies the policy in metrics and in policy_attribute; unique.
	Name string `mapstructure:"name"`
	// Type is one of errors, latency, attribute, probabilistic, rate_limit,
	// per_key_minimum, always, never.
	Type string `mapstructure:"type"`
	// Decision is what a match means: keep (default) or drop. Ignored by
	// never, which always drops.
	Decision string `mapstructure:"decision"`
	// Errors configures the errors policy.
	Errors ErrorsConfig `mapstructure:"errors"`
	// Latency configures the latency policy.
	Latency LatencyConfig `mapstructure:"latency"`
	// Attribute configures the attribute policy.
	Attribute AttributeConfig `mapstructure:"attribute"`
	// Probabilistic configures the probabilistic policy.
	Probabilistic ProbabilisticConfig `mapstructure:"probabilistic"`
	// RateLimit configures the rate_limit policy.
	RateLimit RateLimitConfig `mapstructure:"rate_limit"`
	// PerKeyMinimum configures the per_key_minimum policy.
	PerKeyMinimum PerKeyMinimumConfig `mapstructure:"per_key_minimum"`
}

// ErrorsConfig matches groups containing an error.
type ErrorsConfig struct {
	// MinSeverity matches log records at or above this level: trace, debug,
	// info, warn, error, fatal, or none to ignore log severity. Records
	// without a severity number are judged by their severity text.
	MinSeverity string `mapstructure:"min_severity"`
	// SpanStatus matches spans whose status is error.
	SpanStatus bool `mapstructure:"span_status"`
	// MinHTTPStatus matches records whose HTTP status attribute is at or above
	// this value; 0 disables.
	MinHTTPStatus int64 `mapstructure:"min_http_status"`
	// HTTPStatusAttributes are the attributes read as the HTTP status.
	HTTPStatusAttributes []string `mapstructure:"http_status_attributes"`
}

// LatencyConfig matches slow requests.
type LatencyConfig struct {
	// Threshold is the duration at or above which a group matches.
	Threshold time.Duration `mapstructure:"threshold"`
	// Attribute, when set, is a numeric duration attribute (on logs or spans)
	// compared with Threshold, in AttributeUnit. Root spans (no parent) are
	// always compared by their own duration.
	Attribute string `mapstructure:"attribute"`
	// AttributeUnit is the unit of Attribute: ns, us, ms or s.
	AttributeUnit string `mapstructure:"attribute_unit"`
}

// AttributeConfig matches an attribute value. Exactly one of Values, Regex,
// Min/Max or Bool is set.
type AttributeConfig struct {
	// Key is the attribute looked up on the record, then on its resource.
	Key string `mapstructure:"key"`
	// Values matches string values exactly.
	Values []string `mapstructure:"values"`
	// Regex matches string values with a Go regular expression (RE2).
	Regex string `mapstructure:"regex"`
	// Min is the inclusive lower bound of a numeric range.
	Min *float64 `mapstructure:"min"`
	// Max is the inclusive upper bound of a numeric range.
	Max *float64 `mapstructure:"max"`
	// Bool matches a boolean value.
	Bool *bool `mapstructure:"bool"`
}

// ProbabilisticConfig keeps a share of groups, decided by hashing the group
// key so that every instance with the same hash_seed agrees.
type ProbabilisticConfig struct {
	// Percentage of groups matched, in (0, 100].
	Percentage float64 `mapstructure:"percentage"`
}

// RateLimitConfig matches at most a number of groups per second.
type RateLimitConfig struct {
	// GroupsPerSecond is the number of groups matched per second (also the
	// burst).
	GroupsPerSecond int `mapstructure:"groups_per_second"`
}

// PerKeyMinimumConfig keeps quiet endpoints visible: it matches a group while
// fewer than MinGroups groups with the same key were kept (by any policy) in
// the current interval.
type PerKeyMinimumConfig struct {
	// Keys are the attributes forming the key (record first, then resource;
	// for traces the root span's values win), e.g. service.name, http.route.
	Keys []string `mapstructure:"keys"`
	// MinGroups is the number of groups kept per key and interval.
	MinGroups int `mapstructure:"min_groups"`
	// Interval is the length of a counting window.
	Interval time.Duration `mapstructure:"interval"`
	// MaxKeys bounds the keys tracked per interval; keys beyond it are not
	// matched by this policy.
	MaxKeys int `mapstructure:"max_keys"`
}

// Unmarshal fills a policy's defaults before reading it, since list elements
// do not get defaults from createDefaultConfig.
func (p *PolicyConfig) Unmarshal(conf *confmap.Conf) error {
	p.Decision = defaultPolicyDecision
	p.Errors = ErrorsConfig{
		MinSeverity:          defaultMinSeverity,
		SpanStatus:           true,
		MinHTTPStatus:        defaultMinHTTPStatus,
		HTTPStatusAttributes: []string{"http.response.status_code", "http.status_code"},
	}
	p.Latency.AttributeUnit = defaultAttributeUnit
	p.PerKeyMinimum.Interval = defaultPerKeyInterval
	p.PerKeyMinimum.MaxKeys = defaultPerKeyMaxKeys
	return conf.Unmarshal(p)
}

// Validate checks the configuration; errors name the YAML key.
func (cfg *Config) Validate() error {
	var errs []error
	if cfg.DecisionWait <= 0 {
		errs = append(errs, fmt.Errorf("decision_wait: must be > 0, got %s", cfg.DecisionWait))
	}
	if cfg.MaxBufferBytes <= 0 {
		errs = append(errs, fmt.Errorf("max_buffer_bytes: must be > 0, got %d", cfg.MaxBufferBytes))
	}
	if cfg.MaxGroups <= 0 {
		errs = append(errs, fmt.Errorf("max_groups: must be > 0, got %d", cfg.MaxGroups))
	}
	if cfg.MaxGroupRecords <= 0 {
		errs = append(errs, fmt.Errorf("max_group_records: must be > 0, got %d", cfg.MaxGroupRecords))
	}
	if cfg.MaxGroupBytes <= 0 || cfg.MaxGroupBytes > cfg.MaxBufferBytes {
		errs = append(errs, fmt.Errorf("max_group_bytes: must be > 0 and <= max_buffer_bytes (%d), got %d", cfg.MaxBufferBytes, cfg.MaxGroupBytes))
	}
	for i, a := range cfg.CorrelationAttributes {
		if a == "" {
			errs = append(errs, fmt.Errorf("correlation_attributes[%d]: must not be empty", i))
		}
	}
	switch cfg.Ungrouped.Action {
	case ungroupedPass, ungroupedSample:
	default:
		errs = append(errs, fmt.Errorf("ungrouped.action: must be one of pass, sample; got %q", cfg.Ungrouped.Action))
	}
	if p := cfg.Ungrouped.SamplingPercentage; p < 0 || p > 100 {
		errs = append(errs, fmt.Errorf("ungrouped.sampling_percentage: must be in [0, 100], got %v", p))
	}
	if cfg.DecisionCache.KeptSize < 0 {
		errs = append(errs, fmt.Errorf("decision_cache.kept_size: must be >= 0, got %d", cfg.DecisionCache.KeptSize))
	}
	if cfg.DecisionCache.DroppedSize < 0 {
		errs = append(errs, fmt.Errorf("decision_cache.dropped_size: must be >= 0, got %d", cfg.DecisionCache.DroppedSize))
	}
	if cfg.DefaultDecision != decisionKeep && cfg.DefaultDecision != decisionDrop {
		errs = append(errs, fmt.Errorf("default_decision: must be one of keep, drop; got %q", cfg.DefaultDecision))
	}
	switch {
	case len(cfg.Policies) == 0:
		errs = append(errs, errors.New("policies: at least one policy is required"))
	case len(cfg.Policies) > maxPolicies:
		errs = append(errs, fmt.Errorf("policies: at most %d policies, got %d", maxPolicies, len(cfg.Policies)))
	}
	names := map[string]bool{}
	for i := range cfg.Policies {
		p := &cfg.Policies[i]
		if p.Name != "" && names[p.Name] {
			errs = append(errs, fmt.Errorf("policies[%d].name: duplicate name %q", i, p.Name))
		}
		names[p.Name] = true
		errs = append(errs, p.validate(fmt.Sprintf("policies[%d]", i))...)
	}
	return errors.Join(errs...)
}

func (p *PolicyConfig) validate(path string) []error {
	var errs []error
	add := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s.%s: "+format, append([]any{path, key}, args...)...))
	}
	switch p.Name {
	case "":
		add("name", "must not be empty")
	case defaultDecisionPolicyTag:
		add("name", "%q is reserved for the default decision", p.Name)
	}
	if p.Decision != decisionKeep && p.Decision != decisionDrop {
		add("decision", "must be one of keep, drop; got %q", p.Decision)
	}
	switch p.Type {
	case policyErrors:
		e := p.Errors
		if !slices.Contains(severityLevels, e.MinSeverity) {
			add("errors.min_severity", "must be one of %s; got %q", strings.Join(severityLevels, ", "), e.MinSeverity)
		}
		if e.MinHTTPStatus < 0 || e.MinHTTPStatus > 999 {
			add("errors.min_http_status", "must be in [0, 999] (0 disables), got %d", e.MinHTTPStatus)
		}
		if e.MinHTTPStatus > 0 && len(e.HTTPStatusAttributes) == 0 {
			add("errors.http_status_attributes", "must not be empty when min_http_status is set")
		}
		if e.MinSeverity == "none" && !e.SpanStatus && e.MinHTTPStatus == 0 {
			add("errors", "matches nothing: set min_severity, span_status or min_http_status")
		}
	case policyLatency:
		if p.Latency.Threshold <= 0 {
			add("latency.threshold", "must be > 0, got %s", p.Latency.Threshold)
		}
		if _, ok := durationUnits[p.Latency.AttributeUnit]; !ok {
			add("latency.attribute_unit", "must be one of ns, us, ms, s; got %q", p.Latency.AttributeUnit)
		}
	case policyAttribute:
		errs = append(errs, p.Attribute.validate(path+".attribute")...)
	case policyProbabilistic:
		if pc := p.Probabilistic.Percentage; pc <= 0 || pc > 100 {
			add("probabilistic.percentage", "must be in (0, 100], got %v", pc)
		}
	case policyRateLimit:
		if p.RateLimit.GroupsPerSecond <= 0 {
			add("rate_limit.groups_per_second", "must be > 0, got %d", p.RateLimit.GroupsPerSecond)
		}
	case policyPerKeyMinimum:
		k := p.PerKeyMinimum
		if len(k.Keys) == 0 {
			add("per_key_minimum.keys", "must name at least one attribute")
		}
		if k.MinGroups <= 0 {
			add("per_key_minimum.min_groups", "must be > 0, got %d", k.MinGroups)
		}
		if k.Interval <= 0 {
			add("per_key_minimum.interval", "must be > 0, got %s", k.Interval)
		}
		if k.MaxKeys <= 0 {
			add("per_key_minimum.max_keys", "must be > 0, got %d", k.MaxKeys)
		}
	case policyAlways, policyNever:
	default:
		add("type", "must be one of %s; got %q", strings.Join(policyTypes, ", "), p.Type)
	}
	return errs
}

func (a *AttributeConfig) validate(path string) []error {
	var errs []error
	if a.Key == "" {
		errs = append(errs, fmt.Errorf("%s.key: must not be empty", path))
	}
	set := 0
	if len(a.Values) > 0 {
		set++
	}
	if a.Regex != "" {
		set++
		if _, err := regexp.Compile(a.Regex); err != nil {
			errs = append(errs, fmt.Errorf("%s.regex: %w", path, err))
		}
	}
	if a.Min != nil || a.Max != nil {
		set++
		if a.Min != nil && a.Max != nil && *a.Min > *a.Max {
			errs = append(errs, fmt.Errorf("%s.min: must be <= max (%v), got %v", path, *a.Max, *a.Min))
		}
	}
	if a.Bool != nil {
		set++
	}
	if set != 1 {
		errs = append(errs, fmt.Errorf("%s: set exactly one of values, regex, min/max, bool (got %d)", path, set))
	}
	return errs
}
