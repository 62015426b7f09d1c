# What people type. The real build is Meson + Ninja; these targets wrap it.
#   make demo   build, start ooda on 127.0.0.1:4318 watching ooda-sim, play a short story
#               (ARGS=--no-story: just run the system; Ctrl-C stops everything)
#   make test   install deps, build normal + ASan/UBSan, run unit and integration tests
#               (the ASan build's integration tests on PostgreSQL + ClickHouse: tests/scale/run)
#   make test-pg  the control-plane tests again with the control store on PostgreSQL
#   make test-scale  the integration tests on PostgreSQL + ClickHouse (one node, then three),
#               in the normal build (make test runs them in the ASan build)
#   make bench  benchmarks against their peers (never part of make test)
#   make fuzz   libFuzzer harnesses, each for FUZZ_SECONDS

BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 30
MESON_FLAGS ?= -Dwerror=true

.PHONY: all deps build build-asan test test-clickhouse test-pg test-scale demo bench fuzz clean

all: build

deps:
	@scripts/install-deps

$(BUILD)/build.ninja:
	meson setup $(BUILD) $(MESON_FLAGS) >/dev/null

$(ASAN_BUILD)/build.ninja:
	meson setup $(ASAN_BUILD) $(MESON_FLAGS) -Db_sanitize=address,undefined -Db_lundef=false >/dev/null

build: deps $(BUILD)/build.ninja
	@ninja -C $(BUILD)

build-asan: deps $(ASAN_BUILD)/build.ninja
	@ninja -C $(ASAN_BUILD)

test: build build-asan
	@scripts/install-deps --e2e
	@scripts/run-tests $(BUILD) $(ASAN_BUILD)

# the telemetry integration tests on ClickHouse, one server for all (docs/scale.md)
test-clickhouse: build
	@tests/clickhouse/start -- meson test -C $(BUILD) --setup clickhouse --suite it-clickhouse --print-errorlogs

test-pg: build
	@meson test -C $(BUILD) --setup pg --suite pg --print-errorlogs --num-processes 2

# one PostgreSQL and one ClickHouse for the whole run, stopped at its end (docs/scale.md)
test-scale: build
	@tests/scale/run meson test -C $(BUILD) --setup scale --suite scale --suite nodes3 --print-errorlogs --num-processes 2

demo: build
	@scripts/demo $(BUILD)/ooda $(ARGS)

bench: deps
	@scripts/install-deps --bench --e2e
	@[ -f build-bench/build.ninja ] || meson setup build-bench -Dbuildtype=release -Db_ndebug=true -Dbench=true >/dev/null
	@ninja -C build-bench
	@bench/run build-bench

fuzz: deps
	@[ -f $(FUZZ_BUILD)/build.ninja ] || CC=clang meson setup $(FUZZ_BUILD) -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false >/dev/null
	@ninja -C $(FUZZ_BUILD)
	@scripts/run-fuzz $(FUZZ_BUILD) $(FUZZ_SECONDS)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD) build-bench
