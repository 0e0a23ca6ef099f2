/* vector.c - the vector statements of a vectorized innermost loop: lanes
 * classified by their affine index forms, full-width chunks, narrower tails,
 * masked statements, and selects split at their boundaries (see emit_int.h;
 * the rest of the emitter is emit.c).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emit_int.h"

/* ---- explicit vectors for a vectorized innermost loop ---------------------
 * A vectorized loop of N = 2..64 lanes (even; vec_width) whose statement is
 * affine in the lane variable is emitted as one vector statement: a load
 * whose index moves by 1 per lane is a vector load, by c a strided gather,
 * by 0 a scalar (broadcast by C's vector-scalar arithmetic); min/max and
 * math calls go through per-lane helpers.  Anything else keeps the scalar
 * loop under `#pragma omp simd`. */

typedef struct vctx {
    emitter *E;
    int si;
    int lane;   /* atom id of the lane variable */
    int N;
    int fail;
    const char *mask; /* masked statement: C expression of its valid lane
                         count (loads become tt_vloadm); NULL: all lanes */
    /* split mode: a comparison x < K of a lane-affine x against a constant
     * counts as uniform, and (x, K) is recorded: the statement is then valid
     * as a vector only where no K falls inside the vector's lanes, which
     * emit_vstatement tests at run time (a concat of 58 + 58 channels) */
    int split;
    int nbnd;
    aff bx[8];
    int64_t bk[8];
} vctx;

static int64_t lane_coef(const aff *x, int atom)
{
    for (int i = 0; i < x->n; i++)
        if (x->atom[i] == atom)
            return x->coef[i];
    return 0;
}

/* Floats of stage pi's packed weight copy (zero-padded to whole blocks). */
static int64_t packed_floats(const emitter *E, int pi)
{
    const stage_info *P = &E->L->info[pi];
    const tt_op *pop = &E->L->s->stages[pi].op;
    int64_t numel = 1;
    for (int d = 0; d < pop->ndim; d++)
        numel *= pop->axis[d].extent;
    int64_t Eb = pop->axis[P->pack_dim].extent, nb = (Eb + P->pack_cb - 1) / P->pack_cb;
    return numel / Eb * nb * P->pack_cb;
}

/* Weights from this size on are streamed from L3 or memory rather than kept
 * in L2 across the kernel (1-2 MB of L2 a core here): their first reads
 * stall a tile unless fetched ahead.  A 7x7x320 -> 1280 1x1 conv (1.6 MB of
 * weights) with cold weights: 0.356 -> 0.232 ms; warm, within 2%. */
#define PREFETCH_MIN_BYTES (512 * 1024)

/* How far ahead (in floats) a register tile's load of packed weights
 * prefetches: to where the same load reads in the next step of the reduction
 * loop just outside the tile, when that is at most 32 KB ahead.  0: no
 * prefetch.  With the whole reduction in the tile there is none: prefetching
 * the next tile's block (tried: past the block this tile walks) pulled 64 KB
 * into a 48 KB L1 while this block was still in use, and a record's
 * 28x28x512 -> 1024 1x1/2 conv ran 1.9x slower. */
static int64_t prefetch_distance(const emitter *E, const aff *a)
{
    if (E->pf_outer < 0)
        return 0;
    int64_t c = lane_coef(a, E->pf_outer);
    return c > 0 && c * 4 <= 32 * 1024 ? c : 0;
}

/* x = lane + (a multiple of N): the same x / N for every lane of a vector
 * whose first lane is a multiple of N. */
static int lane_aligned(const vctx *v, const aff *x)
{
    if (!x->ok || lane_coef(x, v->lane) != 1 || x->c % v->N)
        return 0;
    for (int i = 0; i < x->n; i++)
        if (x->atom[i] != v->lane && x->coef[i] % v->N)
            return 0;
    return 1;
}

/* Record the split-mode boundary "x < K" once; -1 if the list is full. */
static int add_boundary(vctx *v, const aff *x, int64_t K)
{
    for (int i = 0; i < v->nbnd; i++)
        if (v->bk[i] == K && !memcmp(&v->bx[i], x, sizeof *x))
            return 0;
    if (v->nbnd >= 8)
        return -1;
    v->bx[v->nbnd] = *x;
    v->bk[v->nbnd++] = K;
    return 0;
}

static int varies(vctx *v, const tt_expr *e)
{
    const stage_info *I = &v->E->L->info[v->si];
    const tt_op *op = &v->E->L->s->stages[v->si].op;
    if (e->kind == TT_E_AXIS)
        return lane_coef(&I->root[e->u.axis], v->lane) != 0;
    if (e->kind == TT_E_RAXIS)
        return lane_coef(&I->root[op->ndim + e->u.axis], v->lane) != 0;
    if (e->kind == TT_E_FLOORDIV && e->args[1]->kind == TT_E_INT && e->args[1]->u.ival > 0 &&
        e->args[1]->u.ival % v->N == 0) {
        /* x / c with x = (multiple of N) + lane, N | c: the same for every lane
         * (a grouped conv's group index across a vector of output channels) */
        aff x;
        lw_index_form(v->E->L, v->si, e->args[0], &x);
        if (lane_aligned(v, &x))
            return 0;
    }
    if ((e->kind == TT_E_LT || e->kind == TT_E_GE || e->kind == TT_E_LE || e->kind == TT_E_GT) &&
        e->args[1]->kind == TT_E_INT) {
        /* x < K with x = (multiple of N) + lane and N | K: the same for every
         * lane (a concat's "which input" test across a vector of channels
         * when every input's channel count is a multiple of N); x <= K is
         * x < K + 1 */
        int64_t K = e->args[1]->u.ival + (e->kind == TT_E_LE || e->kind == TT_E_GT ? 1 : 0);
        aff x;
        lw_index_form(v->E->L, v->si, e->args[0], &x);
        if (K % v->N == 0 && lane_aligned(v, &x))
            return 0;
        if (v->split && x.ok && lane_coef(&x, v->lane) == 1 && add_boundary(v, &x, K) == 0)
            return 0;
    }
    for (int i = 0; i < e->n; i++)
        if (varies(v, e->args[i]))
            return 1;
    return 0;
}

static int load_flat_aff(vctx *v, const tt_expr *ld, aff *out)
{
    lowering *L = v->E->L;
    int pi = tt_state_stage_of_uid(L->s, ld->u.uid);
    const stage_info *P = &L->info[pi];
    const tt_op *op = &L->s->stages[pi].op;
    int local = P->buf == LW_BUF_LOCAL;
    aff_const(out, 0);
    if (P->pack_cb && v->si == P->pack_reader) {
        int n = ld->n, b = P->pack_dim;
        int64_t oth = 1;
        for (int d = 0; d < n; d++)
            if (d != b)
                oth *= op->axis[d].extent;
        aff_axpy(out, oth * P->pack_cb, &P->pack_q);
        for (int d = 0; d < n; d++) {
            if (d == b)
                continue;
            aff f;
            lw_index_form(L, v->si, ld->args[d], &f);
            if (!f.ok)
                return -1;
            int64_t stride = 1;
            for (int k = d + 1; k < n; k++)
                if (k != b)
                    stride *= op->axis[k].extent;
            aff_axpy(out, stride * P->pack_cb, &f);
        }
        aff_axpy(out, 1, &P->pack_r);
        return out->ok ? 0 : -1;
    }
    for (int d = 0; d < ld->n; d++) {
        aff f;
        lw_index_form(L, v->si, ld->args[d], &f);
        if (!f.ok && !varies(v, ld->args[d]))
            continue; /* not affine (a tile's p // nW) but the same in every
                         lane: no part of the lane's stride; this flat form
                         is then only good for lane_coef, which is all an
                         unpacked load uses it for */
        if (!f.ok)
            return -1;
        if (local)
            aff_axpy(&f, -1, &P->M[d]);
        int64_t stride = 1;
        for (int k = d + 1; k < ld->n; k++)
            stride *= local ? P->R[k] : op->axis[k].extent;
        aff_axpy(out, stride, &f);
    }
    return out->ok ? 0 : -1;
}

static void emit_vexpr(vctx *v, const tt_expr *e);

/* An operand as a vector (splat if uniform). */
static void emit_vop(vctx *v, const tt_expr *e)
{
    if (varies(v, e)) {
        emit_vexpr(v, e);
    } else {
        tt_str_catf(v->E->o, "tt_vsplat%d(", v->N);
        emit_expr(v->E, e, v->si);
        tt_str_cat(v->E->o, ")");
    }
}

/* An operand of arithmetic: vector if varying, else a scalar (C broadcasts). */
static void emit_aop(vctx *v, const tt_expr *e)
{
    if (varies(v, e)) {
        emit_vexpr(v, e);
    } else {
        tt_str_cat(v->E->o, "(");
        emit_expr(v->E, e, v->si);
        tt_str_cat(v->E->o, ")");
    }
}

/* A load of the vector's lanes: contiguous (a plain, masked or prefetching
 * load) or strided (a gather). */
static void emit_vload(vctx *v, const tt_expr *e)
{
    emitter *E = v->E;
    aff a;
    if (load_flat_aff(v, e, &a)) {
        v->fail = 1;
        return;
    }
    int64_t c = lane_coef(&a, v->lane);
    int pi = tt_state_stage_of_uid(E->L->s, e->u.uid);
    if (v->mask && c != 1 && c != 0) {
        v->fail = 1; /* no masked gather (a lane-invariant load reads lane 0's element: valid) */
        return;
    }
    /* a packed weight copy is zero-padded to whole blocks: a load whose
     * every lane stays inside it needs no mask (then a register tile's
     * update has one form only, no test in its inner loop) */
    const stage_info *P = &E->L->info[pi];
    int masked = v->mask != NULL;
    if (masked && P->pack_cb && v->si == P->pack_reader && aff_min(E->L, &a) >= 0 &&
        aff_max(E->L, &a) < packed_floats(E, pi))
        masked = 0;
    int64_t pf = 0;
    if (c == 1 && !masked && E->pf_on && E->in_tile && E->acc == ACC_UPDATE && P->pack_cb &&
        v->si == P->pack_reader && packed_floats(E, pi) * 4 >= PREFETCH_MIN_BYTES)
        pf = prefetch_distance(E, &a);
    if (pf)
        tt_str_catf(E->o, "tt_vloadpf%d(&b%d[", v->N, e->u.uid);
    else if (c == 1)
        tt_str_catf(E->o, "tt_vload%s%d(&b%d[", masked ? "m" : "", v->N, e->u.uid);
    else if (c == 0) /* the same element in every lane (the index varies in
                        its text only: floordiv(ff, cog) over one group) */
        tt_str_catf(E->o, "tt_vsplat%d(b%d[", v->N, e->u.uid);
    else
        tt_str_catf(E->o, "tt_vgather%d(&b%d[", v->N, e->u.uid);
    emit_index(E, pi, e->args, e->n, v->si);
    if (pf) {
        /* one copy of the unrolled tile prefetches: the one where every
         * tile loop the address does not depend on is 0 (constant-folded) */
        tt_str_catf(E->o, "], %lldLL, 1", (long long)pf);
        for (int k = 0; k < E->pf_nsp; k++)
            if (lane_coef(&a, E->pf_sp[k]) == 0)
                tt_str_catf(E->o, " && l%d_%d == 0", E->L->s->stages[E->pf_sp[k] / TT_MAX_NODES].op.uid,
                            E->pf_sp[k] % TT_MAX_NODES);
        tt_str_cat(E->o, ")");
    } else if (c == 0)
        tt_str_cat(E->o, "])");
    else if (masked)
        tt_str_catf(E->o, "], %s)", v->mask);
    else if (c == 1)
        tt_str_cat(E->o, "])");
    else
        tt_str_catf(E->o, "], %lldLL)", (long long)c);
}

static void emit_vexpr(vctx *v, const tt_expr *e)
{
    emitter *E = v->E;
    static const char *vcall[TT_CALL_COUNT] = {
        [TT_CALL_EXP] = "exp",   [TT_CALL_LOG] = "log",   [TT_CALL_SQRT] = "sqrt",
        [TT_CALL_RSQRT] = "rsqrt", [TT_CALL_TANH] = "tanh", [TT_CALL_ERF] = "erf",
        [TT_CALL_SIGMOID] = "sigmoid", [TT_CALL_FABS] = "fabs",
    };
    switch (e->kind) {
    case TT_E_LOAD:
        emit_vload(v, e);
        return;
    case TT_E_MUL:
        if (E->skip && (e->args[0] == E->skip || e->args[1] == E->skip)) {
            emit_vexpr(v, e->args[e->args[0] == E->skip]);
            return;
        }
        if (e->type == TT_T_FLOAT && (table_product(E->L, e->args[0]) || table_product(E->L, e->args[1]))) {
            int c = table_product(E->L, e->args[0]) ? 0 : 1;
            if (!varies(v, e->args[c])) {
                tt_str_catf(E->o, "tt_vcmul%d(", v->N);
                emit_vop(v, e->args[1 - c]);
                tt_str_cat(E->o, ", ");
                emit_expr(E, e->args[c], v->si);
                tt_str_cat(E->o, ")");
                return;
            }
        }
        /* fall through */
    case TT_E_ADD:
    case TT_E_SUB:
    case TT_E_DIV: {
        const char *op = e->kind == TT_E_ADD ? "+" : e->kind == TT_E_SUB ? "-" : e->kind == TT_E_MUL ? "*" : "/";
        if (e->type != TT_T_FLOAT) {
            v->fail = 1;
            return;
        }
        tt_str_cat(E->o, "(");
        emit_aop(v, e->args[0]);
        tt_str_catf(E->o, " %s ", op);
        emit_aop(v, e->args[1]);
        tt_str_cat(E->o, ")");
        return;
    }
    case TT_E_MIN:
    case TT_E_MAX:
        if (e->type != TT_T_FLOAT) {
            v->fail = 1;
            return;
        }
        tt_str_catf(E->o, "tt_v%s%d(", e->kind == TT_E_MIN ? "min" : "max", v->N);
        emit_vop(v, e->args[0]);
        tt_str_cat(E->o, ", ");
        emit_vop(v, e->args[1]);
        tt_str_cat(E->o, ")");
        return;
    case TT_E_SELECT:
        if (varies(v, e->args[0]) || e->type != TT_T_FLOAT) {
            v->fail = 1;
            return;
        }
        tt_str_cat(E->o, "(");
        emit_expr(E, e->args[0], v->si);
        tt_str_cat(E->o, " ? ");
        emit_vop(v, e->args[1]);
        tt_str_cat(E->o, " : ");
        emit_vop(v, e->args[2]);
        tt_str_cat(E->o, ")");
        return;
    case TT_E_CALL:
        if (e->n != 1 || !vcall[e->u.call]) {
            v->fail = 1;
            return;
        }
        tt_str_catf(E->o, "tt_v%s%d(", vcall[e->u.call], v->N);
        emit_vop(v, e->args[0]);
        tt_str_cat(E->o, ")");
        return;
    default:
        v->fail = 1;
    }
}

/* Width of the vector statements of a vectorized loop of n lanes: the largest
 * power of two that divides n and fits the hardware's vectors (a loop of 24
 * lanes on 8-lane vectors is three statements of 8); < 2: not vectorizable. */
static int vec_width(int64_t n, int vlanes)
{
    int W = 1;
    while (2 * W <= vlanes && n % (2 * W) == 0)
        W *= 2;
    return W;
}

/* How a vectorized loop of n lanes is cut into vector statements: *nch
 * statements of *W lanes, then (when *T > 0) one statement of *T lanes of
 * which the first *TC are real (TC < T: a masked tail).  A loop whose length
 * is a multiple of the vector width, or a power of two below it, keeps
 * vec_width's statements.  Any other loop of at least 4 lanes takes
 * full-width statements, then one tail: unmasked when the rest is a power of
 * two of at least 4 lanes (24 channels on 16-lane AVX-512 vectors are 16 + 8,
 * not three 8-lane statements at half the FMA rate; 1000 = 62 x 16 + 8), else
 * masked (58 = 3 x 16 + 16 masked to 10; 7 = 8 masked to 7). */
void vec_chunks(int64_t n, int vlanes, int *W, int64_t *nch, int *T, int *TC)
{
    int w = vec_width(n, vlanes);
    *T = *TC = 0;
    if (w == vlanes || (w == n && w >= 2) || n < 4) {
        *W = w;
        *nch = n / w;
        return;
    }
    int64_t rest = n % vlanes;
    int t = 4;
    while (t < rest)
        t *= 2;
    *W = vlanes;
    *nch = n / vlanes;
    *T = t;
    *TC = (int)rest;
}

/* The store or accumulator line of one vector statement of width N; with
 * `mask` (a C expression of the valid lane count) its memory accesses are
 * masked (tt_vloadm / tt_vstorem: lanes past the count are not touched). */
static void emit_vline(emitter *E, int si, phase ph, int N, const char *acc, const char *accx,
                       const char *val, const char *idx, const char *mask)
{
    const tt_op *op = &E->L->s->stages[si].op;
    char ld[32], st[32], mk[160];
    snprintf(ld, sizeof ld, "tt_vload%s%d", mask ? "m" : "", N);
    snprintf(st, sizeof st, "tt_vstore%s%d", mask ? "m" : "", N);
    snprintf(mk, sizeof mk, "%s%s", mask ? ", " : "", mask ? mask : "");
    int u = op->uid;
    const char *mm = op->red == TT_RED_MAX ? "max" : "min";
    if (E->acc == ACC_LOAD)
        tt_str_catf(E->o, "%s[%s] = %s(&b%d[%s]%s);\n", acc, accx, ld, u, idx, mk);
    else if (E->acc == ACC_STORE)
        tt_str_catf(E->o, "%s(&b%d[%s], %s[%s]%s);\n", st, u, idx, acc, accx, mk);
    else if (E->acc == ACC_UPDATE && op->red == TT_RED_SUM)
        tt_str_catf(E->o, "%s[%s] = %s[%s] + %s;\n", acc, accx, acc, accx, val);
    else if (E->acc == ACC_UPDATE)
        tt_str_catf(E->o, "%s[%s] = tt_v%s%d(%s[%s], %s);\n", acc, accx, mm, N, acc, accx, val);
    else if (ph == PH_INIT || op->red == TT_RED_NONE)
        tt_str_catf(E->o, "%s(&b%d[%s], %s%s);\n", st, u, idx, val, mk);
    else if (op->red == TT_RED_SUM)
        tt_str_catf(E->o, "%s(&b%d[%s], %s(&b%d[%s]%s) + %s%s);\n", st, u, idx, ld, u, idx, mk, val, mk);
    else
        tt_str_catf(E->o, "%s(&b%d[%s], tt_v%s%d(%s(&b%d[%s]%s), %s)%s);\n", st, u, idx, mm, N, ld, u, idx,
                    mk, val, mk);
}

/* One vector statement block: the lane variable set to `lane0` (a C
 * expression: "tt_ch * W" inside the chunk loop, a constant for the tail),
 * then the statement of width N whose value is `val`, on accumulator `accx`
 * of array `acc` in register-tile modes.  When the lane runs along root
 * its root past the root's extent (a tile that does not divide the channels:
 * 58 of 64; define_ready has guarded the first lane) or the statement is a
 * masked tail, `mask` is the C expression of its valid lane count and the
 * statement comes in two forms: whole when every lane is valid, else masked
 * with `mval`, the value built with masked loads. */
static void emit_vstatement(emitter *E, int si, phase ph, defs D, int node, const char *lane0, int N,
                            const char *acc, const char *accx, const char *val, const char *mask,
                            const char *mval, const vctx *split, int nlanes)
{
    const stage_info *I = &E->L->info[si];
    const tt_op *op = &E->L->s->stages[si].op;
    char lv[32];
    snprintf(lv, sizeof lv, "l%d_%d", op->uid, node);
    tt_str_catf(E->o, "const int64_t %s = %s; (void)%s;\n", lv, lane0, lv);
    defs D0 = D; /* before the lane is bound: for the scalar fallback */
    D.bound[node] = 1;
    D.nguards = 0;
    define_ready(E, si, &D, ph);
    if (split && split->nbnd) {
        /* vector only if no boundary K lies inside the lanes [x, x + N) */
        tt_str_cat(E->o, "if (1");
        for (int i = 0; i < split->nbnd; i++) {
            tt_str_catf(E->o, " && (INT64_C(%lld) <= ", (long long)split->bk[i]);
            emit_aff(E, &split->bx[i]);
            tt_str_catf(E->o, " || INT64_C(%lld) >= ", (long long)split->bk[i]);
            emit_aff(E, &split->bx[i]);
            tt_str_catf(E->o, " + %d)", N);
        }
        tt_str_cat(E->o, ") {\n");
    }
    tt_str idx;
    write_index(E, si, &idx);
    if (ph != PH_INIT && I->cond) {
        tt_str_cat(E->o, "if (");
        emit_expr(E, I->cond, si);
        tt_str_cat(E->o, ") {\n");
        D.nguards++;
    }
    if (!mask || (E->acc == ACC_UPDATE && !strcmp(val, mval))) {
        /* (an update whose loads need no mask touches no memory past the
         * lanes: the accumulators' extra lanes are never stored) */
        emit_vline(E, si, ph, N, acc, accx, val, idx.buf, NULL);
    } else {
        tt_str_catf(E->o, "if (%s >= %d) {\n", mask, N);
        emit_vline(E, si, ph, N, acc, accx, val, idx.buf, NULL);
        tt_str_cat(E->o, "} else {\n");
        emit_vline(E, si, ph, N, acc, accx, mval, idx.buf, mask);
        tt_str_cat(E->o, "}\n");
    }
    if (split && split->nbnd) {
        /* a boundary inside: lane by lane, the scalar statement */
        /* (only the loop's own lanes: a masked tail covers fewer than N) */
        tt_str_catf(E->o, "} else {\nfor (int64_t tt_l = 0; tt_l < %d; tt_l++) {\n"
                          "const int64_t %s = (%s) + tt_l; (void)%s;\n", nlanes, lv, lane0, lv);
        D0.bound[node] = 1;
        D0.nguards = 0;
        define_ready(E, si, &D0, ph);
        emit_statement(E, si, ph);
        for (int g = 0; g < D0.nguards; g++)
            tt_str_cat(E->o, "}\n");
        tt_str_cat(E->o, "}\n}\n");
    }
    for (int g = 0; g < D.nguards; g++)
        tt_str_cat(E->o, "}\n");
    tt_str_free(&idx);
}

/* The value of one vector statement of width N (into *val); 0 on success. */
static int vector_value(emitter *E, int si, phase ph, int node, int N, const char *mask, tt_str *val,
                        vctx *split)
{
    const stage_info *I = &E->L->info[si];
    const tt_op *op = &E->L->s->stages[si].op;
    vctx v;
    memset(&v, 0, sizeof v);
    v.E = E, v.si = si, v.lane = si * TT_MAX_NODES + node, v.N = N, v.mask = mask;
    v.split = split != NULL;
    tt_str_init(val);
    tt_str *save = E->o;
    E->o = val;
    if (E->acc == ACC_LOAD || E->acc == ACC_STORE) {
        /* no value: the accumulators move between registers and memory */
    } else if (ph == PH_INIT) {
        tt_str_catf(val, "tt_vsplat%d(", N);
        emit_float(E, op->red == TT_RED_SUM ? 0.0 : op->red == TT_RED_MAX ? -INFINITY : INFINITY);
        tt_str_cat(val, ")");
    } else {
        emit_vop(&v, I->body);
    }
    E->o = save;
    tt_str_cat(val, "");
    /* every form of the statement is guarded by the union of its boundaries */
    for (int i = 0; split && !v.fail && i < v.nbnd; i++)
        if (add_boundary(split, &v.bx[i], v.bk[i]))
            return -1;
    return v.fail ? -1 : 0;
}

/* A vector form of a nest's innermost loop, as try_vector plans it: the
 * chunks (nch of W lanes, then a tail of T with TC valid), the root that may
 * run past its extent (mroot, masked; -1 none) with the masks of its valid
 * lanes, and the statement's values unmasked and masked, chunk and tail. */
typedef struct vplan {
    int node;                    /* the loop's node */
    int W, T, TC;
    int64_t nch;
    int mroot;
    char mask[160], tmask[224];
    tt_str val, mval, tval, mtval;
    vctx sctx, *split;           /* split mode (a lane-dependent select) */
} vplan;

/* 1 if the innermost loop li of nest ph can run as vectors: the lane enters
 * every varying root linearly, without guards, except one output root that
 * it enters with coefficient 1 and that may run past its extent at the top
 * only (P->mroot: masked, emit_vstatement); P's chunks set. */
static int vector_lane_ok(emitter *E, int si, nest *N, phase ph, int li, vplan *P)
{
    lowering *L = E->L;
    const tt_stage *st = &L->s->stages[si];
    const stage_info *I = &L->info[si];
    const tt_op *op = &st->op;
    int node = st->iters[N->pos[li]].node;
    P->node = node;
    int64_t n = I->ext[node];
    if (E->ref || n < 2 || n > 64 || (vec_width(n, E->vlanes) < 2 && n < 4))
        return 0;
    if (E->acc && !E->acc_vec)
        return 0; /* scalar accumulators: every access stays scalar */
    for (int k = 0; k < I->ninner_guards; k++)
        if (lane_coef(&I->val[I->inner_guard[k]], si * TT_MAX_NODES + node) != 0)
            return 0;
    /* statements wider than the hardware's vectors become chunks of its width */
    vec_chunks(n, E->vlanes, &P->W, &P->nch, &P->T, &P->TC);
    vctx v;
    memset(&v, 0, sizeof v);
    v.E = E, v.si = si, v.lane = si * TT_MAX_NODES + node, v.N = P->W;
    for (int k = 0; k < st->nnodes; k++)
        if (I->is_atom[k] && I->fuse_rel[k] >= 0 &&
            lane_coef(&I->val[st->rels[I->fuse_rel[k]].other], v.lane) != 0)
            return 0;
    int nroots = op->ndim + (ph == PH_INIT ? 0 : op->nreduce);
    P->mroot = -1;
    for (int r = 0; r < nroots; r++) {
        int64_t c = lane_coef(&I->root[r], v.lane);
        if (c == 0)
            continue;
        int local = I->buf == LW_BUF_LOCAL && r < op->ndim && I->local_guard[r];
        if (I->guard_lo[r] || !I->root[r].ok)
            return 0;
        if (I->guard_hi[r] || local) {
            if (c != 1 || r >= op->ndim || P->mroot >= 0)
                return 0;
            P->mroot = r;
        }
    }
    int64_t wc = 0;
    for (int d = 0; d < op->ndim; d++) {
        int64_t stride = 1;
        for (int k = d + 1; k < op->ndim; k++)
            stride *= I->buf == LW_BUF_LOCAL ? I->R[k] : op->axis[k].extent;
        wc += stride * lane_coef(&I->root[d], v.lane);
    }
    if (wc != 1)
        return 0;
    if (ph != PH_INIT && I->cond && varies(&v, I->cond))
        return 0;
    return 1;
}

/* The masks of P's valid lanes: of the root that may run past its extent
 * (past the tensor's extent, and/or past the region of a local buffer: its
 * own split covering more than the region, r - m < R), and of a masked tail. */
static void lane_masks(emitter *E, int si, vplan *P)
{
    const stage_info *I = &E->L->info[si];
    const tt_op *op = &E->L->s->stages[si].op;
    int mroot = P->mroot, T = P->T, TC = P->TC;
    char *mask = P->mask, *tmask = P->tmask;
    if (mroot >= 0) {
        int hi = I->guard_hi[mroot], u = op->uid;
        long long Ex = (long long)op->axis[mroot].extent;
        if (I->buf == LW_BUF_LOCAL && I->local_guard[mroot] && hi)
            snprintf(mask, sizeof P->mask, "tt_mini(INT64_C(%lld) - r%d_%d, INT64_C(%lld) - (r%d_%d - m%d_%d))", Ex,
                     u, mroot, (long long)I->R[mroot], u, mroot, u, mroot);
        else if (I->buf == LW_BUF_LOCAL && I->local_guard[mroot])
            snprintf(mask, sizeof P->mask, "(INT64_C(%lld) - (r%d_%d - m%d_%d))", (long long)I->R[mroot], u, mroot,
                     u, mroot);
        else
            snprintf(mask, sizeof P->mask, "(INT64_C(%lld) - r%d_%d%s)", Ex, u, mroot, root_clamped(E, I, mroot, op->ndim) ? "u" : "");
    }
    if (T && TC < T)
        snprintf(tmask, sizeof P->tmask, mroot >= 0 ? "tt_mini(%s, INT64_C(%d))" : "%sINT64_C(%d)", mask, TC);
    else if (T)
        snprintf(tmask, sizeof P->tmask, "%s", mask);
}

/* P's values, into scratch strings (freed by vplan_free): first as plain
 * vectors; an injective statement whose selects depend on the lane (a
 * concat whose inputs' channel counts are not multiples of the width) then
 * in split mode, vector where no select boundary falls inside the lanes and
 * scalar where one does.  0, or -1 if no vector form exists. */
static int vector_values(emitter *E, int si, phase ph, vplan *P)
{
    int node = P->node, W = P->W, T = P->T;
    int64_t nch = P->nch;
    const char *mask = P->mask, *tmask = P->tmask;
    int fail = 1;
    for (int attempt = 0; attempt < 2 && fail; attempt++) {
        if (attempt == 1) {
            if (E->acc != ACC_OFF || ph != PH_PLAIN)
                break;
            memset(&P->sctx, 0, sizeof P->sctx);
            P->split = &P->sctx;
        }
        fail = 0;
        if (nch) {
            tt_str_free(&P->val);
            tt_str_free(&P->mval);
            fail |= vector_value(E, si, ph, node, W, NULL, &P->val, P->split);
            fail |= vector_value(E, si, ph, node, W, mask[0] ? mask : NULL, &P->mval, P->split);
        }
        if (!fail && T) {
            tt_str_free(&P->tval);
            tt_str_free(&P->mtval);
            fail |= vector_value(E, si, ph, node, T, NULL, &P->tval, P->split);
            fail |= vector_value(E, si, ph, node, T, tmask[0] ? tmask : NULL, &P->mtval, P->split);
        }
    }
    return fail ? -1 : 0;
}

static void vplan_free(vplan *P)
{
    tt_str_free(&P->val);
    tt_str_free(&P->tval);
    tt_str_free(&P->mval);
    tt_str_free(&P->mtval);
}

/* Try the vector form of the innermost loop `li` of nest ph; 0 if not possible
 * (nothing emitted). */
int try_vector(emitter *E, int si, nest *N, phase ph, int li, defs D)
{
    vplan P;
    memset(&P, 0, sizeof P);
    if (!vector_lane_ok(E, si, N, ph, li, &P))
        return 0;
    lane_masks(E, si, &P);
    tt_str_init(&P.val);
    tt_str_init(&P.mval);
    tt_str_init(&P.tval);
    tt_str_init(&P.mtval);
    if (vector_values(E, si, ph, &P)) {
        vplan_free(&P);
        return 0;
    }
    int node = P.node, W = P.W, T = P.T, TC = P.TC;
    int64_t nch = P.nch;
    const char *mask = P.mask, *tmask = P.tmask;
    char lane0[64], accx[600];
    if (nch > 1 && E->chunk_part > 0 && E->acc != ACC_OFF && nch % E->chunk_part == 0) {
        /* this part's chunks of the register tile (tile.c chunk_parts) */
        long long parts = (long long)E->chunk_part;
        tt_str_catf(E->o, "#pragma GCC unroll %lld\nfor (int64_t tt_ch = tt_cp * %lld; tt_ch < tt_cp * %lld + %lld; tt_ch++) {\n",
                    parts, parts, parts, parts);
        snprintf(lane0, sizeof lane0, "tt_ch * %d", W);
        snprintf(accx, sizeof accx, "(%s) * %lld + (tt_ch - tt_cp * %lld)", E->acc_idx, parts, parts);
    } else if (nch > 1) {
        tt_str_catf(E->o, "#pragma GCC unroll %lld\nfor (int64_t tt_ch = 0; tt_ch < %lldLL; tt_ch++) {\n",
                    (long long)nch, (long long)nch);
        snprintf(lane0, sizeof lane0, "tt_ch * %d", W);
        snprintf(accx, sizeof accx, "(%s) * %lld + tt_ch", E->acc_idx, (long long)nch);
    } else {
        tt_str_cat(E->o, "{\n");
        snprintf(lane0, sizeof lane0, "0");
        snprintf(accx, sizeof accx, "%s", E->acc_idx);
    }
    if (nch)
        emit_vstatement(E, si, ph, D, node, lane0, W, "acc", accx, P.val.buf, mask[0] ? mask : NULL, P.mval.buf,
                        P.split, W);
    tt_str_cat(E->o, "}\n");
    if (T) {
        /* the narrower tail statement; its accumulators live in acct */
        tt_str_cat(E->o, "{\n");
        snprintf(lane0, sizeof lane0, "%lld", (long long)(nch * W));
        emit_vstatement(E, si, ph, D, node, lane0, T, "acct", E->acc_idx, P.tval.buf, tmask[0] ? tmask : NULL,
                        P.mtval.buf, P.split, TC < T ? TC : T);
        tt_str_cat(E->o, "}\n");
    }
    vplan_free(&P);
    return 1;
}

