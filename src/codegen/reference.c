/* reference.c - the double-precision reference every candidate is checked
 * against (tt_codegen_reference) and the tolerance of that check
 * (tt_codegen_tolerance): the DAG's own loops, unscheduled but for one
 * parallel loop per stage, emitted by emit.c in reference mode. */
#include <string.h>

#include "emit_int.h"

/* The reference in parallel: each root stage's leading spatial axes fused
 * into one loop, run by the threads of the runner.  Every output element is
 * still computed by one thread with its reduction in the same order, so the
 * values are those of the serial loops, bit for bit; only the wall time
 * changes (VGG-16's 224x224 3x3 convs took seconds each in double).  A stage
 * the steps do not apply to stays serial. */
static tt_state *reference_state(const tt_dag *d)
{
    tt_state *s = tt_state_new(d);
    for (int si = 0; si < s->nstages; si++) {
        const tt_stage *st = &s->stages[si];
        if (st->op.kind != TT_OP_COMPUTE || st->at != TT_AT_ROOT)
            continue;
        int ns = 0;
        while (ns < st->niters && ns < TT_MAX_STEP_IDS && st->nodes[st->iters[ns].node].kind == TT_ITER_SPATIAL)
            ns++;
        if (ns == 0)
            continue;
        tt_state *t = tt_state_copy(s);
        tt_err e = {0};
        tt_step fu, an;
        memset(&fu, 0, sizeof fu);
        memset(&an, 0, sizeof an);
        fu.tag = TT_STEP_FU;
        fu.stage = si;
        fu.nids = ns;
        for (int i = 0; i < ns; i++)
            fu.ids[i] = i;
        an.tag = TT_STEP_AN;
        an.stage = si;
        an.iter = 0;
        an.ann = TT_ANN_PARALLEL;
        if ((ns > 1 && tt_state_apply(t, &fu, &e)) || tt_state_apply(t, &an, &e)) {
            tt_state_free(t);
            continue;
        }
        tt_state_free(s);
        s = t;
    }
    return s;
}

int tt_codegen_reference(const tt_dag *d, const char *fn, tt_str *out, tt_err *err)
{
    tt_state *s = reference_state(d);
    int rc = emit_function(s, fn, 1, out, err);
    tt_state_free(s);
    return rc;
}

double tt_codegen_tolerance(const tt_dag *d)
{
    double k = 32;
    for (int i = 0; i < d->nops; i++) {
        const tt_op *op = d->ops[i];
        double r = 1;
        for (int j = 0; j < op->nreduce; j++)
            r *= (double)op->raxis[j].extent;
        if (op->nreduce)
            k += r;
    }
    return k;
}
