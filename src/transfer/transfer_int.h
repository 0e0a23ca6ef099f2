/* transfer_int.h - what the files of src/transfer share: the pool of
 * source schedules, a target kernel's state during a run, and the ranking
 * of its candidates (rank.c). */
#ifndef TT_TRANSFER_INT_H
#define TT_TRANSFER_INT_H

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
    double *score;               /* per candidate: the ranking's (tt_xfer_rank), or NULL */
    int *cand_info;              /* per candidate: its entry in the result's cands */
} tkern;

/* Rank every kernel's candidates (rank.c): one cost model, trained on the
 * measured records of the pool's source kernels (each record on its own
 * kernel's DAG, one task per source kernel, so that it learns which
 * schedules are fast relative to others of the same kernel), scores each
 * candidate on its target kernel's DAG into K[k].score (higher = predicted
 * faster).  *rows gets the number of records it was trained on.  A source
 * kernel whose DAG cannot be identified from its workload key only adds no
 * rows; with no rows at all every score is 0 (pool order decides).  0, or
 * -1 with err set. */
int tt_xfer_rank(tt_db *db, const tt_model *m, const pool *P, const int64_t *src_id, tkern *K,
                 int *rows, tt_err *err);
/* tt_xfer_rank trains on the pool entries some kernel has a candidate of. */

#endif
