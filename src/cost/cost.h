/* cost.h - the cost model of the search: per-store features of a scheduled
 * state and a pack-sum XGBoost model over them (Ansor's XGBModel).
 *
 * Features (features.c).  One row per buffer store of the lowered loop nest,
 * i.e. per compute stage that is not inlined (a reduction's update store;
 * its init store only contributes touched regions, as in TVM where the
 * update overwrites the init's row).  The columns are the reduced set of
 * TVM v0.12 src/auto_scheduler/feature.cc (docs/reference/ansor.md
 * section 4): arithmetic op counts by kind (times the product of the
 * enclosing loop extents), vectorize / unroll / parallel annotations
 * (count, product, innermost length, position), per-buffer access features
 * for the 5 buffers with the most cache lines, the arithmetic-intensity
 * curve, allocation and outer-scope features.  Every column but the one-hot
 * ones goes through slog(x) = sign(x) log2(|x| + 1) unless raw features are
 * asked for.  Dropped from Ansor's 164: float/int mad (always 0 in TVM),
 * other_func and int math_func (no such calls in our DAGs), the 8 GPU
 * columns.  Differences, each chosen where TVM's code disagrees with its
 * own comments: the annotation position is really computed (TVM leaves it a
 * TODO and always writes "mixed"); `lines` divides by the product of the
 * extents of the inner loops that do not index the buffer (TVM multiplies
 * the innermost extent once per such loop); `unique_lines` uses the
 * buffer's own region (TVM uses the last buffer's).
 *
 * Loop extents come from the lowering's bound inference (src/codegen/lower.h)
 * and index strides from the affine index forms of the inlined op bodies,
 * so a row describes the loop nest the code generator emits.
 *
 * Model (xgb.c).  A program's score is the sum of the tree predictions over
 * its rows.  Training minimises Ansor's pack_sum_square_error: for every row
 * of program p, gradient = (sum of p's row predictions - y_p) * y_p and
 * hessian = y_p, with y_p = throughput / best throughput of p's task
 * (Ansor's min_cost / cost; failed runs have throughput 0).  The gradient is
 * computed here and passed through XGBoosterBoostOneIter.  The model keeps
 * every measured (features, throughput, task) and retrains from scratch on
 * all of them at each update, with early stopping on the training p-rmse.
 * Until it has been trained on more than num_warmup_sample records, or
 * when it has no trees, predictions are uniform random numbers in [0, 1)
 * from the model's seeded generator, as Ansor's XGBModel and RandomModel
 * return; states whose features cannot be extracted score -inf.
 */
#ifndef TT_COST_H
#define TT_COST_H

#include "../sched/sched.h"

#define TT_COST_MAX_BUFS 5
#define TT_COST_AI_SAMPLES 10
#define TT_COST_CACHE_LINE 64 /* bytes */

/* Position of the innermost annotated loop (TVM's AnnotationPosType). */
typedef enum tt_annpos {
    TT_ANNPOS_NONE = 0,      /* no such annotation */
    TT_ANNPOS_INNER_SPATIAL, /* the loop indexes only the last output dimension */
    TT_ANNPOS_MIDDLE_SPATIAL,
    TT_ANNPOS_OUTER_SPATIAL, /* only the first output dimension (or none at all) */
    TT_ANNPOS_INNER_REDUCE,  /* only reduce axis 0 */
    TT_ANNPOS_MIDDLE_REDUCE,
    TT_ANNPOS_OUTER_REDUCE,  /* only the last reduce axis */
    TT_ANNPOS_MIXED,         /* several output dimensions (a fused loop) */
    TT_ANNPOS_COUNT
} tt_annpos;
extern const char *const tt_annpos_names[TT_ANNPOS_COUNT];

/* Per-buffer columns (TVM's BufferAccessFeature), in column order. */
typedef enum tt_buffeat {
    TT_BF_ACC_READ = 0,      /* one-hot access type */
    TT_BF_ACC_WRITE,
    TT_BF_ACC_READWRITE,
    TT_BF_BYTES,             /* outer_prod * element bytes */
    TT_BF_UNIQUE_BYTES,      /* bytes of the region touched by the whole nest */
    TT_BF_LINES,             /* cache lines touched */
    TT_BF_UNIQUE_LINES,
    TT_BF_REUSE_LOOP,        /* one-hot reuse type: LoopMultipleRead */
    TT_BF_REUSE_SERIAL,      /* SerialMultipleReadWrite */
    TT_BF_REUSE_NONE,        /* NoReuse */
    TT_BF_REUSE_DIS_ITER,
    TT_BF_REUSE_DIS_BYTES,
    TT_BF_REUSE_CT,
    TT_BF_BYTES_D_REUSE,
    TT_BF_UNIQUE_BYTES_D_REUSE,
    TT_BF_LINES_D_REUSE,
    TT_BF_UNIQUE_LINES_D_REUSE,
    TT_BF_STRIDE,            /* elements between consecutive iterations of the innermost loop */
    TT_BF_COUNT
} tt_buffeat;
extern const char *const tt_buffeat_names[TT_BF_COUNT];

/* Columns of a row.  Ranges: the three position blocks have TT_ANNPOS_COUNT
 * columns, TT_FEAT_BUFS has TT_COST_MAX_BUFS * TT_BF_COUNT (buffer b, column
 * f at TT_FEAT_BUFS + b * TT_BF_COUNT + f), TT_FEAT_AI has TT_COST_AI_SAMPLES. */
typedef enum tt_feat {
    /* group 1: computation */
    TT_FEAT_FLOAT_ADDSUB = 0,
    TT_FEAT_FLOAT_MUL,
    TT_FEAT_FLOAT_DIVMOD,
    TT_FEAT_FLOAT_CMP,       /* comparisons, min, max */
    TT_FEAT_FLOAT_MATH,      /* exp, tanh, sqrt, ... */
    TT_FEAT_INT_ADDSUB,      /* index arithmetic, loop variables substituted */
    TT_FEAT_INT_MUL,
    TT_FEAT_INT_DIVMOD,
    TT_FEAT_INT_CMP,
    TT_FEAT_BOOL_OP,
    TT_FEAT_SELECT_OP,
    TT_FEAT_VEC_NUM,
    TT_FEAT_VEC_PROD,
    TT_FEAT_VEC_LEN,
    TT_FEAT_VEC_POS,
    TT_FEAT_UNROLL_NUM = TT_FEAT_VEC_POS + TT_ANNPOS_COUNT,
    TT_FEAT_UNROLL_PROD,
    TT_FEAT_UNROLL_LEN,
    TT_FEAT_UNROLL_POS,
    TT_FEAT_PARALLEL_NUM = TT_FEAT_UNROLL_POS + TT_ANNPOS_COUNT,
    TT_FEAT_PARALLEL_PROD,
    TT_FEAT_PARALLEL_LEN,
    TT_FEAT_PARALLEL_POS,
    /* group 2: buffer accesses */
    TT_FEAT_BUFS = TT_FEAT_PARALLEL_POS + TT_ANNPOS_COUNT,
    /* group 3: arithmetic intensity curve */
    TT_FEAT_AI = TT_FEAT_BUFS + TT_COST_MAX_BUFS * TT_BF_COUNT,
    /* group 4: allocation */
    TT_FEAT_ALLOC_SIZE = TT_FEAT_AI + TT_COST_AI_SAMPLES,
    TT_FEAT_ALLOC_PROD,
    TT_FEAT_ALLOC_OUTER_PROD,
    TT_FEAT_ALLOC_INNER_PROD,
    /* group 5: outer scope */
    TT_FEAT_OUTER_PROD,
    TT_FEAT_NUM_LOOPS,
    TT_FEAT_AUTO_UNROLL,     /* auto_unroll_max_step in effect */
    TT_FEAT_COUNT
} tt_feat;

/* Name of column col ("float_mul", "vec_pos.inner_spatial", "B0.bytes",
 * "ai_curve_3", ...) written to out; returns out. */
const char *tt_feature_name(int col, char *out, size_t n);

/* The rows of one state: nrows * TT_FEAT_COUNT floats, row-major; stage[r]
 * is the stage index whose store row r describes. */
typedef struct tt_features {
    int nrows;
    float *rows;
    int *stage;
} tt_features;

/* Extract the rows of s (log-scaled with slog unless raw).  Fails (err set,
 * out empty) when the state cannot be lowered. */
int tt_features_extract(const tt_state *s, int raw, tt_features *out, tt_err *err);
void tt_features_free(tt_features *f);

/* ---- the model ------------------------------------------------------------ */

/* Knobs; tt_cost_opts_default gives Ansor's values (and tree_method "hist"). */
typedef struct tt_cost_opts {
    int max_depth;           /* 10 */
    double gamma;            /* 0.001 */
    double min_child_weight; /* 0 */
    double eta;              /* 0.2 */
    int nthread;             /* cores / 2, at least 1 (also feature extraction) */
    int seed;                /* 43: XGBoost's and the random predictions' */
    int max_rounds;          /* 10000 boosting rounds at most */
    int early_stopping;      /* 50 rounds without a better training p-rmse */
    int eval_every;          /* 2: p-rmse is evaluated every eval_every rounds */
    int num_warmup_sample;   /* 100: random predictions until more records than this */
    int adaptive_training;   /* 0; 1: retrain only once the data grew by 20% */
    char tree_method[16];    /* "hist"; "" = XGBoost's default, what Ansor used ("auto":
                                exact on small data): at 2000 records exact trains in
                                28 s, hist in 0.8 s, ranking alike (see test_cost.c) */
} tt_cost_opts;

void tt_cost_opts_default(tt_cost_opts *o);

typedef struct tt_cost_model tt_cost_model;

/* A new, untrained model (opts NULL = defaults). */
tt_cost_model *tt_cost_model_new(const tt_cost_opts *opts, tt_err *err);
void tt_cost_model_free(tt_cost_model *m);

/* Add n measured states and retrain from scratch on every record so far.
 * throughputs[i]: any measure proportional to 1 / cost (0 = the run
 * failed); task_ids[i]: the task of state i, whose best throughput
 * normalizes it (NULL = all one task).  A state whose features cannot be
 * extracted is skipped.  Fails only if XGBoost does. */
int tt_cost_model_update(tt_cost_model *m, int n, const tt_state *const *states,
                         const double *throughputs, const int *task_ids, tt_err *err);
/* The same with features already extracted (log-scaled), e.g. from a log of
 * records; feats[i].nrows == 0 marks a record to skip. */
int tt_cost_model_update_features(tt_cost_model *m, int n, const tt_features *feats,
                                  const double *throughputs, const int *task_ids, tt_err *err);

/* Scores of n states (higher = faster), see the header comment. */
int tt_cost_model_predict(tt_cost_model *m, int n, const tt_state *const *states, double *scores,
                          tt_err *err);
int tt_cost_model_predict_features(tt_cost_model *m, int n, const tt_features *feats,
                                   double *scores, tt_err *err);

/* 1 while predictions are uniform random numbers (untrained, or not past the
 * warm-up count). */
int tt_cost_model_is_random(const tt_cost_model *m);

/* Records held, and boosting rounds of the current trees (0 = untrained). */
int tt_cost_model_nrecords(const tt_cost_model *m);
int tt_cost_model_nrounds(const tt_cost_model *m);

/* Save the trees (XGBoost's format; ".json" gives JSON) / load them; a
 * loaded model predicts with its trees at once (no warm-up), as Ansor's
 * XGBModel.load.  Records are not saved. */
int tt_cost_model_save(const tt_cost_model *m, const char *path, tt_err *err);
int tt_cost_model_load(tt_cost_model *m, const char *path, tt_err *err);

#endif
