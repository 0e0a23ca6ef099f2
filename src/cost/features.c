/* features.c - per-store features of a scheduled state (see cost.h).
 *
 * The state is lowered (bound inference, inlined bodies, affine index forms:
 * src/codegen/lower.h) and every compute stage that is not inlined becomes
 * one store statement inside its loop nest: the loops of the stages it is
 * attached in, up to the attach iterator, then its own iterators.  For the
 * matmul C[i, j] += A[i, k] * B[k, j] tiled as
 *
 *   parallel i.0 (8)            <- stack level 0
 *     for k (64)                <- level 1
 *       vectorize j.1 (16)      <- level 2
 *         C[i.0, j.1] = C[i.0, j.1] + A[i.0, k] * B[k, j.1]
 *
 * the row has float_addsub = float_mul = 8 * 64 * 16 (one add, one mul per
 * iteration), parallel_len 8, vec_len 16, and for B: stride 1 (j.1 is the
 * innermost loop and B's last index), reuse LoopMultipleRead over i.0 ...
 *
 * Everything TVM derives with its arithmetic analyzer we derive from affine
 * forms over "atoms" (leaf loop variables, and the parts of fused loops,
 * which vary with the loops of the fused variable).  The part of a loop nest
 * inside level l is "free" (atoms at levels >= l range over their extents),
 * the part outside is fixed at 0, as TVM binds outer loops to their minimum.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../codegen/lower.h"
#include "cost.h"

#define MAX_LOOPS 256
#define ELEM_BYTES 4 /* every tensor is float32 */

const char *const tt_annpos_names[TT_ANNPOS_COUNT] = {
    "none",         "inner_spatial", "middle_spatial", "outer_spatial",
    "inner_reduce", "middle_reduce", "outer_reduce",   "mixed",
};
_Static_assert(sizeof tt_annpos_names / sizeof tt_annpos_names[0] == TT_ANNPOS_COUNT,
               "tt_annpos_names");

const char *const tt_buffeat_names[TT_BF_COUNT] = {
    "acc_read",       "acc_write",         "acc_readwrite",      "bytes",
    "unique_bytes",   "lines",             "unique_lines",       "reuse_loop",
    "reuse_serial",   "reuse_none",        "reuse_dis_iter",     "reuse_dis_bytes",
    "reuse_ct",       "bytes_d_reuse_ct",  "unique_bytes_d_reuse_ct", "lines_d_reuse_ct",
    "unique_lines_d_reuse_ct", "stride",
};
_Static_assert(sizeof tt_buffeat_names / sizeof tt_buffeat_names[0] == TT_BF_COUNT,
               "tt_buffeat_names");
_Static_assert(TT_FEAT_COUNT == 11 + 3 * (3 + TT_ANNPOS_COUNT) + TT_COST_MAX_BUFS * TT_BF_COUNT +
                                    TT_COST_AI_SAMPLES + 4 + 3,
               "feature layout");

/* names of the single columns, indexed by tt_feat where they exist */
static const struct {
    int col;
    const char *name;
} scalar_names[] = {
    {TT_FEAT_FLOAT_ADDSUB, "float_addsub"},
    {TT_FEAT_FLOAT_MUL, "float_mul"},
    {TT_FEAT_FLOAT_DIVMOD, "float_divmod"},
    {TT_FEAT_FLOAT_CMP, "float_cmp"},
    {TT_FEAT_FLOAT_MATH, "float_math_func"},
    {TT_FEAT_INT_ADDSUB, "int_addsub"},
    {TT_FEAT_INT_MUL, "int_mul"},
    {TT_FEAT_INT_DIVMOD, "int_divmod"},
    {TT_FEAT_INT_CMP, "int_cmp"},
    {TT_FEAT_BOOL_OP, "bool_op"},
    {TT_FEAT_SELECT_OP, "select_op"},
    {TT_FEAT_VEC_NUM, "vec_num"},
    {TT_FEAT_VEC_PROD, "vec_prod"},
    {TT_FEAT_VEC_LEN, "vec_len"},
    {TT_FEAT_UNROLL_NUM, "unroll_num"},
    {TT_FEAT_UNROLL_PROD, "unroll_prod"},
    {TT_FEAT_UNROLL_LEN, "unroll_len"},
    {TT_FEAT_PARALLEL_NUM, "parallel_num"},
    {TT_FEAT_PARALLEL_PROD, "parallel_prod"},
    {TT_FEAT_PARALLEL_LEN, "parallel_len"},
    {TT_FEAT_ALLOC_SIZE, "alloc_size"},
    {TT_FEAT_ALLOC_PROD, "alloc_prod"},
    {TT_FEAT_ALLOC_OUTER_PROD, "alloc_outer_prod"},
    {TT_FEAT_ALLOC_INNER_PROD, "alloc_inner_prod"},
    {TT_FEAT_OUTER_PROD, "outer_prod"},
    {TT_FEAT_NUM_LOOPS, "num_loops"},
    {TT_FEAT_AUTO_UNROLL, "auto_unroll_max_step"},
};

const char *tt_feature_name(int col, char *out, size_t n)
{
    static const struct {
        int col;
        const char *prefix;
    } pos[3] = {{TT_FEAT_VEC_POS, "vec_pos"},
                {TT_FEAT_UNROLL_POS, "unroll_pos"},
                {TT_FEAT_PARALLEL_POS, "parallel_pos"}};
    snprintf(out, n, "?");
    for (size_t i = 0; i < sizeof scalar_names / sizeof scalar_names[0]; i++)
        if (scalar_names[i].col == col)
            snprintf(out, n, "%s", scalar_names[i].name);
    for (int i = 0; i < 3; i++)
        if (col >= pos[i].col && col < pos[i].col + TT_ANNPOS_COUNT)
            snprintf(out, n, "%s.%s", pos[i].prefix, tt_annpos_names[col - pos[i].col]);
    if (col >= TT_FEAT_BUFS && col < TT_FEAT_AI)
        snprintf(out, n, "B%d.%s", (col - TT_FEAT_BUFS) / TT_BF_COUNT,
                 tt_buffeat_names[(col - TT_FEAT_BUFS) % TT_BF_COUNT]);
    if (col >= TT_FEAT_AI && col < TT_FEAT_AI + TT_COST_AI_SAMPLES)
        snprintf(out, n, "ai_curve_%d", col - TT_FEAT_AI);
    return out;
}

/* Is column col a one-hot (not log-scaled)? */
static int is_onehot(int col)
{
    if ((col >= TT_FEAT_VEC_POS && col < TT_FEAT_VEC_POS + TT_ANNPOS_COUNT) ||
        (col >= TT_FEAT_UNROLL_POS && col < TT_FEAT_UNROLL_POS + TT_ANNPOS_COUNT) ||
        (col >= TT_FEAT_PARALLEL_POS && col < TT_FEAT_PARALLEL_POS + TT_ANNPOS_COUNT))
        return 1;
    if (col >= TT_FEAT_BUFS && col < TT_FEAT_AI) {
        int f = (col - TT_FEAT_BUFS) % TT_BF_COUNT;
        return f <= TT_BF_ACC_READWRITE || (f >= TT_BF_REUSE_LOOP && f <= TT_BF_REUSE_NONE);
    }
    return 0;
}

static double slog(double x) { return x < 0 ? -log2(-x + 1) : log2(x + 1); }

/* ---- extraction context -------------------------------------------------------- */

typedef struct loop {
    int stage, iter, node;
    int64_t ext;
    tt_ann ann;
    int64_t unroll; /* auto_unroll_max_step pragma on this loop (0 = none) */
} loop;

/* One index of one access: an affine form, or (not affine) the atoms it
 * depends on; all = depends on everything (the form overflowed). */
typedef struct form {
    aff f;
    aff dep;
    int affine;
    int all;
} form;

typedef enum acc_type { ACC_READ = 0, ACC_WRITE, ACC_READWRITE } acc_type;

typedef struct bufacc {
    int uid;
    acc_type type;
    int ndim;
    int64_t shape[TT_MAX_DIMS];
    int nacc, cap;
    form *forms; /* nacc * ndim */
    /* results */
    double bytes, lines;
    float col[TT_BF_COUNT];
} bufacc;

/* A region touched inside one loop by one store: TVM's for_touch_regions. */
typedef struct touch {
    int stage, iter; /* the loop */
    int buf;         /* buffer uid */
    int64_t elems;
} touch;

typedef struct ctx {
    lowering L;
    const tt_state *s;
    int nloops;
    loop lp[MAX_LOOPS];
    int *pos; /* [stage * TT_MAX_NODES + node]: stack level of a leaf, or -1 */
    int ntouch, touch_cap;
    touch *touches;
    int nbufs, buf_cap;
    bufacc *bufs;
    tt_err *err;
} ctx;

/* ---- atoms --------------------------------------------------------------------- */

static int atom_level(const ctx *c, int atom) { return c->pos[atom]; }

/* The FUSE relation consuming atom (a part of a fused loop), or NULL. */
static const tt_rel *part_rel(const ctx *c, int atom, int *index)
{
    int si = atom / TT_MAX_NODES, node = atom % TT_MAX_NODES;
    int r = c->L.info[si].fuse_rel[node];
    if (r < 0)
        return NULL;
    const tt_rel *rel = &c->s->stages[si].rels[r];
    for (int i = 0; i < rel->n; i++)
        if (rel->nodes[i] == node)
            *index = i;
    return rel;
}

/* A fused part p_i = (f / stride_i) % e_i of the fused value f. */
static int64_t part_stride(const ctx *c, int si, const tt_rel *rel, int index)
{
    int64_t st = 1;
    for (int j = index + 1; j < rel->n; j++)
        st *= c->L.info[si].ext[rel->nodes[j]];
    return st;
}

static int64_t form_span_aff(const ctx *c, const aff *f, int level);

/* Largest change of atom's value while the loops at levels >= level run. */
static int64_t atom_span(const ctx *c, int atom, int level)
{
    int si = atom / TT_MAX_NODES, node = atom % TT_MAX_NODES;
    int64_t e = c->L.info[si].ext[node];
    int index = 0;
    const tt_rel *rel = part_rel(c, atom, &index);
    if (!rel) {
        int p = atom_level(c, atom);
        return p >= level ? e - 1 : 0;
    }
    int64_t span = form_span_aff(c, &c->L.info[si].val[rel->other], level);
    int64_t q = span / part_stride(c, si, rel, index);
    return q < e - 1 ? q : e - 1;
}

static int64_t form_span_aff(const ctx *c, const aff *f, int level)
{
    int64_t s = 0;
    for (int i = 0; i < f->n; i++)
        s += llabs(f->coef[i]) * atom_span(c, f->atom[i], level);
    return s;
}

static int64_t aff_rate(const ctx *c, const aff *f, int p);

/* How much atom changes per iteration of the loop at level p (0: not at all). */
static int64_t atom_rate(const ctx *c, int atom, int p)
{
    int index = 0;
    const tt_rel *rel = part_rel(c, atom, &index);
    if (!rel)
        return atom_level(c, atom) == p ? 1 : 0;
    int si = atom / TT_MAX_NODES;
    int64_t r = aff_rate(c, &c->L.info[si].val[rel->other], p);
    if (r == 0)
        return 0;
    /* the part moves by r / stride per step, at least 1 when it moves at all */
    int64_t q = r / part_stride(c, si, rel, index);
    return q > 1 ? q : 1;
}

/* Coefficient of loop p in f: the smallest nonzero change over its atoms
 * (for a fused loop, the fastest-varying part). */
static int64_t aff_rate(const ctx *c, const aff *f, int p)
{
    int64_t best = 0;
    for (int i = 0; i < f->n; i++) {
        int64_t r = atom_rate(c, f->atom[i], p);
        if (r == 0)
            continue;
        int64_t v = llabs(f->coef[i]) * r;
        if (best == 0 || v < best)
            best = v;
    }
    return best;
}

static int form_depends(const ctx *c, const form *fm, int p)
{
    if (fm->all)
        return 1;
    return aff_rate(c, fm->affine ? &fm->f : &fm->dep, p) != 0;
}

/* TVM's CoefficientExtractor: the coefficient of loop p in an index (the
 * magic 2 where the index is not affine). */
static int64_t form_coef(const ctx *c, const form *fm, int p)
{
    if (!fm->affine)
        return form_depends(c, fm, p) ? 2 : 0;
    return aff_rate(c, &fm->f, p);
}

/* Range [lo, hi] of an index while loops at levels >= level run and the
 * outer ones are fixed at 0. */
static void form_range(const ctx *c, const form *fm, int level, int64_t shape, int64_t *lo,
                       int64_t *hi)
{
    if (!fm->affine) {
        int free = fm->all || form_span_aff(c, &fm->dep, level) > 0;
        *lo = 0;
        *hi = free ? shape - 1 : 0;
        return;
    }
    *lo = *hi = fm->f.c;
    for (int i = 0; i < fm->f.n; i++) {
        int64_t v = fm->f.coef[i] * atom_span(c, fm->f.atom[i], level);
        if (v < 0)
            *lo += v;
        else
            *hi += v;
    }
}

/* ---- expressions ------------------------------------------------------------------ */

/* Atoms an index expression of stage si depends on (through its roots). */
static void collect_dep(const ctx *c, int si, const tt_expr *e, aff *dep, int *all)
{
    if (e->kind == TT_E_AXIS || e->kind == TT_E_RAXIS) {
        int r = e->kind == TT_E_AXIS ? e->u.axis : c->s->stages[si].op.ndim + e->u.axis;
        const aff *f = &c->L.info[si].root[r];
        if (!f->ok) {
            *all = 1;
            return;
        }
        for (int i = 0; i < f->n; i++) {
            int present = 0;
            for (int j = 0; j < dep->n; j++)
                present |= dep->atom[j] == f->atom[i];
            if (!present && dep->n < AFF_MAX) {
                dep->atom[dep->n] = f->atom[i];
                dep->coef[dep->n++] = 1;
            } else if (!present) {
                *all = 1;
            }
        }
        return;
    }
    for (int i = 0; i < e->n; i++)
        collect_dep(c, si, e->args[i], dep, all);
}

static void make_form(ctx *c, int si, const tt_expr *e, form *fm)
{
    memset(fm, 0, sizeof *fm);
    lw_index_form(&c->L, si, e, &fm->f);
    fm->affine = fm->f.ok;
    if (!fm->affine) {
        aff_const(&fm->dep, 0);
        collect_dep(c, si, e, &fm->dep, &fm->all);
    }
}

typedef struct opcount {
    double v[TT_FEAT_SELECT_OP + 1];
} opcount;

/* Integer ops TVM sees where a root axis is replaced by its loop variables:
 * i = i.0 * 16 + i.1 is one mul and one add. */
static void count_root(const ctx *c, const aff *f, opcount *oc)
{
    if (!f->ok)
        return;
    int terms = 0;
    for (int i = 0; i < f->n; i++) {
        int a = f->atom[i];
        if (c->L.info[a / TT_MAX_NODES].ext[a % TT_MAX_NODES] <= 1)
            continue; /* a variable of extent 1 is 0: the term is simplified away */
        terms++;
        if (llabs(f->coef[i]) != 1)
            oc->v[TT_FEAT_INT_MUL]++;
    }
    if (terms > 0)
        oc->v[TT_FEAT_INT_ADDSUB] += terms - 1 + (f->c != 0);
}

/* TVM's MathOpCounter on the stored value. */
static void count_ops(const ctx *c, int si, const tt_expr *e, opcount *oc)
{
    int fl = e->n > 0 && e->args[0]->type == TT_T_FLOAT;
    switch (e->kind) {
    case TT_E_AXIS:
        count_root(c, &c->L.info[si].root[e->u.axis], oc);
        return;
    case TT_E_RAXIS:
        count_root(c, &c->L.info[si].root[c->s->stages[si].op.ndim + e->u.axis], oc);
        return;
    case TT_E_ADD:
    case TT_E_SUB:
        oc->v[fl ? TT_FEAT_FLOAT_ADDSUB : TT_FEAT_INT_ADDSUB]++;
        break;
    case TT_E_MUL:
        oc->v[fl ? TT_FEAT_FLOAT_MUL : TT_FEAT_INT_MUL]++;
        break;
    case TT_E_DIV:
    case TT_E_FLOORDIV:
    case TT_E_FLOORMOD:
        oc->v[fl ? TT_FEAT_FLOAT_DIVMOD : TT_FEAT_INT_DIVMOD]++;
        break;
    case TT_E_MIN:
    case TT_E_MAX:
    case TT_E_LT:
    case TT_E_LE:
    case TT_E_GT:
    case TT_E_GE:
    case TT_E_EQ:
    case TT_E_NE:
        oc->v[fl ? TT_FEAT_FLOAT_CMP : TT_FEAT_INT_CMP]++;
        break;
    case TT_E_AND:
    case TT_E_OR:
    case TT_E_NOT:
        oc->v[TT_FEAT_BOOL_OP]++;
        break;
    case TT_E_SELECT:
        oc->v[TT_FEAT_SELECT_OP]++;
        break;
    case TT_E_CALL:
        oc->v[TT_FEAT_FLOAT_MATH]++;
        break;
    default:
        break;
    }
    for (int i = 0; i < e->n; i++)
        count_ops(c, si, e->args[i], oc);
}

/* ---- buffers ------------------------------------------------------------------------- */

static bufacc *buf_get(ctx *c, int uid, acc_type type)
{
    for (int i = 0; i < c->nbufs; i++)
        if (c->bufs[i].uid == uid)
            return &c->bufs[i];
    if (c->nbufs == c->buf_cap) {
        c->buf_cap = c->buf_cap ? 2 * c->buf_cap : 8;
        c->bufs = tt_xrealloc(c->bufs, (size_t)c->buf_cap * sizeof *c->bufs);
    }
    bufacc *b = &c->bufs[c->nbufs++];
    memset(b, 0, sizeof *b);
    b->uid = uid;
    b->type = type;
    const tt_op *op = &c->s->stages[tt_state_stage_of_uid(c->s, uid)].op;
    b->ndim = op->ndim;
    for (int d = 0; d < op->ndim; d++)
        b->shape[d] = op->axis[d].extent;
    return b;
}

static form *buf_new_access(bufacc *b)
{
    if (b->nacc == b->cap) {
        b->cap = b->cap ? 2 * b->cap : 4;
        b->forms = tt_xrealloc(b->forms, (size_t)b->cap * (size_t)(b->ndim ? b->ndim : 1) *
                                             sizeof(form));
    }
    return &b->forms[(size_t)b->nacc++ * (size_t)b->ndim];
}

/* TVM's BufferAccessExtractor: reads of the value; a buffer also written
 * becomes read-write and keeps only the write's indices. */
static void collect_reads(ctx *c, int si, const tt_expr *e)
{
    if (e->kind == TT_E_LOAD) {
        bufacc *b = buf_get(c, e->u.uid, ACC_READ);
        if (b->type == ACC_WRITE)
            b->type = ACC_READWRITE;
        if (b->type != ACC_READWRITE) {
            form *f = buf_new_access(b);
            for (int d = 0; d < b->ndim && d < e->n; d++)
                make_form(c, si, e->args[d], &f[d]);
        }
        return;
    }
    for (int i = 0; i < e->n; i++)
        collect_reads(c, si, e->args[i]);
}

/* Elements of b touched while the loops at levels >= level run; region[d]
 * gets the extent per dimension. */
static int64_t buf_region(const ctx *c, const bufacc *b, int level, int64_t *region)
{
    int64_t n = 1;
    for (int d = 0; d < b->ndim; d++) {
        int64_t lo = INT64_MAX, hi = INT64_MIN;
        for (int a = 0; a < b->nacc; a++) {
            int64_t l, h;
            form_range(c, &b->forms[(size_t)a * (size_t)b->ndim + (size_t)d], level, b->shape[d],
                       &l, &h);
            lo = l < lo ? l : lo;
            hi = h > hi ? h : hi;
        }
        region[d] = b->nacc ? hi - lo + 1 : 0;
        n *= region[d];
    }
    return n > 0 ? n : 0;
}

static void add_touch(ctx *c, int level, int buf, int64_t elems)
{
    if (c->ntouch == c->touch_cap) {
        c->touch_cap = c->touch_cap ? 2 * c->touch_cap : 64;
        c->touches = tt_xrealloc(c->touches, (size_t)c->touch_cap * sizeof *c->touches);
    }
    c->touches[c->ntouch++] = (touch){c->lp[level].stage, c->lp[level].iter, buf, elems};
}

static int touch_is(const touch *t, const loop *l) { return t->stage == l->stage && t->iter == l->iter; }

/* TVM's ComputeStride for the loop at level p (0 if no index uses it). */
static int64_t buf_stride(const ctx *c, const bufacc *b, int p)
{
    if (b->ndim == 0)
        return 1;
    int64_t best = INT64_MAX;
    int found = 0;
    for (int a = 0; a < b->nacc; a++) {
        int64_t shape_stride = 1;
        for (int d = b->ndim - 1; d >= 0; d--) {
            const form *fm = &b->forms[(size_t)a * (size_t)b->ndim + (size_t)d];
            if (form_depends(c, fm, p)) {
                int64_t v = form_coef(c, fm, p) * shape_stride;
                best = v < best ? v : best;
                found = 1;
                break;
            }
            shape_stride *= b->shape[d];
        }
    }
    return found ? best : 0;
}

static int buf_uses_loop(const ctx *c, const bufacc *b, int p)
{
    for (int a = 0; a < b->nacc; a++)
        for (int d = 0; d < b->ndim; d++)
            if (form_depends(c, &b->forms[(size_t)a * (size_t)b->ndim + (size_t)d], p))
                return 1;
    return 0;
}

/* TVM's ComputeReuse. */
static void buf_reuse(const ctx *c, const bufacc *b, int *type, double *dis_iter,
                      double *dis_bytes, double *ct)
{
    double di = 1, db = -1;
    for (int i = c->nloops - 1; i >= 0; i--) {
        const loop *l = &c->lp[i];
        if (buf_uses_loop(c, b, i)) {
            di *= (double)l->ext;
            db = 0;
            for (int t = 0; t < c->ntouch; t++)
                if (touch_is(&c->touches[t], l))
                    db += (double)c->touches[t].elems * ELEM_BYTES;
        } else {
            if (db < 0) {
                /* reuse at the innermost loop: one element of each access */
                db = 0;
                for (int t = 0; t < c->ntouch; t++)
                    if (touch_is(&c->touches[t], l))
                        db += ELEM_BYTES;
            }
            *type = TT_BF_REUSE_LOOP;
            *dis_iter = di;
            *dis_bytes = db;
            *ct = (double)l->ext;
            return;
        }
        int serial = -1;
        double mn = INFINITY, sum = 0;
        for (int t = 0; t < c->ntouch; t++) {
            const touch *x = &c->touches[t];
            if (!touch_is(x, l))
                continue;
            sum += (double)x->elems * ELEM_BYTES;
            if (x->buf == b->uid) {
                serial++;
                mn = (double)x->elems < mn ? (double)x->elems : mn;
            }
        }
        if (serial > 0) {
            *type = TT_BF_REUSE_SERIAL;
            *dis_iter = mn / (double)l->ext;
            *dis_bytes = sum / (double)l->ext;
            *ct = serial;
            return;
        }
    }
    *type = TT_BF_REUSE_NONE;
    *dis_iter = *dis_bytes = *ct = 0;
}

/* ---- one store ------------------------------------------------------------------------ */

/* Push the loops enclosing stage si's iterators 0..upto (its attach chain first). */
static int push_loops(ctx *c, int si, int upto)
{
    const tt_stage *st = &c->s->stages[si];
    if (st->at == TT_AT_ITER) {
        int C = tt_state_stage_of_uid(c->s, st->at_uid);
        int k = C < 0 ? -1 : tt_stage_iter_of_node(&c->s->stages[C], st->at_node);
        if (k < 0)
            return tt_err_set(c->err, "features: stage %s is attached to a missing loop",
                              st->op.name);
        if (push_loops(c, C, k))
            return -1;
    }
    for (int i = 0; i <= upto; i++) {
        int node = st->iters[i].node;
        /* TVM makes no loop of extent 1 (its variable is bound to 0), so
         * such a loop counts nowhere, not even with an annotation */
        if (c->L.info[si].ext[node] <= 1)
            continue;
        if (c->nloops >= MAX_LOOPS)
            return tt_err_set(c->err, "features: more than %d nested loops", MAX_LOOPS);
        loop *l = &c->lp[c->nloops++];
        l->stage = si;
        l->iter = i;
        l->node = node;
        l->ext = c->L.info[si].ext[node];
        l->ann = st->iters[i].ann;
        l->unroll = st->unroll_node == node ? st->auto_unroll_max_step : 0;
        c->pos[si * TT_MAX_NODES + node] = c->nloops - 1;
    }
    return 0;
}

/* TVM's GetAnnotationPosEncoding for the loop at level p of stage si's store. */
static tt_annpos ann_pos(const ctx *c, int si, int p)
{
    const tt_op *op = &c->s->stages[si].op;
    const stage_info *I = &c->L.info[si];
    int find = 0, ct = 0;
    for (int d = 0; d < op->ndim; d++) {
        form fm = {.f = I->root[d], .affine = I->root[d].ok, .all = !I->root[d].ok};
        if (form_depends(c, &fm, p)) {
            find = d;
            ct++;
        }
    }
    if (ct == 0) {
        for (int j = 0; j < op->nreduce; j++) {
            const aff *f = &I->root[op->ndim + j];
            form fm = {.f = *f, .affine = f->ok, .all = !f->ok};
            if (form_depends(c, &fm, p)) {
                find = j;
                ct++;
            }
        }
        if (ct == 0)
            return TT_ANNPOS_OUTER_SPATIAL; /* simplified out: an outer loop of an attach chain */
        if (find == 0)
            return TT_ANNPOS_INNER_REDUCE;
        return find == op->nreduce - 1 ? TT_ANNPOS_OUTER_REDUCE : TT_ANNPOS_MIDDLE_REDUCE;
    }
    if (ct > 1)
        return TT_ANNPOS_MIXED;
    if (find == op->ndim - 1)
        return TT_ANNPOS_INNER_SPATIAL;
    return find == 0 ? TT_ANNPOS_OUTER_SPATIAL : TT_ANNPOS_MIDDLE_SPATIAL;
}

static void ann_features(const ctx *c, int si, tt_ann ann, int col_num, int col_pos, float *row)
{
    int num = 0, inner = -1;
    double prod = 1;
    for (int i = 0; i < c->nloops; i++)
        if (c->lp[i].ann == ann) {
            num++;
            prod *= (double)c->lp[i].ext;
            inner = i;
        }
    row[col_num] = (float)num;
    row[col_num + 1] = num ? (float)prod : 0;
    row[col_num + 2] = num ? (float)c->lp[inner].ext : 0;
    row[col_pos + (num ? ann_pos(c, si, inner) : TT_ANNPOS_NONE)] = 1;
}

static void free_bufs(ctx *c)
{
    for (int i = 0; i < c->nbufs; i++)
        free(c->bufs[i].forms);
    c->nbufs = 0;
}

/* Group 1 of stage si's store: the ops of the stored value, each counted
 * outer (the product of the enclosing loops' extents) times, into oc and
 * row (a reduction's update reads the output too: C[i, j] = C[i, j] +
 * body); then the vectorize / unroll / parallel annotations of c->lp. */
static void op_features(ctx *c, int si, double outer, opcount *oc, float *row)
{
    const stage_info *I = &c->L.info[si];
    const tt_op *op = &c->s->stages[si].op;
    memset(oc, 0, sizeof *oc);
    count_ops(c, si, I->body, oc);
    if (op->red != TT_RED_NONE) {
        oc->v[op->red == TT_RED_SUM ? TT_FEAT_FLOAT_ADDSUB : TT_FEAT_FLOAT_CMP]++;
        for (int d = 0; d < op->ndim; d++)
            count_root(c, &I->root[d], oc);
    }
    for (int k = 0; k <= TT_FEAT_SELECT_OP; k++)
        row[k] = (float)(oc->v[k] * outer);
    ann_features(c, si, TT_ANN_VECTORIZE, TT_FEAT_VEC_NUM, TT_FEAT_VEC_POS, row);
    ann_features(c, si, TT_ANN_UNROLL, TT_FEAT_UNROLL_NUM, TT_FEAT_UNROLL_POS, row);
    ann_features(c, si, TT_ANN_PARALLEL, TT_FEAT_PARALLEL_NUM, TT_FEAT_PARALLEL_POS, row);
}

/* The buffers stage si's store (in n loops) touches, into c->bufs: the
 * write first, then the reads of the value; and a reduction's init store's
 * touches of its output, into c->touches before any other. */
static void collect_accesses(ctx *c, int si, int n)
{
    const tt_stage *st = &c->s->stages[si];
    const stage_info *I = &c->L.info[si];
    const tt_op *op = &st->op;
    free_bufs(c);
    bufacc *w = buf_get(c, op->uid, op->red != TT_RED_NONE ? ACC_READWRITE : ACC_WRITE);
    form *wf = buf_new_access(w);
    for (int d = 0; d < op->ndim; d++) {
        memset(&wf[d], 0, sizeof wf[d]);
        wf[d].f = I->root[d];
        wf[d].affine = I->root[d].ok;
        wf[d].all = !I->root[d].ok;
    }
    collect_reads(c, si, I->body);

    /* a reduction's init store C[...] = 0 sits in the loops outside its
     * first reduce loop, before the update: it touches C there too */
    int64_t region[TT_MAX_DIMS];
    if (op->red != TT_RED_NONE) {
        int first_red = n;
        for (int i = 0; i < n; i++)
            if (c->lp[i].stage == si &&
                st->nodes[c->lp[i].node].kind != TT_ITER_SPATIAL) {
                first_red = i;
                break;
            }
        for (int i = first_red - 1; i >= 0; i--)
            add_touch(c, i, op->uid, buf_region(c, w, i, region));
    }
}

/* Every buffer's region at each of the n loop levels, innermost first
 * (TVM's for_touch_regions), added to c->touches; and the arithmetic-
 * intensity curve: ops_list[k] / mem_list[k] are the ops (cur_ops per
 * innermost iteration) and bytes touched inside the k+1 innermost loops. */
static void level_regions(ctx *c, int n, double cur_ops, double *ops_list, double *mem_list)
{
    int64_t region[TT_MAX_DIMS];
    double ops = cur_ops;
    for (int i = n - 1, k = 0; i >= 0; i--, k++) {
        double mem = 0;
        for (int b = 0; b < c->nbufs; b++) {
            int64_t e = buf_region(c, &c->bufs[b], i, region);
            add_touch(c, i, c->bufs[b].uid, e);
            mem += (double)e * ELEM_BYTES;
        }
        mem_list[k] = mem;
        ops *= (double)c->lp[i].ext;
        ops_list[k] = ops;
    }
}

/* Group 2 for buffer B of a store in n loops (outer iterations): bytes,
 * unique bytes, cache lines, reuse and stride into B->col, and B->bytes /
 * B->lines for the ranking.  Needs every touch of the store in c->touches. */
static void buf_features(ctx *c, bufacc *B, int n, double outer)
{
    int64_t region[TT_MAX_DIMS];
    double bytes = outer * ELEM_BYTES, ubytes, lines, ulines;
    int64_t stride = 0;
    if (n == 0) {
        ubytes = ELEM_BYTES;
        lines = ulines = 1;
    } else {
        ubytes = 0;
        for (int t = 0; t < c->ntouch; t++)
            if (touch_is(&c->touches[t], &c->lp[0]) && c->touches[t].buf == B->uid) {
                ubytes = (double)c->touches[t].elems * ELEM_BYTES;
                break;
            }
        double reduce_ratio = 1;
        int i;
        for (i = n - 1; i >= 0; i--) {
            stride = buf_stride(c, B, i);
            if (stride != 0)
                break;
            reduce_ratio *= (double)c->lp[i].ext;
        }
        double frac = (double)stride * ELEM_BYTES / TT_COST_CACHE_LINE;
        lines = outer / reduce_ratio * (frac < 1 ? frac : 1);
        lines = lines > 1 ? lines : 1;
        if (i != n - 1)
            stride = 0;
        buf_region(c, B, 0, region);
        double ncont = ELEM_BYTES;
        for (int d = B->ndim - 1; d >= 0; d--)
            if (region[d] == B->shape[d]) {
                ncont *= (double)region[d];
                break;
            }
        ulines = ubytes / (ncont < TT_COST_CACHE_LINE ? ncont : TT_COST_CACHE_LINE);
        ulines = ulines > 1 ? ulines : 1;
    }
    int rtype;
    double dis_iter, dis_bytes, ct;
    buf_reuse(c, B, &rtype, &dis_iter, &dis_bytes, &ct);
    float *f = B->col;
    memset(f, 0, sizeof B->col);
    f[TT_BF_ACC_READ + B->type] = 1;
    f[TT_BF_BYTES] = (float)bytes;
    f[TT_BF_UNIQUE_BYTES] = (float)ubytes;
    f[TT_BF_LINES] = (float)lines;
    f[TT_BF_UNIQUE_LINES] = (float)ulines;
    f[rtype] = 1;
    f[TT_BF_REUSE_DIS_ITER] = (float)dis_iter;
    f[TT_BF_REUSE_DIS_BYTES] = (float)dis_bytes;
    f[TT_BF_REUSE_CT] = (float)ct;
    double div = ct > 0.5 ? ct : 0.5; /* no reuse: TVM's magic factor 2 */
    f[TT_BF_BYTES_D_REUSE] = (float)(bytes / div);
    f[TT_BF_UNIQUE_BYTES_D_REUSE] = (float)(ubytes / div);
    f[TT_BF_LINES_D_REUSE] = (float)(lines / div);
    f[TT_BF_UNIQUE_LINES_D_REUSE] = (float)(ulines / div);
    f[TT_BF_STRIDE] = (float)stride;
    B->bytes = bytes;
    B->lines = lines;
}

/* Copy the columns of the TT_COST_MAX_BUFS buffers with the most (lines,
 * bytes) into row, in that order; ties keep c->bufs' order. */
static void top_bufs(const ctx *c, float *row)
{
    int order[64], norder = 0;
    for (int b = 0; b < c->nbufs && norder < 64; b++) {
        int j = norder++;
        while (j > 0) {
            const bufacc *x = &c->bufs[order[j - 1]], *y = &c->bufs[b];
            if (x->lines > y->lines || (x->lines == y->lines && x->bytes >= y->bytes))
                break;
            order[j] = order[j - 1];
            j--;
        }
        order[j] = b;
    }
    for (int k = 0; k < norder && k < TT_COST_MAX_BUFS; k++)
        memcpy(&row[TT_FEAT_BUFS + k * TT_BF_COUNT], c->bufs[order[k]].col,
               sizeof c->bufs[0].col);
}

/* Group 3: the arithmetic intensity (ops / bytes, from level_regions' n
 * levels) at 10 evenly spaced amounts of compute, linearly interpolated;
 * left 0 for a store without ops or loops. */
static void ai_features(int n, double cur_ops, const double *ops_list, const double *mem_list,
                        float *row)
{
    if (cur_ops > 0 && n > 0) {
        int pt = 0;
        for (int k = 0; k < TT_COST_AI_SAMPLES; k++) {
            double want = ops_list[n - 1] * (k + 1) / TT_COST_AI_SAMPLES;
            while (pt < n - 1 && ops_list[pt] < want - 1e-4)
                pt++;
            double v;
            if (pt == 0) {
                v = ops_list[0] / mem_list[0];
            } else {
                double base = ops_list[pt - 1] / mem_list[pt - 1];
                double slope = (ops_list[pt] / mem_list[pt] - base) /
                               (ops_list[pt] - ops_list[pt - 1]);
                v = base + slope * (want - ops_list[pt - 1]);
            }
            row[TT_FEAT_AI + k] = (float)v;
        }
    }
}

/* Group 4: stage si's buffer allocation (none for the last stage: the
 * output is a function argument); an attached stage allocates its region
 * inside the loops of the stages it is attached to. */
static void alloc_features(const ctx *c, int si, int n, double outer, float *row)
{
    const tt_stage *st = &c->s->stages[si];
    const stage_info *I = &c->L.info[si];
    const tt_op *op = &st->op;
    if (si != c->s->nstages - 1) {
        double size = 1, aouter = 1;
        if (st->at == TT_AT_ITER) {
            for (int d = 0; d < op->ndim; d++)
                size *= (double)I->R[d];
            for (int i = 0; i < n && c->lp[i].stage != si; i++)
                aouter *= (double)c->lp[i].ext;
        } else {
            size = (double)tt_op_numel(op);
        }
        row[TT_FEAT_ALLOC_SIZE] = (float)(size * ELEM_BYTES);
        row[TT_FEAT_ALLOC_PROD] = (float)(size * aouter);
        row[TT_FEAT_ALLOC_OUTER_PROD] = (float)aouter;
        row[TT_FEAT_ALLOC_INNER_PROD] = (float)(outer / aouter);
    }
}

/* The feature row of stage si's store: its loops (attach chain first) into
 * c->lp, then groups 1-5 in TVM's order.  0, or -1 with c->err set when the
 * loops cannot be pushed. */
static int store_features(ctx *c, int si, float *row)
{
    const tt_stage *st = &c->s->stages[si];
    for (int i = 0; i < c->nloops; i++)
        c->pos[c->lp[i].stage * TT_MAX_NODES + c->lp[i].node] = -1;
    c->nloops = 0;
    if (push_loops(c, si, st->niters - 1))
        return -1;
    int n = c->nloops;
    double outer = 1;
    for (int i = 0; i < n; i++)
        outer *= (double)c->lp[i].ext;

    opcount oc;
    op_features(c, si, outer, &oc, row);
    collect_accesses(c, si, n);

    /* regions per loop level, innermost first (TVM's for_touch_regions and
     * the arithmetic-intensity curve) */
    double cur_ops = oc.v[TT_FEAT_FLOAT_ADDSUB] + oc.v[TT_FEAT_FLOAT_MUL] +
                     oc.v[TT_FEAT_FLOAT_DIVMOD] + oc.v[TT_FEAT_FLOAT_CMP] +
                     oc.v[TT_FEAT_FLOAT_MATH];
    double *ops_list = tt_xcalloc((size_t)n + 1, sizeof(double));
    double *mem_list = tt_xcalloc((size_t)n + 1, sizeof(double));
    level_regions(c, n, cur_ops, ops_list, mem_list);

    /* group 2: per buffer, then the buffers that count */
    for (int b = 0; b < c->nbufs; b++)
        buf_features(c, &c->bufs[b], n, outer);
    top_bufs(c, row);

    ai_features(n, cur_ops, ops_list, mem_list, row);
    free(ops_list);
    free(mem_list);
    alloc_features(c, si, n, outer, row);

    /* group 5 */
    int64_t unroll = 0;
    for (int i = 0; i < n; i++)
        if (c->lp[i].unroll > 0)
            unroll = c->lp[i].unroll;
    row[TT_FEAT_OUTER_PROD] = (float)outer;
    row[TT_FEAT_NUM_LOOPS] = (float)n;
    row[TT_FEAT_AUTO_UNROLL] = (float)unroll;
    return 0;
}

int tt_features_extract(const tt_state *s, int raw, tt_features *out, tt_err *err)
{
    memset(out, 0, sizeof *out);
    ctx *c = tt_xcalloc(1, sizeof *c);
    c->s = s;
    c->err = err;
    tt_arena *a = tt_arena_new();
    int rc = -1;
    if (tt_lower(&c->L, s, a, 1, err)) {
        tt_err_prefix(err, "features");
        goto done;
    }
    c->pos = tt_xmalloc((size_t)s->nstages * TT_MAX_NODES * sizeof(int));
    for (int i = 0; i < s->nstages * TT_MAX_NODES; i++)
        c->pos[i] = -1;
    int nrows = 0;
    for (int si = 0; si < s->nstages; si++)
        if (s->stages[si].op.kind == TT_OP_COMPUTE && s->stages[si].at != TT_AT_INLINED)
            nrows++;
    out->rows = tt_xcalloc((size_t)(nrows ? nrows : 1) * TT_FEAT_COUNT, sizeof(float));
    out->stage = tt_xcalloc((size_t)(nrows ? nrows : 1), sizeof(int));
    /* stage order is program order: producers (and stages attached inside
     * a consumer's loops) come before their consumers */
    for (int si = 0, r = 0; si < s->nstages; si++) {
        if (s->stages[si].op.kind != TT_OP_COMPUTE || s->stages[si].at == TT_AT_INLINED)
            continue;
        float *row = &out->rows[(size_t)r * TT_FEAT_COUNT];
        if (store_features(c, si, row))
            goto done;
        if (!raw)
            for (int k = 0; k < TT_FEAT_COUNT; k++)
                if (!is_onehot(k))
                    row[k] = (float)slog(row[k]);
        for (int k = 0; k < TT_FEAT_COUNT; k++)
            if (!isfinite(row[k])) {
                char name[64];
                tt_err_set(err, "features: stage %s: %s is not finite",
                           s->stages[si].op.name, tt_feature_name(k, name, sizeof name));
                goto done;
            }
        out->stage[r++] = si;
    }
    out->nrows = nrows;
    rc = 0;
done:
    if (rc)
        tt_features_free(out);
    free_bufs(c);
    free(c->bufs);
    free(c->touches);
    free(c->pos);
    tt_lower_free(&c->L);
    tt_arena_free(a);
    free(c);
    return rc;
}

void tt_features_free(tt_features *f)
{
    free(f->rows);
    free(f->stage);
    memset(f, 0, sizeof *f);
}
