/* state.c - the loop state and the replay of Ansor transform steps on it.
 *
 * Semantics follow src/auto_scheduler/transform_step.cc (TVM v0.12) step by
 * step; where we differ the comment says why.  Every step is validated against
 * the state before it changes anything a later step could observe, so a
 * record tuned for another DAG fails with a message naming the step.
 */
#include "sched.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- construction -------------------------------------------------------- */

static void stage_init_from_op(tt_stage *st, const tt_op *op)
{
    memset(st, 0, sizeof *st);
    st->op = *op;
    st->at = TT_AT_ROOT;
    st->at_uid = -1;
    st->at_node = -1;
    st->unroll_node = -1;
    if (op->kind == TT_OP_PLACEHOLDER)
        return; /* placeholders have no iterators (as in Ansor) */
    for (int i = 0; i < op->ndim; i++) {
        tt_relnode *n = &st->nodes[st->nnodes];
        snprintf(n->name, sizeof n->name, "%s", op->axis[i].name);
        n->extent = op->axis[i].extent;
        n->kind = TT_ITER_SPATIAL;
        n->root = i;
        st->iters[st->niters].node = st->nnodes;
        st->iters[st->niters].ann = TT_ANN_NONE;
        st->niters++;
        st->nnodes++;
    }
    for (int j = 0; j < op->nreduce; j++) {
        tt_relnode *n = &st->nodes[st->nnodes];
        snprintf(n->name, sizeof n->name, "%s", op->raxis[j].name);
        n->extent = op->raxis[j].extent;
        n->kind = TT_ITER_REDUCE;
        n->root = op->ndim + j;
        st->iters[st->niters].node = st->nnodes;
        st->iters[st->niters].ann = TT_ANN_NONE;
        st->niters++;
        st->nnodes++;
    }
}

tt_state *tt_state_new(const tt_dag *dag)
{
    tt_state *s = tt_xcalloc(1, sizeof *s);
    s->dag = dag;
    s->arena = tt_arena_new();
    s->arena_refs = tt_xmalloc(sizeof(int));
    *s->arena_refs = 1;
    s->cap = dag->nops + 4;
    s->stages = tt_xcalloc((size_t)s->cap, sizeof(tt_stage));
    s->nstages = dag->nops;
    for (int i = 0; i < dag->nops; i++)
        stage_init_from_op(&s->stages[i], dag->ops[i]);
    s->next_uid = dag->nops;
    return s;
}

tt_state *tt_state_copy(const tt_state *src)
{
    tt_state *s = tt_xmalloc(sizeof *s);
    *s = *src;
    (*s->arena_refs)++;
    /* exactly the stages and steps in use (a stage is ~15 kB: the search
     * holds thousands of copies); the arrays grow again on demand */
    s->cap = src->nstages > 0 ? src->nstages : 1;
    s->stages = tt_xmalloc((size_t)s->cap * sizeof(tt_stage));
    memcpy(s->stages, src->stages, (size_t)src->nstages * sizeof(tt_stage));
    s->steps_cap = src->nsteps > 0 ? src->nsteps : 1;
    s->steps = tt_xmalloc((size_t)s->steps_cap * sizeof(tt_step));
    if (src->nsteps)
        memcpy(s->steps, src->steps, (size_t)src->nsteps * sizeof(tt_step));
    return s;
}

void tt_state_free(tt_state *s)
{
    if (!s)
        return;
    if (--(*s->arena_refs) == 0) {
        tt_arena_free(s->arena);
        free(s->arena_refs);
    }
    free(s->stages);
    free(s->steps);
    free(s);
}

int tt_state_stage_of_uid(const tt_state *s, int uid)
{
    for (int i = 0; i < s->nstages; i++)
        if (s->stages[i].op.uid == uid)
            return i;
    return -1;
}

int tt_stage_iter_of_node(const tt_stage *st, int node)
{
    for (int i = 0; i < st->niters; i++)
        if (st->iters[i].node == node)
            return i;
    return -1;
}

/* ---- helpers -------------------------------------------------------------- */

static int new_node(tt_stage *st, const char *name, int64_t extent, tt_iterkind kind, tt_err *err)
{
    if (st->nnodes >= TT_MAX_NODES)
        return tt_err_set(err, "stage %s: too many iterators (limit %d)", st->op.name, TT_MAX_NODES);
    tt_relnode *n = &st->nodes[st->nnodes];
    snprintf(n->name, sizeof n->name, "%s", name);
    n->extent = extent;
    n->kind = kind;
    n->root = -1;
    return st->nnodes++;
}

static int check_stage(const tt_state *s, int stage, const char *what, tt_err *err)
{
    if (stage < 0 || stage >= s->nstages)
        return tt_err_set(err, "%s: stage id %d out of range (state has %d stages)", what, stage,
                          s->nstages);
    if (s->stages[stage].op.kind != TT_OP_COMPUTE)
        return tt_err_set(err, "%s: stage %d (%s) is a placeholder", what, stage,
                          s->stages[stage].op.name);
    return 0;
}

static int check_iter(const tt_state *s, int stage, int iter, const char *what, tt_err *err)
{
    if (check_stage(s, stage, what, err))
        return -1;
    const tt_stage *st = &s->stages[stage];
    if (iter < 0 || iter >= st->niters)
        return tt_err_set(err, "%s: iterator id %d out of range (stage %d (%s) has %d iterators)",
                          what, iter, stage, st->op.name, st->niters);
    return 0;
}

/* Is `uid` the output of the DAG (no stage reads it)?  The last stage is the
 * output; stages inserted by CHW/RF are never outputs. */
static int stage_is_output(const tt_state *s, int stage)
{
    return stage == s->nstages - 1;
}

/* Move every attachment of (uid, from_node) to (uid, to_node). */
static void move_attachments(tt_state *s, int uid, int from_node, int to_node)
{
    for (int i = 0; i < s->nstages; i++) {
        tt_stage *o = &s->stages[i];
        if (o->at == TT_AT_ITER && o->at_uid == uid && o->at_node == from_node)
            o->at_node = to_node;
    }
}

static int has_attachment(const tt_state *s, int uid, int node)
{
    for (int i = 0; i < s->nstages; i++) {
        const tt_stage *o = &s->stages[i];
        if (o->at == TT_AT_ITER && o->at_uid == uid && (node < 0 || o->at_node == node))
            return 1;
    }
    return 0;
}

/* ---- split ------------------------------------------------------------------
 * SP on iterator `i` of extent E with lengths [l1..lk] (inner_to_outer = 1):
 *
 *   for i in E            ->   for i.0 in ceil(E/(l1..lk))
 *                                for i.1 in l1 ... for i.k in lk
 *                                  i = ((i.0*l1 + i.1)*l2 + ...) + i.k   (guarded if E % prod)
 *
 * Extents follow TE's PassDownDomain: inner parts are min(remaining, l). */
static int do_split(tt_state *s, int stage, int iter, const int64_t *len, int nlen, int inner_to_outer,
                    tt_err *err)
{
    tt_stage *st = &s->stages[stage];
    if (nlen < 1 || nlen > TT_MAX_SPLIT)
        return tt_err_set(err, "split needs 1..%d lengths, got %d", TT_MAX_SPLIT, nlen);
    for (int i = 0; i < nlen; i++)
        if (len[i] <= 0)
            return tt_err_set(err, "split length %d is %lld: lengths must be positive", i,
                              (long long)len[i]);
    if (st->niters + nlen > TT_MAX_ITERS)
        return tt_err_set(err, "stage %s: too many iterators", st->op.name);
    if (st->nrels >= TT_MAX_RELS)
        return tt_err_set(err, "stage %s: too many splits and fuses", st->op.name);
    int pnode = st->iters[iter].node;
    tt_relnode parent = st->nodes[pnode];
    int64_t ext[TT_MAX_SPLIT + 1];
    int64_t fac[TT_MAX_SPLIT + 1];
    int64_t E = parent.extent;
    if (inner_to_outer) {
        /* children: [outer, l1, ..., lk]; factors of child i>=1 are l_i */
        int64_t rem = E;
        for (int i = nlen; i >= 1; i--) {
            int64_t l = len[i - 1];
            fac[i] = l;
            if (rem >= 0) {
                ext[i] = rem < l ? rem : l;
                rem = (rem + l - 1) / l;
            } else {
                ext[i] = l;
            }
        }
        ext[0] = rem;
        fac[0] = 0;
    } else {
        /* nparts: children [l1, ..., lk, rest].  Only GPU sketches use it; the
         * factor of each inner child is the product of the extents inside it. */
        int64_t rem = E;
        for (int i = 0; i < nlen; i++) {
            ext[i] = len[i];
            rem = rem >= 0 ? (rem + len[i] - 1) / len[i] : -1;
        }
        ext[nlen] = rem;
        if (rem < 0)
            return tt_err_set(err, "split by nparts needs a known extent");
        fac[0] = 0;
        for (int i = 1; i <= nlen; i++)
            fac[i] = ext[i];
    }
    int nodes[TT_MAX_SPLIT + 1];
    for (int i = 0; i <= nlen; i++) {
        char name[64];
        snprintf(name, sizeof name, "%s.%d", parent.name, i);
        nodes[i] = new_node(st, name, ext[i], parent.kind, err);
        if (nodes[i] < 0)
            return -1;
    }
    tt_rel *r = &st->rels[st->nrels++];
    r->kind = TT_REL_SPLIT;
    r->n = nlen + 1;
    r->other = pnode;
    for (int i = 0; i <= nlen; i++) {
        r->nodes[i] = nodes[i];
        r->factors[i] = fac[i];
    }
    /* replace iterator `iter` by the children */
    tt_iter tail[TT_MAX_ITERS];
    int ntail = st->niters - iter - 1;
    memcpy(tail, &st->iters[iter + 1], (size_t)ntail * sizeof(tt_iter));
    for (int i = 0; i <= nlen; i++) {
        st->iters[iter + i].node = nodes[i];
        st->iters[iter + i].ann = TT_ANN_NONE;
    }
    memcpy(&st->iters[iter + nlen + 1], tail, (size_t)ntail * sizeof(tt_iter));
    st->niters += nlen;
    /* stages attached to the split iterator follow its innermost part (Ansor) */
    move_attachments(s, st->op.uid, pnode, nodes[nlen]);
    if (st->unroll_node == pnode)
        st->unroll_node = nodes[0];
    return 0;
}

static int apply_sp(tt_state *s, const tt_step *x, tt_err *err)
{
    if (check_iter(s, x->stage, x->iter, "SP", err))
        return -1;
    tt_stage *st = &s->stages[x->stage];
    const tt_relnode *n = &st->nodes[st->iters[x->iter].node];
    if (!s->lax_extents && x->extent > 0 && n->extent >= 0 && n->extent != x->extent)
        return tt_err_set(err,
                          "SP: recorded extent %lld does not match iterator %d (%s) of stage %d "
                          "(%s), whose extent is %lld: the record was tuned for another DAG",
                          (long long)x->extent, x->iter, n->name, x->stage, st->op.name,
                          (long long)n->extent);
    for (int i = 0; i < x->nlen; i++)
        if (x->len[i] <= 0)
            return tt_err_set(err, "SP: split length %d is not set (%lld)", i, (long long)x->len[i]);
    return do_split(s, x->stage, x->iter, x->len, x->nlen, x->inner_to_outer, err);
}

static const tt_step *src_split(const tt_state *s, int id, const char *what, tt_err *err)
{
    if (id < 0 || id >= s->nsteps) {
        tt_err_set(err, "%s: source step %d out of range (%d steps so far)", what, id, s->nsteps);
        return NULL;
    }
    const tt_step *p = &s->steps[id];
    if (p->tag != TT_STEP_SP) {
        tt_err_set(err, "%s: source step %d is %s, not SP", what, id, tt_step_tags[p->tag]);
        return NULL;
    }
    return p;
}

/* FSP: split like SP #src: its first n_split-1 lengths, then the product of
 * the rest as the last length (transform_step.cc ExtractSplitLengths). */
static int apply_fsp(tt_state *s, const tt_step *x, tt_err *err)
{
    if (check_iter(s, x->stage, x->iter, "FSP", err))
        return -1;
    const tt_step *p = src_split(s, x->src_step, "FSP", err);
    if (!p)
        return -1;
    if (x->n_split < 1 || x->n_split > p->nlen + 1 || x->n_split > TT_MAX_SPLIT)
        return tt_err_set(err, "FSP: n_split %d invalid for source split with %d lengths", x->n_split,
                          p->nlen);
    int64_t len[TT_MAX_SPLIT];
    int j = 0;
    for (; j < x->n_split - 1; j++)
        len[j] = p->len[j];
    int64_t last = 1;
    for (int k = j; k < p->nlen; k++)
        last *= p->len[k];
    len[j] = last;
    return do_split(s, x->stage, x->iter, len, x->n_split, 1, err);
}

/* FFSP: one split whose length is the product of lengths[level] of the
 * source splits (GPU cooperative fetching; replayable on CPU). */
static int apply_ffsp(tt_state *s, const tt_step *x, tt_err *err)
{
    if (check_iter(s, x->stage, x->iter, "FFSP", err))
        return -1;
    if (x->nids < 1)
        return tt_err_set(err, "FFSP: no source steps");
    int64_t f = 1;
    for (int i = 0; i < x->nids; i++) {
        const tt_step *p = src_split(s, x->ids[i], "FFSP", err);
        if (!p)
            return -1;
        if (x->level < 0 || x->level >= p->nlen)
            return tt_err_set(err, "FFSP: level %d out of range for step %d", x->level, x->ids[i]);
        f *= p->len[x->level];
    }
    return do_split(s, x->stage, x->iter, &f, 1, x->inner_to_outer, err);
}

/* ---- reorder, fuse, annotate, pragma --------------------------------------- */

static int apply_re(tt_state *s, const tt_step *x, tt_err *err)
{
    if (check_stage(s, x->stage, "RE", err))
        return -1;
    tt_stage *st = &s->stages[x->stage];
    if (x->nids != st->niters)
        return tt_err_set(err, "RE: order has %d ids but stage %d (%s) has %d iterators", x->nids,
                          x->stage, st->op.name, st->niters);
    int seen[TT_MAX_ITERS] = {0};
    tt_iter it[TT_MAX_ITERS];
    for (int i = 0; i < x->nids; i++) {
        int id = x->ids[i];
        if (id < 0 || id >= st->niters || seen[id])
            return tt_err_set(err, "RE: order is not a permutation of 0..%d", st->niters - 1);
        seen[id] = 1;
        it[i] = st->iters[id];
    }
    memcpy(st->iters, it, (size_t)st->niters * sizeof(tt_iter));
    return 0;
}

/* FU: fuse consecutive iterators into one:
 *   for i in A { for j in B { ... } }  ->  for i@j@ in A*B { i = i@j@ / B; j = i@j@ % B; ... } */
static int apply_fu(tt_state *s, const tt_step *x, tt_err *err)
{
    if (check_stage(s, x->stage, "FU", err))
        return -1;
    tt_stage *st = &s->stages[x->stage];
    if (x->nids < 1 || x->nids > TT_MAX_SPLIT + 1)
        return tt_err_set(err, "FU: needs 1..%d iterators, got %d", TT_MAX_SPLIT + 1, x->nids);
    for (int i = 0; i < x->nids; i++) {
        if (x->ids[i] < 0 || x->ids[i] >= st->niters)
            return tt_err_set(err, "FU: iterator id %d out of range (stage %d has %d)", x->ids[i],
                              x->stage, st->niters);
        if (i > 0 && x->ids[i] != x->ids[i - 1] + 1)
            return tt_err_set(err, "FU: iterators must be consecutive");
        if (i != x->nids - 1 && has_attachment(s, st->op.uid, st->iters[x->ids[i]].node))
            return tt_err_set(err, "FU: cannot fuse iterator %d: another stage is computed at it",
                              x->ids[i]);
    }
    if (st->nrels >= TT_MAX_RELS)
        return tt_err_set(err, "stage %s: too many splits and fuses", st->op.name);
    char name[256] = "";
    int64_t ext = 1;
    int nsp = 0, nred = 0;
    for (int i = 0; i < x->nids; i++) {
        const tt_relnode *n = &st->nodes[st->iters[x->ids[i]].node];
        size_t l = strlen(name);
        snprintf(name + l, sizeof name - l, "%s@", n->name);
        if (n->extent < 0 || ext < 0)
            ext = -1;
        else
            ext *= n->extent;
        if (n->kind == TT_ITER_SPATIAL)
            nsp++;
        else if (n->kind == TT_ITER_REDUCE)
            nred++;
    }
    tt_iterkind kind = nsp == x->nids ? TT_ITER_SPATIAL : nred == x->nids ? TT_ITER_REDUCE : TT_ITER_MIXED;
    int child = new_node(st, name, ext, kind, err);
    if (child < 0)
        return -1;
    tt_rel *r = &st->rels[st->nrels++];
    r->kind = TT_REL_FUSE;
    r->n = x->nids;
    r->other = child;
    for (int i = 0; i < x->nids; i++)
        r->nodes[i] = st->iters[x->ids[i]].node;
    int last = st->iters[x->ids[x->nids - 1]].node;
    int first = x->ids[0];
    move_attachments(s, st->op.uid, last, child);
    for (int i = 0; i < x->nids; i++)
        if (st->unroll_node == r->nodes[i])
            st->unroll_node = child;
    st->iters[first].node = child;
    st->iters[first].ann = TT_ANN_NONE;
    int drop = x->nids - 1;
    memmove(&st->iters[first + 1], &st->iters[first + 1 + drop],
            (size_t)(st->niters - first - 1 - drop) * sizeof(tt_iter));
    st->niters -= drop;
    return 0;
}

static int apply_an(tt_state *s, const tt_step *x, tt_err *err)
{
    if (check_iter(s, x->stage, x->iter, "AN", err))
        return -1;
    if ((int)x->ann < 0 || x->ann >= TT_ANN_COUNT)
        return tt_err_set(err, "AN: unknown annotation %d", (int)x->ann);
    if (x->ann != TT_ANN_NONE && x->ann != TT_ANN_UNROLL && x->ann != TT_ANN_VECTORIZE &&
        x->ann != TT_ANN_PARALLEL)
        return tt_err_set(err, "AN: annotation %s is for GPUs; not supported on CPU",
                          tt_ann_names[x->ann]);
    s->stages[x->stage].iters[x->iter].ann = x->ann;
    return 0;
}

static int apply_pr(tt_state *s, const tt_step *x, tt_err *err)
{
    if (check_iter(s, x->stage, x->iter, "PR", err))
        return -1;
    if (x->pragma_value < 0)
        return tt_err_set(err, "PR: auto_unroll_max_step must be non-negative");
    tt_stage *st = &s->stages[x->stage];
    st->auto_unroll_max_step = x->pragma_value;
    st->unroll_node = st->iters[x->iter].node;
    return 0;
}

/* ---- compute location --------------------------------------------------- */

/* Forget the iterator extents of a stage whose bounds will be inferred anew
 * (Ansor does the same after CA and CR). */
static void forget_extents(tt_stage *st)
{
    for (int i = 0; i < st->nnodes; i++)
        st->nodes[i].extent = -1;
}

static int apply_ca(tt_state *s, const tt_step *x, tt_err *err)
{
    if (check_stage(s, x->stage, "CA", err))
        return -1;
    if (check_iter(s, x->target_stage, x->target_iter, "CA target", err))
        return -1;
    if (x->stage == x->target_stage)
        return tt_err_set(err, "CA: stage %d cannot be computed at itself", x->stage);
    if (stage_is_output(s, x->stage))
        return tt_err_set(err, "CA: stage %d (%s) is the output", x->stage, s->stages[x->stage].op.name);
    tt_stage *st = &s->stages[x->stage];
    tt_stage *t = &s->stages[x->target_stage];
    if (t->at == TT_AT_INLINED)
        return tt_err_set(err, "CA: target stage %d (%s) is inlined", x->target_stage, t->op.name);
    st->at = TT_AT_ITER;
    st->at_uid = t->op.uid;
    st->at_node = t->iters[x->target_iter].node;
    forget_extents(st);
    return 0;
}

static int apply_ci(tt_state *s, const tt_step *x, tt_err *err)
{
    if (check_stage(s, x->stage, "CI", err))
        return -1;
    tt_stage *st = &s->stages[x->stage];
    if (st->op.nreduce > 0)
        return tt_err_set(err, "CI: stage %d (%s) has a reduction and cannot be inlined", x->stage,
                          st->op.name);
    if (stage_is_output(s, x->stage))
        return tt_err_set(err, "CI: stage %d (%s) is the output and cannot be inlined", x->stage,
                          st->op.name);
    if (has_attachment(s, st->op.uid, -1))
        return tt_err_set(err, "CI: other stages are computed at stage %d (%s)", x->stage, st->op.name);
    st->at = TT_AT_INLINED;
    st->at_uid = -1;
    st->at_node = -1;
    return 0;
}

static int apply_cr(tt_state *s, const tt_step *x, tt_err *err)
{
    if (check_stage(s, x->stage, "CR", err))
        return -1;
    tt_stage *st = &s->stages[x->stage];
    st->at = TT_AT_ROOT;
    st->at_uid = -1;
    st->at_node = -1;
    forget_extents(st);
    return 0;
}

/* ---- stage-inserting steps ---------------------------------------------- */

static int insert_stage(tt_state *s, int at, tt_err *err)
{
    if (s->nstages + 1 > s->cap) {
        s->cap = s->cap * 2 + 4;
        s->stages = tt_xrealloc(s->stages, (size_t)s->cap * sizeof(tt_stage));
    }
    memmove(&s->stages[at + 1], &s->stages[at], (size_t)(s->nstages - at) * sizeof(tt_stage));
    s->nstages++;
    return 0;
}

static int untouched(const tt_stage *st)
{
    return st->nrels == 0 && st->niters == st->op.ndim + st->op.nreduce;
}

/* CHW: X -> X.local (the original computation, inserted at `stage`) and X
 * (now at stage+1) which copies X.local.  Like Ansor we require that no step
 * touched X before; both stages restart from their ops' axes. */
static int apply_chw(tt_state *s, const tt_step *x, tt_err *err)
{
    if (check_stage(s, x->stage, "CHW", err))
        return -1;
    tt_stage *st = &s->stages[x->stage];
    if (!untouched(st) || st->at == TT_AT_INLINED)
        return tt_err_set(err, "CHW: stage %d (%s) was already transformed; cache_write must come "
                               "first", x->stage, st->op.name);
    if (has_attachment(s, st->op.uid, -1))
        return tt_err_set(err, "CHW: other stages are computed at stage %d (%s)", x->stage, st->op.name);
    tt_op orig = st->op;
    tt_compute_at at = st->at;
    int at_uid = st->at_uid, at_node = st->at_node;
    tt_op local = orig;
    local.uid = s->next_uid++;
    snprintf(local.name, sizeof local.name, "%.40s.%s", orig.name, x->scope[0] ? x->scope : "local");
    tt_op copy = orig;
    copy.nreduce = 0;
    copy.red = TT_RED_NONE;
    copy.cond = NULL;
    tt_expr *idx[TT_MAX_DIMS];
    for (int i = 0; i < orig.ndim; i++)
        idx[i] = tt_e_axis(s->arena, i);
    copy.body = tt_e_load(s->arena, local.uid, orig.ndim, idx);
    if (insert_stage(s, x->stage, err))
        return -1;
    stage_init_from_op(&s->stages[x->stage], &local);
    stage_init_from_op(&s->stages[x->stage + 1], &copy);
    s->stages[x->stage + 1].at = at;
    s->stages[x->stage + 1].at_uid = at_uid;
    s->stages[x->stage + 1].at_node = at_node;
    return 0;
}

/* Expression of node `node` of stage st in terms of leaf variables: leaf i is
 * replaced by leafvar[i] (an expression).  Returns NULL if some leaf has no
 * variable. */
typedef struct leafmap {
    const tt_stage *st;
    tt_expr *leafvar[TT_MAX_NODES];
    tt_arena *a;
} leafmap;

static tt_expr *node_expr(leafmap *m, int node)
{
    if (m->leafvar[node])
        return m->leafvar[node];
    const tt_stage *st = m->st;
    for (int r = 0; r < st->nrels; r++) {
        const tt_rel *rel = &st->rels[r];
        if (rel->kind == TT_REL_SPLIT && rel->other == node) {
            tt_expr *e = node_expr(m, rel->nodes[0]);
            if (!e)
                return NULL;
            for (int i = 1; i < rel->n; i++) {
                tt_expr *c = node_expr(m, rel->nodes[i]);
                if (!c)
                    return NULL;
                e = tt_e_bin(m->a, TT_E_ADD, tt_e_bin(m->a, TT_E_MUL, e, tt_e_int(m->a, rel->factors[i])), c);
            }
            return e;
        }
        if (rel->kind == TT_REL_FUSE) {
            for (int i = 0; i < rel->n; i++) {
                if (rel->nodes[i] != node)
                    continue;
                tt_expr *f = node_expr(m, rel->other);
                if (!f)
                    return NULL;
                int64_t stride = 1;
                for (int k = i + 1; k < rel->n; k++)
                    stride *= st->nodes[rel->nodes[k]].extent;
                tt_expr *e = stride > 1 ? tt_e_bin(m->a, TT_E_FLOORDIV, f, tt_e_int(m->a, stride)) : f;
                if (i > 0)
                    e = tt_e_bin(m->a, TT_E_FLOORMOD, e, tt_e_int(m->a, st->nodes[node].extent));
                return e;
            }
        }
    }
    return NULL;
}

/* How many values the leaves under `node` enumerate (>= its extent; larger
 * when a split does not divide).  A fused node's parts are exact only if the
 * fused node itself is. */
static int64_t node_coverage(const tt_stage *st, int node)
{
    for (int r = 0; r < st->nrels; r++) {
        const tt_rel *rel = &st->rels[r];
        if (rel->kind == TT_REL_SPLIT && rel->other == node) {
            int64_t c = node_coverage(st, rel->nodes[0]);
            for (int i = 1; i < rel->n; i++)
                c *= rel->factors[i];
            return c;
        }
        if (rel->kind == TT_REL_FUSE)
            for (int i = 0; i < rel->n; i++)
                if (rel->nodes[i] == node) {
                    int64_t c = node_coverage(st, rel->other);
                    return c == st->nodes[rel->other].extent ? st->nodes[node].extent
                                                             : st->nodes[node].extent + 1;
                }
    }
    return st->nodes[node].extent;
}

typedef struct subst_ctx {
    tt_expr *axis[TT_MAX_DIMS + 1];
    tt_expr *raxis[TT_MAX_RAXES];
} subst_ctx;

static tt_expr *subst_fn(void *ctx, tt_arena *a, const tt_expr *e)
{
    subst_ctx *c = ctx;
    if (e->kind == TT_E_AXIS)
        return c->axis[e->u.axis];
    if (e->kind == TT_E_RAXIS)
        return c->raxis[e->u.axis];
    return NULL;
}

/* RF's preconditions on stage x->stage: x->iter a reduction iterator, room
 * for one more axis, factor_iter_id in 0..ndim, nothing computed at the
 * stage, and its spatial iterators untouched leaves. */
static int rf_check(const tt_state *s, const tt_step *x, tt_err *err)
{
    if (check_iter(s, x->stage, x->iter, "RF", err))
        return -1;
    const tt_stage *st = &s->stages[x->stage];
    const tt_op *op = &st->op;
    int fnode = st->iters[x->iter].node;
    if (st->nodes[fnode].kind != TT_ITER_REDUCE)
        return tt_err_set(err, "RF: iterator %d (%s) is not a reduction iterator", x->iter,
                          st->nodes[fnode].name);
    if (op->ndim + 1 > TT_MAX_DIMS)
        return tt_err_set(err, "RF: too many dimensions");
    if (x->target_iter < 0 || x->target_iter > op->ndim)
        return tt_err_set(err, "RF: factor_iter_id %d out of range 0..%d", x->target_iter, op->ndim);
    if (has_attachment(s, op->uid, -1))
        return tt_err_set(err, "RF: other stages are computed at stage %d (%s)", x->stage, op->name);
    /* spatial axes must be untouched leaves */
    int nsp = 0;
    for (int i = 0; i < st->niters; i++) {
        const tt_relnode *n = &st->nodes[st->iters[i].node];
        if (n->kind == TT_ITER_SPATIAL) {
            if (n->root != nsp)
                return tt_err_set(err, "RF: spatial iterators of stage %d were transformed; "
                                       "rfactor supports transformed reduction iterators only",
                                  x->stage);
            nsp++;
        } else if (n->kind != TT_ITER_REDUCE) {
            return tt_err_set(err, "RF: stage %d has a fused spatial+reduce iterator", x->stage);
        }
    }
    return 0;
}

/* X.rf's uid, name and spatial axes: X's, with the factored iterator
 * x->iter of stage st (named "<iterator>.v") inserted at position
 * x->target_iter.  -1 if that iterator's extent is unknown. */
static int rf_spatial_axes(tt_state *s, const tt_stage *st, const tt_step *x, tt_op *rf, tt_err *err)
{
    const tt_op *op = &st->op;
    int fnode = st->iters[x->iter].node;
    int fpos = x->target_iter;
    *rf = *op;
    rf->uid = s->next_uid++;
    snprintf(rf->name, sizeof rf->name, "%.40s.rf", op->name);
    rf->ndim = op->ndim + 1;
    for (int i = 0, j = 0; i < rf->ndim; i++) {
        if (i == fpos) {
            snprintf(rf->axis[i].name, sizeof rf->axis[i].name, "%.40s.v", st->nodes[fnode].name);
            rf->axis[i].extent = st->nodes[fnode].extent;
        } else {
            rf->axis[i] = op->axis[j++];
        }
    }
    if (rf->axis[fpos].extent <= 0)
        return tt_err_set(err, "RF: extent of iterator %d is unknown", x->iter);
    return 0;
}

/* X.rf's reduce axes: every reduce iterator of stage st but the factored
 * one (node fnode, now spatial axis fpos), in loop order.  m maps each of
 * those leaves to its variable in X.rf. */
static int rf_reduce_axes(tt_state *s, const tt_stage *st, int fnode, int fpos, tt_op *rf, leafmap *m,
                          tt_err *err)
{
    rf->nreduce = 0;
    for (int i = 0; i < st->niters; i++) {
        int nd = st->iters[i].node;
        const tt_relnode *n = &st->nodes[nd];
        if (n->kind != TT_ITER_REDUCE)
            continue;
        if (nd == fnode) {
            m->leafvar[nd] = tt_e_axis(s->arena, fpos);
            continue;
        }
        if (rf->nreduce >= TT_MAX_RAXES)
            return tt_err_set(err, "RF: too many reduction iterators");
        snprintf(rf->raxis[rf->nreduce].name, sizeof rf->raxis[0].name, "%s", n->name);
        rf->raxis[rf->nreduce].extent = n->extent;
        m->leafvar[nd] = tt_e_raxis(s->arena, rf->nreduce);
        rf->nreduce++;
    }
    return 0;
}

/* X.rf's body and condition: X's, each of X's axes rewritten in X.rf's
 * variables (X's spatial axes shift past fpos; each root reduce axis is
 * rebuilt from the leaves through m), with k < K added for a reduce axis
 * that a non-divisible split over-covers. */
static int rf_body(tt_state *s, const tt_stage *st, int fpos, leafmap *m, tt_op *rf, tt_err *err)
{
    const tt_op *op = &st->op;
    subst_ctx c;
    memset(&c, 0, sizeof c);
    for (int i = 0; i < op->ndim; i++)
        c.axis[i] = tt_e_axis(s->arena, i < fpos ? i : i + 1);
    tt_expr *pred = op->cond;
    for (int j = 0; j < op->nreduce; j++) {
        int root = -1;
        for (int k = 0; k < st->nnodes; k++)
            if (st->nodes[k].root == op->ndim + j)
                root = k;
        tt_expr *e = root >= 0 ? node_expr(m, root) : NULL;
        if (!e)
            return tt_err_set(err, "RF: cannot express reduce axis %s from the iterators", op->raxis[j].name);
        c.raxis[j] = e;
        /* a split that over-covers the axis (non-divisible) needs k < K */
        int64_t covered = node_coverage(st, root);
        if (covered != op->raxis[j].extent) {
            /* in terms of the original axis; substituted below with the body */
            tt_expr *g = tt_e_bin(s->arena, TT_E_LT, tt_e_raxis(s->arena, j),
                                  tt_e_int(s->arena, op->raxis[j].extent));
            pred = pred ? tt_e_bin(s->arena, TT_E_AND, pred, g) : g;
        }
    }
    rf->body = tt_expr_rewrite(s->arena, op->body, subst_fn, &c);
    rf->cond = pred ? tt_expr_rewrite(s->arena, pred, subst_fn, &c) : NULL;
    return 0;
}

/* X.rf's guards on the parts of reduce axes: a split of a reduce part that
 * does not divide it (k.1 = 8 by 3 covers 9) enumerates values past the
 * part, which belong to the next outer value: guard k.1 < 8 too (TVM
 * bound-checks every split iter var) */
static int rf_guard_parts(tt_state *s, const tt_stage *st, leafmap *m, tt_op *rf, tt_err *err)
{
    for (int r = 0; r < st->nrels; r++) {
        const tt_rel *rel = &st->rels[r];
        int p = rel->other;
        if (rel->kind != TT_REL_SPLIT || st->nodes[p].root >= 0 || st->nodes[p].kind != TT_ITER_REDUCE ||
            st->nodes[p].extent < 0 || node_coverage(st, p) == st->nodes[p].extent)
            continue;
        tt_expr *e = node_expr(m, p);
        if (!e)
            return tt_err_set(err, "RF: cannot express iterator %s from the iterators", st->nodes[p].name);
        tt_expr *g = tt_e_bin(s->arena, TT_E_LT, e, tt_e_int(s->arena, st->nodes[p].extent));
        rf->cond = rf->cond ? tt_e_bin(s->arena, TT_E_AND, rf->cond, g) : g;
    }
    return 0;
}

/* Replace stage x->stage (X) by X.rf (rf) and, after it, X reducing X.rf's
 * axis fpos, computed where X was. */
static int rf_insert(tt_state *s, const tt_step *x, const tt_op *rf, int fpos, tt_err *err)
{
    const tt_stage *st = &s->stages[x->stage];
    /* the original reduces the rfactored axis */
    tt_op orig = st->op;
    orig.nreduce = 1;
    orig.raxis[0] = rf->axis[fpos];
    orig.cond = NULL;
    tt_expr *idx[TT_MAX_DIMS];
    for (int i = 0, j = 0; i < rf->ndim; i++)
        idx[i] = i == fpos ? tt_e_raxis(s->arena, 0) : tt_e_axis(s->arena, j++);
    orig.body = tt_e_load(s->arena, rf->uid, rf->ndim, idx);
    tt_compute_at at = st->at;
    int at_uid = st->at_uid, at_node = st->at_node;
    if (insert_stage(s, x->stage, err))
        return -1;
    stage_init_from_op(&s->stages[x->stage], rf);
    stage_init_from_op(&s->stages[x->stage + 1], &orig);
    s->stages[x->stage + 1].at = at;
    s->stages[x->stage + 1].at_uid = at_uid;
    s->stages[x->stage + 1].at_node = at_node;
    return 0;
}

/* RF: rfactor the reduction of stage X on reduce iterator `iter`:
 *   X[i] = sum_{k.0, k.1} f(k = k.0*F + k.1)
 * becomes
 *   X.rf[i, k.1] = sum_{k.0} f(k.0*F + k.1)      (inserted at `stage`; the new
 *                                                  axis at position factor_iter)
 *   X[i]         = sum_{k.1} X.rf[i, k.1]        (at stage+1)
 * Non-divisible splits of a reduce axis add the predicate k < K. */
static int apply_rf(tt_state *s, const tt_step *x, tt_err *err)
{
    if (rf_check(s, x, err))
        return -1;
    const tt_stage *st = &s->stages[x->stage];
    int fnode = st->iters[x->iter].node;
    int fpos = x->target_iter;
    tt_op rf;
    if (rf_spatial_axes(s, st, x, &rf, err))
        return -1;
    leafmap *m = tt_xcalloc(1, sizeof *m);
    m->st = st;
    m->a = s->arena;
    int rc = rf_reduce_axes(s, st, fnode, fpos, &rf, m, err);
    if (rc == 0)
        rc = rf_body(s, st, fpos, m, &rf, err);
    if (rc == 0)
        rc = rf_guard_parts(s, st, m, &rf, err);
    free(m);
    if (rc)
        return -1;
    return rf_insert(s, x, &rf, fpos, err);
}

/* ---- dispatch ------------------------------------------------------------ */

int tt_state_apply(tt_state *s, const tt_step *x, tt_err *err)
{
    int rc;
    if ((int)x->tag < 0 || x->tag >= TT_STEP_COUNT)
        return tt_err_set(err, "unknown step kind %d", (int)x->tag);
    switch (x->tag) {
    case TT_STEP_AN: rc = apply_an(s, x, err); break;
    case TT_STEP_FU: rc = apply_fu(s, x, err); break;
    case TT_STEP_PR: rc = apply_pr(s, x, err); break;
    case TT_STEP_RE: rc = apply_re(s, x, err); break;
    case TT_STEP_SP: rc = apply_sp(s, x, err); break;
    case TT_STEP_FSP: rc = apply_fsp(s, x, err); break;
    case TT_STEP_FFSP: rc = apply_ffsp(s, x, err); break;
    case TT_STEP_CA: rc = apply_ca(s, x, err); break;
    case TT_STEP_CI: rc = apply_ci(s, x, err); break;
    case TT_STEP_CR: rc = apply_cr(s, x, err); break;
    case TT_STEP_CHW: rc = apply_chw(s, x, err); break;
    case TT_STEP_RF: rc = apply_rf(s, x, err); break;
    case TT_STEP_SA:
        return tt_err_set(err, "SA (storage_align) is a GPU step; not supported on CPU");
    case TT_STEP_CHR:
        return tt_err_set(err, "CHR (cache_read) is a GPU step; not supported on CPU");
    default:
        return tt_err_set(err, "unknown step kind %d", (int)x->tag);
    }
    if (rc)
        return rc;
    if (s->nsteps == s->steps_cap) {
        s->steps_cap = s->steps_cap ? 2 * s->steps_cap : 32;
        s->steps = tt_xrealloc(s->steps, (size_t)s->steps_cap * sizeof(tt_step));
    }
    s->steps[s->nsteps++] = *x;
    return 0;
}

int tt_state_apply_all(tt_state *s, const tt_step *steps, int n, tt_err *err)
{
    for (int i = 0; i < n; i++) {
        if (tt_state_apply(s, &steps[i], err)) {
            int tag = (int)steps[i].tag;
            tt_err_prefix(err, "step %d (%s)", i,
                          tag >= 0 && tag < TT_STEP_COUNT ? tt_step_tags[tag] : "?");
            return -1;
        }
    }
    return 0;
}

/* ---- printing ------------------------------------------------------------ */

static const char *ann_short(tt_ann a)
{
    switch (a) {
    case TT_ANN_UNROLL: return " unroll";
    case TT_ANN_VECTORIZE: return " vectorize";
    case TT_ANN_PARALLEL: return " parallel";
    default: return "";
    }
}

static void print_stage(const tt_state *s, tt_str *o, int si, int depth);

static void print_attached(const tt_state *s, tt_str *o, int uid, int node, int depth)
{
    for (int k = 0; k < s->nstages; k++) {
        const tt_stage *a = &s->stages[k];
        if (a->at == TT_AT_ITER && a->at_uid == uid && a->at_node == node)
            print_stage(s, o, k, depth);
    }
}

static void print_stage(const tt_state *s, tt_str *o, int si, int depth)
{
    const tt_stage *st = &s->stages[si];
    int d = depth;
    for (int i = 0; i < st->niters; i++) {
        const tt_relnode *n = &st->nodes[st->iters[i].node];
        tt_str_catf(o, "%*s%s %s (%lld)%s\n", 2 * d, "", i == 0 && st->auto_unroll_max_step ? "for*" : "for",
                    n->name, (long long)n->extent, ann_short(st->iters[i].ann));
        d++;
        print_attached(s, o, st->op.uid, st->iters[i].node, d);
    }
    tt_str_catf(o, "%*s%s = ...\n", 2 * d, "", st->op.name);
}

char *tt_state_print(const tt_state *s)
{
    tt_str o;
    tt_str_init(&o);
    for (int i = 0; i < s->nstages; i++) {
        const tt_stage *st = &s->stages[i];
        if (st->op.kind == TT_OP_PLACEHOLDER) {
            tt_str_catf(&o, "Placeholder: %s\n", st->op.name);
            continue;
        }
        if (st->at == TT_AT_INLINED) {
            tt_str_catf(&o, "%s: inlined\n", st->op.name);
            continue;
        }
        if (st->at == TT_AT_ITER)
            continue;
        if (st->auto_unroll_max_step)
            tt_str_catf(&o, "%s: auto_unroll_max_step=%lld\n", st->op.name,
                        (long long)st->auto_unroll_max_step);
        print_stage(s, &o, i, 0);
    }
    return tt_str_take(&o);
}

tt_state *tt_state_replay_rebased(const tt_dag *d, const tt_step *steps, int n, tt_err *err)
{
    tt_state *s = tt_state_new(d);
    s->lax_extents = 1;
    for (int i = 0; i < n; i++) {
        tt_step x = steps[i];
        if (x.tag == TT_STEP_SP && x.stage >= 0 && x.stage < s->nstages && x.iter >= 0 &&
            x.iter < s->stages[x.stage].niters) {
            const tt_stage *st = &s->stages[x.stage];
            int64_t e = st->nodes[st->iters[x.iter].node].extent;
            if (e > 0)
                x.extent = e; /* the target's extent: the step now replays exactly */
        }
        if (tt_state_apply(s, &x, err)) {
            tt_err_prefix(err, "step %d (%s)", i,
                          x.tag >= 0 && x.tag < TT_STEP_COUNT ? tt_step_tags[x.tag] : "?");
            tt_state_free(s);
            return NULL;
        }
    }
    s->lax_extents = 0;
    return s;
}

