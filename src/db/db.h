/* db.h - the record database: models, kernels, measured records and tuning
 * curves in one SQLite file.
 *
 * Tables (schema version TT_DB_SCHEMA_VERSION, kept in PRAGMA user_version):
 *   models        id, name UNIQUE, source (zoo name or .onnx path), created
 *   kernels       id, workload_key UNIQUE (ours, tt_dag_workload_key), class_key,
 *                 dag (tt_dag_print(d, 0): a record is never orphaned even if
 *                 the code that built the DAG changes), flops, created
 *   model_kernels model, kernel, weight (calls per inference; 0 for a Winograd
 *                 twin, an alternative compute of a direct conv kernel)
 *   records       id, kernel, steps (Ansor JSON), line (a full Ansor v0.6 log
 *                 line), costs (JSON array of seconds), mean_cost (NULL if no
 *                 costs), error_no (Ansor's MeasureErrorNO), target (cpu, isa,
 *                 threads), origin ('tuned' | 'transferred' | 'imported'),
 *                 source_model (NULL if none), created
 *   curves        id, model, target, search_s, trials, est_latency, meas_latency,
 *                 meas_untuned (version 2)
 *                 (best-so-far model latency in seconds, NULL if unknown), created
 *   records_bad   (created by the first tt_db_check_records with fix) rows moved
 *                 out of records: id, record_id (its id there), the records
 *                 columns as they were, why (the reason), moved (Unix time)
 *
 * The file is in WAL mode with foreign keys on, synchronous=NORMAL and a busy
 * timeout, so one writer and many readers share it: a committed transaction
 * survives a crash of the process (SIGKILL), an uncommitted one disappears
 * whole.  Each measured batch goes in with one tt_db_add_records() call, which
 * is one transaction (or part of the caller's tt_db_begin/commit).
 *
 * Everything read back from the file goes through tt_db_row_to_record(),
 * which refuses a corrupted row with a message naming the record and the
 * field: a database is outside input.  A row is usable only if that accepts
 * it and its steps replay on its kernel's DAG (rebuilt from the kernel's
 * workload key and print, see valid.c); the readers skip any other row and
 * go on with the next one (the best record is the best usable one), and the
 * handle warns once, when it is closed, with the count and how to list and
 * move them aside (tt_db_check_records, `transtune db check [--fix]`).
 */
#ifndef TT_DB_H
#define TT_DB_H

#include <stdint.h>
#include <stdio.h>

#include "../model/model.h"
#include "../record/record.h"

#define TT_DB_SCHEMA_VERSION 2
#define TT_DB_APPLICATION_ID 0x54546462 /* "TTdb" in PRAGMA application_id */
#define TT_DB_BUSY_MS 10000

typedef struct tt_db tt_db;

typedef enum tt_origin {
    TT_ORIGIN_TUNED = 0,      /* measured by this machine's search */
    TT_ORIGIN_TRANSFERRED,    /* another kernel's schedule, measured on this kernel */
    TT_ORIGIN_IMPORTED,       /* an Ansor log line, identified and stored as it was */
    TT_ORIGIN_COUNT
} tt_origin;
extern const char *const tt_origin_names[TT_ORIGIN_COUNT]; /* "tuned", "transferred", "imported" */
/* The origin named s, or -1. */
int tt_origin_parse(const char *s);

/* Where a record was measured. */
typedef struct tt_db_target {
    char cpu[128];            /* CPU model ("AMD EPYC 7B13"; an import: the record's -mcpu) */
    char isa[32];             /* widest vector ISA: "avx512", "avx2", "avx", "sse4.2", "" */
    int threads;              /* 0 = unknown */
} tt_db_target;

/* This machine: /proc/cpuinfo's model name and the widest ISA the CPU reports. */
void tt_db_target_host(tt_db_target *t, int threads);

/* ---- opening ------------------------------------------------------------ */

#define TT_DB_READONLY 1      /* tt_db_open flag: the file must exist; nothing is written */

/* Open (creating it unless TT_DB_READONLY) the database at path.  A database
 * of an older schema version is migrated in one transaction; a newer one is
 * refused ("database X has schema version N; this transtune reads up to 1"),
 * as is a file that is not a transtune database.  Returns 0 with *out set, or
 * -1 with err set (and *out NULL). */
int tt_db_open(const char *path, int flags, tt_db **out, tt_err *err);
/* The database path when none is given: $TT_DB, else transtune.db in the
 * user's cache folder ($XDG_CACHE_HOME/transtune, else ~/.cache/transtune,
 * made if missing), else ./transtune.db. */
const char *tt_db_default_path(void);
/* Close; an open transaction is rolled back.  If the readers skipped bad
 * rows, the one warning about them goes to the log (below).  NULL is a
 * no-op. */
void tt_db_close(tt_db *db);

/* Where the handle's warnings go: fn(ctx, msg) with a one-line message; fn
 * NULL (the default) writes "warning: msg" to stderr.  The only warning is
 * the count of bad rows the readers skipped, given by tt_db_close. */
typedef void (*tt_db_log_fn)(void *ctx, const char *msg);
void tt_db_set_log(tt_db *db, tt_db_log_fn fn, void *ctx);
/* Distinct bad rows the readers of this handle have skipped so far. */
int tt_db_skipped(const tt_db *db);
const char *tt_db_path(const tt_db *db);

/* Explicit transaction (BEGIN IMMEDIATE: the write lock is taken now, waiting
 * up to the busy timeout).  Not nestable: a second begin is an error.  Inside
 * one, tt_db_add_records and the other writers join it instead of committing
 * on their own. */
int tt_db_begin(tt_db *db, tt_err *err);
int tt_db_commit(tt_db *db, tt_err *err);
/* Roll back the open transaction, if any. */
void tt_db_rollback(tt_db *db);

/* PRAGMA integrity_check and foreign_key_check.  Returns 0 if both are clean,
 * else -1 with err quoting the first problem. */
int tt_db_check(tt_db *db, tt_err *err);

/* What tt_db_check_records found. */
typedef struct tt_db_check_result {
    int64_t records;             /* rows read */
    int64_t bad;                 /* rows a reader skips */
    int64_t unchecked;           /* usable rows whose kernel's DAG could not be rebuilt,
                                    so their replay was not tried */
    int64_t kernels_unchecked;   /* the kernels of those */
    int64_t moved;               /* fix: bad rows moved into records_bad */
} tt_db_check_result;

/* Called for each bad row, in id order, with the reason ("record N: ..."). */
typedef void (*tt_db_bad_fn)(void *ctx, int64_t id, const char *why);

/* Check every records row as the readers do (tt_db_row_to_record, then a
 * replay on its kernel's DAG), rebuilding a DAG identify cannot by loading
 * the models that hold the kernel (zoo name or .onnx path; up to a second a
 * model).  fn (may be NULL) hears of every bad row.  fix: the bad rows are
 * moved into records_bad (created if missing) in one transaction, so that
 * the readers no longer meet them and nothing is lost (needs a handle open
 * for writing).  Returns 0 (bad rows are a result, in r), -1 on a database
 * error. */
int tt_db_check_records(tt_db *db, int fix, tt_db_bad_fn fn, void *ctx, tt_db_check_result *r,
                        tt_err *err);

/* ---- models and kernels --------------------------------------------------- */

/* The id of the model named name: returns 1 with *id set, 0 if there is none,
 * -1 on a database error. */
int tt_db_model_id(tt_db *db, const char *name, int64_t *id, tt_err *err);

/* Insert (or find) model `name` with its source, and every kernel of m with
 * its weight (m may be NULL: the model alone).  kernel_ids, if not NULL,
 * receives m->nkernels ids.  An existing model keeps its id and created time;
 * its source is replaced, and so is its kernel list if m is not NULL.  One
 * transaction. */
int tt_db_add_model(tt_db *db, const char *name, const char *source, const tt_model *m,
                    int64_t *model_id, int64_t *kernel_ids, tt_err *err);

/* The id of the kernel with this workload key, inserted if new.  workload_key
 * NULL: computed from dag; class_key NULL: dag->class_key.  An existing
 * kernel keeps its stored class, print and flops. */
int tt_db_kernel_id(tt_db *db, const char *workload_key, const char *class_key, const tt_dag *dag,
                    int64_t *id, tt_err *err);

/* The id of the kernel with this workload key: 1 found, 0 none, -1 error. */
int tt_db_find_kernel(tt_db *db, const char *workload_key, int64_t *id, tt_err *err);

/* The canonical DAG print stored with the kernel of this workload key (""
 * for a kernel stored without one), malloc'ed into *print: 1 found, 0 none
 * (*print NULL), -1 error. */
int tt_db_kernel_print(tt_db *db, const char *workload_key, char **print, tt_err *err);

/* Every model, in id order. */
typedef struct tt_db_model_info {
    int64_t id;
    char name[128];
    char source[512];
} tt_db_model_info;
/* *out is malloc'ed (caller frees; NULL if *n = 0). */
int tt_db_models(tt_db *db, tt_db_model_info **out, int *n, tt_err *err);

/* One kernel of a model (model_kernels joined with kernels). */
typedef struct tt_db_kernel_info {
    int64_t id;
    char workload_key[1024];
    char class_key[128];
    double flops;
    int weight;
} tt_db_kernel_info;
/* The kernels of model `model`, in kernel id order; *out malloc'ed. */
int tt_db_model_kernels(tt_db *db, int64_t model, tt_db_kernel_info **out, int *n, tt_err *err);

/* ---- records ---------------------------------------------------------------- */

/* One record to insert. */
typedef struct tt_db_rec {
    int64_t kernel;              /* kernels.id */
    const tt_record *rec;        /* steps, costs, error_no; written as its log line.  An empty
                                    workload_key is filled with the kernel's. */
    const tt_db_target *target;  /* NULL: unknown */
    tt_origin origin;
    int64_t source_model;        /* models.id, 0 = none */
} tt_db_rec;

/* Insert n records in one transaction (or in the caller's): all or none.
 * ids (may be NULL) receives the n new record ids. */
int tt_db_add_records(tt_db *db, int n, const tt_db_rec *recs, int64_t *ids, tt_err *err);

/* One records row as read back (about 110 kB, as tt_record: allocate it). */
typedef struct tt_db_row {
    int64_t id, kernel;
    tt_record rec;               /* parsed from the stored line, checked against the other columns */
    double mean_cost;            /* -1 if the record has no costs */
    tt_db_target target;
    tt_origin origin;
    int64_t source_model;        /* 0 = none */
    double created;              /* Unix time */
} tt_db_row;

/* A records row's columns exactly as SQLite returned them (text may be NULL,
 * has_mean = 0 for a NULL mean_cost). */
typedef struct tt_db_raw {
    int64_t id, kernel;
    const char *steps, *line, *costs;
    int has_mean;
    double mean_cost;
    int64_t error_no;
    const char *cpu, *isa;
    int64_t threads;
    const char *origin;
    int64_t source_model;
    double created;
} tt_db_raw;

/* Check and convert a raw row: the line must parse as an Ansor record, the
 * steps, costs and error_no columns must equal the line's, mean_cost the mean
 * of the costs, a successful measurement's (error_no 0) costs be positive,
 * and every other field be in range.  Returns 0, or -1 with err naming the
 * record id and the bad field.  (The libFuzzer target fuzz/fuzz_db.c feeds
 * it corrupted rows.) */
int tt_db_row_to_record(const tt_db_raw *raw, tt_db_row *row, tt_err *err);

/* tt_db_row_to_record, then, if dag is not NULL (the DAG of the row's
 * kernel), the row's steps replayed on it (tt_state_apply_all: every step
 * applies, every split's recorded extent is the one it splits): the whole
 * check a reader makes.  Returns 0, or -1 with err naming the record. */
int tt_db_row_check(const tt_db_raw *raw, const tt_dag *dag, tt_db_row *row, tt_err *err);

/* Which records a query considers. */
typedef struct tt_db_filter {
    const char *cpu;             /* NULL = any */
    const char *isa;             /* NULL = any */
    int threads;                 /* 0 = any */
    unsigned origins;            /* bits 1u << tt_origin; 0 = any */
    int64_t only_model;          /* models.id: only records whose source model is this; 0 = any */
    int64_t exclude_model;       /* models.id: skip records whose source model is this (records
                                    with no source model stay); 0 = none */
    int ok_only;                 /* only error_no 0 with costs (tt_db_best_record implies it) */
} tt_db_filter;

/* How many records f admits (f may be NULL: all), into *n; 0 or -1. */
int tt_db_count_records(tt_db *db, const tt_db_filter *f, int64_t *n, tt_err *err);

/* The best usable record (lowest mean cost, error_no 0; ties: the oldest)
 * of the kernel with this workload key among those f admits (f may be NULL):
 * a bad row, whatever its cost, is skipped for the next best.  Returns 1
 * with *row set, 0 if there is none, -1 on a database error. */
int tt_db_best_record(tt_db *db, const char *workload_key, const tt_db_filter *f, tt_db_row *row,
                      tt_err *err);

/* Call fn for every usable record admitted by f (may be NULL), oldest first
 * (bad rows are skipped):
 * of the kernels of model `model` if model != 0, of the kernel with key
 * workload_key if not NULL.  fn returning nonzero stops the walk (and is
 * returned).  The row passed to fn is valid during the call only. */
typedef int (*tt_db_row_fn)(void *ctx, const tt_db_row *row);
int tt_db_foreach_record(tt_db *db, int64_t model, const char *workload_key, const tt_db_filter *f,
                         tt_db_row_fn fn, void *ctx, tt_err *err);

/* Write the records (filtered as tt_db_foreach_record) as Ansor v0.6 log
 * lines, one per line, oldest first.  *n (may be NULL) gets the count. */
int tt_db_export(tt_db *db, int64_t model, const tt_db_filter *f, FILE *out, int64_t *n,
                 tt_err *err);

/* ---- importing Ansor logs ------------------------------------------------------ */

typedef struct tt_db_import_opts {
    const tt_db_target *target;  /* NULL: from each record (cpu = its -mcpu, isa from that,
                                    threads = hw_params[0]) */
    int64_t source_model;        /* models.id recorded as the source, 0 = none */
    /* Called for every line that is skipped (parse, identify or replay failure). */
    void (*warn)(void *ctx, int lineno, const char *msg);
    void *ctx;
} tt_db_import_opts;

typedef struct tt_db_import_result {
    int lines;                   /* non-comment lines read */
    int imported;                /* records added */
    int duplicates;              /* lines already in the database for that kernel: skipped */
    int failed;                  /* lines that did not parse, identify or replay: skipped */
    int unchecked;               /* of imported: lines of a known kernel whose DAG could not
                                    be rebuilt, stored without the replay check */
    int new_kernels;             /* kernels added */
} tt_db_import_result;

/* Import an Ansor log: each line parsed (tt_record_parse), identified
 * (tt_identify_record: our DAG, whose workload and class keys name the
 * kernel; its steps replay on it), and stored with origin 'imported' and its
 * original line (its Ansor workload key kept).  A line keyed by a kernel
 * already in the database (one exported by transtune) is that kernel's, and
 * its steps must replay on the kernel's DAG (rebuilt as tt_db_check_records
 * does; o->source_model's model loaded first; a kernel that cannot be rebuilt
 * takes it unchecked).  Failing lines are reported through o->warn and
 * skipped.  One transaction.  Returns 0 (even if lines failed), or -1 if the
 * file cannot be read or the database fails. */
int tt_db_import_log(tt_db *db, const char *path, const tt_db_import_opts *o,
                     tt_db_import_result *r, tt_err *err);

/* ---- tuning curves ----------------------------------------------------------- */

typedef struct tt_db_curve_point {
    double search_s;             /* search time so far */
    int64_t trials;              /* trials so far */
    double est_latency;          /* best-so-far model latency, s (estimated from kernel
                                    records and weights); < 0 = unknown */
    double meas_latency;         /* best-so-far measured model latency, s; < 0 = unknown */
    double meas_untuned;         /* the untuned model timed alternately with it in the
                                    same window, s; < 0 = unknown */
} tt_db_curve_point;

int tt_db_curve_append(tt_db *db, int64_t model, const tt_db_target *t,
                       const tt_db_curve_point *p, tt_err *err);
/* The curve of a model (on target t's cpu/isa/threads if t is not NULL),
 * ordered by search time.  *pts is malloc'ed (caller frees; NULL if *n = 0). */
int tt_db_curve_read(tt_db *db, int64_t model, const tt_db_target *t, tt_db_curve_point **pts,
                     int *n, tt_err *err);

/* ---- statistics ----------------------------------------------------------- */

typedef struct tt_db_class_count {
    char class_key[128];
    int64_t kernels, records;
} tt_db_class_count;

typedef struct tt_db_counts {
    int schema_version;
    int64_t models, kernels, model_kernels, records, records_ok, curves;
    int64_t records_bad;         /* rows moved into records_bad (0 if it does not exist) */
    int64_t by_origin[TT_ORIGIN_COUNT];
    int nclasses;
    tt_db_class_count *classes;  /* most records first */
} tt_db_counts;

int tt_db_stats(tt_db *db, tt_db_counts *c, tt_err *err);
void tt_db_counts_free(tt_db_counts *c);

#endif
