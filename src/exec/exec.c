/* exec.c - the graph executor (see exec.h). */
#include "exec.h"
#include "exec_int.h"

#include <dlfcn.h>
#include <limits.h>
#include <math.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../codegen/codegen.h"
#include "../measure/evaluate.h"

typedef void (*kernel_fn)(float *const *args);

typedef struct xcall {
    tt_mcall_kind kind;
    int kernel;            /* the kernel it runs (a direct one or its twin) */
    kernel_fn fn;
    int nargs;
    float *args[TT_MODEL_MAX_ARGS];
    /* gather */
    int64_t rows, width, vocab;
    /* host: the node tt_graph_eval_node evaluates */
    int node;
} xcall;

struct tt_exec {
    const tt_model *m;
    int ncalls;
    xcall *calls;
    int nbufs;
    void **bufs;           /* pool buffers (64-byte aligned) */
    void *in_ptr[TT_MODEL_MAX_INPUTS], *out_ptr;
    int64_t in_bytes[TT_MODEL_MAX_INPUTS], out_bytes;
    tt_exec_stats stats;
    int threads;
    int nwbufs;
    void **wbufs;          /* weights transformed for Winograd twins */
    int nfns;
    kernel_fn *fns;        /* the loaded kernels: fn(NULL) frees their packed weights */
};

static void *xalloc64(int64_t bytes)
{
    void *p = NULL;
    if (posix_memalign(&p, 64, (size_t)(bytes > 0 ? bytes : 64)))
        abort();
    memset(p, 0, (size_t)(bytes > 0 ? bytes : 64));
    return p;
}

int64_t tt_exec_tensor_bytes(const tt_graph *g, int t)
{
    const tt_tensor *x = &g->tensors[t];
    int sz = tt_dtype_size(x->dtype ? x->dtype : TT_DT_FLOAT);
    return tt_tensor_numel(x) * (sz ? sz : 4);
}

/* Set the thread count of every OpenMP runtime in the process: kernels
 * built by clang use LLVM's libomp, gcc's use libgomp (docs/NOTES.md). */
static void set_threads(int n)
{
    static const char *const libs[] = {"libomp.so.5", "libomp.so", "libgomp.so.1", NULL};
    for (int i = 0; libs[i]; i++) {
        void *h = dlopen(libs[i], RTLD_NOW | RTLD_NOLOAD);
        if (!h)
            continue;
        void (*f)(int) = (void (*)(int))dlsym(h, "omp_set_num_threads");
        if (f)
            f(n);
        dlclose(h); /* drops only the reference NOLOAD took */
    }
}

/* ---- memory plan ------------------------------------------------------------ */

typedef tt_xpool pool;

static int pool_get(pool *P, int64_t bytes)
{
    int best = -1;
    for (int i = 0; i < P->n; i++)
        if (!P->busy[i] && P->size[i] >= bytes && (best < 0 || P->size[i] < P->size[best]))
            best = i;
    if (best < 0) {
        /* grow the largest free buffer rather than adding one, if any is free */
        for (int i = 0; i < P->n; i++)
            if (!P->busy[i] && (best < 0 || P->size[i] > P->size[best]))
                best = i;
        if (best >= 0) {
            P->size[best] = bytes;
        } else {
            if (P->n == P->cap) {
                P->cap = P->cap ? 2 * P->cap : 16;
                P->size = tt_xrealloc(P->size, (size_t)P->cap * sizeof *P->size);
                P->busy = tt_xrealloc(P->busy, (size_t)P->cap * sizeof *P->busy);
            }
            best = P->n++;
            P->size[best] = bytes;
        }
    }
    P->busy[best] = 1;
    return best;
}

/* Give every activation a pool slot (slot[t] per graph tensor, -1 for none):
 * a buffer is reused once the last reader of the tensor it held has run.
 * Returns the bytes the activations would take without reuse. */
int64_t tt_exec_plan_memory(const tt_model *m, int *slot, pool *P)
{
    const tt_graph *g = m->g;
    int nt = g->ntensors;
    int *last = tt_xmalloc((size_t)nt * sizeof *last);
    for (int t = 0; t < nt; t++)
        last[t] = -1, slot[t] = -1;
    for (int c = 0; c < m->ncalls; c++)
        for (int a = 0; a < m->calls[c].nargs; a++)
            last[m->alias_of[m->calls[c].args[a]]] = c;
    int out_root = m->alias_of[m->output];
    last[out_root] = m->ncalls; /* lives to the end */
    int64_t naive = 0;
    for (int i = 0; i < m->ninputs; i++) {
        int in_root = m->alias_of[m->inputs[i]];
        last[in_root] = m->ncalls; /* kept: a run without new input reuses it */
        int64_t b = tt_exec_tensor_bytes(g, m->inputs[i]);
        slot[in_root] = pool_get(P, b);
        naive += b;
    }
    for (int c = 0; c < m->ncalls; c++) {
        const tt_mcall *mc = &m->calls[c];
        int o_root = m->alias_of[mc->args[mc->nargs - 1]];
        if (slot[o_root] < 0 && !g->tensors[o_root].data) {
            int64_t b = tt_exec_tensor_bytes(g, o_root);
            slot[o_root] = pool_get(P, b);
            naive += b;
        }
        for (int a = 0; a < mc->nargs; a++) {
            int r = m->alias_of[mc->args[a]];
            if (last[r] == c && r != out_root && slot[r] >= 0)
                P->busy[slot[r]] = 0;
        }
        /* an output never read (a dead branch) is released at once */
        if (last[o_root] == c && o_root != out_root)
            P->busy[slot[o_root]] = 0;
    }
    free(last);
    return naive;
}

void tt_exec_footprint(const tt_model *m, int64_t *weight_bytes, int64_t *act_bytes)
{
    const tt_graph *g = m->g;
    char *seen = tt_xcalloc((size_t)g->ntensors + 1, 1);
    int64_t w = 0;
    for (int c = 0; c < m->ncalls; c++)
        for (int a = 0; a + 1 < m->calls[c].nargs; a++) {
            int r = m->alias_of[m->calls[c].args[a]];
            if (g->tensors[r].data && !seen[r]) {
                seen[r] = 1;
                w += tt_exec_tensor_bytes(g, r);
            }
        }
    free(seen);
    int *slot = tt_xmalloc((size_t)g->ntensors * sizeof *slot);
    pool P = {0};
    tt_exec_plan_memory(m, slot, &P);
    int64_t act = 0;
    for (int i = 0; i < P.n; i++)
        act += P.size[i];
    free(slot);
    free(P.size);
    free(P.busy);
    *weight_bytes = w;
    *act_bytes = act;
}

/* ---- build ------------------------------------------------------------------ */

static void progress(const tt_exec_opts *o, const char *fmt, int a, int b)
{
    if (!o->progress)
        return;
    char msg[160];
    snprintf(msg, sizeof msg, fmt, a, b);
    o->progress(o->ctx, msg);
}

/* The state of kernel k: given steps, default, or none. */
tt_state *tt_exec_kernel_state(const tt_model *m, const tt_exec_opts *o, int k, int *kind)
{
    const tt_dag *d = m->kernels[k].dag;
    tt_state *s = tt_state_new(d);
    if (o->unscheduled) {
        *kind = 2;
        return s;
    }
    tt_err e = {0};
    if (o->steps && o->steps[k] && o->nsteps) {
        /* records tuned on a narrower ISA: vector loops widened to the host's */
        if (tt_state_apply_widened(s, o->steps[k], o->nsteps[k], tt_codegen_vector_lanes(),
                                   o->from_lanes ? o->from_lanes[k] : 0, &e) >= 0) {
            *kind = 1;
            return s;
        }
        tt_state_free(s);
        s = tt_state_new(d);
        tt_err_clear(&e);
    }
    tt_step *steps = tt_xmalloc(TT_MAX_STEPS * sizeof *steps);
    int n = 0;
    if (tt_default_schedule(d, tt_codegen_vector_lanes(), steps, TT_MAX_STEPS, &n, &e) == 0 &&
        tt_state_apply_all(s, steps, n, &e) == 0) {
        free(steps);
        *kind = 0;
        return s;
    }
    free(steps);
    tt_state_free(s);
    *kind = 2;
    return tt_state_new(d);
}

/* The kernel a call of direct kernel k runs: k, or its Winograd twin. */
int tt_exec_run_kernel(const tt_model *m, const tt_exec_opts *o, int k)
{
    if (o->use_alt && o->use_alt[k] && o->use_alt[k] <= m->kernels[k].nalt)
        return m->kernels[k].alts[o->use_alt[k] - 1];
    return k;
}

/* A call run by a Winograd twin: its weight argument (HWIO [3, 3, CI, CO],
 * a constant) replaced by the transformed one, computed once per weight
 * tensor (calls of one layer share it). */
static int winograd_weight(tt_exec *e, const tt_model *m, const tt_mcall *mc, xcall *x, int wm, tt_err *err)
{
    const tt_graph *g = m->g;
    const tt_tensor *w = &g->tensors[m->alias_of[mc->args[1]]];
    if (!w->data || w->ndim != 4 || w->shape[0] != 3 || w->shape[1] != 3)
        return tt_err_set(err, "Winograd: the weight of '%s' is not a constant 3x3 kernel",
                          g->nodes[mc->node].name);
    for (int c = 0; c < e->ncalls; c++) {
        /* an earlier call with the same weight: share */
        if (&e->calls[c] == x)
            break;
        if (m->calls[c].kind == TT_MCALL_KERNEL && m->alias_of[m->calls[c].args[1]] == m->alias_of[mc->args[1]] &&
            e->calls[c].fn == x->fn) {
            x->args[1] = e->calls[c].args[1];
            return 0;
        }
    }
    int64_t ci = w->shape[2], co = w->shape[3], a = wm + 2;
    float *u = xalloc64(a * a * ci * co * 4);
    if (tt_winograd_transform_weight(wm, ci, co, (const float *)w->data, u)) {
        free(u);
        return tt_err_set(err, "Winograd: no F(%d, 3) transform", wm);
    }
    e->wbufs = tt_xrealloc(e->wbufs, (size_t)(e->nwbufs + 1) * sizeof *e->wbufs);
    e->wbufs[e->nwbufs++] = u;
    x->args[1] = u;
    return 0;
}

/* The C of kernel k with its schedule (given steps, else the default; no
 * schedule if that fails to lower), counted in e's statistics. */
static int kernel_source(tt_exec *e, const tt_exec_opts *o, int k, char **out, tt_err *err)
{
    const tt_model *m = e->m;
    e->stats.kernels_winograd += m->kernels[k].alt_of >= 0;
    int kind, rc = 0;
    tt_state *s = tt_exec_kernel_state(m, o, k, &kind);
    if (kind == 0)
        e->stats.kernels_default++;
    else if (kind == 1)
        e->stats.kernels_given++;
    else
        e->stats.kernels_unscheduled++;
    tt_str code;
    tt_str_init(&code);
    char fn[32];
    snprintf(fn, sizeof fn, "k%d", k);
    tt_err ce = {0};
    if (tt_codegen_candidate(s, fn, &code, &ce)) {
        /* fall back to no schedule rather than failing the model */
        tt_state_free(s);
        s = tt_state_new(m->kernels[k].dag);
        tt_str_clear(&code);
        tt_err_clear(&ce);
        if (tt_codegen_candidate(s, fn, &code, &ce))
            rc = tt_err_set(err, "kernel %d (%s): code generation failed: %s", k, m->kernels[k].dag->class_key,
                            ce.msg);
    }
    tt_state_free(s);
    *out = tt_str_take(&code);
    progress(o, "generated kernel %d of %d", k + 1, m->nkernels);
    return rc;
}

/* What tt_exec_build carries from one step to the next (freed at its end). */
typedef struct build_ctx {
    int nk;                   /* the model's kernels */
    char **src;               /* per kernel: its C, NULL if no call runs it */
    unsigned char *needed;    /* per kernel: some call runs it */
    int *item_of;             /* per kernel: its build item, -1 for none */
    tt_build_item *items;     /* the kernels compiled, nitems of them */
    int nitems;
    kernel_fn *fns;           /* per item: the loaded function */
    char own_dir[PATH_MAX];   /* a private work dir to remove, "" for none */
} build_ctx;

static void build_ctx_init(build_ctx *b, int nk)
{
    memset(b, 0, sizeof *b);
    b->nk = nk;
    b->src = tt_xcalloc((size_t)nk, sizeof *b->src);
    b->needed = tt_xcalloc((size_t)nk + 1, 1);
    b->item_of = tt_xcalloc((size_t)nk + 1, sizeof *b->item_of);
    b->items = tt_xcalloc((size_t)(nk ? nk : 1), sizeof *b->items);
}

static void build_ctx_free(build_ctx *b)
{
    for (int k = 0; k < b->nk; k++)
        free(b->src[k]);
    free(b->src), free(b->items), free(b->fns), free(b->needed), free(b->item_of);
}

/* 1a. the C of every kernel that a call runs (a direct kernel or, when
 *     told, its Winograd twin) */
static int gen_sources(tt_exec *e, const tt_exec_opts *o, build_ctx *b, tt_err *err)
{
    const tt_model *m = e->m;
    for (int c = 0; c < m->ncalls; c++)
        if (m->calls[c].kind == TT_MCALL_KERNEL)
            b->needed[tt_exec_run_kernel(m, o, m->calls[c].kernel)] = 1;
    int rc = 0;
    for (int k = 0; k < b->nk && rc == 0; k++)
        if (b->needed[k])
            rc = kernel_source(e, o, k, &b->src[k], err);
    return rc;
}

/* 1b. compile them, one function "k<kernel>" per item, into shared objects
 *     in the caller's work dir or a private one */
static int compile_kernels(const tt_exec_opts *o, build_ctx *b, tt_err *err)
{
    for (int k = 0; k < b->nk; k++) {
        b->item_of[k] = -1;
        if (!b->needed[k])
            continue;
        b->item_of[k] = b->nitems;
        b->items[b->nitems].source = b->src[k];
        snprintf(b->items[b->nitems].fn, sizeof b->items[b->nitems].fn, "k%d", k);
        b->nitems++;
    }
    progress(o, "compiling %d kernels", b->nitems, 0);
    tt_build_opts bo = o->build ? *o->build : (tt_build_opts){0};
    if (bo.per_unit <= 0)
        bo.per_unit = 2;
    if (bo.timeout_s <= 0)
        bo.timeout_s = 300;
    int rc = 0;
    /* a private directory, removed once the kernels are loaded (a loaded
     * shared object needs no file); a caller's work dir is kept */
    if (!bo.workdir) {
        rc = tt_temp_dir("tt-exec", b->own_dir, sizeof b->own_dir, err);
        bo.workdir = b->own_dir;
    }
    if (rc == 0)
        rc = tt_build(&bo, tt_codegen_prelude(), b->items, b->nitems, err);
    for (int i = 0; i < b->nitems && rc == 0; i++)
        if (b->items[i].error)
            rc = tt_err_set(err, "kernel %s failed to compile: %.300s", b->items[i].fn, b->items[i].msg);
    return rc;
}

/* 2. load the compiled kernels into b->fns (never dlclose'd: OpenMP
 *    runtimes do not survive unloading), with e's thread count */
static int load_kernels(const tt_exec *e, build_ctx *b, tt_err *err)
{
    char env[32];
    snprintf(env, sizeof env, "%d", e->threads);
    setenv("OMP_NUM_THREADS", env, 1); /* read by libomp when it starts */
    for (int i = 0; i < b->nitems; i++) {
        void *h = dlopen(b->items[i].so_path, RTLD_NOW | RTLD_LOCAL);
        if (!h)
            return tt_err_set(err, "cannot load %s: %s", b->items[i].so_path, dlerror());
        b->fns[i] = (kernel_fn)dlsym(h, b->items[i].fn);
        if (!b->fns[i])
            return tt_err_set(err, "%s has no function %s", b->items[i].so_path, b->items[i].fn);
    }
    return 0;
}

/* 3. memory plan: the pool's buffers, the input and output pointers;
 *    returns the slot of every graph tensor (plan_memory), caller frees */
static int *plan_buffers(tt_exec *e)
{
    const tt_model *m = e->m;
    const tt_graph *g = m->g;
    int *slot = tt_xmalloc((size_t)g->ntensors * sizeof *slot);
    pool P = {0};
    e->out_bytes = tt_exec_tensor_bytes(g, m->output);
    e->stats.naive_bytes = tt_exec_plan_memory(m, slot, &P);
    int out_root = m->alias_of[m->output];
    e->nbufs = P.n;
    e->bufs = tt_xcalloc((size_t)(P.n ? P.n : 1), sizeof *e->bufs);
    for (int i = 0; i < P.n; i++) {
        e->bufs[i] = xalloc64(P.size[i]);
        e->stats.pool_bytes += P.size[i];
    }
    for (int i = 0; i < m->ninputs; i++) {
        e->in_bytes[i] = tt_exec_tensor_bytes(g, m->inputs[i]);
        e->in_ptr[i] = e->bufs[slot[m->alias_of[m->inputs[i]]]];
    }
    e->out_ptr = slot[out_root] >= 0 ? e->bufs[slot[out_root]] : NULL;
    free(P.size), free(P.busy);
    return slot;
}

/* 4. every call with its argument pointers (constants, else pool buffers)
 *    and its function, or the table of a gather */
static int bind_calls(tt_exec *e, const tt_exec_opts *o, const build_ctx *b, const int *slot, tt_err *err)
{
    const tt_model *m = e->m;
    const tt_graph *g = m->g;
    int rc = 0;
    for (int c = 0; c < m->ncalls && rc == 0; c++) {
        const tt_mcall *mc = &m->calls[c];
        xcall *x = &e->calls[c];
        x->kind = mc->kind;
        x->nargs = mc->nargs;
        for (int a = 0; a < mc->nargs; a++) {
            int r = m->alias_of[mc->args[a]];
            if (g->tensors[r].data)
                x->args[a] = g->tensors[r].data;
            else if (slot[r] >= 0)
                x->args[a] = e->bufs[slot[r]];
            else
                rc = tt_err_set(err, "call %d: tensor '%s' has no storage (read before written)",
                                c, g->tensors[r].name);
        }
        if (mc->kind == TT_MCALL_KERNEL) {
            int k = tt_exec_run_kernel(m, o, mc->kernel);
            x->kernel = k;
            x->fn = b->fns[b->item_of[k]];
            if (k != mc->kernel && rc == 0)
                rc = winograd_weight(e, m, mc, x, m->kernels[k].wino_m, err);
        } else if (mc->kind == TT_MCALL_HOST) {
            x->node = mc->node;
        } else {
            const tt_tensor *tab = &g->tensors[mc->args[0]];
            x->vocab = tab->shape[0];
            x->width = tab->ndim == 2 ? tab->shape[1] : 0;
            x->rows = tt_tensor_numel(&g->tensors[mc->args[1]]);
            if (tab->ndim != 2 || g->tensors[mc->args[1]].dtype != TT_DT_INT64)
                rc = tt_err_set(err, "Gather: a 2-D table and int64 ids are supported");
        }
    }
    return rc;
}

int tt_exec_build(const tt_model *m, const tt_exec_opts *o, tt_exec **out, tt_err *err)
{
    *out = NULL;
    tt_exec_opts dflt = {0};
    if (!o)
        o = &dflt;
    double t0 = tt_now();
    tt_exec *e = tt_xcalloc(1, sizeof *e);
    e->m = m;
    e->threads = o->threads > 0 ? o->threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
    e->ncalls = m->ncalls;
    e->calls = tt_xcalloc((size_t)(m->ncalls ? m->ncalls : 1), sizeof *e->calls);

    /* 1. code, compiled; 2. loaded (build_ctx carries them along) */
    build_ctx b;
    build_ctx_init(&b, m->nkernels);
    int rc = gen_sources(e, o, &b, err);
    if (rc == 0)
        rc = compile_kernels(o, &b, err);
    e->stats.kernels_built = b.nitems;
    b.fns = tt_xcalloc((size_t)(b.nitems ? b.nitems : 1), sizeof *b.fns);
    if (rc == 0)
        rc = load_kernels(e, &b, err);
    if (b.own_dir[0])
        tt_remove_tree(b.own_dir);
    e->fns = tt_xcalloc((size_t)(b.nitems ? b.nitems : 1), sizeof *e->fns);
    for (int i = 0; i < b.nitems && rc == 0; i++)
        if (b.fns[i])
            e->fns[e->nfns++] = b.fns[i];
    if (rc == 0)
        set_threads(e->threads);

    /* 3. memory; 4. calls */
    int *slot = plan_buffers(e);
    if (rc == 0)
        rc = bind_calls(e, o, &b, slot, err);
    if (rc == 0 && !e->out_ptr)
        rc = tt_err_set(err, "the model's output is not computed by any kernel");
    e->stats.build_s = tt_now() - t0;

    build_ctx_free(&b);
    free(slot);
    if (rc) {
        tt_exec_free(e);
        return -1;
    }
    *out = e;
    return 0;
}

/* A host call: its node evaluated on its arguments (present inputs, then
 * the output). */
static int run_host(const tt_exec *e, const xcall *x, tt_err *err)
{
    const tt_node *nd = &e->m->g->nodes[x->node];
    const void *in[TT_NODE_MAX_IO] = {0};
    void *out[1] = {x->args[x->nargs - 1]};
    for (int i = 0, a = 0; i < nd->nin && i < TT_NODE_MAX_IO; i++)
        if (nd->in[i] >= 0)
            in[i] = x->args[a++];
    return tt_graph_eval_node(e->m->g, x->node, in, out, err);
}

/* Call c: a kernel, a host call or an embedding gather. */
static int exec_call(tt_exec *e, int c, tt_err *err)
{
    xcall *x = &e->calls[c];
    if (x->kind == TT_MCALL_KERNEL) {
        x->fn(x->args);
        return 0;
    }
    if (x->kind == TT_MCALL_HOST)
        return run_host(e, x, err);
    const float *tab = x->args[0];
    const int64_t *ids = (const int64_t *)(const void *)x->args[1];
    float *o = x->args[2];
    for (int64_t r = 0; r < x->rows; r++) {
        int64_t id = ids[r];
        if (id < 0)
            id += x->vocab;
        if (id < 0 || id >= x->vocab)
            return tt_err_set(err, "Gather: index %lld out of range [0, %lld)", (long long)ids[r],
                              (long long)x->vocab);
        memcpy(o + r * x->width, tab + id * x->width, (size_t)x->width * sizeof *o);
    }
    return 0;
}

int tt_exec_run(tt_exec *e, const void *input, float *output, tt_err *err)
{
    if (input)
        for (int64_t i = 0, off = 0; i < e->m->ninputs; off += e->in_bytes[i], i++)
            memcpy(e->in_ptr[i], (const char *)input + off, (size_t)e->in_bytes[i]);
    for (int c = 0; c < e->ncalls; c++)
        if (exec_call(e, c, err))
            return -1;
    if (output)
        memcpy(output, e->out_ptr, (size_t)e->out_bytes);
    return 0;
}

/* Untimed runs: at least 3 and 100 ms (first-touch pages, the OpenMP pool,
 * packed weights and the CPU's clock settle; a process that has just loaded
 * its kernels measured 5x slow without it). */
static int exec_warm_up(tt_exec *e, const void *input, tt_err *err)
{
    if (tt_exec_run(e, input, NULL, err))
        return -1;
    double w0 = tt_now();
    for (int k = 0; k < 1000 && (k < 3 || tt_now() - w0 < 0.1); k++)
        if (tt_exec_run(e, NULL, NULL, err))
            return -1;
    return 0;
}

int tt_exec_time(tt_exec *e, const void *input, int repeat, double *median_s, tt_err *err)
{
    if (repeat < 1)
        repeat = 1;
    if (exec_warm_up(e, input, err))
        return -1;
    double *t = tt_xmalloc((size_t)repeat * sizeof *t);
    for (int r = 0; r < repeat; r++) {
        double t0 = tt_now();
        if (tt_exec_run(e, NULL, NULL, err)) {
            free(t);
            return -1;
        }
        t[r] = tt_now() - t0;
    }
    *median_s = tt_median(t, repeat);
    free(t);
    return 0;
}

/* Interleaved single runs, the order swapped every pair: two builds of the
 * same model timed this way measured 0.989-0.998x of each other in six tries,
 * where the best medians of 3 alternating blocks of 10 runs each measured
 * 0.888-1.065x (docs/NOTES.md, "Timing two models against each other"): the
 * machine's speed changes between blocks tens of ms apart, hardly between
 * two runs. */
int tt_exec_time_pair(tt_exec *a, tt_exec *b, const void *input, int repeat, int rounds,
                      double *ta, double *tb, tt_err *err)
{
    int n = (repeat > 0 ? repeat : 1) * (rounds > 0 ? rounds : 1);
    if (exec_warm_up(a, input, err) || exec_warm_up(b, input, err))
        return -1;
    double *A = tt_xmalloc((size_t)n * sizeof *A), *B = tt_xmalloc((size_t)n * sizeof *B);
    int rc = 0;
    for (int r = 0; r < n && rc == 0; r++) {
        tt_exec *first = r & 1 ? b : a, *second = r & 1 ? a : b;
        double t0 = tt_now();
        rc = tt_exec_run(first, NULL, NULL, err);
        double t1 = tt_now();
        rc = rc ? rc : tt_exec_run(second, NULL, NULL, err);
        double t2 = tt_now();
        A[r] = r & 1 ? t2 - t1 : t1 - t0;
        B[r] = r & 1 ? t1 - t0 : t2 - t1;
    }
    if (rc == 0) {
        *ta = tt_median(A, n);
        *tb = tt_median(B, n);
    }
    free(A);
    free(B);
    return rc;
}

int tt_exec_profile(tt_exec *e, const void *input, int repeat, double *call_s, tt_err *err)
{
    if (tt_exec_run(e, input, NULL, err))
        return -1;
    for (int c = 0; c < e->ncalls; c++)
        call_s[c] = 1e300;
    for (int r = 0; r < (repeat > 0 ? repeat : 1); r++)
        for (int c = 0; c < e->ncalls; c++) {
            double t0 = tt_now();
            if (exec_call(e, c, err))
                return -1;
            double t = tt_now() - t0;
            if (t < call_s[c])
                call_s[c] = t;
        }
    return 0;
}

const tt_exec_stats *tt_exec_get_stats(const tt_exec *e) { return &e->stats; }

void tt_exec_free(tt_exec *e)
{
    if (!e)
        return;
    for (int i = 0; i < e->nbufs; i++)
        free(e->bufs[i]);
    free(e->bufs);
    /* the kernels' packed copies of the weights, before the weights go (a
     * freed weight's address may come back for another tensor) */
    for (int i = 0; i < e->nfns; i++)
        e->fns[i](NULL);
    free(e->fns);
    for (int i = 0; i < e->nwbufs; i++)
        free(e->wbufs[i]);
    free(e->wbufs);
    free(e->calls);
    free(e);
}

int64_t tt_model_input_vocab(const tt_model *m, int i)
{
    int t = m->inputs[i];
    int64_t v = 0;
    for (int c = 0; c < m->ncalls; c++) {
        const tt_mcall *mc = &m->calls[c];
        if (mc->kind != TT_MCALL_GATHER || m->alias_of[mc->args[1]] != m->alias_of[t])
            continue;
        int64_t n = m->g->tensors[mc->args[0]].shape[0];
        v = v == 0 || n < v ? n : v;
    }
    return v;
}

void tt_model_random_input(const tt_model *m, void *buf)
{
    tt_rng r;
    tt_rng_seed(&r, 12345);
    char *p = buf;
    for (int k = 0; k < m->ninputs; k++) {
        const tt_tensor *t = &m->g->tensors[m->inputs[k]];
        int64_t n = tt_tensor_numel(t), last = t->ndim > 0 ? t->shape[t->ndim - 1] : 1;
        if (t->dtype == TT_DT_FLOAT) {
            for (int64_t i = 0; i < n; i++)
                ((float *)(void *)p)[i] = (float)(2.0 * tt_rng_unit(&r) - 1.0);
        } else {
            /* token ids below the table they index (at most 1000); other
             * integer or boolean inputs as an attention mask of a padded
             * sequence: 1 for the first 7/8 of the last axis, 0 after */
            int64_t vocab = tt_model_input_vocab(m, k);
            vocab = vocab > 1000 ? 1000 : vocab;
            for (int64_t i = 0; i < n; i++) {
                int64_t v = vocab > 0 ? (int64_t)tt_rng_below(&r, (uint64_t)vocab) : (i % last) < last - last / 8;
                if (t->dtype == TT_DT_INT64)
                    ((int64_t *)(void *)p)[i] = v;
                else if (t->dtype == TT_DT_INT32)
                    ((int32_t *)(void *)p)[i] = (int32_t)v;
                else
                    ((uint8_t *)p)[i] = (uint8_t)(v != 0);
            }
        }
        p += n * tt_dtype_size(t->dtype);
    }
}

double tt_exec_output_error(const float *ours, const float *ref, int64_t n)
{
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(ours[i]) || !isfinite(ref[i]))
            return INFINITY;
        double d = fabs((double)ours[i] - ref[i]);
        num = d > num ? d : num;
        den = fabs(ref[i]) > den ? fabs(ref[i]) : den;
    }
    return den > 0 ? num / den : num;
}

int tt_exec_pick_form(const double *t, int n)
{
    int best = 0;
    for (int i = 0; i < n; i++)
        if (t[i] > 0 && (t[best] <= 0 || t[i] < t[best]))
            best = i;
    return best;
}

/* The in-place time of each kernel call's kernel under one build: form f of
 * every kernel that has it (0: direct), the schedules o gives (or none, with
 * defaults set).  T (m->nkernels entries) gets, per direct kernel, its calls'
 * summed best times; *agrees whether the model output is within tolerance of
 * y0 (which the first build, y0_fill set, fills instead). */
static int time_form(const tt_model *m, const tt_exec_opts *o, int f, int defaults, const void *input,
                     int repeat, float *y0, int y0_fill, double *T, tt_err *err)
{
    int nk = m->nkernels;
    unsigned char *u = tt_xcalloc((size_t)nk + 1, 1);
    for (int k = 0; k < nk; k++)
        u[k] = (unsigned char)(f <= m->kernels[k].nalt ? f : 0);
    tt_exec_opts oo = *o;
    oo.use_alt = u;
    oo.progress = NULL;
    if (defaults) {
        oo.steps = NULL;
        oo.nsteps = NULL;
        oo.from_lanes = NULL;
    }
    int64_t on = tt_tensor_numel(&m->g->tensors[m->output]);
    float *y = y0_fill ? y0 : tt_xmalloc((size_t)on * sizeof *y);
    double *cs = tt_xcalloc((size_t)m->ncalls + 1, sizeof *cs);
    tt_exec *e = NULL;
    int rc = tt_exec_build(m, &oo, &e, err);
    if (rc == 0)
        rc = tt_exec_run(e, input, y, err);
    if (rc == 0)
        rc = tt_exec_profile(e, input, repeat, cs, err);
    /* a build whose output differs from the first is never picked, however
     * fast: its times stay 0 */
    int agrees = y0_fill || tt_exec_output_error(y, y0, on) <= TT_MODEL_TOLERANCE;
    for (int c = 0; c < m->ncalls && rc == 0 && agrees; c++) {
        const tt_mcall *mc = &m->calls[c];
        if (mc->kind == TT_MCALL_KERNEL && f <= m->kernels[mc->kernel].nalt)
            T[mc->kernel] += cs[c];
    }
    tt_exec_free(e);
    /* give the freed weights back to the system: glibc keeps freed heap
     * memory (its mmap threshold grows after large frees), and the forms'
     * packed and transformed weights would add up (VGG-16: 4.7 GB peak
     * without this and the kernels' release) */
    malloc_trim(0);
    if (!y0_fill)
        free(y);
    free(cs), free(u);
    return rc;
}

int tt_exec_choose(const tt_model *m, const tt_exec_opts *o, const void *input, int repeat,
                   tt_exec_choice *ch, tt_err *err)
{
    int nk = m->nkernels, maxalt = 0, rc = 0, given = 0;
    memset(ch->use_alt, 0, (size_t)nk);
    for (int k = 0; k < nk; k++) {
        maxalt = m->kernels[k].nalt > maxalt ? m->kernels[k].nalt : maxalt;
        given += o->steps && o->steps[k];
        if (ch->keep)
            ch->keep[k] = (unsigned char)(o->steps && o->steps[k]);
        if (ch->times)
            ch->times[k] = 0;
        if (ch->times_default)
            ch->times_default[k] = 0;
    }
    int nsched = ch->keep && given ? 2 : 1; /* 0: the steps o gives; 1: defaults */
    if (maxalt == 0 && nsched == 1)
        return 0;
    size_t per = (size_t)nk + 1;
    /* T[(s * (maxalt + 1) + f) * per + k]: direct kernel k's time in form f
     * on schedule source s */
    double *T = tt_xcalloc((size_t)nsched * (size_t)(maxalt + 1) * per, sizeof *T);
    int64_t on = tt_tensor_numel(&m->g->tensors[m->output]);
    float *y0 = tt_xmalloc((size_t)on * sizeof *y0);
    /* the reference output is the first build's: the direct form on default
     * schedules when those are built (a record from elsewhere is what is in
     * question, not the reference: one that computed wrong would otherwise
     * make every default build "disagree" and keep itself), else on the
     * given steps */
    for (int i = 0; i < nsched && rc == 0; i++) {
        int s = nsched - 1 - i;
        for (int f = 0; f <= maxalt && rc == 0; f++)
            rc = time_form(m, o, f, s, input, repeat, y0, i == 0 && f == 0,
                           T + ((size_t)s * (size_t)(maxalt + 1) + (size_t)f) * per, err);
    }
    for (int k = 0; k < nk && rc == 0; k++) {
        const tt_kernel *K = &m->kernels[k];
        if (K->alt_of >= 0)
            continue;
        double t[1 + 2];
        for (int f = 0; f <= K->nalt && f < 3; f++) {
            int q = f == 0 ? k : K->alts[f - 1]; /* the kernel form f runs */
            double tg = T[(size_t)f * per + (size_t)k];
            double td = nsched > 1 ? T[((size_t)(maxalt + 1) + (size_t)f) * per + (size_t)k] : 0;
            /* the given steps stay unless the default ran faster beside them
             * (or they failed); a kernel with no steps was timed on its
             * default both times: the better of the two */
            int def = nsched > 1 && td > 0 && (tg <= 0 || td < tg);
            if (ch->keep && ch->keep[q] && def)
                ch->keep[q] = 0;
            t[f] = def ? td : tg;
            if (ch->times)
                ch->times[q] = tg;
            if (ch->times_default)
                ch->times_default[q] = td;
        }
        ch->use_alt[k] = (unsigned char)tt_exec_pick_form(t, 1 + (K->nalt < 2 ? K->nalt : 2));
    }
    free(T), free(y0);
    return rc;
}

int tt_exec_call_kernel(const tt_exec *e, int c)
{
    return c >= 0 && c < e->ncalls && e->calls[c].kind == TT_MCALL_KERNEL ? e->calls[c].kernel : -1;
}
