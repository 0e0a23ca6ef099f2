/* check.c - `db check`: every records row judged as the readers judge it
 * (valid.c), the bad ones listed and, on request, moved aside.
 *
 * A bad row is moved, not deleted: records_bad keeps its columns as they
 * were, with the reason, so that a row refused by mistake (a kernel whose
 * DAG a later transtune rebuilds differently) can be put back by hand.
 */
#include "db_int.h"

#include <stdlib.h>
#include <string.h>

/* The quarantine: no constraints, a bad row must fit whatever it holds. */
static const char records_bad_sql[] =
    "CREATE TABLE IF NOT EXISTS records_bad(\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  record_id INTEGER NOT NULL,\n"
    "  kernel, steps, line, costs, mean_cost, error_no, cpu, isa, threads, origin,\n"
    "  source_model, created,\n"
    "  why TEXT NOT NULL,\n"
    "  moved REAL NOT NULL)";

typedef struct chk_bad {
    int64_t id;
    char *why;
} chk_bad;

static int cmp_bad(const void *a, const void *b)
{
    const chk_bad *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* Judge every row; the bad ones into *bad (malloc'ed, *nbad). */
static int chk_rows(tt_db *db, tt_db_check_result *r, chk_bad **bad, int *nbad, tt_err *err)
{
    /* kernel by kernel, and kernels grouped by the first model holding them,
     * so that rebuilding DAGs loads each model once */
    sqlite3_stmt *st;
    if (db_prepare(db, "SELECT " DB_RECORD_COLS " FROM records r ORDER BY (SELECT min(model) "
                       "FROM model_kernels WHERE kernel = r.kernel), r.kernel, r.id", &st, err))
        return -1;
    tt_db_row *row = tt_xmalloc(sizeof *row);
    int rc, ret = 0, cap = 0;
    int64_t last_unchecked = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        tt_db_raw raw;
        tt_err why = {0};
        db_read_raw(st, &raw);
        r->records++;
        int u = db_row_usable(db, &raw, 1, row, &why, err);
        if (u < 0) {
            ret = -1;
            break;
        }
        if (u == DB_ROW_UNCHECKED) {
            r->unchecked++;
            r->kernels_unchecked += raw.kernel != last_unchecked;
            last_unchecked = raw.kernel;
        } else if (u == DB_ROW_BAD) {
            if (*nbad == cap) {
                cap = cap ? 2 * cap : 16;
                *bad = tt_xrealloc(*bad, (size_t)cap * sizeof **bad);
            }
            (*bad)[(*nbad)++] = (chk_bad){raw.id, tt_xstrdup(why.msg)};
            r->bad++;
        }
    }
    if (ret == 0 && rc != SQLITE_DONE)
        ret = db_fail(db, err, "reading records");
    free(row);
    sqlite3_finalize(st);
    return ret;
}

/* Move the bad rows into records_bad, all in one write. */
static int chk_move(tt_db *db, const chk_bad *bad, int n, int64_t *moved, tt_err *err)
{
    if (db_write_begin(db, err))
        return -1;
    sqlite3_stmt *ins = NULL, *del = NULL;
    int rc = db_exec(db, records_bad_sql, err);
    if (rc == 0)
        rc = db_prepare(db, "INSERT INTO records_bad(record_id, kernel, steps, line, costs, "
                            "mean_cost, error_no, cpu, isa, threads, origin, source_model, "
                            "created, why, moved) SELECT id, kernel, steps, line, costs, "
                            "mean_cost, error_no, cpu, isa, threads, origin, source_model, "
                            "created, ?, ? FROM records WHERE id = ?", &ins, err);
    if (rc == 0)
        rc = db_prepare(db, "DELETE FROM records WHERE id = ?", &del, err);
    double now = db_now();
    for (int i = 0; rc == 0 && i < n; i++) {
        sqlite3_reset(ins);
        db_bind_text(ins, 1, bad[i].why);
        sqlite3_bind_double(ins, 2, now);
        sqlite3_bind_int64(ins, 3, bad[i].id);
        sqlite3_reset(del);
        sqlite3_bind_int64(del, 1, bad[i].id);
        if (sqlite3_step(ins) != SQLITE_DONE || sqlite3_step(del) != SQLITE_DONE)
            rc = db_fail(db, err, "moving a bad record into records_bad");
        else
            (*moved)++;
    }
    sqlite3_finalize(ins);
    sqlite3_finalize(del);
    rc = db_write_end(db, rc, err);
    if (rc)
        *moved = 0; /* all or none */
    return rc;
}

int tt_db_check_records(tt_db *db, int fix, tt_db_bad_fn fn, void *ctx, tt_db_check_result *r,
                        tt_err *err)
{
    memset(r, 0, sizeof *r);
    if (fix && db->readonly)
        return tt_err_set(err, "database %s is open read-only", db->path);
    chk_bad *bad = NULL;
    int nbad = 0;
    int rc = chk_rows(db, r, &bad, &nbad, err);
    if (rc == 0) {
        if (nbad > 1)
            qsort(bad, (size_t)nbad, sizeof *bad, cmp_bad);
        for (int i = 0; fn && i < nbad; i++)
            fn(ctx, bad[i].id, bad[i].why);
        if (fix && nbad > 0)
            rc = chk_move(db, bad, nbad, &r->moved, err);
    }
    for (int i = 0; i < nbad; i++)
        free(bad[i].why);
    free(bad);
    return rc;
}
