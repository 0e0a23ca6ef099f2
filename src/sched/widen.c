/* widen.c - fit a schedule's vector loops to the host's vector width.
 *
 * An Ansor record carries the vector length its tuning machine liked: TVM's
 * resnet-50 log was tuned for AVX2 (`-mcpu=core-avx2`), and some of its conv
 * records vectorize 4 or 8 output channels.  Replayed on an AVX-512 host those
 * loops use a quarter or half of each FMA, and no choice of the rest of the
 * schedule makes up for it (the 28x28x512 1x1/2 conv ran at 17% of the peak,
 * 5.2x oneDNN's time).  A compiler targeting the host picks the vector width;
 * so does this pass, before a record is replayed on this host:
 *
 *   SP ff [16, 4, 4], the 4 vectorized  ->  SP ff [16, 1, 16]
 *
 * The innermost length of a split whose last part is vectorized grows by a
 * power of two m (up to the host's lanes) taken from the nearest length
 * outside it that m divides (or from the implicit outermost part).  The loop
 * nest keeps its order, its tiling levels, every other split, compute_at and
 * annotation; follow splits (FSP, FFSP) follow by construction.  A rewrite
 * that no longer replays is dropped.  The record itself (its steps in a log
 * or the database) is never changed: this is part of compiling it here.
 */
#include <stdlib.h>
#include <string.h>

#include "sched.h"

typedef struct widen_cand {
    int step;       /* index of the SP step */
    int uid;        /* its stage's tensor */
    int node;       /* the split's innermost child */
} widen_cand;

/* Apply steps[0..n) to a fresh state; with cands, note every SP step's
 * innermost child.  NULL when the steps do not replay. */
static tt_state *replay(const tt_dag *d, const tt_step *steps, int n, widen_cand *cands, int *ncand)
{
    tt_state *s = tt_state_new(d);
    tt_err e = {0};
    for (int i = 0; i < n; i++) {
        if (tt_state_apply(s, &steps[i], &e)) {
            tt_state_free(s);
            return NULL;
        }
        if (cands && steps[i].tag == TT_STEP_SP && steps[i].inner_to_outer && steps[i].nlen > 0) {
            const tt_stage *st = &s->stages[steps[i].stage];
            if (st->nrels > 0 && st->rels[st->nrels - 1].kind == TT_REL_SPLIT) {
                const tt_rel *r = &st->rels[st->nrels - 1];
                cands[(*ncand)++] = (widen_cand){i, st->op.uid, r->nodes[r->n - 1]};
            }
        }
    }
    return s;
}

static int vectorized(const tt_state *s, int uid, int node)
{
    int si = tt_state_stage_of_uid(s, uid);
    if (si < 0)
        return 0;
    const tt_stage *st = &s->stages[si];
    for (int i = 0; i < st->niters; i++)
        if (st->iters[i].node == node && st->iters[i].ann == TT_ANN_VECTORIZE)
            return 1;
    return 0;
}

/* Grow the last length of SP step x by the largest power of two m with
 * last * m <= lanes that an outer length (or the implicit outermost part)
 * can give up.  0 if none. */
static int widen_split(tt_step *x, int lanes)
{
    int64_t last = x->len[x->nlen - 1];
    if (last <= 0 || last >= lanes)
        return 0;
    for (int64_t m = lanes / last; m >= 2; m /= 2) {
        if (last * m > lanes || (m & (m - 1)))
            continue;
        for (int j = x->nlen - 2; j >= 0; j--)
            if (x->len[j] > 0 && x->len[j] % m == 0) {
                x->len[j] /= m;
                x->len[x->nlen - 1] = last * m;
                return 1;
            }
        /* the implicit outermost part: extent / product of the lengths */
        int64_t prod = 1;
        for (int j = 0; j < x->nlen; j++)
            prod *= x->len[j];
        if (x->extent > 0 && x->extent % prod == 0 && (x->extent / prod) % m == 0) {
            x->len[x->nlen - 1] = last * m;
            return 1;
        }
    }
    return 0;
}

int tt_steps_widen_vectors(const tt_dag *d, tt_step *steps, int n, int lanes)
{
    if (lanes < 2 || n <= 0)
        return 0;
    widen_cand *cands = malloc((size_t)n * sizeof *cands);
    int ncand = 0, widened = 0;
    tt_state *s = cands ? replay(d, steps, n, cands, &ncand) : NULL;
    if (!s) {
        free(cands);
        return 0;
    }
    for (int c = 0; c < ncand; c++) {
        if (!vectorized(s, cands[c].uid, cands[c].node))
            continue;
        tt_step keep = steps[cands[c].step];
        if (!widen_split(&steps[cands[c].step], lanes))
            continue;
        tt_state *t = replay(d, steps, n, NULL, NULL);
        if (!t || !vectorized(t, cands[c].uid, cands[c].node)) {
            steps[cands[c].step] = keep;
            tt_state_free(t);
            continue;
        }
        tt_state_free(s);
        s = t;
        widened++;
    }
    tt_state_free(s);
    free(cands);
    return widened;
}

int tt_state_apply_widened(tt_state *s, const tt_step *steps, int n, int lanes, tt_err *err)
{
    if (n > 0) {
        tt_step *w = malloc((size_t)n * sizeof *w);
        if (w) {
            memcpy(w, steps, (size_t)n * sizeof *w);
            int k = tt_steps_widen_vectors(s->dag, w, n, lanes);
            if (k > 0 && tt_state_apply_all(s, w, n, err) == 0) {
                free(w);
                return k;
            }
            free(w);
            if (k > 0)
                return -1; /* not expected: the rewrite was replayed */
        }
    }
    return tt_state_apply_all(s, steps, n, err);
}
