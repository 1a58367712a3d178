package kafkagroupreceiver // import "github.com/sluicelogs/sluice/receiver/kafkagroupreceiver"

import (
	"context"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/receiver"

	"github.com/sluicelogs/sluice/internal/sharedcomponent"
	"github.com/sluicelogs/sluice/receiver/kafkagroupreceiver/internal/metadata"
)

// NewFactory returns the kafka_group receiver factory. The logs and traces
// pipelines that name the same component id share one group member.
func NewFactory() receiver.Factory {
	shared := sharedcomponent.NewMap[component.ID, *groupReceiver]()
	acquire := func(set receiver.Settings, cfg component.Config) (*groupReceiver, func() bool, error) {
		r, err := shared.Acquire(set.ID, func() (*groupReceiver, error) {
			return newGroupReceiver(cfg.(*Config), set)
		})
		if err != nil {
			return nil, nil, err
		}
		return r, func() bool { return shared.Release(set.ID, r) }, nil
	}
	return receiver.NewFactory(
		metadata.Type,
		createDefaultConfig,
		receiver.WithLogs(func(_ context.Context, set receiver.Settings, cfg component.Config, next consumer.Logs) (receiver.Logs, error) {
			r, release, err := acquire(set, cfg)
			if err != nil {
				return nil, err
			}
			r.setLogs(next)
			return &pipelineHandle{r: r, release: release}, nil
		}, metadata.LogsStability),
		receiver.WithTraces(func(_ context.Context, set receiver.Settings, cfg component.Config, next consumer.Traces) (receiver.Traces, error) {
			r, release, err := acquire(set, cfg)
			if err != nil {
				return nil, err
			}
			r.setTraces(next)
			return &pipelineHandle{r: r, release: release}, nil
		}, metadata.TracesStability),
	)
}

func createDefaultConfig() component.Config {
	retry := configretry.NewDefaultBackOffConfig()
	retry.MaxElapsedTime = 0
	return &Config{
		Topic:              DefaultTopic,
		GroupID:            DefaultGroupID,
		ClientID:           DefaultClientID,
		InitialOffset:      DefaultInitialOffset,
		SignalHeader:       DefaultSignalHeader,
		SessionTimeout:     DefaultSessionTimeout,
		HeartbeatInterval:  DefaultHeartbeatInterval,
		RebalanceTimeout:   DefaultRebalanceTimeout,
		CommitInterval:     DefaultCommitInterval,
		MaxPollRecords:     DefaultMaxPollRecords,
		MaxPendingMessages: DefaultMaxPendingMessages,
		RetryOnFailure:     retry,
	}
}
