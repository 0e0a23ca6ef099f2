/* run.c - run kernels in the runner process and check candidates against the
 * reference (see measure.h; the runner's protocol is in runner_main.c).
 *
 * Each run gets a private temp directory (tt-run-<pid>-XXXXXX under $TMPDIR,
 * made by tt_temp_dir) for the runner's output, result line and log; it is
 * removed before returning.
 * A candidate's failure (crash, hang, load error, wrong answer) is a result
 * in tt_result; only a failure of the machinery itself (no runner, bad
 * arguments, no temp dir) is an error in tt_err.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "measure.h"
#include "measure_int.h"

#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* What one runner process produced. */
typedef struct run_out {
    int error;                 /* tt_errno of the kernel */
    char msg[512];
    int number, ncosts, nanchor;
    int cut;                   /* the runner stopped at the cutoff */
    double costs[TT_MAX_COSTS], anchor[TT_MAX_COSTS];
    char *data;                /* contents of the --out file */
    size_t len;
} run_out;

void tt_runner_locate(const char *given, char *out, size_t cap)
{
    const char *r = given;
    if (!r || !*r)
        r = getenv("TT_RUNNER");
    if (r && *r) {
        snprintf(out, cap, "%s", r);
        return;
    }
    char exe[PATH_MAX];
    if (tt_tools_dir(exe, sizeof exe) == 0 &&
        snprintf(out, cap, "%s/transtune-runner", exe) < (int)cap && access(out, X_OK) == 0)
        return;
    snprintf(out, cap, "build/transtune-runner");
}

/* The last ~200 characters of the runner's log, on one line, for messages. */
static void run_log_tail(const char *path, char *out, size_t cap)
{
    out[0] = 0;
    size_t len = 0;
    char *log = tt_read_file_max(path, MEASURE_LOG_MAX, &len, NULL);
    if (!log)
        return;
    while (len > 0 && (log[len - 1] == '\n' || log[len - 1] == ' '))
        log[--len] = 0;
    const char *s = len > 200 ? log + len - 200 : log;
    snprintf(out, cap, "%s%s", *s ? ": " : "", s);
    for (char *p = out; *p; p++)
        if (*p == '\n')
            *p = ' ';
    free(log);
}

static int run_check_io(const tt_io *io, const char *so, const char *fn, tt_err *err)
{
    if (!io || !so || !fn || !*fn)
        return tt_err_set(err, "run: missing io, shared object or function name");
    if (io->nin < 0 || io->nin + 1 > TT_MAX_ARGS)
        return tt_err_set(err, "run: %d inputs (at most %d arguments)", io->nin, TT_MAX_ARGS);
    for (int i = 0; i <= io->nin; i++)
        if (io->numel[i] < 1 || io->numel[i] > ((int64_t)1 << 40))
            return tt_err_set(err, "run: argument %d has %" PRId64 " elements", i, io->numel[i]);
    return 0;
}

/* Parse n costs (finite, >= 0) from *s into out, moving *s past them. */
static int run_parse_costs(char **s, long n, double *out)
{
    char *end = *s;
    for (long i = 0; i < n; i++) {
        char *e2;
        double c = strtod(end, &e2);
        if (e2 == end || !isfinite(c) || c < 0)
            return -1;
        out[i] = c;
        end = e2;
    }
    *s = end;
    return 0;
}

/* Parse "ok <number> <ncosts> <cost>... [anchor <ncosts> <cost>...] [cut]". */
static int run_parse_ok(const char *s, run_out *ro)
{
    char *end;
    long number = strtol(s + 3, &end, 10);
    long ncosts = strtol(end, &end, 10);
    if (number < 0 || ncosts < 0 || ncosts > TT_MAX_COSTS)
        return -1;
    if (run_parse_costs(&end, ncosts, ro->costs))
        return -1;
    ro->number = (int)number;
    ro->ncosts = (int)ncosts;
    ro->nanchor = 0;
    while (*end == ' ')
        end++;
    if (!strncmp(end, "anchor ", 7)) {
        long na = strtol(end + 7, &end, 10);
        if (na != ncosts || run_parse_costs(&end, na, ro->anchor))
            return -1;
        ro->nanchor = (int)na;
    }
    while (*end == ' ')
        end++;
    ro->cut = 0;
    if (!strncmp(end, "cut", 3) && (end[3] == 0 || end[3] == '\n' || end[3] == ' ')) {
        if (ncosts != 1 || number != 1)
            return -1;
        ro->cut = 1;
        end += 3;
    }
    while (*end == ' ' || *end == '\n')
        end++;
    return *end ? -1 : 0;
}

/* The run options with their defaults filled in. */
typedef struct run_limits {
    int number, repeat;
    double min_ms, timeout_s;
} run_limits;

static run_limits run_limits_of(const tt_run_opts *o)
{
    run_limits l;
    l.number = o->number > 0 ? o->number : 3;
    l.repeat = o->repeat > 0 ? o->repeat : 3;
    if (l.repeat > TT_MAX_COSTS)
        l.repeat = TT_MAX_COSTS;
    l.min_ms = o->min_repeat_ms == 0 ? 100 : o->min_repeat_ms < 0 ? 0 : o->min_repeat_ms;
    l.timeout_s = o->timeout_s > 0 ? o->timeout_s : 10;
    return l;
}

/* One run's private folder and the runner's files in it. */
typedef struct run_files {
    char dir[PATH_MAX], out[PATH_MAX + 16], result[PATH_MAX + 16], log[PATH_MAX + 16];
} run_files;

static int run_files_make(run_files *f, tt_err *err)
{
    if (tt_temp_dir("tt-run", f->dir, sizeof f->dir, err)) {
        tt_err_prefix(err, "run: ");
        return -1;
    }
    snprintf(f->out, sizeof f->out, "%s/out.bin", f->dir);
    snprintf(f->result, sizeof f->result, "%s/result.txt", f->dir);
    snprintf(f->log, sizeof f->log, "%s/log.txt", f->dir);
    return 0;
}

/* The runner's command line (protocol: runner_main.c) and the strings its
 * values are printed into. */
typedef struct run_cmd {
    char numel[TT_MAX_ARGS * 24], proto[16], seed[32], threads[16], num[16], rep[16], mrm[32],
        fl[4], tmo[32], cut[32];
    char *argv[40];
} run_cmd;

static void run_cmd_make(run_cmd *c, const tt_run_opts *o, const run_limits *l, char *runner,
                         const char *so, const char *fn, const tt_io *io, int ref,
                         run_files *f)
{
    c->numel[0] = 0;
    for (int i = 0; i <= io->nin; i++)
        snprintf(c->numel + strlen(c->numel), sizeof c->numel - strlen(c->numel),
                 "%s%" PRId64, i ? "," : "", io->numel[i]);
    snprintf(c->proto, sizeof c->proto, "%d", MEASURE_RUNNER_PROTOCOL);
    snprintf(c->seed, sizeof c->seed, "%" PRIu64, o->seed);
    snprintf(c->threads, sizeof c->threads, "%d", o->threads > 0 ? o->threads : 0);
    snprintf(c->num, sizeof c->num, "%d", l->number);
    snprintf(c->rep, sizeof c->rep, "%d", l->repeat);
    snprintf(c->mrm, sizeof c->mrm, "%.17g", l->min_ms);
    int flush = o->cache_flush >= TT_CACHE_WARM && o->cache_flush <= TT_CACHE_L3 ? o->cache_flush
                                                                                : TT_CACHE_FLUSH;
    snprintf(c->fl, sizeof c->fl, "%d", flush);
    snprintf(c->tmo, sizeof c->tmo, "%.17g", l->timeout_s);
    snprintf(c->cut, sizeof c->cut, "%.17g", !ref && o->cutoff_s > 0 ? o->cutoff_s : 0.0);
    char *argv[] = {runner,           "--protocol", c->proto,      "--so",
                    (char *)so,       "--fn",       (char *)fn,    "--mode",
                    ref ? "ref" : "cand",           "--numel",     c->numel,
                    "--seed",         c->seed,      "--threads",   c->threads,
                    "--number",       c->num,       "--repeat",    c->rep,
                    "--min-repeat-ms", c->mrm,      "--flush",     c->fl,
                    "--timeout",      c->tmo,       "--cutoff",    c->cut,
                    "--out",          f->out,
                    "--result",       f->result,    NULL};
    int n = (int)(sizeof argv / sizeof argv[0]) - 1;
    memcpy(c->argv, argv, sizeof argv);
    if (!ref && o->anchor_so && o->anchor_fn) {
        c->argv[n++] = "--anchor-so";
        c->argv[n++] = (char *)o->anchor_so;
        c->argv[n++] = "--anchor-fn";
        c->argv[n++] = (char *)o->anchor_fn;
    }
    c->argv[n] = NULL;
}

/* Wait for the runner p, killing it at its deadline (*timed_out then 1);
 * returns its wait status (-1: lost, or killed). */
static int run_wait(tt_proc *p, int *timed_out)
{
    int status = -1;
    *timed_out = 0;
    for (;;) {
        if (tt_proc_poll(p, &status))
            break;
        if (tt_now() >= p->deadline) {
            tt_proc_kill(p);
            *timed_out = 1;
            break;
        }
        tt_proc_wait_any(p, 1, p->deadline - tt_now());
    }
    return status;
}

/* An "ok" result line: parse it, check it against what was asked (ref: a
 * reference; repeat: the costs a candidate owes) and read the output file. */
static void run_read_ok(const tt_run_opts *o, const tt_io *io, int ref, int repeat,
                        const char *result, const run_files *f, run_out *ro)
{
    size_t want = (size_t)io->numel[io->nin] * (ref ? 2 * sizeof(double) : sizeof(float));
    /* a longer file is refused: it is not the output asked for */
    tt_err rerr = {0};
    ro->data = tt_read_file_max(f->out, want, &ro->len, &rerr);
    if (run_parse_ok(result, ro) ||
        (ro->cut ? ref || !(o->cutoff_s > 0) : !ref && ro->ncosts != repeat)) {
        ro->error = TT_ERR_UNKNOWN;
        snprintf(ro->msg, sizeof ro->msg, "malformed runner result: %.200s", result);
    } else if (!ro->data || ro->len != want) {
        ro->error = TT_ERR_UNKNOWN;
        if (ro->data)
            snprintf(ro->msg, sizeof ro->msg, "runner output has %zu bytes, expected %zu",
                     ro->len, want);
        else
            snprintf(ro->msg, sizeof ro->msg, "runner output: %s", rerr.msg);
    }
}

/* What the runner left, by its result line and wait status, into ro; -1
 * (err set) only when the runner rejected its arguments. */
static int run_collect(const tt_run_opts *o, const tt_io *io, int ref, const run_limits *l,
                       const char *runner, const run_files *f, int status, int timed_out,
                       run_out *ro, tt_err *err)
{
    int rc = 0;
    char tail[256];
    char *result = tt_read_file_max(f->result, MEASURE_LOG_MAX, NULL, NULL);
    /* status -1: SIGCHLD is ignored by the host, the status is lost; trust
     * the result line then. */
    int clean = status == -1 || (WIFEXITED(status) && WEXITSTATUS(status) == 0);
    if (timed_out) {
        ro->error = TT_ERR_RUN_TIMEOUT;
        snprintf(ro->msg, sizeof ro->msg, "killed after the %.3g s timeout", l->timeout_s);
    } else if (result && !strncmp(result, "ok ", 3) && clean) {
        run_read_ok(o, io, ref, l->repeat, result, f, ro);
    } else if (result && !strncmp(result, "error ", 6)) {
        char *end;
        long code = strtol(result + 6, &end, 10);
        ro->error = code > 0 && code < TT_ERR_COUNT ? (int)code : TT_ERR_UNKNOWN;
        end += strspn(end, " ");
        end[strcspn(end, "\n")] = 0;
        snprintf(ro->msg, sizeof ro->msg, "%s", end);
    } else if (status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 2) {
        /* The runner rejected its arguments: a runner from another version. */
        run_log_tail(f->log, tail, sizeof tail);
        rc = tt_err_set(err, "run: %s rejected its arguments%s", runner, tail);
    } else if (status != -1 && WIFSIGNALED(status)) {
        run_log_tail(f->log, tail, sizeof tail);
        ro->error = TT_ERR_RUNTIME_DEVICE;
        snprintf(ro->msg, sizeof ro->msg, "runner killed by signal %d (%s)%s", WTERMSIG(status),
                 strsignal(WTERMSIG(status)), tail);
    } else {
        run_log_tail(f->log, tail, sizeof tail);
        ro->error = TT_ERR_RUNTIME_DEVICE;
        snprintf(ro->msg, sizeof ro->msg, "runner exited with status %d without a result%s",
                 status == -1 ? -1 : WEXITSTATUS(status), tail);
    }
    free(result);
    if (ro->error || rc) {
        free(ro->data);
        ro->data = NULL;
        ro->len = 0;
    }
    return rc;
}

/* Start the runner, wait for it (killing it at the deadline) and collect
 * what it left.  Returns -1 (err set) only for machinery failures. */
static int run_child(const tt_run_opts *o, const char *so, const char *fn, const tt_io *io,
                     int ref, run_out *ro, tt_err *err)
{
    memset(ro, 0, sizeof *ro);
    if (run_check_io(io, so, fn, err))
        return -1;
    run_limits l = run_limits_of(o);
    char runner[PATH_MAX];
    tt_runner_locate(o->runner, runner, sizeof runner);
    run_files f;
    if (run_files_make(&f, err))
        return -1;
    run_cmd cmd;
    run_cmd_make(&cmd, o, &l, runner, so, fn, io, ref, &f);

    int rc;
    tt_proc p;
    if (tt_proc_spawn(&p, cmd.argv, NULL, f.log, l.timeout_s, err)) {
        tt_err_prefix(err, "run: runner");
        rc = -1;
    } else {
        int timed_out;
        int status = run_wait(&p, &timed_out);
        rc = run_collect(o, io, ref, &l, runner, &f, status, timed_out, ro, err);
    }
    tt_remove_tree(f.dir);
    return rc;
}

/* Contract: see measure.h.  The reference runs with the same seed (hence the
 * same inputs) as the candidates it is compared with; any failure of the
 * reference is an error, since nothing can be checked without it. */
int tt_run_reference(const tt_run_opts *o, const char *so_path, const char *fn, const tt_io *io,
                     tt_ref *ref, tt_err *err)
{
    tt_run_opts def = {0};
    if (!o)
        o = &def;
    if (!ref)
        return tt_err_set(err, "tt_run_reference: no result");
    memset(ref, 0, sizeof *ref);
    run_out ro;
    if (run_child(o, so_path, fn, io, 1, &ro, err))
        return -1;
    if (ro.error)
        return tt_err_set(err, "reference %s failed (%s): %s", fn, tt_errno_names[ro.error],
                          ro.msg);
    int64_t n = io->numel[io->nin];
    ref->n = n;
    ref->out = tt_xmalloc((size_t)n * sizeof(double));
    ref->mag = tt_xmalloc((size_t)n * sizeof(double));
    memcpy(ref->out, ro.data, (size_t)n * sizeof(double));
    memcpy(ref->mag, ro.data + (size_t)n * sizeof(double), (size_t)n * sizeof(double));
    free(ro.data);
    return 0;
}

/* Free a reference result; safe on a zeroed or already freed tt_ref. */
void tt_ref_free(tt_ref *ref)
{
    if (!ref)
        return;
    free(ref->out);
    free(ref->mag);
    memset(ref, 0, sizeof *ref);
}

/* Contract: see measure_int.h. */
void measure_result_fail(tt_result *r, int error)
{
    r->error = error;
    r->ncosts = 1;
    r->costs[0] = MEASURE_FAIL_COST;
    r->mean = MEASURE_FAIL_COST;
    r->correct = 0;
}

/* Compare out with ref; on the first element out of tolerance, write a
 * message and return 0.  Non-finite values must match exactly (NaN with
 * NaN, inf with the same inf): a NaN the reference does not have (e.g. an
 * output element never written) fails. */
static int run_compare(const float *out, const tt_ref *ref, double tol_factor, tt_result *res)
{
    int64_t bad = -1;
    double bad_bound = 0, max_abs = 0, max_rel = 0;
    for (int64_t i = 0; i < ref->n; i++) {
        double o = out[i], r = ref->out[i];
        double bound = tol_factor * FLT_EPSILON * fabs(ref->mag[i]) + 1e-30;
        if (!isfinite(o) || !isfinite(r) || !isfinite(bound)) {
            int same = (isnan(o) && isnan(r)) || o == r;
            if (!same && bad < 0)
                bad = i, bad_bound = bound;
            continue;
        }
        double e = fabs(o - r);
        if (e > max_abs)
            max_abs = e;
        if (e / bound > max_rel)
            max_rel = e / bound;
        if (e > bound && bad < 0)
            bad = i, bad_bound = bound;
    }
    res->max_abs_err = max_abs;
    res->max_rel_err = max_rel;
    if (bad < 0)
        return 1;
    snprintf(res->msg, sizeof res->msg,
             "wrong answer at element %" PRId64 " of %" PRId64
             ": got %.9g, expected %.9g (bound %.3g); max abs err %.3g, max err/bound %.3g",
             bad, ref->n, (double)out[bad], ref->out[bad], bad_bound, max_abs, max_rel);
    return 0;
}

/* Contract: see measure.h.  Returns -1 (err set, res marked UNKNOWN) only
 * when the run could not be made at all; every failure of the candidate
 * itself is in res with return 0. */
int tt_run_candidate(const tt_run_opts *o, const char *so_path, const char *fn, const tt_io *io,
                     const tt_ref *ref, double tol_factor, tt_result *res, tt_err *err)
{
    tt_run_opts def = {0};
    if (!o)
        o = &def;
    if (!res)
        return tt_err_set(err, "tt_run_candidate: no result");
    memset(res, 0, sizeof *res);
    measure_result_fail(res, TT_ERR_UNKNOWN);
    if (!ref || !ref->out || !ref->mag || !io || io->nin < 0 || io->nin >= TT_MAX_ARGS ||
        ref->n != io->numel[io->nin])
        return tt_err_set(err, "tt_run_candidate: reference does not match the output size");
    run_out ro;
    if (run_child(o, so_path, fn, io, 0, &ro, err))
        return -1;
    if (ro.error) {
        measure_result_fail(res, ro.error);
        snprintf(res->msg, sizeof res->msg, "%s", ro.msg);
        return 0;
    }
    if (!run_compare((const float *)ro.data, ref, tol_factor, res)) {
        free(ro.data);
        measure_result_fail(res, TT_ERR_WRONG_ANSWER);
        return 0;
    }
    free(ro.data);
    res->error = TT_ERR_NO_ERROR;
    res->correct = 1;
    res->ncosts = ro.ncosts;
    res->number = ro.number;
    double sum = 0;
    for (int i = 0; i < ro.ncosts; i++)
        sum += res->costs[i] = ro.costs[i];
    res->mean = ro.ncosts ? sum / ro.ncosts : MEASURE_FAIL_COST;
    res->nanchor = ro.nanchor == ro.ncosts ? ro.nanchor : 0;
    res->cut_off = ro.cut;
    for (int i = 0; i < res->nanchor; i++)
        res->anchor_costs[i] = ro.anchor[i];
    return 0;
}

double tt_result_anchor_median(const tt_result *r)
{
    if (!r || r->nanchor <= 0 || r->nanchor != r->ncosts)
        return 0;
    double a[TT_MAX_COSTS];
    memcpy(a, r->anchor_costs, (size_t)r->nanchor * sizeof *a);
    return tt_median(a, r->nanchor);
}

/* Why the median anchor and not each repeat's own: a single call is easily
 * stretched by the scheduler (another process, an interrupt), and a
 * stretched anchor call made its repeat's ratio small, so the candidate
 * looked faster than it is.  Taking the best of many such costs, the search
 * then kept exactly those lucky ones: in a ResNet-50 search a 1x1 conv's
 * record measured 4.3x faster than its default schedule (one cut-off call
 * over an anchor call 17x too slow) and ran 4x slower than it in the model.
 * The median of a measurement's anchor calls ignores such a call; the drift
 * the anchor is there for (minutes apart) does not change within the few
 * milliseconds of one measurement. */
int tt_result_anchor_scale(tt_result *r, double base)
{
    if (!r || r->error || base <= 0 || r->nanchor <= 0 || r->nanchor != r->ncosts)
        return 0;
    for (int i = 0; i < r->nanchor; i++)
        if (!(r->anchor_costs[i] > 0))
            return 0;
    double k = base / tt_result_anchor_median(r), sum = 0;
    for (int i = 0; i < r->ncosts; i++) {
        double c = r->costs[i] * k;
        /* a cut-off candidate's one call was over the cutoff as timed: it is
         * never made faster than that by its (single) anchor call */
        if (r->cut_off && c < r->costs[i])
            c = r->costs[i];
        sum += r->costs[i] = c;
    }
    r->mean = sum / r->ncosts;
    return 1;
}
