# mashang — build, run and test.  See README.md.

CC      ?= cc
BUILD   ?= build
PKGS     = libevent libevent_pthreads hiredis libcurl libpcre2-8 opencc jansson expat libcrypto
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CMOCKA_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null)
# A missing library must say so, not surface as a missing header later.
PKG_MISSING := $(shell pkg-config --exists $(PKGS) 2>/dev/null || echo yes)

WARN    = -Wall -Wextra -Wpedantic -Werror -pthread
CFLAGS  ?= -O2 -g
# -MMD -MP: each object lists the headers it really includes (BUILD/**/*.d).
ALL_CFLAGS = -std=c11 $(WARN) -D_GNU_SOURCE -Isrc -Iinclude -I$(BUILD)/gen $(PKG_CFLAGS) $(CFLAGS) $(EXTRA_CFLAGS)
DEPFLAGS   = -MMD -MP
LDLIBS  = $(PKG_LIBS) -llinear -lm $(EXTRA_LDFLAGS)

# src/ is layered: base, then store, http and intents, then core, then
# channels/<name> and admin, then daemon and cli (docs/architecture.md);
# scripts/check-layers.py refuses an include that goes up or sideways.
PROGRAMS = src/daemon/main.c src/cli/mashangctl.c
ALL_SRC  = $(sort $(wildcard src/*/*.c src/*/*/*.c))
LIB_SRC  = $(filter-out $(PROGRAMS),$(ALL_SRC))
LIB_OBJ  = $(LIB_SRC:src/%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/lua_scripts.o
# Redis scripts: src/store/lua/NAME.lua or the modules of src/store/lua/NAME/,
# with the shared ones of src/store/lua/lib/ and the generated schema,
# joined into BUILD/gen/lua/NAME.lua (scripts/lua-join.sh, docs/lua.md).
LUA_SRC  = $(sort $(wildcard src/store/lua/*.lua src/store/lua/*/*.lua))
SCHEMA   = src/core/schema.def
UNIT_SRC = $(wildcard tests/unit/test_*.c)
UNIT_BIN = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all deps run test console-test lua-test unit unit-valgrind asan e2e faults eval check bench bench-redis bench-memory bench-report fuzz fuzz-build fuzz-smoke valgrind install clean stop pkgcheck
all: $(BUILD)/mashangd $(BUILD)/mashangctl

deps:
	@scripts/deps.sh

pkgcheck:
ifneq ($(PKG_MISSING),)
	@pkg-config --print-errors --exists $(PKGS) cmocka || true
	@echo "build: libraries are missing; run 'make deps' (as root) first" >&2; exit 1
endif

$(BUILD)/obj/%.o: src/%.c | pkgcheck $(BUILD)/layers.ok $(BUILD)/gen/core/schema.h
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(DEPFLAGS) -c -o $@ $<

# The include graph: layers only look down, and no header cycle.
$(BUILD)/layers.ok: $(ALL_SRC) $(wildcard src/*/*.h src/*/*/*.h include/*/*.h) scripts/check-layers.py | $(BUILD)/obj
	@/usr/bin/python3 scripts/check-layers.py src include
	@touch $@

# The case schema (src/core/schema.def) as C (lifecycle.c) and as Lua.
$(BUILD)/gen/core/schema.h: $(SCHEMA) scripts/gen-schema.py | $(BUILD)/gen
	@mkdir -p $(@D)
	/usr/bin/python3 scripts/gen-schema.py $(SCHEMA) $@ $(BUILD)/gen/schema.lua
$(BUILD)/gen/schema.lua: $(BUILD)/gen/core/schema.h ;

# The folders too: a module removed changes only its folder.
$(BUILD)/gen/lua/.joined: $(LUA_SRC) src/store/lua $(wildcard src/store/lua/*/) $(BUILD)/gen/schema.lua scripts/lua-join.sh
	scripts/lua-join.sh src/store/lua $(BUILD)/gen $(BUILD)/gen/lua
	@touch $@

$(BUILD)/gen/lua_scripts.c: $(BUILD)/gen/lua/.joined scripts/embed.sh
	scripts/embed.sh $(BUILD)/gen/lua/*.lua > $@.tmp && mv $@.tmp $@

$(BUILD)/obj/lua_scripts.o: $(BUILD)/gen/lua_scripts.c | $(BUILD)/obj
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/libmashang.a: $(LIB_OBJ)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/mashangd: $(BUILD)/obj/daemon/main.o $(BUILD)/libmashang.a
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/mashangctl: $(BUILD)/obj/cli/mashangctl.o $(BUILD)/libmashang.a
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libmashang.a | $(BUILD)/tests $(BUILD)/gen/core/schema.h
	$(CC) $(ALL_CFLAGS) $(DEPFLAGS) -o $@ $< $(BUILD)/libmashang.a $(LDLIBS) $(CMOCKA_LIBS)

-include $(wildcard $(BUILD)/obj/*/*.d $(BUILD)/obj/*/*/*.d $(BUILD)/tests/*.d)

$(BUILD)/obj $(BUILD)/gen $(BUILD)/tests:
	mkdir -p $@

# ---- running ---------------------------------------------------------------
run: deps all
	@scripts/run.sh

stop:
	@scripts/run.sh stop

# ---- tests -----------------------------------------------------------------
# make test: packages, build, unit tests (plain, valgrind, ASan+UBSan),
# intent examples, a short fuzzing pass, then the end-to-end suite against
# real Redis and Kannel (conversations, case work, channels, faults).
test: deps
	$(MAKE) all unit
	$(MAKE) unit-valgrind
	$(MAKE) asan
	$(MAKE) check
	$(MAKE) lua-test
	$(MAKE) fuzz-smoke
	$(MAKE) e2e
	$(MAKE) console-test
	$(MAKE) valgrind

unit: $(UNIT_BIN)
	@scripts/run-unit.sh $(UNIT_BIN)

unit-valgrind: $(UNIT_BIN)
	@VALGRIND=1 scripts/run-unit.sh $(UNIT_BIN)

asan:
	$(MAKE) BUILD=build/asan CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" unit

# Floors for `make test`: accuracy (percent) of the shipped intents on two
# labelled corpora never trained on, written independently of the training
# examples (dev.tsv and heldout.tsv), set a little under a real run so that
# a change that makes understanding worse fails.  `make eval` prints the
# whole picture, with cross-validation.
EVAL_MIN_RESIDENT ?= 94
EVAL_MIN_DEPUTY   ?= 92
HELDOUT_MIN_RESIDENT ?= 95
HELDOUT_MIN_DEPUTY   ?= 96
DEV_CORPUS ?= tests/corpus/dev.tsv
HELDOUT_CORPUS ?= tests/corpus/heldout.tsv

check: $(BUILD)/mashangctl $(BUILD)/mashangd
	$(BUILD)/mashangctl intents check intents
	$(BUILD)/mashangd -c config/mashang.json --check
	@$(BUILD)/mashangctl intents eval $(DEV_CORPUS) --dir intents --folds 0 \
	    --min-resident $(EVAL_MIN_RESIDENT) --min-deputy $(EVAL_MIN_DEPUTY) \
	    > $(BUILD)/eval.txt 2>&1; rc=$$?; echo "$(DEV_CORPUS):"; \
	    sed -n '/^summary:/,$$p' $(BUILD)/eval.txt; \
	    [ $$rc = 0 ] || { grep FAIL $(BUILD)/eval.txt; exit 1; }
	@$(BUILD)/mashangctl intents eval $(HELDOUT_CORPUS) --dir intents --folds 0 \
	    --min-resident $(HELDOUT_MIN_RESIDENT) --min-deputy $(HELDOUT_MIN_DEPUTY) \
	    > $(BUILD)/eval-heldout.txt 2>&1; rc=$$?; echo "$(HELDOUT_CORPUS):"; \
	    sed -n '/^summary:/,$$p' $(BUILD)/eval-heldout.txt; \
	    [ $$rc = 0 ] || { grep FAIL $(BUILD)/eval-heldout.txt; exit 1; }

# The Redis scripts alone, against a scratch redis-server: the keys and
# outbox entries each kind of message leaves, and its budget of Redis
# commands (tests/lua/run.py).
lua-test: $(BUILD)/gen/lua/.joined
	@BUILD=$(BUILD) /usr/bin/python3 tests/lua/run.py

e2e: all
	@/usr/bin/python3 tests/e2e/run.py $(E2E)

# The web console in Debian's chromium (headless, playwright-core) against
# a real stack: one browser session through every page (tests/console).
# SCREENSHOTS=docs/console refreshes the pictures of docs/console.md.
console-test: all
	@scripts/console-deps.sh
	@BUILD=$(BUILD) /usr/bin/python3 tests/console/test_console.py

# Fault scenarios (also part of the e2e suite that `make test` runs).
faults: all
	@/usr/bin/python3 tests/e2e/run.py faults

# Accuracy on the evaluation corpus (never trained on) and 5-fold
# cross-validation on intents/train/, for residents and deputies.
eval: $(BUILD)/mashangctl
	$(BUILD)/mashangctl intents eval $(or $(CORPUS),$(DEV_CORPUS)) --dir intents $(EVAL_FLAGS)
	$(if $(CORPUS),,$(BUILD)/mashangctl intents eval $(HELDOUT_CORPUS) --dir intents --folds 0 $(EVAL_FLAGS))

# ---- fuzzing and benchmarks -------------------------------------------------
# libFuzzer targets in tests/fuzz/ (clang); `fuzz` runs each for FUZZ_SECONDS,
# `fuzz-smoke` (part of `make test`) briefly over the seed corpus.
FUZZ_SECONDS ?= 60
# The targets and a sanitized, fuzzer-instrumented copy of the library are
# built here like everything else; scripts/fuzz.sh only runs them.
FUZZ_CC     ?= clang
FUZZ_OUT     = $(BUILD)/fuzz
FUZZ_SAN     = -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CFLAGS  = -std=c11 -D_GNU_SOURCE -Isrc -Iinclude -I$(BUILD)/gen -g -O1 -Wall -Wextra $(FUZZ_SAN) $(PKG_CFLAGS)
FUZZ_LIB_OBJ = $(LIB_SRC:src/%.c=$(FUZZ_OUT)/obj/%.o) $(FUZZ_OUT)/obj/lua_scripts.o
FUZZ_BIN     = $(patsubst tests/fuzz/%.c,$(FUZZ_OUT)/%,$(wildcard tests/fuzz/fuzz_*.c))

$(FUZZ_OUT)/obj/%.o: src/%.c | pkgcheck $(FUZZ_OUT)/obj $(BUILD)/gen/core/schema.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(DEPFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_OUT)/obj/lua_scripts.o: $(BUILD)/gen/lua_scripts.c | $(FUZZ_OUT)/obj
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_OUT)/libmashang-fuzz.a: $(FUZZ_LIB_OBJ)
	rm -f $@ && ar rcs $@ $^

$(FUZZ_OUT)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_OUT)/libmashang-fuzz.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(DEPFLAGS) -Werror -fsanitize=fuzzer -o $@ $< \
	    $(FUZZ_OUT)/libmashang-fuzz.a $(PKG_LIBS) -llinear -lm

$(FUZZ_OUT)/obj:
	mkdir -p $@

-include $(wildcard $(FUZZ_OUT)/obj/*/*.d $(FUZZ_OUT)/obj/*/*/*.d $(FUZZ_OUT)/*.d)

fuzz-build: $(FUZZ_BIN)

fuzz: deps
	$(MAKE) fuzz-build
	@FUZZ_OUT=$(FUZZ_OUT) scripts/fuzz.sh $(FUZZ_SECONDS)

fuzz-smoke: deps
	$(MAKE) fuzz-build
	@FUZZ_OUT=$(FUZZ_OUT) scripts/fuzz.sh smoke

# Not part of `make test`: throughput and latency against nginx's ceiling.
bench: deps all
	@scripts/bench.sh

# Redis memory and keys per case over a case's whole life, against a
# scratch redis-server (scripts/bench/redis_memory.py; N cases: N=2000).
bench-memory: $(BUILD)/gen/lua/.joined
	@BUILD=$(BUILD) /usr/bin/python3 scripts/bench/redis_memory.py $(N)

# Redis CPU and commands per message, the scripts alone against a scratch
# redis-server (scripts/bench/redis_cost.py; no wrk, no nginx).
bench-redis: $(BUILD)/gen/lua/.joined
	@BUILD=$(BUILD) /usr/bin/python3 scripts/bench/redis_cost.py $(if $(LIVES),-n $(LIVES))

# The annual report's Redis time over the aggregates of N synthetic cases
# (default one million) and the rebuild's batches (scripts/bench/report_latency.py).
bench-report: $(BUILD)/gen/lua/.joined
	@BUILD=$(BUILD) /usr/bin/python3 scripts/bench/report_latency.py $(if $(N),-n $(N))

# mashangd itself under valgrind through end-to-end conversations.
valgrind: deps all
	@scripts/valgrind-e2e.sh

install: all
	@scripts/install.sh

clean:
	rm -rf build
