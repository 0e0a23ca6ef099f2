/* fuzz_npy.c - libFuzzer target for the .npy reader (tt_npy_parse_mem), which
 * reads model inputs given on the command line.
 *
 * Build and run from the repository root (seeds in fuzz/corpus_npy are small
 * files written by numpy, copies of tests/data/npy; new inputs go to build/):
 *
 *   make fuzz
 *   mkdir -p build/corpus_npy
 *   ./build/fuzz_npy -max_total_time=300 -max_len=1024 build/corpus_npy fuzz/corpus_npy
 *
 * It builds on its own with
 *
 *   clang -std=c11 -O1 -g -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined \
 *     -o build/fuzz_npy fuzz/fuzz_npy.c src/util/npy.c src/util/util.c -lm
 *
 * Properties checked (a violation aborts, which libFuzzer reports):
 *   - a refused input comes with a printable error message and leaves the
 *     output empty;
 *   - an accepted input has a supported dtype and rank, a shape whose product
 *     is numel, and numel elements that fit in the input (f4/i8: exactly the
 *     bytes after the header; f8 inputs are twice the float32 data);
 *   - writing the array and reading it back gives the same array.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../src/util/npy.h"

static void check_msg(const tt_err *err)
{
    if (!err->set || !err->msg[0])
        abort();
    for (const char *p = err->msg; *p; p++)
        if ((unsigned char)*p < 0x20 && *p != '\n')
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tt_err err = {0};
    tt_npy a;
    if (tt_npy_parse_mem(data, size, &a, &err) != 0) {
        check_msg(&err);
        if (a.data || a.ndim || a.numel)
            abort();
        return 0;
    }
    if (a.dtype != TT_DT_FLOAT && a.dtype != TT_DT_INT64)
        abort();
    if (a.ndim < 0 || a.ndim > TT_GRAPH_MAX_DIMS)
        abort();
    int64_t n = 1;
    for (int i = 0; i < a.ndim; i++) {
        if (a.shape[i] < 0)
            abort();
        n *= a.shape[i];
    }
    if (n != a.numel || (uint64_t)n * 4 > size || (n > 0) != (a.data != NULL))
        abort();

    /* Round trip through a file. */
    /* in $TMPDIR (/tmp when unset), like the tests' temporaries */
    const char *tmp = getenv("TMPDIR");
    char path[512];
    snprintf(path, sizeof path, "%s/fuzz_npy_%d.npy", tmp && *tmp ? tmp : "/tmp", (int)getpid());
    if (tt_npy_write(path, a.dtype, a.ndim, a.shape, a.data, &err) != 0)
        abort();
    tt_npy b;
    if (tt_npy_read(path, &b, &err) != 0)
        abort();
    unlink(path);
    size_t bytes = (size_t)n * (a.dtype == TT_DT_FLOAT ? 4 : 8);
    if (b.dtype != a.dtype || b.ndim != a.ndim || b.numel != a.numel ||
        memcmp(b.shape, a.shape, sizeof a.shape) != 0 ||
        (bytes && memcmp(a.data, b.data, bytes) != 0))
        abort();
    tt_npy_free(&a);
    tt_npy_free(&b);
    return 0;
}
