/* cmd_db.c - `transtune db stats|import|export|check|repair`: the record
 * database from the command line (src/db/db.h). */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../db/db.h"
#include "cli.h"

#define DB_DEFAULT "transtune.db"

static void db_usage(FILE *f)
{
    fprintf(f,
            "usage: transtune db stats [--json] [--db DB]\n"
            "       transtune db import LOG [--model M] [--db DB]\n"
            "       transtune db export [--model M] [--source M] [--origin O] [--best N] [--output FILE]\n"
            "                           [--db DB]\n"
            "       transtune db check [--fix] [--db DB]\n"
            "       transtune db repair [--db DB]\n"
            "\n"
            "The record database (SQLite): models, kernels, measured records, tuning curves.\n"
            "\n"
            "  stats        counts per table, records per origin, kernels and records per\n"
            "               class key (--json: one JSON object)\n"
            "  import LOG   read an Ansor log (JSON lines, v0.3 to v0.6): every line is parsed\n"
            "               and identified to one of our kernels (a line keyed by a kernel\n"
            "               already in the database is that kernel's), its steps replayed on\n"
            "               it, then stored with origin 'imported' and its original line;\n"
            "               lines that fail are reported and skipped, lines already stored\n"
            "               are skipped; exit status 1 if every line was skipped.  --model M\n"
            "               records M (zoo name or .onnx, added to the database) as their\n"
            "               source model.\n"
            "  export       write records as Ansor v0.6 log lines (to stdout, or --output FILE),\n"
            "               oldest first; --model M: only records of M's kernels (M is a model\n"
            "               in the database, or else a zoo name or .onnx file whose kernels are\n"
            "               looked up by workload key); --source M: only records whose source\n"
            "               model is M (e.g. tuned for M: a kernel M shares with another\n"
            "               model also has that model's records); --origin\n"
            "               tuned|transferred|imported;\n"
            "               --best N: only the N fastest correct records of each kernel, best\n"
            "               first (e.g. to ship a model's schedules).\n"
            "  check        SQLite's integrity and foreign-key checks, then every record as\n"
            "               the readers judge it: its log line parses and agrees with its\n"
            "               columns, a successful measurement's costs are positive, its steps\n"
            "               replay on its kernel's DAG (rebuilt by identification, or by\n"
            "               loading the models that hold the kernel).  Lists the bad records\n"
            "               by id with the reason; exit status 1 if there are any (the other\n"
            "               commands skip them, with one warning).  --fix (or `repair`):\n"
            "               move them into table records_bad, in one transaction.\n"
            "\n"
            "--db DB: the database file; default $TT_DB if set, else transtune.db in the\n"
            "user's cache folder: $XDG_CACHE_HOME/transtune/, else ~/.cache/transtune/ (as\n"
            "pip and tinygrad keep theirs; ./" DB_DEFAULT " when neither is set).  import\n"
            "creates it if missing; the other commands need it to exist.\n");
}

const char *cli_db_default_path(void) { return tt_db_default_path(); }

static int db_open_or_report(const char *path, int flags, tt_db **db)
{
    tt_err err = {0};
    if (tt_db_open(path, flags, db, &err)) {
        fprintf(stderr, "transtune db: %s\n", err.msg);
        return -1;
    }
    return 0;
}

/* ---- stats ----------------------------------------------------------------- */

static int db_stats_cmd(const char *path, int json)
{
    tt_db *db;
    if (db_open_or_report(path, TT_DB_READONLY, &db))
        return 1;
    tt_err err = {0};
    tt_db_counts c;
    int rc = tt_db_stats(db, &c, &err);
    tt_db_close(db);
    if (rc) {
        fprintf(stderr, "transtune db: %s\n", err.msg);
        return 1;
    }
    if (json) {
        json_t *o = json_object(), *orig = json_object(), *cls = json_array();
        json_object_set_new(o, "database", json_string(path));
        json_object_set_new(o, "schema_version", json_integer(c.schema_version));
        json_object_set_new(o, "models", json_integer(c.models));
        json_object_set_new(o, "kernels", json_integer(c.kernels));
        json_object_set_new(o, "model_kernels", json_integer(c.model_kernels));
        json_object_set_new(o, "records", json_integer(c.records));
        json_object_set_new(o, "records_ok", json_integer(c.records_ok));
        json_object_set_new(o, "curves", json_integer(c.curves));
        json_object_set_new(o, "records_bad", json_integer(c.records_bad));
        for (int i = 0; i < TT_ORIGIN_COUNT; i++)
            json_object_set_new(orig, tt_origin_names[i], json_integer(c.by_origin[i]));
        json_object_set_new(o, "by_origin", orig);
        for (int i = 0; i < c.nclasses; i++) {
            json_t *k = json_object();
            json_object_set_new(k, "class", json_string(c.classes[i].class_key));
            json_object_set_new(k, "kernels", json_integer(c.classes[i].kernels));
            json_object_set_new(k, "records", json_integer(c.classes[i].records));
            json_array_append_new(cls, k);
        }
        json_object_set_new(o, "by_class", cls);
        char *s = json_dumps(o, JSON_COMPACT);
        printf("%s\n", s);
        free(s);
        json_decref(o);
    } else {
        printf("database %s (schema version %d)\n", path, c.schema_version);
        printf("  models         %lld\n", (long long)c.models);
        printf("  kernels        %lld\n", (long long)c.kernels);
        printf("  model_kernels  %lld\n", (long long)c.model_kernels);
        printf("  records        %lld (%lld measured without error)\n", (long long)c.records,
               (long long)c.records_ok);
        printf("  curves         %lld points\n", (long long)c.curves);
        if (c.records_bad)
            printf("  records_bad    %lld (moved aside by db check --fix)\n",
                   (long long)c.records_bad);
        printf("records by origin:");
        for (int i = 0; i < TT_ORIGIN_COUNT; i++)
            printf("%s %s %lld", i ? "," : "", tt_origin_names[i], (long long)c.by_origin[i]);
        printf("\n");
        if (c.nclasses) {
            printf("by class key:\n  %-48s %8s %8s\n", "class", "kernels", "records");
            for (int i = 0; i < c.nclasses; i++)
                printf("  %-48s %8lld %8lld\n", c.classes[i].class_key,
                       (long long)c.classes[i].kernels, (long long)c.classes[i].records);
        }
    }
    tt_db_counts_free(&c);
    return 0;
}

/* ---- import ---------------------------------------------------------------- */

typedef struct db_warn_ctx {
    const char *log;
} db_warn_ctx;

static void db_import_warn(void *ctx, int lineno, const char *msg)
{
    db_warn_ctx *w = ctx;
    fprintf(stderr, "%s:%d: skipped: %s\n", w->log, lineno, msg);
}

/* Load model `what` and add it (with its kernels) to db; *id its model id. */
static int db_add_model(tt_db *db, const char *what, int64_t *id)
{
    tt_err err = {0};
    tt_model *m = NULL;
    if (cli_model_load(what, &m, &err)) {
        fprintf(stderr, "transtune db: model %s: %s\n", what, err.msg);
        return -1;
    }
    size_t n = strlen(what);
    int onnx = n > 5 && !strcmp(what + n - 5, ".onnx");
    int rc = tt_db_add_model(db, m->name[0] ? m->name : what, onnx ? what : "zoo", m, id, NULL,
                             &err);
    tt_model_free(m);
    if (rc)
        fprintf(stderr, "transtune db: %s\n", err.msg);
    return rc;
}

static int db_import_cmd(const char *path, const char *log, const char *model)
{
    tt_db *db;
    if (db_open_or_report(path, 0, &db))
        return 1;
    tt_err err = {0};
    db_warn_ctx w = {log};
    tt_db_import_opts o = {0};
    o.warn = db_import_warn;
    o.ctx = &w;
    if (model && db_add_model(db, model, &o.source_model)) {
        tt_db_close(db);
        return 1;
    }
    tt_db_import_result r;
    int rc = tt_db_import_log(db, log, &o, &r, &err);
    tt_db_close(db);
    if (rc) {
        fprintf(stderr, "transtune db: %s\n", err.msg);
        return 1;
    }
    printf("%s: %d records: %d imported, %d already in %s, %d skipped; %d new kernels\n", log,
           r.lines, r.imported, r.duplicates, path, r.failed, r.new_kernels);
    if (r.unchecked)
        printf("%s: %d imported without a replay check (their kernels' DAGs cannot be rebuilt "
               "here)\n", log, r.unchecked);
    if (r.imported + r.duplicates == 0) {
        fprintf(stderr, "transtune db: import: %s: %s\n", log,
                r.lines ? "every line was skipped" : "no records in it");
        return 1;
    }
    return 0;
}

/* ---- export ---------------------------------------------------------------- */

typedef struct db_export_ctx {
    FILE *out;
    int64_t n;
    int bad;
    int best;                    /* > 0: keep the best N correct records of each kernel */
    int nkeep, capkeep;
    struct kept {
        int64_t kernel;
        double cost;
        int64_t id;
        char *line;
    } *keep;
} db_export_ctx;

static int cmp_kept(const void *a, const void *b)
{
    const struct kept *x = a, *y = b;
    if (x->kernel != y->kernel)
        return x->kernel < y->kernel ? -1 : 1;
    if (x->cost != y->cost)
        return x->cost < y->cost ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* --best N: print the kept lines, N per kernel, best first. */
static void db_export_flush(db_export_ctx *x)
{
    if (x->nkeep > 1)
        qsort(x->keep, (size_t)x->nkeep, sizeof *x->keep, cmp_kept);
    int in_kernel = 0;
    for (int i = 0; i < x->nkeep; i++) {
        in_kernel = i > 0 && x->keep[i].kernel == x->keep[i - 1].kernel ? in_kernel + 1 : 0;
        if (in_kernel < x->best && !x->bad) {
            if (fprintf(x->out, "%s\n", x->keep[i].line) < 0)
                x->bad = 1;
            else
                x->n++;
        }
        free(x->keep[i].line);
    }
    free(x->keep);
    x->keep = NULL;
    x->nkeep = 0;
}

static int db_export_row(void *ctx, const tt_db_row *row)
{
    db_export_ctx *x = ctx;
    if (x->best > 0) {
        if (row->rec.error_no != 0 || !(row->mean_cost > 0))
            return 0;
        char *l = tt_record_write(&row->rec);
        if (!l)
            return x->bad = 1;
        if (x->nkeep == x->capkeep) {
            x->capkeep = x->capkeep ? x->capkeep * 2 : 256;
            x->keep = tt_xrealloc(x->keep, (size_t)x->capkeep * sizeof *x->keep);
        }
        x->keep[x->nkeep++] = (struct kept){row->kernel, row->mean_cost, row->id, l};
        return 0;
    }
    char *line = tt_record_write(&row->rec);
    if (!line || fprintf(x->out, "%s\n", line) < 0) {
        free(line);
        return x->bad = 1;
    }
    free(line);
    x->n++;
    return 0;
}

static int db_export_cmd(const char *path, const char *model, const char *source,
                         const char *origin, const char *output, int best)
{
    tt_db_filter f = {0};
    if (origin) {
        int o = tt_origin_parse(origin);
        if (o < 0) {
            fprintf(stderr, "transtune db: --origin takes tuned, transferred or imported, got '%s'\n",
                    origin);
            return 2;
        }
        f.origins = 1u << o;
    }
    tt_db *db;
    if (db_open_or_report(path, TT_DB_READONLY, &db))
        return 1;
    tt_err err = {0};
    int64_t mid = 0;
    tt_model *m = NULL;
    int rc = 0;
    if (source) {
        int found = tt_db_model_id(db, source, &f.only_model, &err);
        if (found == 0) {
            fprintf(stderr, "transtune db: export: no model '%s' in %s\n", source, path);
            tt_db_close(db);
            return 1;
        }
        if (found < 0)
            rc = -1;
    }
    if (rc == 0 && model) {
        int found = tt_db_model_id(db, model, &mid, &err);
        if (found < 0)
            rc = -1;
        /* Not in the database: its kernels are looked up by workload key. */
        else if (!found && cli_model_load(model, &m, &err))
            rc = -1;
    }
    FILE *out = stdout;
    if (rc == 0 && output && !(out = fopen(output, "w"))) {
        fprintf(stderr, "transtune db: cannot write %s\n", output);
        tt_model_free(m);
        tt_db_close(db);
        return 1;
    }
    db_export_ctx x;
    memset(&x, 0, sizeof x);
    x.out = out;
    x.best = best;
    if (rc == 0 && m) {
        for (int k = 0; rc == 0 && k < m->nkernels; k++)
            rc = tt_db_foreach_record(db, 0, m->kernels[k].workload_key, &f, db_export_row, &x, &err);
    } else if (rc == 0) {
        rc = tt_db_foreach_record(db, mid, NULL, &f, db_export_row, &x, &err);
    }
    if (x.best > 0)
        db_export_flush(&x);
    if (x.bad && !err.set) {
        tt_err_set(&err, "write error");
        rc = -1;
    }
    if (out != stdout && fclose(out) != 0 && !err.set) {
        tt_err_set(&err, "write error on %s", output);
        rc = -1;
    }
    tt_model_free(m);
    tt_db_close(db);
    if (rc) {
        fprintf(stderr, "transtune db: export: %s\n", err.msg);
        return 1;
    }
    fprintf(stderr, "%lld records exported\n", (long long)x.n);
    return 0;
}

/* ---- check ------------------------------------------------------------------ */

static void db_check_bad(void *ctx, int64_t id, const char *why)
{
    (void)id;
    printf("%s: %s\n", (const char *)ctx, why);
}

/* `db check [--fix]`: SQLite's own checks, then every row (tt_db_check_records).
 * Exit status 0 when the file is clean, or was made clean by --fix. */
static int db_check_cmd(const char *path, int fix)
{
    tt_db *db;
    if (db_open_or_report(path, fix ? 0 : TT_DB_READONLY, &db))
        return 1;
    tt_err err = {0};
    int sqlite_bad = tt_db_check(db, &err) != 0;
    /* a file SQLite finds damaged has no rows to trust; a foreign-key
     * problem may be a records row of a missing kernel, which the row check
     * finds (and --fix moves) */
    if (sqlite_bad && !strstr(err.msg, "foreign key")) {
        tt_db_close(db);
        fprintf(stderr, "transtune db: %s\n", err.msg);
        return 1;
    }
    tt_db_check_result r;
    tt_err cerr = {0};
    int rc = tt_db_check_records(db, fix, db_check_bad, (void *)path, &r, &cerr);
    if (rc == 0 && sqlite_bad && r.moved > 0) {
        tt_err_clear(&err);
        sqlite_bad = tt_db_check(db, &err) != 0;
    }
    tt_db_close(db);
    if (rc) {
        fprintf(stderr, "transtune db: check: %s\n", cerr.msg);
        return 1;
    }
    if (r.unchecked)
        printf("%s: %lld records of %lld kernels not replayed: their DAGs cannot be rebuilt "
               "(identification does not know them, and no model holding them loads here)\n",
               path, (long long)r.unchecked, (long long)r.kernels_unchecked);
    if (sqlite_bad)
        printf("%s: %s\n", path, err.msg);
    if (r.bad && fix)
        printf("%s: %lld records, %lld bad: moved %lld into table records_bad\n", path,
               (long long)r.records, (long long)r.bad, (long long)r.moved);
    else if (r.bad)
        printf("%s: %lld records, %lld bad; `transtune db check --fix --db %s` moves them into "
               "table records_bad\n", path, (long long)r.records, (long long)r.bad, path);
    else if (!sqlite_bad)
        printf("%s: ok (%lld records)\n", path, (long long)r.records);
    return sqlite_bad || (r.bad && !fix) ? 1 : 0;
}

int cmd_db(int argc, char **argv)
{
    const char *sub = NULL, *log = NULL, *model = NULL, *source = NULL, *origin = NULL,
               *output = NULL;
    int best = 0;
    const char *path = cli_db_default_path();
    int json = 0, fix = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            db_usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--json")) {
            json = 1;
            continue;
        }
        if (!strcmp(a, "--fix")) {
            fix = 1;
            continue;
        }
        if (!strcmp(a, "--db") || !strcmp(a, "--model") || !strcmp(a, "--origin") ||
            !strcmp(a, "--output") || !strcmp(a, "--best") || !strcmp(a, "--source")) {
            if (i + 1 >= argc || !argv[i + 1][0]) {
                fprintf(stderr, "transtune db: option %s needs a value\n", a);
                return 2;
            }
            const char *v = argv[++i];
            if (!strcmp(a, "--db"))
                path = v;
            else if (!strcmp(a, "--model"))
                model = v;
            else if (!strcmp(a, "--source"))
                source = v;
            else if (!strcmp(a, "--origin"))
                origin = v;
            else if (!strcmp(a, "--best")) {
                int64_t b;
                if (cli_parse_i64(v, &b) || b < 1 || b > 1000000) {
                    fprintf(stderr, "transtune db: --best needs a positive integer, got '%s'\n", v);
                    return 2;
                }
                best = (int)b;
            }
            else
                output = v;
            continue;
        }
        if (a[0] == '-' && a[1]) {
            fprintf(stderr, "transtune db: unknown option '%s'\n\n", a);
            db_usage(stderr);
            return 2;
        }
        if (!sub)
            sub = a;
        else if (!log && !strcmp(sub, "import"))
            log = a;
        else {
            fprintf(stderr, "transtune db: unexpected argument '%s'\n\n", a);
            db_usage(stderr);
            return 2;
        }
    }
    if (!sub) {
        db_usage(stderr);
        return 2;
    }
    int is_stats = !strcmp(sub, "stats"), is_import = !strcmp(sub, "import"),
        is_export = !strcmp(sub, "export"), is_check = !strcmp(sub, "check");
    if (!strcmp(sub, "repair")) {
        is_check = 1;
        fix = 1;
    }
    if (!is_stats && !is_import && !is_export && !is_check) {
        fprintf(stderr, "transtune db: unknown subcommand '%s'\n\n", sub);
        db_usage(stderr);
        return 2;
    }
    if ((model && !is_import && !is_export) || ((origin || output || best || source) && !is_export) ||
        (json && !is_stats) || (fix && !is_check)) {
        fprintf(stderr, "transtune db %s: an option given does not apply (see --help)\n", sub);
        return 2;
    }
    if (is_import && !log) {
        fprintf(stderr, "transtune db import: which log? (transtune db import LOG)\n");
        return 2;
    }
    if (is_stats)
        return db_stats_cmd(path, json);
    if (is_import)
        return db_import_cmd(path, log, model);
    if (is_export)
        return db_export_cmd(path, model, source, origin, output, best);
    return db_check_cmd(path, fix);
}
