/* record.h - Ansor JSON log records in and out (jansson).
 *
 * One record is one log line:
 *   {"i": [[workload_key, target, hw_params, target_host, layout_rewrite, task_input_names],
 *          [[], steps]], "r": [costs, error_no, all_cost, timestamp], "v": "v0.6"}
 * v0.5 lines omit task_input_names; v0.3 lines have only the first three
 * fields of i[0].  Every field is parsed into a typed, range-checked value;
 * nothing from a record is ever pasted into generated source.
 */
#ifndef TT_RECORD_H
#define TT_RECORD_H

#include "../sched/sched.h"

#define TT_MAX_STEPS 256
#define TT_MAX_COSTS 64
#define TT_MAX_KEY_INTS 256

/* Ansor's MeasureErrorNO. */
typedef enum tt_errno {
    TT_ERR_NO_ERROR = 0,
    TT_ERR_INSTANTIATION = 1,
    TT_ERR_COMPILE_HOST = 2,
    TT_ERR_COMPILE_DEVICE = 3,
    TT_ERR_RUNTIME_DEVICE = 4,
    TT_ERR_WRONG_ANSWER = 5,
    TT_ERR_BUILD_TIMEOUT = 6,
    TT_ERR_RUN_TIMEOUT = 7,
    TT_ERR_UNKNOWN = 8,
    TT_ERR_COUNT
} tt_errno;
extern const char *const tt_errno_names[TT_ERR_COUNT]; /* "ok", "instantiation_error", ... */

typedef struct tt_record {
    char workload_key[1024];
    char target[256];
    int nhw;
    int64_t hw[8];
    char target_host[256];
    int layout_rewrite;        /* -1 if absent */
    int nsteps;
    tt_step steps[TT_MAX_STEPS];
    int ncosts;
    double costs[TT_MAX_COSTS];
    int error_no;
    double all_cost;
    double timestamp;
    char version[16];          /* "v0.6", "v0.5", "v0.3" */
} tt_record;

/* Parse one JSON log line.  Returns 0, or -1 with err naming what is wrong
 * (malformed JSON, missing field, unknown step tag, bad split factor, bad
 * pragma, ids out of range for the record format).  Stage/iterator ids are
 * checked against a DAG later, when the steps are applied. */
int tt_record_parse(const char *line, tt_record *rec, tt_err *err);

/* Serialize as a v0.6 log line (no trailing newline).  Caller frees. */
char *tt_record_write(const tt_record *rec);

/* Steps alone, as the JSON array Ansor writes (used by the CLI and tests). */
char *tt_steps_write(const tt_step *steps, int n);
int tt_steps_parse(const char *json, tt_step *steps, int max, int *n, tt_err *err);

/* Workload key: either a hash key ["<md5>", ints...] or ["<md5>", [shape], ...]
 * (flat or nested shapes), or a registered-function key ["matmul_add", 1024,
 * ..., "float32"].  Flat and nested shapes are both returned as one flat list
 * of ints plus, when nested, the tensor boundaries. */
typedef struct tt_wkey {
    char name[128];            /* hash or function name */
    int nints;
    int64_t ints[TT_MAX_KEY_INTS];
    int nested;                /* 1 if shapes were given as nested lists */
    int ntensors;              /* nested only: number of shapes */
    int tensor_start[64];      /* nested only: offset of each shape in ints */
    int nstrings;              /* trailing string args (e.g. "float32") */
    char strings[4][32];
} tt_wkey;
int tt_wkey_parse(const char *key, tt_wkey *out, tt_err *err);

/* Iterate a log file: calls fn for every non-comment, non-blank line with its
 * 1-based line number.  Lines starting with '#' are comments.  The file must
 * be a regular file within the input limit (tt_open_input, util.h) and no
 * line may be longer than TT_LOG_MAX_LINE bytes (Ansor's lines are about
 * 1 kB); see record.c for the details. */
#define TT_LOG_MAX_LINE (1 << 20)
typedef int (*tt_log_line_fn)(void *ctx, int lineno, const char *line);
int tt_log_foreach(const char *path, tt_log_line_fn fn, void *ctx, tt_err *err);

#endif
