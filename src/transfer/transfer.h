/* transfer.h - transfer-tuning: reuse other models' tuned schedules on a new
 * model's kernels (Gibson and Cano, PACT 2022; docs/reference/transfer-tuning.md).
 *
 *   1. Sources: the models in the database other than the target, ranked by
 *      the share of the target's FLOPs (weight x flops per kernel) whose class
 *      key they have a kernel of; all with a share > 0 by default, or the
 *      models named by the caller.
 *   2. Pool: for each kernel of each source, its best record tuned or
 *      imported for that source (records whose source model is the source).
 *      Records of the target itself are never read.
 *   3. Candidates of a target kernel: the distinct pool schedules of its class
 *      key, each replayed on the target's DAG with the target's extents (split
 *      lengths kept as factors; a split that does not divide gets a guarded
 *      tail), plus the kernel's default schedule.  A schedule that does not
 *      replay is dropped with its reason.  Beyond the paper (tt_transfer_match):
 *      a kernel with no same-class schedule also takes those of kernels with
 *      the same anchor and another elementwise epilogue, rewritten for its
 *      stages (tt_transfer_retarget).
 *   4. Measurement, with the search's protocol (tt_tune_default_run_opts): the
 *      default schedules first, then every candidate, built in parallel and
 *      run one at a time, output checked, a candidate 3x slower than the
 *      default cut off after one call.
 *   5. Choice: per kernel the fastest correct candidate if it beats the
 *      default, else the default (tt_transfer_choose).
 *      The Winograd twins of the 3x3 convs are kernels like the others: their
 *      candidates are the pool's Winograd schedules of their class.
 *   6. End to end: each model runs every conv that has Winograd twins in the
 *      form (direct or a twin) that is fastest in place for its schedules
 *      (tt_exec_choose), as `run` does.  The untuned and the transferred
 *      model are built and timed
 *      in process, alternately, and the transferred output is checked against
 *      the untuned one.  If the transferred model is slower, each kernel is
 *      profiled in place in both, the kernels whose choice is slower in place
 *      are reset to the default (tt_transfer_resets), and the model is
 *      measured again; if it is still slower, every kernel is reset: the
 *      result is never slower than untuned.
 *   7. Only now is anything written: the target model and its kernels are
 *      registered, and the chosen records written (origin transferred,
 *      source model = where the schedule came from), each in one transaction.
 *
 * Search time = wall time of all of the above from the first database read
 * to the last write (replay, builds, measurements, end-to-end checks).
 */
#ifndef TT_TRANSFER_H
#define TT_TRANSFER_H

#include "../db/db.h"
#include "../measure/evaluate.h"
#include "../model/model.h"

#define TT_TRANSFER_MAX_SOURCES 64
/* Related-class candidates per kernel by default.  Without a cap, a ReLU6
 * conv of MobileNet-v2 got every conv2d of four source models (94
 * candidates; transfer took 435 s instead of 78 s); the nearest 8 in shape
 * keep most of the gain at a fraction of the time (docs/NOTES.md). */
#define TT_TRANSFER_RELATED_K 8
/* The automatic ranking rule (tt_transfer_rank_keep): per kernel the 2
 * candidates the cost model ranks best, more (up to 5) while their scores
 * are within 0.05 of the best one's (scores are throughputs relative to a
 * kernel's best, about 0 to 1).  docs/NOTES.md, "Ranking transfer
 * candidates", has the measurements behind the numbers. */
#define TT_TRANSFER_RANK_MIN 2
#define TT_TRANSFER_RANK_MAX 5
#define TT_TRANSFER_RANK_MARGIN 0.05
/* A conv's forms (direct, Winograd twins) are timed in place in the untuned
 * model first; a form slower than the fastest by more than this factor has
 * its candidates left out: a transferred schedule would have to gain more
 * than that on it before the model ran it. */
#define TT_TRANSFER_FORM_SLACK 1.2
/* Then one profile of the untuned model: the direct kernels (with their
 * forms) that together take the smallest 5% of its kernel time get no
 * candidates measured: a 1.2x gain on all of them would move the model by
 * under 1%, below what two end-to-end timings can tell apart (the same
 * schedules read 0.98-1.02x).  3% until the search's timing became loops of
 * warm calls (2026-12-07), which made GoogLeNet's transfer 62 s instead of
 * 49.  Both rules are the fast path's; --top-k all measures every form and
 * kernel. */
#define TT_TRANSFER_TIME_COVER 0.95
/* The end-to-end comparison's pairs of runs take about this long (s):
 * without --repeat, 3 rounds of 5 to 20 pairs, fewer for a slow model
 * (VGG-16, 100 ms a run: 6 a round instead of 20, 8 s less). */
#define TT_TRANSFER_TIMING_S 4.0

/* Which pool schedules are candidates for a target kernel.  EXACT is the
 * paper's rule: the same class key.  RELATED adds, for every kernel, the
 * schedules of kernels with the same anchor and another elementwise epilogue
 * (rewritten by tt_transfer_retarget).  AUTO, the default, takes the related
 * ones only for kernels where no same-class schedule replays: that is where
 * the paper's rule leaves a kernel untuned (MobileNet-v2's ReLU6 kernels
 * among ReLU models), while kernels with same-class candidates keep the
 * paper's candidate count and so its search time. */
typedef enum tt_transfer_match {
    TT_MATCH_AUTO = 0,
    TT_MATCH_EXACT,
    TT_MATCH_RELATED,
    TT_MATCH_COUNT
} tt_transfer_match;
extern const char *const tt_transfer_match_names[TT_MATCH_COUNT]; /* "auto", "exact", "related" */

typedef struct tt_transfer_opts {
    int threads;                 /* 0 = all cores */
    int nfrom;                   /* > 0: use exactly these source models */
    const char *const *from;
    int max_sources;             /* automatic sources: at most this many (0 = all) */
    int repeat;                  /* end-to-end timing repeats (0: 5 to 20 pairs a round, about
                                    TT_TRANSFER_TIMING_S in all) */
    int top_k;                   /* which candidates are measured, ranked by a cost model
                                    trained on the source kernels' records (xfer_score, rank.c):
                                    0 = automatic (tt_transfer_rank_keep with
                                    TT_TRANSFER_RANK_MIN, _MAX, _MARGIN); > 0 = the K best;
                                    < 0 = every candidate (exhaustive, the paper's protocol) */
    int no_confirm;              /* believe each kernel's fastest candidate's first measurement;
                                    by default it is measured again (10 repeats) before it is
                                    chosen over the default */
    tt_transfer_match match;     /* which pool schedules a kernel may take */
    int related_k;               /* related classes: per kernel at most this many distinct
                                    candidates, from the source kernels nearest in shape
                                    (tt_transfer_shape_distance); 0 = TT_TRANSFER_RELATED_K,
                                    < 0 = all */
    const tt_build_opts *build;  /* NULL = defaults */
    void (*progress)(void *ctx, const char *msg);
    void *ctx;
} tt_transfer_opts;

/* One candidate of a kernel, as ranked and measured. */
typedef struct tt_transfer_cand {
    int source;                  /* index in tt_transfer_result.sources */
    double score;                /* the cost model's (higher = predicted faster) */
    double dist;                 /* shape distance of its source kernel to this one
                                    (tt_transfer_shape_distance) */
    int measured;                /* kept by the ranking, built and run */
    int correct;                 /* ... and its output checked ok */
    int cut;                     /* ... stopped at the cutoff after one call */
    double time_s;               /* ... on its default's scale; -1 if not measured or failed */
} tt_transfer_cand;

typedef struct tt_transfer_kernel {
    char name[96];               /* first node */
    char class_key[128];
    int alt_of;                  /* a Winograd twin: the index of its direct conv; else -1 */
    int wino_m;                  /* ... and its output tile (4 for F(4x4, 3x3)) */
    int runs;                    /* the transferred model runs this kernel (a direct conv
                                    whose twin was chosen in place does not, nor do the
                                    twins not chosen) */
    int weight;
    double flops;
    int candidates;              /* pool schedules of its class (and related ones, see match) */
    int related;                 /* of those, from kernels of another class, same anchor */
    int replayed;                /* of those, replayed on this kernel */
    int valid;                   /* measured and correct */
    int ranked_out;              /* candidates dropped unmeasured by the ranking */
    int ncands;                  /* the replayed candidates, in pool order */
    tt_transfer_cand *cands;     /* malloc'ed (tt_transfer_result_free) */
    int time_skipped;            /* in the untuned model's smallest 1 - TT_TRANSFER_TIME_COVER
                                    of kernel time: its candidates are not measured */
    double inplace_s;            /* its time in the untuned model (its calls, in the form
                                    that runs), 0 if not profiled */
    int form_skipped;            /* a Winograd form (or the direct one) of a conv that ran
                                    slower in place than another by more than
                                    TT_TRANSFER_FORM_SLACK in the untuned model: its
                                    candidates are not measured */
    char reason[200];            /* the first failure (replay or measurement), "" if none */
    double default_s;            /* standalone; -1 unknown */
    double best_s;               /* fastest correct candidate; -1 none */
    int chosen;                  /* 1: a transferred schedule runs; 0: default */
    int reset;                   /* its choice was reset after the end-to-end check */
    char source[128];            /* source model of the chosen (or best) schedule */
    char source_class[128];      /* the class key of the kernel it was tuned for */
    double chosen_s;             /* standalone time of what runs */
} tt_transfer_kernel;

typedef struct tt_transfer_result {
    int nkernels;
    tt_transfer_kernel *k;       /* malloc'ed: tt_transfer_result_free */
    int nsources;
    char sources[TT_TRANSFER_MAX_SOURCES][128];
    double coverage[TT_TRANSFER_MAX_SOURCES]; /* share of the target's FLOPs */
    tt_transfer_match match;     /* the rule candidates were taken by */
    int candidates, valid;       /* over all kernels */
    int kernels_improved;        /* kernels running a transferred schedule */
    int kernels_chosen;          /* kernels with a transferred schedule written to the
                                    database (also those whose other form runs) */
    int winograd_untuned;        /* convs run as Winograd in the untuned model */
    int winograd;                /* ... in the transferred model */
    double untuned_s, tuned_s, speedup;
    double max_rel_err;          /* transferred output vs untuned */
    double search_s;
    int resets;
    int confirmed;               /* chosen candidates measured again */
    int confirm_rejected;        /* ... that were then not faster than the default */
    char note[256];              /* why nothing was transferred, if so */
    int cache;                   /* the cache state candidates were timed in (TT_CACHE_*) */
    char cache_why[200];         /* ... and why (tt_tune_cache_state) */
} tt_transfer_result;

void tt_transfer_result_free(tt_transfer_result *r);

/* Transfer-tune model m (registered in db as `name` with `source`).  Returns
 * 0 with r filled (also when nothing could be transferred: r->note says
 * why), -1 with err set on a database, build or run failure. */
int tt_transfer_model(tt_db *db, const char *name, const char *source, const tt_model *m,
                      const tt_transfer_opts *o, tt_transfer_result *r, tt_err *err);

/* The schedules transfer-tuning would measure on each kernel of m, nothing
 * measured or written (steps 1-3 of tt_transfer_model under options o:
 * sources, pool, the pool's schedules replayed with each kernel's extents,
 * duplicates dropped): cand[k][0..n[k]) for kernel k of m, owned by c
 * (tt_transfer_cands_free).  `name` is the target's: its own records stay
 * out of the pool.  tune --warm-start measures these first. */
typedef struct tt_transfer_cands {
    int nkernels;
    int *n;
    tt_state ***cand;
} tt_transfer_cands;
int tt_transfer_candidates(tt_db *db, const char *name, const tt_model *m, const tt_transfer_opts *o,
                           tt_transfer_cands *c, tt_err *err);
void tt_transfer_cands_free(tt_transfer_cands *c);

/* The paper's hand-picked source of a target (its tt_networks table, in our
 * zoo names: resnet18 <- resnet50, resnet50 <- googlenet, alexnet <- vgg16,
 * vgg16 <- googlenet, mobilenet_v2 <- efficientnet_b4, googlenet <- resnet50,
 * mnasnet1_0 <- googlenet, efficientnet_b0 <- efficientnet_b4,
 * efficientnet_b4 <- efficientnet_b0, bert_base <- mobilebert, mobilebert <-
 * bert_base), or NULL for a model not in it. */
const char *tt_transfer_paper_source(const char *target);

/* ---- shipped schedules ------------------------------------------------------ */

/* The folder of shipped schedules for this host: in $TT_SCHEDULES if set,
 * else in schedules/ of the parent of the executable's folder
 * (build/transtune -> schedules/), else in share/transtune/schedules there
 * (make install's PREFIX), else in ./schedules, the subfolder of
 * the host's vector ISA (schedules/avx512 or schedules/avx2, see
 * tt_transfer_shipped_isa; schedules are tuned per ISA: tiles sized for 16
 * lanes and 32 registers are not those of 8 and 16), else the folder itself
 * if it holds logs, else the other ISA's.  Writes it to buf and returns buf,
 * or NULL if none has any log. */
const char *tt_transfer_shipped_dir(char *buf, size_t n);
/* "avx512" on a host whose vectors have 16 lanes (tt_host_vector_lanes), else "avx2". */
const char *tt_transfer_shipped_isa(void);

/* Import every DIR/MODEL.json (an Ansor log of records tuned for the zoo
 * model MODEL) into db, MODEL registered with its kernels as their source
 * model (origin imported).  Lines already in db are skipped, so loading again
 * is cheap.  *files and *records (may be NULL) get the counts.  Returns 0, or
 * -1 with err naming the file. */
int tt_transfer_load_shipped(tt_db *db, const char *dir, int *files, int *records, tt_err *err);

/* ---- the decisions, as pure functions (tested from given times) ---------- */

/* The candidate to run: the index of the fastest correct candidate whose time
 * is below default_s, or -1 for the default.  correct[i] == 0, cut[i] != 0
 * (stopped after one call at the cutoff: its one time says only "slow"; cut
 * may be NULL) or time <= 0 never wins; default_s <= 0 (unknown) lets any
 * correct candidate win. */
int tt_transfer_choose(int n, const int *correct, const int *cut, const double *time_s, double default_s);

/* Which of a kernel's n candidates to build and measure, from the cost
 * model's scores (higher = predicted faster): the kmin best, then the next
 * ones in score order while their score is within `margin` of the best (the
 * model cannot tell them apart: more are measured where it is unsure), at
 * most kmax in all (kmax < kmin counts as kmin; margin < 0 keeps exactly
 * kmin).  Equal scores keep index order.  keep[i] = 1 for those; returns
 * their count. */
int tt_transfer_rank_keep(int n, const double *score, int kmin, int kmax, double margin, int *keep);

/* After an end-to-end run slower than untuned: given, per kernel, whether a
 * transferred schedule was chosen and its summed in-place time in the
 * transferred and in the untuned model, set reset[k] = 1 for each chosen
 * kernel that is slower in place.  Returns the number reset. */
int tt_transfer_resets(int n, const int *chosen, const double *inplace_tuned_s,
                       const double *inplace_untuned_s, int *reset);

/* Candidates replay with tt_state_replay_rebased (sched.h): split lengths
 * kept as factors, every SP step's extent rewritten to the target's. */

/* How far apart two kernels' shapes are, from their workload keys: the sum
 * over the first two tensors and the output (for a conv2d: data, weight,
 * output) of |log2(a/b)| per dimension, 8 per tensor of another rank, so
 * that a 56x56x64 3x3 conv is nearer a 28x28x128 3x3 conv than a 7x7x512 1x1
 * one.  Keys that do not parse are far (1e9). */
double tt_transfer_shape_distance(const char *wkey_a, const char *wkey_b);

/* Rewrite steps recorded on a kernel of layout S for a kernel of layout T
 * with the same anchor (same prefix ops, by name, tag and rank) and another
 * elementwise epilogue (conv2d+add+relu -> conv2d+add+clip or
 * conv2d+add+sigmoid+multiply): the target's epilogue stages but its output
 * are inlined first, the source's inlining of its own is dropped, stage ids
 * and the step ids FSP/FFSP follow are renumbered, the output's steps move
 * to the target's output.  Writes at most cap steps to out and their count
 * to *nout; returns 0, or -1 with err saying why the schedule does not move
 * (a step that schedules a source epilogue stage other than by inlining,
 * different anchors, ...).  The result still has to replay on the target
 * (tt_state_replay_rebased) and be measured and checked like any candidate. */
int tt_transfer_retarget(const tt_dag_layout *S, const tt_dag_layout *T, const tt_step *in, int n,
                         tt_step *out, int cap, int *nout, tt_err *err);

#endif
