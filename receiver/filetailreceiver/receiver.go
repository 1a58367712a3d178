package filetailreceiver // import "github.com/sluicelogs/sluice/receiver/filetailreceiver"

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/receiver"

	"github.com/sluicelogs/sluice/receiver/filetailreceiver/internal/checkpoint"
	"github.com/sluicelogs/sluice/receiver/filetailreceiver/internal/metadata"
)

// fileTailReceiver runs one tailer on one goroutine.
type fileTailReceiver struct {
	cfg  *Config
	set  receiver.Settings
	next consumer.Logs

	// now and sleep replace the wall clock in tests.
	now   func() time.Time
	sleep func(context.Context, time.Duration) error

	mu       sync.Mutex
	tb       *metadata.TelemetryBuilder
	tailer   *tailer
	cancel   context.CancelFunc
	done     chan struct{}
	shutdown bool
}

func newReceiver(set receiver.Settings, cfg *Config, next consumer.Logs) (*fileTailReceiver, error) {
	if next == nil {
		return nil, errors.New("nil next consumer")
	}
	return &fileTailReceiver{cfg: cfg, set: set, next: next, now: time.Now, sleep: sleepContext}, nil
}

// Start loads the checkpoints and starts tailing in the background.
func (r *fileTailReceiver) Start(ctx context.Context, host component.Host) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.shutdown {
		return errors.New("file_tail receiver was shut down")
	}
	t, err := r.prepare(ctx, host)
	if err != nil {
		return err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	r.tailer, r.cancel, r.done = t, cancel, make(chan struct{})
	go r.run(runCtx, host)
	return nil
}

// prepare builds the tailer with its store and telemetry.
func (r *fileTailReceiver) prepare(ctx context.Context, host component.Host) (*tailer, error) {
	store, err := r.openStore(ctx, host)
	if err != nil {
		return nil, err
	}
	tb, err := metadata.NewTelemetryBuilder(r.set.TelemetrySettings)
	if err != nil {
		_ = store.Close(ctx)
		return nil, fmt.Errorf("create telemetry: %w", err)
	}
	t, err := newTailer(r.cfg, r.set.Logger, r.next, tb, store)
	if err == nil {
		t.now, t.sleep = r.now, r.sleep
		err = t.load(ctx)
	}
	if err == nil {
		err = errors.Join(tb.RegisterFileTailReadLagCallback(t.observeReadLag), tb.RegisterFileTailCommitLagCallback(t.observeCommitLag))
	}
	if err != nil {
		tb.Shutdown()
		_ = store.Close(ctx)
		return nil, err
	}
	r.tb = tb
	return t, nil
}

// openStore picks the checkpoint store: the storage extension, a checkpoint
// file, or memory only.
func (r *fileTailReceiver) openStore(ctx context.Context, host component.Host) (checkpoint.Store, error) {
	if r.cfg.Storage != nil {
		ext, ok := host.GetExtensions()[*r.cfg.Storage]
		if !ok {
			return nil, fmt.Errorf("storage: extension %q not found", r.cfg.Storage)
		}
		se, ok := ext.(storage.Extension)
		if !ok {
			return nil, fmt.Errorf("storage: extension %q is not a storage extension", r.cfg.Storage)
		}
		client, err := se.GetClient(ctx, component.KindReceiver, r.set.ID, "")
		if err != nil {
			return nil, fmt.Errorf("storage: get client from %q: %w", r.cfg.Storage, err)
		}
		return checkpoint.NewClient(client), nil
	}
	if r.cfg.CheckpointDir != "" {
		name := strings.NewReplacer("/", "_", "\\", "_").Replace(r.set.ID.String())
		return checkpoint.NewFile(r.cfg.CheckpointDir, name)
	}
	r.set.Logger.Warn("neither storage nor checkpoint_dir is set: offsets are kept in memory only and a restart follows start_at")
	return &checkpoint.Memory{}, nil
}

func (r *fileTailReceiver) run(ctx context.Context, host component.Host) {
	defer close(r.done)
	ticker := time.NewTicker(r.cfg.PollInterval)
	defer ticker.Stop()
	for {
		if err := r.tailer.pass(ctx); err != nil {
			if ctx.Err() == nil {
				componentstatus.ReportStatus(host, componentstatus.NewRecoverableErrorEvent(err))
			}
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// Shutdown stops tailing, waits for the reader, saves the checkpoints of
// what was acknowledged and closes every file. Records read but not accepted
// downstream are not committed and will be read again after a restart.
func (r *fileTailReceiver) Shutdown(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.shutdown {
		return nil
	}
	r.shutdown = true
	if r.cancel == nil {
		return nil // never started
	}
	r.cancel()
	select {
	case <-r.done:
	case <-ctx.Done():
		return fmt.Errorf("file_tail shutdown: %w", ctx.Err())
	}
	err := r.tailer.close(ctx)
	r.tb.Shutdown()
	return err
}
