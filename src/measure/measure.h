/* measure.h - build generated C into shared objects and measure them in an
 * isolated runner process, checking every output against a reference.
 *
 * Build: candidates are grouped several to a translation unit and compiled
 * in parallel jobs (CC / CFLAGS configurable).  A unit that fails to compile
 * is rebuilt one candidate at a time, so that one bad candidate fails alone.
 * Builds never overlap with timing: tt_build() returns before any run starts.
 *
 * Run: the runner (build/transtune-runner) is a separate program started with
 * fork+exec (never a bare fork of a process whose OpenMP threads may exist),
 * killed after a timeout.  It fills inputs with seeded random values, fills
 * outputs with NaN, calls the kernel once (warm-up; that output is the one
 * checked), then times with TVM's protocol: `number` grows by max(1.618x,
 * needed) until one repeat lasts min_repeat_ms; `repeat` repeats; optional
 * cache flush of every argument but the first before each call.
 *
 * Kernel ABI (what codegen emits):
 *   candidate: void NAME(float *const *args);  args = inputs..., output
 *   reference: void NAME(float *const *args, double *out, double *mag);
 *              args = inputs only; out = value in double precision; mag =
 *              error magnitude (see codegen.h) of each output element.
 */
#ifndef TT_MEASURE_H
#define TT_MEASURE_H

#include "../record/record.h"

#define TT_MAX_ARGS 32

typedef struct tt_build_opts {
    const char *cc;            /* NULL: $CC, else clang if present, else gcc */
    const char *cflags;        /* NULL: $TT_CFLAGS or the default for the compiler */
    int jobs;                  /* parallel compile jobs; 0 = number of cores */
    int per_unit;              /* candidates per translation unit; 0 = 8 */
    double timeout_s;          /* per compile job, CPU seconds (wall time is capped at 4x);
                                  0 = 60 */
    const char *workdir;       /* NULL: a fresh directory under $TMPDIR */
    /* NULL, or a kernel cache: a folder of shared objects named by the hash
     * of what built them (compiler command, prelude, the candidate's C with
     * its function name taken out).  An item whose hash is there is not
     * built again: it gets the cached object and the function name it was
     * built under; items of one call with equal hashes are built once.
     * Different C never shares an entry (the key is a SHA-256 of the whole
     * text).  Entries are written atomically, so processes may share it. */
    const char *cache_dir;
} tt_build_opts;

/* One candidate to build: `source` defines `fn` (and only static helpers
 * whose names start with fn).  After tt_build: so_path set, or error set;
 * fn is then the function to look up in so_path, which a kernel cache hit
 * (tt_build_opts.cache_dir) may have renamed to the name the code was first
 * built under. */
typedef struct tt_build_item {
    const char *source;
    char fn[64];
    int cached;                /* out: 1 if so_path came from the kernel cache or another
                                  item of the same call with the same code */
    int error;                 /* tt_errno: 0, COMPILE_HOST, BUILD_TIMEOUT */
    char so_path[512];
    char msg[512];             /* compiler diagnostics (truncated) on error */
    double build_s;
} tt_build_item;

/* The common prelude (includes, helpers) written once at the top of each
 * unit is given by the caller (codegen's tt_codegen_prelude()). */
int tt_build(const tt_build_opts *o, const char *prelude, tt_build_item *items, int n, tt_err *err);

/* Default compiler and flags that tt_build would use (for reports). */
const char *tt_build_default_cc(void);
const char *tt_build_default_cflags(const char *cc);

/* Cache states a timed call can start in (runner_main.c, --flush).  A kernel in
 * a model finds its input warm from the previous layer and its weights where
 * one inference left them: in the shared L3 when the model's footprint fits
 * there, else in memory (docs/NOTES.md, "Which cache state to time in"). */
enum {
    TT_CACHE_WARM = 0,   /* as the previous call left them (repeated calls: in L1/L2) */
    TT_CACHE_FLUSH = 1,  /* every argument but the input clflushed (TVM's cache flush) */
    TT_CACHE_L3 = 2      /* private caches swept, arguments left in L3, input read back */
};

typedef struct tt_run_opts {
    int threads;               /* OpenMP threads in the runner; 0 = all cores */
    int number;                /* 0 = 3 (TVM LocalRunner) */
    int repeat;                /* 0 = 3 */
    double min_repeat_ms;      /* 0 = 100; negative = none */
    int cache_flush;           /* TT_CACHE_*: the cache state each timed call starts in */
    double timeout_s;          /* 0 = 10 */
    uint64_t seed;             /* input data seed */
    double cutoff_s;           /* > 0: a candidate whose first call after the warm-up takes
                                  longer is timed by that call alone (a search's hopeless
                                  candidates) */
    const char *runner;        /* NULL: $TT_RUNNER or transtune-runner beside the executable */
    /* Optional anchor (candidates only): a kernel of the same workload timed
     * alternately with the candidate in its runner (runner_main.c), its
     * per-repeat times returned in tt_result.anchor_costs. */
    const char *anchor_so, *anchor_fn;
} tt_run_opts;

/* Shapes of the kernel arguments: nin inputs then one output. */
typedef struct tt_io {
    int nin;
    int64_t numel[TT_MAX_ARGS]; /* nin inputs, then the output at [nin] */
} tt_io;

/* Reference result: value and magnitude per output element (double). */
typedef struct tt_ref {
    int64_t n;
    double *out;
    double *mag;
} tt_ref;

/* Run the reference kernel (in the runner, same inputs).  Returns 0 or sets err. */
int tt_run_reference(const tt_run_opts *o, const char *so_path, const char *fn, const tt_io *io,
                     tt_ref *ref, tt_err *err);
void tt_ref_free(tt_ref *ref);

typedef struct tt_result {
    int error;                 /* tt_errno */
    int ncosts;
    double costs[TT_MAX_COSTS];
    double mean;               /* mean of costs (s); 1e10 on error */
    int correct;               /* 1 if checked and within tolerance */
    double max_abs_err, max_rel_err; /* rel = abs error / (tol bound) */
    char msg[512];
    int number;                /* calls per repeat after TVM's growth (0 on error) */
    int nanchor;               /* = ncosts when an anchor was timed beside, else 0 */
    double anchor_costs[TT_MAX_COSTS];
    int cut_off;               /* stopped at the run options' cutoff: one call (costs[0]) */
} tt_result;

/* Put r's costs on an anchor's scale: cost[i] = cost[i] / median(anchor
 * costs) x base (base: the anchor's time in some chosen measurement, e.g. the
 * kernel's default schedule when it was first measured), then mean again; a
 * cut-off result's cost is never scaled below its timed call.  The ratio
 * cancels the machine's drift between measurements taken minutes apart.
 * No-op (returns 0) without anchor costs, on an error, or for base <= 0;
 * returns 1 when scaled. */
int tt_result_anchor_scale(tt_result *r, double base);
/* The median of r's anchor costs (0 when none). */
double tt_result_anchor_median(const tt_result *r);

/* Run a candidate and check its output against ref:
 *   |out - ref.out| <= tol_factor * FLT_EPSILON * ref.mag + 1e-30
 * for every element (NaN anywhere fails).  A wrong answer gives
 * error = TT_ERR_WRONG_ANSWER and mean = 1e10, never a time. */
int tt_run_candidate(const tt_run_opts *o, const char *so_path, const char *fn, const tt_io *io,
                     const tt_ref *ref, double tol_factor, tt_result *res, tt_err *err);

/* The runner binary: given (if not NULL or empty), $TT_RUNNER, transtune-runner
 * beside this executable, or build/transtune-runner relative to the working
 * directory. */
void tt_runner_locate(const char *given, char *out, size_t cap);

/* ---- child processes (shared by build and run) ----------------------------
 * A child is started with posix_spawn (fork+exec semantics, safe in a process
 * whose OpenMP threads exist) in its own process group, so that a timeout
 * kills the whole tree (a compiler driver and its cc1/as/ld).  Children are
 * reaped by pid only, never with waitpid(-1), so the caller's other children
 * are left alone. */
typedef struct tt_proc {
    int pid;                   /* 0: not running */
    int pidfd;                 /* -1: pidfd_open unavailable (then polled) */
    double t0, deadline;       /* tt_now() at start; t0 + timeout */
} tt_proc;

/* Start argv (argv[0] looked up in PATH) with cwd `dir` (NULL: inherit),
 * stdin /dev/null, stdout+stderr to `log_path` (truncated; NULL: /dev/null;
 * relative to dir).
 * timeout_s <= 0: no deadline.  Returns 0 or sets err (e.g. no such program). */
int tt_proc_spawn(tt_proc *p, char *const argv[], const char *dir, const char *log_path,
                  double timeout_s, tt_err *err);
/* Called at p's deadline: 1 if p has used limit_s seconds of CPU time (its
 * process group, children included) or 4 x limit_s of wall time, so it must
 * be killed; else 0 with p->deadline moved to when it could next be over.
 * *cpu_s gets the CPU time read (-1 if none was read). */
int tt_proc_over_cpu_limit(tt_proc *p, double limit_s, double *cpu_s);
/* Non-blocking: 1 and the wait status (-1 if unknown, e.g. SIGCHLD ignored)
 * if p has exited and is now reaped; 0 if it still runs. */
int tt_proc_poll(tt_proc *p, int *status);
/* SIGKILL p's process group and reap p. */
void tt_proc_kill(tt_proc *p);
/* Sleep until one of the n running procs may have exited, or at most max_s. */
void tt_proc_wait_any(const tt_proc *ps, int n, double max_s);

#endif
