package tailsamplingprocessor // import "github.com/sluicelogs/sluice/processor/tailsamplingprocessor"

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/processor"

	"github.com/sluicelogs/sluice/internal/sharedcomponent"
	"github.com/sluicelogs/sluice/processor/tailsamplingprocessor/internal/metadata"
)

// NewFactory returns the factory of the tail_sampling processor. Pipelines
// that reference the same component id share one instance (and so one
// decision per group), whatever their signal.
func NewFactory() processor.Factory {
	return newFactory(time.Now)
}

// newFactory takes the clock, so tests can drive decisions without sleeping.
func newFactory(now func() time.Time) processor.Factory {
	shared := sharedcomponent.NewMap[component.ID, *sampler]()
	acquire := func(set processor.Settings, cfg component.Config, o *output) (*pipelineHandle, error) {
		c := cfg.(*Config)
		s, err := shared.Acquire(set.ID, func() (*sampler, error) {
			return newSampler(set, c, now)
		})
		if err != nil {
			return nil, err
		}
		release := func() bool { return shared.Release(set.ID, s) }
		out, err := s.addOutput(o)
		if err != nil {
			// Give back the reference without closing the instance other
			// pipelines use; the last holder releases its telemetry.
			if release() {
				s.tel.Shutdown()
			}
			return nil, err
		}
		return &pipelineHandle{s: s, out: out, release: release}, nil
	}
	return processor.NewFactory(
		metadata.Type,
		createDefaultConfig,
		processor.WithLogs(func(_ context.Context, set processor.Settings, cfg component.Config, next consumer.Logs) (processor.Logs, error) {
			h, err := acquire(set, cfg, &output{signal: signalLogs, logs: next})
			if err != nil {
				return nil, err
			}
			return &logsProcessor{pipelineHandle: h, next: next}, nil
		}, metadata.LogsStability),
		processor.WithTraces(func(_ context.Context, set processor.Settings, cfg component.Config, next consumer.Traces) (processor.Traces, error) {
			h, err := acquire(set, cfg, &output{signal: signalTraces, traces: next})
			if err != nil {
				return nil, err
			}
			return &tracesProcessor{pipelineHandle: h, next: next}, nil
		}, metadata.TracesStability),
	)
}

func createDefaultConfig() component.Config {
	return &Config{
		DecisionWait:    defaultDecisionWait,
		MaxBufferBytes:  defaultMaxBufferBytes,
		MaxGroups:       defaultMaxGroups,
		MaxGroupRecords: defaultMaxGroupRecords,
		MaxGroupBytes:   defaultMaxGroupBytes,
		Ungrouped:       UngroupedConfig{Action: defaultUngroupedAction},
		DecisionCache: DecisionCacheConfig{
			KeptSize:    defaultKeptCacheSize,
			DroppedSize: defaultDroppedCacheSize,
		},
		DefaultDecision: defaultDefaultDecision,
	}
}
