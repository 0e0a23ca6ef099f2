/* peak.c - this host's fp32 FMA peak and memory bandwidth, the denominators of
 * every "percent of peak" that transtune's benchmarks report.
 *
 *   build/bench/peak [--threads N] [--json] [--quick]
 *
 * FMA peak: for each vector ISA the CPU has (AVX2+FMA on 256-bit registers,
 * AVX-512F on 512-bit ones), a loop of independent FMA chains with no loads,
 * enough chains to cover FMA latency x FMA ports on any current x86 core (12 on
 * ymm, 24 on zmm: Zen 1 needs 5, Zen 4/5 and Skylake-X 8), timed on 1 thread
 * and on N threads (each thread its own chains; wall time of the whole
 * parallel region).  GFLOP/s = 2 x lanes x chains x iterations / seconds; best
 * of 5 runs, each about 0.1 s.
 *
 * Memory bandwidth: STREAM's triad a[i] = b[i] + s * c[i] and a read-only sum,
 * over arrays of 64 MiB each (twice the largest L3 of this machine class), on 1
 * and N threads, best of 5; bytes counted as STREAM does (triad 3 arrays, no
 * write-allocate traffic; sum 1 array).
 *
 * The ISA code is selected by __attribute__((target)), so one binary built
 * with plain -O2 measures whatever the host has; an ISA the CPU lacks is
 * reported as absent, never run.  --json prints one line:
 *   {"isa":"avx512", "lanes":16, "fma_gflops_1t":..., "fma_gflops_nt":..., "threads":N,
 *    "avx2_gflops_1t":..., "avx2_gflops_nt":..., "avx512_gflops_1t":..., ...,
 *    "triad_gbs_1t":..., "triad_gbs_nt":..., "read_gbs_1t":..., "read_gbs_nt":...}
 * where isa/lanes/fma_* are those of the widest ISA present (the one
 * transtune's kernels are compiled for with -march=native).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <immintrin.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../src/util/util.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static volatile float sink;

#define MEM_FLOATS (16L << 20) /* 64 MiB per array */

static double triad(float *a, const float *b, const float *c, int threads)
{
    double best = 0;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = now();
#pragma omp parallel for num_threads(threads) schedule(static)
        for (long i = 0; i < MEM_FLOATS; i++)
            a[i] = b[i] + 3.0f * c[i];
        double dt = now() - t0;
        double gbs = 3.0 * 4 * (double)MEM_FLOATS / dt * 1e-9;
        if (gbs > best)
            best = gbs;
    }
    sink = a[MEM_FLOATS / 2];
    return best;
}

static double readsum(const float *b, int threads)
{
    double best = 0;
    for (int rep = 0; rep < 5; rep++) {
        float s = 0;
        double t0 = now();
        /* 16 partial sums per thread: one serial chain would be latency-bound */
#pragma omp parallel for num_threads(threads) schedule(static) reduction(+ : s)
        for (long i = 0; i < MEM_FLOATS; i += 16) {
            float p[16];
            for (int k = 0; k < 16; k++)
                p[k] = b[i + k];
            for (int w = 8; w > 0; w /= 2)
                for (int k = 0; k < w; k++)
                    p[k] += p[k + w];
            s += p[0];
        }
        double dt = now() - t0;
        sink = s;
        double gbs = 4.0 * (double)MEM_FLOATS / dt * 1e-9;
        if (gbs > best)
            best = gbs;
    }
    return best;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: peak [--threads N] [--json] [--quick]\n"
               "  the host's fp32 FMA peak (AVX2 and AVX-512 where present) and memory\n"
               "  bandwidth (STREAM triad, read), on 1 and N threads (default: all CPUs)\n"
               "  --quick  FMA peak only, shorter runs (for scripts that need the denominator)\n");
}

int main(int argc, char **argv)
{
    int threads = omp_get_num_procs(), json = 0, quick = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            json = 1;
        else if (!strcmp(argv[i], "--quick"))
            quick = 1;
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            char *end;
            long v = strtol(argv[++i], &end, 10);
            if (*end || v < 1 || v > 1024) {
                fprintf(stderr, "peak: --threads takes 1..1024, got '%s'\n", argv[i]);
                return 2;
            }
            threads = (int)v;
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "peak: unknown argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    double target = quick ? 0.03 : 0.1;
    /* the FMA loops are the library's (src/util/peak.c: tt_fma_peak) */
    double a2_1 = tt_fma_peak(TT_ISA_AVX2, 1, target), a2_n = tt_fma_peak(TT_ISA_AVX2, threads, target);
    double a5_1 = tt_fma_peak(TT_ISA_AVX512, 1, target), a5_n = tt_fma_peak(TT_ISA_AVX512, threads, target);
    int has_avx2 = a2_1 > 0, has_avx512 = a5_1 > 0;
    const char *isa = has_avx512 ? "avx512" : has_avx2 ? "avx2" : "none";
    int lanes = has_avx512 ? 16 : has_avx2 ? 8 : 4;
    double p1 = has_avx512 ? a5_1 : a2_1, pn = has_avx512 ? a5_n : a2_n;
    double t1 = 0, tn = 0, r1 = 0, rn = 0;
    if (!quick) {
        float *a = aligned_alloc(64, MEM_FLOATS * 4), *b = aligned_alloc(64, MEM_FLOATS * 4),
              *c = aligned_alloc(64, MEM_FLOATS * 4);
        if (!a || !b || !c) {
            fprintf(stderr, "peak: out of memory for the bandwidth arrays\n");
            return 1;
        }
#pragma omp parallel for num_threads(threads) schedule(static)
        for (long i = 0; i < MEM_FLOATS; i++) {
            a[i] = 0;
            b[i] = (float)(i & 1023);
            c[i] = 1.0f;
        }
        t1 = triad(a, b, c, 1);
        tn = triad(a, b, c, threads);
        r1 = readsum(b, 1);
        rn = readsum(b, threads);
        free(a);
        free(b);
        free(c);
    }
    if (json) {
        printf("{\"isa\":\"%s\",\"lanes\":%d,\"threads\":%d,\"fma_gflops_1t\":%.2f,"
               "\"fma_gflops_nt\":%.2f,\"avx2_gflops_1t\":%.2f,\"avx2_gflops_nt\":%.2f,"
               "\"avx512_gflops_1t\":%.2f,\"avx512_gflops_nt\":%.2f",
               isa, lanes, threads, p1, pn, a2_1, a2_n, a5_1, a5_n);
        if (!quick)
            printf(",\"triad_gbs_1t\":%.2f,\"triad_gbs_nt\":%.2f,\"read_gbs_1t\":%.2f,"
                   "\"read_gbs_nt\":%.2f",
                   t1, tn, r1, rn);
        printf("}\n");
        return 0;
    }
    printf("| measure | 1 thread | %d threads |\n|---|---:|---:|\n", threads);
    if (has_avx2)
        printf("| fp32 FMA peak, AVX2 (ymm), GFLOP/s | %.1f | %.1f |\n", a2_1, a2_n);
    if (has_avx512)
        printf("| fp32 FMA peak, AVX-512 (zmm), GFLOP/s | %.1f | %.1f |\n", a5_1, a5_n);
    if (!quick) {
        printf("| memory: STREAM triad, GB/s | %.1f | %.1f |\n", t1, tn);
        printf("| memory: read (sum), GB/s | %.1f | %.1f |\n", r1, rn);
    }
    printf("\nwidest ISA: %s (%d fp32 lanes); its peak is the denominator of %% of peak\n", isa,
           lanes);
    return 0;
}
