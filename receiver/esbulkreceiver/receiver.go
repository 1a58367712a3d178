package esbulkreceiver

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receiverhelper"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/sluicelogs/sluice/receiver/esbulkreceiver/internal/metadata"
)

// esBulkReceiver serves the Elasticsearch-compatible HTTP API.
type esBulkReceiver struct {
	cfg       *Config
	settings  receiver.Settings
	next      consumer.Logs
	obsrecv   *receiverhelper.ObsReport
	telemetry *metadata.TelemetryBuilder

	retryAfter  string    // Retry-After header value, "" for none
	idPrefix    [7]byte   // random prefix of generated document ids
	clusterUUID string    // reported by GET /
	infoBody    []byte    // GET / response, built once
	states      sync.Pool // *requestState, reused between requests
	budget      inFlightBudget
	seqNo       atomic.Int64
	autoID      atomic.Uint64

	reasonAttrs map[string]metric.AddOption // precomputed metric attribute sets
	now         func() time.Time            // clock for observed timestamps and took

	mu       sync.Mutex
	addr     net.Addr // listening address, for tests
	server   *http.Server
	wg       sync.WaitGroup
	shutdown bool
}

func newReceiver(cfg *Config, set receiver.Settings, next consumer.Logs) (*esBulkReceiver, error) {
	obsrecv, err := receiverhelper.NewObsReport(receiverhelper.ObsReportSettings{
		ReceiverID:             set.ID,
		Transport:              "http",
		ReceiverCreateSettings: set,
	})
	if err != nil {
		return nil, fmt.Errorf("create obsreport: %w", err)
	}
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, fmt.Errorf("create telemetry builder: %w", err)
	}
	r := &esBulkReceiver{
		cfg:       cfg,
		settings:  set,
		next:      next,
		obsrecv:   obsrecv,
		telemetry: tb,
		now:       time.Now,
	}
	r.budget.limit = cfg.MaxInFlightBytes
	if cfg.RetryAfter > 0 {
		r.retryAfter = strconv.FormatInt(int64(math.Ceil(cfg.RetryAfter.Seconds())), 10)
	}
	var uuid [16]byte
	_, _ = rand.Read(r.idPrefix[:]) // crypto/rand.Read never fails on supported platforms
	_, _ = rand.Read(uuid[:])
	r.clusterUUID = hex.EncodeToString(uuid[:])
	r.infoBody = r.buildInfoBody()
	r.reasonAttrs = make(map[string]metric.AddOption)
	for _, reason := range allReasons {
		r.reasonAttrs[reason] = metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", reason)))
	}
	return r, nil
}

// Start opens the listener and serves in the background; it does not block.
func (r *esBulkReceiver) Start(ctx context.Context, host component.Host) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.shutdown {
		return errors.New("es_bulk receiver: started after shutdown")
	}
	if r.server != nil {
		return nil
	}
	ln, err := r.cfg.ServerConfig.ToListener(ctx)
	if err != nil {
		return fmt.Errorf("es_bulk receiver: listen on %s: %w", r.cfg.ServerConfig.NetAddr.Endpoint, err)
	}
	srv, err := r.cfg.ServerConfig.ToServer(ctx, host.GetExtensions(), r.settings.TelemetrySettings, r,
		confighttp.WithErrorHandler(r.serverErrorHandler))
	if err != nil {
		_ = ln.Close()
		return fmt.Errorf("es_bulk receiver: create HTTP server: %w", err)
	}
	r.server = srv
	r.addr = ln.Addr()
	r.settings.Logger.Info("es_bulk receiver listening", zap.String("endpoint", ln.Addr().String()))
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		if serveErr := srv.Serve(ln); serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
			componentstatus.ReportStatus(host, componentstatus.NewFatalErrorEvent(serveErr))
		}
	}()
	return nil
}

// Shutdown stops accepting requests, waits for in-flight ones (bounded by
// ctx) and releases telemetry. Safe to call twice and without Start.
func (r *esBulkReceiver) Shutdown(ctx context.Context) error {
	r.mu.Lock()
	srv := r.server
	first := !r.shutdown
	r.shutdown = true
	r.mu.Unlock()
	var err error
	if srv != nil && first {
		if err = srv.Shutdown(ctx); err != nil {
			err = errors.Join(err, srv.Close())
		}
	}
	r.wg.Wait()
	if first {
		r.telemetry.Shutdown()
	}
	return err
}

// ServeHTTP marks every response as Elasticsearch's (clients such as
// go-elasticsearch and Logstash check the header), routes it and counts it.
func (r *esBulkReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	w.Header().Set("X-Elastic-Product", "Elasticsearch")
	sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	endpoint := r.route(sw, req)
	r.countRequest(req.Context(), endpoint, sw.status)
}

// serverErrorHandler formats errors raised by the HTTP server layer (unknown
// Content-Encoding, …) the Elasticsearch way.
func (r *esBulkReceiver) serverErrorHandler(w http.ResponseWriter, req *http.Request, msg string, status int) {
	w.Header().Set("X-Elastic-Product", "Elasticsearch")
	r.writeError(w, status, errTypeIllegalArg, msg)
	r.countRequest(req.Context(), endpointOf(req), status)
}

func (r *esBulkReceiver) countRequest(ctx context.Context, endpoint string, status int) {
	r.telemetry.EsBulkRequests.Add(ctx, 1, metric.WithAttributeSet(attribute.NewSet(
		attribute.String("endpoint", endpoint),
		attribute.Int("http.response.status_code", status))))
}

// statusWriter remembers the status code for the request metric.
type statusWriter struct {
	http.ResponseWriter
	status  int
	written bool
}

func (s *statusWriter) WriteHeader(code int) {
	if !s.written {
		s.status = code
		s.written = true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	s.written = true
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }
