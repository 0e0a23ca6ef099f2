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
#define _GNU_SOURCE
#include <immintrin.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static volatile float sink;

/* 12 chains of 8 lanes: returns the flops done */
__attribute__((target("avx2,fma"))) static double fma_avx2(long iters)
{
    __m256 a0 = _mm256_set1_ps(0.1f), a1 = _mm256_set1_ps(0.2f), a2 = _mm256_set1_ps(0.3f);
    __m256 a3 = _mm256_set1_ps(0.4f), a4 = _mm256_set1_ps(0.5f), a5 = _mm256_set1_ps(0.6f);
    __m256 a6 = _mm256_set1_ps(0.7f), a7 = _mm256_set1_ps(0.8f), a8 = _mm256_set1_ps(0.9f);
    __m256 a9 = _mm256_set1_ps(1.0f), a10 = _mm256_set1_ps(1.1f), a11 = _mm256_set1_ps(1.2f);
    const __m256 m = _mm256_set1_ps(0.9999f), c = _mm256_set1_ps(1e-4f);
    for (long i = 0; i < iters; i++) {
        /* the asm barrier keeps the compiler from folding iterations */
        __asm__ volatile("" : "+x"(a0), "+x"(a1), "+x"(a2), "+x"(a3));
        a0 = _mm256_fmadd_ps(a0, m, c); a1 = _mm256_fmadd_ps(a1, m, c);
        a2 = _mm256_fmadd_ps(a2, m, c); a3 = _mm256_fmadd_ps(a3, m, c);
        a4 = _mm256_fmadd_ps(a4, m, c); a5 = _mm256_fmadd_ps(a5, m, c);
        a6 = _mm256_fmadd_ps(a6, m, c); a7 = _mm256_fmadd_ps(a7, m, c);
        a8 = _mm256_fmadd_ps(a8, m, c); a9 = _mm256_fmadd_ps(a9, m, c);
        a10 = _mm256_fmadd_ps(a10, m, c); a11 = _mm256_fmadd_ps(a11, m, c);
    }
    __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                             _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
    s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11)));
    float o[8];
    _mm256_storeu_ps(o, s);
    sink = o[0];
    return 2.0 * 8 * 12 * (double)iters;
}

/* 24 chains of 16 lanes (named registers: an array would live in memory) */
__attribute__((target("avx512f"))) static double fma_avx512(long iters)
{
    __m512 a0 = _mm512_set1_ps(0.05f);
    __m512 a1 = _mm512_set1_ps(0.10f);
    __m512 a2 = _mm512_set1_ps(0.15f);
    __m512 a3 = _mm512_set1_ps(0.20f);
    __m512 a4 = _mm512_set1_ps(0.25f);
    __m512 a5 = _mm512_set1_ps(0.30f);
    __m512 a6 = _mm512_set1_ps(0.35f);
    __m512 a7 = _mm512_set1_ps(0.40f);
    __m512 a8 = _mm512_set1_ps(0.45f);
    __m512 a9 = _mm512_set1_ps(0.50f);
    __m512 a10 = _mm512_set1_ps(0.55f);
    __m512 a11 = _mm512_set1_ps(0.60f);
    __m512 a12 = _mm512_set1_ps(0.65f);
    __m512 a13 = _mm512_set1_ps(0.70f);
    __m512 a14 = _mm512_set1_ps(0.75f);
    __m512 a15 = _mm512_set1_ps(0.80f);
    __m512 a16 = _mm512_set1_ps(0.85f);
    __m512 a17 = _mm512_set1_ps(0.90f);
    __m512 a18 = _mm512_set1_ps(0.95f);
    __m512 a19 = _mm512_set1_ps(1.00f);
    __m512 a20 = _mm512_set1_ps(1.05f);
    __m512 a21 = _mm512_set1_ps(1.10f);
    __m512 a22 = _mm512_set1_ps(1.15f);
    __m512 a23 = _mm512_set1_ps(1.20f);
    const __m512 m = _mm512_set1_ps(0.9999f), c = _mm512_set1_ps(1e-4f);
    for (long i = 0; i < iters; i++) {
        __asm__ volatile("" : "+v"(a0), "+v"(a1), "+v"(a2), "+v"(a3));
        a0 = _mm512_fmadd_ps(a0, m, c);
        a1 = _mm512_fmadd_ps(a1, m, c);
        a2 = _mm512_fmadd_ps(a2, m, c);
        a3 = _mm512_fmadd_ps(a3, m, c);
        a4 = _mm512_fmadd_ps(a4, m, c);
        a5 = _mm512_fmadd_ps(a5, m, c);
        a6 = _mm512_fmadd_ps(a6, m, c);
        a7 = _mm512_fmadd_ps(a7, m, c);
        a8 = _mm512_fmadd_ps(a8, m, c);
        a9 = _mm512_fmadd_ps(a9, m, c);
        a10 = _mm512_fmadd_ps(a10, m, c);
        a11 = _mm512_fmadd_ps(a11, m, c);
        a12 = _mm512_fmadd_ps(a12, m, c);
        a13 = _mm512_fmadd_ps(a13, m, c);
        a14 = _mm512_fmadd_ps(a14, m, c);
        a15 = _mm512_fmadd_ps(a15, m, c);
        a16 = _mm512_fmadd_ps(a16, m, c);
        a17 = _mm512_fmadd_ps(a17, m, c);
        a18 = _mm512_fmadd_ps(a18, m, c);
        a19 = _mm512_fmadd_ps(a19, m, c);
        a20 = _mm512_fmadd_ps(a20, m, c);
        a21 = _mm512_fmadd_ps(a21, m, c);
        a22 = _mm512_fmadd_ps(a22, m, c);
        a23 = _mm512_fmadd_ps(a23, m, c);
    }
    __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(_mm512_add_ps(_mm512_add_ps(_mm512_add_ps(_mm512_add_ps(_mm512_add_ps(_mm512_add_ps(_mm512_add_ps(_mm512_add_ps(_mm512_add_ps(_mm512_add_ps(_mm512_add_ps(_mm512_add_ps(_mm512_add_ps(_mm512_add_ps(_mm512_add_ps(_mm512_add_ps(_mm512_add_ps(_mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), a2), a3), a4), a5), a6), a7), a8), a9), a10), a11), a12), a13), a14), a15), a16), a17), a18), a19), a20), a21), a22), a23);
    float o[16];
    _mm512_storeu_ps(o, s);
    sink = o[0];
    return 2.0 * 16 * 24 * (double)iters;
}

typedef double (*fma_fn)(long);

/* Best GFLOP/s of 5 runs of fn on `threads` threads. */
static double fma_rate(fma_fn fn, int threads, long iters)
{
    double best = 0;
    for (int rep = 0; rep < 5; rep++) {
        double flops = 0, t0 = now();
#pragma omp parallel num_threads(threads) reduction(+ : flops)
        flops += fn(iters);
        double dt = now() - t0;
        if (flops / dt > best)
            best = flops / dt;
    }
    return best * 1e-9;
}

/* Iterations that take about `target` seconds on one thread. */
static long calibrate(fma_fn fn, double target)
{
    long iters = 1 << 16;
    for (;;) {
        double t0 = now();
        fn(iters);
        double dt = now() - t0;
        if (dt > 0.02 || iters > (1L << 34))
            return (long)((double)iters * target / (dt > 0 ? dt : 1e-9)) + 1;
        iters *= 4;
    }
}

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
    __builtin_cpu_init();
    int has_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    int has_avx512 = __builtin_cpu_supports("avx512f");
    double target = quick ? 0.03 : 0.1;
    double a2_1 = 0, a2_n = 0, a5_1 = 0, a5_n = 0;
    if (has_avx2) {
        long it = calibrate(fma_avx2, target);
        a2_1 = fma_rate(fma_avx2, 1, it);
        a2_n = fma_rate(fma_avx2, threads, it);
    }
    if (has_avx512) {
        long it = calibrate(fma_avx512, target);
        a5_1 = fma_rate(fma_avx512, 1, it);
        a5_n = fma_rate(fma_avx512, threads, it);
    }
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
