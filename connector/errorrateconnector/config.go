package errorrateconnector // import "github.com/sluicelogs/sluice/connector/errorrateconnector"

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/sluicelogs/sluice/connector/errorrateconnector/internal/alert"
	"github.com/sluicelogs/sluice/connector/errorrateconnector/internal/window"
)

// Defaults.
const (
	defaultMinSeverity     = "ERROR"
	defaultWindowType      = WindowTumbling
	defaultWindowSize      = time.Minute
	defaultTimeSource      = TimeSourceEvent
	defaultAllowedLateness = 15 * time.Second
	defaultGroupBy         = "service.name"
	defaultMaxGroups       = 1000
	defaultGroupExpiry     = 15 * time.Minute
	defaultMetricPrefix    = "sluice.error_rate"
	defaultTemporality     = TemporalityCumulative
	defaultFingerprintTopN = 5
	defaultFingerprintCap  = 50
	defaultFingerprintLen  = 200
	defaultMinRecords      = 20
	defaultFireAfter       = 2
	defaultResolveAfter    = 3

	maxFingerprintTopN = 50
	maxFingerprintCap  = 1000
	// maxRingBuckets bounds per-group memory: window size/step plus lateness/step.
	maxRingBuckets = 1440
)

// Window types.
const (
	WindowTumbling = "tumbling"
	WindowSliding  = "sliding"
)

// Time sources.
const (
	TimeSourceEvent      = "event"
	TimeSourceProcessing = "processing"
)

// Temporalities of the records and errors sums.
const (
	TemporalityCumulative = "cumulative"
	TemporalityDelta      = "delta"
)

// Condition operators.
const (
	OpEqual        = "=="
	OpNotEqual     = "!="
	OpGreater      = ">"
	OpGreaterEqual = ">="
	OpLess         = "<"
	OpLessEqual    = "<="
	OpExists       = "exists"
)

var conditionOps = []string{OpEqual, OpNotEqual, OpGreater, OpGreaterEqual, OpLess, OpLessEqual, OpExists}

// Config configures the error_rate connector.
type Config struct {
	// Errors decides which records count as errors.
	Errors ErrorsConfig `mapstructure:"errors"`
	// Window is the aggregation window.
	Window WindowConfig `mapstructure:"window"`
	// GroupBy lists the attributes whose values form a group (record
	// attributes first, then scope, then resource attributes).
	GroupBy []string `mapstructure:"group_by"`
	// MaxGroups caps the number of groups; records of further groups go to
	// one overflow group marked otel.metric.overflow=true.
	MaxGroups int `mapstructure:"max_groups"`
	// GroupExpiry forgets a group that has seen no record for this long (and
	// has no firing alert); its cumulative series then restart with a new start time.
	GroupExpiry time.Duration `mapstructure:"group_expiry"`
	// Metrics configures the emitted metrics.
	Metrics MetricsConfig `mapstructure:"metrics"`
	// Fingerprints configures error-message templates.
	Fingerprints FingerprintsConfig `mapstructure:"fingerprints"`
	// Alerts configures alert rules; alert events go to logs pipelines.
	Alerts AlertsConfig `mapstructure:"alerts"`
	// Storage is the ID of a storage extension (e.g. journal_storage,
	// file_storage) that keeps which groups are alerting across restarts;
	// without it that state lives in memory only.
	Storage *component.ID `mapstructure:"storage"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// ErrorsConfig decides which records are errors. A record is an error when
// any of the enabled tests says so.
type ErrorsConfig struct {
	// MinSeverity: log records with a severity number at or above this level
	// (TRACE, DEBUG, INFO, WARN, ERROR, FATAL, optionally with 2-4 suffix) are
	// errors; "" disables the severity test.
	MinSeverity string `mapstructure:"min_severity"`
	// SpanStatus: spans with status Error are errors.
	SpanStatus bool `mapstructure:"span_status"`
	// Conditions: a record matching any condition is an error.
	Conditions []ConditionConfig `mapstructure:"conditions"`
}

// ConditionConfig tests one attribute (record attributes, then resource attributes).
type ConditionConfig struct {
	// Attribute is the attribute key, e.g. http.response.status_code.
	Attribute string `mapstructure:"attribute"`
	// Op is one of ==, !=, >, >=, <, <=, exists.
	Op string `mapstructure:"op"`
	// Value is compared numerically when both sides are numbers, otherwise as
	// strings (== and != only). Unused for exists.
	Value string `mapstructure:"value"`
}

// WindowConfig describes the aggregation window.
type WindowConfig struct {
	// Type is tumbling or sliding.
	Type string `mapstructure:"type"`
	// Size is the window length.
	Size time.Duration `mapstructure:"size"`
	// Step is how often a sliding window closes; Size must be a multiple of
	// it. Ignored for tumbling windows.
	Step time.Duration `mapstructure:"step"`
	// TimeSource is event (record timestamps) or processing (arrival time).
	TimeSource string `mapstructure:"time_source"`
	// AllowedLateness keeps an event-time bucket open this long after its end;
	// records arriving later are counted in the totals and the late_records
	// self-metric but not in any window. Ignored for processing time.
	AllowedLateness time.Duration `mapstructure:"allowed_lateness"`
}

// MetricsConfig configures the emitted metrics.
type MetricsConfig struct {
	// Prefix of the metric names: <prefix>.records, <prefix>.errors,
	// <prefix>.ratio, <prefix>.fingerprint.errors.
	Prefix string `mapstructure:"prefix"`
	// Temporality of the records and errors sums: cumulative or delta.
	Temporality string `mapstructure:"temporality"`
}

// FingerprintsConfig configures error-message templates.
type FingerprintsConfig struct {
	// Enabled turns fingerprinting on.
	Enabled bool `mapstructure:"enabled"`
	// TopN is how many templates per group and window are emitted (max 50).
	TopN int `mapstructure:"top_n"`
	// Tracked is how many templates per group and step are counted
	// (Space-Saving sketch); at least top_n, at most 1000.
	Tracked int `mapstructure:"tracked"`
	// MaxLength cuts templates to this many bytes.
	MaxLength int `mapstructure:"max_length"`
	// MessageAttributes are attributes read for the message before the log
	// body (logs) or span status message (spans), e.g. exception.message.
	MessageAttributes []string `mapstructure:"message_attributes"`
}

// AlertsConfig lists alert rules.
type AlertsConfig struct {
	// Rules are evaluated for every group at every window close.
	Rules []RuleConfig `mapstructure:"rules"`
}

// RuleConfig is one alert rule. A window breaches the rule when it has at
// least min_records records and meets every threshold that is set.
type RuleConfig struct {
	// Name identifies the rule in alert events.
	Name string `mapstructure:"name"`
	// RatioThreshold: errors/records >= this breaches (0 = not checked).
	RatioThreshold float64 `mapstructure:"ratio_threshold"`
	// ErrorsThreshold: errors >= this breaches (0 = not checked).
	ErrorsThreshold uint64 `mapstructure:"errors_threshold"`
	// MinRecords is the minimum-sample guard (0 = default 20).
	MinRecords uint64 `mapstructure:"min_records"`
	// FireAfter consecutive breaching windows fire the alert (0 = default 2).
	FireAfter int `mapstructure:"fire_after"`
	// ResolveAfter consecutive healthy windows resolve it (0 = default 3).
	ResolveAfter int `mapstructure:"resolve_after"`
}

func createDefaultConfig() *Config {
	return &Config{
		Errors: ErrorsConfig{MinSeverity: defaultMinSeverity, SpanStatus: true},
		Window: WindowConfig{
			Type:            defaultWindowType,
			Size:            defaultWindowSize,
			TimeSource:      defaultTimeSource,
			AllowedLateness: defaultAllowedLateness,
		},
		GroupBy:     []string{defaultGroupBy},
		MaxGroups:   defaultMaxGroups,
		GroupExpiry: defaultGroupExpiry,
		Metrics:     MetricsConfig{Prefix: defaultMetricPrefix, Temporality: defaultTemporality},
		Fingerprints: FingerprintsConfig{
			Enabled:   true,
			TopN:      defaultFingerprintTopN,
			Tracked:   defaultFingerprintCap,
			MaxLength: defaultFingerprintLen,
		},
	}
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	var errs []error
	if _, err := parseSeverity(c.Errors.MinSeverity); err != nil {
		errs = append(errs, err)
	}
	for i, cond := range c.Errors.Conditions {
		if _, err := newCondition(cond); err != nil {
			errs = append(errs, fmt.Errorf("errors::conditions[%d]: %w", i, err))
		}
	}
	if _, err := c.windowSpec(); err != nil {
		errs = append(errs, err)
	}
	if c.Window.TimeSource != TimeSourceEvent && c.Window.TimeSource != TimeSourceProcessing {
		errs = append(errs, fmt.Errorf("window::time_source %q: must be %q or %q", c.Window.TimeSource, TimeSourceEvent, TimeSourceProcessing))
	}
	if len(c.GroupBy) == 0 {
		errs = append(errs, errors.New("group_by: must list at least one attribute"))
	}
	for i, k := range c.GroupBy {
		if k == "" || slices.Index(c.GroupBy, k) != i {
			errs = append(errs, fmt.Errorf("group_by[%d] %q: keys must be non-empty and unique", i, k))
		}
	}
	if c.MaxGroups < 1 {
		errs = append(errs, fmt.Errorf("max_groups %d: must be at least 1", c.MaxGroups))
	}
	if c.GroupExpiry < c.Window.Size {
		errs = append(errs, fmt.Errorf("group_expiry %v: must be at least window::size (%v)", c.GroupExpiry, c.Window.Size))
	}
	if c.Metrics.Prefix == "" {
		errs = append(errs, errors.New("metrics::prefix: must not be empty"))
	}
	if c.Metrics.Temporality != TemporalityCumulative && c.Metrics.Temporality != TemporalityDelta {
		errs = append(errs, fmt.Errorf("metrics::temporality %q: must be %q or %q", c.Metrics.Temporality, TemporalityCumulative, TemporalityDelta))
	}
	if f := c.Fingerprints; f.Enabled {
		if f.TopN < 1 || f.TopN > maxFingerprintTopN {
			errs = append(errs, fmt.Errorf("fingerprints::top_n %d: must be between 1 and %d", f.TopN, maxFingerprintTopN))
		}
		if f.Tracked < f.TopN || f.Tracked > maxFingerprintCap {
			errs = append(errs, fmt.Errorf("fingerprints::tracked %d: must be between top_n (%d) and %d", f.Tracked, f.TopN, maxFingerprintCap))
		}
		if f.MaxLength < 16 {
			errs = append(errs, fmt.Errorf("fingerprints::max_length %d: must be at least 16", f.MaxLength))
		}
	}
	names := map[string]bool{}
	for i, r := range c.Alerts.Rules {
		if r.Name == "" || names[r.Name] {
			errs = append(errs, fmt.Errorf("alerts::rules[%d]::name %q: must be non-empty and unique", i, r.Name))
		}
		names[r.Name] = true
		if r.RatioThreshold <= 0 && r.ErrorsThreshold == 0 {
			errs = append(errs, fmt.Errorf("alerts::rules[%d] %q: set ratio_threshold (0 < x <= 1) and/or errors_threshold (>= 1)", i, r.Name))
		}
		if r.RatioThreshold < 0 || r.RatioThreshold > 1 {
			errs = append(errs, fmt.Errorf("alerts::rules[%d]::ratio_threshold %v: must be between 0 and 1", i, r.RatioThreshold))
		}
		if r.FireAfter < 0 || r.ResolveAfter < 0 {
			errs = append(errs, fmt.Errorf("alerts::rules[%d] %q: fire_after (%d) and resolve_after (%d) must be at least 1 (0 means the default)", i, r.Name, r.FireAfter, r.ResolveAfter))
		}
	}
	return errors.Join(errs...)
}

// rule compiles a RuleConfig; zero min_records, fire_after and resolve_after
// take their defaults so a rule that only names thresholds gets the documented
// guard and hysteresis.
func (r RuleConfig) rule() alert.Rule {
	out := alert.Rule{
		Name:            r.Name,
		RatioThreshold:  r.RatioThreshold,
		ErrorsThreshold: r.ErrorsThreshold,
		MinRecords:      r.MinRecords,
		FireAfter:       r.FireAfter,
		ResolveAfter:    r.ResolveAfter,
	}
	if out.MinRecords == 0 {
		out.MinRecords = defaultMinRecords
	}
	if out.FireAfter == 0 {
		out.FireAfter = defaultFireAfter
	}
	if out.ResolveAfter == 0 {
		out.ResolveAfter = defaultResolveAfter
	}
	return out
}

// windowSpec turns the window settings into bucket arithmetic.
func (c *Config) windowSpec() (window.Spec, error) {
	w := c.Window
	spec := window.Spec{Size: w.Size, Step: w.Size}
	switch w.Type {
	case WindowTumbling:
	case WindowSliding:
		spec.Step = w.Step
		if w.Step <= 0 || w.Step > w.Size || w.Size%w.Step != 0 {
			return spec, fmt.Errorf("window::step %v: must be positive and divide window::size %v", w.Step, w.Size)
		}
	default:
		return spec, fmt.Errorf("window::type %q: must be %q or %q", w.Type, WindowTumbling, WindowSliding)
	}
	if w.Size <= 0 {
		return spec, fmt.Errorf("window::size %v: must be positive", w.Size)
	}
	if w.TimeSource == TimeSourceEvent {
		if w.AllowedLateness < 0 {
			return spec, fmt.Errorf("window::allowed_lateness %v: must not be negative", w.AllowedLateness)
		}
		spec.Lateness = w.AllowedLateness
	}
	if err := spec.Validate(); err != nil {
		return spec, fmt.Errorf("window: %w", err)
	}
	if spec.RingLen() > maxRingBuckets {
		return spec, fmt.Errorf("window: size/step + allowed_lateness/step is %d buckets; must be at most %d", spec.RingLen(), maxRingBuckets)
	}
	return spec, nil
}

// parseSeverity maps a severity name to the lowest plog severity number it
// covers; "" maps to 0 (severity test disabled).
func parseSeverity(s string) (plog.SeverityNumber, error) {
	if s == "" {
		return 0, nil
	}
	bases := map[string]plog.SeverityNumber{
		"TRACE": plog.SeverityNumberTrace, "DEBUG": plog.SeverityNumberDebug,
		"INFO": plog.SeverityNumberInfo, "WARN": plog.SeverityNumberWarn,
		"ERROR": plog.SeverityNumberError, "FATAL": plog.SeverityNumberFatal,
	}
	name := strings.ToUpper(s)
	offset := 0
	if n := len(name); n > 1 && name[n-1] >= '2' && name[n-1] <= '4' {
		offset = int(name[n-1] - '1')
		name = name[:n-1]
	}
	base, ok := bases[name]
	if !ok {
		return 0, fmt.Errorf("errors::min_severity %q: must be one of TRACE, DEBUG, INFO, WARN, ERROR, FATAL (optionally suffixed 2-4) or empty", s)
	}
	return base + plog.SeverityNumber(offset), nil
}

// condition is a compiled ConditionConfig.
type condition struct {
	key      string
	op       string
	value    string
	number   float64
	isNumber bool
	ordered  bool
}

func newCondition(c ConditionConfig) (condition, error) {
	if c.Attribute == "" {
		return condition{}, errors.New("attribute: must not be empty")
	}
	if !slices.Contains(conditionOps, c.Op) {
		return condition{}, fmt.Errorf("op %q: must be one of %s", c.Op, strings.Join(conditionOps, ", "))
	}
	cond := condition{key: c.Attribute, op: c.Op, value: c.Value}
	if n, err := strconv.ParseFloat(c.Value, 64); err == nil {
		cond.number, cond.isNumber = n, true
	}
	switch c.Op {
	case OpGreater, OpGreaterEqual, OpLess, OpLessEqual:
		cond.ordered = true
		if !cond.isNumber {
			return condition{}, fmt.Errorf("value %q: op %s needs a number", c.Value, c.Op)
		}
	}
	return cond, nil
}
