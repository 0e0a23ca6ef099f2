/* fuzz_params.c - libFuzzer target for the search parameters parser
 * (tt_search_params_set), which reads `transtune tune --param NAME=VALUE`.
 *
 * Build and run from the repository root:
 *
 *   make fuzz
 *   mkdir -p build/corpus_params
 *   ./build/fuzz_params -max_total_time=120 build/corpus_params fuzz/corpus_params
 *
 * The input is "NAME=VALUE" (split at the first '='; no '=' means an empty
 * value).  Properties checked (a violation aborts, which libFuzzer reports):
 *   - the call returns 0 or -1; -1 comes with a non-empty message and leaves
 *     every parameter as it was;
 *   - after 0, every parameter is in its documented range: num_cores and the
 *     sizes >= 1, probabilities in [0, 1], every number finite, the tiling
 *     structure made of S and R only, 1 to 8 unroll steps.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../src/search/search.h"

static void check_valid(const tt_search_params *p)
{
    if (p->num_cores < 1 || p->max_innermost_split_factor < 1 || p->max_vectorize_size < 1 ||
        p->sample_init_min_population < 1 || p->evolutionary_search_population < 1 ||
        p->evolutionary_search_num_iters < 0)
        abort();
    double pr[] = {p->eps_greedy, p->sample_init_use_measured_ratio,
                   p->evolutionary_search_mutation_prob};
    for (int i = 0; i < 3; i++)
        if (!(pr[i] >= 0 && pr[i] <= 1))
            abort();
    double w[] = {p->mutate_tile_size, p->mutate_auto_unroll, p->mutate_compute_location,
                  p->mutate_parallel};
    for (int i = 0; i < 4; i++)
        if (!isfinite(w[i]) || w[i] < 0)
            abort();
    size_t n = strnlen(p->tiling_structure, sizeof p->tiling_structure);
    if (n == 0 || n == sizeof p->tiling_structure || strspn(p->tiling_structure, "SRsr") != n)
        abort();
    if (p->nunroll < 1 || p->nunroll > 8)
        abort();
    for (int i = 0; i < p->nunroll; i++)
        if (p->unroll[i] < 0)
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = 0;
    char *eq = strchr(buf, '=');
    const char *value = "";
    if (eq) {
        *eq = 0;
        value = eq + 1;
    }
    tt_search_params p, before;
    tt_search_params_default(&p);
    before = p;
    tt_err err = {0};
    int rc = tt_search_params_set(&p, buf, value, &err);
    if (rc == 0) {
        check_valid(&p);
    } else {
        if (rc != -1 || !err.set || !err.msg[0] || memcmp(&p, &before, sizeof p))
            abort();
    }
    free(buf);
    return 0;
}
