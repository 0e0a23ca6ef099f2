/* test_record.c - record module: the real Ansor logs parse with the right
 * fields and round-trip through tt_record_write; bad input is refused with a
 * message naming the step and the problem; workload keys and log iteration. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../src/record/record.h"
#include "test.h"

/* ---- helpers --------------------------------------------------------------- */

#define MAX_LINES 64

typedef struct lines {
    int n;
    int lineno[MAX_LINES];
    char *text[MAX_LINES];
} lines;

static int collect(void *ctx, int lineno, const char *line)
{
    lines *l = ctx;
    if (l->n < MAX_LINES) {
        l->lineno[l->n] = lineno;
        l->text[l->n++] = strdup(line);
    }
    return 0;
}

static void lines_free(lines *l)
{
    for (int i = 0; i < l->n; i++)
        free(l->text[i]);
    l->n = 0;
}

/* Load the non-comment lines of data/ansor/<name>. */
static int load_log(const char *name, lines *l)
{
    char path[1024];
    tt_err err = {0};
    memset(l, 0, sizeof *l);
    if (!tt_test_shared_file(path, sizeof path, "ansor/%s", name))
        return -1;
    if (tt_log_foreach(path, collect, l, &err)) {
        fprintf(stderr, "    %s\n", err.msg);
        return -1;
    }
    return 0;
}

/* Records are ~110 kB: two static slots, so an early CHECK return leaks nothing. */
static tt_record *rec_slot(int i)
{
    static tt_record slots[2];
    memset(&slots[i], 0, sizeof slots[i]);
    return &slots[i];
}

/* A v0.6 line around a steps array (and with a given workload key). */
static char *line_with(const char *key, const char *steps)
{
    size_t n = strlen(key) + strlen(steps) + 256;
    char *s = malloc(n);
    snprintf(s, n,
             "{\"i\": [[\"%s\", \"llvm -keys=cpu\", [8, 64, 64, 0, 0, 0, 0, 0], \"\", 0, []], "
             "[[], %s]], \"r\": [[0.001], 0, 0.1, 1600000000], \"v\": \"v0.6\"}",
             key, steps);
    return s;
}

/* ---- the real logs --------------------------------------------------------- */

static void test_parse_resnet(void)
{
    lines l;
    CHECK(load_log("resnet-50-NHWC-B1-llvm.json", &l) == 0);
    tt_record *r = rec_slot(0);
    tt_err err = {0};
    int ok = l.n == 26;
    for (int i = 0; ok && i < l.n; i++) {
        tt_err_clear(&err);
        if (tt_record_parse(l.text[i], r, &err)) {
            fprintf(stderr, "    line %d: %s\n", l.lineno[i], err.msg);
            ok = 0;
        }
    }
    /* The first record: a softmax with two rfactors. */
    int first_ok = ok && tt_record_parse(l.text[0], r, &err) == 0;
    int lineno0 = l.lineno[0];
    lines_free(&l);
    CHECK_MSG(ok, "%d lines", l.n);
    CHECK(first_ok);
    CHECK(lineno0 == 3); /* after the two comment lines */
    CHECK(strcmp(r->version, "v0.5") == 0);
    CHECK(strncmp(r->workload_key, "[\"d7b65649a4dd54becea0a52aabbc5af5\", 1, 1000", 44) == 0);
    CHECK(strcmp(r->target, "llvm -keys=cpu -mcpu=core-avx2") == 0);
    CHECK(r->nhw == 8 && r->hw[0] == 8 && r->hw[1] == 64 && r->hw[2] == 64 && r->hw[7] == 0);
    CHECK(r->target_host[0] == 0 && r->layout_rewrite == 2);
    CHECK(r->nsteps == 20);
    const tt_step *sp = &r->steps[0], *rf = &r->steps[1];
    CHECK(sp->tag == TT_STEP_SP && sp->stage == 3 && sp->iter == 1 && sp->extent == 1000);
    CHECK(sp->nlen == 1 && sp->len[0] == 50 && sp->inner_to_outer == 1);
    CHECK(rf->tag == TT_STEP_RF && rf->stage == 3 && rf->iter == 2 && rf->target_iter == 1);
    CHECK(r->steps[2].tag == TT_STEP_RE && r->steps[2].nids == 3 && r->steps[2].ids[1] == 2);
    CHECK(r->steps[6].tag == TT_STEP_CR && r->steps[6].stage == 6);
    const tt_step *ca = &r->steps[7];
    CHECK(ca->tag == TT_STEP_CA && ca->stage == 5 && ca->target_stage == 6 && ca->target_iter == 1);
    CHECK(r->steps[10].tag == TT_STEP_AN && r->steps[10].ann == TT_ANN_PARALLEL);
    CHECK(r->steps[11].tag == TT_STEP_FU && r->steps[11].nids == 2 && r->steps[11].ids[1] == 1);
    CHECK(r->steps[16].tag == TT_STEP_PR && r->steps[16].pragma_value == 16);
    CHECK(r->steps[19].tag == TT_STEP_PR && r->steps[19].stage == 5 &&
          r->steps[19].pragma_value == 64);
    CHECK(r->ncosts == 10 && r->costs[0] == 8.75e-06 && r->costs[9] == 1.0122e-05);
    CHECK(r->error_no == 0 && r->all_cost == 0.17921 && r->timestamp == 1606960872.0);
}

/* The conv2d+bias+add+relu record quoted in docs/reference/ansor.md section 1.3. */
static void test_parse_resnet_conv(void)
{
    lines l;
    CHECK(load_log("resnet-50-NHWC-B1-llvm.json", &l) == 0);
    tt_record *r = rec_slot(0);
    tt_err err = {0};
    int rc = l.n > 6 ? tt_record_parse(l.text[6], r, &err) : -1;
    lines_free(&l);
    CHECK_MSG(rc == 0, "%s", err.msg);
    CHECK(strstr(r->workload_key, "1b524af89dd867d26059e1f621cf987c\", 1, 28, 28, 128"));
    CHECK(r->nsteps == 21);
    const tt_step *s = r->steps;
    CHECK(s[0].tag == TT_STEP_CI && s[0].stage == 7 && s[1].stage == 5);
    CHECK(s[5].tag == TT_STEP_SP && s[5].stage == 3 && s[5].iter == 12 && s[5].extent == 512);
    CHECK(s[5].nlen == 3 && s[5].len[0] == 1 && s[5].len[1] == 2 && s[5].len[2] == 16);
    CHECK(s[8].nlen == 1 && s[8].len[0] == 4 && s[8].extent == 128);
    CHECK(s[9].tag == TT_STEP_RE && s[9].nids == 22 && s[9].ids[4] == 1 && s[9].ids[21] == 15);
    CHECK(s[10].tag == TT_STEP_FSP && s[10].stage == 8 && s[10].iter == 0 &&
          s[10].src_step == 2 && s[10].n_split == 2);
    CHECK(s[13].tag == TT_STEP_FSP && s[13].iter == 9 && s[13].src_step == 5);
    CHECK(s[15].tag == TT_STEP_CA && s[15].stage == 3 && s[15].target_stage == 8 &&
          s[15].target_iter == 7);
    CHECK(s[17].tag == TT_STEP_FU && s[17].nids == 4 && s[17].ids[3] == 3);
    CHECK(s[18].tag == TT_STEP_AN && s[18].stage == 8 && s[18].ann == TT_ANN_PARALLEL);
    CHECK(s[19].tag == TT_STEP_PR && s[19].stage == 3 && s[19].pragma_value == 0);
    CHECK(s[20].tag == TT_STEP_AN && s[20].iter == 21 && s[20].ann == TT_ANN_VECTORIZE);
}

static void test_parse_matmul_v03(void)
{
    lines l;
    CHECK(load_log("matmul.json", &l) == 0);
    tt_record *r = rec_slot(0);
    tt_err err = {0};
    int n = l.n, rc = n == 1 ? tt_record_parse(l.text[0], r, &err) : -1;
    lines_free(&l);
    CHECK_MSG(rc == 0 && n == 1, "%d lines: %s", n, err.msg);
    CHECK(strcmp(r->version, "v0.3") == 0);
    CHECK(strcmp(r->workload_key, "[\"matmul_add\", 1024, 1024, 1024, \"float32\"]") == 0);
    CHECK(strcmp(r->target, "llvm -keys=cpu") == 0);
    CHECK(r->nhw == 8 && r->hw[0] == 18);
    CHECK(r->layout_rewrite == -1 && r->target_host[0] == 0); /* absent in v0.3 */
    CHECK(r->nsteps == 13);
    CHECK(r->steps[0].tag == TT_STEP_SP && r->steps[0].nlen == 3 && r->steps[0].len[2] == 4);
    CHECK(r->steps[4].tag == TT_STEP_FSP && r->steps[4].src_step == 0 && r->steps[4].n_split == 2);
    CHECK(r->steps[10].tag == TT_STEP_PR && r->steps[10].pragma_value == 8);
    CHECK(r->steps[12].tag == TT_STEP_AN && r->steps[12].ann == TT_ANN_VECTORIZE);
    CHECK(r->ncosts == 1 && r->costs[0] == 0.0044742 && r->error_no == 0);
    CHECK(r->timestamp == 1607112214.0);
}

/* parse(write(parse(line))) == parse(line) for every line of both logs, apart
 * from the version; and writing is a fixpoint on its own output. */
static void test_round_trip(void)
{
    const char *files[] = {"resnet-50-NHWC-B1-llvm.json", "matmul.json"};
    tt_record *a = rec_slot(0), *b = rec_slot(1);
    int checked = 0;
    for (int f = 0; f < 2; f++) {
        lines l;
        CHECK(load_log(files[f], &l) == 0);
        for (int i = 0; i < l.n; i++) {
            tt_err err = {0};
            int rc = tt_record_parse(l.text[i], a, &err);
            char *w = rc ? NULL : tt_record_write(a);
            int rc2 = w ? tt_record_parse(w, b, &err) : -1;
            int same = 0, fix = 0, v6 = 0, order = 0;
            if (rc2 == 0) {
                v6 = strcmp(b->version, "v0.6") == 0;
                memcpy(b->version, a->version, sizeof b->version);
                same = memcmp(a, b, sizeof *a) == 0;
                char *w2 = tt_record_write(b);
                /* b carries a's version again; the writer ignores it. */
                fix = w2 && strcmp(w, w2) == 0;
                free(w2);
                order = strncmp(w, "{\"i\":[[", 7) == 0 && strstr(w, "]],\"r\":[[") &&
                        strstr(w, "\"v\":\"v0.6\"}") && !strchr(w, '\n');
            }
            if (!(rc == 0 && rc2 == 0 && same && fix && v6 && order)) {
                fprintf(stderr, "    %s line %d: rc %d/%d same %d fix %d v6 %d order %d %s\n",
                        files[f], l.lineno[i], rc, rc2, same, fix, v6, order, err.msg);
                if (w)
                    fprintf(stderr, "    wrote %.300s\n", w);
                free(w);
                lines_free(&l);
                CHECK(0);
            }
            free(w);
            checked++;
        }
        lines_free(&l);
    }
    CHECK(checked == 27);
}

/* A v0.3 record keeps its short task form; task_input_names are written []. */
static void test_write_format(void)
{
    tt_record *r = rec_slot(0);
    tt_err err = {0};
    char *line = line_with("[\\\"k\\\", 1]", "[[\"SP\", 2, 0, 0, [null, 4], 1], [\"CI\", 1]]");
    int rc = tt_record_parse(line, r, &err);
    free(line);
    CHECK_MSG(rc == 0, "%s", err.msg);
    CHECK(r->steps[0].nlen == 2 && r->steps[0].len[0] == 0 && r->steps[0].len[1] == 4);
    char *w = tt_record_write(r);
    CHECK(w);
    const char *want = "{\"i\":[[\"[\\\"k\\\", 1]\",\"llvm -keys=cpu\",[8,64,64,0,0,0,0,0],\"\",0,[]],"
                       "[[],[[\"SP\",2,0,0,[null,4],1],[\"CI\",1]]]],"
                       "\"r\":[[0.001],0,0.1,1600000000],\"v\":\"v0.6\"}";
    int eq = strcmp(w, want) == 0;
    if (!eq)
        fprintf(stderr, "    got  %s\n    want %s\n", w, want);
    free(w);
    CHECK(eq);

    /* Short (v0.3) form, and a cost of 1e10 written as a real. */
    rc = tt_record_parse("{\"i\": [[\"[\\\"f\\\"]\", \"llvm\", [4]], [[], []]], "
                         "\"r\": [[10000000000], 1, 2, 3.5], \"v\": \"v0.3\"}",
                         r, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    CHECK(r->layout_rewrite == -1 && r->nhw == 1 && r->error_no == 1);
    w = tt_record_write(r);
    CHECK(w);
    eq = strcmp(w, "{\"i\":[[\"[\\\"f\\\"]\",\"llvm\",[4]],[[],[]]],"
                   "\"r\":[[10000000000.0],1,2.0,3.5],\"v\":\"v0.6\"}") == 0;
    if (!eq)
        fprintf(stderr, "    got %s\n", w);
    free(w);
    CHECK(eq);

    /* Unwritable records give NULL rather than a line the reader refuses. */
    r->costs[0] = NAN;
    CHECK(tt_record_write(r) == NULL);
    r->costs[0] = 1;
    r->nsteps = 1;
    r->steps[0].tag = TT_STEP_COUNT;
    CHECK(tt_record_write(r) == NULL);
}

/* Every step kind through tt_steps_parse and back, byte for byte. */
static void test_steps_all_kinds(void)
{
    const char *json =
        "[[\"SP\",2,0,64,[4,null,2],1],[\"SP\",2,4,32,[8],0],[\"FSP\",3,0,0,2],"
        "[\"FFSP\",3,1,[0,1],0,1],[\"AN\",2,1,11],[\"FU\",2,[1,2,3]],"
        "[\"PR\",2,0,\"auto_unroll_max_step$65536\"],[\"RE\",2,[1,0,2]],"
        "[\"SA\",2,1,32,1],[\"CA\",2,3,1],[\"CI\",1],[\"CR\",4],"
        "[\"CHR\",0,\"shared\",[2,3]],[\"CHW\",2,\"local\"],[\"RF\",3,2,1]]";
    tt_step steps[32];
    int n = -1;
    tt_err err = {0};
    int rc = tt_steps_parse(json, steps, 32, &n, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    CHECK(n == 15);
    CHECK(steps[0].len[1] == 0 && steps[1].inner_to_outer == 0);
    CHECK(steps[3].tag == TT_STEP_FFSP && steps[3].nids == 2 && steps[3].ids[1] == 1 &&
          steps[3].level == 0 && steps[3].inner_to_outer == 1);
    CHECK(steps[4].ann == TT_ANN_TENSORIZE && steps[6].pragma_value == 65536);
    CHECK(steps[8].factor == 32 && steps[8].offset == 1);
    CHECK(steps[12].tag == TT_STEP_CHR && strcmp(steps[12].scope, "shared") == 0 &&
          steps[12].nids == 2 && steps[12].ids[0] == 2);
    CHECK(strcmp(steps[13].scope, "local") == 0);
    CHECK(steps[14].tag == TT_STEP_RF && steps[14].iter == 2 && steps[14].target_iter == 1);
    char *w = tt_steps_write(steps, n);
    CHECK(w);
    int eq = strcmp(w, json) == 0;
    if (!eq)
        fprintf(stderr, "    got %s\n", w);
    free(w);
    CHECK(eq);
    /* Booleans are accepted for flags and written back as 0/1. */
    rc = tt_steps_parse("[[\"SP\", 0, 0, 8, [2], true]]", steps, 32, &n, &err);
    CHECK(rc == 0 && n == 1 && steps[0].inner_to_outer == 1);
    /* The caller's capacity bounds the count. */
    rc = tt_steps_parse("[[\"CI\", 1], [\"CI\", 2]]", steps, 1, &n, &err);
    CHECK(rc == -1 && n == 0 && strstr(err.msg, "too many steps (2, max 1)"));
    w = tt_steps_write(steps, 0);
    CHECK(w && strcmp(w, "[]") == 0);
    free(w);
}

/* ---- bad input ------------------------------------------------------------- */

typedef struct bad_case {
    const char *name;
    const char *steps;  /* steps array, put into a valid line; or NULL */
    const char *line;   /* whole line, used when steps is NULL */
    const char *expect; /* fragment of the error message */
} bad_case;

static const bad_case bad_cases[] = {
    {"truncated", NULL, "{\"i\": [[\"[\\\"k\\\"]\", \"llvm\", [8, 64", "malformed JSON"},
    {"empty", NULL, "", "malformed JSON"},
    {"not object", NULL, "[1, 2]", "record: expected a JSON object, got array"},
    {"unknown tag", "[[\"CI\", 1], [\"XX\", 1]]", NULL, "step 1: unknown step tag \"XX\""},
    {"zero split", "[[\"SP\", 3, 0, 28, [7, 0], 1]]", NULL,
     "step 0 (SP): split factor must be positive, got 0"},
    {"negative split", "[[\"CI\", 1], [\"SP\", 3, 0, 28, [-4], 1]]", NULL,
     "step 1 (SP): split factor must be positive, got -4"},
    {"real split", "[[\"SP\", 3, 0, 28, [2.5], 1]]", NULL,
     "step 0 (SP): split length 0 must be an integer or null, got real"},
    {"too many lengths", "[[\"SP\", 3, 0, 0, [1, 1, 1, 1, 1, 1, 1, 1, 1], 1]]", NULL,
     "step 0 (SP): a split needs 1..8 lengths, got 9"},
    {"split product", "[[\"SP\", 3, 0, 0, [65536, 65536], 1]]", NULL,
     "split factors multiply to more than"},
    {"pragma", "[[\"PR\", 3, 0, \"unroll$3\"]]", NULL, "step 0 (PR): unsupported pragma \"unroll$3\""},
    {"pragma range", "[[\"PR\", 3, 0, \"auto_unroll_max_step$65537\"]]", NULL,
     "step 0 (PR): auto_unroll_max_step 65537 out of range (max 65536)"},
    {"pragma sign", "[[\"PR\", 3, 0, \"auto_unroll_max_step$-1\"]]", NULL,
     "step 0 (PR): auto_unroll_max_step needs an integer"},
    {"pragma empty", "[[\"PR\", 3, 0, \"auto_unroll_max_step$\"]]", NULL,
     "auto_unroll_max_step needs an integer"},
    {"negative stage", "[[\"CI\", -1]]", NULL, "step 0 (CI): stage id must be non-negative, got -1"},
    {"huge id", "[[\"RE\", 3, [0, 99999999]]]", NULL,
     "step 0 (RE): reorder ids[1] 99999999 out of range (max 65535)"},
    {"int64 overflow", "[[\"CI\", 99999999999999999999]]", NULL, "malformed JSON"},
    {"too many ids",
     "[[\"RE\", 3, [0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,"
     "29,30,31,32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47,48,49,50,51,52,53,54,55,56,57,58,"
     "59,60,61,62,63,64]]]",
     NULL, "step 0 (RE): too many reorder ids (65, max 64)"},
    {"string id", "[[\"AN\", 3, \"0\", 2]]", NULL,
     "step 0 (AN): iterator id must be an integer, got string"},
    {"annotation", "[[\"AN\", 3, 0, 12]]", NULL, "step 0 (AN): annotation code 12 out of range 0..11"},
    {"step not array", "[{\"SP\": 1}]", NULL, "step 0: expected an array"},
    {"tag not string", "[[3, 1]]", NULL, "step 0: expected an array"},
    {"field count", "[[\"CI\", 1, 2]]", NULL, "step 0 (CI): expected 1 fields after the tag, got 2"},
    {"fuse gap", "[[\"FU\", 2, [0, 2]]]", NULL, "step 0 (FU): fused iterator ids must be consecutive"},
    {"reorder dup", "[[\"RE\", 2, [0, 1, 0]]]", NULL, "step 0 (RE): iterator 0 appears twice"},
    {"fsp forward", "[[\"FSP\", 2, 0, 0, 1]]", NULL,
     "step 0 (FSP): source step 0 is not an earlier step"},
    {"fsp not split", "[[\"CI\", 1], [\"FSP\", 2, 0, 0, 1]]", NULL,
     "step 1 (FSP): source step 0 is CI, not SP"},
    {"fsp n_split", "[[\"SP\", 2, 0, 8, [2], 1], [\"FSP\", 3, 0, 0, 3]]", NULL,
     "step 1 (FSP): n_split 3 out of range (max 2)"},
    {"ffsp level", "[[\"SP\", 2, 0, 8, [2], 1], [\"FFSP\", 3, 0, [0], 1, 0]]", NULL,
     "step 1 (FFSP): level 1 exceeds the 1 lengths of source step 0"},
    {"flag", "[[\"SP\", 2, 0, 8, [2], 2]]", NULL, "step 0 (SP): inner_to_outer 2 out of range"},
    {"scope long", "[[\"CHW\", 2, \"local.local.local\"]]", NULL,
     "step 0 (CHW): scope must be 1..15 characters, got 17"},
    {"scope chars", "[[\"CHW\", 2, \"lo cal\"]]", NULL, "step 0 (CHW): scope \"lo cal\" has characters"},
    {"too many steps", NULL, NULL, "too many steps (257, max 256)"}, /* built below */
    {"key too long", NULL, NULL, "record: workload key too long (1100 bytes, max 1023)"},
    {"missing i", NULL, "{\"r\": [[1], 0, 1, 1], \"v\": \"v0.6\"}", "record: missing \"i\""},
    {"missing r", NULL, "{\"i\": [[\"k\", \"llvm\"], [[], []]], \"v\": \"v0.6\"}",
     "record: missing \"r\""},
    {"unknown key", NULL, "{\"i\": [], \"x\": 1, \"r\": [], \"v\": \"v0.6\"}", "record: unknown key \"x\""},
    {"duplicate key", NULL, "{\"v\": \"v0.6\", \"v\": \"v0.6\"}", "malformed JSON"},
    {"version", NULL, "{\"i\": [], \"r\": [], \"v\": \"v1.0\"}", "record: unsupported version \"v1.0\""},
    {"task size", NULL,
     "{\"i\": [[\"k\", \"llvm\", [8], \"\"], [[], []]], \"r\": [[1], 0, 1, 1], \"v\": \"v0.6\"}",
     "record: i[0] (task) must have 2, 3, 5 or 6 fields, got 4"},
    {"target type", NULL,
     "{\"i\": [[\"k\", 7, [8]], [[], []]], \"r\": [[1], 0, 1, 1], \"v\": \"v0.6\"}",
     "record: target must be a string, got integer"},
    {"layout", NULL,
     "{\"i\": [[\"k\", \"llvm\", [8], \"\", 3], [[], []]], \"r\": [[1], 0, 1, 1], \"v\": \"v0.6\"}",
     "record: layout rewrite option 3 out of range 0..2"},
    {"stages", NULL,
     "{\"i\": [[\"k\", \"llvm\", [8]], [[1], []]], \"r\": [[1], 0, 1, 1], \"v\": \"v0.6\"}",
     "record: i[1][0] (stages) must be an empty array"},
    {"error_no", NULL,
     "{\"i\": [[\"k\", \"llvm\", [8]], [[], []]], \"r\": [[1], 9, 1, 1], \"v\": \"v0.6\"}",
     "record: error_no 9 out of range 0..8"},
    {"cost sign", NULL,
     "{\"i\": [[\"k\", \"llvm\", [8]], [[], []]], \"r\": [[-1], 0, 1, 1], \"v\": \"v0.6\"}",
     "record: cost must be a finite non-negative number"},
    {"cost type", NULL,
     "{\"i\": [[\"k\", \"llvm\", [8]], [[], []]], \"r\": [[\"1\"], 0, 1, 1], \"v\": \"v0.6\"}",
     "record: cost must be a number, got string"},
    {"control char", NULL,
     "{\"i\": [[\"k\\n\", \"llvm\", [8]], [[], []]], \"r\": [[1], 0, 1, 1], \"v\": \"v0.6\"}",
     "record: workload key has characters other than printable ASCII"},
};

static void test_bad_input(void)
{
    tt_record *r = rec_slot(0);
    int n = (int)(sizeof bad_cases / sizeof bad_cases[0]);
    for (int i = 0; i < n; i++) {
        const bad_case *c = &bad_cases[i];
        char *line = NULL;
        if (c->steps) {
            line = line_with("k", c->steps);
        } else if (c->line) {
            line = strdup(c->line);
        } else if (strcmp(c->name, "too many steps") == 0) {
            tt_str s;
            tt_str_init(&s);
            tt_str_cat(&s, "[");
            for (int k = 0; k < 257; k++)
                tt_str_cat(&s, k ? ", [\"CI\", 1]" : "[\"CI\", 1]");
            tt_str_cat(&s, "]");
            line = line_with("k", s.buf);
            tt_str_free(&s);
        } else {
            char key[1101];
            memset(key, 'a', 1100);
            key[1100] = 0;
            line = line_with(key, "[]");
        }
        tt_err err = {0};
        int rc = tt_record_parse(line, r, &err);
        free(line);
        int ok = rc == -1 && err.set && strstr(err.msg, c->expect);
        CHECK_MSG(ok, "case \"%s\": rc %d, message \"%s\", want \"%s\"", c->name, rc, err.msg,
                  c->expect);
    }
}

/* ---- workload keys --------------------------------------------------------- */

static void test_wkey(void)
{
    tt_wkey k;
    tt_err err = {0};
    /* Old flat form (TVM's own logs). */
    int rc = tt_wkey_parse("[\"d7b65649a4dd54becea0a52aabbc5af5\", 1, 1000, 1, 1000]", &k, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    CHECK(strcmp(k.name, "d7b65649a4dd54becea0a52aabbc5af5") == 0);
    CHECK(k.nested == 0 && k.ntensors == 0 && k.nints == 4 && k.ints[1] == 1000);
    CHECK(k.nstrings == 0);

    /* Nested form (since TVM PR #8862), including a scalar tensor []. */
    rc = tt_wkey_parse("[\"1b524af89dd867d26059e1f621cf987c\", [1, 28, 28, 128], "
                       "[1, 1, 128, 512], [], [1, 28, 28, 512]]",
                       &k, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    CHECK(k.nested == 1 && k.ntensors == 4 && k.nints == 12);
    CHECK(k.tensor_start[0] == 0 && k.tensor_start[1] == 4 && k.tensor_start[2] == 8 &&
          k.tensor_start[3] == 8);
    CHECK(k.ints[7] == 512 && k.ints[11] == 512);

    /* Registered function with a trailing dtype. */
    rc = tt_wkey_parse("[\"matmul_add\", 1024, 1024, 1024, \"float32\"]", &k, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    CHECK(strcmp(k.name, "matmul_add") == 0 && k.nested == 0 && k.nints == 3);
    CHECK(k.nstrings == 1 && strcmp(k.strings[0], "float32") == 0);

    /* Function with scalar and list arguments: every argument is a group. */
    rc = tt_wkey_parse("[\"conv2d_layer\", 1, 7, 7, 512, 512, 3, 3, [1, 1], [1, 1]]", &k, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    CHECK(k.nested == 1 && k.ntensors == 9 && k.nints == 11 && k.tensor_start[8] == 9);

    /* The workload key of a parsed record. */
    tt_record *r = rec_slot(0);
    lines l;
    CHECK(load_log("resnet-50-NHWC-B1-llvm.json", &l) == 0);
    int nok = 0;
    for (int i = 0; i < l.n; i++)
        if (tt_record_parse(l.text[i], r, &err) == 0 && tt_wkey_parse(r->workload_key, &k, &err) == 0 &&
            strlen(k.name) == 32 && k.nints > 0)
            nok++;
    int n = l.n;
    lines_free(&l);
    CHECK_MSG(nok == n && n == 26, "%d of %d: %s", nok, n, err.msg);

    static const struct {
        const char *key, *expect;
    } bad[] = {
        {"[\"f\", 1.5]", "argument 1: unsupported real"},
        {"[\"f\", [1, [2]]]", "argument 1: shape entries must be integers, got array"},
        {"[\"f\", 4294967296]", "argument 1: 4294967296 out of range"},
        {"[3, 1]", "first element must be a string"},
        {"[]", "expected a non-empty JSON array"},
        {"{\"a\": 1}", "expected a non-empty JSON array"},
        {"[\"f\", 1", "malformed JSON"},
        {"[\"a b\", 1]", "name \"a b\" has characters"},
        {"[\"f\", \"a\", \"b\", \"c\", \"d\", \"e\"]", "too many string arguments (max 4)"},
        {"[\"f\", \"float32float32float32float32float32\"]", "string too long"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tt_err_clear(&err);
        rc = tt_wkey_parse(bad[i].key, &k, &err);
        CHECK_MSG(rc == -1 && strstr(err.msg, bad[i].expect), "key %s: rc %d \"%s\"", bad[i].key,
                  rc, err.msg);
    }
    /* Bounds: 257 ints, 65 tensors. */
    tt_str s;
    tt_str_init(&s);
    tt_str_cat(&s, "[\"h\"");
    for (int i = 0; i < 257; i++)
        tt_str_cat(&s, ", 1");
    tt_str_cat(&s, "]");
    tt_err_clear(&err);
    rc = tt_wkey_parse(s.buf, &k, &err);
    CHECK(rc == -1 && strstr(err.msg, "too many integers (max 256)"));
    tt_str_clear(&s);
    tt_str_cat(&s, "[\"h\"");
    for (int i = 0; i < 65; i++)
        tt_str_cat(&s, ", []");
    tt_str_cat(&s, "]");
    tt_err_clear(&err);
    rc = tt_wkey_parse(s.buf, &k, &err);
    tt_str_free(&s);
    CHECK(rc == -1 && strstr(err.msg, "too many tensors (max 64)"));
}

/* ---- log files ------------------------------------------------------------- */

static void test_log_foreach(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/tt_test_record_XXXXXX", tt_test_tmpdir());
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    FILE *f = fdopen(fd, "w");
    CHECK(f);
    /* Comments (also indented), blank and whitespace-only lines, CRLF, a
     * 300 kB line and a last line without newline. */
    fputs("# comment\n\n   \t\n  # indented comment\nfirst\r\n", f);
    for (int i = 0; i < 300000; i++)
        fputc('x', f);
    fputs("\n  third\nlast", f);
    fclose(f);
    lines l;
    memset(&l, 0, sizeof l);
    tt_err err = {0};
    int rc = tt_log_foreach(path, collect, &l, &err);
    unlink(path);
    int ok = rc == 0 && l.n == 4 && strcmp(l.text[0], "first") == 0 && l.lineno[0] == 5 &&
             strlen(l.text[1]) == 300000 && l.lineno[1] == 6 && strcmp(l.text[2], "third") == 0 &&
             l.lineno[2] == 7 && strcmp(l.text[3], "last") == 0 && l.lineno[3] == 8;
    lines_free(&l);
    CHECK(ok);
    rc = tt_log_foreach("/nonexistent/tt.json", collect, &l, &err);
    CHECK(rc == -1 && strstr(err.msg, "cannot open /nonexistent/tt.json"));
}

/* A log is a regular file of bounded lines: /dev/zero (one endless line) and
 * a symbolic link to it are refused up front, a line past 1 MiB stops the
 * reading with a message that gives its number, and TT_MAX_INPUT_BYTES
 * bounds the whole file. */
static void test_log_foreach_bounds(void)
{
    lines l;
    memset(&l, 0, sizeof l);
    tt_err err = {0};
    int rc = tt_log_foreach("/dev/zero", collect, &l, &err);
    CHECK_MSG(rc == -1 && l.n == 0 && strstr(err.msg, "/dev/zero") &&
              strstr(err.msg, "not a regular file"), "'%s'", err.msg);
    char link[512];
    snprintf(link, sizeof link, "%s/tt_test_record_link_XXXXXX", tt_test_tmpdir());
    int fd = mkstemp(link);
    CHECK(fd >= 0);
    close(fd);
    unlink(link);
    CHECK(symlink("/dev/zero", link) == 0);
    err = (tt_err){0};
    rc = tt_log_foreach(link, collect, &l, &err);
    unlink(link);
    CHECK_MSG(rc == -1 && l.n == 0 && strstr(err.msg, link) &&
              strstr(err.msg, "not a regular file"), "'%s'", err.msg);

    char path[512];
    snprintf(path, sizeof path, "%s/tt_test_record_XXXXXX", tt_test_tmpdir());
    fd = mkstemp(path);
    CHECK(fd >= 0);
    FILE *f = fdopen(fd, "w");
    CHECK(f);
    fputs("first\n", f);
    for (int i = 0; i < (1 << 20) + 1; i++)
        fputc('x', f);
    fputs("\nthird\n", f);
    fclose(f);
    err = (tt_err){0};
    rc = tt_log_foreach(path, collect, &l, &err);
    int n1 = l.n;
    int ok = rc == -1 && n1 == 1 && strstr(err.msg, path) && strstr(err.msg, "line 2") &&
             strstr(err.msg, "1048576");
    lines_free(&l);
    const char *old = getenv("TT_MAX_INPUT_BYTES");
    char *saved = old ? strdup(old) : NULL;
    setenv("TT_MAX_INPUT_BYTES", "1000", 1);
    tt_err err2 = {0};
    int rc2 = tt_log_foreach(path, collect, &l, &err2);
    if (saved)
        setenv("TT_MAX_INPUT_BYTES", saved, 1);
    else
        unsetenv("TT_MAX_INPUT_BYTES");
    free(saved);
    unlink(path);
    int ok2 = rc2 == -1 && l.n == 0 && strstr(err2.msg, path) && strstr(err2.msg, "TT_MAX_INPUT_BYTES");
    lines_free(&l);
    CHECK_MSG(ok, "rc %d, %d lines: '%s'", rc, n1, err.msg);
    CHECK_MSG(ok2, "rc %d: '%s'", rc2, err2.msg);
}

static void test_name_tables(void)
{
    for (int i = 0; i < TT_STEP_COUNT; i++)
        CHECK(tt_step_tags[i] && tt_step_tags[i][0]);
    for (int i = 0; i < TT_ANN_COUNT; i++)
        CHECK(tt_ann_names[i] && tt_ann_names[i][0]);
    for (int i = 0; i < TT_ERR_COUNT; i++)
        CHECK(tt_errno_names[i] && tt_errno_names[i][0]);
    CHECK(strcmp(tt_step_tags[TT_STEP_FFSP], "FFSP") == 0);
    CHECK(strcmp(tt_step_tags[TT_STEP_RF], "RF") == 0);
    CHECK(strcmp(tt_ann_names[TT_ANN_VECTORIZE], "vectorize") == 0);
    CHECK(strcmp(tt_errno_names[0], "ok") == 0);
    CHECK(strcmp(tt_errno_names[TT_ERR_UNKNOWN], "unknown_error") == 0);
}

const tt_test tests_record[] = {
    {"parse_resnet", test_parse_resnet},
    {"parse_resnet_conv", test_parse_resnet_conv},
    {"parse_matmul_v03", test_parse_matmul_v03},
    {"round_trip", test_round_trip},
    {"write_format", test_write_format},
    {"steps_all_kinds", test_steps_all_kinds},
    {"bad_input", test_bad_input},
    {"wkey", test_wkey},
    {"log_foreach", test_log_foreach},
    {"log_foreach_bounds", test_log_foreach_bounds},
    {"name_tables", test_name_tables},
    {NULL, NULL},
};
