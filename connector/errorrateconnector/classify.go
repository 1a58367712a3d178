package errorrateconnector // import "github.com/sluicelogs/sluice/connector/errorrateconnector"

import (
	"strconv"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/sluicelogs/sluice/internal/lognormalize"
)

// logIsError applies the severity test and the attribute conditions.
func (a *aggregator) logIsError(lr plog.LogRecord, resource pcommon.Map) bool {
	if a.minSeverity > 0 {
		sev := lr.SeverityNumber()
		if sev == plog.SeverityNumberUnspecified {
			sev = lognormalize.SeverityFromText(lr.SeverityText())
		}
		if sev >= a.minSeverity {
			return true
		}
	}
	return a.matchesCondition(lr.Attributes(), resource)
}

// spanIsError applies the span-status test and the attribute conditions.
func (a *aggregator) spanIsError(span ptrace.Span, resource pcommon.Map) bool {
	if a.cfg.Errors.SpanStatus && span.Status().Code() == ptrace.StatusCodeError {
		return true
	}
	return a.matchesCondition(span.Attributes(), resource)
}

func (a *aggregator) matchesCondition(attrs, resource pcommon.Map) bool {
	for i := range a.conditions {
		c := &a.conditions[i]
		v, ok := attrs.Get(c.key)
		if !ok {
			v, ok = resource.Get(c.key)
		}
		if ok && c.matches(v) {
			return true
		}
	}
	return false
}

// matches evaluates the condition on a present attribute value.
func (c *condition) matches(v pcommon.Value) bool {
	if c.op == OpExists {
		return true
	}
	if c.isNumber {
		if n, ok := numeric(v); ok {
			switch c.op {
			case OpEqual:
				return n == c.number
			case OpNotEqual:
				return n != c.number
			case OpGreater:
				return n > c.number
			case OpGreaterEqual:
				return n >= c.number
			case OpLess:
				return n < c.number
			case OpLessEqual:
				return n <= c.number
			}
		}
		if c.ordered {
			return false
		}
	}
	var s string
	if v.Type() == pcommon.ValueTypeStr {
		s = v.Str()
	} else {
		s = v.AsString()
	}
	if c.op == OpEqual {
		return s == c.value
	}
	return s != c.value
}

// numeric reads ints, doubles and numeric strings ("503").
func numeric(v pcommon.Value) (float64, bool) {
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

// logMessage returns the text fingerprinted for an error log record: the
// first configured message attribute, else the body (for map bodies their
// message or msg field).
func (a *aggregator) logMessage(lr plog.LogRecord) string {
	if s, ok := firstStringAttr(lr.Attributes(), a.cfg.Fingerprints.MessageAttributes); ok {
		return s
	}
	body := lr.Body()
	switch body.Type() {
	case pcommon.ValueTypeStr:
		return body.Str()
	case pcommon.ValueTypeMap:
		for _, k := range [...]string{"message", "msg"} {
			if v, ok := body.Map().Get(k); ok {
				return v.AsString()
			}
		}
	case pcommon.ValueTypeEmpty:
		return ""
	}
	return body.AsString()
}

// spanMessage returns the text fingerprinted for an error span: a configured
// attribute, the status message, an exception event's exception.message,
// else the span name.
func (a *aggregator) spanMessage(span ptrace.Span) string {
	if s, ok := firstStringAttr(span.Attributes(), a.cfg.Fingerprints.MessageAttributes); ok {
		return s
	}
	if m := span.Status().Message(); m != "" {
		return m
	}
	events := span.Events()
	for i := 0; i < events.Len(); i++ {
		if ev := events.At(i); ev.Name() == "exception" {
			if v, ok := ev.Attributes().Get("exception.message"); ok {
				return v.AsString()
			}
		}
	}
	return span.Name()
}

func firstStringAttr(attrs pcommon.Map, keys []string) (string, bool) {
	for _, k := range keys {
		if v, ok := attrs.Get(k); ok {
			return v.AsString(), true
		}
	}
	return "", false
}
