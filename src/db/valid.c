/* valid.c - whether a records row is usable, and the kernel DAGs that tell.
 *
 * A row is usable when tt_db_row_to_record accepts it (its line parses and
 * agrees with its columns; a successful measurement's costs are finite and
 * positive) and its steps replay on its kernel's DAG.  One bad row must not
 * stop a command that reads hundreds of good ones, nor hide them: the readers
 * (query.c) skip it, go on with the next row, and the handle warns once, at
 * close (db_skip, db_valid_close).  `db check` lists such rows and moves them
 * aside (check.c).
 *
 * The kernels table keeps a kernel's DAG only as its canonical print
 * (tt_dag_print), which cannot be parsed back into a DAG, so the DAG is
 * rebuilt:
 *   1. from its workload key by identify (src/record/identify.h: conv,
 *      depthwise, dense, batch_matmul, pools, softmax, Winograd), keeping the
 *      candidate whose print is the stored print (cheap; every reader);
 *   2. for `db check` and import (load_models), by loading the models that
 *      hold the kernel (models.name for a zoo model, models.source for an
 *      .onnx file) and taking the kernel whose print is the stored one; every
 *      kernel of a loaded model is kept, so a model is loaded once per handle.
 * A kernel rebuilt neither way (e.g. a model's elementwise kernel whose
 * .onnx file moved) is "unchecked": its rows are used as before, and
 * `db check` counts them.
 */
#include "db_int.h"

#include <stdlib.h>
#include <string.h>

#include "../record/identify.h"
#include "../sched/sched.h"

/* ---- the replay check ------------------------------------------------------ */

int db_replay(const tt_dag *d, const tt_record *rec, tt_err *err)
{
    tt_state *s = tt_state_new(d);
    int rc = tt_state_apply_all(s, rec->steps, rec->nsteps, err);
    tt_state_free(s);
    return rc;
}

int tt_db_row_check(const tt_db_raw *raw, const tt_dag *dag, tt_db_row *row, tt_err *err)
{
    if (tt_db_row_to_record(raw, row, err))
        return -1;
    tt_err e = {0};
    if (dag && db_replay(dag, &row->rec, &e))
        return tt_err_set(err, "record %lld: its steps do not replay on its kernel %lld (%s): %s",
                          (long long)raw->id, (long long)raw->kernel, dag->class_key, e.msg);
    return 0;
}

/* ---- rebuilding a kernel's DAG ------------------------------------------------ */

/* Index of kernel's cache entry, -1 if it has none. */
static int kdag_find(const tt_db *db, int64_t kernel)
{
    for (int i = 0; i < db->nkdag; i++)
        if (db->kdag[i].kernel == kernel)
            return i;
    return -1;
}

/* Index of kernel's cache entry, added (empty) if absent. */
static int kdag_slot(tt_db *db, int64_t kernel)
{
    int i = kdag_find(db, kernel);
    if (i >= 0)
        return i;
    if (db->nkdag == db->capkdag) {
        db->capkdag = db->capkdag ? 2 * db->capkdag : 64;
        db->kdag = tt_xrealloc(db->kdag, (size_t)db->capkdag * sizeof *db->kdag);
    }
    db->kdag[db->nkdag] = (db_kdag){kernel, NULL, 0};
    return db->nkdag++;
}

/* d is the kernel whose stored print is `print` ("" for a kernel stored
 * without one: then its workload key must be wkey). */
static int valid_same_dag(const tt_dag *d, const char *wkey, const char *print)
{
    char *mine = print[0] ? tt_dag_print(d, 0) : tt_dag_workload_key(d);
    int same = mine && !strcmp(mine, print[0] ? print : wkey);
    free(mine);
    return same;
}

/* The identify candidate of wkey that is the stored kernel, or NULL. */
static tt_dag *valid_identify(const char *wkey, const char *print)
{
    enum { MAX_CAND = 256 };
    tt_wl_candidate *c = tt_xcalloc(MAX_CAND, sizeof *c);
    tt_err e = {0};
    int n = tt_identify_candidates(wkey, -1, c, MAX_CAND, &e);
    tt_dag *hit = NULL;
    for (int i = 0; i < n && !hit; i++)
        if (valid_same_dag(c[i].dag, wkey, print)) {
            hit = c[i].dag;
            c[i].dag = NULL;
        }
    if (n > 0)
        tt_identify_free(c, n);
    free(c);
    return hit;
}

/* Kernel `kernel`'s workload key and print (malloc'ed): 1, 0 if there is no
 * such kernel, -1 on error. */
static int valid_kernel_row(tt_db *db, int64_t kernel, char **wkey, char **print, tt_err *err)
{
    *wkey = *print = NULL;
    sqlite3_stmt *st;
    if (db_prepare(db, "SELECT workload_key, dag FROM kernels WHERE id = ?", &st, err))
        return -1;
    sqlite3_bind_int64(st, 1, kernel);
    int rc = sqlite3_step(st), found = 0;
    if (rc == SQLITE_ROW) {
        const char *k = (const char *)sqlite3_column_text(st, 0);
        const char *p = (const char *)sqlite3_column_text(st, 1);
        *wkey = tt_xstrdup(k ? k : "");
        *print = tt_xstrdup(p ? p : "");
        found = 1;
    } else if (rc != SQLITE_DONE) {
        found = db_fail(db, err, "reading a kernel");
    }
    sqlite3_finalize(st);
    return found;
}

/* Keep the DAGs of model m's kernels that are kernels of the database with
 * the same print (taken from m, which the caller frees). */
static int valid_take_model(tt_db *db, tt_model *m, tt_err *err)
{
    for (int k = 0; k < m->nkernels; k++) {
        int64_t kid = 0;
        int found = tt_db_find_kernel(db, m->kernels[k].workload_key, &kid, err);
        if (found < 0)
            return -1;
        if (!found)
            continue;
        int i = kdag_find(db, kid);
        if (i >= 0 && db->kdag[i].dag)
            continue;
        char *wkey, *print;
        if (valid_kernel_row(db, kid, &wkey, &print, err) < 0)
            return -1;
        if (print && valid_same_dag(m->kernels[k].dag, wkey, print)) {
            i = kdag_slot(db, kid);
            db->kdag[i].dag = m->kernels[k].dag;
            m->kernels[k].dag = NULL; /* a DAG owns its memory: it outlives m */
        }
        free(wkey);
        free(print);
    }
    return 0;
}

/* Load the models that hold kernel `kernel` and have not been loaded yet,
 * db->prefer_model first, until one has it. */
static int valid_load_models(tt_db *db, int64_t kernel, tt_err *err)
{
    sqlite3_stmt *st;
    if (db_prepare(db, "SELECT m.id, m.name, m.source FROM model_kernels mk JOIN models m "
                       "ON m.id = mk.model WHERE mk.kernel = ? ORDER BY m.id = ? DESC, m.id",
                   &st, err))
        return -1;
    sqlite3_bind_int64(st, 1, kernel);
    sqlite3_bind_int64(st, 2, db->prefer_model);
    int n = 0, cap = 0, rc;
    struct mrow {
        int64_t id;
        char *name, *source;
    } *ms = NULL;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(st, 0);
        int tried = 0;
        for (int i = 0; i < db->nmodels_tried; i++)
            tried |= db->models_tried[i] == id;
        if (tried)
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 8;
            ms = tt_xrealloc(ms, (size_t)cap * sizeof *ms);
        }
        const char *name = (const char *)sqlite3_column_text(st, 1);
        const char *source = (const char *)sqlite3_column_text(st, 2);
        ms[n++] = (struct mrow){id, tt_xstrdup(name ? name : ""), tt_xstrdup(source ? source : "")};
    }
    sqlite3_finalize(st);
    int ret = rc == SQLITE_DONE ? 0 : db_fail(db, err, "listing the models of a kernel");
    for (int i = 0; i < n; i++) {
        int k = kdag_find(db, kernel);
        if (ret == 0 && !(k >= 0 && db->kdag[k].dag)) {
            db->models_tried = tt_xrealloc(db->models_tried,
                                           (size_t)(db->nmodels_tried + 1) * sizeof(int64_t));
            db->models_tried[db->nmodels_tried++] = ms[i].id;
            /* a zoo model by its name (tune and transfer store the name given
             * as the source too); an ONNX model by its path */
            size_t l = strlen(ms[i].source);
            const char *what[2] = {ms[i].name, ms[i].source};
            int first = l > 5 && !strcmp(ms[i].source + l - 5, ".onnx") ? 1 : 0;
            for (int w = first; w < 2 && ret == 0; w++) {
                tt_model *m = NULL;
                tt_err e = {0};
                if (!what[w][0] || tt_model_load(what[w], &m, &e))
                    continue; /* not loadable here: its kernels stay unchecked */
                ret = valid_take_model(db, m, err);
                tt_model_free(m);
                break;
            }
        }
        free(ms[i].name);
        free(ms[i].source);
    }
    free(ms);
    return ret;
}

int db_kernel_dag(tt_db *db, int64_t kernel, int load_models, const tt_dag **dag, tt_err *err)
{
    *dag = NULL;
    int i = kdag_find(db, kernel);
    if (i < 0) {
        char *wkey, *print;
        int found = valid_kernel_row(db, kernel, &wkey, &print, err);
        if (found <= 0)
            return found < 0 ? -1 : 2;
        i = kdag_slot(db, kernel);
        db->kdag[i].dag = valid_identify(wkey, print);
        free(wkey);
        free(print);
    }
    if (!db->kdag[i].dag && load_models && !db->kdag[i].models_tried) {
        db->kdag[i].models_tried = 1;
        if (valid_load_models(db, kernel, err))
            return -1;
        i = kdag_find(db, kernel); /* the cache may have moved */
    }
    *dag = db->kdag[i].dag;
    return *dag ? 1 : 0;
}

/* ---- rows ---------------------------------------------------------------------- */

int db_row_usable(tt_db *db, const tt_db_raw *raw, int load_models, tt_db_row *row, tt_err *why,
                  tt_err *err)
{
    if (tt_db_row_to_record(raw, row, why))
        return DB_ROW_BAD;
    const tt_dag *d = NULL;
    int got = db_kernel_dag(db, raw->kernel, load_models, &d, err);
    if (got < 0)
        return -1;
    if (got == 2) {
        tt_err_set(why, "record %lld: its kernel %lld does not exist", (long long)raw->id,
                   (long long)raw->kernel);
        return DB_ROW_BAD;
    }
    if (got == 0)
        return DB_ROW_UNCHECKED;
    tt_err e = {0};
    if (db_replay(d, &row->rec, &e)) {
        tt_err_set(why, "record %lld: its steps do not replay on its kernel %lld (%s): %s",
                   (long long)raw->id, (long long)raw->kernel, d->class_key, e.msg);
        return DB_ROW_BAD;
    }
    return DB_ROW_OK;
}

void db_skip(tt_db *db, int64_t id, const char *why)
{
    for (int i = 0; i < db->nskipped; i++)
        if (db->skipped[i] == id)
            return;
    if (db->nskipped == db->capskipped) {
        db->capskipped = db->capskipped ? 2 * db->capskipped : 16;
        db->skipped = tt_xrealloc(db->skipped, (size_t)db->capskipped * sizeof *db->skipped);
    }
    db->skipped[db->nskipped++] = id;
    if (db->nskipped == 1)
        snprintf(db->first_skip, sizeof db->first_skip, "%s", why);
}

void tt_db_set_log(tt_db *db, tt_db_log_fn fn, void *ctx)
{
    db->log = fn;
    db->log_ctx = ctx;
}

int tt_db_skipped(const tt_db *db) { return db->nskipped; }

void db_valid_close(tt_db *db)
{
    if (db->nskipped > 0) {
        tt_str m;
        tt_str_init(&m);
        tt_str_catf(&m, "database %s: skipped %d bad record%s (%s%s); `transtune db check --db %s` "
                    "lists them, `transtune db check --fix --db %s` moves them into table "
                    "records_bad", db->path, db->nskipped, db->nskipped == 1 ? "" : "s",
                    db->nskipped == 1 ? "" : "the first: ", db->first_skip, db->path, db->path);
        if (db->log)
            db->log(db->log_ctx, m.buf);
        else
            fprintf(stderr, "warning: %s\n", m.buf);
        tt_str_free(&m);
    }
    free(db->skipped);
    for (int i = 0; i < db->nkdag; i++)
        tt_dag_free(db->kdag[i].dag);
    free(db->kdag);
    free(db->models_tried);
}
