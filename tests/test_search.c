/* test_search.c - the search space: sketch rules, annotation, and the
 * acceptance test that Ansor's own records are points of our space. */
#include <stdlib.h>
#include <string.h>

#include "../src/record/identify.h"
#include "../src/search/search.h"
#include "test.h"

static int nsketches(tt_dag *d, const tt_search_params *p, tt_state **sk, int max)
{
    tt_err err = {0};
    int n = tt_sketch_generate(d, p, sk, max, &err);
    if (n < 0)
        fprintf(stderr, "    %s\n", err.msg);
    return n;
}

static void free_sketches(tt_state **sk, int n)
{
    for (int i = 0; i < n; i++)
        tt_state_free(sk[i]);
}

/* matmul_add: tiling fused with the add at level 1 and 2, and plain tiling. */
static void test_sketch_matmul_add(void)
{
    tt_err err = {0};
    tt_dag *d = tt_build_matmul_add(64, 32, 48, &err);
    CHECK_MSG(d, "%s", err.msg);
    tt_state *sk[16];
    int n = nsketches(d, NULL, sk, 16);
    CHECK_MSG(n == 3, "%d sketches", n);
    /* fused at level 1: SP SP SP RE FSP FSP RE CA(2 -> 4, iter 1) */
    CHECK(sk[0]->nsteps == 8 && sk[0]->steps[7].tag == TT_STEP_CA && sk[0]->steps[7].target_iter == 1);
    CHECK(sk[1]->nsteps == 8 && sk[1]->steps[7].target_iter == 3);
    CHECK(sk[2]->nsteps == 4 && sk[2]->steps[3].tag == TT_STEP_RE);
    /* SSRSRS order: i.0 j.0 i.1 j.1 k.0 i.2 j.2 k.1 i.3 j.3 */
    static const int order[10] = {0, 4, 1, 5, 8, 2, 6, 9, 3, 7};
    CHECK(sk[2]->steps[3].nids == 10 && !memcmp(sk[2]->steps[3].ids, order, sizeof order));
    /* undecided lengths and unknown extents */
    CHECK(sk[2]->steps[0].nlen == 3 && sk[2]->steps[0].len[0] == 0 && sk[2]->steps[0].extent == 64);
    CHECK(sk[2]->stages[2].nodes[sk[2]->stages[2].iters[0].node].extent == -1);
    free_sketches(sk, n);
    tt_dag_free(d);
}

/* conv2d (+bias+relu): the padding and bias add are inlined, the conv fused
 * with the relu at level 1 and 2, or tiled alone.  Without an epilogue: a
 * cache-write stage fused at level 1 and 2, or tiled alone. */
static void test_sketch_conv2d(void)
{
    tt_err err = {0};
    tt_conv2d_params cp = {.n = 1, .h = 14, .w = 14, .ci = 32, .kh = 1, .kw = 1, .co = 64,
                           .stride_h = 1, .stride_w = 1, .dil_h = 1, .dil_w = 1, .groups = 1};
    tt_epilogue epi = {.n = 2, .ops = {TT_EPI_BIAS_ADD, TT_EPI_RELU}};
    tt_dag *d = tt_build_conv2d_nhwc(&cp, &epi, &err);
    CHECK_MSG(d, "%s", err.msg);
    tt_state *sk[16];
    int n = nsketches(d, NULL, sk, 16);
    CHECK_MSG(n == 3, "%d sketches", n);
    /* CI 5 (T_add), 7 SP, RE, 4 FSP, RE, CA, CI 1 (PaddedInput without padding) */
    CHECK(sk[0]->steps[0].tag == TT_STEP_CI && sk[0]->steps[0].stage == 5);
    CHECK(sk[0]->nsteps == 16 && sk[0]->steps[14].tag == TT_STEP_CA && sk[0]->steps[14].target_iter == 3);
    CHECK(sk[1]->steps[14].target_iter == 7);
    CHECK(sk[0]->steps[15].tag == TT_STEP_CI && sk[0]->steps[15].stage == 1);
    CHECK(sk[2]->nsteps == 10);
    free_sketches(sk, n);
    tt_dag_free(d);

    /* with padding: PaddedInput is not strictly inlineable (it has a branch) */
    cp.kh = cp.kw = 3;
    cp.pad_t = cp.pad_l = cp.pad_b = cp.pad_r = 1;
    epi.n = 0;
    d = tt_build_conv2d_nhwc(&cp, &epi, &err);
    CHECK_MSG(d, "%s", err.msg);
    n = nsketches(d, NULL, sk, 16);
    CHECK_MSG(n == 3, "%d sketches", n);
    /* breadth first: plain tiling is derived in fewer rounds, so it comes first */
    CHECK(sk[0]->steps[0].tag == TT_STEP_SP && sk[0]->nstages == d->nops);
    CHECK(sk[1]->steps[0].tag == TT_STEP_CHW && sk[1]->nstages == d->nops + 1);
    CHECK(sk[2]->steps[0].tag == TT_STEP_CHW);
    for (int i = 0; i < n; i++)
        CHECK(sk[i]->steps[sk[i]->nsteps - 1].tag != TT_STEP_CI);
    free_sketches(sk, n);
    tt_dag_free(d);
}

/* softmax: each of the two reductions gets either rfactor variant or none
 * (AddRfactor is kApply): 3 x 3 sketches. */
static void test_sketch_softmax(void)
{
    tt_err err = {0};
    int64_t shape[2] = {1, 1000};
    tt_dag *d = tt_build_softmax(2, shape, &err);
    CHECK_MSG(d, "%s", err.msg);
    tt_search_params p;
    tt_search_params_default(&p);
    p.num_cores = 8;
    tt_state *sk[16];
    int n = nsketches(d, &p, sk, 16);
    CHECK_MSG(n == 9, "%d sketches", n);
    int rf = 0;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < sk[i]->nsteps; k++)
            rf += sk[i]->steps[k].tag == TT_STEP_RF;
    CHECK(rf == 12);
    free_sketches(sk, n);
    tt_dag_free(d);
}

/* Random annotation: valid replayable states, deterministic per seed, every
 * tile a perfect factorization with innermost <= 64. */
static void test_annotate_random(void)
{
    tt_err err = {0};
    tt_conv2d_params cp = {.n = 1, .h = 28, .w = 28, .ci = 64, .kh = 3, .kw = 3, .co = 128,
                           .stride_h = 1, .stride_w = 1, .pad_t = 1, .pad_l = 1, .pad_b = 1,
                           .pad_r = 1, .dil_h = 1, .dil_w = 1, .groups = 1};
    tt_epilogue epi = {.n = 2, .ops = {TT_EPI_BIAS_ADD, TT_EPI_RELU}};
    tt_dag *d = tt_build_conv2d_nhwc(&cp, &epi, &err);
    CHECK_MSG(d, "%s", err.msg);
    tt_search_params p;
    tt_search_params_default(&p);
    p.num_cores = 2;
    tt_state *sk[16];
    int n = nsketches(d, &p, sk, 16);
    CHECK(n == 3);
    int valid = 0, distinct = 0;
    char *prev = NULL;
    for (int trial = 0; trial < 60; trial++) {
        tt_rng r1, r2;
        tt_rng_seed(&r1, 1000 + trial);
        tt_rng_seed(&r2, 1000 + trial);
        tt_state *a = NULL, *b = NULL;
        tt_decisions taken;
        int rc1 = tt_sketch_annotate(sk[trial % n], &r1, &p, &a, &taken, &err);
        tt_err e2 = {0};
        int rc2 = tt_sketch_annotate(sk[trial % n], &r2, &p, &b, NULL, &e2);
        CHECK_MSG(rc1 >= 0 && rc1 == rc2, "rc %d %d: %s", rc1, rc2, err.msg);
        tt_err_clear(&err);
        if (rc1 == 1)
            continue;
        valid++;
        char *ja = tt_steps_write(a->steps, a->nsteps), *jb = tt_steps_write(b->steps, b->nsteps);
        CHECK_MSG(!strcmp(ja, jb), "same seed, different states");
        if (!prev || strcmp(prev, ja))
            distinct++;
        free(prev);
        prev = ja;
        free(jb);
        for (int k = 0; k < a->nsteps; k++) {
            const tt_step *x = &a->steps[k];
            if (x->tag != TT_STEP_SP)
                continue;
            int64_t prod = 1;
            for (int j = 0; j < x->nlen; j++)
                prod *= x->len[j];
            CHECK(x->len[x->nlen - 1] <= 64 && x->extent % prod == 0);
        }
        /* the state replays from scratch, and its decisions regenerate it */
        tt_state *re = tt_state_new(d);
        CHECK_MSG(tt_state_apply_all(re, a->steps, a->nsteps, &err) == 0, "%s", err.msg);
        tt_state_free(re);
        tt_state *c = NULL;
        CHECK_MSG(tt_sketch_fill(sk[trial % n], &taken, NULL, &p, &c, NULL, &err) == 0, "%s", err.msg);
        char *jc = tt_steps_write(c->steps, c->nsteps);
        CHECK(!strcmp(jc, prev));
        free(jc);
        tt_state_free(c);
        CHECK(!tt_state_has_nested_parallel(a));
        tt_state_free(a);
        tt_state_free(b);
    }
    free(prev);
    CHECK_MSG(valid >= 40 && distinct >= 30, "valid %d distinct %d", valid, distinct);
    free_sketches(sk, n);
    tt_dag_free(d);
}

static void test_params(void)
{
    tt_search_params p;
    tt_err err = {0};
    tt_search_params_default(&p);
    CHECK(p.max_innermost_split_factor == 64 && p.max_vectorize_size == 16 && p.nunroll == 4 &&
          p.unroll[3] == 512 && !strcmp(p.tiling_structure, "SSRSRS"));
    CHECK(p.evolutionary_search_population == 2048 && p.mutate_tile_size == 0.90);
    CHECK(tt_search_params_set(&p, "num_cores", "18", &err) == 0 && p.num_cores == 18);
    CHECK(tt_search_params_set(&p, "eps_greedy", "0.1", &err) == 0 && p.eps_greedy == 0.1);
    CHECK(tt_search_params_set(&p, "unroll", "0,8,1024", &err) == 0 && p.nunroll == 3 && p.unroll[2] == 1024);
    CHECK(tt_search_params_set(&p, "tiling_structure", "SSRSRS", &err) == 0);
    CHECK(tt_search_params_set(&p, "tiling_structure", "SXR", &err) == -1);
    tt_err_clear(&err);
    CHECK(tt_search_params_set(&p, "no_such_thing", "1", &err) == -1 && strstr(err.msg, "no_such_thing"));
}

/* ---- the acceptance test ------------------------------------------------- */

typedef struct repro {
    int total, anchored, anchored_ok, other_ok;
    int rule_parallel_same, rule_parallel_n;
    int failed;
} repro;

static int is_anchor(const char *desc)
{
    return strstr(desc, "conv2d") || strstr(desc, "dense") || strstr(desc, "matmul");
}

/* One record: identify its DAG, find the sketch its steps start with, read
 * its decisions, fill that sketch with them and compare the step lists. */
static int reproduce(const char *line, int lineno, const char *file, repro *R)
{
    tt_record *rec = malloc(sizeof *rec);
    tt_err err = {0};
    tt_dag *d = NULL;
    char desc[160] = "";
    int ok = 0;
    tt_state *sk[32];
    int n = 0;
    if (tt_record_parse(line, rec, &err) || tt_identify_record(rec, &d, NULL, desc, sizeof desc, &err)) {
        fprintf(stderr, "    %s:%d: %s\n", file, lineno, err.msg);
        R->total++;
        R->failed++;
        free(rec);
        return 0;
    }
    int anchor = is_anchor(desc);
    R->total++;
    R->anchored += anchor;
    tt_search_params p;
    tt_search_params_default(&p);
    p.num_cores = rec->nhw > 0 ? (int)rec->hw[0] : 1;
    n = tt_sketch_generate(d, &p, sk, 32, &err);
    if (n < 0) {
        fprintf(stderr, "    %s:%d %s: sketches: %s\n", file, lineno, desc, err.msg);
        goto out;
    }
    int matched = -1;
    tt_decisions dec;
    for (int i = 0; i < n && i < 32 && matched < 0; i++) {
        tt_err e = {0};
        if (tt_decisions_from_steps(sk[i], rec->steps, rec->nsteps, &dec, &e) == 0)
            matched = i;
    }
    if (matched < 0) {
        fprintf(stderr, "    %s:%d %s: no sketch of %d starts the record's steps\n", file, lineno,
                desc, n);
        goto out;
    }
    tt_state *st = NULL;
    int rc = tt_sketch_fill(sk[matched], &dec, NULL, &p, &st, NULL, &err);
    if (rc) {
        fprintf(stderr, "    %s:%d %s: fill: %s\n", file, lineno, desc, err.msg);
        goto out;
    }
    char *a = tt_steps_write(st->steps, st->nsteps), *b = tt_steps_write(rec->steps, rec->nsteps);
    ok = !strcmp(a, b);
    if (!ok)
        fprintf(stderr, "    %s:%d %s (sketch %d of %d) differs:\n      ours   %s\n      record %s\n",
                file, lineno, desc, matched, n, a, b);
    free(a);
    free(b);
    tt_state_free(st);
    /* how often Ansor's deterministic parallel rule alone gives the record's
     * fusion (the rest were changed by MutateParallel) */
    tt_decisions rule = dec;
    for (int i = 0; i < TT_DEC_MAX_STAGES; i++)
        rule.par[i] = TT_DEC_SAMPLE;
    tt_decisions took;
    tt_err e2 = {0};
    if (ok && tt_sketch_fill(sk[matched], &rule, NULL, &p, &st, &took, &e2) == 0) {
        int same = 1;
        for (int i = 0; i < TT_DEC_MAX_STAGES; i++)
            same &= took.par[i] == TT_DEC_SAMPLE || took.par[i] == dec.par[i];
        R->rule_parallel_same += same;
        R->rule_parallel_n++;
        tt_state_free(st);
    }
out:
    if (ok) {
        if (anchor)
            R->anchored_ok++;
        else
            R->other_ok++;
    } else {
        R->failed += anchor;
        if (!anchor)
            fprintf(stderr, "    (not a conv2d/matmul record: %s)\n", desc);
    }
    free_sketches(sk, n < 32 ? n : 32);
    tt_dag_free(d);
    free(rec);
    return ok;
}

static void test_records_reproduce(void)
{
    static const char *const files[] = {"ansor/resnet-50-NHWC-B1-llvm.json", "ansor/matmul.json"};
    repro R = {0};
    for (size_t f = 0; f < 2; f++) {
        char path[512];
        if (!tt_test_shared_file(path, sizeof path, "%s", files[f]))
            return;
        tt_err err = {0};
        size_t len;
        char *text = tt_read_file(path, &len, &err);
        CHECK_MSG(text, "%s", err.msg);
        int lineno = 0;
        char *save = NULL;
        for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
            lineno++;
            if (line[0] != '{')
                continue;
            reproduce(line, lineno, files[f], &R);
        }
        free(text);
    }
    fprintf(stderr,
            "    conv2d/matmul records reproduced exactly: %d of %d; other records: %d of %d; "
            "parallel fusion as the init rule gives it: %d of %d\n",
            R.anchored_ok, R.anchored, R.other_ok, R.total - R.anchored, R.rule_parallel_same,
            R.rule_parallel_n);
    CHECK(R.anchored >= 22);
    CHECK(R.failed == 0 && R.anchored_ok == R.anchored);
}

/* Mutations: each changes only what it should, keeps tiles perfect
 * factorizations with innermost <= 64, replays, and is deterministic. */
static int diff_tags(const tt_state *a, const tt_state *b, unsigned *tags)
{
    if (a->nsteps != b->nsteps)
        return -1;
    *tags = 0;
    int n = 0;
    for (int i = 0; i < a->nsteps; i++) {
        char *x = tt_steps_write(&a->steps[i], 1), *y = tt_steps_write(&b->steps[i], 1);
        if (strcmp(x, y)) {
            *tags |= 1u << a->steps[i].tag;
            n++;
        }
        free(x);
        free(y);
    }
    return n;
}

static void test_mutations(void)
{
    tt_err err = {0};
    tt_conv2d_params cp = {.n = 1, .h = 28, .w = 28, .ci = 64, .kh = 3, .kw = 3, .co = 128,
                           .stride_h = 1, .stride_w = 1, .pad_t = 1, .pad_l = 1, .pad_b = 1,
                           .pad_r = 1, .dil_h = 1, .dil_w = 1, .groups = 1};
    tt_epilogue epi = {.n = 2, .ops = {TT_EPI_BIAS_ADD, TT_EPI_RELU}};
    tt_dag *d = tt_build_conv2d_nhwc(&cp, &epi, &err);
    CHECK_MSG(d, "%s", err.msg);
    tt_search_params p;
    tt_search_params_default(&p);
    p.num_cores = 2;
    tt_state *sk[16];
    int n = nsketches(d, &p, sk, 16);
    CHECK(n == 3);
    int applied[TT_MUT_COUNT] = {0};
    tt_rng r;
    tt_rng_seed(&r, 7);
    for (int trial = 0; trial < 80; trial++) {
        tt_state *s = NULL;
        if (tt_sketch_annotate(sk[trial % n], &r, &p, &s, NULL, &err) != 0) {
            tt_err_clear(&err);
            continue;
        }
        for (int m = 0; m < TT_MUT_COUNT; m++) {
            tt_rng r1, r2;
            tt_rng_seed(&r1, 100 * trial + m);
            tt_rng_seed(&r2, 100 * trial + m);
            tt_state *a = NULL, *b = NULL;
            int rc = tt_state_mutate(s, (tt_mutation)m, &r1, &p, &a, &err);
            int rc2 = tt_state_mutate(s, (tt_mutation)m, &r2, &p, &b, &err);
            tt_err_clear(&err);
            CHECK(rc >= 0 && rc == rc2);
            if (rc)
                continue;
            char *ja = tt_steps_write(a->steps, a->nsteps), *jb = tt_steps_write(b->steps, b->nsteps);
            CHECK(!strcmp(ja, jb));
            free(ja);
            free(jb);
            unsigned tags = 0;
            int nd = diff_tags(s, a, &tags);
            if (m == TT_MUT_TILE_SIZE) {
                CHECK(nd == 1 && tags == 1u << TT_STEP_SP);
                for (int k = 0; k < a->nsteps; k++) {
                    const tt_step *x = &a->steps[k];
                    if (x->tag != TT_STEP_SP)
                        continue;
                    int64_t prod = 1;
                    for (int j = 0; j < x->nlen; j++)
                        prod *= x->len[j];
                    CHECK(x->len[x->nlen - 1] <= 64 && x->extent % prod == 0);
                }
            } else if (m == TT_MUT_AUTO_UNROLL) {
                CHECK(nd <= 1 && (tags & ~(1u << TT_STEP_PR)) == 0);
            } else if (m == TT_MUT_COMPUTE_LOCATION) {
                CHECK(nd <= 1 && (tags & ~(1u << TT_STEP_CA)) == 0);
            } else {
                CHECK(nd >= 1 && (tags & (1u << TT_STEP_FU)) &&
                      (tags & ~((1u << TT_STEP_FU) | (1u << TT_STEP_AN) | (1u << TT_STEP_PR))) == 0);
            }
            applied[m] += nd > 0;
            tt_state_free(a);
            tt_state_free(b);
        }
        tt_state_free(s);
    }
    CHECK_MSG(applied[TT_MUT_TILE_SIZE] > 20 && applied[TT_MUT_AUTO_UNROLL] > 10 &&
                  applied[TT_MUT_PARALLEL] > 5 && applied[TT_MUT_COMPUTE_LOCATION] > 2,
              "applied: tile %d unroll %d location %d parallel %d", applied[0], applied[1],
              applied[2], applied[3]);
    free_sketches(sk, n);
    tt_dag_free(d);
}

/* A record whose decisions leave Ansor's space is refused with a reason. */
static void test_fill_refuses(void)
{
    tt_err err = {0};
    tt_dag *d = tt_build_matmul_add(64, 32, 48, &err);
    CHECK_MSG(d, "%s", err.msg);
    tt_state *sk[8];
    int n = nsketches(d, NULL, sk, 8);
    CHECK(n == 3);
    tt_decisions dec;
    tt_decisions_init(&dec);
    dec.ntiles = 1;
    dec.tile[0].nlen = 3;
    dec.tile[0].len[0] = 5; /* 5 does not divide 64 */
    dec.tile[0].len[1] = dec.tile[0].len[2] = 1;
    tt_rng r;
    tt_rng_seed(&r, 1);
    tt_state *s = NULL;
    CHECK(tt_sketch_fill(sk[2], &dec, &r, NULL, &s, NULL, &err) == 1 && strstr(err.msg, "divide"));
    tt_err_clear(&err);
    dec.tile[0].len[0] = 1;
    dec.tile[0].len[2] = 128 / 2; /* 64: fine */
    CHECK_MSG(tt_sketch_fill(sk[2], &dec, &r, NULL, &s, NULL, &err) == 0, "%s", err.msg);
    tt_state_free(s);
    dec.unroll[2] = TT_DEC_NONE; /* the matmul has a reduction: a pragma is required */
    CHECK(tt_sketch_fill(sk[2], &dec, &r, NULL, &s, NULL, &err) == 1 && strstr(err.msg, "unroll"));
    tt_err_clear(&err);
    dec.unroll[2] = TT_DEC_SAMPLE;
    dec.par[2] = 9; /* more outer iterators than come before the reduction */
    CHECK(tt_sketch_fill(sk[2], &dec, &r, NULL, &s, NULL, &err) == 1 && strstr(err.msg, "parallel"));
    tt_err_clear(&err);
    /* nothing to sample without a generator */
    tt_decisions_init(&dec);
    CHECK(tt_sketch_fill(sk[2], &dec, NULL, NULL, &s, NULL, &err) == -1);
    free_sketches(sk, n);
    tt_dag_free(d);
}

const tt_test tests_search[] = {
    {"sketch_matmul_add", test_sketch_matmul_add},
    {"sketch_conv2d", test_sketch_conv2d},
    {"sketch_softmax", test_sketch_softmax},
    {"annotate_random", test_annotate_random},
    {"params", test_params},
    {"mutations", test_mutations},
    {"fill_refuses", test_fill_refuses},
    {"records_reproduce", test_records_reproduce},
    {NULL, NULL},
};
