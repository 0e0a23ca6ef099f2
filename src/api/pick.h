/* pick.h - what a model's kernels run: each kernel's best record from an
 * Ansor log or the record database, then, measured in place in the model,
 * record or default schedule and direct or Winograd form (tt_exec_choose).
 * `transtune run` and `compile`, and the public API's transtune_build, all
 * decide this way. */
#ifndef TT_PICK_H
#define TT_PICK_H

#include "../exec/exec.h"

typedef struct tt_pick {
    const tt_model *m;
    tt_step **steps;        /* per kernel, NULL if none */
    int *nsteps;
    int *lanes;             /* per kernel, its record's vector lanes (0 unknown) */
    double *cost;           /* its record's mean cost (s) */
    unsigned char *lost;    /* per kernel: its record lost to the default schedule (dropped) */
    double *t_rec, *t_def;  /* per kernel: in-place times, record and default (0: not timed) */
    unsigned char *use_alt; /* per kernel: the form chosen (tt_exec_opts.use_alt) */
    int lines, parsed, matched; /* of the log: lines, records identified, matching a kernel */
    int from_db;            /* kernels whose best record came from the database */
    /* a log line that is skipped (may be NULL): its number and why */
    void (*skipped)(void *ctx, int lineno, const char *why);
    void *ctx;
} tt_pick;

/* Which forms tt_pick_choose times. */
typedef enum tt_pick_forms { TT_FORMS_OFF = 0, TT_FORMS_ON, TT_FORMS_AUTO } tt_pick_forms;

void tt_pick_init(tt_pick *P, const tt_model *m);
void tt_pick_free(tt_pick *P);
/* Each kernel's best record of the Ansor log at path (every line parsed and
 * identified as `replay` does; a record measured without error whose DAG's
 * workload key is a kernel's competes on its mean cost). */
int tt_pick_log(tt_pick *P, const char *path, tt_err *err);
/* The same from the database at path (any target and origin), competing
 * with what is there already on mean cost. */
int tt_pick_db(tt_pick *P, const char *path, tt_err *err);
/* The executor options of what P holds (steps, lanes, use_alt) on threads. */
tt_exec_opts tt_pick_exec_opts(const tt_pick *P, int threads);
/* Choose by measurement in place on input: each conv's form (forms AUTO;
 * ON takes F(4,3), the first twin, untimed) and, unless trust, each
 * kernel's record or default schedule (a record that loses is dropped:
 * lost set).  *timed: whether anything was measured. */
int tt_pick_choose(tt_pick *P, int threads, tt_pick_forms forms, int trust, const void *input, int *timed,
                   tt_err *err);
/* Kernel q's time in place on the schedule it runs (its record's, or its
 * default's), from the last tt_pick_choose. */
double tt_pick_time(const tt_pick *P, int q);
/* Whether kernel k, which has a record, runs in some call: a direct kernel
 * in its own form, or the Winograd twin the choice picked. */
int tt_pick_record_runs(const tt_pick *P, int k);

#endif
