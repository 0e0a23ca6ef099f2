/* runner_main.c - build/transtune-runner: loads one kernel in a fresh process,
 * calls it on seeded random data, writes its output and times it.  Started by
 * tt_run_candidate / tt_run_reference (run.c), which kill it on timeout and
 * map a crash to an error code; a broken candidate can never take the tuner
 * down with it.
 *
 * Protocol, version 5.  Arguments are "--key value" pairs, all required but
 * --anchor-so/--anchor-fn (given together or not at all):
 *   --protocol 5          this protocol (a stale runner fails with status 2)
 *   --so PATH             shared object to dlopen (RTLD_NOW)
 *   --fn NAME             function to call
 *   --mode cand|ref       cand: void NAME(float *const *args)   args = inputs..., output
 *                         ref:  void NAME(float *const *inputs, double *out, double *mag)
 *   --numel N0,...,Nk     element counts: k inputs, then the output (1 <= k+1 <= 32)
 *   --seed S              input data seed (uint64)
 *   --threads T           OpenMP threads; 0 = all cores
 *   --number N            calls per repeat, grown while a repeat lasts < min-repeat-ms
 *   --repeat R            repeats (costs), 1..64
 *   --min-repeat-ms M     0 = no minimum
 *   --flush 0|1|2         the cache state each repeat starts in (measure.h, TT_CACHE_*):
 *                         0 warm (whatever the previous call left);
 *                         1 clflush every 64-byte line of args[1:] (as TVM does);
 *                         2 evict the private caches (L1, L2) of every CPU the runner
 *                         may run on by reading a scratch buffer twice their size on
 *                         each, then read args[0]: the arguments stay in the shared
 *                         L3 where they fit, as a small model's weights do between
 *                         one inference and the next;
 *                         1 and 2 force number = 1 and min-repeat-ms = 0
 *   --cutoff S            cand mode: if one call after the warm-up takes longer than
 *                         S seconds, its time is the single cost (number 1) and the
 *                         timing protocol is skipped (a search's clearly slow
 *                         candidates cost two calls, not seconds); 0 = none
 *   --anchor-so PATH      cand mode, optional: a second kernel of the same workload
 *   --anchor-fn NAME      (in practice its default schedule), timed alternately with
 *                         the candidate on the same buffers: each repeat times the
 *                         candidate, then the anchor with the same number of calls
 *                         (flushed the same way), and the cutoff call is followed by
 *                         one anchor call.  The machine's speed drifts by up to 1.6x
 *                         over seconds here; the ratio candidate / anchor of two
 *                         timings taken a few ms apart does not (see docs/NOTES.md).
 *   --timeout S           safety net: the runner kills itself (SIGALRM) after S + 2 s,
 *                         in case its parent died and cannot kill it; 0 = none
 *   --out PATH            output, native endian: cand float32[Nk];
 *                         ref double out[Nk] followed by double mag[Nk]
 *   --result PATH         one result line:
 *                           "ok <number> <ncosts> <cost>..."  seconds per call (%.9e);
 *                                                             ref mode: "ok 0 0"
 *                           with an anchor, followed by " anchor <ncosts> <cost>..."
 *                           stopped at the cutoff: " cut" at the end
 *                           "error <tt_errno> <message>"     3 = the module failed to
 *                                                             load (dlopen or dlsym),
 *                                                             8 = I/O or out of memory
 * Exit status: 0 ok, 2 bad arguments (message on stderr), 3 load error, 4 I/O or
 * memory error.  A crash leaves no result line and a signal in the wait status.
 * Only exit status 0 with an "ok" line is a success.
 *
 * Inputs: element j of input i is uniform in [-1, 1) from tt_rng seeded with
 * (seed, i), the same in both modes, so candidate and reference see the same
 * data.  The output is filled with NaN first, so an element the kernel never
 * writes shows up.  The first (warm-up) call's output is the one written.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <omp.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <emmintrin.h>
#include <immintrin.h>
#endif

#include "remote.h"
#include "../util/util.h"
#include "measure.h"
#include "measure_int.h"

typedef void (*runner_cand_fn)(float *const *args);
typedef void (*runner_ref_fn)(float *const *inputs, double *out, double *mag);

typedef struct runner_args {
    const char *so, *fn, *mode, *numel, *out, *result, *anchor_so, *anchor_fn;
    uint64_t seed;
    int protocol, threads, number, repeat, flush;
    double min_repeat_ms, timeout, cutoff;
} runner_args;

static const char *result_path;

static void runner_usage(const char *msg)
{
    fprintf(stderr, "transtune-runner: %s (protocol %d; see src/measure/runner_main.c)\n", msg,
            MEASURE_RUNNER_PROTOCOL);
    exit(2);
}

/* Write "error <code> <msg>" to the result file and exit with `status`. */
static void runner_fail(int code, int status, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    for (char *p = msg; *p; p++)
        if (*p == '\n')
            *p = ' ';
    fprintf(stderr, "transtune-runner: %s\n", msg);
    FILE *f = result_path ? fopen(result_path, "w") : NULL;
    if (f) {
        fprintf(f, "error %d %s\n", code, msg);
        fclose(f);
    }
    exit(status);
}

static double runner_num(const char *key, const char *s, double lo, double hi)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi)) {
        char msg[256];
        snprintf(msg, sizeof msg, "bad value for %s: '%s'", key, s);
        runner_usage(msg);
    }
    return v;
}

static void runner_parse(int argc, char **argv, runner_args *a)
{
    int seen = 0;
    for (int i = 1; i < argc; i += 2) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            runner_usage("missing value");
        seen++;
        if (!strcmp(k, "--protocol"))
            a->protocol = (int)runner_num(k, v, 0, 1e6);
        else if (!strcmp(k, "--so"))
            a->so = v;
        else if (!strcmp(k, "--fn"))
            a->fn = v;
        else if (!strcmp(k, "--mode"))
            a->mode = v;
        else if (!strcmp(k, "--numel"))
            a->numel = v;
        else if (!strcmp(k, "--seed")) {
            char *end;
            errno = 0;
            a->seed = strtoull(v, &end, 10);
            if (errno || end == v || *end)
                runner_usage("bad --seed");
        } else if (!strcmp(k, "--threads"))
            a->threads = (int)runner_num(k, v, 0, 4096);
        else if (!strcmp(k, "--number"))
            a->number = (int)runner_num(k, v, 1, 1e9);
        else if (!strcmp(k, "--repeat"))
            a->repeat = (int)runner_num(k, v, 1, TT_MAX_COSTS);
        else if (!strcmp(k, "--min-repeat-ms"))
            a->min_repeat_ms = runner_num(k, v, 0, 1e7);
        else if (!strcmp(k, "--flush"))
            a->flush = (int)runner_num(k, v, 0, 2);
        else if (!strcmp(k, "--cutoff"))
            a->cutoff = runner_num(k, v, 0, 1e7);
        else if (!strcmp(k, "--timeout"))
            a->timeout = runner_num(k, v, 0, 1e7);
        else if (!strcmp(k, "--anchor-so"))
            a->anchor_so = v, seen--;
        else if (!strcmp(k, "--anchor-fn"))
            a->anchor_fn = v, seen--;
        else if (!strcmp(k, "--out"))
            a->out = v;
        else if (!strcmp(k, "--result"))
            a->result = v;
        else {
            char msg[256];
            snprintf(msg, sizeof msg, "unknown argument '%s'", k);
            runner_usage(msg);
        }
    }
    if (a->protocol != MEASURE_RUNNER_PROTOCOL)
        runner_usage("protocol mismatch");
    if (seen != 15 || !a->so || !a->fn || !a->mode || !a->numel || !a->out || !a->result)
        runner_usage("every argument is required, once");
    if (strcmp(a->mode, "cand") && strcmp(a->mode, "ref"))
        runner_usage("--mode must be cand or ref");
    if (!a->anchor_so != !a->anchor_fn || (a->anchor_so && strcmp(a->mode, "cand")))
        runner_usage("--anchor-so and --anchor-fn go together, in cand mode");
}

/* Parse "N0,N1,...": returns the count. */
static int runner_numel(const char *s, int64_t *numel)
{
    int n = 0;
    while (*s) {
        char *end;
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (errno || end == s || v < 1 || v > ((int64_t)1 << 40) || n == TT_MAX_ARGS)
            runner_usage("bad --numel");
        numel[n++] = v;
        s = end;
        if (*s == ',')
            s++;
        else if (*s)
            runner_usage("bad --numel");
    }
    if (n < 1)
        runner_usage("bad --numel");
    return n;
}

static void *runner_alloc(int64_t bytes)
{
    size_t n = ((size_t)bytes + 63) & ~(size_t)63;
    void *p = aligned_alloc(64, n);
    if (!p)
        runner_fail(TT_ERR_UNKNOWN, 4, "out of memory allocating %zu bytes", n);
    return p;
}

static void runner_fill(float *x, int64_t n, uint64_t seed, int arg)
{
    tt_rng r;
    tt_rng_seed(&r, seed * 0x100000001B3ull ^ (uint64_t)(arg + 1) * 0xD1B54A32D192ED03ull);
    for (int64_t i = 0; i < n; i++)
        x[i] = (float)(2.0 * tt_rng_unit(&r) - 1.0);
}

#if defined(__x86_64__) || defined(__i386__)
/* clflushopt: the same eviction as clflush, but the flushes of different
 * lines are not ordered with each other, only by the fence after them.
 * ResNet-18's 3x3 512-channel Winograd weights (37 MB) took 84 ms per flush
 * with clflush and 1.5 ms with clflushopt on the Xeon host, where a read
 * of the flushed lines afterwards was as slow as after clflush; with 11
 * flushes per measurement, clflush was 0.9 s of its 0.95 s. */
__attribute__((target("clflushopt"))) static void runner_clflushopt(float **args, const int64_t *numel,
                                                                    int nargs)
{
    for (int a = 1; a < nargs; a++) {
        const char *p = (const char *)args[a], *end = p + numel[a] * (int64_t)sizeof(float);
        for (; p < end; p += 64)
            _mm_clflushopt((void *)p);
    }
    _mm_mfence();
}

static int runner_has_clflushopt(void)
{
    unsigned a, b, c, d;
    return __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b >> 23 & 1);
}
#endif

/* TT_CACHE_FLUSH: evict args[1:] from every cache level (TVM's
 * cache_flush_cpu_non_first_arg: arg 0 is treated as an activation still warm
 * from the previous layer). */
static void runner_clflush(float **args, const int64_t *numel, int nargs)
{
#if defined(__x86_64__) || defined(__i386__)
    static int opt = -1;
    if (opt < 0)
        opt = runner_has_clflushopt();
    if (opt) {
        runner_clflushopt(args, numel, nargs);
        return;
    }
    for (int a = 1; a < nargs; a++) {
        const char *p = (const char *)args[a], *end = p + numel[a] * (int64_t)sizeof(float);
        for (; p < end; p += 64)
            _mm_clflush(p);
    }
    _mm_mfence();
#else
    /* No clflush: overwrite a buffer larger than any last-level cache. */
    static volatile char *junk;
    size_t big = (size_t)256 << 20;
    if (!junk)
        junk = malloc(big);
    for (size_t i = 0; junk && i < big; i += 64)
        junk[i]++;
    (void)args, (void)numel, (void)nargs;
#endif
}

/* Read every line of p[0..n). */
static void runner_touch(const void *p, size_t n)
{
    const volatile char *c = p;
    char sum = 0;
    for (size_t i = 0; i < n; i += 64)
        sum += c[i];
    (void)sum;
}

/* TT_CACHE_L3: sweep a scratch buffer of twice the L2 size on each CPU the
 * runner may use (pinned there in turn), so the private caches hold only
 * scratch; the arguments' lines went to the shared L3 on eviction (on AMD
 * the L3 is filled by exactly those evictions) or stay there.  Then args[0]
 * is read back in, warm as an activation the previous layer just wrote. */
static void runner_evict_private(float **args, const int64_t *numel, int nargs)
{
    static char *scratch;
    static size_t nscratch;
    static cpu_set_t allowed;
    static int ncpu = -1;
    if (!scratch) {
        int64_t l2 = tt_host_cache_bytes(2);
        /* twice the L2 (which holds L1's lines on x86); 1 MB when unknown */
        nscratch = 2 * (size_t)(l2 > 0 ? l2 : 1 << 20);
        scratch = runner_alloc((int64_t)nscratch);
        memset(scratch, 1, nscratch);
        CPU_ZERO(&allowed);
        ncpu = sched_getaffinity(0, sizeof allowed, &allowed) == 0 ? CPU_COUNT(&allowed) : 0;
    }
    if (ncpu > 1) {
        /* the CPU this thread is on goes last, so that it ends where it
         * started: left on another CPU, it would share that one with an
         * OpenMP worker of the kernel until the scheduler moved one of them
         * (seen: 2-thread calls 1.5x slower) */
        int home = sched_getcpu();
        for (int i = 0; i <= CPU_SETSIZE; i++) {
            int c = i < CPU_SETSIZE ? i : home;
            if (c < 0 || !CPU_ISSET(c, &allowed) || (i < CPU_SETSIZE && c == home))
                continue;
            cpu_set_t one;
            CPU_ZERO(&one);
            CPU_SET(c, &one);
            if (sched_setaffinity(0, sizeof one, &one) == 0)
                runner_touch(scratch, nscratch);
        }
        sched_setaffinity(0, sizeof allowed, &allowed);
    } else {
        runner_touch(scratch, nscratch);
    }
    if (nargs > 1)
        runner_touch(args[0], (size_t)numel[0] * sizeof(float));
}

/* Put the caches in the state --flush asks for before a timed call. */
static void runner_flush(int mode, float **args, const int64_t *numel, int nargs)
{
    if (mode == 1)
        runner_clflush(args, numel, nargs);
    else if (mode == 2)
        runner_evict_private(args, numel, nargs);
}

static void runner_write(const char *path, const void *a, const void *b, size_t bytes)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        runner_fail(TT_ERR_UNKNOWN, 4, "cannot write %s: %s", path, strerror(errno));
    int ok = fwrite(a, 1, bytes, f) == bytes && (!b || fwrite(b, 1, bytes, f) == bytes);
    if (fclose(f) != 0 || !ok)
        runner_fail(TT_ERR_UNKNOWN, 4, "cannot write %s: %s", path, strerror(errno));
}

/* `number` calls of f, timed (ms). */
static double runner_calls(runner_cand_fn f, float **args, int64_t k)
{
    double t0 = tt_now();
    for (int64_t j = 0; j < k; j++)
        f(args);
    return (tt_now() - t0) * 1e3;
}

/* TVM's WrapTimeEvaluator: each repeat runs `number` calls; while a repeat
 * lasts under min_repeat_ms, number = max(min_repeat_ms / per-call + 1,
 * number * 1.618) and the repeat is rerun.  number carries over to the next
 * repeat.  With an anchor g, each repeat then times `number` calls of g
 * (flushed first in the same way) into anchor[r].  Returns the final number. */
static int runner_time(runner_cand_fn f, runner_cand_fn g, float **args, const int64_t *numel,
                       int nargs, const runner_args *a, double *costs, double *anchor)
{
    double number = a->number;
    for (int r = 0; r < a->repeat; r++) {
        if (a->flush)
            runner_flush(a->flush, args, numel, nargs);
        double ms = 0;
        int zeros = 0;
        do {
            if (ms > 0) {
                double want = a->min_repeat_ms / (ms / number) + 1, grow = number * 1.618;
                number = floor(want > grow ? want : grow);
                if (number > 1e9)
                    number = 1e9;
            }
            ms = runner_calls(f, args, (int64_t)number);
            if (ms <= 0)
                zeros++;
        } while (ms < a->min_repeat_ms && zeros < 100);
        costs[r] = ms / 1e3 / number;
        if (g) {
            if (a->flush)
                runner_flush(a->flush, args, numel, nargs);
            anchor[r] = runner_calls(g, args, (int64_t)number) / 1e3 / number;
        }
    }
    return (int)number;
}

/* --exec CMD ARGS...: run CMD as a child and die with the parent, taking the
 * whole process group along (tt_build runs compilers this way: a compiler
 * driver killed alone leaves cc1 and the linker running).  The exit status is
 * CMD's. */
static void supervise_term(int sig)
{
    (void)sig;
    kill(-getpgrp(), SIGKILL);
    _exit(137);
}

static int supervise(char **cmd)
{
    pid_t parent = getppid();
    if (getpgrp() != getpid())
        setpgid(0, 0); /* never signal a group that is not ours */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = supervise_term;
    sigaction(SIGTERM, &sa, NULL);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) /* the parent died before prctl */
        supervise_term(SIGTERM);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "transtune-runner: cannot fork: %s\n", strerror(errno));
        return 127;
    }
    if (pid == 0) {
        signal(SIGTERM, SIG_DFL);
        execvp(cmd[0], cmd);
        fprintf(stderr, "transtune-runner: cannot run %s: %s\n", cmd[0], strerror(errno));
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return 127;
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    return 128 + WTERMSIG(st);
}

/* Die with the parent, start the --timeout alarm and set the thread count,
 * before any kernel is loaded. */
static void runner_setup(const runner_args *a)
{
    /* Die with the parent; and if that signal is missed (the parent died
     * before prctl), the alarm still ends a hung kernel. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (a->timeout > 0)
        alarm((unsigned)ceil(a->timeout) + 2);

    /* OMP_NUM_THREADS reaches whichever runtime the kernel brings (libgomp
     * for gcc's kernels, libomp for clang's): it is read when that runtime
     * starts, i.e. at the dlopen of the kernel */
    int nthreads = a->threads > 0 ? a->threads : omp_get_num_procs();
    char nbuf[16];
    snprintf(nbuf, sizeof nbuf, "%d", nthreads);
    setenv("OMP_NUM_THREADS", nbuf, 1);
    omp_set_num_threads(nthreads);
}

/* The function fn of the shared object so; exits with status 3 (a load
 * error) if either is missing.  what names it in the messages: "" for the
 * kernel, " anchor" for the anchor. */
static void *runner_load(const char *so, const char *fn, const char *what)
{
    void *h = dlopen(so, RTLD_NOW | RTLD_LOCAL);
    if (!h)
        runner_fail(TT_ERR_COMPILE_DEVICE, 3, "dlopen%s: %s", what, dlerror());
    dlerror();
    void *sym = dlsym(h, fn);
    if (!sym)
        runner_fail(TT_ERR_COMPILE_DEVICE, 3, "dlsym%s %s: %s", what, fn, dlerror());
    return sym;
}

/* The result file, opened for writing; exits with status 4 if it cannot be. */
static FILE *runner_open_result(const char *path)
{
    FILE *res = fopen(path, "w");
    if (!res)
        runner_fail(TT_ERR_UNKNOWN, 4, "cannot write %s: %s", path, strerror(errno));
    return res;
}

/* ref mode: one call into out and mag (NaN first), both written to --out,
 * and the result "ok 0 0". */
static FILE *runner_run_ref(void *sym, float **args, int64_t nout, const runner_args *a)
{
    double *out = runner_alloc(nout * (int64_t)sizeof(double));
    double *mag = runner_alloc(nout * (int64_t)sizeof(double));
    for (int64_t i = 0; i < nout; i++)
        out[i] = mag[i] = NAN;
    runner_ref_fn f;
    *(void **)&f = sym;
    f(args, out, mag);
    runner_write(a->out, out, mag, (size_t)nout * sizeof(double));
    free(out);
    free(mag);
    FILE *res = runner_open_result(a->result);
    fprintf(res, "ok 0 0\n");
    return res;
}

/* cand mode with --cutoff: one call after the warm-up, timed (flushed
 * first, as the costs are); its time in *tw.  Returns whether it was over
 * the cutoff. */
static int runner_over_cutoff(runner_cand_fn f, float **args, const int64_t *numel, int nargs,
                              const runner_args *a, double *tw)
{
    /* the cutoff is judged on a second call: the first one also pays for
     * starting the OpenMP thread pool and for first-touch page faults */
    *tw = 0;
    if (a->cutoff > 0) {
        if (a->flush) /* then it is timed as the costs are */
            runner_flush(a->flush, args, numel, nargs);
        /* without a flush the costs are loops of calls (min_repeat_ms): so
         * is this, until min_repeat_ms has passed or the calls so far are
         * clearly over (a single call of a small parallel kernel can take
         * 3-4x its time in a loop: judged alone, good ones were cut) */
        double t0 = tt_now(), el = 0, lim = a->min_repeat_ms / 1e3;
        int64_t n = 0;
        do {
            f(args);
            n++;
            el = tt_now() - t0;
        } while (!a->flush && el < lim && el / (double)n <= 4 * a->cutoff);
        *tw = el / (double)n;
    }
    return a->cutoff > 0 && *tw > a->cutoff;
}

/* The cand result line: "ok <number> <repeat> <cost>..." [anchor ...] [cut]. */
static void runner_write_costs(FILE *res, int number, int repeat, const double *costs,
                               const double *anchor, int cut)
{
    fprintf(res, "ok %d %d", number, repeat);
    for (int r = 0; r < repeat; r++)
        fprintf(res, " %.9e", costs[r]);
    if (anchor) {
        fprintf(res, " anchor %d", repeat);
        for (int r = 0; r < repeat; r++)
            fprintf(res, " %.9e", anchor[r]);
    }
    if (cut)
        fprintf(res, " cut");
    fprintf(res, "\n");
}

/* cand mode: the warm-up call (its output, NaN first, written to --out),
 * the anchor's warm-up, then the cutoff call or the timing protocol. */
static FILE *runner_run_cand(void *sym, float **args, const int64_t *numel, int nargs,
                             runner_args *a)
{
    int nin = nargs - 1;
    int64_t nout = numel[nin];
    args[nin] = runner_alloc(nout * (int64_t)sizeof(float));
    for (int64_t i = 0; i < nout; i++)
        args[nin][i] = NAN;
    runner_cand_fn f, g = NULL;
    *(void **)&f = sym;
    f(args); /* warm-up; its output is the one checked */
    runner_write(a->out, args[nin], NULL, (size_t)nout * sizeof(float));
    if (a->anchor_so) {
        *(void **)&g = runner_load(a->anchor_so, a->anchor_fn, " anchor");
        g(args); /* its warm-up (same buffers; the output was written above) */
    }
    double costs[TT_MAX_COSTS], anchor[TT_MAX_COSTS];
    int number;
    double tw;
    int cut = runner_over_cutoff(f, args, numel, nargs, a, &tw);
    if (cut) {
        number = 1;
        a->repeat = 1;
        costs[0] = tw;
        if (g) {
            if (a->flush)
                runner_flush(a->flush, args, numel, nargs);
            anchor[0] = runner_calls(g, args, 1) / 1e3;
        }
    } else {
        /* the cutoff's loop says how many calls fill min_repeat_ms: start
         * there rather than growing from one call */
        if (!a->flush && a->min_repeat_ms > 0 && tw > 0 && a->min_repeat_ms / 1e3 / tw > a->number)
            a->number = (int)fmin(a->min_repeat_ms / 1e3 / tw, 1e9);
        number = runner_time(f, g, args, numel, nargs, a, costs, anchor);
    }
    FILE *res = runner_open_result(a->result);
    runner_write_costs(res, number, a->repeat, costs, g ? anchor : NULL, cut);
    free(args[nin]);
    return res;
}

/* transtune-runner --listen HOST:PORT --key FILE [--connections N]: the
 * remote runner (remote.h): serves hosts that hold the key, measuring their
 * kernels with this program as the child of each run.  A runner built with
 * TT_RUNNER_CHILD_ONLY (the cross-compiled aarch64 one: make
 * build/aarch64/transtune-runner) is only the child: $TT_RUNNER of a
 * listening runner, e.g. under qemu-aarch64. */
#ifdef TT_RUNNER_CHILD_ONLY
static int listen_main(int argc, char **argv)
{
    (void)argc, (void)argv;
    fprintf(stderr, "transtune-runner: this runner is built without --listen (TT_RUNNER_CHILD_ONLY)\n");
    return 2;
}
#else
static int listen_main(int argc, char **argv)
{
    const char *addr = NULL, *key = NULL;
    int conns = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--listen"))
            addr = argv[i + 1];
        else if (!strcmp(argv[i], "--key"))
            key = argv[i + 1];
        else if (!strcmp(argv[i], "--connections"))
            conns = atoi(argv[i + 1]);
        else
            addr = NULL, i = argc;
    }
    if (!addr || !key || argc % 2 == 0) {
        fprintf(stderr, "usage: transtune-runner --listen HOST:PORT --key FILE [--connections N]\n"
                        "(HOST: the address to listen on, 127.0.0.1 for this machine only)\n");
        return 2;
    }
    tt_err err = {0};
    if (tt_remote_serve(addr, key, conns, &err)) {
        fprintf(stderr, "transtune-runner: %s\n", err.msg);
        return 1;
    }
    return 0;
}
#endif

int main(int argc, char **argv)
{
    if (argc >= 3 && !strcmp(argv[1], "--exec"))
        return supervise(argv + 2);
    if (argc >= 2 && !strcmp(argv[1], "--listen"))
        return listen_main(argc, argv);
    runner_args a = {0};
    runner_parse(argc, argv, &a);
    result_path = a.result;
    int64_t numel[TT_MAX_ARGS];
    int nargs = runner_numel(a.numel, numel), nin = nargs - 1;
    if (a.flush) {
        a.number = 1;
        a.min_repeat_ms = 0;
    }
    runner_setup(&a);
    void *sym = runner_load(a.so, a.fn, "");

    float *args[TT_MAX_ARGS];
    for (int i = 0; i < nin; i++) {
        args[i] = runner_alloc(numel[i] * (int64_t)sizeof(float));
        runner_fill(args[i], numel[i], a.seed, i);
    }
    FILE *res = !strcmp(a.mode, "ref") ? runner_run_ref(sym, args, numel[nin], &a)
                                       : runner_run_cand(sym, args, numel, nargs, &a);
    /* freed, so that LeakSanitizer (make test-sanitize) has nothing to report */
    for (int i = 0; i < nin; i++)
        free(args[i]);
    if (fclose(res) != 0)
        runner_fail(TT_ERR_UNKNOWN, 4, "cannot write %s: %s", a.result, strerror(errno));
    /* No dlclose: unloading OpenMP code while its thread pool lives is unsafe. */
    return 0;
}
