/* fuzz_weights.c - libFuzzer target for a compiled artifact's weights-file
 * reader (NAME_create in the runtime `transtune compile` generates: the
 * header, the tensor table, the data and its checksum), which reads a file a
 * deployment may find truncated, corrupted or another model's.
 *
 * At its first input it compiles the zoo's tiny model into a temporary
 * folder (libfz.so, fz.weights: needs the kernel compiler, as `transtune
 * compile` does) and loads the library; each input is then written to a file
 * and given to fz_create.  Seeds in fuzz/corpus_weights: a whole weights
 * file of tiny (`transtune compile tiny --winograd off --name fz`; its model
 * id is the plan's, so a change of tiny's kernels makes it "another
 * model's"), its header, and cuts of it.
 *
 *   make fuzz
 *   mkdir -p build/corpus_weights
 *   ./build/fuzz_weights -max_total_time=300 build/corpus_weights fuzz/corpus_weights
 *
 * Properties checked (a violation aborts, which libFuzzer reports):
 *   - fz_create returns OK, EIO, EFORMAT or ENOMEM; on an error the model is
 *     NULL and the message non-empty and printable;
 *   - a file that loads runs (FUZZ_WEIGHTS_SAY=1 says "loaded" for each, to
 *     see that the whole seed still matches this build): fz_run on a fixed
 *     input returns OK with a
 *     finite output, and a wrong input shape is refused with EARG.
 */
#include <dlfcn.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../src/exec/exec.h"

typedef int (*create_fn)(const char *, void **, char *, size_t);
typedef int (*run_fn)(void *, const void *, int, const int64_t *, float *, int64_t);
typedef void (*destroy_fn)(void *);

static create_fn fz_create;
static run_fn fz_run;
static destroy_fn fz_destroy;
static char dir[512], file[600];
static int64_t in_shape[4] = {1, 3, 32, 32}, out_numel;

static void cleanup(void) { tt_remove_tree(dir); }

static void setup(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/fuzz-weights-%d", tmp && *tmp ? tmp : "/tmp", (int)getpid());
    snprintf(file, sizeof file, "%s/in.weights", dir);
    tt_model *m = NULL;
    tt_err err = {0};
    tt_exec_opts o = {.threads = 1};
    tt_artifact_info info;
    if (tt_model_load("tiny", &m, &err) || tt_exec_write_artifact(m, &o, dir, "fz", &info, &err)) {
        fprintf(stderr, "fuzz_weights: cannot compile tiny: %s\n", err.msg);
        abort();
    }
    atexit(cleanup);
    out_numel = tt_tensor_numel(&m->g->tensors[m->output]);
    tt_model_free(m);
    char lib[600];
    snprintf(lib, sizeof lib, "%s/libfz.so", dir);
    void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL); /* never closed (OpenMP) */
    if (!h) {
        fprintf(stderr, "fuzz_weights: %s\n", dlerror());
        abort();
    }
    fz_create = (create_fn)dlsym(h, "fz_create");
    fz_run = (run_fn)dlsym(h, "fz_run");
    fz_destroy = (destroy_fn)dlsym(h, "fz_destroy");
    if (!fz_create || !fz_run || !fz_destroy)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!fz_create)
        setup();
    FILE *f = fopen(file, "wb");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0)
        abort();
    void *m = (void *)1;
    char msg[256];
    memset(msg, 0x7f, sizeof msg);
    int rc = fz_create(file, &m, msg, sizeof msg);
    if (rc != 0) {
        if ((rc != 1 && rc != 2 && rc != 3) || m != NULL || !msg[0] || !memchr(msg, 0, sizeof msg))
            abort();
        for (const char *p = msg; *p; p++)
            if ((unsigned char)*p < 0x20)
                abort();
        return 0;
    }
    if (getenv("FUZZ_WEIGHTS_SAY"))
        fprintf(stderr, "fuzz_weights: loaded\n");
    float *x = calloc(3 * 32 * 32, sizeof *x), *y = calloc((size_t)out_numel, sizeof *y);
    for (int i = 0; i < 3 * 32 * 32; i++)
        x[i] = (float)((i % 17) - 8) / 8.0f;
    if (fz_run(m, x, 4, in_shape, y, out_numel) != 0)
        abort();
    for (int64_t i = 0; i < out_numel; i++)
        if (!isfinite(y[i]))
            abort();
    int64_t bad[4] = {1, 3, 16, 16};
    if (fz_run(m, x, 4, bad, y, out_numel) != 4)
        abort();
    fz_destroy(m);
    free(x), free(y);
    return 0;
}
