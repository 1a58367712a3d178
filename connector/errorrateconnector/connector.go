package errorrateconnector // import "github.com/sluicelogs/sluice/connector/errorrateconnector"

import (
	"context"
	"sync"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/connector"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// The collector builds one connector node per (input, output) pipeline type
// pair, and every node of one input type receives the same data. The nodes of
// one configuration and input signal therefore share one aggregator: the
// first node ingests, every node registers its output, and metrics and alert
// events come from the same windows.
type sharedKey struct {
	cfg    *Config
	signal string
}

var (
	sharedMu   sync.Mutex
	sharedAggs = map[sharedKey]*aggregator{}
)

// node is one connector instance as the collector sees it.
type node struct {
	agg     *aggregator
	ingests bool
}

func newNode(ctx context.Context, set connector.Settings, cfg *Config, signal string, metricsNext consumer.Metrics, logsNext consumer.Logs) (*node, error) {
	key := sharedKey{cfg: cfg, signal: signal}
	sharedMu.Lock()
	defer sharedMu.Unlock()
	agg, ok := sharedAggs[key]
	if !ok {
		var err error
		agg, err = newAggregator(set.TelemetrySettings, set.Resource, cfg, signal, clockFromContext(ctx))
		if err != nil {
			return nil, err
		}
		agg.id = set.ID
		agg.release = func() {
			sharedMu.Lock()
			defer sharedMu.Unlock()
			if sharedAggs[key] == agg {
				delete(sharedAggs, key)
			}
		}
		sharedAggs[key] = agg
	}
	// Outputs are registered before Start; consumption starts after it.
	agg.mu.Lock()
	if metricsNext != nil {
		agg.metricsNext = metricsNext
	}
	if logsNext != nil {
		agg.logsNext = logsNext
	}
	agg.mu.Unlock()
	return &node{agg: agg, ingests: !ok}, nil
}

// Start restores the alert state and starts the shared window loop (once).
func (n *node) Start(ctx context.Context, host component.Host) error {
	return n.agg.start(ctx, host)
}

// Shutdown flushes the open windows to every output. The first node to shut
// down does it: the collector shuts a connector down before any pipeline it
// feeds, so all outputs are still running then.
func (n *node) Shutdown(ctx context.Context) error {
	return n.agg.shutdown(ctx)
}

// Capabilities reports that input data is not modified.
func (*node) Capabilities() consumer.Capabilities {
	return consumer.Capabilities{MutatesData: false}
}

// ConsumeLogs counts log records.
func (n *node) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	if !n.ingests {
		return nil
	}
	return n.agg.consumeLogs(ctx, ld)
}

// ConsumeTraces counts spans.
func (n *node) ConsumeTraces(ctx context.Context, td ptrace.Traces) error {
	if !n.ingests {
		return nil
	}
	return n.agg.consumeTraces(ctx, td)
}
