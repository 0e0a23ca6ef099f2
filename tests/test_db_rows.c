/* test_db_rows.c - the record database's bad rows: corrupted rows refused
 * or skipped with a message, rows whose steps no longer replay, import
 * replaying every record, `check` over the records and the per-row checks.
 * The helpers are test_db.c's (test_db.h). */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../src/db/db.h"
#include "../src/record/identify.h"
#include "test.h"
#include "test_db.h"

/* A log hook that keeps the messages (tt_db_set_log). */
typedef struct logged {
    int n;
    char msg[2048];
} logged;

static void keep_log(void *ctx, const char *msg)
{
    logged *l = ctx;
    l->n++;
    snprintf(l->msg, sizeof l->msg, "%s", msg);
}

/* Rows edited behind the library's back are refused with the field named:
 * the best-record query skips the row (there is no other: it finds none)
 * and the one warning at close names the record and the field. */
static void test_corrupt_rows(void)
{
    const char *path = tdb_tmp_path();
    CHECK(path);
    tt_err err = {0};
    tt_db *db;
    CHECK_MSG(tt_db_open(path, 0, &db, &err) == 0, "%s", err.msg);
    int64_t kid = 0;
    tt_record *base = tdb_matmul_record(db, &kid);
    tt_record *recs = tt_xcalloc(1, sizeof *recs);
    int rc = -1;
    if (base) {
        tdb_make_batch(recs, 1, base, 1e-3);
        tt_db_rec in = {kid, recs, NULL, TT_ORIGIN_TUNED, 0};
        rc = tt_db_add_records(db, 1, &in, NULL, &err);
    }
    free(base);
    free(recs);
    tt_db_close(db);
    CHECK_MSG(rc == 0, "%s", err.msg);
    static const struct {
        const char *sql, *want;
    } cases[] = {
        {"UPDATE records SET mean_cost = 1e-6", "mean cost"},
        {"UPDATE records SET costs = '[0.001, 0.002]'", "cost 1 differs"},
        {"UPDATE records SET costs = '[0.001'", "costs column is not a JSON array"},
        {"UPDATE records SET steps = '[]'", "steps column (0 steps) differs"},
        {"UPDATE records SET line = substr(line, 1, 40)", "log line does not parse"},
        {"UPDATE records SET threads = 1e12", "threads"},
        {"UPDATE records SET origin = 'guessed'", "unknown origin"},
        {"UPDATE records SET isa = 'avx' || char(9)", "printable"},
    };
    /* A copy of the good row restores it after each case. */
    CHECK(tdb_raw_sql(path, "CREATE TABLE keep_row AS SELECT * FROM records") == 0);
    char fails[512] = "";
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        /* The schema's CHECKs would refuse some of these edits. */
        char sql[512];
        snprintf(sql, sizeof sql, "PRAGMA ignore_check_constraints = 1; %s", cases[i].sql);
        if (tdb_raw_sql(path, sql)) {
            snprintf(fails + strlen(fails), sizeof fails - strlen(fails), "[%s failed] ",
                     cases[i].sql);
            continue;
        }
        tt_err e = {0};
        tt_db_row *row = tt_xmalloc(sizeof *row);
        int got = -2, skipped = 0;
        logged lg = {0};
        if (tt_db_open(path, TT_DB_READONLY, &db, &e) == 0) {
            tt_db_set_log(db, keep_log, &lg);
            char wkey[1024] = "";
            sqlite3 *h;
            sqlite3_open(path, &h);
            sqlite3_stmt *s;
            sqlite3_prepare_v2(h, "SELECT workload_key FROM kernels", -1, &s, NULL);
            if (sqlite3_step(s) == SQLITE_ROW)
                snprintf(wkey, sizeof wkey, "%s", sqlite3_column_text(s, 0));
            sqlite3_finalize(s);
            sqlite3_close(h);
            got = tt_db_best_record(db, wkey, NULL, row, &e);
            skipped = tt_db_skipped(db);
            tt_db_close(db);
        }
        free(row);
        int ok = got == 0 && skipped == 1 && lg.n == 1 && strstr(lg.msg, cases[i].want) &&
                 strstr(lg.msg, "record 1");
        tdb_raw_sql(path, "DELETE FROM records; INSERT INTO records SELECT * FROM keep_row");
        if (!ok && strlen(fails) < 300)
            snprintf(fails + strlen(fails), sizeof fails - strlen(fails), "[%s -> %d %s %s] ",
                     cases[i].sql, got, e.msg, lg.msg);
    }
    tdb_tmp_done();
    CHECK_MSG(!fails[0], "%s", fails);
}

/* Count the rows of a walk. */
static int count_row(void *ctx, const tt_db_row *r)
{
    (*(int *)ctx)++;
    return 0;
}

/* Three good records of the matmul kernel (2, 3 and 4 ms) and, inserted by
 * raw SQL beside them, bad rows a reader must step over: a log line that
 * does not parse with a tiny mean cost (first in ORDER BY mean_cost), text
 * injected into the line, a negative cost, and a success row whose costs are
 * 0 (consistent with its line, so only the cost rule refuses it).  Returns
 * the kernel's workload key (malloc'ed) or NULL. */
static char *plant_bad_rows(const char *path)
{
    tt_err err = {0};
    tt_db *db;
    if (tt_db_open(path, 0, &db, &err))
        return NULL;
    int64_t kid = 0;
    tt_record *base = tdb_matmul_record(db, &kid);
    tt_record *recs = tt_xcalloc(4, sizeof *recs);
    int rc = -1;
    if (base) {
        tdb_make_batch(recs, 3, base, 1e-3);
        for (int i = 0; i < 3; i++)
            recs[i].costs[0] = recs[i].costs[1] = (i + 2) * 1e-3;
        tt_db_rec in[3];
        for (int i = 0; i < 3; i++)
            in[i] = (tt_db_rec){kid, &recs[i], NULL, TT_ORIGIN_TUNED, 0};
        rc = tt_db_add_records(db, 3, in, NULL, &err);
    }
    char *zero_line = NULL;
    if (rc == 0) {
        memcpy(&recs[3], &recs[0], sizeof recs[3]);
        recs[3].costs[0] = recs[3].costs[1] = 0;
        zero_line = tt_record_write(&recs[3]);
    }
    free(base);
    free(recs);
    tt_db_close(db);
    if (rc || !zero_line) {
        fprintf(stderr, "    planting: %s\n", err.msg);
        free(zero_line);
        return NULL;
    }
    const char *copy = "INSERT INTO records(kernel, steps, line, costs, mean_cost, error_no, cpu, isa, "
                       "threads, origin, source_model, created) SELECT kernel, steps, %s, %s, %s, "
                       "error_no, cpu, isa, threads, origin, source_model, created FROM records "
                       "WHERE id = 1";
    char sql[4096];
    int bad = 0;
    snprintf(sql, sizeof sql, copy, "'{\"i\": [[garbage'", "costs", "1e-9");
    bad |= tdb_raw_sql(path, sql);
    snprintf(sql, sizeof sql, copy, "line || char(10) || 'DROP TABLE records;'", "costs", "mean_cost");
    bad |= tdb_raw_sql(path, sql);
    snprintf(sql, sizeof sql, copy, "line", "'[-0.002, -0.002]'", "-0.002");
    bad |= tdb_raw_sql(path, sql);
    char *q = sqlite3_mprintf("%q", zero_line);
    char lit[2048];
    snprintf(lit, sizeof lit, "'%s'", q);
    sqlite3_free(q);
    free(zero_line);
    snprintf(sql, sizeof sql, copy, lit, "'[0.0, 0.0]'", "0");
    bad |= tdb_raw_sql(path, sql);
    char *wkey = NULL;
    sqlite3 *h;
    sqlite3_open(path, &h);
    sqlite3_stmt *s;
    sqlite3_prepare_v2(h, "SELECT workload_key FROM kernels", -1, &s, NULL);
    if (sqlite3_step(s) == SQLITE_ROW)
        wkey = strdup((const char *)sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    sqlite3_close(h);
    if (bad) {
        free(wkey);
        return NULL;
    }
    return wkey;
}

/* The readers step over bad rows: the best record is the best good one (the
 * corrupt row with the tiny cost does not shadow it), a walk and an export
 * see the three good rows only, and nothing fails. */
static void test_bad_rows_skipped(void)
{
    const char *path = tdb_tmp_path();
    CHECK(path);
    char *wkey = plant_bad_rows(path);
    tt_err err = {0};
    tt_db *db = NULL;
    tt_db_row *row = tt_xmalloc(sizeof *row);
    int got = -2, walk = -2, nwalk = 0, ex = -2, skipped = 0;
    int64_t nex = 0;
    logged lg = {0};
    char out[700];
    snprintf(out, sizeof out, "%s/out.json", tdb_tmp_dir);
    if (wkey && tt_db_open(path, TT_DB_READONLY, &db, &err) == 0) {
        tt_db_set_log(db, keep_log, &lg);
        got = tt_db_best_record(db, wkey, NULL, row, &err);
        walk = tt_db_foreach_record(db, 0, wkey, NULL, count_row, &nwalk, &err);
        FILE *f = fopen(out, "w");
        ex = f ? tt_db_export(db, 0, NULL, f, &nex, &err) : -3;
        if (f)
            fclose(f);
        skipped = tt_db_skipped(db);
        tt_db_close(db);
    }
    tdb_lines l = {0};
    tt_log_foreach(out, tdb_collect, &l, &err);
    for (int i = 0; i < l.n; i++)
        free(l.text[i]);
    unlink(out);
    tdb_tmp_done();
    double best = got == 1 ? row->mean_cost : 0;
    free(row);
    CHECK(wkey);
    free(wkey);
    CHECK_MSG(got == 1 && best > 1.999e-3 && best < 2.001e-3, "best: %d, %g: %s", got, best, err.msg);
    CHECK_MSG(walk == 0 && nwalk == 3, "walk: %d, %d rows: %s", walk, nwalk, err.msg);
    CHECK_MSG(ex == 0 && nex == 3 && l.n == 3, "export: %d, %lld records, %d lines: %s", ex,
              (long long)nex, l.n, err.msg);
    /* four bad rows, each met by three readers: one warning, at close */
    CHECK_MSG(skipped == 4 && lg.n == 1 && strstr(lg.msg, "skipped 4 bad records") &&
                  strstr(lg.msg, "transtune db check"),
              "%d skipped, %d warnings: %s", skipped, lg.n, lg.msg);
}

/* Insert rec as a records row of kernel by raw SQL, its costs all `cost`
 * (so the row agrees with itself and only a replay can refuse it); returns
 * the row id or -1. */
static int64_t insert_raw(const char *path, int64_t kernel, tt_record *rec, double cost)
{
    rec->ncosts = 1;
    rec->costs[0] = cost;
    rec->error_no = 0;
    char *line = tt_record_write(rec), *steps = tt_steps_write(rec->steps, rec->nsteps);
    char costs[64];
    snprintf(costs, sizeof costs, "[%.17g]", cost);
    sqlite3 *h;
    sqlite3_stmt *st = NULL;
    int64_t id = -1;
    if (line && steps && sqlite3_open(path, &h) == SQLITE_OK) {
        if (sqlite3_prepare_v2(h, "INSERT INTO records(kernel, steps, line, costs, mean_cost, "
                                  "error_no, cpu, isa, threads, origin, created) VALUES "
                                  "(?, ?, ?, ?, ?, 0, 'cpu', 'avx2', 1, 'imported', 0)",
                               -1, &st, NULL) == SQLITE_OK) {
            sqlite3_bind_int64(st, 1, kernel);
            sqlite3_bind_text(st, 2, steps, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(st, 3, line, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(st, 4, costs, -1, SQLITE_TRANSIENT);
            sqlite3_bind_double(st, 5, cost);
            if (sqlite3_step(st) == SQLITE_DONE)
                id = sqlite3_last_insert_rowid(h);
        }
        sqlite3_finalize(st);
        sqlite3_close(h);
    }
    free(line);
    free(steps);
    return id;
}

/* rec's steps made not to replay on its kernel: the first split's recorded
 * extent no longer the extent it splits.  0, or -1 if rec has no split. */
static int break_steps(tt_record *rec)
{
    for (int i = 0; i < rec->nsteps; i++)
        if (rec->steps[i].tag == TT_STEP_SP && rec->steps[i].extent > 0) {
            rec->steps[i].extent += 1;
            return 0;
        }
    return -1;
}

/* The shared ResNet-50 log imported into path; *rec gets record 1 (of
 * kernel 1, a softmax identify rebuilds) as stored, wkey its kernel's key. */
static int import_resnet(const char *path, tt_record *rec, char *wkey, size_t n)
{
    tt_err err = {0};
    tt_db *db;
    char log[1024];
    tdb_log_path(log, sizeof log, "resnet-50-NHWC-B1-llvm.json");
    if (tt_db_open(path, 0, &db, &err))
        return -1;
    tt_db_import_result r;
    int rc = tt_db_import_log(db, log, NULL, &r, &err);
    tt_db_close(db);
    if (rc || r.imported != 26) {
        fprintf(stderr, "    import: %d imported: %s\n", r.imported, err.msg);
        return -1;
    }
    sqlite3 *h;
    sqlite3_stmt *st;
    rc = -1;
    sqlite3_open(path, &h);
    sqlite3_prepare_v2(h, "SELECT r.line, k.workload_key FROM records r JOIN kernels k ON "
                          "k.id = r.kernel WHERE r.id = 1 AND r.kernel = 1", -1, &st, NULL);
    if (sqlite3_step(st) == SQLITE_ROW &&
        tt_record_parse((const char *)sqlite3_column_text(st, 0), rec, &err) == 0) {
        snprintf(wkey, n, "%s", sqlite3_column_text(st, 1));
        rc = 0;
    }
    sqlite3_finalize(st);
    sqlite3_close(h);
    return rc;
}

/* A row whose steps do not replay on its kernel (it parses, its columns
 * agree, its cost is the lowest) is skipped: the best record is the kernel's
 * good one, as `run --db` must use it, not fall back to the default. */
static void test_unreplayable_row_skipped(void)
{
    const char *path = tdb_tmp_path();
    CHECK(path);
    tt_record *rec = tt_xcalloc(1, sizeof *rec);
    char wkey[1024] = "";
    int64_t bad = -1;
    if (import_resnet(path, rec, wkey, sizeof wkey) == 0 && break_steps(rec) == 0)
        bad = insert_raw(path, 1, rec, 1e-9);
    free(rec);
    tt_err err = {0};
    tt_db *db = NULL;
    tt_db_row *row = tt_xmalloc(sizeof *row);
    int got = -2, skipped = 0, nwalk = 0;
    logged lg = {0};
    if (bad > 0 && tt_db_open(path, TT_DB_READONLY, &db, &err) == 0) {
        tt_db_set_log(db, keep_log, &lg);
        got = tt_db_best_record(db, wkey, NULL, row, &err);
        if (tt_db_foreach_record(db, 0, wkey, NULL, count_row, &nwalk, &err))
            nwalk = -1;
        skipped = tt_db_skipped(db);
        tt_db_close(db);
    }
    int64_t id = got == 1 ? row->id : 0;
    free(row);
    tdb_tmp_done();
    CHECK(bad > 0);
    CHECK_MSG(got == 1 && id == 1, "best: %d, record %lld: %s", got, (long long)id, err.msg);
    CHECK_MSG(nwalk == 1 && skipped == 1 && strstr(lg.msg, "do not replay"), "%d rows, %d "
              "skipped: %s", nwalk, skipped, lg.msg);
}

/* A line keyed by a kernel already in the database (as transtune exports
 * them) is replayed on that kernel before it is stored, as an Ansor-keyed
 * line is on the DAG identify finds: one whose steps do not replay is
 * refused and counted, a good one beside it goes in. */
static void test_import_replays(void)
{
    const char *path = tdb_tmp_path();
    CHECK(path);
    tt_record *rec = tt_xcalloc(1, sizeof *rec);
    char wkey[1024] = "", log[700];
    snprintf(log, sizeof log, "%s/lines.json", tdb_tmp_dir);
    int ok = import_resnet(path, rec, wkey, sizeof wkey) == 0;
    FILE *f = ok ? fopen(log, "w") : NULL;
    if (f) {
        snprintf(rec->workload_key, sizeof rec->workload_key, "%s", wkey);
        rec->costs[0] *= 0.5; /* not a duplicate of the stored line */
        char *good = tt_record_write(rec);
        ok = break_steps(rec) == 0;
        char *bad = tt_record_write(rec);
        ok = ok && good && bad && fprintf(f, "%s\n%s\n", good, bad) > 0;
        fclose(f);
        free(good);
        free(bad);
    }
    free(rec);
    tt_err err = {0};
    tt_db *db = NULL;
    tt_db_import_result r = {0};
    int rc = -2;
    if (ok && tt_db_open(path, 0, &db, &err) == 0) {
        rc = tt_db_import_log(db, log, NULL, &r, &err);
        tt_db_close(db);
    }
    unlink(log);
    tdb_tmp_done();
    CHECK(ok);
    CHECK_MSG(rc == 0 && r.lines == 2 && r.imported == 1 && r.failed == 1 && r.unchecked == 0,
              "rc %d: %d lines, %d imported, %d failed, %d unchecked: %s", rc, r.lines,
              r.imported, r.failed, r.unchecked, err.msg);
}

/* The bad rows tt_db_check_records reports. */
typedef struct bad_list {
    int n;
    int64_t id[16];
    char why[16][TT_ERR_MAX];
} bad_list;

static void on_bad(void *ctx, int64_t id, const char *why)
{
    bad_list *b = ctx;
    if (b->n < 16) {
        b->id[b->n] = id;
        snprintf(b->why[b->n], sizeof b->why[b->n], "%s", why);
        b->n++;
    }
}

/* tt_db_check_records lists every bad row (the four of plant_bad_rows, each
 * with its reason, in id order) beside the good ones; with fix it moves them
 * into records_bad in one go, and then a check is clean and a reader skips
 * nothing. */
static void test_check_records(void)
{
    const char *path = tdb_tmp_path();
    CHECK(path);
    char *wkey = plant_bad_rows(path);
    tt_err err = {0};
    tt_db *db = NULL;
    bad_list b1 = {0}, b2 = {0};
    tt_db_check_result r1 = {0}, r2 = {0}, r3 = {0};
    int rc = -2, ro_fix = 0, skipped = -1, walked = 0;
    if (wkey && tt_db_open(path, TT_DB_READONLY, &db, &err) == 0) {
        tt_err e = {0};
        ro_fix = tt_db_check_records(db, 1, NULL, NULL, &r3, &e); /* read-only: refused */
        tt_db_close(db);
    }
    if (wkey && tt_db_open(path, 0, &db, &err) == 0) {
        rc = tt_db_check_records(db, 0, on_bad, &b1, &r1, &err) ||
             tt_db_check_records(db, 1, NULL, NULL, &r2, &err) ||
             tt_db_check_records(db, 0, on_bad, &b2, &r3, &err) ||
             tt_db_foreach_record(db, 0, wkey, NULL, count_row, &walked, &err);
        skipped = tt_db_skipped(db);
        tt_db_close(db);
    }
    free(wkey);
    sqlite3 *h;
    sqlite3_stmt *s;
    int64_t aside = -1, ids = -1;
    sqlite3_open(path, &h);
    if (sqlite3_prepare_v2(h, "SELECT count(*), sum(record_id) FROM records_bad", -1, &s, NULL) ==
            SQLITE_OK && sqlite3_step(s) == SQLITE_ROW) {
        aside = sqlite3_column_int64(s, 0);
        ids = sqlite3_column_int64(s, 1);
    }
    sqlite3_finalize(s);
    sqlite3_close(h);
    tdb_tmp_done();
    CHECK_MSG(rc == 0 && ro_fix == -1, "%d %d: %s", rc, ro_fix, err.msg);
    CHECK_MSG(r1.records == 7 && r1.bad == 4 && b1.n == 4 && r1.moved == 0, "%lld records, %lld "
              "bad", (long long)r1.records, (long long)r1.bad);
    /* ids 4..7 in order, each with its reason */
    const char *want[4] = {"does not parse", "does not parse", "non-negative",
                           "successful measurement is not positive"};
    for (int i = 0; i < 4; i++)
        CHECK_MSG(b1.id[i] == 4 + i && strstr(b1.why[i], want[i]), "bad %d: record %lld: %s", i,
                  (long long)b1.id[i], b1.why[i]);
    CHECK(r2.bad == 4 && r2.moved == 4);
    CHECK_MSG(r3.records == 3 && r3.bad == 0 && b2.n == 0, "after the fix: %lld records, %lld bad",
              (long long)r3.records, (long long)r3.bad);
    CHECK(walked == 3 && skipped == 0);
    CHECK(aside == 4 && ids == 4 + 5 + 6 + 7);
}

static void test_row_checks(void)
{
    /* The raw converter alone, as the fuzzer drives it. */
    tt_db_row *row = tt_xmalloc(sizeof *row);
    const char *line = "{\"i\": [[\"[\\\"k\\\", 4]\", \"llvm\", [1, 64, 64, 0, 0, 0, 0, 0], \"\", 0, "
                       "[]], [[], [[\"AN\", 0, 0, 2]]]], \"r\": [[0.5, 1.5], 0, 0.1, 16], \"v\": \"v0.6\"}";
    tt_db_raw good = {1, 1, "[[\"AN\", 0, 0, 2]]", line, "[0.5, 1.5]", 1, 1.0, 0, "cpu", "avx2", 2,
                      "tuned", 0, 1.0};
    tt_err e = {0};
    int rc = tt_db_row_to_record(&good, row, &e);
    int ok = rc == 0 && row->rec.nsteps == 1 && row->mean_cost == 1.0 && row->origin == TT_ORIGIN_TUNED;
    tt_db_raw bad = good;
    bad.origin = "guessed";
    tt_err e1 = {0};
    int r1 = tt_db_row_to_record(&bad, row, &e1);
    bad = good;
    bad.error_no = 3;
    tt_err e2 = {0};
    int r2 = tt_db_row_to_record(&bad, row, &e2);
    bad = good;
    bad.costs = "[0.5, -1.5]";
    tt_err e3 = {0};
    int r3 = tt_db_row_to_record(&bad, row, &e3);
    bad = good;
    bad.cpu = "tab\there";
    tt_err e4 = {0};
    int r4 = tt_db_row_to_record(&bad, row, &e4);
    free(row);
    CHECK_MSG(ok, "%s", e.msg);
    CHECK(r1 == -1 && strstr(e1.msg, "unknown origin"));
    CHECK(r2 == -1 && strstr(e2.msg, "error code 3"));
    CHECK(r3 == -1 && strstr(e3.msg, "non-negative"));
    CHECK(r4 == -1 && strstr(e4.msg, "printable"));
}

const tt_test tests_db_rows[] = {
    {"corrupt_rows", test_corrupt_rows},
    {"row_checks", test_row_checks},
    {"bad_rows_skipped", test_bad_rows_skipped},
    {"unreplayable_row_skipped", test_unreplayable_row_skipped},
    {"import_replays", test_import_replays},
    {"check_records", test_check_records},
    {NULL, NULL},
};
