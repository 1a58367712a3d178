// Command shop is a small web shop of four HTTP services — gateway → auth → payment → order —
// instrumented with the OpenTelemetry Go SDK, plus a load driver. Every service has its own
// service.name and exports its spans (otelhttp) and logs (the slog bridge, with trace context and
// the request's correlation_id) over OTLP to a Sluice agent. It injects failures — card declines,
// payment provider errors, slow order writes — so error rates, alerts and tail sampling have
// something to show. See README.md.
//
//	go run ./examples/shop                                  # all four services and the driver, OTLP to 127.0.0.1:4317
//	go run ./examples/shop -rps 20 -duration 5m             # more load, for a while
//	go run ./examples/shop -service payment -payment-addr 0.0.0.0:8082   # one service per process
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "shop:", err)
		os.Exit(1)
	}
}

const (
	modeAll    = "all"
	modeDriver = "driver"
	// shutdownTimeout bounds the graceful stop: requests in flight, then the final export.
	shutdownTimeout = 15 * time.Second
)

// options are the parsed command line.
type options struct {
	mode      string
	shop      Config
	load      Load
	runDriver bool
}

func parseFlags(args []string, getenv func(string) string, output io.Writer) (options, error) {
	fs := flag.NewFlagSet("shop", flag.ContinueOnError)
	fs.SetOutput(output)
	var o options
	fs.StringVar(&o.mode, "service", modeAll,
		"what this process runs: all (four services and the driver), gateway, auth, payment, order, or driver (load only)")
	fs.StringVar(&o.shop.Addrs.Gateway, "gateway-addr", defaultGatewayAddr, "gateway address (listen, and where the driver calls)")
	fs.StringVar(&o.shop.Addrs.Auth, "auth-addr", defaultAuthAddr, "auth service address (listen, and where the gateway calls)")
	fs.StringVar(&o.shop.Addrs.Payment, "payment-addr", defaultPaymentAddr, "payment service address")
	fs.StringVar(&o.shop.Addrs.Order, "order-addr", defaultOrderAddr, "order service address")
	fs.StringVar(&o.shop.Environment, "env", defaultEnvironment, "deployment.environment of every service")
	fs.StringVar(&o.shop.Export.Protocol, "otlp-protocol", orDefault(getenv("OTEL_EXPORTER_OTLP_PROTOCOL"), protocolGRPC),
		"OTLP protocol: grpc or http/protobuf (default from OTEL_EXPORTER_OTLP_PROTOCOL)")
	fs.StringVar(&o.shop.Export.Endpoint, "otlp-endpoint", getenv("OTEL_EXPORTER_OTLP_ENDPOINT"),
		"OTLP base URL (default from OTEL_EXPORTER_OTLP_ENDPOINT, else "+defaultGRPCEndpoint+" for grpc, "+defaultHTTPEndpoint+" for http/protobuf)")
	fs.Uint64Var(&o.shop.Faults.Seed, "seed", 0, "seed of correlation ids, fault decisions and carts; 0 picks one (printed at start)")
	fs.Float64Var(&o.shop.Faults.DeclineRate, "decline-rate", defaultDeclineRate, "share of payments declined (HTTP 402, WARN)")
	fs.Float64Var(&o.shop.Faults.ProviderErrorRate, "provider-error-rate", defaultProviderErrorRate,
		"share of payments failing at the provider (HTTP 502, ERROR with stack trace, span status Error)")
	fs.Float64Var(&o.shop.Faults.SlowOrderRate, "slow-rate", defaultSlowOrderRate, "share of slow order writes")
	fs.DurationVar(&o.shop.Faults.SlowOrderDelay, "slow-delay", defaultSlowOrderDelay, "duration of a slow order write")
	fs.Float64Var(&o.load.Rate, "rps", defaultRate, "driver: checkouts per second; 0 runs the services without load")
	fs.DurationVar(&o.load.Duration, "duration", 0, "driver: stop after this long (0: until interrupted)")
	fs.IntVar(&o.load.Requests, "requests", 0, "driver: stop after this many checkouts (0: no limit)")
	fs.IntVar(&o.load.MaxInFlight, "max-in-flight", defaultMaxInFlight, "driver: most checkouts pending at once")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}

	switch o.mode {
	case modeAll:
		o.shop.Services = allServices
		o.runDriver = o.load.Rate != 0
	case modeDriver:
		o.shop.Services = allServices // validated for the addresses; nothing is started
		o.runDriver = true
	default:
		o.shop.Services = []string{o.mode}
	}
	if err := o.shop.Validate(); err != nil {
		return o, err
	}
	if o.runDriver {
		o.load.Target = "http://" + o.shop.Addrs.Gateway
		o.load.Seed = o.shop.Faults.Seed
		if err := o.load.Validate(); err != nil {
			return o, err
		}
	}
	return o, nil
}

// run is main without the process: flags in, output to stdout, until ctx ends or the driver is done.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}

	var shop *Shop
	if o.mode != modeDriver {
		shop, err = Start(ctx, o.shop)
		if err != nil {
			return err
		}
		exp := o.shop.Export.withDefaults()
		a := shop.Addrs()
		_, _ = fmt.Fprintf(stdout, "shop: serving %s (env %s, seed %d); telemetry over OTLP %s to %s\n",
			strings.Join(o.shop.Services, ", "), o.shop.Environment, shop.Seed(), exp.Protocol, exp.Endpoint)
		_, _ = fmt.Fprintf(stdout, "shop: gateway %s  auth %s  payment %s  order %s\n", a.Gateway, a.Auth, a.Payment, a.Order)
		_, _ = fmt.Fprintf(stdout, "shop: faults: %.0f%% declines, %.0f%% provider errors, %.0f%% slow order writes (%s)\n",
			100*o.shop.Faults.DeclineRate, 100*o.shop.Faults.ProviderErrorRate, 100*o.shop.Faults.SlowOrderRate, o.shop.Faults.SlowOrderDelay)
		o.load.Target = shop.GatewayURL()
		o.load.Seed = shop.Seed()
	}

	var driveErr error
	if o.runDriver {
		o.load.Progress, o.load.ProgressEvery = stdout, defaultProgressEvery
		_, _ = fmt.Fprintf(stdout, "driver: %v checkouts/s to %s; Ctrl-C stops\n", o.load.Rate, o.load.Target)
		var sum Summary
		sum, driveErr = Drive(ctx, o.load, nil)
		_, _ = fmt.Fprintln(stdout, "driver: done:", sum)
	} else {
		<-ctx.Done()
	}

	if shop == nil {
		return driveErr
	}
	// ctx may be cancelled already (Ctrl-C): the flush gets its own deadline.
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	_, _ = fmt.Fprintln(stdout, "shop: stopping; flushing spans and logs")
	return errors.Join(driveErr, shop.Shutdown(stopCtx))
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
