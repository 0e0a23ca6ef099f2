# transtune - C11, dependencies through pkg-config.
#   make          build/transtune, build/libtranstune.a, build/transtune-runner
#   make test     install missing packages, build, run the test runner
#   make fuzz     build the libFuzzer targets (clang)
CC      ?= cc
PKGS    := jansson
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -Wall -Wextra -Wno-unused-parameter -Wno-format-truncation -fopenmp -D_GNU_SOURCE $(shell pkg-config --cflags $(PKGS))
LDLIBS  += $(shell pkg-config --libs $(PKGS)) -lm -ldl -fopenmp

LIB_SRC := $(filter-out src/cli/% src/measure/runner_main.c,$(wildcard src/*/*.c))
LIB_OBJ := $(LIB_SRC:%.c=build/obj/%.o)
CLI_SRC := $(wildcard src/cli/*.c)
CLI_OBJ := $(CLI_SRC:%.c=build/obj/%.o)
TEST_SRC := $(wildcard tests/*.c)
TEST_OBJ := $(TEST_SRC:%.c=build/obj/%.o)

all: build/transtune build/libtranstune.a build/transtune-runner

build/obj/%.o: %.c $(wildcard src/*/*.h include/*.h tests/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

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

clean:
	rm -rf build

.PHONY: all deps test clean

# ---- fuzz: libFuzzer targets (clang); see the comment atop each fuzz/*.c ----
build/fuzz_record: fuzz/fuzz_record.c $(LIB_SRC)
	@mkdir -p build
	clang $(CFLAGS) -Wno-unknown-warning-option -fsanitize=fuzzer,address,undefined -o $@ $^ $(LDLIBS)

fuzz: build/fuzz_record

.PHONY: fuzz
