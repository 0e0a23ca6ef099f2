/* test_layers.c - the stage order of src/ holds: no include goes up it.
 *
 * The order is read from docs/ARCHITECTURE.md, the one place it is written
 * (its "## Stages" list: lines "N. `src/STAGE` - ..."; its "## Programs" list:
 * lines "- `src/STAGE/FILE.c` - ...", files with a main that rank at the top).
 * Every src/STAGE/FILE.c and .h is read and each of its lines
 *
 *   #include "../OTHER/HEADER.h"
 *
 * must name a stage listed at or above STAGE, and no other stage's *_int.h;
 * a quoted include with a '/' that is not of that form is refused too, as it
 * would escape the check.  The test names every offending file and line with
 * both stages.  A folder of src/ missing from the list (or a listed one that
 * is absent) fails as well: a new stage has to be placed in the order.
 *
 * The checker runs on a path prefix, so layers/checker_finds_violations can
 * run it on a made-up tree in a temporary folder and see it fail. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../src/util/util.h"
#include "test.h"

#define LY_MAX_STAGES 64
#define LY_MAX_PROGS 16
#define LY_NAME 64
#define LY_PATH 512

typedef struct layers {
    int n;                             /* stages, in order */
    char stage[LY_MAX_STAGES][LY_NAME];
    int nprog;                         /* programs: "src/measure/runner_main.c" */
    char prog[LY_MAX_PROGS][LY_PATH];
} layers;

/* Index of stage name[0..len) in the order, -1 if it is not a stage. */
static int ly_rank(const layers *ly, const char *name, size_t len)
{
    for (int i = 0; i < ly->n; i++)
        if (strlen(ly->stage[i]) == len && strncmp(ly->stage[i], name, len) == 0)
            return i;
    return -1;
}

/* Parse the doc at root/docs/ARCHITECTURE.md.  Grammar of the lines read:
 *   stages  := "## Stages" line, then lines  N ". `src/" NAME "`" ...  (N = 1, 2, ...)
 *   progs   := "## Programs" line, then lines  "- `src/" PATH "`" ...
 * each list ending at the next "## " heading.  0, or -1 with err set. */
static int ly_read(const char *root, layers *ly, tt_err *err)
{
    memset(ly, 0, sizeof *ly);
    char path[LY_PATH];
    snprintf(path, sizeof path, "%sdocs/ARCHITECTURE.md", root);
    size_t len;
    char *text = tt_read_file(path, &len, err);
    if (!text)
        return -1;
    enum { NONE, STAGES, PROGS } sec = NONE;
    int rc = 0, lineno = 0;
    for (char *line = text; line && *line && rc == 0; lineno++) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = 0;
        if (strncmp(line, "## ", 3) == 0) {
            sec = strcmp(line, "## Stages") == 0 ? STAGES
                  : strcmp(line, "## Programs") == 0 ? PROGS : NONE;
        } else if (sec == STAGES && line[0] >= '0' && line[0] <= '9') {
            char *end;
            long num = strtol(line, &end, 10);
            const char *name = strncmp(end, ". `src/", 7) == 0 ? end + 7 : NULL;
            const char *q = name ? strchr(name, '`') : NULL;
            if (!q || q == name || q - name >= LY_NAME || memchr(name, '/', (size_t)(q - name)))
                rc = tt_err_set(err, "%s:%d: expected \"N. `src/STAGE` - ...\"", path,
                                lineno + 1);
            else if (num != ly->n + 1 || ly->n == LY_MAX_STAGES)
                rc = tt_err_set(err, "%s:%d: stage number %ld, expected %d", path, lineno + 1,
                                num, ly->n + 1);
            else if (ly_rank(ly, name, (size_t)(q - name)) >= 0)
                rc = tt_err_set(err, "%s:%d: stage listed twice", path, lineno + 1);
            else
                snprintf(ly->stage[ly->n++], LY_NAME, "%.*s", (int)(q - name), name);
        } else if (sec == PROGS && strncmp(line, "- `src/", 7) == 0) {
            const char *p = line + 3;
            const char *q = strchr(p, '`');
            if (!q || q - p >= LY_PATH || ly->nprog == LY_MAX_PROGS)
                rc = tt_err_set(err, "%s:%d: expected \"- `src/STAGE/FILE.c` ...\"", path,
                                lineno + 1);
            else
                snprintf(ly->prog[ly->nprog++], LY_PATH, "%.*s", (int)(q - p), p);
        }
        line = nl ? nl + 1 : NULL;
    }
    free(text);
    if (rc == 0 && ly->n == 0)
        rc = tt_err_set(err, "%s: no \"## Stages\" list", path);
    return rc ? -1 : 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in folder dir (not dot files), sorted, or NULL if it cannot be
 * listed; *n their count.  Free with ly_names_free. */
static char **ly_names(const char *dir, int *n)
{
    DIR *d = opendir(dir);
    if (!d)
        return NULL;
    int cap = 16;
    char **v = tt_xmalloc((size_t)cap * sizeof *v);
    *n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        if (*n == cap)
            v = tt_xrealloc(v, (size_t)(cap *= 2) * sizeof *v);
        v[(*n)++] = tt_xstrdup(e->d_name);
    }
    closedir(d);
    qsort(v, (size_t)*n, sizeof *v, cmp_str);
    return v;
}

static void ly_names_free(char **v, int n)
{
    for (int i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* Every folder of root/src is a listed stage and every listed stage a folder:
 * each mismatch is a line in report; their count. */
static int ly_check_folders(const char *root, const layers *ly, tt_str *report)
{
    char src[LY_PATH];
    snprintf(src, sizeof src, "%ssrc", root);
    int n, bad = 0;
    char **names = ly_names(src, &n);
    if (!names) {
        tt_str_catf(report, "    %s: cannot be listed\n", src);
        return 1;
    }
    for (int i = 0; i < n; i++) {
        char p[LY_PATH];
        struct stat st;
        snprintf(p, sizeof p, "%s/%s", src, names[i]);
        if (stat(p, &st) == 0 && S_ISDIR(st.st_mode) && ly_rank(ly, names[i], strlen(names[i])) < 0)
            bad++, tt_str_catf(report, "    src/%s is not in docs/ARCHITECTURE.md's stage list\n",
                               names[i]);
    }
    for (int s = 0; s < ly->n; s++) {
        int found = 0;
        for (int i = 0; i < n; i++)
            found |= strcmp(names[i], ly->stage[s]) == 0;
        if (!found)
            bad++, tt_str_catf(report, "    stage %s of docs/ARCHITECTURE.md has no folder "
                               "src/%s\n", ly->stage[s], ly->stage[s]);
    }
    ly_names_free(names, n);
    return bad;
}

/* The quoted path of an #include line, or NULL (not an include, or <...>);
 * *len its length. */
static const char *ly_include(const char *line, size_t *len)
{
    const char *p = line;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p++ != '#')
        return NULL;
    while (*p == ' ' || *p == '\t')
        p++;
    if (strncmp(p, "include", 7) != 0)
        return NULL;
    p += 7;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p != '"')
        return NULL;
    const char *q = strchr(p + 1, '"');
    if (!q)
        return NULL;
    *len = (size_t)(q - p - 1);
    return p + 1;
}

/* Check the includes of one file, rel = "src/STAGE/FILE", of stage rank r
 * (ly->n for a program): one report line per offending include; their count,
 * or 1 with a line if the file cannot be read. */
static int ly_check_file(const char *root, const char *rel, const char *stage, int r,
                         const layers *ly, tt_str *report)
{
    char path[LY_PATH];
    snprintf(path, sizeof path, "%s%s", root, rel);
    tt_err err = {0};
    size_t len;
    char *text = tt_read_file(path, &len, &err);
    if (!text) {
        tt_str_catf(report, "    %s\n", err.msg);
        return 1;
    }
    int bad = 0, lineno = 0;
    for (char *line = text; line && *line; lineno++) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = 0;
        size_t n;
        const char *inc = ly_include(line, &n);
        if (inc && memchr(inc, '/', n)) {
            const char *x = inc + 3, *slash = NULL;
            if (strncmp(inc, "../", 3) == 0)
                slash = memchr(x, '/', n - 3);
            int to = slash ? ly_rank(ly, x, (size_t)(slash - x)) : -1;
            const char *file = slash ? slash + 1 : "";
            size_t flen = slash ? n - (size_t)(file - inc) : 0;
            int internal = flen >= 6 && strncmp(file + flen - 6, "_int.h", 6) == 0;
            if (to < 0) {
                bad++, tt_str_catf(report, "    %s:%d: #include \"%.*s\" is not of the form "
                                   "\"../STAGE/FILE\" with STAGE in docs/ARCHITECTURE.md\n",
                                   rel, lineno + 1, (int)n, inc);
            } else if (to > r) {
                bad++, tt_str_catf(report, "    %s:%d: #include \"%.*s\" goes up the order: "
                                   "stage %s (%d) includes stage %s (%d), which comes later in "
                                   "docs/ARCHITECTURE.md\n",
                                   rel, lineno + 1, (int)n, inc, stage, r + 1,
                                   ly->stage[to], to + 1);
            } else if (internal && strcmp(ly->stage[to], stage) != 0) {
                bad++, tt_str_catf(report, "    %s:%d: #include \"%.*s\": stage %s includes "
                                   "stage %s's internal header\n",
                                   rel, lineno + 1, (int)n, inc, stage, ly->stage[to]);
            }
        }
        line = nl ? nl + 1 : NULL;
    }
    free(text);
    return bad;
}

/* Check every root/src/STAGE/ *.c and *.h of every listed stage (programs
 * ranked at the top): the report lines, and the count of offences. */
static int ly_check_tree(const char *root, const layers *ly, tt_str *report, int *nfiles)
{
    int bad = ly_check_folders(root, ly, report);
    *nfiles = 0;
    for (int s = 0; s < ly->n; s++) {
        char dir[LY_PATH];
        snprintf(dir, sizeof dir, "%ssrc/%s", root, ly->stage[s]);
        int n;
        char **names = ly_names(dir, &n);
        if (!names)
            continue; /* reported by ly_check_folders */
        for (int i = 0; i < n; i++) {
            size_t l = strlen(names[i]);
            if (l < 3 || (strcmp(names[i] + l - 2, ".c") && strcmp(names[i] + l - 2, ".h")))
                continue;
            char rel[LY_PATH];
            snprintf(rel, sizeof rel, "src/%s/%s", ly->stage[s], names[i]);
            int r = s;
            for (int p = 0; p < ly->nprog; p++)
                if (strcmp(ly->prog[p], rel) == 0)
                    r = ly->n; /* a program: the top */
            bad += ly_check_file(root, rel, ly->stage[s], r, ly, report);
            (*nfiles)++;
        }
        ly_names_free(names, n);
    }
    return bad;
}

static void layers_includes_go_down(void)
{
    layers ly;
    tt_err err = {0};
    CHECK_MSG(ly_read("", &ly, &err) == 0, "%s", err.msg);
    tt_str report;
    tt_str_init(&report);
    int nfiles;
    int bad = ly_check_tree("", &ly, &report, &nfiles);
    if (bad)
        fprintf(stderr, "%s", report.buf);
    tt_str_free(&report);
    CHECK_MSG(bad == 0, "%d include(s) break the stage order of docs/ARCHITECTURE.md (above)",
              bad);
    /* the walk saw the tree, not an empty folder */
    CHECK_MSG(ly.n >= 10 && nfiles >= 50, "%d stages, %d files", ly.n, nfiles);
}

/* Write text to root/rel, creating its folder. */
static int ly_put(const char *root, const char *rel, const char *text)
{
    char path[LY_PATH];
    snprintf(path, sizeof path, "%s%s", root, rel);
    char *slash = strrchr(path, '/');
    *slash = 0;
    char dir[LY_PATH];
    snprintf(dir, sizeof dir, "%s", path);
    for (char *p = dir + strlen(root); *p; p++)
        if (*p == '/') {
            *p = 0;
            mkdir(dir, 0755);
            *p = '/';
        }
    mkdir(dir, 0755);
    *slash = '/';
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fputs(text, f);
    return fclose(f);
}

/* The checker on a made-up tree: stages a < b < c, program b/main.c.  Each
 * offence is found and named with its file, line and both stages. */
static void layers_checker_finds_violations(void)
{
    char root[LY_PATH];
    tt_err err = {0};
    CHECK_MSG(tt_temp_dir("tt-test-layers", root, sizeof root - 1, &err) == 0, "%s", err.msg);
    strcat(root, "/");
    int ok = ly_put(root, "docs/ARCHITECTURE.md",
                    "# x\n\n## Stages\n\n1. `src/a` - first.\n2. `src/b` - second.\n"
                    "3. `src/c` - third.\n\n## Programs\n\n- `src/b/main.c` - a main.\n\n"
                    "## Decisions\n\n1. `src/zz` - not a stage.\n") == 0;
    ok &= ly_put(root, "src/a/a.h", "#include <stdio.h>\n#include \"a_int.h\"\n") == 0;
    ok &= ly_put(root, "src/a/a_int.h", "/* internals */\n") == 0;
    ok &= ly_put(root, "src/b/b.h", "#include \"../a/a.h\"\n\n  # include \"../c/c.h\"\n") == 0;
    ok &= ly_put(root, "src/b/main.c", "#include \"../c/c.h\"\n") == 0;
    ok &= ly_put(root, "src/c/c.c", "#include \"../a/a_int.h\"\n#include \"a/a.h\"\n"
                                    "#include \"../d/d.h\"\n") == 0;
    ok &= ly_put(root, "src/d/d.h", "\n") == 0;
    layers ly;
    int rd = ok ? ly_read(root, &ly, &err) : -1;
    tt_str report;
    tt_str_init(&report);
    int nfiles = 0, bad = rd == 0 ? ly_check_tree(root, &ly, &report, &nfiles) : -1;
    const char *r = report.buf ? report.buf : "";
    char *copy = tt_xstrdup(r);
    tt_str_free(&report);
    root[strlen(root) - 1] = 0;
    tt_remove_tree(root);
    int found = ok && rd == 0 && ly.n == 3 && ly.nprog == 1 && nfiles == 5 && bad == 5 &&
                strstr(copy, "src/d is not in docs/ARCHITECTURE.md's stage list") &&
                strstr(copy, "src/b/b.h:3: #include \"../c/c.h\" goes up the order: stage b (2) "
                             "includes stage c (3)") &&
                strstr(copy, "src/c/c.c:1: #include \"../a/a_int.h\": stage c includes stage a's "
                             "internal header") &&
                strstr(copy, "src/c/c.c:2: #include \"a/a.h\" is not of the form") &&
                strstr(copy, "src/c/c.c:3: #include \"../d/d.h\" is not of the form") &&
                !strstr(copy, "main.c") && !strstr(copy, "a.h:2");
    if (!found)
        fprintf(stderr, "    report:\n%s", copy);
    free(copy);
    CHECK_MSG(ok, "could not write the tree under %s", root);
    CHECK_MSG(rd == 0, "%s", err.msg);
    CHECK_MSG(found, "%d offences in %d files (expected 5 in 5), report above", bad, nfiles);
}

const tt_test tests_layers[] = {
    {"includes_go_down", layers_includes_go_down},
    {"checker_finds_violations", layers_checker_finds_violations},
    {NULL, NULL},
};
