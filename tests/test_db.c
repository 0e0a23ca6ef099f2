/* test_db.c - the record database: create and reopen, schema-version
 * refusal and migration, import of the shared Ansor logs (every record
 * identified), export and re-parse (round trip), best-record selection and
 * its filters, transactions (all or none), a process killed in the middle of
 * a transaction (the file stays intact with exactly the committed batches),
 * tuning curves, the `db` command.  Corrupted and unreplayable rows and
 * their checks: test_db_rows.c. */
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

/* ---- helpers --------------------------------------------------------------- */

/* A fresh database path in a temporary directory (removed by tdb_tmp_done). */
char tdb_tmp_dir[512];
static char tmp_db[600];

const char *tdb_tmp_path(void)
{
    snprintf(tdb_tmp_dir, sizeof tdb_tmp_dir, "%s/tt-test-db.XXXXXX", tt_test_tmpdir());
    if (!mkdtemp(tdb_tmp_dir))
        return NULL;
    snprintf(tmp_db, sizeof tmp_db, "%s/t.db", tdb_tmp_dir);
    return tmp_db;
}

void tdb_tmp_done(void)
{
    const char *suffix[] = {"", "-wal", "-shm", "-journal"};
    char p[700];
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s%s", tmp_db, suffix[i]);
        unlink(p);
    }
    rmdir(tdb_tmp_dir);
}

/* buf = the shared log `name`; a missing one skips the test (its checks then
 * fail uncounted). */
void tdb_log_path(char *buf, size_t n, const char *name)
{
    tt_test_shared_file(buf, n, "ansor/%s", name);
}

/* One SQL statement on a raw connection (not through tt_db). */
int tdb_raw_sql(const char *path, const char *sql)
{
    sqlite3 *h;
    if (sqlite3_open(path, &h) != SQLITE_OK)
        return -1;
    int rc = sqlite3_exec(h, sql, NULL, NULL, NULL);
    sqlite3_close(h);
    return rc == SQLITE_OK ? 0 : -1;
}

/* The matmul tutorial record, identified: its kernel goes into db. */
tt_record *tdb_matmul_record(tt_db *db, int64_t *kernel)
{
    char path[1024];
    tdb_log_path(path, sizeof path, "matmul.json");
    tt_err err = {0};
    char *text = tt_read_file(path, NULL, &err);
    if (!text)
        return NULL;
    char *line = strstr(text, "{\"i\"");
    if (line)
        line[strcspn(line, "\n")] = 0;
    tt_record *rec = tt_xcalloc(1, sizeof *rec);
    tt_dag *d = NULL;
    if (!line || tt_record_parse(line, rec, &err) ||
        tt_identify_record(rec, &d, NULL, NULL, 0, &err) ||
        tt_db_kernel_id(db, NULL, NULL, d, kernel, &err)) {
        fprintf(stderr, "    matmul record: %s\n", err.msg);
        free(rec);
        rec = NULL;
    }
    tt_dag_free(d);
    free(text);
    return rec;
}

/* n records of a kernel from one base record: costs base_cost * (i + 1). */
void tdb_make_batch(tt_record *recs, int n, const tt_record *base, double base_cost)
{
    for (int i = 0; i < n; i++) {
        memcpy(&recs[i], base, sizeof *base);
        recs[i].ncosts = 2;
        recs[i].costs[0] = base_cost * (i + 1);
        recs[i].costs[1] = base_cost * (i + 1);
        recs[i].error_no = 0;
    }
}

static int64_t count_records(tt_db *db)
{
    tt_db_counts c;
    tt_err err = {0};
    if (tt_db_stats(db, &c, &err))
        return -1;
    tt_db_counts_free(&c);
    return c.records;
}

/* ---- tests ----------------------------------------------------------------- */

static void test_create_reopen(void)
{
    const char *path = tdb_tmp_path();
    CHECK(path);
    tt_err err = {0};
    tt_db *db;
    CHECK_MSG(tt_db_open(path, 0, &db, &err) == 0, "%s", err.msg);
    tt_model *m = NULL;
    int64_t mid = 0;
    int64_t kids[64];
    int ok = tt_model_load("tiny", &m, &err) == 0 && m->nkernels <= 64 &&
             tt_db_add_model(db, "tiny", "zoo", m, &mid, kids, &err) == 0;
    int nk = m ? m->nkernels : 0; /* the Winograd twins included */
    tt_model_free(m);
    tt_db_close(db);
    CHECK_MSG(ok, "%s", err.msg);
    CHECK(mid > 0 && nk > 0);

    CHECK_MSG(tt_db_open(path, TT_DB_READONLY, &db, &err) == 0, "%s", err.msg);
    int64_t again = 0;
    tt_db_counts c;
    int found = tt_db_model_id(db, "tiny", &again, &err);
    int st = tt_db_stats(db, &c, &err);
    int chk = tt_db_check(db, &err);
    /* A read-only handle refuses writes. */
    tt_err werr = {0};
    int wr = tt_db_begin(db, &werr);
    tt_db_close(db);
    tdb_tmp_done();
    CHECK_MSG(found == 1 && again == mid, "%s", err.msg);
    CHECK_MSG(st == 0 && chk == 0, "%s", err.msg);
    tt_db_counts_free(&c);
    CHECK(c.schema_version == TT_DB_SCHEMA_VERSION);
    CHECK(c.models == 1 && c.kernels == nk && c.model_kernels == nk && c.records == 0);
    CHECK(wr == -1 && strstr(werr.msg, "read-only"));
}

static void test_schema_version(void)
{
    const char *path = tdb_tmp_path();
    CHECK(path);
    tt_err err = {0};
    tt_db *db = NULL;
    /* A file from a newer transtune. */
    CHECK(tdb_raw_sql(path, "CREATE TABLE future(x); PRAGMA user_version = 99") == 0);
    int rc = tt_db_open(path, 0, &db, &err);
    char want[700];
    snprintf(want, sizeof want, "database %s has schema version 99; this transtune reads up to %d",
             path, TT_DB_SCHEMA_VERSION);
    int same = !strcmp(err.msg, want);
    if (!same)
        fprintf(stderr, "    got: %s\n", err.msg);
    tdb_tmp_done();
    CHECK(rc == -1 && db == NULL && same);

    /* Some other program's database. */
    CHECK((path = tdb_tmp_path()));
    CHECK(tdb_raw_sql(path, "CREATE TABLE people(name)") == 0);
    tt_err_clear(&err);
    rc = tt_db_open(path, 0, &db, &err);
    tdb_tmp_done();
    CHECK(rc == -1 && strstr(err.msg, "not a transtune database"));

    /* Not a database at all. */
    CHECK((path = tdb_tmp_path()));
    FILE *f = fopen(path, "w");
    CHECK(f);
    fputs("this is not an SQLite file, but it is long enough to have a header..........\n", f);
    fclose(f);
    tt_err_clear(&err);
    rc = tt_db_open(path, 0, &db, &err);
    tdb_tmp_done();
    CHECK(rc == -1 && err.msg[0]);

    /* An older (version 0: empty) file is migrated, and read-only refuses to. */
    CHECK((path = tdb_tmp_path()));
    CHECK(tdb_raw_sql(path, "PRAGMA user_version = 0; CREATE TABLE t(x); DROP TABLE t") == 0);
    tt_err_clear(&err);
    int ro = tt_db_open(path, TT_DB_READONLY, &db, &err);
    int ro_msg = strstr(err.msg, "schema version 0") != NULL;
    tt_err_clear(&err);
    rc = tt_db_open(path, 0, &db, &err);
    tt_db_counts c = {0};
    if (rc == 0) {
        tt_db_stats(db, &c, &err);
        tt_db_counts_free(&c);
        tt_db_close(db);
    }
    tdb_tmp_done();
    CHECK(ro == -1 && ro_msg);
    CHECK_MSG(rc == 0 && c.schema_version == TT_DB_SCHEMA_VERSION, "%s", err.msg);

    /* A version 1 file (curves without meas_untuned) keeps its curve points
     * through the migration to 2. */
    CHECK((path = tdb_tmp_path()));
    tt_err_clear(&err);
    int64_t mid = 0;
    tt_db_curve_point p1 = {5, 32, 2e-3, 1.5e-3, 1.9e-3};
    rc = tt_db_open(path, 0, &db, &err);
    if (rc == 0) {
        rc = tt_db_add_model(db, "m", "zoo", NULL, &mid, NULL, &err) ||
             tt_db_curve_append(db, mid, NULL, &p1, &err);
        tt_db_close(db);
    }
    CHECK_MSG(rc == 0, "%s", err.msg);
    CHECK(tdb_raw_sql(path, "ALTER TABLE curves DROP COLUMN meas_untuned; PRAGMA user_version = 1") == 0);
    tt_db_curve_point *pts = NULL;
    int np = 0;
    rc = tt_db_open(path, 0, &db, &err);
    memset(&c, 0, sizeof c);
    if (rc == 0) {
        rc = tt_db_stats(db, &c, &err) || tt_db_curve_append(db, mid, NULL, &p1, &err) ||
             tt_db_curve_read(db, mid, NULL, &pts, &np, &err);
        tt_db_counts_free(&c);
        tt_db_close(db);
    }
    tdb_tmp_done();
    CHECK_MSG(rc == 0 && c.schema_version == TT_DB_SCHEMA_VERSION && np == 2 &&
                  pts[0].meas_latency == 1.5e-3 && pts[0].meas_untuned == -1 &&
                  pts[1].meas_untuned == 1.9e-3,
              "rc %d version %lld, %d points: %s", rc, (long long)c.schema_version, np, err.msg);
    free(pts);

    /* Read-only on a missing file. */
    tt_err_clear(&err);
    CHECK(tt_db_open("/nonexistent/dir/t.db", TT_DB_READONLY, &db, &err) == -1 &&
          strstr(err.msg, "does not exist"));
}

/* A file whose user_version was set back by hand (a v2 file claiming 1, or
 * 0) reopens: every migration checks what is already there instead of
 * failing on "duplicate column name", and the data stays. */
static void test_schema_downgraded(void)
{
    const char *back[] = {"PRAGMA user_version = 1", "PRAGMA user_version = 0"};
    for (int i = 0; i < 2; i++) {
        const char *path = tdb_tmp_path();
        CHECK(path);
        tt_err err = {0};
        tt_db *db = NULL;
        int64_t mid = 0;
        tt_db_curve_point p1 = {5, 32, 2e-3, 1.5e-3, 1.9e-3};
        int rc = tt_db_open(path, 0, &db, &err);
        if (rc == 0) {
            rc = tt_db_add_model(db, "m", "zoo", NULL, &mid, NULL, &err) ||
                 tt_db_curve_append(db, mid, NULL, &p1, &err);
            tt_db_close(db);
        }
        int sql = tdb_raw_sql(path, back[i]);
        tt_db_counts c = {0};
        tt_db_curve_point *pts = NULL;
        int np = 0, rc2 = -1;
        if (rc == 0 && sql == 0) {
            rc2 = tt_db_open(path, 0, &db, &err);
            if (rc2 == 0) {
                rc2 = tt_db_stats(db, &c, &err) || tt_db_curve_read(db, mid, NULL, &pts, &np, &err);
                tt_db_counts_free(&c);
                tt_db_close(db);
            }
        }
        tdb_tmp_done();
        int ok = np == 1 && pts[0].meas_untuned == 1.9e-3;
        free(pts);
        CHECK_MSG(rc == 0 && sql == 0, "%s", err.msg);
        CHECK_MSG(rc2 == 0 && c.schema_version == TT_DB_SCHEMA_VERSION && c.models == 1 && ok,
                  "after %s: rc %d version %d, %d points: %s", back[i], rc2, c.schema_version, np,
                  err.msg);
    }
}

/* 1 if path + suffix exists. */
static int file_exists(const char *path, const char *suffix)
{
    char p[700];
    snprintf(p, sizeof p, "%s%s", path, suffix);
    return access(p, F_OK) == 0;
}

/* A read-only open (stats, export, check, run --db) leaves no -wal or -shm
 * file behind: after the last connection closes the directory holds the
 * database file alone, as after a writer. */
static void test_readonly_no_wal(void)
{
    const char *path = tdb_tmp_path();
    CHECK(path);
    tt_err err = {0};
    tt_db *db;
    int64_t mid = 0;
    CHECK_MSG(tt_db_open(path, 0, &db, &err) == 0, "%s", err.msg);
    int rc = tt_db_add_model(db, "m", "zoo", NULL, &mid, NULL, &err);
    tt_db_close(db);
    int after_write = file_exists(path, "-wal") + file_exists(path, "-shm");
    tt_db_counts c = {0};
    int ro = tt_db_open(path, TT_DB_READONLY, &db, &err);
    if (ro == 0) {
        ro = tt_db_stats(db, &c, &err);
        tt_db_counts_free(&c);
        /* still read-only */
        tt_err werr = {0};
        if (tt_db_add_model(db, "n", "zoo", NULL, &mid, NULL, &werr) == 0)
            ro = -2;
        tt_db_close(db);
    }
    int wal = file_exists(path, "-wal"), shm = file_exists(path, "-shm");
    tdb_tmp_done();
    CHECK_MSG(rc == 0 && ro == 0, "%d %d: %s", rc, ro, err.msg);
    CHECK(after_write == 0);
    CHECK_MSG(!wal && !shm, "left behind:%s%s", wal ? " -wal" : "", shm ? " -shm" : "");
    CHECK(c.models == 1);
}

static void test_import(void)
{
    const char *path = tdb_tmp_path();
    CHECK(path);
    tt_err err = {0};
    tt_db *db;
    CHECK_MSG(tt_db_open(path, 0, &db, &err) == 0, "%s", err.msg);
    char log[1024];
    tdb_log_path(log, sizeof log, "resnet-50-NHWC-B1-llvm.json");
    tt_db_import_result r, r2, r3;
    int rc = tt_db_import_log(db, log, NULL, &r, &err);
    int rc2 = tt_db_import_log(db, log, NULL, &r2, &err); /* again: all duplicates */
    tdb_log_path(log, sizeof log, "matmul.json");
    int rc3 = tt_db_import_log(db, log, NULL, &r3, &err);
    tt_db_counts c = {0};
    int st = tt_db_stats(db, &c, &err);
    tt_db_row *best = tt_xmalloc(sizeof *best);
    int64_t kid = 0;
    int have = -1;
    /* Every imported record keeps its target: TVM's -mcpu and hw_params. */
    tt_db_filter f = {.isa = "avx2", .cpu = "core-avx2", .threads = 8};
    if (st == 0) {
        sqlite3 *h;
        sqlite3_open(path, &h);
        sqlite3_stmt *s;
        sqlite3_prepare_v2(h, "SELECT workload_key FROM kernels ORDER BY id LIMIT 1", -1, &s, NULL);
        if (sqlite3_step(s) == SQLITE_ROW) {
            char *wk = strdup((const char *)sqlite3_column_text(s, 0));
            have = tt_db_best_record(db, wk, &f, best, &err);
            tt_db_find_kernel(db, wk, &kid, &err);
            free(wk);
        }
        sqlite3_finalize(s);
        sqlite3_close(h);
    }
    int chk = tt_db_check(db, &err);
    tt_db_close(db);
    tdb_tmp_done();
    CHECK_MSG(rc == 0 && rc2 == 0 && rc3 == 0 && st == 0, "%s", err.msg);
    CHECK_MSG(r.lines == 26 && r.imported == 26 && r.failed == 0 && r.new_kernels == 26,
              "lines %d imported %d failed %d new kernels %d", r.lines, r.imported, r.failed,
              r.new_kernels);
    CHECK(r2.lines == 26 && r2.imported == 0 && r2.duplicates == 26 && r2.new_kernels == 0);
    CHECK(r3.lines == 1 && r3.imported == 1 && r3.failed == 0 && r3.new_kernels == 1);
    int nclasses = c.nclasses;
    tt_db_counts_free(&c);
    CHECK(c.kernels == 27 && c.records == 27 && c.by_origin[TT_ORIGIN_IMPORTED] == 27);
    CHECK_MSG(c.by_origin[TT_ORIGIN_TUNED] == 0 && nclasses >= 3, "%d classes", nclasses);
    CHECK_MSG(have == 1 && best->kernel == kid && best->origin == TT_ORIGIN_IMPORTED &&
                  best->target.threads == 8 && !strcmp(best->target.isa, "avx2"),
              "have %d: %s", have, err.msg);
    free(best);
    CHECK_MSG(chk == 0, "%s", err.msg);
}

/* Export gives back the lines that went in (as v0.6); tdb_collect keeps them. */

int tdb_collect(void *ctx, int lineno, const char *line)
{
    tdb_lines *l = ctx;
    if (l->n < 64)
        l->text[l->n++] = strdup(line);
    return 0;
}

static void test_export_roundtrip(void)
{
    const char *path = tdb_tmp_path();
    CHECK(path);
    tt_err err = {0};
    tt_db *db;
    CHECK_MSG(tt_db_open(path, 0, &db, &err) == 0, "%s", err.msg);
    char log[1024], out[700];
    tdb_log_path(log, sizeof log, "resnet-50-NHWC-B1-llvm.json");
    snprintf(out, sizeof out, "%s/out.json", tdb_tmp_dir);
    int64_t n = 0;
    int rc = tt_db_import_log(db, log, NULL, NULL, &err);
    FILE *f = fopen(out, "w");
    if (rc == 0)
        rc = f ? tt_db_export(db, 0, NULL, f, &n, &err) : -1;
    if (f)
        fclose(f);
    tt_db_close(db);
    tdb_lines a = {0}, b = {0};
    tt_log_foreach(log, tdb_collect, &a, &err);
    tt_log_foreach(out, tdb_collect, &b, &err);
    unlink(out);
    tdb_tmp_done();
    int same = rc == 0 && n == 26 && a.n == 26 && b.n == 26;
    tt_record *ra = tt_xmalloc(sizeof *ra), *rb = tt_xmalloc(sizeof *rb);
    for (int i = 0; same && i < a.n; i++) {
        tt_err e = {0};
        if (tt_record_parse(a.text[i], ra, &e) || tt_record_parse(b.text[i], rb, &e)) {
            fprintf(stderr, "    line %d: %s\n", i + 1, e.msg);
            same = 0;
            break;
        }
        char *sa = tt_steps_write(ra->steps, ra->nsteps), *sb = tt_steps_write(rb->steps, rb->nsteps);
        same = !strcmp(sa, sb) && !strcmp(rb->version, "v0.6");
        free(sa);
        free(sb);
        /* Everything else too: key, target, costs, error, timestamps. */
        memcpy(rb->version, ra->version, sizeof rb->version);
        if (same && memcmp(ra, rb, sizeof *ra)) {
            fprintf(stderr, "    record %d changed in the round trip\n", i + 1);
            same = 0;
        }
    }
    free(ra);
    free(rb);
    for (int i = 0; i < a.n; i++)
        free(a.text[i]);
    for (int i = 0; i < b.n; i++)
        free(b.text[i]);
    CHECK_MSG(same, "rc %d n %lld lines %d/%d: %s", rc, (long long)n, a.n, b.n, err.msg);
}

typedef struct walk_ctx {
    const char *key;
    int n, keyed;
    int ordered;
} walk_ctx;

static int walk_row(void *ctx, const tt_db_row *r)
{
    walk_ctx *w = ctx;
    w->ordered = w->n == 0 || w->ordered;
    w->n++;
    if (r->rec.error_no == TT_ERR_COMPILE_HOST && !strcmp(r->rec.workload_key, w->key))
        w->keyed++;
    if (w->n == 1 && r->rec.error_no != TT_ERR_COMPILE_HOST)
        w->ordered = 0;
    return 0;
}

static void test_best_record(void)
{
    const char *path = tdb_tmp_path();
    CHECK(path);
    tt_err err = {0};
    tt_db *db;
    CHECK_MSG(tt_db_open(path, 0, &db, &err) == 0, "%s", err.msg);
    int64_t kid = 0, ma = 0, mb = 0;
    tt_record *base = tdb_matmul_record(db, &kid);
    tt_record *recs = tt_xcalloc(6, sizeof *recs);
    tt_db_row *row = tt_xmalloc(sizeof *row);
    int rc = base ? 0 : -1;
    if (rc == 0)
        rc = tt_db_add_model(db, "model_a", "zoo", NULL, &ma, NULL, &err) ||
             tt_db_add_model(db, "model_b", "zoo", NULL, &mb, NULL, &err);
    tt_db_target host, other = {"Other CPU", "avx512", 4};
    tt_db_target_host(&host, 2);
    if (rc == 0) {
        /* Costs 1, 2, 3, 4, 5, 6 ms; 1 ms failed to build (error_no 2), 2 ms
         * came from model A, 3 ms from model B, 4 ms was imported, 5 ms on
         * another CPU, 6 ms transferred. */
        tdb_make_batch(recs, 6, base, 1e-3);
        recs[0].error_no = TT_ERR_COMPILE_HOST;
        recs[0].workload_key[0] = 0; /* filled with the kernel's key */
        tt_db_rec in[6] = {
            {kid, &recs[0], &host, TT_ORIGIN_TUNED, ma},
            {kid, &recs[1], &host, TT_ORIGIN_TUNED, ma},
            {kid, &recs[2], &host, TT_ORIGIN_TUNED, mb},
            {kid, &recs[3], &host, TT_ORIGIN_IMPORTED, 0},
            {kid, &recs[4], &other, TT_ORIGIN_TUNED, mb},
            {kid, &recs[5], &host, TT_ORIGIN_TRANSFERRED, ma},
        };
        rc = tt_db_add_records(db, 6, in, NULL, &err);
    }
    char wkey[1024] = "";
    sqlite3 *h;
    sqlite3_open(path, &h);
    sqlite3_stmt *s;
    sqlite3_prepare_v2(h, "SELECT workload_key FROM kernels", -1, &s, NULL);
    if (sqlite3_step(s) == SQLITE_ROW)
        snprintf(wkey, sizeof wkey, "%s", sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    sqlite3_close(h);

    double got[8] = {0};
    int found[8] = {0};
    tt_db_filter filters[8] = {
        {0},                                                   /* 2 ms (1 ms failed) */
        {.exclude_model = ma},                                 /* 3 ms */
        {.exclude_model = ma, .origins = 1u << TT_ORIGIN_TUNED}, /* 3 ms */
        {.only_model = mb, .cpu = "Other CPU"},                /* 5 ms */
        {.origins = 1u << TT_ORIGIN_TRANSFERRED},              /* 6 ms */
        {.isa = "avx512", .threads = 4},                       /* 5 ms */
        {.isa = "neon"},                                       /* none */
        {.exclude_model = ma, .origins = 1u << TT_ORIGIN_IMPORTED}, /* 4 ms */
    };
    for (int i = 0; rc == 0 && i < 8; i++) {
        found[i] = tt_db_best_record(db, wkey, &filters[i], row, &err);
        got[i] = found[i] == 1 ? row->mean_cost : 0;
        if (i == 0 && found[i] == 1 && (row->origin != TT_ORIGIN_TUNED || row->source_model != ma ||
                                        strcmp(row->target.cpu, host.cpu) || row->target.threads != 2))
            found[i] = -2;
    }
    /* The record inserted without a key got the kernel's; the walk sees
     * all six, the failed one included, oldest first. */
    walk_ctx wc = {wkey, 0, 0, 0};
    int wrc = rc == 0 ? tt_db_foreach_record(db, 0, wkey, NULL, walk_row, &wc, &err) : -1;
    tt_db_close(db);
    tdb_tmp_done();
    free(base);
    free(recs);
    free(row);
    CHECK_MSG(wrc == 0 && wc.n == 6 && wc.keyed == 1 && wc.ordered, "walk: %d rows, %d keyed: %s",
              wc.n, wc.keyed, err.msg);
    CHECK_MSG(rc == 0 && wkey[0], "%s", err.msg);
    const double want[8] = {2e-3, 3e-3, 3e-3, 5e-3, 6e-3, 5e-3, 0, 4e-3};
    for (int i = 0; i < 8; i++)
        CHECK_MSG(i == 6 ? found[i] == 0
                         : found[i] == 1 && got[i] > want[i] * 0.999 && got[i] < want[i] * 1.001,
                  "filter %d: found %d cost %g, want %g", i, found[i], got[i], want[i]);
}

static void test_transactions(void)
{
    const char *path = tdb_tmp_path();
    CHECK(path);
    tt_err err = {0};
    tt_db *db;
    CHECK_MSG(tt_db_open(path, 0, &db, &err) == 0, "%s", err.msg);
    int64_t kid = 0;
    tt_record *base = tdb_matmul_record(db, &kid);
    tt_record *recs = tt_xcalloc(4, sizeof *recs);
    int64_t n_rolled = -1, n_committed = -1, n_bad = -1, n_inner = -1;
    int nested = 0, bad = 0;
    tt_err bad_err = {0}, nest_err = {0};
    if (base) {
        tdb_make_batch(recs, 4, base, 1e-3);
        tt_db_rec in[4];
        for (int i = 0; i < 4; i++)
            in[i] = (tt_db_rec){kid, &recs[i], NULL, TT_ORIGIN_TUNED, 0};
        /* Rolled back: nothing stays. */
        tt_db_begin(db, &err);
        tt_db_add_records(db, 3, in, NULL, &err);
        nested = tt_db_begin(db, &nest_err);
        tt_db_rollback(db);
        n_rolled = count_records(db);
        /* Committed: all three. */
        tt_db_begin(db, &err);
        tt_db_add_records(db, 3, in, NULL, &err);
        tt_db_commit(db, &err);
        n_committed = count_records(db);
        /* A batch with a record of a kernel that does not exist (a foreign
         * key violation) goes in not at all. */
        in[2].kernel = kid + 1000;
        bad = tt_db_add_records(db, 4, in, NULL, &bad_err);
        n_bad = count_records(db);
        /* The same inside a transaction: the failed batch is undone, the
         * transaction's other batch stays. */
        tt_err e2 = {0};
        tt_db_begin(db, &err);
        in[2].kernel = kid;
        tt_db_add_records(db, 1, in, NULL, &err);
        in[2].kernel = kid + 1000;
        tt_db_add_records(db, 4, in, NULL, &e2);
        tt_db_commit(db, &err);
        n_inner = count_records(db);
    }
    int chk = tt_db_check(db, &err);
    tt_db_close(db);
    tdb_tmp_done();
    free(base);
    free(recs);
    CHECK(kid > 0);
    CHECK_MSG(n_rolled == 0 && n_committed == 3, "%lld %lld: %s", (long long)n_rolled,
              (long long)n_committed, err.msg);
    CHECK(nested == -1 && strstr(nest_err.msg, "already open"));
    CHECK_MSG(bad == -1 && n_bad == 3 && strstr(bad_err.msg, "record 3 of 4"), "%d %lld: %s", bad,
              (long long)n_bad, bad_err.msg);
    CHECK_MSG(n_inner == 4, "%lld", (long long)n_inner);
    CHECK_MSG(chk == 0, "%s", err.msg);
}

/* A process that commits batch 1, inserts half of batch 2 and is killed
 * before committing: the file passes integrity_check and holds batch 1.
 * The half batch is large enough (about 6 MB) that SQLite spills it from
 * its page cache into the -wal file before the kill, so recovery really has
 * uncommitted frames to drop. */
static void test_crash_mid_batch(void)
{
    const char *path = tdb_tmp_path();
    CHECK(path);
    tt_err err = {0};
    tt_db *db;
    int64_t kid = 0;
    CHECK_MSG(tt_db_open(path, 0, &db, &err) == 0, "%s", err.msg);
    tt_record *base = tdb_matmul_record(db, &kid);
    tt_db_close(db); /* a connection must not cross fork() */
    CHECK(base);
    enum { B1 = 16, HALF2 = 4096 };
    tt_record *recs = tt_xcalloc(B1 + 1, sizeof *recs);
    tdb_make_batch(recs, B1, base, 1e-4);
    tdb_make_batch(recs + B1, 1, base, 1.0); /* batch 2: every record costs 1 s */
    free(base);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        tt_db *c;
        tt_err e = {0};
        tt_db_rec *in = tt_xcalloc(B1 + HALF2, sizeof *in);
        for (int i = 0; i < B1 + HALF2; i++)
            in[i] = (tt_db_rec){kid, &recs[i < B1 ? i : B1], NULL, TT_ORIGIN_TUNED, 0};
        if (tt_db_open(path, 0, &c, &e) || tt_db_add_records(c, B1, in, NULL, &e) ||
            tt_db_begin(c, &e) || tt_db_add_records(c, HALF2, in + B1, NULL, &e))
            _exit(3);
        raise(SIGKILL);
        _exit(4);
    }
    int status = 0;
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
    free(recs);
    int killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
    char wal[700];
    snprintf(wal, sizeof wal, "%s-wal", path);
    struct stat sb;
    long long wal_bytes = stat(wal, &sb) == 0 ? (long long)sb.st_size : -1;
    int rc = tt_db_open(path, 0, &db, &err);
    int chk = rc == 0 ? tt_db_check(db, &err) : -1;
    int64_t n = rc == 0 ? count_records(db) : -1;
    double lo = 1e9, hi = 0;
    if (rc == 0) {
        /* The survivors are batch 1: costs 0.1 .. B1 * 0.1 ms. */
        sqlite3 *h;
        sqlite3_open(path, &h);
        sqlite3_stmt *s;
        sqlite3_prepare_v2(h, "SELECT min(mean_cost), max(mean_cost) FROM records", -1, &s, NULL);
        if (sqlite3_step(s) == SQLITE_ROW) {
            lo = sqlite3_column_double(s, 0);
            hi = sqlite3_column_double(s, 1);
        }
        sqlite3_finalize(s);
        sqlite3_close(h);
    }
    tt_db_close(db);
    tdb_tmp_done();
    CHECK_MSG(killed, "child status %d", status);
    CHECK_MSG(wal_bytes > (1 << 20), "the -wal file holds %lld bytes: the half batch never "
              "reached it", wal_bytes);
    CHECK_MSG(rc == 0 && chk == 0, "%s", err.msg);
    CHECK_MSG(n == B1, "%lld records, want %d", (long long)n, B1);
    CHECK(lo > 0.99e-4 && lo < 1.01e-4 && hi > B1 * 0.99e-4 && hi < B1 * 1.01e-4);
}

static void test_curves(void)
{
    const char *path = tdb_tmp_path();
    CHECK(path);
    tt_err err = {0};
    tt_db *db;
    CHECK_MSG(tt_db_open(path, 0, &db, &err) == 0, "%s", err.msg);
    int64_t mid = 0;
    tt_db_target t = {"cpu", "avx2", 1}, u = {"cpu", "avx2", 2};
    tt_db_curve_point p[3] = {{10, 64, 5e-3, -1, -1}, {2, 16, 9e-3, 8e-3, 9.5e-3},
                              {30, 128, 4e-3, 3.9e-3, -1}};
    int rc = tt_db_add_model(db, "m", "zoo", NULL, &mid, NULL, &err);
    for (int i = 0; rc == 0 && i < 3; i++)
        rc = tt_db_curve_append(db, mid, &t, &p[i], &err);
    if (rc == 0)
        rc = tt_db_curve_append(db, mid, &u, &p[0], &err);
    tt_db_curve_point *got = NULL, *all = NULL;
    int n = 0, nall = 0;
    if (rc == 0)
        rc = tt_db_curve_read(db, mid, &t, &got, &n, &err) ||
             tt_db_curve_read(db, mid, NULL, &all, &nall, &err);
    tt_db_close(db);
    tdb_tmp_done();
    int ok = rc == 0 && n == 3 && nall == 4 && got[0].search_s == 2 && got[0].meas_latency == 8e-3 &&
             got[0].meas_untuned == 9.5e-3 && got[1].meas_untuned == -1 &&
             got[1].trials == 64 && got[1].meas_latency == -1 && got[2].est_latency == 4e-3;
    free(got);
    free(all);
    CHECK_MSG(ok, "rc %d n %d nall %d: %s", rc, n, nall, err.msg);
}

/* Run build/transtune with args, stdout to out_path; returns the exit status
 * (or -1). */
static int run_cli(const char *out_path, char *const args[])
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        FILE *o = freopen(out_path, "w", stdout);
        FILE *e = freopen("/dev/null", "w", stderr);
        (void)o;
        (void)e;
        execv(TT_TEST_BUILD_DIR "/transtune", args);
        _exit(127);
    }
    int status;
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
        return -1;
    return WEXITSTATUS(status);
}

/* `transtune db import`, `stats --json`, `export`, `check` end to end. */
static void test_cli(void)
{
    if (access(TT_TEST_BUILD_DIR "/transtune", X_OK) != 0)
        SKIP(TT_TEST_BUILD_DIR "/transtune is missing (run `make all` in the repository root)");
    const char *path = tdb_tmp_path();
    CHECK(path);
    char log[1024], out[700], exp[700];
    tdb_log_path(log, sizeof log, "resnet-50-NHWC-B1-llvm.json");
    snprintf(out, sizeof out, "%s/out.txt", tdb_tmp_dir);
    snprintf(exp, sizeof exp, "%s/exp.json", tdb_tmp_dir);
    char db[700];
    snprintf(db, sizeof db, "%s", path);
    char *imp[] = {"transtune", "db", "import", log, "--db", db, NULL};
    char *stats[] = {"transtune", "db", "stats", "--json", "--db", db, NULL};
    char *ex[] = {"transtune", "db", "export", "--db", db, "--output", exp, NULL};
    char *chk[] = {"transtune", "db", "check", "--db", db, NULL};
    char *bad[] = {"transtune", "db", "stats", "--db", "/nonexistent/x.db", NULL};
    int r1 = run_cli(out, imp);
    int r2 = run_cli(out, stats);
    tt_err err = {0};
    char *js = tt_read_file(out, NULL, &err);
    int r3 = run_cli(out, ex);
    int r4 = run_cli(out, chk);
    int r5 = run_cli(out, bad);
    tdb_lines l = {0};
    tt_log_foreach(exp, tdb_collect, &l, &err);
    for (int i = 0; i < l.n; i++)
        free(l.text[i]);
    /* --source: only records whose source model is the one named (the
     * matmul record imported for resnet18; the ResNet-50 log has none) */
    char mm[1024];
    tdb_log_path(mm, sizeof mm, "matmul.json");
    char *imp2[] = {"transtune", "db", "import", mm, "--model", "resnet18", "--db", db, NULL};
    char *ex2[] = {"transtune", "db", "export", "--db", db, "--source", "resnet18", "--output", exp,
                   NULL};
    char *ex3[] = {"transtune", "db", "export", "--db", db, "--source", "vgg16", NULL};
    int r6 = run_cli(out, imp2), r7 = run_cli(out, ex2), r8 = run_cli(out, ex3);
    tdb_lines l2 = {0};
    tt_log_foreach(exp, tdb_collect, &l2, &err);
    int src_ok = l2.n == 1 && strstr(l2.text[0], "matmul") != NULL;
    for (int i = 0; i < l2.n; i++)
        free(l2.text[i]);
    CHECK_MSG(r6 == 0 && r7 == 0 && r8 == 1 && src_ok, "%d %d %d, %d lines", r6, r7, r8, l2.n);
    unlink(out);
    unlink(exp);
    tdb_tmp_done();
    int ok = js && strstr(js, "\"records\":26") && strstr(js, "\"imported\":26");
    free(js);
    CHECK_MSG(r1 == 0 && r2 == 0 && r3 == 0 && r4 == 0 && r5 == 1, "%d %d %d %d %d", r1, r2, r3,
              r4, r5);
    CHECK(ok);
    CHECK(l.n == 26);
}

const tt_test tests_db[] = {
    {"create_reopen", test_create_reopen},
    {"schema_version", test_schema_version},
    {"schema_downgraded", test_schema_downgraded},
    {"readonly_no_wal", test_readonly_no_wal},
    {"import", test_import},
    {"export_roundtrip", test_export_roundtrip},
    {"best_record", test_best_record},
    {"transactions", test_transactions},
    {"crash_mid_batch", test_crash_mid_batch},
    {"curves", test_curves},
    {"cli", test_cli},
    {NULL, NULL},
};
