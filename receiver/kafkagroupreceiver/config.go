package kafkagroupreceiver // import "github.com/sluicelogs/sluice/receiver/kafkagroupreceiver"

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"go.opentelemetry.io/collector/config/configretry"
)

// Defaults.
const (
	DefaultTopic              = "sluice-otlp"
	DefaultGroupID            = "sluice-gateway"
	DefaultClientID           = "sluice"
	DefaultInitialOffset      = OffsetEarliest
	DefaultSignalHeader       = "sluice.signal"
	DefaultSessionTimeout     = 10 * time.Second
	DefaultHeartbeatInterval  = 3 * time.Second
	DefaultRebalanceTimeout   = 60 * time.Second
	DefaultCommitInterval     = time.Second
	DefaultMaxPollRecords     = 2000
	DefaultMaxPendingMessages = 1_000_000
)

// Values of initial_offset.
const (
	OffsetEarliest = "earliest"
	OffsetLatest   = "latest"
)

// Signal names: the values of the signal header and of default_signal.
const (
	SignalLogs   = "logs"
	SignalTraces = "traces"
)

// Config configures the kafka_group receiver.
type Config struct {
	// Brokers are the seed brokers, host:port. An entry may hold several,
	// comma-separated (so one environment variable can carry the list); empty
	// entries are ignored. With no brokers at all the receiver stays idle,
	// so one gateway config serves deployments with and without Kafka.
	Brokers []string `mapstructure:"brokers"`
	// Topic is the topic both signals are read from. Logs and spans share
	// it so that one request's records, keyed by trace id, land in the same
	// partition and so on the same group member, whatever the assignor.
	Topic string `mapstructure:"topic"`
	// GroupID is the consumer group; every gateway of a tier uses the same.
	GroupID string `mapstructure:"group_id"`
	// ClientID names this client to the brokers.
	ClientID string `mapstructure:"client_id"`
	// InitialOffset is where a group without committed offsets starts:
	// earliest (nothing published before the first gateway started is
	// skipped) or latest.
	InitialOffset string `mapstructure:"initial_offset"`
	// SignalHeader is the record header naming a message's signal (logs or
	// traces); the kafka exporter sets it with record_headers.
	SignalHeader string `mapstructure:"signal_header"`
	// DefaultSignal is the signal of messages without the header: logs,
	// traces, or empty to dead-letter them.
	DefaultSignal string `mapstructure:"default_signal"`
	// SessionTimeout is how long the group waits for a silent member before
	// giving its partitions to the others: the take-over time after a crash.
	SessionTimeout time.Duration `mapstructure:"session_timeout"`
	// HeartbeatInterval is how often this member tells the group it lives.
	HeartbeatInterval time.Duration `mapstructure:"heartbeat_interval"`
	// RebalanceTimeout bounds a rebalance, including the final commit of
	// partitions this member gives up.
	RebalanceTimeout time.Duration `mapstructure:"rebalance_timeout"`
	// CommitInterval is how often finished offsets are committed. Records
	// finished after the last commit are read again after a crash
	// (duplicates, never loss).
	CommitInterval time.Duration `mapstructure:"commit_interval"`
	// MaxPollRecords bounds the records handed over per poll.
	MaxPollRecords int `mapstructure:"max_poll_records"`
	// MaxPendingMessages pauses reading while this many messages are read
	// but not yet finished downstream (back-pressure when processors hold
	// records or exporters fall behind).
	MaxPendingMessages int `mapstructure:"max_pending_messages"`
	// RetryOnFailure paces retries of a batch the pipeline refused with a
	// retryable error; max_elapsed_time 0 retries until shutdown.
	RetryOnFailure configretry.BackOffConfig `mapstructure:"retry_on_failure"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// SeedBrokers returns the configured brokers with lists split and empty
// entries removed.
func (cfg *Config) SeedBrokers() []string {
	var out []string
	for _, b := range cfg.Brokers {
		for _, s := range strings.Split(b, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

// Validate checks the configuration; errors name the YAML key.
func (cfg *Config) Validate() error {
	var errs []error
	if strings.TrimSpace(cfg.Topic) == "" {
		errs = append(errs, errors.New("topic: must not be empty"))
	}
	if strings.TrimSpace(cfg.GroupID) == "" {
		errs = append(errs, errors.New("group_id: must not be empty"))
	}
	switch cfg.InitialOffset {
	case OffsetEarliest, OffsetLatest:
	default:
		errs = append(errs, fmt.Errorf("initial_offset: %q is not one of %q, %q", cfg.InitialOffset, OffsetEarliest, OffsetLatest))
	}
	if strings.TrimSpace(cfg.SignalHeader) == "" {
		errs = append(errs, errors.New("signal_header: must not be empty"))
	}
	switch cfg.DefaultSignal {
	case "", SignalLogs, SignalTraces:
	default:
		errs = append(errs, fmt.Errorf("default_signal: %q is not one of %q, %q or empty", cfg.DefaultSignal, SignalLogs, SignalTraces))
	}
	if cfg.SessionTimeout <= 0 {
		errs = append(errs, errors.New("session_timeout: must be positive"))
	}
	if cfg.HeartbeatInterval <= 0 || cfg.HeartbeatInterval >= cfg.SessionTimeout {
		errs = append(errs, errors.New("heartbeat_interval: must be positive and less than session_timeout"))
	}
	if cfg.RebalanceTimeout <= 0 {
		errs = append(errs, errors.New("rebalance_timeout: must be positive"))
	}
	if cfg.CommitInterval <= 0 {
		errs = append(errs, errors.New("commit_interval: must be positive"))
	}
	if cfg.MaxPollRecords <= 0 {
		errs = append(errs, errors.New("max_poll_records: must be positive"))
	}
	if cfg.MaxPendingMessages < cfg.MaxPollRecords {
		errs = append(errs, errors.New("max_pending_messages: must be at least max_poll_records"))
	}
	if err := cfg.RetryOnFailure.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("retry_on_failure: %w", err))
	}
	return errors.Join(errs...)
}
