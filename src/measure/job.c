/* job.c - measurement jobs (see evaluate.h): run here, or packed into bytes
 * for another process.
 *
 * Byte format (little-endian, this build's layout of doubles; the peers
 * are the same build, transtune-mpi checks it): "TTJB" u32 version, u32
 * results flag, the run options, u32 job count, then per job its fields in
 * declaration order, strings as u32 length + bytes, the reference as u64
 * count + 2 x count doubles, items as u32 count + per item its fields.
 */
#include "evaluate.h"
#include "measure_int.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JOB_MAGIC "TTJB"
#define JOB_VERSION 1u
/* bounds on what unpacking accepts */
#define JOB_MAX_JOBS 4096
#define JOB_MAX_ITEMS 65536
#define JOB_MAX_SRC ((uint32_t)64 << 20)
#define JOB_MAX_REF ((uint64_t)1 << 28)

void tt_job_free(tt_job *j)
{
    if (!j)
        return;
    for (int i = 0; i < j->nitems; i++)
        free(j->items[i].src);
    free(j->items);
    free(j->ref_src);
    free(j->anchor_src);
    tt_ref_free(&j->ref);
    memset(j, 0, sizeof *j);
}

/* r failed with `code` and `msg`; the rest of r cleared. */
static void fail_result(tt_result *r, int code, const char *msg)
{
    memset(r, 0, sizeof *r);
    measure_result_fail(r, code);
    snprintf(r->msg, sizeof r->msg, "%s", msg);
}

/* ---- running here ---------------------------------------------------------------- */

/* Job J's reference: its kept one, else its built reference run. */
static int job_reference(tt_job *J, const tt_run_opts *ro)
{
    if (J->ref.n > 0)
        return 1;
    if (!J->ref_so[0]) {
        if (!J->ref_error) {
            J->ref_error = 1;
            snprintf(J->ref_msg, sizeof J->ref_msg, "no reference");
        }
        return 0;
    }
    tt_err e = {0};
    if (tt_run_reference(ro, J->ref_so, J->ref_fn, &J->io, &J->ref, &e)) {
        J->ref_error = 1;
        snprintf(J->ref_msg, sizeof J->ref_msg, "reference failed to run: %s", e.msg);
        return 0;
    }
    return 1;
}

static void job_measure(tt_job *J, const tt_run_opts *ro, tt_eval_progress progress, void *ctx)
{
    double t0 = tt_now();
    int have_ref = job_reference(J, ro);
    for (int i = 0; i < J->nitems; i++) {
        tt_job_item *it = &J->items[i];
        /* the same object and function as an item already measured (the
         * kernel cache gives equal C one entry): the same code, measured once */
        int same = -1;
        for (int j = 0; j < i && same < 0 && it->so[0] && it->res.error == 0; j++)
            if (J->items[j].so[0] && !strcmp(J->items[j].so, it->so) && !strcmp(J->items[j].fn, it->fn))
                same = j;
        if (same >= 0) {
            it->res = J->items[same].res;
        } else if (it->res.error > 0) {
            /* failed to build: its result says so already */
        } else if (!have_ref) {
            fail_result(&it->res, TT_ERR_UNKNOWN, J->ref_msg);
        } else {
            tt_err e = {0};
            tt_run_opts rot = *ro;
            if (J->cutoff_s > 0)
                rot.cutoff_s = J->cutoff_s;
            if (J->anchor_so[0]) {
                rot.anchor_so = J->anchor_so;
                rot.anchor_fn = J->anchor_fn;
            }
            if (tt_run_candidate(&rot, it->so, it->fn, &J->io, &J->ref, J->tol, &it->res, &e))
                fail_result(&it->res, TT_ERR_UNKNOWN, e.msg);
        }
        if (progress)
            progress(ctx, J->task, it->item);
    }
    J->run_wall_s = tt_now() - t0;
}

void tt_jobs_measure(tt_job *jobs, int n, const tt_run_opts *ro, tt_eval_progress progress, void *ctx)
{
    for (int j = 0; j < n; j++)
        job_measure(&jobs[j], ro, progress, ctx);
}

int tt_jobs_build(tt_job *jobs, int n, const tt_build_opts *bo, tt_err *err)
{
    int total = 0;
    for (int j = 0; j < n; j++)
        total += jobs[j].nitems + 2;
    tt_build_item *bi = tt_xcalloc((size_t)total + 1, sizeof *bi);
    int *job = tt_xcalloc((size_t)total + 1, sizeof(int)), *kind = tt_xcalloc((size_t)total + 1, sizeof(int)), nb = 0;
    for (int j = 0; j < n; j++) {
        tt_job *J = &jobs[j];
        J->ref_so[0] = J->anchor_so[0] = 0;
        for (int i = -2; i < J->nitems; i++) {
            const char *src = i == -2 ? J->anchor_src : i == -1 ? (J->ref.n == 0 ? J->ref_src : NULL) : J->items[i].src;
            const char *fn = i == -2 ? J->anchor_fn : i == -1 ? J->ref_fn : J->items[i].fn;
            if (!src)
                continue;
            bi[nb].source = src;
            snprintf(bi[nb].fn, sizeof bi[nb].fn, "%s", fn);
            job[nb] = j, kind[nb] = i;
            nb++;
        }
    }
    double tb = tt_now();
    int rc = nb > 0 ? tt_build(bo, tt_codegen_prelude(), bi, nb, err) : 0;
    tb = tt_now() - tb;
    for (int k = 0; k < nb && rc == 0; k++) {
        tt_job *J = &jobs[job[k]];
        const char *so = bi[k].error ? "" : bi[k].so_path;
        /* the function to look up: a kernel cache hit names the one the
         * cached object was built with */
        if (kind[k] == -2) {
            snprintf(J->anchor_so, sizeof J->anchor_so, "%s", so); /* no anchor: the items timed alone */
            snprintf(J->anchor_fn, sizeof J->anchor_fn, "%s", bi[k].fn);
        } else if (kind[k] == -1) {
            snprintf(J->ref_so, sizeof J->ref_so, "%s", so);
            snprintf(J->ref_fn, sizeof J->ref_fn, "%s", bi[k].fn);
            if (bi[k].error) {
                J->ref_error = 1;
                snprintf(J->ref_msg, sizeof J->ref_msg, "reference failed to build: %s", bi[k].msg);
            }
        } else {
            tt_job_item *it = &J->items[kind[k]];
            snprintf(it->so, sizeof it->so, "%s", so);
            snprintf(it->fn, sizeof it->fn, "%s", bi[k].fn);
            it->build_s = bi[k].build_s;
            if (bi[k].error)
                fail_result(&it->res, bi[k].error, bi[k].msg);
            else
                memset(&it->res, 0, sizeof it->res);
        }
    }
    for (int j = 0; j < n; j++)
        jobs[j].build_wall_s = tb;
    free(bi), free(job), free(kind);
    return rc;
}

int tt_jobs_workdir(const tt_build_opts *bo, tt_build_opts *out, char *own, size_t cap, tt_err *err)
{
    *out = bo ? *bo : (tt_build_opts){0};
    own[0] = 0;
    if (out->workdir)
        return 0;
    if (tt_temp_dir("tt-eval", own, cap, err))
        return -1;
    out->workdir = own;
    return 0;
}

int tt_jobs_run(tt_job *jobs, int n, const tt_build_opts *bo, const tt_run_opts *ro, tt_eval_progress progress,
                void *ctx, tt_err *err)
{
    tt_build_opts bopt;
    char own[PATH_MAX];
    if (tt_jobs_workdir(bo, &bopt, own, sizeof own, err))
        return -1;
    int rc = tt_jobs_build(jobs, n, &bopt, err);
    /* runs: never overlapping with builds (the build above has finished) */
    if (rc == 0)
        tt_jobs_measure(jobs, n, ro, progress, ctx);
    if (own[0])
        tt_remove_tree(own);
    return rc;
}

/* ---- bytes ------------------------------------------------------------------------ */

static void put(tt_str *o, const void *p, size_t n) { tt_str_catn(o, p, n); }
static void put_u32(tt_str *o, uint32_t v) { put(o, &v, 4); }
static void put_i32(tt_str *o, int v) { put(o, &v, 4); }
static void put_f64(tt_str *o, double v) { put(o, &v, 8); }
static void put_s(tt_str *o, const char *s)
{
    uint32_t n = s ? (uint32_t)strlen(s) : UINT32_MAX;
    put_u32(o, n);
    if (s)
        put(o, s, n);
}

static void put_result(tt_str *o, const tt_result *r)
{
    put_i32(o, r->error);
    put_i32(o, r->ncosts);
    for (int i = 0; i < TT_MAX_COSTS; i++)
        put_f64(o, r->costs[i]);
    put_f64(o, r->mean);
    put_i32(o, r->correct);
    put_f64(o, r->max_abs_err);
    put_f64(o, r->max_rel_err);
    put_s(o, r->msg);
    put_i32(o, r->number);
    put_i32(o, r->nanchor);
    for (int i = 0; i < TT_MAX_COSTS; i++)
        put_f64(o, r->anchor_costs[i]);
    put_i32(o, r->cut_off);
}

void tt_jobs_pack(const tt_job *jobs, int n, const tt_run_opts *ro, int results, tt_str *out)
{
    put(out, JOB_MAGIC, 4);
    put_u32(out, JOB_VERSION);
    put_u32(out, (uint32_t)results);
    tt_run_opts r = ro ? *ro : (tt_run_opts){0};
    put_i32(out, r.threads);
    put_i32(out, r.number);
    put_i32(out, r.repeat);
    put_f64(out, r.min_repeat_ms);
    put_i32(out, r.cache_flush);
    put_f64(out, r.timeout_s);
    put(out, &r.seed, 8);
    put_f64(out, r.cutoff_s);
    put_u32(out, (uint32_t)n);
    for (int j = 0; j < n; j++) {
        const tt_job *J = &jobs[j];
        put_i32(out, J->task);
        put_i32(out, J->io.nin);
        for (int i = 0; i <= J->io.nin && i < TT_MAX_ARGS; i++)
            put(out, &J->io.numel[i], 8);
        put_f64(out, J->tol);
        put_f64(out, J->cutoff_s);
        put_s(out, J->ref_fn);
        put_s(out, results ? NULL : J->ref_src);
        /* the reference: a kept one goes out, a computed one comes back */
        uint64_t rn = (uint64_t)(J->ref.n > 0 ? J->ref.n : 0);
        put(out, &rn, 8);
        if (rn) {
            put(out, J->ref.out, (size_t)rn * 8);
            put(out, J->ref.mag, (size_t)rn * 8);
        }
        put_s(out, J->anchor_fn);
        put_s(out, results ? NULL : J->anchor_src);
        put_i32(out, J->ref_error);
        put_s(out, J->ref_msg);
        put_f64(out, J->build_wall_s);
        put_f64(out, J->run_wall_s);
        put_u32(out, (uint32_t)J->nitems);
        for (int i = 0; i < J->nitems; i++) {
            const tt_job_item *it = &J->items[i];
            put_i32(out, it->item);
            put_s(out, it->fn);
            put_s(out, results ? NULL : it->src);
            if (results == 1) {
                put_result(out, &it->res);
                put_f64(out, it->build_s);
            }
        }
    }
}

typedef struct rd {
    const unsigned char *p;
    size_t left;
    int bad;
} rd;

static void get(rd *r, void *dst, size_t n)
{
    if (r->bad || r->left < n) {
        r->bad = 1;
        memset(dst, 0, n);
        return;
    }
    memcpy(dst, r->p, n);
    r->p += n;
    r->left -= n;
}

static uint32_t get_u32(rd *r)
{
    uint32_t v;
    get(r, &v, 4);
    return v;
}

static int get_i32(rd *r)
{
    int v;
    get(r, &v, 4);
    return v;
}

static double get_f64(rd *r)
{
    double v;
    get(r, &v, 8);
    return v;
}

/* A string: NULL for the absent marker; into buf (cap bytes, truncated) when
 * buf is given, else malloc'd. */
static char *get_s(rd *r, char *buf, size_t cap)
{
    uint32_t n = get_u32(r);
    if (r->bad || n == UINT32_MAX)
        return NULL;
    if (n > JOB_MAX_SRC || n > r->left) {
        r->bad = 1;
        return NULL;
    }
    char *s = buf ? buf : tt_xmalloc((size_t)n + 1);
    size_t k = buf ? (n < cap ? n : cap - 1) : n;
    memcpy(s, r->p, k);
    s[k] = 0;
    r->p += n;
    r->left -= n;
    return s;
}

static void get_result(rd *r, tt_result *res)
{
    memset(res, 0, sizeof *res);
    res->error = get_i32(r);
    res->ncosts = get_i32(r);
    for (int i = 0; i < TT_MAX_COSTS; i++)
        res->costs[i] = get_f64(r);
    res->mean = get_f64(r);
    res->correct = get_i32(r);
    res->max_abs_err = get_f64(r);
    res->max_rel_err = get_f64(r);
    get_s(r, res->msg, sizeof res->msg);
    res->number = get_i32(r);
    res->nanchor = get_i32(r);
    for (int i = 0; i < TT_MAX_COSTS; i++)
        res->anchor_costs[i] = get_f64(r);
    res->cut_off = get_i32(r);
    if (res->ncosts < 0 || res->ncosts > TT_MAX_COSTS || res->nanchor < 0 || res->nanchor > TT_MAX_COSTS)
        r->bad = 1;
}

/* One job; results: the bytes carry results.  r->bad on anything wrong. */
static void get_job(rd *r, tt_job *J, int results)
{
    memset(J, 0, sizeof *J);
    J->task = get_i32(r);
    J->io.nin = get_i32(r);
    if (J->io.nin < 0 || J->io.nin >= TT_MAX_ARGS) {
        r->bad = 1;
        return;
    }
    for (int i = 0; i <= J->io.nin; i++) {
        get(r, &J->io.numel[i], 8);
        if (J->io.numel[i] < 0 || J->io.numel[i] > ((int64_t)1 << 32))
            r->bad = 1;
    }
    J->tol = get_f64(r);
    J->cutoff_s = get_f64(r);
    get_s(r, J->ref_fn, sizeof J->ref_fn);
    J->ref_src = get_s(r, NULL, 0);
    uint64_t rn;
    get(r, &rn, 8);
    if (rn > JOB_MAX_REF || rn * 16 > r->left) {
        r->bad = 1;
        return;
    }
    if (rn) {
        J->ref.n = (int64_t)rn;
        J->ref.out = tt_xmalloc((size_t)rn * 8);
        J->ref.mag = tt_xmalloc((size_t)rn * 8);
        get(r, J->ref.out, (size_t)rn * 8);
        get(r, J->ref.mag, (size_t)rn * 8);
    }
    get_s(r, J->anchor_fn, sizeof J->anchor_fn);
    J->anchor_src = get_s(r, NULL, 0);
    J->ref_error = get_i32(r);
    get_s(r, J->ref_msg, sizeof J->ref_msg);
    J->build_wall_s = get_f64(r);
    J->run_wall_s = get_f64(r);
    uint32_t ni = get_u32(r);
    if (r->bad || ni > JOB_MAX_ITEMS || ni > r->left / 8) {
        r->bad = 1;
        return;
    }
    J->items = tt_xcalloc((size_t)ni + 1, sizeof *J->items);
    J->nitems = (int)ni;
    for (uint32_t i = 0; i < ni && !r->bad; i++) {
        tt_job_item *it = &J->items[i];
        it->item = get_i32(r);
        get_s(r, it->fn, sizeof it->fn);
        it->src = get_s(r, NULL, 0);
        if (results == 1) {
            get_result(r, &it->res);
            it->build_s = get_f64(r);
        } else if (results == 0 && !it->src) {
            r->bad = 1;
        }
    }
}

/* The header; returns the results flag, -1 if the bytes are not jobs. */
static int get_header(rd *r, tt_run_opts *ro, uint32_t *njobs)
{
    char magic[4];
    get(r, magic, 4);
    if (r->bad || memcmp(magic, JOB_MAGIC, 4) || get_u32(r) != JOB_VERSION)
        return -1;
    int results = (int)get_u32(r);
    tt_run_opts o;
    memset(&o, 0, sizeof o);
    o.threads = get_i32(r);
    o.number = get_i32(r);
    o.repeat = get_i32(r);
    o.min_repeat_ms = get_f64(r);
    o.cache_flush = get_i32(r);
    o.timeout_s = get_f64(r);
    get(r, &o.seed, 8);
    o.cutoff_s = get_f64(r);
    *njobs = get_u32(r);
    if (r->bad || results < 0 || results > 2 || *njobs > JOB_MAX_JOBS || o.threads < 0 || o.threads > 4096 ||
        o.number < 0 || o.repeat < 0 || o.repeat > TT_MAX_COSTS || o.cache_flush < 0 || o.cache_flush > 2 ||
        !(o.timeout_s >= 0 && o.timeout_s <= 3600))
        return -1;
    if (ro)
        *ro = o;
    return results;
}

int tt_jobs_unpack(const void *buf, size_t len, tt_job **jobs, int *n, tt_run_opts *ro, tt_err *err)
{
    *jobs = NULL;
    *n = 0;
    rd r = {buf, len, 0};
    uint32_t nj = 0;
    int results = get_header(&r, ro, &nj);
    if (results < 0)
        return tt_err_set(err, "not a job message of this version");
    tt_job *J = tt_xcalloc((size_t)nj + 1, sizeof *J);
    uint32_t k = 0;
    for (; k < nj && !r.bad; k++)
        get_job(&r, &J[k], results);
    if (r.bad || r.left != 0) {
        for (uint32_t i = 0; i < k; i++)
            tt_job_free(&J[i]);
        free(J);
        return tt_err_set(err, "a job message is malformed or truncated");
    }
    *jobs = J;
    *n = (int)nj;
    return 0;
}

int tt_jobs_unpack_results(const void *buf, size_t len, tt_job *jobs, int n, tt_err *err)
{
    tt_job *got = NULL;
    int ng = 0;
    if (tt_jobs_unpack(buf, len, &got, &ng, NULL, err))
        return -1;
    int rc = ng == n ? 0 : tt_err_set(err, "results for %d jobs, %d sent", ng, n);
    for (int j = 0; j < ng && rc == 0; j++) {
        tt_job *J = &jobs[j], *G = &got[j];
        if (G->task != J->task || G->nitems != J->nitems) {
            rc = tt_err_set(err, "results of another job");
            break;
        }
        for (int i = 0; i < J->nitems && rc == 0; i++) {
            if (G->items[i].item != J->items[i].item) {
                rc = tt_err_set(err, "results of another item");
                break;
            }
            J->items[i].res = G->items[i].res;
            J->items[i].build_s = G->items[i].build_s;
        }
        J->ref_error = G->ref_error;
        memcpy(J->ref_msg, G->ref_msg, sizeof J->ref_msg);
        J->build_wall_s = G->build_wall_s;
        J->run_wall_s = G->run_wall_s;
        if (rc == 0 && J->ref.n == 0 && G->ref.n > 0) {
            if (G->ref.n != J->io.numel[J->io.nin])
                rc = tt_err_set(err, "a reference of %lld elements for an output of %lld", (long long)G->ref.n,
                                (long long)J->io.numel[J->io.nin]);
            else {
                J->ref = G->ref;
                memset(&G->ref, 0, sizeof G->ref);
            }
        }
    }
    for (int j = 0; j < ng; j++)
        tt_job_free(&got[j]);
    free(got);
    return rc;
}
