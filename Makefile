# Cairn build. Needs only Go (and make): the collector builder (ocb) is
# installed by this Makefile, at a pinned version, into ./.tools/bin.
#
#   make build   generate + compile bin/otelcol-cairn, compile bin/cairn
#   make test    build bin/otelcol-cairn, then go test ./... (the e2e test runs it)
#   make test-hostile  only the hostile-input tests and every fuzz target's
#                corpus (.ci/hostile: *hostile*_test.go files, Test*Hostile*)
#   make fuzz    fuzz every Fuzz* target for FUZZTIME (default 2m) each,
#                keeping new corpus entries in its testdata/fuzz (FUZZ=regexp)
#   make bench   benchmarks of every package, once
#   make bench-pipeline  the shipped collector vs the stock filelog pipeline,
#                CPU per 1M events (BENCH_EVENTS, BENCH_ROUNDS; input
#                CAIRN_BENCH_INPUT=fleet, the default, or tetragon)
#   make lint    go vet + gofmt check
#   make run     replay the bundled attack scenario, then watch this machine live
#   make replay  only the scenario replay (no root needed)
#   make eval    the detection corpus (testdata/eval) through deploy/cairn.yaml:
#                one row per scenario, exit status 1 while any fails
#   make clean   remove build outputs (make distclean also drops ./.tools)

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := build
.DELETE_ON_ERROR:

GO ?= go

# Collector builder, pinned to the collector core release of builder-config.yaml.
OCB_VERSION := v0.165.0
OCB_PKG     := go.opentelemetry.io/collector/cmd/builder
TOOLS_BIN   := $(CURDIR)/.tools/bin
OCB         := $(TOOLS_BIN)/ocb-$(OCB_VERSION)

# ocb writes the distribution's sources, with their own go.mod, here (see
# dist::output_path in builder-config.yaml). Being a nested module, it is
# invisible to `go build/test/vet ./...` and `go mod tidy` of the repository.
DIST_DIR    := build/otelcol-cairn
DIST_STAMP  := $(DIST_DIR)/.generated
COLLECTOR   := bin/otelcol-cairn
CLI         := bin/cairn

# The generated module must not be pulled into a go.work of the repository.
DIST_ENV    := GOWORK=off

TEST_TIMEOUT ?= 10m

# Non-test Go sources of the repository: a new import in any of them can need
# new go.sum entries in the generated module, so they trigger a regeneration.
GO_SOURCES := $(shell find . \( -path ./build -o -path ./.tools -o -path ./.git \) -prune -o \
                -name '*.go' ! -name '*_test.go' -print 2>/dev/null)

.PHONY: build collector cli test bench bench-pipeline lint run replay eval clean distclean tools check-versions

build: collector cli

tools: $(OCB)

$(OCB):
	@mkdir -p $(TOOLS_BIN)
	@echo ">> installing ocb $(OCB_VERSION) into $(TOOLS_BIN)"
	GOBIN=$(TOOLS_BIN) $(GO) install $(OCB_PKG)@$(OCB_VERSION)
	mv $(TOOLS_BIN)/builder $@

# Generate the distribution's sources and resolve its modules (ocb runs
# `go mod tidy` in $(DIST_DIR)). Only when an input changed: the manifest,
# our go.mod/go.sum (our module is replaced into the distribution), a
# non-test Go source, or the ocb version. Strict versioning is on: ocb
# v0.165.0 defaults to skipping it. ocb creates output_path with a plain
# mkdir, so its parent must exist.
$(DIST_STAMP): builder-config.yaml go.mod go.sum $(GO_SOURCES) | $(OCB)
	@mkdir -p build
	@echo ">> generating $(DIST_DIR) with ocb $(OCB_VERSION)"
	$(DIST_ENV) $(OCB) --config builder-config.yaml --skip-compilation --skip-strict-versioning=false
	$(check_versions)
	@touch $@

# Every module that provides a package to the repository's code or tests
# should be selected at the same version as in the distribution, or our tests
# would not exercise what the binary ships. (The distribution's versions are
# never lower: it requires our module.) A mismatch is an error for the
# OpenTelemetry modules (go.opentelemetry.io/..., github.com/open-telemetry/...)
# and a warning for the others.
define check_versions
	@$(GO) list -e -deps -test -f '{{with .Module}}{{if not .Main}}{{.Path}} {{.Version}}{{end}}{{end}}' ./... \
	  | LC_ALL=C sort -u > build/versions.repo
	@cd $(DIST_DIR) && $(DIST_ENV) $(GO) list -m -f '{{if not .Main}}{{.Path}} {{.Version}}{{end}}' all \
	  | LC_ALL=C sort -u > ../versions.dist
	@LC_ALL=C join build/versions.repo build/versions.dist \
	  | awk '$$2 != $$3 { \
	      otel = $$1 ~ /^go\.opentelemetry\.io\// || $$1 ~ /^github\.com\/open-telemetry\//; \
	      printf "%s: go.mod selects %s %s but the distribution %s (fix: go get %s@%s)\n", \
	        otel ? "error" : "warning", $$1, $$2, $$3, $$1, $$3; \
	      if (otel) bad = 1 } \
	    END { exit bad }'
endef

check-versions: $(DIST_STAMP)
	$(check_versions)

# Always handed to the go tool, whose build cache makes repeat builds fast
# (no relink when nothing changed). No -trimpath (ocb's own compile step would
# use it): without it `go test` reuses the packages compiled here, which saves
# about a minute on a cold CI machine. Release builds can add it:
#   make build COLLECTOR_BUILDFLAGS="-trimpath -ldflags='-s -w'"
COLLECTOR_BUILDFLAGS ?= -ldflags='-s -w'

collector: $(DIST_STAMP)
	@mkdir -p bin
	@echo ">> compiling $(COLLECTOR)"
	cd $(DIST_DIR) && $(DIST_ENV) $(GO) build $(COLLECTOR_BUILDFLAGS) -o $(CURDIR)/$(COLLECTOR) .

cli:
	@mkdir -p bin
	@echo ">> compiling $(CLI)"
	$(GO) build -o $(CLI) ./cmd/cairn

test: collector
	CAIRN_COLLECTOR=$(CURDIR)/$(COLLECTOR) $(GO) test -timeout $(TEST_TIMEOUT) ./...

# Hostile input (issue 13): what .ci/hostile finds, so a new case needs no
# list. A hostile-input test is a Test function in a *hostile*_test.go file,
# or one with "Hostile" in its name; a fuzz target is any func Fuzz*(f
# *testing.F). test-hostile runs those tests and each fuzz target's seeds and
# testdata/fuzz corpus (CI runs it after `make test`); fuzz runs every
# target for FUZZTIME, one after the other (`.ci/hostile list` lists them),
# and copies the inputs that widened coverage from go's cache into the
# package's testdata/fuzz/<Target>/, to be committed.
.PHONY: test-hostile fuzz
FUZZTIME ?= 2m
FUZZ ?=
test-hostile:
	GO=$(GO) TEST_TIMEOUT=$(TEST_TIMEOUT) bash .ci/hostile test

fuzz:
	GO=$(GO) FUZZTIME=$(FUZZTIME) FUZZ='$(FUZZ)' bash .ci/hostile fuzz

bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 1 ./...

# The collector as shipped (deploy/cairn.yaml) against the stock pipeline
# that only reads the same file into debug, interleaved rounds on one
# generated fleet file: CPU-seconds per 1M events and their ratio.
BENCH_EVENTS ?= 500000
BENCH_ROUNDS ?= 2
bench-pipeline: collector
	CAIRN_BENCH_PIPELINE=1 CAIRN_BENCH_EVENTS=$(BENCH_EVENTS) CAIRN_BENCH_ROUNDS=$(BENCH_ROUNDS) \
	  CAIRN_COLLECTOR=$(CURDIR)/$(COLLECTOR) $(GO) test -run '^$$' -bench BenchmarkPipeline -benchtime 1x \
	  -timeout 90m -v ./internal/e2etest/

lint:
	$(GO) vet ./...
	@unformatted=$$(find . \( -path ./build -o -path ./.tools -o -path ./.git \) -prune -o -name '*.go' -print \
	    | xargs -r gofmt -l); \
	if [ -n "$$unformatted" ]; then echo "gofmt -l lists:"; echo "$$unformatted"; exit 1; fi

# Replays the bundled scenario from a fresh baseline, so every run shows the
# same signals and the same alert; the replay tool prints its summary.
replay: build
	rm -rf .state/replay
	@mkdir -p out .state
	$(CLI) replay --config deploy/cairn.yaml --input testdata/scenario/events.ndjson \
	  --output out/events.ndjson --state .state/replay

# Scores the reference config against the labeled detection corpus: each
# scenario of testdata/eval replayed from an empty in-memory state, its
# alerts checked against its labels (every attacked host exactly one high
# alert, no alert elsewhere). Seconds, not minutes: 13 scenarios of about
# 3,000 events. Regenerate the corpus with
# `go test ./cmd/cairn/corpus -run TestGolden -update`.
eval: cli
	$(CLI) eval --config deploy/cairn.yaml --corpus testdata/eval

# The main job: the scenario first (what an alert looks like), then the
# collector watching this machine with the cairn_host receiver: process
# starts, connections and DNS answers through firstseen, intel and correlate,
# one ALERT line per alert on the console, documents in out/bulk (or a
# cluster when CAIRN_ES_URL is set), state in .state/live. Ctrl-C stops it;
# RUN_FOR=30s stops it after that long. Linux, as root (or with the
# capabilities in receiver/hostreceiver/README.md).
RUN_FOR ?=
run: replay
	@mkdir -p out .state/live
	@[ "$$(id -u)" = 0 ] || echo ">> watching this host needs root, or: sudo setcap cap_net_admin,cap_net_raw,cap_sys_ptrace,cap_dac_read_search+ep $(COLLECTOR)"
	@echo ">> watching this host (learning for $${CAIRN_LEARNING:-2m}, then new binaries, destinations and domains are flagged); Ctrl-C to stop"
	CAIRN_STATE_DIR=.state/live CAIRN_OUT_DIR=out $(if $(RUN_FOR),timeout --preserve-status -s INT $(RUN_FOR)) \
	  $(COLLECTOR) --config deploy/cairn.yaml --config deploy/cairn-live.yaml $(if $(CAIRN_ES_URL),--config deploy/cairn-es.yaml)

clean:
	rm -rf bin build out .state/replay .state/live

distclean: clean
	rm -rf .tools
