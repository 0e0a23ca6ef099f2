/* emit.c - C emission of a lowered state (see codegen.h).
 *
 * Names in the generated code: b<uid> buffer of a tensor, g<uid> its error
 * magnitude (reference only), l<uid>_<node> a loop variable, a<uid>_<node> a
 * part of a fused loop variable, r<uid>_<root> the global value of a root
 * axis, m<uid>_<dim> the region minimum of a stage computed at a loop.
 *
 * A reduction stage is emitted as TVM does: the loops before its first
 * reduction iterator are shared; there the init nest (the remaining spatial
 * iterators) sets the identity, then the update nest runs:
 *
 *   for n.0, h.0, ...                 (common)
 *     for h.3, c.3: C[..] = 0          (init)
 *     for rc.0, ..., h.3, c.3: C[..] += A[..] * W[..]   (update)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lower.h"

/* Weight tensors one kernel keeps packed copies of (see the packing code in
 * emit_function): one kernel serves every layer of its shape. */
#define TT_PACK_CACHE 1024

#define LOCAL_STACK_BYTES (128 * 1024)
#define MAX_EXPLICIT_UNROLL 64
#define MAX_UNROLL_TEXT 24576 /* bytes of C per explicitly unrolled loop */

typedef enum phase { PH_PLAIN = 0, PH_COMMON, PH_INIT, PH_UPDATE } phase;

typedef struct emitter {
    lowering *L;
    tt_str *o;
    int in_parallel;
    int ref;              /* reference mode: double values and magnitudes */
    const char *T;        /* "float" or "double" */
    tt_str rebind;        /* restrict-qualified buffer pointers, redeclared in
                             every parallel loop body: OpenMP outlining loses the
                             function-level `restrict`, and with it the proof
                             that the accumulators do not alias the inputs */
    int acc;              /* register tile mode (ACC_*), see emit_tile */
    int acc_vec;          /* the tile's accumulators are vectors */
    int vlanes;           /* fp32 lanes of the target's vectors: wider vector
                             statements are split into chunks of this width */
    int in_tile;
    char acc_idx[512];    /* C expression of the accumulator index */
} emitter;

enum { ACC_OFF = 0, ACC_LOAD, ACC_UPDATE, ACC_STORE };

typedef struct defs {
    unsigned char atom[TT_MAX_NODES];  /* atom variable defined */
    unsigned char root[LW_MAX_ROOTS];  /* root value defined */
    unsigned char bound[TT_MAX_NODES]; /* leaf bound by an enclosing loop */
    unsigned char iguard[TT_MAX_NODES];/* inner split guard opened */
    int nguards;                       /* open `if (...) {` blocks at this level */
} defs;

static void emit_stage(emitter *E, int si);
static void emit_local_decl(emitter *E, int si);

/* ---- small text helpers --------------------------------------------------- */

static void atom_name(const lowering *L, int atom, char *buf, size_t n)
{
    int si = atom / TT_MAX_NODES, node = atom % TT_MAX_NODES;
    const tt_stage *st = &L->s->stages[si];
    int leaf = tt_stage_iter_of_node(st, node) >= 0;
    snprintf(buf, n, "%c%d_%d", leaf ? 'l' : 'a', st->op.uid, node);
}

static void emit_aff(emitter *E, const aff *x)
{
    char nm[32];
    int first = 1;
    tt_str_cat(E->o, "(");
    if (x->c || x->n == 0) {
        tt_str_catf(E->o, "%lld", (long long)x->c);
        first = 0;
    }
    for (int i = 0; i < x->n; i++) {
        atom_name(E->L, x->atom[i], nm, sizeof nm);
        if (x->coef[i] == 1)
            tt_str_catf(E->o, "%s%s", first ? "" : " + ", nm);
        else
            tt_str_catf(E->o, "%s%lld * %s", first ? "" : " + ", (long long)x->coef[i], nm);
        first = 0;
    }
    tt_str_cat(E->o, ")");
}

static void emit_float(emitter *E, double v)
{
    if (isinf(v))
        tt_str_cat(E->o, v > 0 ? "INFINITY" : "(-INFINITY)");
    else if (isnan(v))
        tt_str_cat(E->o, "NAN");
    else if (E->ref)
        tt_str_catf(E->o, "%.17e", v);
    else
        tt_str_catf(E->o, "%.9ef", v);
}

/* Flat index of a load of stage si (indices relative to its region). */
static void emit_expr(emitter *E, const tt_expr *e, int si);

static void emit_index(emitter *E, int pi, tt_expr *const *idx, int n, int si)
{
    const stage_info *P = &E->L->info[pi];
    const tt_op *op = &E->L->s->stages[pi].op;
    int local = P->buf == LW_BUF_LOCAL;
    if (n == 0) {
        tt_str_cat(E->o, "0");
        return;
    }
    if (P->pack_cb && si == P->pack_reader) {
        /* packed [ceil(E_b/cb), (others), cb]: ((q * OTH + others) * cb + r) */
        int b = P->pack_dim;
        int64_t oth = 1;
        for (int d = 0; d < n; d++)
            if (d != b)
                oth *= op->axis[d].extent;
        tt_str_cat(E->o, "((");
        emit_aff(E, &P->pack_q);
        tt_str_catf(E->o, " * %lld", (long long)oth);
        for (int d = 0; d < n; d++) {
            if (d == b)
                continue;
            int64_t stride = 1;
            for (int k = d + 1; k < n; k++)
                if (k != b)
                    stride *= op->axis[k].extent;
            tt_str_cat(E->o, " + (");
            emit_expr(E, idx[d], si);
            tt_str_catf(E->o, ") * %lld", (long long)stride);
        }
        tt_str_catf(E->o, ") * %lld + ", (long long)P->pack_cb);
        emit_aff(E, &P->pack_r);
        tt_str_cat(E->o, ")");
        return;
    }
    tt_str_cat(E->o, "(");
    for (int d = 0; d < n; d++) {
        int64_t stride = 1;
        for (int k = d + 1; k < n; k++)
            stride *= local ? P->R[k] : op->axis[k].extent;
        if (d)
            tt_str_cat(E->o, " + ");
        tt_str_cat(E->o, "(");
        emit_expr(E, idx[d], si);
        if (local)
            tt_str_catf(E->o, " - m%d_%d", op->uid, d);
        if (stride != 1)
            tt_str_catf(E->o, ") * %lld", (long long)stride);
        else
            tt_str_cat(E->o, ")");
    }
    tt_str_cat(E->o, ")");
}

static const char *call_name(tt_call f, int ref)
{
    switch (f) {
    case TT_CALL_EXP: return ref ? "exp" : "tt_expf";
    case TT_CALL_LOG: return ref ? "log" : "logf";
    case TT_CALL_SQRT: return ref ? "sqrt" : "sqrtf";
    case TT_CALL_RSQRT: return ref ? "tt_rsqrtd" : "tt_rsqrtf";
    case TT_CALL_TANH: return ref ? "tanh" : "tt_tanhf";
    case TT_CALL_ERF: return ref ? "erf" : "tt_erff";
    case TT_CALL_SIGMOID: return ref ? "tt_sigmoidd" : "tt_sigmoidf";
    case TT_CALL_POW: return ref ? "pow" : "powf";
    case TT_CALL_FABS: return ref ? "fabs" : "fabsf";
    default: return "?";
    }
}

static void emit_expr(emitter *E, const tt_expr *e, int si)
{
    const tt_stage *st = &E->L->s->stages[si];
    static const char *binop[TT_E_COUNT] = {
        [TT_E_ADD] = "+", [TT_E_SUB] = "-", [TT_E_MUL] = "*", [TT_E_DIV] = "/",
        [TT_E_LT] = "<",  [TT_E_LE] = "<=", [TT_E_GT] = ">",  [TT_E_GE] = ">=",
        [TT_E_EQ] = "==", [TT_E_NE] = "!=", [TT_E_AND] = "&&", [TT_E_OR] = "||",
    };
    switch (e->kind) {
    case TT_E_INT:
        tt_str_catf(E->o, "%lldLL", (long long)e->u.ival);
        return;
    case TT_E_FLOAT:
        emit_float(E, e->u.fval);
        return;
    case TT_E_AXIS:
        tt_str_catf(E->o, "r%d_%d", st->op.uid, e->u.axis);
        return;
    case TT_E_RAXIS:
        tt_str_catf(E->o, "r%d_%d", st->op.uid, st->op.ndim + e->u.axis);
        return;
    case TT_E_LOAD: {
        int pi = tt_state_stage_of_uid(E->L->s, e->u.uid);
        tt_str_catf(E->o, "b%d[", e->u.uid);
        emit_index(E, pi, e->args, e->n, si);
        tt_str_cat(E->o, "]");
        return;
    }
    case TT_E_FLOORDIV:
    case TT_E_FLOORMOD:
        tt_str_cat(E->o, e->kind == TT_E_FLOORDIV ? "tt_floordiv(" : "tt_floormod(");
        emit_expr(E, e->args[0], si);
        tt_str_cat(E->o, ", ");
        emit_expr(E, e->args[1], si);
        tt_str_cat(E->o, ")");
        return;
    case TT_E_MIN:
    case TT_E_MAX: {
        const char *f = e->type == TT_T_INT ? (e->kind == TT_E_MIN ? "tt_mini" : "tt_maxi")
                        : E->ref         ? (e->kind == TT_E_MIN ? "tt_mind" : "tt_maxd")
                                         : (e->kind == TT_E_MIN ? "tt_minf" : "tt_maxf");
        tt_str_catf(E->o, "%s(", f);
        emit_expr(E, e->args[0], si);
        tt_str_cat(E->o, ", ");
        emit_expr(E, e->args[1], si);
        tt_str_cat(E->o, ")");
        return;
    }
    case TT_E_NOT:
        tt_str_cat(E->o, "(!");
        emit_expr(E, e->args[0], si);
        tt_str_cat(E->o, ")");
        return;
    case TT_E_CAST:
        tt_str_catf(E->o, "((%s)(", E->T);
        emit_expr(E, e->args[0], si);
        tt_str_cat(E->o, "))");
        return;
    case TT_E_SELECT:
        tt_str_cat(E->o, "(");
        emit_expr(E, e->args[0], si);
        tt_str_cat(E->o, " ? ");
        emit_expr(E, e->args[1], si);
        tt_str_cat(E->o, " : ");
        emit_expr(E, e->args[2], si);
        tt_str_cat(E->o, ")");
        return;
    case TT_E_CALL:
        tt_str_catf(E->o, "%s(", call_name(e->u.call, E->ref));
        for (int i = 0; i < e->n; i++) {
            if (i)
                tt_str_cat(E->o, ", ");
            emit_expr(E, e->args[i], si);
        }
        tt_str_cat(E->o, ")");
        return;
    default:
        if (binop[e->kind]) {
            tt_str_cat(E->o, "(");
            emit_expr(E, e->args[0], si);
            tt_str_catf(E->o, " %s ", binop[e->kind]);
            emit_expr(E, e->args[1], si);
            tt_str_cat(E->o, ")");
            return;
        }
        tt_str_cat(E->o, "0");
    }
}

/* Error magnitude of e (reference mode): first-order propagation. */
static void emit_mag(emitter *E, const tt_expr *e, int si)
{
    tt_str *o = E->o;
    switch (e->kind) {
    case TT_E_FLOAT:
        tt_str_cat(o, "fabs(");
        emit_float(E, e->u.fval);
        tt_str_cat(o, ")");
        return;
    case TT_E_LOAD: {
        int pi = tt_state_stage_of_uid(E->L->s, e->u.uid);
        if (E->L->info[pi].buf == LW_BUF_INPUT) {
            tt_str_cat(o, "fabs((double)");
            emit_expr(E, e, si);
            tt_str_cat(o, ")");
        } else {
            tt_str_catf(o, "g%d[", e->u.uid);
            emit_index(E, pi, e->args, e->n, si);
            tt_str_cat(o, "]");
        }
        return;
    }
    case TT_E_ADD:
    case TT_E_SUB:
        tt_str_cat(o, "(");
        emit_mag(E, e->args[0], si);
        tt_str_cat(o, " + ");
        emit_mag(E, e->args[1], si);
        tt_str_cat(o, ")");
        return;
    case TT_E_MUL:
        tt_str_cat(o, "(");
        emit_mag(E, e->args[0], si);
        tt_str_cat(o, " * ");
        emit_mag(E, e->args[1], si);
        tt_str_cat(o, ")");
        return;
    case TT_E_DIV:
        tt_str_cat(o, "tt_magdiv(");
        emit_expr(E, e->args[0], si);
        tt_str_cat(o, ", ");
        emit_expr(E, e->args[1], si);
        tt_str_cat(o, ", ");
        emit_mag(E, e->args[0], si);
        tt_str_cat(o, ", ");
        emit_mag(E, e->args[1], si);
        tt_str_cat(o, ")");
        return;
    case TT_E_MIN:
    case TT_E_MAX:
        tt_str_cat(o, "fmax(");
        emit_mag(E, e->args[0], si);
        tt_str_cat(o, ", ");
        emit_mag(E, e->args[1], si);
        tt_str_cat(o, ")");
        return;
    case TT_E_SELECT:
        tt_str_cat(o, "(");
        emit_expr(E, e->args[0], si);
        tt_str_cat(o, " ? ");
        emit_mag(E, e->args[1], si);
        tt_str_cat(o, " : ");
        emit_mag(E, e->args[2], si);
        tt_str_cat(o, ")");
        return;
    case TT_E_CALL: {
        /* |f(x)| + |f'(x)| * mag(x) (pow: only the base's sensitivity) */
        static const char *deriv[TT_CALL_COUNT] = {
            [TT_CALL_EXP] = "tt_dexp",     [TT_CALL_LOG] = "tt_dlog",
            [TT_CALL_SQRT] = "tt_dsqrt",   [TT_CALL_RSQRT] = "tt_drsqrt",
            [TT_CALL_TANH] = "tt_dtanh",   [TT_CALL_ERF] = "tt_derf",
            [TT_CALL_SIGMOID] = "tt_dsigmoid", [TT_CALL_FABS] = "tt_dfabs",
        };
        if (e->u.call == TT_CALL_POW) {
            tt_str_cat(o, "tt_magpow(");
            emit_expr(E, e->args[0], si);
            tt_str_cat(o, ", ");
            emit_expr(E, e->args[1], si);
            tt_str_cat(o, ", ");
            emit_mag(E, e->args[0], si);
            tt_str_cat(o, ")");
            return;
        }
        tt_str_catf(o, "%s(", deriv[e->u.call] ? deriv[e->u.call] : "tt_dfabs");
        emit_expr(E, e->args[0], si);
        tt_str_cat(o, ", ");
        emit_mag(E, e->args[0], si);
        tt_str_cat(o, ")");
        return;
    }
    default:
        tt_str_cat(o, "fabs((double)");
        emit_expr(E, e, si);
        tt_str_cat(o, ")");
    }
}

/* ---- definitions of atoms and roots as loops bind leaves ------------------ */

static int aff_bound(const lowering *L, const aff *x, int si, const defs *D)
{
    for (int i = 0; i < x->n; i++) {
        int a = x->atom[i];
        if (a / TT_MAX_NODES != si)
            continue; /* atoms of enclosing stages are always bound */
        int node = a % TT_MAX_NODES;
        if (!D->bound[node] && !D->atom[node])
            return 0;
    }
    return 1;
}

/* Define every fused part and root value of stage si that became computable,
 * opening guards for roots that may leave their axis.  in_init: only
 * spatial roots matter. */
static void define_ready(emitter *E, int si, defs *D, phase ph)
{
    const lowering *L = E->L;
    const tt_stage *st = &L->s->stages[si];
    const stage_info *I = &L->info[si];
    int progress = 1;
    while (progress) {
        progress = 0;
        for (int n = 0; n < st->nnodes; n++) {
            if (!I->is_atom[n] || D->atom[n] || D->bound[n] || I->fuse_rel[n] < 0)
                continue;
            const tt_rel *rel = &st->rels[I->fuse_rel[n]];
            const aff *fv = &I->val[rel->other];
            if (!aff_bound(L, fv, si, D))
                continue;
            int idx = 0;
            while (rel->nodes[idx] != n)
                idx++;
            int64_t stride = 1;
            for (int k = idx + 1; k < rel->n; k++)
                stride *= I->ext[rel->nodes[k]];
            tt_str_catf(E->o, "const int64_t a%d_%d = ", st->op.uid, n);
            if (idx > 0)
                tt_str_cat(E->o, "(");
            emit_aff(E, fv);
            if (stride > 1)
                tt_str_catf(E->o, " / INT64_C(%lld)", (long long)stride);
            if (idx > 0)
                tt_str_catf(E->o, ") %% INT64_C(%lld)", (long long)I->ext[n]);
            tt_str_cat(E->o, ";\n");
            D->atom[n] = 1;
            progress = 1;
        }
    }
    for (int k = 0; k < I->ninner_guards; k++) {
        int n = I->inner_guard[k];
        if (D->iguard[n] || (ph == PH_INIT && st->nodes[n].kind != TT_ITER_SPATIAL) ||
            !aff_bound(L, &I->val[n], si, D))
            continue;
        tt_str_cat(E->o, "if (");
        emit_aff(E, &I->val[n]);
        tt_str_catf(E->o, " < INT64_C(%lld)) {\n", (long long)I->ext[n]);
        D->iguard[n] = 1;
        D->nguards++;
    }
    int nroots = st->op.ndim + st->op.nreduce;
    for (int r = 0; r < nroots; r++) {
        if (D->root[r])
            continue;
        if (ph == PH_INIT && r >= st->op.ndim)
            continue;
        if (!aff_bound(L, &I->root[r], si, D))
            continue;
        int64_t Ex = r < st->op.ndim ? st->op.axis[r].extent : st->op.raxis[r - st->op.ndim].extent;
        int local = I->buf == LW_BUF_LOCAL && r < st->op.ndim && I->local_guard[r];
        D->root[r] = 1;
        if (E->acc == ACC_UPDATE && r < st->op.ndim && I->guard_hi[r] && !I->guard_lo[r] && !local) {
            /* inside a register tile's update, an output row past the extent
             * (the guarded last tile of Inception's 71 rows) is clamped to the
             * last real one instead of branched around in the inner loop: its
             * accumulators gather a copy of that row's sums and are never
             * stored (the tile's store keeps the guard).  Only spatial roots:
             * a reduction index clamped would be counted twice. */
            tt_str_catf(E->o, "const int64_t r%d_%d = tt_mini(", st->op.uid, r);
            emit_aff(E, &I->root[r]);
            tt_str_catf(E->o, ", INT64_C(%lld));\n", (long long)(Ex - 1));
            continue;
        }
        tt_str_catf(E->o, "const int64_t r%d_%d = ", st->op.uid, r);
        emit_aff(E, &I->root[r]);
        tt_str_cat(E->o, ";\n");
        if (I->guard_hi[r] || I->guard_lo[r] || local) {
            tt_str_cat(E->o, "if (");
            if (I->guard_lo[r])
                tt_str_catf(E->o, "r%d_%d >= 0 && ", st->op.uid, r);
            if (local) /* the stage's own split covers more than its region */
                tt_str_catf(E->o, "r%d_%d - m%d_%d < %lldLL && ", st->op.uid, r, st->op.uid, r,
                            (long long)I->R[r]);
            tt_str_catf(E->o, "r%d_%d < INT64_C(%lld)) {\n", st->op.uid, r, (long long)Ex);
            D->nguards++;
        }
    }
}

/* ---- loops ------------------------------------------------------------------- */

typedef struct nest {
    int n;
    int tile_at;               /* update nest: loop index where a register tile starts, -1 none */
    int all_unrolled;          /* planned: every loop unrolled or the vector loop */
    int64_t steps;             /* planned: statements after unrolling */
    int pos[TT_MAX_ITERS];
    int unroll[TT_MAX_ITERS];  /* 1 = explicit unroll */
    int simd[TT_MAX_ITERS];
} nest;

static int has_attached(const lowering *L, int uid, int node)
{
    for (int i = 0; i < L->s->nstages; i++) {
        const tt_stage *o = &L->s->stages[i];
        if (o->at == TT_AT_ITER && o->at_uid == uid && o->at_node == node)
            return 1;
    }
    return 0;
}

/* Unroll decisions as TVM's UnrollLoop: innermost first, a serial loop of
 * known extent whose inner loops are all unrolled (or vectorized) is unrolled
 * when extent * inner statements <= auto_unroll_max_step (depth <= 8); an
 * AN unroll annotation forces it (up to MAX_EXPLICIT_UNROLL). */
static void plan_nest(emitter *E, int si, nest *N, phase ph, int64_t inner_steps, int inner_unrolled)
{
    const lowering *L = E->L;
    const tt_stage *st = &L->s->stages[si];
    const stage_info *I = &L->info[si];
    int upos = st->unroll_node >= 0 ? tt_stage_iter_of_node(st, st->unroll_node) : -1;
    /* the common part of a reduction contains its init and update nests:
     * their statements count, and a loop left rolled there stops unrolling */
    int64_t steps = inner_steps;
    int depth = 0, all_inner = inner_unrolled;
    for (int j = N->n - 1; j >= 0; j--) {
        int pos = N->pos[j];
        int node = st->iters[pos].node;
        tt_ann ann = st->iters[pos].ann;
        int64_t ext = I->ext[node];
        int attached = ph != PH_INIT && has_attached(L, st->op.uid, node);
        N->simd[j] = 0;
        N->unroll[j] = 0;
        /* the innermost loop of the common part is not innermost: the init
         * and update nests follow inside it */
        int innermost = j == N->n - 1 && ph != PH_COMMON;
        if (ann == TT_ANN_VECTORIZE && innermost && !attached && !E->ref &&
            st->nodes[node].kind == TT_ITER_SPATIAL && ext > 1) {
            N->simd[j] = 1; /* a vector statement counts as one step */
            continue;
        }
        if (E->ref || attached || ann == TT_ANN_PARALLEL || ann == TT_ANN_VECTORIZE) {
            all_inner = 0;
            continue;
        }
        int unroll = (ann == TT_ANN_UNROLL && ext <= MAX_EXPLICIT_UNROLL) ||
                     (all_inner && upos >= 0 && pos > upos && st->auto_unroll_max_step > 0 && depth < 8 &&
                      ext * steps <= st->auto_unroll_max_step);
        if (unroll && innermost && st->nodes[node].kind == TT_ITER_SPATIAL && ext > 1 &&
            (ext & (ext - 1)) == 0 && ext <= 64) {
            /* an unrolled innermost spatial loop is the same computation as
             * one vector statement (its iterations are independent): emit it
             * as such; TVM leaves this to LLVM's SLP vectorizer */
            N->simd[j] = 1;
            depth++;
            continue;
        }
        if (unroll) {
            N->unroll[j] = 1;
            steps *= ext;
            if (ann != TT_ANN_UNROLL)
                depth++;
            continue;
        }
        all_inner = 0;
    }
    N->all_unrolled = all_inner;
    N->steps = steps;
}

/* Flat write index of stage si's buffer (relative to its region if local). */
static void write_index(emitter *E, int si, tt_str *idx)
{
    const stage_info *I = &E->L->info[si];
    const tt_op *op = &E->L->s->stages[si].op;
    tt_str_init(idx);
    if (op->ndim == 0)
        tt_str_cat(idx, "0");
    for (int d = 0; d < op->ndim; d++) {
        int64_t stride = 1;
        for (int k = d + 1; k < op->ndim; k++)
            stride *= I->buf == LW_BUF_LOCAL ? I->R[k] : op->axis[k].extent;
        if (d)
            tt_str_cat(idx, " + ");
        if (I->buf == LW_BUF_LOCAL)
            tt_str_catf(idx, "(r%d_%d - m%d_%d) * %lld", op->uid, d, op->uid, d, (long long)stride);
        else
            tt_str_catf(idx, "r%d_%d * %lld", op->uid, d, (long long)stride);
    }
}

static void emit_statement(emitter *E, int si, phase ph)
{
    const lowering *L = E->L;
    const tt_stage *st = &L->s->stages[si];
    const stage_info *I = &L->info[si];
    const tt_op *op = &st->op;
    tt_str *o = E->o;
    tt_str idx;
    write_index(E, si, &idx);
    if (E->acc == ACC_LOAD || E->acc == ACC_STORE) {
        if (E->acc == ACC_LOAD)
            tt_str_catf(o, "acc[%s] = b%d[%s];\n", E->acc_idx, op->uid, idx.buf);
        else
            tt_str_catf(o, "b%d[%s] = acc[%s];\n", op->uid, idx.buf, E->acc_idx);
        tt_str_free(&idx);
        return;
    }
    if (ph == PH_INIT) {
        tt_str_catf(o, "b%d[%s] = ", op->uid, idx.buf);
        emit_float(E, op->red == TT_RED_SUM ? 0.0 : op->red == TT_RED_MAX ? -INFINITY : INFINITY);
        tt_str_cat(o, ";\n");
        if (E->ref)
            tt_str_catf(o, "g%d[%s] = 0.0;\n", op->uid, idx.buf);
        tt_str_free(&idx);
        return;
    }
    const tt_expr *body = I->body;
    char tgt[700];
    if (E->acc == ACC_UPDATE)
        snprintf(tgt, sizeof tgt, "acc[%s]", E->acc_idx);
    else
        snprintf(tgt, sizeof tgt, "b%d[%s]", op->uid, idx.buf);
    if (op->red != TT_RED_NONE && I->cond) {
        tt_str_cat(o, "if (");
        emit_expr(E, I->cond, si);
        tt_str_cat(o, ") {\n");
    }
    if (op->red == TT_RED_NONE) {
        tt_str_catf(o, "b%d[%s] = ", op->uid, idx.buf);
        emit_expr(E, body, si);
        tt_str_cat(o, ";\n");
        if (E->ref) {
            tt_str_catf(o, "g%d[%s] = ", op->uid, idx.buf);
            emit_mag(E, body, si);
            tt_str_cat(o, ";\n");
        }
    } else if (op->red == TT_RED_SUM) {
        tt_str_catf(o, "%s = %s + ", tgt, tgt);
        emit_expr(E, body, si);
        tt_str_cat(o, ";\n");
        if (E->ref) {
            tt_str_catf(o, "g%d[%s] = g%d[%s] + ", op->uid, idx.buf, op->uid, idx.buf);
            emit_mag(E, body, si);
            tt_str_cat(o, ";\n");
        }
    } else {
        const char *f = op->red == TT_RED_MAX ? (E->ref ? "tt_maxd" : "tt_maxf")
                                              : (E->ref ? "tt_mind" : "tt_minf");
        tt_str_catf(o, "%s = %s(%s, ", tgt, f, tgt);
        emit_expr(E, body, si);
        tt_str_cat(o, ");\n");
        if (E->ref) {
            tt_str_catf(o, "g%d[%s] = fmax(g%d[%s], ", op->uid, idx.buf, op->uid, idx.buf);
            emit_mag(E, body, si);
            tt_str_cat(o, ");\n");
        }
    }
    if (op->red != TT_RED_NONE && I->cond)
        tt_str_cat(o, "}\n");
    tt_str_free(&idx);
}


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

static void emit_vexpr(vctx *v, const tt_expr *e)
{
    emitter *E = v->E;
    static const char *vcall[TT_CALL_COUNT] = {
        [TT_CALL_EXP] = "exp",   [TT_CALL_LOG] = "log",   [TT_CALL_SQRT] = "sqrt",
        [TT_CALL_RSQRT] = "rsqrt", [TT_CALL_TANH] = "tanh", [TT_CALL_ERF] = "erf",
        [TT_CALL_SIGMOID] = "sigmoid", [TT_CALL_FABS] = "fabs",
    };
    switch (e->kind) {
    case TT_E_LOAD: {
        aff a;
        if (load_flat_aff(v, e, &a)) {
            v->fail = 1;
            return;
        }
        int64_t c = lane_coef(&a, v->lane);
        int pi = tt_state_stage_of_uid(E->L->s, e->u.uid);
        if (v->mask && c != 1) {
            v->fail = 1; /* no masked gather */
            return;
        }
        /* a packed weight copy is zero-padded to whole blocks: a load whose
         * every lane stays inside it needs no mask (then a register tile's
         * update has one form only, no test in its inner loop) */
        const stage_info *P = &E->L->info[pi];
        int masked = v->mask != NULL;
        if (masked && P->pack_cb && v->si == P->pack_reader) {
            const tt_op *pop = &E->L->s->stages[pi].op;
            int64_t numel = 1;
            for (int d = 0; d < pop->ndim; d++)
                numel *= pop->axis[d].extent;
            int64_t Eb = pop->axis[P->pack_dim].extent, nb = (Eb + P->pack_cb - 1) / P->pack_cb;
            int64_t padded = numel / Eb * nb * P->pack_cb;
            if (aff_min(E->L, &a) >= 0 && aff_max(E->L, &a) < padded)
                masked = 0;
        }
        if (c == 1)
            tt_str_catf(E->o, "tt_vload%s%d(&b%d[", masked ? "m" : "", v->N, e->u.uid);
        else
            tt_str_catf(E->o, "tt_vgather%d(&b%d[", v->N, e->u.uid);
        emit_index(E, pi, e->args, e->n, v->si);
        if (masked)
            tt_str_catf(E->o, "], %s)", v->mask);
        else if (c == 1)
            tt_str_cat(E->o, "])");
        else
            tt_str_catf(E->o, "], %lldLL)", (long long)c);
        return;
    }
    case TT_E_ADD:
    case TT_E_SUB:
    case TT_E_MUL:
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
static void vec_chunks(int64_t n, int vlanes, int *W, int64_t *nch, int *T, int *TC)
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

/* Try the vector form of the innermost loop `li` of nest ph; 0 if not possible
 * (nothing emitted). */
static int try_vector(emitter *E, int si, nest *N, phase ph, int li, defs D)
{
    lowering *L = E->L;
    const tt_stage *st = &L->s->stages[si];
    const stage_info *I = &L->info[si];
    const tt_op *op = &st->op;
    int node = st->iters[N->pos[li]].node;
    int64_t n = I->ext[node];
    if (E->ref || n < 2 || n > 64 || (vec_width(n, E->vlanes) < 2 && n < 4))
        return 0;
    if (E->acc && !E->acc_vec)
        return 0; /* scalar accumulators: every access stays scalar */
    for (int k = 0; k < I->ninner_guards; k++)
        if (lane_coef(&I->val[I->inner_guard[k]], si * TT_MAX_NODES + node) != 0)
            return 0;
    /* statements wider than the hardware's vectors become chunks of its width */
    int W, T, TC;
    int64_t nch;
    vec_chunks(n, E->vlanes, &W, &nch, &T, &TC);
    vctx v;
    memset(&v, 0, sizeof v);
    v.E = E, v.si = si, v.lane = si * TT_MAX_NODES + node, v.N = W;
    /* the lane must enter every varying root linearly, without guards, except
     * one output root that it enters with coefficient 1 and that may run past
     * its extent at the top only: that one is masked (emit_vstatement) */
    for (int k = 0; k < st->nnodes; k++)
        if (I->is_atom[k] && I->fuse_rel[k] >= 0 &&
            lane_coef(&I->val[st->rels[I->fuse_rel[k]].other], v.lane) != 0)
            return 0;
    int nroots = op->ndim + (ph == PH_INIT ? 0 : op->nreduce), mroot = -1;
    for (int r = 0; r < nroots; r++) {
        int64_t c = lane_coef(&I->root[r], v.lane);
        if (c == 0)
            continue;
        int local = I->buf == LW_BUF_LOCAL && r < op->ndim && I->local_guard[r];
        if (I->guard_lo[r] || !I->root[r].ok)
            return 0;
        if (I->guard_hi[r] || local) {
            if (c != 1 || r >= op->ndim || mroot >= 0)
                return 0;
            mroot = r;
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
    /* values first, into scratch strings, to learn whether they can be done */
    tt_str val, tval, mval, mtval;
    /* valid lanes: of the root that may run past its extent, and of a masked tail */
    char mask[160] = "", tmask[224] = "";
    if (mroot >= 0) {
        /* past the tensor's extent, and/or past the region of a local buffer
         * (its own split covering more than the region: r - m < R) */
        int hi = I->guard_hi[mroot], u = op->uid;
        long long Ex = (long long)op->axis[mroot].extent;
        if (I->buf == LW_BUF_LOCAL && I->local_guard[mroot] && hi)
            snprintf(mask, sizeof mask, "tt_mini(INT64_C(%lld) - r%d_%d, INT64_C(%lld) - (r%d_%d - m%d_%d))", Ex,
                     u, mroot, (long long)I->R[mroot], u, mroot, u, mroot);
        else if (I->buf == LW_BUF_LOCAL && I->local_guard[mroot])
            snprintf(mask, sizeof mask, "(INT64_C(%lld) - (r%d_%d - m%d_%d))", (long long)I->R[mroot], u, mroot,
                     u, mroot);
        else
            snprintf(mask, sizeof mask, "(INT64_C(%lld) - r%d_%d)", Ex, u, mroot);
    }
    if (T && TC < T)
        snprintf(tmask, sizeof tmask, mroot >= 0 ? "tt_mini(%s, INT64_C(%d))" : "%sINT64_C(%d)", mask, TC);
    else if (T)
        snprintf(tmask, sizeof tmask, "%s", mask);
    /* first as plain vectors; an injective statement whose selects depend on
     * the lane (a concat whose inputs' channel counts are not multiples of
     * the width) then in split mode, vector where no select boundary falls
     * inside the lanes and scalar where one does */
    vctx sctx, *split = NULL;
    int fail = 1;
    tt_str_init(&val);
    tt_str_init(&mval);
    tt_str_init(&tval);
    tt_str_init(&mtval);
    for (int attempt = 0; attempt < 2 && fail; attempt++) {
        if (attempt == 1) {
            if (E->acc != ACC_OFF || ph != PH_PLAIN)
                break;
            memset(&sctx, 0, sizeof sctx);
            split = &sctx;
        }
        fail = 0;
        if (nch) {
            tt_str_free(&val);
            tt_str_free(&mval);
            fail |= vector_value(E, si, ph, node, W, NULL, &val, split);
            fail |= vector_value(E, si, ph, node, W, mask[0] ? mask : NULL, &mval, split);
        }
        if (!fail && T) {
            tt_str_free(&tval);
            tt_str_free(&mtval);
            fail |= vector_value(E, si, ph, node, T, NULL, &tval, split);
            fail |= vector_value(E, si, ph, node, T, tmask[0] ? tmask : NULL, &mtval, split);
        }
    }
    if (fail) {
        tt_str_free(&val);
        tt_str_free(&tval);
        tt_str_free(&mval);
        tt_str_free(&mtval);
        return 0;
    }
    char lane0[64], accx[600];
    if (nch > 1) {
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
        emit_vstatement(E, si, ph, D, node, lane0, W, "acc", accx, val.buf, mask[0] ? mask : NULL, mval.buf,
                        split, W);
    tt_str_cat(E->o, "}\n");
    if (T) {
        /* the narrower tail statement; its accumulators live in acct */
        tt_str_cat(E->o, "{\n");
        snprintf(lane0, sizeof lane0, "%lld", (long long)(nch * W));
        emit_vstatement(E, si, ph, D, node, lane0, T, "acct", E->acc_idx, tval.buf, tmask[0] ? tmask : NULL,
                        mtval.buf, split, TC < T ? TC : T);
        tt_str_cat(E->o, "}\n");
    }
    tt_str_free(&val);
    tt_str_free(&tval);
    tt_str_free(&mval);
    tt_str_free(&mtval);
    return 1;
}

static void emit_attached_at(emitter *E, int uid, int node)
{
    for (int i = 0; i < E->L->s->nstages; i++) {
        const tt_stage *o = &E->L->s->stages[i];
        if (o->at == TT_AT_ITER && o->at_uid == uid && o->at_node == node) {
            /* a stage computed inside the consumer's register tile is not part
             * of the tile: emit it with the tile mode off */
            int acc = E->acc, acc_vec = E->acc_vec, in_tile = E->in_tile;
            char acc_idx[sizeof E->acc_idx];
            memcpy(acc_idx, E->acc_idx, sizeof acc_idx);
            E->acc = ACC_OFF, E->acc_vec = 0, E->in_tile = 0;
            emit_local_decl(E, i);
            emit_stage(E, i);
            E->acc = acc, E->acc_vec = acc_vec, E->in_tile = in_tile;
            memcpy(E->acc_idx, acc_idx, sizeof acc_idx);
        }
    }
}

static void emit_local_decl(emitter *E, int si);

static void emit_loops(emitter *E, int si, nest *nests, phase ph, int li, defs D);

static void emit_level_body(emitter *E, int si, nest *nests, phase ph, int li, defs D)
{
    const tt_stage *st = &E->L->s->stages[si];
    int node = st->iters[nests[ph].pos[li]].node;
    D.bound[node] = 1;
    D.nguards = 0;
    define_ready(E, si, &D, ph);
    if (ph != PH_INIT)
        emit_attached_at(E, st->op.uid, node);
    emit_loops(E, si, nests, ph, li + 1, D);
    for (int g = 0; g < D.nguards; g++)
        tt_str_cat(E->o, "}\n");
}


/* Register tile (scalar replacement).  When the innermost non-unrolled loop
 * of a reduction's update nest is a reduction loop and everything inside it
 * is unrolled (or the final vector loop), the tile of outputs it updates is
 * held in a small private array indexed by the unrolled loop variables only;
 * after unrolling every index is a constant, so the compiler keeps the array
 * in registers (TVM relies on LLVM doing the same with its local buffers):
 *
 *   acc[k] = C[..k..]                         (every k of the tile)
 *   for rc { acc[k] = acc[k] + A[..] * W[..] } (unrolled over k)
 *   C[..k..] = acc[k]
 */
static void emit_tile(emitter *E, int si, nest *nests, int li, defs D)
{
    const lowering *L = E->L;
    const tt_stage *st = &L->s->stages[si];
    const stage_info *I = &L->info[si];
    nest *U = &nests[PH_UPDATE];
    int last = U->n - 1;
    int lastnode = st->iters[U->pos[last]].node;
    /* vector accumulators if the final loop can be one vector statement */
    int vec = 0;
    if (U->simd[last]) {
        tt_str scratch;
        tt_str_init(&scratch);
        tt_str *save = E->o;
        E->o = &scratch;
        int acc = E->acc;
        E->acc = ACC_UPDATE;
        E->acc_vec = 1;
        snprintf(E->acc_idx, sizeof E->acc_idx, "0");
        vec = try_vector(E, si, U, PH_UPDATE, last, D) ? (int)I->ext[lastnode] : 0;
        E->acc = acc;
        E->o = save;
        tt_str_free(&scratch);
    }
    /* the tile's loops: spatial loops after li (the final one only in scalar mode) */
    nest T;
    memset(&T, 0, sizeof T);
    T.tile_at = -1;
    tt_str ix;
    tt_str_init(&ix);
    int64_t K = 1;
    for (int j = U->n - 1; j > li; j--) {
        int node = st->iters[U->pos[j]].node;
        if (st->nodes[node].kind != TT_ITER_SPATIAL)
            continue;
        if (vec && j == last)
            continue;
        tt_str_catf(&ix, "%s%lld * l%d_%d", ix.len ? " + " : "", (long long)K, st->op.uid, node);
        K *= I->ext[node];
    }
    for (int j = li + 1; j < U->n; j++) {
        int node = st->iters[U->pos[j]].node;
        if (st->nodes[node].kind != TT_ITER_SPATIAL)
            continue;
        T.pos[T.n] = U->pos[j];
        T.unroll[T.n] = U->unroll[j];
        T.simd[T.n] = U->simd[j];
        T.n++;
    }
    snprintf(E->acc_idx, sizeof E->acc_idx, "%s", ix.len ? ix.buf : "0");
    E->acc_vec = vec > 0;
    tt_str_free(&ix);
    if (vec) {
        int W, T, TC;
        int64_t nch;
        vec_chunks(vec, E->vlanes, &W, &nch, &T, &TC);
        /* zeroed: a guarded row's accumulators are not loaded, yet updated */
        tt_str_catf(E->o, "{ tt_v%d acc[%lld] = {0};\n", W, (long long)(K * (nch ? nch : 1)));
        if (T)
            tt_str_catf(E->o, "tt_v%d acct[%lld] = {0};\n", T, (long long)K);
    }
    else
        tt_str_catf(E->o, "{ %s acc[%lld] = {0};\n", E->T, (long long)K);
    nest tmp[4];
    memcpy(tmp, nests, sizeof tmp);
    tmp[PH_INIT] = T;
    E->acc = ACC_LOAD;
    emit_loops(E, si, tmp, PH_INIT, 0, D);
    E->acc = ACC_UPDATE;
    E->in_tile = 1;
    emit_loops(E, si, nests, PH_UPDATE, li, D);
    E->in_tile = 0;
    E->acc = ACC_STORE;
    emit_loops(E, si, tmp, PH_INIT, 0, D);
    E->acc = ACC_OFF;
    E->acc_vec = 0;
    tt_str_cat(E->o, "}\n");
}

static void emit_loops(emitter *E, int si, nest *nests, phase ph, int li, defs D)
{
    const lowering *L = E->L;
    const tt_stage *st = &L->s->stages[si];
    const stage_info *I = &L->info[si];
    nest *N = &nests[ph];
    if (li == N->n) {
        if (ph == PH_COMMON) {
            tt_str_cat(E->o, "{\n");
            emit_loops(E, si, nests, PH_INIT, 0, D);
            tt_str_cat(E->o, "}\n");
            emit_loops(E, si, nests, PH_UPDATE, 0, D);
        } else {
            emit_statement(E, si, ph);
        }
        return;
    }
    if (ph == PH_UPDATE && li == N->tile_at && !E->in_tile && !E->acc) {
        emit_tile(E, si, nests, li, D);
        return;
    }
    int pos = N->pos[li];
    int node = st->iters[pos].node;
    int64_t ext = I->ext[node];
    tt_ann ann = st->iters[pos].ann;
    char v[32];
    snprintf(v, sizeof v, "l%d_%d", st->op.uid, node);
    if (ext == 1) {
        tt_str_catf(E->o, "{ const int64_t %s = 0; (void)%s;\n", v, v);
        emit_level_body(E, si, nests, ph, li, D);
        tt_str_cat(E->o, "}\n");
        return;
    }
    if (N->unroll[li]) {
        tt_str body;
        tt_str_init(&body);
        tt_str *save = E->o;
        E->o = &body;
        emit_level_body(E, si, nests, ph, li, D);
        E->o = save;
        if ((int64_t)body.len * ext <= MAX_UNROLL_TEXT) {
            for (int64_t k = 0; k < ext; k++)
                tt_str_catf(E->o, "{ const int64_t %s = %lld;\n%s}\n", v, (long long)k, body.buf ? body.buf : "");
        } else {
            /* too much text to copy: the compiler unrolls it (gcc and clang) */
            tt_str_catf(E->o, "#pragma GCC unroll %lld\nfor (int64_t %s = 0; %s < %lldLL; %s++) {\n%s}\n",
                        (long long)ext, v, v, (long long)ext, v, body.buf ? body.buf : "");
        }
        tt_str_free(&body);
        return;
    }
    if (N->simd[li] && li == N->n - 1 && try_vector(E, si, N, ph, li, D))
        return;
    int par = ann == TT_ANN_PARALLEL && !E->in_parallel && st->nodes[node].kind == TT_ITER_SPATIAL;
    if (E->ref && li == 0 && ph != PH_UPDATE && !E->in_parallel && st->nodes[node].kind == TT_ITER_SPATIAL)
        par = 1; /* the reference parallelizes its outermost spatial loop */
    if (par && N->simd[li])
        tt_str_cat(E->o, "#pragma omp parallel for simd\n");
    else if (par)
        tt_str_cat(E->o, "#pragma omp parallel for schedule(static)\n");
    else if (N->simd[li])
        tt_str_cat(E->o, "#pragma omp simd\n");
    tt_str_catf(E->o, "for (int64_t %s = 0; %s < INT64_C(%lld); %s++) {\n", v, v, (long long)ext, v);
    int was = E->in_parallel;
    if (par) {
        E->in_parallel = 1;
        tt_str_cat(E->o, E->rebind.buf ? E->rebind.buf : "");
    }
    emit_level_body(E, si, nests, ph, li, D);
    E->in_parallel = was;
    tt_str_cat(E->o, "}\n");
}

/* Buffer declaration at the attach point, region minima, then the nest. */
static void emit_stage(emitter *E, int si)
{
    const lowering *L = E->L;
    const tt_stage *st = &L->s->stages[si];
    const tt_op *op = &st->op;
    tt_str_catf(E->o, "/* %s */\n{\n", op->name);
    nest nests[4];
    memset(nests, 0, sizeof nests);
    int f = -1;
    for (int i = 0; i < st->niters && op->nreduce > 0; i++)
        if (st->nodes[st->iters[i].node].kind != TT_ITER_SPATIAL) {
            f = i;
            break;
        }
    defs D;
    memset(&D, 0, sizeof D);
    if (f < 0) {
        for (int i = 0; i < st->niters; i++)
            nests[PH_PLAIN].pos[nests[PH_PLAIN].n++] = i;
        if (op->nreduce > 0) /* no reduction loop left: degenerate, treat as update */
            f = st->niters;
    }
    phase start = PH_PLAIN;
    if (f >= 0) {
        start = PH_COMMON;
        for (int i = 0; i < f; i++)
            nests[PH_COMMON].pos[nests[PH_COMMON].n++] = i;
        for (int i = f + 1; i < st->niters; i++)
            if (st->nodes[st->iters[i].node].kind == TT_ITER_SPATIAL)
                nests[PH_INIT].pos[nests[PH_INIT].n++] = i;
        for (int i = f; i < st->niters; i++)
            nests[PH_UPDATE].pos[nests[PH_UPDATE].n++] = i;
    }
    plan_nest(E, si, &nests[PH_PLAIN], PH_PLAIN, 1, 1);
    plan_nest(E, si, &nests[PH_INIT], PH_INIT, 1, 1);
    plan_nest(E, si, &nests[PH_UPDATE], PH_UPDATE, 1, 1);
    plan_nest(E, si, &nests[PH_COMMON], PH_COMMON, nests[PH_INIT].steps + nests[PH_UPDATE].steps,
              nests[PH_INIT].all_unrolled && nests[PH_UPDATE].all_unrolled);
    for (int p = 0; p < 4; p++)
        nests[p].tile_at = -1;
    /* register tile: the innermost non-unrolled loop of the update nest is a
     * reduction loop and the outputs it updates fit in registers */
    nest *U = &nests[PH_UPDATE];
    if (!E->ref && op->red != TT_RED_NONE && U->n > 0) {
        const stage_info *I = &E->L->info[si];
        int j = U->n - 1;
        while (j >= 0 && (U->unroll[j] || (j == U->n - 1 && U->simd[j]) ||
                          I->ext[st->iters[U->pos[j]].node] == 1))
            j--;
        /* a spatial loop there, with an unrolled reduction inside it (a
         * depthwise conv's kernel rows, unrolled with the register tile):
         * the tile starts at that reduction, the accumulators held across it */
        if (j < U->n - 1 && (j < 0 || st->nodes[st->iters[U->pos[j]].node].kind != TT_ITER_REDUCE))
            for (int k = j + 1; k < U->n - 1; k++)
                if (st->nodes[st->iters[U->pos[k]].node].kind == TT_ITER_REDUCE &&
                    I->ext[st->iters[U->pos[k]].node] > 1) {
                    j = k;
                    break;
                }
        if (j >= 0 && j < U->n - 1 && st->nodes[st->iters[U->pos[j]].node].kind == TT_ITER_REDUCE) {
            /* the tile also takes the reduction loops right outside it,
             * unrolled or not: the accumulators' indices
             * depend only on the spatial loops inside, and they are then
             * loaded and stored once per whole run of reductions instead of
             * once per outer reduction step (a 7x7 stem: once per 147 taps, not
             * per kernel row of 21) */
            while (j > 0 && st->nodes[st->iters[U->pos[j - 1]].node].kind == TT_ITER_REDUCE)
                j--;
            int64_t K = 1;
            for (int k = j + 1; k < U->n; k++) {
                int nd = st->iters[U->pos[k]].node;
                if (st->nodes[nd].kind == TT_ITER_SPATIAL)
                    K *= I->ext[nd];
            }
            if (K <= 512)
                U->tile_at = j;
        }
    }
    define_ready(E, si, &D, start);
    emit_loops(E, si, nests, start, 0, D);
    for (int g = 0; g < D.nguards; g++)
        tt_str_cat(E->o, "}\n");
    tt_str_cat(E->o, "}\n");
}

/* At the attach point of stage si: its region buffer and region minima are
 * declared in the enclosing loop body (not in a block of their own), so that
 * the consumer's statements further in can read them. */
static void emit_local_decl(emitter *E, int si)
{
    const stage_info *I = &E->L->info[si];
    const tt_op *op = &E->L->s->stages[si].op;
    int64_t size = 1;
    for (int d = 0; d < op->ndim; d++)
        size *= I->R[d];
    int64_t bytes = size * (E->ref ? 8 : 4);
    if (bytes <= LOCAL_STACK_BYTES)
        tt_str_catf(E->o, "%s b%d[%lld] __attribute__((aligned(64)));\n", E->T, op->uid, (long long)size);
    else
        /* a per-thread scratch buffer kept across iterations and calls: a
         * malloc/free per iteration of a parallel loop costs page faults
         * (allocations this large are mmapped), measured at +25% on a conv
         * in a model; the region is fully written before it is read */
        tt_str_catf(E->o,
                    "static __thread %s *s%d;\n"
                    "if (!s%d) s%d = (%s *)tt_alloc(%lld);\n"
                    "%s *const b%d = s%d;\n",
                    E->T, op->uid, op->uid, op->uid, E->T, (long long)bytes, E->T, op->uid, op->uid);
    for (int d = 0; d < op->ndim; d++) {
        tt_str_catf(E->o, "const int64_t m%d_%d = ", op->uid, d);
        emit_aff(E, &I->M[d]);
        tt_str_cat(E->o, ";\n");
    }
}

const char *tt_codegen_prelude(void)
{
    return "#include <math.h>\n"
           "#include <stdint.h>\n"
           "#include <stdlib.h>\n"
           "#include <string.h>\n"
           "static inline int64_t tt_floordiv(int64_t a, int64_t b) { int64_t q = a / b; return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q; }\n"
           "static inline int64_t tt_floormod(int64_t a, int64_t b) { int64_t m = a % b; return (m != 0 && ((m < 0) != (b < 0))) ? m + b : m; }\n"
           "static inline int64_t tt_mini(int64_t a, int64_t b) { return a < b ? a : b; }\n"
           "static inline int64_t tt_maxi(int64_t a, int64_t b) { return a > b ? a : b; }\n"
           "static inline float tt_minf(float a, float b) { return a < b ? a : b; }\n"
           "static inline float tt_maxf(float a, float b) { return a > b ? a : b; }\n"
           "static inline double tt_mind(double a, double b) { return a < b ? a : b; }\n"
           "static inline double tt_maxd(double a, double b) { return a > b ? a : b; }\n"
           /* exp, sigmoid, tanh and erf without libm calls, so that clang vectorizes
            * the loops they are in (a libm call per element kept EfficientNet's swish
            * epilogues scalar: 5.5 ns an element).  exp: x = n ln2 + r (Cody-Waite,
            * ln2 in two parts), e^r by its Taylor polynomial to r^6 on |r| <= ln2/2,
            * 2^n built in two halves so n = 128 does not overflow the exponent field;
            * <= 4 ulp from -87.33 (below: 0, no denormals) to 88.72 (above: inf).
            * tanh: odd Taylor polynomial to x^9 below |x| = 0.2, else
            * (1 - e^-2|x|) / (1 + e^-2|x|).  erf: Taylor to x^13 below |x| = 0.5,
            * else Abramowitz and Stegun 7.1.26 (absolute error <= 1.5e-7). */
           "static inline float tt_expf(float x) {\n"
           "    float xc = x < -87.33f ? -87.33f : (x > 88.7228f ? 88.7228f : x);\n"
           "    float n = __builtin_rintf(xc * 1.44269504088896341f);\n"
           "    float r = (xc - n * 0.693145751953125f) - n * 1.428606765330187045e-06f;\n"
           "    float p = 1.0f + r * (1.0f + r * (0.5f + r * (0.16666667f + r * (0.041666668f + r * (0.0083333338f + r * 0.0013888889f)))));\n"
           "    int32_t ni = (int32_t)n, n1 = ni >> 1, n2 = ni - n1, e1 = (n1 + 127) << 23, e2 = (n2 + 127) << 23;\n"
           "    float s1, s2;\n"
           "    memcpy(&s1, &e1, 4);\n"
           "    memcpy(&s2, &e2, 4);\n"
           "    float y = p * s1 * s2;\n"
           "    y = x > 88.7228f ? INFINITY : y;\n"
           "    y = x < -87.33f ? 0.0f : y;\n"
           "    return x != x ? x : y;\n"
           "}\n"
           "static inline float tt_tanhf(float x) {\n"
           "    float a = fabsf(x), x2 = x * x;\n"
           "    float small = x * (1.0f + x2 * (-0.33333334f + x2 * (0.13333334f + x2 * (-0.053968254f + x2 * 0.021869488f))));\n"
           "    float t = tt_expf(-2.0f * a), big = (1.0f - t) / (1.0f + t);\n"
           "    big = x < 0 ? -big : big;\n"
           "    return a < 0.2f ? small : (x != x ? x : big);\n"
           "}\n"
           "static inline float tt_erff(float x) {\n"
           "    float a = fabsf(x), x2 = x * x;\n"
           "    float small = 1.1283791670955126f * x * (1.0f + x2 * (-0.33333334f + x2 * (0.1f + x2 * (-0.023809524f + x2 * (0.0046296297f + x2 * (-0.00075757576f + x2 * 0.00010683761f))))));\n"
           "    float t = 1.0f / (1.0f + 0.3275911f * a);\n"
           "    float q = t * (0.254829592f + t * (-0.284496736f + t * (1.421413741f + t * (-1.453152027f + t * 1.061405429f))));\n"
           "    float big = 1.0f - q * tt_expf(-x2);\n"
           "    big = x < 0 ? -big : big;\n"
           "    return a < 0.5f ? small : (x != x ? x : big);\n"
           "}\n"
           "static inline float tt_sigmoidf(float x) { return 1.0f / (1.0f + tt_expf(-x)); }\n"
           "static inline double tt_sigmoidd(double x) { return 1.0 / (1.0 + exp(-x)); }\n"
           "static inline float tt_rsqrtf(float x) { return 1.0f / sqrtf(x); }\n"
           "static inline double tt_rsqrtd(double x) { return 1.0 / sqrt(x); }\n"
           "static inline double tt_magdiv(double a, double b, double ma, double mb) { return fabs(a / b) + ma / fabs(b) + fabs(a) * mb / (b * b); }\n"
           "static inline double tt_magpow(double a, double b, double ma) { return fabs(pow(a, b)) + fabs(b * pow(a, b - 1.0)) * ma; }\n"
           "static inline double tt_dexp(double x, double m) { return exp(x) * (1.0 + m); }\n"
           "static inline double tt_dlog(double x, double m) { return fabs(log(x)) + m / fabs(x); }\n"
           "static inline double tt_dsqrt(double x, double m) { return sqrt(x) + m / (2.0 * sqrt(x)); }\n"
           "static inline double tt_drsqrt(double x, double m) { return 1.0 / sqrt(x) + m / (2.0 * x * sqrt(x)); }\n"
           "static inline double tt_dtanh(double x, double m) { double t = tanh(x); return fabs(t) + (1.0 - t * t) * m; }\n"
           "static inline double tt_derf(double x, double m) { return fabs(erf(x)) + 1.1283791670955126 * exp(-x * x) * m; }\n"
           "static inline double tt_dsigmoid(double x, double m) { double s = 1.0 / (1.0 + exp(-x)); return s + s * (1.0 - s) * m; }\n"
           "static inline double tt_dfabs(double x, double m) { return fabs(x) + m; }\n"
           "#define TT_VDEF(N) \\\n"
           "typedef float tt_v##N __attribute__((vector_size(4 * N))); \\\n"
           "static inline tt_v##N tt_vload##N(const float *p) { tt_v##N v; memcpy(&v, p, sizeof v); return v; } \\\n"
           "static inline void tt_vstore##N(float *p, tt_v##N v) { memcpy(p, &v, sizeof v); } \\\n"
           "static inline tt_v##N tt_vsplat##N(float x) { tt_v##N v = {0}; return v + x; } \\\n"
           "static inline tt_v##N tt_vgather##N(const float *p, int64_t c) { tt_v##N v; for (int k = 0; k < N; k++) v[k] = p[k * c]; return v; } \\\n"
           "static inline tt_v##N tt_vloadmg##N(const float *p, int64_t n) { float t_[N] = {0}; for (int k = 0; k < N && k < n; k++) t_[k] = p[k]; tt_v##N v; memcpy(&v, t_, sizeof v); return v; } \\\n"
           "static inline void tt_vstoremg##N(float *p, tt_v##N v, int64_t n) { float t_[N]; memcpy(t_, &v, sizeof v); for (int k = 0; k < N && k < n; k++) p[k] = t_[k]; } \\\n"
           "typedef int32_t tt_vi##N __attribute__((vector_size(4 * N))); \\\n"
           "static inline tt_v##N tt_vmax##N(tt_v##N a, tt_v##N b) { tt_vi##N m = a > b; return (tt_v##N)(((tt_vi##N)a & m) | ((tt_vi##N)b & ~m)); } \\\n"
           "static inline tt_v##N tt_vmin##N(tt_v##N a, tt_v##N b) { tt_vi##N m = a < b; return (tt_v##N)(((tt_vi##N)a & m) | ((tt_vi##N)b & ~m)); } \\\n"
           "TT_VFN(N, log, logf) TT_VFN(N, sqrt, sqrtf) TT_VFN(N, rsqrt, tt_rsqrtf) \\\n"
           "TT_VFN(N, tanh, tt_tanhf) TT_VFN(N, erf, tt_erff) TT_VFN(N, fabs, fabsf) \\\n"
           /* exp and sigmoid (swish epilogues) on whole vectors: tt_expf's steps
            * with vector operations, rint by the 1.5 * 2^23 shift (|x| < 2^22
            * after the clamp), so that no per-lane loop is left to the
            * vectorizer (gcc kept TT_VFN's loop scalar) */
           "static inline tt_v##N tt_vexp##N(tt_v##N x) { \\\n"
           "  tt_v##N xc = tt_vmin##N(tt_vmax##N(x, tt_vsplat##N(-87.33f)), tt_vsplat##N(88.7228f)); \\\n"
           "  tt_v##N n = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f; \\\n"
           "  tt_v##N r = (xc - n * 0.693145751953125f) - n * 1.428606765330187045e-06f; \\\n"
           "  tt_v##N p = 1.0f + r * (1.0f + r * (0.5f + r * (0.16666667f + r * (0.041666668f + r * (0.0083333338f + r * 0.0013888889f))))); \\\n"
           "  tt_vi##N ni = __builtin_convertvector(n, tt_vi##N), n1 = ni >> 1, n2 = ni - n1; \\\n"
           "  tt_v##N y = p * (tt_v##N)((n1 + 127) << 23) * (tt_v##N)((n2 + 127) << 23); \\\n"
           "  tt_vi##N hi = x > 88.7228f, lo = x < -87.33f, nan = x != x; \\\n"
           "  tt_vi##N yi = ((tt_vi##N)y & ~hi) | ((tt_vi##N)tt_vsplat##N(INFINITY) & hi); \\\n"
           "  yi = yi & ~lo; \\\n"
           "  return (tt_v##N)((yi & ~nan) | ((tt_vi##N)x & nan)); } \\\n"
           "static inline tt_v##N tt_vsigmoid##N(tt_v##N a) { return 1.0f / (1.0f + tt_vexp##N(-a)); }\n"
           /* through arrays: clang's loop vectorizer takes `o[k] = f(i[k])` (f inlined,
            * branch-free) but leaves element-wise access to vector types scalar (7.5x
            * slower on a swish epilogue) */
           "#define TT_VFN(N, name, f) static inline tt_v##N tt_v##name##N(tt_v##N a) { float i_[N], o_[N]; memcpy(i_, &a, sizeof a); for (int k = 0; k < N; k++) o_[k] = f(i_[k]); tt_v##N r; memcpy(&r, o_, sizeof r); return r; }\n"
           "TT_VDEF(2) TT_VDEF(4) TT_VDEF(8) TT_VDEF(16) TT_VDEF(32) TT_VDEF(64)\n"
           /* masked loads and stores (lanes from n on are zero / untouched):
            * the ISA's own where there is one (compiler builtins, so that no
            * intrinsics header is parsed per kernel), else element copies */
           "#if defined(__AVX512F__)\n"
           "static inline unsigned short tt_km16(int64_t n) { return n >= 16 ? 0xffff : n <= 0 ? 0 : (unsigned short)((1u << n) - 1u); }\n"
           "static inline tt_v16 tt_vloadm16(const float *p, int64_t n) { return __builtin_ia32_loadups512_mask(p, tt_vsplat16(0.0f), tt_km16(n)); }\n"
           "static inline void tt_vstorem16(float *p, tt_v16 v, int64_t n) { __builtin_ia32_storeups512_mask(p, v, tt_km16(n)); }\n"
           "#else\n"
           "#define tt_vloadm16 tt_vloadmg16\n#define tt_vstorem16 tt_vstoremg16\n"
           "#endif\n"
           "#if defined(__AVX2__)\n"
           "static inline tt_vi8 tt_km8(int64_t n) { tt_vi8 i = {0, 1, 2, 3, 4, 5, 6, 7}; return i < (int32_t)(n < 0 ? 0 : n > 8 ? 8 : n); }\n"
           "static inline tt_v8 tt_vloadm8(const float *p, int64_t n) { return __builtin_ia32_maskloadps256((const tt_v8 *)p, tt_km8(n)); }\n"
           "static inline void tt_vstorem8(float *p, tt_v8 v, int64_t n) { __builtin_ia32_maskstoreps256((tt_v8 *)p, tt_km8(n), v); }\n"
           "#else\n"
           "#define tt_vloadm8 tt_vloadmg8\n#define tt_vstorem8 tt_vstoremg8\n"
           "#endif\n"
           "#define tt_vloadm2 tt_vloadmg2\n#define tt_vstorem2 tt_vstoremg2\n"
           "#define tt_vloadm4 tt_vloadmg4\n#define tt_vstorem4 tt_vstoremg4\n"
           "#define tt_vloadm32 tt_vloadmg32\n#define tt_vstorem32 tt_vstoremg32\n"
           "#define tt_vloadm64 tt_vloadmg64\n#define tt_vstorem64 tt_vstoremg64\n"
           "static inline void tt_free_ptr(void *p) { free(*(void **)p); }\n"
           "static inline void *tt_alloc(int64_t bytes) { void *p = NULL; if (posix_memalign(&p, 64, (size_t)(bytes + 64))) abort(); return p; }\n";
}

static int emit_function(const tt_state *s, const char *fn, int ref, tt_str *out, tt_err *err)
{
    tt_arena *a = tt_arena_new();
    lowering L;
    if (tt_lower(&L, s, a, ref, err)) {
        tt_lower_free(&L);
        tt_arena_free(a);
        return -1;
    }
    emitter E;
    memset(&E, 0, sizeof E);
    E.L = &L;
    E.o = out;
    E.ref = ref;
    E.T = ref ? "double" : "float";
    E.vlanes = tt_codegen_vector_lanes();
    tt_str_init(&E.rebind);
    if (ref)
        tt_str_catf(out, "void %s(float *const *args, double *out, double *mag)\n{\n", fn);
    else
        tt_str_catf(out, "void %s(float *const *args)\n{\n", fn);
    for (int si = 0; si < s->nstages; si++) {
        const tt_op *op = &s->stages[si].op;
        const stage_info *I = &L.info[si];
        int64_t numel = 1;
        for (int d = 0; d < op->ndim; d++)
            numel *= op->axis[d].extent;
        switch (I->buf) {
        case LW_BUF_INPUT:
            tt_str_catf(out, "float *const p%d = args[%d];\n", op->uid, I->arg);
            if (I->pack_cb) {
                /* constant weights: repacked when called with a weight pointer
                 * other than the last one, then reused (a kernel's weights are
                 * constants, as in a compiled model).
                 * Source index = (a * E_b + f) * in + o, with `in` the extent
                 * after the blocked dim; destination as in emit_index. */
                int b = I->pack_dim;
                int64_t E_ = op->axis[b].extent, cb = I->pack_cb;
                int64_t inner = 1;
                for (int d = b + 1; d < op->ndim; d++)
                    inner *= op->axis[d].extent;
                int64_t outer = numel / (E_ * inner), oth = numel / E_, nb = (E_ + cb - 1) / cb;
                int64_t bytes = nb * oth * cb * 4;
                /* a table of (weights, packed copy): a kernel called with
                 * several weight tensors (the same layer shape at several
                 * places of a model) packs each once */
                tt_str_catf(out,
                            "static struct { const float *src; float *dst; } kc%d[%d];\n"
                            "static int kn%d;\n"
                            "float *k%d = 0;\n"
                            "for (int i = 0; i < kn%d; i++)\n"
                            "  if (kc%d[i].src == p%d) { k%d = kc%d[i].dst; break; }\n"
                            "if (!k%d) {\n"
                            "  float *k = (float *)tt_alloc(%lld);\n"
                            "  memset(k, 0, %lld);\n"
                            "  for (int64_t a = 0; a < %lldLL; a++)\n"
                            "    for (int64_t f = 0; f < %lldLL; f++)\n"
                            "      for (int64_t o = 0; o < %lldLL; o++)\n"
                            "        k[((f / %lldLL) * %lldLL + a * %lldLL + o) * %lldLL + f %% %lldLL] =\n"
                            "            p%d[(a * %lldLL + f) * %lldLL + o];\n"
                            "  if (kn%d < %d) { kc%d[kn%d].src = p%d; kc%d[kn%d].dst = k; kn%d++; }\n"
                            "  else { static float *spare%d; free(spare%d); spare%d = k; } /* table full: repack per call */\n"
                            "  k%d = k;\n"
                            "}\n",
                            op->uid, TT_PACK_CACHE, op->uid, op->uid, op->uid, op->uid, op->uid, op->uid, op->uid,
                            op->uid, (long long)bytes, (long long)bytes, (long long)outer, (long long)E_,
                            (long long)inner, (long long)cb, (long long)oth, (long long)inner, (long long)cb,
                            (long long)cb, op->uid, (long long)E_, (long long)inner, op->uid, TT_PACK_CACHE,
                            op->uid, op->uid, op->uid, op->uid, op->uid, op->uid, op->uid, op->uid, op->uid,
                            op->uid);
                tt_str_catf(&E.rebind, "const float *restrict b%d = k%d; (void)b%d;\n", op->uid, op->uid, op->uid);
            } else {
                tt_str_catf(&E.rebind, "const float *restrict b%d = p%d; (void)b%d;\n", op->uid, op->uid, op->uid);
            }
            break;
        case LW_BUF_OUTPUT:
            if (ref) {
                tt_str_catf(out, "double *const p%d = out;\ndouble *const q%d = mag;\n", op->uid, op->uid);
                tt_str_catf(&E.rebind, "double *restrict g%d = q%d; (void)g%d;\n", op->uid, op->uid, op->uid);
            } else {
                tt_str_catf(out, "float *const p%d = args[%d];\n", op->uid, L.nin);
            }
            tt_str_catf(&E.rebind, "%s *restrict b%d = p%d; (void)b%d;\n", E.T, op->uid, op->uid, op->uid);
            break;
        case LW_BUF_ROOT:
            tt_str_catf(out, "static %s *w%d;\nif (!w%d) w%d = (%s *)tt_alloc(%lld);\n%s *const p%d = w%d;\n",
                        E.T, op->uid, op->uid, op->uid, E.T, (long long)(numel * (ref ? 8 : 4)), E.T, op->uid,
                        op->uid);
            tt_str_catf(&E.rebind, "%s *restrict b%d = p%d; (void)b%d;\n", E.T, op->uid, op->uid, op->uid);
            if (ref) {
                tt_str_catf(out, "static double *x%d;\nif (!x%d) x%d = (double *)tt_alloc(%lld);\ndouble *const q%d = x%d;\n",
                            op->uid, op->uid, op->uid, (long long)(numel * 8), op->uid, op->uid);
                tt_str_catf(&E.rebind, "double *restrict g%d = q%d; (void)g%d;\n", op->uid, op->uid, op->uid);
            }
            break;
        default:
            break;
        }
    }
    tt_str_cat(out, E.rebind.buf ? E.rebind.buf : "");
    for (int si = 0; si < s->nstages; si++) {
        const tt_stage *st = &s->stages[si];
        if (st->op.kind != TT_OP_COMPUTE || st->at != TT_AT_ROOT)
            continue;
        emit_stage(&E, si);
    }
    tt_str_cat(out, "}\n");
    tt_str_free(&E.rebind);
    tt_lower_free(&L);
    tt_arena_free(a);
    return 0;
}

int tt_codegen_vector_lanes(void)
{
    const char *v = getenv("TT_VECTOR_LANES");
    if (v) {
        int n = atoi(v);
        if (n == 4 || n == 8 || n == 16 || n == 32 || n == 64)
            return n;
    }
    return tt_host_vector_lanes();
}

int tt_codegen_candidate(const tt_state *s, const char *fn, tt_str *out, tt_err *err)
{
    return emit_function(s, fn, 0, out, err);
}

int tt_codegen_reference(const tt_dag *d, const char *fn, tt_str *out, tt_err *err)
{
    tt_state *s = tt_state_new(d);
    int rc = emit_function(s, fn, 1, out, err);
    tt_state_free(s);
    return rc;
}

double tt_codegen_tolerance(const tt_dag *d)
{
    double k = 32;
    for (int i = 0; i < d->nops; i++) {
        const tt_op *op = d->ops[i];
        double r = 1;
        for (int j = 0; j < op->nreduce; j++)
            r *= (double)op->raxis[j].extent;
        if (op->nreduce)
            k += r;
    }
    return k;
}
