/* db_int.h - internals shared by the files of src/db: the connection and
 * small SQLite helpers that turn SQLite's errors into tt_err messages. */
#ifndef TT_DB_INT_H
#define TT_DB_INT_H

#include <sqlite3.h>

#include "db.h"

/* A kernel's DAG, rebuilt for checking that rows replay on it (valid.c). */
typedef struct db_kdag {
    int64_t kernel;
    tt_dag *dag;                 /* NULL: could not be rebuilt (yet) */
    int models_tried;            /* the models holding it were loaded too */
} db_kdag;

struct tt_db {
    sqlite3 *h;
    char *path;
    int readonly;
    int in_txn;                  /* inside tt_db_begin ... commit/rollback */
    int depth;                   /* db_write_begin nesting */
    /* rows the readers skipped (distinct ids), reported once at close */
    int64_t *skipped;
    int nskipped, capskipped;
    char first_skip[TT_ERR_MAX];
    tt_db_log_fn log;
    void *log_ctx;
    /* rebuilt kernel DAGs, and the models already loaded to rebuild them */
    db_kdag *kdag;
    int nkdag, capkdag;
    int64_t *models_tried;
    int nmodels_tried;
    int64_t prefer_model;        /* models.id loaded first (an import's source model), 0 = none */
};

/* "database PATH: WHAT: sqlite's message"; returns -1. */
int db_fail(tt_db *db, tt_err *err, const char *what);
/* Run SQL with no result rows. */
int db_exec(tt_db *db, const char *sql, tt_err *err);
int db_prepare(tt_db *db, const char *sql, sqlite3_stmt **st, tt_err *err);
/* Bind text, or NULL for a NULL pointer. */
int db_bind_text(sqlite3_stmt *st, int i, const char *s);

/* A write of several statements as one unit: its own transaction outside
 * tt_db_begin, a savepoint inside (so a failure undoes only this write).
 * db_write_end commits (rc == 0) or undoes it, and returns rc or the
 * commit's failure. */
int db_write_begin(tt_db *db, tt_err *err);
int db_write_end(tt_db *db, int rc, tt_err *err);

/* Insert-or-get a kernel, inside the caller's write. */
int db_kernel_get(tt_db *db, const char *wkey, const char *class_key, const tt_dag *dag,
                  int64_t *id, tt_err *err);

/* Wall-clock Unix time in seconds. */
double db_now(void);

/* The columns of a records row in the order tt_db_raw lists them, for
 * SELECT DB_RECORD_COLS FROM records r LEFT JOIN ...; db_read_raw fills a
 * tt_db_raw from a statement stepped to such a row (pointers valid until
 * the next step). */
#define DB_RECORD_COLS                                                                             \
    "r.id, r.kernel, r.steps, r.line, r.costs, r.mean_cost, r.error_no, r.cpu, r.isa, "            \
    "r.threads, r.origin, r.source_model, r.created"
void db_read_raw(sqlite3_stmt *st, tt_db_raw *raw);

/* ---- valid.c: is a row usable -------------------------------------------- */

/* What db_row_usable found. */
enum {
    DB_ROW_OK = 0,               /* usable; its steps replay on its kernel's DAG */
    DB_ROW_UNCHECKED,            /* usable as far as can be told: the kernel's DAG
                                    could not be rebuilt, so replay was not tried */
    DB_ROW_BAD                   /* refused; why says why ("record N: ...") */
};

/* Check a raw row as every reader does: tt_db_row_to_record, and its steps
 * replayed on its kernel's DAG (rebuilt from the kernel's workload key and
 * print; load_models: also by loading the models that hold the kernel, which
 * takes up to a second per model, for `db check` and import).  Returns a
 * DB_ROW_* value with *row filled when not DB_ROW_BAD, or -1 with err set on
 * a database error. */
int db_row_usable(tt_db *db, const tt_db_raw *raw, int load_models, tt_db_row *row, tt_err *why,
                  tt_err *err);

/* The DAG of kernel `kernel`, rebuilt (cached on the handle; owned by it):
 * 1 with *dag set, 0 if it cannot be rebuilt (*dag NULL), 2 if there is no
 * such kernel, -1 on a database error. */
int db_kernel_dag(tt_db *db, int64_t kernel, int load_models, const tt_dag **dag, tt_err *err);

/* Every step of rec applies to a fresh state of d (tt_state_apply_all; err
 * says which does not). */
int db_replay(const tt_dag *d, const tt_record *rec, tt_err *err);

/* A reader skipped row id (why: the reason): counted once per id, for the
 * one warning tt_db_close gives. */
void db_skip(tt_db *db, int64_t id, const char *why);

/* Free the handle's caches and give the skipped-rows warning, if any. */
void db_valid_close(tt_db *db);

#endif
