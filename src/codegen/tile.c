/* tile.c - register tiles of a reduction's update nest (see emit.c, which
 * calls plan_tile, unroll_into_tile and force_unroll while it plans a stage's
 * nests, and emit_tile where the tile starts): where a tile starts, its
 * accumulators, their sets, the loops unrolled into it, and the prefetch of
 * streamed weights from it.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "emit_int.h"

/* Register tile (scalar replacement).  When the innermost non-unrolled loop
 * of a reduction's update nest is a reduction loop and everything inside it
 * is unrolled (or the final vector loop), the tile of outputs it updates is
 * held in a small private array indexed by the unrolled loop variables only;
 * after unrolling every index is a constant, so the compiler keeps the array
 * in registers (TVM relies on LLVM doing the same with its local buffers):
 *
 *   acc[k] = C[..k..]                         (every k of the tile)
 *   for rc { acc[k] = acc[k] + A[..] * W[..] } (unrolled over k)
 *   C[..k..] = acc[k]
 */
/* The loops a tile's weight prefetch depends on (see prefetch_distance in
 * vector.c): the innermost reduction loop outside the tile that runs more
 * than once, and the tile's spatial loops. */
static void tile_prefetch_plan(emitter *E, int si, const nest *U, int li)
{
    const tt_stage *st = &E->L->s->stages[si];
    const stage_info *I = &E->L->info[si];
    E->pf_on = 1;
    E->pf_outer = -1;
    E->pf_nsp = 0;
    for (int j = 0; j < U->n; j++) {
        int node = st->iters[U->pos[j]].node;
        int atom = si * TT_MAX_NODES + node;
        int red = st->nodes[node].kind != TT_ITER_SPATIAL;
        if (j < li && red && I->ext[node] > 1)
            E->pf_outer = atom;
        else if (j > li && !red)
            E->pf_sp[E->pf_nsp++] = atom;
    }
}

/* Sets of accumulators for a tile with too few to hide the FMA latency: with
 * nacc vector accumulators, each FMA waits for the previous one on the same
 * accumulator (4 cycles; 2 FMA pipes want 8 independent chains).  The
 * iterations of the tile's innermost real reduction alternate between R sets,
 * summed at the end: only the order of a sum changes, as in any blocked GEMM.
 * When that reduction is unrolled its variable mod R is a constant in every
 * copy; when it is a loop, it runs R copies a step (*rolled = 1, see
 * emit_set_loop in emit.c).  TVM's 14x14x256 -> 1024 record (2 rows x 32
 * channels, 4 accumulators, rc.1 of 8 unrolled) ran at 28% of the peak; its
 * 28x28x512 -> 128 record (4 rows x 16 channels, rc of 512 rolled) at 48%.
 * 1 = no sets. */
static int64_t split_sets(const emitter *E, int si, const nest *U, int li, int64_t nacc, int *rnode,
                          int *rolled)
{
    const tt_stage *st = &E->L->s->stages[si];
    const stage_info *I = &E->L->info[si];
    *rolled = 0;
    if (st->op.red != TT_RED_SUM || nacc <= 0 || nacc >= 8 || !E->acc_vec)
        return 1;
    for (int j = U->n - 1; j >= li; j--) {
        int node = st->iters[U->pos[j]].node;
        if (st->nodes[node].kind != TT_ITER_REDUCE || I->ext[node] < 2)
            continue;
        int64_t R = (8 + nacc - 1) / nacc;
        if (R > I->ext[node])
            R = I->ext[node];
        while (R * nacc > (E->vlanes >= 16 ? 24 : 12)) /* AVX2: 16 registers */
            R--;
        *rnode = node;
        *rolled = !U->unroll[j];
        return R;
    }
    return 1;
}

/* The reduction variables (bit k: reduce axis k) and spatial axes (bit d)
 * expression e reads. */
static void expr_axes(const tt_expr *e, uint64_t *rax, uint64_t *sax)
{
    if (e->kind == TT_E_RAXIS)
        *rax |= 1ull << e->u.axis;
    else if (e->kind == TT_E_AXIS)
        *sax |= 1ull << e->u.axis;
    for (int i = 0; i < e->n; i++)
        expr_axes(e->args[i], rax, sax);
}

/* A factor of a MUL tree of e (at most `depth` levels down) that is a
 * constant-table load depending on one reduction variable and on spatial
 * axes already defined at the tile (D); NULL if none. */
static const tt_expr *set_factor(const emitter *E, int si, const tt_expr *e, const defs *D, int depth,
                                 int *raxis)
{
    if (e->kind == TT_E_LOAD) {
        int pi = tt_state_stage_of_uid(E->L->s, e->u.uid);
        if (pi < 0 || E->L->info[pi].buf != LW_BUF_TABLE)
            return NULL;
        uint64_t rax = 0, sax = 0;
        expr_axes(e, &rax, &sax);
        if (rax == 0 || (rax & (rax - 1)) != 0)
            return NULL;
        for (int d = 0; d < E->L->s->stages[si].op.ndim; d++)
            if ((sax >> d & 1) && !D->root[d])
                return NULL;
        *raxis = __builtin_ctzll(rax);
        return e;
    }
    if (e->kind != TT_E_MUL || depth == 0)
        return NULL;
    for (int i = 0; i < 2; i++) {
        const tt_expr *f = set_factor(E, si, e->args[i], D, depth - 1, raxis);
        if (f)
            return f;
    }
    return NULL;
}

/* Winograd's transforms (data_pack, inverse): sum over r_a, r_b of
 * X[r_a][r_b] * M[r_a][eps] * M[r_b][nu] with the four loops unrolled costs
 * alpha^2 terms per output, where the separable form B^T (X B) costs 2 alpha
 * (22^2 = 484 FMAs against 2 * 6 * 22 = 264 per tile and vector of F(4,3)'s
 * data_pack).  When a register tile holds the whole reduction, the
 * accumulator sets are the values of r_a (unrolled, so each set is one r_a)
 * and the body leaves out the factor M[r_a][eps], each set then holds
 * T[r_a][nu] = sum_r_b X[r_a][r_b] M[r_b][nu], which is the same chain of
 * the same loads and constants for every eps: the C compiler's value
 * numbering computes it once.  The sets are summed with the factor:
 * sum_r_a M[r_a][eps] T[r_a][nu] (zero entries fold, tt_vcmulN).  Returns
 * the factor (E->skip) and its reduction's node and extent, or NULL. */
static const tt_expr *factor_sets(const emitter *E, int si, const nest *U, int li, const defs *D,
                                  int64_t nacc, int *rnode, int64_t *R)
{
    const tt_stage *st = &E->L->s->stages[si];
    const stage_info *I = &E->L->info[si];
    if (E->ref || st->op.red != TT_RED_SUM || !U->tile_whole || !E->acc_vec || nacc <= 0 ||
        I->cond)
        return NULL;
    int raxis = -1;
    const tt_expr *f = set_factor(E, si, I->body, D, 3, &raxis);
    if (!f)
        return NULL;
    for (int j = li; j < U->n; j++) {
        int node = st->iters[U->pos[j]].node;
        if (st->nodes[node].root != st->op.ndim + raxis)
            continue;
        int64_t ext = I->ext[node];
        if (!U->unroll[j] || ext != st->op.raxis[raxis].extent || ext < 2 || ext * nacc > 24)
            return NULL;
        *rnode = node;
        *R = ext;
        return f;
    }
    return NULL; /* the reduction is split or outside the tile */
}

/* AVX2's 16 registers hold 12 accumulators: a tile of K rows x nch vector
 * chunks past that (TVM's AVX2 record for 14x14x1024 -> 2048 1x1/2: 7 rows x
 * one 16-channel vector = 2 ymm chunks each, 14, spilled around every FMA)
 * runs over its chunks in parts, each part the whole tile's reductions for
 * K x P accumulators; each output's sum keeps its order.  P, or 0 for no
 * parts. */
static int64_t chunk_parts(const emitter *E, int64_t K, int64_t nch)
{
    if (E->vlanes >= 16 || nch <= 1 || K * nch <= 12)
        return 0;
    for (int64_t p = nch - 1; p >= 1; p--)
        if (nch % p == 0 && K * p <= 12 && K * p >= 4)
            return p;
    return 0;
}

/* After a tile's update with R accumulator sets (n0 accumulators each, and
 * nt tail accumulators in acct): with a factor (factor_sets), set s holds the
 * sums of r_a = s, weighted here by the factor at r_a = s into set 0;
 * otherwise (split_sets) the partial sums of the other sets are added into
 * set 0. */
static void merge_sets(emitter *E, int si, const tt_expr *factor, int rnode, int64_t R, int64_t n0, int64_t nt,
                       int VW)
{
    const tt_stage *st = &E->L->s->stages[si];
    if (factor) {
        int ra = st->nodes[rnode].root;
        tt_str_catf(E->o, "for (int tt_k = 0; tt_k < %lld; tt_k++) {\ntt_v%d tt_f = tt_vsplat%d(-0.0f);\n",
                    (long long)n0, VW, VW);
        for (int64_t k = 0; k < R; k++) {
            tt_str_catf(E->o, "{ const int64_t r%d_%d = %lld;\ntt_f = tt_f + tt_vcmul%d(acc[%lld + tt_k], ",
                        st->op.uid, ra, (long long)k, VW, (long long)(k * n0));
            emit_expr(E, factor, si);
            tt_str_cat(E->o, ");\n}\n");
        }
        tt_str_cat(E->o, "acc[tt_k] = tt_f;\n}\n");
    } else if (R > 1) {
        tt_str_catf(E->o, "for (int tt_s = 1; tt_s < %lld; tt_s++) {\n", (long long)R);
        tt_str_catf(E->o, "for (int tt_k = 0; tt_k < %lld; tt_k++) acc[tt_k] += acc[tt_s * %lld + tt_k];\n",
                    (long long)n0, (long long)n0);
        if (nt)
            tt_str_catf(E->o, "for (int tt_k = 0; tt_k < %lld; tt_k++) acct[tt_k] += acct[tt_s * %lld + tt_k];\n",
                        (long long)nt, (long long)nt);
        tt_str_cat(E->o, "}\n");
    }
}

/* ext (the extent of the tile's final loop) if that loop can be one vector
 * statement of the update, tried into a scratch string; else 0. */
static int tile_vector_width(emitter *E, int si, nest *U, int last, defs D, int ext)
{
    tt_str scratch;
    tt_str_init(&scratch);
    tt_str *save = E->o;
    E->o = &scratch;
    int acc = E->acc;
    E->acc = ACC_UPDATE;
    E->acc_vec = 1;
    snprintf(E->acc_idx, sizeof E->acc_idx, "0");
    int ok = try_vector(E, si, U, PH_UPDATE, last, D);
    E->acc = acc;
    E->o = save;
    tt_str_free(&scratch);
    return ok ? ext : 0;
}

void emit_tile(emitter *E, int si, nest *nests, int li, defs D)
{
    const lowering *L = E->L;
    const tt_stage *st = &L->s->stages[si];
    const stage_info *I = &L->info[si];
    nest *U = &nests[PH_UPDATE];
    int last = U->n - 1;
    int lastnode = st->iters[U->pos[last]].node;
    /* vector accumulators if the final loop can be one vector statement */
    int vec = U->simd[last] ? tile_vector_width(E, si, U, last, D, (int)I->ext[lastnode]) : 0;
    /* the tile's loops: spatial loops after li (the final one only in scalar mode) */
    nest T;
    memset(&T, 0, sizeof T);
    T.tile_at = -1;
    tt_str ix;
    tt_str_init(&ix);
    int64_t K = 1;
    for (int j = U->n - 1; j > li; j--) {
        int node = st->iters[U->pos[j]].node;
        if (st->nodes[node].kind != TT_ITER_SPATIAL)
            continue;
        if (vec && j == last)
            continue;
        tt_str_catf(&ix, "%s%lld * l%d_%d", ix.len ? " + " : "", (long long)K, st->op.uid, node);
        K *= I->ext[node];
    }
    for (int j = li + 1; j < U->n; j++) {
        int node = st->iters[U->pos[j]].node;
        if (st->nodes[node].kind != TT_ITER_SPATIAL)
            continue;
        T.pos[T.n] = U->pos[j];
        T.unroll[T.n] = U->unroll[j];
        T.simd[T.n] = U->simd[j];
        T.n++;
    }
    snprintf(E->acc_idx, sizeof E->acc_idx, "%s", ix.len ? ix.buf : "0");
    E->acc_vec = vec > 0;
    tt_str_free(&ix);
    int VW = 0, VT = 0, VTC = 0;
    int64_t nch = 0;
    if (vec)
        vec_chunks(vec, E->vlanes, &VW, &nch, &VT, &VTC);
    int64_t nacc = vec ? K * ((nch ? nch : 0) + (VT ? 1 : 0)) : K;
    int rnode = -1, rolled = 0;
    int64_t R = 1;
    const tt_expr *factor = VT ? NULL : factor_sets(E, si, U, li, &D, nacc, &rnode, &R);
    if (!factor)
        R = split_sets(E, si, U, li, nacc, &rnode, &rolled);
    int64_t P = vec && !VT && R == 1 && !factor ? chunk_parts(E, K, nch) : 0;
    if (P) {
        tt_str_catf(E->o, "for (int64_t tt_cp = 0; tt_cp < %lldLL; tt_cp++) {\n", (long long)(nch / P));
        E->chunk_part = P;
    }
    if (vec) {
        /* zeroed: a guarded row's accumulators are not loaded, yet updated */
        tt_str_catf(E->o, "{ tt_v%d acc[%lld] = {0};\n", VW, (long long)(R * K * (P ? P : nch ? nch : 1)));
        if (VT)
            tt_str_catf(E->o, "tt_v%d acct[%lld] = {0};\n", VT, (long long)(R * K));
    }
    else
        tt_str_catf(E->o, "{ %s acc[%lld] = {0};\n", E->T, (long long)(R * K));
    nest tmp[4];
    memcpy(tmp, nests, sizeof tmp);
    tmp[PH_INIT] = T;
    if (U->tile_whole) {
        /* the tile is the whole reduction: the accumulators start at its
         * identity (zero, as declared, for a sum) instead of being loaded */
        if (st->op.red != TT_RED_SUM) {
            int W = vec ? E->vlanes : 0, T2 = 0, TC = 0;
            int64_t nch = 0;
            if (vec)
                vec_chunks(vec, E->vlanes, &W, &nch, &T2, &TC);
            tt_str_catf(E->o, "for (int tt_k = 0; tt_k < %lld; tt_k++) acc[tt_k] = ",
                        (long long)(K * (vec && nch ? nch : 1)));
            if (vec)
                tt_str_catf(E->o, "tt_vsplat%d(", W);
            emit_float(E, st->op.red == TT_RED_MAX ? -INFINITY : INFINITY);
            tt_str_cat(E->o, vec ? ");\n" : ";\n");
            if (vec && T2) {
                tt_str_catf(E->o, "for (int tt_k = 0; tt_k < %lld; tt_k++) acct[tt_k] = tt_vsplat%d(", (long long)K, T2);
                emit_float(E, st->op.red == TT_RED_MAX ? -INFINITY : INFINITY);
                tt_str_cat(E->o, ");\n");
            }
        }
    } else {
        E->acc = ACC_LOAD;
        emit_loops(E, si, tmp, PH_INIT, 0, D);
    }
    E->acc = ACC_UPDATE;
    E->in_tile = 1;
    tile_prefetch_plan(E, si, U, li);
    char base_idx[sizeof E->acc_idx];
    snprintf(base_idx, sizeof base_idx, "%s", E->acc_idx);
    if (R > 1 && rolled) {
        snprintf(E->acc_idx, sizeof E->acc_idx, "%s + %lld * tt_set", base_idx, (long long)K);
        E->set_node = si * TT_MAX_NODES + rnode;
        E->set_R = R;
    } else if (R > 1) {
        snprintf(E->acc_idx, sizeof E->acc_idx, "%s + %lld * (l%d_%d %% %lld)", base_idx, (long long)K,
                 st->op.uid, rnode, (long long)R);
    }
    E->skip = factor;
    emit_loops(E, si, nests, PH_UPDATE, li, D);
    E->skip = NULL;
    E->set_node = -1;
    snprintf(E->acc_idx, sizeof E->acc_idx, "%s", base_idx);
    merge_sets(E, si, factor, rnode, R, vec ? K * (nch ? nch : 1) : K, vec && VT ? K : 0, VW);
    E->pf_on = 0;
    E->in_tile = 0;
    E->acc = ACC_STORE;
    emit_loops(E, si, tmp, PH_INIT, 0, D);
    E->acc = ACC_OFF;
    E->acc_vec = 0;
    tt_str_cat(E->o, "}\n");
    if (P) {
        tt_str_cat(E->o, "}\n");
        E->chunk_part = 0;
    }
}

static int64_t I_ext(const emitter *E, int si, int pos)
{
    return E->L->info[si].ext[E->L->s->stages[si].iters[pos].node];
}

/* AVX2's 16 vector registers hold 12 accumulators beside a weight vector and
 * a broadcast; a grown tile of 13 to 16 (TVM's AVX2 record for 7x7x512 ->
 * 2048: 7 rows x 2 vectors) had the compiler spill and reload accumulators
 * around every FMA (1.7x oneDNN's time).  Then the largest set of the spatial
 * loops between the reductions whose tile fits in `budget` joins the tile
 * (unrolled) and the others move out to the common part, each running the
 * whole reduction: each output's sum keeps its order.  Only for reductions of
 * at most 2048 (their operands stay in L1/L2 when read again).  0 when no set
 * fits. */
static int split_for_registers(emitter *E, int si, nest *nests, int *forced, int first_red, int r_start,
                               int64_t tile, int64_t budget)
{
    const tt_stage *st = &E->L->s->stages[si];
    const stage_info *I = &E->L->info[si];
    nest *U = &nests[PH_UPDATE];
    int cand[TT_MAX_ITERS], nc = 0;
    for (int j = first_red + 1; j < r_start; j++)
        if (st->nodes[st->iters[U->pos[j]].node].kind == TT_ITER_SPATIAL && I->ext[st->iters[U->pos[j]].node] > 1)
            cand[nc++] = j;
    if (nc == 0 || nc > 8)
        return 0;
    int best_mask = -1;
    int64_t best = 0;
    for (int m = 1; m < (1 << nc); m++) {
        int64_t g = 1;
        for (int k = 0; k < nc; k++)
            if (m >> k & 1)
                g *= I->ext[st->iters[U->pos[cand[k]]].node];
        if (g * tile <= budget && g > best)
            best = g, best_mask = m;
    }
    if (best_mask < 0 || best * tile < 4)
        return 0;
    nest *C = &nests[PH_COMMON], *N = &nests[PH_INIT];
    nest keep = *U;
    keep.n = 0;
    for (int j = 0; j < U->n; j++) {
        int k = 0;
        while (k < nc && cand[k] != j)
            k++;
        if (k < nc && !(best_mask >> k & 1)) {
            C->pos[C->n++] = U->pos[j];
            for (int q = 0; q < N->n; q++)
                if (N->pos[q] == U->pos[j]) {
                    memmove(&N->pos[q], &N->pos[q + 1], (size_t)(N->n - q - 1) * sizeof N->pos[0]);
                    N->n--;
                    break;
                }
            continue;
        }
        if ((k < nc) || (j >= r_start && st->nodes[st->iters[U->pos[j]].node].kind != TT_ITER_SPATIAL))
            forced[U->pos[j]] = 1;
        keep.pos[keep.n++] = U->pos[j];
    }
    *U = keep;
    return 1;
}

void unroll_into_tile(emitter *E, int si, nest *nests, int *forced)
{
    const tt_stage *st = &E->L->s->stages[si];
    const stage_info *I = &E->L->info[si];
    nest *U = &nests[PH_UPDATE];
#define HS_NODE(j) (st->iters[U->pos[j]].node)
#define HS_RED(j) (st->nodes[HS_NODE(j)].kind != TT_ITER_SPATIAL)
    int r_in = -1;
    for (int j = U->n - 1; j >= 0 && r_in < 0; j--)
        if (HS_RED(j) && I->ext[HS_NODE(j)] > 1)
            r_in = j;
    if (r_in <= 0)
        return;
    int r_start = r_in;
    while (r_start > 0 && (HS_RED(r_start - 1) || I->ext[HS_NODE(r_start - 1)] == 1))
        r_start--;
    int64_t inner = 1, total = 1, grow = 1, tile = 1;
    for (int j = 0; j < U->n; j++) {
        int64_t e = I->ext[HS_NODE(j)];
        if (HS_RED(j))
            total *= e, inner *= j >= r_start ? e : 1;
        else if (j >= r_start)
            tile *= j == U->n - 1 ? (e + E->vlanes - 1) / E->vlanes : e;
    }
    int first_red = -1, moved = 0;
    for (int j = 0; j < r_start; j++) {
        if (HS_RED(j) && I->ext[HS_NODE(j)] > 1 && first_red < 0)
            first_red = j;
        else if (!HS_RED(j) && I->ext[HS_NODE(j)] > 1 && first_red >= 0)
            moved++, grow *= I->ext[HS_NODE(j)];
    }
    if (moved == 0 || inner >= 16 || (grow * tile > 16 && (tile < 4 || total > 64)))
        return;
    for (int j = first_red; j < U->n; j++)
        if (has_attached(E->L, st->op.uid, HS_NODE(j)) ||
            (j < r_start && st->iters[U->pos[j]].ann != TT_ANN_NONE))
            return;
    if (grow * tile > 12 && grow * tile <= 16 && E->vlanes < 16 && total <= 2048 &&
        split_for_registers(E, si, nests, forced, first_red, r_start, tile, 12))
        return;
    if (grow * tile <= 16) {
        /* unrolled, they join the tile: it then starts at the outer reduction */
        for (int j = first_red + 1; j < U->n; j++)
            if ((j < r_start && !HS_RED(j)) || (j >= r_start && HS_RED(j)))
                forced[U->pos[j]] = 1;
        return;
    }
    /* too many for registers, and the tile has 4 or more already: the
     * spatial loops move out instead, to the common part before the init
     * nest, and the tile takes every reduction with the accumulators it has */
    nest *C = &nests[PH_COMMON], *N = &nests[PH_INIT];
    nest keep = *U;
    keep.n = 0;
    for (int j = 0; j < U->n; j++) {
        if (j > first_red && j < r_start && !HS_RED(j) && I->ext[HS_NODE(j)] > 1) {
            C->pos[C->n++] = U->pos[j];
            for (int k = 0; k < N->n; k++)
                if (N->pos[k] == U->pos[j]) {
                    memmove(&N->pos[k], &N->pos[k + 1], (size_t)(N->n - k - 1) * sizeof N->pos[0]);
                    N->n--;
                    break;
                }
        } else {
            keep.pos[keep.n++] = U->pos[j];
        }
    }
    *U = keep;
#undef HS_NODE
#undef HS_RED
}

/* Loops marked by unroll_into_tile that plan_nest left rolled: unrolled. */
void force_unroll(const emitter *E, int si, nest *U, const int *forced)
{
    for (int j = 0; j < U->n; j++)
        if (forced[U->pos[j]] && !U->unroll[j]) {
            U->unroll[j] = 1;
            U->steps *= I_ext(E, si, U->pos[j]);
        }
}

/* Where the register tile of stage si's update nest starts (U->tile_at, -1
 * none) and whether it runs the whole reduction (U->tile_whole). */
void plan_tile(emitter *E, int si, nest *nests)
{
    const tt_stage *st = &E->L->s->stages[si];
    const tt_op *op = &st->op;
    const stage_info *I = &E->L->info[si];
    /* register tile: the innermost non-unrolled loop of the update nest is a
     * reduction loop and the outputs it updates fit in registers */
    nest *U = &nests[PH_UPDATE];
    if (!E->ref && op->red != TT_RED_NONE && U->n > 0) {
        int j = U->n - 1;
        while (j >= 0 && (U->unroll[j] || (j == U->n - 1 && U->simd[j]) ||
                          I->ext[st->iters[U->pos[j]].node] == 1))
            j--;
        /* a spatial loop there, with an unrolled reduction inside it (a
         * depthwise conv's kernel rows, unrolled with the register tile):
         * the tile starts at that reduction, the accumulators held across it */
        if (j < U->n - 1 && (j < 0 || st->nodes[st->iters[U->pos[j]].node].kind != TT_ITER_REDUCE))
            for (int k = j + 1; k < U->n - 1; k++)
                if (st->nodes[st->iters[U->pos[k]].node].kind == TT_ITER_REDUCE &&
                    I->ext[st->iters[U->pos[k]].node] > 1) {
                    j = k;
                    break;
                }
        if (j >= 0 && j < U->n - 1 && st->nodes[st->iters[U->pos[j]].node].kind == TT_ITER_REDUCE) {
            /* the tile also takes the reduction loops right outside it,
             * unrolled or not: the accumulators' indices
             * depend only on the spatial loops inside, and they are then
             * loaded and stored once per whole run of reductions instead of
             * once per outer reduction step (a 7x7 stem: once per 147 taps, not
             * per kernel row of 21) */
            /* ... and through loops of extent 1 between them (a record's
             * rc.0, nn.2, yy.2, xx.2, ff.2, ry.1, rx.1, rc.1 with only rc.0
             * and rc.1 real: reloaded and stored once per rc.0 step, TVM's
             * 14x14x256 -> 1024 record ran at 28% of the peak) */
            for (int k = j - 1; k >= 0; k--) {
                int nd = st->iters[U->pos[k]].node;
                if (st->nodes[nd].kind == TT_ITER_REDUCE)
                    j = k;
                else if (I->ext[nd] != 1)
                    break;
            }
            int64_t K = 1;
            for (int k = j + 1; k < U->n; k++) {
                int nd = st->iters[U->pos[k]].node;
                if (st->nodes[nd].kind == TT_ITER_SPATIAL)
                    K *= I->ext[nd];
            }
            if (K <= 512) {
                U->tile_at = j;
                /* every reduction loop outside the tile runs once: each tile
                 * computes its outputs from start to end, so the init nest
                 * (the same spatial loops as the update's) and the tile's
                 * loads of what it stored are dead.  A 1x1 conv over 64
                 * channels spent 8% of its time on them. */
                U->tile_whole = 1;
                for (int k = 0; k < j; k++) {
                    int nd = st->iters[U->pos[k]].node;
                    if (st->nodes[nd].kind != TT_ITER_SPATIAL && I->ext[nd] != 1)
                        U->tile_whole = 0;
                }
            }
        }
    }
}
