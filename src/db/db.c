/* db.c - the record database: opening, the versioned schema, transactions,
 * and the writers (models, kernels, records, curves).  Readers are in
 * query.c, the row checker in row.c, whether a row is usable (replays on
 * its kernel) in valid.c, the Ansor log importer in import.c.
 *
 * Schema versions: PRAGMA user_version holds the version of the schema a
 * file was written with; migrations[v] takes a file from version v to v + 1
 * (version 0 is an empty file, so migrations[0] creates the tables).  Every
 * migration is idempotent (IF NOT EXISTS, a column looked for before it is
 * added), so a file whose user_version was set back by hand migrates again
 * instead of failing half-way.  A file from a newer transtune is refused
 * rather than guessed at.
 */
#define _POSIX_C_SOURCE 200809L
#include "db_int.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

const char *const tt_origin_names[TT_ORIGIN_COUNT] = {
    [TT_ORIGIN_TUNED] = "tuned",
    [TT_ORIGIN_TRANSFERRED] = "transferred",
    [TT_ORIGIN_IMPORTED] = "imported",
};
_Static_assert(sizeof tt_origin_names / sizeof tt_origin_names[0] == TT_ORIGIN_COUNT,
               "tt_origin_names");

int tt_origin_parse(const char *s)
{
    for (int i = 0; s && i < TT_ORIGIN_COUNT; i++)
        if (!strcmp(s, tt_origin_names[i]))
            return i;
    return -1;
}

/* ---- schema ------------------------------------------------------------------ */

/* Version 0 -> 1: the first schema.  The CHECKs keep what the reader refuses
 * anyway (an unknown origin, a negative error code) out of the file.  IF NOT
 * EXISTS: a file whose user_version was set back by hand already has them. */
static const char schema_v1[] =
    "CREATE TABLE IF NOT EXISTS models(\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  name TEXT NOT NULL UNIQUE,\n"
    "  source TEXT NOT NULL,\n"
    "  created REAL NOT NULL);\n"
    "CREATE TABLE IF NOT EXISTS kernels(\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  workload_key TEXT NOT NULL UNIQUE,\n"
    "  class_key TEXT NOT NULL,\n"
    "  dag TEXT NOT NULL,\n"
    "  flops REAL NOT NULL,\n"
    "  created REAL NOT NULL);\n"
    "CREATE INDEX IF NOT EXISTS kernels_class ON kernels(class_key);\n"
    "CREATE TABLE IF NOT EXISTS model_kernels(\n"
    "  model INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,\n"
    "  kernel INTEGER NOT NULL REFERENCES kernels(id),\n"
    "  weight INTEGER NOT NULL CHECK(weight >= 0),\n"
    "  PRIMARY KEY(model, kernel)) WITHOUT ROWID;\n"
    "CREATE INDEX IF NOT EXISTS model_kernels_kernel ON model_kernels(kernel);\n"
    "CREATE TABLE IF NOT EXISTS records(\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  kernel INTEGER NOT NULL REFERENCES kernels(id),\n"
    "  steps TEXT NOT NULL,\n"
    "  line TEXT NOT NULL,\n"
    "  costs TEXT NOT NULL,\n"
    "  mean_cost REAL,\n"
    "  error_no INTEGER NOT NULL CHECK(error_no >= 0),\n"
    "  cpu TEXT NOT NULL,\n"
    "  isa TEXT NOT NULL,\n"
    "  threads INTEGER NOT NULL CHECK(threads >= 0),\n"
    "  origin TEXT NOT NULL CHECK(origin IN ('tuned', 'transferred', 'imported')),\n"
    "  source_model INTEGER REFERENCES models(id),\n"
    "  created REAL NOT NULL);\n"
    /* "best record of kernel K on target T": equality on kernel and target,
     * then the lowest cost straight from the index. */
    "CREATE INDEX IF NOT EXISTS records_best\n"
    "  ON records(kernel, cpu, isa, threads, error_no, mean_cost);\n"
    /* "records of model M" goes model_kernels(model) -> records_best(kernel);
     * "records that came from model M" uses this one. */
    "CREATE INDEX IF NOT EXISTS records_source ON records(source_model);\n"
    "CREATE TABLE IF NOT EXISTS curves(\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  model INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,\n"
    "  cpu TEXT NOT NULL,\n"
    "  isa TEXT NOT NULL,\n"
    "  threads INTEGER NOT NULL,\n"
    "  search_s REAL NOT NULL,\n"
    "  trials INTEGER NOT NULL,\n"
    "  est_latency REAL,\n"
    "  meas_latency REAL,\n"
    "  created REAL NOT NULL);\n"
    "CREATE INDEX IF NOT EXISTS curves_model ON curves(model, search_s);\n";

/* Version 1 -> 2: each measured checkpoint also keeps the untuned model's
 * latency timed alternately with it, so a curve's speedups are ratios of
 * measurements from one window (the machine's speed drifts over minutes).
 * SQLite has no ADD COLUMN IF NOT EXISTS: the column is looked for first, so
 * that a version 2 file labelled 1 by hand migrates instead of failing with
 * "duplicate column name". */
static int db_has_column(tt_db *db, const char *table, const char *column, tt_err *err);

static int schema_v2(tt_db *db, tt_err *err)
{
    int has = db_has_column(db, "curves", "meas_untuned", err);
    if (has < 0)
        return -1;
    return has ? 0 : db_exec(db, "ALTER TABLE curves ADD COLUMN meas_untuned REAL", err);
}

static int schema_v1_run(tt_db *db, tt_err *err) { return db_exec(db, schema_v1, err); }

/* migrations[v] takes a file from version v to v + 1.  Each is idempotent:
 * run on a file that already has its change, it changes nothing. */
typedef int (*db_migration)(tt_db *db, tt_err *err);
static const db_migration migrations[TT_DB_SCHEMA_VERSION] = {schema_v1_run, schema_v2};

/* ---- helpers ------------------------------------------------------------------- */

int db_fail(tt_db *db, tt_err *err, const char *what)
{
    return tt_err_set(err, "database %s: %s: %s", db->path, what, sqlite3_errmsg(db->h));
}

int db_exec(tt_db *db, const char *sql, tt_err *err)
{
    char *msg = NULL;
    if (sqlite3_exec(db->h, sql, NULL, NULL, &msg) != SQLITE_OK) {
        tt_err_set(err, "database %s: %s", db->path, msg ? msg : sqlite3_errmsg(db->h));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

int db_prepare(tt_db *db, const char *sql, sqlite3_stmt **st, tt_err *err)
{
    if (sqlite3_prepare_v2(db->h, sql, -1, st, NULL) != SQLITE_OK) {
        *st = NULL;
        return db_fail(db, err, "preparing a statement");
    }
    return 0;
}

int db_bind_text(sqlite3_stmt *st, int i, const char *s)
{
    return s ? sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(st, i);
}

double db_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int db_write_begin(tt_db *db, tt_err *err)
{
    if (db->readonly)
        return tt_err_set(err, "database %s is open read-only", db->path);
    int nested = db->in_txn || db->depth > 0;
    if (db_exec(db, nested ? "SAVEPOINT tt_write" : "BEGIN IMMEDIATE", err))
        return -1;
    db->depth++;
    return 0;
}

int db_write_end(tt_db *db, int rc, tt_err *err)
{
    db->depth--;
    if (db->in_txn || db->depth > 0) {
        if (rc)
            sqlite3_exec(db->h, "ROLLBACK TO tt_write", NULL, NULL, NULL);
        if (db_exec(db, "RELEASE tt_write", err))
            return -1;
        return rc;
    }
    if (rc == 0 && db_exec(db, "COMMIT", err) == 0)
        return 0;
    /* A failed COMMIT leaves the transaction open (SQLITE_BUSY): undo it. */
    if (!sqlite3_get_autocommit(db->h))
        sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

/* One integer from a query such as "PRAGMA user_version". */
static int db_int_query(tt_db *db, const char *sql, int64_t *v, tt_err *err)
{
    sqlite3_stmt *st;
    if (db_prepare(db, sql, &st, err))
        return -1;
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        db_fail(db, err, "reading the header");
        sqlite3_finalize(st);
        return -1;
    }
    *v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return 0;
}

/* 1 if table has the column, 0 if not, -1 on error. */
static int db_has_column(tt_db *db, const char *table, const char *column, tt_err *err)
{
    sqlite3_stmt *st;
    if (db_prepare(db, "SELECT count(*) FROM pragma_table_info(?) WHERE name = ?", &st, err))
        return -1;
    db_bind_text(st, 1, table);
    db_bind_text(st, 2, column);
    int rc = sqlite3_step(st);
    int has = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) > 0
                               : db_fail(db, err, "reading a table's columns");
    sqlite3_finalize(st);
    return has;
}

/* ---- opening ------------------------------------------------------------------ */

const char *tt_db_path(const tt_db *db) { return db->path; }

/* Bring a file of schema version `from` up to TT_DB_SCHEMA_VERSION, inside
 * one write transaction.  The version is read again under the write lock:
 * another process may have migrated the file meanwhile. */
static int db_migrate(tt_db *db, tt_err *err)
{
    if (db_exec(db, "BEGIN IMMEDIATE", err))
        return -1;
    int64_t v = 0;
    int rc = db_int_query(db, "PRAGMA user_version", &v, err);
    for (; rc == 0 && v < TT_DB_SCHEMA_VERSION; v++)
        rc = migrations[v](db, err);
    if (rc == 0) {
        char sql[128];
        snprintf(sql, sizeof sql, "PRAGMA user_version = %d; PRAGMA application_id = %d",
                 TT_DB_SCHEMA_VERSION, TT_DB_APPLICATION_ID);
        rc = db_exec(db, sql, err);
    }
    if (rc) {
        tt_err_prefix(err, "migrating to schema version %d", TT_DB_SCHEMA_VERSION);
        sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return db_exec(db, "COMMIT", err);
}

/* 1 if path and the folder that holds it are writable (SQLite creates the
 * -wal and -shm files beside the database). */
static int db_writable(const char *path)
{
    if (access(path, W_OK) != 0)
        return 0;
    char *dir = tt_xstrdup(path);
    char *slash = strrchr(dir, '/');
    int ok;
    if (!slash)
        ok = access(".", W_OK) == 0;
    else if (slash == dir)
        ok = access("/", W_OK) == 0;
    else {
        *slash = 0;
        ok = access(dir, W_OK) == 0;
    }
    free(dir);
    return ok;
}

int tt_db_open(const char *path, int flags, tt_db **out, tt_err *err)
{
    *out = NULL;
    if (!path || !*path)
        return tt_err_set(err, "database: empty path");
    int ro = (flags & TT_DB_READONLY) != 0;
    if (ro && access(path, F_OK) != 0)
        return tt_err_set(err, "database %s does not exist", path);
    tt_db *db = tt_xcalloc(1, sizeof *db);
    db->path = tt_xstrdup(path);
    db->readonly = ro;
    /* Read-only, where the file and its folder are writable: opened for
     * writing with PRAGMA query_only.  A connection opened SQLITE_OPEN_READONLY
     * creates the WAL's -wal and -shm files but may not remove them, so
     * every stats or export left two empty files behind; this one is removed
     * by SQLite itself when the last connection closes.  Elsewhere (a
     * write-protected file or folder) truly read-only. */
    int oflags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    if (ro)
        oflags = db_writable(path) ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY;
    if (sqlite3_open_v2(path, &db->h, oflags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        if (db->h)
            db_fail(db, err, "cannot open");
        else
            tt_err_set(err, "database %s: cannot open (out of memory)", path);
        tt_db_close(db);
        return -1;
    }
    sqlite3_extended_result_codes(db->h, 1);
    sqlite3_busy_timeout(db->h, TT_DB_BUSY_MS);

    /* the three read in one transaction, one snapshot: read one by one, a
     * second process opening a fresh file while the first created it saw
     * user_version 0 before the first's commit and its 5 tables after, and
     * refused the file as "not a transtune database" (cli/tune_two_at_once
     * on a loaded host) */
    int64_t version = 0, app = 0, ntables = 0;
    if (db_exec(db, "BEGIN", err))
        goto fail;
    int qrc = db_int_query(db, "PRAGMA user_version", &version, err) ||
              db_int_query(db, "PRAGMA application_id", &app, err) ||
              db_int_query(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table'", &ntables, err);
    sqlite3_exec(db->h, qrc ? "ROLLBACK" : "COMMIT", NULL, NULL, NULL);
    if (qrc)
        goto fail;
    if (app != 0 && app != TT_DB_APPLICATION_ID) {
        tt_err_set(err, "database %s is not a transtune database (application id 0x%llx)", path,
                   (unsigned long long)app);
        goto fail;
    }
    if (version > TT_DB_SCHEMA_VERSION) {
        tt_err_set(err, "database %s has schema version %lld; this transtune reads up to %d", path,
                   (long long)version, TT_DB_SCHEMA_VERSION);
        goto fail;
    }
    /* Version 0 with tables is some other program's file, unless it carries
     * our application id: then its user_version was set back by hand, and
     * the (idempotent) migrations bring it up again. */
    if (version < 0 || (version == 0 && ntables > 0 && app != TT_DB_APPLICATION_ID)) {
        tt_err_set(err, "database %s is not a transtune database (schema version %lld, %lld tables)",
                   path, (long long)version, (long long)ntables);
        goto fail;
    }
    if (!ro) {
        /* WAL: readers never block the writer; NORMAL sync: a commit survives
         * the process being killed (the OS holds the WAL), and a power cut
         * can lose the last commits but never corrupts the file. */
        /* the switch does not wait on the busy handler: a second process
         * opening a fresh file at the same moment got "database is locked";
         * retried for as long as the busy timeout */
        int wal = 0;
        for (int tries = 0; tries * 20 <= TT_DB_BUSY_MS; tries++) {
            sqlite3_stmt *st;
            if (db_prepare(db, "PRAGMA journal_mode = WAL", &st, err))
                goto fail;
            int rc = sqlite3_step(st);
            const char *mode = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
            wal = mode && !strcmp(mode, "wal");
            sqlite3_finalize(st);
            if (wal || (rc != SQLITE_BUSY && rc != SQLITE_LOCKED))
                break;
            sqlite3_sleep(20);
        }
        if (!wal) {
            db_fail(db, err, "cannot switch to WAL mode");
            goto fail;
        }
        if (db_exec(db, "PRAGMA synchronous = NORMAL", err))
            goto fail;
    }
    if (db_exec(db, "PRAGMA foreign_keys = ON", err) ||
        (ro && db_exec(db, "PRAGMA query_only = ON", err)))
        goto fail;
    if (version < TT_DB_SCHEMA_VERSION) {
        if (ro) {
            tt_err_set(err, "database %s has schema version %lld; open it for writing once to "
                       "migrate it to version %d", path, (long long)version, TT_DB_SCHEMA_VERSION);
            goto fail;
        }
        if (db_migrate(db, err))
            goto fail;
    }
    *out = db;
    return 0;
fail:
    tt_db_close(db);
    return -1;
}

void tt_db_close(tt_db *db)
{
    if (!db)
        return;
    if (db->h) {
        if (!sqlite3_get_autocommit(db->h))
            sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
        sqlite3_close_v2(db->h);
    }
    db_valid_close(db);
    free(db->path);
    free(db);
}

int tt_db_begin(tt_db *db, tt_err *err)
{
    if (db->in_txn)
        return tt_err_set(err, "database %s: a transaction is already open", db->path);
    if (db->readonly)
        return tt_err_set(err, "database %s is open read-only", db->path);
    if (db_exec(db, "BEGIN IMMEDIATE", err))
        return -1;
    db->in_txn = 1;
    return 0;
}

int tt_db_commit(tt_db *db, tt_err *err)
{
    if (!db->in_txn)
        return tt_err_set(err, "database %s: commit without a transaction", db->path);
    db->in_txn = 0;
    if (db_exec(db, "COMMIT", err) == 0)
        return 0;
    if (!sqlite3_get_autocommit(db->h))
        sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

void tt_db_rollback(tt_db *db)
{
    if (db->in_txn && !sqlite3_get_autocommit(db->h))
        sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
    db->in_txn = 0;
}

/* Collect the rows of a checking pragma; "ok" (integrity) or no rows
 * (foreign keys) is clean. */
static int db_check_pragma(tt_db *db, const char *sql, int ok_row, tt_err *err)
{
    sqlite3_stmt *st;
    if (db_prepare(db, sql, &st, err))
        return -1;
    int rc, bad = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *t = (const char *)sqlite3_column_text(st, 0);
        if (ok_row && t && !strcmp(t, "ok"))
            continue;
        if (!bad) {
            if (ok_row)
                tt_err_set(err, "database %s: integrity check: %s", db->path, t ? t : "?");
            else
                tt_err_set(err, "database %s: foreign key check: table %s row %lld refers to a "
                           "missing row of %s", db->path, t ? t : "?",
                           (long long)sqlite3_column_int64(st, 1),
                           sqlite3_column_text(st, 2) ? (const char *)sqlite3_column_text(st, 2)
                                                      : "?");
        }
        bad = 1;
    }
    if (rc != SQLITE_DONE && !bad) {
        db_fail(db, err, "integrity check");
        bad = 1;
    }
    sqlite3_finalize(st);
    return bad ? -1 : 0;
}

int tt_db_check(tt_db *db, tt_err *err)
{
    if (db_check_pragma(db, "PRAGMA integrity_check", 1, err) ||
        db_check_pragma(db, "PRAGMA foreign_key_check", 0, err))
        return -1;
    return 0;
}

/* ---- models and kernels ------------------------------------------------------------ */

/* Run `sql` (one text parameter, at most one row wanted) with key.  Returns 1
 * with *st on the row (the caller reads it and finalizes), 0 if there is no
 * row, -1 with err set ("WHAT: ..."); in both the latter *st is finalized. */
static int db_row_by_key(tt_db *db, const char *sql, const char *key, const char *what,
                         sqlite3_stmt **st, tt_err *err)
{
    if (db_prepare(db, sql, st, err))
        return -1;
    db_bind_text(*st, 1, key);
    int rc = sqlite3_step(*st);
    if (rc == SQLITE_ROW)
        return 1;
    int found = rc == SQLITE_DONE ? 0 : db_fail(db, err, what);
    sqlite3_finalize(*st);
    *st = NULL;
    return found;
}

int tt_db_model_id(tt_db *db, const char *name, int64_t *id, tt_err *err)
{
    sqlite3_stmt *st;
    int found = db_row_by_key(db, "SELECT id FROM models WHERE name = ?", name,
                              "looking up a model", &st, err);
    if (found == 1) {
        *id = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    return found;
}

int tt_db_find_kernel(tt_db *db, const char *workload_key, int64_t *id, tt_err *err)
{
    sqlite3_stmt *st;
    int found = db_row_by_key(db, "SELECT id FROM kernels WHERE workload_key = ?", workload_key,
                              "looking up a kernel", &st, err);
    if (found == 1) {
        *id = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    return found;
}

int tt_db_kernel_print(tt_db *db, const char *workload_key, char **print, tt_err *err)
{
    *print = NULL;
    sqlite3_stmt *st;
    int found = db_row_by_key(db, "SELECT dag FROM kernels WHERE workload_key = ?", workload_key,
                              "reading a kernel's DAG", &st, err);
    if (found == 1) {
        const unsigned char *t = sqlite3_column_text(st, 0);
        *print = tt_xstrdup(t ? (const char *)t : "");
        sqlite3_finalize(st);
    }
    return found;
}

int db_kernel_get(tt_db *db, const char *wkey, const char *class_key, const tt_dag *dag,
                        int64_t *id, tt_err *err)
{
    int found = tt_db_find_kernel(db, wkey, id, err);
    if (found)
        return found < 0 ? -1 : 0;
    char *print = tt_dag_print(dag, 0);
    sqlite3_stmt *st;
    int rc = -1;
    if (db_prepare(db, "INSERT INTO kernels(workload_key, class_key, dag, flops, created) "
                       "VALUES (?, ?, ?, ?, ?)", &st, err) == 0) {
        db_bind_text(st, 1, wkey);
        db_bind_text(st, 2, class_key);
        db_bind_text(st, 3, print ? print : "");
        sqlite3_bind_double(st, 4, dag->flops);
        sqlite3_bind_double(st, 5, db_now());
        if (sqlite3_step(st) == SQLITE_DONE) {
            *id = sqlite3_last_insert_rowid(db->h);
            rc = 0;
        } else {
            db_fail(db, err, "inserting a kernel");
        }
        sqlite3_finalize(st);
    }
    free(print);
    return rc;
}

int tt_db_kernel_id(tt_db *db, const char *workload_key, const char *class_key, const tt_dag *dag,
                    int64_t *id, tt_err *err)
{
    char *own = workload_key ? NULL : tt_dag_workload_key(dag);
    const char *wkey = workload_key ? workload_key : own;
    int found = tt_db_find_kernel(db, wkey, id, err);
    if (found) {
        free(own);
        return found < 0 ? -1 : 0;
    }
    int rc = db_write_begin(db, err);
    if (rc == 0)
        rc = db_write_end(db, db_kernel_get(db, wkey, class_key ? class_key : dag->class_key, dag,
                                           id, err), err);
    free(own);
    return rc;
}

int tt_db_add_model(tt_db *db, const char *name, const char *source, const tt_model *m,
                    int64_t *model_id, int64_t *kernel_ids, tt_err *err)
{
    if (!name || !*name)
        return tt_err_set(err, "database %s: a model needs a name", db->path);
    if (db_write_begin(db, err))
        return -1;
    int rc = 0;
    int64_t mid = 0;
    sqlite3_stmt *st = NULL;
    int found = tt_db_model_id(db, name, &mid, err);
    if (found < 0) {
        rc = -1;
    } else if (found) {
        rc = db_prepare(db, "UPDATE models SET source = ? WHERE id = ?", &st, err);
        if (rc == 0) {
            db_bind_text(st, 1, source ? source : "");
            sqlite3_bind_int64(st, 2, mid);
            if (sqlite3_step(st) != SQLITE_DONE)
                rc = db_fail(db, err, "updating a model");
            sqlite3_finalize(st);
        }
        /* The kernel list is replaced: a model rebuilt by a newer transtune
         * may have different kernels. */
        if (rc == 0 && m) {
            rc = db_prepare(db, "DELETE FROM model_kernels WHERE model = ?", &st, err);
            if (rc == 0) {
                sqlite3_bind_int64(st, 1, mid);
                if (sqlite3_step(st) != SQLITE_DONE)
                    rc = db_fail(db, err, "updating a model's kernels");
                sqlite3_finalize(st);
            }
        }
    } else {
        rc = db_prepare(db, "INSERT INTO models(name, source, created) VALUES (?, ?, ?)", &st, err);
        if (rc == 0) {
            db_bind_text(st, 1, name);
            db_bind_text(st, 2, source ? source : "");
            sqlite3_bind_double(st, 3, db_now());
            if (sqlite3_step(st) == SQLITE_DONE)
                mid = sqlite3_last_insert_rowid(db->h);
            else
                rc = db_fail(db, err, "inserting a model");
            sqlite3_finalize(st);
        }
    }
    /* every kernel, the Winograd twins included (weight 0: an alternative
     * compute, called only where it is chosen over its direct kernel) */
    for (int k = 0; rc == 0 && m && k < m->nkernels; k++) {
        const tt_kernel *K = &m->kernels[k];
        int64_t kid;
        rc = db_kernel_get(db, K->workload_key, K->dag->class_key, K->dag, &kid, err);
        if (rc)
            break;
        if (kernel_ids)
            kernel_ids[k] = kid;
        /* The same kernel twice in one model cannot happen (kernels are
         * deduplicated by key), but adding weights keeps it right if it did. */
        rc = db_prepare(db, "INSERT INTO model_kernels(model, kernel, weight) VALUES (?, ?, ?) "
                            "ON CONFLICT(model, kernel) DO UPDATE SET weight = weight + excluded.weight",
                        &st, err);
        if (rc)
            break;
        sqlite3_bind_int64(st, 1, mid);
        sqlite3_bind_int64(st, 2, kid);
        sqlite3_bind_int64(st, 3, K->alt_of >= 0 ? 0 : K->weight);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = db_fail(db, err, "linking a kernel to its model");
        sqlite3_finalize(st);
    }
    rc = db_write_end(db, rc, err);
    if (rc == 0 && model_id)
        *model_id = mid;
    if (rc)
        tt_err_prefix(err, "adding model %s", name);
    return rc;
}

/* ---- records ----------------------------------------------------------------------- */

/* The costs column: a JSON array of doubles, printed so they read back exact. */
static char *db_costs_json(const tt_record *r)
{
    json_t *a = json_array();
    for (int i = 0; i < r->ncosts; i++)
        json_array_append_new(a, json_real(r->costs[i]));
    char *s = json_dumps(a, JSON_COMPACT | JSON_REAL_PRECISION(17));
    json_decref(a);
    return s;
}

/* The kernel's workload key, for a record that has none. */
static int db_kernel_key(tt_db *db, int64_t kernel, char *out, size_t n, tt_err *err)
{
    sqlite3_stmt *st;
    if (db_prepare(db, "SELECT workload_key FROM kernels WHERE id = ?", &st, err))
        return -1;
    sqlite3_bind_int64(st, 1, kernel);
    int rc = -1;
    if (sqlite3_step(st) == SQLITE_ROW) {
        const char *k = (const char *)sqlite3_column_text(st, 0);
        if (k && strlen(k) < n) {
            memcpy(out, k, strlen(k) + 1);
            rc = 0;
        } else {
            tt_err_set(err, "database %s: kernel %lld: workload key missing or longer than %zu",
                       db->path, (long long)kernel, n - 1);
        }
    } else {
        tt_err_set(err, "database %s: no kernel %lld", db->path, (long long)kernel);
    }
    sqlite3_finalize(st);
    return rc;
}

static int db_insert_record(tt_db *db, sqlite3_stmt *st, const tt_db_rec *r, int64_t *id,
                            tt_err *err)
{
    const tt_record *rec = r->rec;
    tt_record *filled = NULL;
    if ((int)r->origin < 0 || r->origin >= TT_ORIGIN_COUNT)
        return tt_err_set(err, "record: bad origin %d", (int)r->origin);
    if (rec->error_no < 0 || rec->ncosts < 0 || rec->ncosts > TT_MAX_COSTS || rec->nsteps < 0 ||
        rec->nsteps > TT_MAX_STEPS)
        return tt_err_set(err, "record: error code, costs or steps out of range");
    if (!rec->workload_key[0]) {
        filled = tt_xmalloc(sizeof *filled);
        memcpy(filled, rec, sizeof *filled);
        if (db_kernel_key(db, r->kernel, filled->workload_key, sizeof filled->workload_key, err)) {
            free(filled);
            return -1;
        }
        rec = filled;
    }
    char *line = tt_record_write(rec);
    char *steps = tt_steps_write(rec->steps, rec->nsteps);
    char *costs = db_costs_json(rec);
    int rc = 0;
    if (!line || !steps || !costs) {
        rc = tt_err_set(err, "record: cannot be written as an Ansor log line");
        goto done;
    }
    /* The reader checks a row against its own line; a record that would not
     * read back (e.g. a workload key the parser refuses) is refused now. */
    {
        tt_record *back = tt_xmalloc(sizeof *back);
        tt_err e = {0};
        if (tt_record_parse(line, back, &e))
            rc = tt_err_set(err, "record: its log line does not read back: %s", e.msg);
        free(back);
        if (rc)
            goto done;
    }
    double mean = 0;
    for (int i = 0; i < rec->ncosts; i++)
        mean += rec->costs[i];
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    sqlite3_bind_int64(st, 1, r->kernel);
    db_bind_text(st, 2, steps);
    db_bind_text(st, 3, line);
    db_bind_text(st, 4, costs);
    if (rec->ncosts > 0)
        sqlite3_bind_double(st, 5, mean / rec->ncosts);
    sqlite3_bind_int64(st, 6, rec->error_no);
    db_bind_text(st, 7, r->target ? r->target->cpu : "");
    db_bind_text(st, 8, r->target ? r->target->isa : "");
    sqlite3_bind_int64(st, 9, r->target && r->target->threads > 0 ? r->target->threads : 0);
    db_bind_text(st, 10, tt_origin_names[r->origin]);
    if (r->source_model > 0)
        sqlite3_bind_int64(st, 11, r->source_model);
    sqlite3_bind_double(st, 12, db_now());
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = db_fail(db, err, "inserting a record");
    else if (id)
        *id = sqlite3_last_insert_rowid(db->h);
done:
    free(line);
    free(steps);
    free(costs);
    free(filled);
    return rc;
}

int tt_db_add_records(tt_db *db, int n, const tt_db_rec *recs, int64_t *ids, tt_err *err)
{
    if (n <= 0)
        return 0;
    if (db_write_begin(db, err))
        return -1;
    sqlite3_stmt *st;
    int rc = db_prepare(db,
                        "INSERT INTO records(kernel, steps, line, costs, mean_cost, error_no, cpu, "
                        "isa, threads, origin, source_model, created) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        &st, err);
    for (int i = 0; rc == 0 && i < n; i++) {
        rc = db_insert_record(db, st, &recs[i], ids ? &ids[i] : NULL, err);
        if (rc)
            tt_err_prefix(err, "record %d of %d", i + 1, n);
    }
    sqlite3_finalize(st);
    return db_write_end(db, rc, err);
}

/* ---- curves ---------------------------------------------------------------------- */

int tt_db_curve_append(tt_db *db, int64_t model, const tt_db_target *t,
                       const tt_db_curve_point *p, tt_err *err)
{
    if (db_write_begin(db, err))
        return -1;
    sqlite3_stmt *st;
    int rc = db_prepare(db, "INSERT INTO curves(model, cpu, isa, threads, search_s, trials, "
                            "est_latency, meas_latency, created, meas_untuned) "
                            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        &st, err);
    if (rc == 0) {
        sqlite3_bind_int64(st, 1, model);
        db_bind_text(st, 2, t ? t->cpu : "");
        db_bind_text(st, 3, t ? t->isa : "");
        sqlite3_bind_int64(st, 4, t && t->threads > 0 ? t->threads : 0);
        sqlite3_bind_double(st, 5, p->search_s);
        sqlite3_bind_int64(st, 6, p->trials);
        if (p->est_latency >= 0)
            sqlite3_bind_double(st, 7, p->est_latency);
        if (p->meas_latency >= 0)
            sqlite3_bind_double(st, 8, p->meas_latency);
        sqlite3_bind_double(st, 9, db_now());
        if (p->meas_untuned >= 0)
            sqlite3_bind_double(st, 10, p->meas_untuned);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = db_fail(db, err, "appending to a tuning curve");
        sqlite3_finalize(st);
    }
    return db_write_end(db, rc, err);
}

/* ---- the host ------------------------------------------------------------------- */

void tt_db_target_host(tt_db_target *t, int threads)
{
    memset(t, 0, sizeof *t);
    t->threads = threads > 0 ? threads : 0;
    tt_cpu_model(t->cpu, sizeof t->cpu);

#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    const char *isa = __builtin_cpu_supports("avx512f")  ? "avx512"
                      : __builtin_cpu_supports("avx2")   ? "avx2"
                      : __builtin_cpu_supports("avx")    ? "avx"
                      : __builtin_cpu_supports("sse4.2") ? "sse4.2"
                                                         : "sse2";
#elif defined(__aarch64__)
    const char *isa = "neon";
#else
    const char *isa = "";
#endif
    snprintf(t->isa, sizeof t->isa, "%s", isa);
    /* measured elsewhere (the remote runner): the device's, as the CLI sets them */
    const char *ec = getenv("TT_TARGET_CPU"), *ei = getenv("TT_TARGET_ISA");
    if (ec && *ec)
        snprintf(t->cpu, sizeof t->cpu, "%s", ec);
    if (ei && *ei)
        snprintf(t->isa, sizeof t->isa, "%s", ei);
}

/* The database path without --db: $TT_DB, else transtune.db in the user's
 * cache folder ($XDG_CACHE_HOME/transtune, else ~/.cache/transtune, made if
 * missing), else ./transtune.db.  A database in whatever folder the user
 * stands in was lost to the next command run elsewhere. */
const char *tt_db_default_path(void)
{
    static char buf[PATH_MAX];
    const char *e = getenv("TT_DB");
    if (e && *e)
        return e;
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    char dir[PATH_MAX - 32];
    if (xdg && *xdg && xdg[0] == '/')
        snprintf(dir, sizeof dir, "%s/transtune", xdg);
    else if (home && *home)
        snprintf(dir, sizeof dir, "%s/.cache/transtune", home);
    else
        return "transtune.db";
    /* mkdir -p of the last two levels (the cache folder may not exist yet) */
    char *slash = strrchr(dir, '/');
    *slash = 0;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return "transtune.db";
    *slash = '/';
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return "transtune.db";
    snprintf(buf, sizeof buf, "%s/%s", dir, "transtune.db");
    return buf;
}
