/* cmd_transfer.c - `transtune transfer MODEL`: transfer-tuning from the
 * other models' schedules in the record database. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../transfer/transfer.h"
#include "cli.h"

static void transfer_help(void)
{
    printf(
        "usage: transtune transfer MODEL [--db DB] [--from M1,M2,... | --pairs paper] [--max-sources N]\n"
        "                          [--match auto|exact|related] [--related-k K] [--top-k K|auto|all]\n"
        "                          [--threads T] [--repeat R] [--json]\n"
        "\n"
        "Transfer-tune MODEL (a zoo name or an .onnx file): for every kernel, measure the\n"
        "best schedules that other models in the database DB (default $TT_DB, else\n"
        "transtune.db in the user's cache folder, see db --help) were tuned with, for\n"
        "kernels of the same class (fused op sequence), replayed on this kernel's\n"
        "shapes, beside its default schedule; every candidate is built, run in the\n"
        "isolated runner and its output checked.  Each\n"
        "kernel keeps its fastest correct candidate if it beats the default.  Then the\n"
        "untuned and the transferred model are timed end to end, alternately, and the\n"
        "transferred output is checked against the untuned one; kernels that are slower\n"
        "in place are reset, so the result is never slower than untuned.  The 3x3\n"
        "stride-1 convs' Winograd forms are kernels too (candidates: Winograd schedules),\n"
        "and both models run each such conv in the form fastest in place, as `run` does.\n"
        "Unless --top-k all: a form more than 1.2x slower in place than another in the\n"
        "untuned model, and the kernels that together take the smallest 5%% of its\n"
        "kernel time (one profile), get no candidates measured.  Compiled kernels are\n"
        "cached by the hash of their C for the run: code built once is never built again.\n"
        "The chosen\n"
        "schedules are stored in DB (origin transferred, with their source model), so\n"
        "`transtune run MODEL --db DB` runs them.  Records tuned for MODEL itself are\n"
        "never used.  Without --db, the schedules shipped under schedules/ISA/ (records\n"
        "tuned for zoo models, one Ansor log per model, per vector ISA: avx512 or avx2, the\n"
        "host's) are imported into the default database first, so a fresh machine needs no\n"
        "tuning of its own.\n"
        "\n"
        "  --from M1,M2    source models (default: every model in DB that has a kernel\n"
        "                  of one of MODEL's classes, ranked by the share of MODEL's FLOPs\n"
        "                  those classes cover)\n"
        "  --pairs paper   the paper's hand-picked source for MODEL (resnet18 <- resnet50,\n"
        "                  resnet50 <- googlenet, alexnet <- vgg16, vgg16 <- googlenet,\n"
        "                  mobilenet_v2 <- efficientnet_b4, googlenet <- resnet50,\n"
        "                  mnasnet1_0 <- googlenet, efficientnet_b0 <-> efficientnet_b4,\n"
        "                  bert_base <-> mobilebert)\n"
        "  --match M       which schedules a kernel may take: exact = those of kernels of\n"
        "                  its class only (the paper's rule); related = also those of\n"
        "                  kernels with the same anchor op and another elementwise\n"
        "                  epilogue (a conv2d+add+relu schedule for a conv2d+add+clip\n"
        "                  kernel), rewritten for its stages; auto (default) = exact,\n"
        "                  and related ones for kernels that have no same-class schedule\n"
        "  --related-k K   per kernel, at most K related candidates, from the source\n"
        "                  kernels nearest in shape (default 8; 0 = all)\n"
        "  --top-k K|auto|all  which candidates are built and measured.  A cost model,\n"
        "                  trained on the source kernels' measured records, ranks every\n"
        "                  kernel's candidates; auto (default): the 2 it ranks best, and\n"
        "                  up to 5 while it cannot tell them apart (scores within 0.05);\n"
        "                  K: the K best; all: every candidate of every form and kernel\n"
        "                  (the paper's protocol, several times slower)\n"
        "  --max-sources N at most the N best-ranked sources\n"
        "  --threads T     kernel threads (default: all cores)\n"
        "  --repeat R      end-to-end pairs of runs per round, 3 rounds (default: 20, fewer\n"
        "                  for a slow model, down to 5: about 4 s of timing)\n"
        "  --no-shipped    without --db: do not load the shipped schedules\n"
        "  --no-confirm    choose on the first measurement; by default each kernel's\n"
        "                  fastest candidate is measured again (10 repeats beside the\n"
        "                  default) and kept only if it is still faster\n"
        "  --json          one JSON object: untuned_ms, tuned_ms, speedup, search_time_s,\n"
        "                  kernels, kernels_improved, sources, per-kernel details\n"
        "Exit status: 0 ok (also when nothing could be transferred: the report says why);\n"
        "1 failure; 2 usage.\n");
}

static void on_msg(void *ctx, const char *msg)
{
    (void)ctx;
    fprintf(stderr, "transfer: %s\n", msg);
}

/* One kernel of the transfer as a JSON object (in kernel_details). */
static json_t *report_json_kernel(const tt_transfer_kernel *k, const char (*srcs)[128])
{
    json_t *x = json_object();
    json_object_set_new(x, "name", json_string(k->name));
    json_object_set_new(x, "class", json_string(k->class_key));
    json_object_set_new(x, "weight", json_integer(k->weight));
    if (k->alt_of >= 0) {
        json_object_set_new(x, "alternative_of", json_integer(k->alt_of));
        json_object_set_new(x, "winograd_tile", json_integer(k->wino_m));
    }
    json_object_set_new(x, "runs", json_boolean(k->runs));
    json_object_set_new(x, "candidates", json_integer(k->candidates));
    json_object_set_new(x, "related_candidates", json_integer(k->related));
    json_object_set_new(x, "valid", json_integer(k->valid));
    json_object_set_new(x, "ranked_out", json_integer(k->ranked_out));
    json_object_set_new(x, "chosen_source", k->chosen ? json_string(k->source) : json_null());
    json_object_set_new(x, "chosen_source_class",
                        k->chosen ? json_string(k->source_class) : json_null());
    json_object_set_new(x, "default_ms", k->default_s > 0 ? json_real(k->default_s * 1e3) : json_null());
    json_object_set_new(x, "best_ms", k->best_s > 0 ? json_real(k->best_s * 1e3) : json_null());
    json_object_set_new(x, "speedup", k->chosen && k->chosen_s > 0 && k->default_s > 0
                                          ? json_real(k->default_s / k->chosen_s)
                                          : json_real(1.0));
    json_object_set_new(x, "reset", json_boolean(k->reset));
    json_object_set_new(x, "form_skipped", json_boolean(k->form_skipped));
    json_object_set_new(x, "time_skipped", json_boolean(k->time_skipped));
    json_object_set_new(x, "inplace_ms", k->inplace_s > 0 ? json_real(k->inplace_s * 1e3) : json_null());
    json_t *cs = json_array();
    for (int i = 0; i < k->ncands; i++) {
        const tt_transfer_cand *c = &k->cands[i];
        json_t *cj = json_object();
        json_object_set_new(cj, "source", json_string(srcs[c->source]));
        json_object_set_new(cj, "score", json_real(isfinite(c->score) ? c->score : -1.0));
        json_object_set_new(cj, "shape_distance", json_real(c->dist));
        json_object_set_new(cj, "measured", json_boolean(c->measured));
        if (c->measured) {
            json_object_set_new(cj, "correct", json_boolean(c->correct));
            json_object_set_new(cj, "cut", json_boolean(c->cut));
            json_object_set_new(cj, "ms", c->time_s > 0 ? json_real(c->time_s * 1e3) : json_null());
        }
        json_array_append_new(cs, cj);
    }
    json_object_set_new(x, "candidate_details", cs);
    if (k->reason[0])
        json_object_set_new(x, "first_failure", json_string(k->reason));
    return x;
}

/* The whole result as one JSON object on one line. */
static void report_json(const char *name, const tt_transfer_result *r)
{
    json_t *o = json_object();
    json_object_set_new(o, "model", json_string(name));
    json_object_set_new(o, "untuned_ms", json_real(r->untuned_s * 1e3));
    json_object_set_new(o, "tuned_ms", json_real(r->tuned_s * 1e3));
    json_object_set_new(o, "speedup", json_real(r->speedup));
    json_object_set_new(o, "search_time_s", json_real(r->search_s));
    json_object_set_new(o, "kernels", json_integer(r->nkernels));
    json_object_set_new(o, "kernels_improved", json_integer(r->kernels_improved));
    json_object_set_new(o, "kernels_chosen", json_integer(r->kernels_chosen));
    json_object_set_new(o, "winograd", json_integer(r->winograd));
    json_object_set_new(o, "winograd_untuned", json_integer(r->winograd_untuned));
    json_object_set_new(o, "candidates", json_integer(r->candidates));
    json_object_set_new(o, "candidates_valid", json_integer(r->valid));
    json_object_set_new(o, "match", json_string(tt_transfer_match_names[r->match]));
    json_object_set_new(o, "cache_state", json_string(r->cache_why));
    json_object_set_new(o, "confirmed", json_integer(r->confirmed));
    json_object_set_new(o, "confirm_rejected", json_integer(r->confirm_rejected));
    json_object_set_new(o, "kernels_reset", json_integer(r->resets));
    json_object_set_new(o, "max_rel_err", json_real(r->max_rel_err));
    if (r->note[0])
        json_object_set_new(o, "note", json_string(r->note));
    json_t *src = json_array();
    for (int i = 0; i < r->nsources; i++) {
        json_t *s = json_object();
        json_object_set_new(s, "model", json_string(r->sources[i]));
        json_object_set_new(s, "flops_covered", json_real(r->coverage[i]));
        json_array_append_new(src, s);
    }
    json_object_set_new(o, "sources", src);
    json_t *ks = json_array();
    for (int i = 0; i < r->nkernels; i++)
        json_array_append_new(ks, report_json_kernel(&r->k[i], r->sources));
    json_object_set_new(o, "kernel_details", ks);
    char *s = json_dumps(o, JSON_COMPACT);
    printf("%s\n", s);
    free(s);
    json_decref(o);
}

/* The sources and one table row per kernel that had candidates. */
static void report_table(const tt_transfer_result *r)
{
    printf("sources:");
    for (int i = 0; i < r->nsources; i++)
        printf(" %s (%.0f%% of the FLOPs)", r->sources[i], 100 * r->coverage[i]);
    printf("%s\n", r->nsources ? "" : " none");
    if (r->cache_why[0])
        printf("timed in cache state %s\n", r->cache_why);
    printf("%-32s %-28s %6s %5s %5s %-16s %10s %10s %8s\n", "kernel", "class", "weight", "cand",
           "valid", "chosen source", "default_ms", "chosen_ms", "speedup");
    for (int i = 0; i < r->nkernels; i++) {
        const tt_transfer_kernel *k = &r->k[i];
        if (k->candidates == 0)
            continue;
        char d[32] = "-", c[32] = "-", nm[96];
        if (k->alt_of >= 0)
            snprintf(nm, sizeof nm, "%.20s [F(%d,3)]", k->name, k->wino_m);
        else
            snprintf(nm, sizeof nm, "%s", k->name);
        if (k->default_s > 0)
            snprintf(d, sizeof d, "%.4f", k->default_s * 1e3);
        if (k->chosen_s > 0)
            snprintf(c, sizeof c, "%.4f", k->chosen_s * 1e3);
        printf("%-32.32s %-28.28s %6d %5d %5d %-16.16s %10s %10s %7.2fx%s%s\n", nm, k->class_key,
               k->weight, k->candidates, k->valid, k->chosen ? k->source : k->reset ? "(reset)" : "default",
               d, c, k->chosen && k->chosen_s > 0 && k->default_s > 0 ? k->default_s / k->chosen_s : 1.0,
               k->valid < k->candidates && k->reason[0] ? "  *" : "",
               k->runs ? "" : "  (other form runs)");
    }
}

/* The notes under the table (related classes, kernels without candidates,
 * the first failure, Winograd, confirmation) and the summary line. */
static void report_notes(const char *name, const tt_transfer_result *r)
{
    int n_related = 0;
    for (int i = 0; i < r->nkernels; i++)
        n_related += r->k[i].chosen && r->k[i].source_class[0] &&
                     strcmp(r->k[i].source_class, r->k[i].class_key) != 0;
    if (n_related)
        printf("(%d kernel%s run a schedule tuned for a related class: same anchor, another "
               "epilogue)\n", n_related, n_related == 1 ? "" : "s");
    int n_other = 0;
    for (int i = 0; i < r->nkernels; i++)
        n_other += r->k[i].candidates == 0;
    if (n_other)
        printf("(%d kernel%s without a candidate keep the default schedule)\n", n_other,
               n_other == 1 ? "" : "s");
    for (int i = 0; i < r->nkernels; i++)
        if (r->k[i].valid < r->k[i].candidates && r->k[i].reason[0]) {
            printf("* %s: %s\n", r->k[i].name, r->k[i].reason);
            break;
        }
    if (r->winograd || r->winograd_untuned)
        printf("Winograd (chosen in place): %d convs in the transferred model, %d in the untuned "
               "one\n", r->winograd, r->winograd_untuned);
    if (r->note[0])
        printf("nothing transferred: %s\n", r->note);
    if (r->confirmed)
        printf("chosen candidates measured again: %d, of which %d were then not faster than the "
               "default\n", r->confirmed, r->confirm_rejected);
    printf("%s: untuned %.3f ms, transferred %.3f ms, speedup %.2fx; %d of %d kernels improved "
           "(%d candidates, %d valid%s); search time %.1f s\n",
           name, r->untuned_s * 1e3, r->tuned_s * 1e3, r->speedup, r->kernels_improved, r->nkernels,
           r->candidates, r->valid, r->resets ? ", some reset after the end-to-end check" : "",
           r->search_s);
}

/* The transfer's result on stdout: one JSON line, or the table, its notes
 * and the summary line. */
static void report(const char *name, const tt_transfer_result *r, int json)
{
    if (json) {
        report_json(name, r);
        return;
    }
    report_table(r);
    report_notes(name, r);
}

/* The command line of `transfer`, as parsed. */
typedef struct xfer_args {
    const char *what, *db_path, *from, *pairs;
    int json, no_shipped, no_confirm, match;
    int64_t threads, max_sources, repeat, top_k, related_k;
    char fbuf[2048]; /* --from's copy, cut at the commas */
    const char *names[TT_TRANSFER_MAX_SOURCES];
    int nfrom;
} xfer_args;

/* Option a's value v into A (a is one of the options that take a value).
 * 0, or 2 after printing the usage error. */
static int transfer_option(xfer_args *A, const char *a, const char *v)
{
    if (!strcmp(a, "--db")) {
        A->db_path = v;
    } else if (!strcmp(a, "--from")) {
        A->from = v;
    } else if (!strcmp(a, "--match")) {
        A->match = -1;
        for (int j = 0; j < TT_MATCH_COUNT; j++)
            if (!strcmp(v, tt_transfer_match_names[j]))
                A->match = j;
        if (A->match < 0) {
            fprintf(stderr, "transtune transfer: --match takes auto, exact or related, "
                            "got '%s'\n", v);
            return 2;
        }
    } else if (!strcmp(a, "--pairs")) {
        if (strcmp(v, "paper")) {
            fprintf(stderr, "transtune transfer: --pairs takes 'paper', got '%s'\n", v);
            return 2;
        }
        A->pairs = v;
    } else if (!strcmp(a, "--top-k") && (!strcmp(v, "all") || !strcmp(v, "auto"))) {
        A->top_k = !strcmp(v, "all") ? -1 : 0;
    } else {
        int64_t x;
        if (cli_parse_i64(v, &x) || x > 4096 ||
            ((!strcmp(a, "--repeat") || !strcmp(a, "--top-k")) && x < 1)) {
            int pos = !strcmp(a, "--repeat") || !strcmp(a, "--top-k");
            fprintf(stderr, "transtune transfer: %s needs %s, got '%s'\n", a,
                    !strcmp(a, "--top-k") ? "auto, all or an integer from 1 to 4096"
                    : pos                 ? "an integer from 1 to 4096"
                                          : "an integer from 0 to 4096",
                    v);
            return 2;
        }
        if (!strcmp(a, "--threads"))
            A->threads = x;
        else if (!strcmp(a, "--max-sources"))
            A->max_sources = x;
        else if (!strcmp(a, "--top-k"))
            A->top_k = x;
        else if (!strcmp(a, "--related-k"))
            A->related_k = x == 0 ? -1 : x;
        else
            A->repeat = x;
    }
    return 0;
}

/* --from's comma-separated list into A->names.  0, or 2 after printing the
 * usage error (too many names, or none). */
static int transfer_split_from(xfer_args *A)
{
    snprintf(A->fbuf, sizeof A->fbuf, "%s", A->from);
    for (char *tok = strtok(A->fbuf, ","); tok; tok = strtok(NULL, ",")) {
        if (A->nfrom == TT_TRANSFER_MAX_SOURCES) {
            fprintf(stderr, "transtune transfer: at most %d --from models\n", TT_TRANSFER_MAX_SOURCES);
            return 2;
        }
        A->names[A->nfrom++] = tok;
    }
    if (A->nfrom == 0) {
        fprintf(stderr, "transtune transfer: --from needs model names\n");
        return 2;
    }
    return 0;
}

/* The command line into A (zeroed first).  0: run; -1: --help was printed
 * (exit 0); 2: a usage error was printed. */
static int transfer_parse(int argc, char **argv, xfer_args *A)
{
    memset(A, 0, sizeof *A);
    A->match = TT_MATCH_AUTO;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            transfer_help();
            return -1;
        }
        if (!strcmp(a, "--json")) {
            A->json = 1;
            continue;
        }
        if (!strcmp(a, "--no-shipped")) {
            A->no_shipped = 1;
            continue;
        }
        if (!strcmp(a, "--no-confirm")) {
            A->no_confirm = 1;
            continue;
        }
        if (!strcmp(a, "--db") || !strcmp(a, "--from") || !strcmp(a, "--threads") ||
            !strcmp(a, "--max-sources") || !strcmp(a, "--repeat") || !strcmp(a, "--pairs") ||
            !strcmp(a, "--top-k") || !strcmp(a, "--match") || !strcmp(a, "--related-k")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "transtune transfer: %s needs a value\n", a);
                return 2;
            }
            if (transfer_option(A, a, argv[++i]))
                return 2;
            continue;
        }
        if (a[0] == '-') {
            fprintf(stderr, "transtune transfer: unknown option '%s' (see --help)\n", a);
            return 2;
        }
        if (A->what) {
            fprintf(stderr, "transtune transfer: one MODEL only\n");
            return 2;
        }
        A->what = a;
    }
    if (!A->what) {
        fprintf(stderr, "usage: transtune transfer MODEL [--db DB] [--from M1,M2] ... (see --help)\n");
        return 2;
    }
    if (A->from && A->pairs) {
        fprintf(stderr, "transtune transfer: --from and --pairs exclude each other\n");
        return 2;
    }
    return A->from ? transfer_split_from(A) : 0;
}

/* Open the database at path into *db; without --db (and without
 * --no-shipped) import the shipped schedules into it first.  0, or 1 after
 * printing the error (the database closed). */
static int transfer_open_db(const xfer_args *A, const char *path, tt_db **db, tt_err *err)
{
    if (tt_db_open(path, 0, db, err)) {
        fprintf(stderr, "transtune transfer: %s\n", err->msg);
        return 1;
    }
    if (!A->db_path && !A->no_shipped) {
        /* without --db: the schedules shipped for the zoo on this CPU class */
        char dir[4096];
        int nf = 0, nr = 0;
        if (tt_transfer_shipped_dir(dir, sizeof dir)) {
            if (tt_transfer_load_shipped(*db, dir, &nf, &nr, err)) {
                fprintf(stderr, "transtune transfer: %s\n", err->msg);
                tt_db_close(*db);
                return 1;
            }
            if (!A->json)
                fprintf(stderr, "transfer: shipped schedules %s: %d model%s, %d new records in %s\n", dir,
                        nf, nf == 1 ? "" : "s", nr, path);
        } else if (!A->json) {
            fprintf(stderr, "transfer: no shipped schedules folder (set TT_SCHEDULES)\n");
        }
    }
    return 0;
}

/* The transfer's options from the command line (sources: --from's names). */
static void transfer_opts(xfer_args *A, tt_transfer_opts *o)
{
    memset(o, 0, sizeof *o);
    o->threads = (int)A->threads;
    o->nfrom = A->nfrom;
    o->from = A->names;
    o->max_sources = (int)A->max_sources;
    o->repeat = (int)A->repeat;
    o->top_k = (int)A->top_k;
    o->match = (tt_transfer_match)A->match;
    o->related_k = (int)A->related_k;
    o->no_confirm = A->no_confirm;
    o->progress = A->json ? NULL : on_msg;
}

/* `transtune transfer MODEL ...`: parse, load the model, open the database
 * (shipped schedules in), transfer, report.  Exit status 0, 1 or 2 (see
 * transfer_help). */
int cmd_transfer(int argc, char **argv)
{
    xfer_args A;
    int prc = transfer_parse(argc, argv, &A);
    if (prc)
        return prc < 0 ? 0 : prc;
    tt_err err = {0};
    tt_model *m = NULL;
    if (cli_model_load(A.what, &m, &err)) {
        fprintf(stderr, "transtune transfer: %s\n", err.msg);
        return 1;
    }
    const char *path = A.db_path ? A.db_path : cli_db_default_path();
    tt_db *db = NULL;
    if (transfer_open_db(&A, path, &db, &err)) {
        tt_model_free(m);
        return 1;
    }
    tt_transfer_opts o;
    transfer_opts(&A, &o);
    tt_transfer_result r;
    const char *name = m->name[0] ? m->name : A.what;
    if (A.pairs) {
        const char *src = tt_transfer_paper_source(name);
        if (!src) {
            fprintf(stderr, "transtune transfer: the paper has no source for '%s' (its targets are the "
                            "11 zoo models)\n", name);
            tt_db_close(db);
            tt_model_free(m);
            return 2;
        }
        A.names[0] = src;
        o.nfrom = 1;
    }
    int rc = tt_transfer_model(db, name, A.what, m, &o, &r, &err);
    if (rc)
        fprintf(stderr, "transtune transfer: %s\n", err.msg);
    else
        report(name, &r, A.json);
    tt_transfer_result_free(&r);
    tt_db_close(db);
    tt_model_free(m);
    return rc ? 1 : 0;
}
