/* policy.h - one task's search policy: Ansor's SketchPolicy round.
 *
 * A round (tt_policy_next_batch) proposes up to num_measure new states of the
 * task's DAG to measure, as Ansor's SketchPolicy::SearchOneRound and
 * PickStatesWithEpsGreedy do (docs/reference/ansor.md 3.1):
 *
 *   1. SampleInitPopulation: batches of `evolutionary_search_population`
 *      random annotations of random sketches; invalid samples and those whose
 *      features cannot be extracted (score -inf) are dropped, duplicates (by
 *      the printed loop nest) too, until at least sample_init_min_population
 *      states exist.  After 5 batches without a new state the target is
 *      halved (and stays halved for later rounds).
 *   2. The best min(#measured, use_measured_ratio * population) measured
 *      states (by throughput) join the population; 3 * int(eps * num_measure)
 *      random picks of it are kept aside for eps-greedy.
 *   3. EvolutionarySearch(out = 2 * num_measure): num_iters iterations of
 *      predict -> keep a heap of the best unmeasured unique states -> next
 *      population by roulette selection proportional to max(score, 0), each
 *      pick mutated with probability mutation_prob (one of the four mutations
 *      by weight; a failed mutation is dropped and the pick redrawn).
 *   4. Eps-greedy: num_measure - int(eps * num_measure) from the best, the
 *      rest from the random picks, skipping anything measured already.
 *
 * Deviation, written down in docs/NOTES.md: while the cost model still
 * predicts uniform random numbers (before it is trained), evolution cannot
 * select anything, so no evolution iteration runs and the round's candidates
 * are the random population itself (Ansor runs them anyway with an XGBModel
 * and caps them at 2 with its RandomModel).
 *
 * Everything is deterministic given the seed and the cost model's scores.
 */
#ifndef TT_POLICY_H
#define TT_POLICY_H

#include "../cost/cost.h"
#include "search.h"

typedef struct tt_policy tt_policy;

/* A policy for DAG d (borrowed; must outlive the policy).  p NULL = Ansor's
 * defaults (num_cores 1).  Generates the sketches; fails (err set) if the DAG
 * has none. */
tt_policy *tt_policy_new(const tt_dag *d, const tt_search_params *p, uint64_t seed, tt_err *err);
void tt_policy_free(tt_policy *sp);

int tt_policy_nsketches(const tt_policy *sp);

/* Mark s as measured with this throughput (1 / mean cost; 0 = failed): it is
 * never proposed again, and a good one may join later populations.  s is
 * copied.  Used for the states this policy proposed and for records loaded
 * from a database when resuming. */
void tt_policy_add_measured(tt_policy *sp, const tt_state *s, double throughput);
int tt_policy_nmeasured(const tt_policy *sp);

/* Is a state with this loop nest measured already? */
int tt_policy_is_measured(const tt_policy *sp, const tt_state *s);

/* Statistics of the last round. */
typedef struct tt_policy_stats {
    int sample_batches;      /* SampleInitPopulation batches */
    int population;          /* initial population (sampled + measured) */
    int evolve_iters;        /* evolution iterations run */
    int mutations_ok, mutations_failed;
    int heap;                /* best unmeasured states found */
    int picked;              /* states returned */
    int local;               /* ... of them neighbours of the best measured states */
    double sample_s, evolve_s;
} tt_policy_stats;
const tt_policy_stats *tt_policy_last_stats(const tt_policy *sp);

/* One round: writes up to num_measure new, unmeasured states to out (caller
 * frees each with tt_state_free) and returns their count; 0 means nothing new
 * was found (the task is exhausted); -1 with err set if the cost model fails.
 * The returned states are never proposed again (as Ansor marks picked states
 * measured); call tt_policy_add_measured with their throughputs once they are
 * measured.  m may be NULL (uniform random scores). */
int tt_policy_next_batch(tt_policy *sp, tt_cost_model *m, int num_measure, tt_state **out,
                         tt_err *err);

#endif
