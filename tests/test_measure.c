/* test_measure.c - build hand-written kernels and run them in the runner:
 * batching and bad-candidate isolation, every error code a candidate can
 * earn, the reference check, deterministic inputs and TVM-style timing. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../src/measure/evaluate.h"
#include "../src/measure/measure.h"
#include "test.h"

#define TN 100000

static const char *prelude = "#include <math.h>\n#include <stdint.h>\n#define TN 100000\n";

/* Candidate kernels: z = x + y over TN floats, plus deliberate failures. */
#define CAND(name, body)                                                                           \
    "void " name "(float *const *a)\n{\n"                                                          \
    "    const float *x = a[0], *y = a[1];\n    float *z = a[2];\n" body "}\n"
static const char *src_add = CAND("t_add", "#pragma omp parallel for\n"
                                           "    for (int64_t i = 0; i < TN; i++)\n"
                                           "        z[i] = x[i] + y[i];\n");
static const char *src_add2 = CAND("t_add2", "    for (int64_t i = 0; i < TN; i++)\n"
                                             "        z[i] = y[i] + x[i];\n");
static const char *src_wrong = CAND("t_wrong", "    for (int64_t i = 0; i < TN; i++)\n"
                                               "        z[i] = x[i] + y[i] + (i == 777 ? 1e-3f : 0);\n");
static const char *src_hole = CAND("t_hole", "    for (int64_t i = 0; i < TN; i++)\n"
                                             "        if (i != 5) z[i] = x[i] + y[i];\n");
static const char *src_segv = CAND("t_segv", "    (void)x, (void)y, (void)z;\n"
                                             "    *(volatile int *)(uintptr_t)8 = 1;\n");
static const char *src_hang = CAND("t_hang", "    (void)x, (void)y, (void)z;\n"
                                             "    volatile int go = 1;\n    while (go) {}\n");
static const char *src_bad = "void t_bad(float *const *a) { this is not C; }\n";
/* Reference in double; mag = |x| + |y| bounds the rounding of x + y. */
static const char *src_ref =
    "void t_ref(float *const *a, double *out, double *mag)\n{\n"
    "    for (int64_t i = 0; i < TN; i++) {\n"
    "        out[i] = (double)a[0][i] + (double)a[1][i];\n"
    "        mag[i] = fabs((double)a[0][i]) + fabs((double)a[1][i]);\n    }\n}\n";
/* Exposes the inputs: out = input 0, mag = input 1. */
static const char *src_inputs = "void t_inputs(float *const *a, double *out, double *mag)\n{\n"
                                "    for (int64_t i = 0; i < TN; i++)\n"
                                "        out[i] = a[0][i], mag[i] = a[1][i];\n}\n";

enum { FX_ADD, FX_ADD2, FX_WRONG, FX_HOLE, FX_SEGV, FX_HANG, FX_REF, FX_INPUTS, FX_N };

/* Built once, in one translation unit, and shared by the run tests. */
static struct {
    int ready, ok;
    char dir[256];
    tt_build_item items[FX_N];
    tt_ref ref;
    tt_io io;
} fx;

static void rm_tree(const char *dir)
{
    if (dir[0])
        tt_remove_tree(dir);
}

static void fx_cleanup(void)
{
    tt_ref_free(&fx.ref);
    rm_tree(fx.dir);
}

static void make_tmpdir(char *out, size_t cap)
{
    snprintf(out, cap, "%s/tt-test-measure-XXXXXX", tt_test_tmpdir());
    if (!mkdtemp(out))
        out[0] = 0;
}

static tt_run_opts quick_opts(void)
{
    tt_run_opts o = {0};
    o.repeat = 1;
    o.number = 1;
    o.min_repeat_ms = -1;
    o.seed = 42;
    o.timeout_s = 10;
    return o;
}

/* Build the fixture (once) and run the reference; 0 on failure. */
static int fixture(void)
{
    if (fx.ready)
        return fx.ok;
    fx.ready = 1;
    make_tmpdir(fx.dir, sizeof fx.dir);
    atexit(fx_cleanup);
    const char *srcs[FX_N] = {src_add,  src_add2, src_wrong, src_hole,
                              src_segv, src_hang, src_ref,   src_inputs};
    const char *fns[FX_N] = {"t_add",  "t_add2", "t_wrong", "t_hole",
                             "t_segv", "t_hang", "t_ref",   "t_inputs"};
    for (int i = 0; i < FX_N; i++) {
        fx.items[i].source = srcs[i];
        snprintf(fx.items[i].fn, sizeof fx.items[i].fn, "%s", fns[i]);
    }
    tt_build_opts bo = {.workdir = fx.dir};
    tt_err err = {0};
    if (tt_build(&bo, prelude, fx.items, FX_N, &err)) {
        fprintf(stderr, "    fixture build: %s\n", err.msg);
        return 0;
    }
    for (int i = 0; i < FX_N; i++)
        if (fx.items[i].error) {
            fprintf(stderr, "    fixture %s: %s\n", fns[i], fx.items[i].msg);
            return 0;
        }
    fx.io.nin = 2;
    fx.io.numel[0] = fx.io.numel[1] = fx.io.numel[2] = TN;
    tt_run_opts ro = quick_opts();
    if (tt_run_reference(&ro, fx.items[FX_REF].so_path, "t_ref", &fx.io, &fx.ref, &err)) {
        fprintf(stderr, "    fixture reference: %s\n", err.msg);
        return 0;
    }
    fx.ok = 1;
    return 1;
}

static int run_fx(int which, const char *fn, tt_run_opts *o, tt_result *res)
{
    tt_err err = {0};
    int rc = tt_run_candidate(o, fx.items[which].so_path, fn, &fx.io, &fx.ref, 4, res, &err);
    if (rc)
        fprintf(stderr, "    run %s: %s\n", fn, err.msg);
    return rc;
}

static void test_defaults(void)
{
    const char *cc = tt_build_default_cc();
    CHECK(cc && *cc);
    const char *fl = tt_build_default_cflags(NULL);
    CHECK(strstr(fl, "-fPIC") && strstr(fl, "-shared") && strstr(fl, "-fopenmp"));
    CHECK(!strstr(fl, "-ffast-math"));
    /* clang 14's -fopenmp=libgomp silently drops every parallel region */
    CHECK(!strstr(tt_build_default_cflags("clang"), "libgomp"));
    CHECK(strstr(tt_build_default_cflags("/usr/bin/clang-14"), "-fopenmp"));
    CHECK(strstr(tt_build_default_cflags("gcc"), "-fopenmp"));
}

static void test_build_unit(void)
{
    CHECK(fixture());
    for (int i = 0; i < FX_N; i++) {
        CHECK(fx.items[i].error == 0 && fx.items[i].so_path[0]);
        /* One translation unit: every candidate shares one shared object. */
        CHECK(!strcmp(fx.items[i].so_path, fx.items[0].so_path));
        CHECK(fx.items[i].build_s > 0);
    }
    CHECK(!strncmp(fx.items[0].so_path, fx.dir, strlen(fx.dir)));
    CHECK(access(fx.items[0].so_path, R_OK) == 0);
}

/* A syntax error among good candidates fails alone; the others still build. */
static void test_build_bad_alone(void)
{
    char dir[256];
    make_tmpdir(dir, sizeof dir);
    CHECK(dir[0]);
    tt_build_item it[4] = {{.source = src_add, .fn = "t_add"},
                           {.source = src_bad, .fn = "t_bad"},
                           {.source = src_add2, .fn = "t_add2"},
                           {.source = src_ref, .fn = "t_ref"}};
    tt_build_opts bo = {.workdir = dir, .per_unit = 3, .jobs = 2};
    tt_err err = {0};
    int rc = tt_build(&bo, prelude, it, 4, &err);
    int e0 = it[0].error, e1 = it[1].error, e2 = it[2].error, e3 = it[3].error;
    int has_error = strstr(it[1].msg, "error") != NULL;
    int distinct = strcmp(it[0].so_path, it[2].so_path) != 0;
    int ok_paths = it[0].so_path[0] && it[2].so_path[0] && it[3].so_path[0] && !it[1].so_path[0];
    /* Candidates are usable: run the good ones of the failed unit. */
    tt_run_opts ro = quick_opts();
    tt_io io = {.nin = 2, .numel = {TN, TN, TN}};
    tt_ref ref = {0};
    tt_result res = {0};
    int run_ok = rc == 0 && e3 == 0 && !tt_run_reference(&ro, it[3].so_path, "t_ref", &io, &ref, &err) &&
                 !tt_run_candidate(&ro, it[2].so_path, "t_add2", &io, &ref, 4, &res, &err) &&
                 res.error == 0 && res.correct;
    tt_ref_free(&ref);
    rm_tree(dir);
    CHECK_MSG(rc == 0, "%s", err.msg);
    CHECK(e0 == 0 && e2 == 0 && e3 == 0);
    CHECK(e1 == TT_ERR_COMPILE_HOST);
    CHECK_MSG(has_error, "msg: %s", it[1].msg);
    CHECK(distinct && ok_paths);
    CHECK_MSG(run_ok, "%s %s", err.msg, res.msg);
}

/* The kernel cache: the same C under another function name is built once
 * and shared (the item then names the cached function); C that differs
 * anywhere else, or the same C under other flags, never shares; a second
 * call finds every entry; what it hands out runs and computes its own
 * result. */
static void test_build_cache(void)
{
    char dir[256], cache[300];
    make_tmpdir(dir, sizeof dir);
    CHECK(dir[0]);
    snprintf(cache, sizeof cache, "%s/kcache", dir);
    static const char *add_b = CAND("u_add", "#pragma omp parallel for\n"
                                             "    for (int64_t i = 0; i < TN; i++)\n"
                                             "        z[i] = x[i] + y[i];\n");
    /* differs from src_add only in one character of the body */
    static const char *add_c = CAND("v_add", "#pragma omp parallel for\n"
                                             "    for (int64_t i = 0; i < TN; i++)\n"
                                             "        z[i] = x[i] - y[i];\n");
    tt_build_item it[5] = {{.source = src_add, .fn = "t_add"},
                           {.source = add_b, .fn = "u_add"},
                           {.source = add_c, .fn = "v_add"},
                           {.source = src_add2, .fn = "t_add2"},
                           {.source = src_ref, .fn = "t_ref"}};
    tt_build_opts bo = {.workdir = dir, .per_unit = 2, .jobs = 2, .cache_dir = cache};
    tt_err err = {0};
    CHECK_MSG(tt_build(&bo, prelude, it, 5, &err) == 0, "%s", err.msg);
    for (int i = 0; i < 5; i++)
        CHECK_MSG(it[i].error == 0 && it[i].so_path[0], "%d: %s", i, it[i].msg);
    CHECK(!it[0].cached && it[1].cached && !it[2].cached && !it[3].cached);
    CHECK(!strcmp(it[1].so_path, it[0].so_path) && !strcmp(it[1].fn, "t_add"));
    CHECK(strcmp(it[2].so_path, it[0].so_path) != 0 && !strcmp(it[2].fn, "v_add"));
    CHECK(!strncmp(it[0].so_path, cache, strlen(cache)) && !strncmp(it[2].so_path, cache, strlen(cache)));

    /* a second call: everything from the cache, nothing compiled */
    tt_build_item again[3] = {{.source = add_c, .fn = "v_add"},
                              {.source = add_b, .fn = "u_add"},
                              {.source = src_ref, .fn = "t_ref"}};
    CHECK_MSG(tt_build(&bo, prelude, again, 3, &err) == 0, "%s", err.msg);
    CHECK(again[0].cached && again[1].cached && again[2].cached);
    CHECK(!strcmp(again[0].so_path, it[2].so_path) && !strcmp(again[0].fn, "v_add"));
    CHECK(!strcmp(again[1].so_path, it[0].so_path) && !strcmp(again[1].fn, "t_add"));

    /* other flags: another key */
    tt_build_item other = {.source = add_b, .fn = "u_add"};
    tt_build_opts bo2 = bo;
    bo2.cflags = "-O1";
    CHECK_MSG(tt_build(&bo2, prelude, &other, 1, &err) == 0, "%s", err.msg);
    CHECK(other.error == 0 && !other.cached && strcmp(other.so_path, it[0].so_path) != 0);
    CHECK(!strcmp(other.fn, "u_add"));

    /* what the cache hands out computes what its own C says */
    tt_run_opts ro = quick_opts();
    tt_io io = {.nin = 2, .numel = {TN, TN, TN}};
    tt_ref ref = {0};
    tt_result r1 = {0}, r2 = {0};
    int ok = !tt_run_reference(&ro, again[2].so_path, again[2].fn, &io, &ref, &err) &&
             !tt_run_candidate(&ro, again[1].so_path, again[1].fn, &io, &ref, 4, &r1, &err) &&
             !tt_run_candidate(&ro, again[0].so_path, again[0].fn, &io, &ref, 4, &r2, &err);
    tt_ref_free(&ref);
    rm_tree(dir);
    CHECK_MSG(ok, "%s", err.msg);
    CHECK_MSG(r1.error == 0 && r1.correct, "%s", r1.msg);
    CHECK(r2.error == TT_ERR_WRONG_ANSWER && !r2.correct);
}

static void test_run_correct(void)
{
    CHECK(fixture());
    tt_run_opts o = quick_opts();
    tt_result res;
    CHECK(run_fx(FX_ADD, "t_add", &o, &res) == 0);
    CHECK_MSG(res.error == 0 && res.correct, "%d %s", res.error, res.msg);
    CHECK(res.ncosts == 1 && res.costs[0] > 0 && res.mean == res.costs[0]);
    CHECK(res.max_rel_err <= 1 && res.max_abs_err < 1e-6);
    o.threads = 1;
    CHECK(run_fx(FX_ADD2, "t_add2", &o, &res) == 0);
    CHECK_MSG(res.error == 0 && res.correct, "%d %s", res.error, res.msg);
}

static void test_run_wrong(void)
{
    CHECK(fixture());
    tt_run_opts o = quick_opts();
    tt_result res;
    CHECK(run_fx(FX_WRONG, "t_wrong", &o, &res) == 0);
    CHECK(res.error == TT_ERR_WRONG_ANSWER && !res.correct);
    CHECK(res.mean == 1e10 && res.ncosts == 1 && res.costs[0] == 1e10);
    CHECK_MSG(strstr(res.msg, "element 777 "), "msg: %s", res.msg);
    CHECK(res.max_abs_err > 5e-4);
}

/* An output element the kernel never writes stays NaN and is caught. */
static void test_run_untouched(void)
{
    CHECK(fixture());
    tt_run_opts o = quick_opts();
    tt_result res;
    CHECK(run_fx(FX_HOLE, "t_hole", &o, &res) == 0);
    CHECK(res.error == TT_ERR_WRONG_ANSWER && !res.correct && res.mean == 1e10);
    CHECK_MSG(strstr(res.msg, "element 5 ") && strstr(res.msg, "nan"), "msg: %s", res.msg);
}

static void test_run_segv(void)
{
    CHECK(fixture());
    tt_run_opts o = quick_opts();
    tt_result res;
    CHECK(run_fx(FX_SEGV, "t_segv", &o, &res) == 0);
    CHECK_MSG(res.error == TT_ERR_RUNTIME_DEVICE, "%d %s", res.error, res.msg);
    CHECK(strstr(res.msg, "signal") && res.mean == 1e10 && res.costs[0] == 1e10);
}

/* A kernel that spins forever is killed at the timeout (1 s of wall time
 * from the runner's start), not before.  Returning at all shows the kill;
 * how late it may come is judged against a run of a good kernel timed in the
 * same test (its runner's start, load and exit take as long under the same
 * load), so that a loaded host does not fail the test. */
static void test_run_timeout(void)
{
    CHECK(fixture());
    tt_run_opts o = quick_opts();
    o.timeout_s = 1;
    tt_result res;
    double t0 = tt_now();
    CHECK(run_fx(FX_ADD, "t_add", &o, &res) == 0 && res.error == 0);
    double base = tt_now() - t0;
    t0 = tt_now();
    CHECK(run_fx(FX_HANG, "t_hang", &o, &res) == 0);
    double dt = tt_now() - t0;
    CHECK_MSG(res.error == TT_ERR_RUN_TIMEOUT, "%d %s", res.error, res.msg);
    CHECK_MSG(dt >= 0.9 && dt < o.timeout_s + 5 * base + 2,
              "took %.2f s (a good kernel's run %.2f s)", dt, base);
    CHECK(res.mean == 1e10);
}

static void test_run_load_errors(void)
{
    CHECK(fixture());
    tt_run_opts o = quick_opts();
    tt_result res;
    tt_err err = {0};
    CHECK(run_fx(FX_ADD, "t_missing", &o, &res) == 0);
    CHECK_MSG(res.error == TT_ERR_COMPILE_DEVICE, "%d %s", res.error, res.msg);
    CHECK(strstr(res.msg, "t_missing") && res.mean == 1e10);
    CHECK(tt_run_candidate(&o, "/nonexistent/x.so", "t_add", &fx.io, &fx.ref, 4, &res, &err) == 0);
    CHECK_MSG(res.error == TT_ERR_COMPILE_DEVICE, "%d %s", res.error, res.msg);
}

/* Machinery failures are errors, not results. */
static void test_run_bad_setup(void)
{
    CHECK(fixture());
    tt_run_opts o = quick_opts();
    tt_result res;
    tt_err err = {0};
    o.runner = "/nonexistent/transtune-runner";
    CHECK(tt_run_candidate(&o, fx.items[FX_ADD].so_path, "t_add", &fx.io, &fx.ref, 4, &res, &err));
    CHECK(err.set && res.mean == 1e10);
    tt_err_clear(&err);
    o = quick_opts();
    tt_io io = fx.io;
    io.numel[2] = TN - 1;
    CHECK(tt_run_candidate(&o, fx.items[FX_ADD].so_path, "t_add", &io, &fx.ref, 4, &res, &err));
    CHECK(err.set);
    tt_err_clear(&err);
    tt_ref ref;
    CHECK(tt_run_reference(&o, fx.items[FX_SEGV].so_path, "t_segv", &fx.io, &ref, &err));
    CHECK(err.set && strstr(err.msg, "t_segv"));
}

/* Inputs are seeded, identical across runs, distinct per argument and seed,
 * and uniform in [-1, 1). */
static void test_run_inputs(void)
{
    CHECK(fixture());
    tt_run_opts o = quick_opts();
    tt_ref a = {0}, b = {0}, c = {0};
    tt_err err = {0};
    const char *so = fx.items[FX_INPUTS].so_path;
    int rc = tt_run_reference(&o, so, "t_inputs", &fx.io, &a, &err) ||
             tt_run_reference(&o, so, "t_inputs", &fx.io, &b, &err);
    o.seed = 43;
    rc = rc || tt_run_reference(&o, so, "t_inputs", &fx.io, &c, &err);
    int same = !rc && !memcmp(a.out, b.out, TN * sizeof(double)) &&
               !memcmp(a.mag, b.mag, TN * sizeof(double));
    int differ_seed = !rc && memcmp(a.out, c.out, TN * sizeof(double));
    int differ_arg = !rc && memcmp(a.out, a.mag, TN * sizeof(double));
    double lo = 1, hi = -1, sum = 0;
    for (int64_t i = 0; !rc && i < TN; i++) {
        lo = fmin(lo, a.out[i]), hi = fmax(hi, a.out[i]);
        sum += a.out[i];
    }
    tt_ref_free(&a), tt_ref_free(&b), tt_ref_free(&c);
    CHECK_MSG(!rc, "%s", err.msg);
    CHECK(same && differ_seed && differ_arg);
    CHECK(lo >= -1 && hi <= 1 && lo < -0.99 && hi > 0.99 && fabs(sum / TN) < 0.02);
}

/* TVM's protocol: every repeat lasts at least min_repeat_ms, so
 * number * cost >= min_repeat_ms for each repeat. */
static void test_run_timing(void)
{
    CHECK(fixture());
    tt_run_opts o = quick_opts();
    o.repeat = 5;
    o.number = 1;
    o.min_repeat_ms = 20;
    o.threads = 1;
    tt_result res;
    CHECK(run_fx(FX_ADD, "t_add", &o, &res) == 0);
    CHECK_MSG(res.error == 0 && res.correct, "%d %s", res.error, res.msg);
    CHECK(res.ncosts == 5 && res.number > 1);
    double sum = 0;
    for (int i = 0; i < res.ncosts; i++) {
        /* 100k-element add: ~10-50 us on one core; allow a loaded machine. */
        CHECK_MSG(res.costs[i] > 1e-7 && res.costs[i] < 5e-3, "cost %g", res.costs[i]);
        CHECK_MSG(res.costs[i] * res.number >= 0.0199, "%g x %d", res.costs[i], res.number);
        sum += res.costs[i];
    }
    CHECK(fabs(res.mean - sum / 5) < 1e-12);

    /* Cache flush forces number = 1 and no minimum, as in TVM. */
    o.cache_flush = 1;
    o.repeat = 3;
    CHECK(run_fx(FX_ADD, "t_add", &o, &res) == 0);
    CHECK_MSG(res.error == 0 && res.correct, "%d %s", res.error, res.msg);
    CHECK(res.ncosts == 3 && res.number == 1);
    for (int i = 0; i < res.ncosts; i++)
        CHECK_MSG(res.costs[i] > 1e-7 && res.costs[i] < 5e-2, "cost %g", res.costs[i]);

    /* So does the L3 state (private caches swept on every CPU, 2 threads so
     * the sweep moves the runner between CPUs); the output is still right. */
    o.cache_flush = TT_CACHE_L3;
    o.threads = 2;
    CHECK(run_fx(FX_ADD, "t_add", &o, &res) == 0);
    CHECK_MSG(res.error == 0 && res.correct, "%d %s", res.error, res.msg);
    CHECK(res.ncosts == 3 && res.number == 1);
    for (int i = 0; i < res.ncosts; i++)
        CHECK_MSG(res.costs[i] > 1e-7 && res.costs[i] < 5e-2, "cost %g", res.costs[i]);
    o.threads = 1;

    /* A cutoff below the kernel's time: one timed call after the warm-up is
     * the single cost, and the output is still checked; a cutoff far above
     * it changes nothing. */
    o.cache_flush = 0;
    o.repeat = 4;
    o.min_repeat_ms = 20;
    o.cutoff_s = 1e-9;
    CHECK(run_fx(FX_ADD, "t_add", &o, &res) == 0);
    CHECK_MSG(res.error == 0 && res.correct, "%d %s", res.error, res.msg);
    CHECK_MSG(res.ncosts == 1 && res.number == 1 && res.costs[0] > 1e-9 && res.cut_off,
              "%d costs, number %d", res.ncosts, res.number);
    CHECK(run_fx(FX_WRONG, "t_wrong", &o, &res) == 0);
    CHECK(res.error == TT_ERR_WRONG_ANSWER && !res.correct);
    o.cutoff_s = 10;
    CHECK(run_fx(FX_ADD, "t_add", &o, &res) == 0);
    CHECK(res.error == 0 && res.correct && res.ncosts == 4 && res.number > 1 && !res.cut_off);
}

/* An anchor timed beside the candidate in its runner: as many anchor costs
 * as costs (one after a cutoff), each from the same number of calls; and
 * the scaling by them, from given numbers. */
static void test_run_anchor(void)
{
    CHECK(fixture());
    tt_run_opts o = quick_opts();
    o.repeat = 4;
    o.number = 1;
    o.min_repeat_ms = 10;
    o.threads = 1;
    o.anchor_so = fx.items[FX_ADD].so_path;
    o.anchor_fn = "t_add";
    tt_result res;
    CHECK(run_fx(FX_ADD, "t_add", &o, &res) == 0);
    CHECK_MSG(res.error == 0 && res.correct, "%d %s", res.error, res.msg);
    CHECK(res.ncosts == 4 && res.nanchor == 4 && res.number > 1);
    for (int i = 0; i < res.nanchor; i++)
        CHECK_MSG(res.anchor_costs[i] > 1e-7 && res.anchor_costs[i] < 5e-3, "anchor %g",
                  res.anchor_costs[i]);
    /* a wrong candidate is still refused, anchor or not */
    CHECK(run_fx(FX_WRONG, "t_wrong", &o, &res) == 0);
    CHECK(res.error == TT_ERR_WRONG_ANSWER && !res.correct);
    /* after a cutoff: one cost, one anchor cost */
    o.cutoff_s = 1e-9;
    CHECK(run_fx(FX_ADD, "t_add", &o, &res) == 0);
    CHECK(res.error == 0 && res.ncosts == 1 && res.nanchor == 1 && res.anchor_costs[0] > 0 &&
          res.cut_off);
    /* an anchor that does not load is a load error, not a time */
    o.cutoff_s = 0;
    o.anchor_fn = "no_such_function";
    CHECK(run_fx(FX_ADD, "t_add", &o, &res) == 0);
    CHECK(res.error == TT_ERR_COMPILE_DEVICE && strstr(res.msg, "anchor"));
    o.anchor_so = o.anchor_fn = NULL;
    CHECK(run_fx(FX_ADD, "t_add", &o, &res) == 0);
    CHECK(res.error == 0 && res.nanchor == 0);

    /* scaling by the median anchor: costs 2, 3, 4 against anchors 1, 20, 2
     * (one anchor call stretched) on a base of 10 -> 10, 15, 20 */
    tt_result r;
    memset(&r, 0, sizeof r);
    r.ncosts = r.nanchor = 3;
    r.costs[0] = 2, r.costs[1] = 3, r.costs[2] = 4;
    r.anchor_costs[0] = 1, r.anchor_costs[1] = 20, r.anchor_costs[2] = 2;
    r.mean = 3;
    CHECK(fabs(tt_result_anchor_median(&r) - 2) < 1e-12);
    CHECK(tt_result_anchor_scale(&r, 20) == 1);
    CHECK(fabs(r.costs[0] - 20) < 1e-12 && fabs(r.costs[1] - 30) < 1e-12 &&
          fabs(r.costs[2] - 40) < 1e-12 && fabs(r.mean - 30) < 1e-12);
    CHECK(tt_result_anchor_scale(&r, 0) == 0 && fabs(r.mean - 30) < 1e-12);
    r.ncosts = r.nanchor = 2; /* even count: the mean of the middle two */
    r.anchor_costs[0] = 1, r.anchor_costs[1] = 2;
    CHECK(fabs(tt_result_anchor_median(&r) - 1.5) < 1e-12);
    /* a cut-off call (5) over a stretched anchor (50), base 10: 1 would be
     * faster than the cutoff it failed; it stays 5 */
    tt_result c;
    memset(&c, 0, sizeof c);
    c.ncosts = c.nanchor = 1;
    c.cut_off = 1;
    c.costs[0] = c.mean = 5;
    c.anchor_costs[0] = 50;
    CHECK(tt_result_anchor_scale(&c, 10) == 1 && c.costs[0] == 5 && c.mean == 5);
    c.anchor_costs[0] = 1; /* over a fast anchor it is scaled as any cost */
    CHECK(tt_result_anchor_scale(&c, 10) == 1 && fabs(c.mean - 50) < 1e-12);
    r.nanchor = 0;
    CHECK(tt_result_anchor_scale(&r, 10) == 0 && tt_result_anchor_median(&r) == 0);
    r.nanchor = 2;
    r.error = TT_ERR_WRONG_ANSWER;
    CHECK(tt_result_anchor_scale(&r, 10) == 0);
}

/* Another compiler through opts->cc (gcc: plain -fopenmp). */
static void test_build_gcc(void)
{
    CHECK(fixture());
    if (access("/usr/bin/gcc", X_OK) != 0)
        SKIP("/usr/bin/gcc not found (build-essential; scripts/install-deps.sh)");
    char dir[256];
    make_tmpdir(dir, sizeof dir);
    CHECK(dir[0]);
    tt_build_item it[2] = {{.source = src_add, .fn = "t_add"}, {.source = src_add2, .fn = "t_add2"}};
    tt_build_opts bo = {.workdir = dir, .cc = "gcc"};
    tt_err err = {0};
    int rc = tt_build(&bo, prelude, it, 2, &err);
    tt_run_opts o = quick_opts();
    tt_result r0 = {0}, r1 = {0};
    int run = rc == 0 && !it[0].error && !it[1].error &&
              !tt_run_candidate(&o, it[0].so_path, "t_add", &fx.io, &fx.ref, 4, &r0, &err) &&
              !tt_run_candidate(&o, it[1].so_path, "t_add2", &fx.io, &fx.ref, 4, &r1, &err);
    rm_tree(dir);
    CHECK_MSG(rc == 0 && !it[0].error && !it[1].error, "%s %s", err.msg, it[0].msg);
    CHECK_MSG(run && r0.correct && r1.correct, "%s %s %s", err.msg, r0.msg, r1.msg);
}

/* A compiler that hangs is killed at the timeout, with its children.
 * The compile limit counts CPU time: a compiler that spins is killed once it
 * has used the limit; one that sleeps (as if starved by a loaded host, or
 * hung) only at 4x the limit in wall time.
 *
 * The spinning compiler is eight spinning processes (the limit counts the
 * CPU time of the compiler's whole process group, as of a driver with cc1
 * and as), and its two units are built one at a time: under load its group
 * still gets the limit's 0.5 s of CPU before the wall cap of 2 s (a single
 * spinner, two at a time, lost that race at a load of 5 on 2 cores and was
 * killed by the wall cap instead; eight, two at a time, at a load of 9).
 * No upper bound of wall time: the kill is shown by the result (the spinner
 * never ends; the sleeper would end at 30 s and leave no shared object,
 * which is a build error, not a timeout). */
static void test_build_timeout(void)
{
    const char *scripts[2] = {"#!/bin/sh\nsleep 30\n",
                              "#!/bin/sh\nfor i in 1 2 3 4 5 6 7 8; do (while :; do :; done) & done\n"
                              "wait\n"};
    for (int spin = 0; spin < 2; spin++) {
        char dir[256], cc[300];
        make_tmpdir(dir, sizeof dir);
        CHECK(dir[0]);
        snprintf(cc, sizeof cc, "%s/slowcc", dir);
        FILE *f = fopen(cc, "w");
        CHECK(f);
        fputs(scripts[spin], f);
        fclose(f);
        chmod(cc, 0755);
        tt_build_item it[3] = {{.source = src_add, .fn = "t_add"},
                               {.source = src_add2, .fn = "t_add2"},
                               {.source = src_ref, .fn = "t_ref"}};
        tt_build_opts bo = {.workdir = dir, .cc = cc, .timeout_s = 0.5, .per_unit = 2,
                            .jobs = spin ? 1 : 2};
        tt_err err = {0};
        double t0 = tt_now();
        int rc = tt_build(&bo, prelude, it, 3, &err);
        double dt = tt_now() - t0;
        rm_tree(dir);
        CHECK_MSG(rc == 0, "%s", err.msg);
        for (int i = 0; i < 3; i++)
            CHECK_MSG(it[i].error == TT_ERR_BUILD_TIMEOUT && !it[i].so_path[0], "%d: %d %s", i,
                      it[i].error, it[i].msg);
        fprintf(stderr, "    %s: %.2f s: %s\n", spin ? "spinning" : "sleeping", dt, it[0].msg);
        if (spin) {
            CHECK_MSG(strstr(it[0].msg, "of CPU time"), "%s", it[0].msg);
        } else {
            /* not before 4 x 0.5 s of wall time, and before the sleep ended */
            CHECK_MSG(dt >= 1.9 && dt < 30 && strstr(it[0].msg, "wall"), "took %.2f s: %s", dt,
                      it[0].msg);
        }
    }
}

/* A compiler that cannot be started is an error of the build, not a result. */
static void test_build_no_compiler(void)
{
    char dir[256];
    make_tmpdir(dir, sizeof dir);
    CHECK(dir[0]);
    tt_build_item it[1] = {{.source = src_add, .fn = "t_add"}};
    tt_build_opts bo = {.workdir = dir, .cc = "/nonexistent/cc"};
    tt_err err = {0};
    int rc = tt_build(&bo, prelude, it, 1, &err);
    rm_tree(dir);
    CHECK(rc != 0 && err.set && strstr(err.msg, "/nonexistent/cc"));
}

/* A kernel's parallel loop really runs on the requested threads, with each
 * compiler: every element records omp_get_num_threads() of its iteration and
 * the reference says it must be 2 (tolerance 0). */
static void test_threads(void)
{
    static const char *cand = "extern int omp_get_num_threads(void);\n"
                              "void t_thr(float *const *a)\n{\n"
                              "#pragma omp parallel for schedule(static)\n"
                              "    for (int64_t i = 0; i < 64; i++)\n"
                              "        a[1][i] = (float)omp_get_num_threads() + 0.0f * a[0][i];\n}\n";
    static const char *ref = "void t_thr_ref(float *const *a, double *out, double *mag)\n{\n"
                             "    (void)a;\n    for (int64_t i = 0; i < 64; i++)\n"
                             "        out[i] = 2.0, mag[i] = 0.0;\n}\n";
    const char *ccs[2] = {"clang", "gcc"};
    for (int c = 0; c < 2; c++) {
        char dir[256];
        make_tmpdir(dir, sizeof dir);
        tt_build_item it[2];
        memset(it, 0, sizeof it);
        it[0].source = cand;
        snprintf(it[0].fn, sizeof it[0].fn, "t_thr");
        it[1].source = ref;
        snprintf(it[1].fn, sizeof it[1].fn, "t_thr_ref");
        tt_build_opts bo = {.workdir = dir, .cc = ccs[c]};
        tt_err err = {0};
        int rc = tt_build(&bo, prelude, it, 2, &err);
        CHECK_MSG(rc == 0 && !it[0].error && !it[1].error, "%s: %s %s", ccs[c], err.msg, it[0].msg);
        tt_io io = {1, {64, 64}};
        tt_run_opts ro = quick_opts();
        ro.threads = 2;
        tt_ref r = {0};
        CHECK(tt_run_reference(&ro, it[1].so_path, "t_thr_ref", &io, &r, &err) == 0);
        tt_result res;
        CHECK(tt_run_candidate(&ro, it[0].so_path, "t_thr", &io, &r, 0, &res, &err) == 0);
        CHECK_MSG(res.error == 0 && res.correct, "%s: a parallel loop did not run on 2 threads: %s",
                  ccs[c], res.msg);
        tt_ref_free(&r);
        rm_tree(dir);
    }
}

/* Folders of processes killed with SIGKILL are removed by the next sweep;
 * those of live processes and names not made by tt_temp_dir_in stay. */
static void test_temp_sweep(void)
{
    char base[256];
    make_tmpdir(base, sizeof base);
    CHECK(base[0]);
    pid_t dead = fork();
    if (dead == 0)
        _exit(0);
    waitpid(dead, NULL, 0);
    char a[400], b[400], c[400], d[400];
    snprintf(a, sizeof a, "%s/tt-eval-%ld-abcdef", base, (long)dead);
    snprintf(b, sizeof b, "%s/tt-eval-%ld-ghijkl", base, (long)getpid());
    snprintf(c, sizeof c, "%s/tt-eval-mnopqr", base);
    snprintf(d, sizeof d, "%s/tt-run-%ld-stuvwx", base, (long)dead);
    CHECK(mkdir(a, 0700) == 0 && mkdir(b, 0700) == 0 && mkdir(c, 0700) == 0 && mkdir(d, 0700) == 0);
    char f[420];
    snprintf(f, sizeof f, "%s/x.so", d); /* with contents */
    FILE *fp = fopen(f, "w");
    CHECK(fp && fputs("x", fp) >= 0 && fclose(fp) == 0);
    CHECK(tt_temp_sweep(base) == 2);
    struct stat st;
    CHECK(stat(a, &st) != 0 && stat(d, &st) != 0);
    CHECK(stat(b, &st) == 0 && stat(c, &st) == 0);
    /* and tt_temp_dir_in names its folders so */
    char made[400];
    tt_err err = {0};
    CHECK(tt_temp_dir_in(base, "tt-build", made, sizeof made, &err) == 0);
    char want[64];
    snprintf(want, sizeof want, "/tt-build-%ld-", (long)getpid());
    CHECK_MSG(strstr(made, want), "%s", made);
    rm_tree(base);
}

/* Is pid gone (or a zombie)? */
static int proc_gone(long pid)
{
    char path[64], buf[256];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    const char *rp = strrchr(buf, ')');
    return rp && rp[1] == ' ' && (rp[2] == 'Z' || rp[2] == 'X');
}

/* `transtune-runner --exec` (how tt_build runs compilers) dies with its
 * parent and takes its child along: a tuner killed with SIGKILL leaves no
 * compiler behind. */
static void test_exec_dies_with_parent(void)
{
    char dir[256];
    make_tmpdir(dir, sizeof dir);
    CHECK(dir[0]);
    char pidf[300], script[400];
    snprintf(pidf, sizeof pidf, "%s/pid", dir);
    snprintf(script, sizeof script, "echo $$ > %s.tmp && mv %s.tmp %s && exec sleep 30", pidf, pidf, pidf);
    pid_t parent = fork();
    if (parent == 0) {
        pid_t sup = fork();
        if (sup == 0) {
            execl(TT_TEST_BUILD_DIR "/transtune-runner", "transtune-runner", "--exec", "sh", "-c", script, (char *)NULL);
            _exit(127);
        }
        pause();
        _exit(0);
    }
    long child = 0;
    for (int i = 0; i < 500 && child <= 0; i++) {
        FILE *f = fopen(pidf, "r");
        if (f) {
            if (fscanf(f, "%ld", &child) != 1)
                child = 0;
            fclose(f);
        }
        if (child <= 0)
            usleep(10000);
    }
    CHECK_MSG(child > 0, "the supervised command did not start");
    CHECK(!proc_gone(child));
    kill(parent, SIGKILL);
    waitpid(parent, NULL, 0);
    int gone = 0;
    for (int i = 0; i < 300 && !gone; i++) {
        gone = proc_gone(child);
        if (!gone)
            usleep(10000);
    }
    if (!gone)
        kill((pid_t)child, SIGKILL);
    CHECK_MSG(gone, "the supervised command outlived its supervisor's parent");
    rm_tree(dir);
}

/* Jobs into bytes and back (what transtune-mpi sends its workers): every
 * field survives, results come back into the sender's jobs, and every
 * truncation and a flipped header are refused without a crash. */
static void test_jobs_pack(void)
{
    tt_job j[2];
    memset(j, 0, sizeof j);
    for (int k = 0; k < 2; k++) {
        j[k].task = 3 + k;
        j[k].io.nin = 2;
        j[k].io.numel[0] = 10, j[k].io.numel[1] = 20, j[k].io.numel[2] = 4;
        j[k].tol = 7.5;
        j[k].cutoff_s = 0.25 * k;
        snprintf(j[k].ref_fn, sizeof j[k].ref_fn, "ref%d", k);
        j[k].ref_src = k ? tt_xstrdup("void ref1(void) {}") : NULL;
        if (!k) {
            j[k].ref.n = 4;
            j[k].ref.out = tt_xcalloc(4, sizeof(double));
            j[k].ref.mag = tt_xcalloc(4, sizeof(double));
            j[k].ref.out[2] = 1.5;
        }
        j[k].nitems = 2;
        j[k].items = tt_xcalloc(2, sizeof(tt_job_item));
        for (int i = 0; i < 2; i++) {
            j[k].items[i].item = 5 * i;
            snprintf(j[k].items[i].fn, sizeof j[k].items[i].fn, "c%d_%d", k, i);
            j[k].items[i].src = tt_xstrdup(i ? "void c(void) { /* \0 safe */ }" : "");
        }
    }
    tt_run_opts ro = {.threads = 2, .repeat = 5, .timeout_s = 30, .seed = 42, .cache_flush = 1};
    tt_str b;
    tt_str_init(&b);
    tt_jobs_pack(j, 2, &ro, 0, &b);
    tt_job *u = NULL;
    int n = 0;
    tt_run_opts ro2;
    tt_err err = {0};
    CHECK_MSG(tt_jobs_unpack(b.buf, b.len, &u, &n, &ro2, &err) == 0 && n == 2, "%s", err.msg);
    CHECK(ro2.threads == 2 && ro2.repeat == 5 && ro2.seed == 42 && ro2.cache_flush == 1);
    for (int k = 0; k < n; k++) {
        CHECK(u[k].task == 3 + k && u[k].io.nin == 2 && u[k].io.numel[2] == 4 && u[k].tol == 7.5);
        CHECK(!strcmp(u[k].ref_fn, j[k].ref_fn) && (k ? !strcmp(u[k].ref_src, j[k].ref_src) : !u[k].ref_src));
        CHECK(u[k].ref.n == (k ? 0 : 4) && (k || u[k].ref.out[2] == 1.5));
        CHECK(u[k].nitems == 2 && u[k].items[1].item == 5 && !strcmp(u[k].items[1].src, j[k].items[1].src));
        /* the worker's results */
        u[k].items[1].res.correct = 1;
        u[k].items[1].res.ncosts = 2;
        u[k].items[1].res.mean = 0.125;
        snprintf(u[k].items[0].res.msg, sizeof u[k].items[0].res.msg, "wrong answer %d", k);
        if (k) {
            u[k].ref.n = 4;
            u[k].ref.out = tt_xcalloc(4, sizeof(double));
            u[k].ref.mag = tt_xcalloc(4, sizeof(double));
            u[k].ref.mag[3] = 9;
        }
    }
    tt_str r;
    tt_str_init(&r);
    tt_jobs_pack(u, n, &ro2, 1, &r);
    CHECK_MSG(tt_jobs_unpack_results(r.buf, r.len, j, 2, &err) == 0, "%s", err.msg);
    CHECK(j[0].items[1].res.correct == 1 && j[1].items[1].res.mean == 0.125 && !strcmp(j[1].items[0].res.msg, "wrong answer 1"));
    CHECK(j[1].ref.n == 4 && j[1].ref.mag[3] == 9 && j[0].ref.out[2] == 1.5);
    /* every cut is refused; a result message for other jobs too */
    for (size_t cut = 0; cut < b.len; cut += 1 + cut / 50) {
        tt_job *x = NULL;
        int nx = 0;
        CHECK(tt_jobs_unpack(b.buf, cut, &x, &nx, NULL, &err) == -1 && !x && nx == 0);
    }
    for (size_t cut = 0; cut < r.len; cut += 1 + cut / 50)
        CHECK(tt_jobs_unpack_results(r.buf, cut, j, 2, &err) == -1);
    CHECK(tt_jobs_unpack_results(r.buf, r.len, j, 1, &err) == -1);
    b.buf[0] = 'X';
    tt_job *x = NULL;
    CHECK(tt_jobs_unpack(b.buf, b.len, &x, &n, NULL, &err) == -1 && !x);
    for (int k = 0; k < 2; k++) {
        tt_job_free(&j[k]);
        tt_job_free(&u[k]);
    }
    free(u);
    tt_str_free(&b);
    tt_str_free(&r);
}

const tt_test tests_measure[] = {
    {"jobs_pack", test_jobs_pack},
    {"threads", test_threads},
    {"defaults", test_defaults},
    {"build_unit", test_build_unit},
    {"build_bad_alone", test_build_bad_alone},
    {"build_cache", test_build_cache},
    {"run_correct", test_run_correct},
    {"run_wrong", test_run_wrong},
    {"run_untouched", test_run_untouched},
    {"run_segv", test_run_segv},
    {"run_timeout", test_run_timeout},
    {"run_load_errors", test_run_load_errors},
    {"run_bad_setup", test_run_bad_setup},
    {"run_inputs", test_run_inputs},
    {"run_timing", test_run_timing},
    {"run_anchor", test_run_anchor},
    {"build_gcc", test_build_gcc},
    {"build_timeout", test_build_timeout},
    {"build_no_compiler", test_build_no_compiler},
    {"temp_sweep", test_temp_sweep},
    {"exec_dies_with_parent", test_exec_dies_with_parent},
    {NULL, NULL},
};
