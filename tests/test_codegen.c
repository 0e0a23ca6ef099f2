/* test_codegen.c - differential tests of lowering and C emission.
 *
 * A seeded generator builds random but valid (in TVM) Ansor schedules on small
 * random shapes of every DAG kind the builders make (matmul_add, dense, dense
 * with bias+relu, batch_matmul, conv2d NHWC with stride/padding/dilation and
 * bias+relu or residual epilogues, depthwise and grouped conv2d, max/avg pool,
 * global avg pool, softmax), using every transform step that is valid on CPU
 * the way Ansor's sketch rules, random annotation and mutations do:
 * multi-level tiling "SSRSRS" (and shorter structures, sometimes reordered at
 * random) with fusion into an elementwise consumer by FSP + CA, cache write
 * then tiling and compute_at of the .local at the original, rfactor of a split
 * (fused) reduction on either part, inlining, compute_at of producers at their
 * consumer's loops (and later moves, compute_root), FFSP by factor or nparts,
 * parallel on fused outer spatial loops, vectorize on (fused) innermost spatial
 * loops, unroll, auto_unroll_max_step in {0, 16, 64, 512}; split lengths are
 * random and often do not divide the extents.  Every case is replayed with
 * tt_state_apply, emitted with tt_codegen_candidate, compiled with tt_build
 * next to the double-precision reference of its DAG (one build for all), run
 * in the runner with 2 threads and checked element-wise against the reference.
 *
 * Fixed cases replay real Ansor records (the tutorial's matmul_add, the
 * ResNet-50 softmax and fused conv2d) on their own shapes and on others, and
 * hand-written schedules pin down bugs the random test found.
 *
 * Reproducing a failure: the message names the base seed and case number;
 *   TT_CODEGEN_SEED=<base> TT_CODEGEN_ONLY=<case> build/tests codegen/random
 * reruns that case alone.  TT_CODEGEN_CASES sets the number of cases (default
 * 72), TT_CODEGEN_KEEP=1 keeps the build directory with the generated sources,
 * TT_CODEGEN_VERBOSE=1 prints the loop nest of failing cases, TT_CODEGEN_LIST=1
 * prints every case, TT_CODEGEN_TIME=1 the build and run times. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <ftw.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../src/codegen/codegen.h"
#include "../src/codegen/lower.h"
#include "../src/measure/measure.h"
#include "../src/record/identify.h"
#include "../src/record/record.h"
#include "../src/record/identify.h"
#include "schedgen.h"
#include "test.h"

#define DEFAULT_CASES 72
#define DEFAULT_SEED 20240611ULL

/* ---- building and running cases ---------------------------------------------- */

typedef struct tcase {
    char name[64];             /* "case 12 (seed ...)" or the fixed case's name */
    char desc[256];
    tt_dag *dag;
    tt_dag *ref_dag;           /* reference DAG if not dag (self-test of the checker) */
    tt_state *state;
    int refused;               /* the generated steps were refused (generator or state bug) */
    int emit_failed;
    char msg[TT_ERR_MAX + 512];
    int ci, ri;                /* build item indices */
    char *src_c, *src_r;
} tcase;

static void case_free(tcase *c)
{
    tt_state_free(c->state);
    tt_dag_free(c->dag);
    tt_dag_free(c->ref_dag);
    free(c->src_c);
    free(c->src_r);
    memset(c, 0, sizeof *c);
}

static void print_case(const tcase *c, const char *why)
{
    fprintf(stderr, "    %s: %s\n    dag: %s\n", c->name, why, c->desc);
    if (c->state) {
        char *js = tt_steps_write(c->state->steps, c->state->nsteps);
        fprintf(stderr, "    steps: %s\n", js ? js : "?");
        free(js);
        if (getenv("TT_CODEGEN_VERBOSE")) {
            char *p = tt_state_print(c->state);
            fprintf(stderr, "%s", p ? p : "");
            free(p);
        }
    }
}

static tt_io case_io(const tt_dag *d)
{
    tt_io io;
    memset(&io, 0, sizeof io);
    io.nin = tt_dag_ninputs(d);
    for (int i = 0; i < io.nin; i++)
        io.numel[i] = tt_op_numel(d->ops[tt_dag_input(d, i)]);
    io.numel[io.nin] = tt_op_numel(d->ops[tt_dag_output(d)]);
    return io;
}

static int keep_failed_builds = 1; /* keep the sources of a failing run for inspection */

/* Emit, build (one tt_build for all), run and check every case that applied.
 * Returns the number of wrong or failed cases; *nrun = cases checked. */
static int run_cases(tcase *cs, int n, int *nrun)
{
    int nitems = 0, bad = 0;
    *nrun = 0;
    tt_build_item *items = tt_xcalloc((size_t)(2 * n + 1), sizeof *items);
    for (int i = 0; i < n; i++) {
        tcase *c = &cs[i];
        c->ci = c->ri = -1;
        if (c->refused || !c->state)
            continue;
        tt_err err = {0};
        tt_str o;
        tt_str_init(&o);
        char fn[32];
        snprintf(fn, sizeof fn, "cand%d", i);
        if (tt_codegen_candidate(c->state, fn, &o, &err)) {
            c->emit_failed = 1;
            snprintf(c->msg, sizeof c->msg, "tt_codegen_candidate failed: %s", err.msg);
            tt_str_free(&o);
            continue;
        }
        c->src_c = tt_str_take(&o);
        tt_str_init(&o);
        snprintf(fn, sizeof fn, "ref%d", i);
        if (tt_codegen_reference(c->ref_dag ? c->ref_dag : c->dag, fn, &o, &err)) {
            c->emit_failed = 1;
            snprintf(c->msg, sizeof c->msg, "tt_codegen_reference failed: %s", err.msg);
            tt_str_free(&o);
            continue;
        }
        c->src_r = tt_str_take(&o);
        if (getenv("TT_CODEGEN_LIST")) {
            char why[64];
            snprintf(why, sizeof why, "candidate source %zu bytes", strlen(c->src_c));
            print_case(c, why);
        }
        c->ci = nitems;
        items[nitems].source = c->src_c;
        snprintf(items[nitems].fn, sizeof items[nitems].fn, "cand%d", i);
        nitems++;
        c->ri = nitems;
        items[nitems].source = c->src_r;
        snprintf(items[nitems].fn, sizeof items[nitems].fn, "ref%d", i);
        nitems++;
    }
    char dir[256];
    snprintf(dir, sizeof dir, "%s/tt-test-codegen-XXXXXX", tt_test_tmpdir());
    if (!mkdtemp(dir)) {
        fprintf(stderr, "    mkdtemp failed\n");
        free(items);
        return n;
    }
    tt_build_opts bo;
    memset(&bo, 0, sizeof bo);
    bo.workdir = dir;
    bo.per_unit = 8;
    bo.timeout_s = 120;
    tt_err err = {0};
    double t0 = tt_now();
    if (nitems && tt_build(&bo, tt_codegen_prelude(), items, nitems, &err)) {
        fprintf(stderr, "    tt_build: %s\n", err.msg);
        free(items);
        sg_rm_tree(dir);
        return n;
    }
    double t1 = tt_now();
    tt_run_opts ro;
    memset(&ro, 0, sizeof ro);
    ro.threads = 2;
    ro.number = 1;
    ro.repeat = 1;
    ro.min_repeat_ms = -1;
    ro.timeout_s = 20;
    ro.seed = 7;
    for (int i = 0; i < n; i++) {
        tcase *c = &cs[i];
        if (c->refused) {
            print_case(c, c->msg);
            continue;
        }
        if (c->emit_failed) {
            print_case(c, c->msg);
            bad++;
            continue;
        }
        if (c->ci < 0)
            continue;
        tt_build_item *ic = &items[c->ci], *ir = &items[c->ri];
        if (ic->error || ir->error) {
            char why[1200];
            snprintf(why, sizeof why, "build failed (%s): %s", ic->error ? "candidate" : "reference",
                     ic->error ? ic->msg : ir->msg);
            print_case(c, why);
            bad++;
            continue;
        }
        tt_io io = case_io(c->dag);
        tt_ref ref;
        memset(&ref, 0, sizeof ref);
        tt_err e2 = {0};
        if (tt_run_reference(&ro, ir->so_path, ir->fn, &io, &ref, &e2)) {
            char why[TT_ERR_MAX + 32];
            snprintf(why, sizeof why, "reference run failed: %s", e2.msg);
            print_case(c, why);
            bad++;
            continue;
        }
        tt_result res;
        memset(&res, 0, sizeof res);
        int rc = tt_run_candidate(&ro, ic->so_path, ic->fn, &io, &ref,
                                  tt_codegen_tolerance(c->dag), &res, &e2);
        (*nrun)++;
        if (rc || res.error || !res.correct) {
            char why[TT_ERR_MAX + 700];
            snprintf(why, sizeof why, "WRONG: rc=%d error=%s correct=%d max_abs_err=%g max_rel_err=%g %s %s",
                     rc, res.error >= 0 && res.error < TT_ERR_COUNT ? tt_errno_names[res.error] : "?",
                     res.correct, res.max_abs_err, res.max_rel_err, res.msg, rc ? e2.msg : "");
            print_case(c, why);
            bad++;
        }
        tt_ref_free(&ref);
    }
    if (getenv("TT_CODEGEN_TIME"))
        fprintf(stderr, "    %d items built in %.1f s, run in %.1f s\n", nitems, t1 - t0, tt_now() - t1);
    if ((bad && keep_failed_builds) || getenv("TT_CODEGEN_KEEP"))
        fprintf(stderr, "    generated sources kept in %s\n", dir);
    else
        sg_rm_tree(dir);
    free(items);
    return bad;
}

/* ---- the random differential test ------------------------------------------- */

static void test_random_schedules(void)
{
    int ncases = sg_env_int("TT_CODEGEN_CASES", DEFAULT_CASES);
    int only = sg_env_int("TT_CODEGEN_ONLY", -1);
    const char *sv = getenv("TT_CODEGEN_SEED");
    uint64_t base = sv && *sv ? strtoull(sv, NULL, 0) : DEFAULT_SEED;
    if (only >= ncases)
        ncases = only + 1;
    CHECK(ncases > 0 && ncases <= 100000);
    tcase *cs = tt_xcalloc((size_t)ncases, sizeof *cs);
    int n = 0, refused = 0, nondiv = 0;
    int used[TT_STEP_COUNT] = {0};
    int kinds[K_COUNT] = {0};
    for (int i = 0; i < ncases; i++) {
        if (only >= 0 && i != only)
            continue;
        tcase *c = &cs[n++];
        uint64_t seed = base * 1000003ULL + (uint64_t)i;
        tt_rng r;
        tt_rng_seed(&r, seed);
        dkind k = (dkind)(i % K_COUNT);
        kinds[k]++;
        snprintf(c->name, sizeof c->name, "case %d (TT_CODEGEN_SEED=%llu TT_CODEGEN_ONLY=%d)", i,
                 (unsigned long long)base, i);
        tt_err err = {0};
        c->dag = sg_make_dag(k, &r, c->desc, sizeof c->desc, &err);
        CHECK_MSG(c->dag, "%s: DAG %s: %s", c->name, sg_kind_names[k], err.msg);
        c->state = tt_state_new(c->dag);
        sg_gen *g = tt_xcalloc(1, sizeof *g);
        g->r = &r;
        g->s = c->state;
        g->d = c->dag;
        sg_generate(g);
        if (g->fail) {
            c->refused = 1;
            refused++;
            snprintf(c->msg, sizeof c->msg, "REFUSED: %s", g->msg);
        }
        free(g);
        /* statistics: which steps, and whether some split does not divide */
        const tt_state *s = c->state;
        for (int j = 0; j < s->nsteps; j++) {
            used[s->steps[j].tag]++;
            if (s->steps[j].tag == TT_STEP_SP && s->steps[j].extent > 0) {
                int64_t p = 1;
                for (int q = 0; q < s->steps[j].nlen; q++)
                    p *= s->steps[j].len[q];
                if (s->steps[j].extent % p)
                    nondiv++;
            }
        }
    }
    int nrun = 0;
    int bad = run_cases(cs, n, &nrun);
    fprintf(stderr, "    %d cases, %d refused, %d checked, %d wrong or failed; %d non-divisible splits;"
                    " steps:", n, refused, nrun, bad, nondiv);
    for (int t = 0; t < TT_STEP_COUNT; t++)
        fprintf(stderr, " %s=%d", tt_step_tags[t], used[t]);
    fprintf(stderr, "\n");
    for (int i = 0; i < n; i++)
        case_free(&cs[i]);
    free(cs);
    CHECK(bad == 0);
    /* valid by construction: nearly all must apply */
    CHECK(refused * 20 <= n);
    if (only < 0 && ncases >= DEFAULT_CASES) {
        CHECK(nrun >= 60);
        CHECK(nondiv >= 10);
        for (int t = 0; t < TT_STEP_COUNT; t++)
            if (t != TT_STEP_SA && t != TT_STEP_CHR)
                CHECK_MSG(used[t] > 0, "step kind %s never generated", tt_step_tags[t]);
    }
}

/* ---- fixed cases from real records ---------------------------------------------- */

typedef struct line_ctx {
    int want;                  /* line index among records */
    int seen;
    tt_record *rec;
    int found;
} line_ctx;

static int pick_line(void *ctx, int lineno, const char *line)
{
    (void)lineno;
    line_ctx *c = ctx;
    if (c->seen++ != c->want)
        return 0;
    tt_err err = {0};
    if (tt_record_parse(line, c->rec, &err) == 0)
        c->found = 1;
    else
        fprintf(stderr, "    record parse: %s\n", err.msg);
    return 1; /* stop */
}

/* Record `index` (0-based, comments skipped) of a shared log. */
static int load_record(const char *file, int index, tt_record *rec)
{
    char path[512];
    if (!tt_test_shared_file(path, sizeof path, "ansor/%s", file))
        return 0;
    line_ctx c = {index, 0, rec, 0};
    tt_err err = {0};
    tt_log_foreach(path, pick_line, &c, &err);
    if (!c.found)
        fprintf(stderr, "    record %d of %s not found %s\n", index, path, err.msg);
    return c.found;
}

/* Find the record in a log whose steps start with the given tag sequence. */
static int find_record(const char *file, const char *const *tags, int ntags, tt_record *rec)
{
    for (int i = 0; i < 64; i++) {
        if (!load_record(file, i, rec))
            return 0;
        int ok = rec->nsteps >= ntags;
        for (int j = 0; ok && j < ntags; j++)
            ok = !strcmp(tt_step_tags[rec->steps[j].tag], tags[j]);
        if (ok)
            return 1;
    }
    return 0;
}

/* A case: the record's steps on dag; zero_extents makes SP extents unknown. */
static void fixed_case(tcase *c, const char *name, tt_dag *d, const char *desc, const tt_record *rec,
                       int zero_extents)
{
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "%s", name);
    snprintf(c->desc, sizeof c->desc, "%s", desc);
    c->dag = d;
    if (!d) {
        c->refused = 1;
        snprintf(c->msg, sizeof c->msg, "no DAG");
        return;
    }
    c->state = tt_state_new(d);
    tt_step steps[TT_MAX_STEPS];
    memcpy(steps, rec->steps, sizeof(tt_step) * (size_t)rec->nsteps);
    if (zero_extents)
        for (int i = 0; i < rec->nsteps; i++)
            if (steps[i].tag == TT_STEP_SP)
                steps[i].extent = 0;
    tt_err err = {0};
    if (tt_state_apply_all(c->state, steps, rec->nsteps, &err)) {
        c->refused = 1;
        snprintf(c->msg, sizeof c->msg, "REFUSED: %s", err.msg);
    }
}

static void test_tutorial_matmul_record(void)
{
    tt_record *rec = tt_xcalloc(1, sizeof *rec);
    CHECK(load_record("matmul.json", 0, rec));
    CHECK(rec->nsteps == 13 && rec->steps[0].tag == TT_STEP_SP && rec->steps[0].extent == 1024);
    tt_err err = {0};
    /* the record is for 1024^3: its SP extents refuse other shapes */
    tt_dag *d = tt_build_matmul_add(64, 64, 64, &err);
    CHECK(d);
    tt_state *s = tt_state_new(d);
    CHECK(tt_state_apply_all(s, rec->steps, rec->nsteps, &err) != 0 && strstr(err.msg, "does not match"));
    tt_state_free(s);
    tt_dag_free(d);
    tcase cs[3];
    fixed_case(&cs[0], "matmul.json on matmul_add 64x64x64", tt_build_matmul_add(64, 64, 64, &err),
               "matmul_add N=64 L=64 M=64", rec, 1);
    fixed_case(&cs[1], "matmul.json on matmul_add 100x72x36", tt_build_matmul_add(100, 72, 36, &err),
               "matmul_add N=100 L=72 M=36", rec, 1);
    fixed_case(&cs[2], "matmul.json on matmul_add 13x5x7", tt_build_matmul_add(13, 5, 7, &err),
               "matmul_add N=13 L=5 M=7", rec, 1);
    int nrun = 0;
    int bad = run_cases(cs, 3, &nrun);
    int refused = cs[0].refused + cs[1].refused + cs[2].refused;
    for (int i = 0; i < 3; i++)
        case_free(&cs[i]);
    free(rec);
    CHECK(refused == 0);
    CHECK(bad == 0 && nrun == 3);
}

static void test_softmax_record(void)
{
    tt_record *rec = tt_xcalloc(1, sizeof *rec);
    static const char *const tags[] = {"SP", "RF", "RE", "SP", "RF"};
    CHECK(find_record("resnet-50-NHWC-B1-llvm.json", tags, 5, rec));
    CHECK(rec->steps[0].extent == 1000);
    tt_err err = {0};
    int64_t s1000[2] = {1, 1000}, s37[2] = {1, 37}, s4x250[2] = {4, 250};
    tcase cs[3];
    fixed_case(&cs[0], "resnet-50 softmax record on [1,1000]", tt_build_softmax(2, s1000, &err),
               "softmax [1, 1000]", rec, 0);
    fixed_case(&cs[1], "resnet-50 softmax record on [1,37]", tt_build_softmax(2, s37, &err),
               "softmax [1, 37]", rec, 1);
    fixed_case(&cs[2], "resnet-50 softmax record on [4,250]", tt_build_softmax(2, s4x250, &err),
               "softmax [4, 250]", rec, 1);
    CHECK(cs[0].state && cs[0].state->nstages == 7);
    int nrun = 0;
    int bad = run_cases(cs, 3, &nrun);
    int refused = cs[0].refused + cs[1].refused + cs[2].refused;
    for (int i = 0; i < 3; i++)
        case_free(&cs[i]);
    free(rec);
    CHECK(refused == 0);
    CHECK(bad == 0 && nrun == 3);
}

static tt_dag *resnet_conv(int64_t h, int64_t ci, int64_t co, tt_err *err)
{
    tt_conv2d_params p;
    memset(&p, 0, sizeof p);
    p.n = 1, p.h = h, p.w = h, p.ci = ci, p.kh = 1, p.kw = 1, p.co = co;
    p.stride_h = p.stride_w = 1, p.dil_h = p.dil_w = 1, p.groups = 1;
    tt_epilogue e = {.n = 3, .ops = {TT_EPI_BIAS_ADD, TT_EPI_RESIDUAL_ADD, TT_EPI_RELU}};
    return tt_build_conv2d_nhwc(&p, &e, err);
}

static void test_resnet_conv_record(void)
{
    /* the fused 1x1 conv2d + bias + add + relu of docs/reference/ansor.md:
     * CI, CI, SP x7, RE, FSP x4, RE, CA, ... */
    tt_record *rec = tt_xcalloc(1, sizeof *rec);
    static const char *const tags[] = {"CI", "CI", "SP", "SP", "SP", "SP", "SP", "SP", "SP", "RE", "FSP"};
    CHECK(find_record("resnet-50-NHWC-B1-llvm.json", tags, 11, rec));
    tt_err err = {0};
    tcase cs[2];
    int64_t H = rec->steps[3].extent, CO = rec->steps[5].extent, CI = rec->steps[8].extent;
    char desc[128];
    snprintf(desc, sizeof desc, "conv2d 1x1 N=1 H=W=%lld CI=%lld CO=%lld epi=bias,residual,relu",
             (long long)H, (long long)CI, (long long)CO);
    fixed_case(&cs[0], "resnet-50 conv record on its own shape", resnet_conv(H, CI, CO, &err), desc, rec, 0);
    fixed_case(&cs[1], "resnet-50 conv record on 1x9x9x12 -> 20", resnet_conv(9, 12, 20, &err),
               "conv2d 1x1 N=1 H=W=9 CI=12 CO=20 epi=bias,residual,relu", rec, 1);
    int nrun = 0;
    int bad = run_cases(cs, 2, &nrun);
    int refused = cs[0].refused + cs[1].refused;
    for (int i = 0; i < 2; i++)
        case_free(&cs[i]);
    free(rec);
    CHECK(refused == 0);
    CHECK(bad == 0 && nrun == 2);
}

/* An AVX2-era record on a wider host (sched/widen.c): TVM's 28x28x512 1x1/2
 * conv record vectorizes 4 channels (ff [16, 4, 4]); at 16 lanes the split
 * becomes [16, 1, 16], at 4 lanes nothing changes, and the widened schedule
 * computes the same as the reference. */
static void test_widen_vectors(void)
{
    tt_record *rec = tt_xcalloc(1, sizeof *rec);
    int found = 0;
    for (int i = 0; i < 64 && !found && load_record("resnet-50-NHWC-B1-llvm.json", i, rec); i++)
        found = strstr(rec->workload_key, "de7d1695278cf52778b038e6573d7626\", 1, 28, 28, 512") != NULL;
    CHECK(found);
    tt_dag *d = NULL;
    tt_err err = {0};
    CHECK(tt_identify_record(rec, &d, NULL, NULL, 0, &err) == 0);
    if (!d) {
        free(rec);
        return;
    }
    int sp = -1; /* the channel split: ["SP", 3, 12, 256, [16, 4, 4], 1] */
    for (int i = 0; i < rec->nsteps && sp < 0; i++)
        if (rec->steps[i].tag == TT_STEP_SP && rec->steps[i].extent == 256)
            sp = i;
    CHECK(sp >= 0 && rec->steps[sp].nlen == 3 && rec->steps[sp].len[2] == 4);
    tt_step *w = tt_xmalloc((size_t)rec->nsteps * sizeof *w);
    memcpy(w, rec->steps, (size_t)rec->nsteps * sizeof *w);
    CHECK(tt_steps_widen_vectors(d, w, rec->nsteps, 4, 0) == 0);
    CHECK(memcmp(w, rec->steps, (size_t)rec->nsteps * sizeof *w) == 0);
    CHECK(tt_steps_widen_vectors(d, w, rec->nsteps, 16, 0) == 1);
    CHECK(sp >= 0 && w[sp].len[0] == 16 && w[sp].len[1] == 1 && w[sp].len[2] == 16);
    /* whole vectors of a narrower record keep their count (widen.c): the
     * 1x1/2 -> 1024 record's ff [2, 2, 16], tuned for 8 lanes, spans a whole
     * 16-lane vector already; at 16 lanes it keeps its length and the tile
     * takes twice the pixels (xx [14, 1, 1] -> [7, 2, 1]); nothing changes
     * when its width is unknown or the host's */
    tt_record *r2 = tt_xcalloc(1, sizeof *r2);
    int found2 = 0;
    for (int i = 0; i < 64 && !found2 && load_record("resnet-50-NHWC-B1-llvm.json", i, r2); i++)
        found2 = strstr(r2->workload_key, "f4380bb1dc62422a69ad4a1a9771f927\", 1, 28, 28, 512") != NULL;
    CHECK(found2 && tt_target_vector_lanes(r2->target) == 8);
    CHECK(tt_target_vector_lanes("llvm -keys=cpu -mattr=+avx512") == 16 &&
          tt_target_vector_lanes("llvm -mcpu=skylake-avx512") == 16 && tt_target_vector_lanes("llvm") == 0);
    tt_dag *d2 = NULL;
    if (found2 && tt_identify_record(r2, &d2, NULL, NULL, 0, &err) == 0) {
        int sp2 = -1;
        for (int i = 0; i < r2->nsteps && sp2 < 0; i++)
            if (r2->steps[i].tag == TT_STEP_SP && r2->steps[i].extent == 1024)
                sp2 = i;
        CHECK(sp2 >= 0 && r2->steps[sp2].len[0] == 2 && r2->steps[sp2].len[1] == 2 && r2->steps[sp2].len[2] == 16);
        tt_step *w2 = tt_xmalloc((size_t)r2->nsteps * sizeof *w2);
        memcpy(w2, r2->steps, (size_t)r2->nsteps * sizeof *w2);
        CHECK(tt_steps_widen_vectors(d2, w2, r2->nsteps, 16, 0) == 0);
        CHECK(tt_steps_widen_vectors(d2, w2, r2->nsteps, 16, 16) == 0);
        CHECK(tt_steps_widen_vectors(d2, w2, r2->nsteps, 16, 8) == 1);
        CHECK(sp2 >= 0 && w2[sp2].len[0] == 2 && w2[sp2].len[1] == 2 && w2[sp2].len[2] == 16);
        int xs = -1; /* the pixel split: ["SP", 3, 8, 14, [14, 1, 1], 1] */
        for (int i = 0; i < r2->nsteps; i++)
            if (r2->steps[i].tag == TT_STEP_SP && r2->steps[i].iter == 8)
                xs = i;
        CHECK(xs >= 0 && r2->steps[xs].len[0] == 14 && r2->steps[xs].len[1] == 1 && w2[xs].len[0] == 7 &&
              w2[xs].len[1] == 2 && w2[xs].len[2] == 1);
        tcase c2;
        memset(&c2, 0, sizeof c2);
        snprintf(c2.name, sizeof c2.name, "resnet-50 28x28x512 1x1/2 -> 1024 record, pixels widened");
        snprintf(c2.desc, sizeof c2.desc, "conv2d 1x1/2 28x28x512 -> 1024");
        c2.dag = d2;
        c2.state = tt_state_new(d2);
        CHECK(tt_state_apply_all(c2.state, w2, r2->nsteps, &err) == 0);
        int n2 = 0;
        CHECK(run_cases(&c2, 1, &n2) == 0 && n2 == 1);
        case_free(&c2);
        free(w2);
    }
    free(r2);
    tcase c;
    memset(&c, 0, sizeof c);
    snprintf(c.name, sizeof c.name, "resnet-50 28x28x512 1x1/2 record widened to 16 lanes");
    snprintf(c.desc, sizeof c.desc, "conv2d 1x1/2 28x28x512 -> 256 + bias + relu");
    c.dag = d;
    c.state = tt_state_new(d);
    CHECK(tt_state_apply_all(c.state, w, rec->nsteps, &err) == 0);
    int nrun = 0;
    CHECK(run_cases(&c, 1, &nrun) == 0 && nrun == 1);
    case_free(&c);
    free(w);
    free(rec);
}

/* ---- hand-written schedules for specific lowering facts ------------------------ */

/* Steps given as Ansor JSON on a DAG; the case must apply and be correct. */
static void json_case(tcase *c, const char *name, tt_dag *d, const char *desc, const char *json)
{
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "%s", name);
    snprintf(c->desc, sizeof c->desc, "%s", desc);
    c->dag = d;
    if (!d) {
        c->refused = 1;
        snprintf(c->msg, sizeof c->msg, "no DAG");
        return;
    }
    c->state = tt_state_new(d);
    tt_step steps[TT_MAX_STEPS];
    int n = 0;
    tt_err err = {0};
    if (tt_steps_parse(json, steps, TT_MAX_STEPS, &n, &err) ||
        tt_state_apply_all(c->state, steps, n, &err)) {
        c->refused = 1;
        snprintf(c->msg, sizeof c->msg, "REFUSED: %s", err.msg);
    }
}

tt_dag *conv_plain(int64_t h, int64_t w, int64_t ci, int64_t co, int64_t k, int64_t pad,
                   const tt_epilogue *e)
{
    tt_conv2d_params p;
    memset(&p, 0, sizeof p);
    p.n = 1, p.h = h, p.w = w, p.ci = ci, p.kh = k, p.kw = k, p.co = co;
    p.stride_h = p.stride_w = 1, p.pad_t = p.pad_l = p.pad_b = p.pad_r = pad, p.dil_h = p.dil_w = 1;
    p.groups = 1;
    tt_err err = {0};
    tt_dag *d = tt_build_conv2d_nhwc(&p, e, &err);
    if (!d)
        fprintf(stderr, "    conv2d: %s\n", err.msg);
    return d;
}

/* A stage computed at a loop whose own split covers more than its region
 * (but not more than its tensor): TVM guards the region (i < region extent);
 * the writes past the region must not land in the region buffer. */
static void test_attached_split_exceeds_region(void)
{
    tcase cs[3];
    /* conv 4x4x6 -> 4, 3x3 pad 1: 0 data 1 PaddedInput 2 weight 3 Conv2dOutput.
     * rc (6) = rc.0 (2) x rc.1 (3); PaddedInput at rc.0: region [1, 3, 3, 3];
     * its channel axis (region 3) split by 2 covers 4, outer part outermost. */
    json_case(&cs[0], "PaddedInput at conv rc.0, channel split by 2 (region 3)",
              conv_plain(4, 4, 6, 4, 3, 1, NULL), "conv2d N=1 H=W=4 CI=6 CO=4 K=3x3 pad=1",
              "[[\"SP\", 3, 6, 6, [3], 1], [\"RE\", 3, [0, 1, 2, 3, 6, 4, 5, 7]], [\"CA\", 1, 3, 4],"
              " [\"SP\", 1, 3, 0, [2], 1], [\"RE\", 1, [3, 0, 1, 2, 4]]]");
    /* the same on the row axis: PaddedInput at conv yy (region 3 rows of 6) split by 2 */
    json_case(&cs[1], "PaddedInput at conv yy, row split by 2 (region 3)",
              conv_plain(4, 4, 6, 4, 3, 1, NULL), "conv2d N=1 H=W=4 CI=6 CO=4 K=3x3 pad=1",
              "[[\"CA\", 1, 3, 1], [\"SP\", 1, 1, 0, [2], 1], [\"RE\", 1, [1, 0, 2, 3, 4]]]");
    /* conv computed at relu's channel tile (3 of 5) with xx inside; conv splits its
     * channels (region 3) by 2 and puts the outer part outermost */
    tt_epilogue e = {.n = 1, .ops = {TT_EPI_RELU}};
    json_case(&cs[2], "conv at relu channel tile, conv's own split exceeds the tile",
              conv_plain(3, 6, 3, 5, 3, 1, &e), "conv2d N=1 H=3 W=6 CI=3 CO=5 K=3x3 pad=1 epi=relu",
              "[[\"SP\", 4, 3, 5, [3], 1], [\"RE\", 4, [0, 1, 3, 2, 4]], [\"CA\", 3, 4, 2],"
              " [\"SP\", 3, 3, 0, [2], 1], [\"RE\", 3, [3, 0, 1, 2, 4, 5, 6, 7]], [\"CI\", 1]]");
    int nrun = 0;
    int bad = run_cases(cs, 3, &nrun);
    int refused = cs[0].refused + cs[1].refused + cs[2].refused;
    for (int i = 0; i < 3; i++)
        case_free(&cs[i]);
    CHECK(refused == 0);
    CHECK(bad == 0 && nrun == 3);
}

/* Schedules that once broke lowering or emission (found by the random test). */
static void test_regressions(void)
{
    tcase cs[6];
    tt_err err = {0};
    /* seed 2 case 151: a register-tiled (unrolled) grouped conv whose innermost
     * tile loop is vectorized by 2: the accumulator tile was loaded as a vector
     * into a float */
    tt_conv2d_params p;
    memset(&p, 0, sizeof p);
    p.n = 1, p.h = 9, p.w = 9, p.ci = 3, p.co = 12, p.kh = 3, p.kw = 1, p.stride_h = p.stride_w = 1;
    p.pad_r = 1, p.dil_h = p.dil_w = 1, p.groups = 3;
    tt_epilogue e = {.n = 1, .ops = {TT_EPI_RELU}};
    json_case(&cs[0], "register tile + vector of 2 (seed 2 case 151)", tt_build_conv2d_nhwc(&p, &e, &err),
              "conv2d N=1 H=9 W=9 CI=3 CO=12 K=3x1 stride=1,1 pad=0,0,0,1 groups=3 epi=relu",
              "[[\"SP\",4,0,0,[1,1],1],[\"SP\",4,5,12,[3,2],1],[\"SP\",3,0,1,[1,1,1],1],"
              "[\"SP\",3,4,7,[1,1,7],1],[\"SP\",3,8,0,[1,1,1],1],[\"SP\",3,12,12,[1,6,2],1],"
              "[\"SP\",3,16,0,[1],1],[\"SP\",3,18,1,[1],1],[\"SP\",3,20,0,[1],1],"
              "[\"RE\",3,[0,4,8,12,1,5,9,13,16,18,20,2,6,10,14,17,19,21,3,7,11,15]],[\"CA\",3,4,2],"
              "[\"CI\",1],[\"AN\",4,7,1],[\"AN\",3,0,3],[\"PR\",3,0,\"auto_unroll_max_step$512\"],"
              "[\"AN\",3,21,2]]");
    /* seed 3 case 185: PaddedInput computed at a conv loop inside the conv's
     * register tile was emitted as an accumulator update of the tile */
    memset(&p, 0, sizeof p);
    p.n = 1, p.h = 4, p.w = 7, p.ci = 2, p.co = 8, p.kh = 2, p.kw = 2, p.stride_h = 1, p.stride_w = 2;
    p.pad_t = 1, p.pad_l = 1, p.pad_b = 2, p.pad_r = 2, p.dil_h = 1, p.dil_w = 2, p.groups = 1;
    tt_epilogue e3 = {.n = 3, .ops = {TT_EPI_BIAS_ADD, TT_EPI_RESIDUAL_ADD, TT_EPI_RELU}};
    json_case(&cs[1], "producer attached inside a register tile (seed 3 case 185)",
              tt_build_conv2d_nhwc(&p, &e3, &err),
              "conv2d N=1 H=4 W=7 CI=2 CO=8 K=2x2 stride=1,2 pad=1,1,2,2 dil=1,2 epi=bias,residual,relu",
              "[[\"CI\",5],[\"SP\",3,0,0,[1,1],1],[\"SP\",3,3,6,[4,1],1],[\"SP\",3,6,4,[1,3],1],"
              "[\"SP\",3,9,8,[7,4],1],[\"SP\",3,12,2,[1],1],[\"SP\",3,14,2,[2],1],[\"SP\",3,16,2,[2],1],"
              "[\"RE\",3,[0,3,6,9,12,14,16,1,4,7,10,13,15,17,2,5,8,11]],[\"FSP\",7,0,1,2],"
              "[\"FSP\",7,3,2,2],[\"FSP\",7,6,3,2],[\"FSP\",7,9,4,2],"
              "[\"RE\",7,[0,3,6,9,1,4,7,10,2,5,8,11]],[\"CA\",3,7,7],[\"CA\",1,3,8],"
              "[\"FU\",8,[0,1,2]],[\"AN\",8,0,3],[\"AN\",8,1,1],"
              "[\"PR\",3,0,\"auto_unroll_max_step$16\"],[\"AN\",3,17,2],[\"AN\",1,3,2]]");
    /* seed 11 case 60, reduced: a split of an inner split part that does not
     * divide it (i.1 = 16 by 6 covers 18) makes i.1.0 * 6 + i.1.1 run past 16
     * into the next i.0 block; TVM guards every such split (i.1 < 16), and the
     * reduction loop k outside those loops then counts i = 16, 17 twice */
    json_case(&cs[2], "inner split over-covering its parent, reduction outside (seed 11 case 60)",
              tt_build_matmul_add(24, 8, 8, &err), "matmul_add N=24 L=8 M=8",
              "[[\"SP\",2,0,24,[16],1],[\"SP\",2,1,16,[6],1],[\"RE\",2,[4,0,1,2,3]]]");
    json_case(&cs[3], "the original seed 11 case 60", tt_build_matmul_add(24, 26, 35, &err),
              "matmul_add N=24 L=26 M=35",
              "[[\"SP\",4,1,35,[1,7],1],[\"RE\",4,[1,2,0,3]],[\"SP\",2,0,24,[3,16],1],"
              "[\"SP\",2,2,0,[6],1],[\"RE\",2,[4,5,3,1,0,2]],[\"CA\",2,4,1],[\"AN\",4,3,2],"
              "[\"PR\",2,0,\"auto_unroll_max_step$512\"],[\"AN\",2,5,2]]");
    /* the same, reduced: PaddedInput (vectorized, 4 channels) computed at yy.1
     * (extent 1) inside the vector register tile of the conv (tile loop rc.0,
     * then yy.1, rc.1 unrolled, ff vectorized): its statement must write its own
     * buffer, not `acc = min(acc, ...)` of the conv's tile */
    memset(&p, 0, sizeof p);
    p.n = 1, p.h = 4, p.w = 4, p.ci = 32, p.co = 4, p.kh = 1, p.kw = 1, p.stride_h = p.stride_w = 1;
    p.dil_h = p.dil_w = 1, p.groups = 1;
    json_case(&cs[4], "producer vectorized inside a vector register tile",
              tt_build_conv2d_nhwc(&p, NULL, &err), "conv2d N=1 H=W=4 CI=32 CO=4 K=1x1",
              "[[\"SP\",3,6,32,[4],1],[\"SP\",3,1,4,[1],1],[\"RE\",3,[0,1,3,5,6,7,2,8,4]],"
              "[\"AN\",3,8,2],[\"PR\",3,0,\"auto_unroll_max_step$64\"],[\"CA\",1,3,6],[\"AN\",1,3,2]]");
    /* rfactor of a reduction whose inner split part is split again without
     * dividing it (k.1 = 8 by 3 covers 9): the rf stage must not count
     * k.0 * 8 + 8 (= the next k.0's first element) twice */
    int64_t sm[2] = {2, 40};
    json_case(&cs[5], "rfactor of an over-covered inner split part", tt_build_softmax(2, sm, &err),
              "softmax [2, 40]", "[[\"SP\",3,1,40,[8],1],[\"SP\",3,2,8,[3],1],[\"RF\",3,3,1]]");
    int nrun = 0, refused = 0;
    int bad = run_cases(cs, 6, &nrun);
    for (int i = 0; i < 6; i++) {
        refused += cs[i].refused;
        case_free(&cs[i]);
    }
    CHECK(refused == 0);
    CHECK(bad == 0 && nrun == 6);
}

/* A case: the default schedule for `lanes` fp32 vector lanes on dag. */
static void default_case(tcase *c, const char *name, tt_dag *d, const char *desc, int lanes)
{
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "%s", name);
    snprintf(c->desc, sizeof c->desc, "%s", desc);
    c->dag = d;
    if (!d) {
        c->refused = 1;
        snprintf(c->msg, sizeof c->msg, "no DAG");
        return;
    }
    c->state = tt_state_new(d);
    tt_step steps[TT_MAX_STEPS];
    int n = 0;
    tt_err err = {0};
    if (tt_default_schedule(d, lanes, steps, TT_MAX_STEPS, &n, &err) ||
        tt_state_apply_all(c->state, steps, n, &err)) {
        c->refused = 1;
        snprintf(c->msg, sizeof c->msg, "REFUSED: %s", err.msg);
    }
}

/* Build, run and check default-schedule cases, each with the emitter's vector
 * width forced to lanes[i] (TT_VECTOR_LANES, restored after), and count the
 * cases whose generated source holds forms[i][0] and forms[i][1] (NULL:
 * nothing more), so that the path under test is exercised, not skipped. */
static void check_forced_lanes(tcase *cs, int n, const int *lanes, const char *const (*forms)[2])
{
    char *old = getenv("TT_VECTOR_LANES") ? tt_xstrdup(getenv("TT_VECTOR_LANES")) : NULL;
    int with_form = 0, nrun = 0, refused = 0, bad = 0;
    for (int i = 0; i < n; i++) {
        char lv[8];
        snprintf(lv, sizeof lv, "%d", lanes[i]);
        setenv("TT_VECTOR_LANES", lv, 1);
        if (!cs[i].refused) {
            tt_str src;
            tt_str_init(&src);
            tt_err err = {0};
            if (tt_codegen_candidate(cs[i].state, "k", &src, &err) == 0 && src.buf &&
                strstr(src.buf, forms[i][0]) && (!forms[i][1] || strstr(src.buf, forms[i][1])))
                with_form++;
            else
                fprintf(stderr, "    %s: no '%s' in the generated code\n", cs[i].name, forms[i][0]);
            tt_str_free(&src);
        }
        /* one case at a time: the emitter's width is read when each is built */
        int n1 = 0;
        bad += run_cases(&cs[i], 1, &n1);
        nrun += n1;
        refused += cs[i].refused;
    }
    if (old) {
        setenv("TT_VECTOR_LANES", old, 1);
        free(old);
    } else {
        unsetenv("TT_VECTOR_LANES");
    }
    for (int i = 0; i < n; i++)
        case_free(&cs[i]);
    CHECK(refused == 0);
    CHECK(with_form == n);
    CHECK(bad == 0 && nrun == n);
}

/* A grouped conv's default schedule is vector code: its channel tile is one
 * group, so the input channel floordiv(ff, cog) * cig + rc is affine in the
 * tile's outer parts (lw_index_form): the update broadcasts one input value
 * to the lanes and loads the weights as vectors, with no gather (every lane a
 * scalar made RegNet's grouped convs 20x slower); and it computes what the
 * reference does. */
static void group_conv_vector(int64_t c, int64_t groups);

static void test_group_conv_vector(void)
{
    group_conv_vector(96, 4);  /* 24 channels a group: a tile of one group */
    group_conv_vector(336, 2); /* 168 (RegNetX-32GF's width): tiles that divide it, c2 x c3 = 168 */
}

static void group_conv_vector(int64_t ch, int64_t groups)
{
    tt_conv2d_params p;
    memset(&p, 0, sizeof p);
    p.n = 1, p.h = p.w = 10, p.ci = ch, p.co = ch, p.kh = p.kw = 3;
    p.stride_h = p.stride_w = 1, p.pad_t = p.pad_l = p.pad_b = p.pad_r = 1, p.dil_h = p.dil_w = 1;
    p.groups = groups;
    tt_err err = {0};
    tt_dag *d = tt_build_conv2d_nhwc(&p, NULL, &err);
    CHECK_MSG(d, "%s", err.msg);
    if (!d)
        return;
    tt_step *steps = tt_xmalloc(TT_MAX_STEPS * sizeof *steps);
    int n = 0;
    CHECK(tt_default_schedule(d, 16, steps, TT_MAX_STEPS, &n, &err) == 0);
    tt_state *s = tt_state_new(d);
    CHECK_MSG(tt_state_apply_all(s, steps, n, &err) == 0, "%s", err.msg);
    tt_str o;
    tt_str_init(&o);
    CHECK_MSG(tt_codegen_candidate(s, "gconv", &o, &err) == 0, "%s", err.msg);
    CHECK_MSG(o.buf && !strstr(o.buf, "tt_vgather"), "%lld groups of %lld: the code gathers its input",
              (long long)groups, (long long)(ch / groups));
    CHECK_MSG(o.buf && strstr(o.buf, "tt_vload"), "%lld groups of %lld: the update loads no vectors",
              (long long)groups, (long long)(ch / groups));
    tt_str_free(&o);
    tcase c;
    memset(&c, 0, sizeof c);
    default_case(&c, "group conv", d, "group_conv2d", 16);
    int nrun = 0;
    CHECK(run_cases(&c, 1, &nrun) == 0 && nrun == 1);
    case_free(&c); /* the DAG too */
    tt_state_free(s);
    free(steps);
}

/* Channel counts that are not a multiple of the vector width (MobileNet's 24,
 * EfficientNet's 40, a classifier's 1000, ShuffleNet's 58; 12, 20 and 7 on 8
 * lanes) are vectorized as full vectors plus one narrower tail statement, or
 * with masked loads and stores where no power-of-two tail fits (vector.c
 * vec_chunks, emit_vstatement), on AVX-512's 16 lanes and AVX2's 8 whatever
 * the host: the emitter's width is forced through TT_VECTOR_LANES, and the
 * generated source must hold the expected form (`acct` tail accumulators or
 * `tt_vstorem` masked stores), so that the path is exercised, not skipped. */
static void test_vector_tails(void)
{
    static const struct { int lanes; int64_t h, ci, co, k; const char *form; } sh[] = {
        {16, 7, 64, 24, 1, "acct["},        {16, 6, 40, 40, 3, "acct["},
        {16, 3, 64, 1000, 1, "acct["},      {16, 5, 64, 58, 1, "tt_vstorem16"},
        {8, 5, 36, 12, 3, "acct["},         {8, 9, 64, 20, 1, "acct["},
        {8, 6, 64, 7, 3, "tt_vstorem8"},
        /* AVX2's 12-accumulator tiles: 4 rows x 24 channels, masked past 56;
         * 7 rows as 4 + 3 guarded */
        {8, 8, 16, 56, 1, "tt_vstorem8"},   {8, 7, 32, 48, 3, "acc[12] = {0}"},
    };
    enum { NS = sizeof sh / sizeof sh[0] };
    tcase cs[NS];
    int lanes[NS];
    const char *forms[NS][2];
    tt_epilogue e = {.n = 2, .ops = {TT_EPI_BIAS_ADD, TT_EPI_RELU}};
    for (int i = 0; i < NS; i++) {
        char name[64], desc[128];
        snprintf(name, sizeof name, "default, %d lanes, co %lld", sh[i].lanes, (long long)sh[i].co);
        snprintf(desc, sizeof desc, "conv2d H=W=%lld CI=%lld CO=%lld K=%lld + bias + relu",
                 (long long)sh[i].h, (long long)sh[i].ci, (long long)sh[i].co, (long long)sh[i].k);
        default_case(&cs[i], name, conv_plain(sh[i].h, sh[i].h, sh[i].ci, sh[i].co, sh[i].k,
                                              (sh[i].k - 1) / 2, &e),
                     desc, sh[i].lanes);
        lanes[i] = sh[i].lanes;
        forms[i][0] = sh[i].form;
        forms[i][1] = NULL;
    }
    check_forced_lanes(cs, NS, lanes, forms);
}

/* Packed weights of 512 KB or more are prefetched from the register tile
 * (vector.c, tt_vloadpf): a 1x1 conv 8x8x512 -> 256 (512 KB of weights) at
 * 16 and 8 lanes must emit the prefetching load and still compute right; the
 * same conv with 128 outputs (256 KB) must not prefetch. */
static void test_weight_prefetch(void)
{
    static const struct { int lanes; int64_t co; const char *form; } sh[] = {
        {16, 256, "tt_vloadpf16("}, {8, 256, "tt_vloadpf8("}, {16, 128, "tt_vload16("},
    };
    enum { NS = sizeof sh / sizeof sh[0] };
    tcase cs[NS];
    int lanes[NS];
    const char *forms[NS][2];
    tt_epilogue e = {.n = 2, .ops = {TT_EPI_BIAS_ADD, TT_EPI_RELU}};
    for (int i = 0; i < NS; i++) {
        char name[64];
        snprintf(name, sizeof name, "1x1 conv 8x8x512 -> %lld, %d lanes", (long long)sh[i].co, sh[i].lanes);
        default_case(&cs[i], name, conv_plain(8, 8, 512, sh[i].co, 1, 0, &e), name, sh[i].lanes);
        lanes[i] = sh[i].lanes;
        forms[i][0] = sh[i].form;
        forms[i][1] = NULL;
    }
    /* the small one: generated without any prefetch */
    char *old = getenv("TT_VECTOR_LANES") ? tt_xstrdup(getenv("TT_VECTOR_LANES")) : NULL;
    setenv("TT_VECTOR_LANES", "16", 1);
    tt_str src;
    tt_str_init(&src);
    tt_err err = {0};
    CHECK(!cs[2].refused && tt_codegen_candidate(cs[2].state, "k", &src, &err) == 0 && src.buf &&
          !strstr(src.buf, "tt_vloadpf16("));
    tt_str_free(&src);
    if (old) {
        setenv("TT_VECTOR_LANES", old, 1);
        free(old);
    } else {
        unsetenv("TT_VECTOR_LANES");
    }
    check_forced_lanes(cs, NS, lanes, forms);
}

/* Accumulator sets over a rolled reduction (tile.c split_sets, emit.c
 * emit_set_loop): TVM's 28x28x512 -> 128 record holds 4 rows x 16 channels,
 * one 16-lane vector each at 16 lanes, across a rolled loop over the 512
 * input channels; its steps alternate between 2 sets (`tt_set`).  Checked on
 * its own shape and on 45 input channels (an odd count: the last step runs
 * after the loop), at 16 lanes, and at 8 where the tile has 8 accumulators
 * already and no sets. */
static void test_rolled_sets(void)
{
    tt_record *rec = tt_xcalloc(1, sizeof *rec);
    int found = 0;
    for (int i = 0; i < 64 && !found && load_record("resnet-50-NHWC-B1-llvm.json", i, rec); i++)
        found = strstr(rec->workload_key, "6b7583cf23c7c37d3212cad9d06e58c1\", 1, 28, 28, 512") != NULL;
    CHECK(found);
    if (!found) {
        free(rec);
        return;
    }
    tt_err err = {0};
    tt_epilogue e = {.n = 2, .ops = {TT_EPI_BIAS_ADD, TT_EPI_RELU}};
    tcase cs[3];
    fixed_case(&cs[0], "28x28x512 -> 128 record, 16 lanes", conv_plain(28, 28, 512, 128, 1, 0, &e),
               "conv2d 1x1 28x28x512 -> 128 + bias + relu", rec, 0);
    fixed_case(&cs[1], "28x28x512 -> 128 record on 45 channels, 16 lanes", conv_plain(28, 28, 45, 32, 1, 0, &e),
               "conv2d 1x1 28x28x45 -> 32 + bias + relu", rec, 1);
    fixed_case(&cs[2], "28x28x512 -> 128 record on 45 channels, 8 lanes", conv_plain(28, 28, 45, 32, 1, 0, &e),
               "conv2d 1x1 28x28x45 -> 32 + bias + relu", rec, 1);
    (void)err;
    int lanes[3] = {16, 16, 8};
    const char *forms[3][2] = {{"tt_set = 1;", NULL}, {"tt_set = 1;", "= 44; const int64_t tt_set = 0;"}, {"acc[8]", NULL}};
    /* at 8 lanes: two vectors a row, 8 accumulators, no sets */
    check_forced_lanes(cs, 3, lanes, forms);
    free(rec);
}

/* AVX2's register budget (tile.c split_for_registers): TVM's AVX2 record for
 * 7x7x512 -> 2048 grows a tile of 7 rows x 2 vectors, 14 accumulators, past
 * the 12 that 16 vector registers hold; at 8 lanes the channel loop moves out
 * and the tile keeps 7 (acc[7]), each output's sum in its order.  Checked on
 * the record's shape and on a smaller one (its tile sizes transferred), and at
 * 16 lanes, where the 14 fit and stay (acc[14]). */
static void test_register_split(void)
{
    tt_record *rec = tt_xcalloc(1, sizeof *rec);
    int found = 0;
    for (int i = 0; i < 64 && !found && load_record("resnet-50-NHWC-B1-llvm.json", i, rec); i++)
        found = strstr(rec->workload_key, "875556d12d0be2269206a7775d5296a6") != NULL;
    CHECK(found);
    if (!found) {
        free(rec);
        return;
    }
    tt_epilogue e = {.n = 4, .ops = {TT_EPI_RESIDUAL_ADD, TT_EPI_BIAS_MUL, TT_EPI_BIAS_ADD, TT_EPI_RELU}};
    tcase cs[3];
    fixed_case(&cs[0], "7x7x512 -> 2048 record, 8 lanes", conv_plain(7, 7, 512, 2048, 1, 0, &e),
               "conv2d 1x1 7x7x512 -> 2048 + residual * scale + bias + relu", rec, 0);
    fixed_case(&cs[1], "7x7x512 -> 2048 record on 7x7x40 -> 160, 8 lanes", conv_plain(7, 7, 40, 160, 1, 0, &e),
               "conv2d 1x1 7x7x40 -> 160 + residual * scale + bias + relu", rec, 1);
    fixed_case(&cs[2], "7x7x512 -> 2048 record on 7x7x40 -> 160, 16 lanes", conv_plain(7, 7, 40, 160, 1, 0, &e),
               "conv2d 1x1 7x7x40 -> 160 + residual * scale + bias + relu", rec, 1);
    int lanes[3] = {8, 8, 16};
    const char *forms[3][2] = {{"acc[7] = {0}", NULL}, {"acc[7] = {0}", NULL}, {"acc[14] = {0}", NULL}};
    check_forced_lanes(cs, 3, lanes, forms);
    /* the 14 of TVM's 14x14x1024 -> 2048 1x1/2 record are 7 rows x the two
     * 8-lane chunks of one 16-channel vector: no loop to move out; the tile
     * runs over its chunks in two parts of 7 (tt_cp, tile.c) */
    int found2 = 0;
    for (int i = 0; i < 64 && !found2 && load_record("resnet-50-NHWC-B1-llvm.json", i, rec); i++)
        found2 = strstr(rec->workload_key, "f4380bb1dc62422a69ad4a1a9771f927\", 1, 14, 14, 1024") != NULL;
    CHECK(found2);
    tt_dag *d2 = NULL;
    tt_err err = {0};
    if (found2 && tt_identify_record(rec, &d2, NULL, NULL, 0, &err) == 0) {
        tcase c2[1];
        fixed_case(&c2[0], "14x14x1024 -> 2048 1x1/2 record, 8 lanes", d2, "conv2d 1x1/2 14x14x1024 -> 2048", rec, 0);
        int l2[1] = {8};
        const char *f2[1][2] = {{"tt_cp < 2LL", "acc[7] = {0}"}};
        check_forced_lanes(c2, 1, l2, f2);
    }
    free(rec);
}

/* Max pooling with its window fused, split and rfactored, and the pad stage
 * computed at the rfactor stage (what the search's rfactor sketch makes of a
 * pool, as TVM's does): the pad region per attach point is the window's few
 * rows and columns.  Its indices are not affine (floordiv / floormod of the
 * fused window), and the region was the whole padded image: 3.6e4 x the work,
 * 6.5 s or past the runner's timeout instead of 0.05-1 ms on ResNet-18's
 * 112x112x64 pool.  Each schedule is also built, run and checked. */
static void test_rfactor_pool_regions(void)
{
    static const char *const steps[4] = {
        "[[\"FU\",2,[4,5]],[\"SP\",2,4,9,[3],1],[\"RF\",2,4,4],[\"CA\",2,3,1],[\"CA\",1,2,3],"
        "[\"FU\",3,[0,1]],[\"AN\",3,0,3],[\"AN\",1,3,2]]",
        "[[\"FU\",2,[4,5]],[\"SP\",2,4,9,[3],1],[\"RF\",2,4,4],[\"CA\",2,3,2],[\"CA\",1,2,4],"
        "[\"FU\",3,[0,1]],[\"AN\",3,0,3],[\"AN\",1,3,2]]",
        "[[\"FU\",2,[4,5]],[\"SP\",2,4,9,[1],1],[\"RF\",2,4,4],[\"CR\",3],[\"CA\",2,3,2],"
        "[\"CA\",1,2,4],[\"FU\",3,[0,1]],[\"AN\",3,0,3],[\"AN\",1,3,2]]",
        "[[\"FU\",2,[4,5]],[\"SP\",2,4,9,[3],1],[\"RF\",2,4,4],[\"CR\",3],[\"CA\",2,3,3],"
        "[\"CA\",1,2,4],[\"FU\",3,[0,1]],[\"AN\",3,0,3],[\"AN\",1,3,2]]",
    };
    /* the largest pad region each may need, in elements (rows x cols x channels) */
    static const int64_t most[4] = {9, 3, 9, 3};
    tcase cs[4];
    for (int i = 0; i < 4; i++) {
        tt_pool_params p;
        memset(&p, 0, sizeof p);
        p.kind = TT_POOL_MAX;
        p.n = 1;
        p.h = p.w = 29;
        p.c = 16;
        p.kh = p.kw = 3;
        p.stride_h = p.stride_w = 2;
        p.pad_t = p.pad_l = p.pad_b = p.pad_r = 1;
        tt_err err = {0};
        tt_dag *d = tt_build_pool2d_nhwc(&p, NULL, &err);
        tt_record rec;
        memset(&rec, 0, sizeof rec);
        CHECK_MSG(d && tt_steps_parse(steps[i], rec.steps, TT_MAX_STEPS, &rec.nsteps, &err) == 0, "%s", err.msg);
        char name[64];
        snprintf(name, sizeof name, "rfactor pool schedule %d", i);
        fixed_case(&cs[i], name, d, "max_pool2d 1x29x29x16 3x3 s2 p1", &rec, 0);
        CHECK_MSG(!cs[i].refused, "%s", cs[i].msg);
        if (cs[i].refused)
            continue;
        tt_arena *a = tt_arena_new();
        lowering L;
        int lrc = tt_lower(&L, cs[i].state, a, 0, &err);
        CHECK_MSG(lrc == 0, "%s", err.msg);
        int64_t size = -1;
        for (int si = 0; lrc == 0 && si < cs[i].state->nstages; si++)
            if (!strcmp(cs[i].state->stages[si].op.name, "pad_temp")) {
                size = 1;
                for (int dd = 0; dd < cs[i].state->stages[si].op.ndim; dd++)
                    size *= L.info[si].R[dd];
            }
        CHECK_MSG(size > 0 && size <= most[i], "schedule %d: pad region of %lld elements", i, (long long)size);
        tt_lower_free(&L);
        tt_arena_free(a);
    }
    int nrun = 0;
    int bad = run_cases(cs, 4, &nrun);
    CHECK_MSG(bad == 0 && nrun == 4, "%d of %d wrong or failed", bad, nrun);
    for (int i = 0; i < 4; i++)
        case_free(&cs[i]);
}

/* A concat along channels whose inputs are not multiples of the vector width
 * (ShuffleNet's 58 + 58): vector statements where no input boundary falls
 * inside the lanes, lane by lane where one does (vector.c, split mode).  The
 * generated source must hold the scalar fallback (`tt_l`). */
static tt_dag *concat_dag(int n, const int64_t *cs, int64_t hw)
{
    tt_dag *d = tt_dag_new();
    int xs[8];
    for (int i = 0; i < n; i++) {
        int64_t sh[4] = {1, hw, hw + 1, cs[i]};
        char nm[16];
        snprintf(nm, sizeof nm, "x%d", i);
        xs[i] = tt_dag_placeholder(d, nm, 4, sh, 0);
    }
    tt_err err = {0};
    if (tt_dag_concat(d, n, xs, 3, &err) < 0 || tt_dag_finish(d, &err)) {
        fprintf(stderr, "    concat: %s\n", err.msg);
        tt_dag_free(d);
        return NULL;
    }
    return d;
}

static void test_concat_split(void)
{
    static const struct { int lanes, n; int64_t cs[3]; } sh[] = {
        {16, 2, {58, 58}}, {16, 3, {10, 20, 6}}, {8, 2, {3, 61}}, {16, 2, {29, 29}},
    };
    enum { NS = sizeof sh / sizeof sh[0] };
    tcase cs[NS];
    int lanes[NS];
    const char *forms[NS][2];
    for (int i = 0; i < NS; i++) {
        char name[64];
        snprintf(name, sizeof name, "concat %lld+%lld%s, %d lanes", (long long)sh[i].cs[0],
                 (long long)sh[i].cs[1], sh[i].n > 2 ? "+..." : "", sh[i].lanes);
        default_case(&cs[i], name, concat_dag(sh[i].n, sh[i].cs, 3), name, sh[i].lanes);
        lanes[i] = sh[i].lanes;
        forms[i][0] = "tt_l"; /* the lane-by-lane fallback */
        forms[i][1] = "tt_vstore";
    }
    check_forced_lanes(cs, NS, lanes, forms);
}

/* The checker is not vacuous: a candidate computing A x B^T + C against the
 * reference of A x B + C (same argument shapes) must be caught. */
static tt_dag *matmul_add_bt(int64_t n)
{
    tt_dag *d = tt_dag_new();
    tt_arena *a = d->arena;
    int64_t sq[2] = {n, n};
    int A = tt_dag_placeholder(d, "A", 2, sq, 0);
    int B = tt_dag_placeholder(d, "B", 2, sq, 1);
    static const char *const an[2] = {"i", "j"}, *const rn[1] = {"k"};
    int mm = tt_dag_compute(d, "matmul", "matmul_add", 2, sq, an, 1, &n, rn, TT_RED_SUM);
    tt_expr *ia[2] = {tt_e_axis(a, 0), tt_e_raxis(a, 0)}, *ib[2] = {tt_e_axis(a, 1), tt_e_raxis(a, 0)};
    tt_dag_op(d, mm)->body = tt_e_bin(a, TT_E_MUL, tt_e_load(a, A, 2, ia), tt_e_load(a, B, 2, ib));
    int C = tt_dag_placeholder(d, "C", 2, sq, 0);
    int out = tt_dag_compute(d, "out", "elemwise,matmul_add", 2, sq, an, 0, NULL, NULL, TT_RED_NONE);
    tt_expr *io[2] = {tt_e_axis(a, 0), tt_e_axis(a, 1)};
    tt_dag_op(d, out)->body = tt_e_bin(a, TT_E_ADD, tt_e_load(a, mm, 2, io), tt_e_load(a, C, 2, io));
    tt_err err = {0};
    if (tt_dag_finish(d, &err)) {
        fprintf(stderr, "    finish: %s\n", err.msg);
        tt_dag_free(d);
        return NULL;
    }
    return d;
}

static void test_checker_catches_wrong(void)
{
    tcase cs[2];
    tt_err err = {0};
    json_case(&cs[0], "A x B^T + C checked against A x B + C (must be WRONG)", matmul_add_bt(8),
              "matmul_add_bt 8", "[[\"SP\", 2, 0, 8, [4], 1], [\"AN\", 4, 1, 2]]");
    cs[0].ref_dag = tt_build_matmul_add(8, 8, 8, &err);
    json_case(&cs[1], "A x B^T + C checked against itself", matmul_add_bt(8), "matmul_add_bt 8",
              "[[\"SP\", 2, 0, 8, [4], 1], [\"AN\", 4, 1, 2]]");
    CHECK(cs[0].ref_dag && !cs[0].refused && !cs[1].refused);
    fprintf(stderr, "    (one WRONG case is expected below)\n");
    int nrun = 0;
    keep_failed_builds = 0;
    int bad = run_cases(cs, 2, &nrun);
    keep_failed_builds = 1;
    for (int i = 0; i < 2; i++)
        case_free(&cs[i]);
    CHECK(nrun == 2 && bad == 1);
}

/* ---- lowering refusals ---------------------------------------------------------- */

const tt_test tests_codegen[] = {
    {"tutorial_matmul_record", test_tutorial_matmul_record},
    {"softmax_record", test_softmax_record},
    {"widen_vectors", test_widen_vectors},
    {"weight_prefetch", test_weight_prefetch},
    {"rolled_sets", test_rolled_sets},
    {"register_split", test_register_split},
    {"rfactor_pool_regions", test_rfactor_pool_regions},
    {"resnet_conv_record", test_resnet_conv_record},
    {"checker_catches_wrong", test_checker_catches_wrong},
    {"attached_split_exceeds_region", test_attached_split_exceeds_region},
    {"regressions", test_regressions},
    {"vector_tails", test_vector_tails},
    {"concat_split", test_concat_split},
    {"group_conv_vector", test_group_conv_vector},
    {"random_differential", test_random_schedules},
    {NULL, NULL},
};
