/* shipped.c - the schedules shipped with transtune (see transfer.h): the
 * folder for this host's vector ISA, and its logs imported into a database
 * with their zoo models as sources. */
#include "transfer.h"

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- shipped schedules --------------------------------------------------------- */

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* 1 if folder p holds a shipped log (a *.json file). */
static int has_json(const char *p)
{
    DIR *d = opendir(p);
    if (!d)
        return 0;
    int found = 0;
    for (struct dirent *e; !found && (e = readdir(d));) {
        size_t l = strlen(e->d_name);
        found = l > 5 && !strcmp(e->d_name + l - 5, ".json");
    }
    closedir(d);
    return found;
}

const char *tt_transfer_shipped_isa(void)
{
    return tt_host_vector_lanes() >= 16 ? "avx512" : "avx2";
}

/* The schedules for this host in the shipped folder base: base/ISA (the
 * host's vector ISA, tt_transfer_shipped_isa), else base itself if it holds
 * logs (a flat folder given as $TT_SCHEDULES), else the other ISA's folder
 * (records of another width still replay, widened or narrowed, and run
 * keeps a record only where it beats the default in place). */
static const char *pick_isa_dir(const char *base, char *buf, size_t n)
{
    const char *isa = tt_transfer_shipped_isa();
    const char *other = !strcmp(isa, "avx512") ? "avx2" : "avx512";
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", base);
    if (snprintf(buf, n, "%s/%s", tmp, isa) < (int)n && has_json(buf))
        return buf;
    if (has_json(tmp)) {
        snprintf(buf, n, "%s", tmp);
        return buf;
    }
    if (snprintf(buf, n, "%s/%s", tmp, other) < (int)n && has_json(buf))
        return buf;
    return NULL;
}

const char *tt_transfer_shipped_dir(char *buf, size_t n)
{
    const char *e = getenv("TT_SCHEDULES");
    if (e && *e)
        return is_dir(e) ? pick_isa_dir(e, buf, n) : NULL;
    /* build/transtune -> ../schedules; an installed PREFIX/bin/transtune ->
     * PREFIX/share/transtune/schedules (make install) */
    char exe[PATH_MAX], base[PATH_MAX];
    char *slash = tt_tools_dir(exe, sizeof exe) == 0 ? strrchr(exe, '/') : NULL;
    if (slash) {
        *slash = 0;
        if (snprintf(base, sizeof base, "%s/schedules", exe) < (int)sizeof base && is_dir(base))
            return pick_isa_dir(base, buf, n);
        if (snprintf(base, sizeof base, "%s/share/transtune/schedules", exe) < (int)sizeof base && is_dir(base))
            return pick_isa_dir(base, buf, n);
    }
    return is_dir("schedules") ? pick_isa_dir("schedules", buf, n) : NULL;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int tt_transfer_load_shipped(tt_db *db, const char *dir, int *files, int *records, tt_err *err)
{
    if (files)
        *files = 0;
    if (records)
        *records = 0;
    DIR *d = opendir(dir);
    if (!d)
        return tt_err_set(err, "cannot open the schedules folder %s", dir);
    char **names = NULL;
    int nn = 0;
    for (struct dirent *e; (e = readdir(d));) {
        size_t l = strlen(e->d_name);
        if (l > 5 && !strcmp(e->d_name + l - 5, ".json")) {
            names = tt_xrealloc(names, (size_t)(nn + 1) * sizeof(char *));
            names[nn++] = tt_xstrdup(e->d_name);
        }
    }
    closedir(d);
    if (nn > 1)
        qsort(names, (size_t)nn, sizeof *names, cmp_str);
    int rc = 0;
    for (int i = 0; i < nn && rc == 0; i++) {
        char model[128], path[PATH_MAX];
        snprintf(model, sizeof model, "%.*s", (int)(strlen(names[i]) - 5), names[i]);
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        tt_model *m = NULL;
        if (tt_model_load(model, &m, err)) {
            tt_err_prefix(err, "shipped schedules %s (named after zoo model '%s')", path, model);
            rc = -1;
            break;
        }
        int64_t mid = 0;
        if (tt_db_add_model(db, model, "zoo", m, &mid, NULL, err)) {
            tt_model_free(m);
            rc = -1;
            break;
        }
        tt_model_free(m);
        tt_db_import_opts o;
        memset(&o, 0, sizeof o);
        o.source_model = mid;
        tt_db_import_result ir;
        if (tt_db_import_log(db, path, &o, &ir, err)) {
            rc = -1;
            break;
        }
        if (files)
            (*files)++;
        if (records)
            *records += ir.imported;

    }
    for (int i = 0; i < nn; i++)
        free(names[i]);
    free(names);
    return rc;
}
