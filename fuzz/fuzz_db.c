/* fuzz_db.c - libFuzzer target for the database's row reader,
 * tt_db_row_to_record, and the whole check a reader makes, tt_db_row_check
 * (the row's steps replayed on its kernel's DAG): the rows of a database
 * file are outside input (a file may be corrupted, truncated or edited by
 * hand), and every record read goes through them.
 *
 * Input: the 13 columns of a records row, one per line, in the order of
 * tt_db_raw: id, kernel, steps, line, costs, mean_cost, error_no, cpu, isa,
 * threads, origin, source_model, created.  A missing line or the text NULL is
 * an SQL NULL (mean_cost NULL: no mean).  Seeds in fuzz/corpus_db are rows of
 * a database holding the shared ResNet-50 log and tuned records.
 *
 *   make fuzz
 *   mkdir -p build/corpus_db
 *   ./build/fuzz_db -max_total_time=300 -max_len=8192 build/corpus_db fuzz/corpus_db
 *
 * Properties checked (a violation aborts, which libFuzzer reports):
 *   - a refused row always comes with a printable message naming the record;
 *   - an accepted row is in range (steps, costs, origin, target strings), its
 *     mean cost is the mean of its costs, a successful measurement's costs
 *     are positive, and its record writes back to a log line that parses to
 *     the same record;
 *   - tt_db_row_check without a DAG agrees with tt_db_row_to_record; with
 *     each of the first DAGs identify finds for the row's workload key (the
 *     seeds' kernels), it refuses with a message naming the record, or
 *     accepts a row whose steps then replay on that DAG.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/db/db.h"
#include "../src/record/identify.h"
#include "../src/sched/sched.h"

static void check_msg(const tt_err *err)
{
    if (!err->set || !err->msg[0] || !strstr(err->msg, "record"))
        abort();
    for (const char *p = err->msg; *p; p++)
        if (*p < 0x20 || *p >= 0x7f) {
            fprintf(stderr, "unprintable error message: %s\n", err->msg);
            abort();
        }
}

static int str_ok(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    if (len >= n)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (s[i] < 0x20 || s[i] >= 0x7f)
            return 0;
    return 1;
}

static void check_row(const tt_db_row *r)
{
    static tt_record again;
    const tt_record *rec = &r->rec;
    if (rec->nsteps < 0 || rec->nsteps > TT_MAX_STEPS || rec->ncosts < 0 ||
        rec->ncosts > TT_MAX_COSTS || (int)r->origin < 0 || r->origin >= TT_ORIGIN_COUNT ||
        !str_ok(r->target.cpu, sizeof r->target.cpu) ||
        !str_ok(r->target.isa, sizeof r->target.isa) || r->target.threads < 0 ||
        r->source_model < 0 || r->id <= 0 || r->kernel <= 0 || rec->error_no < 0 ||
        rec->error_no >= TT_ERR_COUNT)
        abort();
    double sum = 0;
    for (int i = 0; i < rec->ncosts; i++) {
        if (!isfinite(rec->costs[i]) || rec->costs[i] < 0 ||
            (rec->error_no == 0 && !(rec->costs[i] > 0)))
            abort();
        sum += rec->costs[i];
    }
    if (rec->ncosts == 0 ? r->mean_cost != -1
                         : fabs(r->mean_cost - sum / rec->ncosts) > 1e-9 * fabs(sum / rec->ncosts))
        abort();
    char *w = tt_record_write(rec);
    tt_err e = {0};
    if (!w || tt_record_parse(w, &again, &e)) {
        fprintf(stderr, "accepted row does not write back: %s\n", e.msg);
        abort();
    }
    memcpy(again.version, rec->version, sizeof again.version);
    if (memcmp(&again, rec, sizeof again)) {
        fprintf(stderr, "accepted row changed in a write/parse round trip\n%s\n", w);
        abort();
    }
    free(w);
}

/* Column i of the input (NULL if absent or "NULL"). */
static const char *col(char **cols, int n, int i)
{
    return i < n && strcmp(cols[i], "NULL") ? cols[i] : NULL;
}

static int64_t col_int(char **cols, int n, int i)
{
    const char *s = col(cols, n, i);
    return s ? strtoll(s, NULL, 10) : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = 0;
    char *cols[13];
    int n = 0;
    for (char *p = text; n < 13;) {
        cols[n++] = p;
        char *nl = strchr(p, '\n');
        if (!nl)
            break;
        *nl = 0;
        p = nl + 1;
    }
    const char *mean = col(cols, n, 5);
    const char *created = col(cols, n, 12);
    tt_db_raw raw = {
        .id = col_int(cols, n, 0),
        .kernel = col_int(cols, n, 1),
        .steps = col(cols, n, 2),
        .line = col(cols, n, 3),
        .costs = col(cols, n, 4),
        .has_mean = mean != NULL,
        .mean_cost = mean ? strtod(mean, NULL) : 0,
        .error_no = col_int(cols, n, 6),
        .cpu = col(cols, n, 7),
        .isa = col(cols, n, 8),
        .threads = col_int(cols, n, 9),
        .origin = col(cols, n, 10),
        .source_model = col_int(cols, n, 11),
        .created = created ? strtod(created, NULL) : 0,
    };
    static tt_db_row row, again;
    tt_err err = {0}, e2 = {0};
    int refused = tt_db_row_to_record(&raw, &row, &err) != 0;
    if (refused)
        check_msg(&err);
    else
        check_row(&row);
    if ((tt_db_row_check(&raw, NULL, &again, &e2) != 0) != refused)
        abort();
    if (!refused) {
        /* replayed on the DAGs the row's key may name */
        tt_wl_candidate c[4];
        tt_err ie = {0};
        int n = tt_identify_candidates(row.rec.workload_key,
                                       tt_identify_max_stage(row.rec.steps, row.rec.nsteps), c, 4,
                                       &ie);
        for (int i = 0; i < n; i++) {
            tt_err ce = {0};
            if (tt_db_row_check(&raw, c[i].dag, &again, &ce)) {
                check_msg(&ce);
                continue;
            }
            tt_state *s = tt_state_new(c[i].dag);
            tt_err re = {0};
            if (tt_state_apply_all(s, again.rec.steps, again.rec.nsteps, &re))
                abort();
            tt_state_free(s);
        }
        if (n > 0)
            tt_identify_free(c, n);
    }
    free(text);
    return 0;
}
