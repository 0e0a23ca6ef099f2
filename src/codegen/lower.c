/* lower.c - bound inference and loop facts for a replayed state.
 *
 * Every iterator value is expressed as an affine form over "atoms": the leaf
 * loop variables of a stage and the parts of fused iterators (which are
 * div/mod of the fused loop variable, so they are variables of their own).
 * A root axis of a stage computed at another stage's loop is `m + local`,
 * where m (the region minimum) is an affine form over the atoms that are
 * fixed at the attach point and local is the form over the stage's own atoms.
 *
 * Bound inference for a stage P computed at iterator k of stage C follows TVM:
 * the atoms of C up to k (and of every stage enclosing C) are fixed; all
 * others range over their extents; every read of P in the (inlined) bodies
 * of its consumers inside that scope gives an interval per dimension, and
 * the union of those intervals is P's region.  Intervals whose minima differ
 * in more than a constant fall back to the whole dimension (correct, larger).
 */
#include "lower.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- affine forms ---------------------------------------------------------- */

void aff_const(aff *x, int64_t c)
{
    x->ok = 1;
    x->c = c;
    x->n = 0;
}

static void aff_add_term(aff *x, int atom, int64_t coef)
{
    if (!x->ok || coef == 0)
        return;
    for (int i = 0; i < x->n; i++)
        if (x->atom[i] == atom) {
            x->coef[i] += coef;
            if (x->coef[i] == 0) {
                x->atom[i] = x->atom[x->n - 1];
                x->coef[i] = x->coef[x->n - 1];
                x->n--;
            }
            return;
        }
    if (x->n >= AFF_MAX) {
        x->ok = 0;
        return;
    }
    x->atom[x->n] = atom;
    x->coef[x->n] = coef;
    x->n++;
}

/* x += k * y */
void aff_axpy(aff *x, int64_t k, const aff *y)
{
    if (!y->ok) {
        x->ok = 0;
        return;
    }
    x->c += k * y->c;
    for (int i = 0; i < y->n; i++)
        aff_add_term(x, y->atom[i], k * y->coef[i]);
}

static int aff_same_terms(const aff *a, const aff *b)
{
    if (a->n != b->n)
        return 0;
    for (int i = 0; i < a->n; i++) {
        int found = 0;
        for (int j = 0; j < b->n; j++)
            if (a->atom[i] == b->atom[j] && a->coef[i] == b->coef[j])
                found = 1;
        if (!found)
            return 0;
    }
    return 1;
}

int64_t lw_atom_extent(const lowering *L, int atom)
{
    return L->info[atom / TT_MAX_NODES].ext[atom % TT_MAX_NODES];
}

/* Largest and smallest value of x when every atom ranges over its extent. */
int64_t aff_max(const lowering *L, const aff *x)
{
    int64_t v = x->c;
    for (int i = 0; i < x->n; i++)
        if (x->coef[i] > 0)
            v += x->coef[i] * (lw_atom_extent(L, x->atom[i]) - 1);
    return v;
}

int64_t aff_min(const lowering *L, const aff *x)
{
    int64_t v = x->c;
    for (int i = 0; i < x->n; i++)
        if (x->coef[i] < 0)
            v += x->coef[i] * (lw_atom_extent(L, x->atom[i]) - 1);
    return v;
}

/* ---- per-stage facts ------------------------------------------------------- */

static int is_leaf(const tt_stage *st, int node) { return tt_stage_iter_of_node(st, node) >= 0; }

static const tt_rel *rel_consuming(const tt_stage *st, int node)
{
    for (int r = 0; r < st->nrels; r++) {
        const tt_rel *rel = &st->rels[r];
        if (rel->kind == TT_REL_SPLIT && rel->other == node)
            return rel;
        if (rel->kind == TT_REL_FUSE)
            for (int i = 0; i < rel->n; i++)
                if (rel->nodes[i] == node)
                    return rel;
    }
    return NULL;
}

/* Value form of a node over the stage's atoms (memoized). */
static void node_value(lowering *L, int si, int node)
{
    stage_info *I = &L->info[si];
    if (I->val_done[node])
        return;
    const tt_stage *st = &L->s->stages[si];
    aff *v = &I->val[node];
    int id = si * TT_MAX_NODES + node;
    const tt_rel *rel = is_leaf(st, node) ? NULL : rel_consuming(st, node);
    if (!rel || rel->kind == TT_REL_FUSE) {
        /* a leaf, or a part of a fused iterator: an atom */
        aff_const(v, 0);
        aff_add_term(v, id, 1);
        I->is_atom[node] = 1;
        I->fuse_rel[node] = rel ? (int)(rel - st->rels) : -1;
    } else {
        aff_const(v, 0);
        for (int i = 0; i < rel->n; i++) {
            node_value(L, si, rel->nodes[i]);
            int64_t stride = 1;
            for (int k = i + 1; k < rel->n; k++)
                stride *= rel->factors[k];
            aff_axpy(v, stride, &I->val[rel->nodes[i]]);
        }
    }
    I->val_done[node] = 1;
}

/* TE PassDownDomain from the root extents R. */
static void pass_down(lowering *L, int si)
{
    const tt_stage *st = &L->s->stages[si];
    stage_info *I = &L->info[si];
    for (int n = 0; n < st->nnodes; n++)
        I->ext[n] = st->nodes[n].root >= 0 ? I->R[st->nodes[n].root] : -1;
    for (int r = 0; r < st->nrels; r++) {
        const tt_rel *rel = &st->rels[r];
        if (rel->kind == TT_REL_SPLIT) {
            int64_t rem = I->ext[rel->other];
            for (int i = rel->n - 1; i >= 1; i--) {
                int64_t f = rel->factors[i];
                I->ext[rel->nodes[i]] = rem < f ? rem : f;
                rem = (rem + f - 1) / f;
            }
            I->ext[rel->nodes[0]] = rem;
        } else {
            int64_t e = 1;
            for (int i = 0; i < rel->n; i++)
                e *= I->ext[rel->nodes[i]];
            I->ext[rel->other] = e;
        }
    }
}

static int root_node(const tt_stage *st, int root)
{
    for (int n = 0; n < st->nnodes; n++)
        if (st->nodes[n].root == root)
            return n;
    return -1;
}

/* ---- inlining ---------------------------------------------------------------- */

typedef struct inl_ctx {
    lowering *L;
} inl_ctx;

typedef struct axis_subst {
    tt_expr *const *idx;
} axis_subst;

static tt_expr *subst_axes(void *ctx, tt_arena *a, const tt_expr *e)
{
    axis_subst *c = ctx;
    if (e->kind == TT_E_AXIS)
        return c->idx[e->u.axis];
    return NULL;
}

static tt_expr *inline_fn(void *ctx, tt_arena *a, const tt_expr *e)
{
    inl_ctx *c = ctx;
    if (e->kind != TT_E_LOAD)
        return NULL;
    int si = tt_state_stage_of_uid(c->L->s, e->u.uid);
    if (si < 0 || c->L->s->stages[si].at != TT_AT_INLINED || c->L->info[si].buf == LW_BUF_TABLE)
        return NULL;
    tt_expr *idx[TT_MAX_DIMS];
    for (int i = 0; i < e->n; i++)
        idx[i] = tt_expr_rewrite(a, e->args[i], inline_fn, ctx);
    axis_subst sub = {idx};
    return tt_expr_rewrite(a, c->L->info[si].body, subst_axes, &sub);
}

/* ---- constant tables ------------------------------------------------------- */

/* The value of a constant expression over the axis values ax; -1 if e reads a
 * tensor or uses what this does not evaluate. */
static int eval_const(const tt_expr *e, const int64_t *ax, double *out)
{
    double a[3] = {0, 0, 0};
    if (e->kind == TT_E_LOAD || e->kind == TT_E_RAXIS || e->kind == TT_E_CALL || e->n > 3)
        return -1;
    for (int i = 0; i < e->n; i++)
        if (eval_const(e->args[i], ax, &a[i]))
            return -1;
    int64_t x = (int64_t)a[0], y = (int64_t)a[1];
    switch (e->kind) {
    case TT_E_INT: *out = (double)e->u.ival; return 0;
    case TT_E_FLOAT: *out = e->u.fval; return 0;
    case TT_E_AXIS: *out = (double)ax[e->u.axis]; return 0;
    case TT_E_ADD: *out = a[0] + a[1]; return 0;
    case TT_E_SUB: *out = a[0] - a[1]; return 0;
    case TT_E_MUL: *out = a[0] * a[1]; return 0;
    case TT_E_FLOORDIV:
    case TT_E_FLOORMOD: {
        if (y == 0)
            return -1;
        int64_t q = x / y;
        if ((x % y != 0) && ((x < 0) != (y < 0)))
            q--;
        *out = (double)(e->kind == TT_E_FLOORDIV ? q : x - q * y);
        return 0;
    }
    case TT_E_MIN: *out = a[0] < a[1] ? a[0] : a[1]; return 0;
    case TT_E_MAX: *out = a[0] > a[1] ? a[0] : a[1]; return 0;
    case TT_E_LT: *out = a[0] < a[1]; return 0;
    case TT_E_LE: *out = a[0] <= a[1]; return 0;
    case TT_E_GT: *out = a[0] > a[1]; return 0;
    case TT_E_GE: *out = a[0] >= a[1]; return 0;
    case TT_E_EQ: *out = a[0] == a[1]; return 0;
    case TT_E_NE: *out = a[0] != a[1]; return 0;
    case TT_E_AND: *out = a[0] != 0 && a[1] != 0; return 0;
    case TT_E_OR: *out = a[0] != 0 || a[1] != 0; return 0;
    case TT_E_NOT: *out = a[0] == 0; return 0;
    case TT_E_SELECT: *out = a[0] != 0 ? a[1] : a[2]; return 0;
    case TT_E_CAST: *out = a[0]; return 0;
    default: return -1;
    }
}

/* A compute stage with no reads, no reduction and at most 4096 values
 * (TOPI's const_matrix: Winograd's A and B, a chain of selects over their
 * indices) becomes a static const table when inlined or at root: its loads
 * with constant indices (in unrolled loops) are then constants the compiler
 * folds, where the inlined select chains cost a compile of 40 s and the
 * transforms 3x their time.  Not in reference mode (the reference keeps the
 * plain definition) nor for the output stage. */
static double *table_values(lowering *L, int si)
{
    const tt_stage *st = &L->s->stages[si];
    const tt_op *op = &st->op;
    if (L->ref_mode || op->kind != TT_OP_COMPUTE || op->nreduce || op->ndim < 1 || op->ndim > 2 ||
        op->cond || si == L->s->nstages - 1 || (st->at != TT_AT_INLINED && st->at != TT_AT_ROOT) || st->nrels)
        return NULL;
    int64_t n = tt_op_numel(op);
    if (n < 1 || n > 4096)
        return NULL;
    double *v = tt_arena_alloc(L->a, (size_t)n * sizeof *v);
    for (int64_t i = 0; i < n; i++) {
        int64_t ax[2] = {op->ndim == 2 ? i / op->axis[1].extent : i, op->ndim == 2 ? i % op->axis[1].extent : 0};
        if (eval_const(op->body, ax, &v[i]))
            return NULL;
    }
    return v;
}

/* ---- reads ------------------------------------------------------------------ */

typedef struct read_list {
    int n;
    const tt_expr *loads[64];
    int overflow;
} read_list;

static void collect_reads(const tt_expr *e, int uid, read_list *r)
{
    if (!e)
        return;
    if (e->kind == TT_E_LOAD && e->u.uid == uid) {
        if (r->n < 64)
            r->loads[r->n++] = e;
        else
            r->overflow = 1;
    }
    for (int i = 0; i < e->n; i++)
        collect_reads(e->args[i], uid, r);
}

/* Affine form of an index expression of stage si (over its global roots). */
void lw_index_form(lowering *L, int si, const tt_expr *e, aff *out)
{
    const stage_info *I = &L->info[si];
    const tt_stage *st = &L->s->stages[si];
    aff a, b;
    switch (e->kind) {
    case TT_E_INT:
        aff_const(out, e->u.ival);
        return;
    case TT_E_AXIS:
        *out = I->root[e->u.axis];
        return;
    case TT_E_RAXIS:
        *out = I->root[st->op.ndim + e->u.axis];
        return;
    case TT_E_ADD:
    case TT_E_SUB:
        lw_index_form(L, si, e->args[0], out);
        lw_index_form(L, si, e->args[1], &b);
        aff_axpy(out, e->kind == TT_E_ADD ? 1 : -1, &b);
        return;
    case TT_E_MUL:
        lw_index_form(L, si, e->args[0], &a);
        lw_index_form(L, si, e->args[1], &b);
        if (a.ok && a.n == 0) {
            aff_const(out, 0);
            aff_axpy(out, a.c, &b);
            return;
        }
        if (b.ok && b.n == 0) {
            aff_const(out, 0);
            aff_axpy(out, b.c, &a);
            return;
        }
        break;
    case TT_E_FLOORDIV:
    case TT_E_FLOORMOD: {
        if (e->args[1]->kind != TT_E_INT || e->args[1]->u.ival < 1)
            break;
        int64_t c = e->args[1]->u.ival;
        lw_index_form(L, si, e->args[0], &a);
        if (!a.ok)
            break;
        if (c == 1) {
            if (e->kind == TT_E_FLOORDIV)
                *out = a;
            else
                aff_const(out, 0);
            return;
        }
        /* x = c * (the terms whose coefficients c divides, plus q0) + r with
         * r (the other terms and the constant's remainder) in [0, c) for
         * every value of its atoms: floordiv(x, c) is the first part, affine,
         * and floormod(x, c) is r (a grouped conv's floordiv(ff, cog) over a
         * channel tile of one group: its lanes all read one group) */
        int64_t q0 = a.c >= 0 ? a.c / c : -((-a.c + c - 1) / c), lo = a.c - q0 * c, hi = lo;
        aff q, r;
        aff_const(&q, q0);
        aff_const(&r, lo);
        for (int t = 0; t < a.n; t++) {
            if (a.coef[t] % c == 0) {
                aff_add_term(&q, a.atom[t], a.coef[t] / c);
                continue;
            }
            int64_t x = lw_atom_extent(L, a.atom[t]);
            if (x < 1)
                goto nonaffine;
            if (a.coef[t] > 0)
                hi += a.coef[t] * (x - 1);
            else
                lo += a.coef[t] * (x - 1);
            aff_add_term(&r, a.atom[t], a.coef[t]);
        }
        if (lo < 0 || hi >= c)
            break;
        *out = e->kind == TT_E_FLOORDIV ? q : r;
        return;
    }
    default:
        break;
    }
nonaffine:
    aff_const(out, 0);
    out->ok = 0;
}

/* Is atom fixed at the attach point (C, k)?  Atoms of C up to position k,
 * parts of fused iterators whose fused value is fixed, and every atom of a
 * stage enclosing C. */
static int atom_fixed(lowering *L, int atom, int C, int k)
{
    int si = atom / TT_MAX_NODES, node = atom % TT_MAX_NODES;
    if (si == C) {
        const tt_stage *st = &L->s->stages[si];
        int pos = tt_stage_iter_of_node(st, node);
        if (pos >= 0)
            return pos <= k;
        int r = L->info[si].fuse_rel[node];
        if (r < 0)
            return 0;
        const aff *fv = &L->info[si].val[st->rels[r].other];
        for (int i = 0; i < fv->n; i++)
            if (!atom_fixed(L, fv->atom[i], C, k))
                return 0;
        return 1;
    }
    /* enclosing stages of C */
    for (int t = C; L->s->stages[t].at == TT_AT_ITER;) {
        t = tt_state_stage_of_uid(L->s, L->s->stages[t].at_uid);
        if (t == si)
            return 1;
    }
    return 0;
}

/* Is stage D evaluated inside the loop at position k of stage C? */
static int in_scope(lowering *L, int D, int C, int k)
{
    if (D == C)
        return 1;
    for (int t = D; L->s->stages[t].at == TT_AT_ITER;) {
        const tt_stage *st = &L->s->stages[t];
        int target = tt_state_stage_of_uid(L->s, st->at_uid);
        if (target == C)
            return tt_stage_iter_of_node(&L->s->stages[C], st->at_node) >= k;
        t = target;
    }
    return 0;
}

/* Index expression e of stage D at the attach point (C, k) as *mn (affine
 * in the atoms fixed there) plus a value in [0, *ext) that the free atoms
 * range over: for indices that are not affine, such as a fused and split
 * pooling window's floordiv(3 * rv.0 + rv.1, 3) and floormod(.., 3), whose
 * region would otherwise be the whole tensor (a max pool's pad stage computed
 * at the rfactor stage's loops copied the whole 114 x 114 image per output
 * pixel: 6.5 s instead of 0.1 ms).  Returns 0 if e has no such form. */
static int index_bounds(lowering *L, int D, const tt_expr *e, int C, int k, aff *mn, int64_t *ext)
{
    const tt_stage *st = &L->s->stages[D];
    aff a, b;
    int64_t ea, eb;
    switch (e->kind) {
    case TT_E_INT:
        aff_const(mn, e->u.ival);
        *ext = 1;
        return 1;
    case TT_E_AXIS:
    case TT_E_RAXIS: {
        const aff *f = &L->info[D].root[e->kind == TT_E_AXIS ? e->u.axis : st->op.ndim + e->u.axis];
        if (!f->ok)
            return 0;
        aff_const(mn, f->c);
        *ext = 1;
        for (int t = 0; t < f->n; t++) {
            if (atom_fixed(L, f->atom[t], C, k)) {
                aff_add_term(mn, f->atom[t], f->coef[t]);
            } else {
                int64_t x = lw_atom_extent(L, f->atom[t]) - 1, c = f->coef[t];
                if (c < 0)
                    mn->c += c * x;
                *ext += (c < 0 ? -c : c) * x;
            }
        }
        return mn->ok;
    }
    case TT_E_ADD:
    case TT_E_SUB:
        if (!index_bounds(L, D, e->args[0], C, k, &a, &ea) ||
            !index_bounds(L, D, e->args[1], C, k, &b, &eb))
            return 0;
        *mn = a;
        aff_axpy(mn, e->kind == TT_E_ADD ? 1 : -1, &b);
        if (e->kind == TT_E_SUB)
            mn->c -= eb - 1;
        *ext = ea + eb - 1;
        return mn->ok;
    case TT_E_MUL: {
        int c = e->args[0]->kind == TT_E_INT ? 0 : e->args[1]->kind == TT_E_INT ? 1 : -1;
        if (c < 0 || !index_bounds(L, D, e->args[1 - c], C, k, &a, &ea))
            return 0;
        int64_t m = e->args[c]->u.ival;
        aff_const(mn, 0);
        aff_axpy(mn, m, &a);
        if (m < 0)
            mn->c += m * (ea - 1);
        *ext = (m < 0 ? -m : m) * (ea - 1) + 1;
        return mn->ok;
    }
    case TT_E_FLOORDIV:
    case TT_E_FLOORMOD: {
        if (e->args[1]->kind != TT_E_INT || e->args[1]->u.ival <= 0 ||
            !index_bounds(L, D, e->args[0], C, k, &a, &ea))
            return 0;
        int64_t c = e->args[1]->u.ival;
        /* fixed terms that are multiples of c leave the division whole:
         * floordiv(c q x + r, c) = q x + floordiv(r, c), floormod(.., c) =
         * floormod(r, c) */
        int whole = 1;
        for (int t = 0; t < a.n; t++)
            whole &= a.coef[t] % c == 0;
        if (!whole) {
            /* not affine in the fixed atoms: bound it over their whole
             * ranges too (a few rows more than needed, not the tensor) */
            for (int t = 0; t < a.n; t++) {
                int64_t x = lw_atom_extent(L, a.atom[t]) - 1, m = a.coef[t];
                if (m < 0)
                    a.c += m * x;
                ea += (m < 0 ? -m : m) * x;
            }
            a.n = 0;
        }
        aff q;
        aff_const(&q, 0);
        for (int t = 0; whole && t < a.n; t++)
            aff_add_term(&q, a.atom[t], a.coef[t] / c);
        int64_t lo = a.c, hi = a.c + ea - 1;
        int64_t qlo = lo >= 0 ? lo / c : -((-lo + c - 1) / c), qhi = hi >= 0 ? hi / c : -((-hi + c - 1) / c);
        if (e->kind == TT_E_FLOORDIV) {
            *mn = q;
            mn->c = qlo;
            *ext = qhi - qlo + 1;
        } else if (qlo == qhi) {
            aff_const(mn, lo - qlo * c);
            *ext = hi - lo + 1;
        } else {
            aff_const(mn, 0);
            *ext = c;
        }
        return 1;
    }
    default:
        return 0;
    }
}

static int infer_region(lowering *L, int P)
{
    const tt_state *s = L->s;
    const tt_stage *pst = &s->stages[P];
    stage_info *I = &L->info[P];
    int C = tt_state_stage_of_uid(s, pst->at_uid);
    if (C < 0)
        return tt_err_set(L->err, "stage %s is computed at a missing stage", pst->op.name);
    int k = tt_stage_iter_of_node(&s->stages[C], pst->at_node);
    if (k < 0)
        return tt_err_set(L->err, "stage %s is computed at an iterator that is no longer a loop",
                          pst->op.name);
    int ndim = pst->op.ndim;
    int have[TT_MAX_DIMS] = {0};
    int full[TT_MAX_DIMS] = {0};
    int64_t lo[TT_MAX_DIMS], hi[TT_MAX_DIMS];
    aff base[TT_MAX_DIMS];
    int nreaders = 0;
    for (int D = P + 1; D < s->nstages; D++) {
        const tt_stage *dst = &s->stages[D];
        if (dst->op.kind != TT_OP_COMPUTE || dst->at == TT_AT_INLINED)
            continue;
        read_list r = {0};
        collect_reads(L->info[D].body, pst->op.uid, &r);
        collect_reads(L->info[D].cond, pst->op.uid, &r);
        if (r.n == 0)
            continue;
        if (!in_scope(L, D, C, k))
            return tt_err_set(L->err,
                              "stage %s is computed at stage %s but also read by stage %s outside "
                              "that loop",
                              pst->op.name, s->stages[C].op.name, dst->op.name);
        nreaders++;
        for (int i = 0; i < r.n; i++) {
            const tt_expr *ld = r.loads[i];
            for (int d = 0; d < ndim; d++) {
                if (full[d])
                    continue;
                aff f;
                lw_index_form(L, D, ld->args[d], &f);
                aff mn;
                int64_t ext = 1;
                if (r.overflow || (!f.ok && !index_bounds(L, D, ld->args[d], C, k, &mn, &ext))) {
                    full[d] = 1;
                    continue;
                }
                /* split into fixed part (min) and free extent */
                if (f.ok)
                    aff_const(&mn, f.c);
                for (int t = 0; f.ok && t < f.n; t++) {
                    if (atom_fixed(L, f.atom[t], C, k)) {
                        aff_add_term(&mn, f.atom[t], f.coef[t]);
                    } else {
                        int64_t e = lw_atom_extent(L, f.atom[t]) - 1;
                        int64_t c = f.coef[t];
                        if (c < 0)
                            mn.c += c * e;
                        ext += (c < 0 ? -c : c) * e;
                    }
                }
                if (!mn.ok) {
                    full[d] = 1;
                    continue;
                }
                if (!have[d]) {
                    have[d] = 1;
                    base[d] = mn;
                    base[d].c = 0;
                    lo[d] = mn.c;
                    hi[d] = mn.c + ext;
                } else if (aff_same_terms(&base[d], &mn)) {
                    if (mn.c < lo[d])
                        lo[d] = mn.c;
                    if (mn.c + ext > hi[d])
                        hi[d] = mn.c + ext;
                } else {
                    full[d] = 1;
                }
            }
        }
    }
    if (nreaders == 0)
        return tt_err_set(L->err, "stage %s is computed at stage %s, which does not read it",
                          pst->op.name, s->stages[C].op.name);
    for (int d = 0; d < ndim; d++) {
        int64_t E = pst->op.axis[d].extent;
        if (full[d] || !have[d] || hi[d] - lo[d] >= E) {
            aff_const(&I->M[d], 0);
            I->R[d] = E;
        } else {
            I->M[d] = base[d];
            I->M[d].c = lo[d];
            I->R[d] = hi[d] - lo[d];
        }
    }
    for (int j = 0; j < pst->op.nreduce; j++) {
        aff_const(&I->M[ndim + j], 0);
        I->R[ndim + j] = pst->op.raxis[j].extent;
    }
    return 0;
}

/* Roots of stage si: global form = M + local value; guard facts. */
static void finish_stage(lowering *L, int si)
{
    const tt_stage *st = &L->s->stages[si];
    stage_info *I = &L->info[si];
    pass_down(L, si);
    for (int n = 0; n < st->nnodes; n++)
        I->val_done[n] = 0;
    for (int n = 0; n < st->nnodes; n++)
        node_value(L, si, n);
    int nroots = st->op.ndim + st->op.nreduce;
    for (int r = 0; r < nroots; r++) {
        int node = root_node(st, r);
        node_value(L, si, node);
        I->root[r] = I->M[r];
        aff_axpy(&I->root[r], 1, &I->val[node]);
        int64_t E = r < st->op.ndim ? st->op.axis[r].extent : st->op.raxis[r - st->op.ndim].extent;
        I->guard_hi[r] = aff_max(L, &I->root[r]) >= E;
        I->guard_lo[r] = aff_min(L, &I->root[r]) < 0;
        /* local value range for the buffer of a stage computed at a loop */
        I->local_guard[r] = aff_max(L, &I->val[node]) >= I->R[r];
    }
    I->ninner_guards = 0;
    for (int k = 0; k < st->nrels; k++) {
        const tt_rel *rel = &st->rels[k];
        int n = rel->other;
        if (rel->kind != TT_REL_SPLIT || st->nodes[n].root >= 0)
            continue;
        if (aff_max(L, &I->val[n]) >= I->ext[n])
            I->inner_guard[I->ninner_guards++] = n;
    }
}

/* Layout rewrite (Ansor's, simplified).  A constant placeholder P (weights)
 * read by one stage S with plain indices P[a0, ..., an] (each a distinct root
 * axis of S) is repacked once as
 *     P'[ceil(E / cb), d0, ..., d_{n-1}, cb]      (E, cb: last dimension)
 * where cb is the part of the last dimension's axis iterated inside S's
 * reduction loops (the register / cache tile): the innermost loops then read
 * P' contiguously instead of with a stride of E elements, which for large E
 * also avoids cache-set conflicts.  The packed index needs the last index
 * split as q * cb + r with affine q and r; when that split is not exact the
 * original layout is kept. */
static void plan_packing(lowering *L, int pi)
{
    const tt_state *s = L->s;
    const tt_op *P = &s->stages[pi].op;
    stage_info *PI = &L->info[pi];
    PI->pack_cb = 0;
    if (L->ref_mode || !P->is_const || P->ndim < 2)
        return;
    int reader = -1, nreads = 0;
    const tt_expr *ld = NULL;
    for (int D = pi + 1; D < s->nstages; D++) {
        const tt_stage *dst = &s->stages[D];
        if (dst->op.kind != TT_OP_COMPUTE || dst->at == TT_AT_INLINED)
            continue;
        read_list r = {0};
        collect_reads(L->info[D].body, P->uid, &r);
        collect_reads(L->info[D].cond, P->uid, &r);
        if (r.n == 0)
            continue;
        reader = reader < 0 ? D : -2;
        nreads += r.n;
        ld = r.loads[0];
    }
    if (reader < 0 || nreads != 1)
        return;
    const tt_stage *S = &s->stages[reader];
    const stage_info *SI = &L->info[reader];
    int used[LW_MAX_ROOTS] = {0};
    int roots[TT_MAX_DIMS];
    for (int d = 0; d < P->ndim; d++) {
        const tt_expr *e = ld->args[d];
        int r;
        if (e->kind == TT_E_AXIS)
            r = e->u.axis;
        else if (e->kind == TT_E_RAXIS)
            r = S->op.ndim + e->u.axis;
        else
            return;
        if (used[r]++)
            return;
        roots[d] = r;
    }
    /* the blocked dimension: a spatial axis of S (output channels for conv,
     * columns for dense) whose tile inside the reduction loops is largest */
    int first_red = -1;
    for (int i = 0; i < S->niters; i++)
        if (S->nodes[S->iters[i].node].kind != TT_ITER_SPATIAL) {
            first_red = i;
            break;
        }
    if (first_red < 0)
        return;
    int bd = -1;
    int64_t cb = 1;
    for (int d = 0; d < P->ndim; d++) {
        if (roots[d] >= S->op.ndim)
            continue;
        const aff *f = &SI->root[roots[d]];
        if (!f->ok)
            continue;
        int64_t c = 1;
        for (int t = 0; t < f->n; t++) {
            int a = f->atom[t];
            if (a / TT_MAX_NODES != reader)
                continue;
            int pos = tt_stage_iter_of_node(S, a % TT_MAX_NODES);
            if (pos > first_red)
                c *= lw_atom_extent(L, a);
        }
        if (c > cb) {
            cb = c;
            bd = d;
        }
    }
    if (bd < 0)
        return;
    const aff *f = &SI->root[roots[bd]];
    int64_t E = P->axis[bd].extent;
    /* a whole dimension as the block needs no copy when it is already the
     * innermost; elsewhere (Winograd's weight [eps, nu, co, ci], blocked
     * over all co) the copy moves it innermost */
    if (cb <= 1 || (cb >= E && bd == P->ndim - 1))
        return;
    /* exact split of the blocked index: f = q * cb + r, 0 <= r < cb */
    aff q, r;
    if (f->c < 0)
        return;
    aff_const(&q, f->c / cb);
    aff_const(&r, f->c % cb);
    for (int t = 0; t < f->n; t++) {
        aff one;
        aff_const(&one, 0);
        one.n = 1;
        one.atom[0] = f->atom[t];
        if (f->coef[t] % cb == 0) {
            one.coef[0] = f->coef[t] / cb;
            aff_axpy(&q, 1, &one);
        } else if (f->coef[t] > 0 && f->coef[t] < cb) {
            one.coef[0] = f->coef[t];
            aff_axpy(&r, 1, &one);
        } else {
            return;
        }
    }
    if (aff_max(L, &r) >= cb || aff_min(L, &r) < 0 || aff_min(L, &q) < 0)
        return;
    PI->pack_dim = bd;
    PI->pack_cb = cb;
    PI->pack_reader = reader;
    PI->pack_q = q;
    PI->pack_r = r;
}

int tt_lower(lowering *L, const tt_state *s, tt_arena *a, int ref_mode, tt_err *err)
{
    memset(L, 0, sizeof *L);
    L->s = s;
    L->a = a;
    L->err = err;
    L->ref_mode = ref_mode;
    L->info = tt_xcalloc((size_t)s->nstages, sizeof(stage_info));
    int nin = 0;
    for (int si = 0; si < s->nstages; si++) {
        const tt_stage *st = &s->stages[si];
        stage_info *I = &L->info[si];
        if (st->op.kind == TT_OP_PLACEHOLDER) {
            I->buf = LW_BUF_INPUT;
            I->arg = nin++;
            continue;
        }
        I->table = table_values(L, si);
        if (I->table) {
            I->buf = LW_BUF_TABLE;
            continue;
        }
        /* inlined bodies, in stage order so that producers come first */
        inl_ctx c = {L};
        I->body = tt_expr_rewrite(a, st->op.body, inline_fn, &c);
        I->cond = st->op.cond ? tt_expr_rewrite(a, st->op.cond, inline_fn, &c) : NULL;
        if (si == s->nstages - 1)
            I->buf = LW_BUF_OUTPUT;
        else if (st->at == TT_AT_INLINED)
            I->buf = LW_BUF_NONE;
        else if (st->at == TT_AT_ITER)
            I->buf = LW_BUF_LOCAL;
        else
            I->buf = LW_BUF_ROOT;
        if (st->at == TT_AT_ITER && si == s->nstages - 1)
            return tt_err_set(err, "the output stage cannot be computed at another stage");
    }
    L->nin = nin;
    /* regions: consumers before producers */
    for (int si = s->nstages - 1; si >= 0; si--) {
        const tt_stage *st = &s->stages[si];
        stage_info *I = &L->info[si];
        if (st->op.kind != TT_OP_COMPUTE || st->at == TT_AT_INLINED || I->buf == LW_BUF_TABLE)
            continue;
        int nroots = st->op.ndim + st->op.nreduce;
        if (st->at == TT_AT_ITER) {
            if (infer_region(L, si))
                return -1;
        } else {
            for (int r = 0; r < nroots; r++) {
                aff_const(&I->M[r], 0);
                I->R[r] = r < st->op.ndim ? st->op.axis[r].extent : st->op.raxis[r - st->op.ndim].extent;
            }
        }
        finish_stage(L, si);
    }
    for (int si = 0; si < s->nstages; si++)
        if (s->stages[si].op.kind == TT_OP_PLACEHOLDER)
            plan_packing(L, si);
    /* reading an attached stage from outside its scope is caught above; a
     * stage attached to an inlined one is refused by the CI step itself */
    return 0;
}

void tt_lower_free(lowering *L)
{
    free(L->info);
    L->info = NULL;
}

int tt_codegen_extents(const tt_state *s, int64_t (*ext)[TT_MAX_NODES], tt_err *err)
{
    lowering L;
    tt_arena *a = tt_arena_new();
    int rc = tt_lower(&L, s, a, 0, err);
    if (rc == 0)
        for (int si = 0; si < s->nstages; si++)
            memcpy(ext[si], L.info[si].ext, sizeof ext[si]);
    tt_lower_free(&L);
    tt_arena_free(a);
    return rc;
}

/* sum_i C * W_i * p_i over the parts p_i of a fused iterator (W_i the
 * product of the extents of the parts inside p_i) is C times the fused
 * iterator's own value: the parts are its digits.  A stage whose every axis
 * is fused into one loop indexes its buffers with that loop variable again,
 * instead of dividing it into digits and multiplying them back (TVM's
 * simplifier does the same; the divisions per element made a record's
 * separate epilogue pass over a 14x14x1024 output take a third of its
 * kernel's time). */
int lw_fold_fused(const lowering *L, aff *x)
{
    int changed = 0;
    for (int i = 0; x->ok && i < x->n; i++) {
        int si = x->atom[i] / TT_MAX_NODES, node = x->atom[i] % TT_MAX_NODES;
        const stage_info *I = &L->info[si];
        int r = I->fuse_rel[node];
        if (!I->is_atom[node] || r < 0)
            continue;
        const tt_stage *st = &L->s->stages[si];
        const tt_rel *rel = &st->rels[r];
        if (rel->kind != TT_REL_FUSE || !I->val_done[rel->other])
            continue;
        int64_t C = 0, W = 1;
        int ok = 1;
        for (int k = rel->n - 1; k >= 0 && ok; k--) {
            int64_t c = 0;
            for (int j = 0; j < x->n; j++)
                if (x->atom[j] == si * TT_MAX_NODES + rel->nodes[k])
                    c = x->coef[j];
            if (k == rel->n - 1)
                C = c;
            ok = c != 0 && c == C * W;
            W *= I->ext[rel->nodes[k]];
        }
        if (!ok)
            continue;
        for (int64_t k = rel->n - 1, w = 1; k >= 0; k--) {
            aff_add_term(x, si * TT_MAX_NODES + rel->nodes[k], -C * w);
            w *= I->ext[rel->nodes[k]];
        }
        aff_axpy(x, C, &I->val[rel->other]);
        changed = 1;
        i = -1; /* the terms moved: start again */
    }
    return changed;
}
