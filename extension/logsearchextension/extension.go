package logsearchextension

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/extension"
	"go.uber.org/zap"

	"github.com/sluicelogs/sluice/extension/logsearchextension/internal/api"
	"github.com/sluicelogs/sluice/extension/logsearchextension/internal/archive"
	"github.com/sluicelogs/sluice/extension/logsearchextension/internal/metadata"
	"github.com/sluicelogs/sluice/extension/logsearchextension/internal/query"
	"github.com/sluicelogs/sluice/internal/logarchive"
	"github.com/sluicelogs/sluice/internal/s3client"
)

// logSearch is the running extension: an HTTP server over a query engine.
type logSearch struct {
	archive   string // where the archive is, for the start-up log line
	cfg       *Config
	set       extension.Settings
	telemetry *metadata.TelemetryBuilder
	handler   http.Handler
	// closeStore releases the archive store's network resources (idle S3 connections).
	closeStore func()

	mu        sync.Mutex
	server    *http.Server
	serveDone chan struct{}
	shutdown  bool
}

func newLogSearch(cfg *Config, set extension.Settings) (*logSearch, error) {
	layout, err := logarchive.NewLayout(cfg.PathTemplate)
	if err != nil {
		return nil, fmt.Errorf("path_template: %w", err)
	}
	store, where, closeStore, err := newStore(cfg.Storage)
	if err != nil {
		return nil, err
	}
	engine, err := query.New(query.Options{
		Store:             store,
		Layout:            layout,
		FooterCacheSize:   cfg.FooterCacheSize,
		FooterConcurrency: cfg.FooterConcurrency,
	})
	if err != nil {
		return nil, err
	}
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, fmt.Errorf("create telemetry: %w", err)
	}
	return &logSearch{
		closeStore: closeStore,
		archive:    where,
		cfg:        cfg,
		set:        set,
		telemetry:  tb,
		handler: api.NewHandler(api.Settings{
			Engine: engine,
			Limits: api.Limits{
				DefaultLimit: cfg.DefaultLimit, MaxLimit: cfg.MaxLimit, MaxTraceRecords: cfg.MaxTraceRecords,
				MaxBuckets: cfg.MaxHistogramBuckets, DefaultHistogramRange: cfg.HistogramDefaultRange,
			},
			QueryTimeout:  cfg.QueryTimeout,
			MaxConcurrent: cfg.MaxConcurrentQueries,
			Telemetry:     tb,
			Logger:        set.Logger,
		}),
	}, nil
}

// Start listens on the endpoint and serves in a goroutine.
func (e *logSearch) Start(ctx context.Context, host component.Host) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.shutdown {
		return errors.New("log_search: Start after Shutdown")
	}
	ln, err := e.cfg.ToListener(ctx)
	if err != nil {
		return fmt.Errorf("log_search: listen on %s: %w", e.cfg.NetAddr.Endpoint, err)
	}
	srv, err := e.cfg.ToServer(ctx, host.GetExtensions(), e.set.TelemetrySettings, e.handler)
	if err != nil {
		ln.Close()
		return fmt.Errorf("log_search: http server: %w", err)
	}
	e.server = srv
	e.serveDone = make(chan struct{})
	e.set.Logger.Info("log search page and API listening", zap.String("url", "http://"+ln.Addr().String()+"/"),
		zap.String("archive", e.archive))
	go func(ln net.Listener) {
		err := srv.Serve(ln)
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			componentstatus.ReportStatus(host, componentstatus.NewFatalErrorEvent(err))
		}
		close(e.serveDone)
	}(ln)
	return nil
}

// Shutdown stops the server, waiting for running queries up to ctx.
func (e *logSearch) Shutdown(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.shutdown = true
	var err error
	if e.server != nil {
		err = e.server.Shutdown(ctx)
		<-e.serveDone
		e.server = nil
	}
	e.closeStore()
	e.telemetry.Shutdown()
	return err
}

// newStore builds the archive store named by the storage configuration, says where it points, and
// returns what releases it.
func newStore(c StorageConfig) (archive.Store, string, func(), error) {
	if c.Type != StorageS3 {
		return archive.NewLocalStore(c.Local.Path), c.Local.Path, func() {}, nil
	}
	client, err := s3client.New(context.Background(), s3client.Options{
		Region: c.S3.Region, Endpoint: c.S3.Endpoint, ForcePathStyle: c.S3.ForcePathStyle,
		AccessKeyID: c.S3.AccessKeyID, SecretAccessKey: string(c.S3.SecretAccessKey), SessionToken: string(c.S3.SessionToken),
	})
	if err != nil {
		return nil, "", nil, fmt.Errorf("storage.s3: %w", err)
	}
	return archive.NewS3Store(client, c.S3.Bucket, c.S3.Prefix), "s3://" + c.S3.Bucket + "/" + c.S3.Prefix, client.Close, nil
}
