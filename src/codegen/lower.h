/* lower.h - the lowering's result: codegen's second public header, for
 * analyses of a scheduled state that need more than its C (see codegen.h).
 *
 * tt_lower() runs bound inference on a replayed state (lower.c) and keeps,
 * per stage: how it is buffered, its inlined body, the region it is computed
 * over (minimum as an affine form, extent) per root axis, the extent and the
 * affine value of every relation-graph node, and the packed layout of a
 * rewritten weight.  Readers: emit.c (C emission, through emit_int.h) and
 * src/cost/features.c (per-store features, which walk the same loop nests
 * and affine index forms).  The search needs only the extents, through
 * tt_codegen_extents() in codegen.h.  The names here predate the header's
 * being public and lack the tt_ prefix (docs/ARCHITECTURE.md). */
#ifndef TT_LOWER_H
#define TT_LOWER_H

#include "codegen.h"

#define AFF_MAX 48
#define LW_MAX_ROOTS (TT_MAX_DIMS + TT_MAX_RAXES)

/* c + sum coef[i] * atom[i]; atom id = stage * TT_MAX_NODES + node.  ok == 0
 * means "not affine" (a read whose region is then the whole dimension). */
typedef struct aff {
    int ok;
    int64_t c;
    int n;
    int atom[AFF_MAX];
    int64_t coef[AFF_MAX];
} aff;

typedef enum lw_buf {
    LW_BUF_NONE = 0, /* inlined */
    LW_BUF_INPUT,    /* placeholder: args[arg] */
    LW_BUF_OUTPUT,   /* the last stage: args[nin] */
    LW_BUF_ROOT,     /* full-size workspace */
    LW_BUF_LOCAL,    /* region buffer declared at the attach point */
    LW_BUF_TABLE     /* a constant stage (no reads, small: Winograd's A and B)
                        emitted as a static const table, its values computed
                        here; loads of it stay loads (see lower.c) */
} lw_buf;

typedef struct stage_info {
    lw_buf buf;
    int arg;
    tt_expr *body, *cond;          /* with inlined stages substituted */
    aff M[LW_MAX_ROOTS];           /* region minimum per root (0 for root stages) */
    int64_t R[LW_MAX_ROOTS];       /* region extent per root */
    aff root[LW_MAX_ROOTS];        /* global value of each root */
    int guard_hi[LW_MAX_ROOTS], guard_lo[LW_MAX_ROOTS], local_guard[LW_MAX_ROOTS];
    int64_t ext[TT_MAX_NODES];     /* node extents after bound inference */
    aff val[TT_MAX_NODES];         /* node value over atoms */
    int val_done[TT_MAX_NODES];
    int is_atom[TT_MAX_NODES];
    int fuse_rel[TT_MAX_NODES];    /* for fused parts: index of the FUSE relation */
    /* split parents other than roots whose parts enumerate more than their
     * extent (a non-divisible split of a split part): value < ext must be
     * guarded, as TVM's MakeBoundCheck does for every such iter var */
    int ninner_guards;
    int inner_guard[TT_MAX_NODES];
    /* layout rewrite of a constant placeholder (see lower.c): packed as
     * [ceil(E_b / pack_cb), (other dims in order), pack_cb], b = pack_dim */
    int64_t pack_cb;               /* 0 = original layout */
    int pack_dim;
    int pack_reader;               /* the stage that reads it */
    aff pack_q, pack_r;            /* blocked index = pack_q * pack_cb + pack_r */
    double *table;                 /* LW_BUF_TABLE: its values, row-major */
} stage_info;

typedef struct lowering {
    const tt_state *s;
    tt_arena *a;
    tt_err *err;
    int ref_mode;
    int nin;
    stage_info *info;
} lowering;

int tt_lower(lowering *L, const tt_state *s, tt_arena *a, int ref_mode, tt_err *err);
void tt_lower_free(lowering *L);

void aff_const(aff *x, int64_t c);
void aff_axpy(aff *x, int64_t k, const aff *y);
int64_t aff_max(const lowering *L, const aff *x);
int64_t aff_min(const lowering *L, const aff *x);
int64_t lw_atom_extent(const lowering *L, int atom);
/* Affine form of an index expression of stage si over atoms (ok == 0 if not
 * affine: divisions, modulo, min/max of indices). */
void lw_index_form(lowering *L, int si, const tt_expr *e, aff *out);
/* Collapse the parts of fused iterators in x back into the fused value where
 * x holds all of them with mixed-radix coefficients; 1 if x changed. */
int lw_fold_fused(const lowering *L, aff *x);

#endif
