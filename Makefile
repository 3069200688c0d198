# CQRS commerce backend. `make up` runs the system locally, `make test` runs every test.
SHELL := /bin/bash
.DEFAULT_GOAL := build

CC ?= cc
BUILD ?= build
SANITIZE ?=
WERROR ?= -Werror
WARN := -std=c11 -Wall -Wextra -Wpedantic -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes \
        -Wshadow -Wvla -Wwrite-strings -Wno-format-nonliteral $(WERROR)
PKGS := libpq libmicrohttpd jansson librabbitmq
CFLAGS ?= -O2 -g
# The libraries' flags are computed when a recipe first needs them, never while make reads this
# file: `make up` installs the -dev packages (deps) before anything is compiled, and flags read
# before that would be empty (tests/makefile-check.sh). Each is computed once per make (the
# `$(eval X := ...)$(X)` idiom turns the lazy variable into a plain one on first use).
PKG_CFLAGS = $(eval PKG_CFLAGS := $$(shell pkg-config --cflags $$(PKGS)) -I$$(shell pg_config --includedir))$(PKG_CFLAGS)
PKG_LIBS = $(eval PKG_LIBS := $$(shell pkg-config --libs $$(PKGS)))$(PKG_LIBS)
CHECK_LIBS = $(eval CHECK_LIBS := $$(shell pkg-config --libs check))$(CHECK_LIBS)
# Include paths: lib/ (its headers by layer, "base/log.h", "http/router.h") and the repository root
# (a service's headers by path, "api/command/routes.h", for tests and tools). A service's own
# files include each other by bare name, found in their own folder; no folder of two services is
# on the path, so no two headers of the same name are visible to one unit (docs/architecture.md).
ALL_CFLAGS = $(CFLAGS) $(WARN) -D_GNU_SOURCE -Ilib -I. $(PKG_CFLAGS) -MMD -MP
LDLIBS = $(PKG_LIBS) -lpthread
ifneq ($(SANITIZE),)
ALL_CFLAGS += -fsanitize=$(SANITIZE) -fno-sanitize-recover=all -fno-omit-frame-pointer
LDFLAGS += -fsanitize=$(SANITIZE)
endif

LIB_SRC := $(wildcard lib/*/*.c)
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)

# The files under web/ (pages, scripts, pictures), embedded into the library as C arrays
# (lib/http/assets.h); the folders are prerequisites too, so that removing a file regenerates.
WEB_FILES := $(sort $(shell find web -type f 2>/dev/null))
LIB_OBJ += $(BUILD)/gen/assets_data.o
$(BUILD)/gen/assets_data.c: scripts/embed-assets.sh $(WEB_FILES) $(shell find web -type d 2>/dev/null)
	@mkdir -p $(@D)
	scripts/embed-assets.sh web $(WEB_FILES) >$@.tmp && mv $@.tmp $@
$(BUILD)/gen/assets_data.o: $(BUILD)/gen/assets_data.c
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

# The version the binaries report (--version, build_info): git describe at build time, or
# VERSION=... from the caller (the Docker builds have no .git). $(BUILD)/gen/cq_version.h is
# rewritten only when the text changes, so a new commit rebuilds lib/base/version.o and relinks,
# nothing else.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo unknown)
$(BUILD)/gen/cq_version.h: FORCE
	@mkdir -p $(@D)
	@printf '#define CQ_VERSION "%s"\n' '$(VERSION)' >$@.tmp
	@if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi
$(BUILD)/lib/base/version.o: $(BUILD)/gen/cq_version.h
$(BUILD)/lib/base/version.o: ALL_CFLAGS += -I$(BUILD)/gen
.PHONY: FORCE
FORCE:

LIB_A := $(BUILD)/libcqrs.a

# Each service: main.o plus an archive of its other modules, which unit tests link too.
define service
$(BUILD)/$(1).a: $(patsubst %.c,$(BUILD)/%.o,$(filter-out $(2)/main.c,$(wildcard $(2)/*.c)))
	@mkdir -p $$(@D)
	rm -f $$@ && ar rcs $$@ $$^
$(BUILD)/bin/$(1): $(BUILD)/$(2)/main.o $(BUILD)/$(1).a $(LIB_A)
	@mkdir -p $$(@D)
	$$(CC) $$(LDFLAGS) -o $$@ $$^ $$(LDLIBS)
endef

SERVICES := command-api query-api relay consumer
$(eval $(call service,command-api,api/command))
$(eval $(call service,query-api,api/query))
$(eval $(call service,relay,relay))
$(eval $(call service,consumer,consumer))

UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(LIB_A): $(LIB_OBJ)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

SERVICE_A := $(SERVICES:%=$(BUILD)/%.a)
$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(SERVICE_A) $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(CHECK_LIBS)

.PHONY: build deps up down up-cluster down-cluster test-cluster logs migrate test test-unit format \
	format-check lint clean compose-check

build: $(SERVICES:%=$(BUILD)/bin/%) $(UNIT_BIN)

deps:
	scripts/deps.sh

# deps first, then a fresh make for the build: it reads the flags of the packages deps installed
up: deps
	+$(MAKE) --no-print-directory build
	scripts/up.sh

down:
	scripts/down.sh

# the same stack on a 3-node RabbitMQ cluster with quorum queues, on ports of its own
# (CLUSTER_* in .env.example; docs/scaling.md)
up-cluster: deps
	+$(MAKE) --no-print-directory build
	scripts/up.sh --cluster

down-cluster:
	scripts/down.sh --cluster

# a throwaway cluster on free ports: the cluster faults (a broker node, a consumer killed under
# load), then e2e, seeds and the broker's fault scenarios on cluster stacks (CLUSTER_FULL=1; the
# `cluster` suite of `make test` is the short version without them; docs/scaling.md)
test-cluster: build
	CLUSTER_FULL=1 tests/cluster/run.sh

logs:
	scripts/logs.sh

migrate:
	scripts/migrate.sh

test:
	tests/run.sh

test-unit: $(UNIT_BIN)
	@for t in $(UNIT_BIN); do $$t || exit 1; done

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

format-check:
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')

# format-check and shellcheck over every script, each file counted (the lint suite of make test)
lint:
	tests/lint/run.sh

compose-check:
	scripts/compose-check.sh

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# --- benchmarks (bench/README.md), not part of `make test` ------------------------------------
# `make bench` runs every measurement on a throwaway stack and writes bench/results/latest.*;
# `make bench-smoke` runs the same harness for seconds (CI), checking every figure exists.
BENCH_PUBLISHER := $(BUILD)/bench/publisher
$(BENCH_PUBLISHER): bench/publisher.c $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

BENCH_MHD_MINIMAL := $(BUILD)/bench/mhd_minimal
$(BENCH_MHD_MINIMAL): bench/mhd_minimal.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(LDLIBS)

.PHONY: bench bench-smoke
bench:
	bench/run.sh full

bench-smoke:
	bench/run.sh smoke

# --- dead letters and fault tests (docs/reliability.md) ----------------------------------------
# build/bin/deadletters lists, requeues and drops dead letters (scripts/deadletters.sh);
# `make test-faults` runs the fault suite on a throwaway stack (tests/faults/run.sh).
$(BUILD)/bin/deadletters: $(BUILD)/tools/deadletters.o $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
build: $(BUILD)/bin/deadletters
# test-only: publishes raw (poison) messages for the fault suite
$(BUILD)/faults/inject: $(BUILD)/tests/faults/inject.o $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

.PHONY: test-faults reliability-report
test-faults:
	tests/faults/run.sh

# the fault suite, then its figures written into docs/reliability.md (never done by `make test`)
reliability-report:
	FAULTS_UPDATE_DOCS=1 tests/faults/run.sh

# --- fuzzing (tests/fuzz/README.md) -------------------------------------------------------------
# `make fuzz FUZZ_SECONDS=20`: builds each tests/fuzz/fuzz_<target>.c with clang's libFuzzer
# (-fsanitize=fuzzer,address,undefined) into $(FUZZ_BUILD), replays its crash regressions, then
# fuzzes it for FUZZ_SECONDS from its seed corpus; fails on any crash (tests/fuzz/run.sh).
# `make fuzz FUZZ_TARGETS="create_order"` fuzzes only the targets named.
# The same targets are also linked with tests/fuzz/replay.c into $(BUILD)/tests/fuzz_<target>,
# built by `make build`: unit-test binaries that replay the corpus and the regressions.
FUZZ_ALL := $(patsubst tests/fuzz/fuzz_%.c,%,$(filter-out tests/fuzz/fuzz_common.c,\
            $(wildcard tests/fuzz/fuzz_*.c)))
FUZZ_TARGETS ?= $(FUZZ_ALL)
FUZZ_CC ?= clang
FUZZ_BUILD ?= build/fuzz
FUZZ_SECONDS ?= 10
FUZZ_OBJ := $(BUILD)/tests/fuzz/fuzz_common.o
FUZZ_LINK := $(BUILD)/command-api.a $(BUILD)/query-api.a $(LIB_A)

$(BUILD)/tests/fuzz/replay_%.o: tests/fuzz/replay.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -DFUZZ_TARGET='"$*"' -c -o $@ $<
$(BUILD)/tests/fuzz_%: $(BUILD)/tests/fuzz/replay_%.o $(BUILD)/tests/fuzz/fuzz_%.o $(FUZZ_OBJ) \
                       $(FUZZ_LINK)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
build: $(FUZZ_ALL:%=$(BUILD)/tests/fuzz_%)

# In the sub-make below BUILD is $(FUZZ_BUILD) and CC is clang: libFuzzer's main is linked in.
$(BUILD)/fuzz/fuzz_%: $(BUILD)/tests/fuzz/fuzz_%.o $(FUZZ_OBJ) $(FUZZ_LINK)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)

# keep the objects between runs (intermediate files of the pattern rules above)
.PRECIOUS: $(BUILD)/tests/fuzz/%.o

.PHONY: fuzz fuzz-build
fuzz-build:
	FUZZ_CC=$(FUZZ_CC) scripts/fuzz.sh
	+@$(MAKE) --no-print-directory CC=$(FUZZ_CC) BUILD=$(FUZZ_BUILD) \
	    SANITIZE=fuzzer-no-link,address,undefined $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/fuzz/fuzz_%)

fuzz: fuzz-build
	tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_TARGETS)
