package tailsamplingprocessor // import "github.com/sluicelogs/sluice/processor/tailsamplingprocessor"

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/sluicelogs/sluice/internal/lognormalize"
	"github.com/sluicelogs/sluice/processor/tailsamplingprocessor/internal/keyhash"
)

type policyKind uint8

const (
	// kindPredicate matches a group when any of its records matched a record
	// predicate; predicates run once per record at ingest and set a bit.
	kindPredicate policyKind = iota
	kindProbabilistic
	kindRateLimit
	kindPerKey
	kindAlways
)

// policy is a compiled PolicyConfig.
type policy struct {
	name string
	keep bool
	kind policyKind
	// bit is this policy's bit in group.matched (kindPredicate).
	bit  uint64
	pred recordPredicate
	// threshold: groups whose key hash is below it match (kindProbabilistic).
	threshold uint64
	all       bool
	limiter   *rateLimiter
	perKey    *perKeyCounter
	// perKeyIdx is this policy's index in group.routeKeys (kindPerKey).
	perKeyIdx int
	// rootlessLatency, for a latency policy, also matches a group without
	// a root span whose spans reach from earliest start to latest end at
	// least this long (0: not a latency policy).
	rootlessLatency time.Duration
}

// recordPredicate tells whether one record makes its group match a policy.
type recordPredicate interface {
	matchLog(lr plog.LogRecord, res pcommon.Map) bool
	matchSpan(sp ptrace.Span, res pcommon.Map) bool
}

func compilePolicies(cfgs []PolicyConfig) ([]*policy, error) {
	out := make([]*policy, 0, len(cfgs))
	perKeys := 0
	for i := range cfgs {
		c := &cfgs[i]
		p := &policy{name: c.Name, keep: c.Decision == decisionKeep}
		switch c.Type {
		case policyErrors:
			p.kind, p.pred = kindPredicate, newErrorsPredicate(c.Errors)
		case policyLatency:
			p.kind, p.pred = kindPredicate, &latencyPredicate{
				threshold: c.Latency.Threshold,
				attr:      c.Latency.Attribute,
				unit:      durationUnits[c.Latency.AttributeUnit],
			}
			p.rootlessLatency = c.Latency.Threshold
		case policyAttribute:
			ap, err := newAttributePredicate(c.Attribute)
			if err != nil {
				return nil, fmt.Errorf("policies[%d].attribute: %w", i, err)
			}
			p.kind, p.pred = kindPredicate, ap
		case policyProbabilistic:
			p.kind = kindProbabilistic
			p.threshold, p.all = hashThreshold(c.Probabilistic.Percentage)
		case policyRateLimit:
			p.kind, p.limiter = kindRateLimit, &rateLimiter{rate: float64(c.RateLimit.GroupsPerSecond)}
		case policyPerKeyMinimum:
			k := c.PerKeyMinimum
			p.kind, p.perKeyIdx = kindPerKey, perKeys
			p.perKey = &perKeyCounter{keys: k.Keys, minGroups: k.MinGroups, interval: k.Interval, maxKeys: k.MaxKeys, counts: map[string]int{}}
			perKeys++
		case policyAlways:
			p.kind = kindAlways
		case policyNever:
			p.kind, p.keep = kindAlways, false
		default:
			return nil, fmt.Errorf("policies[%d].type: unknown %q", i, c.Type)
		}
		p.bit = 1 << uint(i)
		out = append(out, p)
	}
	return out, nil
}

// hashThreshold converts a percentage into a bound on a uniform 64-bit hash.
func hashThreshold(pct float64) (threshold uint64, all bool) {
	if pct >= 100 {
		return 0, true
	}
	return uint64(math.Ldexp(pct/100, 64)), false
}

// keyHash hashes a group key with a seed (keyhash.Seeded). Deterministic
// across processes and versions, so separate instances agree.
func keyHash(seed uint32, key [16]byte) uint64 {
	return keyhash.Seeded(seed, key[:])
}

// errorsPredicate matches error logs, error spans and HTTP 5xx.
type errorsPredicate struct {
	minSeverity plog.SeverityNumber // 0: ignore severity
	spanStatus  bool
	minHTTP     int64 // 0: ignore HTTP status
	httpAttrs   []string
}

func newErrorsPredicate(c ErrorsConfig) *errorsPredicate {
	return &errorsPredicate{
		minSeverity: severityByName[c.MinSeverity],
		spanStatus:  c.SpanStatus,
		minHTTP:     c.MinHTTPStatus,
		httpAttrs:   c.HTTPStatusAttributes,
	}
}

var severityByName = map[string]plog.SeverityNumber{
	"trace": plog.SeverityNumberTrace,
	"debug": plog.SeverityNumberDebug,
	"info":  plog.SeverityNumberInfo,
	"warn":  plog.SeverityNumberWarn,
	"error": plog.SeverityNumberError,
	"fatal": plog.SeverityNumberFatal,
	"none":  plog.SeverityNumberUnspecified,
}

func (e *errorsPredicate) matchLog(lr plog.LogRecord, _ pcommon.Map) bool {
	if e.minSeverity != plog.SeverityNumberUnspecified {
		sev := lr.SeverityNumber()
		if sev == plog.SeverityNumberUnspecified {
			sev = lognormalize.SeverityFromText(lr.SeverityText())
		}
		if sev >= e.minSeverity {
			return true
		}
	}
	return e.httpError(lr.Attributes())
}

func (e *errorsPredicate) matchSpan(sp ptrace.Span, _ pcommon.Map) bool {
	if e.spanStatus && sp.Status().Code() == ptrace.StatusCodeError {
		return true
	}
	return e.httpError(sp.Attributes())
}

func (e *errorsPredicate) httpError(attrs pcommon.Map) bool {
	if e.minHTTP == 0 {
		return false
	}
	for _, k := range e.httpAttrs {
		if v, ok := attrs.Get(k); ok {
			if n, ok := numericValue(v); ok && n >= float64(e.minHTTP) {
				return true
			}
		}
	}
	return false
}

// latencyPredicate matches slow root spans and records with a large duration
// attribute.
type latencyPredicate struct {
	threshold time.Duration
	attr      string
	unit      time.Duration
}

func (l *latencyPredicate) matchLog(lr plog.LogRecord, _ pcommon.Map) bool {
	return l.attrExceeds(lr.Attributes())
}

func (l *latencyPredicate) matchSpan(sp ptrace.Span, _ pcommon.Map) bool {
	if sp.ParentSpanID().IsEmpty() {
		start, end := sp.StartTimestamp(), sp.EndTimestamp()
		if end > start && time.Duration(end-start) >= l.threshold {
			return true
		}
	}
	return l.attrExceeds(sp.Attributes())
}

func (l *latencyPredicate) attrExceeds(attrs pcommon.Map) bool {
	if l.attr == "" {
		return false
	}
	v, ok := attrs.Get(l.attr)
	if !ok {
		return false
	}
	n, ok := numericValue(v)
	return ok && n*float64(l.unit) >= float64(l.threshold)
}

// attributePredicate matches one attribute by value, regex, range or bool.
type attributePredicate struct {
	key            string
	values         []string
	re             *regexp.Regexp
	min, max       float64
	numeric        bool
	boolean, wantB bool
}

func newAttributePredicate(c AttributeConfig) (*attributePredicate, error) {
	a := &attributePredicate{key: c.Key, values: c.Values, min: math.Inf(-1), max: math.Inf(1)}
	if c.Regex != "" {
		re, err := regexp.Compile(c.Regex)
		if err != nil {
			return nil, fmt.Errorf("regex: %w", err)
		}
		a.re = re
	}
	if c.Min != nil {
		a.min, a.numeric = *c.Min, true
	}
	if c.Max != nil {
		a.max, a.numeric = *c.Max, true
	}
	if c.Bool != nil {
		a.boolean, a.wantB = true, *c.Bool
	}
	return a, nil
}

func (a *attributePredicate) matchLog(lr plog.LogRecord, res pcommon.Map) bool {
	return a.match(lr.Attributes(), res)
}

func (a *attributePredicate) matchSpan(sp ptrace.Span, res pcommon.Map) bool {
	return a.match(sp.Attributes(), res)
}

func (a *attributePredicate) match(attrs, res pcommon.Map) bool {
	v, ok := attrs.Get(a.key)
	if !ok {
		if v, ok = res.Get(a.key); !ok {
			return false
		}
	}
	switch {
	case a.numeric:
		n, ok := numericValue(v)
		return ok && n >= a.min && n <= a.max
	case a.boolean:
		return v.Type() == pcommon.ValueTypeBool && v.Bool() == a.wantB
	}
	// values and regex are text: an int, double or bool attribute matches
	// by its text (values: ["503"] matches http.status_code: 503).
	var s string
	switch v.Type() {
	case pcommon.ValueTypeStr:
		s = v.Str()
	case pcommon.ValueTypeInt, pcommon.ValueTypeDouble, pcommon.ValueTypeBool:
		s = v.AsString()
	default:
		return false
	}
	if a.re != nil {
		return a.re.MatchString(s)
	}
	for _, want := range a.values {
		if s == want {
			return true
		}
	}
	return false
}

// numericValue reads ints, doubles and numeric strings ("503").
func numericValue(v pcommon.Value) (float64, bool) {
	switch v.Type() {
	case pcommon.ValueTypeInt:
		return float64(v.Int()), true
	case pcommon.ValueTypeDouble:
		return v.Double(), true
	case pcommon.ValueTypeStr:
		n, err := strconv.ParseFloat(v.Str(), 64)
		return n, err == nil
	}
	return 0, false
}

// rateLimiter is a token bucket of groups per second with a burst of one
// second's worth, driven by the processor's clock.
type rateLimiter struct {
	rate   float64
	tokens float64
	last   time.Time
}

func (r *rateLimiter) take(now time.Time) bool {
	if r.last.IsZero() {
		r.tokens, r.last = r.rate, now
	} else if elapsed := now.Sub(r.last); elapsed > 0 {
		r.tokens = min(r.rate, r.tokens+elapsed.Seconds()*r.rate)
		r.last = now
	}
	if r.tokens >= 1 {
		r.tokens--
		return true
	}
	return false
}

// perKeyCounter counts kept groups per key within fixed windows.
type perKeyCounter struct {
	keys        []string
	minGroups   int
	maxKeys     int
	interval    time.Duration
	windowStart time.Time
	counts      map[string]int
}

func (c *perKeyCounter) roll(now time.Time) {
	if c.windowStart.IsZero() || now.Sub(c.windowStart) >= c.interval {
		clear(c.counts)
		c.windowStart = now
	}
}

// below reports whether fewer than minGroups groups with key were kept in
// the current window.
func (c *perKeyCounter) below(now time.Time, key string) bool {
	c.roll(now)
	n, ok := c.counts[key]
	if !ok && len(c.counts) >= c.maxKeys {
		return false
	}
	return n < c.minGroups
}

// kept counts one kept group with key.
func (c *perKeyCounter) kept(now time.Time, key string) {
	c.roll(now)
	if _, ok := c.counts[key]; ok || len(c.counts) < c.maxKeys {
		c.counts[key]++
	}
}

// routeKey builds the per-key value of a record: the configured attributes,
// record first then resource, joined by '|'.
func (c *perKeyCounter) routeKey(attrs, res pcommon.Map) string {
	var b strings.Builder
	for i, k := range c.keys {
		if i > 0 {
			b.WriteByte('|')
		}
		v, ok := attrs.Get(k)
		if !ok {
			v, ok = res.Get(k)
		}
		if ok {
			b.WriteString(v.AsString())
		}
	}
	return b.String()
}
