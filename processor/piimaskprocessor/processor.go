package piimaskprocessor // import "github.com/sluicelogs/sluice/processor/piimaskprocessor"

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/sluicelogs/sluice/internal/validutf8"
	"github.com/sluicelogs/sluice/processor/piimaskprocessor/internal/detect"
	"github.com/sluicelogs/sluice/processor/piimaskprocessor/internal/mask"
	"github.com/sluicelogs/sluice/processor/piimaskprocessor/internal/metadata"
)

// location is where in a record a value sits; it labels the masked count.
type location uint8

const (
	locBody location = iota
	locLogAttribute
	locSpanAttribute
	locSpanEventAttribute
	locResourceAttribute
	locScopeAttribute
	locDatapointAttribute
	locExemplarAttribute
	locSpanName
	locSpanStatusMessage
	locSpanEventName
	locSpanLinkAttribute
	locLogEventName
	numLocations
)

var locationNames = [numLocations]string{
	locBody:               "body",
	locLogAttribute:       "log_attribute",
	locSpanAttribute:      "span_attribute",
	locSpanEventAttribute: "span_event_attribute",
	locResourceAttribute:  "resource_attribute",
	locScopeAttribute:     "scope_attribute",
	locDatapointAttribute: "datapoint_attribute",
	locExemplarAttribute:  "exemplar_attribute",
	locSpanName:           "span_name",
	locSpanStatusMessage:  "span_status_message",
	locSpanEventName:      "span_event_name",
	locSpanLinkAttribute:  "span_link_attribute",
	locLogEventName:       "log_event_name",
}

// piiMask scans and masks pdata in place. It is safe for concurrent use:
// per-call scratch space comes from a pool.
type piiMask struct {
	scanner    *detect.Scanner
	idScanner  *detect.Scanner // scanner for values under id_keys: no card or phone numbers
	masker     *mask.Masker
	ruleNames  []string
	maskedKey  int // rule index of mask_keys
	secretRule int // rule index of secret_kv, or -1 when disabled
	cardRule   int // rule index of payment_card, or -1 when disabled
	hasCustom  bool
	maskKeys   []string
	allowKeys  []string
	idKeys     []string // normalized with idKeyWord
	detAttr    string
	maxBytes   int
	maxDepth   int

	telemetry   *metadata.TelemetryBuilder
	maskedOpts  []metric.AddOption // [rule*numLocations+loc]
	limitBytes  metric.AddOption
	limitDepth  metric.AddOption
	states      sync.Pool
	shutdownOne sync.Once
}

// state is the scratch space of one ConsumeX call.
type state struct {
	// keyVerdicts remembers what the key at each position of the last map
	// masked names: records of one source carry the same keys in the same
	// order, so a batch's keys are judged once, not once per record.
	keyVerdicts []keyVerdict
	// keysSeen is a second, content-addressed memory of verdicts: one
	// optional key (payment.card in some records only) shifts every key
	// after it, and the positions alone would judge them all again.
	keysSeen [keysSeenSize]keyVerdict
	matches  []detect.Match
	buf      []byte
	// dropAt holds the positions, ascending per map, of the entries to
	// remove: removal is then one pass however many entries are dropped.
	dropAt   []int
	masked   []int64 // [rule*numLocations+loc]
	fired    []bool  // per rule, for the current record
	anyFired bool

	records, recordsMasked, bytes, overBytes, overDepth int64
}

func newPIIMask(cfg *Config, tel component.TelemetrySettings) (*piiMask, error) {
	def, err := mask.ParseAction(cfg.DefaultAction)
	if err != nil {
		return nil, fmt.Errorf("default_action: %w", err)
	}
	actionOr := func(key, a string) (mask.Action, error) {
		if a == "" {
			return def, nil
		}
		act, err := mask.ParseAction(a)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", key, err)
		}
		return act, nil
	}

	p := &piiMask{
		maskKeys:   cfg.MaskKeys,
		allowKeys:  cfg.AllowKeys,
		detAttr:    cfg.DetectorsAttribute,
		maxBytes:   cfg.MaxValueBytes,
		maxDepth:   cfg.MaxDepth,
		secretRule: -1,
		cardRule:   -1,
	}
	var rules []mask.Rule
	var enabled []detect.Detector
	for d := detect.Detector(0); d < detect.NumBuiltin; d++ {
		dc := cfg.Detectors[d.String()]
		act, err := actionOr("detectors::"+d.String()+"::action", dc.Action)
		if err != nil {
			return nil, err
		}
		rules = append(rules, mask.Rule{Name: d.String(), Kind: d, Action: act})
		if dc.Enabled == nil || *dc.Enabled {
			enabled = append(enabled, d)
		}
	}
	var customs []detect.Custom
	for i, cd := range cfg.CustomDetectors {
		key := fmt.Sprintf("custom_detectors::%d", i)
		re, err := regexp.Compile(cd.Regex)
		if err != nil {
			return nil, fmt.Errorf("%s::regex: %w", key, err)
		}
		v, err := parseValidator(cd.Validator)
		if err != nil {
			return nil, fmt.Errorf("%s::validator: %w", key, err)
		}
		act, err := actionOr(key+"::action", cd.Action)
		if err != nil {
			return nil, err
		}
		ctxWords := make([]string, len(cd.Context))
		for k, w := range cd.Context {
			ctxWords[k] = strings.ToLower(w)
		}
		customs = append(customs, detect.Custom{Regexp: re, Validator: v, Context: ctxWords})
		rules = append(rules, mask.Rule{Name: cd.Name, Kind: detect.NumBuiltin, Action: act})
	}
	keyAct, err := actionOr("mask_keys_action", cfg.MaskKeysAction)
	if err != nil {
		return nil, err
	}
	p.maskedKey = len(rules)
	rules = append(rules, mask.Rule{Name: maskedKeyDetector, Kind: detect.NumBuiltin, Action: keyAct})

	p.scanner = detect.NewScanner(enabled, customs)
	p.idScanner = p.scanner
	for _, k := range cfg.IDKeys {
		p.idKeys = append(p.idKeys, idKeyWord(k))
	}
	if len(p.idKeys) > 0 {
		// Ids are long digit runs: some pass Luhn or look like phones.
		var idEnabled []detect.Detector
		for _, d := range enabled {
			if d != detect.PaymentCard && d != detect.Phone {
				idEnabled = append(idEnabled, d)
			}
		}
		if len(idEnabled) != len(enabled) {
			p.idScanner = detect.NewScanner(idEnabled, customs)
		}
	}
	p.hasCustom = len(customs) > 0
	if p.scanner.Enabled(detect.SecretKeyValue) {
		p.secretRule = int(detect.SecretKeyValue)
	}
	if p.scanner.Enabled(detect.PaymentCard) {
		p.cardRule = int(detect.PaymentCard)
	}

	var key []byte
	for _, r := range rules {
		if r.Action == mask.Hash {
			if key, err = loadHashKey(cfg.Hash); err != nil {
				return nil, err
			}
			break
		}
	}
	if p.masker, err = mask.New(rules, cfg.RedactTemplate, key, cfg.Hash.KeyID); err != nil {
		return nil, err
	}
	for _, r := range rules {
		p.ruleNames = append(p.ruleNames, r.Name)
	}
	// Only this processor's own masks count as masked in a secret's value.
	p.scanner.SetMasked(p.masker.Masked)
	p.idScanner.SetMasked(p.masker.Masked)

	if p.telemetry, err = metadata.NewTelemetryBuilder(tel); err != nil {
		return nil, fmt.Errorf("create telemetry: %w", err)
	}
	p.maskedOpts = make([]metric.AddOption, len(rules)*int(numLocations))
	for r := range rules {
		for l := location(0); l < numLocations; l++ {
			p.maskedOpts[r*int(numLocations)+int(l)] = metric.WithAttributeSet(attribute.NewSet(
				attribute.String("detector", rules[r].Name), attribute.String("location", locationNames[l])))
		}
	}
	p.limitBytes = metric.WithAttributeSet(attribute.NewSet(attribute.String("limit", "max_value_bytes")))
	p.limitDepth = metric.WithAttributeSet(attribute.NewSet(attribute.String("limit", "max_depth")))
	nRules := len(rules)
	p.states.New = func() any {
		return &state{masked: make([]int64, nRules*int(numLocations)), fired: make([]bool, nRules)}
	}
	return p, nil
}

// loadHashKey reads the HMAC key from the environment or a file.
func loadHashKey(h HashConfig) ([]byte, error) {
	if h.KeyEnv != "" {
		v := os.Getenv(h.KeyEnv)
		if v == "" {
			return nil, fmt.Errorf("hash::key_env: environment variable %q is unset or empty", h.KeyEnv)
		}
		return []byte(v), nil
	}
	if h.KeyFile != "" {
		b, err := os.ReadFile(h.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("hash::key_file: %w", err)
		}
		b = bytes.TrimRight(b, "\r\n")
		if len(b) == 0 {
			return nil, fmt.Errorf("hash::key_file: %q is empty", h.KeyFile)
		}
		return b, nil
	}
	return nil, errors.New("hash: a detector uses action hash; set hash::key_env or hash::key_file")
}

func (p *piiMask) shutdown(context.Context) error {
	p.shutdownOne.Do(p.telemetry.Shutdown)
	return nil
}

func (p *piiMask) getState() *state { return p.states.Get().(*state) }

// flush adds the counts of st to the self-metrics and returns st to the pool.
func (p *piiMask) flush(ctx context.Context, st *state) {
	t := p.telemetry
	if st.records > 0 {
		t.ProcessorPiiMaskRecordsScanned.Add(ctx, st.records)
	}
	if st.recordsMasked > 0 {
		t.ProcessorPiiMaskRecordsMasked.Add(ctx, st.recordsMasked)
	}
	if st.bytes > 0 {
		t.ProcessorPiiMaskBytesScanned.Add(ctx, st.bytes)
	}
	if st.overBytes > 0 {
		t.ProcessorPiiMaskLimitsExceeded.Add(ctx, st.overBytes, p.limitBytes)
	}
	if st.overDepth > 0 {
		t.ProcessorPiiMaskLimitsExceeded.Add(ctx, st.overDepth, p.limitDepth)
	}
	for i, n := range st.masked {
		if n > 0 {
			t.ProcessorPiiMaskValuesMasked.Add(ctx, n, p.maskedOpts[i])
			st.masked[i] = 0
		}
	}
	st.records, st.recordsMasked, st.bytes, st.overBytes, st.overDepth = 0, 0, 0, 0, 0
	st.dropAt = st.dropAt[:0]
	if cap(st.buf) > 1<<20 {
		st.buf = nil // do not pin one huge value's buffer
	}
	p.states.Put(st)
}

// count records that rule masked a value at loc.
func (st *state) count(rule int, loc location) {
	st.masked[rule*int(numLocations)+int(loc)]++
	st.fired[rule] = true
	st.anyFired = true
}

// clearFired forgets which rules fired outside any record (resource and
// scope attributes), so they are not reported on the next record.
func (st *state) clearFired() {
	if !st.anyFired {
		return
	}
	for r := range st.fired {
		st.fired[r] = false
	}
	st.anyFired = false
}

// endRecord closes a record: it counts it and, when configured and
// something was masked, names the detectors that fired in attrs.
func (p *piiMask) endRecord(st *state, attrs pcommon.Map) {
	st.records++
	if !st.anyFired {
		return
	}
	st.recordsMasked++
	var names []byte
	for r, f := range st.fired {
		if !f {
			continue
		}
		st.fired[r] = false
		if p.detAttr != "" {
			if len(names) > 0 {
				names = append(names, ',')
			}
			names = append(names, p.ruleNames[r]...)
		}
	}
	st.anyFired = false
	if p.detAttr != "" {
		attrs.PutStr(p.detAttr, string(names))
	}
}

// scanString masks s. It returns the masked text, whether anything changed,
// and whether a matched rule asks for the containing attribute to be dropped.
func (p *piiMask) scanString(st *state, s, key string, id bool, loc location) (string, bool, bool) {
	sc := p.scanner
	if id {
		sc = p.idScanner
	}
	scanned := s
	if len(s) > p.maxBytes {
		scanned = s[:validutf8.Cut(s, p.maxBytes)]
		st.overBytes++
	}
	st.bytes += int64(len(scanned))
	st.matches = sc.Scan(st.matches[:0], scanned, key)
	if len(st.matches) == 0 {
		return s, false, false
	}
	var drop bool
	out := s
	for pass := 0; ; pass++ {
		var d bool
		st.buf, d = p.masker.Apply(st.buf[:0], out, st.matches)
		drop = drop || d
		if string(st.buf) == out {
			// A mask that reproduces itself (a partial mask read again).
			break
		}
		for _, m := range st.matches {
			st.count(m.Detector, loc)
		}
		out = string(st.buf)
		// A mask changes what its neighbours are judged by ("1::X0@0.AA":
		// once the email is masked, "1::" ends at '[' and is an address).
		// Scanning the masked text again until nothing more fires makes a
		// second pii_mask (agent, then gateway) change nothing.
		if pass+1 == detect.MaskPasses {
			break
		}
		rescan := out
		if len(rescan) > p.maxBytes {
			rescan = rescan[:validutf8.Cut(rescan, p.maxBytes)]
		}
		st.matches = sc.Scan(st.matches[:0], rescan, key)
		if len(st.matches) == 0 {
			break
		}
	}
	return out, out != s, drop
}

// wholeValue masks all of v under rule, as its key demands: mask_keys
// replace any value with one string.
func (p *piiMask) wholeValue(st *state, v pcommon.Value, rule int, loc location) (drop bool) {
	s := v.AsString()
	if p.masker.Masked(s) {
		return false
	}
	var d bool
	st.buf, d = p.masker.Value(st.buf[:0], rule, s)
	st.count(rule, loc)
	v.SetStr(string(st.buf))
	return d
}

// secretValue masks everything under a key that names a secret. Maps and
// arrays keep their shape (an HTTP header attribute stays a string array):
// each scalar inside is masked whole, a byte value becomes the masked string.
// It reports whether the rule asks for the entry to be dropped.
func (p *piiMask) secretValue(st *state, v pcommon.Value, loc location, depth int) (drop bool) {
	switch v.Type() {
	case pcommon.ValueTypeMap, pcommon.ValueTypeSlice:
		if depth >= p.maxDepth {
			// Too deep to follow: mask it all rather than pass a secret on.
			st.overDepth++
			return p.wholeValue(st, v, p.secretRule, loc)
		}
	case pcommon.ValueTypeBytes:
		return p.wholeValue(st, v, p.secretRule, loc)
	case pcommon.ValueTypeEmpty:
		return false
	}
	switch v.Type() {
	case pcommon.ValueTypeMap:
		v.Map().Range(func(_ string, e pcommon.Value) bool {
			drop = p.secretValue(st, e, loc, depth+1) || drop
			return true
		})
		return drop
	case pcommon.ValueTypeSlice:
		sl := v.Slice()
		for i := 0; i < sl.Len(); i++ {
			drop = p.secretValue(st, sl.At(i), loc, depth+1) || drop
		}
		return drop
	}
	s := v.AsString()
	if p.masker.Masked(s) || detect.PlaceholderValue(s) {
		return false
	}
	var d bool
	st.buf, d = p.masker.Value(st.buf[:0], p.secretRule, s)
	st.count(p.secretRule, loc)
	v.SetStr(string(st.buf))
	return d
}

// maskValue masks v in place. It reports whether v is to be removed from its
// map (drop action); a value that cannot be removed is masked instead.
func (p *piiMask) maskValue(st *state, v pcommon.Value, key string, id bool, loc location, depth int) bool {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		out, changed, drop := p.scanString(st, v.Str(), key, id, loc)
		if changed {
			v.SetStr(out)
		}
		return drop
	case pcommon.ValueTypeInt:
		return p.maskInt(st, v, key, id, loc)
	case pcommon.ValueTypeMap:
		if depth >= p.maxDepth {
			st.overDepth++
			return false
		}
		p.maskMap(st, v.Map(), loc, depth+1)
	case pcommon.ValueTypeSlice:
		if depth >= p.maxDepth {
			st.overDepth++
			return false
		}
		sl := v.Slice()
		for i := 0; i < sl.Len(); i++ {
			// An array element cannot be dropped alone; it stays masked.
			p.maskValue(st, sl.At(i), key, id, loc, depth+1)
		}
	}
	return false
}

// maskInt checks an integer for a card number (and custom detectors, which
// see its decimal form); a masked integer becomes a string.
func (p *piiMask) maskInt(st *state, v pcommon.Value, key string, id bool, loc location) bool {
	n := v.Int()
	if p.cardRule >= 0 && !id && detect.CardIntKey(n, key) {
		var d bool
		st.buf = strconv.AppendInt(st.buf[:0], n, 10)
		digits := string(st.buf)
		st.buf, d = p.masker.Value(st.buf[:0], p.cardRule, digits)
		st.count(p.cardRule, loc)
		v.SetStr(string(st.buf))
		return d
	}
	if p.hasCustom {
		out, changed, drop := p.scanString(st, strconv.FormatInt(n, 10), key, id, loc)
		if changed {
			v.SetStr(out)
		}
		return drop
	}
	return false
}

func keyIn(list []string, k string) bool {
	for _, x := range list {
		if strings.EqualFold(x, k) {
			return true
		}
	}
	return false
}

// maskMap masks the values of m, honouring allow and mask key lists, and
// removes the entries whose rule says drop.
func (p *piiMask) maskMap(st *state, m pcommon.Map, loc location, depth int) {
	if m.Len() == 0 {
		return
	}
	mark := len(st.dropAt)
	i := -1
	m.Range(func(k string, v pcommon.Value) bool {
		i++
		var drop bool
		switch {
		case len(p.allowKeys) > 0 && keyIn(p.allowKeys, k):
			return true
		case len(p.maskKeys) > 0 && keyIn(p.maskKeys, k):
			drop = p.wholeValue(st, v, p.maskedKey, loc)
		default:
			kv := p.keyVerdict(st, i, k)
			switch {
			case kv.secret:
				drop = p.secretValue(st, v, loc, depth)
			case kv.cvv && cvvValue(v):
				drop = p.wholeValue(st, v, p.secretRule, loc)
			default:
				drop = p.maskValue(st, v, k, kv.id, loc, depth)
			}
		}
		if drop {
			st.dropAt = append(st.dropAt, i)
		}
		return true
	})
	if len(st.dropAt) == mark {
		return
	}
	// RemoveIf visits the entries in the order Range did.
	drops := st.dropAt[mark:]
	pos, next := -1, 0
	m.RemoveIf(func(string, pcommon.Value) bool {
		pos++
		if next < len(drops) && drops[next] == pos {
			next++
			return true
		}
		return false
	})
	st.dropAt = st.dropAt[:mark]
}

// keyVerdict is what a key names: a secret (detect.IsSecretKey, when
// secret_kv is enabled), a card security code (detect.CVVKey, likewise) or
// an id (id_keys).
type keyVerdict struct {
	key    string
	secret bool
	cvv    bool
	id     bool
}

// keysSeenSize is the number of slots of state.keysSeen (a power of two).
const keysSeenSize = 64

// keyVerdict judges the key k at position i of a map, answered from the
// verdict for the previous key at i when it is the same string (compared by
// content: the same interned string compares in one step), else from the
// verdict for the last key of k's length and ends.
func (p *piiMask) keyVerdict(st *state, i int, k string) keyVerdict {
	if i >= len(st.keyVerdicts) {
		if i >= 256 {
			return p.judgeKey(k)
		}
		st.keyVerdicts = append(st.keyVerdicts, make([]keyVerdict, i+1-len(st.keyVerdicts))...)
	}
	v := &st.keyVerdicts[i]
	if v.key != k {
		seen := &st.keysSeen[keySlot(k)]
		if seen.key != k || k == "" {
			*seen = p.judgeKey(k)
		}
		*v = *seen
	}
	return *v
}

// keySlot picks k's slot in state.keysSeen from its length and end bytes.
func keySlot(k string) int {
	if k == "" {
		return 0
	}
	return (len(k)*7 + int(k[0])*3 + int(k[len(k)-1])) & (keysSeenSize - 1)
}

func (p *piiMask) judgeKey(k string) keyVerdict {
	return keyVerdict{
		key:    k,
		secret: p.secretRule >= 0 && detect.IsSecretKey(k),
		cvv:    p.secretRule >= 0 && detect.CVVKey(k),
		id:     p.isIDKey(k),
	}
}

// cvvValue reports whether v, under a CVV key, holds a security code: a
// string of 3 or 4 digits, or an integer below 10000 (a code with a leading
// zero loses it as an integer).
func cvvValue(v pcommon.Value) bool {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return detect.CVVValue(v.Str())
	case pcommon.ValueTypeInt:
		return v.Int() >= 0 && v.Int() < 10000
	}
	return false
}

// isIDKey reports whether k ends with one of id_keys, ignoring case and the
// separators '.', '_' and '-' ("dd.trace_id", "traceId", "x-request-id").
func (p *piiMask) isIDKey(k string) bool {
	for _, w := range p.idKeys {
		if endsWithWord(k, w) {
			return true
		}
	}
	return false
}

func endsWithWord(k, w string) bool {
	j := len(w) - 1
	for i := len(k) - 1; i >= 0 && j >= 0; i-- {
		c := k[i]
		if isKeySeparator(c) {
			continue
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != w[j] {
			return false
		}
		j--
	}
	return j < 0 && len(w) > 0
}

func isKeySeparator(c byte) bool { return c == '.' || c == '_' || c == '-' }

// idKeyWord lowercases an id_keys entry and drops its separators.
func idKeyWord(k string) string {
	b := make([]byte, 0, len(k))
	for i := 0; i < len(k); i++ {
		c := k[i]
		if isKeySeparator(c) {
			continue
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	return string(b)
}

// maskBody masks a log body. A string body under a drop rule keeps its
// masked text: a record without its body would lose more than the value.
func (p *piiMask) maskBody(st *state, body pcommon.Value) {
	switch body.Type() {
	case pcommon.ValueTypeMap:
		p.maskMap(st, body.Map(), locBody, 1)
	default:
		p.maskValue(st, body, "", false, locBody, 0)
	}
}

// maskText scans a string field that is not an attribute (a span name or
// status message, an event name) and writes back what changed. There is no
// entry to drop: a drop rule leaves the redacted text.
func (p *piiMask) maskText(st *state, s string, loc location, set func(string)) {
	if s == "" {
		return
	}
	if out, changed, _ := p.scanString(st, s, "", false, loc); changed {
		set(out)
	}
}
