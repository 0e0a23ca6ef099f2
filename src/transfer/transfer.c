/* transfer.c - see transfer.h. */
#include "transfer.h"
#include "transfer_int.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../cost/cost.h"
#include "../exec/exec.h"
#include "../record/record.h"
#include "../tune/tune.h"

void tt_transfer_result_free(tt_transfer_result *r)
{
    if (!r)
        return;
    for (int k = 0; r->k && k < r->nkernels; k++)
        free(r->k[k].cands);
    free(r->k);
    r->k = NULL;
}

const char *tt_transfer_paper_source(const char *target)
{
    static const char *const pairs[][2] = {
        {"resnet18", "resnet50"},           {"resnet50", "googlenet"},
        {"alexnet", "vgg16"},               {"vgg16", "googlenet"},
        {"mobilenet_v2", "efficientnet_b4"}, {"googlenet", "resnet50"},
        {"mnasnet1_0", "googlenet"},        {"efficientnet_b0", "efficientnet_b4"},
        {"efficientnet_b4", "efficientnet_b0"}, {"bert_base", "mobilebert"},
        {"mobilebert", "bert_base"},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++)
        if (!strcmp(pairs[i][0], target))
            return pairs[i][1];
    return NULL;
}

int tt_transfer_choose(int n, const int *correct, const int *cut, const double *time_s, double default_s)
{
    int best = -1;
    for (int i = 0; i < n; i++) {
        if (!correct[i] || (cut && cut[i]) || !(time_s[i] > 0))
            continue;
        if (default_s > 0 && !(time_s[i] < default_s))
            continue;
        if (best < 0 || time_s[i] < time_s[best])
            best = i;
    }
    return best;
}

int tt_transfer_resets(int n, const int *chosen, const double *inplace_tuned_s,
                       const double *inplace_untuned_s, int *reset)
{
    int nr = 0;
    for (int k = 0; k < n; k++) {
        reset[k] = chosen[k] && inplace_tuned_s[k] > inplace_untuned_s[k];
        nr += reset[k];
    }
    return nr;
}

const char *const tt_transfer_match_names[TT_MATCH_COUNT] = {"auto", "exact", "related"};
_Static_assert(sizeof tt_transfer_match_names / sizeof tt_transfer_match_names[0] == TT_MATCH_COUNT,
               "tt_transfer_match_names");

/* 1 if class keys a and b differ but start with the same anchor token and
 * both have an epilogue ("conv2d_nhwc+add+relu", "conv2d_nhwc+add+clip"). */
static int related_class(const char *a, const char *b)
{
    const char *pa = strchr(a, '+'), *pb = strchr(b, '+');
    return pa && pb && pa > a && pa - a == pb - b && !strncmp(a, b, (size_t)(pa - a)) &&
           strcmp(a, b) != 0;
}

/* 1 if a source kernel of class `source` may give candidates to a target
 * kernel of class `target` under match mode m (AUTO: related ones too; the
 * per-kernel fallback rule is applied when candidates are made). */
static int class_usable(tt_transfer_match m, const char *source, const char *target)
{
    return !strcmp(source, target) || (m != TT_MATCH_EXACT && related_class(source, target));
}

/* |log2(a/b)| summed over one tensor's dimensions (8 if the ranks differ). */
static double tensor_distance(const tt_wkey *a, int ta, const tt_wkey *b, int tb)
{
    int na = (ta + 1 < a->ntensors ? a->tensor_start[ta + 1] : a->nints) - a->tensor_start[ta];
    int nb = (tb + 1 < b->ntensors ? b->tensor_start[tb + 1] : b->nints) - b->tensor_start[tb];
    if (na != nb)
        return 8;
    double d = 0;
    for (int i = 0; i < na; i++) {
        int64_t x = a->ints[a->tensor_start[ta] + i], y = b->ints[b->tensor_start[tb] + i];
        if (x > 0 && y > 0)
            d += fabs(log2((double)x / (double)y));
        else if (x != y)
            d += 8;
    }
    return d;
}

double tt_transfer_shape_distance(const char *wkey_a, const char *wkey_b)
{
    tt_wkey *a = tt_xmalloc(sizeof *a), *b = tt_xmalloc(sizeof *b);
    tt_err e = {0};
    double d = 1e9;
    if (tt_wkey_parse(wkey_a, a, &e) == 0 && tt_wkey_parse(wkey_b, b, &e) == 0 && a->nested &&
        b->nested && a->ntensors > 0 && b->ntensors > 0) {
        d = tensor_distance(a, a->ntensors - 1, b, b->ntensors - 1);
        for (int t = 0; t < 2; t++)
            d += t < a->ntensors - 1 && t < b->ntensors - 1 ? tensor_distance(a, t, b, t) : 8;
    }
    free(a);
    free(b);
    return d;
}

/* Steps tuned for a kernel of layout src (NULL: same class as d) replayed on
 * d, whose layout is dst: rewritten by tt_transfer_retarget first when the
 * classes differ. */
static tt_state *replay_from(const tt_dag_layout *src, const tt_dag_layout *dst, const tt_dag *d,
                             const tt_step *steps, int n, tt_err *err)
{
    if (!src)
        return tt_state_replay_rebased(d, steps, n, err);
    tt_step *moved = tt_xmalloc(TT_MAX_STEPS * sizeof(tt_step));
    int nm = 0;
    tt_state *s = NULL;
    if (tt_transfer_retarget(src, dst, steps, n, moved, TT_MAX_STEPS, &nm, err) == 0)
        s = tt_state_replay_rebased(d, moved, nm, err);
    free(moved);
    return s;
}

/* ---- the pool ------------------------------------------------------------------ */

static void pool_free(pool *p)
{
    for (int i = 0; i < p->n; i++) {
        free(p->e[i].steps);
        free(p->e[i].layout);
    }
    free(p->e);
    memset(p, 0, sizeof *p);
}

void xfer_say(const tt_transfer_opts *o, const char *fmt, ...)
{
    if (!o->progress)
        return;
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    o->progress(o->ctx, buf);
}

typedef struct src_rank {
    int idx;                     /* in the models list */
    double cov;
} src_rank;

static int cmp_rank(const void *a, const void *b)
{
    const src_rank *x = a, *y = b;
    if (x->cov != y->cov)
        return x->cov > y->cov ? -1 : 1;
    return x->idx - y->idx;
}

/* The untuned (use_choice 0) or transferred model (each kernel's choice
 * unless reset), built with the forms use_alt gives (tt_exec_opts.use_alt;
 * NULL: direct), or, with choose set, the forms that are fastest in place
 * for those schedules first chosen into use_alt (tt_exec_choose) and
 * nothing built (out unused). */
int xfer_build_exec(const tt_model *m, int threads, const tt_build_opts *bo, tkern *K, int use_choice,
                    const int *reset, unsigned char *use_alt, int choose, const void *input,
                    double *times, tt_exec **out, tt_err *err)
{
    tt_exec_opts eo;
    memset(&eo, 0, sizeof eo);
    eo.threads = threads;
    eo.build = bo;
    const tt_step **steps = tt_xcalloc((size_t)m->nkernels + 1, sizeof(tt_step *));
    int *nsteps = tt_xcalloc((size_t)m->nkernels + 1, sizeof(int));
    if (use_choice) {
        for (int k = 0; k < m->nkernels; k++)
            if (K[k].choice >= 0 && !(reset && reset[k])) {
                steps[k] = K[k].cand[K[k].choice]->steps;
                nsteps[k] = K[k].cand[K[k].choice]->nsteps;
            }
        eo.steps = steps;
        eo.nsteps = nsteps;
    }
    int rc;
    if (choose) {
        rc = tt_exec_choose(m, &eo, input, 5, &(tt_exec_choice){.use_alt = use_alt, .times = times}, err);
    } else {
        eo.use_alt = use_alt;
        rc = tt_exec_build(m, &eo, out, err);
    }
    free(steps);
    free(nsteps);
    return rc;
}

/* The kernel that runs the calls of direct kernel g under forms use_alt. */
int xfer_running_kernel(const tt_model *m, const unsigned char *use_alt, int g)
{
    const tt_kernel *K = &m->kernels[g];
    return use_alt && use_alt[g] > 0 && use_alt[g] <= K->nalt ? K->alts[use_alt[g] - 1] : g;
}

/* ---- one transfer, stage by stage --------------------------------------------- */


/* The random input the untuned and transferred models run on. */
void *xfer_input(xfer *X)
{
    if (!X->input) {
        X->input = tt_xmalloc((size_t)tt_model_input_bytes(X->m) + 1);
        tt_model_random_input(X->m, X->input);
    }
    return X->input;
}

/* 1. sources: the database's models ranked by the share of the target's FLOPs
 * whose class key they have (or the --from ones), at most max_sources */
static int pick_sources(xfer *X, tt_err *err)
{
    const tt_model *m = X->m;
    const tt_transfer_opts *o = X->o;
    tt_transfer_result *r = X->r;
    int nk = tt_model_ndirect(m), nmodels = 0, nrank = 0, rc = -1;
    tt_db_model_info *models = NULL;
    src_rank *rank = NULL;
    unsigned char *has = tt_xcalloc((size_t)nk + 1, 1);
    if (tt_db_models(X->db, &models, &nmodels, err))
        goto out;
    double total = 0;
    for (int k = 0; k < nk; k++)
        total += m->kernels[k].weight * m->kernels[k].dag->flops;
    rank = tt_xcalloc((size_t)nmodels + 1, sizeof *rank);
    for (int i = 0; i < nmodels; i++) {
        if (models[i].id == X->tid)
            continue;
        int named = 0;
        for (int j = 0; j < o->nfrom; j++)
            named |= !strcmp(o->from[j], models[i].name);
        if (o->nfrom > 0 && !named)
            continue;
        tt_db_kernel_info *ks = NULL;
        int nks = 0;
        if (tt_db_model_kernels(X->db, models[i].id, &ks, &nks, err))
            goto out;
        /* a direct conv is covered if the source has its class or that of
         * one of its Winograd twins */
        double cov = 0;
        memset(has, 0, (size_t)nk);
        for (int k = 0; k < m->nkernels; k++) {
            int g = m->kernels[k].alt_of >= 0 ? m->kernels[k].alt_of : k;
            for (int j = 0; j < nks && !has[g]; j++)
                has[g] = (unsigned char)class_usable(o->match, ks[j].class_key,
                                                     m->kernels[k].dag->class_key);
        }
        for (int k = 0; k < nk; k++)
            if (has[k])
                cov += m->kernels[k].weight * m->kernels[k].dag->flops;
        free(ks);
        if (o->nfrom > 0 || cov > 0) {
            rank[nrank].idx = i;
            rank[nrank].cov = total > 0 ? cov / total : 0;
            nrank++;
        }
    }
    for (int j = 0; j < o->nfrom; j++) {
        int found = 0;
        for (int i = 0; i < nrank; i++)
            found |= !strcmp(models[rank[i].idx].name, o->from[j]);
        if (!found) {
            tt_err_set(err, "source model '%s' is not in the database%s", o->from[j],
                       !strcmp(o->from[j], X->name) ? " (it is the target)" : "");
            goto out;
        }
    }
    qsort(rank, (size_t)nrank, sizeof *rank, cmp_rank);
    int maxs = o->max_sources > 0 ? o->max_sources : TT_TRANSFER_MAX_SOURCES;
    if (maxs > TT_TRANSFER_MAX_SOURCES)
        maxs = TT_TRANSFER_MAX_SOURCES;
    for (int i = 0; i < nrank && r->nsources < maxs; i++) {
        snprintf(r->sources[r->nsources], sizeof r->sources[0], "%s", models[rank[i].idx].name);
        r->coverage[r->nsources] = rank[i].cov;
        X->src_id[r->nsources] = models[rank[i].idx].id;
        r->nsources++;
    }
    rc = 0;
out:
    free(has);
    free(rank);
    free(models);
    return rc;
}

/* 2. the pool: each source kernel's best record tuned or imported for that
 * source, for the kernel classes the target has */
static int fill_pool(xfer *X, tt_err *err)
{
    const tt_model *m = X->m;
    pool *P = &X->P;
    tt_db_row *row = tt_xmalloc(sizeof *row);
    int rc = 0;
    for (int s = 0; s < X->r->nsources && rc == 0; s++) {
        tt_db_kernel_info *ks = NULL;
        int nks = 0;
        if (tt_db_model_kernels(X->db, X->src_id[s], &ks, &nks, err)) {
            rc = -1;
            break;
        }
        for (int j = 0; j < nks; j++) {
            int wanted = 0;
            int related = 0;
            for (int k = 0; k < m->nkernels; k++) {
                wanted |= class_usable(X->o->match, ks[j].class_key, m->kernels[k].dag->class_key);
                related |= X->o->match != TT_MATCH_EXACT &&
                           related_class(ks[j].class_key, m->kernels[k].dag->class_key);
            }
            if (!wanted)
                continue;
            tt_db_filter f;
            memset(&f, 0, sizeof f);
            f.origins = (1u << TT_ORIGIN_TUNED) | (1u << TT_ORIGIN_IMPORTED);
            f.only_model = X->src_id[s];
            f.exclude_model = X->tid;
            f.ok_only = 1;
            int got = tt_db_best_record(X->db, ks[j].workload_key, &f, row, err);
            if (got < 0) {
                rc = -1;
                break;
            }
            if (!got)
                continue;
            if (P->n == P->cap) {
                P->cap = P->cap ? P->cap * 2 : 64;
                P->e = tt_xrealloc(P->e, (size_t)P->cap * sizeof *P->e);
            }
            pool_ent *e = &P->e[P->n++];
            snprintf(e->class_key, sizeof e->class_key, "%s", ks[j].class_key);
            snprintf(e->wkey, sizeof e->wkey, "%s", ks[j].workload_key);
            e->source = s;
            e->nsteps = row->rec.nsteps;
            e->steps = tt_xmalloc((size_t)(e->nsteps ? e->nsteps : 1) * sizeof(tt_step));
            memcpy(e->steps, row->rec.steps, (size_t)e->nsteps * sizeof(tt_step));
            e->layout = NULL;
            if (related) {
                /* the source kernel's stages, to rewrite its schedule for a related
                 * class; an unreadable print only loses those candidates */
                char *print = NULL;
                tt_err pe = {0};
                e->layout = tt_xmalloc(sizeof *e->layout);
                if (tt_db_kernel_print(X->db, ks[j].workload_key, &print, &pe) != 1 ||
                    tt_dag_layout_parse(print, e->layout, &pe)) {
                    free(e->layout);
                    e->layout = NULL;
                }
                free(print);
            }
        }
        free(ks);
    }
    free(row);
    return rc;
}

/* A pool entry to try for a kernel, and its shape distance to it. */
typedef struct pool_order {
    int i;
    double dist;
} pool_order;

static int cmp_order(const void *a, const void *b)
{
    const pool_order *x = a, *y = b;
    if (x->dist != y->dist)
        return x->dist < y->dist ? -1 : 1;
    return x->i - y->i; /* stable: pool order */
}

/* Append candidate s (from pool entry i) to kernel T. */
static void add_candidate(tkern *T, tt_state *s, int pool_i, int source)
{
    size_t n = (size_t)T->ncand + 1;
    T->cand = tt_xrealloc(T->cand, n * sizeof(tt_state *));
    T->cand_src = tt_xrealloc(T->cand_src, n * sizeof(int));
    T->cand_pool = tt_xrealloc(T->cand_pool, n * sizeof(int));
    T->cand[T->ncand] = s;
    T->cand_src[T->ncand] = source;
    T->cand_pool[T->ncand] = pool_i;
    T->ncand++;
}

/* 3. candidates: the pool schedules of each kernel's class replayed with the
 * target's extents (failures dropped with a reason, duplicates dropped), and
 * the kernel's default schedule beside them */
static void make_candidates(xfer *X)
{
    const tt_model *m = X->m;
    tt_transfer_result *r = X->r;
    int lanes = tt_host_vector_lanes();
    for (int k = 0; k < m->nkernels; k++) {
        const tt_dag *d = m->kernels[k].dag;
        tt_transfer_kernel *x = &r->k[k];
        tkern *T = &X->K[k];
        char **seen = NULL;
        /* pass 0: the same class (the paper's candidates); pass 1: related
         * classes, for every kernel (RELATED) or where pass 0 left none (AUTO) */
        for (int pass = 0; pass < 2; pass++) {
            if (pass == 1 && !(X->o->match == TT_MATCH_RELATED ||
                               (X->o->match == TT_MATCH_AUTO && T->ncand == 0)))
                break;
            if (pass == 1 && !T->layout) {
                tt_err e = {0};
                T->layout = tt_xmalloc(sizeof *T->layout);
                if (tt_dag_layout_of(d, T->layout, &e)) {
                    free(T->layout);
                    T->layout = NULL;
                    break;
                }
            }
            /* the entries to try, in order: pass 0 in pool order, pass 1
             * nearest in shape first, until related_k of them replayed */
            int nord = 0, added = 0;
            pool_order *ord = tt_xmalloc((size_t)(X->P.n + 1) * sizeof *ord);
            for (int i = 0; i < X->P.n; i++) {
                const pool_ent *pe = &X->P.e[i];
                if (pass == 0 ? strcmp(pe->class_key, d->class_key) != 0
                              : !related_class(pe->class_key, d->class_key))
                    continue;
                ord[nord].i = i;
                ord[nord].dist =
                    pass ? tt_transfer_shape_distance(pe->wkey, m->kernels[k].workload_key) : 0;
                nord++;
            }
            qsort(ord, (size_t)nord, sizeof *ord, cmp_order);
            int cap = pass == 0 || X->o->related_k < 0 ? INT_MAX
                      : X->o->related_k > 0             ? X->o->related_k
                                                        : TT_TRANSFER_RELATED_K;
            for (int oi = 0; oi < nord && added < cap; oi++) {
                int i = ord[oi].i;
                const pool_ent *pe = &X->P.e[i];
                x->candidates++;
                x->related += pass;
                tt_err e = {0};
                tt_state *s = NULL;
                if (pass == 1 && !pe->layout)
                    tt_err_set(&e, "the source kernel's DAG is not in the database");
                else
                    s = replay_from(pass ? pe->layout : NULL, T->layout, d, pe->steps, pe->nsteps,
                                    &e);
                if (!s) {
                    if (!x->reason[0])
                        snprintf(x->reason, sizeof x->reason, "replay: %s", e.msg);
                    continue;
                }
                char *json = tt_steps_write(s->steps, s->nsteps);
                int dup = 0;
                for (int j = 0; j < T->ncand && !dup; j++)
                    dup = !strcmp(seen[j], json);
                if (dup) {
                    free(json);
                    tt_state_free(s);
                    continue;
                }
                seen = tt_xrealloc(seen, (size_t)(T->ncand + 1) * sizeof(char *));
                seen[T->ncand] = json;
                add_candidate(T, s, i, pe->source);
                x->replayed++;
                added++;
            }
            free(ord);
        }
        for (int j = 0; j < T->ncand; j++)
            free(seen[j]);
        free(seen);
        r->candidates += T->ncand;
        if (T->ncand == 0)
            continue;
        tt_step *steps = tt_xmalloc(TT_MAX_STEPS * sizeof(tt_step));
        int ns = 0;
        tt_err e = {0};
        if (tt_default_schedule(d, lanes, steps, TT_MAX_STEPS, &ns, &e) == 0) {
            T->def = tt_state_new(d);
            if (tt_state_apply_all(T->def, steps, ns, &e)) {
                tt_state_free(T->def);
                T->def = NULL;
            }
        }
        free(steps);
    }
    if (r->candidates == 0)
        snprintf(r->note, sizeof r->note, "%s",
                 r->nsources == 0 ? "no model in the database shares a kernel class with this model"
                                  : "the source models have no valid tuned record of this model's "
                                    "kernel classes, or none replays on its kernels");
}

/* Task t of X for kernel k: its DAG and kept reference, measuring
 * items[0..n) each beside anchor (the kernel's default; NULL: alone). */
static void set_task(xfer *X, int t, tt_eval_item *items, int n, const tt_state *anchor)
{
    int k = X->task_k[t];
    tt_eval_task *ts = &X->tasks[t];
    memset(ts, 0, sizeof *ts);
    ts->dag = X->m->kernels[k].dag;
    ts->ref = &X->K[k].ref;
    ts->anchor = anchor;
    ts->nitems = n;
    ts->items = items;
}

/* the build and run wall times of the last tt_evaluate of X's tasks */
static void say_times(xfer *X)
{
    double run = 0;
    for (int t = 0; t < X->nt; t++)
        run += X->tasks[t].run_wall_s;
    xfer_say(X->o, "  built in %.1f s, ran in %.1f s", X->nt ? X->tasks[0].build_wall_s : 0.0, run);
}

/* 4 and 5. measurement, standalone and checked: the defaults, then the
 * candidates (cut off at 3x the default) each timed beside its default; per
 * kernel the fastest checked candidate if it beats the default */
static int measure_and_choose(xfer *X, tt_err *err)
{
    tt_transfer_result *r = X->r;
    int ndef = 0, ncand = 0;
    for (int t = 0; t < X->nt; t++) {
        tkern *T = &X->K[X->task_k[t]];
        T->def_item.state = T->def;
        /* the default is timed alone: beside itself it would take twice as long */
        set_task(X, t, &T->def_item, T->def ? 1 : 0, NULL);
        ndef += T->def != NULL;
    }
    xfer_say(X->o, "measuring the default schedules of %d kernels", ndef);
    if (tt_evaluate(X->tasks, X->nt, &X->bo, &X->ro, NULL, NULL, err))
        return -1;
    say_times(X);
    for (int t = 0; t < X->nt; t++) {
        int k = X->task_k[t];
        tkern *T = &X->K[k];
        if (T->def && T->def_item.res.error == 0 && T->def_item.res.correct) {
            r->k[k].default_s = T->def_item.res.mean;
        }
        T->items = tt_xcalloc((size_t)T->ncand, sizeof(tt_eval_item));
        for (int i = 0; i < T->ncand; i++)
            T->items[i].state = T->cand[i];
        set_task(X, t, T->items, T->ncand, T->def);
        X->tasks[t].cutoff_s = r->k[k].default_s > 0 ? 3 * r->k[k].default_s : 0;
        ncand += T->ncand;
    }
    xfer_say(X->o, "measuring %d candidates", ncand);
    if (tt_evaluate(X->tasks, X->nt, &X->bo, &X->ro, NULL, NULL, err))
        return -1;
    say_times(X);
    for (int t = 0; t < X->nt; t++) {
        tkern *T = &X->K[X->task_k[t]];
        tt_transfer_kernel *x = &r->k[X->task_k[t]];
        int *ok = tt_xcalloc((size_t)T->ncand, sizeof(int));
        int *cut = tt_xcalloc((size_t)T->ncand, sizeof(int));
        double *tm = tt_xcalloc((size_t)T->ncand, sizeof(double));
        int bestv = -1;
        for (int i = 0; i < T->ncand; i++) {
            /* each candidate was timed alternately with the default (the
             * anchor): put on the scale of the default's time */
            tt_result_anchor_scale(&T->items[i].res, x->default_s);
            const tt_result *res = &T->items[i].res;
            ok[i] = res->error == 0 && res->correct;
            cut[i] = res->cut_off;
            tm[i] = ok[i] ? res->mean : -1;
            if (T->cand_info) {
                tt_transfer_cand *c = &x->cands[T->cand_info[i]];
                c->correct = ok[i];
                c->cut = cut[i];
                c->time_s = tm[i];
            }
            x->valid += ok[i];
            if (ok[i] && !cut[i] && (bestv < 0 || tm[i] < tm[bestv]))
                bestv = i;
            if (!ok[i] && !x->reason[0])
                snprintf(x->reason, sizeof x->reason, "%s: %s",
                         res->error > 0 && res->error < TT_ERR_COUNT ? tt_errno_names[res->error] : "failed",
                         res->msg);
        }
        r->valid += x->valid;
        if (bestv >= 0) {
            x->best_s = tm[bestv];
            snprintf(x->source, sizeof x->source, "%s", r->sources[T->cand_src[bestv]]);
            snprintf(x->source_class, sizeof x->source_class, "%s",
                     X->P.e[T->cand_pool[bestv]].class_key);
        }
        T->choice = tt_transfer_choose(T->ncand, ok, cut, tm, x->default_s);
        x->chosen = T->choice >= 0;
        x->chosen_s = x->chosen ? tm[T->choice] : x->default_s;
        free(ok);
        free(cut);
        free(tm);
    }
    return 0;
}

/* 5b. each chosen candidate measured again before it is believed
 * (tt_evaluate_again); a kernel whose choice is then not faster than its
 * default keeps the default */
static int confirm_choices(xfer *X, tt_err *err)
{
    tt_transfer_result *r = X->r;
    double *scale = tt_xcalloc((size_t)X->nt + 1, sizeof(double));
    int nconf = 0, rc = 0;
    for (int t = 0; t < X->nt; t++) {
        tkern *T = &X->K[X->task_k[t]];
        memset(&T->conf_item, 0, sizeof T->conf_item);
        if (T->choice >= 0)
            T->conf_item.state = T->items[T->choice].state;
        set_task(X, t, &T->conf_item, T->choice >= 0, T->def);
        scale[t] = r->k[X->task_k[t]].default_s;
        nconf += T->choice >= 0;
    }
    if (nconf > 0) {
        xfer_say(X->o, "measuring the %d chosen candidates again", nconf);
        rc = tt_evaluate_again(X->tasks, X->nt, scale, &X->bo, &X->ro, err);
    }
    for (int t = 0; t < X->nt && nconf > 0 && rc == 0; t++) {
        tkern *T = &X->K[X->task_k[t]];
        tt_transfer_kernel *x = &r->k[X->task_k[t]];
        if (T->choice < 0)
            continue;
        r->confirmed++;
        if (tt_result_confirms(&T->conf_item.res, x->default_s)) {
            T->items[T->choice].res = T->conf_item.res;
            T->items[T->choice].build_s += T->conf_item.build_s;
            x->chosen_s = T->conf_item.res.mean;
        } else {
            r->confirm_rejected++;
            T->choice = -1;
            x->chosen = 0;
            x->chosen_s = x->default_s;
        }
    }
    free(scale);
    return rc;
}

/* Profile both models in place and mark for reset the chosen kernels that
 * take longer there than the untuned model's; returns how many, or -1 on
 * error.  Compared per direct kernel's calls, whichever form each model runs
 * them with: the kernel reset is the one the transferred model runs. */
static int reset_slow_kernels(xfer *X, tt_exec *eu, tt_exec *et, const void *input, tt_err *err)
{
    const tt_model *m = X->m;
    int nk = tt_model_ndirect(m), n = -1;
    double *cu = tt_xcalloc((size_t)m->ncalls + 1, sizeof(double));
    double *ct = tt_xcalloc((size_t)m->ncalls + 1, sizeof(double));
    double *su = tt_xcalloc((size_t)nk + 1, sizeof(double));
    double *st = tt_xcalloc((size_t)nk + 1, sizeof(double));
    int *ch = tt_xcalloc((size_t)nk + 1, sizeof(int));
    int *nr = tt_xcalloc((size_t)nk + 1, sizeof(int));
    if (!tt_exec_profile(eu, input, 5, cu, err) && !tt_exec_profile(et, input, 5, ct, err)) {
        for (int c = 0; c < m->ncalls; c++)
            if (m->calls[c].kind == TT_MCALL_KERNEL) {
                su[m->calls[c].kernel] += cu[c];
                st[m->calls[c].kernel] += ct[c];
            }
        for (int k = 0; k < nk; k++) {
            int kr = xfer_running_kernel(m, X->alt_t, k);
            ch[k] = X->K[kr].choice >= 0 && !X->reset[kr];
        }
        n = tt_transfer_resets(nk, ch, st, su, nr);
        for (int k = 0; k < nk; k++)
            X->reset[xfer_running_kernel(m, X->alt_t, k)] |= nr[k];
    }
    free(cu);
    free(ct);
    free(su);
    free(st);
    free(ch);
    free(nr);
    return n;
}

/* 6. end to end: untuned and transferred timed in interleaved pairs, the
 * transferred output checked against the untuned one; while the transferred
 * model is slower, the kernels that hurt in place go back to their default
 * (at the third attempt all of them: the untuned model itself) */
static int end_to_end(xfer *X, tt_err *err)
{
    const tt_model *m = X->m;
    tt_transfer_result *r = X->r;
    int nk = m->nkernels, rc = -1;
    tt_exec *eu = NULL, *et = NULL;
    const tt_tensor *OT = &m->g->tensors[m->output];
    int64_t out_n = tt_tensor_numel(OT);
    const void *input = xfer_input(X);
    float *out_u = tt_xmalloc((size_t)out_n * sizeof(float));
    float *out_t = tt_xmalloc((size_t)out_n * sizeof(float));
    int repeat = X->o->repeat > 0 ? X->o->repeat : 20;
    int nchosen = 0, nwith = 0;
    for (int k = 0; k < nk; k++) {
        nchosen += X->K[k].choice >= 0;
        nwith += m->kernels[k].nalt > 0;
    }
    /* both models run each conv with Winograd twins in the form that is
     * fastest in place for their schedules, as `run` does: the speedup is
     * the transferred schedules' over what the user gets without them */
    if (nwith > 0 && !X->forms_chosen)
        xfer_say(X->o, "choosing the direct or Winograd form of %d convs in place (untuned)", nwith);
    if (!X->forms_chosen &&
        xfer_build_exec(m, X->o->threads, &X->bo, X->K, 0, NULL, X->alt_u, 1, input, NULL, NULL, err))
        goto out;
    memcpy(X->alt_t, X->alt_u, (size_t)nk);
    xfer_say(X->o, "building the untuned model%s", nchosen ? " and the transferred one" : "");
    if (xfer_build_exec(m, X->o->threads, &X->bo, X->K, 0, NULL, X->alt_u, 0, NULL, NULL, &eu, err) ||
        tt_exec_run(eu, input, out_u, err))
        goto out;
    if (X->o->repeat <= 0) {
        /* a slow model needs fewer pairs: about TT_TRANSFER_TIMING_S for
         * the 3 rounds of pairs, 5 to 20 pairs a round (one run, the second
         * after the build, is the estimate) */
        double t0 = tt_now();
        if (tt_exec_run(eu, input, NULL, err))
            goto out;
        double one = tt_now() - t0;
        repeat = one > 0 ? (int)(TT_TRANSFER_TIMING_S / (6 * one)) : 20;
        repeat = repeat < 5 ? 5 : repeat > 20 ? 20 : repeat;
    }
    if (nchosen == 0) {
        if (tt_exec_time(eu, input, repeat, &r->untuned_s, err))
            goto out;
        r->tuned_s = r->untuned_s;
        rc = 0;
        goto out;
    }
    for (int attempt = 0; attempt < 3; attempt++) {
        tt_exec_free(et);
        et = NULL;
        int left = 0;
        for (int k = 0; k < nk; k++)
            left += X->K[k].choice >= 0 && !X->reset[k];
        if (attempt == 2 || left == 0) {
            /* still slower: every kernel back to its default, which is the
             * untuned model itself */
            for (int k = 0; k < nk; k++)
                X->reset[k] = 1;
            memcpy(X->alt_t, X->alt_u, (size_t)nk);
            r->tuned_s = r->untuned_s;
            r->max_rel_err = 0;
            break;
        }
        if (nwith > 0) {
            xfer_say(X->o, "choosing the direct or Winograd form of %d convs in place (transferred)",
                nwith);
            if (xfer_build_exec(m, X->o->threads, &X->bo, X->K, 1, X->reset, X->alt_t, 1, input, NULL, NULL, err))
                goto out;
        }
        if (xfer_build_exec(m, X->o->threads, &X->bo, X->K, 1, X->reset, X->alt_t, 0, NULL, NULL, &et, err) ||
            tt_exec_run(et, input, out_t, err))
            goto out;
        r->max_rel_err = tt_exec_output_error(out_t, out_u, out_n);
        if (!(r->max_rel_err <= TT_MODEL_TOLERANCE)) {
            tt_err_set(err, "the transferred model's output differs from the untuned one "
                            "(max relative error %.3g): a checked kernel misbehaves in place",
                       r->max_rel_err);
            goto out;
        }
        /* a retry: the untuned model built afresh, after the transferred one,
         * so that neither is the executor left idle through the profiling
         * (an idle one timed up to a few % slower; tune.c, checkpoint) */
        if (attempt > 0) {
            tt_exec_free(eu);
            eu = NULL;
            if (xfer_build_exec(m, X->o->threads, &X->bo, X->K, 0, NULL, X->alt_u, 0, NULL, NULL, &eu, err))
                goto out;
        }
        xfer_say(X->o, "timing untuned and transferred (%d pairs of runs)", 3 * repeat);
        if (tt_exec_time_pair(eu, et, input, repeat, 3, &r->untuned_s, &r->tuned_s, err))
            goto out;
        if (r->tuned_s <= r->untuned_s)
            break;
        int n = reset_slow_kernels(X, eu, et, input, err);
        if (n < 0)
            goto out;
        xfer_say(X->o, "transferred model slower (%.3f ms vs %.3f ms): %d kernel%s reset to default",
            r->tuned_s * 1e3, r->untuned_s * 1e3, n, n == 1 ? "" : "s");
        if (n == 0)
            attempt = 1; /* nothing to blame: the next attempt resets all */
    }
    rc = 0;
out:
    tt_exec_free(eu);
    tt_exec_free(et);
    free(out_u);
    free(out_t);
    return rc;
}

/* 7. the chosen records, with their source, origin "transferred" */
static int write_choices(xfer *X, tt_err *err)
{
    tt_transfer_result *r = X->r;
    if (r->kernels_chosen == 0)
        return 0;
    tt_db_target tg;
    tt_db_target_host(&tg, X->ro.threads);
    tt_record *recs = tt_xcalloc((size_t)r->kernels_chosen, sizeof *recs);
    tt_db_rec *in = tt_xcalloc((size_t)r->kernels_chosen, sizeof *in);
    int n = 0;
    for (int k = 0; k < X->r->nkernels; k++) {
        if (!r->k[k].chosen)
            continue;
        const tkern *T = &X->K[k];
        const tt_eval_item *it = &T->items[T->choice];
        tt_tune_fill_record(&recs[n], it->state, &it->res, it->build_s, &tg);
        in[n] = (tt_db_rec){X->kids[k], &recs[n], &tg, TT_ORIGIN_TRANSFERRED,
                            X->src_id[T->cand_src[T->choice]]};
        snprintf(r->k[k].source, sizeof r->k[k].source, "%s", r->sources[T->cand_src[T->choice]]);
        n++;
    }
    int rc = tt_db_add_records(X->db, n, in, NULL, err);
    free(recs);
    free(in);
    return rc;
}

/* X set up for model m: per-kernel state, r's kernel rows. */
static void xfer_init(xfer *X, tt_db *db, const char *name, const tt_model *m,
                      const tt_transfer_opts *o, tt_transfer_result *r)
{
    int nk = m->nkernels;
    memset(r, 0, sizeof *r);
    memset(X, 0, sizeof *X);
    X->db = db;
    X->m = m;
    X->o = o;
    X->r = r;
    X->K = tt_xcalloc((size_t)(nk ? nk : 1), sizeof *X->K);
    X->kids = tt_xcalloc((size_t)nk + 1, sizeof(int64_t));
    X->reset = tt_xcalloc((size_t)nk + 1, sizeof(int));
    X->task_k = tt_xcalloc((size_t)nk + 1, sizeof(int));
    X->alt_u = tt_xcalloc((size_t)nk + 1, 1);
    X->alt_t = tt_xcalloc((size_t)nk + 1, 1);
    X->tasks = tt_xcalloc((size_t)nk + 1, sizeof *X->tasks);
    X->name = name;
    r->match = o->match;
    r->nkernels = nk;
    r->k = tt_xcalloc((size_t)(nk ? nk : 1), sizeof *r->k);
    for (int k = 0; k < nk; k++) {
        tt_transfer_kernel *x = &r->k[k];
        snprintf(x->name, sizeof x->name, "%s", m->kernels[k].first_node);
        snprintf(x->class_key, sizeof x->class_key, "%s", m->kernels[k].dag->class_key);
        x->alt_of = m->kernels[k].alt_of;
        x->wino_m = m->kernels[k].wino_m;
        x->weight = m->kernels[k].weight;
        x->flops = m->kernels[k].dag->flops;
        x->default_s = x->best_s = x->chosen_s = -1;
        X->K[k].choice = -1;
    }
}

static void xfer_free(xfer *X)
{
    for (int k = 0; k < X->m->nkernels; k++) {
        for (int i = 0; i < X->K[k].ncand; i++)
            tt_state_free(X->K[k].cand[i]);
        free(X->K[k].cand);
        free(X->K[k].cand_src);
        free(X->K[k].cand_pool);
        free(X->K[k].items);
        free(X->K[k].score);
        free(X->K[k].cand_info);
        tt_state_free(X->K[k].def);
        tt_ref_free(&X->K[k].ref);
        free(X->K[k].layout);
    }
    free(X->K);
    free(X->kids);
    free(X->reset);
    free(X->task_k);
    free(X->tasks);
    free(X->alt_u);
    free(X->alt_t);
    free(X->input);
    pool_free(&X->P);
    if (X->cache[0])
        tt_remove_tree(X->cache);
}

/* Steps 1-3: sources, pool, candidates (measuring nothing, writing nothing:
 * the target's id, if it is in the database already, only keeps its own
 * records out of the pool).  0 or -1 with err set. */
static int xfer_candidates(xfer *X, tt_err *err)
{
    if (tt_db_model_id(X->db, X->name, &X->tid, err) < 0 || pick_sources(X, err) || fill_pool(X, err))
        return -1;
    xfer_say(X->o, "%d source model%s, %d pooled schedules", X->r->nsources, X->r->nsources == 1 ? "" : "s",
        X->P.n);
    make_candidates(X);
    return 0;
}

int tt_transfer_candidates(tt_db *db, const char *name, const tt_model *m, const tt_transfer_opts *o,
                           tt_transfer_cands *c, tt_err *err)
{
    memset(c, 0, sizeof *c);
    tt_transfer_result r;
    xfer X;
    xfer_init(&X, db, name, m, o, &r);
    int rc = xfer_candidates(&X, err);
    if (rc == 0) {
        c->nkernels = m->nkernels;
        c->n = tt_xcalloc((size_t)m->nkernels + 1, sizeof(int));
        c->cand = tt_xcalloc((size_t)m->nkernels + 1, sizeof(tt_state **));
        for (int k = 0; k < m->nkernels; k++) {
            c->n[k] = X.K[k].ncand; /* handed over */
            c->cand[k] = X.K[k].cand;
            X.K[k].ncand = 0;
            X.K[k].cand = NULL;
        }
    }
    xfer_free(&X);
    tt_transfer_result_free(&r);
    return rc;
}

void tt_transfer_cands_free(tt_transfer_cands *c)
{
    for (int k = 0; k < c->nkernels; k++) {
        for (int i = 0; i < c->n[k]; i++)
            tt_state_free(c->cand[k][i]);
        free(c->cand[k]);
    }
    free(c->n);
    free(c->cand);
    memset(c, 0, sizeof *c);
}

/* The transfer's outcome per kernel once measured and checked: what runs,
 * the resets, the Winograd counts, the speedup. */
static void xfer_summarize(xfer *X)
{
    const tt_model *m = X->m;
    tt_transfer_result *r = X->r;
    for (int k = 0; k < m->nkernels; k++) {
        tt_transfer_kernel *x = &r->k[k];
        if (x->chosen && X->reset[k]) {
            x->chosen = 0;
            x->reset = 1;
            x->chosen_s = x->default_s;
            r->resets++;
        }
        const tt_kernel *K = &m->kernels[k];
        int g = K->alt_of >= 0 ? K->alt_of : k;
        x->runs = xfer_running_kernel(m, X->alt_t, g) == k;
        r->kernels_chosen += x->chosen;
        r->kernels_improved += x->chosen && x->runs;
        if (K->nalt > 0) {
            r->winograd_untuned += X->alt_u[k] > 0;
            r->winograd += X->alt_t[k] > 0;
        }
    }
    r->speedup = r->tuned_s > 0 ? r->untuned_s / r->tuned_s : 1;
}

int tt_transfer_model(tt_db *db, const char *name, const char *source, const tt_model *m,
                      const tt_transfer_opts *o, tt_transfer_result *r, tt_err *err)
{
    double t0 = tt_now();
    int nk = m->nkernels, rc = -1;
    xfer X;
    xfer_init(&X, db, name, m, o, r);
    /* nothing is written before the end: a transfer that fails leaves the
     * database as it was */
    if (xfer_candidates(&X, err))
        goto out;
    X.bo = o->build ? *o->build : (tt_build_opts){0};
    /* one kernel cache for the run: the defaults, the anchors, the chosen
     * candidates measured again and the models built end to end are the
     * same C many times over, compiled once */
    if (!X.bo.cache_dir) {
        if (tt_temp_dir("tt-kcache", X.cache, sizeof X.cache, err))
            goto out;
        X.bo.cache_dir = X.cache;
    }
    if (r->candidates > 0 && o->top_k >= 0 && (xfer_forms_first(&X, err) || xfer_time_cover(&X, err)))
        goto out;
    if (r->candidates > 0 && xfer_rank_candidates(&X, err))
        goto out;
    for (int k = 0; k < nk; k++)
        if (X.K[k].ncand > 0)
            X.task_k[X.nt++] = k;
    r->cache = tt_tune_cache_state(m, r->cache_why, sizeof r->cache_why);
    tt_tune_default_run_opts(&X.ro, o->threads > 0 ? o->threads : (int)sysconf(_SC_NPROCESSORS_ONLN),
                             r->cache);
    /* candidates are screened with 2 warm repeats (the search takes 3): the
     * chosen one of each kernel is measured again with 10 (confirm_choices)
     * and the model then timed end to end, so a lucky screen costs one
     * confirmation, not a wrong choice */
    if (r->cache == TT_CACHE_WARM)
        X.ro.repeat = 2;
    if (X.nt > 0 && (measure_and_choose(&X, err) || (!o->no_confirm && confirm_choices(&X, err))))
        goto out;
    if (end_to_end(&X, err))
        goto out;
    xfer_summarize(&X);
    if (tt_db_add_model(db, name, source, m, &X.tid, X.kids, err) || write_choices(&X, err))
        goto out;
    rc = 0;
out:
    r->search_s = tt_now() - t0;
    xfer_free(&X);
    return rc;
}
