/* record.c - Ansor JSON log lines in and out (see record.h).
 *
 * Reading: jansson parses the text into a json_t tree; every field is then
 * checked for its JSON type and its range and copied into the fixed arrays of
 * tt_record / tt_step.  Nothing of the tree outlives the call, and no string
 * from a record reaches generated code: the only strings kept (workload key,
 * targets, cache scope) are bounded and printable ASCII.
 *
 * Writing: the line is assembled as text, with jansson escaping the strings,
 * so that the keys come out in Ansor's order "i", "r", "v" and every double is
 * printed in the shortest form that reads back to the same bits.  Parsing a
 * written record gives back an identical tt_record (apart from the version,
 * which becomes "v0.6").
 *
 * Where a field of a step goes in tt_step (sched.h):
 *   ["AN",   stage, iter, ann]                      -> iter, ann
 *   ["FU",   stage, [ids]]                          -> ids/nids (consecutive)
 *   ["PR",   stage, iter, "auto_unroll_max_step$N"] -> iter, pragma_value = N
 *   ["RE",   stage, [ids]]                          -> ids/nids (distinct)
 *   ["SP",   stage, iter, extent, [lengths], inner_to_outer]
 *                                                   -> iter, extent, len/nlen (null -> 0),
 *                                                      inner_to_outer
 *   ["FSP",  stage, iter, src_step_id, n_split]     -> iter, src_step, n_split
 *   ["FFSP", stage, iter, [src_step_ids], level, factor_or_nparts]
 *                                                   -> iter, ids/nids, level,
 *                                                      inner_to_outer = factor_or_nparts
 *   ["SA",   stage, iter, factor, offset]           -> iter, factor, offset
 *   ["CA",   stage, target_stage, target_iter]      -> target_stage, target_iter
 *   ["CI",   stage] / ["CR", stage]                 -> stage
 *   ["CHR",  stage, "scope", [reader_stage_ids]]    -> scope, ids/nids
 *   ["CHW",  stage, "scope"]                        -> scope
 *   ["RF",   stage, iter, factor_iter_id]           -> iter, target_iter = factor_iter_id
 */
#define _POSIX_C_SOURCE 200809L /* getc_unlocked, strnlen */
#include "record.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

/* Bounds that the record alone lets us check.  Ids are checked against the
 * state when a step is applied; these only keep absurd values out. */
#define REC_MAX_ID 65535          /* stage, iterator and step ids */
#define REC_MAX_EXTENT 2147483647 /* SP extent, split lengths and their product (TVM int32) */
#define REC_MAX_UNROLL 65536      /* auto_unroll_max_step */
#define REC_MAX_INPUT_NAMES 64    /* task_input_names: checked, then dropped */
#define REC_MAX_INPUT_NAME 256
#define REC_MAX_HW 8              /* HardwareParams fields */

static const char *const rec_versions[] = {"v0.6", "v0.5", "v0.4", "v0.3"};

/* ---- helpers shared by the readers ---------------------------------------- */

/* Copy at most 24 bytes of s for an error message, with anything but
 * printable ASCII shown as '?', so hostile input cannot garble a terminal. */
static const char *rec_clean(const char *s, char out[32])
{
    size_t i = 0;
    for (; s[i] && i < 24; i++)
        out[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
    if (s[i])
        memcpy(out + i, "...", 4);
    else
        out[i] = 0;
    return out;
}

static const char *rec_jtype(const json_t *v)
{
    if (!v)
        return "nothing";
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "object";
    case JSON_ARRAY: return "array";
    case JSON_STRING: return "string";
    case JSON_INTEGER: return "integer";
    case JSON_REAL: return "real";
    case JSON_TRUE:
    case JSON_FALSE: return "boolean";
    case JSON_NULL: return "null";
    }
    return "unknown";
}

/* 1 if s[0..n) is printable ASCII (or, with ident, only [A-Za-z0-9_.:-]). */
static int rec_charset_ok(const char *s, size_t n, int ident)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x20 || ch >= 0x7f)
            return 0;
        if (ident && !((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                       (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == ':' ||
                       ch == '-'))
            return 0;
    }
    return 1;
}

/* Parse text with jansson; on failure set err ("<who>: malformed JSON ..."). */
static json_t *rec_load(const char *text, const char *who, tt_err *err)
{
    if (!text) {
        tt_err_set(err, "%s: no input", who);
        return NULL;
    }
    json_error_t je;
    json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        char msg[sizeof je.text];
        /* je.text may quote the offending token: keep it printable. */
        size_t i = 0;
        for (; je.text[i] && i + 1 < sizeof msg; i++)
            msg[i] = (je.text[i] >= 0x20 && je.text[i] < 0x7f) ? je.text[i] : '?';
        msg[i] = 0;
        tt_err_set(err, "%s: malformed JSON at byte %d: %s", who, je.position, msg);
    }
    return root;
}

/* ---- steps: reading ------------------------------------------------------- */

typedef struct rec_sctx {
    tt_err *err;
    int index;                 /* step index, for messages */
    const char *tag;           /* NULL until the tag is known */
} rec_sctx;

static int rec_serr(const rec_sctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int rec_serr(const rec_sctx *c, const char *fmt, ...)
{
    char msg[TT_ERR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (c->tag)
        return tt_err_set(c->err, "step %d (%s): %s", c->index, c->tag, msg);
    return tt_err_set(c->err, "step %d: %s", c->index, msg);
}

/* v must be an integer in [lo, hi]. */
static int rec_sint_value(const rec_sctx *c, const json_t *v, const char *what, int64_t lo,
                          int64_t hi, int64_t *out)
{
    if (!json_is_integer(v))
        return rec_serr(c, "%s must be an integer, got %s", what, rec_jtype(v));
    long long x = json_integer_value(v);
    if (x < lo) {
        if (lo == 0)
            return rec_serr(c, "%s must be non-negative, got %lld", what, x);
        return rec_serr(c, "%s must be at least %lld, got %lld", what, (long long)lo, x);
    }
    if (x > hi)
        return rec_serr(c, "%s %lld out of range (max %lld)", what, x, (long long)hi);
    *out = x;
    return 0;
}

static int rec_sint(const rec_sctx *c, json_t *a, size_t idx, const char *what, int64_t lo,
                    int64_t hi, int64_t *out)
{
    return rec_sint_value(c, json_array_get(a, idx), what, lo, hi, out);
}

static int rec_sid(const rec_sctx *c, json_t *a, size_t idx, const char *what, int *out)
{
    int64_t x;
    if (rec_sint(c, a, idx, what, 0, REC_MAX_ID, &x))
        return -1;
    *out = (int)x;
    return 0;
}

/* A flag: Ansor writes 0/1; JSON booleans are accepted too. */
static int rec_sbool(const rec_sctx *c, json_t *a, size_t idx, const char *what, int *out)
{
    json_t *v = json_array_get(a, idx);
    if (json_is_boolean(v)) {
        *out = json_is_true(v);
        return 0;
    }
    int64_t x;
    if (rec_sint_value(c, v, what, 0, 1, &x))
        return -1;
    *out = (int)x;
    return 0;
}

/* An array of at most TT_MAX_STEP_IDS ids. */
static int rec_sids(const rec_sctx *c, json_t *a, size_t idx, const char *what, int *ids, int *n)
{
    json_t *v = json_array_get(a, idx);
    if (!json_is_array(v))
        return rec_serr(c, "%s must be an array, got %s", what, rec_jtype(v));
    size_t m = json_array_size(v);
    if (m > TT_MAX_STEP_IDS)
        return rec_serr(c, "too many %s (%zu, max %d)", what, m, TT_MAX_STEP_IDS);
    for (size_t k = 0; k < m; k++) {
        char w[64];
        int64_t x;
        snprintf(w, sizeof w, "%s[%zu]", what, k);
        if (rec_sint_value(c, json_array_get(v, k), w, 0, REC_MAX_ID, &x))
            return -1;
        ids[k] = (int)x;
    }
    *n = (int)m;
    return 0;
}

/* A cache scope such as "local": short, [A-Za-z0-9_.:-] only. */
static int rec_sscope(const rec_sctx *c, json_t *a, size_t idx, char *dst, size_t cap)
{
    json_t *v = json_array_get(a, idx);
    if (!json_is_string(v))
        return rec_serr(c, "scope must be a string, got %s", rec_jtype(v));
    size_t n = json_string_length(v);
    const char *s = json_string_value(v);
    char b[32];
    if (n == 0 || n >= cap)
        return rec_serr(c, "scope must be 1..%zu characters, got %zu", cap - 1, n);
    if (!rec_charset_ok(s, n, 1))
        return rec_serr(c, "scope \"%s\" has characters other than [A-Za-z0-9_.:-]",
                        rec_clean(s, b));
    memcpy(dst, s, n + 1);
    return 0;
}

/* "auto_unroll_max_step$N", N a decimal integer in 0..REC_MAX_UNROLL. */
static int rec_spragma(const rec_sctx *c, json_t *a, size_t idx, int64_t *out)
{
    static const char pre[] = "auto_unroll_max_step$";
    const size_t np = sizeof pre - 1;
    json_t *v = json_array_get(a, idx);
    if (!json_is_string(v))
        return rec_serr(c, "pragma must be a string, got %s", rec_jtype(v));
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    char b[32];
    if (n < np || memcmp(s, pre, np) != 0)
        return rec_serr(c, "unsupported pragma \"%s\" (only auto_unroll_max_step$N)",
                        rec_clean(s, b));
    /* At most 6 digits: enough for 65536 with a few leading zeros, and no
     * chance of overflow before the range check. */
    if (n == np || n - np > 6)
        return rec_serr(c, "auto_unroll_max_step needs an integer in 0..%d, got \"%s\"",
                        REC_MAX_UNROLL, rec_clean(s + np, b));
    int64_t x = 0;
    for (size_t i = np; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return rec_serr(c, "auto_unroll_max_step needs an integer in 0..%d, got \"%s\"",
                            REC_MAX_UNROLL, rec_clean(s + np, b));
        x = x * 10 + (s[i] - '0');
    }
    if (x > REC_MAX_UNROLL)
        return rec_serr(c, "auto_unroll_max_step %lld out of range (max %d)", (long long)x,
                        REC_MAX_UNROLL);
    *out = x;
    return 0;
}

/* `src` must name an earlier SP step (FSP and FFSP follow a split by index). */
static int rec_check_src(const rec_sctx *c, int src, const tt_step *prev)
{
    if (src >= c->index)
        return rec_serr(c, "source step %d is not an earlier step", src);
    if (prev[src].tag != TT_STEP_SP)
        return rec_serr(c, "source step %d is %s, not SP", src, tt_step_tags[prev[src].tag]);
    return 0;
}

/* ---- one parser per step form ----------------------------------------------
 * Each reads the fields after ["TAG", stage, ...] (the tag and the stage id
 * are read by rec_parse_step) into st; prev holds the steps before it. */

/* ["SP", stage, iter, extent, [lengths], inner_to_outer].  A null length is a
 * sketch placeholder (0 = not chosen yet); an integer must be positive. */
static int rec_parse_split(const rec_sctx *c, json_t *js, const tt_step *prev, tt_step *st)
{
    if (rec_sid(c, js, 2, "iterator id", &st->iter) ||
        rec_sint(c, js, 3, "extent", 0, REC_MAX_EXTENT, &st->extent))
        return -1;
    json_t *l = json_array_get(js, 4);
    if (!json_is_array(l))
        return rec_serr(c, "lengths must be an array, got %s", rec_jtype(l));
    size_t m = json_array_size(l);
    if (m == 0 || m > TT_MAX_SPLIT)
        return rec_serr(c, "a split needs 1..%d lengths, got %zu", TT_MAX_SPLIT, m);
    int64_t prod = 1;
    for (size_t k = 0; k < m; k++) {
        json_t *e = json_array_get(l, k);
        if (json_is_null(e))
            continue; /* len[k] stays 0 */
        if (!json_is_integer(e))
            return rec_serr(c, "split length %zu must be an integer or null, got %s", k,
                            rec_jtype(e));
        long long x = json_integer_value(e);
        if (x <= 0)
            return rec_serr(c, "split factor must be positive, got %lld", x);
        /* The product bounds every loop extent derived from this split. */
        if (x > REC_MAX_EXTENT / prod)
            return rec_serr(c, "split factors multiply to more than %d", REC_MAX_EXTENT);
        prod *= x;
        st->len[k] = x;
    }
    st->nlen = (int)m;
    return rec_sbool(c, js, 5, "inner_to_outer", &st->inner_to_outer);
}

/* ["AN", stage, iter, ann]: ann an IteratorAnnotation code. */
static int rec_parse_an(const rec_sctx *c, json_t *js, const tt_step *prev, tt_step *st)
{
    if (rec_sid(c, js, 2, "iterator id", &st->iter))
        return -1;
    if (!json_is_integer(json_array_get(js, 3)))
        return rec_serr(c, "annotation must be an integer, got %s", rec_jtype(json_array_get(js, 3)));
    int64_t x = json_integer_value(json_array_get(js, 3));
    if (x < 0 || x >= TT_ANN_COUNT)
        return rec_serr(c, "annotation code %lld out of range 0..%d", (long long)x, TT_ANN_COUNT - 1);
    st->ann = (tt_ann)x;
    return 0;
}

/* ["FU", stage, [ids]]: at least one id, consecutive. */
static int rec_parse_fu(const rec_sctx *c, json_t *js, const tt_step *prev, tt_step *st)
{
    if (rec_sids(c, js, 2, "fused iterator ids", st->ids, &st->nids))
        return -1;
    if (st->nids == 0)
        return rec_serr(c, "fuse needs at least one iterator");
    for (int k = 1; k < st->nids; k++)
        if (st->ids[k] != st->ids[k - 1] + 1)
            return rec_serr(c, "fused iterator ids must be consecutive, got %d after %d", st->ids[k],
                            st->ids[k - 1]);
    return 0;
}

/* ["PR", stage, iter, "auto_unroll_max_step$N"] */
static int rec_parse_pr(const rec_sctx *c, json_t *js, const tt_step *prev, tt_step *st)
{
    if (rec_sid(c, js, 2, "iterator id", &st->iter))
        return -1;
    return rec_spragma(c, js, 3, &st->pragma_value);
}

/* ["RE", stage, [ids]]: at least one id, all distinct. */
static int rec_parse_re(const rec_sctx *c, json_t *js, const tt_step *prev, tt_step *st)
{
    if (rec_sids(c, js, 2, "reorder ids", st->ids, &st->nids))
        return -1;
    if (st->nids == 0)
        return rec_serr(c, "reorder needs at least one iterator");
    for (int a = 0; a < st->nids; a++)
        for (int b = a + 1; b < st->nids; b++)
            if (st->ids[a] == st->ids[b])
                return rec_serr(c, "iterator %d appears twice in the new order", st->ids[a]);
    return 0;
}

/* ["FSP", stage, iter, src_step_id, n_split]: src_step_id an earlier SP. */
static int rec_parse_fsp(const rec_sctx *c, json_t *js, const tt_step *prev, tt_step *st)
{
    if (rec_sid(c, js, 2, "iterator id", &st->iter) || rec_sid(c, js, 3, "source step id", &st->src_step) ||
        rec_check_src(c, st->src_step, prev))
        return -1;
    /* Ansor allows n_split up to the source's lengths + 1; we also cap it
     * at TT_MAX_SPLIT so the follow split has at most TT_MAX_SPLIT + 1 parts. */
    int64_t x = prev[st->src_step].nlen + 1;
    if (x > TT_MAX_SPLIT)
        x = TT_MAX_SPLIT;
    if (rec_sint(c, js, 4, "n_split", 1, x, &x))
        return -1;
    st->n_split = (int)x;
    return 0;
}

/* ["FFSP", stage, iter, [src_step_ids], level, factor_or_nparts]: at least
 * one source, each an earlier SP with more than `level` lengths. */
static int rec_parse_ffsp(const rec_sctx *c, json_t *js, const tt_step *prev, tt_step *st)
{
    int64_t x;
    if (rec_sid(c, js, 2, "iterator id", &st->iter) ||
        rec_sids(c, js, 3, "source step ids", st->ids, &st->nids) ||
        rec_sint(c, js, 4, "level", 0, TT_MAX_SPLIT - 1, &x) ||
        rec_sbool(c, js, 5, "factor_or_nparts", &st->inner_to_outer))
        return -1;
    st->level = (int)x;
    if (st->nids == 0)
        return rec_serr(c, "follow fused split needs at least one source step");
    for (int k = 0; k < st->nids; k++) {
        if (rec_check_src(c, st->ids[k], prev))
            return -1;
        if (st->level >= prev[st->ids[k]].nlen)
            return rec_serr(c, "level %d exceeds the %d lengths of source step %d", st->level,
                            prev[st->ids[k]].nlen, st->ids[k]);
    }
    return 0;
}

/* ["SA", stage, iter, factor, offset] */
static int rec_parse_sa(const rec_sctx *c, json_t *js, const tt_step *prev, tt_step *st)
{
    if (rec_sid(c, js, 2, "iterator id", &st->iter) ||
        rec_sint(c, js, 3, "factor", 1, REC_MAX_EXTENT, &st->factor) ||
        rec_sint(c, js, 4, "offset", 0, REC_MAX_EXTENT, &st->offset))
        return -1;
    return 0;
}

/* ["CA", stage, target_stage, target_iter] */
static int rec_parse_ca(const rec_sctx *c, json_t *js, const tt_step *prev, tt_step *st)
{
    if (rec_sid(c, js, 2, "target stage id", &st->target_stage) ||
        rec_sid(c, js, 3, "target iterator id", &st->target_iter))
        return -1;
    return 0;
}

/* ["CI", stage] and ["CR", stage]: nothing after the stage. */
static int rec_parse_stage_only(const rec_sctx *c, json_t *js, const tt_step *prev, tt_step *st)
{
    return 0;
}

/* ["CHR", stage, "scope", [reader_stage_ids]] */
static int rec_parse_chr(const rec_sctx *c, json_t *js, const tt_step *prev, tt_step *st)
{
    if (rec_sscope(c, js, 2, st->scope, sizeof st->scope) ||
        rec_sids(c, js, 3, "reader stage ids", st->ids, &st->nids))
        return -1;
    return 0;
}

/* ["CHW", stage, "scope"] */
static int rec_parse_chw(const rec_sctx *c, json_t *js, const tt_step *prev, tt_step *st)
{
    return rec_sscope(c, js, 2, st->scope, sizeof st->scope);
}

/* ["RF", stage, iter, factor_iter_id] */
static int rec_parse_rf(const rec_sctx *c, json_t *js, const tt_step *prev, tt_step *st)
{
    if (rec_sid(c, js, 2, "iterator id", &st->iter) ||
        rec_sid(c, js, 3, "factor iterator id", &st->target_iter))
        return -1;
    return 0;
}

/* Each step form: its number of array elements (tag included) and its
 * parser. */
typedef struct rec_step_form {
    size_t nfields;
    int (*parse)(const rec_sctx *c, json_t *js, const tt_step *prev, tt_step *st);
} rec_step_form;

static const rec_step_form rec_step_forms[TT_STEP_COUNT] = {
    [TT_STEP_AN] = {4, rec_parse_an},          [TT_STEP_FU] = {3, rec_parse_fu},
    [TT_STEP_PR] = {4, rec_parse_pr},          [TT_STEP_RE] = {3, rec_parse_re},
    [TT_STEP_SP] = {6, rec_parse_split},       [TT_STEP_FSP] = {5, rec_parse_fsp},
    [TT_STEP_FFSP] = {6, rec_parse_ffsp},      [TT_STEP_SA] = {5, rec_parse_sa},
    [TT_STEP_CA] = {4, rec_parse_ca},          [TT_STEP_CI] = {2, rec_parse_stage_only},
    [TT_STEP_CR] = {2, rec_parse_stage_only},  [TT_STEP_CHR] = {4, rec_parse_chr},
    [TT_STEP_CHW] = {3, rec_parse_chw},        [TT_STEP_RF] = {4, rec_parse_rf},
};
_Static_assert(TT_STEP_COUNT == 14, "rec_step_forms needs one form per tt_steptag");

/* Parse steps[index] from js; prev holds the steps before it.
 *   step := ["TAG", stage, field...]   (TAG one of tt_step_tags; its fields
 *                                       as rec_step_forms[TAG] reads them)  */
static int rec_parse_step(json_t *js, int index, const tt_step *prev, tt_step *st, tt_err *err)
{
    rec_sctx c = {err, index, NULL};
    memset(st, 0, sizeof *st);
    if (!json_is_array(js) || json_array_size(js) == 0 || !json_is_string(json_array_get(js, 0)))
        return rec_serr(&c, "expected an array [\"TAG\", ...], got %s%s", rec_jtype(js),
                        json_is_array(js) ? " without a tag string" : "");
    const char *tag = json_string_value(json_array_get(js, 0));
    int t = -1;
    for (int k = 0; k < TT_STEP_COUNT; k++)
        if (strcmp(tag, tt_step_tags[k]) == 0)
            t = k;
    if (t < 0) {
        char b[32];
        return rec_serr(&c, "unknown step tag \"%s\"", rec_clean(tag, b));
    }
    const rec_step_form *form = &rec_step_forms[t];
    if (!form->parse)
        abort(); /* a tag without its form in rec_step_forms */
    c.tag = tt_step_tags[t];
    st->tag = (tt_steptag)t;
    size_t nf = json_array_size(js);
    if (nf != form->nfields)
        return rec_serr(&c, "expected %zu fields after the tag, got %zu", form->nfields - 1, nf - 1);
    if (rec_sid(&c, js, 1, "stage id", &st->stage))
        return -1;
    return form->parse(&c, js, prev, st);
}

static int rec_parse_steps(json_t *arr, tt_step *steps, int max, int *n, tt_err *err)
{
    if (!json_is_array(arr))
        return tt_err_set(err, "steps must be an array, got %s", rec_jtype(arr));
    size_t m = json_array_size(arr);
    if (max < 0 || m > (size_t)max)
        return tt_err_set(err, "too many steps (%zu, max %d)", m, max);
    for (size_t i = 0; i < m; i++)
        if (rec_parse_step(json_array_get(arr, i), (int)i, steps, &steps[i], err))
            return -1;
    *n = (int)m;
    return 0;
}

/* Parse a bare steps array (`[["SP", ...], ...]`) into steps[0..max).
 * Each step is checked exactly as in tt_record_parse.  Returns 0 and sets *n,
 * or -1 with err naming the step index and tag (and *n = 0). */
int tt_steps_parse(const char *json, tt_step *steps, int max, int *n, tt_err *err)
{
    *n = 0;
    json_t *root = rec_load(json, "steps", err);
    if (!root)
        return -1;
    int rc = rec_parse_steps(root, steps, max, n, err);
    json_decref(root);
    if (rc)
        *n = 0;
    return rc;
}

/* ---- records: reading ----------------------------------------------------- */

static int rec_rerr(tt_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int rec_rerr(tt_err *err, const char *fmt, ...)
{
    char msg[TT_ERR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return tt_err_set(err, "record: %s", msg);
}

/* v must be a printable-ASCII string shorter than cap; copied into dst. */
static int rec_rstr(tt_err *err, const json_t *v, const char *what, char *dst, size_t cap)
{
    if (!json_is_string(v))
        return rec_rerr(err, "%s must be a string, got %s", what, rec_jtype(v));
    size_t n = json_string_length(v);
    if (n >= cap)
        return rec_rerr(err, "%s too long (%zu bytes, max %zu)", what, n, cap - 1);
    if (!rec_charset_ok(json_string_value(v), n, 0))
        return rec_rerr(err, "%s has characters other than printable ASCII", what);
    if (dst)
        memcpy(dst, json_string_value(v), n + 1);
    return 0;
}

static int rec_rint(tt_err *err, const json_t *v, const char *what, int64_t lo, int64_t hi,
                    int64_t *out)
{
    if (!json_is_integer(v))
        return rec_rerr(err, "%s must be an integer, got %s", what, rec_jtype(v));
    long long x = json_integer_value(v);
    if (x < lo || x > hi)
        return rec_rerr(err, "%s %lld out of range %lld..%lld", what, x, (long long)lo,
                        (long long)hi);
    *out = x;
    return 0;
}

/* A time in seconds: any finite non-negative JSON number. */
static int rec_rnum(tt_err *err, const json_t *v, const char *what, double *out)
{
    if (!json_is_number(v))
        return rec_rerr(err, "%s must be a number, got %s", what, rec_jtype(v));
    double x = json_number_value(v);
    if (!isfinite(x) || x < 0)
        return rec_rerr(err, "%s must be a finite non-negative number", what);
    /* -0.0 becomes 0.0, so that a written "-0" (an integer) reads back equal. */
    *out = x == 0 ? 0.0 : x;
    return 0;
}

/* i[0] = [workload_key, target, hw_params, target_host, layout_rewrite,
 * task_input_names].  As Ansor's reader does, accept the prefixes of length
 * 2, 3, 5 and 6 (v0.3 logs stop after hw_params, v0.5 before the names). */
static int rec_parse_task(json_t *t, tt_record *rec, tt_err *err)
{
    if (!json_is_array(t))
        return rec_rerr(err, "i[0] (task) must be an array, got %s", rec_jtype(t));
    size_t n = json_array_size(t);
    if (n < 2 || n == 4 || n > 6)
        return rec_rerr(err, "i[0] (task) must have 2, 3, 5 or 6 fields, got %zu", n);
    if (rec_rstr(err, json_array_get(t, 0), "workload key", rec->workload_key,
                 sizeof rec->workload_key) ||
        rec_rstr(err, json_array_get(t, 1), "target", rec->target, sizeof rec->target))
        return -1;
    if (n >= 3) {
        json_t *hw = json_array_get(t, 2);
        if (!json_is_array(hw))
            return rec_rerr(err, "hardware params must be an array, got %s", rec_jtype(hw));
        if (json_array_size(hw) > REC_MAX_HW)
            return rec_rerr(err, "too many hardware params (%zu, max %d)", json_array_size(hw),
                            REC_MAX_HW);
        for (size_t k = 0; k < json_array_size(hw); k++) {
            char w[48];
            snprintf(w, sizeof w, "hardware param %zu", k);
            if (rec_rint(err, json_array_get(hw, k), w, -2147483647 - 1, 2147483647,
                         &rec->hw[k]))
                return -1;
        }
        rec->nhw = (int)json_array_size(hw);
    }
    if (n >= 5) {
        int64_t lr;
        if (rec_rstr(err, json_array_get(t, 3), "target host", rec->target_host,
                     sizeof rec->target_host) ||
            rec_rint(err, json_array_get(t, 4), "layout rewrite option", 0, 2, &lr))
            return -1;
        rec->layout_rewrite = (int)lr;
    }
    if (n == 6) {
        /* Names of special task inputs; transtune has none, but check them. */
        json_t *names = json_array_get(t, 5);
        if (!json_is_array(names))
            return rec_rerr(err, "task input names must be an array, got %s",
                            rec_jtype(names));
        if (json_array_size(names) > REC_MAX_INPUT_NAMES)
            return rec_rerr(err, "too many task input names (max %d)", REC_MAX_INPUT_NAMES);
        for (size_t k = 0; k < json_array_size(names); k++)
            if (rec_rstr(err, json_array_get(names, k), "task input name", NULL,
                         REC_MAX_INPUT_NAME))
                return -1;
    }
    return 0;
}

/* "i": [task, [[], steps]] */
static int rec_parse_input(json_t *in, tt_record *rec, tt_err *err)
{
    if (!json_is_array(in) || json_array_size(in) != 2)
        return rec_rerr(err, "\"i\" must be an array [task, state], got %s%s", rec_jtype(in),
                        json_is_array(in) ? " of the wrong size" : "");
    if (rec_parse_task(json_array_get(in, 0), rec, err))
        return -1;
    json_t *state = json_array_get(in, 1);
    if (!json_is_array(state) || json_array_size(state) != 2)
        return rec_rerr(err, "i[1] (state) must be an array [[], steps], got %s%s",
                        rec_jtype(state), json_is_array(state) ? " of the wrong size" : "");
    json_t *stages = json_array_get(state, 0);
    /* Ansor always writes the stage list empty: the state is its steps. */
    if (!json_is_array(stages) || json_array_size(stages) != 0)
        return rec_rerr(err, "i[1][0] (stages) must be an empty array");
    return rec_parse_steps(json_array_get(state, 1), rec->steps, TT_MAX_STEPS, &rec->nsteps,
                           err);
}

/* "r": [costs, error_no, all_cost, timestamp] */
static int rec_parse_result(json_t *r, tt_record *rec, tt_err *err)
{
    if (!json_is_array(r) || json_array_size(r) != 4)
        return rec_rerr(err, "\"r\" must be an array [costs, error_no, all_cost, timestamp]");
    json_t *costs = json_array_get(r, 0);
    if (!json_is_array(costs))
        return rec_rerr(err, "costs must be an array, got %s", rec_jtype(costs));
    if (json_array_size(costs) > TT_MAX_COSTS)
        return rec_rerr(err, "too many costs (%zu, max %d)", json_array_size(costs),
                        TT_MAX_COSTS);
    for (size_t k = 0; k < json_array_size(costs); k++)
        if (rec_rnum(err, json_array_get(costs, k), "cost", &rec->costs[k]))
            return -1;
    rec->ncosts = (int)json_array_size(costs);
    int64_t e;
    if (rec_rint(err, json_array_get(r, 1), "error_no", 0, TT_ERR_COUNT - 1, &e))
        return -1;
    rec->error_no = (int)e;
    return rec_rnum(err, json_array_get(r, 2), "all_cost", &rec->all_cost) ||
                   rec_rnum(err, json_array_get(r, 3), "timestamp", &rec->timestamp)
               ? -1
               : 0;
}

static int rec_parse_root(json_t *root, tt_record *rec, tt_err *err)
{
    if (!json_is_object(root))
        return rec_rerr(err, "expected a JSON object, got %s", rec_jtype(root));
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val) {
        char b[32];
        (void)val;
        if (strcmp(key, "i") && strcmp(key, "r") && strcmp(key, "v"))
            return rec_rerr(err, "unknown key \"%s\"", rec_clean(key, b));
    }
    json_t *v = json_object_get(root, "v");
    if (!v)
        return rec_rerr(err, "missing \"v\" (version)");
    if (rec_rstr(err, v, "version", rec->version, sizeof rec->version))
        return -1;
    int known = 0;
    for (size_t k = 0; k < sizeof rec_versions / sizeof rec_versions[0]; k++)
        known |= strcmp(rec->version, rec_versions[k]) == 0;
    if (!known) {
        char b[32];
        return rec_rerr(err, "unsupported version \"%s\" (v0.3 to v0.6)",
                        rec_clean(rec->version, b));
    }
    json_t *in = json_object_get(root, "i"), *r = json_object_get(root, "r");
    if (!in)
        return rec_rerr(err, "missing \"i\" (task and steps)");
    if (!r)
        return rec_rerr(err, "missing \"r\" (measure result)");
    if (rec_parse_input(in, rec, err))
        return -1;
    return rec_parse_result(r, rec, err);
}

/* Parse one log line (see record.h for the accepted layouts).  rec is fully
 * overwritten (zeroed first, so two parses of equal lines compare equal with
 * memcmp); on failure its contents are unspecified.  Errors about a step read
 * "step N (TAG): ..."; the others "record: ..." or "...: malformed JSON". */
int tt_record_parse(const char *line, tt_record *rec, tt_err *err)
{
    memset(rec, 0, sizeof *rec);
    rec->layout_rewrite = -1;
    json_t *root = rec_load(line, "record", err);
    if (!root)
        return -1;
    int rc = rec_parse_root(root, rec, err);
    json_decref(root);
    return rc;
}

/* ---- writing -------------------------------------------------------------- */

/* Append str (at most cap bytes, NUL included) as a JSON string.  Fails on a
 * string the reader would refuse (unterminated or not printable ASCII). */
static int rec_cat_jstr(tt_str *s, const char *str, size_t cap)
{
    size_t n = strnlen(str, cap);
    if (n == cap || !rec_charset_ok(str, n, 0))
        return -1;
    json_t *j = json_stringn(str, n);
    if (!j)
        return -1;
    char *t = json_dumps(j, JSON_ENCODE_ANY);
    json_decref(j);
    if (!t)
        return -1;
    tt_str_cat(s, t);
    json_free_t jfree;
    json_get_alloc_funcs(NULL, &jfree);
    jfree(t);
    return 0;
}

/* Append x in the shortest %g form that reads back to the same double, as a
 * JSON real ("1.0", not "1").  Fails on NaN and infinities (not JSON). */
static int rec_cat_double(tt_str *s, double x)
{
    if (!isfinite(x))
        return -1;
    char buf[48];
    for (int p = 15; p <= 17; p++) {
        snprintf(buf, sizeof buf, "%.*g", p, x);
        if (strtod(buf, NULL) == x)
            break;
    }
    /* snprintf follows LC_NUMERIC; JSON wants '.'. */
    for (char *q = buf; *q; q++)
        if (*q == ',')
            *q = '.';
    if (!strpbrk(buf, ".eE"))
        strcat(buf, ".0");
    tt_str_cat(s, buf);
    return 0;
}

static void rec_cat_ids(tt_str *s, const int *ids, int n)
{
    tt_str_cat(s, "[");
    for (int k = 0; k < n; k++)
        tt_str_catf(s, k ? ",%d" : "%d", ids[k]);
    tt_str_cat(s, "]");
}

static int rec_cat_step(tt_str *s, const tt_step *st)
{
    if ((unsigned)st->tag >= TT_STEP_COUNT || st->nids < 0 || st->nids > TT_MAX_STEP_IDS ||
        st->nlen < 0 || st->nlen > TT_MAX_SPLIT || (st->tag == TT_STEP_SP && st->nlen == 0))
        return -1;
    tt_str_catf(s, "[\"%s\",%d", tt_step_tags[st->tag], st->stage);
    switch (st->tag) {
    case TT_STEP_AN:
        tt_str_catf(s, ",%d,%d", st->iter, (int)st->ann);
        break;
    case TT_STEP_FU:
    case TT_STEP_RE:
        tt_str_cat(s, ",");
        rec_cat_ids(s, st->ids, st->nids);
        break;
    case TT_STEP_PR:
        tt_str_catf(s, ",%d,\"auto_unroll_max_step$%lld\"", st->iter,
                    (long long)st->pragma_value);
        break;
    case TT_STEP_SP:
        tt_str_catf(s, ",%d,%lld,[", st->iter, (long long)st->extent);
        for (int k = 0; k < st->nlen; k++) {
            if (k)
                tt_str_cat(s, ",");
            if (st->len[k] == 0)
                tt_str_cat(s, "null"); /* not chosen yet (sketch) */
            else
                tt_str_catf(s, "%lld", (long long)st->len[k]);
        }
        tt_str_catf(s, "],%d", st->inner_to_outer);
        break;
    case TT_STEP_FSP:
        tt_str_catf(s, ",%d,%d,%d", st->iter, st->src_step, st->n_split);
        break;
    case TT_STEP_FFSP:
        tt_str_catf(s, ",%d,", st->iter);
        rec_cat_ids(s, st->ids, st->nids);
        tt_str_catf(s, ",%d,%d", st->level, st->inner_to_outer);
        break;
    case TT_STEP_SA:
        tt_str_catf(s, ",%d,%lld,%lld", st->iter, (long long)st->factor, (long long)st->offset);
        break;
    case TT_STEP_CA:
        tt_str_catf(s, ",%d,%d", st->target_stage, st->target_iter);
        break;
    case TT_STEP_CI:
    case TT_STEP_CR:
        break;
    case TT_STEP_CHR:
    case TT_STEP_CHW:
        tt_str_cat(s, ",");
        if (rec_cat_jstr(s, st->scope, sizeof st->scope))
            return -1;
        if (st->tag == TT_STEP_CHR) {
            tt_str_cat(s, ",");
            rec_cat_ids(s, st->ids, st->nids);
        }
        break;
    case TT_STEP_RF:
        tt_str_catf(s, ",%d,%d", st->iter, st->target_iter);
        break;
    case TT_STEP_COUNT:
        return -1;
    }
    tt_str_cat(s, "]");
    return 0;
}

static int rec_cat_steps(tt_str *s, const tt_step *steps, int n)
{
    tt_str_cat(s, "[");
    for (int i = 0; i < n; i++) {
        if (i)
            tt_str_cat(s, ",");
        if (rec_cat_step(s, &steps[i]))
            return -1;
    }
    tt_str_cat(s, "]");
    return 0;
}

/* Serialize steps as the JSON array Ansor writes (compact).  Returns a string
 * the caller frees, or NULL if a step cannot be written (unknown tag, a count
 * out of range, a bad scope string). */
char *tt_steps_write(const tt_step *steps, int n)
{
    if (n < 0)
        return NULL;
    tt_str s;
    tt_str_init(&s);
    if (rec_cat_steps(&s, steps, n)) {
        tt_str_free(&s);
        return NULL;
    }
    return tt_str_take(&s);
}

static int rec_cat_record(tt_str *s, const tt_record *rec)
{
    if (rec->nhw < 0 || rec->nhw > REC_MAX_HW || rec->nsteps < 0 ||
        rec->nsteps > TT_MAX_STEPS || rec->ncosts < 0 || rec->ncosts > TT_MAX_COSTS)
        return -1;
    tt_str_cat(s, "{\"i\":[[");
    if (rec_cat_jstr(s, rec->workload_key, sizeof rec->workload_key))
        return -1;
    tt_str_cat(s, ",");
    if (rec_cat_jstr(s, rec->target, sizeof rec->target))
        return -1;
    tt_str_cat(s, ",[");
    for (int k = 0; k < rec->nhw; k++)
        tt_str_catf(s, k ? ",%lld" : "%lld", (long long)rec->hw[k]);
    tt_str_cat(s, "]");
    /* A v0.3 record (no layout option, hence no target host) is written in
     * its short form, which Ansor's reader accepts under any version, so that
     * it reads back identical.  A record with a host but no option gets 0. */
    if (rec->layout_rewrite >= 0 || rec->target_host[0]) {
        tt_str_cat(s, ",");
        if (rec_cat_jstr(s, rec->target_host, sizeof rec->target_host))
            return -1;
        tt_str_catf(s, ",%d,[]", rec->layout_rewrite >= 0 ? rec->layout_rewrite : 0);
    }
    tt_str_cat(s, "],[[],");
    if (rec_cat_steps(s, rec->steps, rec->nsteps))
        return -1;
    tt_str_cat(s, "]],\"r\":[[");
    for (int k = 0; k < rec->ncosts; k++) {
        if (k)
            tt_str_cat(s, ",");
        if (rec_cat_double(s, rec->costs[k]))
            return -1;
    }
    tt_str_catf(s, "],%d,", rec->error_no);
    if (rec_cat_double(s, rec->all_cost))
        return -1;
    tt_str_cat(s, ",");
    /* Ansor's timestamps are whole seconds: print them as integers. */
    if (rec->timestamp == floor(rec->timestamp) && fabs(rec->timestamp) < 9007199254740992.0)
        tt_str_catf(s, "%.0f", rec->timestamp);
    else if (rec_cat_double(s, rec->timestamp))
        return -1;
    tt_str_cat(s, "],\"v\":\"v0.6\"}");
    return 0;
}

/* Serialize rec as one compact v0.6 log line, keys in the order "i", "r",
 * "v", task_input_names written as [].  Returns a string the caller frees, or
 * NULL if rec holds something the format cannot carry (a count out of range,
 * an unknown step tag, a non-finite number, a non-printable string). */
char *tt_record_write(const tt_record *rec)
{
    tt_str s;
    tt_str_init(&s);
    if (rec_cat_record(&s, rec)) {
        tt_str_free(&s);
        return NULL;
    }
    return tt_str_take(&s);
}

/* ---- workload keys -------------------------------------------------------- */

static int rec_wkey_int(tt_wkey *out, const json_t *v, size_t arg, tt_err *err)
{
    if (!json_is_integer(v))
        return tt_err_set(err, "workload key: argument %zu: shape entries must be integers, got %s",
                          arg, rec_jtype(v));
    long long x = json_integer_value(v);
    if (x < -2147483647 || x > 2147483647)
        return tt_err_set(err, "workload key: argument %zu: %lld out of range", arg, x);
    if (out->nints >= TT_MAX_KEY_INTS)
        return tt_err_set(err, "workload key: too many integers (max %d)", TT_MAX_KEY_INTS);
    out->ints[out->nints++] = x;
    return 0;
}

static int rec_wkey_group(tt_wkey *out, tt_err *err)
{
    int max = (int)(sizeof out->tensor_start / sizeof out->tensor_start[0]);
    if (out->ntensors >= max)
        return tt_err_set(err, "workload key: too many tensors (max %d)", max);
    out->tensor_start[out->ntensors++] = out->nints;
    return 0;
}

static int rec_wkey_fill(json_t *root, tt_wkey *out, tt_err *err)
{
    char b[32];
    if (!json_is_array(root) || json_array_size(root) == 0)
        return tt_err_set(err, "workload key: expected a non-empty JSON array");
    json_t *name = json_array_get(root, 0);
    if (!json_is_string(name))
        return tt_err_set(err, "workload key: first element must be a string, got %s",
                          rec_jtype(name));
    size_t nn = json_string_length(name);
    if (nn == 0 || nn >= sizeof out->name)
        return tt_err_set(err, "workload key: name must be 1..%zu characters, got %zu",
                          sizeof out->name - 1, nn);
    if (!rec_charset_ok(json_string_value(name), nn, 1))
        return tt_err_set(err, "workload key: name \"%s\" has characters other than "
                          "[A-Za-z0-9_.:-]", rec_clean(json_string_value(name), b));
    memcpy(out->name, json_string_value(name), nn + 1);

    size_t n = json_array_size(root);
    for (size_t i = 1; i < n; i++)
        if (json_is_array(json_array_get(root, i)))
            out->nested = 1;
    /* Nested form: every argument is a group, a list being one tensor's shape
     * and a scalar (in function keys such as ["conv2d_layer", 1, 7, 7, 512,
     * 512, 3, 3, [1, 1], [1, 1]]) a group of one, so arguments stay
     * positional.  Flat form: just the integers. */
    for (size_t i = 1; i < n; i++) {
        json_t *v = json_array_get(root, i);
        if (json_is_integer(v)) {
            if ((out->nested && rec_wkey_group(out, err)) || rec_wkey_int(out, v, i, err))
                return -1;
        } else if (json_is_array(v)) {
            if (rec_wkey_group(out, err))
                return -1;
            for (size_t k = 0; k < json_array_size(v); k++)
                if (rec_wkey_int(out, json_array_get(v, k), i, err))
                    return -1;
        } else if (json_is_string(v)) {
            int max = (int)(sizeof out->strings / sizeof out->strings[0]);
            size_t len = json_string_length(v);
            if (out->nstrings >= max)
                return tt_err_set(err, "workload key: too many string arguments (max %d)", max);
            if (len >= sizeof out->strings[0])
                return tt_err_set(err, "workload key: argument %zu: string too long (%zu, max %zu)",
                                  i, len, sizeof out->strings[0] - 1);
            if (!rec_charset_ok(json_string_value(v), len, 1))
                return tt_err_set(err, "workload key: argument %zu: \"%s\" has characters other "
                                  "than [A-Za-z0-9_.:-]", i, rec_clean(json_string_value(v), b));
            memcpy(out->strings[out->nstrings++], json_string_value(v), len + 1);
        } else {
            return tt_err_set(err, "workload key: argument %zu: unsupported %s", i,
                              rec_jtype(v));
        }
    }
    return 0;
}

/* Parse a workload key (the JSON text inside a record's i[0][0]).  Integers
 * must fit in int32; all counts are bounded by the arrays of tt_wkey.  out is
 * zeroed first.  Returns 0, or -1 with err ("workload key: ..."). */
int tt_wkey_parse(const char *key, tt_wkey *out, tt_err *err)
{
    memset(out, 0, sizeof *out);
    json_t *root = rec_load(key, "workload key", err);
    if (!root)
        return -1;
    int rc = rec_wkey_fill(root, out, err);
    json_decref(root);
    return rc;
}

/* ---- log files ------------------------------------------------------------ */

/* One line of f (without its '\n') into *buf, which grows up to
 * TT_LOG_MAX_LINE + 1 bytes: its length; -1 at the end of the file (or on a
 * read error: the caller checks ferror); -2 with err when the line is
 * longer than TT_LOG_MAX_LINE or the allocation fails.  NUL bytes are kept
 * (the line then reads as shorter). */
static long log_line(FILE *f, char **buf, size_t *cap, const char *path, int lineno, tt_err *err)
{
    size_t n = 0;
    int c;
    while ((c = getc_unlocked(f)) != EOF && c != '\n') {
        if (n == TT_LOG_MAX_LINE) {
            tt_err_set(err, "%s: line %d is longer than %d bytes (not an Ansor log?)", path, lineno,
                       TT_LOG_MAX_LINE);
            return -2;
        }
        if (n + 1 >= *cap) {
            size_t grow = *cap ? 2 * *cap : 4096;
            if (grow > TT_LOG_MAX_LINE + 1)
                grow = TT_LOG_MAX_LINE + 1;
            char *more = tt_try_realloc(*buf, grow, path, err);
            if (!more)
                return -2;
            *buf = more;
            *cap = grow;
        }
        (*buf)[n++] = (char)c;
    }
    if (c == EOF && n == 0)
        return -1;
    if (!*buf) {
        if (!(*buf = tt_try_malloc(1, path, err)))
            return -2;
        *cap = 1;
    }
    (*buf)[n] = 0;
    return (long)n;
}

/* Call fn(ctx, lineno, line) for every line of path that is neither blank
 * nor a comment ('#' after optional whitespace).  The file is opened by
 * tt_open_input (a regular file within the input limit: /dev/zero is
 * refused before a byte is read) and its lines are bounded by
 * TT_LOG_MAX_LINE; the trailing newline (and '\r') is stripped and leading
 * whitespace skipped.  fn's return value is ignored: one bad line does not
 * hide the others, so fn keeps its own count of failures.  Returns 0, or -1
 * with err if the file is refused or cannot be read, a line is too long, or
 * the file grows past the limit while it is read (lines before that have
 * been passed to fn). */
int tt_log_foreach(const char *path, tt_log_line_fn fn, void *ctx, tt_err *err)
{
    uint64_t size, limit, total = 0;
    FILE *f = tt_open_input(path, &size, &limit, err);
    if (!f)
        return -1;
    char *buf = NULL;
    size_t cap = 0;
    long len;
    int lineno = 0, rc = 0;
    while ((len = log_line(f, &buf, &cap, path, lineno + 1, err)) >= 0) {
        if (lineno < 2147483647)
            lineno++;
        total += (uint64_t)len + 1;
        if (total > limit + 1) {
            rc = tt_err_set(err, "%s: more than %llu bytes, past the limit for this file (set "
                                 "TT_MAX_INPUT_BYTES to raise it)", path, (unsigned long long)limit);
            break;
        }
        while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
            buf[--len] = 0;
        const char *p = buf;
        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\f' || *p == '\v')
            p++;
        if (*p == 0 || *p == '#')
            continue;
        (void)fn(ctx, lineno, p);
    }
    if (len == -2)
        rc = -1;
    else if (rc == 0 && ferror(f))
        rc = tt_err_set(err, "cannot read %s", path);
    free(buf);
    fclose(f);
    return rc;
}
