/* emit.c - C emission of a lowered state (see codegen.h): stages, loop
 * nests, functions.  Register tiles are in tile.c, vector statements in vector.c, the
 * prelude of every unit in prelude.c, the shared internals in emit_int.h.
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

#include "emit_int.h"

/* Weight tensors one kernel keeps packed copies of (see the packing code in
 * emit_function): one kernel serves every layer of its shape. */
#define TT_PACK_CACHE 1024

#define LOCAL_STACK_BYTES (128 * 1024)
#define MAX_EXPLICIT_UNROLL 64
#define MAX_UNROLL_TEXT 24576 /* bytes of C per explicitly unrolled loop */

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

void emit_aff(emitter *E, const aff *x)
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

void emit_float(emitter *E, double v)
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

/* The row-major flat index of op's (whole, not local) buffer from the value
 * of each axis, written to out as the fused loop's variable when it holds
 * every part of a fused loop (lw_fold_fused): 1 if written, else 0. */
static int emit_folded_index(emitter *E, const tt_op *op, const aff *dims, int n, tt_str *out)
{
    aff flat;
    aff_const(&flat, 0);
    for (int d = 0; d < n && flat.ok; d++) {
        int64_t stride = 1;
        for (int k = d + 1; k < n; k++)
            stride *= op->axis[k].extent;
        if (!dims[d].ok)
            flat.ok = 0;
        else
            aff_axpy(&flat, stride, &dims[d]);
    }
    if (!flat.ok || !lw_fold_fused(E->L, &flat))
        return 0;
    tt_str *save = E->o;
    E->o = out;
    emit_aff(E, &flat);
    E->o = save;
    return 1;
}

void emit_index(emitter *E, int pi, tt_expr *const *idx, int n, int si)
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
    if (!local && !E->ref && n <= LW_MAX_ROOTS) {
        /* a loop fused from the axes this index walks: its variable */
        aff dims[LW_MAX_ROOTS];
        for (int d = 0; d < n; d++)
            lw_index_form(E->L, si, idx[d], &dims[d]);
        if (emit_folded_index(E, op, dims, n, E->o))
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

int table_product(const lowering *L, const tt_expr *e)
{
    if (e->kind == TT_E_FLOAT)
        return 1;
    if (e->kind == TT_E_LOAD) {
        int pi = tt_state_stage_of_uid(L->s, e->u.uid);
        return pi >= 0 && L->info[pi].buf == LW_BUF_TABLE;
    }
    if (e->kind == TT_E_MUL)
        return table_product(L, e->args[0]) && table_product(L, e->args[1]) &&
               (e->args[0]->kind != TT_E_FLOAT || e->args[1]->kind != TT_E_FLOAT);
    return 0;
}

void emit_expr(emitter *E, const tt_expr *e, int si)
{
    const tt_stage *st = &E->L->s->stages[si];
    static const char *binop[TT_E_COUNT] = {
        [TT_E_ADD] = "+", [TT_E_SUB] = "-", [TT_E_MUL] = "*", [TT_E_DIV] = "/",
        [TT_E_LT] = "<",  [TT_E_LE] = "<=", [TT_E_GT] = ">",  [TT_E_GE] = ">=",
        [TT_E_EQ] = "==", [TT_E_NE] = "!=", [TT_E_AND] = "&&", [TT_E_OR] = "||",
    };
    if (e->kind == TT_E_MUL && E->skip && (e->args[0] == E->skip || e->args[1] == E->skip)) {
        emit_expr(E, e->args[e->args[0] == E->skip], si);
        return;
    }
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
    case TT_E_MUL:
        if (!E->ref && (table_product(E->L, e->args[0]) || table_product(E->L, e->args[1]))) {
            int c = table_product(E->L, e->args[0]) ? 0 : 1;
            tt_str_cat(E->o, "tt_cmulf(");
            emit_expr(E, e->args[1 - c], si);
            tt_str_cat(E->o, ", ");
            emit_expr(E, e->args[c], si);
            tt_str_cat(E->o, ")");
            return;
        }
        /* fall through */
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
void define_ready(emitter *E, int si, defs *D, phase ph)
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
            if (I->ext[n] == 1 && (idx > 0 || I->ext[rel->other] <= stride)) {
                /* a part of extent 1 is 0: no division left for the compiler
                 * to prove so (a batch axis fused into a record's epilogue
                 * loop divided every element by the tensor's size) */
                tt_str_cat(E->o, "0; (void)");
                tt_str_catf(E->o, "a%d_%d;\n", st->op.uid, n);
                D->atom[n] = 1;
                progress = 1;
                continue;
            }
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
        if (root_clamped(E, I, r, st->op.ndim)) {
            /* inside a register tile's update, an output row past the extent
             * (the guarded last tile of Inception's 71 rows) is clamped to the
             * last real one instead of branched around in the inner loop: its
             * accumulators gather a copy of that row's sums and are never
             * stored (the tile's store keeps the guard).  Only spatial roots:
             * a reduction index clamped would be counted twice. */
            /* the unclamped value too: a vector statement's mask counts the
             * lanes from it, so that a tile wholly past the extent (a
             * record's channel tiles transferred to fewer channels, --lax)
             * loads no lane, where the clamped index left one lane on at an
             * address past the packed weights */
            tt_str_catf(E->o, "const int64_t r%d_%du = ", st->op.uid, r);
            emit_aff(E, &I->root[r]);
            tt_str_catf(E->o, ";\nconst int64_t r%d_%d = tt_mini(r%d_%du, INT64_C(%lld)); (void)r%d_%du;\n",
                        st->op.uid, r, st->op.uid, r, (long long)(Ex - 1), st->op.uid, r);
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


int has_attached(const lowering *L, int uid, int node)
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
void write_index(emitter *E, int si, tt_str *idx)
{
    const stage_info *I = &E->L->info[si];
    const tt_op *op = &E->L->s->stages[si].op;
    tt_str_init(idx);
    if (op->ndim == 0)
        tt_str_cat(idx, "0");
    if (op->ndim > 0 && I->buf != LW_BUF_LOCAL && !E->ref && emit_folded_index(E, op, I->root, op->ndim, idx))
        return;
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

void emit_statement(emitter *E, int si, phase ph)
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


/* A register tile's rolled reduction loop over R accumulator sets (see
 * split_sets in tile.c): R copies of the body a step, each with its set
 * `tt_set` a constant, then the ext % R left over. */
static void emit_set_loop(emitter *E, int si, nest *nests, int li, defs D, const char *v, int64_t ext)
{
    int64_t R = E->set_R;
    tt_str body;
    tt_str_init(&body);
    tt_str *save = E->o;
    E->o = &body;
    emit_level_body(E, si, nests, PH_UPDATE, li, D);
    E->o = save;
    const char *b = body.buf ? body.buf : "";
    if (ext / R > 0) {
        tt_str_catf(E->o, "for (int64_t %s_o = 0; %s_o < INT64_C(%lld); %s_o++) {\n", v, v, (long long)(ext / R), v);
        for (int64_t k = 0; k < R; k++)
            tt_str_catf(E->o, "{ const int64_t %s = %s_o * %lld + %lld; const int64_t tt_set = %lld;\n%s}\n", v, v,
                        (long long)R, (long long)k, (long long)k, b);
        tt_str_cat(E->o, "}\n");
    }
    for (int64_t k = 0; k < ext % R; k++)
        tt_str_catf(E->o, "{ const int64_t %s = %lld; const int64_t tt_set = %lld;\n%s}\n", v,
                    (long long)(ext / R * R + k), (long long)k, b);
    tt_str_free(&body);
}

void emit_loops(emitter *E, int si, nest *nests, phase ph, int li, defs D)
{
    const lowering *L = E->L;
    const tt_stage *st = &L->s->stages[si];
    const stage_info *I = &L->info[si];
    nest *N = &nests[ph];
    int top = E->top; /* the stage's first loop (see emitter.fns) */
    E->top = 0;
    if (li == N->n) {
        if (ph == PH_COMMON) {
            tt_str_cat(E->o, "{\n");
            if (!nests[PH_UPDATE].tile_whole)
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
    if (ph == PH_UPDATE && E->in_tile && si * TT_MAX_NODES + node == E->set_node && !N->unroll[li]) {
        emit_set_loop(E, si, nests, li, D, v, ext);
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
    if (par && top && !E->ref && E->par_params.len) {
        /* the body as a function with restrict pointers (see emitter.fns) */
        char fname[160];
        snprintf(fname, sizeof fname, "%s_par%d_%d", E->fn, st->op.uid, E->npar++);
        tt_str body;
        tt_str_init(&body);
        tt_str *save = E->o;
        E->o = &body;
        int was = E->in_parallel;
        E->in_parallel = 1;
        emit_level_body(E, si, nests, ph, li, D);
        E->in_parallel = was;
        E->o = save;
        tt_str_catf(&E->fns, "static inline __attribute__((always_inline)) void %s(const int64_t %s, %s)\n{\n%s%s}\n",
                    fname, v, E->par_params.buf, E->stage_pre ? E->stage_pre : "", body.buf ? body.buf : "");
        tt_str_free(&body);
        tt_str_catf(E->o, "#pragma omp parallel for%s\n", N->simd[li] ? " simd" : " schedule(static)");
        tt_str_catf(E->o, "for (int64_t %s = 0; %s < INT64_C(%lld); %s++)\n%s(%s, %s);\n", v, v, (long long)ext, v,
                    fname, v, E->par_args.buf);
        return;
    }
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

/* Tiles that hold too few accumulators across too few reductions: the
 * spatial loops that sit between reduction loops (rc.0, then yy.2, ff.2, then
 * rc.1 and the tile) and the short inner reductions are unrolled (forced[]
 * marks them), so that the register tile starts at the outer reduction and
 * keeps more accumulators across every reduction:
 *
 *   rc.0 (32) { yy.2 (2) { ff.2 (4) { rc.1 (2) { tile of 4 } } } }
 *     ->  for rc.0 { the tile of 4 x 2 x 4, across rc.0 and rc.1 }
 *
 * TVM's 56x56x64 -> 64 record (4 accumulators loaded and stored around every
 * 2 reductions) ran at 3.2x oneDNN's time.  Unrolling keeps the loop order.
 * When the grown tile would not fit in registers (over 16 vectors) and the
 * tile has 4 or more, the spatial loops move out of the reductions instead
 * (to the common part, before the init nest): 56x56x64 -> 64 0.33 -> 0.15 ms;
 * that changes the order, so only for a whole reduction of at most 64 (its
 * operands stay in L1 in any order; longer ones are a deliberate cache
 * blocking, and undoing it lost up to 5x).  Each output's sum keeps its order.
 * Only when the inner run has fewer than 16 reductions and no stage is
 * computed at the loops involved. */
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
    int forced[TT_MAX_ITERS] = {0};
    if (f >= 0 && !E->ref)
        unroll_into_tile(E, si, nests, forced);
    plan_nest(E, si, &nests[PH_PLAIN], PH_PLAIN, 1, 1);
    plan_nest(E, si, &nests[PH_INIT], PH_INIT, 1, 1);
    plan_nest(E, si, &nests[PH_UPDATE], PH_UPDATE, 1, 1);
    force_unroll(E, si, &nests[PH_UPDATE], forced);
    plan_nest(E, si, &nests[PH_COMMON], PH_COMMON, nests[PH_INIT].steps + nests[PH_UPDATE].steps,
              nests[PH_INIT].all_unrolled && nests[PH_UPDATE].all_unrolled);
    for (int p = 0; p < 4; p++)
        nests[p].tile_at = -1;
    plan_tile(E, si, nests);
    size_t pre0 = E->o->len;
    define_ready(E, si, &D, start);
    /* what the loops' body may use from before them: copied into a parallel
     * body's function (no open guard: it would be left unclosed there) */
    char *pre = tt_xstrdup(E->o->buf ? E->o->buf + pre0 : "");
    E->stage_pre = pre;
    E->top = D.nguards == 0 && st->at == TT_AT_ROOT; /* an attached stage reads its consumer's names */
    emit_loops(E, si, nests, start, 0, D);
    E->top = 0;
    E->stage_pre = NULL;
    free(pre);
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

/* A buffer pointer of the kernel's body: `decl` (e.g. "const float
 * *restrict b3") bound to `src`, as a local copy in every parallel loop body
 * (rebind) and as a parameter of the parallel bodies' functions. */
static void bind(emitter *E, const char *decl, const char *src)
{
    tt_str_catf(&E->rebind, "%s = %s; (void)%s;\n", decl, src, strrchr(decl, ' ') + 1);
    tt_str_catf(&E->par_params, "%s%s", E->par_params.len ? ", " : "", decl);
    tt_str_catf(&E->par_args, "%s%s", E->par_args.len ? ", " : "", src);
}

static void bind_fmt(emitter *E, const char *decl_fmt, const char *src_fmt, int uid)
{
    char d[64], sv[32];
    snprintf(d, sizeof d, decl_fmt, uid);
    snprintf(sv, sizeof sv, src_fmt, uid);
    bind(E, d, sv);
}

/* The packed copy of the constant weights op, read by one stage and blocked
 * along I->pack_dim by I->pack_cb (plan_packing): repacked when the kernel is
 * called with a weight pointer it has not seen, then reused (a kernel's
 * weights are constants, as in a compiled model).  Source index = (a * E_b +
 * f) * in + o, with `in` the extent after the blocked dim; destination as in
 * emit_index. */
static void emit_packed_input(emitter *E, const tt_op *op, const stage_info *I, int64_t numel)
{
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
    tt_str_catf(E->o,
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
                "  else { free(spare%d); spare%d = k; } /* table full: repack per call */\n"
                "  k%d = k;\n"
                "}\n",
                op->uid, op->uid, op->uid, op->uid, op->uid, op->uid,
                op->uid, (long long)bytes, (long long)bytes, (long long)outer, (long long)E_,
                (long long)inner, (long long)cb, (long long)oth, (long long)inner, (long long)cb,
                (long long)cb, op->uid, (long long)E_, (long long)inner, op->uid, TT_PACK_CACHE,
                op->uid, op->uid, op->uid, op->uid, op->uid, op->uid, op->uid, op->uid,
                op->uid);
    bind_fmt(E, "const float *restrict b%d", "k%d", op->uid);
}

/* Stage si's buffer: its pointer p<uid> (an argument, a packed copy, a
 * workspace or a constant table) and its restrict binding. */
static void emit_buffer(emitter *E, int si)
{
    const tt_op *op = &E->L->s->stages[si].op;
    const stage_info *I = &E->L->info[si];
    int64_t numel = 1;
    for (int d = 0; d < op->ndim; d++)
        numel *= op->axis[d].extent;
    switch (I->buf) {
    case LW_BUF_INPUT:
        tt_str_catf(E->o, "float *const p%d = args[%d];\n", op->uid, I->arg);
        if (I->pack_cb) {
            emit_packed_input(E, op, I, numel);
        } else {
            bind_fmt(E, "const float *restrict b%d", "p%d", op->uid);
        }
        break;
    case LW_BUF_OUTPUT:
        if (E->ref) {
            tt_str_catf(E->o, "double *const p%d = out;\ndouble *const q%d = mag;\n", op->uid, op->uid);
            bind_fmt(E, "double *restrict g%d", "q%d", op->uid);
        } else {
            tt_str_catf(E->o, "float *const p%d = args[%d];\n", op->uid, E->L->nin);
        }
        bind_fmt(E, E->ref ? "double *restrict b%d" : "float *restrict b%d", "p%d", op->uid);
        break;
    case LW_BUF_ROOT:
        /* declared above (with its release) in a candidate; here in a reference */
        if (E->ref)
            tt_str_catf(E->o, "static double *w%d;\n", op->uid);
        tt_str_catf(E->o, "if (!w%d) w%d = (%s *)tt_alloc(%lld);\n%s *const p%d = w%d;\n", op->uid, op->uid,
                    E->T, (long long)(numel * (E->ref ? 8 : 4)), E->T, op->uid, op->uid);
        bind_fmt(E, E->ref ? "double *restrict b%d" : "float *restrict b%d", "p%d", op->uid);
        if (E->ref) {
            tt_str_catf(E->o, "static double *x%d;\nif (!x%d) x%d = (double *)tt_alloc(%lld);\ndouble *const q%d = x%d;\n",
                        op->uid, op->uid, op->uid, (long long)(numel * 8), op->uid, op->uid);
            bind_fmt(E, "double *restrict g%d", "q%d", op->uid);
        }
        break;
    case LW_BUF_TABLE:
        /* its values, exactly as the stage would compute them (float) */
        tt_str_catf(E->o, "static const float t%d[%lld] = {", op->uid, (long long)numel);
        for (int64_t i = 0; i < numel; i++) {
            tt_str_cat(E->o, i ? ", " : "");
            emit_float(E, (float)I->table[i]);
        }
        tt_str_cat(E->o, "};\n");
        bind_fmt(E, "const float *restrict b%d", "t%d", op->uid);
        break;
    default:
        break;
    }
}

/* A candidate's statics: each root stage's workspace and each packed
 * weight's table of copies (see emit_packed_input), and their release when
 * the kernel is called with no arguments (an executor that is done with the
 * kernel: its weights may not outlive it). */
static void emit_statics(emitter *E)
{
    tt_str rel;
    tt_str_init(&rel);
    for (int si = 0; si < E->L->s->nstages; si++) {
        const stage_info *I = &E->L->info[si];
        int u = E->L->s->stages[si].op.uid;
        if (I->buf == LW_BUF_ROOT) {
            /* a stage's whole-tensor workspace: kept between calls too */
            tt_str_catf(E->o, "static float *w%d;\n", u);
            tt_str_catf(&rel, "free(w%d);\nw%d = 0;\n", u, u);
            continue;
        }
        if (I->buf != LW_BUF_INPUT || !I->pack_cb)
            continue;
        tt_str_catf(E->o, "static struct { const float *src; float *dst; } kc%d[%d];\nstatic int kn%d;\n"
                         "static float *spare%d;\n", u, TT_PACK_CACHE, u, u);
        tt_str_catf(&rel, "for (int i = 0; i < kn%d; i++) free(kc%d[i].dst);\nkn%d = 0;\nfree(spare%d);\nspare%d = 0;\n",
                    u, u, u, u, u);
    }
    tt_str_catf(E->o, "if (!args) {\n%sreturn;\n}\n", rel.buf ? rel.buf : "");
    tt_str_free(&rel);
}

int emit_function(const tt_state *s, const char *fn, int ref, tt_str *out, tt_err *err)
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
    E.set_node = -1;
    E.L = &L;
    E.o = out;
    E.ref = ref;
    E.T = ref ? "double" : "float";
    E.fn = fn;
    E.vlanes = tt_codegen_vector_lanes();
    tt_str_init(&E.rebind);
    tt_str_init(&E.par_params);
    tt_str_init(&E.par_args);
    tt_str_init(&E.fns);
    /* the kernel's text goes after the parallel bodies' functions */
    tt_str kern;
    tt_str_init(&kern);
    tt_str *final_out = out;
    out = &kern;
    E.o = out;
    if (ref)
        tt_str_catf(out, "void %s(float *const *args, double *out, double *mag)\n{\n", fn);
    else
        tt_str_catf(out, "void %s(float *const *args)\n{\n", fn);
    if (!ref)
        emit_statics(&E);
    for (int si = 0; si < s->nstages; si++)
        emit_buffer(&E, si);
    tt_str_cat(out, E.rebind.buf ? E.rebind.buf : "");
    for (int si = 0; si < s->nstages; si++) {
        const tt_stage *st = &s->stages[si];
        if (st->op.kind != TT_OP_COMPUTE || st->at != TT_AT_ROOT || L.info[si].buf == LW_BUF_TABLE)
            continue;
        emit_stage(&E, si);
    }
    tt_str_cat(out, "}\n");
    tt_str_cat(final_out, E.fns.buf ? E.fns.buf : "");
    tt_str_cat(final_out, kern.buf ? kern.buf : "");
    tt_str_free(&kern);
    tt_str_free(&E.fns);
    tt_str_free(&E.par_params);
    tt_str_free(&E.par_args);
    tt_str_free(&E.rebind);
    tt_lower_free(&L);
    tt_arena_free(a);
    return 0;
}

int tt_codegen_vector_lanes(void)
{
    return tt_host_vector_lanes(); /* $TT_VECTOR_LANES or the host's */
}

int tt_codegen_candidate(const tt_state *s, const char *fn, tt_str *out, tt_err *err)
{
    return emit_function(s, fn, 0, out, err);
}
