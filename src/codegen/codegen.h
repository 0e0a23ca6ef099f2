/* codegen.h - lowering of a replayed loop state to C, and the reference.
 *
 * Lowering (lower.c): infers the bounds of every stage computed at another
 * stage's loop (TVM InferBound on affine index forms), recomputes iterator
 * extents, decides guards for non-divisible splits, and which loops are
 * unrolled (AN unroll, and auto_unroll_max_step as TVM's UnrollLoop does).
 * Emission (emit.c) writes one C function per state:
 *
 *   void NAME(float *const *args)   args = placeholders in stage order, then the output
 *
 * with `#pragma omp parallel for` on parallel loops (never nested), vector
 * statements (GCC vector types) or `#pragma omp simd` for vectorized
 * innermost loops, register tiles for unrolled reduction tiles, explicit
 * unrolling by copying loop bodies, 64-byte aligned workspaces, and no text
 * taken from a record: every number in the source is a value the lowering
 * computed.  docs/NOTES.md explains each of these choices.
 *
 * Constant placeholders (weights) may be read in a packed layout (Ansor's
 * layout rewrite, see lower.c): the kernel packs them into a cached buffer
 * when called with a weight pointer other than the last one, so a kernel
 * treats the contents of its weights as constant, like a compiled model.
 *
 * The reference (tt_codegen_reference) is the DAG with no schedule, computed
 * in double precision, together with an error magnitude per element: for a
 * value v = f(a, b, ...) the magnitude is |v| plus the first-order sensitivity
 * to the inputs' magnitudes (sums add magnitudes, products multiply them,
 * exp(x) gives exp(x) * (1 + mag x), ...).  A float32 result is accepted when
 *   |got - ref| <= tolerance_factor * FLT_EPSILON * mag,
 * with tolerance_factor = the total reduction length of the DAG + 32.
 */
#ifndef TT_CODEGEN_H
#define TT_CODEGEN_H

#include "../sched/sched.h"

/* Prelude to put once at the top of a translation unit (includes, helpers). */
const char *tt_codegen_prelude(void);

/* Append the C function `fn` computing state s to out.  Fails (err set) if
 * the state cannot be lowered (e.g. a stage computed at a loop where its
 * consumer does not read it). */
int tt_codegen_candidate(const tt_state *s, const char *fn, tt_str *out, tt_err *err);

/* Append the reference function `fn`:
 *   void fn(float *const *inputs, double *out, double *mag)  */
int tt_codegen_reference(const tt_dag *d, const char *fn, tt_str *out, tt_err *err);

/* fp32 lanes of the target's vectors, the widest vector statement emitted:
 * $TT_VECTOR_LANES (4..64) if set, else the host's (16 with AVX-512F, else 8). */
int tt_codegen_vector_lanes(void);

/* tolerance_factor above. */
double tt_codegen_tolerance(const tt_dag *d);

/* Bound inference alone, as tt_codegen_candidate runs it: ext[si][node] is
 * the extent of node `node` of stage si after bounds are inferred, for every
 * si < s->nstages and node < s->stages[si].nnodes (ext has s->nstages rows).
 * Fails (err set) where lowering the state fails.  What the search's
 * annotation rules read: Ansor runs them on the state after InferBound.  The
 * whole lowering (regions, affine index forms) is lower.h's. */
int tt_codegen_extents(const tt_state *s, int64_t (*ext)[TT_MAX_NODES], tt_err *err);

#endif
