/* search.h - the search space of the Ansor-style auto-scheduler (CPU).
 *
 * A *sketch* is a tt_state derived from a DAG by Ansor's CPU derivation rules
 * (sketch.c), tried per stage from the last stage to the first, in Ansor's
 * order:
 *
 *   always-inline      CI of a strictly inlineable, non-output stage without reduction
 *   add-rfactor        FU of the reduce iterators, SP by a placeholder, RF on either part
 *                      (a stage that needs it and has no cache-write stage; 2 sketches)
 *   add-cache-write    CHW "local" of a multi-level-tiled stage with no elementwise
 *                      consumer (the sketch without it survives too)
 *   tiling with fusion SSRSRS tiling, the consumer follows it (FSP at level 1 and 2)
 *                      and the stage is computed at the consumer (CA)
 *   multi-level tiling SSRSRS: every spatial iterator split in 4, every reduce
 *                      iterator in 2, RE S0 S1 R0 S2 R1 S3
 *   skip
 *
 * Split lengths of a sketch are undecided: its SP steps have len[] = 0 (as
 * Ansor records NullOpt), and its iterators made by those splits have unknown
 * extents (-1), exactly as in Ansor's sketch states.
 *
 * *Annotation* (annotate.c) turns a sketch into a concrete state with Ansor's
 * initial-population rules, in order: fill tile sizes (a perfect factorization
 * of each split's extent, innermost <= max_innermost_split_factor), change
 * compute locations (inline / root / compute_at a candidate) of untiled
 * stages, parallel (fuse outer spatial iterators up to 16 * num_cores), the
 * auto_unroll_max_step pragma on stages with a reduction, and vectorization
 * of the innermost spatial iterators.  Every random choice is a *decision*
 * (tt_decisions): tt_sketch_annotate samples all of them with a tt_rng;
 * tt_sketch_fill takes the ones given and samples only the rest, so a record's
 * decisions (tt_decisions_from_steps) regenerate exactly its step list.
 *
 * Mutations (mutate.c) are Ansor's evolutionary operators on a concrete state:
 * tile size, auto-unroll, compute location, parallel granularity; every
 * mutated state is replayed from the DAG's initial state.
 *
 * Semantics: TVM src/auto_scheduler/search_policy/sketch_policy_rules.cc and
 * utils.{h,cc} as of late 2020 (when the shared logs were tuned), which equal
 * v0.12 for these rules.
 */
#ifndef TT_SEARCH_H
#define TT_SEARCH_H

#include "../sched/sched.h"

/* ---- parameters ----------------------------------------------------------- */

/* Ansor's SketchPolicy parameters (docs/reference/ansor.md 2.1 and 3.1) and the
 * hardware parameter the rules read.  tt_search_params_default() fills
 * Ansor's defaults; every field can be overridden by name
 * (tt_search_params_set), e.g. from TT_* variables or the command line. */
typedef struct tt_search_params {
    int num_cores;                   /* hardware_params.num_cores (default: 1; set to the
                                        target's cores): parallel degree limit 16 * num_cores,
                                        rfactor conditions */
    int max_innermost_split_factor;  /* 64 */
    int max_vectorize_size;          /* 16 (elements) */
    int disable_change_compute_location; /* 0 */
    char tiling_structure[16];       /* "SSRSRS" (cpu_multi_level_tiling_structure) */
    int nunroll;                     /* auto_unroll_max_step choices: {0, 16, 64, 512} */
    int64_t unroll[8];
    /* evolutionary search */
    double eps_greedy;                       /* 0.05 */
    int retry_search_one_round_on_empty;     /* 1 */
    int sample_init_min_population;          /* 50 */
    double sample_init_use_measured_ratio;   /* 0.2 */
    int evolutionary_search_population;      /* 2048 */
    int evolutionary_search_num_iters;       /* 4 */
    double evolutionary_search_mutation_prob; /* 0.85 */
    double mutate_tile_size;                 /* 0.90 (mutation weights) */
    double mutate_auto_unroll;               /* 0.04 */
    double mutate_compute_location;          /* 0.05 */
    double mutate_parallel;                  /* 0.01 */
    /* not Ansor's: each round, this share of the batch are neighbours of the
     * best measured states (one or two mutations of one of the 4 fastest),
     * the local_search_mutants of them the cost model ranks best (at random
     * while it is untrained).  A kernel's default schedule is measured first
     * and is most often its best state: without this the search, sampling
     * from sketches, almost never proposed a state near it (docs/NOTES.md,
     * "The search starts from the default"); 0 = Ansor's rounds */
    double local_search_ratio;               /* 0.25 */
    int local_search_mutants;                /* 256 */
    /* the cost model (XGBModel's num_warmup_sample): it scores at random until it
     * has more records than this; 0 = tasks x per-round, as TVM's task scheduler
     * sets it for a model's search (read by tune, not by the policy) */
    int num_warmup_sample;                   /* 0 */
} tt_search_params;

void tt_search_params_default(tt_search_params *p);
/* Set one parameter by its field name ("num_cores", "eps_greedy", "unroll" as a
 * comma-separated list, "tiling_structure" as a string of S and R, ...).
 * Returns 0, or -1 with err naming the unknown name or bad value. */
int tt_search_params_set(tt_search_params *p, const char *name, const char *value, tt_err *err);

/* ---- sketches ------------------------------------------------------------- */

/* All sketches of d, in Ansor's order (breadth-first over the derivation),
 * at most max of them written to sketches (caller frees each with
 * tt_state_free).  p may be NULL (defaults).  Returns the number of sketches
 * (which may exceed max: only max are written), or -1 with err set. */
int tt_sketch_generate(const tt_dag *d, const tt_search_params *p, tt_state **sketches, int max,
                       tt_err *err);

/* ---- decisions ------------------------------------------------------------ */

#define TT_DEC_MAX_TILES 64
#define TT_DEC_MAX_STAGES 32
#define TT_DEC_SAMPLE (-1)   /* not decided: annotation samples it (or applies Ansor's rule) */
#define TT_DEC_NONE (-2)     /* unroll only: no pragma */

/* Compute location of an untiled stage: Ansor's choice among
 * {0: inline (done only if the stage is attached and has no reduction;
 * otherwise nothing), 1: root, 2..: compute_at a candidate}. */
typedef enum tt_loc_kind {
    TT_LOC_SAMPLE = 0,
    TT_LOC_INLINE,
    TT_LOC_ROOT,
    TT_LOC_AT,
    TT_LOC_COUNT
} tt_loc_kind;
extern const char *const tt_loc_kind_names[TT_LOC_COUNT];

typedef struct tt_tile_dec {
    int nlen;                      /* 0 = sample */
    int64_t len[TT_MAX_SPLIT];
} tt_tile_dec;

typedef struct tt_loc_dec {
    tt_loc_kind kind;
    int stage, iter;               /* TT_LOC_AT: target stage and iterator */
} tt_loc_dec;

/* The random choices that turn a sketch into a state.  Stage ids are those
 * of the sketch (its stage numbering no longer changes during annotation). */
typedef struct tt_decisions {
    int ntiles;
    tt_tile_dec tile[TT_DEC_MAX_TILES];   /* i-th SP step of the sketch, in step order */
    tt_loc_dec loc[TT_DEC_MAX_STAGES];
    int par[TT_DEC_MAX_STAGES];           /* outer iterators fused and parallelized
                                             (0 = none; SAMPLE = Ansor's rule) */
    int64_t unroll[TT_DEC_MAX_STAGES];    /* auto_unroll_max_step (SAMPLE, NONE) */
    int vec[TT_DEC_MAX_STAGES];           /* innermost iterators fused and vectorized
                                             (0 = none; SAMPLE) */
} tt_decisions;

/* Every decision SAMPLE. */
void tt_decisions_init(tt_decisions *dec);

/* Annotate a sketch with random decisions (Ansor's SampleInitPopulation
 * rules for one state).  r: the seeded generator (deterministic).  On success
 * *out is the concrete, replayed state (caller frees) and, if taken is not
 * NULL, the decisions made.  Returns 0; 1 if the sample is invalid (nested
 * parallel, or a compute location that does not lower), with err saying why
 * (Ansor drops such samples; callers retry); -1 with err set on bad input. */
int tt_sketch_annotate(const tt_state *sketch, tt_rng *r, const tt_search_params *p,
                       tt_state **out, tt_decisions *taken, tt_err *err);

/* The same with the given decisions; only SAMPLE ones are drawn from r (r may
 * be NULL when nothing is to be sampled).  A given decision outside Ansor's
 * space (a tile that is not a perfect factorization or has an innermost
 * length over the limit, a compute location that is not a candidate, more
 * iterators fused than the rules allow, no pragma on a stage with a
 * reduction, ...) makes it return 1 with err saying which. */
int tt_sketch_fill(const tt_state *sketch, const tt_decisions *dec, tt_rng *r,
                   const tt_search_params *p, tt_state **out, tt_decisions *taken, tt_err *err);

/* Read the decisions of a step list (a record) made from this sketch: the
 * first sketch->nsteps steps must be the sketch's own (same tags, stages,
 * iterators, extents, orders, targets; SP lengths are read as tile
 * decisions), the rest must be annotation steps (CA / CR / CI, FU + AN
 * parallel, PR auto_unroll_max_step, FU + AN vectorize).  Stages without an
 * annotation get "none" (loc INLINE = Ansor's no-op choice 0, par 0, vec 0,
 * unroll NONE).  Returns 0; 1 if the steps do not come from this sketch (err
 * says where they differ); -1 on bad input. */
int tt_decisions_from_steps(const tt_state *sketch, const tt_step *steps, int n, tt_decisions *dec,
                            tt_err *err);

/* Ansor's HasNestedParallel: a root stage whose loop nest (with attached
 * stages) has two or more parallel loops. */
int tt_state_has_nested_parallel(const tt_state *s);

/* ---- mutations ------------------------------------------------------------ */

typedef enum tt_mutation {
    TT_MUT_TILE_SIZE = 0,
    TT_MUT_AUTO_UNROLL,
    TT_MUT_COMPUTE_LOCATION,
    TT_MUT_PARALLEL,
    TT_MUT_COUNT
} tt_mutation;
extern const char *const tt_mutation_names[TT_MUT_COUNT];

/* Apply mutation m to the concrete state s (Ansor's MutateTileSize,
 * MutateAutoUnroll, MutateComputeLocation, MutateParallel): the new step list
 * is replayed on a fresh state of s's DAG.  Returns 0 with *out set (caller
 * frees); 1 if the mutation does not apply to this state (Ansor's kInvalid);
 * -1 on bad input. */
int tt_state_mutate(const tt_state *s, tt_mutation m, tt_rng *r, const tt_search_params *p,
                    tt_state **out, tt_err *err);

/* Pick a mutation by the weights of p (Ansor's RandomChoose) and apply it. */
int tt_state_mutate_random(const tt_state *s, tt_rng *r, const tt_search_params *p, tt_state **out,
                           tt_mutation *which, tt_err *err);

#endif
