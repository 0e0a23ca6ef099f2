/* fuzz_layout.c - libFuzzer target for tt_dag_layout_parse, the reader of the
 * DAG prints kept in a database's kernels table (outside input: a database
 * file may be corrupted or edited by hand), and for tt_transfer_retarget on
 * what it accepts (transfer rewrites a source kernel's schedule with that
 * layout).
 *
 * Input: the text of a DAG print (tt_dag_print).  Seeds in fuzz/corpus_layout
 * are prints of a conv2d+add+relu, a conv2d+add+add+clip and a dense kernel.
 *
 *   make build/fuzz_layout
 *   mkdir -p build/corpus_layout
 *   ./build/fuzz_layout -max_total_time=300 build/corpus_layout fuzz/corpus_layout
 *
 * Properties checked (a violation aborts, which libFuzzer reports):
 *   - a refused print comes with a printable message;
 *   - an accepted layout has 1..TT_LAYOUT_MAX_OPS ops, ends in a compute,
 *     its prefix within its ops, ranks within TT_MAX_DIMS / TT_MAX_RAXES;
 *   - retargeting a conv2d+add+relu schedule from or to it returns 0 with at
 *     most TT_MAX_STEPS steps or -1 with a message, never anything else.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/transfer/transfer.h"

static void check_msg(const tt_err *err)
{
    if (!err->set || !err->msg[0])
        abort();
    for (const char *p = err->msg; *p; p++)
        if (*p < 0x20 || *p >= 0x7f)
            abort();
}

/* A conv2d+add+relu kernel's layout and a hand-written schedule of it in
 * Ansor's shape (inline, tile, compute_at, follow, fuse, parallel). */
static tt_dag_layout conv_layout;
static tt_step conv_steps[8];
static int conv_nsteps;

static void setup(void)
{
    static int done;
    if (done)
        return;
    done = 1;
    tt_conv2d_params p = {.n = 1, .h = 8, .w = 8, .ci = 4, .kh = 3, .kw = 3, .co = 8,
                          .stride_h = 1, .stride_w = 1, .pad_t = 1, .pad_l = 1, .pad_b = 1,
                          .pad_r = 1, .dil_h = 1, .dil_w = 1, .groups = 1};
    tt_epilogue e = {.n = 2, .ops = {TT_EPI_BIAS_ADD, TT_EPI_RELU}};
    tt_err err = {0};
    tt_dag *d = tt_build_conv2d_nhwc(&p, &e, &err);
    if (!d || tt_dag_layout_of(d, &conv_layout, &err))
        abort();
    tt_dag_free(d);
    tt_step *s = conv_steps;
    memset(conv_steps, 0, sizeof conv_steps);
    s[0].tag = TT_STEP_CI, s[0].stage = 5;
    s[1].tag = TT_STEP_SP, s[1].stage = 3, s[1].iter = 3, s[1].extent = 8, s[1].nlen = 1,
    s[1].len[0] = 4, s[1].inner_to_outer = 1;
    s[2].tag = TT_STEP_FSP, s[2].stage = 6, s[2].iter = 3, s[2].src_step = 1, s[2].n_split = 1;
    s[3].tag = TT_STEP_CA, s[3].stage = 3, s[3].target_stage = 6, s[3].target_iter = 3;
    s[4].tag = TT_STEP_FU, s[4].stage = 6, s[4].nids = 2, s[4].ids[0] = 0, s[4].ids[1] = 1;
    s[5].tag = TT_STEP_AN, s[5].stage = 6, s[5].iter = 0, s[5].ann = TT_ANN_PARALLEL;
    conv_nsteps = 6;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = 0;
    static tt_dag_layout L;
    static tt_step out[TT_MAX_STEPS];
    tt_err err = {0};
    if (tt_dag_layout_parse(text, &L, &err)) {
        check_msg(&err);
        free(text);
        return 0;
    }
    if (L.nops < 1 || L.nops > TT_LAYOUT_MAX_OPS || !L.op[L.nops - 1].compute || L.prefix < 0 ||
        L.prefix > L.nops)
        abort();
    for (int i = 0; i < L.nops; i++)
        if (L.op[i].ndim < 0 || L.op[i].ndim > TT_MAX_DIMS || L.op[i].nreduce < 0 ||
            L.op[i].nreduce > TT_MAX_RAXES)
            abort();
    for (int dir = 0; dir < 2; dir++) {
        int n = -1;
        tt_err e = {0};
        int rc = dir ? tt_transfer_retarget(&L, &conv_layout, conv_steps, conv_nsteps, out,
                                            TT_MAX_STEPS, &n, &e)
                     : tt_transfer_retarget(&conv_layout, &L, conv_steps, conv_nsteps, out,
                                            TT_MAX_STEPS, &n, &e);
        if (rc == 0 ? n < 0 || n > TT_MAX_STEPS : rc != -1)
            abort();
        if (rc)
            check_msg(&e);
    }
    free(text);
    return 0;
}
