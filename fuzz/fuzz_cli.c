/* fuzz_cli.c - libFuzzer target for the command line's shape options: the
 * parser of `transtune kernel OP --h 56 --ci 64 ... [--epilogue E]
 * [--shape S]` and `tune-kernel` (cli_shape_opt, then cli_shape_build, which
 * builds the workload's compute DAG from the parsed values).
 *
 * Build and run from the repository root:
 *
 *   make fuzz
 *   mkdir -p build/corpus_cli
 *   ./build/fuzz_cli -max_total_time=120 -close_fd_mask=2 build/corpus_cli fuzz/corpus_cli
 *
 * The input is an argument vector, one argument per line: the OP, then
 * options; each argument is also parsed as --shape's value (cli_parse_input_shape:
 * an accepted one has a name, 1 to 8 dimensions, each 1 to 2^31).  Properties
 * checked (a violation aborts, which libFuzzer reports):
 *   - cli_shape_opt consumes an option and its value or refuses it; it never
 *     reads past argv;
 *   - cli_shape_build returns a DAG or NULL with a non-empty message; a DAG
 *     has a finite, non-negative FLOP count, a class key and a workload key;
 *   - the options every measuring command shares (cli_common_opt: --threads,
 *     --repeat, --cache warm|flush|l3, ...) consume at most their value,
 *     never past argv, and leave a cache state of 0 to 2;
 *   - no crash, leak or undefined behaviour on any values (up to 2^40 each,
 *     as cli_parse_i64 allows).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../src/cli/cli.h"
#include "../src/dag/dag.h"

#define MAX_ARGS 40

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    char *buf = malloc(size + 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = 0;
    char *argv[MAX_ARGS + 1];
    int argc = 0;
    for (char *p = buf; argc < MAX_ARGS;) {
        argv[argc++] = p;
        char *nl = memchr(p, '\n', (size_t)(buf + size - p));
        if (!nl)
            break;
        *nl = 0;
        p = nl + 1;
    }
    argv[argc] = NULL;

    cli_shape k;
    memset(&k, 0, sizeof k);
    int bad = 0;
    for (int i = 1; i < argc && !bad; i++) {
        int before = i;
        int r = cli_shape_opt(argc, argv, &i, &k, "fuzz");
        if (r < 0)
            bad = 1;
        else if (i >= argc || i < before)
            abort(); /* consumed past the end, or went back */
    }
    if (!bad) {
        char desc[160];
        tt_err err = {0};
        tt_dag *d = cli_shape_build(argv[0], &k, desc, sizeof desc, &err);
        if (!d) {
            if (!err.msg[0])
                abort();
        } else {
            if (!isfinite(d->flops) || d->flops < 0 || !d->class_key[0])
                abort();
            char *wk = tt_dag_workload_key(d);
            if (!wk || !wk[0])
                abort();
            free(wk);
            tt_dag_free(d);
        }
    }
    /* the shared options, from every position */
    for (int i = 0; i < argc; i++) {
        cli_opts o;
        memset(&o, 0, sizeof o);
        int j = i, r = cli_common_opt(argc, argv, &j, &o);
        if (r > 0 && (j < i || j > i + 1 || j >= argc))
            abort();
        if (o.cache_flush < 0 || o.cache_flush > 2 || o.threads < 0 || o.repeat < 0)
            abort();
    }
    /* each argument as --shape's value: INPUT=D1xD2...; an accepted one
     * has a name, a rank within bounds and dimensions 1 to 2^31 */
    for (int i = 0; i < argc; i++) {
        tt_input_shape sh;
        memset(&sh, 0, sizeof sh);
        char *v = argv[i];
        if (cli_parse_input_shape(v, &sh) == 0) {
            if (!sh.name || !sh.name[0] || sh.ndim < 1 || sh.ndim > TT_GRAPH_MAX_DIMS)
                abort();
            for (int d = 0; d < sh.ndim; d++)
                if (sh.dims[d] < 1 || sh.dims[d] > ((int64_t)1 << 31))
                    abort();
        }
    }
    free(buf);
    return 0;
}
