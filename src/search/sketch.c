/* sketch.c - access analysis, search parameters and Ansor's CPU sketch rules.
 *
 * The analysis (Ansor's AccessAnalyzer and search_policy/utils.h) is computed
 * on a state's stages, whose ops already reflect CHW and RF -- what Ansor gets
 * from the state's current_compute_dag.  The sketch rules follow
 * sketch_policy_rules.cc; see search.h for the list.
 */
#include "search_int.h"

#include <stddef.h>
#include <stdio.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- parameters ------------------------------------------------------------ */

const char *const tt_loc_kind_names[TT_LOC_COUNT] = {"sample", "inline", "root", "at"};
_Static_assert(sizeof tt_loc_kind_names / sizeof tt_loc_kind_names[0] == TT_LOC_COUNT,
               "tt_loc_kind_names");

void tt_search_params_default(tt_search_params *p)
{
    memset(p, 0, sizeof *p);
    p->num_cores = 1;
    p->max_innermost_split_factor = 64;
    p->max_vectorize_size = 16;
    p->disable_change_compute_location = 0;
    snprintf(p->tiling_structure, sizeof p->tiling_structure, "SSRSRS");
    p->nunroll = 4;
    p->unroll[0] = 0;
    p->unroll[1] = 16;
    p->unroll[2] = 64;
    p->unroll[3] = 512;
    p->eps_greedy = 0.05;
    p->retry_search_one_round_on_empty = 1;
    p->sample_init_min_population = 50;
    p->sample_init_use_measured_ratio = 0.2;
    p->evolutionary_search_population = 2048;
    p->evolutionary_search_num_iters = 4;
    p->evolutionary_search_mutation_prob = 0.85;
    p->mutate_tile_size = 0.90;
    p->mutate_auto_unroll = 0.04;
    p->mutate_compute_location = 0.05;
    p->mutate_parallel = 0.01;
    p->local_search_ratio = 0.25;
    p->local_search_mutants = 256;
}

const tt_search_params *ts_params(const tt_search_params *p, tt_search_params *tmp)
{
    if (p)
        return p;
    tt_search_params_default(tmp);
    return tmp;
}

typedef enum { PK_INT, PK_DOUBLE } pkind;
/* Each parameter with its allowed range (probabilities in [0, 1], sizes and
 * counts at least 1 where 0 would leave no search space). */
static const struct {
    const char *name;
    pkind kind;
    size_t off;
    double lo, hi;
} param_table[] = {
    {"num_cores", PK_INT, offsetof(tt_search_params, num_cores), 1, 65536},
    {"max_innermost_split_factor", PK_INT, offsetof(tt_search_params, max_innermost_split_factor),
     1, 1 << 20},
    {"max_vectorize_size", PK_INT, offsetof(tt_search_params, max_vectorize_size), 1, 1 << 20},
    {"disable_change_compute_location", PK_INT,
     offsetof(tt_search_params, disable_change_compute_location), 0, 1},
    {"eps_greedy", PK_DOUBLE, offsetof(tt_search_params, eps_greedy), 0, 1},
    {"retry_search_one_round_on_empty", PK_INT,
     offsetof(tt_search_params, retry_search_one_round_on_empty), 0, 1000},
    {"sample_init_min_population", PK_INT, offsetof(tt_search_params, sample_init_min_population),
     1, 1 << 20},
    {"sample_init_use_measured_ratio", PK_DOUBLE,
     offsetof(tt_search_params, sample_init_use_measured_ratio), 0, 1},
    {"evolutionary_search_population", PK_INT,
     offsetof(tt_search_params, evolutionary_search_population), 1, 1 << 20},
    {"evolutionary_search_num_iters", PK_INT,
     offsetof(tt_search_params, evolutionary_search_num_iters), 0, 1000},
    {"evolutionary_search_mutation_prob", PK_DOUBLE,
     offsetof(tt_search_params, evolutionary_search_mutation_prob), 0, 1},
    {"mutate_tile_size", PK_DOUBLE, offsetof(tt_search_params, mutate_tile_size), 0, 1e6},
    {"mutate_auto_unroll", PK_DOUBLE, offsetof(tt_search_params, mutate_auto_unroll), 0, 1e6},
    {"mutate_compute_location", PK_DOUBLE, offsetof(tt_search_params, mutate_compute_location), 0,
     1e6},
    {"mutate_parallel", PK_DOUBLE, offsetof(tt_search_params, mutate_parallel), 0, 1e6},
    {"local_search_ratio", PK_DOUBLE, offsetof(tt_search_params, local_search_ratio), 0, 1},
    {"local_search_mutants", PK_INT, offsetof(tt_search_params, local_search_mutants), 1, 1 << 20},
    {"num_warmup_sample", PK_INT, offsetof(tt_search_params, num_warmup_sample), 0, 1 << 30},
};

int tt_search_params_set(tt_search_params *p, const char *name, const char *value, tt_err *err)
{
    char *end;
    if (!strcmp(name, "tiling_structure")) {
        size_t n = strlen(value);
        if (n == 0 || n >= sizeof p->tiling_structure || strspn(value, "SRsr") != n)
            return tt_err_set(err, "tiling_structure: expected up to %zu letters S and R, got '%.40s'",
                              sizeof p->tiling_structure - 1, value);
        snprintf(p->tiling_structure, sizeof p->tiling_structure, "%s", value);
        return 0;
    }
    if (!strcmp(name, "unroll")) {
        int64_t v[8];
        int n = 0;
        const char *q = value;
        while (*q) {
            if (n == 8)
                return tt_err_set(err, "unroll: at most 8 values");
            long long x = strtoll(q, &end, 10);
            if (end == q || x < 0 || x > (1 << 20))
                return tt_err_set(err, "unroll: bad list '%.60s' (steps from 0 to 1048576)", value);
            v[n++] = x;
            q = *end == ',' ? end + 1 : end;
            if (*end && *end != ',')
                return tt_err_set(err, "unroll: bad list '%.60s'", value);
        }
        if (n == 0)
            return tt_err_set(err, "unroll: empty list");
        p->nunroll = n;
        memcpy(p->unroll, v, sizeof v);
        return 0;
    }
    for (size_t i = 0; i < sizeof param_table / sizeof param_table[0]; i++) {
        if (strcmp(name, param_table[i].name))
            continue;
        double lo = param_table[i].lo, hi = param_table[i].hi;
        if (param_table[i].kind == PK_INT) {
            errno = 0;
            long x = strtol(value, &end, 10);
            if (end == value || *end || errno || x < lo || x > hi)
                return tt_err_set(err, "%s: expected an integer from %.0f to %.0f, got '%.40s'", name,
                                  lo, hi, value);
            *(int *)((char *)p + param_table[i].off) = (int)x;
        } else {
            double x = strtod(value, &end);
            if (end == value || *end || !(x >= lo && x <= hi))
                return tt_err_set(err, "%s: expected a number from %g to %g, got '%.40s'", name, lo,
                                  hi, value);
            *(double *)((char *)p + param_table[i].off) = x;
        }
        return 0;
    }
    return tt_err_set(err, "unknown search parameter '%.60s'", name);
}

/* ---- access analysis ------------------------------------------------------- */

typedef struct loads {
    int n;
    const tt_expr *ld[512];
} loads;

/* Every load in e (of tensor uid, or of any tensor if uid < 0). */
static void collect_loads(const tt_expr *e, int uid, loads *r)
{
    if (!e)
        return;
    if (e->kind == TT_E_LOAD && (uid < 0 || e->u.uid == uid) && r->n < (int)(sizeof r->ld / sizeof r->ld[0]))
        r->ld[r->n++] = e;
    for (int i = 0; i < e->n; i++)
        collect_loads(e->args[i], uid, r);
}

static void op_loads(const tt_op *op, int uid, loads *r)
{
    r->n = 0;
    collect_loads(op->body, uid, r);
    collect_loads(op->cond, uid, r);
}

static int reads_uid(const tt_op *op, int uid)
{
    loads r;
    op_loads(op, uid, &r);
    return r.n > 0;
}

/* IsConstShiftEqual: e is axis, axis + c, axis - c or c + axis; the axis, or -1. */
static int const_shift_axis(const tt_expr *e)
{
    if (e->kind == TT_E_AXIS)
        return e->u.axis;
    if ((e->kind == TT_E_ADD || e->kind == TT_E_SUB) && e->args[0]->kind == TT_E_AXIS &&
        e->args[1]->kind == TT_E_INT)
        return e->args[0]->u.axis;
    if (e->kind == TT_E_ADD && e->args[0]->kind == TT_E_INT && e->args[1]->kind == TT_E_AXIS)
        return e->args[1]->u.axis;
    return -1;
}

/* IsSimpleAccess of load `ld` by op: every index is a constant or a constant
 * shift of one of op's spatial axes. */
static int simple_access(const tt_op *op, const tt_expr *ld, int *missing, int *dup, int *same_order)
{
    int ct[TT_MAX_DIMS] = {0};
    int last = -1;
    *same_order = 1;
    for (int i = 0; i < ld->n; i++) {
        const tt_expr *x = ld->args[i];
        if (x->kind == TT_E_INT)
            continue;
        int a = const_shift_axis(x);
        if (a < 0 || a >= op->ndim)
            return 0;
        ct[a]++;
        if (a < last)
            *same_order = 0;
        last = a;
    }
    *missing = *dup = 0;
    for (int a = 0; a < op->ndim; a++) {
        if (ct[a] == 0)
            *missing = 1;
        else if (ct[a] > 1)
            *dup = 1;
    }
    return 1;
}

static int has_kind(const tt_expr *e, tt_ekind k, int call)
{
    if (!e)
        return 0;
    if (e->kind == k && (k != TT_E_CALL || (int)e->u.call == call))
        return 1;
    for (int i = 0; i < e->n; i++)
        if (has_kind(e->args[i], k, call))
            return 1;
    return 0;
}

int ts_has_reduce(const tt_stage *st)
{
    for (int i = 0; i < st->niters; i++)
        if (st->nodes[st->iters[i].node].kind != TT_ITER_SPATIAL)
            return 1;
    return 0;
}

int ts_is_tiled(const tt_stage *st)
{
    return st->niters != st->op.ndim + st->op.nreduce;
}

int ts_is_output(const tt_state *s, int si)
{
    int uid = s->stages[si].op.uid;
    for (int d = 0; d < s->nstages; d++)
        if (d != si && s->stages[d].op.kind == TT_OP_COMPUTE && reads_uid(&s->stages[d].op, uid))
            return 0;
    return 1;
}

int ts_strictly_inlineable(const tt_state *s, int si)
{
    const tt_op *op = &s->stages[si].op;
    if (op->kind != TT_OP_COMPUTE)
        return 0;
    loads r;
    op_loads(op, -1, &r);
    int strict = 1;
    for (int i = 0; i < r.n; i++) {
        int missing, dup, order;
        if (!simple_access(op, r.ld[i], &missing, &dup, &order))
            return 0;
        if (!order || dup)
            strict = 0; /* a transpose is not strictly inlined */
    }
    /* no expensive op (exp) and no branch (if_then_else / select) */
    if (has_kind(op->body, TT_E_CALL, TT_CALL_EXP) || has_kind(op->body, TT_E_SELECT, 0) ||
        has_kind(op->cond, TT_E_SELECT, 0))
        strict = 0;
    if (r.n == 0)
        strict = 1; /* a constant tensor */
    return strict;
}

static void gather_axes(const tt_expr *e, unsigned *mask)
{
    if (!e)
        return;
    if (e->kind == TT_E_AXIS && e->u.axis < 32)
        *mask |= 1u << e->u.axis;
    for (int i = 0; i < e->n; i++)
        gather_axes(e->args[i], mask);
}

int ts_needs_mlt(const tt_state *s, int si)
{
    const tt_op *op = &s->stages[si].op;
    if (op->kind != TT_OP_COMPUTE)
        return 0;
    loads all;
    op_loads(op, -1, &all);
    int uids[512], nu = 0;
    for (int i = 0; i < all.n; i++) {
        int u = all.ld[i]->u.uid, seen = 0;
        for (int k = 0; k < nu; k++)
            seen |= uids[k] == u;
        if (!seen)
            uids[nu++] = u;
    }
    int n_missing = 0;
    for (int k = 0; k < nu; k++) {
        unsigned mask = 0;
        for (int i = 0; i < all.n; i++)
            if (all.ld[i]->u.uid == uids[k])
                for (int j = 0; j < all.ld[i]->n; j++)
                    gather_axes(all.ld[i]->args[j], &mask);
        for (int a = 0; a < op->ndim; a++) {
            if (op->axis[a].extent > 1 && !(mask & (1u << a))) {
                n_missing++;
                break;
            }
        }
        if (n_missing >= 2 || (n_missing >= 1 && op->nreduce > 0))
            return 1;
    }
    return 0;
}

static void consumers_rec(const tt_state *s, int si, int *mark)
{
    int uid = s->stages[si].op.uid;
    for (int d = 0; d < s->nstages; d++) {
        if (d == si || s->stages[d].op.kind != TT_OP_COMPUTE || !reads_uid(&s->stages[d].op, uid))
            continue;
        if (s->stages[d].at == TT_AT_INLINED)
            consumers_rec(s, d, mark);
        else
            mark[d] = 1;
    }
}

int ts_consumers(const tt_state *s, int si, int *out)
{
    int mark[TS_MAX_STAGES] = {0};
    if (s->nstages > TS_MAX_STAGES)
        return 0;
    consumers_rec(s, si, mark);
    int n = 0;
    for (int d = 0; d < s->nstages; d++)
        if (mark[d])
            out[n++] = d;
    return n;
}

int ts_attach_stage(const tt_state *s, int si)
{
    const tt_stage *st = &s->stages[si];
    return st->at == TT_AT_ITER ? tt_state_stage_of_uid(s, st->at_uid) : -1;
}

int ts_single_consumer(const tt_state *s, int si)
{
    int c[TS_MAX_STAGES];
    int n = ts_consumers(s, si, c);
    if (n == 0)
        return -1;
    if (n == 1)
        return c[0];
    /* several consumers: they must share one root */
    int root = -1;
    for (int i = 0; i < n; i++) {
        int r = s->stages[c[i]].at == TT_AT_ITER ? ts_attach_stage(s, c[i]) : c[i];
        if (root == -1)
            root = r;
        else if (root != r)
            return -1;
    }
    return root;
}

/* ElementWiseMatch: a chain of single-consumer stages from si to target with
 * the same output shape, each reading its producer element-wise. */
static int elementwise_match(const tt_state *s, int si, int target)
{
    int cur = si;
    while (cur != target) {
        const tt_op *cop = &s->stages[cur].op;
        int next = -1, n = 0;
        for (int d = 0; d < s->nstages; d++)
            if (d != cur && s->stages[d].op.kind == TT_OP_COMPUTE && reads_uid(&s->stages[d].op, cop->uid)) {
                next = d;
                n++;
            }
        if (n != 1)
            return 0;
        const tt_op *nop = &s->stages[next].op;
        if (cop->kind != TT_OP_COMPUTE || nop->ndim != cop->ndim)
            return 0;
        for (int a = 0; a < cop->ndim; a++)
            if (cop->axis[a].extent != nop->axis[a].extent)
                return 0;
        loads r;
        op_loads(nop, cop->uid, &r);
        for (int i = 0; i < r.n; i++) {
            int missing, dup, order;
            if (!simple_access(nop, r.ld[i], &missing, &dup, &order) || missing || dup || !order)
                return 0;
        }
        cur = next;
    }
    return 1;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

int ts_single_ew_consumer(const tt_state *s, int si, int *target)
{
    int c[TS_MAX_STAGES];
    if (ts_consumers(s, si, c) != 1)
        return 0;
    *target = c[0];
    return elementwise_match(s, si, c[0]) &&
           !(ts_has_reduce(&s->stages[si]) && ts_has_reduce(&s->stages[c[0]])) &&
           !ends_with(s->stages[c[0]].op.name, ".shared");
}

static int changes_stages(const tt_step *x)
{
    return x->tag == TT_STEP_CHW || x->tag == TT_STEP_CHR || x->tag == TT_STEP_RF;
}

int ts_has_cache_write(const tt_state *s, int si)
{
    for (int i = s->nsteps - 1; i >= 0; i--) {
        const tt_step *x = &s->steps[i];
        if (x->tag == TT_STEP_CHW && x->stage == si)
            return 1;
        if (changes_stages(x) && si > x->stage)
            si--;
    }
    return 0;
}

int ts_needs_rfactor(const tt_state *s, int si, int num_cores)
{
    const tt_stage *st = &s->stages[si];
    if (st->op.kind != TT_OP_COMPUTE)
        return 0;
    int64_t space = 1, reduce = 1;
    for (int i = 0; i < st->niters; i++) {
        const tt_relnode *n = &st->nodes[st->iters[i].node];
        if (n->kind == TT_ITER_SPATIAL)
            space *= n->extent;
        else if (n->kind == TT_ITER_REDUCE)
            reduce *= n->extent;
    }
    if (ts_needs_mlt(s, si))
        /* no rfactor if the spatial iterators give enough parallelism */
        return !(space > reduce || space > (int64_t)num_cores * 16);
    if (reduce > 1)
        return reduce > num_cores;
    return 0;
}

int ts_is_attach_point(const tt_state *s, int si, int iter)
{
    const tt_stage *t = &s->stages[si];
    int node = t->iters[iter].node;
    for (int k = 0; k < s->nstages; k++) {
        const tt_stage *o = &s->stages[k];
        if (o->at == TT_AT_ITER && o->at_uid == t->op.uid && o->at_node == node)
            return 1;
    }
    return 0;
}

int64_t ts_iter_extent(const tt_state *s, int si, int iter)
{
    const tt_stage *st = &s->stages[si];
    return st->nodes[st->iters[iter].node].extent;
}

int ts_location_candidates(const tt_state *s, int si, int (*cand)[2], int max)
{
    int t = ts_single_consumer(s, si);
    if (t < 0)
        return 0;
    const tt_stage *ts = &s->stages[t];
    int n = 0;
    int at_other = ts->at == TT_AT_ITER;
    int tiled = ts_is_tiled(ts);
    int visited_reduce = 0;
    for (int i = 0; i < ts->niters; i++) {
        const tt_relnode *it = &ts->nodes[ts->iters[i].node];
        if (it->kind == TT_ITER_REDUCE) {
            visited_reduce = 1;
            if (!tiled)
                break; /* do not go into a reduce iterator */
        } else if (it->kind == TT_ITER_SPATIAL) {
            if (visited_reduce)
                break; /* do not go into the inner tile */
        }
        if (ts->iters[i].ann == TT_ANN_UNROLL)
            break;
        if (it->extent == 1)
            continue;
        /* the first-level iterators of a stage computed at another have length 1 */
        if (at_other && it->kind == TT_ITER_SPATIAL && ends_with(it->name, ".0"))
            continue;
        if (n < max) {
            cand[n][0] = t;
            cand[n][1] = i;
            n++;
        }
        if (ts_is_attach_point(s, t, i))
            break;
    }
    if (at_other) {
        /* also the outer iterators of the stage the consumer is computed at */
        int tt = ts_attach_stage(s, t);
        const tt_stage *x = &s->stages[tt];
        for (int i = 0; i < x->niters; i++) {
            const tt_relnode *it = &x->nodes[x->iters[i].node];
            if (it->kind == TT_ITER_REDUCE || ts_is_attach_point(s, tt, i))
                break;
            if (x->iters[i].ann == TT_ANN_UNROLL)
                break;
            if (it->extent == 1)
                continue;
            if (n < max) {
                cand[n][0] = tt;
                cand[n][1] = i;
                n++;
            }
        }
    }
    return n;
}

int ts_factors(int64_t n, int64_t *out, int max)
{
    int k = 0;
    int64_t step = n % 2 == 0 ? 1 : 2;
    for (int64_t i = 1; i * i <= n; i += step) {
        if (n % i)
            continue;
        if (k < max)
            out[k++] = i;
        if (n / i != i && k < max)
            out[k++] = n / i;
    }
    /* insertion sort: few divisors */
    for (int i = 1; i < k; i++)
        for (int j = i; j > 0 && out[j - 1] > out[j]; j--) {
            int64_t t = out[j];
            out[j] = out[j - 1];
            out[j - 1] = t;
        }
    return k;
}

/* ---- sketch rules ---------------------------------------------------------- */

typedef enum { COND_SKIP = 0, COND_APPLY, COND_APPLY_SKIP_REST } cond_kind;

typedef struct sk_item {
    tt_state *s;
    int stage;
} sk_item;

typedef struct sk_list {
    int n, cap;
    sk_item *v;
} sk_list;

static void sk_push(sk_list *l, tt_state *s, int stage)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 8;
        l->v = tt_xrealloc(l->v, (size_t)l->cap * sizeof *l->v);
    }
    l->v[l->n].s = s;
    l->v[l->n].stage = stage;
    l->n++;
}

static tt_step mk(tt_steptag tag, int stage)
{
    tt_step x;
    memset(&x, 0, sizeof x);
    x.tag = tag;
    x.stage = stage;
    return x;
}

/* Apply a sketch step.  unknown: the step is a split with undecided lengths:
 * it is applied with lengths 1 (so that later steps see the right iterator
 * structure) and the iterators it makes get unknown extents, as in Ansor's
 * sketch states. */
static int sk_apply(tt_state *s, const tt_step *x, int unknown, tt_err *err)
{
    if (tt_state_apply(s, x, err))
        return -1;
    if (unknown) {
        tt_stage *st = &s->stages[x->stage];
        const tt_rel *r = &st->rels[st->nrels - 1];
        for (int i = 0; i < r->n; i++)
            st->nodes[r->nodes[i]].extent = -1;
    }
    return 0;
}

static int iter_pos(const tt_stage *st, int node)
{
    return tt_stage_iter_of_node(st, node);
}

/* Split iterator `iter` of stage si into nparts (nparts - 1 undecided
 * lengths); writes the parts' nodes (outer first) and returns the step id. */
static int sk_split(tt_state *s, int si, int iter, int nparts, int unknown, int *parts, tt_err *err)
{
    tt_step x = mk(TT_STEP_SP, si);
    x.iter = iter;
    int64_t e = ts_iter_extent(s, si, iter);
    x.extent = e > 0 ? e : 0;
    x.nlen = nparts - 1;
    for (int i = 0; i < x.nlen; i++)
        x.len[i] = 1;
    x.inner_to_outer = 1;
    if (sk_apply(s, &x, unknown, err))
        return -1;
    const tt_stage *st = &s->stages[si];
    const tt_rel *r = &st->rels[st->nrels - 1];
    for (int i = 0; i < r->n; i++)
        parts[i] = r->nodes[i];
    return s->nsteps - 1;
}

static int sk_reorder(tt_state *s, int si, const int *nodes, int n, tt_err *err)
{
    tt_step x = mk(TT_STEP_RE, si);
    if (n > TT_MAX_STEP_IDS)
        return tt_err_set(err, "reorder of %d iterators", n);
    x.nids = n;
    for (int i = 0; i < n; i++) {
        x.ids[i] = iter_pos(&s->stages[si], nodes[i]);
        if (x.ids[i] < 0)
            return tt_err_set(err, "reorder: iterator lost");
    }
    return sk_apply(s, &x, 0, err);
}

/* DoMultiLevelTiling: "SSRSRS" splits every spatial iterator into 4 parts and
 * every reduce iterator into 2, then orders them level by level:
 *
 *   for i.0 j.0 | for i.1 j.1 | for k.0 | for i.2 j.2 | for k.1 | for i.3 j.3
 *
 * split_ids receives the step ids of the spatial splits. */
static int do_mlt(tt_state *s, int si, const char *fmt, int *split_ids, int *nsplit, tt_err *err)
{
    int ns = 0, nr = 0, nf = (int)strlen(fmt);
    for (int i = 0; i < nf; i++) {
        if (fmt[i] == 'S' || fmt[i] == 's')
            ns++;
        else
            nr++;
    }
    tt_stage *st = &s->stages[si];
    int orig[TT_MAX_ITERS], norig = st->niters;
    for (int i = 0; i < norig; i++)
        orig[i] = st->iters[i].node;
    int lvl_s[TT_MAX_SPLIT + 1][TT_MAX_ITERS], nls = 0;
    int lvl_r[TT_MAX_SPLIT + 1][TT_MAX_ITERS], nlr = 0;
    if (ns > TT_MAX_SPLIT + 1 || nr > TT_MAX_SPLIT + 1)
        return tt_err_set(err, "tiling structure '%s' has too many levels", fmt);
    *nsplit = 0;
    for (int i = 0; i < norig; i++) {
        tt_iterkind k = s->stages[si].nodes[orig[i]].kind;
        int pos = iter_pos(&s->stages[si], orig[i]);
        int parts[TT_MAX_SPLIT + 1];
        int n = k == TT_ITER_SPATIAL ? ns : nr;
        if (k != TT_ITER_SPATIAL && k != TT_ITER_REDUCE)
            return tt_err_set(err, "multi-level tiling of a mixed iterator");
        if (n == 0)
            return tt_err_set(err, "tiling structure '%s' has no level for this iterator", fmt);
        if (n == 1) {
            parts[0] = orig[i];
        } else {
            int id = sk_split(s, si, pos, n, 1, parts, err);
            if (id < 0)
                return -1;
            if (k == TT_ITER_SPATIAL)
                split_ids[(*nsplit)++] = id;
        }
        for (int l = 0; l < n; l++) {
            if (k == TT_ITER_SPATIAL)
                lvl_s[l][nls] = parts[l];
            else
                lvl_r[l][nlr] = parts[l];
        }
        if (k == TT_ITER_SPATIAL)
            nls++;
        else
            nlr++;
    }
    int order[TT_MAX_ITERS], no = 0, cs = 0, cr = 0;
    for (int i = 0; i < nf; i++) {
        if (fmt[i] == 'S' || fmt[i] == 's') {
            for (int j = 0; j < nls; j++)
                order[no++] = lvl_s[cs][j];
            cs++;
        } else {
            for (int j = 0; j < nlr; j++)
                order[no++] = lvl_r[cr][j];
            cr++;
        }
    }
    return sk_reorder(s, si, order, no, err);
}

/* FollowTiling: the consumer t splits each of its (spatial) iterators like
 * the producer's spatial split (FSP with n_split = level) and orders them
 * level by level: i.0 j.0 | i.1 j.1 (| i.2 j.2). */
static int follow_tiling(tt_state *s, int t, const int *split_ids, int nsplit, int level, tt_err *err)
{
    tt_stage *st = &s->stages[t];
    if (st->niters != nsplit)
        return tt_err_set(err, "follow tiling: stage %s has %d iterators, the producer %d spatial splits",
                          st->op.name, st->niters, nsplit);
    int orig[TT_MAX_ITERS];
    for (int i = 0; i < nsplit; i++)
        orig[i] = st->iters[i].node;
    int lv[4][TT_MAX_ITERS];
    for (int i = 0; i < nsplit; i++) {
        if (s->stages[t].nodes[orig[i]].kind != TT_ITER_SPATIAL)
            return tt_err_set(err, "follow tiling of a non-spatial iterator");
        tt_step x = mk(TT_STEP_FSP, t);
        x.iter = iter_pos(&s->stages[t], orig[i]);
        x.src_step = split_ids[i];
        x.n_split = level;
        if (sk_apply(s, &x, 1, err))
            return -1;
        const tt_stage *cs = &s->stages[t];
        const tt_rel *r = &cs->rels[cs->nrels - 1];
        for (int l = 0; l <= level; l++)
            lv[l][i] = r->nodes[l];
    }
    int order[TT_MAX_ITERS], no = 0;
    for (int l = 0; l <= level; l++)
        for (int i = 0; i < nsplit; i++)
            order[no++] = lv[l][i];
    return sk_reorder(s, t, order, no, err);
}

static cond_kind cond_always_inline(const tt_state *s, int si, const tt_search_params *p)
{
    const tt_stage *st = &s->stages[si];
    if (st->op.kind != TT_OP_COMPUTE || ts_is_output(s, si) || ts_has_reduce(st))
        return COND_SKIP;
    return ts_strictly_inlineable(s, si) ? COND_APPLY_SKIP_REST : COND_SKIP;
}

static int apply_always_inline(const tt_state *s, int si, const tt_search_params *p, sk_list *out,
                               tt_err *err)
{
    tt_state *c = tt_state_copy(s);
    tt_step x = mk(TT_STEP_CI, si);
    if (sk_apply(c, &x, 0, err)) {
        tt_state_free(c);
        return -1;
    }
    sk_push(out, c, si - 1);
    return 0;
}

static cond_kind cond_rfactor(const tt_state *s, int si, const tt_search_params *p)
{
    return ts_needs_rfactor(s, si, p->num_cores) && !ts_has_cache_write(s, si) ? COND_APPLY
                                                                               : COND_SKIP;
}

/* AddRfactor: fuse the reduce iterators, split by an undecided factor, and
 * rfactor either part (the inner variant moves the new spatial axis
 * innermost for vectorization):
 *   X[i] = sum_k f      ->  X.rf[i, k.v] = sum_{k.o} f;  X[i] = sum_{k.v} X.rf[i, k.v] */
static int apply_rfactor(const tt_state *s, int si, const tt_search_params *p, sk_list *out,
                         tt_err *err)
{
    tt_state *b = tt_state_copy(s);
    const tt_stage *st = &b->stages[si];
    int red[TT_MAX_ITERS] = {0}, nr = 0, nsp = 0;
    for (int i = 0; i < st->niters; i++) {
        tt_iterkind k = st->nodes[st->iters[i].node].kind;
        if (k == TT_ITER_SPATIAL)
            nsp++;
        else if (k == TT_ITER_REDUCE)
            red[nr++] = i;
    }
    if (nr == 0) {
        tt_state_free(b);
        return tt_err_set(err, "rfactor of a stage without reduction");
    }
    int fused = red[0];
    if (nr > 1) {
        tt_step x = mk(TT_STEP_FU, si);
        x.nids = nr;
        for (int i = 0; i < nr; i++)
            x.ids[i] = red[i];
        if (sk_apply(b, &x, 0, err))
            goto fail;
    }
    int parts[2];
    /* Ansor splits by 1 here and makes the length undecided afterwards */
    if (sk_split(b, si, fused, 2, 0, parts, err) < 0)
        goto fail;
    for (int v = 0; v < 2; v++) {
        tt_state *c = tt_state_copy(b);
        tt_step x = mk(TT_STEP_RF, si);
        x.iter = fused + v;
        x.target_iter = nsp;
        if (sk_apply(c, &x, 0, err)) {
            tt_state_free(c);
            goto fail;
        }
        if (v == 1) {
            const tt_stage *rs = &c->stages[si];
            int order[TT_MAX_ITERS], no = 0;
            for (int i = 0; i < rs->niters; i++)
                if (i != nsp)
                    order[no++] = rs->iters[i].node;
            order[no++] = rs->iters[nsp].node;
            if (sk_reorder(c, si, order, no, err)) {
                tt_state_free(c);
                goto fail;
            }
        }
        sk_push(out, c, si - 1);
    }
    tt_state_free(b);
    return 0;
fail:
    tt_state_free(b);
    return -1;
}

static cond_kind cond_cache_write(const tt_state *s, int si, const tt_search_params *p)
{
    int t;
    /* kApply on CPU: the sketch without the cache stage survives too */
    return ts_needs_mlt(s, si) && !ts_single_ew_consumer(s, si, &t) ? COND_APPLY : COND_SKIP;
}

static int apply_cache_write(const tt_state *s, int si, const tt_search_params *p, sk_list *out,
                             tt_err *err)
{
    tt_state *c = tt_state_copy(s);
    tt_step x = mk(TT_STEP_CHW, si);
    snprintf(x.scope, sizeof x.scope, "local");
    if (sk_apply(c, &x, 0, err)) {
        tt_state_free(c);
        return -1;
    }
    sk_push(out, c, si); /* the new X.local is at si: tile it next */
    return 0;
}

static cond_kind cond_mlt_fusion(const tt_state *s, int si, const tt_search_params *p)
{
    int t;
    if (ts_needs_mlt(s, si) && ts_single_ew_consumer(s, si, &t))
        return ts_has_cache_write(s, si) ? COND_APPLY_SKIP_REST : COND_APPLY;
    return COND_SKIP;
}

static int apply_mlt_fusion(const tt_state *s, int si, const tt_search_params *p, sk_list *out,
                            tt_err *err)
{
    int t;
    if (!ts_single_ew_consumer(s, si, &t))
        return tt_err_set(err, "tiling with fusion: no elementwise consumer");
    tt_state *b = tt_state_copy(s);
    int split_ids[TT_MAX_ITERS], nsplit;
    if (do_mlt(b, si, p->tiling_structure, split_ids, &nsplit, err)) {
        tt_state_free(b);
        return -1;
    }
    for (int level = 1; level <= 2; level++) {
        char c0 = p->tiling_structure[level - 1];
        if (c0 != 'S' && c0 != 's')
            continue;
        tt_state *c = tt_state_copy(b);
        tt_step x = mk(TT_STEP_CA, si);
        if (follow_tiling(c, t, split_ids, nsplit, level, err))
            goto fail;
        x.target_stage = t;
        x.target_iter = level * nsplit - 1;
        if (sk_apply(c, &x, 0, err))
            goto fail;
        sk_push(out, c, si - 1);
        continue;
    fail:
        tt_state_free(c);
        tt_state_free(b);
        return -1;
    }
    tt_state_free(b);
    return 0;
}

static cond_kind cond_mlt(const tt_state *s, int si, const tt_search_params *p)
{
    return ts_needs_mlt(s, si) ? COND_APPLY_SKIP_REST : COND_SKIP;
}

static int apply_mlt(const tt_state *s, int si, const tt_search_params *p, sk_list *out, tt_err *err)
{
    tt_state *c = tt_state_copy(s);
    int split_ids[TT_MAX_ITERS], nsplit;
    if (do_mlt(c, si, p->tiling_structure, split_ids, &nsplit, err)) {
        tt_state_free(c);
        return -1;
    }
    sk_push(out, c, si - 1);
    return 0;
}

static cond_kind cond_skip(const tt_state *s, int si, const tt_search_params *p) { return COND_APPLY; }

static int apply_skip(const tt_state *s, int si, const tt_search_params *p, sk_list *out, tt_err *err)
{
    sk_push(out, tt_state_copy(s), si - 1);
    return 0;
}

/* SimplifyComputeWithConstTensor: a stage whose op names axes that index
 * constant tensors (TOPI's auto_scheduler_simplify_const_tensor_indices;
 * here the op's "const_axes=a,b,..." attribute: Winograd's data_pack and
 * inverse) gets those axes unrolled, every other (spatial) axis split in
 * two with an undecided length, and the order
 *   x.0 y.0 | x.1 y.1 | the unrolled axes, in their order
 * so that the constant tables' indices are constants in every unrolled
 * copy.  Applies and skips the other rules. */
static int const_axis(const tt_op *op, const char *name)
{
    const char *a = strstr(op->attrs, "const_axes=");
    if (!a)
        return 0;
    a += strlen("const_axes=");
    size_t n = strlen(name);
    for (const char *p = a; *p && *p != ' ';) {
        const char *q = p;
        while (*q && *q != ',' && *q != ' ')
            q++;
        if ((size_t)(q - p) == n && !strncmp(p, name, n))
            return 1;
        p = *q == ',' ? q + 1 : q;
    }
    return 0;
}

static cond_kind cond_const_tensor(const tt_state *s, int si, const tt_search_params *p)
{
    const tt_stage *st = &s->stages[si];
    return st->op.kind == TT_OP_COMPUTE && strstr(st->op.attrs, "const_axes=") && st->nrels == 0
               ? COND_APPLY_SKIP_REST
               : COND_SKIP;
}

static int apply_const_tensor(const tt_state *s, int si, const tt_search_params *p, sk_list *out, tt_err *err)
{
    tt_state *c = tt_state_copy(s);
    const tt_stage *st = &c->stages[si];
    int orig[TT_MAX_ITERS], norig = st->niters;
    for (int i = 0; i < norig; i++)
        orig[i] = st->iters[i].node;
    int outer[TT_MAX_ITERS], inner[TT_MAX_ITERS], unrolled[TT_MAX_ITERS], nt = 0, nu = 0;
    for (int i = 0; i < norig; i++) {
        const tt_stage *cs = &c->stages[si];
        const char *name = cs->nodes[orig[i]].name;
        int pos = iter_pos(cs, orig[i]);
        if (const_axis(&cs->op, name)) {
            tt_step x = mk(TT_STEP_AN, si);
            x.iter = pos;
            x.ann = TT_ANN_UNROLL;
            if (sk_apply(c, &x, 0, err))
                goto fail;
            unrolled[nu++] = orig[i];
        } else {
            if (cs->nodes[orig[i]].kind != TT_ITER_SPATIAL) {
                tt_err_set(err, "const-tensor rule: reduce axis %s is not a constant index", name);
                goto fail;
            }
            int parts[2];
            if (sk_split(c, si, pos, 2, 1, parts, err) < 0)
                goto fail;
            outer[nt] = parts[0];
            inner[nt++] = parts[1];
        }
    }
    int order[TT_MAX_ITERS], no = 0;
    for (int i = 0; i < nt; i++)
        order[no++] = outer[i];
    for (int i = 0; i < nt; i++)
        order[no++] = inner[i];
    for (int i = 0; i < nu; i++)
        order[no++] = unrolled[i];
    if (sk_reorder(c, si, order, no, err))
        goto fail;
    sk_push(out, c, si - 1);
    return 0;
fail:
    tt_state_free(c);
    return -1;
}

/* Ansor's CPU rule list, in order. */
static const struct {
    const char *name;
    cond_kind (*cond)(const tt_state *, int, const tt_search_params *);
    int (*apply)(const tt_state *, int, const tt_search_params *, sk_list *, tt_err *);
} rules[] = {
    {"always_inline", cond_always_inline, apply_always_inline},
    {"simplify_compute_with_const_tensor", cond_const_tensor, apply_const_tensor},
    {"add_rfactor", cond_rfactor, apply_rfactor},
    {"add_cache_write", cond_cache_write, apply_cache_write},
    {"multi_level_tiling_with_fusion", cond_mlt_fusion, apply_mlt_fusion},
    {"multi_level_tiling", cond_mlt, apply_mlt},
    {"skip_stage", cond_skip, apply_skip},
};

static void sk_free_list(sk_list *l, int from)
{
    for (int i = from; i < l->n; i++)
        tt_state_free(l->v[i].s);
    free(l->v);
    memset(l, 0, sizeof *l);
}

int tt_sketch_generate(const tt_dag *d, const tt_search_params *p0, tt_state **sketches, int max,
                       tt_err *err)
{
    tt_search_params tmp;
    const tt_search_params *p = ts_params(p0, &tmp);
    if (!d || d->nops <= 0)
        return tt_err_set(err, "sketch: empty DAG");
    if (d->nops > TS_MAX_STAGES / 2)
        return tt_err_set(err, "sketch: DAG has %d ops (limit %d)", d->nops, TS_MAX_STAGES / 2);
    sk_list now = {0}, next = {0}, done = {0};
    sk_push(&now, tt_state_new(d), d->nops - 1);
    while (now.n > 0) {
        for (int i = 0; i < now.n; i++) {
            tt_state *s = now.v[i].s;
            int si = now.v[i].stage;
            if (si < 0) {
                sk_push(&done, s, -1);
                now.v[i].s = NULL;
                continue;
            }
            for (size_t r = 0; r < sizeof rules / sizeof rules[0]; r++) {
                cond_kind c = rules[r].cond(s, si, p);
                if (c == COND_SKIP)
                    continue;
                if (rules[r].apply(s, si, p, &next, err)) {
                    tt_err_prefix(err, "sketch rule %s at stage %d", rules[r].name, si);
                    now.v[i].s = NULL;
                    tt_state_free(s);
                    sk_free_list(&now, i + 1);
                    sk_free_list(&next, 0);
                    sk_free_list(&done, 0);
                    return -1;
                }
                if (c == COND_APPLY_SKIP_REST)
                    break;
            }
            tt_state_free(s);
            now.v[i].s = NULL;
        }
        free(now.v);
        now = next;
        memset(&next, 0, sizeof next);
    }
    free(now.v);
    /* every split of a sketch has undecided lengths (Ansor's NullOpt),
     * including the one before an rfactor */
    int n = done.n;
    for (int i = 0; i < n; i++) {
        tt_state *s = done.v[i].s;
        for (int k = 0; k < s->nsteps; k++)
            if (s->steps[k].tag == TT_STEP_SP)
                for (int j = 0; j < s->steps[k].nlen; j++)
                    s->steps[k].len[j] = 0;
        if (i < max)
            sketches[i] = s;
        else
            tt_state_free(s);
    }
    free(done.v);
    return n;
}
