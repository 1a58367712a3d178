package query

import (
	"bytes"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/sluicelogs/sluice/extension/logsearchextension/internal/archive"
	"github.com/sluicelogs/sluice/internal/logarchive"
)

// evaluator tests rows of one file against a filter. Values are converted
// once per file (e.g. an attribute value to the promoted column's type), so
// the per-row work does not allocate.
type evaluator struct {
	f          *Filter
	km         *keywordMatcher
	hasFrom    bool
	hasTo      bool
	fromMicros int64
	toMicros   int64
	attrs      []attrMatcher
}

type attrMatcher struct {
	key, value string
	service    bool // key is service.name: compare the service_name column
	promoted   []promotedMatcher
}

type promotedMatcher struct {
	column string
	kind   logarchive.ColumnType
	str    string
	i      int64
	fl     float64
	b      bool
	ok     bool // value parses as the column type
}

func newEvaluator(f *Filter, fi *archive.FileInfo, km *keywordMatcher) (*evaluator, error) {
	ev := &evaluator{f: f, km: km, hasFrom: !f.From.IsZero(), hasTo: !f.To.IsZero()}
	if ev.hasFrom {
		ev.fromMicros = f.From.UnixMicro()
	}
	if ev.hasTo {
		ev.toMicros = f.To.UnixMicro()
	}
	for _, a := range f.Attributes {
		am := attrMatcher{key: a.Key, value: a.Value, service: a.Key == "service.name"}
		for _, p := range fi.Promoted {
			if p.Key != a.Key {
				continue
			}
			pm := promotedMatcher{column: p.Column, kind: p.Type, str: a.Value}
			var err error
			switch p.Type {
			case logarchive.TypeString:
				pm.ok = true
			case logarchive.TypeInt:
				pm.i, err = strconv.ParseInt(a.Value, 10, 64)
				pm.ok = err == nil
			case logarchive.TypeDouble:
				pm.fl, err = strconv.ParseFloat(a.Value, 64)
				pm.ok = err == nil
			case logarchive.TypeBool:
				pm.b, err = strconv.ParseBool(a.Value)
				pm.ok = err == nil
			}
			am.promoted = append(am.promoted, pm)
		}
		ev.attrs = append(ev.attrs, am)
	}
	return ev, nil
}

func (ev *evaluator) match(b *batch, i int) bool {
	f := ev.f
	if ev.hasFrom || ev.hasTo {
		ts := b.timeMicros(i)
		if ev.hasFrom && ts < ev.fromMicros || ev.hasTo && ts >= ev.toMicros {
			return false
		}
	}
	if f.HasService && b.str(b.service, i) != f.Service {
		return false
	}
	if f.MinSeverity > 0 && (b.severity == nil || b.severity.Value(i) < f.MinSeverity) {
		return false
	}
	if f.HasTraceID && (b.trace == nil || b.trace.IsNull(i) || !bytes.Equal(b.trace.Value(i), f.TraceID[:])) {
		return false
	}
	if ev.km != nil && (b.body == nil || b.body.IsNull(i) || !ev.km.match(b.body.Value(i))) {
		return false
	}
	for k := range ev.attrs {
		if !ev.attrs[k].match(b, i) {
			return false
		}
	}
	return true
}

func (am *attrMatcher) match(b *batch, i int) bool {
	if am.service && b.service != nil && b.service.IsValid(i) && b.service.Value(i) == am.value {
		return true
	}
	for _, pm := range am.promoted {
		if pm.ok && pm.match(b, i) {
			return true
		}
	}
	if v, ok := mapLookup(b.attrs, i, am.key); ok && v == am.value {
		return true
	}
	if v, ok := mapLookup(b.resource, i, am.key); ok && v == am.value {
		return true
	}
	return false
}

func (pm *promotedMatcher) match(b *batch, i int) bool {
	for _, pa := range b.promoted {
		if pa.col.Column != pm.column || pa.arr.IsNull(i) {
			continue
		}
		switch a := pa.arr.(type) {
		case *array.String:
			return a.Value(i) == pm.str
		case *array.Int64:
			return a.Value(i) == pm.i
		case *array.Float64:
			return a.Value(i) == pm.fl
		case *array.Boolean:
			return a.Value(i) == pm.b
		}
	}
	return false
}
