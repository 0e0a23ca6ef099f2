/* peak.c - the host's fp32 FMA peak (see util.h, tt_fma_peak).
 *
 * Independent FMA chains with no loads, enough of them to cover FMA latency x
 * FMA ports on any current x86 core (12 on ymm, 24 on zmm: Zen 1 needs 5, Zen
 * 4/5 and Skylake-X 8), timed on `threads` threads at once (each its own
 * chains; wall time of the whole parallel region), best of 5 runs.  The ISA
 * code is selected by __attribute__((target)), so the library, built without
 * -march, measures whatever the host has; an ISA the CPU lacks is never run.
 */
#include <omp.h>
#include <string.h>

#include "util.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

static volatile float sink;

static double now(void) { return tt_now(); }

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
    long iters = 1 << 14;
    for (;;) {
        double t0 = now();
        fn(iters);
        double dt = now() - t0;
        if (dt > 0.005 || iters > (1L << 34))
            return (long)((double)iters * target / (dt > 0 ? dt : 1e-9)) + 1;
        iters *= 4;
    }
}
#endif

double tt_fma_peak(tt_isa isa, int threads, double seconds)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    fma_fn fn = NULL;
    if (isa == TT_ISA_BEST)
        isa = __builtin_cpu_supports("avx512f") ? TT_ISA_AVX512
              : __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? TT_ISA_AVX2
                                                                                 : TT_ISA_BEST;
    if (isa == TT_ISA_AVX512 && __builtin_cpu_supports("avx512f"))
        fn = fma_avx512;
    else if (isa == TT_ISA_AVX2 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        fn = fma_avx2;
    if (!fn)
        return 0;
    return fma_rate(fn, threads < 1 ? 1 : threads, calibrate(fn, seconds > 0 ? seconds : 0.02));
#else
    (void)isa, (void)threads, (void)seconds;
    return 0;
#endif
}

const char *tt_isa_name(tt_isa isa)
{
    switch (isa) {
    case TT_ISA_AVX2: return "avx2";
    case TT_ISA_AVX512: return "avx512";
    default: break;
    }
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f"))
        return "avx512";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return "avx2";
#endif
    return "none";
}
