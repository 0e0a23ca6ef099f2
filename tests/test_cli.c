/* test_cli.c - the `transtune` command as a user runs it: help, usage
 * errors, replay, kernel, models and kernels, and scripts/check-avx512.sh
 * (run, tune and db are in test_cli_run.c).  build/transtune is started as
 * a child process (test_cli_util.c) and judged by its exit status, its
 * stdout (one JSON object a line with --json, parsed with jansson) and its
 * stderr.
 *
 * A command that crashes (dies of a signal) or hangs (killed after a timeout)
 * fails the test that ran it.  Every test is skipped, with a message, when
 * build/transtune is missing (`make all`).  Kept fast on purpose: --repeat 1,
 * small shapes, and the ResNet-50 log is not replayed here (too slow); the
 * two tables run in about 30 s, mostly the 1024^3 matmul.json replay.
 *
 * tests/data/bad-records.json says what each of its records must produce in
 * a "# expect ..." comment line before it (see that file's header). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test.h"
#include "test_cli.h"

/* ---- tests: help and usage -------------------------------------------------- */

static void test_help(void)
{
    if (!have_transtune())
        return;
    const char *forms[][2] = {{"--help", NULL}, {"help", NULL}, {"-h", NULL},
                              {"replay", "--help"}, {"kernel", "--help"}, {"kernel", "-h"}};
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        CHECK(run_tt(10, forms[i][0], forms[i][1], (char *)NULL) == 0);
        CHECK_MSG(R.exited && R.code == 0, "transtune %s %s: exit %d", forms[i][0],
                  forms[i][1] ? forms[i][1] : "", R.code);
        CHECK_MSG(strstr(R.out, "usage: transtune"), "transtune %s %s printed no usage on stdout",
                  forms[i][0], forms[i][1] ? forms[i][1] : "");
    }
    CHECK(run_tt(10, "replay", "--help", (char *)NULL) == 0);
    CHECK(strstr(R.out, "transtune replay LOG"));
    CHECK(run_tt(10, "kernel", "--help", (char *)NULL) == 0);
    CHECK(strstr(R.out, "transtune kernel OP") && strstr(R.out, "conv2d"));
}

static void test_usage_errors(void)
{
    if (!have_transtune())
        return;
    CHECK(run_tt(10, (char *)NULL) == 0); /* no command */
    CHECK_FAILED();
    CHECK(strstr(R.err, "usage:"));
    CHECK(run_tt(10, "frobnicate", (char *)NULL) == 0);
    CHECK_FAILED();
    CHECK(strstr(R.err, "frobnicate"));
    CHECK(run_tt(10, "replay", (char *)NULL) == 0); /* no LOG */
    CHECK_FAILED();
    CHECK(strstr(R.err, "LOG"));
    CHECK(run_tt(10, "replay", BAD_RECORDS, "--repeat", "x", (char *)NULL) == 0);
    CHECK_FAILED();
    CHECK(strstr(R.err, "--repeat") && strstr(R.err, "'x'"));
    CHECK(run_tt(10, "replay", BAD_RECORDS, "--threads", (char *)NULL) == 0);
    CHECK_FAILED();
    CHECK(strstr(R.err, "--threads"));
    CHECK(run_tt(10, "replay", BAD_RECORDS, "--bogus", (char *)NULL) == 0);
    CHECK_FAILED();
    CHECK(strstr(R.err, "--bogus"));
    CHECK(R.out[0] == 0); /* nothing measured, nothing printed */
}

/* ---- tests: replay ---------------------------------------------------------- */

static void test_replay_missing_file(void)
{
    if (!have_transtune())
        return;
    const char *path = "tests/data/no-such-log.json";
    CHECK(run_tt(10, "replay", (char *)path, "--json", (char *)NULL) == 0);
    CHECK_FAILED();
    CHECK_MSG(strstr(R.err, path), "the message does not name %s: %s", path, R.err);
    CHECK(R.out[0] == 0);
    /* a folder is not a log either */
    CHECK(run_tt(10, "replay", "tests/data", (char *)NULL) == 0);
    CHECK_FAILED();
    CHECK(strstr(R.err, "tests/data"));
}

/* What bad-records.json says one record line must produce. */
typedef struct expect {
    int line;               /* 1-based line of the record */
    int ok;                 /* 1: status ok and correct */
    char text[64];          /* else: a substring of "error" (any case) */
    int seen;
} expect;

/* Read the expectations of tests/data/bad-records.json: every record line
 * (not blank, not '#') must follow a "# expect ok" or "# expect error "TEXT""
 * comment.  Returns how many records, or -1 with a message. */
static int read_expectations(const char *path, expect *ex, int max)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "    cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    static char buf[1 << 16];
    int n = 0, lineno = 0, have = 0;
    expect cur = {0};
    while (fgets(buf, sizeof buf, f)) {
        lineno++;
        const char *p = buf + strspn(buf, " \t");
        if (*p == '\n' || *p == 0)
            continue;
        if (*p == '#') {
            const char *q;
            if (!strncmp(p, "# expect ok", 11)) {
                memset(&cur, 0, sizeof cur);
                cur.ok = 1;
                have = 1;
            } else if (!strncmp(p, "# expect error \"", 16) && (q = strchr(p + 16, '"'))) {
                memset(&cur, 0, sizeof cur);
                snprintf(cur.text, sizeof cur.text, "%.*s", (int)(q - (p + 16)), p + 16);
                have = 1;
            }
            continue;
        }
        if (!have || n == max) {
            fprintf(stderr, "    %s:%d: a record without a \"# expect\" line before it\n", path, lineno);
            fclose(f);
            return -1;
        }
        cur.line = lineno;
        ex[n++] = cur;
        have = 0;
    }
    fclose(f);
    return n;
}

static void test_replay_bad_records(void)
{
    if (!have_transtune())
        return;
    expect ex[32];
    int nex = read_expectations(BAD_RECORDS, ex, 32);
    CHECK(nex > 0);
    int ngood = 0;
    for (int i = 0; i < nex; i++)
        ngood += ex[i].ok;
    CHECK(ngood >= 1 && ngood < nex);

    CHECK(run_tt(120, "replay", BAD_RECORDS, "--json", "--repeat", "1", (char *)NULL) == 0);
    if (!(R.exited && R.code == 1))
        show_run();
    CHECK_EXIT(1); /* some records failed; not a crash, not a usage error */
    rows rs;
    CHECK(rows_parse(R.out, &rs) == 0);
    if (rs.n != nex)
        show_run();
    CHECK_MSG(rs.n == nex, "%d JSON rows for %d records", rs.n, nex);
    for (int i = 0; i < rs.n; i++) {
        const json_t *o = rs.v[i];
        json_int_t line = json_integer_value(json_object_get(o, "line"));
        expect *e = NULL;
        for (int k = 0; k < nex; k++)
            if (ex[k].line == line)
                e = &ex[k];
        if (!e) {
            rows_free(&rs);
            CHECK_MSG(0, "row %d has line %lld, which is not a record line", i, (long long)line);
        }
        e->seen++;
        const char *status = jstr(o, "status"), *error = jstr(o, "error");
        int good = e->ok ? !strcmp(status, "ok") && jtrue(o, "correct") && jpositive(o, "time_s") &&
                               jpositive(o, "gflops") && !json_object_get(o, "error")
                         : strcmp(status, "ok") && status[0] && !jtrue(o, "correct") &&
                               json_is_null(json_object_get(o, "time_s")) && strcasestr(error, e->text);
        if (!good) {
            char *s = json_dumps(o, JSON_COMPACT);
            fprintf(stderr, "    line %d: expected %s%s%s, got %s\n", e->line,
                    e->ok ? "ok and correct" : "an error mentioning \"", e->ok ? "" : e->text,
                    e->ok ? "" : "\"", s);
            free(s);
            rows_free(&rs);
            CHECK(good);
        }
    }
    rows_free(&rs);
    for (int k = 0; k < nex; k++)
        CHECK_MSG(ex[k].seen == 1, "line %d reported %d times", ex[k].line, ex[k].seen);
}

/* The same log as a table, without the default schedules: one "error:" line
 * per bad record and the summary line. */
static void test_replay_bad_records_table(void)
{
    if (!have_transtune())
        return;
    expect ex[32];
    int nex = read_expectations(BAD_RECORDS, ex, 32);
    CHECK(nex > 0);
    int ngood = 0;
    for (int i = 0; i < nex; i++)
        ngood += ex[i].ok;
    CHECK(run_tt(120, "replay", BAD_RECORDS, "--repeat", "1", "--no-default", (char *)NULL) == 0);
    if (!(R.exited && R.code == 1))
        show_run();
    CHECK_EXIT(1);
    char want[128];
    snprintf(want, sizeof want, "%d records: %d ok and correct, %d failed", nex, ngood, nex - ngood);
    CHECK_MSG(strstr(R.out, want), "no \"%s\" in:\n%s", want, R.out);
    int nerr = 0;
    for (const char *p = R.out; (p = strstr(p, "\n      error: ")); p++)
        nerr++;
    CHECK_MSG(nerr == nex - ngood, "%d error lines for %d bad records", nerr, nex - ngood);
    CHECK(strstr(R.out, "status") && strstr(R.out, "invalid_record") &&
          strstr(R.out, "instantiation_error"));
}

static void test_replay_matmul(void)
{
    if (!have_transtune())
        return;
    char path[1024];
    if (!tt_test_shared_file(path, sizeof path, "ansor/matmul.json"))
        return;
    CHECK(run_tt(180, "replay", path, "--json", "--repeat", "1", (char *)NULL) == 0);
    if (!(R.exited && R.code == 0))
        show_run();
    CHECK_EXIT(0);
    rows rs;
    CHECK(rows_parse(R.out, &rs) == 0);
    CHECK_MSG(rs.n == 1, "%d rows for matmul.json's one record", rs.n);
    const json_t *o = rs.v[0];
    int good = !strcmp(jstr(o, "status"), "ok") && jtrue(o, "correct") && jpositive(o, "time_s") &&
               jpositive(o, "gflops") && jpositive(o, "flops") && jpositive(o, "default_time_s") &&
               jtrue(o, "default_correct") && !strcmp(jstr(o, "class"), "matmul_add") &&
               strstr(jstr(o, "ansor_key"), "matmul_add") &&
               json_integer_value(json_object_get(o, "line")) == 2;
    /* 2 * 1024^3 flops, plus the 1024^2 adds */
    double flops = json_number_value(json_object_get(o, "flops"));
    good = good && flops >= 2.0 * 1024 * 1024 * 1024 && flops < 2.01 * 1024 * 1024 * 1024;
    if (!good)
        show_run();
    rows_free(&rs);
    CHECK(good);
}

/* ---- tests: kernel ---------------------------------------------------------- */

static void test_kernel_conv2d(void)
{
    if (!have_transtune())
        return;
    CHECK(run_tt(120, "kernel", "conv2d", "--h", "8", "--w", "8", "--ci", "8", "--co", "16", "--kh", "3",
                 "--epilogue", "bias,relu", "--json", "--repeat", "1", (char *)NULL) == 0);
    if (!(R.exited && R.code == 0))
        show_run();
    CHECK_EXIT(0);
    rows rs;
    CHECK(rows_parse(R.out, &rs) == 0);
    CHECK_MSG(rs.n == 1, "%d rows", rs.n);
    const json_t *o = rs.v[0];
    /* 8x8 outputs x 16 channels x (3*3*8 multiply-adds + bias + relu) */
    double flops = json_number_value(json_object_get(o, "flops"));
    int good = !strcmp(jstr(o, "status"), "ok") && jtrue(o, "correct") && jpositive(o, "time_s") &&
               jpositive(o, "gflops") && !strcmp(jstr(o, "class"), "conv2d_nhwc+add+relu") &&
               flops >= 8 * 8 * 16 * 3 * 3 * 8 * 2 && !json_object_get(o, "error");
    if (!good)
        show_run();
    rows_free(&rs);
    CHECK(good);
}

/* Grouped and depthwise (multiplier 2) conv2d under the default schedule: the
 * register tile of a reduction whose update stays scalar (the weight index
 * divides the output channel) must keep its loads and stores scalar too
 * (commit e22af3a emitted `float acc[..] = tt_vload8(..)`: compile_host_error). */
static void test_kernel_grouped_conv2d(void)
{
    if (!have_transtune())
        return;
    static const char *const cases[][16] = {
        {"kernel", "conv2d", "--h", "8", "--w", "8", "--ci", "8", "--co", "16", "--groups", "2"},
        {"kernel", "depthwise_conv2d", "--h", "8", "--w", "8", "--ci", "8", "--multiplier", "2",
         "--epilogue", "bias,relu6"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *argv[MAX_ARGS];
        int n = 0;
        argv[n++] = TRANSTUNE;
        for (int k = 0; cases[i][k]; k++)
            argv[n++] = (char *)cases[i][k];
        argv[n++] = "--json";
        argv[n++] = "--repeat";
        argv[n++] = "1";
        argv[n] = NULL;
        CHECK(run_argv(120, argv) == 0);
        rows rs;
        int good = R.exited && R.code == 0 && rows_parse(R.out, &rs) == 0;
        if (good) {
            good = rs.n == 1 && !strcmp(jstr(rs.v[0], "status"), "ok") && jtrue(rs.v[0], "correct");
            rows_free(&rs);
        }
        if (!good) {
            fprintf(stderr, "    case %zu (%s): expected exit 0, status ok, correct\n", i, cases[i][1]);
            show_run();
        }
        CHECK(good);
    }
}

/* Usage errors of `kernel`: a message on stderr naming the problem, status 2,
 * nothing measured. */
static void test_kernel_usage_errors(void)
{
    if (!have_transtune())
        return;
    static const struct {
        const char *args[16];
        const char *msg; /* in stderr */
    } cases[] = {
        {{"kernel", "frobnicate", "--h", "8", "--json"}, "unknown OP 'frobnicate'"},
        {{"kernel", "--h", "8", "--json"}, "missing OP"},
        {{"kernel", "conv2d", "--h", "8", "--w", "8", "--ci", "8", "--json"}, "--co"},
        {{"kernel", "dense", "--m", "4", "--n", "4", "--json"}, "--k"},
        {{"kernel", "softmax", "--json"}, "--shape"},
        {{"kernel", "conv2d", "--h", "eight", "--w", "8", "--ci", "8", "--co", "16", "--json"},
         "'eight'"},
        {{"kernel", "conv2d", "--h", "8", "--w", "8", "--ci", "8", "--co", "-16", "--json"}, "'-16'"},
        {{"kernel", "conv2d", "--h", "8", "--w", "8", "--ci", "8", "--co", "16x", "--json"}, "'16x'"},
        {{"kernel", "softmax", "--shape", "4,x", "--json"}, "--shape"},
        {{"kernel", "conv2d", "--h", "8", "--w", "8", "--ci", "8", "--co", "16", "--epilogue", "gelu"},
         "unknown epilogue 'gelu'"},
        {{"kernel", "conv2d", "--h", "8", "--w", "8", "--ci", "8", "--co", "16", "--threads", "many"},
         "--threads"},
        {{"kernel", "conv2d", "--h", "8", "--w", "8", "--ci", "8", "--co", "16", "--kh"}, "--kh"},
        {{"kernel", "conv2d", "--h", "0", "--w", "8", "--ci", "8", "--co", "16"}, "non-positive"},
        {{"kernel", "conv2d", "--h", "8", "--w", "8", "--ci", "8", "--co", "16", "--stride", "0"},
         "stride"},
        {{"kernel", "conv2d", "--h", "8", "--w", "8", "--ci", "8", "--co", "16", "--groups", "3"},
         "groups"},
        {{"kernel", "conv2d", "--h", "2", "--w", "2", "--ci", "8", "--co", "16", "--kh", "5", "--pad", "0"},
         "larger"},
        {{"kernel", "conv2d", "--h", "8", "--w", "8", "--ci", "8", "--co", "16", "--record", "{}",
          "--default"},
         "exclude"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *argv[MAX_ARGS];
        int n = 0;
        argv[n++] = TRANSTUNE;
        for (int k = 0; cases[i].args[k]; k++)
            argv[n++] = (char *)cases[i].args[k];
        argv[n] = NULL;
        CHECK(run_argv(30, argv) == 0);
        int good = R.exited && R.code == 2 && strstr(R.err, cases[i].msg) && R.out[0] == 0;
        if (!good) {
            fprintf(stderr, "    case %zu (", i);
            for (int k = 1; k < n; k++)
                fprintf(stderr, "%s%s", k > 1 ? " " : "", argv[k]);
            fprintf(stderr, "): expected exit 2 and \"%s\" on stderr\n", cases[i].msg);
            show_run();
        }
        CHECK(good);
    }
}

/* The last record of bad-records.json: the good conv2d 1x1 7x7x2048 -> 512. */
static char *conv_record(void)
{
    FILE *f = fopen(BAD_RECORDS, "r");
    if (!f)
        return NULL;
    static char buf[1 << 16];
    char *last = NULL;
    while (fgets(buf, sizeof buf, f))
        if (buf[0] == '{') {
            free(last);
            buf[strcspn(buf, "\n")] = 0;
            last = strdup(buf);
        }
    fclose(f);
    return last;
}

/* --record: malformed JSON and a record for another shape are reported as
 * the record's status (exit 1), the workload itself still built. */
static void test_kernel_bad_record(void)
{
    if (!have_transtune())
        return;
    const char *shape[] = {"kernel", "conv2d", "--h", "8", "--w", "8", "--ci", "8", "--co", "16",
                           "--kh", "1", "--epilogue", "bias,relu", "--json", "--no-default"};
    enum { NSHAPE = sizeof shape / sizeof shape[0] };
    char *rec = conv_record();
    CHECK(rec && strstr(rec, "6b7583cf23c7c37d3212cad9d06e58c1"));
    static const struct {
        const char *record, *status, *msg;
    } cases[] = {
        {"{\"i\": [[", "invalid_record", "malformed JSON"},
        {"{oops", "invalid_record", "malformed JSON"},
        {"", "invalid_record", ""},
        {"[]", "invalid_record", "object"},
        {NULL, "instantiation_error", "does not match"}, /* the 7x7x2048 record on 8x8x8 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *argv[MAX_ARGS];
        int n = 0;
        argv[n++] = TRANSTUNE;
        for (int k = 0; k < NSHAPE; k++)
            argv[n++] = (char *)shape[k];
        argv[n++] = "--record";
        argv[n++] = cases[i].record ? (char *)cases[i].record : rec;
        argv[n] = NULL;
        if (run_argv(60, argv)) {
            free(rec);
            CHECK(0);
        }
        rows rs;
        int good = R.exited && R.code == 1 && rows_parse(R.out, &rs) == 0;
        if (good) {
            good = rs.n == 1 && !strcmp(jstr(rs.v[0], "status"), cases[i].status) &&
                   !jtrue(rs.v[0], "correct") && strcasestr(jstr(rs.v[0], "error"), cases[i].msg) &&
                   jstr(rs.v[0], "error")[0];
            rows_free(&rs);
        }
        if (!good) {
            fprintf(stderr, "    case %zu: expected exit 1, status %s, an error with \"%s\"\n", i,
                    cases[i].status, cases[i].msg);
            show_run();
            free(rec);
            CHECK(good);
        }
    }
    free(rec);
}

/* --record with the record's own shape: replayed, built, correct. */
static void test_kernel_record_ok(void)
{
    if (!have_transtune())
        return;
    char *rec = conv_record();
    CHECK(rec);
    int rc = run_tt(120, "kernel", "conv2d", "--h", "7", "--w", "7", "--ci", "2048", "--co", "512", "--kh",
                    "1", "--epilogue", "bias,relu", "--json", "--repeat", "1", "--no-default", "--record",
                    rec, (char *)NULL);
    free(rec);
    CHECK(rc == 0);
    if (!(R.exited && R.code == 0))
        show_run();
    CHECK_EXIT(0);
    rows rs;
    CHECK(rows_parse(R.out, &rs) == 0);
    int good = rs.n == 1 && !strcmp(jstr(rs.v[0], "status"), "ok") && jtrue(rs.v[0], "correct") &&
               jpositive(rs.v[0], "time_s") &&
               strstr(jstr(rs.v[0], "ansor_key"), "6b7583cf23c7c37d3212cad9d06e58c1");
    rows_free(&rs);
    if (!good)
        show_run();
    CHECK(good);
}

/* ---- scripts/check-avx512.sh -------------------------------------------------- */

static int have_command(const char *name)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", name);
    return system(cmd) == 0;
}

static void test_avx512_script(void)
{
    const char *script = "scripts/check-avx512.sh";
    /* the script is part of the repository: not executable is a failure */
    CHECK_MSG(access(script, X_OK) == 0, "%s missing or not executable", script);
    if (!have_command("gcc") || !have_command("clang") || !have_command("pkg-config"))
        SKIP("check-avx512.sh needs gcc, clang and pkg-config (scripts/install-deps.sh)");
    char *argv[] = {(char *)script, NULL};
    /* a hang guard only (about 10 s on an idle host: two -O3 compiles) */
    CHECK(run_argv(300, argv) == 0);
    if (!(R.exited && R.code == 0) || !strstr(R.out, "PASS gcc") || !strstr(R.out, "PASS clang"))
        show_run();
    CHECK_EXIT(0);
    CHECK(strstr(R.out, "PASS gcc") && strstr(R.out, "PASS clang"));
    CHECK(!strstr(R.out, "FAIL"));
}

/* ---- tests: models, kernels, run --------------------------------------------- */

static void test_models_and_kernels(void)
{
    if (!have_transtune())
        return;
    CHECK(run_tt(30, "models", (char *)NULL) == 0 && R.exited && R.code == 0);
    static const char *const zoo[] = {"resnet18", "resnet50", "alexnet", "vgg16", "mobilenet_v2",
                                      "googlenet", "mnasnet1_0", "efficientnet_b0",
                                      "efficientnet_b4", "bert_base", "mobilebert",
                                      "resnet50_tvm", "tiny", NULL};
    for (int i = 0; zoo[i]; i++)
        CHECK_MSG(strstr(R.out, zoo[i]), "models lacks %s", zoo[i]);
    CHECK(run_tt(60, "kernels", "tiny", "--json", (char *)NULL) == 0 && R.exited && R.code == 0);
    json_error_t je;
    json_t *o = json_loads(R.out, 0, &je);
    CHECK_MSG(o, "kernels --json: %s", je.text);
    json_t *ks = json_object_get(o, "kernels");
    int ok = json_is_array(ks) && json_array_size(ks) >= 5;
    for (size_t k = 0; ok && k < json_array_size(ks); k++) {
        json_t *x = json_array_get(ks, k);
        ok = json_is_string(json_object_get(x, "class_key")) &&
             json_is_string(json_object_get(x, "workload_key")) &&
             json_integer_value(json_object_get(x, "weight")) >= 1 &&
             json_is_array(json_object_get(x, "shapes"));
    }
    json_decref(o);
    CHECK(ok);
}

/* Bad models: a clear message, exit 1, no crash. */
static void test_bad_models(void)
{
    if (!have_transtune())
        return;
    static const struct {
        const char *file, *msg;
    } bad[] = {
        {"tests/data/onnx/bad-truncated.onnx", "not a valid ONNX model"},
        {"tests/data/onnx/bad-random.onnx", "not a valid ONNX model"},
        {"tests/data/onnx/bad-unknown-op.onnx", "unsupported operator 'FooBar' (node 'foo'; the supported ones: docs/cli.md"},
        {"tests/data/onnx/bad-missing-init.onnx", "bad-missing-init.onnx"},
        {"tests/data/onnx/bad-shapes.onnx", "inner dimensions differ"},
        {"tests/data/nonexistent.onnx", "nonexistent.onnx"},
        {"nosuchmodel", "unknown zoo model 'nosuchmodel'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(run_tt(30, "kernels", bad[i].file, (char *)NULL) == 0);
        CHECK_MSG(R.exited && R.code == 1 && strstr(R.err, bad[i].msg),
                  "kernels %s: exit %d, stderr: %s", bad[i].file, R.code, R.err);
        CHECK(run_tt(30, "run", bad[i].file, (char *)NULL) == 0);
        CHECK_MSG(R.exited && R.code == 1 && strstr(R.err, bad[i].msg),
                  "run %s: exit %d, stderr: %s", bad[i].file, R.code, R.err);
    }
    /* an input of the wrong shape, and usage errors */
    CHECK(run_tt(60, "run", "tiny", "--input", "tests/data/onnx/convnet.out.npy", (char *)NULL) == 0);
    CHECK_MSG(R.exited && R.code == 1 && strstr(R.err, "takes float32 (1, 3, 32, 32) (NCHW"), "%s",
              R.err);
    CHECK(run_tt(10, "run", (char *)NULL) == 0);
    CHECK(R.exited && R.code == 2 && strstr(R.err, "usage"));
    CHECK(run_tt(10, "run", "tiny", "--repeat", "0", (char *)NULL) == 0);
    CHECK(R.exited && R.code == 2 && strstr(R.err, "--repeat"));
    CHECK(run_tt(10, "kernels", "tiny", "--bogus", (char *)NULL) == 0);
    CHECK(R.exited && R.code == 2 && strstr(R.err, "--bogus"));
}

const tt_test tests_cli[] = {
    {"models_and_kernels", test_models_and_kernels},
    {"bad_models", test_bad_models},
    {"help", test_help},
    {"usage_errors", test_usage_errors},
    {"replay_missing_file", test_replay_missing_file},
    {"replay_bad_records", test_replay_bad_records},
    {"replay_bad_records_table", test_replay_bad_records_table},
    {"replay_matmul", test_replay_matmul},
    {"kernel_conv2d", test_kernel_conv2d},
    {"kernel_grouped_conv2d", test_kernel_grouped_conv2d},
    {"kernel_usage_errors", test_kernel_usage_errors},
    {"kernel_bad_record", test_kernel_bad_record},
    {"kernel_record_ok", test_kernel_record_ok},
    {"avx512_script", test_avx512_script},
    {NULL, NULL},
};
