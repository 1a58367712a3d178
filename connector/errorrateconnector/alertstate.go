package errorrateconnector // import "github.com/sluicelogs/sluice/connector/errorrateconnector"

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.uber.org/zap"

	"github.com/sluicelogs/sluice/connector/errorrateconnector/internal/alert"
)

// alertStateKey is the storage key of the firing alerts.
const alertStateKey = "alert_state"

// alertStateVersion changes when the stored format does.
const alertStateVersion = 1

// savedAlerts is the stored form of which groups are alerting: enough to
// rebuild those groups and their firing rules after a restart.
type savedAlerts struct {
	Version int          `json:"version"`
	GroupBy []string     `json:"group_by"`
	Groups  []savedGroup `json:"groups"`
}

type savedGroup struct {
	Overflow bool         `json:"overflow,omitempty"`
	Values   []savedValue `json:"values,omitempty"`
	// Firing are the names of the rules firing for the group.
	Firing []string `json:"firing"`
}

// savedValue keeps a group_by value's type, so that its labels come back as
// they were (an int stays an int).
type savedValue struct {
	Type  string `json:"type"`
	Value string `json:"value,omitempty"`
}

// alertStore persists the alert state through a storage extension. The
// logs sender saves after sending the events of a transition, so a crash
// in between re-sends an event rather than swallows one.
type alertStore struct {
	mu     sync.Mutex
	client storage.Client // nil once closed
}

// openAlertStore gets the storage client of the aggregator (one per input
// signal) from the extension named by cfg.Storage.
func openAlertStore(ctx context.Context, host component.Host, id component.ID, cfg *Config, signal string) (*alertStore, error) {
	ext, ok := host.GetExtensions()[*cfg.Storage]
	if !ok {
		return nil, fmt.Errorf("storage: extension %q not found", cfg.Storage)
	}
	se, ok := ext.(storage.Extension)
	if !ok {
		return nil, fmt.Errorf("storage: extension %q is not a storage extension", cfg.Storage)
	}
	client, err := se.GetClient(ctx, component.KindConnector, id, signal)
	if err != nil {
		return nil, fmt.Errorf("storage: get client from %q: %w", cfg.Storage, err)
	}
	return &alertStore{client: client}, nil
}

var errStoreClosed = errors.New("alert state storage is closed")

func (s *alertStore) load(ctx context.Context) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client == nil {
		return nil, errStoreClosed
	}
	return s.client.Get(ctx, alertStateKey)
}

func (s *alertStore) save(ctx context.Context, state []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client == nil {
		// A send that outlived Shutdown's deadline.
		return errStoreClosed
	}
	return s.client.Set(ctx, alertStateKey, state)
}

func (s *alertStore) close(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client == nil {
		return nil
	}
	err := s.client.Close(ctx)
	s.client = nil
	return err
}

// alertStateLocked encodes which groups have firing rules.
func (a *aggregator) alertStateLocked() []byte {
	saved := savedAlerts{Version: alertStateVersion, GroupBy: a.cfg.GroupBy, Groups: []savedGroup{}}
	for _, g := range a.groups {
		if !g.firing() {
			continue
		}
		sg := savedGroup{Overflow: g.overflow}
		for _, v := range g.values {
			sg.Values = append(sg.Values, saveValue(v))
		}
		for r := range a.rules {
			if g.alerts[r].Firing() {
				sg.Firing = append(sg.Firing, a.rules[r].Name)
			}
		}
		saved.Groups = append(saved.Groups, sg)
	}
	// Only strings, bools and slices of them, which always encode.
	b, _ := json.Marshal(saved)
	return b
}

func saveValue(v pcommon.Value) savedValue {
	switch v.Type() {
	case pcommon.ValueTypeEmpty:
		return savedValue{Type: "empty"}
	case pcommon.ValueTypeInt, pcommon.ValueTypeDouble, pcommon.ValueTypeBool:
		return savedValue{Type: v.Type().String(), Value: v.AsString()}
	default:
		// Maps, slices and bytes group by their string form, as appendValue does.
		return savedValue{Type: pcommon.ValueTypeStr.String(), Value: v.AsString()}
	}
}

func restoreValue(s savedValue) (pcommon.Value, error) {
	switch s.Type {
	case "empty":
		return pcommon.NewValueEmpty(), nil
	case pcommon.ValueTypeStr.String():
		return pcommon.NewValueStr(s.Value), nil
	case pcommon.ValueTypeInt.String():
		i, err := strconv.ParseInt(s.Value, 10, 64)
		return pcommon.NewValueInt(i), err
	case pcommon.ValueTypeDouble.String():
		f, err := strconv.ParseFloat(s.Value, 64)
		return pcommon.NewValueDouble(f), err
	case pcommon.ValueTypeBool.String():
		b, err := strconv.ParseBool(s.Value)
		return pcommon.NewValueBool(b), err
	}
	return pcommon.Value{}, fmt.Errorf("unknown value type %q", s.Type)
}

// restoreAlertsLocked rebuilds the groups that were alerting, so that a
// restart during an incident neither fires again nor forgets to resolve.
// State saved under another group_by cannot be matched to groups and is
// dropped; rules are matched by name.
func (a *aggregator) restoreAlertsLocked(data []byte) (restored int, err error) {
	var saved savedAlerts
	if err := json.Unmarshal(data, &saved); err != nil {
		return 0, fmt.Errorf("decode: %w", err)
	}
	if saved.Version != alertStateVersion {
		return 0, fmt.Errorf("stored version %d, want %d", saved.Version, alertStateVersion)
	}
	if !slices.Equal(saved.GroupBy, a.cfg.GroupBy) {
		return 0, fmt.Errorf("stored for group_by %v, configured %v", saved.GroupBy, a.cfg.GroupBy)
	}
	idx := a.closedThrough + 1
	now := a.clock.Now().UnixNano()
	for i, sg := range saved.Groups {
		var g *group
		if sg.Overflow {
			if g = a.groups[overflowKey]; g == nil {
				g = a.newGroup(overflowKey, nil, idx, now)
				g.overflow = true
			}
		} else {
			if len(sg.Values) != len(a.cfg.GroupBy) {
				return restored, fmt.Errorf("group %d: %d values for %d group_by keys", i, len(sg.Values), len(a.cfg.GroupBy))
			}
			values := make([]pcommon.Value, len(sg.Values))
			var key []byte
			for j, sv := range sg.Values {
				v, err := restoreValue(sv)
				if err != nil {
					return restored, fmt.Errorf("group %d value %d: %w", i, j, err)
				}
				values[j] = v
				// The key of a record with these values (lookupGroupLocked).
				if v.Type() == pcommon.ValueTypeEmpty {
					key = append(key, 0)
					continue
				}
				key = append(key, 1)
				key = appendValue(key, v)
			}
			if g = a.groups[string(key)]; g == nil {
				if len(a.groups) >= a.cfg.MaxGroups {
					a.logger.Warn("error_rate: alert state of more groups than max_groups; the rest is not restored",
						zap.String("signal", a.signal), zap.Int("max_groups", a.cfg.MaxGroups))
					return restored, nil
				}
				g = a.newGroup(string(key), values, idx, now)
			}
		}
		for r := range a.rules {
			if slices.Contains(sg.Firing, a.rules[r].Name) {
				g.alerts[r] = alert.Restored(true)
				restored++
			}
		}
	}
	return restored, nil
}
