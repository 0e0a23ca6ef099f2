/* names.c - name tables for the enums of record.h (those of sched.h are in
 * src/sched/names.c, the stage that declares them).
 *
 * Each table is indexed by its enum with designated initializers, so a
 * reordered enum cannot silently shift names, and each is paired with a
 * _Static_assert on the enum's count: adding an enum value fails the build
 * until its name is added here (ggml's convention).
 */
#include "record.h"

/* Ansor's MeasureErrorNO, lower case. */
const char *const tt_errno_names[TT_ERR_COUNT] = {
    [TT_ERR_NO_ERROR] = "ok",
    [TT_ERR_INSTANTIATION] = "instantiation_error",
    [TT_ERR_COMPILE_HOST] = "compile_host_error",
    [TT_ERR_COMPILE_DEVICE] = "compile_device_error",
    [TT_ERR_RUNTIME_DEVICE] = "runtime_device_error",
    [TT_ERR_WRONG_ANSWER] = "wrong_answer",
    [TT_ERR_BUILD_TIMEOUT] = "build_timeout",
    [TT_ERR_RUN_TIMEOUT] = "run_timeout",
    [TT_ERR_UNKNOWN] = "unknown_error",
};
_Static_assert(TT_ERR_COUNT == 9, "tt_errno_names needs one name per tt_errno");
