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
ALL_CFLAGS := $(CFLAGS) $(WARN) -D_GNU_SOURCE -Ilib -Iapi/command -Iapi/query $(shell pkg-config --cflags $(PKGS) 2>/dev/null) \
              -I$(shell pg_config --includedir 2>/dev/null) -MMD -MP
LDLIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread
ifneq ($(SANITIZE),)
ALL_CFLAGS += -fsanitize=$(SANITIZE) -fno-sanitize-recover=all -fno-omit-frame-pointer
LDFLAGS += -fsanitize=$(SANITIZE)
endif

LIB_SRC := $(wildcard lib/*.c)
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)

# The files under web/ (pages, scripts, pictures), embedded into the library as C arrays
# (lib/assets.h); the folders are prerequisites too, so that removing a file regenerates.
WEB_FILES := $(sort $(shell find web -type f 2>/dev/null))
LIB_OBJ += $(BUILD)/gen/assets_data.o
$(BUILD)/gen/assets_data.c: scripts/embed-assets.sh $(WEB_FILES) $(shell find web -type d 2>/dev/null)
	@mkdir -p $(@D)
	scripts/embed-assets.sh web $(WEB_FILES) >$@.tmp && mv $@.tmp $@
$(BUILD)/gen/assets_data.o: $(BUILD)/gen/assets_data.c
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

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
	ar rcs $@ $^

SERVICE_A := $(SERVICES:%=$(BUILD)/%.a)
$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(SERVICE_A) $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(shell pkg-config --libs check 2>/dev/null)

.PHONY: build deps up down logs migrate test test-unit format format-check clean compose-check

build: $(SERVICES:%=$(BUILD)/bin/%) $(UNIT_BIN)

deps:
	scripts/deps.sh

up: deps build
	scripts/up.sh

down:
	scripts/down.sh

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

compose-check:
	scripts/compose-check.sh

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# --- benchmarks (bench/README.md), not part of `make test` ------------------------------------
# `make bench` runs every measurement on a throwaway stack and writes bench/results/latest.*;
# `make bench-smoke` runs the same harness for seconds (CI), checking every figure exists.
BENCH_PUBLISHER := $(BUILD)/bench/publisher
$(BENCH_PUBLISHER): bench/publisher.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(LDLIBS)

.PHONY: bench bench-smoke
bench:
	bench/run.sh full

bench-smoke:
	bench/run.sh smoke
