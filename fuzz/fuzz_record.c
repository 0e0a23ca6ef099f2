/* fuzz_record.c - libFuzzer target for the record module's parsers of outside
 * input: tt_record_parse, tt_steps_parse and tt_wkey_parse.
 *
 * Build and run from the repository root (seeds in fuzz/corpus_record are one
 * log line, steps array or workload key per file; new inputs go to build/):
 *
 *   make fuzz
 *   mkdir -p build/corpus_record
 *   ./build/fuzz_record -max_total_time=300 -max_len=4096 build/corpus_record fuzz/corpus_record
 *
 * While other modules do not build, the same target builds on its own with
 *
 *   clang -std=c11 -O1 -g -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined \
 *     $(pkg-config --cflags jansson) -o build/fuzz_record fuzz/fuzz_record.c \
 *     src/record/record.c src/record/names.c src/sched/names.c src/util/util.c \
 *     $(pkg-config --libs jansson) -lm
 *
 * Properties checked (a violation aborts, which libFuzzer reports):
 *   - a refused input always comes with a printable error message;
 *   - a parsed record is writable, its written line parses, and the result
 *     equals the first parse byte for byte (apart from the version);
 *   - the same for a parsed steps array through tt_steps_write;
 *   - a parsed workload key (dimensions up to 4096) identifies to finished DAGs
 *     whose own workload keys parse.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/record/identify.h"
#include "../src/record/record.h"

static void check_msg(const tt_err *err)
{
    if (!err->set || !err->msg[0])
        abort();
    for (const char *p = err->msg; *p; p++)
        if (*p < 0x20 || *p >= 0x7f) {
            fprintf(stderr, "unprintable error message: %s\n", err->msg);
            abort();
        }
}

static void fuzz_record(const char *text)
{
    static tt_record rec, again;
    tt_err err = {0};
    if (tt_record_parse(text, &rec, &err)) {
        check_msg(&err);
        return;
    }
    char *w = tt_record_write(&rec);
    if (!w) {
        fprintf(stderr, "parsed record is not writable\n");
        abort();
    }
    tt_err err2 = {0};
    if (tt_record_parse(w, &again, &err2)) {
        fprintf(stderr, "written record does not parse: %s\n%s\n", err2.msg, w);
        abort();
    }
    memcpy(again.version, rec.version, sizeof again.version);
    if (memcmp(&rec, &again, sizeof rec) != 0) {
        fprintf(stderr, "round trip changed the record:\n%s\n", w);
        abort();
    }
    free(w);
}

static void fuzz_steps(const char *text)
{
    static tt_step steps[TT_MAX_STEPS], again[TT_MAX_STEPS];
    int n = 0, n2 = 0;
    tt_err err = {0};
    if (tt_steps_parse(text, steps, TT_MAX_STEPS, &n, &err)) {
        check_msg(&err);
        return;
    }
    char *w = tt_steps_write(steps, n);
    if (!w)
        abort();
    tt_err err2 = {0};
    if (tt_steps_parse(w, again, TT_MAX_STEPS, &n2, &err2) || n2 != n ||
        memcmp(steps, again, (size_t)n * sizeof steps[0]) != 0) {
        fprintf(stderr, "steps round trip failed: %s\n%s\n", err2.msg, w);
        abort();
    }
    free(w);
}

static void fuzz_wkey(const char *text)
{
    static tt_wkey k;
    tt_err err = {0};
    if (tt_wkey_parse(text, &k, &err)) {
        check_msg(&err);
        return;
    }
    /* Bounds the struct promises. */
    if (k.nints < 0 || k.nints > TT_MAX_KEY_INTS || k.ntensors < 0 || k.ntensors > 64 ||
        k.nstrings < 0 || k.nstrings > 4 || strlen(k.name) >= sizeof k.name)
        abort();
    for (int i = 0; i < k.ntensors; i++)
        if (k.tensor_start[i] < 0 || k.tensor_start[i] > k.nints ||
            (i && k.tensor_start[i] < k.tensor_start[i - 1]))
            abort();
    /* identification builds DAGs from the key's shapes (conv, Winograd, pool,
     * matmul, softmax matchers): every candidate must be a finished DAG whose
     * workload key parses.  Shapes up to 4096 per dimension, as real layers
     * are (larger ones only overflow the FLOP count, a separate matter). */
    for (int i = 0; i < k.nints; i++)
        if (k.ints[i] < 0 || k.ints[i] > 4096)
            return;
    tt_wl_candidate c[8];
    tt_err ierr = {0};
    int n = tt_identify_wkey(&k, -1, c, 8, &ierr);
    for (int i = 0; i < n; i++) {
        char *wk = tt_dag_workload_key(c[i].dag);
        tt_wkey k2;
        tt_err e2 = {0};
        if (!wk || tt_wkey_parse(wk, &k2, &e2)) {
            fprintf(stderr, "candidate %s: its workload key does not parse: %s\n", c[i].desc, e2.msg);
            abort();
        }
        free(wk);
        tt_dag_free(c[i].dag);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = 0;
    fuzz_record(text);
    fuzz_steps(text);
    fuzz_wkey(text);
    free(text);
    return 0;
}
