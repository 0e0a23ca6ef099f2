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
 * outside it that m divides (or from the implicit outermost part).  When the
 * record names its machine's width (its target string, tt_target_vector_lanes)
 * a length of one or more of its vectors grows with the ratio of the widths,
 * so that the tile keeps its count of vector registers, the shape the search
 * tuned (register blocking), instead of its count of elements:
 *
 *   AVX2 record, 4 rows x ff.3 16 (2 ymm each, 8 accumulators)
 *     -> ff.3 32 at 16 lanes (2 zmm each, 8 accumulators), not 4 x 1 zmm
 *
 * With half the accumulators, TVM's 56x56x256 1x1/2 record ran at 57% of the
 * peak and 1.57x oneDNN's time; with its register count kept, 1.23x.  A
 * vector loop that already spans whole host vectors (16 channels of an AVX2
 * record: 1 zmm) keeps its length, and the tile takes the factor in pixels
 * instead (widen_pixels), so that it does not read twice the weights per FMA:
 *
 *   AVX2 record, 2 rows x ff.3 16 (8 ymm accumulators), xx [14, 1, 1]
 *     -> 4 rows (xx [7, 2, 1]) x ff.3 16 at 16 lanes (8 zmm)  The loop
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
 * last * m <= cap that an outer length (or the implicit outermost part) can
 * give up, cap being the host's lanes, or last * lanes / from_lanes for a
 * length of whole vectors of a narrower record.  0 if none. */
static int widen_split(tt_step *x, int lanes, int from_lanes)
{
    int64_t last = x->len[x->nlen - 1];
    int64_t cap = lanes;
    /* whole vectors of a narrower record: every level keeps its count, the
     * factor comes from the outermost part first (the parallel or cache
     * level, not the register tile's) */
    int whole = from_lanes > 0 && from_lanes < lanes && lanes % from_lanes == 0 && last >= from_lanes;
    if (whole)
        cap = last * (lanes / from_lanes);
    if (last <= 0 || last >= cap)
        return 0;
    int64_t prod = 1;
    for (int j = 0; j < x->nlen; j++)
        prod *= x->len[j];
    /* the implicit outermost part: extent / product of the lengths (-1 unknown) */
    int64_t outer = x->extent > 0 && x->extent % prod == 0 ? x->extent / prod : -1;
    for (int64_t m = cap / last; m >= 2; m /= 2) {
        if (last * m > cap || (m & (m - 1)))
            continue;
        if (whole && outer > 0 && outer % m == 0) {
            x->len[x->nlen - 1] = last * m;
            return 1;
        }
        for (int k = 0; k < x->nlen - 1; k++) {
            int j = whole ? k : x->nlen - 2 - k;
            if (x->len[j] > 0 && x->len[j] % m == 0) {
                x->len[j] /= m;
                x->len[x->nlen - 1] = last * m;
                return 1;
            }
        }
        if (!whole && outer > 0 && outer % m == 0) {
            x->len[x->nlen - 1] = last * m;
            return 1;
        }
    }
    return 0;
}

/* Pixel widening: a vector loop of a narrower record that already spans
 * whole host vectors (16 channels: 2 ymm, 1 zmm) keeps its length, and the
 * register tile takes m = lanes / from_lanes times the pixels instead, from
 * the pixel split x (its register-level length, len[nlen-2], grows by m,
 * taken from an outer length or the implicit outermost part).  The tile keeps
 * its count of vector registers, as with wider vectors, but each weight
 * vector then serves m times the pixels, where wider vectors would have
 * doubled the weights a tile reads per FMA: TVM's AVX2 record for 28x28x512
 * -> 1024 1x1/2 (2 pixels x 64 channels widened, 128 KB of weights read from
 * L2 for every 2 pixels) ran at 1.26 ms, 1.5x oneDNN's time; with 4 pixels x
 * 32 channels, 0.90 ms.  0 when x has no such room. */
static int widen_pixels(tt_step *x, int m)
{
    if (x->nlen < 2)
        return 0;
    int64_t prod = 1;
    for (int j = 0; j < x->nlen; j++)
        prod *= x->len[j];
    int64_t outer = x->extent > 0 && x->extent % prod == 0 ? x->extent / prod : -1;
    int r = x->nlen - 2;
    if (x->len[r] <= 0)
        return 0;
    for (int j = 0; j < r; j++)
        if (x->len[j] > 0 && x->len[j] % m == 0) {
            x->len[j] /= m;
            x->len[r] *= m;
            return 1;
        }
    if (outer > 0 && outer % m == 0) {
        x->len[r] *= m;
        return 1;
    }
    return 0;
}

/* Try pixel widening for the vectorized split at cands[c]: the SP steps of
 * the same stage before it (the pixel axes, nearest first).  The step index
 * changed, or -1. */
static int try_widen_pixels(const tt_dag *d, const tt_state *s, tt_step *steps, int n, const widen_cand *cands,
                            int c, int lanes, int from_lanes)
{
    const tt_step *v = &steps[cands[c].step];
    int64_t last = v->len[v->nlen - 1];
    if (from_lanes <= 0 || from_lanes >= lanes || lanes % from_lanes || last < lanes || last % lanes)
        return -1;
    int m = lanes / from_lanes;
    /* not where each pixel sums only a few channels (ResNet's stem: 3 input
     * channels under a 7x7 window): its inputs, not its weights, are what a
     * tile waits for, and with twice the pixels it ran 1.16 -> 1.39x oneDNN's
     * time.  Elsewhere pixels won or tied on TVM's ResNet-50 log (28x28x128
     * -> 512 1x1: 1.45 -> 1.11-1.15; 28x28x512 -> 1024 1x1/2: 1.58 -> 1.03) */
    int si = tt_state_stage_of_uid(s, cands[c].uid);
    const tt_op *op = si >= 0 ? &s->stages[si].op : NULL;
    if (!op || op->nreduce == 0 || op->raxis[op->nreduce - 1].extent < 8)
        return -1;
    for (int k = c - 1; k >= 0; k--) {
        if (cands[k].uid != cands[c].uid)
            continue;
        tt_step keep = steps[cands[k].step];
        if (!widen_pixels(&steps[cands[k].step], m))
            continue;
        tt_state *t = replay(d, steps, n, NULL, NULL);
        int ok = t && vectorized(t, cands[c].uid, cands[c].node);
        tt_state_free(t);
        if (ok)
            return cands[k].step;
        steps[cands[k].step] = keep;
    }
    return -1;
}

int tt_target_vector_lanes(const char *target)
{
    static const struct { const char *word; int lanes; } T[] = {
        /* AVX-512 first: "skylake-avx512" also names "skylake" */
        {"avx512", 16},     {"cascadelake", 16}, {"cooperlake", 16}, {"icelake", 16},
        {"tigerlake", 16},  {"sapphirerapids", 16}, {"znver4", 16}, {"znver5", 16},
        {"avx2", 8},        {"haswell", 8},      {"broadwell", 8},   {"skylake", 8},
        {"znver", 8},       {"+avx", 8},         {"neon", 4},        {"aarch64", 4},
        {"sse", 4},
    };
    if (!target)
        return 0;
    for (size_t i = 0; i < sizeof T / sizeof T[0]; i++)
        if (strstr(target, T[i].word))
            return T[i].lanes;
    return 0;
}

int tt_steps_widen_vectors(const tt_dag *d, tt_step *steps, int n, int lanes, int from_lanes)
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
        if (try_widen_pixels(d, s, steps, n, cands, c, lanes, from_lanes) >= 0) {
            tt_state *t = replay(d, steps, n, NULL, NULL);
            if (t) {
                tt_state_free(s);
                s = t;
                widened++;
                continue;
            }
        }
        tt_step keep = steps[cands[c].step];
        if (!widen_split(&steps[cands[c].step], lanes, from_lanes))
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

int tt_state_apply_widened(tt_state *s, const tt_step *steps, int n, int lanes, int from_lanes, tt_err *err)
{
    if (n > 0) {
        tt_step *w = malloc((size_t)n * sizeof *w);
        if (w) {
            memcpy(w, steps, (size_t)n * sizeof *w);
            int k = tt_steps_widen_vectors(s->dag, w, n, lanes, from_lanes);
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
