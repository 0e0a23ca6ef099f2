# transtune - C11, dependencies through pkg-config.
#   make          build/transtune, build/libtranstune.a, build/transtune-runner
#   make test     install missing packages, build, run the test runner
#   make fuzz     build the libFuzzer targets (clang)
CC      ?= cc
PKGS    := jansson libprotobuf-c sqlite3 xgboost
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -Wall -Wextra -Wno-unused-parameter -Wno-format-truncation -fopenmp -D_GNU_SOURCE -Ibuild/gen $(shell pkg-config --cflags $(PKGS))
LDLIBS  += $(shell pkg-config --libs $(PKGS)) -lm -ldl -fopenmp

LIB_SRC := $(filter-out src/cli/% src/measure/runner_main.c,$(wildcard src/*/*.c))
LIB_OBJ := $(LIB_SRC:%.c=build/obj/%.o) build/obj/gen/onnx.pb-c.o
CLI_SRC := $(wildcard src/cli/*.c)
CLI_OBJ := $(CLI_SRC:%.c=build/obj/%.o)
TEST_SRC := $(wildcard tests/*.c)
TEST_OBJ := $(TEST_SRC:%.c=build/obj/%.o)

all: build/transtune build/libtranstune.a build/transtune-runner

build/obj/%.o: %.c $(wildcard src/*/*.h include/*.h tests/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

# ONNX's protobuf schema (Debian's libonnx-dev: proto2, package onnx) compiled
# to C by protoc-c at build time; the generated files live in build/gen only.
ONNX_PROTO ?= /usr/include/onnx/onnx.proto
GEN_ONNX := build/gen/onnx.pb-c.c build/gen/onnx.pb-c.h
$(GEN_ONNX) &: $(ONNX_PROTO)
	@mkdir -p build/gen
	protoc-c -I$(dir $(ONNX_PROTO)) --c_out=build/gen $(ONNX_PROTO)

build/obj/gen/onnx.pb-c.o: build/gen/onnx.pb-c.c build/gen/onnx.pb-c.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

# Sources that include the generated header wait for it (make -j on a clean tree).
build/obj/src/onnx/onnx.o build/obj/tests/test_onnx.o: build/gen/onnx.pb-c.h

build/libtranstune.a: $(LIB_OBJ)
	@mkdir -p build
	rm -f $@ && ar rcs $@ $^

build/transtune: $(CLI_OBJ) build/libtranstune.a
	$(CC) $(CFLAGS) -o $@ $(CLI_OBJ) build/libtranstune.a $(LDLIBS)

build/transtune-runner: build/obj/src/measure/runner_main.o build/libtranstune.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

build/tests: $(TEST_OBJ) build/libtranstune.a
	$(CC) $(CFLAGS) -o $@ $(TEST_OBJ) build/libtranstune.a $(LDLIBS)

deps:
	scripts/install-deps.sh

test: deps
	$(MAKE) all build/tests
	./build/tests

# Transfer-tune a zoo model from the schedules shipped under schedules/ (records
# tuned for other zoo models on this CPU class): no tuning of its own.  The
# database is build/demo.db; DEMO_MODEL picks the target.
DEMO_MODEL ?= resnet50
demo: deps
	$(MAKE) all
	rm -f build/demo.db build/demo.db-wal build/demo.db-shm
	TT_DB=build/demo.db build/transtune transfer $(DEMO_MODEL)

clean:
	rm -rf build

.PHONY: all deps test clean demo

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

fuzz: build/fuzz_record build/fuzz_onnx build/fuzz_npy build/fuzz_db build/fuzz_params build/fuzz_layout build/fuzz_cli

.PHONY: fuzz
