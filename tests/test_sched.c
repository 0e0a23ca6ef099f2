/* test_sched.c - unit tests of the loop state: tt_state_apply for every step
 * kind (iterator counts, names, extents, stage numbering), the refusals
 * (with the message a user sees), and tt_state_copy independence. */
#include <stdlib.h>
#include <string.h>

#include "../src/dag/dag.h"
#include "../src/sched/sched.h"
#include "test.h"

/* ---- step constructors ----------------------------------------------------- */

static tt_step mk_sp(int stage, int iter, int64_t extent, int n, const int64_t *len)
{
    tt_step s;
    memset(&s, 0, sizeof s);
    s.tag = TT_STEP_SP;
    s.stage = stage;
    s.iter = iter;
    s.extent = extent;
    s.nlen = n;
    for (int i = 0; i < n; i++)
        s.len[i] = len[i];
    s.inner_to_outer = 1;
    return s;
}
#define SP(st, it, ext, ...)                                                                       \
    mk_sp(st, it, ext, (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)),                  \
          (int64_t[]){__VA_ARGS__})

static tt_step mk_ids(tt_steptag tag, int stage, int n, const int *ids)
{
    tt_step s;
    memset(&s, 0, sizeof s);
    s.tag = tag;
    s.stage = stage;
    s.nids = n;
    for (int i = 0; i < n; i++)
        s.ids[i] = ids[i];
    return s;
}
#define RE(st, ...)                                                                                \
    mk_ids(TT_STEP_RE, st, (int)(sizeof((int[]){__VA_ARGS__}) / sizeof(int)), (int[]){__VA_ARGS__})
#define FU(st, ...)                                                                                \
    mk_ids(TT_STEP_FU, st, (int)(sizeof((int[]){__VA_ARGS__}) / sizeof(int)), (int[]){__VA_ARGS__})

static tt_step FSP(int stage, int iter, int src, int n_split)
{
    tt_step s;
    memset(&s, 0, sizeof s);
    s.tag = TT_STEP_FSP;
    s.stage = stage;
    s.iter = iter;
    s.src_step = src;
    s.n_split = n_split;
    return s;
}

static tt_step FFSP(int stage, int iter, int nsrc, const int *srcs, int level, int factor)
{
    tt_step s = mk_ids(TT_STEP_FFSP, stage, nsrc, srcs);
    s.iter = iter;
    s.level = level;
    s.inner_to_outer = factor;
    return s;
}

static tt_step AN(int stage, int iter, tt_ann ann)
{
    tt_step s;
    memset(&s, 0, sizeof s);
    s.tag = TT_STEP_AN;
    s.stage = stage;
    s.iter = iter;
    s.ann = ann;
    return s;
}

static tt_step PR(int stage, int iter, int64_t v)
{
    tt_step s;
    memset(&s, 0, sizeof s);
    s.tag = TT_STEP_PR;
    s.stage = stage;
    s.iter = iter;
    s.pragma_value = v;
    return s;
}

static tt_step CA(int stage, int target, int titer)
{
    tt_step s;
    memset(&s, 0, sizeof s);
    s.tag = TT_STEP_CA;
    s.stage = stage;
    s.target_stage = target;
    s.target_iter = titer;
    return s;
}

static tt_step ST(tt_steptag tag, int stage)
{
    tt_step s;
    memset(&s, 0, sizeof s);
    s.tag = tag;
    s.stage = stage;
    return s;
}

static tt_step CHW(int stage)
{
    tt_step s = ST(TT_STEP_CHW, stage);
    snprintf(s.scope, sizeof s.scope, "local");
    return s;
}

static tt_step RF(int stage, int iter, int factor_iter)
{
    tt_step s = ST(TT_STEP_RF, stage);
    s.iter = iter;
    s.target_iter = factor_iter;
    return s;
}

/* ---- helpers ---------------------------------------------------------------- */

static const tt_relnode *node_at(const tt_state *s, int stage, int iter)
{
    const tt_stage *st = &s->stages[stage];
    return &st->nodes[st->iters[iter].node];
}

static const char *iname(const tt_state *s, int stage, int iter)
{
    return node_at(s, stage, iter)->name;
}

static int64_t iext(const tt_state *s, int stage, int iter) { return node_at(s, stage, iter)->extent; }

/* Apply one step; 0 on success. */
static int apply1(tt_state *s, tt_step x, tt_err *err)
{
    tt_err_clear(err);
    return tt_state_apply(s, &x, err);
}

/* Apply and expect a refusal whose message contains `needle`. */
static int refused_with(tt_state *s, tt_step x, const char *needle)
{
    tt_err err = {0};
    if (tt_state_apply(s, &x, &err) == 0) {
        fprintf(stderr, "    step %s was accepted, expected a refusal (%s)\n", tt_step_tags[x.tag],
                needle);
        return 0;
    }
    if (!err.set || !strstr(err.msg, needle)) {
        fprintf(stderr, "    message \"%s\" lacks \"%s\"\n", err.msg, needle);
        return 0;
    }
    return 1;
}

static tt_dag *mm(int64_t n, int64_t l, int64_t m)
{
    tt_err err = {0};
    tt_dag *d = tt_build_matmul_add(n, l, m, &err);
    if (!d)
        fprintf(stderr, "    matmul_add: %s\n", err.msg);
    return d;
}

static tt_dag *conv_relu(void)
{
    tt_conv2d_params p;
    memset(&p, 0, sizeof p);
    p.n = 1, p.h = 8, p.w = 8, p.ci = 4, p.kh = 3, p.kw = 3, p.co = 8;
    p.stride_h = p.stride_w = 1, p.pad_t = p.pad_l = p.pad_b = p.pad_r = 1, p.dil_h = p.dil_w = 1;
    p.groups = 1;
    tt_epilogue e = {.n = 2, .ops = {TT_EPI_BIAS_ADD, TT_EPI_RELU}};
    tt_err err = {0};
    tt_dag *d = tt_build_conv2d_nhwc(&p, &e, &err);
    if (!d)
        fprintf(stderr, "    conv2d: %s\n", err.msg);
    return d;
}

static tt_dag *softmax(int64_t n, int64_t k)
{
    int64_t shape[2] = {n, k};
    tt_err err = {0};
    tt_dag *d = tt_build_softmax(2, shape, &err);
    if (!d)
        fprintf(stderr, "    softmax: %s\n", err.msg);
    return d;
}

/* ---- tests ------------------------------------------------------------------- */

static void test_initial_state(void)
{
    tt_dag *d = mm(64, 32, 48);
    CHECK(d);
    tt_state *s = tt_state_new(d);
    CHECK(s->nstages == 5 && s->nsteps == 0);
    CHECK(s->stages[0].niters == 0 && s->stages[1].niters == 0); /* placeholders */
    CHECK(s->stages[2].niters == 3);
    CHECK(!strcmp(iname(s, 2, 0), "i") && !strcmp(iname(s, 2, 1), "j") && !strcmp(iname(s, 2, 2), "k"));
    CHECK(iext(s, 2, 0) == 64 && iext(s, 2, 1) == 48 && iext(s, 2, 2) == 32);
    CHECK(node_at(s, 2, 2)->kind == TT_ITER_REDUCE && node_at(s, 2, 0)->kind == TT_ITER_SPATIAL);
    CHECK(s->stages[4].niters == 2 && s->stages[4].at == TT_AT_ROOT);
    for (int i = 0; i < 5; i++)
        CHECK(tt_state_stage_of_uid(s, i) == i);
    tt_state_free(s);
    tt_dag_free(d);
}

static void test_split_divisible(void)
{
    tt_dag *d = mm(64, 32, 48);
    CHECK(d);
    tt_state *s = tt_state_new(d);
    tt_err err = {0};
    CHECK(apply1(s, SP(2, 0, 64, 2, 4), &err) == 0);
    CHECK(s->stages[2].niters == 5 && s->nsteps == 1);
    CHECK(!strcmp(iname(s, 2, 0), "i.0") && !strcmp(iname(s, 2, 1), "i.1") &&
          !strcmp(iname(s, 2, 2), "i.2"));
    CHECK(iext(s, 2, 0) == 8 && iext(s, 2, 1) == 2 && iext(s, 2, 2) == 4);
    CHECK(!strcmp(iname(s, 2, 3), "j") && !strcmp(iname(s, 2, 4), "k"));
    /* the reduce axis keeps its kind through a split; extent 0 = unknown is accepted */
    CHECK(apply1(s, SP(2, 4, 0, 8), &err) == 0);
    CHECK(s->stages[2].niters == 6);
    CHECK(!strcmp(iname(s, 2, 4), "k.0") && !strcmp(iname(s, 2, 5), "k.1"));
    CHECK(iext(s, 2, 4) == 4 && iext(s, 2, 5) == 8);
    CHECK(node_at(s, 2, 4)->kind == TT_ITER_REDUCE && node_at(s, 2, 5)->kind == TT_ITER_REDUCE);
    /* splitting a split part: names nest */
    CHECK(apply1(s, SP(2, 1, 2, 2), &err) == 0);
    CHECK(!strcmp(iname(s, 2, 1), "i.1.0") && !strcmp(iname(s, 2, 2), "i.1.1"));
    CHECK(iext(s, 2, 1) == 1 && iext(s, 2, 2) == 2);
    CHECK(s->nsteps == 3 && s->steps[2].tag == TT_STEP_SP);
    tt_state_free(s);
    tt_dag_free(d);
}

static void test_split_nondivisible(void)
{
    tt_dag *d = mm(10, 7, 13);
    CHECK(d);
    tt_state *s = tt_state_new(d);
    tt_err err = {0};
    /* 10 by [3]: ceil(10/3) = 4 outer, 3 inner */
    CHECK(apply1(s, SP(2, 0, 10, 3), &err) == 0);
    CHECK(iext(s, 2, 0) == 4 && iext(s, 2, 1) == 3);
    /* 13 by [3, 2] (inner to outer: by 2 first, then 3): 13 -> 7 x 2 -> (3 x 3) x 2 */
    CHECK(apply1(s, SP(2, 2, 13, 3, 2), &err) == 0);
    CHECK(iext(s, 2, 2) == 3 && iext(s, 2, 3) == 3 && iext(s, 2, 4) == 2);
    /* a length larger than the extent: inner part tightened to the extent, outer 1 */
    CHECK(apply1(s, SP(2, 5, 7, 16), &err) == 0);
    CHECK(iext(s, 2, 5) == 1 && iext(s, 2, 6) == 7);
    CHECK(s->stages[2].niters == 7);
    /* length 1 everywhere */
    CHECK(apply1(s, SP(4, 1, 13, 1, 1, 1), &err) == 0);
    CHECK(s->stages[4].niters == 5);
    CHECK(iext(s, 4, 1) == 13 && iext(s, 4, 2) == 1 && iext(s, 4, 4) == 1);
    tt_state_free(s);
    tt_dag_free(d);
}

static void test_split_refusals(void)
{
    tt_dag *d = mm(64, 32, 48);
    CHECK(d);
    tt_state *s = tt_state_new(d);
    CHECK(refused_with(s, SP(2, 0, 1024, 2, 4), "does not match"));
    CHECK(refused_with(s, SP(2, 0, 63, 2), "does not match"));
    CHECK(refused_with(s, SP(2, 3, 0, 2), "out of range"));  /* iterator id */
    CHECK(refused_with(s, SP(7, 0, 0, 2), "out of range"));  /* stage id */
    CHECK(refused_with(s, SP(0, 0, 0, 2), "placeholder"));
    CHECK(refused_with(s, SP(2, 0, 64, 0), "not set"));       /* length 0: sketch placeholder */
    CHECK(refused_with(s, SP(2, 0, 64, 4, -2), "not set"));
    CHECK(s->nsteps == 0 && s->stages[2].niters == 3);
    /* apply_all names the failing step */
    tt_step steps[2] = {SP(2, 0, 64, 4), SP(2, 2, 99, 4)};
    tt_err err = {0};
    CHECK(tt_state_apply_all(s, steps, 2, &err) != 0);
    CHECK(strstr(err.msg, "step 1 (SP)") && strstr(err.msg, "does not match"));
    tt_state_free(s);
    tt_dag_free(d);
}

static void test_follow_split(void)
{
    tt_dag *d = mm(64, 32, 48);
    CHECK(d);
    tt_state *s = tt_state_new(d);
    tt_err err = {0};
    CHECK(apply1(s, SP(2, 0, 64, 2, 1, 4), &err) == 0);   /* step 0: i -> 8,2,1,4 */
    CHECK(apply1(s, SP(2, 4, 48, 3, 2, 2), &err) == 0);   /* step 1: j -> 4,3,2,2 */
    /* n_split 2: lengths [2, 1*4] -> out.i: 8, 2, 4 */
    CHECK(apply1(s, FSP(4, 0, 0, 2), &err) == 0);
    CHECK(s->stages[4].niters == 4);
    CHECK(iext(s, 4, 0) == 8 && iext(s, 4, 1) == 2 && iext(s, 4, 2) == 4);
    CHECK(!strcmp(iname(s, 4, 0), "i.0") && !strcmp(iname(s, 4, 2), "i.2"));
    /* n_split 1: [3*2*2] -> out.j: 4, 12 */
    CHECK(apply1(s, FSP(4, 3, 1, 1), &err) == 0);
    CHECK(s->stages[4].niters == 5 && iext(s, 4, 3) == 4 && iext(s, 4, 4) == 12);
    /* n_split 4 = all lengths and a trailing 1 */
    tt_state *t = tt_state_new(d);
    CHECK(apply1(t, SP(2, 0, 64, 2, 1, 4), &err) == 0);
    CHECK(apply1(t, FSP(4, 0, 0, 4), &err) == 0); /* lengths [2, 1, 4, 1] (Ansor) */
    CHECK(t->stages[4].niters == 6);
    CHECK(iext(t, 4, 0) == 8 && iext(t, 4, 1) == 2 && iext(t, 4, 2) == 1 && iext(t, 4, 3) == 4 &&
          iext(t, 4, 4) == 1);
    /* refusals: source not a split, beyond the steps so far, n_split too large */
    CHECK(refused_with(t, FSP(4, 4, 1, 2), "not SP"));
    CHECK(refused_with(t, FSP(4, 4, 5, 2), "out of range"));
    CHECK(refused_with(t, FSP(4, 4, 0, 5), "n_split"));
    tt_state_free(t);
    tt_state_free(s);
    tt_dag_free(d);
}

static void test_follow_fused_split(void)
{
    tt_dag *d = mm(64, 32, 48);
    CHECK(d);
    tt_state *s = tt_state_new(d);
    tt_err err = {0};
    CHECK(apply1(s, SP(2, 0, 64, 2, 4), &err) == 0);   /* step 0 */
    CHECK(apply1(s, SP(2, 3, 48, 3, 5), &err) == 0);   /* step 1 */
    /* level 1: factor 4*5 = 20 on 64 -> 4 x 20 */
    CHECK(apply1(s, FFSP(4, 0, 2, (int[]){0, 1}, 1, 1), &err) == 0);
    CHECK(s->stages[4].niters == 3 && iext(s, 4, 0) == 4 && iext(s, 4, 1) == 20);
    CHECK(!strcmp(iname(s, 4, 0), "i.0") && !strcmp(iname(s, 4, 1), "i.1"));
    /* level 0: factor 2*3 = 6 on 48 -> 8 x 6 */
    CHECK(apply1(s, FFSP(4, 2, 2, (int[]){0, 1}, 0, 1), &err) == 0);
    CHECK(s->stages[4].niters == 4 && iext(s, 4, 2) == 8 && iext(s, 4, 3) == 6);
    /* by nparts (factor_or_nparts = 0): 6 outer parts of 64 -> 6 x 11 */
    tt_state *t = tt_state_new(d);
    CHECK(apply1(t, SP(2, 0, 64, 2, 4), &err) == 0);
    CHECK(apply1(t, SP(2, 3, 48, 3, 5), &err) == 0);
    CHECK(apply1(t, FFSP(4, 0, 2, (int[]){0, 1}, 0, 0), &err) == 0);
    CHECK(t->stages[4].niters == 3 && iext(t, 4, 0) == 6 && iext(t, 4, 1) == 11);
    CHECK(!strcmp(iname(t, 4, 0), "i.0") && !strcmp(iname(t, 4, 1), "i.1"));
    tt_state_free(t);
    CHECK(refused_with(s, FFSP(4, 0, 1, (int[]){0}, 2, 1), "level"));
    CHECK(refused_with(s, FFSP(4, 0, 1, (int[]){2}, 0, 1), "not SP"));
    tt_state_free(s);
    tt_dag_free(d);
}

static void test_reorder(void)
{
    tt_dag *d = mm(64, 32, 48);
    CHECK(d);
    tt_state *s = tt_state_new(d);
    tt_err err = {0};
    CHECK(apply1(s, SP(2, 0, 64, 8), &err) == 0);
    CHECK(apply1(s, RE(2, 3, 0, 2, 1), &err) == 0);   /* k, i.0, j, i.1 */
    CHECK(!strcmp(iname(s, 2, 0), "k") && !strcmp(iname(s, 2, 1), "i.0") &&
          !strcmp(iname(s, 2, 2), "j") && !strcmp(iname(s, 2, 3), "i.1"));
    CHECK(iext(s, 2, 0) == 32 && iext(s, 2, 3) == 8);
    CHECK(refused_with(s, RE(2, 0, 1, 2), "has 4 iterators"));
    CHECK(refused_with(s, RE(2, 0, 1, 1, 2), "permutation"));
    CHECK(refused_with(s, RE(2, 0, 1, 2, 4), "permutation"));
    CHECK(!strcmp(iname(s, 2, 0), "k"));
    tt_state_free(s);
    tt_dag_free(d);
}

static void test_fuse(void)
{
    tt_dag *d = mm(64, 32, 48);
    CHECK(d);
    tt_state *s = tt_state_new(d);
    tt_err err = {0};
    CHECK(apply1(s, SP(2, 0, 64, 8), &err) == 0);
    CHECK(apply1(s, SP(2, 2, 48, 6), &err) == 0);   /* i.0 i.1 j.0 j.1 k */
    CHECK(apply1(s, RE(2, 0, 2, 1, 3, 4), &err) == 0); /* i.0 j.0 i.1 j.1 k */
    CHECK(apply1(s, FU(2, 0, 1), &err) == 0);
    CHECK(s->stages[2].niters == 4);
    CHECK(!strcmp(iname(s, 2, 0), "i.0@j.0@"));
    CHECK(iext(s, 2, 0) == 8 * 8 && node_at(s, 2, 0)->kind == TT_ITER_SPATIAL);
    CHECK(!strcmp(iname(s, 2, 1), "i.1") && !strcmp(iname(s, 2, 3), "k"));
    CHECK(refused_with(s, FU(2, 0, 2), "consecutive"));
    CHECK(refused_with(s, FU(2, 3, 4), "out of range"));
    /* spatial + reduce: mixed */
    CHECK(apply1(s, FU(2, 2, 3), &err) == 0);
    CHECK(s->stages[2].niters == 3 && !strcmp(iname(s, 2, 2), "j.1@k@"));
    CHECK(node_at(s, 2, 2)->kind == TT_ITER_MIXED && iext(s, 2, 2) == 6 * 32);
    /* three at once on the output stage */
    CHECK(apply1(s, SP(4, 0, 64, 4), &err) == 0);
    CHECK(apply1(s, FU(4, 0, 1, 2), &err) == 0);
    CHECK(s->stages[4].niters == 1 && !strcmp(iname(s, 4, 0), "i.0@i.1@j@"));
    CHECK(iext(s, 4, 0) == 64 * 48);
    tt_state_free(s);
    tt_dag_free(d);
}

static void test_fuse_attached(void)
{
    /* an iterator with an attached stage can only be the last one fused */
    tt_dag *d = mm(16, 8, 16);
    CHECK(d);
    tt_state *s = tt_state_new(d);
    tt_err err = {0};
    CHECK(apply1(s, CA(2, 4, 0), &err) == 0);
    CHECK(refused_with(s, FU(4, 0, 1), "computed at"));
    CHECK(apply1(s, SP(4, 1, 16, 4), &err) == 0);
    CHECK(apply1(s, CA(2, 4, 1), &err) == 0); /* at j.0 */
    CHECK(apply1(s, FU(4, 0, 1), &err) == 0);  /* i, j.0: the attached one is last */
    CHECK(s->stages[2].at == TT_AT_ITER && s->stages[2].at_node == s->stages[4].iters[0].node);
    tt_state_free(s);
    tt_dag_free(d);
}

static void test_annotation(void)
{
    tt_dag *d = mm(64, 32, 48);
    CHECK(d);
    tt_state *s = tt_state_new(d);
    tt_err err = {0};
    CHECK(apply1(s, AN(4, 0, TT_ANN_PARALLEL), &err) == 0);
    CHECK(apply1(s, AN(4, 1, TT_ANN_VECTORIZE), &err) == 0);
    CHECK(apply1(s, AN(2, 2, TT_ANN_UNROLL), &err) == 0);
    CHECK(s->stages[4].iters[0].ann == TT_ANN_PARALLEL && s->stages[4].iters[1].ann == TT_ANN_VECTORIZE);
    CHECK(s->stages[2].iters[2].ann == TT_ANN_UNROLL);
    CHECK(refused_with(s, AN(4, 0, TT_ANN_THREAD_X), "GPU"));
    CHECK(refused_with(s, AN(4, 0, TT_ANN_BLOCK_X), "GPU"));
    CHECK(refused_with(s, AN(4, 0, TT_ANN_VTHREAD), "GPU"));
    CHECK(refused_with(s, AN(4, 0, TT_ANN_TENSORIZE), "GPU"));
    CHECK(refused_with(s, AN(4, 2, TT_ANN_PARALLEL), "out of range"));
    CHECK(s->stages[4].iters[0].ann == TT_ANN_PARALLEL);
    /* a split resets the annotation of the parts */
    CHECK(apply1(s, SP(4, 0, 64, 4), &err) == 0);
    CHECK(s->stages[4].iters[0].ann == TT_ANN_NONE && s->stages[4].iters[1].ann == TT_ANN_NONE);
    CHECK(s->stages[4].iters[2].ann == TT_ANN_VECTORIZE);
    CHECK(s->nsteps == 4);
    tt_state_free(s);
    tt_dag_free(d);
}

static void test_pragma(void)
{
    tt_dag *d = mm(64, 32, 48);
    CHECK(d);
    tt_state *s = tt_state_new(d);
    tt_err err = {0};
    CHECK(apply1(s, PR(2, 0, 64), &err) == 0);
    CHECK(s->stages[2].auto_unroll_max_step == 64);
    CHECK(s->stages[2].unroll_node == s->stages[2].iters[0].node);
    CHECK(apply1(s, PR(2, 1, 0), &err) == 0);
    CHECK(s->stages[2].auto_unroll_max_step == 0);
    CHECK(refused_with(s, PR(2, 3, 16), "out of range"));
    CHECK(refused_with(s, PR(2, 0, -1), "non-negative"));
    CHECK(refused_with(s, PR(1, 0, 16), "placeholder"));
    tt_state_free(s);
    tt_dag_free(d);
}

static void test_compute_at_root(void)
{
    tt_dag *d = mm(64, 32, 48);
    CHECK(d);
    tt_state *s = tt_state_new(d);
    tt_err err = {0};
    CHECK(apply1(s, SP(4, 0, 64, 8), &err) == 0);
    CHECK(apply1(s, CA(2, 4, 1), &err) == 0);
    const tt_stage *st = &s->stages[2];
    CHECK(st->at == TT_AT_ITER && st->at_uid == s->stages[4].op.uid);
    CHECK(st->at_node == s->stages[4].iters[1].node);
    /* extents are unknown until bound inference */
    CHECK(iext(s, 2, 0) < 0 && iext(s, 2, 2) < 0);
    CHECK(iext(s, 4, 0) == 8);
    /* the output cannot move; a stage cannot be at itself */
    CHECK(refused_with(s, CA(4, 2, 0), "output"));
    CHECK(refused_with(s, CA(2, 2, 0), "itself"));
    CHECK(refused_with(s, CA(2, 4, 3), "out of range"));
    CHECK(refused_with(s, CA(2, 3, 0), "placeholder"));
    /* a split of the target moves the attachment to the innermost part */
    CHECK(apply1(s, SP(4, 1, 8, 2), &err) == 0);
    CHECK(s->stages[2].at_node == s->stages[4].iters[2].node);
    /* splits of a stage with unknown extents are still accepted */
    CHECK(apply1(s, SP(2, 0, 0, 4), &err) == 0);
    CHECK(s->stages[2].niters == 4 && iext(s, 2, 1) == 4);
    /* compute_root */
    CHECK(apply1(s, ST(TT_STEP_CR, 2), &err) == 0);
    CHECK(s->stages[2].at == TT_AT_ROOT && s->stages[2].at_uid < 0);
    char *p = tt_state_print(s);
    CHECK(p && strstr(p, "matmul"));
    free(p);
    tt_state_free(s);
    tt_dag_free(d);
}

static void test_compute_inline(void)
{
    tt_dag *d = conv_relu(); /* 0 data 1 PaddedInput 2 weight 3 Conv2dOutput 4 bias 5 T_add 6 T_relu */
    CHECK(d);
    tt_state *s = tt_state_new(d);
    CHECK(s->nstages == 7);
    CHECK(!strcmp(s->stages[1].op.name, "PaddedInput") && !strcmp(s->stages[6].op.name, "T_relu"));
    tt_err err = {0};
    CHECK(refused_with(s, ST(TT_STEP_CI, 3), "reduction"));
    CHECK(refused_with(s, ST(TT_STEP_CI, 6), "output"));
    CHECK(refused_with(s, ST(TT_STEP_CI, 0), "placeholder"));
    CHECK(apply1(s, ST(TT_STEP_CI, 5), &err) == 0);
    CHECK(s->stages[5].at == TT_AT_INLINED);
    CHECK(apply1(s, ST(TT_STEP_CI, 1), &err) == 0);
    CHECK(s->stages[1].at == TT_AT_INLINED);
    /* a stage computed at an inlined one is refused */
    CHECK(refused_with(s, CA(3, 5, 0), "inlined"));
    /* a stage with something attached cannot be inlined */
    tt_state *t = tt_state_new(d);
    CHECK(apply1(t, CA(1, 3, 1), &err) == 0);
    CHECK(apply1(t, CA(3, 5, 3), &err) == 0);
    CHECK(refused_with(t, ST(TT_STEP_CI, 5), "computed at"));
    tt_state_free(t);
    char *p = tt_state_print(s);
    CHECK(p && strstr(p, "PaddedInput: inlined") && strstr(p, "T_add: inlined"));
    free(p);
    tt_state_free(s);
    tt_dag_free(d);
}

static void test_cache_write(void)
{
    tt_err err = {0};
    tt_epilogue e = {.n = 1, .ops = {TT_EPI_RELU}};
    tt_dag *d = tt_build_dense(16, 24, 32, &e, &err); /* 0 data 1 weight 2 T_dense 3 T_relu */
    CHECK(d);
    tt_state *s = tt_state_new(d);
    CHECK(s->nstages == 4);
    int dense_uid = s->stages[2].op.uid, relu_uid = s->stages[3].op.uid;
    CHECK(apply1(s, CHW(2), &err) == 0);
    CHECK(s->nstages == 5);
    CHECK(!strcmp(s->stages[2].op.name, "T_dense.local") && !strcmp(s->stages[3].op.name, "T_dense"));
    /* the original keeps its uid (its readers still load it); the .local is new */
    CHECK(s->stages[3].op.uid == dense_uid && s->stages[2].op.uid != dense_uid);
    CHECK(s->stages[4].op.uid == relu_uid && tt_state_stage_of_uid(s, relu_uid) == 4);
    /* .local does the reduction; the copy has none and reads .local */
    CHECK(s->stages[2].niters == 3 && s->stages[2].op.nreduce == 1);
    CHECK(s->stages[3].niters == 2 && s->stages[3].op.nreduce == 0);
    CHECK(s->stages[3].op.body->kind == TT_E_LOAD && s->stages[3].op.body->u.uid == s->stages[2].op.uid);
    CHECK(!strcmp(iname(s, 2, 0), "i") && !strcmp(iname(s, 2, 2), "k"));
    /* later steps address the shifted ids: stage 4 is now relu */
    CHECK(apply1(s, SP(4, 0, 16, 4), &err) == 0);
    CHECK(s->stages[4].niters == 3);
    CHECK(apply1(s, SP(2, 0, 16, 4), &err) == 0);
    CHECK(apply1(s, CA(2, 3, 1), &err) == 0);
    /* cache_write must come before any other transformation of the stage */
    tt_state *t = tt_state_new(d);
    CHECK(apply1(t, SP(2, 0, 16, 4), &err) == 0);
    CHECK(refused_with(t, CHW(2), "already transformed"));
    CHECK(refused_with(t, CHW(1), "placeholder"));
    tt_state_free(t);
    /* the output itself can be cache-written; the copy stays the output */
    t = tt_state_new(d);
    CHECK(apply1(t, CHW(3), &err) == 0);
    CHECK(t->nstages == 5 && !strcmp(t->stages[3].op.name, "T_relu.local"));
    CHECK(!strcmp(t->stages[4].op.name, "T_relu") && t->stages[4].op.uid == relu_uid);
    CHECK(refused_with(t, ST(TT_STEP_CI, 4), "output"));
    CHECK(apply1(t, ST(TT_STEP_CI, 3), &err) == 0);
    tt_state_free(t);
    tt_state_free(s);
    tt_dag_free(d);
}

static void test_rfactor(void)
{
    tt_dag *d = softmax(1, 1000); /* 0 data 1 maxelem 2 exp 3 expsum 4 norm */
    CHECK(d);
    tt_state *s = tt_state_new(d);
    tt_err err = {0};
    CHECK(s->stages[3].niters == 2 && node_at(s, 3, 1)->kind == TT_ITER_REDUCE);
    CHECK(refused_with(s, RF(3, 0, 1), "not a reduction"));
    CHECK(apply1(s, SP(3, 1, 1000, 50), &err) == 0);
    CHECK(apply1(s, RF(3, 2, 1), &err) == 0); /* rfactor k.1 (50) at axis position 1 */
    CHECK(s->nstages == 6);
    const tt_stage *rf = &s->stages[3], *orig = &s->stages[4];
    CHECK(!strcmp(rf->op.name, "T_softmax_expsum.rf") && !strcmp(orig->op.name, "T_softmax_expsum"));
    CHECK(!strcmp(s->stages[5].op.name, "T_softmax_norm"));
    /* rf stage: axes [i0, k.1 (50)], reduce k.0 (20) */
    CHECK(rf->op.ndim == 2 && rf->op.axis[0].extent == 1 && rf->op.axis[1].extent == 50);
    CHECK(rf->op.nreduce == 1 && rf->op.raxis[0].extent == 20);
    CHECK(rf->niters == 3 && node_at(s, 3, 1)->kind == TT_ITER_SPATIAL &&
          node_at(s, 3, 2)->kind == TT_ITER_REDUCE);
    CHECK(iext(s, 3, 1) == 50 && iext(s, 3, 2) == 20);
    /* the original now reduces the 50 partial sums */
    CHECK(orig->op.ndim == 1 && orig->op.nreduce == 1 && orig->op.raxis[0].extent == 50);
    CHECK(orig->niters == 2 && iext(s, 4, 1) == 50);
    CHECK(orig->op.body->kind == TT_E_LOAD && orig->op.body->u.uid == rf->op.uid);
    /* the record continues with the shifted ids */
    CHECK(apply1(s, RE(3, 0, 2, 1), &err) == 0);
    CHECK(node_at(s, 3, 2)->kind == TT_ITER_SPATIAL);
    CHECK(apply1(s, SP(1, 1, 1000, 20), &err) == 0);
    CHECK(apply1(s, RF(1, 2, 1), &err) == 0);
    CHECK(s->nstages == 7 && !strcmp(s->stages[1].op.name, "T_softmax_maxelem.rf"));
    CHECK(!strcmp(s->stages[6].op.name, "T_softmax_norm"));
    CHECK(apply1(s, CA(5, 6, 1), &err) == 0);
    CHECK(apply1(s, CA(2, 3, 1), &err) == 0);
    /* rfactor on the outer part, factor axis first; non-divisible split */
    tt_state *t = tt_state_new(d);
    CHECK(apply1(t, SP(1, 1, 1000, 64), &err) == 0); /* 16 x 64 covers 1024 */
    CHECK(apply1(t, RF(1, 1, 0), &err) == 0);
    CHECK(t->nstages == 6 && t->stages[1].op.ndim == 2);
    CHECK(t->stages[1].op.axis[0].extent == 16 && t->stages[1].op.raxis[0].extent == 64);
    CHECK(t->stages[1].op.cond != NULL); /* k.0 * 64 + k.1 < 1000 */
    CHECK(t->stages[2].op.raxis[0].extent == 16);
    CHECK(refused_with(t, RF(2, 1, 5), "factor_iter_id"));
    /* spatial iterators must be untouched */
    tt_state *u = tt_state_new(d);
    CHECK(apply1(u, SP(3, 1, 0, 10), &err) == 0);
    CHECK(apply1(u, SP(3, 0, 0, 1), &err) == 0);
    CHECK(refused_with(u, RF(3, 3, 1), "spatial"));
    tt_state_free(u);
    tt_state_free(t);
    tt_state_free(s);
    tt_dag_free(d);
}

static void test_rfactor_fused_reduce(void)
{
    /* conv-like: fuse all reduce iterators, split, rfactor (Ansor's AddRfactor) */
    tt_dag *d = conv_relu();
    CHECK(d);
    tt_state *s = tt_state_new(d);
    tt_err err = {0};
    CHECK(s->stages[3].niters == 7); /* nn yy xx ff ry rx rc */
    CHECK(apply1(s, FU(3, 4, 5, 6), &err) == 0);
    CHECK(!strcmp(iname(s, 3, 4), "ry@rx@rc@") && iext(s, 3, 4) == 3 * 3 * 4);
    CHECK(node_at(s, 3, 4)->kind == TT_ITER_REDUCE);
    CHECK(apply1(s, SP(3, 4, 36, 8), &err) == 0); /* 5 x 8, non-divisible */
    CHECK(apply1(s, RF(3, 5, 4), &err) == 0);
    CHECK(s->nstages == 8 && s->stages[3].op.ndim == 5 && s->stages[3].op.axis[4].extent == 8);
    CHECK(s->stages[3].niters == 6 && s->stages[4].niters == 5);
    CHECK(!strcmp(s->stages[7].op.name, "T_relu"));
    tt_state_free(s);
    tt_dag_free(d);
}

static void test_rfactor_inner_split_guard(void)
{
    /* k (40) = k.0 (5) x k.1 (8); k.1 by 3 covers 9 > 8: k.0 * 8 + 8 would be
     * summed twice (once as k.1 = 8 of k.0, once as k.1 = 0 of k.0 + 1) unless
     * the rf stage keeps the bound check k.1.0 * 3 + k.1.1 < 8, as TVM's
     * rfactor does for every split iter var */
    tt_dag *d = softmax(2, 40);
    CHECK(d);
    tt_state *s = tt_state_new(d);
    tt_err err = {0};
    CHECK(apply1(s, SP(3, 1, 40, 8), &err) == 0);
    CHECK(apply1(s, SP(3, 2, 8, 3), &err) == 0);
    CHECK(iext(s, 3, 2) == 3 && iext(s, 3, 3) == 3);
    CHECK(apply1(s, RF(3, 3, 1), &err) == 0);
    CHECK(s->nstages == 6 && s->stages[3].op.nreduce == 2);
    CHECK_MSG(s->stages[3].op.cond != NULL, "rf stage %s has no predicate for the inner split",
              s->stages[3].op.name);
    /* divisible inner split: no predicate needed */
    tt_state *t = tt_state_new(d);
    CHECK(apply1(t, SP(3, 1, 40, 8), &err) == 0);
    CHECK(apply1(t, SP(3, 2, 8, 4), &err) == 0);
    CHECK(apply1(t, RF(3, 3, 1), &err) == 0);
    CHECK(t->stages[3].op.cond == NULL);
    tt_state_free(t);
    tt_state_free(s);
    tt_dag_free(d);
}

static void test_gpu_steps_refused(void)
{
    tt_dag *d = mm(64, 32, 48);
    CHECK(d);
    tt_state *s = tt_state_new(d);
    tt_step chr = ST(TT_STEP_CHR, 2);
    snprintf(chr.scope, sizeof chr.scope, "shared");
    chr.nids = 1;
    chr.ids[0] = 4;
    CHECK(refused_with(s, chr, "CHR (cache_read) is a GPU step"));
    tt_step sa = ST(TT_STEP_SA, 2);
    sa.iter = 0;
    sa.factor = 32;
    sa.offset = 1;
    CHECK(refused_with(s, sa, "SA (storage_align) is a GPU step"));
    tt_step bad = ST((tt_steptag)TT_STEP_COUNT, 2);
    CHECK(refused_with(s, bad, "unknown step"));
    CHECK(s->nsteps == 0 && s->nstages == 5);
    tt_state_free(s);
    tt_dag_free(d);
}

static void test_copy_independent(void)
{
    tt_dag *d = mm(64, 32, 48);
    CHECK(d);
    tt_state *s = tt_state_new(d);
    tt_err err = {0};
    CHECK(apply1(s, SP(2, 0, 64, 8), &err) == 0);
    tt_state *c = tt_state_copy(s);
    CHECK(c->nsteps == 1 && c->stages[2].niters == 4 && c->nstages == 5);
    /* change the copy: the original does not see it */
    CHECK(apply1(c, SP(2, 2, 48, 4), &err) == 0);
    CHECK(apply1(c, AN(2, 0, TT_ANN_PARALLEL), &err) == 0);
    CHECK(apply1(c, CHW(4), &err) == 0);
    CHECK(c->nsteps == 4 && c->nstages == 6 && c->stages[2].niters == 5);
    CHECK(s->nsteps == 1 && s->nstages == 5 && s->stages[2].niters == 4);
    CHECK(s->stages[2].iters[0].ann == TT_ANN_NONE);
    /* change the original: the copy does not see it */
    CHECK(apply1(s, RE(2, 3, 2, 1, 0), &err) == 0);
    CHECK(!strcmp(iname(c, 2, 0), "i.0") && !strcmp(iname(s, 2, 0), "k"));
    /* many steps on a copy (step list growth) */
    tt_state *c2 = tt_state_copy(s);
    for (int i = 0; i < 100; i++)
        CHECK(apply1(c2, AN(4, 0, i % 2 ? TT_ANN_PARALLEL : TT_ANN_NONE), &err) == 0);
    CHECK(c2->nsteps == 102 && s->nsteps == 2);
    tt_state_free(c2);
    /* the copy outlives the original (shared expression arena) */
    tt_state_free(s);
    CHECK(c->stages[5].op.body && c->stages[5].op.body->kind == TT_E_LOAD);
    tt_state *c3 = tt_state_copy(c);
    tt_state_free(c);
    CHECK(apply1(c3, CHW(5), &err) == 0); /* creates expressions in the shared arena */
    CHECK(c3->nstages == 7 && c3->stages[6].op.body->u.uid == c3->stages[5].op.uid);
    char *p = tt_state_print(c3);
    CHECK(p && strstr(p, "out.local"));
    free(p);
    tt_state_free(c3);
    tt_dag_free(d);
}

static void test_print(void)
{
    tt_dag *d = mm(64, 32, 48);
    CHECK(d);
    tt_state *s = tt_state_new(d);
    tt_err err = {0};
    CHECK(apply1(s, SP(2, 0, 64, 8), &err) == 0);
    CHECK(apply1(s, FSP(4, 0, 0, 1), &err) == 0);
    CHECK(apply1(s, CA(2, 4, 0), &err) == 0);
    CHECK(apply1(s, AN(4, 0, TT_ANN_PARALLEL), &err) == 0);
    CHECK(apply1(s, PR(4, 0, 16), &err) == 0);
    char *p = tt_state_print(s);
    CHECK(p);
    CHECK(strstr(p, "i.0 (8) parallel"));
    CHECK(strstr(p, "auto_unroll_max_step=16"));
    CHECK(strstr(p, "matmul = ...") && strstr(p, "out = ..."));
    /* matmul printed inside out's loop (indented) */
    CHECK(strstr(p, "out = ...") > strstr(p, "matmul = ..."));
    free(p);
    tt_state_free(s);
    tt_dag_free(d);
}

const tt_test tests_sched[] = {
    {"initial_state", test_initial_state},
    {"split_divisible", test_split_divisible},
    {"split_nondivisible", test_split_nondivisible},
    {"split_refusals", test_split_refusals},
    {"follow_split", test_follow_split},
    {"follow_fused_split", test_follow_fused_split},
    {"reorder", test_reorder},
    {"fuse", test_fuse},
    {"fuse_attached", test_fuse_attached},
    {"annotation", test_annotation},
    {"pragma", test_pragma},
    {"compute_at_root", test_compute_at_root},
    {"compute_inline", test_compute_inline},
    {"cache_write", test_cache_write},
    {"rfactor", test_rfactor},
    {"rfactor_fused_reduce", test_rfactor_fused_reduce},
    {"rfactor_inner_split_guard", test_rfactor_inner_split_guard},
    {"gpu_steps_refused", test_gpu_steps_refused},
    {"copy_independent", test_copy_independent},
    {"print", test_print},
    {NULL, NULL},
};
