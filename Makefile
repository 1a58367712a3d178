# Sluice developer loop. The two commands a newcomer needs: `make run` and `make test`.
# Tool versions are pinned here or as go.mod `tool` directives (ocb, mdatagen).

SHELL        := /bin/bash
GO           ?= go
GO_MIN       := 1.26
GOLANGCI_VER := v2.15.0
GOFUMPT_VER  := v0.9.2
TOOLS_DIR    := $(CURDIR)/.tools
GOLANGCI     := $(TOOLS_DIR)/golangci-lint
BIN          := bin/sluice
PEER_BIN     := bin/otelcol-peer
CONFIGS      := $(wildcard configs/*.yaml)
# Packages under test: everything in the module.
PKGS         ?= ./...
# Contrib modules missing from the checksum database are verified against our committed go.sum.
export GONOSUMDB := github.com/open-telemetry/opentelemetry-collector-contrib
export GOFLAGS   := -buildvcs=false

.PHONY: all build run test test-unit test-configs test-smoke bench generate fmt lint \
        check-go tools backends-up backends-down peer clean

all: build

## check-go: fail early with a clear message when Go is missing or too old.
check-go:
	@command -v $(GO) >/dev/null 2>&1 || { echo "error: Go $(GO_MIN) or newer is required (https://go.dev/dl/); 'go' is not on PATH" >&2; exit 1; }
	@v=$$($(GO) env GOVERSION | sed 's/^go//'); \
	  if [ "$$(printf '%s\n%s\n' "$(GO_MIN)" "$$v" | sort -V | head -n1)" != "$(GO_MIN)" ]; then \
	    echo "error: Go $(GO_MIN) or newer is required, found $$v" >&2; exit 1; fi

## generate: regenerate the ocb output (cmd/sluice, the testbed peer) and every component's mdatagen code.
generate: check-go
	$(GO) tool builder --config builder-config.yaml --skip-compilation --skip-get-modules
	$(GO) tool builder --config testbed/peer/builder-config.yaml --skip-compilation --skip-get-modules
	$(GO) fmt ./cmd/sluice ./testbed/peer/cmd/otelcol-peer >/dev/null  # ocb leaves imports unsorted
	$(GO) generate ./receiver/... ./processor/... ./connector/... ./exporter/... ./extension/... ./deploy/...

## build: regenerate cmd/sluice with the pinned ocb, then compile bin/sluice.
build: check-go
	$(GO) tool builder --config builder-config.yaml --skip-compilation --skip-get-modules >/dev/null
	$(GO) fmt ./cmd/sluice >/dev/null
	$(GO) build -o $(BIN) ./cmd/sluice

## run: build if needed, then start the standalone default (data under $SLUICE_DATA_DIR, default ./data/;
## input/ is the tailed folder).
run: build
	mkdir -p "$${SLUICE_DATA_DIR:-./data}/input"
	./$(BIN) --config configs/standalone.yaml

$(GOLANGCI):
	@mkdir -p $(TOOLS_DIR)
	cd /tmp && GOFLAGS= GOBIN=$(TOOLS_DIR) $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_VER)

tools: $(GOLANGCI)

## lint: golangci-lint v2 (gofumpt, goimports with our module as local prefix, govet, staticcheck, errcheck, revive).
lint: check-go $(GOLANGCI)
	$(GOLANGCI) run --timeout 15m $(PKGS)

## fmt: rewrite sources with gofumpt and goimports.
fmt: $(GOLANGCI)
	$(GOLANGCI) fmt $(PKGS)

## test: everything CI runs. The real backends are started once for the unit/integration tests and
## the smoke run, and stopped at the end whatever the outcome.
test: check-go lint build
	@if [ -n "$$CI" ]; then bash extension/logsearchextension/scripts/install-chromium.sh; fi
	bash scripts/with-backends.sh $(MAKE) --no-print-directory test-unit test-configs test-smoke

## test-unit: unit, integration (real backends) and fuzz seed corpora, with -race.
test-unit: check-go
	$(GO) test -race -count=1 -timeout 25m $(PKGS)

## test-configs: every file in configs/ must pass `sluice validate`.
test-configs: build
	@set -e; for c in $(CONFIGS); do echo "validate $$c"; ./$(BIN) validate --config $$c; done

## test-smoke: ~20 s testbed scenario (realistic SDK traffic through bin/sluice) with the correctness
## validator; checks the backends named by the environment answer.
test-smoke: build
	$(GO) run ./testbed/cmd/bench -smoke -sluice $(BIN) -peer "" -results -

## peer: the contrib-only collector used for side-by-side runs.
peer: check-go
	$(GO) build -o $(PEER_BIN) ./testbed/peer/cmd/otelcol-peer

## bench: Go benchmarks plus the testbed's short side-by-side scenarios (sluice vs otelcol-peer);
## results in testbed/results/*.md, summarised in docs/benchmarks.md.
bench: build peer
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 2s ./receiver/... ./processor/... ./connector/... ./exporter/... ./extension/... ./internal/...
	$(GO) run ./testbed/cmd/bench -sluice $(BIN) -peer $(PEER_BIN) -scenarios passthrough-max,passthrough-10k -duration 10s
	$(GO) run ./testbed/cmd/agentbench -sluice $(BIN) -peer $(PEER_BIN) -rate 10000 -duration 60s
	scripts/with-backends.sh $(GO) run ./testbed/cmd/bench -sluice $(BIN) -peer $(PEER_BIN) -scenarios gateway-max,gateway-50k -duration 20s

backends-up:
	$(GO) run ./testbed/cmd/backends up

backends-down:
	$(GO) run ./testbed/cmd/backends down

clean:
	rm -rf bin
