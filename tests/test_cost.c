/* test_cost.c - the cost model: features of a hand-made matmul schedule
 * against values derived by hand, features of scheduled DAGs with attached
 * stages are finite, and the XGBoost pack-sum model ranks held-out random
 * schedules of a matmul by a known synthetic throughput. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../src/cost/cost.h"
#include "../src/dag/dag.h"
#include "../src/sched/sched.h"
#include "schedgen.h"
#include "test.h"

static tt_step step0(tt_steptag tag, int stage)
{
    tt_step s;
    memset(&s, 0, sizeof s);
    s.tag = tag;
    s.stage = stage;
    return s;
}

static tt_step sp1(int stage, int iter, int64_t extent, int64_t len)
{
    tt_step s = step0(TT_STEP_SP, stage);
    s.iter = iter;
    s.extent = extent;
    s.nlen = 1;
    s.len[0] = len;
    s.inner_to_outer = 1;
    return s;
}

static tt_step re(int stage, int n, const int *order)
{
    tt_step s = step0(TT_STEP_RE, stage);
    s.nids = n;
    memcpy(s.ids, order, (size_t)n * sizeof(int));
    return s;
}

static tt_step an(int stage, int iter, tt_ann a)
{
    tt_step s = step0(TT_STEP_AN, stage);
    s.iter = iter;
    s.ann = a;
    return s;
}

static tt_step pr(int stage, int iter, int64_t v)
{
    tt_step s = step0(TT_STEP_PR, stage);
    s.iter = iter;
    s.pragma_value = v;
    return s;
}

static int near(double a, double b) { return fabs(a - b) <= 1e-4 * (fabs(b) + 1); }

/* dense 64x64, K = 32 (T_dense[i, j] = sum_k data[i, k] * weight[j, k]) as
 *   parallel i.0 (8)
 *     for j.0 (4)
 *       for k (32)
 *         for i.1 (8)
 *           vectorize j.1 (16)
 * with auto_unroll_max_step 64. */
static tt_state *hand_state(tt_dag **dag)
{
    tt_err err = {0};
    *dag = tt_build_dense(64, 64, 32, NULL, &err);
    if (!*dag)
        return NULL;
    tt_state *s = tt_state_new(*dag);
    static const int order[5] = {0, 2, 4, 1, 3};
    tt_step steps[] = {
        sp1(2, 0, 64, 8),  /* i.0 i.1 j k */
        sp1(2, 2, 64, 16), /* i.0 i.1 j.0 j.1 k */
        re(2, 5, order),   /* i.0 j.0 k i.1 j.1 */
        an(2, 0, TT_ANN_PARALLEL),
        an(2, 4, TT_ANN_VECTORIZE),
        pr(2, 0, 64),
    };
    if (tt_state_apply_all(s, steps, (int)(sizeof steps / sizeof steps[0]), &err)) {
        fprintf(stderr, "    %s\n", err.msg);
        tt_state_free(s);
        return NULL;
    }
    return s;
}

#define F(col) row[col]
#define B(b, f) row[TT_FEAT_BUFS + (b) * TT_BF_COUNT + (f)]

static void test_features_hand(void)
{
    tt_dag *d;
    tt_state *s = hand_state(&d);
    CHECK(s);
    tt_features f;
    tt_err err = {0};
    int rc = tt_features_extract(s, 1, &f, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    CHECK(f.nrows == 1 && f.stage[0] == 2);
    const float *row = f.rows;
    const double iters = 64.0 * 64 * 32;
    /* one mul and one add (the reduction) per iteration */
    CHECK(near(F(TT_FEAT_FLOAT_MUL), iters));
    CHECK(near(F(TT_FEAT_FLOAT_ADDSUB), iters));
    CHECK(F(TT_FEAT_FLOAT_DIVMOD) == 0 && F(TT_FEAT_FLOAT_MATH) == 0);
    /* i = i.0 * 8 + i.1 and j = j.0 * 16 + j.1, each used twice (a load
     * and the update's read of T_dense): 4 muls, 4 adds per iteration */
    CHECK(near(F(TT_FEAT_INT_MUL), 4 * iters));
    CHECK(near(F(TT_FEAT_INT_ADDSUB), 4 * iters));
    CHECK(F(TT_FEAT_VEC_NUM) == 1 && F(TT_FEAT_VEC_LEN) == 16 && F(TT_FEAT_VEC_PROD) == 16);
    CHECK(F(TT_FEAT_VEC_POS + TT_ANNPOS_INNER_SPATIAL) == 1);
    CHECK(F(TT_FEAT_PARALLEL_NUM) == 1 && F(TT_FEAT_PARALLEL_LEN) == 8);
    CHECK(F(TT_FEAT_PARALLEL_POS + TT_ANNPOS_OUTER_SPATIAL) == 1);
    CHECK(F(TT_FEAT_UNROLL_NUM) == 0 && F(TT_FEAT_UNROLL_POS + TT_ANNPOS_NONE) == 1);
    CHECK(near(F(TT_FEAT_OUTER_PROD), iters));
    CHECK(F(TT_FEAT_NUM_LOOPS) == 5);
    CHECK(F(TT_FEAT_AUTO_UNROLL) == 64);
    /* the output is a function argument: no allocation */
    CHECK(F(TT_FEAT_ALLOC_SIZE) == 0);
    /* B0 = weight[j, k]: j.1 innermost moves it by K = 32 elements, a new
     * line every iteration */
    CHECK(B(0, TT_BF_ACC_READ) == 1);
    CHECK(B(0, TT_BF_STRIDE) == 32);
    CHECK(near(B(0, TT_BF_LINES), iters));
    CHECK(near(B(0, TT_BF_UNIQUE_BYTES), 64 * 32 * 4));
    CHECK(B(0, TT_BF_REUSE_LOOP) == 1 && B(0, TT_BF_REUSE_CT) == 8);
    CHECK(B(0, TT_BF_REUSE_DIS_ITER) == 16);
    CHECK(near(B(0, TT_BF_REUSE_DIS_BYTES), (16 + 1 + 16) * 4));
    /* B1 = T_dense (read-write, stride 1: 16 floats per 64-byte line), B2 =
     * data (same lines and bytes, after T_dense in access order) */
    CHECK(B(1, TT_BF_ACC_READWRITE) == 1);
    CHECK(B(1, TT_BF_STRIDE) == 1);
    CHECK(near(B(1, TT_BF_LINES), iters / 16));
    CHECK(near(B(1, TT_BF_UNIQUE_BYTES), 64 * 64 * 4));
    CHECK(B(1, TT_BF_REUSE_LOOP) == 1 && B(1, TT_BF_REUSE_CT) == 32);
    CHECK(B(1, TT_BF_REUSE_DIS_ITER) == 128);
    CHECK(B(2, TT_BF_ACC_READ) == 1);
    CHECK(B(2, TT_BF_STRIDE) == 0); /* j.1 does not index data */
    CHECK(near(B(2, TT_BF_LINES), iters / 16));
    CHECK(B(2, TT_BF_REUSE_LOOP) == 1 && B(2, TT_BF_REUSE_CT) == 16);
    CHECK(B(3, TT_BF_BYTES) == 0); /* only 3 buffers */
    /* whole nest: 2 * 64 * 64 * 32 flops over (64*64 + 2 * 64*32) * 4 bytes */
    CHECK(near(F(TT_FEAT_AI + TT_COST_AI_SAMPLES - 1), 8.0));
    tt_features_free(&f);

    /* log-scaled: slog(x) = log2(x + 1), one-hot columns unchanged */
    rc = tt_features_extract(s, 0, &f, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    row = f.rows;
    CHECK(near(F(TT_FEAT_FLOAT_MUL), log2(iters + 1)));
    CHECK(near(F(TT_FEAT_VEC_LEN), log2(17)));
    CHECK(F(TT_FEAT_VEC_POS + TT_ANNPOS_INNER_SPATIAL) == 1);
    tt_features_free(&f);
    tt_state_free(s);
    tt_dag_free(d);

    char name[64];
    CHECK(strcmp(tt_feature_name(TT_FEAT_BUFS + TT_BF_COUNT + TT_BF_STRIDE, name, sizeof name),
                 "B1.stride") == 0);
    CHECK(strcmp(tt_feature_name(TT_FEAT_VEC_POS + TT_ANNPOS_MIXED, name, sizeof name),
                 "vec_pos.mixed") == 0);
}

/* Default schedules of DAGs with attached / inlined stages: one row per
 * stage that is stored, every value finite; the stage computed at the
 * output's loop has an allocation of its region. */
static void test_features_default(void)
{
    tt_err err = {0};
    tt_epilogue epi = {.n = 2, .ops = {TT_EPI_BIAS_ADD, TT_EPI_RELU}};
    tt_conv2d_params cp = {.n = 1, .h = 14, .w = 14, .ci = 16, .kh = 3, .kw = 3, .co = 32,
                           .stride_h = 1, .stride_w = 1, .pad_t = 1, .pad_l = 1, .pad_b = 1,
                           .pad_r = 1, .dil_h = 1, .dil_w = 1, .groups = 1};
    tt_dag *dags[3] = {
        tt_build_dense(32, 48, 64, &epi, &err),
        tt_build_conv2d_nhwc(&cp, &epi, &err),
        tt_build_matmul_add(16, 32, 64, &err),
    };
    for (int k = 0; k < 3; k++) {
        CHECK_MSG(dags[k], "%s", err.msg);
        tt_step steps[256];
        int n = 0;
        CHECK_MSG(tt_default_schedule(dags[k], 8, steps, 256, &n, &err) == 0, "%s", err.msg);
        tt_state *s = tt_state_new(dags[k]);
        CHECK_MSG(tt_state_apply_all(s, steps, n, &err) == 0, "%s", err.msg);
        tt_features f;
        CHECK_MSG(tt_features_extract(s, 0, &f, &err) == 0, "%s", err.msg);
        int stored = 0, attached = -1;
        for (int si = 0; si < s->nstages; si++)
            if (s->stages[si].op.kind == TT_OP_COMPUTE && s->stages[si].at != TT_AT_INLINED) {
                if (s->stages[si].at == TT_AT_ITER)
                    attached = stored;
                stored++;
            }
        CHECK(f.nrows == stored && stored >= 1);
        for (int r = 0; r < f.nrows * TT_FEAT_COUNT; r++)
            CHECK(isfinite(f.rows[r]));
        if (attached >= 0) {
            const float *row = &f.rows[(size_t)attached * TT_FEAT_COUNT];
            CHECK(F(TT_FEAT_ALLOC_SIZE) > 0 && F(TT_FEAT_ALLOC_OUTER_PROD) > 0);
        }
        /* the anchor's flops are somewhere: total float_mul over rows > 0 */
        double mul = 0;
        for (int r = 0; r < f.nrows; r++)
            mul += f.rows[(size_t)r * TT_FEAT_COUNT + TT_FEAT_FLOAT_MUL];
        CHECK(mul > 0);
        tt_features_free(&f);
        tt_state_free(s);
        tt_dag_free(dags[k]);
    }
}


/* Random valid schedules of every DAG kind the differential tests use
 * (split, fuse, reorder, compute_at, cache write, rfactor, annotations):
 * features extract, one row per stored stage, every value finite. */
static void test_features_random(void)
{
    tt_rng r;
    tt_rng_seed(&r, 2024);
    int n = 0, failed = 0;
    for (int k = 0; k < K_COUNT; k++)
        for (int t = 0; t < 25; t++) {
            char desc[256];
            tt_err err = {0};
            tt_dag *d = sg_make_dag((dkind)k, &r, desc, sizeof desc, &err);
            CHECK_MSG(d, "%s", err.msg);
            sg_gen *g = calloc(1, sizeof *g);
            g->r = &r;
            g->s = tt_state_new(d);
            g->d = d;
            sg_generate(g);
            if (!g->fail) {
                tt_features f;
                n++;
                if (tt_features_extract(g->s, 0, &f, &err)) {
                    failed++;
                } else {
                    int stored = 0;
                    for (int si = 0; si < g->s->nstages; si++)
                        stored += g->s->stages[si].op.kind == TT_OP_COMPUTE &&
                                  g->s->stages[si].at != TT_AT_INLINED;
                    CHECK_MSG(f.nrows == stored, "%s: %d rows, %d stages", desc, f.nrows, stored);
                    for (int i = 0; i < f.nrows * TT_FEAT_COUNT; i++)
                        CHECK_MSG(isfinite(f.rows[i]), "%s: column %d", desc, i % TT_FEAT_COUNT);
                    tt_features_free(&f);
                }
            }
            tt_state_free(g->s);
            free(g);
            tt_dag_free(d);
        }
    fprintf(stderr, "    %d schedules, %d not lowered\n", n, failed);
    CHECK(n > 200 && failed == 0);
}

/* ---- the model ------------------------------------------------------------------- */

/* A random schedule of the dense 64x64x64: tiles ti, tj, tk (divisors),
 *   i.0 j.0 k.0 k.1 i.1 j.1   parallel i.0, vectorize j.1, random unroll;
 * synthetic throughput = (1 + log2 tj) * (4 - |log2 ti - 2|): best with
 * 16 or 32 vector lanes and 4 rows per tile, not monotone in ti. */
static tt_state *random_state(const tt_dag *d, tt_rng *r, double *thr)
{
    static const int64_t div[] = {1, 2, 4, 8, 16, 32};
    static const int64_t unroll[] = {0, 16, 64, 512};
    int64_t ti = div[tt_rng_below(r, 6)], tj = div[tt_rng_below(r, 6)];
    int64_t tk = div[tt_rng_below(r, 6)];
    static const int order[6] = {0, 2, 4, 5, 1, 3};
    tt_step steps[] = {
        sp1(2, 0, 64, ti), sp1(2, 2, 64, tj), sp1(2, 4, 64, tk), re(2, 6, order),
        an(2, 0, TT_ANN_PARALLEL), an(2, 5, TT_ANN_VECTORIZE),
        pr(2, 0, unroll[tt_rng_below(r, 4)]),
    };
    tt_state *s = tt_state_new(d);
    tt_err err = {0};
    if (tt_state_apply_all(s, steps, (int)(sizeof steps / sizeof steps[0]), &err)) {
        tt_state_free(s);
        return NULL;
    }
    *thr = (1 + log2((double)tj)) * (4 - fabs(log2((double)ti) - 2));
    return s;
}

static void test_model_ranks(void)
{
    tt_err err = {0};
    tt_dag *d = tt_build_dense(64, 64, 64, NULL, &err);
    CHECK(d);
    enum { N = 200, NTRAIN = 150 };
    tt_state *st[N];
    double thr[N], scores[N];
    tt_rng r;
    tt_rng_seed(&r, 7);
    for (int i = 0; i < N; i++) {
        st[i] = random_state(d, &r, &thr[i]);
        CHECK(st[i]);
    }
    tt_cost_opts o;
    tt_cost_opts_default(&o);
    o.max_rounds = 300;
    o.num_warmup_sample = 0;
    o.nthread = 1;
    tt_cost_model *m = tt_cost_model_new(&o, &err);
    CHECK(m);
    /* untrained: uniform random in [0, 1), reproducible by seed */
    CHECK(tt_cost_model_predict(m, 4, (const tt_state *const *)st, scores, &err) == 0);
    for (int i = 0; i < 4; i++)
        CHECK(scores[i] >= 0 && scores[i] < 1);
    tt_cost_model *m2 = tt_cost_model_new(&o, &err);
    double scores2[4];
    CHECK(tt_cost_model_predict(m2, 4, (const tt_state *const *)st, scores2, &err) == 0);
    CHECK(memcmp(scores, scores2, sizeof scores2) == 0);
    tt_cost_model_free(m2);

    double t0 = tt_now();
    int rc = tt_cost_model_update(m, NTRAIN, (const tt_state *const *)st, thr, NULL, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    CHECK(tt_cost_model_nrecords(m) == NTRAIN && tt_cost_model_nrounds(m) > 0);
    CHECK(tt_cost_model_predict(m, N - NTRAIN, (const tt_state *const *)st + NTRAIN,
                                scores + NTRAIN, &err) == 0);
    int good = 0, pairs = 0;
    for (int i = NTRAIN; i < N; i++)
        for (int j = i + 1; j < N; j++) {
            if (thr[i] == thr[j])
                continue;
            pairs++;
            good += (thr[i] > thr[j]) == (scores[i] > scores[j]);
        }
    double acc = (double)good / pairs;
    fprintf(stderr, "    pairwise accuracy %.3f on %d held-out pairs, %d rounds, %.2f s\n", acc,
            pairs, tt_cost_model_nrounds(m), tt_now() - t0);
    CHECK(acc > 0.7);

    /* save / load: the same predictions */
    char path[512];
    snprintf(path, sizeof path, "%s/tt_cost_%d.json", tt_test_tmpdir(), (int)getpid());
    CHECK_MSG(tt_cost_model_save(m, path, &err) == 0, "%s", err.msg);
    tt_cost_model *m3 = tt_cost_model_new(NULL, &err);
    CHECK_MSG(tt_cost_model_load(m3, path, &err) == 0, "%s", err.msg);
    unlink(path);
    double s3[N - NTRAIN];
    CHECK(tt_cost_model_predict(m3, N - NTRAIN, (const tt_state *const *)st + NTRAIN, s3, &err) ==
          0);
    for (int i = 0; i < N - NTRAIN; i++)
        CHECK(near(s3[i], scores[NTRAIN + i]));
    tt_cost_model_free(m3);
    CHECK(tt_cost_model_load(m3 = tt_cost_model_new(NULL, &err), "/nonexistent/x.json", &err) != 0);
    tt_cost_model_free(m3);

    tt_cost_model_free(m);
    for (int i = 0; i < N; i++)
        tt_state_free(st[i]);
    tt_dag_free(d);
}


/* Per-task normalization and pack sums, on synthetic rows: a record of task t
 * with feature x has throughput x * scale[t]; the label is x / 40 whatever
 * the scale.  A pack of two rows (x and 0) predicts like the single row. */
static void test_model_normalize(void)
{
    tt_err err = {0};
    enum { N = 80 };
    tt_features f[N + 3];
    double thr[N];
    int task[N];
    float *data = calloc((size_t)(N + 4) * TT_FEAT_COUNT, sizeof(float));
    CHECK(data);
    for (int i = 0; i < N; i++) {
        float x = (float)(1 + i % 40);
        task[i] = i / 40;
        thr[i] = x * (task[i] ? 1000.0 : 1.0);
        data[(size_t)i * TT_FEAT_COUNT] = x;
        f[i] = (tt_features){.nrows = 1, .rows = &data[(size_t)i * TT_FEAT_COUNT]};
    }
    tt_cost_opts o;
    tt_cost_opts_default(&o);
    o.max_rounds = 200;
    o.num_warmup_sample = 0;
    o.nthread = 1;
    tt_cost_model *m = tt_cost_model_new(&o, &err);
    int rc = tt_cost_model_update_features(m, N, f, thr, task, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    /* queries: x = 40, x = 20, and a pack of rows x = 20 plus x = 0 */
    float *q = &data[(size_t)N * TT_FEAT_COUNT];
    q[0] = 40;
    q[TT_FEAT_COUNT] = 20;
    q[2 * TT_FEAT_COUNT] = 0; /* the pack is rows 1..2: x = 20 then x = 0 */
    tt_features qf[3] = {{.nrows = 1, .rows = q},
                         {.nrows = 1, .rows = q + TT_FEAT_COUNT},
                         {.nrows = 0, .rows = NULL}};
    double sc[3];
    CHECK(tt_cost_model_predict_features(m, 3, qf, sc, &err) == 0);
    fprintf(stderr, "    x=40 -> %.3f, x=20 -> %.3f\n", sc[0], sc[1]);
    CHECK(fabs(sc[0] - 1.0) < 0.1);
    CHECK(fabs(sc[1] - 0.5) < 0.1);
    CHECK(isinf(sc[2]) && sc[2] < 0); /* no rows: features failed */
    tt_cost_model_free(m);
    free(data);
}

const tt_test tests_cost[] = {
    {"features_hand", test_features_hand},
    {"features_default", test_features_default},
    {"features_random", test_features_random},
    {"model_ranks", test_model_ranks},
    {"model_normalize", test_model_normalize},
    {NULL, NULL},
};
