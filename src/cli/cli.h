/* cli.h - the transtune command line: shared option parsing and reporting. */
#ifndef TT_CLI_H
#define TT_CLI_H

#include "../measure/evaluate.h"
#include "../model/model.h"
#include "../record/identify.h"

/* Common options of commands that measure kernels. */
typedef struct cli_opts {
    int threads;        /* --threads N (0 = all cores) */
    int json;           /* --json */
    int repeat;         /* --repeat R */
    double min_repeat_ms;
    int cache_flush;    /* --flush */
    int no_default;     /* --no-default */
    const char *cc;     /* --cc */
} cli_opts;

/* Parse a common option at argv[*i] (advancing *i past its value).  Returns
 * 1 if consumed, 0 if not a common option, -1 on a bad value (message printed). */
int cli_common_opt(int argc, char **argv, int *i, cli_opts *o);
void cli_fill_run_opts(const cli_opts *o, tt_run_opts *ro, tt_build_opts *bo);
/* Strict positive integer parse; -1 on error. */
int cli_parse_i64(const char *s, int64_t *v);

/* One reported row: a workload with its record (or chosen) schedule and the
 * default schedule. */
typedef struct cli_row {
    int line;
    char workload[160];
    char class_key[128];
    char wkey[512];           /* our workload key */
    char ansor_key[512];
    double flops;
    int have_record;
    tt_result rec;            /* the record / chosen schedule */
    int have_default;
    tt_result def;            /* the default schedule */
    char error[512];          /* failure before measurement (parse, identify, replay) */
    const char *status;       /* "ok" or an error name */
} cli_row;

/* Shape options of `kernel` and `tune-kernel` (--h 56 --ci 64 ..., --epilogue,
 * --shape). */
#define CLI_MAX_KV 24
typedef struct cli_shape {
    int n;
    const char *key[CLI_MAX_KV];
    int64_t val[CLI_MAX_KV];
    int used[CLI_MAX_KV];   /* read by the OP's builder: the others are misspelt or do not apply */
    const char *epilogue, *shape;
} cli_shape;
/* Consume a "--name value" shape option at argv[*i]: 1 consumed, 0 not an
 * option, -1 bad value (message printed, cmd names the command). */
int cli_shape_opt(int argc, char **argv, int *i, cli_shape *k, const char *cmd);
/* The workload OP with these options (desc: a one-line description); NULL
 * with err set for a missing, misspelt or bad option. */
tt_dag *cli_shape_build(const char *op, cli_shape *k, char *desc, size_t dn, tt_err *err);

/* The record database's path when --db is not given: $TT_DB, else ./transtune.db. */
const char *cli_db_default_path(void);

/* Load a zoo model or an ONNX file; NULL after printing "transtune CMD: why". */
/* --shape INPUT=DIMS, given to any command (main strips them from argv
 * before the command parses the rest): the input shapes every model load of
 * the command binds (tt_model_load_shapes). */
extern tt_input_shape cli_shapes[TT_MODEL_MAX_INPUTS];
extern int cli_nshapes;
/* Parse "NAME=D1xD2x..." (',' also separates dimensions; each 1 to 2^31,
 * at most 2^32 elements) into s, whose name then points into v (cut at the
 * '='); 0 or -1. */
int cli_parse_input_shape(char *v, tt_input_shape *s);
/* tt_model_load with the --shape bindings. */
int cli_model_load(const char *what, tt_model **out, tt_err *err);
tt_model *cli_load_model(const char *what, const char *cmd);
/* A progress callback (tt_exec_opts.progress) that rewrites one stderr line. */
void cli_load_progress(void *ctx, const char *msg);

void cli_print_header(void);
void cli_print_row(const cli_row *r, int json);

int cmd_replay(int argc, char **argv);
int cmd_kernel(int argc, char **argv);
int cmd_models(int argc, char **argv);
int cmd_kernels(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_compile(int argc, char **argv);
int cmd_db(int argc, char **argv);
int cmd_tune(int argc, char **argv);
int cmd_tune_kernel(int argc, char **argv);
int cmd_transfer(int argc, char **argv);

#endif
