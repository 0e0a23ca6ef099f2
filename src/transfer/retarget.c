/* retarget.c - moving a schedule to a kernel with the same anchor and another
 * epilogue (see tt_transfer_retarget in transfer.h).
 *
 * Example: MobileNet-v2's depthwise kernels end in clip (ReLU6), MnasNet's in
 * relu, EfficientNet's in swish; the paper's exact class key lets none of
 * them use another's schedules, yet the anchor's loop nest is what a
 * schedule is about.  In Ansor's records for such kernels every elementwise
 * stage but the output is inlined (CI), the anchor is tiled (SP, RE) and
 * computed at a tile of the output (CA), and the output is tiled to follow
 * the anchor (FSP), fused, parallelised and vectorised:
 *
 *   relu kernel (stages: data pad weight conv bias T_add T_relu)
 *     CI 5; SP 3 ...; FSP 6 ...; CA 3 6 7; FU 6; AN 6 0 parallel
 *   swish kernel (stages: data pad weight conv bias T_add T_sigmoid T_multiply)
 *     CI 5; CI 6; SP 3 ...; FSP 7 ...; CA 3 7 7; FU 7; AN 7 0 parallel
 *
 * So the rewrite is: inline every epilogue compute of the target but its
 * output, drop the source's inlining of its own, and renumber the stages
 * (anchor stages keep their ids, the output maps to the output, stages that
 * a cache write or rfactor inserts map to the ones the same step inserts in
 * the target) and the step ids that FSP/FFSP refer to.  Anything else that
 * touches a source epilogue stage is refused.  The result is only a
 * candidate: it is replayed on the target's DAG and, like every candidate,
 * measured with its output checked.
 */
#include "transfer.h"

#include <stdlib.h>
#include <string.h>

#include "../record/record.h"

/* Stage identities shared by the source and the target numbering. */
enum {
    ID_EPI = -1,     /* an elementwise epilogue stage other than the output */
    ID_INPUT = -2,   /* a tensor the epilogue reads (bias, residual) or a 0-d constant */
    ID_OUT = 1 << 20,
    ID_INSERTED = 1 << 21 /* + the index of the source step that inserted it */
};

/* 1 if the layouts agree on their anchor and prefix and both end in an
 * elementwise epilogue of the same rank; else 0 with err saying why. */
static int retarget_compatible(const tt_dag_layout *S, const tt_dag_layout *T, tt_err *err)
{
    if (S->prefix == 0 || T->prefix == 0)
        return tt_err_set(err, "retarget: a kernel without an anchor op"), 0;
    if (S->prefix != T->prefix)
        return tt_err_set(err, "retarget: the anchors have %d and %d stages with their inputs",
                          S->prefix, T->prefix), 0;
    for (int i = 0; i < S->prefix; i++) {
        const tt_layout_op *a = &S->op[i], *b = &T->op[i];
        if (a->compute != b->compute || a->ndim != b->ndim || a->nreduce != b->nreduce ||
            strcmp(a->name, b->name) || strcmp(a->tag, b->tag))
            return tt_err_set(err, "retarget: anchor stage %d differs (%s/%s vs %s/%s)", i,
                              a->name, a->tag, b->name, b->tag), 0;
    }
    const tt_dag_layout *L[2] = {S, T};
    for (int w = 0; w < 2; w++) {
        const tt_dag_layout *x = L[w];
        if (x->nops <= x->prefix || !x->op[x->nops - 1].compute)
            return tt_err_set(err, "retarget: the %s kernel has no epilogue",
                              w ? "target" : "source"), 0;
        int rank = x->op[x->nops - 1].ndim;
        for (int i = x->prefix; i < x->nops; i++) {
            const tt_layout_op *o = &x->op[i];
            if (o->compute && (o->nreduce > 0 || (o->ndim != rank && o->ndim != 0)))
                return tt_err_set(err, "retarget: epilogue stage %s of the %s kernel is not "
                                       "elementwise over its output", o->name,
                                  w ? "target" : "source"), 0;
        }
    }
    if (S->op[S->nops - 1].ndim != T->op[T->nops - 1].ndim)
        return tt_err_set(err, "retarget: outputs of rank %d and %d", S->op[S->nops - 1].ndim,
                          T->op[T->nops - 1].ndim), 0;
    return 1;
}

/* The identity of each op of L, in op order, into ids (L->nops entries). */
static void initial_ids(const tt_dag_layout *L, int *ids)
{
    for (int i = 0; i < L->nops; i++) {
        const tt_layout_op *o = &L->op[i];
        if (i < L->prefix)
            ids[i] = i;
        else if (i == L->nops - 1)
            ids[i] = ID_OUT;
        else if (o->compute && o->ndim > 0)
            ids[i] = ID_EPI;
        else
            ids[i] = ID_INPUT;
    }
}

static int find_id(const int *ids, int n, int id)
{
    for (int i = 0; i < n; i++)
        if (ids[i] == id)
            return i;
    return -1;
}

static void insert_id(int *ids, int *n, int at, int id)
{
    memmove(&ids[at + 1], &ids[at], (size_t)(*n - at) * sizeof *ids);
    ids[at] = id;
    (*n)++;
}

/* Map a source stage index to the target's; -1 with err if it names an
 * epilogue stage or is out of range. */
static int map_stage(const int *sid, int ns, const int *tid, int nt, int stage, int step,
                     tt_err *err)
{
    if (stage < 0 || stage >= ns)
        return tt_err_set(err, "retarget: step %d names stage %d of %d", step, stage, ns), -1;
    int id = sid[stage];
    if (id == ID_EPI || id == ID_INPUT)
        return tt_err_set(err, "retarget: step %d schedules an epilogue stage of the source "
                               "beyond inlining it", step), -1;
    int t = find_id(tid, nt, id);
    if (t < 0)
        return tt_err_set(err, "retarget: step %d: stage %d has no counterpart", step, stage), -1;
    return t;
}

int tt_transfer_retarget(const tt_dag_layout *S, const tt_dag_layout *T, const tt_step *in, int n,
                         tt_step *out, int cap, int *nout, tt_err *err)
{
    *nout = 0;
    if (!retarget_compatible(S, T, err))
        return -1;
    int *sid = tt_xmalloc((size_t)(S->nops + n + 1) * sizeof(int));
    int *tid = tt_xmalloc((size_t)(T->nops + n + 1) * sizeof(int));
    int *map = tt_xmalloc((size_t)(n + 1) * sizeof(int));
    int ns = S->nops, nt = T->nops, no = 0, rc = -1;
    initial_ids(S, sid);
    initial_ids(T, tid);
    /* the target's epilogue, inlined up front as Ansor's records do */
    for (int i = T->prefix; i < T->nops - 1; i++) {
        if (tid[i] != ID_EPI)
            continue;
        if (no == cap) {
            tt_err_set(err, "retarget: more than %d steps", cap);
            goto out;
        }
        memset(&out[no], 0, sizeof out[no]);
        out[no].tag = TT_STEP_CI;
        out[no].stage = i;
        no++;
    }
    for (int i = 0; i < n; i++) {
        tt_step y = in[i];
        map[i] = -1;
        if (y.stage >= 0 && y.stage < ns && (sid[y.stage] == ID_EPI || sid[y.stage] == ID_INPUT) &&
            y.tag == TT_STEP_CI)
            continue; /* the source's own inlining: the target's is done above */
        if (y.tag == TT_STEP_CHR) {
            tt_err_set(err, "retarget: step %d is a cache read (GPU only)", i);
            goto out;
        }
        int st = map_stage(sid, ns, tid, nt, y.stage, i, err);
        if (st < 0)
            goto out;
        if (y.tag == TT_STEP_CA) {
            int at = map_stage(sid, ns, tid, nt, y.target_stage, i, err);
            if (at < 0)
                goto out;
            y.target_stage = at;
        } else if (y.tag == TT_STEP_FSP) {
            if (y.src_step < 0 || y.src_step >= i || map[y.src_step] < 0) {
                tt_err_set(err, "retarget: step %d follows step %d, which does not move", i,
                           y.src_step);
                goto out;
            }
            y.src_step = map[y.src_step];
        } else if (y.tag == TT_STEP_FFSP) {
            for (int j = 0; j < y.nids && j < TT_MAX_STEP_IDS; j++) {
                if (y.ids[j] < 0 || y.ids[j] >= i || map[y.ids[j]] < 0) {
                    tt_err_set(err, "retarget: step %d follows step %d, which does not move", i,
                               y.ids[j]);
                    goto out;
                }
                y.ids[j] = map[y.ids[j]];
            }
        }
        if (y.tag == TT_STEP_CHW || y.tag == TT_STEP_RF) {
            /* both insert the new stage at the step's stage; the old one moves up */
            insert_id(sid, &ns, y.stage, ID_INSERTED + i);
            insert_id(tid, &nt, st, ID_INSERTED + i);
        }
        y.stage = st;
        if (no == cap) {
            tt_err_set(err, "retarget: more than %d steps", cap);
            goto out;
        }
        map[i] = no;
        out[no++] = y;
    }
    *nout = no;
    rc = 0;
out:
    free(sid);
    free(tid);
    free(map);
    return rc;
}
