/* row.c - from a records row back to a tt_record, refusing corrupted rows.
 *
 * A row stores the same record twice: as a full Ansor log line (what export
 * writes and what the reader parses) and as queryable columns (steps, costs,
 * mean cost, error code).  A row is accepted only if they agree, so a
 * corrupted or hand-edited row is refused with the field that disagrees
 * instead of running a schedule nobody measured.  Whether its steps replay
 * on its kernel is the next check (valid.c).
 */
#include "db_int.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Printable ASCII only, and shorter than n. */
static int row_text_ok(const char *s, size_t n)
{
    size_t i = 0;
    for (; s[i]; i++)
        if (i + 1 >= n || (unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f)
            return 0;
    return 1;
}

/* The costs column: a JSON array of at most TT_MAX_COSTS finite,
 * non-negative numbers. */
static int row_costs(const char *text, double *costs, int *n, int64_t id, tt_err *err)
{
    json_error_t je;
    json_t *a = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    int rc = 0;
    if (!a || !json_is_array(a)) {
        rc = tt_err_set(err, "record %lld: costs column is not a JSON array", (long long)id);
    } else if (json_array_size(a) > TT_MAX_COSTS) {
        rc = tt_err_set(err, "record %lld: costs column has %zu costs (max %d)", (long long)id,
                        json_array_size(a), TT_MAX_COSTS);
    } else {
        *n = (int)json_array_size(a);
        for (int i = 0; i < *n; i++) {
            json_t *v = json_array_get(a, (size_t)i);
            double x = json_is_number(v) ? json_number_value(v) : -1;
            if (!json_is_number(v) || !isfinite(x) || x < 0) {
                rc = tt_err_set(err, "record %lld: costs column: cost %d is not a finite "
                                "non-negative number", (long long)id, i);
                break;
            }
            costs[i] = x;
        }
    }
    json_decref(a);
    return rc;
}

int tt_db_row_to_record(const tt_db_raw *raw, tt_db_row *row, tt_err *err)
{
    long long id = (long long)raw->id;
    memset(row, 0, sizeof *row);
    if (raw->id <= 0 || raw->kernel <= 0)
        return tt_err_set(err, "record %lld: bad id or kernel id (%lld)", id,
                          (long long)raw->kernel);
    if (!raw->line || !raw->steps || !raw->costs || !raw->cpu || !raw->isa || !raw->origin)
        return tt_err_set(err, "record %lld: a required column is NULL", id);
    row->id = raw->id;
    row->kernel = raw->kernel;

    tt_err e = {0};
    if (tt_record_parse(raw->line, &row->rec, &e))
        return tt_err_set(err, "record %lld: stored log line does not parse: %s", id, e.msg);

    /* Steps column == the line's steps, compared in their canonical form. */
    tt_step *steps = tt_xmalloc(sizeof(tt_step) * TT_MAX_STEPS);
    int nsteps = 0, rc = 0;
    if (tt_steps_parse(raw->steps, steps, TT_MAX_STEPS, &nsteps, &e)) {
        rc = tt_err_set(err, "record %lld: steps column does not parse: %s", id, e.msg);
    } else {
        char *a = tt_steps_write(steps, nsteps);
        char *b = tt_steps_write(row->rec.steps, row->rec.nsteps);
        if (!a || !b || nsteps != row->rec.nsteps || strcmp(a, b))
            rc = tt_err_set(err, "record %lld: steps column (%d steps) differs from its log "
                            "line's (%d steps)", id, nsteps, row->rec.nsteps);
        free(a);
        free(b);
    }
    free(steps);
    if (rc)
        return -1;

    double costs[TT_MAX_COSTS];
    int ncosts = 0;
    if (row_costs(raw->costs, costs, &ncosts, raw->id, err))
        return -1;
    if (ncosts != row->rec.ncosts)
        return tt_err_set(err, "record %lld: costs column has %d costs, its log line %d", id,
                          ncosts, row->rec.ncosts);
    double sum = 0;
    for (int i = 0; i < ncosts; i++) {
        if (costs[i] != row->rec.costs[i])
            return tt_err_set(err, "record %lld: cost %d differs between the costs column (%g) "
                              "and the log line (%g)", id, i, costs[i], row->rec.costs[i]);
        /* A successful measurement took time; a zero cost would be every
         * query's best record. */
        if (row->rec.error_no == 0 && !(costs[i] > 0))
            return tt_err_set(err, "record %lld: cost %d of a successful measurement is not "
                              "positive (%g)", id, i, costs[i]);
        sum += costs[i];
    }
    if (ncosts == 0) {
        if (raw->has_mean)
            return tt_err_set(err, "record %lld: mean cost without costs", id);
        row->mean_cost = -1;
    } else {
        double mean = sum / ncosts;
        if (!raw->has_mean || !isfinite(raw->mean_cost) ||
            fabs(raw->mean_cost - mean) > 1e-9 * fabs(mean))
            return tt_err_set(err, "record %lld: mean cost %g is not the mean of its costs (%g)",
                              id, raw->has_mean ? raw->mean_cost : NAN, mean);
        row->mean_cost = raw->mean_cost;
    }
    if (raw->error_no != row->rec.error_no || raw->error_no < 0 || raw->error_no >= TT_ERR_COUNT)
        return tt_err_set(err, "record %lld: error code %lld (its log line says %d)", id,
                          (long long)raw->error_no, row->rec.error_no);

    if (!row_text_ok(raw->cpu, sizeof row->target.cpu) ||
        !row_text_ok(raw->isa, sizeof row->target.isa))
        return tt_err_set(err, "record %lld: cpu or isa is too long or not printable", id);
    memcpy(row->target.cpu, raw->cpu, strlen(raw->cpu) + 1);
    memcpy(row->target.isa, raw->isa, strlen(raw->isa) + 1);
    if (raw->threads < 0 || raw->threads > 65536)
        return tt_err_set(err, "record %lld: threads %lld out of range", id,
                          (long long)raw->threads);
    row->target.threads = (int)raw->threads;
    int o = tt_origin_parse(raw->origin);
    if (o < 0)
        return tt_err_set(err, "record %lld: unknown origin (not tuned, transferred or imported)",
                          id);
    row->origin = (tt_origin)o;
    if (raw->source_model < 0)
        return tt_err_set(err, "record %lld: bad source model id", id);
    row->source_model = raw->source_model;
    if (!isfinite(raw->created))
        return tt_err_set(err, "record %lld: creation time is not a number", id);
    row->created = raw->created;
    return 0;
}

void db_read_raw(sqlite3_stmt *st, tt_db_raw *raw)
{
    memset(raw, 0, sizeof *raw);
    raw->id = sqlite3_column_int64(st, 0);
    raw->kernel = sqlite3_column_int64(st, 1);
    raw->steps = (const char *)sqlite3_column_text(st, 2);
    raw->line = (const char *)sqlite3_column_text(st, 3);
    raw->costs = (const char *)sqlite3_column_text(st, 4);
    raw->has_mean = sqlite3_column_type(st, 5) != SQLITE_NULL;
    raw->mean_cost = sqlite3_column_double(st, 5);
    raw->error_no = sqlite3_column_int64(st, 6);
    raw->cpu = (const char *)sqlite3_column_text(st, 7);
    raw->isa = (const char *)sqlite3_column_text(st, 8);
    raw->threads = sqlite3_column_int64(st, 9);
    raw->origin = (const char *)sqlite3_column_text(st, 10);
    raw->source_model = sqlite3_column_type(st, 11) == SQLITE_NULL ? 0 : sqlite3_column_int64(st, 11);
    raw->created = sqlite3_column_double(st, 12);
}
