/* names.c - name tables for the enums of sched.h: step tags and annotations.
 *
 * Each table is indexed by its enum with designated initializers, so a
 * reordered enum cannot silently shift names, and each is paired with a
 * _Static_assert on the enum's count: adding an enum value fails the build
 * until its name is added here (ggml's convention).
 */
#include "sched.h"

/* Step tags exactly as they appear in Ansor's JSON logs. */
const char *const tt_step_tags[TT_STEP_COUNT] = {
    [TT_STEP_AN] = "AN",   [TT_STEP_FU] = "FU",   [TT_STEP_PR] = "PR",  [TT_STEP_RE] = "RE",
    [TT_STEP_SP] = "SP",   [TT_STEP_FSP] = "FSP", [TT_STEP_FFSP] = "FFSP",
    [TT_STEP_SA] = "SA",   [TT_STEP_CA] = "CA",   [TT_STEP_CI] = "CI",  [TT_STEP_CR] = "CR",
    [TT_STEP_CHR] = "CHR", [TT_STEP_CHW] = "CHW", [TT_STEP_RF] = "RF",
};
_Static_assert(TT_STEP_COUNT == 14, "tt_step_tags needs one tag per tt_steptag");

/* Ansor's IteratorAnnotationString: TT_ANN_NONE prints as "for", as in
 * State::ToStr's "for i (0,8)". */
const char *const tt_ann_names[TT_ANN_COUNT] = {
    [TT_ANN_NONE] = "for",           [TT_ANN_UNROLL] = "unroll",
    [TT_ANN_VECTORIZE] = "vectorize", [TT_ANN_PARALLEL] = "parallel",
    [TT_ANN_VTHREAD] = "vthread",     [TT_ANN_BLOCK_X] = "blockIdx.x",
    [TT_ANN_THREAD_X] = "threadIdx.x", [TT_ANN_BLOCK_Y] = "blockIdx.y",
    [TT_ANN_THREAD_Y] = "threadIdx.y", [TT_ANN_BLOCK_Z] = "blockIdx.z",
    [TT_ANN_THREAD_Z] = "threadIdx.z", [TT_ANN_TENSORIZE] = "tensorize",
};
_Static_assert(TT_ANN_COUNT == 12, "tt_ann_names needs one name per tt_ann");
