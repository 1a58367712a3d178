package tailsamplingprocessor // import "github.com/sluicelogs/sluice/processor/tailsamplingprocessor"

import (
	"context"
	"sync"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// pipelineHandle is what one pipeline holds of the shared sampler.
type pipelineHandle struct {
	s            *sampler
	out          int
	release      func() (last bool)
	shutdownOnce sync.Once
	shutdownErr  error
}

// Start starts the shared decision ticker (once for all pipelines); it never
// blocks.
func (h *pipelineHandle) Start(context.Context, component.Host) error {
	h.s.start()
	return nil
}

// Shutdown releases this pipeline's hold; the first pipeline to shut down
// decides and emits everything pending. Idempotent, and safe without Start.
func (h *pipelineHandle) Shutdown(ctx context.Context) error {
	h.shutdownOnce.Do(func() {
		h.shutdownErr = h.s.shutdownOne(ctx, h.release())
	})
	return h.shutdownErr
}

// Capabilities: records are re-encoded, never modified in place.
func (*pipelineHandle) Capabilities() consumer.Capabilities {
	return consumer.Capabilities{MutatesData: false}
}

type logsProcessor struct {
	*pipelineHandle
	next consumer.Logs
}

// ConsumeLogs buffers grouped records until their group is decided.
func (p *logsProcessor) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	return p.s.consumeLogs(ctx, p.out, p.next, ld)
}

type tracesProcessor struct {
	*pipelineHandle
	next consumer.Traces
}

// ConsumeTraces buffers spans until their trace is decided.
func (p *tracesProcessor) ConsumeTraces(ctx context.Context, td ptrace.Traces) error {
	return p.s.consumeTraces(ctx, p.out, p.next, td)
}
