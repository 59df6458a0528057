# Build, test, lint and benchmark stytch-migrate. `make help` lists the targets.

GO            ?= go
MODULE        := github.com/stytch-migrate/stytch-migrate
BIN           := bin/stytch-migrate
VERSION       ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS       := -X $(MODULE)/internal/buildinfo.version=$(VERSION)
# staticcheck comes from the Go module proxy at a pinned version (v0.8.x supports Go 1.26).
STATICCHECK   := honnef.co/go/tools/cmd/staticcheck@v0.8.2
TEST_TIMEOUT  ?= 10m
BENCH_TIMEOUT ?= 60m
# make bench BENCH=Write PKG=./schemas/... BENCHTIME=3x
BENCH         ?= .
PKG           ?= ./...
BENCHTIME     ?=

.PHONY: all help build test lint fmt-check vet staticcheck bench clean demo

all: lint test build

help:
	@echo "build        bin/stytch-migrate, version $(VERSION)"
	@echo "test         go test ./... (timeout $(TEST_TIMEOUT))"
	@echo "lint         gofmt check, go vet, staticcheck"
	@echo "bench        benchmarks; BENCH=regexp PKG=./pkg/... BENCHTIME=3x"
	@echo "bench-scale  the transform stage on 10M users under --memory-limit 512MiB"
	@echo "bench-e2e    run --until transform on 1M JSONL users against DuckDB; RUNS=3 CACHE=warm|cold"
	@echo "demo         build, then run the whole pipeline on the bundled sample against the emulator"
	@echo "clean        remove bin/"

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/stytch-migrate

test:
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./...

lint: fmt-check vet staticcheck

fmt-check:
	@files=$$(gofmt -l .); if [ -n "$$files" ]; then echo "gofmt -w needed on:"; echo "$$files"; exit 1; fi

vet:
	$(GO) vet ./...

staticcheck:
	$(GO) run $(STATICCHECK) ./...

bench:
	$(GO) test -run='^$$' -bench='$(BENCH)' -benchmem -timeout $(BENCH_TIMEOUT) $(if $(BENCHTIME),-benchtime=$(BENCHTIME)) $(PKG)

clean:
	rm -rf bin

# The whole pipeline on the bundled sample against the emulator started in-process.
DEMO_DIR      ?= stytch-migrate-demo
demo: build
	$(BIN) demo --run-dir $(DEMO_DIR)

# make bench-scale: the transform stage on 10M generated users under a 512MiB memory limit
# (generating the input takes minutes the first time; it is cached under the OS temp folder).
.PHONY: bench-scale
bench-scale:
	STYTCH_MIGRATE_BENCH_SCALE=1 $(GO) test -run='^$$' -bench='^BenchmarkTransform10M$$' -benchtime=1x -timeout $(BENCH_TIMEOUT) ./stages/transform

# make bench-e2e [RUNS=3] [CACHE=warm|cold]: issue 5's end-to-end figure, `run --until transform` on
# 1M JSONL users against DuckDB doing the same transform, alternating on this machine (DuckDB needs
# node and npm); each run starts with the export in the page cache (warm) or not (cold, as root).
RUNS          ?= 3
CACHE         ?= warm
.PHONY: bench-e2e
bench-e2e:
	CACHE=$(CACHE) bench/e2e.sh "" $(RUNS)

# make report-screenshot [REPORT=RUN_DIR/report.html] [OUT=report.png]: render a report in headless
# Chromium (Debian: apt-get install -y chromium). Without REPORT it renders the report test's
# fixture (all stages, hostile names included).
CHROMIUM      ?= chromium
REPORT        ?=
OUT           ?= report.png
.PHONY: report-screenshot
report-screenshot:
	@report='$(REPORT)'; if [ -z "$$report" ]; then \
		keep=$$(mktemp -d); REPORT_KEEP=$$keep $(GO) test -count=1 -run '^TestReportHTML$$' ./stages/report >/dev/null && \
		report=$$keep/TestReportHTML.html; fi; \
	profile=$$(mktemp -d); \
	$(CHROMIUM) --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
		--disable-component-update --disable-sync --user-data-dir=$$profile --screenshot=$(abspath $(OUT)) \
		--window-size=1280,2400 "file://$$(realpath $$report)" 2>/dev/null; \
	rm -rf $$profile; echo "screenshot of $$report: $(abspath $(OUT))"
