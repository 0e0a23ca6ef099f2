/* search_int.h - internals shared by sketch.c, annotate.c and mutate.c:
 * Ansor's AccessAnalyzer facts and search_policy/utils.h predicates,
 * evaluated on a state's stages (whose ops reflect CHW and RF, as Ansor's
 * current_compute_dag does). */
#ifndef TT_SEARCH_INT_H
#define TT_SEARCH_INT_H

#include "search.h"

#define TS_MAX_STAGES 64

const tt_search_params *ts_params(const tt_search_params *p, tt_search_params *tmp);

int ts_has_reduce(const tt_stage *st);                 /* HasReduceIter */
int ts_is_tiled(const tt_stage *st);                   /* IsTiled */
int ts_is_output(const tt_state *s, int si);           /* no stage reads it */
int ts_strictly_inlineable(const tt_state *s, int si); /* IsStrictlyInlineable */
int ts_needs_mlt(const tt_state *s, int si);           /* NeedsMultiLevelTiling */
/* GetConsumers: stages reading si, looking through inlined stages; returns
 * the count (ids sorted ascending in out). */
int ts_consumers(const tt_state *s, int si, int *out);
int ts_single_consumer(const tt_state *s, int si);     /* GetSingleConsumerId (-1 if none) */
/* HasSingleElementwiseMatchedConsumer; *target = the consumer. */
int ts_single_ew_consumer(const tt_state *s, int si, int *target);
int ts_has_cache_write(const tt_state *s, int si);     /* HasCacheWriteStage */
int ts_needs_rfactor(const tt_state *s, int si, int num_cores);
/* Is some stage computed at iterator `iter` of stage si? */
int ts_is_attach_point(const tt_state *s, int si, int iter);
/* The stage si is attached to (-1 if not attached). */
int ts_attach_stage(const tt_state *s, int si);
/* Extent of a leaf iterator as the state knows it (-1 = unknown). */
int64_t ts_iter_extent(const tt_state *s, int si, int iter);
/* GetComputeLocationCandidates: (stage, iter) pairs, at most max. */
int ts_location_candidates(const tt_state *s, int si, int (*cand)[2], int max);
/* SplitFactorizationMemo::GetFactors: sorted divisors of n; returns count. */
int ts_factors(int64_t n, int64_t *out, int max);

#endif
