/* emit_int.h - internals of the C emitter shared by emit.c (loops, stages,
 * functions), vector.c (vector statements) and reference.c.  Not part of
 * codegen.h.
 */
#ifndef TT_EMIT_INT_H
#define TT_EMIT_INT_H

#include "lower.h"

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
    /* prefetch of streamed packed weights in a register tile's update (see
     * emit_tile): atoms of the reduction loop just outside the tile (-1 none)
     * and of its spatial loops, whose variables name the one unrolled copy
     * that prefetches */
    int pf_on, pf_outer;
    int pf_nsp, pf_sp[TT_MAX_ITERS];
    /* a register tile's rolled reduction loop whose steps alternate between
     * set_R accumulator sets (see split_sets in tile.c), as an atom
       (stage * TT_MAX_NODES + node); -1 none */
    int set_node;
    int64_t set_R;
    /* > 0: the register tile runs over its vector chunks in parts of this
     * many (loop tt_cp around the tile; see chunk_parts in tile.c) */
    int64_t chunk_part;
    /* a factor of the body emitted as 1: a register tile whose sets are the
     * values of the one reduction variable the factor depends on applies it
     * when the sets are summed (factor_sets in tile.c) */
    const tt_expr *skip;
    /* A stage's outermost parallel loop calls its body as a function whose
     * buffer pointers are restrict parameters (see emit_loops): clang takes
     * `restrict` from parameters only, not from the local copies of
     * `rebind`, so without it a store to the output keeps every input load
     * from being reused (Winograd's data_pack: 0.14 ms, 0.04 with).
     * par_params / par_args: the parameter list and the call's arguments;
     * fns: the functions, written before the kernel; stage_pre: the
     * definitions the stage made before its first loop; top: the next
     * emit_loops call is the stage's first. */
    tt_str par_params, par_args, fns;
    const char *stage_pre;
    int top, npar;
    const char *fn;       /* the kernel's name: its parallel bodies are <fn>_par<uid>_<n>,
                             unique when several kernels share a translation unit */
} emitter;

enum { ACC_OFF = 0, ACC_LOAD, ACC_UPDATE, ACC_STORE };

typedef struct defs {
    unsigned char atom[TT_MAX_NODES];  /* atom variable defined */
    unsigned char root[LW_MAX_ROOTS];  /* root value defined */
    unsigned char bound[TT_MAX_NODES]; /* leaf bound by an enclosing loop */
    unsigned char iguard[TT_MAX_NODES];/* inner split guard opened */
    int nguards;                       /* open `if (...) {` blocks at this level */
} defs;

typedef struct nest {
    int n;
    int tile_at;               /* update nest: loop index where a register tile starts, -1 none */
    int tile_whole;            /* update nest: each tile runs the whole reduction (no init nest,
                                * the accumulators start at the identity, see emit_stage) */
    int all_unrolled;          /* planned: every loop unrolled or the vector loop */
    int64_t steps;             /* planned: statements after unrolling */
    int pos[TT_MAX_ITERS];
    int unroll[TT_MAX_ITERS];  /* 1 = explicit unroll */
    int simd[TT_MAX_ITERS];
} nest;

/* emit.c */
/* Whether e is a product of constant-table loads (and float constants): a
 * factor that is a literal once its indices are (Winograd's B[r_a][eps] *
 * B[r_b][nu] in unrolled loops).  A product by it is emitted as
 * tt_cmulf / tt_vcmulN, -0.0 for a zero factor, so that a zero entry's term
 * folds away (x + -0.0 == x exactly), which x * 0.0 (NaN, -0) does not. */
/* The C of state s as function fn: a candidate (ref 0) or, in double with
 * error magnitudes, the reference (ref 1, reference.c). */
int emit_function(const tt_state *s, const char *fn, int ref, tt_str *out, tt_err *err);
int table_product(const lowering *L, const tt_expr *e);
void emit_aff(emitter *E, const aff *x);
void emit_float(emitter *E, double v);
void emit_expr(emitter *E, const tt_expr *e, int si);
/* Flat index of a load of stage pi (indices relative to its region). */
void emit_index(emitter *E, int pi, tt_expr *const *idx, int n, int si);
/* Define every fused part and root value of stage si that became computable,
 * opening guards for roots that may leave their axis. */
void define_ready(emitter *E, int si, defs *D, phase ph);
/* Flat index of stage si's own element (its buffer or region). */
void write_index(emitter *E, int si, tt_str *idx);
/* The scalar statement of stage si in phase ph. */
void emit_statement(emitter *E, int si, phase ph);

int has_attached(const lowering *L, int uid, int node);
/* The loops of nest ph from li inward (emit_tile calls it for the tile). */
/* Whether root r of a stage (info I, ndim spatial roots) is clamped to its
 * extent inside a register tile's update rather than guarded by a branch
 * (emit.c): a spatial root that may run past its extent's high end only, in
 * a tensor's own coordinates.  Its unclamped value is then r<uid>_<r>u, from
 * which a vector statement's mask counts the valid lanes (vector.c). */
static inline int root_clamped(const emitter *E, const stage_info *I, int r, int ndim)
{
    return E->acc == ACC_UPDATE && r < ndim && I->guard_hi[r] && !I->guard_lo[r] &&
           !(I->buf == LW_BUF_LOCAL && I->local_guard[r]);
}

void emit_loops(emitter *E, int si, nest *nests, phase ph, int li, defs D);

/* tile.c: register tiles (see there) */
void unroll_into_tile(emitter *E, int si, nest *nests, int *forced);
void force_unroll(const emitter *E, int si, nest *U, const int *forced);
void plan_tile(emitter *E, int si, nest *nests);
void emit_tile(emitter *E, int si, nest *nests, int li, defs D);

/* vector.c */
/* How a vectorized loop of n lanes is cut into statements: *nch of *W lanes,
 * then one of *T lanes of which the first *TC are real. */
void vec_chunks(int64_t n, int vlanes, int *W, int64_t *nch, int *T, int *TC);
/* The vector form of the innermost loop li of nest ph; 0 if not possible. */
int try_vector(emitter *E, int si, nest *N, phase ph, int li, defs D);

#endif
