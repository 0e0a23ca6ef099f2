/* import.c - Ansor log lines into the database.
 *
 * TVM's workload keys hash a DAG print we cannot recompute, so every line is
 * identified (src/record/identify.h): the DAG it names becomes a kernel under
 * our own workload and class keys, and the record is stored with its
 * original line, Ansor's key included, so that export gives TVM back what it
 * wrote.  Identification replays the steps; a line keyed by one of our
 * kernels (exported by transtune) is replayed on that kernel's DAG
 * (valid.c), so that no line goes in that a reader would then skip.
 */
#include "db_int.h"

#include <stdlib.h>
#include <string.h>

#include "../record/identify.h"

typedef struct imp {
    tt_db *db;
    const tt_db_import_opts *o;
    tt_db_import_result *r;
    tt_record *rec;
    tt_err *err;                 /* the database error that stops the import */
    int stopped;                 /* a database error: the remaining lines are not read */
} imp;

/* Target of an imported record: its "-mcpu=" (an LLVM CPU name), the ISA
 * that CPU name or "-mattr" implies, and hw_params[0] (num_cores). */
static void imp_target(const tt_record *rec, tt_db_target *t)
{
    memset(t, 0, sizeof *t);
    const char *m = strstr(rec->target, "-mcpu=");
    if (m) {
        m += 6;
        size_t n = strcspn(m, " ");
        if (n >= sizeof t->cpu)
            n = sizeof t->cpu - 1;
        memcpy(t->cpu, m, n);
        t->cpu[n] = 0;
    }
    static const struct {
        const char *pat, *isa;
    } isas[] = {
        {"avx512", "avx512"},   {"cascadelake", "avx512"}, {"icelake", "avx512"},
        {"cooperlake", "avx512"}, {"tigerlake", "avx512"}, {"sapphirerapids", "avx512"},
        {"znver4", "avx512"},   {"avx2", "avx2"},          {"haswell", "avx2"},
        {"broadwell", "avx2"},  {"skylake", "avx2"},       {"znver", "avx2"},
        {"sandybridge", "avx"}, {"ivybridge", "avx"},
    };
    for (size_t i = 0; i < sizeof isas / sizeof isas[0]; i++)
        if (strstr(rec->target, isas[i].pat)) {
            snprintf(t->isa, sizeof t->isa, "%s", isas[i].isa);
            break;
        }
    t->threads = rec->nhw > 0 && rec->hw[0] > 0 && rec->hw[0] <= 65536 ? (int)rec->hw[0] : 0;
}

/* 1 if the kernel already holds a record with exactly this line. */
static int imp_duplicate(tt_db *db, int64_t kernel, const char *line, tt_err *err)
{
    sqlite3_stmt *st;
    if (db_prepare(db, "SELECT 1 FROM records WHERE kernel = ? AND line = ? LIMIT 1", &st, err))
        return -1;
    sqlite3_bind_int64(st, 1, kernel);
    db_bind_text(st, 2, line);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc == SQLITE_ROW)
        return 1;
    return rc == SQLITE_DONE ? 0 : db_fail(db, err, "looking for a duplicate record");
}

static void imp_warn(imp *I, int lineno, const char *msg)
{
    I->r->failed++;
    if (I->o && I->o->warn)
        I->o->warn(I->o->ctx, lineno, msg);
}

/* A line keyed by kernel kid, already in the database: its steps must
 * replay on that kernel, as an identified line's do on the DAG identify
 * found (a duplicate line was judged when it went in: it is not replayed
 * again).  0 if they do, or if the kernel's DAG cannot be rebuilt
 * (*unchecked = 1); 1 if they do not (the line is reported); -1 on a
 * database error. */
static int imp_replay_known(imp *I, int lineno, int64_t kid, int *unchecked)
{
    const tt_dag *kd = NULL;
    int got = db_kernel_dag(I->db, kid, 1, &kd, I->err);
    if (got < 0)
        return -1;
    *unchecked = got != 1;
    tt_err e = {0};
    if (got == 1 && db_replay(kd, I->rec, &e)) {
        char msg[TT_ERR_MAX + 160];
        snprintf(msg, sizeof msg, "the steps do not replay on kernel %lld (%s): %s",
                 (long long)kid, kd->class_key, e.msg);
        imp_warn(I, lineno, msg);
        return 1;
    }
    return 0;
}

static int imp_line(void *ctx, int lineno, const char *line)
{
    imp *I = ctx;
    if (I->stopped)
        return 1;
    I->r->lines++;
    tt_err e = {0};
    tt_dag *d = NULL;
    char *key = NULL, *stored = NULL;
    int rc = 0;
    int64_t kid = 0, before = 0;
    int had = 1;
    if (tt_record_parse(line, I->rec, &e)) {
        imp_warn(I, lineno, e.msg);
        return 0;
    }
    /* a record keyed by one of our kernels' workload keys (one exported by
     * transtune, e.g. shipped schedules) is that kernel's; an Ansor key is
     * identified from its shapes and steps */
    int direct = tt_db_find_kernel(I->db, I->rec->workload_key, &kid, I->err);
    if (direct < 0) {
        rc = -1;
        goto done;
    }
    if (!direct) {
        if (tt_identify_record(I->rec, &d, NULL, NULL, 0, &e)) {
            imp_warn(I, lineno, e.msg);
            return 0;
        }
        key = tt_dag_workload_key(d);
        had = tt_db_find_kernel(I->db, key, &before, I->err);
    }
    stored = tt_record_write(I->rec);
    if (had < 0 || !stored || (!direct && db_kernel_get(I->db, key, d->class_key, d, &kid, I->err))) {
        if (!stored)
            imp_warn(I, lineno, "the record cannot be written back as a log line");
        else
            rc = -1;
        goto done;
    }
    I->r->new_kernels += !had;
    int dup = imp_duplicate(I->db, kid, stored, I->err), unchecked = 0, refused = 0;
    if (dup == 0 && direct)
        refused = imp_replay_known(I, lineno, kid, &unchecked);
    if (dup < 0 || refused < 0) {
        rc = -1;
    } else if (dup) {
        I->r->duplicates++;
    } else if (!refused) {
        tt_db_target t;
        if (!(I->o && I->o->target))
            imp_target(I->rec, &t);
        tt_db_rec r = {kid, I->rec, I->o && I->o->target ? I->o->target : &t, TT_ORIGIN_IMPORTED,
                       I->o ? I->o->source_model : 0};
        tt_err ae = {0};
        if (tt_db_add_records(I->db, 1, &r, NULL, &ae)) {
            /* A record the database refuses (one whose line does not read
             * back) is the line's problem; a failing database stops. */
            if (strstr(ae.msg, "does not read back") || strstr(ae.msg, "cannot be written")) {
                imp_warn(I, lineno, ae.msg);
            } else {
                tt_err_set(I->err, "%s", ae.msg);
                rc = -1;
            }
        } else {
            I->r->imported++;
            I->r->unchecked += unchecked;
        }
    }
done:
    if (rc) {
        tt_err_prefix(I->err, "line %d", lineno);
        I->stopped = 1;
    }
    free(stored);
    free(key);
    tt_dag_free(d);
    return rc;
}

int tt_db_import_log(tt_db *db, const char *path, const tt_db_import_opts *o,
                     tt_db_import_result *r, tt_err *err)
{
    tt_db_import_result local;
    if (!r)
        r = &local;
    memset(r, 0, sizeof *r);
    if (db_write_begin(db, err))
        return -1;
    imp I = {db, o, r, tt_xmalloc(sizeof(tt_record)), err, 0};
    /* the model the log was tuned for holds its kernels: loaded first when
     * a kernel's DAG must be rebuilt to replay a line on it */
    int64_t prefer = db->prefer_model;
    db->prefer_model = o ? o->source_model : 0;
    /* tt_log_foreach ignores the callback's status: a database failure is
     * carried in I.stopped. */
    int rc = tt_log_foreach(path, imp_line, &I, err) || I.stopped;
    db->prefer_model = prefer;
    free(I.rec);
    rc = db_write_end(db, rc ? -1 : 0, err);
    if (rc) {
        /* Nothing of a failed import stays (one transaction). */
        int lines = r->lines, failed = r->failed;
        memset(r, 0, sizeof *r);
        r->lines = lines;
        r->failed = failed;
        tt_err_prefix(err, "importing %s", path);
    }
    return rc;
}
