/* emit_kernel.c - prints the C source transtune generates for one conv2d
 * kernel under its default schedule, for scripts/check-avx512.sh:
 *
 *   emit_kernel [LANES [H W CI CO KH]]      (defaults: 16  14 14 64 64 3)
 *
 * The DAG is conv2d_nhwc (N=1, stride 1, same padding) + bias + relu, built
 * with tt_build_conv2d_nhwc; the schedule is tt_default_schedule(dag, LANES),
 * so LANES=16 asks for the AVX-512 vector width whatever the host has.  The
 * output is the codegen prelude followed by one function, `tt_kernel`, ready
 * for `cc -S`.
 *
 * This file sits in tests/ so the Makefile's wildcard over tests/ (every .c file) also compiles
 * it into build/tests; its main() exists only with -DTT_EMIT_KERNEL_MAIN (the
 * script passes it), so the test runner keeps its own main(). */
#ifdef TT_EMIT_KERNEL_MAIN

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/codegen/codegen.h"
#include "../src/record/record.h"

static int arg(int argc, char **argv, int i, long long def)
{
    if (i >= argc)
        return (int)def;
    char *end;
    long long v = strtoll(argv[i], &end, 10);
    if (*end || v <= 0 || v > 4096) {
        fprintf(stderr, "emit_kernel: argument %d must be an integer in 1..4096, got '%s'\n", i,
                argv[i]);
        exit(2);
    }
    return (int)v;
}

int main(int argc, char **argv)
{
    if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("usage: emit_kernel [LANES [H W CI CO KH]]   (defaults: 16  14 14 64 64 3)\n");
        return 0;
    }
    int lanes = arg(argc, argv, 1, 16);
    tt_conv2d_params p;
    memset(&p, 0, sizeof p);
    p.n = 1;
    p.h = arg(argc, argv, 2, 14);
    p.w = arg(argc, argv, 3, 14);
    p.ci = arg(argc, argv, 4, 64);
    p.co = arg(argc, argv, 5, 64);
    p.kh = p.kw = arg(argc, argv, 6, 3);
    p.stride_h = p.stride_w = 1;
    p.pad_t = p.pad_l = p.pad_b = p.pad_r = (p.kh - 1) / 2;
    p.dil_h = p.dil_w = 1;
    p.groups = 1;
    tt_epilogue epi;
    memset(&epi, 0, sizeof epi);
    epi.ops[epi.n++] = TT_EPI_BIAS_ADD;
    epi.ops[epi.n++] = TT_EPI_RELU;

    tt_err err = {0};
    tt_dag *dag = tt_build_conv2d_nhwc(&p, &epi, &err);
    if (!dag) {
        fprintf(stderr, "emit_kernel: conv2d: %s\n", err.msg);
        return 1;
    }
    tt_step steps[TT_MAX_STEPS];
    int nsteps = 0;
    if (tt_default_schedule(dag, lanes, steps, TT_MAX_STEPS, &nsteps, &err)) {
        fprintf(stderr, "emit_kernel: default schedule: %s\n", err.msg);
        return 1;
    }
    tt_state *s = tt_state_new(dag);
    if (tt_state_apply_all(s, steps, nsteps, &err)) {
        fprintf(stderr, "emit_kernel: replaying the default schedule: %s\n", err.msg);
        return 1;
    }
    tt_str out;
    tt_str_init(&out);
    tt_str_cat(&out, tt_codegen_prelude());
    if (tt_codegen_candidate(s, "tt_kernel", &out, &err)) {
        fprintf(stderr, "emit_kernel: codegen: %s\n", err.msg);
        return 1;
    }
    fputs(out.buf ? out.buf : "", stdout);
    tt_str_free(&out);
    tt_state_free(s);
    tt_dag_free(dag);
    return fflush(stdout) ? 1 : 0;
}

#endif /* TT_EMIT_KERNEL_MAIN */
