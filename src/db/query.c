/* query.c - the readers: best record, record walks, export, statistics,
 * tuning curves.  Every record read goes through db_row_usable (valid.c:
 * tt_db_row_to_record, then a replay on its kernel); a bad row is skipped
 * (db_skip) and the walk goes on.
 */
#include "db_int.h"

#include <stdlib.h>
#include <string.h>

/* ---- filters ------------------------------------------------------------------ */

/* Append f's conditions (" AND ...") with named parameters; origins are
 * literals from our own name table. */
static void q_filter_sql(tt_str *sql, const tt_db_filter *f)
{
    if (!f)
        return;
    if (f->cpu)
        tt_str_cat(sql, " AND r.cpu = :cpu");
    if (f->isa)
        tt_str_cat(sql, " AND r.isa = :isa");
    if (f->threads > 0)
        tt_str_cat(sql, " AND r.threads = :threads");
    if (f->origins) {
        tt_str_cat(sql, " AND r.origin IN (");
        int first = 1;
        for (int o = 0; o < TT_ORIGIN_COUNT; o++)
            if (f->origins & (1u << o)) {
                tt_str_catf(sql, "%s'%s'", first ? "" : ", ", tt_origin_names[o]);
                first = 0;
            }
        /* Bits for no known origin admit nothing. */
        tt_str_cat(sql, first ? "NULL)" : ")");
    }
    if (f->only_model > 0)
        tt_str_cat(sql, " AND r.source_model = :only");
    if (f->exclude_model > 0)
        tt_str_cat(sql, " AND (r.source_model IS NULL OR r.source_model != :excl)");
    if (f->ok_only)
        tt_str_cat(sql, " AND r.error_no = 0 AND r.mean_cost IS NOT NULL");
}

static void q_bind_named_text(sqlite3_stmt *st, const char *name, const char *v)
{
    int i = sqlite3_bind_parameter_index(st, name);
    if (i > 0)
        db_bind_text(st, i, v);
}

static void q_bind_named_int(sqlite3_stmt *st, const char *name, int64_t v)
{
    int i = sqlite3_bind_parameter_index(st, name);
    if (i > 0)
        sqlite3_bind_int64(st, i, v);
}

static void q_filter_bind(sqlite3_stmt *st, const tt_db_filter *f)
{
    if (!f)
        return;
    q_bind_named_text(st, ":cpu", f->cpu);
    q_bind_named_text(st, ":isa", f->isa);
    q_bind_named_int(st, ":threads", f->threads);
    q_bind_named_int(st, ":only", f->only_model);
    q_bind_named_int(st, ":excl", f->exclude_model);
}

/* ---- records ------------------------------------------------------------------- */

/* Prepare "SELECT <record columns> FROM records r WHERE ..." for the walk or
 * the best-record query. */
static int q_records_stmt(tt_db *db, int64_t model, const char *wkey, const tt_db_filter *f,
                          int best, sqlite3_stmt **st, tt_err *err)
{
    tt_str sql;
    tt_str_init(&sql);
    tt_str_cat(&sql, "SELECT " DB_RECORD_COLS " FROM records r WHERE 1");
    if (model > 0)
        tt_str_cat(&sql, " AND r.kernel IN (SELECT kernel FROM model_kernels WHERE model = :model)");
    if (wkey)
        tt_str_cat(&sql, " AND r.kernel = (SELECT id FROM kernels WHERE workload_key = :wkey)");
    q_filter_sql(&sql, f);
    /* No LIMIT 1 for the best: a bad row (a corrupted one may well have the
     * lowest cost) is skipped for the next best. */
    if (best)
        tt_str_cat(&sql, " AND r.error_no = 0 AND r.mean_cost IS NOT NULL"
                         " ORDER BY r.mean_cost, r.id");
    else
        tt_str_cat(&sql, " ORDER BY r.id");
    int rc = db_prepare(db, sql.buf, st, err);
    tt_str_free(&sql);
    if (rc)
        return -1;
    q_bind_named_int(*st, ":model", model);
    q_bind_named_text(*st, ":wkey", wkey);
    q_filter_bind(*st, f);
    return 0;
}

int tt_db_count_records(tt_db *db, const tt_db_filter *f, int64_t *n, tt_err *err)
{
    tt_str sql;
    tt_str_init(&sql);
    tt_str_cat(&sql, "SELECT count(*) FROM records r WHERE 1");
    q_filter_sql(&sql, f);
    sqlite3_stmt *st;
    int rc = db_prepare(db, sql.buf, &st, err);
    tt_str_free(&sql);
    if (rc)
        return -1;
    q_filter_bind(st, f);
    rc = 0;
    if (sqlite3_step(st) == SQLITE_ROW)
        *n = sqlite3_column_int64(st, 0);
    else
        rc = db_fail(db, err, "counting records");
    sqlite3_finalize(st);
    return rc;
}

int tt_db_best_record(tt_db *db, const char *workload_key, const tt_db_filter *f, tt_db_row *row,
                      tt_err *err)
{
    sqlite3_stmt *st;
    if (!workload_key)
        return tt_err_set(err, "database %s: best record of no workload key", db->path);
    if (q_records_stmt(db, 0, workload_key, f, 1, &st, err))
        return -1;
    int rc = SQLITE_DONE, found = 0;
    while (found == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        tt_db_raw raw;
        tt_err why = {0};
        db_read_raw(st, &raw);
        int u = db_row_usable(db, &raw, 0, row, &why, err);
        if (u < 0)
            found = -1;
        else if (u == DB_ROW_BAD)
            db_skip(db, raw.id, why.msg);
        else
            found = 1;
    }
    if (found == 0 && rc != SQLITE_DONE)
        found = db_fail(db, err, "looking up the best record");
    sqlite3_finalize(st);
    return found;
}

int tt_db_foreach_record(tt_db *db, int64_t model, const char *workload_key, const tt_db_filter *f,
                         tt_db_row_fn fn, void *ctx, tt_err *err)
{
    sqlite3_stmt *st;
    if (q_records_stmt(db, model, workload_key, f, 0, &st, err))
        return -1;
    tt_db_row *row = tt_xmalloc(sizeof *row);
    int rc, ret = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        tt_db_raw raw;
        tt_err why = {0};
        db_read_raw(st, &raw);
        int u = db_row_usable(db, &raw, 0, row, &why, err);
        if (u < 0) {
            ret = -1;
            break;
        }
        if (u == DB_ROW_BAD) {
            db_skip(db, raw.id, why.msg);
            continue;
        }
        if ((ret = fn(ctx, row)) != 0)
            break;
    }
    if (ret == 0 && rc != SQLITE_DONE)
        ret = db_fail(db, err, "reading records");
    free(row);
    sqlite3_finalize(st);
    return ret;
}

typedef struct q_export {
    FILE *out;
    int64_t n;
    int failed;
} q_export;

static int q_export_row(void *ctx, const tt_db_row *row)
{
    q_export *x = ctx;
    char *line = tt_record_write(&row->rec);
    if (!line)
        return x->failed = 1;
    int bad = fputs(line, x->out) < 0 || fputc('\n', x->out) == EOF;
    free(line);
    if (bad)
        return x->failed = 2;
    x->n++;
    return 0;
}

int tt_db_export(tt_db *db, int64_t model, const tt_db_filter *f, FILE *out, int64_t *n,
                 tt_err *err)
{
    q_export x = {out, 0, 0};
    int rc = tt_db_foreach_record(db, model, NULL, f, q_export_row, &x, err);
    if (n)
        *n = x.n;
    if (x.failed == 1)
        return tt_err_set(err, "database %s: a record cannot be written as a log line", db->path);
    if (x.failed == 2)
        return tt_err_set(err, "export: write error");
    return rc ? -1 : 0;
}

/* ---- curves ---------------------------------------------------------------- */

int tt_db_curve_read(tt_db *db, int64_t model, const tt_db_target *t, tt_db_curve_point **pts,
                     int *n, tt_err *err)
{
    *pts = NULL;
    *n = 0;
    sqlite3_stmt *st;
    const char *sql = t ? "SELECT search_s, trials, est_latency, meas_latency, meas_untuned FROM curves "
                          "WHERE model = ? AND cpu = ? AND isa = ? AND threads = ? "
                          "ORDER BY search_s, id"
                        : "SELECT search_s, trials, est_latency, meas_latency, meas_untuned FROM curves "
                          "WHERE model = ? ORDER BY search_s, id";
    if (db_prepare(db, sql, &st, err))
        return -1;
    sqlite3_bind_int64(st, 1, model);
    if (t) {
        db_bind_text(st, 2, t->cpu);
        db_bind_text(st, 3, t->isa);
        sqlite3_bind_int64(st, 4, t->threads > 0 ? t->threads : 0);
    }
    int rc, cap = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? 2 * cap : 64;
            *pts = tt_xrealloc(*pts, (size_t)cap * sizeof **pts);
        }
        tt_db_curve_point *p = &(*pts)[(*n)++];
        p->search_s = sqlite3_column_double(st, 0);
        p->trials = sqlite3_column_int64(st, 1);
        p->est_latency = sqlite3_column_type(st, 2) == SQLITE_NULL ? -1 : sqlite3_column_double(st, 2);
        p->meas_latency = sqlite3_column_type(st, 3) == SQLITE_NULL ? -1 : sqlite3_column_double(st, 3);
        p->meas_untuned = sqlite3_column_type(st, 4) == SQLITE_NULL ? -1 : sqlite3_column_double(st, 4);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        free(*pts);
        *pts = NULL;
        *n = 0;
        return db_fail(db, err, "reading a tuning curve");
    }
    return 0;
}

/* ---- statistics ----------------------------------------------------------- */

static int q_count(tt_db *db, const char *sql, int64_t *v, tt_err *err)
{
    sqlite3_stmt *st;
    if (db_prepare(db, sql, &st, err))
        return -1;
    int rc = sqlite3_step(st);
    *v = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : db_fail(db, err, "counting");
}

int tt_db_stats(tt_db *db, tt_db_counts *c, tt_err *err)
{
    memset(c, 0, sizeof *c);
    int64_t v;
    if (q_count(db, "PRAGMA user_version", &v, err))
        return -1;
    c->schema_version = (int)v;
    if (q_count(db, "SELECT count(*) FROM models", &c->models, err) ||
        q_count(db, "SELECT count(*) FROM kernels", &c->kernels, err) ||
        q_count(db, "SELECT count(*) FROM model_kernels", &c->model_kernels, err) ||
        q_count(db, "SELECT count(*) FROM records", &c->records, err) ||
        q_count(db, "SELECT count(*) FROM records WHERE error_no = 0 AND mean_cost IS NOT NULL",
                &c->records_ok, err) ||
        q_count(db, "SELECT count(*) FROM curves", &c->curves, err))
        return -1;
    int64_t has_bad = 0;
    if (q_count(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND "
                    "name = 'records_bad'", &has_bad, err) ||
        (has_bad && q_count(db, "SELECT count(*) FROM records_bad", &c->records_bad, err)))
        return -1;
    sqlite3_stmt *st;
    if (db_prepare(db, "SELECT origin, count(*) FROM records GROUP BY origin", &st, err))
        return -1;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int o = tt_origin_parse((const char *)sqlite3_column_text(st, 0));
        if (o >= 0)
            c->by_origin[o] = sqlite3_column_int64(st, 1);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return db_fail(db, err, "counting records by origin");
    if (db_prepare(db, "SELECT k.class_key, count(DISTINCT k.id), count(r.id) FROM kernels k "
                       "LEFT JOIN records r ON r.kernel = k.id GROUP BY k.class_key "
                       "ORDER BY 3 DESC, 1", &st, err))
        return -1;
    int cap = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (c->nclasses == cap) {
            cap = cap ? 2 * cap : 32;
            c->classes = tt_xrealloc(c->classes, (size_t)cap * sizeof *c->classes);
        }
        tt_db_class_count *k = &c->classes[c->nclasses++];
        const char *name = (const char *)sqlite3_column_text(st, 0);
        snprintf(k->class_key, sizeof k->class_key, "%s", name ? name : "");
        k->kernels = sqlite3_column_int64(st, 1);
        k->records = sqlite3_column_int64(st, 2);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        tt_db_counts_free(c);
        return db_fail(db, err, "counting records by class");
    }
    return 0;
}

void tt_db_counts_free(tt_db_counts *c)
{
    free(c->classes);
    c->classes = NULL;
    c->nclasses = 0;
}

/* ---- models and their kernels ------------------------------------------------- */

static void q_text(char *dst, size_t cap, const unsigned char *src)
{
    snprintf(dst, cap, "%s", src ? (const char *)src : "");
}

int tt_db_models(tt_db *db, tt_db_model_info **out, int *n, tt_err *err)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st;
    if (db_prepare(db, "SELECT id, name, source FROM models ORDER BY id", &st, err))
        return -1;
    int cap = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            *out = tt_xrealloc(*out, (size_t)cap * sizeof **out);
        }
        tt_db_model_info *m = &(*out)[(*n)++];
        m->id = sqlite3_column_int64(st, 0);
        q_text(m->name, sizeof m->name, sqlite3_column_text(st, 1));
        q_text(m->source, sizeof m->source, sqlite3_column_text(st, 2));
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        free(*out);
        *out = NULL;
        *n = 0;
        return db_fail(db, err, "listing models");
    }
    return 0;
}

int tt_db_model_kernels(tt_db *db, int64_t model, tt_db_kernel_info **out, int *n, tt_err *err)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st;
    if (db_prepare(db,
                   "SELECT k.id, k.workload_key, k.class_key, k.flops, mk.weight FROM model_kernels mk "
                   "JOIN kernels k ON k.id = mk.kernel WHERE mk.model = ? ORDER BY k.id",
                   &st, err))
        return -1;
    sqlite3_bind_int64(st, 1, model);
    int cap = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            *out = tt_xrealloc(*out, (size_t)cap * sizeof **out);
        }
        tt_db_kernel_info *k = &(*out)[(*n)++];
        k->id = sqlite3_column_int64(st, 0);
        q_text(k->workload_key, sizeof k->workload_key, sqlite3_column_text(st, 1));
        q_text(k->class_key, sizeof k->class_key, sqlite3_column_text(st, 2));
        k->flops = sqlite3_column_double(st, 3);
        int64_t w = sqlite3_column_int64(st, 4);
        k->weight = w > 0 && w < (1 << 30) ? (int)w : 0;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        free(*out);
        *out = NULL;
        *n = 0;
        return db_fail(db, err, "listing a model's kernels");
    }
    return 0;
}
