/* db_int.h - internals shared by the files of src/db: the connection and
 * small SQLite helpers that turn SQLite's errors into tt_err messages. */
#ifndef TT_DB_INT_H
#define TT_DB_INT_H

#include <sqlite3.h>

#include "db.h"

struct tt_db {
    sqlite3 *h;
    char *path;
    int readonly;
    int in_txn;                  /* inside tt_db_begin ... commit/rollback */
    int depth;                   /* db_write_begin nesting */
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

#endif
