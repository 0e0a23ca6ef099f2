/* test_db.c - the record database: create and reopen, schema-version
 * refusal and migration, import of the shared Ansor logs (every record
 * identified), export and re-parse (round trip), best-record selection and
 * its filters, transactions (all or none), a process killed in the middle of
 * a transaction (the file stays intact with exactly the committed batches),
 * corrupted rows refused, tuning curves. */
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

/* ---- helpers --------------------------------------------------------------- */

/* A fresh database path in a temporary directory (removed by tmp_done). */
static char tmp_dir[512], tmp_db[600];

static const char *tmp_path(void)
{
    snprintf(tmp_dir, sizeof tmp_dir, "%s/tt-test-db.XXXXXX", tt_test_tmpdir());
    if (!mkdtemp(tmp_dir))
        return NULL;
    snprintf(tmp_db, sizeof tmp_db, "%s/t.db", tmp_dir);
    return tmp_db;
}

static void tmp_done(void)
{
    const char *suffix[] = {"", "-wal", "-shm", "-journal"};
    char p[700];
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s%s", tmp_db, suffix[i]);
        unlink(p);
    }
    rmdir(tmp_dir);
}

/* buf = the shared log `name`; a missing one skips the test (its checks then
 * fail uncounted). */
static void log_path(char *buf, size_t n, const char *name)
{
    tt_test_shared_file(buf, n, "ansor/%s", name);
}

/* One SQL statement on a raw connection (not through tt_db). */
static int raw_sql(const char *path, const char *sql)
{
    sqlite3 *h;
    if (sqlite3_open(path, &h) != SQLITE_OK)
        return -1;
    int rc = sqlite3_exec(h, sql, NULL, NULL, NULL);
    sqlite3_close(h);
    return rc == SQLITE_OK ? 0 : -1;
}

/* The matmul tutorial record, identified: its kernel goes into db. */
static tt_record *matmul_record(tt_db *db, int64_t *kernel)
{
    char path[1024];
    log_path(path, sizeof path, "matmul.json");
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
static void make_batch(tt_record *recs, int n, const tt_record *base, double base_cost)
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
    const char *path = tmp_path();
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
    tmp_done();
    CHECK_MSG(found == 1 && again == mid, "%s", err.msg);
    CHECK_MSG(st == 0 && chk == 0, "%s", err.msg);
    tt_db_counts_free(&c);
    CHECK(c.schema_version == TT_DB_SCHEMA_VERSION);
    CHECK(c.models == 1 && c.kernels == nk && c.model_kernels == nk && c.records == 0);
    CHECK(wr == -1 && strstr(werr.msg, "read-only"));
}

static void test_schema_version(void)
{
    const char *path = tmp_path();
    CHECK(path);
    tt_err err = {0};
    tt_db *db = NULL;
    /* A file from a newer transtune. */
    CHECK(raw_sql(path, "CREATE TABLE future(x); PRAGMA user_version = 99") == 0);
    int rc = tt_db_open(path, 0, &db, &err);
    char want[700];
    snprintf(want, sizeof want, "database %s has schema version 99; this transtune reads up to %d",
             path, TT_DB_SCHEMA_VERSION);
    int same = !strcmp(err.msg, want);
    if (!same)
        fprintf(stderr, "    got: %s\n", err.msg);
    tmp_done();
    CHECK(rc == -1 && db == NULL && same);

    /* Some other program's database. */
    CHECK((path = tmp_path()));
    CHECK(raw_sql(path, "CREATE TABLE people(name)") == 0);
    tt_err_clear(&err);
    rc = tt_db_open(path, 0, &db, &err);
    tmp_done();
    CHECK(rc == -1 && strstr(err.msg, "not a transtune database"));

    /* Not a database at all. */
    CHECK((path = tmp_path()));
    FILE *f = fopen(path, "w");
    CHECK(f);
    fputs("this is not an SQLite file, but it is long enough to have a header..........\n", f);
    fclose(f);
    tt_err_clear(&err);
    rc = tt_db_open(path, 0, &db, &err);
    tmp_done();
    CHECK(rc == -1 && err.msg[0]);

    /* An older (version 0: empty) file is migrated, and read-only refuses to. */
    CHECK((path = tmp_path()));
    CHECK(raw_sql(path, "PRAGMA user_version = 0; CREATE TABLE t(x); DROP TABLE t") == 0);
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
    tmp_done();
    CHECK(ro == -1 && ro_msg);
    CHECK_MSG(rc == 0 && c.schema_version == TT_DB_SCHEMA_VERSION, "%s", err.msg);

    /* A version 1 file (curves without meas_untuned) keeps its curve points
     * through the migration to 2. */
    CHECK((path = tmp_path()));
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
    CHECK(raw_sql(path, "ALTER TABLE curves DROP COLUMN meas_untuned; PRAGMA user_version = 1") == 0);
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
    tmp_done();
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
        const char *path = tmp_path();
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
        int sql = raw_sql(path, back[i]);
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
        tmp_done();
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
    const char *path = tmp_path();
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
    tmp_done();
    CHECK_MSG(rc == 0 && ro == 0, "%d %d: %s", rc, ro, err.msg);
    CHECK(after_write == 0);
    CHECK_MSG(!wal && !shm, "left behind:%s%s", wal ? " -wal" : "", shm ? " -shm" : "");
    CHECK(c.models == 1);
}

static void test_import(void)
{
    const char *path = tmp_path();
    CHECK(path);
    tt_err err = {0};
    tt_db *db;
    CHECK_MSG(tt_db_open(path, 0, &db, &err) == 0, "%s", err.msg);
    char log[1024];
    log_path(log, sizeof log, "resnet-50-NHWC-B1-llvm.json");
    tt_db_import_result r, r2, r3;
    int rc = tt_db_import_log(db, log, NULL, &r, &err);
    int rc2 = tt_db_import_log(db, log, NULL, &r2, &err); /* again: all duplicates */
    log_path(log, sizeof log, "matmul.json");
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
    tmp_done();
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

/* Export gives back the lines that went in (as v0.6). */
typedef struct lines {
    int n;
    char *text[64];
} lines;

static int collect(void *ctx, int lineno, const char *line)
{
    lines *l = ctx;
    if (l->n < 64)
        l->text[l->n++] = strdup(line);
    return 0;
}

static void test_export_roundtrip(void)
{
    const char *path = tmp_path();
    CHECK(path);
    tt_err err = {0};
    tt_db *db;
    CHECK_MSG(tt_db_open(path, 0, &db, &err) == 0, "%s", err.msg);
    char log[1024], out[700];
    log_path(log, sizeof log, "resnet-50-NHWC-B1-llvm.json");
    snprintf(out, sizeof out, "%s/out.json", tmp_dir);
    int64_t n = 0;
    int rc = tt_db_import_log(db, log, NULL, NULL, &err);
    FILE *f = fopen(out, "w");
    if (rc == 0)
        rc = f ? tt_db_export(db, 0, NULL, f, &n, &err) : -1;
    if (f)
        fclose(f);
    tt_db_close(db);
    lines a = {0}, b = {0};
    tt_log_foreach(log, collect, &a, &err);
    tt_log_foreach(out, collect, &b, &err);
    unlink(out);
    tmp_done();
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
    const char *path = tmp_path();
    CHECK(path);
    tt_err err = {0};
    tt_db *db;
    CHECK_MSG(tt_db_open(path, 0, &db, &err) == 0, "%s", err.msg);
    int64_t kid = 0, ma = 0, mb = 0;
    tt_record *base = matmul_record(db, &kid);
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
        make_batch(recs, 6, base, 1e-3);
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
    tmp_done();
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
    const char *path = tmp_path();
    CHECK(path);
    tt_err err = {0};
    tt_db *db;
    CHECK_MSG(tt_db_open(path, 0, &db, &err) == 0, "%s", err.msg);
    int64_t kid = 0;
    tt_record *base = matmul_record(db, &kid);
    tt_record *recs = tt_xcalloc(4, sizeof *recs);
    int64_t n_rolled = -1, n_committed = -1, n_bad = -1, n_inner = -1;
    int nested = 0, bad = 0;
    tt_err bad_err = {0}, nest_err = {0};
    if (base) {
        make_batch(recs, 4, base, 1e-3);
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
    tmp_done();
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
    const char *path = tmp_path();
    CHECK(path);
    tt_err err = {0};
    tt_db *db;
    int64_t kid = 0;
    CHECK_MSG(tt_db_open(path, 0, &db, &err) == 0, "%s", err.msg);
    tt_record *base = matmul_record(db, &kid);
    tt_db_close(db); /* a connection must not cross fork() */
    CHECK(base);
    enum { B1 = 16, HALF2 = 4096 };
    tt_record *recs = tt_xcalloc(B1 + 1, sizeof *recs);
    make_batch(recs, B1, base, 1e-4);
    make_batch(recs + B1, 1, base, 1.0); /* batch 2: every record costs 1 s */
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
    tmp_done();
    CHECK_MSG(killed, "child status %d", status);
    CHECK_MSG(wal_bytes > (1 << 20), "the -wal file holds %lld bytes: the half batch never "
              "reached it", wal_bytes);
    CHECK_MSG(rc == 0 && chk == 0, "%s", err.msg);
    CHECK_MSG(n == B1, "%lld records, want %d", (long long)n, B1);
    CHECK(lo > 0.99e-4 && lo < 1.01e-4 && hi > B1 * 0.99e-4 && hi < B1 * 1.01e-4);
}

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
    const char *path = tmp_path();
    CHECK(path);
    tt_err err = {0};
    tt_db *db;
    CHECK_MSG(tt_db_open(path, 0, &db, &err) == 0, "%s", err.msg);
    int64_t kid = 0;
    tt_record *base = matmul_record(db, &kid);
    tt_record *recs = tt_xcalloc(1, sizeof *recs);
    int rc = -1;
    if (base) {
        make_batch(recs, 1, base, 1e-3);
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
    CHECK(raw_sql(path, "CREATE TABLE keep_row AS SELECT * FROM records") == 0);
    char fails[512] = "";
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        /* The schema's CHECKs would refuse some of these edits. */
        char sql[512];
        snprintf(sql, sizeof sql, "PRAGMA ignore_check_constraints = 1; %s", cases[i].sql);
        if (raw_sql(path, sql)) {
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
        raw_sql(path, "DELETE FROM records; INSERT INTO records SELECT * FROM keep_row");
        if (!ok && strlen(fails) < 300)
            snprintf(fails + strlen(fails), sizeof fails - strlen(fails), "[%s -> %d %s %s] ",
                     cases[i].sql, got, e.msg, lg.msg);
    }
    tmp_done();
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
    tt_record *base = matmul_record(db, &kid);
    tt_record *recs = tt_xcalloc(4, sizeof *recs);
    int rc = -1;
    if (base) {
        make_batch(recs, 3, base, 1e-3);
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
    bad |= raw_sql(path, sql);
    snprintf(sql, sizeof sql, copy, "line || char(10) || 'DROP TABLE records;'", "costs", "mean_cost");
    bad |= raw_sql(path, sql);
    snprintf(sql, sizeof sql, copy, "line", "'[-0.002, -0.002]'", "-0.002");
    bad |= raw_sql(path, sql);
    char *q = sqlite3_mprintf("%q", zero_line);
    char lit[2048];
    snprintf(lit, sizeof lit, "'%s'", q);
    sqlite3_free(q);
    free(zero_line);
    snprintf(sql, sizeof sql, copy, lit, "'[0.0, 0.0]'", "0");
    bad |= raw_sql(path, sql);
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
    const char *path = tmp_path();
    CHECK(path);
    char *wkey = plant_bad_rows(path);
    tt_err err = {0};
    tt_db *db = NULL;
    tt_db_row *row = tt_xmalloc(sizeof *row);
    int got = -2, walk = -2, nwalk = 0, ex = -2, skipped = 0;
    int64_t nex = 0;
    logged lg = {0};
    char out[700];
    snprintf(out, sizeof out, "%s/out.json", tmp_dir);
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
    lines l = {0};
    tt_log_foreach(out, collect, &l, &err);
    for (int i = 0; i < l.n; i++)
        free(l.text[i]);
    unlink(out);
    tmp_done();
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
    log_path(log, sizeof log, "resnet-50-NHWC-B1-llvm.json");
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
    const char *path = tmp_path();
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
    tmp_done();
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
    const char *path = tmp_path();
    CHECK(path);
    tt_record *rec = tt_xcalloc(1, sizeof *rec);
    char wkey[1024] = "", log[700];
    snprintf(log, sizeof log, "%s/lines.json", tmp_dir);
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
    tmp_done();
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
    const char *path = tmp_path();
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
    tmp_done();
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

static void test_curves(void)
{
    const char *path = tmp_path();
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
    tmp_done();
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
    const char *path = tmp_path();
    CHECK(path);
    char log[1024], out[700], exp[700];
    log_path(log, sizeof log, "resnet-50-NHWC-B1-llvm.json");
    snprintf(out, sizeof out, "%s/out.txt", tmp_dir);
    snprintf(exp, sizeof exp, "%s/exp.json", tmp_dir);
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
    lines l = {0};
    tt_log_foreach(exp, collect, &l, &err);
    for (int i = 0; i < l.n; i++)
        free(l.text[i]);
    /* --source: only records whose source model is the one named (the
     * matmul record imported for resnet18; the ResNet-50 log has none) */
    char mm[1024];
    log_path(mm, sizeof mm, "matmul.json");
    char *imp2[] = {"transtune", "db", "import", mm, "--model", "resnet18", "--db", db, NULL};
    char *ex2[] = {"transtune", "db", "export", "--db", db, "--source", "resnet18", "--output", exp,
                   NULL};
    char *ex3[] = {"transtune", "db", "export", "--db", db, "--source", "vgg16", NULL};
    int r6 = run_cli(out, imp2), r7 = run_cli(out, ex2), r8 = run_cli(out, ex3);
    lines l2 = {0};
    tt_log_foreach(exp, collect, &l2, &err);
    int src_ok = l2.n == 1 && strstr(l2.text[0], "matmul") != NULL;
    for (int i = 0; i < l2.n; i++)
        free(l2.text[i]);
    CHECK_MSG(r6 == 0 && r7 == 0 && r8 == 1 && src_ok, "%d %d %d, %d lines", r6, r7, r8, l2.n);
    unlink(out);
    unlink(exp);
    tmp_done();
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
    {"corrupt_rows", test_corrupt_rows},
    {"row_checks", test_row_checks},
    {"bad_rows_skipped", test_bad_rows_skipped},
    {"unreplayable_row_skipped", test_unreplayable_row_skipped},
    {"import_replays", test_import_replays},
    {"check_records", test_check_records},
    {"curves", test_curves},
    {"cli", test_cli},
    {NULL, NULL},
};
