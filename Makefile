# aya — the two commands that matter are `make demo` and `make test` (see README.md).
GO        ?= go
BIN       := bin/aya
TOOLS     := $(CURDIR)/.tools
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
STATICCHECK_VERSION := v0.8.2

.PHONY: build demo test unit e2e bench h2spec lint fuzz clean screenshots

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/aya

demo: build
	./$(BIN) demo

# Everything CI runs: vet, unit tests with the race detector, then end-to-end tests that drive
# the real binary one package at a time.
test: build
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 10m ./internal/... ./cmd/...
	# The shipped TPS scenarios are simulated in full only without -race (50x slower with it).
	$(GO) test -count=1 -run TestShippedScenarios ./internal/tps/sim/
	AYA_BIN=$(CURDIR)/$(BIN) $(GO) test -p 1 -count=1 -timeout 15m ./test/...

unit:
	$(GO) test -race -count=1 ./internal/... ./cmd/...

e2e: build
	AYA_BIN=$(CURDIR)/$(BIN) $(GO) test -p 1 -count=1 -timeout 15m -v ./test/...

# Refresh the dashboard pictures in docs/screenshots: the browser test runs aya demo under
# traffic for about a minute and saves them there (needs chromium).
screenshots: build
	AYA_BIN=$(CURDIR)/$(BIN) AYA_SCREENSHOTS=$(CURDIR)/docs/screenshots $(GO) test -count=1 -timeout 5m -run '^TestDashboard$$' ./test/

bench: build
	bash bench/run.sh
	bash bench/l4.sh

# HTTP/2 conformance of the TLS listener (installs h2spec with go install).
h2spec: build
	bash bench/h2spec.sh

$(TOOLS)/staticcheck:
	GOBIN=$(TOOLS) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

lint: $(TOOLS)/staticcheck
	$(GO) vet ./...
	$(TOOLS)/staticcheck ./...

# Short fuzzing pass over every parser (FUZZTIME per target): every Fuzz function under
# internal/ is found, so a new fuzz target is run without editing this file.
FUZZTIME ?= 30s
fuzz:
	@for f in $$(grep -rl --include='*_test.go' '^func Fuzz' internal | sort); do \
	  d=$$(dirname $$f); \
	  for n in $$(grep -o '^func Fuzz[A-Za-z0-9_]*' $$f | cut -c6-); do \
	    echo "== ./$$d $$n"; \
	    $(GO) test ./$$d/ -run '^$$' -fuzz "^$$n\$$" -fuzztime $(FUZZTIME) || exit 1; \
	  done; \
	done

clean:
	rm -rf bin .tools
