/* util.c - see util.h. */
#define _XOPEN_SOURCE 700
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const char *tt_dtype_name(tt_dtype t)
{
    switch (t) {
    case TT_DT_FLOAT: return "float";
    case TT_DT_INT32: return "int32";
    case TT_DT_INT64: return "int64";
    case TT_DT_BOOL: return "bool";
    default: return "?";
    }
}

int tt_dtype_size(tt_dtype t)
{
    switch (t) {
    case TT_DT_FLOAT: return 4;
    case TT_DT_INT32: return 4;
    case TT_DT_INT64: return 8;
    case TT_DT_BOOL: return 1;
    default: return 0;
    }
}

int tt_err_set(tt_err *err, const char *fmt, ...)
{
    if (!err || err->set)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    err->set = 1;
    return -1;
}

void tt_err_prefix(tt_err *err, const char *fmt, ...)
{
    if (!err || !err->set)
        return;
    char pre[TT_ERR_MAX], old[TT_ERR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    /* the separator is ours: a context written with its own (": ") would
     * double it, as "FILE: : .npy header: : ..." did */
    size_t n = strlen(pre);
    while (n > 0 && (pre[n - 1] == ' ' || pre[n - 1] == ':'))
        pre[--n] = 0;
    /* a context that already heads the message ("x.onnx: x.onnx: ...")
     * adds nothing */
    if (n == 0 || (!strncmp(err->msg, pre, n) && !strncmp(err->msg + n, ": ", 2)))
        return;
    memcpy(old, err->msg, sizeof old);
    snprintf(err->msg, sizeof err->msg, "%s: %s", pre, old);
}

void tt_err_clear(tt_err *err)
{
    if (err) {
        err->set = 0;
        err->msg[0] = 0;
    }
}

/* The one line the library prints itself: out of memory leaves no caller
 * to report to, and a bare SIGABRT told the user nothing. */
static void oom(size_t n, size_t sz)
{
    if (sz > 1)
        fprintf(stderr, "transtune: out of memory: cannot allocate %zu x %zu bytes\n", n, sz);
    else
        fprintf(stderr, "transtune: out of memory: cannot allocate %zu bytes\n", n);
    abort();
}

void *tt_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom(n, 1);
    return p;
}

void *tt_xcalloc(size_t n, size_t sz)
{
    void *p = calloc(n ? n : 1, sz ? sz : 1);
    if (!p)
        oom(n, sz);
    return p;
}

void *tt_xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p)
        oom(n, 1);
    return p;
}

void *tt_try_malloc(size_t n, const char *what, tt_err *err)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        tt_err_set(err, "cannot allocate %zu bytes for %s", n, what);
    return p;
}

void *tt_try_realloc(void *p, size_t n, const char *what, tt_err *err)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        tt_err_set(err, "cannot allocate %zu bytes for %s", n, what);
    return q;
}

char *tt_xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = tt_xmalloc(n);
    memcpy(d, s, n);
    return d;
}

/* Arena: a linked list of chunks; large requests get their own chunk. */
typedef struct tt_chunk {
    struct tt_chunk *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
} tt_chunk;

struct tt_arena {
    tt_chunk *head;
};

tt_arena *tt_arena_new(void) { return tt_xcalloc(1, sizeof(tt_arena)); }

void *tt_arena_alloc(tt_arena *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (!a->head || a->head->used + n > a->head->cap) {
        size_t cap = n > 65536 ? n : 65536;
        tt_chunk *c = tt_xmalloc(sizeof(tt_chunk) + cap);
        c->used = 0;
        c->cap = cap;
        c->next = a->head;
        a->head = c;
    }
    void *p = a->head->data + a->head->used;
    a->head->used += n;
    memset(p, 0, n);
    return p;
}

char *tt_arena_strdup(tt_arena *a, const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = tt_arena_alloc(a, n);
    memcpy(d, s, n);
    return d;
}

void tt_arena_free(tt_arena *a)
{
    if (!a)
        return;
    tt_chunk *c = a->head;
    while (c) {
        tt_chunk *n = c->next;
        free(c);
        c = n;
    }
    free(a);
}

void tt_str_init(tt_str *s)
{
    s->buf = NULL;
    s->len = s->cap = 0;
}

void tt_str_free(tt_str *s)
{
    free(s->buf);
    tt_str_init(s);
}

static void str_reserve(tt_str *s, size_t extra)
{
    if (s->len + extra + 1 <= s->cap)
        return;
    size_t cap = s->cap ? s->cap : 256;
    while (cap < s->len + extra + 1)
        cap *= 2;
    s->buf = tt_xrealloc(s->buf, cap);
    s->cap = cap;
}

void tt_str_cat(tt_str *s, const char *text)
{
    size_t n = strlen(text);
    str_reserve(s, n);
    memcpy(s->buf + s->len, text, n + 1);
    s->len += n;
}

void tt_str_catn(tt_str *s, const void *bytes, size_t n)
{
    str_reserve(s, n);
    memcpy(s->buf + s->len, bytes, n);
    s->len += n;
    s->buf[s->len] = 0;
}

void tt_str_vcatf(tt_str *s, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return;
    str_reserve(s, (size_t)n);
    vsnprintf(s->buf + s->len, (size_t)n + 1, fmt, ap);
    s->len += (size_t)n;
}

void tt_str_catf(tt_str *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tt_str_vcatf(s, fmt, ap);
    va_end(ap);
}

void tt_str_clear(tt_str *s)
{
    s->len = 0;
    if (s->buf)
        s->buf[0] = 0;
}

char *tt_str_take(tt_str *s)
{
    char *b = s->buf ? s->buf : tt_xstrdup("");
    tt_str_init(s);
    return b;
}

void tt_rng_seed(tt_rng *r, uint64_t seed) { r->s = seed ^ 0x9E3779B97F4A7C15ull; }

uint64_t tt_rng_next(tt_rng *r)
{
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

uint64_t tt_rng_below(tt_rng *r, uint64_t n) { return n ? tt_rng_next(r) % n : 0; }

double tt_rng_unit(tt_rng *r) { return (double)(tt_rng_next(r) >> 11) * (1.0 / 9007199254740992.0); }

uint64_t tt_hash64(const void *data, size_t n)
{
    const unsigned char *p = data;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

double tt_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- outside files ---------------------------------------------------------- */

int tt_input_limit(uint64_t *limit, tt_err *err)
{
    *limit = TT_MAX_INPUT_BYTES_DEFAULT;
    const char *v = getenv("TT_MAX_INPUT_BYTES");
    if (!v || !*v)
        return 0;
    /* size := digit+ [K | M | G | T]   (case-insensitive, powers of 1024) */
    uint64_t x = 0;
    const char *p = v;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (x > (UINT64_MAX - 9) / 10)
            goto bad;
        x = x * 10 + (uint64_t)(*p - '0');
    }
    if (p == v)
        goto bad;
    static const char units[] = "KMGT";
    const char *u = *p ? strchr(units, *p & ~0x20) : NULL;
    if (*p && (!u || p[1]))
        goto bad;
    for (int k = u ? (int)(u - units) + 1 : 0; k > 0; k--) {
        if (x > UINT64_MAX / 1024)
            goto bad;
        x *= 1024;
    }
    if (x == 0)
        goto bad;
    *limit = x;
    return 0;
bad:
    return tt_err_set(err, "TT_MAX_INPUT_BYTES='%.64s' is not a size (a positive number of bytes, "
                           "or with a K, M, G or T suffix)", v);
}

static const char *file_kind(mode_t m)
{
    return S_ISDIR(m)    ? "a directory"
           : S_ISCHR(m)  ? "a character device"
           : S_ISBLK(m)  ? "a block device"
           : S_ISFIFO(m) ? "a FIFO"
           : S_ISSOCK(m) ? "a socket"
                         : "a special file";
}

/* What a message about the limit adds: how to raise it when it is the input
 * limit (env), nothing for a caller's own bound. */
static const char *limit_hint(int env)
{
    return env ? " (set TT_MAX_INPUT_BYTES to raise it)" : "";
}

/* The checks of tt_open_input on one stat result. */
static int input_ok(const char *path, const struct stat *st, uint64_t limit, int env, tt_err *err)
{
    if (!S_ISREG(st->st_mode))
        return tt_err_set(err, "%s: not a regular file (%s); only regular files are read", path,
                          file_kind(st->st_mode));
    if ((uint64_t)st->st_size > limit)
        return tt_err_set(err, "%s: %llu bytes, past the limit of %llu bytes for this file%s",
                          path, (unsigned long long)st->st_size, (unsigned long long)limit,
                          limit_hint(env));
    return 0;
}

/* tt_open_input with a given limit (env: it is the input limit). */
static FILE *open_bounded(const char *path, uint64_t limit, int env, uint64_t *size, tt_err *err)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        tt_err_set(err, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    if (input_ok(path, &st, limit, env, err))
        return NULL;
    /* O_NONBLOCK: should path be swapped for a FIFO after the stat, the open
     * still returns, and the fstat below refuses it */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        tt_err_set(err, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    FILE *f = NULL;
    if (fstat(fd, &st) != 0 || input_ok(path, &st, limit, env, err) ||
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) != 0 || !(f = fdopen(fd, "rb"))) {
        tt_err_set(err, "cannot open %s: %s", path, strerror(errno)); /* unless input_ok's */
        close(fd);
        return NULL;
    }
    *size = (uint64_t)st.st_size;
    return f;
}

FILE *tt_open_input(const char *path, uint64_t *size, uint64_t *limit, tt_err *err)
{
    return tt_input_limit(limit, err) ? NULL : open_bounded(path, *limit, 1, size, err);
}

/* Read path, of at most limit bytes, whole (env: limit is the input limit). */
static char *read_bounded(const char *path, uint64_t limit, int env, size_t *len, tt_err *err)
{
    uint64_t size;
    FILE *f = open_bounded(path, limit, env, &size, err);
    if (!f)
        return NULL;
    if (limit > SIZE_MAX / 2)
        limit = SIZE_MAX / 2;
    /* The buffer is the file's size at open, plus the NUL; a file that has
     * grown since (or under-reports, as /proc does) takes it doubling, up
     * to the limit. */
    size_t cap = (size_t)size + 1, n = 0;
    char *buf = tt_try_malloc(cap, path, err);
    int bad = !buf;
    while (!bad) {
        n += fread(buf + n, 1, cap - 1 - n, f);
        if (n < cap - 1)
            break; /* end of file, or an error */
        int c = getc(f);
        if (c == EOF)
            break;
        if (n >= limit) {
            bad = tt_err_set(err, "%s: more than %llu bytes, past the limit for this file%s",
                             path, (unsigned long long)limit, limit_hint(env));
            break;
        }
        /* n + 1 <= limit bytes, so the new capacity holds c and the NUL */
        size_t grow = 2 * cap > 4096 ? 2 * cap : 4096;
        if (grow > limit + 1)
            grow = (size_t)limit + 1;
        char *more = tt_try_realloc(buf, grow, path, err);
        bad = !more;
        if (more) {
            buf = more;
            cap = grow;
            buf[n++] = (char)c;
        }
    }
    if (!bad && ferror(f))
        bad = tt_err_set(err, "cannot read %s", path);
    fclose(f);
    if (bad) {
        free(buf);
        return NULL;
    }
    buf[n] = 0;
    if (len)
        *len = n;
    return buf;
}

char *tt_read_file(const char *path, size_t *len, tt_err *err)
{
    uint64_t limit;
    return tt_input_limit(&limit, err) ? NULL : read_bounded(path, limit, 1, len, err);
}

char *tt_read_file_max(const char *path, uint64_t max, size_t *len, tt_err *err)
{
    return read_bounded(path, max, 0, len, err);
}

int tt_exe_dir(char *buf, size_t n)
{
    ssize_t k = readlink("/proc/self/exe", buf, n > 0 ? n - 1 : 0);
    if (k <= 0 || (size_t)k >= n - 1)
        return -1;
    buf[k] = 0;
    char *slash = strrchr(buf, '/');
    if (!slash)
        return -1;
    *slash = 0;
    return 0;
}

void tt_cpu_model(char *buf, size_t n)
{
    snprintf(buf, n, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[512];
    /* "model name" on x86; "CPU part" (a number) on arm64 */
    while (f && fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) && strncmp(line, "CPU part", 8))
            continue;
        const char *v = strchr(line, ':');
        if (!v)
            continue;
        for (v++; *v == ' ' || *v == '\t'; v++)
            ;
        snprintf(buf, n, "%s", v);
        buf[strcspn(buf, "\n")] = 0;
        break;
    }
    if (f)
        fclose(f);
}

int tt_tools_dir(char *buf, size_t n)
{
    char p[PATH_MAX + 32];
    if (tt_exe_dir(buf, n) == 0 && snprintf(p, sizeof p, "%s/transtune-runner", buf) < (int)sizeof p &&
        access(p, X_OK) == 0)
        return 0;
    /* a program linked with libtranstune: the installed tools on PATH */
    const char *path = getenv("PATH");
    while (path && *path) {
        const char *end = strchr(path, ':');
        size_t len = end ? (size_t)(end - path) : strlen(path);
        if (len > 0 && len < n && len < PATH_MAX) {
            snprintf(p, sizeof p, "%.*s/transtune-runner", (int)len, path);
            if (access(p, X_OK) == 0) {
                snprintf(buf, n, "%.*s", (int)len, path);
                return 0;
            }
        }
        path = end ? end + 1 : NULL;
    }
    return -1;
}

static int median_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double tt_median(double *v, int n)
{
    if (n <= 0)
        return 0;
    qsort(v, (size_t)n, sizeof *v, median_cmp);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int64_t tt_host_cache_bytes(int level)
{
    long v = 0;
    char path[96];
    /* index0 = L1d, index1 = L1i, index2 = L2, index3 = L3 on x86 */
    snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/size", level);
    FILE *f = level >= 2 ? fopen(path, "r") : NULL;
    if (f) {
        char unit = 0;
        if (fscanf(f, "%ld%c", &v, &unit) >= 1) {
            if (unit == 'K' || unit == 'k')
                v *= 1024;
            else if (unit == 'M' || unit == 'm')
                v *= 1024 * 1024;
        } else {
            v = 0;
        }
        fclose(f);
    }
#if defined(_SC_LEVEL2_CACHE_SIZE) && defined(_SC_LEVEL3_CACHE_SIZE)
    if (v <= 0 && (level == 2 || level == 3))
        v = sysconf(level == 2 ? _SC_LEVEL2_CACHE_SIZE : _SC_LEVEL3_CACHE_SIZE);
#endif
    return v > 0 ? (int64_t)v : 0;
}

const char *tt_temp_base(void)
{
    const char *base = getenv("TMPDIR");
    return base && *base ? base : "/tmp";
}

int tt_temp_dir_in(const char *base, const char *prefix, char *buf, size_t n, tt_err *err)
{
    if (!base)
        base = tt_temp_base();
    char tmpl[PATH_MAX];
    /* the creator's pid in the name: tt_temp_sweep removes the folders of
     * processes that died without cleaning up (kill -9) */
    if (snprintf(tmpl, sizeof tmpl, "%s/%s-%ld-XXXXXX", base, prefix, (long)getpid()) >= (int)sizeof tmpl)
        return tt_err_set(err, "temporary directory path too long under %s", base);
    if (!mkdtemp(tmpl))
        return tt_err_set(err, "cannot create a directory in %s: %s", base, strerror(errno));
    char real[PATH_MAX];
    if (!realpath(tmpl, real) || strlen(real) >= n) {
        rmdir(tmpl);
        return tt_err_set(err, "cannot resolve %s, or its path is too long", tmpl);
    }
    memcpy(buf, real, strlen(real) + 1);
    return 0;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path) != 0 && errno != ENOENT;
}

int tt_remove_tree(const char *path)
{
    return nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : -1;
}

int tt_temp_dir(const char *prefix, char *buf, size_t n, tt_err *err)
{
    return tt_temp_dir_in(NULL, prefix, buf, n, err);
}

int tt_temp_sweep(const char *base)
{
    if (!base)
        base = tt_temp_base();
    DIR *d = opendir(base);
    if (!d)
        return 0;
    int removed = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        /* tt-<word>-<pid>-XXXXXX, as tt_temp_dir_in names them */
        const char *s = e->d_name;
        if (strncmp(s, "tt-", 3) != 0)
            continue;
        const char *dash = strchr(s + 3, '-');
        if (!dash || dash == s + 3)
            continue;
        char *end;
        long pid = strtol(dash + 1, &end, 10);
        if (end == dash + 1 || *end != '-' || strlen(end + 1) != 6 || pid <= 0)
            continue;
        /* a live process, or one of another user (EPERM), keeps its folder */
        if (pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;
        char path[PATH_MAX];
        struct stat st;
        if (snprintf(path, sizeof path, "%s/%s", base, s) >= (int)sizeof path ||
            lstat(path, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != getuid())
            continue;
        removed += tt_remove_tree(path) == 0;
    }
    closedir(d);
    return removed;
}
