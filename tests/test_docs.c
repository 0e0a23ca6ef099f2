/* test_docs.c - docs/cli.md holds every command's --help, verbatim.
 *
 * docs/cli.md is the command line's reference.  For each command it has a
 * "## " heading that names it as `transtune CMD` (one heading may name
 * several: "## `transtune tune`, `transtune tune-kernel`"), and the output of
 * `build/transtune CMD --help` as a whole fenced block, fences on lines of
 * their own:
 *
 *   ```
 *   usage: transtune CMD ...
 *   ...
 *   ```
 *
 * and the same for `transtune --help`, under a heading naming
 * `transtune --help`.  The commands are those `transtune --help` lists: the
 * lines under "commands:", up to the first blank line, that start with two
 * spaces and a lower-case letter ("  run MODEL [--check] ..."); the lines
 * that continue a description start with more spaces.
 *
 * docs/cli_help_matches runs them all and fails naming each command whose
 * heading is missing or whose help is not there verbatim, so the reference
 * cannot drift from the program (after changing a help text, paste the new
 * output over the old block).  It is skipped when build/transtune is
 * missing.  docs/checker_finds_drift runs the same checker on a made-up
 * document and help texts, altered in each way it must catch, and sees it
 * fail. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdlib.h>
#include <string.h>

#include "../src/util/util.h"
#include "test.h"
#include "test_cli.h"

#define DC_DOC "docs/cli.md"
#define DC_MAX_CMDS 32
#define DC_NAME 32

/* The commands a top-level help lists (see the grammar above), into names;
 * their count (at most max; a name of DC_NAME characters or more is left
 * out, and so is any line past max). */
static int dc_commands(const char *help, char names[][DC_NAME], int max)
{
    const char *p = strstr(help, "\ncommands:\n");
    if (!p)
        return 0;
    p += strlen("\ncommands:\n");
    int n = 0;
    while (*p && *p != '\n' && n < max) {
        const char *e = strchr(p, '\n');
        if (p[0] == ' ' && p[1] == ' ' && p[2] >= 'a' && p[2] <= 'z') {
            size_t k = strcspn(p + 2, " \n");
            if (k < DC_NAME) {
                memcpy(names[n], p + 2, k);
                names[n++][k] = 0;
            }
        }
        if (!e)
            break;
        p = e + 1;
    }
    return n;
}

/* 1 if a "## " heading line of doc contains title. */
static int dc_has_heading(const char *doc, const char *title)
{
    for (const char *p = doc; *p;) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (strncmp(p, "## ", 3) == 0 && memmem(p, len, title, strlen(title)))
            return 1;
        p += len + (e ? 1 : 0);
    }
    return 0;
}

/* 1 if doc has help as a whole fenced block: a line "```", the help's lines,
 * a line "```" (then a newline or the end). */
static int dc_has_block(const char *doc, const char *help)
{
    size_t hl = strlen(help);
    int nl = hl > 0 && help[hl - 1] == '\n';
    tt_str needle;
    tt_str_init(&needle);
    tt_str_catf(&needle, "\n```\n%s%s```", help, nl ? "" : "\n");
    int found = 0;
    for (const char *p = doc; !found && (p = strstr(p, needle.buf)); p++) {
        char after = p[needle.len];
        found = after == '\n' || after == 0;
    }
    tt_str_free(&needle);
    return found;
}

/* The first line of help that is no whole line of doc, its length in *len;
 * NULL if every line is (then the block is out of order, or not fenced). */
static const char *dc_first_missing_line(const char *doc, const char *help, size_t *len)
{
    const char *miss = NULL;
    tt_str line;
    tt_str_init(&line);
    for (const char *p = help; *p && !miss;) {
        const char *e = strchr(p, '\n');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        tt_str_clear(&line);
        tt_str_catf(&line, "\n%.*s\n", (int)l, p);
        if (!strstr(doc, line.buf))
            miss = p, *len = l;
        p += l + (e ? 1 : 0);
    }
    tt_str_free(&line);
    return miss;
}

/* Check doc against one command: cmd its name (NULL for the top level, whose
 * heading names `transtune --help`), help what `transtune [cmd] --help`
 * printed.  Appends one line per fault to report, naming the command; the
 * count of faults (0, 1 or 2). */
static int dc_check(const char *doc, const char *cmd, const char *help, tt_str *report)
{
    char title[DC_NAME + 16], shown[DC_NAME + 16];
    snprintf(title, sizeof title, "`transtune %s`", cmd ? cmd : "--help");
    snprintf(shown, sizeof shown, "transtune %s%s--help", cmd ? cmd : "", cmd ? " " : "");
    int bad = 0;
    if (!dc_has_heading(doc, title)) {
        bad++;
        tt_str_catf(report, "    %s: no \"## \" heading in %s names %s\n", cmd ? cmd : "--help",
                    DC_DOC, title);
    }
    if (!dc_has_block(doc, help)) {
        bad++;
        size_t len = 0;
        const char *miss = dc_first_missing_line(doc, help, &len);
        tt_str_catf(report, "    %s: the output of `%s` is not in %s verbatim, as a whole fenced "
                            "block (",
                    cmd ? cmd : "--help", shown, DC_DOC);
        if (miss)
            tt_str_catf(report, "its first line not there: \"%.*s\"", (int)len, miss);
        else
            tt_str_cat(report, "every line of it is there, but not as one block");
        tt_str_catf(report, "); it now reads:\n%s", help);
    }
    return bad;
}

/* Every command of `build/transtune --help`, and that help itself, against
 * docs/cli.md. */
static void docs_cli_help_matches(void)
{
    if (!have_transtune())
        return;
    tt_err err = {0};
    char *doc = tt_read_file(DC_DOC, NULL, &err);
    CHECK_MSG(doc, "%s", err.msg);
    char *top = NULL;
    if (run_tt(10, "--help", (char *)NULL) == 0 && R.exited && R.code == 0)
        top = tt_xstrdup(R.out);
    else
        show_run();
    char names[DC_MAX_CMDS][DC_NAME];
    int n = top ? dc_commands(top, names, DC_MAX_CMDS) : 0;
    tt_str report;
    tt_str_init(&report);
    int bad = top ? dc_check(doc, NULL, top, &report) : 0;
    for (int i = 0; i < n; i++) {
        if (run_tt(10, names[i], "--help", (char *)NULL) != 0 || !R.exited || R.code != 0) {
            bad++;
            tt_str_catf(&report, "    %s: `transtune %s --help` failed\n",
                        names[i], names[i]);
            show_run();
            continue;
        }
        bad += dc_check(doc, names[i], R.out, &report);
    }
    if (bad)
        fprintf(stderr, "%s", report.buf);
    int have_top = top != NULL;
    tt_str_free(&report);
    free(top);
    free(doc);
    CHECK_MSG(have_top, "`transtune --help` failed (above)");
    CHECK_MSG(n >= 9, "`transtune --help` lists %d commands under \"commands:\" (expected lines "
                      "\"  NAME ...\", at least 9)",
              n);
    CHECK_MSG(bad == 0, "%d fault(s): %s does not match the commands' --help (above)", bad, DC_DOC);
}

/* The checker on made-up texts: a matching document passes, and each drift
 * (a changed line, a line added to or dropped from the help, a missing
 * heading, a heading naming only a longer command) is caught and named. */
static void docs_checker_finds_drift(void)
{
    const char *top = "usage: transtune COMMAND [options]\n\ncommands:\n"
                      "  frob X [--json]      frob X\n"
                      "                       (a description's second line)\n"
                      "  frob-all             frob everything\n"
                      "\n"
                      "  later NOT A COMMAND\n";
    const char *help = "usage: transtune frob X [--json]\n\nFrobs X.\n";
    const char *good = "# t\n\n## `transtune frob`, `transtune frob-all`\n\n"
                       "```\nusage: transtune frob X [--json]\n\nFrobs X.\n```\n\nNotes.\n";
    struct {
        const char *what, *doc, *help;
        int faults;
        const char *want; /* in the report */
    } cases[] = {
        {"matching", good, help, 0, ""},
        {"a changed line",
         "# t\n\n## `transtune frob`\n\n```\nusage: transtune frob X [--json]\n\nFrobs Y.\n```\n",
         help, 1, "frob: the output of `transtune frob --help` is not in docs/cli.md verbatim, "
                  "as a whole fenced block (its first line not there: \"Frobs X.\")"},
        {"a line added to the help", good, "usage: transtune frob X [--json]\n\nFrobs X.\nMore.\n",
         1, "its first line not there: \"More.\""},
        {"a line dropped from the help", good, "usage: transtune frob X [--json]\n\n", 1,
         "every line of it is there, but not as one block"},
        {"no heading", "# t\n\n```\nusage: transtune frob X [--json]\n\nFrobs X.\n```\n", help, 1,
         "frob: no \"## \" heading in docs/cli.md names `transtune frob`"},
        {"a heading of a longer command only",
         "# t\n\n## `transtune frob-all`\n\n```\nusage: transtune frob X [--json]\n\nFrobs X.\n"
         "```\n",
         help, 1, "frob: no \"## \" heading"},
        {"not fenced",
         "# t\n\n## `transtune frob`\n\nusage: transtune frob X [--json]\n\nFrobs X.\n", help, 1,
         "every line of it is there, but not as one block"},
    };
    char names[4][DC_NAME];
    int n = dc_commands(top, names, 4);
    CHECK_MSG(n == 2 && !strcmp(names[0], "frob") && !strcmp(names[1], "frob-all"),
              "dc_commands found %d commands (expected frob, frob-all)", n);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tt_str report;
        tt_str_init(&report);
        int bad = dc_check(cases[i].doc, "frob", cases[i].help, &report);
        const char *r = report.buf ? report.buf : "";
        int named = strstr(r, cases[i].want) != NULL;
        if (bad != cases[i].faults || !named)
            fprintf(stderr, "    report:\n%s", r);
        tt_str_free(&report);
        CHECK_MSG(bad == cases[i].faults && named,
                  "%s: %d fault(s) found, expected %d with \"%s\" in the report", cases[i].what,
                  bad, cases[i].faults, cases[i].want);
    }
}

const tt_test tests_docs[] = {
    {"cli_help_matches", docs_cli_help_matches},
    {"checker_finds_drift", docs_checker_finds_drift},
    {NULL, NULL},
};
