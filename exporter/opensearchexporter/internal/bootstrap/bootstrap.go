// Package bootstrap installs, idempotently, what the exporter needs on the
// cluster before the first document: index templates (mappings) and ISM
// retention policies.
package bootstrap // import "github.com/sluicelogs/sluice/exporter/opensearchexporter/internal/bootstrap"

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/sluicelogs/sluice/exporter/opensearchexporter/internal/osclient"
)

// ErrISMUnavailable means the cluster has no Index State Management plugin.
var ErrISMUnavailable = errors.New("index state management (ISM) plugin is not installed on the cluster")

// PermissionError is a 401/403 answer to an install call.
type PermissionError struct {
	What       string // "index template sluice-logs"
	Permission string // the cluster permission needed
	Err        error
}

func (e *PermissionError) Error() string {
	return fmt.Sprintf("install %s: permission denied (%v); grant %s to the exporter's user or disable this install", e.What, e.Err, e.Permission)
}

func (e *PermissionError) Unwrap() error { return e.Err }

// Doer is the part of osclient.Client used here.
type Doer interface {
	Do(ctx context.Context, method, path, contentType string, body []byte) ([]byte, error)
}

// Kind selects the mapping of a template.
type Kind int

// Template kinds.
const (
	KindLogs Kind = iota
	KindTraces
	KindDeadLetter
)

// TemplateSpec describes one index template.
type TemplateSpec struct {
	Name     string
	Pattern  string
	Kind     Kind
	Priority int
	Shards   int // 0: cluster default
	Replicas int // -1: cluster default
}

// InstallTemplate PUTs the index template; PUT replaces, so repeating it is harmless.
func InstallTemplate(ctx context.Context, c Doer, spec TemplateSpec) error {
	body, err := json.Marshal(templateBody(spec))
	if err != nil {
		return fmt.Errorf("encode index template %s: %w", spec.Name, err)
	}
	_, err = c.Do(ctx, http.MethodPut, "/_index_template/"+spec.Name, "application/json", body)
	if err != nil {
		return classify(err, "index template "+spec.Name, "cluster permission indices:admin/index_template/put")
	}
	return nil
}

func classify(err error, what, permission string) error {
	switch osclient.StatusOf(err) {
	case http.StatusUnauthorized, http.StatusForbidden:
		return &PermissionError{What: what, Permission: permission, Err: err}
	}
	return fmt.Errorf("install %s: %w", what, err)
}

// Permanent reports whether retrying an install error cannot help.
func Permanent(err error) bool {
	var pe *PermissionError
	if errors.Is(err, ErrISMUnavailable) || errors.As(err, &pe) {
		return true
	}
	s := osclient.StatusOf(err)
	return s >= 400 && s < 500 && s != http.StatusTooManyRequests && s != http.StatusRequestTimeout
}

func keyword() map[string]any { return map[string]any{"type": "keyword", "ignore_above": 1024} }

func dateNanos() map[string]any { return map[string]any{"type": "date_nanos"} }

func flat() map[string]any { return map[string]any{"type": "flat_object"} }

// untruncated holds the complete values of attributes too long to index
// (see document.MaxIndexedValue): kept in _source, never parsed or indexed.
func untruncated() map[string]any { return map[string]any{"type": "object", "enabled": false} }

func scopeMapping() map[string]any {
	return map[string]any{"properties": map[string]any{
		"name": keyword(), "version": keyword(), "schemaUrl": keyword(),
		"attributes": flat(), "droppedAttributesCount": map[string]any{"type": "integer"},
	}}
}

// mappings returns the document mapping. "dynamic": false keeps unexpected
// fields in _source without letting them create (and conflict in) the mapping;
// attributes are flat_object so one key being an object in one service and a
// string in another cannot cause a mapping conflict.
func mappings(k Kind) map[string]any {
	var props map[string]any
	switch k {
	case KindLogs:
		props = map[string]any{
			"@timestamp": dateNanos(), "observedTimestamp": dateNanos(),
			"body": map[string]any{"type": "text"},
			"severity": map[string]any{"properties": map[string]any{
				"text":   map[string]any{"type": "text", "fields": map[string]any{"keyword": keyword()}},
				"number": map[string]any{"type": "long"},
			}},
			"traceId": keyword(), "spanId": keyword(), "flags": map[string]any{"type": "long"},
			"eventName": keyword(), "schemaUrl": keyword(),
			"instrumentationScope": scopeMapping(),
			"resource":             flat(), "attributes": flat(),
			"droppedAttributesCount": map[string]any{"type": "integer"},
			"untruncated":            untruncated(),
		}
	case KindTraces:
		event := map[string]any{"type": "nested", "properties": map[string]any{
			"name": keyword(), "@timestamp": dateNanos(), "attributes": flat(),
			"droppedAttributesCount": map[string]any{"type": "integer"},
		}}
		link := map[string]any{"type": "nested", "properties": map[string]any{
			"traceId": keyword(), "spanId": keyword(), "traceState": keyword(), "attributes": flat(),
		}}
		props = map[string]any{
			"@timestamp": dateNanos(), "traceId": keyword(), "spanId": keyword(),
			"parentSpanId": keyword(), "traceState": keyword(), "name": keyword(), "kind": keyword(),
			"startTime": dateNanos(), "endTime": dateNanos(), "durationInNanos": map[string]any{"type": "long"},
			"serviceName": keyword(),
			"status": map[string]any{"properties": map[string]any{
				"code": map[string]any{"type": "integer"}, "message": map[string]any{"type": "text"},
			}},
			"instrumentationScope": scopeMapping(),
			"resource":             flat(), "attributes": flat(),
			"events": event, "links": link,
			"droppedAttributesCount": map[string]any{"type": "integer"},
			"droppedEventsCount":     map[string]any{"type": "integer"},
			"droppedLinksCount":      map[string]any{"type": "integer"},
			"untruncated":            untruncated(),
		}
	case KindDeadLetter:
		props = map[string]any{
			"@timestamp": map[string]any{"type": "date"}, "signal": keyword(),
			"index": keyword(), "documentId": keyword(), "status": map[string]any{"type": "integer"},
			"error": map[string]any{"properties": map[string]any{
				"type": keyword(), "reason": map[string]any{"type": "text"},
			}},
			"document": map[string]any{"type": "text"},
		}
	}
	return map[string]any{"dynamic": false, "properties": props}
}

func templateBody(spec TemplateSpec) map[string]any {
	settings := map[string]any{"index.mapping.total_fields.limit": 10000}
	if spec.Shards > 0 {
		settings["index.number_of_shards"] = spec.Shards
	}
	if spec.Replicas >= 0 {
		settings["index.number_of_replicas"] = spec.Replicas
	}
	return map[string]any{
		"index_patterns": []string{spec.Pattern},
		"priority":       spec.Priority,
		"_meta":          map[string]any{"managed_by": "sluice"},
		"template":       map[string]any{"settings": settings, "mappings": mappings(spec.Kind)},
	}
}

// PolicySpec describes one ISM policy: indices stay hot, then are deleted once
// older than Retention.
type PolicySpec struct {
	ID        string
	Pattern   string
	Retention time.Duration
	Priority  int
}

// ISMAge formats d as an ISM time value ("30d", "36h", "90m").
func ISMAge(d time.Duration) string {
	switch {
	case d%(24*time.Hour) == 0:
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	default:
		return fmt.Sprintf("%dm", max(1, d/time.Minute))
	}
}

func policyBody(spec PolicySpec) ([]byte, string, error) {
	policy := map[string]any{
		"default_state": "hot",
		"states": []any{
			map[string]any{"name": "hot", "actions": []any{}, "transitions": []any{
				map[string]any{"state_name": "delete", "conditions": map[string]any{"min_index_age": ISMAge(spec.Retention)}},
			}},
			map[string]any{"name": "delete", "actions": []any{map[string]any{"delete": map[string]any{}}}, "transitions": []any{}},
		},
		"ism_template": []any{map[string]any{"index_patterns": []string{spec.Pattern}, "priority": spec.Priority}},
	}
	raw, err := json.Marshal(policy)
	if err != nil {
		return nil, "", err
	}
	sum := sha256.Sum256(raw)
	fingerprint := hex.EncodeToString(sum[:6])
	// The description carries a fingerprint of the policy so a restart can tell
	// whether the installed policy is already the wanted one.
	policy["description"] = "Managed by Sluice [" + fingerprint + "]: delete indices matching " + spec.Pattern + " after " + ISMAge(spec.Retention)
	body, err := json.Marshal(map[string]any{"policy": policy})
	return body, fingerprint, err
}

// InstallPolicy creates the ISM policy, or updates it when the installed one
// differs; an identical installed policy is left alone.
func InstallPolicy(ctx context.Context, c Doer, spec PolicySpec) error {
	what := "ISM policy " + spec.ID
	const perm = "cluster permission cluster:admin/opendistro/ism/policy/write"
	body, fingerprint, err := policyBody(spec)
	if err != nil {
		return fmt.Errorf("encode %s: %w", what, err)
	}
	path := "/_plugins/_ism/policies/" + spec.ID
	existing, err := c.Do(ctx, http.MethodGet, path, "", nil)
	if err != nil {
		var se *osclient.StatusError
		if errors.As(err, &se) && ismMissing(se) {
			return ErrISMUnavailable
		}
		if osclient.StatusOf(err) != http.StatusNotFound {
			return classify(err, what, perm)
		}
		if _, err := c.Do(ctx, http.MethodPut, path, "application/json", body); err != nil {
			return classify(err, what, perm)
		}
		return nil
	}
	var cur struct {
		SeqNo       int64 `json:"_seq_no"`
		PrimaryTerm int64 `json:"_primary_term"`
		Policy      struct {
			Description string `json:"description"`
		} `json:"policy"`
	}
	if err := json.Unmarshal(existing, &cur); err != nil {
		return fmt.Errorf("install %s: decode existing policy: %w", what, err)
	}
	if strings.Contains(cur.Policy.Description, "["+fingerprint+"]") {
		return nil
	}
	upd := fmt.Sprintf("%s?if_seq_no=%d&if_primary_term=%d", path, cur.SeqNo, cur.PrimaryTerm)
	if _, err := c.Do(ctx, http.MethodPut, upd, "application/json", body); err != nil {
		return classify(err, what, perm)
	}
	return nil
}

// ismMissing recognises the answer of a cluster without the ISM REST handlers.
func ismMissing(se *osclient.StatusError) bool {
	return (se.Status == http.StatusBadRequest || se.Status == http.StatusNotFound || se.Status == http.StatusMethodNotAllowed) &&
		strings.Contains(se.Reason, "no handler found")
}
