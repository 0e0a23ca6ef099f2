/* identify.h - from an Ansor workload key to the compute DAGs it may name.
 *
 * TVM's workload keys hash a DAG print that cannot be recomputed here, so a
 * record is matched to a DAG by what the key does show: the shapes of the
 * DAG's inputs and output, plus (optionally) how many stages the record's
 * steps touch.  Identification infers the op family, the conv/pool geometry
 * (stride, padding) and the fused epilogue from those shapes alone -- never
 * from a table keyed by hash -- and returns every plausible DAG, most
 * plausible first.  The caller replays the record on each candidate and
 * keeps the first on which every step applies and every SP extent matches.
 *
 * Covered: conv2d / grouped / depthwise NHWC (+ bias, scale, residual, relu,
 * clip), dense, batch_matmul, max/avg pool2d NHWC, global average pool,
 * softmax, and the tutorial's registered workload ["matmul_add", N, L, M, dtype].
 */
#ifndef TT_IDENTIFY_H
#define TT_IDENTIFY_H

#include <stddef.h>

#include "record.h"

struct tt_state;

typedef struct tt_wl_candidate {
    tt_dag *dag;     /* finished DAG, owned by the caller (tt_identify_free) */
    char desc[160];  /* e.g. "conv2d_nhwc 1x1 s1 p0 + add + relu" */
} tt_wl_candidate;

/* The largest stage id the steps refer to, expressed in the ids of the
 * initial DAG: the largest stage / compute-at target minus the number of
 * stage-inserting steps (CHW, CHR, RF).  A lower bound on (ops - 1) of the
 * DAG the record was tuned on, tight whenever the steps touch the output
 * stage (Ansor's always annotate it).  -1 if there are no steps. */
int tt_identify_max_stage(const tt_step *steps, int n);

/* Candidate DAGs for workload_key, best first, at most max of them written to
 * out.  max_stage: tt_identify_max_stage() of the record's steps, or -1 if
 * unknown; candidates with exactly max_stage + 1 ops come first, then larger
 * ones, then smaller ones.  Every candidate's input and output shapes equal
 * the key's.  Returns the number written (0 if nothing fits: not an error),
 * or -1 with err set if the key does not parse or max <= 0. */
int tt_identify_candidates(const char *workload_key, int max_stage, tt_wl_candidate *out, int max,
                           tt_err *err);

/* The same from an already parsed key. */
int tt_identify_wkey(const tt_wkey *key, int max_stage, tt_wl_candidate *out, int max,
                     tt_err *err);

/* Identify a parsed record's DAG: the first candidate on which every step
 * applies (and every SP extent matches).  On success *dag (finished, caller
 * frees) and *state (the replayed record, caller frees; NULL if state is
 * NULL) are set and desc gets the candidate's description.  Returns 0, or -1
 * with err saying why no candidate fits. */
int tt_identify_record(const tt_record *rec, tt_dag **dag, struct tt_state **state, char *desc,
                       size_t desc_len, tt_err *err);

/* Free the DAGs of n candidates (the array itself belongs to the caller). */
void tt_identify_free(tt_wl_candidate *c, int n);

#endif
