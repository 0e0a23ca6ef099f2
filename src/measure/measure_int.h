/* measure_int.h - internals shared by the files of src/measure: what the
 * parent side (run.c, evaluate.c) and the runner (runner_main.c) must agree
 * on, written once. */
#ifndef TT_MEASURE_INT_H
#define TT_MEASURE_INT_H

#include "measure.h"

/* The runner's protocol version (runner_main.c documents it): run.c passes
 * it as --protocol, and a runner of another version exits with status 2. */
#define MEASURE_RUNNER_PROTOCOL 5

/* Bound on reading back transtune's own logs and result files (a compiler's
 * log, the runner's log and result line): not the input limit, they are ours. */
#define MEASURE_LOG_MAX ((uint64_t)64 << 20)

/* The cost of a failed measurement (s), so that it never looks fast. */
#define MEASURE_FAIL_COST 1e10

/* Mark r failed with tt_errno `error`: one cost of MEASURE_FAIL_COST, not
 * correct.  Its message and other fields are left as they are. */
void measure_result_fail(tt_result *r, int error);

#endif
