package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestParseFlagsDefaults(t *testing.T) {
	o, err := parseFlags(nil, envOf(nil), io.Discard)
	require.NoError(t, err)
	assert.Equal(t, allServices, o.shop.Services)
	assert.True(t, o.runDriver)
	assert.Equal(t, Addrs{defaultGatewayAddr, defaultAuthAddr, defaultPaymentAddr, defaultOrderAddr}, o.shop.Addrs)
	assert.Equal(t, Export{Endpoint: defaultGRPCEndpoint, Protocol: protocolGRPC}, o.shop.Export.withDefaults())
	assert.Equal(t, Faults{
		DeclineRate: defaultDeclineRate, ProviderErrorRate: defaultProviderErrorRate,
		SlowOrderRate: defaultSlowOrderRate, SlowOrderDelay: defaultSlowOrderDelay,
	}, o.shop.Faults)
	assert.InDelta(t, defaultRate, o.load.Rate, 0)
	assert.Equal(t, "http://"+defaultGatewayAddr, o.load.Target)
}

func TestParseFlagsEnvironmentAndModes(t *testing.T) {
	o, err := parseFlags(nil, envOf(map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}), io.Discard)
	require.NoError(t, err)
	assert.Equal(t, Export{Endpoint: defaultHTTPEndpoint, Protocol: protocolHTTP}, o.shop.Export.withDefaults())

	o, err = parseFlags(nil, envOf(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "10.0.0.5:4317/"}), io.Discard)
	require.NoError(t, err)
	assert.Equal(t, Export{Endpoint: "http://10.0.0.5:4317", Protocol: protocolGRPC}, o.shop.Export.withDefaults())

	o, err = parseFlags([]string{"-service", "payment", "-seed", "9"}, envOf(nil), io.Discard)
	require.NoError(t, err)
	assert.Equal(t, []string{servicePayment}, o.shop.Services)
	assert.False(t, o.runDriver)
	assert.Equal(t, uint64(9), o.shop.Faults.Seed)

	o, err = parseFlags([]string{"-service", "driver", "-gateway-addr", "10.1.2.3:80", "-rps", "50"}, envOf(nil), io.Discard)
	require.NoError(t, err)
	assert.True(t, o.runDriver)
	assert.Equal(t, "http://10.1.2.3:80", o.load.Target)

	o, err = parseFlags([]string{"-rps", "0"}, envOf(nil), io.Discard)
	require.NoError(t, err)
	assert.False(t, o.runDriver, "-rps 0 serves without load")
}

func TestParseFlagsErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"-service", "billing"}, nil, `-service "billing" must be one of all, gateway, auth, payment, order, driver`},
		{[]string{"-auth-addr", "8081"}, nil, `-auth-addr "8081" must be host:port: address 8081: missing port in address`},
		{[]string{"-otlp-protocol", "http/json"}, nil, `-otlp-protocol "http/json" must be grpc or http/protobuf`},
		{nil, map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "ftp://x:1"}, `-otlp-endpoint "ftp://x:1" must look like http://host:port or https://host:port`},
		{[]string{"-env", ""}, nil, "-env must not be empty"},
		{[]string{"-decline-rate", "2"}, nil, "-decline-rate 2 must be from 0 to 1"},
		{[]string{"-rps", "-1"}, nil, "-rps -1 must be above 0 and at most 10000"},
		{[]string{"-max-in-flight", "0"}, nil, "-max-in-flight 0 must be at least 1"},
		{[]string{"-requests", "-3"}, nil, "-requests -3 must not be negative"},
		{[]string{"extra"}, nil, `unexpected arguments ["extra"]`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			_, err := parseFlags(tc.args, envOf(tc.env), io.Discard)
			require.EqualError(t, err, tc.want)
		})
	}
}

// TestRun runs the command as a user would (all services and the driver, a fixed number of
// checkouts) and checks that every service's telemetry arrived.
func TestRun(t *testing.T) {
	sink, endpoint := startSink(t, protocolHTTP)
	var out bytes.Buffer
	err := run(context.Background(), []string{
		"-gateway-addr", "127.0.0.1:0", "-auth-addr", "127.0.0.1:0", "-payment-addr", "127.0.0.1:0", "-order-addr", "127.0.0.1:0",
		"-rps", "200", "-requests", "6", "-seed", "3", "-slow-rate", "0",
	}, envOf(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_EXPORTER_OTLP_PROTOCOL": protocolHTTP}), &out, io.Discard)
	require.NoError(t, err)
	assert.Contains(t, out.String(), "(env demo, seed 3); telemetry over OTLP http/protobuf to "+endpoint)
	assert.Contains(t, out.String(), "driver: done: 6 checkouts")

	services := map[string]bool{}
	for _, sp := range sink.spans() {
		services[sp.service] = true
	}
	for _, l := range sink.logRecords() {
		services[l.service+" logs"] = true
	}
	assert.Len(t, services, 8, "spans and logs of all four services: %v", services)
	assert.Len(t, checkTracesCount(sink), 6)
}

func checkTracesCount(s *otlpSink) map[string]bool {
	ids := map[string]bool{}
	for _, sp := range s.spans() {
		ids[sp.traceID] = true
	}
	return ids
}

func TestRunHelp(t *testing.T) {
	var usage bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"-h"}, envOf(nil), io.Discard, &usage))
	assert.Contains(t, usage.String(), "-provider-error-rate")
}
