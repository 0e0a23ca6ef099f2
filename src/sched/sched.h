/* sched.h - Ansor transform steps and the loop state they are replayed on.
 *
 * A tt_state is Ansor's State: per stage, its (state-owned copy of the) op,
 * its iterators in loop order (outermost first), where it is computed (root,
 * inlined, or at an iterator of another stage) and its pragmas; plus the list
 * of steps applied so far.  Stage and iterator ids in steps are positional,
 * exactly as in Ansor: CHW and RF insert a stage at `stage` and shift later
 * stages by one.
 *
 * Besides Ansor's iterator list, every stage keeps the split/fuse relation
 * graph from its root axes to its leaf iterators (TVM's schedule relations),
 * so that lowering can rebuild every root axis from the loop variables and
 * infer the bounds of stages computed at another stage's loop.
 */
#ifndef TT_SCHED_H
#define TT_SCHED_H

#include "../dag/dag.h"

#define TT_MAX_ITERS 64      /* leaf iterators of one stage */
#define TT_MAX_NODES 96      /* relation-graph nodes of one stage */
#define TT_MAX_RELS 48
#define TT_MAX_SPLIT 8       /* lengths of one split */
#define TT_MAX_STEP_IDS 64   /* ids in RE / FU / FFSP */

/* ---- steps --------------------------------------------------------------- */

typedef enum tt_steptag {
    TT_STEP_AN = 0, /* annotation */
    TT_STEP_FU,     /* fuse */
    TT_STEP_PR,     /* pragma */
    TT_STEP_RE,     /* reorder */
    TT_STEP_SP,     /* split */
    TT_STEP_FSP,    /* follow split */
    TT_STEP_FFSP,   /* follow fused split */
    TT_STEP_SA,     /* storage align (GPU; refused on replay) */
    TT_STEP_CA,     /* compute at */
    TT_STEP_CI,     /* compute inline */
    TT_STEP_CR,     /* compute root */
    TT_STEP_CHR,    /* cache read (GPU; refused on replay) */
    TT_STEP_CHW,    /* cache write */
    TT_STEP_RF,     /* rfactor */
    TT_STEP_COUNT
} tt_steptag;
extern const char *const tt_step_tags[TT_STEP_COUNT]; /* "AN", "FU", ... */

/* Annotation codes as in Ansor's IteratorAnnotation. */
typedef enum tt_ann {
    TT_ANN_NONE = 0,
    TT_ANN_UNROLL = 1,
    TT_ANN_VECTORIZE = 2,
    TT_ANN_PARALLEL = 3,
    TT_ANN_VTHREAD = 4,
    TT_ANN_BLOCK_X = 5,
    TT_ANN_THREAD_X = 6,
    TT_ANN_BLOCK_Y = 7,
    TT_ANN_THREAD_Y = 8,
    TT_ANN_BLOCK_Z = 9,
    TT_ANN_THREAD_Z = 10,
    TT_ANN_TENSORIZE = 11,
    TT_ANN_COUNT
} tt_ann;
extern const char *const tt_ann_names[TT_ANN_COUNT];

/* One transform step, parsed and range-checked as far as the record alone
 * allows (ids are checked against the state when the step is applied). */
typedef struct tt_step {
    tt_steptag tag;
    int stage;                 /* all steps */
    int iter;                  /* AN PR SP FSP FFSP SA RF */
    /* SP */
    int64_t extent;            /* recorded extent (0 = unknown) */
    int nlen;
    int64_t len[TT_MAX_SPLIT]; /* 0 = not yet chosen (sketch placeholder) */
    int inner_to_outer;
    /* FSP: src_step, n_split.  FFSP: srcs[], level, factor_or_nparts (in inner_to_outer) */
    int src_step;
    int n_split;
    int level;
    /* RE: new order; FU: fused ids; FFSP: source step ids; CHR: reader stages */
    int nids;
    int ids[TT_MAX_STEP_IDS];
    /* AN */
    tt_ann ann;
    /* PR: only auto_unroll_max_step$N is accepted */
    int64_t pragma_value;
    /* CA: target stage and iterator.  RF: factor_iter_id is kept in target_iter. */
    int target_stage;
    int target_iter;
    /* CHW / CHR scope ("local"); SA factor/offset */
    char scope[16];
    int64_t factor, offset;
} tt_step;

/* ---- loop state ----------------------------------------------------------- */

typedef enum tt_iterkind {
    TT_ITER_SPATIAL = 0,
    TT_ITER_REDUCE = 1,
    TT_ITER_MIXED = 2,
    TT_ITER_SPECIAL = 3,
    TT_ITER_COUNT
} tt_iterkind;

typedef enum tt_compute_at { TT_AT_ROOT = 0, TT_AT_INLINED, TT_AT_ITER, TT_AT_COUNT } tt_compute_at;

/* A node of a stage's relation graph: a root axis (spatial `root` < ndim, or
 * reduce `root - ndim`), or an iterator derived by split or fuse. */
typedef struct tt_relnode {
    char name[64];
    int64_t extent;            /* -1 while unknown (after compute_at, before bounds) */
    tt_iterkind kind;
    int root;                  /* root axis index, or -1 for derived nodes */
} tt_relnode;

typedef enum tt_relkind { TT_REL_SPLIT = 0, TT_REL_FUSE } tt_relkind;

/* SPLIT: parent -> children[0..n) (outer to inner); factors[i] for i >= 1 are
 * the lengths of the inner children (the outermost is implicit):
 *   parent = ((c0 * f1 + c1) * f2 + c2) ... .
 * FUSE: parents[0..n) (outer to inner) -> child:
 *   child = ((p0 * e1 + p1) * e2 + p2) ...,  pi = (child / (e_{i+1}...)) % e_i. */
typedef struct tt_rel {
    tt_relkind kind;
    int n;
    int nodes[TT_MAX_SPLIT + 1]; /* SPLIT: children; FUSE: parents */
    int other;                   /* SPLIT: parent; FUSE: child */
    int64_t factors[TT_MAX_SPLIT + 1];
} tt_rel;

typedef struct tt_iter {
    int node;                  /* index into the stage's nodes */
    tt_ann ann;
} tt_iter;

typedef struct tt_stage {
    tt_op op;                  /* state-owned copy; op.uid identifies the tensor */
    int niters;
    tt_iter iters[TT_MAX_ITERS];
    int nnodes;
    tt_relnode nodes[TT_MAX_NODES];
    int nrels;
    tt_rel rels[TT_MAX_RELS];
    tt_compute_at at;
    int at_uid;                /* TT_AT_ITER: uid of the target stage */
    int at_node;               /* TT_AT_ITER: node (in the target) it is attached to */
    int64_t auto_unroll_max_step; /* PR auto_unroll_max_step value; 0 = none */
    int unroll_node;           /* node the pragma was put on (-1 = none) */
} tt_stage;

typedef struct tt_state {
    const tt_dag *dag;
    tt_arena *arena;           /* owns expressions created by CHW / RF; shared by copies */
    int *arena_refs;           /* reference count of arena across copies */
    int nstages;
    tt_stage *stages;          /* nstages entries, capacity cap */
    int cap;
    int next_uid;
    int lax_extents;           /* 1: SP's recorded extent may differ (transfer) */
    int nsteps;
    tt_step *steps;
    int steps_cap;
} tt_state;

/* The initial state of a DAG: one stage per op, iterators = axes ++ reduce axes. */
tt_state *tt_state_new(const tt_dag *dag);
tt_state *tt_state_copy(const tt_state *s);
void tt_state_free(tt_state *s);

/* Apply one step (appending it to the step list).  On failure the state is
 * unchanged is NOT guaranteed: callers discard a state whose step failed.
 * Checks every id and, for SP, that a nonzero recorded extent equals the
 * extent of the iterator it splits. */
int tt_state_apply(tt_state *s, const tt_step *step, tt_err *err);
/* Apply a list of steps; on failure err says which step (index and tag). */
int tt_state_apply_all(tt_state *s, const tt_step *steps, int n, tt_err *err);
/* fp32 lanes of the vectors of an Ansor target string ("llvm -keys=cpu
 * -mcpu=core-avx2": 8; "-mattr=+avx512": 16); 0 when it does not say. */
int tt_target_vector_lanes(const char *target);
/* Fit the vectorized splits of steps (a record tuned elsewhere, for vectors
 * of from_lanes fp32 lanes, 0 if unknown) to `lanes` fp32 lanes, in place
 * (see widen.c); returns how many were widened. */
int tt_steps_widen_vectors(const tt_dag *d, tt_step *steps, int n, int lanes, int from_lanes);
/* tt_state_apply_all on a fresh state s, with the steps widened first;
 * returns the number of widened splits (0 when none), -1 on error (then s
 * must be discarded: it holds a partial replay). */
int tt_state_apply_widened(tt_state *s, const tt_step *steps, int n, int lanes, int from_lanes, tt_err *err);

/* Replay a step list tuned for another workload of the same structure on d:
 * split lengths are kept as factors (a split that does not divide gets a
 * guarded tail) and every SP step's recorded extent is rewritten to d's, so
 * the returned state's steps replay on d exactly.  NULL with err set if the
 * steps do not apply (transfer-tuning and the search's warm start use it). */
tt_state *tt_state_replay_rebased(const tt_dag *d, const tt_step *steps, int n, tt_err *err);

/* Stage lookup by uid (-1 if absent). */
int tt_state_stage_of_uid(const tt_state *s, int uid);
/* Index of the leaf iterator of stage st whose node is `node` (-1 if none). */
int tt_stage_iter_of_node(const tt_stage *st, int node);

/* Default ("untuned") schedule of a DAG: a fixed, shape-generic heuristic
 * expressed as steps (see default.c).  vector_lanes: fp32 lanes of the
 * target's vectors (8 for AVX2, 16 for AVX-512).  Writes at most max steps. */
int tt_default_schedule(const tt_dag *d, int vector_lanes, tt_step *steps, int max, int *nsteps,
                        tt_err *err);

/* fp32 lanes of this machine's widest vectors (16 with AVX-512F, else 8), or
 * $TT_VECTOR_LANES when set (4..64, a power of two). */
int tt_host_vector_lanes(void);

/* Human-readable loop nest (like Ansor's State::ToStr), for debugging and
 * deduplication.  Caller frees. */
char *tt_state_print(const tt_state *s);

#endif
