/* exec.h - the graph executor: compiles every kernel of a model with its
 * schedule, plans activation memory, and runs inference in-process.
 *
 * Schedules: per unique kernel, the steps the caller gives (a tuned or
 * transferred record), else transtune's default schedule, else (if the
 * default cannot be applied) no schedule.  `unscheduled` builds every kernel
 * with no schedule at all: the reference executor that `run --check`
 * compares with.
 *
 * A kernel whose generated code packs its constant weights (layout rewrite)
 * keeps a packed copy per weight tensor it is called with (codegen), so one
 * compiled kernel serves every layer of its shape and no call repacks after
 * the first inference.
 *
 * Memory: every activation gets a slot in a buffer pool; a buffer is reused
 * once the last reader of the tensor it held has run (greedy best fit).
 */
#ifndef TT_EXEC_H
#define TT_EXEC_H

#include "../measure/measure.h"
#include "../model/model.h"
#include "../sched/sched.h"

typedef struct tt_exec_opts {
    int threads;                 /* OpenMP threads; 0 = all cores */
    int unscheduled;             /* reference executor: no schedules */
    const tt_build_opts *build;  /* NULL: defaults */
    /* Per unique kernel (m->nkernels entries; NULL array or NULL entry =
     * default schedule): steps to replay. */
    const tt_step *const *steps;
    const int *nsteps;
    /* per kernel, the fp32 lanes its steps were tuned for (their record's
     * target, tt_target_vector_lanes; 0 or a NULL array: unknown), so that
     * steps from a narrower ISA keep their tile's vector count (widen.c) */
    const int *from_lanes;
    /* per kernel (m->nkernels entries; NULL = none): i > 0 for a direct
     * kernel with Winograd twins runs its twin alts[i - 1] in its calls, with
     * the weight transformed at build.  Only the kernels that calls run are
     * built. */
    const unsigned char *use_alt;
    /* Progress (may be NULL): called with a short message. */
    void (*progress)(void *ctx, const char *msg);
    void *ctx;
} tt_exec_opts;

typedef struct tt_exec_stats {
    int kernels_built;           /* compiled functions (one per unique kernel) */
    int kernels_default;         /* unique kernels on the default schedule */
    int kernels_given;           /* ... on steps given by the caller */
    int kernels_unscheduled;     /* ... with no schedule */
    int kernels_winograd;        /* direct convs run by their Winograd twin */
    double build_s;              /* wall time of code generation and compilation */
    int64_t pool_bytes;          /* activation memory after planning */
    int64_t naive_bytes;         /* ... without reuse */
} tt_exec_stats;

typedef struct tt_exec tt_exec;

/* Build an executor for m (borrowed: must outlive the executor). */
int tt_exec_build(const tt_model *m, const tt_exec_opts *o, tt_exec **out, tt_err *err);

/* One inference.  input: the model inputs' data in their ONNX layouts and
 * dtypes (float32, int64 token ids, ...), one after the other in the model's
 * order (tt_model_input_bytes in all; NULL: the last run's again); output:
 * numel of the model's output floats (may be NULL). */
int tt_exec_run(tt_exec *e, const void *input, float *output, tt_err *err);

/* Which compute each direct kernel with Winograd twins should run, and, for
 * the kernels o gives steps for, whether those steps or the default schedule:
 * by measuring them in place.  The model is built once per form (every
 * kernel that has form f runs it: direct, its first twin, its second) with
 * the schedules o gives, and, with ch->keep set, once more per form with
 * every kernel on its default schedule; each kernel call's best time of
 * `repeat` is taken in a real inference on `input` (tt_exec_profile), where
 * its weights come from wherever the layers before left them.  (Timed alone
 * in the runner, ResNet-18's 7x7x512 F(4,3) kernels ran in 0.63 ms, their
 * packed weights, 38 MB, partly kept in the L3 between calls; in the model,
 * 0.93 ms at 1 and at 2 threads, where the direct conv takes 0.5 at 2.)
 * Only builds whose model output agrees with the reference's count
 * (tt_exec_output_error): the direct form on default schedules when keep is
 * set, else on the given steps.  The second schedule source is
 * for records tuned elsewhere: ResNet-18's schedules shipped from an AVX2
 * host ran 0.92x of the defaults on an AVX-512 one. */
typedef struct tt_exec_choice {
    /* out, m->nkernels entries, as tt_exec_opts.use_alt wants it: the
     * fastest form, 0 = direct */
    unsigned char *use_alt;
    /* NULL (the given steps are used as they are), or out, m->nkernels
     * entries: 1 where o gives steps for the kernel and they ran at least as
     * fast as its default schedule, else 0 (build it on its default) */
    unsigned char *keep;
    /* NULL or out, m->nkernels entries: each kernel's time summed over its
     * calls (direct or twin) with the given steps, and on its default
     * schedule (measured only with keep); 0 where not measured */
    double *times, *times_default;
} tt_exec_choice;
int tt_exec_choose(const tt_model *m, const tt_exec_opts *o, const void *input, int repeat,
                   tt_exec_choice *ch, tt_err *err);
/* How far a model's output is from a reference output of n floats:
 * max |ours - ref| / max |ref| (max |ours - ref| when ref is all zero);
 * infinite when either holds a NaN or an infinity.  Outputs within
 * TT_MODEL_TOLERANCE agree (run --check, transfer, the choice of forms). */
#define TT_MODEL_TOLERANCE 1e-3
double tt_exec_output_error(const float *ours, const float *ref, int64_t n);

/* The choice among a kernel's forms from their times (the direct one's
 * first, then each twin's; <= 0: failed or wrong): the index of the fastest,
 * 0 if none ran. */
int tt_exec_pick_form(const double *t, int n);

/* The kernel call c runs (its direct kernel or the Winograd twin); -1 if c
 * is not a kernel call. */
int tt_exec_call_kernel(const tt_exec *e, int c);

/* Median latency in seconds of `repeat` inferences, after a warm-up of at
 * least 3 inferences and 100 ms. */
int tt_exec_time(tt_exec *e, const void *input, int repeat, double *median_s, tt_err *err);

/* Time a and b against each other: after each one's warm-up, repeat x rounds
 * pairs of single runs, the order swapped every pair; *ta and *tb are the
 * medians of each one's runs.  The machine's speed drifts within seconds:
 * only runs taken side by side compare. */
int tt_exec_time_pair(tt_exec *a, tt_exec *b, const void *input, int repeat, int rounds,
                      double *ta, double *tb, tt_err *err);

/* Per call: the best of `repeat` timings of each call in seconds (call_s
 * has m->ncalls entries: kernels, host calls and gathers).  Calls run in
 * order, on the data of a real inference. */
int tt_exec_profile(tt_exec *e, const void *input, int repeat, double *call_s, tt_err *err);

/* The default input of a model, laid out as tt_exec_run takes it
 * (tt_model_input_bytes): from a fixed seed, floats uniform in [-1, 1),
 * token ids (an integer input that an embedding lookup reads) in [0, 1000)
 * and below the table's size, and any other integer or boolean input as
 * the attention mask of a padded sequence (1, with the last eighth of the
 * last axis 0). */
void tt_model_random_input(const tt_model *m, void *buf);

/* Bytes one inference of m touches: its weights (constants its kernel calls
 * read) and its activation memory after planning (the pool tt_exec_build
 * allocates).  No code is built. */
void tt_exec_footprint(const tt_model *m, int64_t *weight_bytes, int64_t *act_bytes);

/* ---- compiled artifacts (artifact.c) ---------------------------------------- */

typedef struct tt_artifact_info {
    int kernels;                 /* compiled into the library */
    int kernels_given;           /* ... with the caller's steps (records) */
    int kernels_winograd;        /* ... that are Winograd twins */
    int weights;                 /* tensors in NAME.weights */
    int64_t weight_bytes, activation_bytes;
    double build_s;
} tt_artifact_info;

/* Write model m, built as tt_exec_build would build it under o (the same
 * schedules, forms and weights), into folder dir (created if needed) as
 * files that run without transtune: dir/libNAME.so (the kernels and a
 * runtime for this model: libc, libm and the kernels' OpenMP runtime are all
 * it needs), dir/NAME.weights, dir/NAME.h (its C API: NAME_create,
 * NAME_run, NAME_set_threads, NAME_error, NAME_destroy), dir/NAME_example.c,
 * and the generated sources under dir/src.  name: a C identifier.  0, or
 * -1 with err set. */
int tt_exec_write_artifact(const tt_model *m, const tt_exec_opts *o, const char *dir, const char *name,
                           tt_artifact_info *info, tt_err *err);
/* 1 if name can prefix the artifact's C API: 1 to 64 letters, digits and
 * '_', not starting with a digit. */
int tt_artifact_name_ok(const char *name);

const tt_exec_stats *tt_exec_get_stats(const tt_exec *e);
void tt_exec_free(tt_exec *e);

#endif
