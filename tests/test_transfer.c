/* test_transfer.c - transfer-tuning: the choices from given measured times,
 * and a real transfer between two tiny models that share kernel classes
 * (tiny -> tiny_wide), with a record of the target itself planted in the
 * database that must never be used. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../src/search/policy.h"
#include "../src/transfer/transfer.h"
#include "../src/tune/tune.h"
#include "test.h"

/* ---- from given times -------------------------------------------------------- */

static void test_choose(void)
{
    int ok[4] = {1, 1, 0, 1};
    double t[4] = {3e-3, 2e-3, 1e-3, 2.5e-3};
    /* the fastest correct one; the wrong (faster) one never wins */
    CHECK(tt_transfer_choose(4, ok, NULL, t, 4e-3) == 1);
    /* nothing beats the default: the default stays */
    CHECK(tt_transfer_choose(4, ok, NULL, t, 1.5e-3) == -1);
    /* a tie with the default is not an improvement */
    CHECK(tt_transfer_choose(4, ok, NULL, t, 2e-3) == -1);
    /* no correct candidate */
    int none[4] = {0, 0, 0, 0};
    CHECK(tt_transfer_choose(4, none, NULL, t, 9) == -1);
    /* unknown default time: any correct candidate may win */
    CHECK(tt_transfer_choose(4, ok, NULL, t, -1) == 1);
    /* a time of 0 or below is no measurement */
    double z[2] = {0, 5e-3};
    int ok2[2] = {1, 1};
    CHECK(tt_transfer_choose(2, ok2, NULL, z, 1e-2) == 1);
    CHECK(tt_transfer_choose(0, NULL, NULL, NULL, 1) == -1);
    /* a candidate stopped at the cutoff is never chosen, whatever its time
     * says (its one call is all it has) */
    int cut[4] = {0, 1, 0, 0};
    CHECK(tt_transfer_choose(4, ok, cut, t, 4e-3) == 3);
    int allcut[4] = {1, 1, 1, 1};
    CHECK(tt_transfer_choose(4, ok, allcut, t, 4e-3) == -1);
    CHECK(tt_transfer_choose(4, ok, allcut, t, -1) == -1);
}

/* The ranking rule from given scores: the best-scored first, the minimum
 * always, more only while within the margin of the best, never past the
 * maximum; ties by index; margin < 0 is exactly kmin. */
static void test_rank_keep(void)
{
    double sc[6] = {0.2, 0.9, 0.5, 0.88, 0.1, 0.86};
    int keep[6];
    /* kmin 2: 1 (0.9) and 3 (0.88); 5 (0.86) is within 0.05 of 0.9: kept; 2 (0.5) is not */
    CHECK(tt_transfer_rank_keep(6, sc, 2, 5, 0.05, keep) == 3);
    CHECK(!keep[0] && keep[1] && !keep[2] && keep[3] && !keep[4] && keep[5]);
    /* the maximum caps the unsure ones */
    CHECK(tt_transfer_rank_keep(6, sc, 2, 2, 0.05, keep) == 2);
    CHECK(keep[1] && keep[3] && !keep[5]);
    /* exactly K: margin < 0 */
    CHECK(tt_transfer_rank_keep(6, sc, 3, 3, -1, keep) == 3);
    CHECK(keep[1] && keep[3] && keep[5] && !keep[2]);
    CHECK(tt_transfer_rank_keep(6, sc, 1, 1, -1, keep) == 1);
    CHECK(keep[1] && keep[0] + keep[2] + keep[3] + keep[4] + keep[5] == 0);
    /* the minimum wins over the margin; fewer candidates than the minimum: all */
    CHECK(tt_transfer_rank_keep(6, sc, 4, 4, 0.0, keep) == 4);
    CHECK(keep[1] && keep[3] && keep[5] && keep[2]);
    CHECK(tt_transfer_rank_keep(2, sc, 3, 5, 0.05, keep) == 2);
    /* ties keep index order; a wide margin keeps up to the maximum */
    double eq[4] = {0.5, 0.5, 0.5, 0.5};
    CHECK(tt_transfer_rank_keep(4, eq, 1, 1, -1, keep) == 1 && keep[0]);
    CHECK(tt_transfer_rank_keep(4, eq, 2, 3, 0.05, keep) == 3 && keep[0] && keep[1] && keep[2] && !keep[3]);
    /* a NaN score is never within the margin */
    double nan_sc[3] = {0.9, NAN, 0.89};
    CHECK(tt_transfer_rank_keep(3, nan_sc, 1, 3, 0.05, keep) >= 1 && keep[0]);
    CHECK(tt_transfer_rank_keep(0, NULL, 2, 5, 0.05, keep) == 0);
}

static void test_resets(void)
{
    int chosen[5] = {1, 1, 0, 1, 1};
    double tuned[5] = {1.0, 2.0, 5.0, 3.0, 0.5};
    double untuned[5] = {1.5, 1.9, 1.0, 3.0, 0.7};
    int reset[5];
    /* only chosen kernels that are slower in place: kernel 1 (2.0 > 1.9);
     * kernel 2 is slower but runs its default anyway; equal is kept */
    CHECK(tt_transfer_resets(5, chosen, tuned, untuned, reset) == 1);
    CHECK(!reset[0] && reset[1] && !reset[2] && !reset[3] && !reset[4]);
}


/* ---- moving a schedule to a related class (tt_transfer_retarget) ------------ */

static tt_dag *conv_with(const tt_epilogue *e, int64_t h, int64_t groups)
{
    tt_conv2d_params p;
    memset(&p, 0, sizeof p);
    p.n = 1, p.h = p.w = h, p.ci = 16, p.kh = p.kw = 3, p.co = 16;
    p.stride_h = p.stride_w = 1, p.pad_t = p.pad_l = p.pad_b = p.pad_r = 1, p.dil_h = p.dil_w = 1;
    p.groups = groups;
    tt_err err = {0};
    tt_dag *d = tt_build_conv2d_nhwc(&p, e, &err);
    if (!d)
        fprintf(stderr, "    conv2d: %s\n", err.msg);
    return d;
}

/* A random sketch-based schedule of d (the search's own), or NULL. */
static tt_state *random_schedule(const tt_dag *d, uint64_t seed)
{
    tt_search_params p;
    tt_search_params_default(&p);
    tt_err e = {0};
    tt_policy *sp = tt_policy_new(d, &p, seed, &e);
    if (!sp)
        return NULL;
    tt_state *s[1];
    int got = tt_policy_next_batch(sp, NULL, 1, s, &e);
    tt_policy_free(sp);
    return got == 1 ? s[0] : NULL;
}

/* The steps of a without its CI steps equal those of b without theirs (the
 * same schedule up to where the inlining is written). */
static int same_but_inlining(const tt_step *a, int na, const tt_step *b, int nb)
{
    int i = 0, j = 0;
    for (;;) {
        while (i < na && a[i].tag == TT_STEP_CI)
            i++;
        while (j < nb && b[j].tag == TT_STEP_CI)
            j++;
        if (i == na || j == nb)
            return i == na && j == nb;
        tt_step x = a[i], y = b[j];
        /* FSP refers to a step index, which shifts with the CI steps: compare
         * the steps they follow instead */
        if (x.tag == TT_STEP_FSP && y.tag == TT_STEP_FSP) {
            if (x.src_step < 0 || x.src_step >= na || y.src_step < 0 || y.src_step >= nb ||
                !same_but_inlining(&a[x.src_step], 1, &b[y.src_step], 1))
                return 0;
            x.src_step = y.src_step = 0;
        }
        char *sx = tt_steps_write(&x, 1), *sy = tt_steps_write(&y, 1);
        int same = !strcmp(sx, sy);
        free(sx);
        free(sy);
        if (!same)
            return 0;
        i++, j++;
    }
}

static void test_retarget(void)
{
    tt_epilogue relu = {.n = 2, .ops = {TT_EPI_BIAS_ADD, TT_EPI_RELU}};
    tt_epilogue clip = {.n = 2, .ops = {TT_EPI_BIAS_ADD, TT_EPI_CLIP}, .lo = {0, 0}, .hi = {0, 6}};
    tt_epilogue res = {.n = 3, .ops = {TT_EPI_BIAS_ADD, TT_EPI_RESIDUAL_ADD, TT_EPI_RELU}};
    tt_dag *a = conv_with(&relu, 14, 1), *b = conv_with(&clip, 12, 1), *c = conv_with(&res, 10, 1);
    tt_dag *dw = conv_with(&relu, 14, 16);
    CHECK(a && b && c && dw);
    CHECK(!strcmp(b->class_key, "conv2d_nhwc+add+clip") && !strcmp(c->class_key, "conv2d_nhwc+add+add+relu"));
    tt_dag_layout *L[4];
    const tt_dag *D[4] = {a, b, c, dw};
    tt_err err = {0};
    for (int i = 0; i < 4; i++) {
        L[i] = malloc(sizeof *L[i]);
        CHECK(tt_dag_layout_of(D[i], L[i], &err) == 0);
    }
    tt_step *out = malloc(TT_MAX_STEPS * sizeof *out), *back = malloc(TT_MAX_STEPS * sizeof *back);
    int moved = 0;
    for (uint64_t seed = 1; seed <= 12; seed++) {
        tt_state *s = random_schedule(a, seed);
        CHECK(s);
        /* relu -> clip: same stages, the same schedule */
        int n = 0, nb = 0;
        CHECK_MSG(tt_transfer_retarget(L[0], L[1], s->steps, s->nsteps, out, TT_MAX_STEPS, &n, &err) == 0,
                  "seed %d: %s", (int)seed, err.msg);
        CHECK_MSG(same_but_inlining(s->steps, s->nsteps, out, n), "seed %d: relu -> clip changed the "
                  "schedule", (int)seed);
        tt_state *r = tt_state_replay_rebased(b, out, n, &err);
        CHECK_MSG(r, "seed %d: relu -> clip does not replay: %s", (int)seed, err.msg);
        tt_state_free(r);
        /* relu -> add+relu (one more stage): the output's steps move from
         * stage 6 to 8, T_add (5) and T_add (7) are inlined */
        CHECK(tt_transfer_retarget(L[0], L[2], s->steps, s->nsteps, out, TT_MAX_STEPS, &n, &err) == 0);
        int ci5 = 0, ci7 = 0, on6 = 0;
        for (int i = 0; i < n; i++) {
            ci5 |= out[i].tag == TT_STEP_CI && out[i].stage == 5;
            ci7 |= out[i].tag == TT_STEP_CI && out[i].stage == 7;
            on6 |= out[i].stage == 6;
            if (out[i].tag == TT_STEP_FSP) /* it follows a split of the same kind */
                CHECK(out[i].src_step < i && out[out[i].src_step].tag == TT_STEP_SP);
        }
        CHECK_MSG(ci5 && ci7 && !on6, "seed %d: %d %d %d", (int)seed, ci5, ci7, on6);
        r = tt_state_replay_rebased(c, out, n, &err);
        CHECK_MSG(r, "seed %d: relu -> add+relu does not replay: %s", (int)seed, err.msg);
        tt_state_free(r);
        /* and back: the original schedule again */
        CHECK(tt_transfer_retarget(L[2], L[0], out, n, back, TT_MAX_STEPS, &nb, &err) == 0);
        CHECK_MSG(same_but_inlining(s->steps, s->nsteps, back, nb), "seed %d: round trip", (int)seed);
        /* another anchor (depthwise) is refused with a reason */
        tt_err e = {0};
        CHECK(tt_transfer_retarget(L[0], L[3], s->steps, s->nsteps, out, TT_MAX_STEPS, &n, &e) == -1);
        CHECK(strstr(e.msg, "anchor"));
        moved++;
        tt_state_free(s);
    }
    CHECK(moved == 12);
    /* a step that schedules an epilogue stage beyond inlining it does not move */
    tt_step bad[2];
    memset(bad, 0, sizeof bad);
    bad[0].tag = TT_STEP_AN;
    bad[0].stage = 5; /* T_add of the relu kernel */
    bad[0].ann = TT_ANN_PARALLEL;
    int n = 0;
    err.set = 0;
    CHECK(tt_transfer_retarget(L[0], L[1], bad, 1, out, TT_MAX_STEPS, &n, &err) == -1);
    CHECK(strstr(err.msg, "epilogue"));
    /* a cache write on the output: the stage it inserts is followed */
    tt_step chw[3];
    memset(chw, 0, sizeof chw);
    chw[0].tag = TT_STEP_CI, chw[0].stage = 5;
    chw[1].tag = TT_STEP_CHW, chw[1].stage = 6;
    snprintf(chw[1].scope, sizeof chw[1].scope, "local");
    chw[2].tag = TT_STEP_AN, chw[2].stage = 7, chw[2].iter = 0, chw[2].ann = TT_ANN_PARALLEL;
    CHECK(tt_transfer_retarget(L[0], L[2], chw, 3, out, TT_MAX_STEPS, &n, &err) == 0);
    CHECK_MSG(n == 4 && out[2].tag == TT_STEP_CHW && out[2].stage == 8 && out[3].stage == 9,
              "n %d: %d/%d", n, out[2].stage, out[3].stage);
    tt_state *r = tt_state_replay_rebased(c, out, n, &err);
    CHECK_MSG(r, "%s", err.msg);
    tt_state_free(r);
    free(out);
    free(back);
    for (int i = 0; i < 4; i++) {
        free(L[i]);
        tt_dag_free((tt_dag *)D[i]);
    }
}


static void test_shape_distance(void)
{
    const char *a = "[\"h1\", [1, 56, 56, 64], [3, 3, 64, 64], [1, 1, 1, 64], [1, 56, 56, 64]]";
    const char *b = "[\"h2\", [1, 28, 28, 128], [3, 3, 128, 128], [1, 1, 1, 128], [1, 28, 28, 128]]";
    const char *c = "[\"h3\", [1, 7, 7, 512], [1, 1, 512, 2048], [1, 1, 1, 2048], [1, 7, 7, 2048]]";
    const char *d = "[\"h4\", [1, 512], [10, 512], [10], [1, 10]]";
    CHECK(tt_transfer_shape_distance(a, a) == 0);
    double ab = tt_transfer_shape_distance(a, b), ac = tt_transfer_shape_distance(a, c);
    CHECK(ab > 0 && ab == tt_transfer_shape_distance(b, a));
    /* dims doubled or halved: data 3 + weight 2 + output 3 */
    CHECK_MSG(fabs(ab - 8) < 1e-9, "%g", ab);
    CHECK(ac > ab);
    CHECK(tt_transfer_shape_distance(a, d) >= 24);  /* other ranks everywhere */
    CHECK(tt_transfer_shape_distance(a, "not a key") == 1e9);
}

/* ---- a real transfer ------------------------------------------------------------- */

static char tdir[256], tdb[300];

static const char *tmp_db(void)
{
    if (tt_temp_dir("tt-test-transfer", tdir, sizeof tdir, NULL))
        return NULL;
    snprintf(tdb, sizeof tdb, "%s/t.db", tdir);
    return tdb;
}

static void tmp_done(void)
{
    if (tt_remove_tree(tdir))
        fprintf(stderr, "    could not remove %s\n", tdir);
}

/* The usual fixture: tiny (the source), tiny_wide (the target) and an empty
 * database in a fresh folder; 0 with a message if any fails. */
static int tiny_pair_open(tt_model **src, tt_model **dst, tt_db **db)
{
    tt_err err = {0};
    const char *path = tmp_db();
    if (!path || tt_model_load("tiny", src, &err) || tt_model_load("tiny_wide", dst, &err) ||
        tt_db_open(path, 0, db, &err)) {
        fprintf(stderr, "    fixture: %s\n", path ? err.msg : "cannot create a folder");
        return 0;
    }
    return 1;
}

static void tiny_pair_close(tt_model *src, tt_model *dst, tt_db *db)
{
    tt_db_close(db);
    tt_model_free(src);
    tt_model_free(dst);
    tmp_done();
}

/* Store one random schedule of each searched kernel of m (of class `only`
 * if not NULL) as a record of `source` (given cost); returns the number
 * stored, -1 on error. */
static int plant_only(tt_db *db, const tt_model *m, const char *source, double cost, uint64_t seed,
                      const char *only)
{
    tt_err err = {0};
    int64_t mid = 0;
    int64_t kids[64];
    if (m->nkernels > 64 || tt_db_add_model(db, source, "test", m, &mid, kids, &err)) {
        fprintf(stderr, "    %s\n", err.msg);
        return -1;
    }
    tt_db_target tg;
    tt_db_target_host(&tg, 1);
    int n = 0;
    for (int k = 0; k < m->nkernels; k++) { /* the Winograd twins too */
        const tt_dag *d = m->kernels[k].dag;
        if (only && strcmp(d->class_key, only))
            continue;
        tt_state *s[1] = {random_schedule(d, seed + (uint64_t)k)};
        if (!s[0])
            continue; /* no sketch: not a searched kernel */
        tt_result res;
        memset(&res, 0, sizeof res);
        res.ncosts = 1;
        res.costs[0] = cost;
        res.mean = cost;
        res.correct = 1;
        tt_record *rec = tt_xcalloc(1, sizeof *rec);
        tt_tune_fill_record(rec, s[0], &res, 0, &tg);
        tt_db_rec in = {kids[k], rec, &tg, TT_ORIGIN_TUNED, mid};
        int rc = tt_db_add_records(db, 1, &in, NULL, &err);
        free(rec);
        tt_state_free(s[0]);
        if (rc) {
            fprintf(stderr, "    %s\n", err.msg);
            return -1;
        }
        n++;
    }
    return n;
}

static int plant(tt_db *db, const tt_model *m, const char *source, double cost, uint64_t seed)
{
    return plant_only(db, m, source, cost, seed, NULL);
}

typedef struct seen_rows {
    int transferred, from_target, bad;
    const tt_model *m;
    int64_t target;
} seen_rows;

/* Every transferred record of the target replays exactly on its kernel. */
static int on_row(void *ctx, const tt_db_row *row)
{
    seen_rows *s = ctx;
    if (row->origin != TT_ORIGIN_TRANSFERRED)
        return 0;
    s->transferred++;
    s->from_target += row->source_model == s->target;
    return 0;
}

/* A transfer's report agrees with itself and with the rule kernels are
 * chosen by; each of these can fail (unlike tuned_s <= untuned_s, which the
 * end-to-end step forces by falling back to the untuned model):
 *   - speedup is untuned_s / tuned_s, both positive;
 *   - a chosen kernel has a checked candidate whose first time (best_s) and
 *     second (chosen_s, after confirmation) are below its default's; one not
 *     chosen runs its default (chosen_s == default_s), also when reset;
 *   - best_s is set iff a candidate was correct and not cut off, and the
 *     per-candidate details count the kernel's valid ones;
 *   - a kernel whose fastest candidate beat its default but is not chosen
 *     was rejected by confirmation or reset: confirm_rejected counts the first;
 *   - kernels_chosen, kernels_improved (chosen and running) and resets are
 *     the counts of the per-kernel fields;
 *   - with no kernel chosen the transferred model is the untuned one (same
 *     time, same output).
 * 1, or 0 with why filled. */
static int result_consistent(const tt_transfer_result *r, char *why, size_t n)
{
    if (!(r->untuned_s > 0 && r->tuned_s > 0 &&
          fabs(r->speedup - r->untuned_s / r->tuned_s) <= 1e-12 * r->speedup)) {
        snprintf(why, n, "speedup %.6g, untuned %.6g s, tuned %.6g s", r->speedup, r->untuned_s,
                 r->tuned_s);
        return 0;
    }
    int chosen = 0, improved = 0, resets = 0, rejected = 0;
    for (int k = 0; k < r->nkernels; k++) {
        const tt_transfer_kernel *x = &r->k[k];
        int beat = x->valid >= 1 && x->best_s > 0 && x->best_s < x->default_s;
        int ok = x->chosen ? beat && x->chosen_s > 0 && x->chosen_s < x->default_s && !x->reset
                           : x->chosen_s == x->default_s;
        /* the fastest is of the correct candidates not stopped at the cutoff */
        int uncut = 0, correct = 0;
        for (int i = 0; i < x->ncands; i++) {
            uncut += x->cands[i].correct && !x->cands[i].cut;
            correct += x->cands[i].correct;
        }
        if (!ok || (x->best_s > 0) != (uncut >= 1) || correct != x->valid) {
            snprintf(why, n, "kernel %d: chosen %d, reset %d, valid %d, best %.6g s, chosen %.6g s, "
                     "default %.6g s", k, x->chosen, x->reset, x->valid, x->best_s, x->chosen_s,
                     x->default_s);
            return 0;
        }
        chosen += x->chosen;
        improved += x->chosen && x->runs;
        resets += x->reset;
        rejected += beat && !x->chosen && !x->reset;
    }
    if (chosen != r->kernels_chosen || improved != r->kernels_improved || resets != r->resets ||
        rejected != r->confirm_rejected) {
        snprintf(why, n, "kernels: %d chosen, %d improved, %d reset, %d rejected; reported %d, %d, "
                 "%d, %d", chosen, improved, resets, rejected, r->kernels_chosen,
                 r->kernels_improved, r->resets, r->confirm_rejected);
        return 0;
    }
    if (chosen == 0 && !(r->tuned_s == r->untuned_s && r->max_rel_err == 0)) {
        snprintf(why, n, "nothing chosen, yet tuned %.6g s, untuned %.6g s, error %.3g",
                 r->tuned_s, r->untuned_s, r->max_rel_err);
        return 0;
    }
    return 1;
}

static void test_tiny_to_wide(void)
{
    tt_err err = {0};
    tt_model *src = NULL, *dst = NULL;
    tt_db *db = NULL;
    CHECK(tiny_pair_open(&src, &dst, &db));
    int ns = plant(db, src, "tiny", 1e-3, 11);
    CHECK(ns >= 5);
    /* a record "tuned" for the target itself, absurdly fast: never used */
    int nt = plant(db, dst, "tiny_wide", 1e-9, 99);
    CHECK(nt >= 5);
    tt_transfer_opts o;
    memset(&o, 0, sizeof o);
    o.match = TT_MATCH_EXACT; /* the paper's rule: one candidate per kernel */
    o.threads = 1;
    o.repeat = 5;
    tt_transfer_result r;
    int rc = tt_transfer_model(db, "tiny_wide", "tiny_wide", dst, &o, &r, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    fprintf(stderr, "    %d candidates, %d valid, %d improved; untuned %.3f ms, transferred %.3f ms, %.1f s\n",
            r.candidates, r.valid, r.kernels_improved, r.untuned_s * 1e3, r.tuned_s * 1e3, r.search_s);
    CHECK(r.nsources == 1 && !strcmp(r.sources[0], "tiny") && r.coverage[0] > 0.99);
    /* a kernel's candidates: tiny's records of its class, one per kernel of
     * tiny (one of each class, but two Winograd twins, F(4,3) and F(2,3),
     * whose class is one) */
    int wino = 0;
    for (int k = 0; k < r.nkernels; k++) {
        const tt_transfer_kernel *x = &r.k[k];
        int same = 0;
        for (int j = 0; j < src->nkernels; j++)
            same += !strcmp(src->kernels[j].dag->class_key, x->class_key);
        CHECK_MSG(x->candidates == same, "kernel %d: %d candidates, %d of its class", k,
                  x->candidates, same);
        CHECK(x->valid <= x->replayed && x->replayed <= x->candidates);
        /* a form much slower in place, or a kernel among the smallest 5% of
         * the untuned model's time, measures nothing */
        CHECK(!(x->form_skipped || x->time_skipped) || (x->valid == 0 && x->ncands == 0));
        wino += x->alt_of >= 0 && (x->valid > 0 || x->form_skipped || x->time_skipped);
        if (x->chosen) {
            /* only a checked candidate faster than the default */
            CHECK(x->valid >= 1 && x->default_s > 0 && x->chosen_s < x->default_s);
            CHECK(!strcmp(x->source, "tiny"));
        } else if (!x->reset) {
            CHECK(x->chosen_s == x->default_s);
        }
    }
    /* the kernels left out for their time: at most 5% of the profiled time */
    double all_s = 0, skipped_s = 0;
    for (int k = 0; k < r.nkernels; k++) {
        all_s += r.k[k].inplace_s;
        skipped_s += r.k[k].time_skipped ? r.k[k].inplace_s : 0;
    }
    CHECK_MSG(all_s > 0 && skipped_s <= (1 - TT_TRANSFER_TIME_COVER) * all_s + 1e-12, "%g of %g s left out", skipped_s, all_s);
    CHECK(wino == 2); /* the twins took Winograd schedules, measured and checked (or their
                         form was left out as slower in place) */
    char why[300];
    CHECK_MSG(result_consistent(&r, why, sizeof why), "%s", why);
    CHECK(r.max_rel_err <= 1e-3);
    /* exactly one form of the 3x3 conv runs */
    int runs = 0;
    for (int k = 0; k < r.nkernels; k++)
        runs += r.k[k].runs && (k == 1 || r.k[k].alt_of == 1);
    CHECK(runs == 1);
    /* the chosen records: in the database as transferred, from tiny */
    int64_t tid = 0;
    CHECK(tt_db_model_id(db, "tiny_wide", &tid, &err) == 1);
    seen_rows sr = {0, 0, 0, dst, tid};
    CHECK(tt_db_foreach_record(db, tid, NULL, NULL, on_row, &sr, &err) == 0);
    CHECK_MSG(sr.transferred == r.kernels_chosen && sr.from_target == 0, "%d transferred, %d from the target",
              sr.transferred, sr.from_target);
    /* and they replay exactly on the target's kernels (no lax extents) */
    for (int k = 0; k < dst->nkernels; k++) {
        tt_db_filter f;
        memset(&f, 0, sizeof f);
        f.origins = 1u << TT_ORIGIN_TRANSFERRED;
        tt_db_row *row = tt_xmalloc(sizeof *row);
        int got = tt_db_best_record(db, dst->kernels[k].workload_key, &f, row, &err);
        CHECK(got >= 0);
        if (got) {
            tt_state *s = tt_state_new(dst->kernels[k].dag);
            int ok = tt_state_apply_all(s, row->rec.steps, row->rec.nsteps, &err) == 0;
            tt_state_free(s);
            CHECK_MSG(ok, "kernel %d: %s", k, err.msg);
        }
        free(row);
    }
    tt_transfer_result_free(&r);
    tiny_pair_close(src, dst, db);
}


/* Related classes: the source has schedules of its conv2d+add+relu kernel
 * only.  The paper's rule gives tiny_wide's conv2d+add+clip kernel nothing;
 * the default (auto) gives it that schedule rewritten for its stages,
 * measured and checked like any candidate; related classes never replace a
 * same-class candidate under auto. */
static void test_related(void)
{
    tt_err err = {0};
    tt_model *src = NULL, *dst = NULL;
    tt_db *db = NULL;
    CHECK(tiny_pair_open(&src, &dst, &db));
    CHECK(plant_only(db, src, "tiny", 1e-3, 21, "conv2d_nhwc+add+relu") == 1);
    CHECK(plant_only(db, src, "tiny_again", 1e-3, 22, "conv2d_nhwc+add+relu") == 1);
    int kclip = -1, krelu = -1;
    for (int k = 0; k < dst->nkernels; k++) {
        if (!strcmp(dst->kernels[k].dag->class_key, "conv2d_nhwc+add+clip"))
            kclip = k;
        if (!strcmp(dst->kernels[k].dag->class_key, "conv2d_nhwc+add+relu"))
            krelu = k;
    }
    CHECK(kclip >= 0 && krelu >= 0);
    /* auto (related_k default 8), exact, auto with related_k 1 */
    for (int run = 0; run < 3; run++) {
        int mode = run == 1 ? TT_MATCH_EXACT : TT_MATCH_AUTO;
        tt_transfer_opts o;
        memset(&o, 0, sizeof o);
        o.match = (tt_transfer_match)mode;
        o.related_k = run == 2 ? 1 : 0;
        o.threads = 1;
        o.repeat = 3;
        tt_transfer_result r;
        int rc = tt_transfer_model(db, "tiny_wide", "tiny_wide", dst, &o, &r, &err);
        CHECK_MSG(rc == 0, "%s", err.msg);
        const tt_transfer_kernel *c = &r.k[kclip], *x = &r.k[krelu];
        fprintf(stderr, "    %s: clip kernel %d candidates (%d related), %d valid: %s\n",
                tt_transfer_match_names[mode], c->candidates, c->related, c->valid, c->reason);
        CHECK(x->candidates == 2 && x->related == 0);
        if (mode == TT_MATCH_EXACT) {
            CHECK(c->candidates == 0 && c->related == 0);
        } else {
            /* the 1x1 clip kernel takes the 3x3 relu kernels' schedules (one
             * under related_k 1) */
            int want = run == 2 ? 1 : 2;
            CHECK(c->candidates == want && c->related == want && c->replayed == want);
            CHECK_MSG(c->valid == want, "a moved schedule computes a wrong result: %s", c->reason);
            if (c->chosen)
                CHECK(!strcmp(c->source_class, "conv2d_nhwc+add+relu") && c->chosen_s < c->default_s);
        }
        char why[300];
        CHECK_MSG(result_consistent(&r, why, sizeof why), "%s", why);
        CHECK(r.max_rel_err <= 1e-3);
        tt_transfer_result_free(&r);
    }
    tiny_pair_close(src, dst, db);
}

/* --top-k 1 with two sources: every kernel measures at most one of its two
 * candidates, the other is ranked out by the cost model unmeasured. */
static void test_top_k(void)
{
    tt_err err = {0};
    tt_model *src = NULL, *dst = NULL;
    tt_db *db = NULL;
    CHECK(tiny_pair_open(&src, &dst, &db));
    CHECK(plant(db, src, "tiny", 1e-3, 11) >= 5);
    CHECK(plant(db, src, "tiny_again", 2e-3, 12) >= 5); /* other random schedules */
    tt_transfer_opts o;
    memset(&o, 0, sizeof o);
    o.threads = 1;
    o.repeat = 3;
    o.top_k = 1;
    tt_transfer_result r;
    int rc = tt_transfer_model(db, "tiny_wide", "tiny_wide", dst, &o, &r, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    CHECK(r.nsources == 2);
    int ranked = 0;
    for (int k = 0; k < r.nkernels; k++) {
        const tt_transfer_kernel *x = &r.k[k];
        int measured = 0;
        for (int i = 0; i < x->ncands; i++)
            measured += x->cands[i].measured;
        int skipped = x->form_skipped || x->time_skipped;
        CHECK_MSG(measured <= 1 && x->replayed - x->ranked_out <= 1 + (skipped ? x->replayed : 0),
                  "kernel %d: %d replayed, %d ranked out, %d measured", k, x->replayed, x->ranked_out,
                  measured);
        CHECK(x->valid <= 1);
        /* the measured one is the best-scored (ties: the first) */
        for (int i = 0; i < x->ncands; i++)
            for (int j = 0; j < x->ncands && x->cands[i].measured; j++)
                CHECK(x->cands[i].score > x->cands[j].score || (x->cands[i].score == x->cands[j].score && i <= j));
        CHECK(x->ncands == 0 || measured == 1);
        CHECK(!skipped || x->ncands == 0);
        ranked += x->ranked_out;
    }
    CHECK(ranked >= 4);
    char why[300];
    CHECK_MSG(result_consistent(&r, why, sizeof why), "%s", why);
    tt_transfer_result_free(&r);
    tiny_pair_close(src, dst, db);
}

/* Nothing in the database shares a class: a clean result that says why. */
static void test_no_sources(void)
{
    const char *path = tmp_db();
    CHECK(path);
    tt_err err = {0};
    tt_model *m = NULL;
    CHECK_MSG(tt_model_load("tiny", &m, &err) == 0, "%s", err.msg);
    tt_db *db = NULL;
    CHECK_MSG(tt_db_open(path, 0, &db, &err) == 0, "%s", err.msg);
    tt_transfer_opts o;
    memset(&o, 0, sizeof o);
    o.threads = 1;
    o.repeat = 3;
    tt_transfer_result r;
    /* a transfer that fails (an unknown source) writes nothing: no model row */
    const char *nope[1] = {"nope"};
    o.nfrom = 1;
    o.from = nope;
    CHECK(tt_transfer_model(db, "tiny", "tiny", m, &o, &r, &err) == -1 && strstr(err.msg, "'nope'"));
    tt_transfer_result_free(&r);
    int64_t mid = 0;
    tt_err e2 = {0};
    CHECK(tt_db_model_id(db, "tiny", &mid, &e2) == 0);
    o.nfrom = 0;
    o.from = NULL;
    memset(&err, 0, sizeof err);
    CHECK_MSG(tt_transfer_model(db, "tiny", "tiny", m, &o, &r, &err) == 0, "%s", err.msg);
    CHECK(tt_db_model_id(db, "tiny", &mid, &e2) == 1); /* registered once it succeeded */
    CHECK(r.nsources == 0 && r.candidates == 0 && r.kernels_improved == 0);
    CHECK(r.speedup == 1 && r.tuned_s == r.untuned_s && r.untuned_s > 0);
    CHECK_MSG(strstr(r.note, "no model in the database shares a kernel class"), "note: %s", r.note);
    tt_transfer_result_free(&r);
    /* naming an unknown source is an error */
    const char *from[1] = {"nope"};
    o.nfrom = 1;
    o.from = from;
    CHECK(tt_transfer_model(db, "tiny", "tiny", m, &o, &r, &err) == -1 && strstr(err.msg, "'nope'"));
    tt_transfer_result_free(&r);
    tt_db_close(db);
    tt_model_free(m);
    tmp_done();
}

/* Shipped schedules: DIR/MODEL.json loads with MODEL (and its kernels) as the
 * source; loading again adds nothing; a file not named after a zoo model is
 * refused with its path. */
static void test_shipped(void)
{
    const char *path = tmp_db();
    CHECK(path);
    tt_err err = {0};
    tt_model *src = NULL;
    CHECK_MSG(tt_model_load("tiny", &src, &err) == 0, "%s", err.msg);
    tt_db *db = NULL;
    CHECK_MSG(tt_db_open(path, 0, &db, &err) == 0, "%s", err.msg);
    int n = plant(db, src, "tiny", 1e-3, 5);
    CHECK(n >= 5);
    char dir[400], log[500];
    snprintf(dir, sizeof dir, "%s/schedules", tdir);
    CHECK(mkdir(dir, 0755) == 0);
    snprintf(log, sizeof log, "%s/tiny.json", dir);
    FILE *f = fopen(log, "w");
    CHECK(f);
    int64_t mid = 0, ne = 0;
    CHECK(tt_db_model_id(db, "tiny", &mid, &err) == 1);
    fprintf(f, "# shipped for a test\n");
    CHECK(tt_db_export(db, mid, NULL, f, &ne, &err) == 0);
    fclose(f);
    CHECK(ne == n);
    tt_db_close(db);
    /* a fresh database */
    char p2[500];
    snprintf(p2, sizeof p2, "%s/fresh.db", tdir);
    CHECK_MSG(tt_db_open(p2, 0, &db, &err) == 0, "%s", err.msg);
    int files = 0, recs = 0;
    CHECK_MSG(tt_transfer_load_shipped(db, dir, &files, &recs, &err) == 0, "%s", err.msg);
    CHECK_MSG(files == 1 && recs == n, "%d files, %d records of %d", files, recs, n);
    CHECK(tt_db_model_id(db, "tiny", &mid, &err) == 1);
    tt_db_kernel_info *ks = NULL;
    int nks = 0;
    CHECK(tt_db_model_kernels(db, mid, &ks, &nks, &err) == 0);
    free(ks);
    CHECK(nks == src->nkernels); /* the Winograd twins included */
    CHECK(tt_transfer_load_shipped(db, dir, &files, &recs, &err) == 0 && files == 1 && recs == 0);
    snprintf(log, sizeof log, "%s/nosuchmodel.json", dir);
    f = fopen(log, "w");
    CHECK(f);
    fclose(f);
    CHECK(tt_transfer_load_shipped(db, dir, &files, &recs, &err) == -1);
    CHECK_MSG(strstr(err.msg, "nosuchmodel.json"), "%s", err.msg);
    tt_db_close(db);
    tt_model_free(src);
    tmp_done();
}

/* The shipped folder for this host: $TT_SCHEDULES/ISA (the host's vector
 * ISA), else the folder itself when it holds logs, else the other ISA's. */
static void touch(const char *dir, const char *name)
{
    char p[600];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    CHECK(f);
    if (f)
        fclose(f);
}

static void test_shipped_isa_dir(void)
{
    CHECK(tmp_db());
    char base[400], a2[450], a5[450], got[600], want[600];
    snprintf(base, sizeof base, "%s/sched", tdir);
    snprintf(a2, sizeof a2, "%s/avx2", base);
    snprintf(a5, sizeof a5, "%s/avx512", base);
    CHECK(mkdir(base, 0755) == 0 && mkdir(a2, 0755) == 0 && mkdir(a5, 0755) == 0);
    const char *old = getenv("TT_SCHEDULES"), *lanes = getenv("TT_VECTOR_LANES");
    char *keep = old ? tt_xstrdup(old) : NULL, *keepl = lanes ? tt_xstrdup(lanes) : NULL;
    setenv("TT_SCHEDULES", base, 1);
    /* no log anywhere: none */
    CHECK(tt_transfer_shipped_dir(got, sizeof got) == NULL);
    /* only the avx2 folder: taken on either host */
    touch(a2, "m.json");
    CHECK(tt_transfer_shipped_dir(got, sizeof got) && !strcmp(got, a2));
    /* both: the host's; TT_VECTOR_LANES=8 is an AVX2 host */
    touch(a5, "m.json");
    snprintf(want, sizeof want, "%s/%s", base, tt_transfer_shipped_isa());
    CHECK_MSG(tt_transfer_shipped_dir(got, sizeof got) && !strcmp(got, want), "%s", got);
    setenv("TT_VECTOR_LANES", "8", 1);
    CHECK(!strcmp(tt_transfer_shipped_isa(), "avx2"));
    CHECK(tt_transfer_shipped_dir(got, sizeof got) && !strcmp(got, a2));
    setenv("TT_VECTOR_LANES", "16", 1);
    CHECK(!strcmp(tt_transfer_shipped_isa(), "avx512"));
    CHECK(tt_transfer_shipped_dir(got, sizeof got) && !strcmp(got, a5));
    /* a flat folder of logs (the old layout, or a user's own) */
    setenv("TT_SCHEDULES", a2, 1);
    CHECK(tt_transfer_shipped_dir(got, sizeof got) && !strcmp(got, a2));
    if (keepl)
        setenv("TT_VECTOR_LANES", keepl, 1);
    else
        unsetenv("TT_VECTOR_LANES");
    if (keep)
        setenv("TT_SCHEDULES", keep, 1);
    else
        unsetenv("TT_SCHEDULES");
    free(keep);
    free(keepl);
    tmp_done();
}

/* tune --warm-start: each task's first round measures the schedules transfer
 * would try (here tiny's planted records, rebased on tiny_wide's kernels). */
typedef struct find_steps {
    const char *json;
    int found;
} find_steps;

static int on_find(void *ctx, const tt_db_row *row)
{
    find_steps *f = ctx;
    char *j = tt_steps_write(row->rec.steps, row->rec.nsteps);
    f->found |= !strcmp(j, f->json);
    free(j);
    return 0;
}

static void test_warm_start(void)
{
    tt_err err = {0};
    tt_model *src = NULL, *dst = NULL;
    tt_db *db = NULL;
    CHECK(tiny_pair_open(&src, &dst, &db));
    CHECK(plant(db, src, "tiny", 1e-3, 21) >= 5);
    tt_tune_opts o;
    memset(&o, 0, sizeof o);
    o.threads = 1;
    o.per_round = 1;
    /* what `tune --warm-start` passes: transfer's candidates for tiny_wide */
    tt_transfer_opts to;
    memset(&to, 0, sizeof to);
    to.threads = 1;
    tt_transfer_cands wc;
    CHECK_MSG(tt_transfer_candidates(db, "tiny_wide", dst, &to, &wc, &err) == 0, "%s", err.msg);
    CHECK(wc.nkernels == dst->nkernels);
    o.warm_nkernels = wc.nkernels;
    o.warm_n = wc.n;
    o.warm_cand = (tt_state *const *const *)wc.cand;
    /* the defaults (every kernel, Winograd twins included), then one round of
     * each searched kernel (all but the transpose) */
    o.trials = dst->nkernels + (dst->nkernels - 1);
    tt_tune_result r;
    int rc = tt_tune_model(db, "tiny_wide", "tiny_wide", dst, &o, &r, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    tt_tune_result_free(&r);
    tt_transfer_cands_free(&wc);
    /* every searched kernel's (one with a reduction; transpose is not
     * searched) first trial is a same-class record of tiny, rebased (one
     * trial per round: of the Winograd twins' two same-class records, F(4,3)
     * and F(2,3), the first in tiny's kernel list) */
    int64_t sid = 0, tid = 0;
    CHECK(tt_db_model_id(db, "tiny", &sid, &err) == 1 && tt_db_model_id(db, "tiny_wide", &tid, &err) == 1);
    int checked = 0;
    for (int k = 0; k < dst->nkernels; k++) {
        const tt_dag *d = dst->kernels[k].dag;
        if (!strcmp(d->class_key, "transpose"))
            continue;
        int tried = 0, found = 0;
        for (int j = 0; j < src->nkernels; j++) {
            if (strcmp(src->kernels[j].dag->class_key, d->class_key))
                continue;
            tt_db_filter f;
            memset(&f, 0, sizeof f);
            f.only_model = sid;
            tt_db_row *row = tt_xmalloc(sizeof *row);
            int got = tt_db_best_record(db, src->kernels[j].workload_key, &f, row, &err);
            if (got == 1) {
                tt_state *s = tt_state_replay_rebased(d, row->rec.steps, row->rec.nsteps, &err);
                if (s) {
                    char *json = tt_steps_write(s->steps, s->nsteps);
                    find_steps fs = {json, 0};
                    tt_db_filter g;
                    memset(&g, 0, sizeof g);
                    g.only_model = tid;
                    CHECK(tt_db_foreach_record(db, 0, dst->kernels[k].workload_key, &g, on_find, &fs, &err) == 0);
                    found += fs.found;
                    free(json);
                    tt_state_free(s);
                    tried++;
                }
            }
            free(row);
        }
        CHECK_MSG(tried == 0 || found == 1, "kernel %d (%s): %d of tiny's %d records measured", k,
                  d->class_key, found, tried);
        checked += tried > 0;
    }
    CHECK(checked >= 4);
    tiny_pair_close(src, dst, db);
}

const tt_test tests_transfer[] = {
    {"choose", test_choose},
    {"resets", test_resets},
    {"rank_keep", test_rank_keep},
    {"retarget", test_retarget},
    {"shape_distance", test_shape_distance},
    {"tiny_to_wide", test_tiny_to_wide},
    {"related", test_related},
    {"no_sources", test_no_sources},
    {"top_k", test_top_k},
    {"shipped", test_shipped},
    {"shipped_isa_dir", test_shipped_isa_dir},
    {"warm_start", test_warm_start},
    {NULL, NULL},
};
