# transtune - C11, dependencies through pkg-config.
#   make               build/transtune, build/libtranstune.a, build/transtune-runner
#   make test          install missing packages, build, run the test runner (which also
#                      replays every fuzz corpus through its target, build/fuzz-replay/)
#   make test-sanitize the same under ASan + UBSan, built with clang into build-san/
#   make fuzz          build the libFuzzer targets (clang)
#   make demo          install missing packages, build, transfer-tune ResNet-50 from the
#                      shipped schedules/ (DEMO_MODEL=M for another zoo model)
#   make install PREFIX=/usr/local   the commands into PREFIX/bin, the library into
#                      PREFIX/lib (with lib/pkgconfig/transtune.pc), its header
#                      transtune.h into PREFIX/include, the shipped schedules and the
#                      Python package into PREFIX/share/transtune
#                      (PYTHONPATH=PREFIX/share/transtune/python)
# B is the build folder (build-san for the sanitizer build).  CFLAGS given on the
# command line (make CFLAGS=-O0) replace -O2 -g only: the flags below are added.
CC      ?= cc
B       ?= build
PKGS    := jansson libprotobuf-c sqlite3 xgboost
CFLAGS  ?= -O2 -g
override CFLAGS += -std=c11 -Wall -Wextra -Wno-unused-parameter -Wno-format-truncation -fopenmp -D_GNU_SOURCE -Iinclude -I$(B)/gen $(shell pkg-config --cflags $(PKGS))
LDLIBS  += $(shell pkg-config --libs $(PKGS)) -lm -ldl -fopenmp

LIB_SRC := $(filter-out src/cli/% src/measure/runner_main.c,$(wildcard src/*/*.c))
LIB_OBJ := $(LIB_SRC:%.c=$(B)/obj/%.o) $(B)/obj/gen/onnx.pb-c.o
CLI_SRC := $(filter-out src/cli/mpi_main.c,$(wildcard src/cli/*.c))
CLI_OBJ := $(CLI_SRC:%.c=$(B)/obj/%.o)
TEST_SRC := $(wildcard tests/*.c)
TEST_OBJ := $(TEST_SRC:%.c=$(B)/obj/%.o)
# the fuzz targets' entry points, each linked with the plain driver fuzz/replay.c
# (no libFuzzer): build/fuzz-replay/record replays fuzz/corpus_record, and so on
FUZZ_NAMES := $(patsubst fuzz/fuzz_%.c,%,$(wildcard fuzz/fuzz_*.c))
REPLAY  := $(FUZZ_NAMES:%=$(B)/fuzz-replay/%)

# transtune-mpi when Open MPI is installed (scripts/install-deps.sh installs it)
MPI_OK  := $(shell pkg-config --exists ompi-c && echo yes)
MPI_BIN := $(if $(MPI_OK),$(B)/transtune-mpi)
# the aarch64 runner when the cross compiler is installed (install-deps.sh)
A64_BIN := $(if $(shell command -v aarch64-linux-gnu-gcc),$(B)/aarch64/transtune-runner)

all: $(B)/transtune $(B)/libtranstune.a $(B)/transtune-runner $(MPI_BIN) $(A64_BIN)

$(B)/obj/%.o: %.c $(wildcard src/*/*.h include/*.h tests/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

# ONNX's protobuf schema (Debian's libonnx-dev: proto2, package onnx) compiled
# to C by protoc-c at build time; the generated files live in build/gen only.
ONNX_PROTO ?= /usr/include/onnx/onnx.proto
GEN_ONNX := $(B)/gen/onnx.pb-c.c $(B)/gen/onnx.pb-c.h
$(GEN_ONNX) &: $(ONNX_PROTO)
	@mkdir -p $(B)/gen
	protoc-c -I$(dir $(ONNX_PROTO)) --c_out=$(B)/gen $(ONNX_PROTO)

$(B)/obj/gen/onnx.pb-c.o: $(B)/gen/onnx.pb-c.c $(B)/gen/onnx.pb-c.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

# Sources that include the generated header wait for it (make -j on a clean tree).
$(B)/obj/src/onnx/onnx.o $(B)/obj/tests/test_onnx.o: $(B)/gen/onnx.pb-c.h

$(B)/libtranstune.a: $(LIB_OBJ)
	@mkdir -p $(B)
	rm -f $@ && ar rcs $@ $^

$(B)/transtune: $(CLI_OBJ) $(B)/libtranstune.a
	$(CC) $(CFLAGS) -o $@ $(CLI_OBJ) $(B)/libtranstune.a $(LDLIBS)

# the CLI with its main renamed, under mpi_main.c's (rank 0 runs the command)
$(B)/obj/src/cli/mpi_main.o: src/cli/mpi_main.c $(wildcard src/*/*.h include/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(shell pkg-config --cflags ompi-c) -c $< -o $@

$(B)/transtune-mpi: $(B)/obj/src/cli/mpi_main.o $(B)/obj/fuzz/cli_main.o $(filter-out $(B)/obj/src/cli/main.o,$(CLI_OBJ)) \
		$(B)/libtranstune.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS) $(shell pkg-config --libs ompi-c) -lpthread

# The runner for an aarch64 device (the child a listening runner starts per
# measurement; under qemu-aarch64 -L /usr/aarch64-linux-gnu in the tests): Debian's cross gcc.
A64_CC ?= aarch64-linux-gnu-gcc
$(B)/aarch64/transtune-runner: src/measure/runner_main.c src/util/util.c $(wildcard src/*/*.h)
	@mkdir -p $(dir $@)
	$(A64_CC) -std=c11 -O2 -g -fopenmp -D_GNU_SOURCE -DTT_RUNNER_CHILD_ONLY -Iinclude -o $@ \
		src/measure/runner_main.c src/util/util.c -lm

$(B)/transtune-runner: $(B)/obj/src/measure/runner_main.o $(B)/libtranstune.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

# the tests run $(B)/transtune, $(B)/transtune-runner and $(B)/fuzz-replay/*
$(B)/obj/tests/%.o: override CFLAGS += -DTT_TEST_BUILD_DIR='"$(B)"'

$(B)/tests: $(TEST_OBJ) $(B)/libtranstune.a $(REPLAY)
	$(CC) $(CFLAGS) -o $@ $(TEST_OBJ) $(B)/libtranstune.a $(LDLIBS)

$(FUZZ_NAMES:%=$(B)/obj/fuzz/fuzz_%.o): | $(B)/gen/onnx.pb-c.h

$(B)/fuzz-replay/%: $(B)/obj/fuzz/fuzz_%.o $(B)/obj/fuzz/replay.o $(B)/libtranstune.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

# fuzz_cli needs the CLI's sources, with the CLI's main renamed (the driver has one)
$(B)/obj/fuzz/cli_main.o: src/cli/main.c $(wildcard src/*/*.h include/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Dmain=transtune_main -c $< -o $@

$(B)/fuzz-replay/cli: $(B)/obj/fuzz/fuzz_cli.o $(B)/obj/fuzz/replay.o $(B)/obj/fuzz/cli_main.o \
		$(filter-out $(B)/obj/src/cli/main.o,$(CLI_OBJ)) $(B)/libtranstune.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

deps:
	scripts/install-deps.sh

test: deps
	$(MAKE) all $(B)/tests
	./$(B)/tests

# ASan + UBSan: the library, the CLI, the runner (which dlopens the kernels),
# the test runner and the fuzz replays, built with clang into build-san/; the
# kernels the tests generate are compiled at run time as usual (not sanitized).
# Any report aborts the process that made it: a test fails, or the runner.
# allocator_may_return_null: util/xmalloc_failure_message asks for 2^62 bytes on
# purpose, to see the library's out-of-memory message.
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer \
             -Wno-unknown-warning-option
SAN_ENV   := ASAN_OPTIONS=abort_on_error=1:detect_leaks=1:allocator_may_return_null=1 \
             UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:abort_on_error=1
test-sanitize: deps
	$(MAKE) B=build-san CC=clang CFLAGS="-O1 -g $(SAN_FLAGS)" all build-san/tests
	$(SAN_ENV) ./build-san/tests

# Transfer-tune a zoo model from the schedules shipped under schedules/ (records
# tuned for other zoo models on this CPU class): no tuning of its own.  The
# database is $(B)/demo.db; DEMO_MODEL picks the target.
DEMO_MODEL ?= resnet50
demo: deps
	$(MAKE) all
	rm -f $(B)/demo.db $(B)/demo.db-wal $(B)/demo.db-shm
	TT_DB=$(B)/demo.db $(B)/transtune transfer $(DEMO_MODEL)

PREFIX ?= /usr/local
VERSION := 0.18
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include \
		$(DESTDIR)$(PREFIX)/share/transtune/python/transtune
	install -m 755 $(B)/transtune $(B)/transtune-runner $(DESTDIR)$(PREFIX)/bin/
	install -m 644 $(B)/libtranstune.a $(DESTDIR)$(PREFIX)/lib/
	install -m 644 include/transtune.h $(DESTDIR)$(PREFIX)/include/
	printf 'prefix=%s\nlibdir=$${prefix}/lib\nincludedir=$${prefix}/include\n\nName: transtune\nDescription: %s\nVersion: %s\nRequires: %s\nLibs: -L$${libdir} -ltranstune -lm -ldl -fopenmp\nCflags: -I$${includedir}\n' \
		'$(PREFIX)' 'transfer-tuning tensor compiler for CPUs (C API, include/transtune.h)' '$(VERSION)' '$(PKGS)' \
		> $(DESTDIR)$(PREFIX)/lib/pkgconfig/transtune.pc
	cp -R schedules $(DESTDIR)$(PREFIX)/share/transtune/
	install -m 644 python/transtune/__init__.py $(DESTDIR)$(PREFIX)/share/transtune/python/transtune/

clean:
	rm -rf build build-san

.PHONY: all deps test test-sanitize clean demo install

# ---- fuzz: libFuzzer targets (clang); see the comment atop each fuzz/*.c ----
FUZZ_FLAGS := -Wno-unknown-warning-option -fsanitize=fuzzer,address,undefined
build/fuzz_record: fuzz/fuzz_record.c $(LIB_SRC) build/gen/onnx.pb-c.c | build/gen/onnx.pb-c.h
	@mkdir -p build
	clang $(CFLAGS) $(FUZZ_FLAGS) -o $@ $^ $(LDLIBS)

build/fuzz_onnx: fuzz/fuzz_onnx.c $(LIB_SRC) build/gen/onnx.pb-c.c | build/gen/onnx.pb-c.h
	@mkdir -p build
	clang $(CFLAGS) $(FUZZ_FLAGS) -o $@ $^ $(LDLIBS)

build/fuzz_npy: fuzz/fuzz_npy.c src/util/npy.c src/util/util.c
	@mkdir -p build
	clang $(CFLAGS) $(FUZZ_FLAGS) -o $@ $^ -lm

build/fuzz_db: fuzz/fuzz_db.c $(LIB_SRC) build/gen/onnx.pb-c.c | build/gen/onnx.pb-c.h
	@mkdir -p build
	clang $(CFLAGS) $(FUZZ_FLAGS) -o $@ $^ $(LDLIBS)

build/fuzz_params: fuzz/fuzz_params.c $(LIB_SRC) build/gen/onnx.pb-c.c | build/gen/onnx.pb-c.h
	@mkdir -p build
	clang $(CFLAGS) $(FUZZ_FLAGS) -o $@ $^ $(LDLIBS)

build/fuzz_layout: fuzz/fuzz_layout.c $(LIB_SRC) build/gen/onnx.pb-c.c | build/gen/onnx.pb-c.h
	@mkdir -p build
	clang $(CFLAGS) $(FUZZ_FLAGS) -o $@ $^ $(LDLIBS)

# the CLI's sources without their main (libFuzzer brings one)
build/fuzz_cli: fuzz/fuzz_cli.c $(LIB_SRC) $(CLI_SRC) build/gen/onnx.pb-c.c | build/gen/onnx.pb-c.h
	@mkdir -p build
	clang $(CFLAGS) $(FUZZ_FLAGS) -Dmain=transtune_main -o $@ $^ $(LDLIBS)

build/fuzz_jobs: fuzz/fuzz_jobs.c $(LIB_SRC) build/gen/onnx.pb-c.c | build/gen/onnx.pb-c.h
	@mkdir -p build
	clang $(CFLAGS) $(FUZZ_FLAGS) -o $@ $^ $(LDLIBS)

build/fuzz_weights: fuzz/fuzz_weights.c $(LIB_SRC) build/gen/onnx.pb-c.c | build/gen/onnx.pb-c.h
	@mkdir -p build
	clang $(CFLAGS) $(FUZZ_FLAGS) -o $@ $^ $(LDLIBS)

fuzz: build/fuzz_record build/fuzz_onnx build/fuzz_npy build/fuzz_db build/fuzz_params build/fuzz_layout build/fuzz_cli \
	build/fuzz_weights build/fuzz_jobs

.PHONY: fuzz
