package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Config is what Start needs.
type Config struct {
	// Services are the services this process runs (any of gateway, auth, payment, order); the
	// others are reached at their Addrs.
	Services []string
	// Addrs are where each service listens (host:port; port 0 picks a free one) and is called.
	Addrs Addrs
	// Environment is every service's deployment.environment resource attribute.
	Environment string
	// Export says where the spans and logs go.
	Export Export
	// Faults says which requests fail and how.
	Faults Faults
}

// Addrs are the services' host:port addresses.
type Addrs struct {
	Gateway, Auth, Payment, Order string
}

// Default addresses: the shop's four services on consecutive local ports.
const (
	defaultGatewayAddr = "127.0.0.1:8080"
	defaultAuthAddr    = "127.0.0.1:8081"
	defaultPaymentAddr = "127.0.0.1:8082"
	defaultOrderAddr   = "127.0.0.1:8083"
	defaultEnvironment = "demo"
)

func (a *Addrs) of(name string) *string {
	switch name {
	case serviceGateway:
		return &a.Gateway
	case serviceAuth:
		return &a.Auth
	case servicePayment:
		return &a.Payment
	default:
		return &a.Order
	}
}

// Validate reports the first invalid setting, named by its command-line flag.
func (c Config) Validate() error {
	if len(c.Services) == 0 {
		return errors.New("no service to run")
	}
	for _, name := range c.Services {
		if !slices.Contains(allServices, name) {
			return fmt.Errorf("-service %q must be one of all, gateway, auth, payment, order, driver", name)
		}
	}
	for _, name := range allServices {
		addr := *c.Addrs.of(name)
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return fmt.Errorf("-%s-addr %q must be host:port: %w", name, addr, err)
		}
	}
	if c.Environment == "" {
		return errors.New("-env must not be empty")
	}
	if err := c.Export.Validate(); err != nil {
		return err
	}
	return c.Faults.Validate()
}

// Shop is a running set of shop services.
type Shop struct {
	addrs   Addrs
	seed    uint64
	running []*runningService

	shutdownOnce sync.Once
	shutdownErr  error
}

type runningService struct {
	svc    *service
	server *http.Server
	served chan struct{} // closed when Serve returned
}

// Start listens on every configured service's address, then serves them in the background.
// Stop them with Shutdown.
func Start(ctx context.Context, cfg Config) (*Shop, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Faults.Seed == 0 {
		cfg.Faults.Seed = rand.Uint64() | 1
	}
	// Listen first so that port-0 addresses are known before the gateway learns where to call.
	listeners := make(map[string]net.Listener, len(cfg.Services))
	closeListeners := func() {
		for _, ln := range listeners {
			_ = ln.Close()
		}
	}
	for _, name := range allServices {
		if !slices.Contains(cfg.Services, name) {
			continue
		}
		var lc net.ListenConfig
		ln, err := lc.Listen(ctx, "tcp", *cfg.Addrs.of(name))
		if err != nil {
			closeListeners()
			return nil, fmt.Errorf("%s: listen: %w", name, err)
		}
		listeners[name] = ln
		*cfg.Addrs.of(name) = ln.Addr().String()
	}
	up := upstreams{
		auth:    "http://" + cfg.Addrs.Auth,
		payment: "http://" + cfg.Addrs.Payment,
		order:   "http://" + cfg.Addrs.Order,
	}
	ids := newCorrelationIDs(cfg.Faults.Seed)
	runPrefix := fmt.Sprintf("%04x", rand.Uint32()&0xffff) // charge/order ids stay unique across runs

	s := &Shop{addrs: cfg.Addrs, seed: cfg.Faults.Seed}
	for _, name := range allServices {
		ln, ok := listeners[name]
		if !ok {
			continue
		}
		tel, err := newTelemetry(ctx, name, cfg.Environment, cfg.Export)
		if err != nil {
			closeListeners()
			return nil, errors.Join(err, s.Shutdown(ctx))
		}
		svc := newService(name, tel, cfg.Faults, up, ids, runPrefix)
		rs := &runningService{
			svc:    svc,
			server: &http.Server{Handler: svc.handler(), ReadHeaderTimeout: 10 * time.Second},
			served: make(chan struct{}),
		}
		delete(listeners, name)
		go func() {
			defer close(rs.served)
			// Serve returns ErrServerClosed after Shutdown; any other error has nobody to go to but
			// the log, and the service is then simply down (its clients see connection errors).
			if err := rs.server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				tel.logger.Error("serve: " + err.Error())
			}
		}()
		s.running = append(s.running, rs)
	}
	return s, nil
}

// Addrs returns where the services listen (and are called), with port-0 addresses resolved.
func (s *Shop) Addrs() Addrs { return s.addrs }

// GatewayURL is the base URL customers (and the driver) call.
func (s *Shop) GatewayURL() string { return "http://" + s.addrs.Gateway }

// Seed returns the seed of correlation ids and fault decisions (chosen at random when 0 was asked).
func (s *Shop) Seed() uint64 { return s.seed }

// Shutdown stops the services in call order — the gateway first, so requests in flight still reach
// the services behind it — then flushes every service's spans and logs (in parallel, so an
// unreachable agent costs one deadline, not four). Safe to call twice.
func (s *Shop) Shutdown(ctx context.Context) error {
	s.shutdownOnce.Do(func() {
		var errs []error
		for _, rs := range s.running {
			if err := rs.server.Shutdown(ctx); err != nil {
				errs = append(errs, fmt.Errorf("%s: stop serving: %w", rs.svc.name, err))
				_ = rs.server.Close()
			}
			<-rs.served
			rs.svc.closeIdleConnections()
		}
		flushErrs := make([]error, len(s.running))
		var wg sync.WaitGroup
		for i, rs := range s.running {
			wg.Go(func() {
				if err := rs.svc.tel.shutdown(ctx); err != nil {
					flushErrs[i] = fmt.Errorf("%s: %w", rs.svc.name, err)
				}
			})
		}
		wg.Wait()
		s.shutdownErr = errors.Join(append(errs, flushErrs...)...)
	})
	return s.shutdownErr
}
