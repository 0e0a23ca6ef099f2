/* transfer_int.h - what the files of src/transfer share: the pool of
 * source schedules, a target kernel's state during a run, and the ranking
 * of its candidates (rank.c). */
#ifndef TT_TRANSFER_INT_H
#define TT_TRANSFER_INT_H

#include <limits.h>

#include "../exec/exec.h"
#include "transfer.h"

typedef struct pool_ent {
    char class_key[128];
    char wkey[1024];             /* the source kernel's workload key */
    int source;                  /* index in the chosen sources */
    tt_step *steps;
    int nsteps;
    tt_dag_layout *layout;       /* the source kernel's stages, for related classes; NULL if
                                    not needed or its DAG print is unreadable */
} pool_ent;

typedef struct pool {
    int n, cap;
    pool_ent *e;
} pool;

/* Per target kernel during the run. */
typedef struct tkern {
    int ncand;
    tt_state **cand;             /* replayed candidates */
    int *cand_src;               /* their source index */
    int *cand_pool;              /* their pool entry */
    tt_eval_item *items;         /* ncand items */
    tt_state *def;
    tt_eval_item def_item;
    tt_eval_item conf_item;      /* the chosen candidate, measured again */
    tt_ref ref;
    int choice;                  /* candidate index or -1 */
    tt_dag_layout *layout;       /* this kernel's, once related candidates were tried */
    double *score;               /* per candidate: the ranking's (xfer_score, rank.c), or NULL */
    int *cand_info;              /* per candidate: its entry in the result's cands */
} tkern;

/* What the stages of tt_transfer_model share. */
typedef struct xfer {
    tt_db *db;
    const char *name;            /* the target's */
    const tt_model *m;
    const tt_transfer_opts *o;
    tt_transfer_result *r;
    tkern *K;                    /* per target kernel */
    int64_t tid, *kids;          /* the target model's and kernels' ids */
    int64_t src_id[TT_TRANSFER_MAX_SOURCES];
    pool P;
    int nt, *task_k;             /* the kernels with candidates */
    tt_eval_task *tasks;         /* nt tasks, refilled per measurement */
    tt_run_opts ro;
    tt_build_opts bo;            /* with the run's kernel cache */
    char cache[PATH_MAX];        /* the kernel cache this run made ("" none) */
    int *reset;                  /* kernels put back on default in place */
    /* the forms (direct or a Winograd twin) each direct conv runs, chosen in
     * place: in the untuned and in the transferred model */
    unsigned char *alt_u, *alt_t;
    int forms_chosen;            /* alt_u chosen already (before the candidates) */
    void *input;                 /* the model's input for in-place runs (xfer_input) */
} xfer;

/* Shared by the stages (transfer.c). */
void xfer_say(const tt_transfer_opts *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The untuned (use_choice 0) or transferred model (each kernel's choice
 * unless reset), built with the forms use_alt gives, or with choose set the
 * forms fastest in place chosen into use_alt (times: each kernel's in-place
 * time, may be NULL) and nothing built. */
int xfer_build_exec(const tt_model *m, int threads, const tt_build_opts *bo, tkern *K, int use_choice,
                    const int *reset, unsigned char *use_alt, int choose, const void *input, double *times,
                    tt_exec **out, tt_err *err);
/* The kernel that runs the calls of direct kernel g under forms use_alt. */
int xfer_running_kernel(const tt_model *m, const unsigned char *use_alt, int g);
/* The random input the untuned and transferred models run on (X owns it). */
void *xfer_input(xfer *X);

/* Which candidates are measured (rank.c), steps 3b-3d of tt_transfer_model:
 * the forms of each conv chosen in place and those > TT_TRANSFER_FORM_SLACK
 * slower left out; the kernels in the untuned model's smallest
 * 1 - TT_TRANSFER_TIME_COVER of kernel time left out; then every candidate
 * scored by one cost model and per kernel those tt_transfer_rank_keep picks
 * kept (all with top_k < 0).  0, or -1 with err set. */
int xfer_forms_first(xfer *X, tt_err *err);
int xfer_time_cover(xfer *X, tt_err *err);
int xfer_rank_candidates(xfer *X, tt_err *err);

#endif
