/* transtune.h - the public C API of libtranstune.
 *
 * Load a model (a zoo name or an ONNX file), build it with the best
 * schedules a record database or an Ansor log holds (each measured in place
 * against its default, each 3x3 conv in its fastest form), run it on your
 * buffers, export it as a shared library that needs nothing of transtune,
 * and tune or transfer-tune its kernels into a database: what the
 * `transtune` command does, for programs.
 *
 *   transtune_error err;
 *   transtune_model *m;
 *   if (transtune_load("resnet18", NULL, 0, &m, &err) ||
 *       transtune_build(m, NULL, NULL, &err) ||
 *       transtune_run(m, inputs, 1, output, 1000, &err))
 *       fprintf(stderr, "%s\n", err.msg);
 *   transtune_free(m);
 *
 * Every function that can fail returns 0 or -1 with err->msg set (err may
 * be NULL).  Handles are opaque; one model is used by one thread at a time.
 * Link: pkg-config --cflags --libs transtune.
 */
#ifndef TRANSTUNE_H
#define TRANSTUNE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TRANSTUNE_API_VERSION 1

typedef struct transtune_error {
    char msg[512];
} transtune_error;

typedef struct transtune_model transtune_model;

/* ---- loading ------------------------------------------------------------------ */

/* An input's shape bound at load (symbolic dimensions of an ONNX file: a
 * batch, a sequence length; fixed ones must agree). */
typedef struct transtune_shape {
    const char *name;
    int ndim;
    int64_t dims[8];
} transtune_shape;

/* Load `what`: a zoo model's name (transtune_zoo_name lists them) or a path
 * ending in ".onnx"; shapes may be NULL. */
int transtune_load(const char *what, const transtune_shape *shapes, int nshapes, transtune_model **out,
                   transtune_error *err);
void transtune_free(transtune_model *m);

/* The zoo's model names: the i-th, NULL past the last. */
const char *transtune_zoo_name(int i);

/* ---- what a model is ---------------------------------------------------------- */

typedef struct transtune_tensor_info {
    const char *name;
    const char *dtype;      /* "float32", "int64", "int32" or "bool" */
    int ndim;
    const int64_t *shape;   /* ndim entries, the model's ONNX layout */
    int64_t numel;
} transtune_tensor_info;

const char *transtune_name(const transtune_model *m);
int transtune_num_inputs(const transtune_model *m);
/* Input i (0 .. num_inputs - 1) or the output; -1 for an i out of range. */
int transtune_input_info(const transtune_model *m, int i, transtune_tensor_info *info);
int transtune_output_info(const transtune_model *m, transtune_tensor_info *info);
/* Unique kernels (each tuned and transferred as one task) and the work of
 * one inference. */
int transtune_num_kernels(const transtune_model *m);
double transtune_gflop(const transtune_model *m);

/* ---- building and running ----------------------------------------------------- */

enum { TRANSTUNE_WINOGRAD_AUTO = 0, TRANSTUNE_WINOGRAD_OFF = 1, TRANSTUNE_WINOGRAD_ON = 2 };

typedef struct transtune_build_opts {
    int threads;            /* kernel threads (0: all cores) */
    const char *records;    /* an Ansor log of records, or NULL */
    const char *db;         /* a record database, or NULL */
    int winograd;           /* TRANSTUNE_WINOGRAD_*: AUTO times each 3x3 conv's forms in place */
    int trust_records;      /* use every record untimed (else each is timed against its default) */
} transtune_build_opts;

typedef struct transtune_build_info {
    int kernels;            /* compiled */
    int kernels_from_records;
    int records_dropped;    /* records slower than their default schedule in place */
    int kernels_winograd;
    double build_s;
} transtune_build_info;

/* Compile m (again, if built before): each kernel with its best record from
 * o->records or o->db where that runs faster in place, else its default
 * schedule.  o and info may be NULL. */
int transtune_build(transtune_model *m, const transtune_build_opts *o, transtune_build_info *info,
                    transtune_error *err);
/* One inference (after transtune_build): inputs[i] holds input i, of exactly
 * its shape and dtype (transtune_input_info); output has output_numel floats. */
int transtune_run(transtune_model *m, const void *const *inputs, int ninputs, float *output, int64_t output_numel,
                  transtune_error *err);
/* The median latency of `repeat` inferences (after a warm-up) on the last
 * run's inputs, or seeded random ones if none ran. */
int transtune_time(transtune_model *m, int repeat, double *median_ms, transtune_error *err);
/* Write the built model into folder dir as libNAME.so, NAME.weights, NAME.h
 * and NAME_example.c (what `transtune compile` writes; name: a C identifier,
 * NULL for the model's name). */
int transtune_export(transtune_model *m, const char *dir, const char *name, transtune_error *err);

/* ---- tuning ------------------------------------------------------------------- */

/* The record database used when none is given: $TT_DB, else transtune.db in
 * $XDG_CACHE_HOME/transtune or ~/.cache/transtune. */
const char *transtune_default_db(void);

typedef struct transtune_tune_opts {
    const char *db;         /* NULL: transtune_default_db() */
    int64_t trials;         /* total budget of the model (0: 64 per kernel) */
    double time_s;          /* wall-time budget of this call (0: none) */
    int threads;
    uint64_t seed;
    /* after every round (may be NULL): trials so far, the estimated latency */
    void (*progress)(void *ctx, int64_t trials, double est_ms);
    void *ctx;
} transtune_tune_opts;

typedef struct transtune_tune_result {
    int64_t trials;         /* of the model in the database, resumed ones included */
    int64_t trials_run;     /* by this call */
    double untuned_ms, est_ms; /* estimated from the kernels' standalone times */
    double search_s;
    const char *stop_reason;   /* "trials", "time", "exhausted", ... */
} transtune_tune_result;

/* Ansor's search over m's kernels, records into the database (resumable). */
int transtune_tune(transtune_model *m, const transtune_tune_opts *o, transtune_tune_result *r,
                   transtune_error *err);

typedef struct transtune_transfer_opts {
    const char *db;         /* NULL: transtune_default_db(), with the shipped schedules imported */
    const char *const *from; /* source models (nfrom of them); NULL: every other model in the database */
    int nfrom;
    int threads;
} transtune_transfer_opts;

typedef struct transtune_transfer_result {
    int kernels_improved;   /* kernels running a transferred schedule */
    double untuned_ms, transferred_ms, speedup; /* end to end, timed side by side */
    double search_s;
} transtune_transfer_result;

/* Transfer-tuning (Gibson and Cano): other models' schedules measured on m's
 * kernels; the ones that win are written to the database (then
 * transtune_build with that db uses them). */
int transtune_transfer(transtune_model *m, const transtune_transfer_opts *o, transtune_transfer_result *r,
                       transtune_error *err);

#ifdef __cplusplus
}
#endif

#endif
