/* build.c - compile candidates into shared objects in parallel jobs, and the
 * child-process helpers that build and run share (see measure.h).
 *
 * A build is a queue of compile tasks.  First one task per translation unit
 * (per_unit candidates each, in item order); a unit that fails to compile
 * pushes one task per candidate, so that one bad candidate fails alone with
 * its own diagnostics while its neighbours still get a shared object.  Up to
 * `jobs` compilers run at once; each has a limit of CPU time, and a compiler
 * past it is killed with its whole process group (driver, cc1, as, ld).
 * CPU time, not wall time: on a host loaded by other work a compile that
 * needs 5 s of CPU can take a minute of wall time, and failing the candidate
 * for that would make results depend on the neighbours (it did: tests
 * flaked under load).  A wall-time cap of 4x the limit stays, for a compiler
 * that hangs without using CPU.
 *
 * Files of one tt_build call live in a fresh directory (tt-build-<pid>-XXXXXX
 * under opts->workdir or $TMPDIR, made by tt_temp_dir_in, whose pid lets
 * tt_temp_sweep remove it once its process is gone) and are kept: callers
 * dlopen the shared objects later, and a fresh directory per call means a
 * path once dlopen()ed is never rewritten with different code (the loader
 * would hand back the old handle).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "measure.h"
#include "measure_int.h"
#include "../util/hmac.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* ---- child processes ------------------------------------------------------ */

/* Contract: see measure.h.  posix_spawn (vfork+exec in glibc) never runs
 * code of the caller in the child, so it is safe with live OpenMP threads. */
int tt_proc_spawn(tt_proc *p, char *const argv[], const char *dir, const char *log_path,
                  double timeout_s, tt_err *err)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    /* chdir first, so that a relative log path is relative to dir. */
    if (dir)
        posix_spawn_file_actions_addchdir_np(&fa, dir);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, log_path ? log_path : "/dev/null",
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);

    /* Own process group (a timeout kills the whole tree), no blocked signals,
     * and default dispositions for signals the caller may ignore or catch
     * (an ignored SIGSEGV or SIGALRM would survive exec). */
    sigset_t none, def;
    sigemptyset(&none);
    sigemptyset(&def);
    int defsigs[] = {SIGPIPE, SIGCHLD, SIGINT, SIGQUIT, SIGTERM, SIGHUP, SIGALRM, SIGXCPU, SIGXFSZ};
    for (size_t i = 0; i < sizeof defsigs / sizeof defsigs[0]; i++)
        sigaddset(&def, defsigs[i]);
    posix_spawnattr_setpgroup(&at, 0);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &def);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                      POSIX_SPAWN_SETSIGDEF);

    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, &at, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (rc != 0)
        return tt_err_set(err, "cannot start %s: %s", argv[0], strerror(rc));

    p->pid = (int)pid;
    p->t0 = tt_now();
    p->deadline = timeout_s > 0 ? p->t0 + timeout_s : 1e300;
#ifdef SYS_pidfd_open
    /* A pidfd lets us sleep in poll() until the child exits; without one
     * (old kernels, some sandboxes) tt_proc_wait_any polls with short sleeps. */
    p->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
#else
    p->pidfd = -1;
#endif
    if (p->pidfd < 0)
        p->pidfd = -1;
    return 0;
}

/* CPU seconds used so far by the process group `pgid` (the compiler driver
 * and its running children, with their reaped children), from /proc; -1 if
 * /proc cannot be read. */
static double group_cpu_s(int pgid)
{
    DIR *d = opendir("/proc");
    if (!d)
        return -1;
    long hz = sysconf(_SC_CLK_TCK);
    double ticks = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9')
            continue;
        char path[300], buf[1024];
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        int fd = open(path, O_RDONLY);
        if (fd < 0)
            continue;
        ssize_t n = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (n <= 0)
            continue;
        buf[n] = 0;
        /* pid (comm) state ppid pgrp ... utime(14) stime(15) cutime(16) cstime(17);
         * comm may hold spaces and parentheses: parse after the last ')' */
        const char *q = strrchr(buf, ')');
        char state;
        int ppid, pgrp;
        unsigned long long ut, st, sk[8];
        long long cut, cst;
        if (!q || sscanf(q + 1, " %c %d %d %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %lld %lld",
                         &state, &ppid, &pgrp, &sk[0], &sk[1], &sk[2], &sk[3], &sk[4], &sk[5],
                         &sk[6], &sk[7], &ut, &st, &cut, &cst) != 15)
            continue;
        if (pgrp == pgid)
            ticks += (double)ut + (double)st + (double)cut + (double)cst;
    }
    closedir(d);
    return hz > 0 ? ticks / (double)hz : -1;
}

int tt_proc_over_cpu_limit(tt_proc *p, double limit_s, double *cpu_s)
{
    double now = tt_now();
    *cpu_s = -1;
    if (limit_s <= 0 || now < p->t0 + limit_s)
        return 0;
    if (now >= p->t0 + 4 * limit_s)
        return 1;
    double used = group_cpu_s(p->pid);
    *cpu_s = used;
    if (used < 0)
        return 1; /* no /proc: the wall-time limit it is */
    if (used >= limit_s)
        return 1;
    /* look again when the rest of the CPU budget could be used up at the
     * earliest, at least a second from now */
    double rest = limit_s - used;
    p->deadline = now + (rest > 1 ? rest : 1);
    if (p->deadline > p->t0 + 4 * limit_s)
        p->deadline = p->t0 + 4 * limit_s;
    return 0;
}

static void proc_release(tt_proc *p)
{
    if (p->pidfd >= 0)
        close(p->pidfd);
    p->pidfd = -1;
    p->pid = 0;
}

/* Contract: see measure.h.  Reaps by pid (WNOHANG), never another child. */
int tt_proc_poll(tt_proc *p, int *status)
{
    if (!p->pid) {
        *status = -1;
        return 1;
    }
    int st;
    pid_t r;
    do
        r = waitpid((pid_t)p->pid, &st, WNOHANG);
    while (r < 0 && errno == EINTR);
    if (r == 0)
        return 0;
    /* r < 0: ECHILD, the caller set SIGCHLD to SIG_IGN and the kernel reaped
     * the child itself; its status is lost. */
    *status = r < 0 ? -1 : st;
    proc_release(p);
    return 1;
}

/* Contract: see measure.h.  Blocks until p is reaped (SIGKILL cannot be
 * refused, so this is short). */
void tt_proc_kill(tt_proc *p)
{
    if (!p->pid)
        return;
    /* The child is the leader of its own group and is not reaped yet (a
     * zombie leader keeps the group id reserved), so -pid names exactly its
     * tree.  The second kill covers a child that died before setpgid. */
    kill(-(pid_t)p->pid, SIGKILL);
    kill((pid_t)p->pid, SIGKILL);
    int st;
    while (waitpid((pid_t)p->pid, &st, 0) < 0 && errno == EINTR)
        ;
    proc_release(p);
}

/* Contract: see measure.h.  May return early (a signal, an exit already
 * seen); callers re-check with tt_proc_poll and their deadlines. */
void tt_proc_wait_any(const tt_proc *ps, int n, double max_s)
{
    if (max_s < 0)
        max_s = 0;
    struct pollfd fds[64];
    int k = 0, all = n > 0 && n <= 64;
    for (int i = 0; i < n && all; i++) {
        if (!ps[i].pid)
            continue;
        if (ps[i].pidfd < 0)
            all = 0;
        else
            fds[k++] = (struct pollfd){.fd = ps[i].pidfd, .events = POLLIN};
    }
    if (all && k > 0) {
        double ms = max_s * 1000.0 + 1.0;
        poll(fds, (nfds_t)k, ms > 1e9 ? 1000000000 : (int)ms);
        return;
    }
    /* No pidfds: poll every 2 ms; exits are noticed late by at most that. */
    double s = max_s < 0.002 ? max_s : 0.002;
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

/* ---- compiler and flags --------------------------------------------------- */

#define BUILD_OPT_FLAGS "-O3 -march=native -fno-math-errno"

/* Find an executable: a name with '/' is checked as is, else looked up in
 * PATH.  Writes the path into out; returns 1 if found. */
static int build_which(const char *name, char *out, size_t cap)
{
    if (strchr(name, '/'))
        return snprintf(out, cap, "%s", name) < (int)cap && access(out, X_OK) == 0;
    const char *path = getenv("PATH");
    if (!path)
        path = "/usr/local/bin:/usr/bin:/bin";
    while (*path) {
        size_t len = strcspn(path, ":");
        if (snprintf(out, cap, "%.*s/%s", (int)len, len ? path : ".", name) < (int)cap &&
            access(out, X_OK) == 0)
            return 1;
        path += len;
        if (*path == ':')
            path++;
    }
    return 0;
}

/* Copy the w-th whitespace-separated word of s into out; returns 0 if none. */
static int build_word(const char *s, int w, char *out, size_t cap)
{
    for (int i = 0;; i++) {
        s += strspn(s, " \t\n");
        size_t len = strcspn(s, " \t\n");
        if (!len)
            return 0;
        if (i == w) {
            snprintf(out, cap, "%.*s", (int)len, s);
            return 1;
        }
        s += len;
    }
}

/* Is this compiler command clang?  Looks through ccache-style wrappers and
 * symlinks (/usr/bin/cc -> gcc-12). */
static int build_is_clang(const char *cc)
{
    char word[PATH_MAX], path[PATH_MAX], real[PATH_MAX];
    int w = 0;
    while (build_word(cc, w, word, sizeof word)) {
        const char *base = strrchr(word, '/') ? strrchr(word, '/') + 1 : word;
        if (strcmp(base, "ccache") && strcmp(base, "distcc") && strcmp(base, "sccache"))
            break;
        w++;
    }
    if (!build_word(cc, w, word, sizeof word))
        return 0;
    if (strstr(strrchr(word, '/') ? strrchr(word, '/') + 1 : word, "clang"))
        return 1;
    if (build_which(word, path, sizeof path) && realpath(path, real)) {
        const char *base = strrchr(real, '/') ? strrchr(real, '/') + 1 : real;
        return strstr(base, "clang") != NULL;
    }
    return 0;
}

/* Both compilers get plain -fopenmp: gcc's kernels then use libgomp, clang's
 * LLVM's libomp.  clang 14 accepts -fopenmp=libgomp but then emits no OpenMP
 * runtime calls at all (every `parallel for` silently runs on one thread;
 * `nm` shows no GOMP_ or __kmpc_ symbol), so it cannot share libgomp.  The
 * runner selects the thread count through OMP_NUM_THREADS, which both
 * runtimes read, before it loads a kernel (docs/NOTES.md). */
static const char *build_required_flags(const char *cc)
{
    (void)build_is_clang;
    return "-fPIC -shared -fopenmp";
}

/* $CC, else clang if installed (it compiles generated kernels about 3x
 * faster than gcc), else gcc, else cc. */
const char *tt_build_default_cc(void)
{
    const char *cc = getenv("CC");
    if (cc && *cc)
        return cc;
    char path[PATH_MAX];
    if (build_which("clang", path, sizeof path))
        return "clang";
    if (build_which("gcc", path, sizeof path))
        return "gcc";
    return "cc";
}

/* Optimization flags ($TT_CFLAGS or -O3 -march=native -fno-math-errno, what
 * tt_build uses; never -ffast-math, which breaks NaN checks and changes
 * results) followed by the flags a kernel library cannot do without.  No
 * -mprefer-vector-width=512: the generated code's vector statements are
 * explicit vector types, which clang emits at their full width anyway; every
 * figure in bench/results was measured without it.  The string lives in a
 * thread-local buffer until the thread's next call. */
const char *tt_build_default_cflags(const char *cc)
{
    static _Thread_local char buf[1024];
    if (!cc)
        cc = tt_build_default_cc();
    const char *opt = getenv("TT_CFLAGS");
    if (!opt || !*opt)
        opt = BUILD_OPT_FLAGS;
    snprintf(buf, sizeof buf, "%s %s", opt, build_required_flags(cc));
    return buf;
}

/* ---- the build queue ------------------------------------------------------ */

typedef struct build_task {
    int first, count;        /* items [first, first + count) */
    int unit;                /* k */
    char base[48];           /* file stem: unit_<k> or unit_<k>_<j> */
} build_task;

typedef struct build_ctx {
    const char *dir;
    const char *prelude;
    tt_build_item *items;
    char **argv;             /* compiler words + flags, then -o X.so X.c -lm NULL */
    char *words;             /* the words argv points to (build_argv) */
    int nfixed;              /* words before "-o" */
    char runner[PATH_MAX];   /* argv[0] when the compiler runs under the runner */
    char so[PATH_MAX], src[PATH_MAX], log[PATH_MAX];
} build_ctx;

static void build_paths(build_ctx *c, const build_task *t)
{
    snprintf(c->so, sizeof c->so, "%s/%s.so", c->dir, t->base);
    snprintf(c->src, sizeof c->src, "%s/%s.c", c->dir, t->base);
    snprintf(c->log, sizeof c->log, "%s/%s.log", c->dir, t->base);
}

static int build_write_source(build_ctx *c, const build_task *t, tt_err *err)
{
    FILE *f = fopen(c->src, "w");
    if (!f)
        return tt_err_set(err, "cannot write %s: %s", c->src, strerror(errno));
    fputs(c->prelude ? c->prelude : "", f);
    for (int i = t->first; i < t->first + t->count; i++)
        fprintf(f, "\n/* ---- candidate %d: %s ---- */\n%s\n", i, c->items[i].fn,
                c->items[i].source);
    if (fclose(f) != 0)
        return tt_err_set(err, "cannot write %s: %s", c->src, strerror(errno));
    return 0;
}

static int build_start(build_ctx *c, const build_task *t, tt_proc *p, double timeout_s,
                       tt_err *err)
{
    build_paths(c, t);
    if (build_write_source(c, t, err))
        return -1;
    unlink(c->so);
    /* Relative names (the job runs in dir) keep diagnostics short. */
    char so[64], src[64], log[64];
    snprintf(so, sizeof so, "%s.so", t->base);
    snprintf(src, sizeof src, "%s.c", t->base);
    snprintf(log, sizeof log, "%s.log", t->base);
    c->argv[c->nfixed + 1] = so;
    c->argv[c->nfixed + 2] = src;
    int rc = tt_proc_spawn(p, c->argv, c->dir, log, timeout_s, err);
    c->argv[c->nfixed + 1] = c->argv[c->nfixed + 2] = NULL;
    return rc;
}

/* First ~500 characters of the compiler's output, from the first line that
 * mentions an error (warnings before it would crowd it out). */
static void build_diag(const char *logpath, int status, char *out, size_t cap)
{
    /* the compiler's log, bounded (not by the input limit: it is ours) */
    char *log = tt_read_file_max(logpath, MEASURE_LOG_MAX, NULL, NULL);
    const char *s = log ? log : "";
    const char *e = strstr(s, "error");
    if (e) {
        while (e > s && e[-1] != '\n')
            e--;
        s = e;
    }
    size_t n = strlen(s);
    if (n > 500)
        n = 500;
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' '))
        n--;
    if (status != -1 && WIFSIGNALED(status))
        snprintf(out, cap, "compiler killed by signal %d%s%.*s", WTERMSIG(status), n ? ": " : "",
                 (int)n, s);
    else if (n)
        snprintf(out, cap, "%.*s", (int)n, s);
    else if (status != -1 && WIFEXITED(status) && WEXITSTATUS(status))
        snprintf(out, cap, "compiler exited with status %d", WEXITSTATUS(status));
    else
        snprintf(out, cap, "compiler produced no shared object");
    free(log);
}

/* Make (if needed) the caller's work dir and a fresh tt-build-<pid>-XXXXXX in
 * it (no work dir: under $TMPDIR, else /tmp, as tt_temp_dir_in does). */
static int build_make_dir(const char *workdir, char *out, size_t cap, tt_err *err)
{
    if (workdir && mkdir(workdir, 0755) != 0 && errno != EEXIST)
        return tt_err_set(err, "cannot create work dir %s: %s", workdir, strerror(errno));
    if (tt_temp_dir_in(workdir, "tt-build", out, cap, err))
        return -1;
    /* so_path is 512 bytes: leave room for "/unit_<k>_<j>.so". */
    if (strlen(out) + 48 >= sizeof(((tt_build_item *)0)->so_path) || strlen(out) + 48 >= cap)
        return tt_err_set(err, "work dir path too long: %s", out);
    return 0;
}

static void build_finish(build_ctx *c, const build_task *t, int status, build_task *queue,
                         int *nqueue)
{
    build_paths(c, t);
    int ok = (status == -1 || (WIFEXITED(status) && WEXITSTATUS(status) == 0)) &&
             access(c->so, R_OK) == 0;
    if (ok) {
        for (int i = t->first; i < t->first + t->count; i++)
            if (snprintf(c->items[i].so_path, sizeof c->items[i].so_path, "%s", c->so) >=
                (int)sizeof c->items[i].so_path)
                abort(); /* build_make_dir checked the length */
        return;
    }
    if (t->count > 1) {
        /* Rebuild each candidate alone: only the bad ones fail. */
        for (int j = 0; j < t->count; j++) {
            build_task *s = &queue[(*nqueue)++];
            s->first = t->first + j;
            s->count = 1;
            s->unit = t->unit;
            snprintf(s->base, sizeof s->base, "unit_%d_%d", t->unit, j);
        }
        return;
    }
    tt_build_item *it = &c->items[t->first];
    it->error = TT_ERR_COMPILE_HOST;
    build_diag(c->log, status, it->msg, sizeof it->msg);
}

/* Split a command string into words appended to argv (pointers into buf,
 * which the words are copied to).  No quoting: flags with spaces are not
 * supported. */
static int build_split(const char *s, char *buf, char **argv, int n)
{
    for (;;) {
        s += strspn(s, " \t\n");
        size_t len = strcspn(s, " \t\n");
        if (!len)
            return n;
        memcpy(buf, s, len);
        buf[len] = 0;
        argv[n++] = buf;
        buf += len + 1;
        s += len;
    }
}

/* Check the item list and clear the items' results. */
static int build_check_items(tt_build_item *items, int n, tt_err *err)
{
    if (n < 0 || (n > 0 && !items))
        return tt_err_set(err, "tt_build: bad item list");
    for (int i = 0; i < n; i++) {
        if (!items[i].source)
            return tt_err_set(err, "tt_build: item %d has no source", i);
        items[i].error = items[i].cached = 0;
        items[i].so_path[0] = items[i].msg[0] = 0;
        items[i].build_s = 0;
    }
    return 0;
}

/* Compile jobs at once: o->jobs, else one per online CPU; 1 to 64. */
static int build_job_count(const tt_build_opts *o)
{
    int jobs = o->jobs > 0 ? o->jobs : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (jobs < 1)
        jobs = 1;
    if (jobs > 64)
        jobs = 64;
    return jobs;
}

/* Whether the compiler runs under `transtune-runner --exec` (its path into
 * c->runner): the runner dies with this process and takes the compiler's
 * whole process group with it (the compiler's own children would outlive a
 * killed driver); without a runner at hand, or with TT_BUILD_SUPERVISE=0, it
 * runs directly. */
static int build_supervised(build_ctx *c)
{
    const char *sv = getenv("TT_BUILD_SUPERVISE");
    if (sv && !strcmp(sv, "0"))
        return 0;
    tt_runner_locate(NULL, c->runner, sizeof c->runner);
    return access(c->runner, X_OK) == 0;
}

/* c->argv: [runner --exec] compiler words, optimization flags, required
 * flags, then "-o", two free slots (X.so X.c, set by build_start) and "-lm";
 * c->nfixed is the number of words before "-o". */
static int build_argv(build_ctx *c, const tt_build_opts *o, tt_err *err)
{
    const char *cc = o->cc && *o->cc ? o->cc : tt_build_default_cc();
    const char *opt = o->cflags ? o->cflags : getenv("TT_CFLAGS");
    if (!opt || !*opt)
        opt = BUILD_OPT_FLAGS;
    const char *req = build_required_flags(cc);
    size_t wlen = strlen(cc) + strlen(opt) + strlen(req) + 3;
    c->words = tt_xmalloc(2 * wlen);
    c->argv = tt_xcalloc(wlen + 10, sizeof(char *));
    int sup = build_supervised(c);
    if (sup) {
        /* a compiler that cannot be started is the build's error, as when it
         * is spawned directly (the runner would only exit with 127) */
        char first[PATH_MAX], found[PATH_MAX];
        if (!build_word(cc, 0, first, sizeof first) || !build_which(first, found, sizeof found))
            return tt_err_set(err, "cannot start %s: no such executable", first[0] ? first : cc);
        c->argv[0] = c->runner;
        c->argv[1] = "--exec";
    }
    int na = build_split(cc, c->words, c->argv, sup ? 2 : 0);
    if (na == (sup ? 2 : 0))
        return tt_err_set(err, "tt_build: empty compiler command");
    na = build_split(opt, c->words + strlen(cc) + 1, c->argv, na);
    na = build_split(req, c->words + strlen(cc) + strlen(opt) + 2, c->argv, na);
    c->nfixed = na;
    c->argv[na] = "-o";
    c->argv[na + 3] = "-lm";
    return 0;
}

/* The first tasks: one per unit of per_unit items (in item order), in queue
 * (room for n more, the units' rebuilds one candidate each); returns their
 * number. */
static int build_queue_units(build_task *queue, int n, int per_unit)
{
    int nunits = (n + per_unit - 1) / per_unit;
    for (int k = 0; k < nunits; k++) {
        queue[k].unit = k;
        queue[k].first = k * per_unit;
        queue[k].count = n - k * per_unit < per_unit ? n - k * per_unit : per_unit;
        snprintf(queue[k].base, sizeof queue[k].base, "unit_%d", k);
    }
    return nunits;
}

/* Fail the items of t, whose compiler was killed after `cpu` s of CPU time
 * (-1: not known, the wall-time cap) and `wall` s. */
static void build_timed_out(build_ctx *c, const build_task *t, double cpu, double wall,
                            double timeout_s)
{
    for (int i = t->first; i < t->first + t->count; i++) {
        tt_build_item *it = &c->items[i];
        it->error = TT_ERR_BUILD_TIMEOUT;
        if (cpu >= 0)
            snprintf(it->msg, sizeof it->msg,
                     "compiler killed after %.1f s of CPU time (%.1f s wall; limit "
                     "%g s; unit of %d candidates)", cpu, wall, timeout_s, t->count);
        else
            snprintf(it->msg, sizeof it->msg,
                     "compiler killed after %.1f s wall (limit %g s of CPU, %g s "
                     "wall; unit of %d candidates)", wall, timeout_s, 4 * timeout_s, t->count);
    }
}

/* Run the queue with up to `jobs` compilers at once until every task is
 * done (finished ones may queue more); -1 when a compiler cannot be started,
 * after killing those running. */
static int build_run_queue(build_ctx *c, build_task *queue, int nqueue, int jobs, double timeout_s,
                           tt_err *err)
{
    tt_proc run[64];
    int run_task[64], nrun = 0, next = 0, rc = 0;
    while (rc == 0 && (next < nqueue || nrun > 0)) {
        while (nrun < jobs && next < nqueue) {
            if (build_start(c, &queue[next], &run[nrun], timeout_s, err)) {
                rc = -1;
                break;
            }
            run_task[nrun++] = next++;
        }
        if (rc)
            break;
        double wake = 1e300;
        for (int j = 0; j < nrun; j++)
            if (run[j].deadline < wake)
                wake = run[j].deadline;
        tt_proc_wait_any(run, nrun, wake - tt_now());
        for (int j = 0; j < nrun; j++) {
            const build_task *t = &queue[run_task[j]];
            int status;
            double cpu = -1;
            if (tt_proc_poll(&run[j], &status)) {
                build_finish(c, t, status, queue, &nqueue);
            } else if (tt_now() >= run[j].deadline &&
                       tt_proc_over_cpu_limit(&run[j], timeout_s, &cpu)) {
                double wall = tt_now() - run[j].t0;
                tt_proc_kill(&run[j]);
                build_timed_out(c, t, cpu, wall, timeout_s);
            } else {
                continue;
            }
            run[j] = run[nrun - 1];
            run_task[j] = run_task[nrun - 1];
            nrun--, j--;
        }
    }
    for (int j = 0; j < nrun; j++)
        tt_proc_kill(&run[j]);
    return rc;
}

/* Compile items[0..n) (checked, n > 0) in a fresh folder: tt_build
 * without the kernel cache. */
static int build_fresh(const tt_build_opts *o, const char *prelude, tt_build_item *items, int n, tt_err *err)
{
    double t0 = tt_now();
    int per_unit = o->per_unit > 0 ? o->per_unit : 8;
    double timeout_s = o->timeout_s > 0 ? o->timeout_s : 60;

    build_ctx c = {.prelude = prelude, .items = items};
    char dir[PATH_MAX];
    if (build_make_dir(o->workdir, dir, sizeof dir, err))
        return -1;
    c.dir = dir;
    if (build_argv(&c, o, err)) {
        free(c.words), free(c.argv);
        return -1;
    }

    build_task *queue = tt_xcalloc((size_t)((n + per_unit - 1) / per_unit + n), sizeof *queue);
    int nqueue = build_queue_units(queue, n, per_unit);
    int rc = build_run_queue(&c, queue, nqueue, build_job_count(o), timeout_s, err);

    double share = (tt_now() - t0) / n;
    for (int i = 0; i < n; i++)
        items[i].build_s = share;
    free(queue);
    free(c.words);
    free(c.argv);
    if (rc)
        tt_err_prefix(err, "build in %s", dir);
    return rc;
}

/* ---- the kernel cache ---------------------------------------------------------
 * An entry is two files in the cache folder: HEX.so, a shared object that
 * defines the function, and HEX.fn, its name.  HEX is the SHA-256 of the
 * compiler command, the prelude and the candidate's C with every occurrence
 * of its function name replaced by a mark: two candidates whose C differs
 * only in that name define the same function, any other difference is
 * another key.  HEX.so is written (hard link or copy, then rename) before
 * HEX.fn, so a reader that finds HEX.fn finds a complete HEX.so; the loader
 * sees a path with one content forever. */

#define CACHE_MARK "\001fn\001"

static void cache_key(const char *command, const char *prelude, const tt_build_item *it, char hex[65])
{
    struct tt_sha256 h;
    tt_sha256_init(&h);
    tt_sha256_update(&h, command, strlen(command) + 1);
    tt_sha256_update(&h, prelude ? prelude : "", strlen(prelude ? prelude : "") + 1);
    /* fn where an identifier starts (fn itself, or a helper named after it):
     * a consistent renaming, which leaves what the code computes as it is */
    const char *s = it->source, *from = s;
    size_t fl = strlen(it->fn);
    for (const char *p = s; fl > 0 && (p = strstr(p, it->fn)) != NULL;) {
        if (p > it->source && (isalnum((unsigned char)p[-1]) || p[-1] == '_')) {
            p++;
            continue;
        }
        tt_sha256_update(&h, from, (size_t)(p - from));
        tt_sha256_update(&h, CACHE_MARK, sizeof CACHE_MARK - 1);
        p += fl;
        from = p;
    }
    tt_sha256_update(&h, from, strlen(from));
    unsigned char d[TT_SHA256_LEN];
    tt_sha256_final(&h, d);
    for (int i = 0; i < TT_SHA256_LEN; i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
}

/* The entry of key hex into it (so_path, fn): 1 if there. */
static int cache_lookup(const char *dir, const char *hex, tt_build_item *it)
{
    char path[PATH_MAX], so[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s.fn", dir, hex);
    snprintf(so, sizeof so, "%s/%s.so", dir, hex);
    size_t n = 0;
    tt_err e = {0};
    char *fn = tt_read_file_max(path, sizeof it->fn - 1, &n, &e);
    int ok = fn && n > 0 && strlen(fn) == n &&
             strspn(fn, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") == n &&
             strlen(so) < sizeof it->so_path && access(so, R_OK) == 0;
    if (ok) {
        snprintf(it->fn, sizeof it->fn, "%s", fn);
        snprintf(it->so_path, sizeof it->so_path, "%s", so);
    }
    free(fn);
    return ok;
}

static int cache_copy(const char *from, const char *to)
{
    int in = open(from, O_RDONLY), out = in < 0 ? -1 : open(to, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int ok = out >= 0;
    char buf[65536];
    ssize_t r;
    while (ok && (r = read(in, buf, sizeof buf)) != 0) {
        if (r < 0 || write(out, buf, (size_t)r) != r)
            ok = 0;
    }
    if (in >= 0)
        close(in);
    if (out >= 0 && close(out) != 0)
        ok = 0;
    return ok ? 0 : -1;
}

/* Store built item it under hex (best effort: a full disk only costs a
 * rebuild later).  On success it->so_path becomes the entry's. */
static void cache_store(const char *dir, const char *hex, tt_build_item *it)
{
    char tmp[PATH_MAX], so[PATH_MAX], fn[PATH_MAX];
    snprintf(so, sizeof so, "%s/%s.so", dir, hex);
    snprintf(fn, sizeof fn, "%s/%s.fn", dir, hex);
    if (strlen(so) >= sizeof it->so_path)
        return;
    snprintf(tmp, sizeof tmp, "%s/.%s.%ld.so", dir, hex, (long)getpid());
    unlink(tmp);
    if ((link(it->so_path, tmp) != 0 && cache_copy(it->so_path, tmp) != 0) || rename(tmp, so) != 0) {
        unlink(tmp);
        return;
    }
    snprintf(tmp, sizeof tmp, "%s/.%s.%ld.fn", dir, hex, (long)getpid());
    FILE *f = fopen(tmp, "w");
    int ok = f && fputs(it->fn, f) >= 0;
    if (f && fclose(f) != 0)
        ok = 0;
    if (ok && rename(tmp, fn) == 0)
        snprintf(it->so_path, sizeof it->so_path, "%s", so);
    else
        unlink(tmp);
}

/* The compiler command as the key sees it: compiler, optimization flags,
 * required flags. */
static void cache_command(const tt_build_opts *o, char *buf, size_t cap)
{
    const char *cc = o->cc && *o->cc ? o->cc : tt_build_default_cc();
    const char *opt = o->cflags ? o->cflags : getenv("TT_CFLAGS");
    if (!opt || !*opt)
        opt = BUILD_OPT_FLAGS;
    snprintf(buf, cap, "%s\n%s\n%s", cc, opt, build_required_flags(cc));
}

/* tt_build through the cache: hits taken, equal keys built once, the rest
 * built and stored. */
static int build_cached(const tt_build_opts *o, const char *prelude, tt_build_item *items, int n, tt_err *err)
{
    if (mkdir(o->cache_dir, 0755) != 0 && errno != EEXIST)
        return tt_err_set(err, "cannot create kernel cache %s: %s", o->cache_dir, strerror(errno));
    char command[2048];
    cache_command(o, command, sizeof command);
    char (*key)[65] = tt_xmalloc((size_t)n * sizeof *key);
    int *lead = tt_xmalloc((size_t)n * sizeof *lead); /* -1 hit, i build, j < i same as j */
    int *sub_of = tt_xmalloc((size_t)n * sizeof *sub_of);
    tt_build_item *sub = tt_xcalloc((size_t)n, sizeof *sub);
    int nsub = 0;
    for (int i = 0; i < n; i++) {
        cache_key(command, prelude, &items[i], key[i]);
        lead[i] = i;
        for (int j = 0; j < i && lead[i] == i; j++)
            if (lead[j] == j && !strcmp(key[j], key[i]))
                lead[i] = j;
        if (lead[i] == i && cache_lookup(o->cache_dir, key[i], &items[i])) {
            lead[i] = -1;
            items[i].cached = 1;
        }
        if (lead[i] == i) {
            sub_of[i] = nsub;
            sub[nsub++] = items[i];
        }
    }
    int rc = nsub > 0 ? build_fresh(o, prelude, sub, nsub, err) : 0;
    for (int i = 0; i < n && rc == 0; i++) {
        if (lead[i] != i)
            continue;
        tt_build_item *b = &sub[sub_of[i]];
        if (!b->error)
            cache_store(o->cache_dir, key[i], b);
        items[i] = *b;
    }
    for (int i = 0; i < n && rc == 0; i++) {
        if (lead[i] < 0 || lead[i] == i)
            continue;
        const tt_build_item *b = &items[lead[i]];
        items[i].error = b->error;
        snprintf(items[i].so_path, sizeof items[i].so_path, "%s", b->so_path);
        snprintf(items[i].fn, sizeof items[i].fn, "%s", b->fn);
        snprintf(items[i].msg, sizeof items[i].msg, "%s", b->msg);
        items[i].cached = 1;
    }
    free(key), free(lead), free(sub_of), free(sub);
    return rc;
}

/* Contract: see measure.h.  Returns -1 only when the build itself cannot
 * proceed (no work dir, compiler not startable, disk full); then the items'
 * results are incomplete.  Each candidate's own failure is in its item. */
int tt_build(const tt_build_opts *o, const char *prelude, tt_build_item *items, int n, tt_err *err)
{
    tt_build_opts def = {0};
    if (!o)
        o = &def;
    if (build_check_items(items, n, err))
        return -1;
    if (n == 0)
        return 0;
    return o->cache_dir ? build_cached(o, prelude, items, n, err) : build_fresh(o, prelude, items, n, err);
}
