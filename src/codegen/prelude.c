/* prelude.c - the C every generated translation unit starts with (see
 * codegen.h, tt_codegen_prelude): integer helpers, our exp/tanh/erf/sigmoid,
 * the GCC vector types with their loads, stores, gathers, masked moves and
 * vector math, and the aligned allocator.
 */
#include "codegen.h"

/* the headers, integer floor division and modulo, min and max */
#define PRELUDE_SCALAR \
       "#include <math.h>\n" \
       "#include <stdint.h>\n" \
       "#include <stdlib.h>\n" \
       "#include <string.h>\n" \
       "static inline int64_t tt_floordiv(int64_t a, int64_t b) { int64_t q = a / b; return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q; }\n" \
       "static inline int64_t tt_floormod(int64_t a, int64_t b) { int64_t m = a % b; return (m != 0 && ((m < 0) != (b < 0))) ? m + b : m; }\n" \
       "static inline int64_t tt_mini(int64_t a, int64_t b) { return a < b ? a : b; }\n" \
       "static inline int64_t tt_maxi(int64_t a, int64_t b) { return a > b ? a : b; }\n" \
       "static inline float tt_minf(float a, float b) { return a < b ? a : b; }\n" \
       "static inline float tt_maxf(float a, float b) { return a > b ? a : b; }\n" \
       "static inline double tt_mind(double a, double b) { return a < b ? a : b; }\n" \
       "static inline double tt_maxd(double a, double b) { return a > b ? a : b; }\n"

/* Scalar math: exp, sigmoid, tanh and erf without libm calls, so that clang vectorizes
 * the loops they are in (a libm call per element kept EfficientNet's swish
 * epilogues scalar: 5.5 ns an element).  exp: x = n ln2 + r (Cody-Waite,
 * ln2 in two parts), e^r by its Taylor polynomial to r^6 on |r| <= ln2/2,
 * 2^n built in two halves so n = 128 does not overflow the exponent field;
 * <= 4 ulp from -87.33 (below: 0, no denormals) to 88.72 (above: inf).
 * tanh: odd Taylor polynomial to x^9 below |x| = 0.2, else
 * (1 - e^-2|x|) / (1 + e^-2|x|).  erf: Taylor to x^13 below |x| = 0.5,
 * else Abramowitz and Stegun 7.1.26 (absolute error <= 1.5e-7).  And the
 * double-precision reference's magnitude bounds (tt_d*, tt_mag*). */
#define PRELUDE_MATH \
       "static inline float tt_expf(float x) {\n" \
       "    float xc = x < -87.33f ? -87.33f : (x > 88.7228f ? 88.7228f : x);\n" \
       "    float n = __builtin_rintf(xc * 1.44269504088896341f);\n" \
       "    float r = (xc - n * 0.693145751953125f) - n * 1.428606765330187045e-06f;\n" \
       "    float p = 1.0f + r * (1.0f + r * (0.5f + r * (0.16666667f + r * (0.041666668f + r * (0.0083333338f + r * 0.0013888889f)))));\n" \
       "    int32_t ni = (int32_t)n, n1 = ni >> 1, n2 = ni - n1, e1 = (n1 + 127) << 23, e2 = (n2 + 127) << 23;\n" \
       "    float s1, s2;\n" \
       "    memcpy(&s1, &e1, 4);\n" \
       "    memcpy(&s2, &e2, 4);\n" \
       "    float y = p * s1 * s2;\n" \
       "    y = x > 88.7228f ? INFINITY : y;\n" \
       "    y = x < -87.33f ? 0.0f : y;\n" \
       "    return x != x ? x : y;\n" \
       "}\n" \
       "static inline float tt_tanhf(float x) {\n" \
       "    float a = fabsf(x), x2 = x * x;\n" \
       "    float small = x * (1.0f + x2 * (-0.33333334f + x2 * (0.13333334f + x2 * (-0.053968254f + x2 * 0.021869488f))));\n" \
       "    float t = tt_expf(-2.0f * a), big = (1.0f - t) / (1.0f + t);\n" \
       "    big = x < 0 ? -big : big;\n" \
       "    return a < 0.2f ? small : (x != x ? x : big);\n" \
       "}\n" \
       "static inline float tt_erff(float x) {\n" \
       "    float a = fabsf(x), x2 = x * x;\n" \
       "    float small = 1.1283791670955126f * x * (1.0f + x2 * (-0.33333334f + x2 * (0.1f + x2 * (-0.023809524f + x2 * (0.0046296297f + x2 * (-0.00075757576f + x2 * 0.00010683761f))))));\n" \
       "    float t = 1.0f / (1.0f + 0.3275911f * a);\n" \
       "    float q = t * (0.254829592f + t * (-0.284496736f + t * (1.421413741f + t * (-1.453152027f + t * 1.061405429f))));\n" \
       "    float big = 1.0f - q * tt_expf(-x2);\n" \
       "    big = x < 0 ? -big : big;\n" \
       "    return a < 0.5f ? small : (x != x ? x : big);\n" \
       "}\n" \
       "static inline float tt_sigmoidf(float x) { return 1.0f / (1.0f + tt_expf(-x)); }\n" \
       "static inline double tt_sigmoidd(double x) { return 1.0 / (1.0 + exp(-x)); }\n" \
       "static inline float tt_rsqrtf(float x) { return 1.0f / sqrtf(x); }\n" \
       "static inline double tt_rsqrtd(double x) { return 1.0 / sqrt(x); }\n" \
       "static inline double tt_magdiv(double a, double b, double ma, double mb) { return fabs(a / b) + ma / fabs(b) + fabs(a) * mb / (b * b); }\n" \
       "static inline double tt_magpow(double a, double b, double ma) { return fabs(pow(a, b)) + fabs(b * pow(a, b - 1.0)) * ma; }\n" \
       "static inline double tt_dexp(double x, double m) { return exp(x) * (1.0 + m); }\n" \
       "static inline double tt_dlog(double x, double m) { return fabs(log(x)) + m / fabs(x); }\n" \
       "static inline double tt_dsqrt(double x, double m) { return sqrt(x) + m / (2.0 * sqrt(x)); }\n" \
       "static inline double tt_drsqrt(double x, double m) { return 1.0 / sqrt(x) + m / (2.0 * x * sqrt(x)); }\n" \
       "static inline double tt_dtanh(double x, double m) { double t = tanh(x); return fabs(t) + (1.0 - t * t) * m; }\n" \
       "static inline double tt_derf(double x, double m) { return fabs(erf(x)) + 1.1283791670955126 * exp(-x * x) * m; }\n" \
       "static inline double tt_dsigmoid(double x, double m) { double s = 1.0 / (1.0 + exp(-x)); return s + s * (1.0 - s) * m; }\n" \
       "static inline double tt_dfabs(double x, double m) { return fabs(x) + m; }\n"

/* the GCC vector types tt_vN with loads, stores, splats, gathers, element
 * copies under a count, min, max and vector math */
#define PRELUDE_VECTORS \
       /* a product by a constant-table factor (emit.c table_product) */ \
       "static inline float tt_cmulf(float x, float c) { return c != 0.0f ? x * c : -0.0f; }\n" \
       "#define TT_VDEF(N) \\\n" \
       "typedef float tt_v##N __attribute__((vector_size(4 * N))); \\\n" \
       "static inline tt_v##N tt_vload##N(const float *p) { tt_v##N v; memcpy(&v, p, sizeof v); return v; } \\\n" \
       "static inline void tt_vstore##N(float *p, tt_v##N v) { memcpy(p, &v, sizeof v); } \\\n" \
       "static inline tt_v##N tt_vloadpf##N(const float *p, int64_t d, int c) { if (c) __builtin_prefetch((const void *)((uintptr_t)p + (uintptr_t)(d * 4))); return tt_vload##N(p); } \\\n" \
       "static inline tt_v##N tt_vsplat##N(float x) { tt_v##N v = {0}; return v + x; } \\\n" \
       "static inline tt_v##N tt_vcmul##N(tt_v##N x, float c) { return c != 0.0f ? x * c : tt_vsplat##N(-0.0f); } \\\n" \
       "static inline tt_v##N tt_vgather##N(const float *p, int64_t c) { tt_v##N v; for (int k = 0; k < N; k++) v[k] = p[k * c]; return v; } \\\n" \
       "static inline tt_v##N tt_vloadmg##N(const float *p, int64_t n) { float t_[N] = {0}; for (int k = 0; k < N && k < n; k++) t_[k] = p[k]; tt_v##N v; memcpy(&v, t_, sizeof v); return v; } \\\n" \
       "static inline void tt_vstoremg##N(float *p, tt_v##N v, int64_t n) { float t_[N]; memcpy(t_, &v, sizeof v); for (int k = 0; k < N && k < n; k++) p[k] = t_[k]; } \\\n" \
       "typedef int32_t tt_vi##N __attribute__((vector_size(4 * N))); \\\n" \
       "static inline tt_v##N tt_vmax##N(tt_v##N a, tt_v##N b) { tt_vi##N m = a > b; return (tt_v##N)(((tt_vi##N)a & m) | ((tt_vi##N)b & ~m)); } \\\n" \
       "static inline tt_v##N tt_vmin##N(tt_v##N a, tt_v##N b) { tt_vi##N m = a < b; return (tt_v##N)(((tt_vi##N)a & m) | ((tt_vi##N)b & ~m)); } \\\n" \
       "TT_VFN(N, log, logf) TT_VFN(N, sqrt, sqrtf) TT_VFN(N, rsqrt, tt_rsqrtf) \\\n" \
       "TT_VFN(N, tanh, tt_tanhf) TT_VFN(N, erf, tt_erff) TT_VFN(N, fabs, fabsf) \\\n" \
       /* exp and sigmoid (swish epilogues) on whole vectors: tt_expf's steps \
        * with vector operations, rint by the 1.5 * 2^23 shift (|x| < 2^22 \
        * after the clamp), so that no per-lane loop is left to the \
        * vectorizer (gcc kept TT_VFN's loop scalar) */ \
       "static inline tt_v##N tt_vexp##N(tt_v##N x) { \\\n" \
       "  tt_v##N xc = tt_vmin##N(tt_vmax##N(x, tt_vsplat##N(-87.33f)), tt_vsplat##N(88.7228f)); \\\n" \
       "  tt_v##N n = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f; \\\n" \
       "  tt_v##N r = (xc - n * 0.693145751953125f) - n * 1.428606765330187045e-06f; \\\n" \
       "  tt_v##N p = 1.0f + r * (1.0f + r * (0.5f + r * (0.16666667f + r * (0.041666668f + r * (0.0083333338f + r * 0.0013888889f))))); \\\n" \
       "  tt_vi##N ni = __builtin_convertvector(n, tt_vi##N), n1 = ni >> 1, n2 = ni - n1; \\\n" \
       "  tt_v##N y = p * (tt_v##N)((n1 + 127) << 23) * (tt_v##N)((n2 + 127) << 23); \\\n" \
       "  tt_vi##N hi = x > 88.7228f, lo = x < -87.33f, nan = x != x; \\\n" \
       "  tt_vi##N yi = ((tt_vi##N)y & ~hi) | ((tt_vi##N)tt_vsplat##N(INFINITY) & hi); \\\n" \
       "  yi = yi & ~lo; \\\n" \
       "  return (tt_v##N)((yi & ~nan) | ((tt_vi##N)x & nan)); } \\\n" \
       "static inline tt_v##N tt_vsigmoid##N(tt_v##N a) { return 1.0f / (1.0f + tt_vexp##N(-a)); }\n" \
       /* through arrays: clang's loop vectorizer takes `o[k] = f(i[k])` (f inlined, \
        * branch-free) but leaves element-wise access to vector types scalar (7.5x \
        * slower on a swish epilogue) */ \
       "#define TT_VFN(N, name, f) static inline tt_v##N tt_v##name##N(tt_v##N a) { float i_[N], o_[N]; memcpy(i_, &a, sizeof a); for (int k = 0; k < N; k++) o_[k] = f(i_[k]); tt_v##N r; memcpy(&r, o_, sizeof r); return r; }\n" \
       "TT_VDEF(2) TT_VDEF(4) TT_VDEF(8) TT_VDEF(16) TT_VDEF(32) TT_VDEF(64)\n"

/* Masked loads and stores (lanes from n on are zero / untouched):
 * the ISA's own where there is one (compiler builtins, so that no
 * intrinsics header is parsed per kernel), else element copies */
#define PRELUDE_MASKED \
       "#if defined(__AVX512F__)\n" \
       "static inline unsigned short tt_km16(int64_t n) { return n >= 16 ? 0xffff : n <= 0 ? 0 : (unsigned short)((1u << n) - 1u); }\n" \
       "static inline tt_v16 tt_vloadm16(const float *p, int64_t n) { return __builtin_ia32_loadups512_mask(p, tt_vsplat16(0.0f), tt_km16(n)); }\n" \
       "static inline void tt_vstorem16(float *p, tt_v16 v, int64_t n) { __builtin_ia32_storeups512_mask(p, v, tt_km16(n)); }\n" \
       "#else\n" \
       "#define tt_vloadm16 tt_vloadmg16\n#define tt_vstorem16 tt_vstoremg16\n" \
       "#endif\n" \
       "#if defined(__AVX2__)\n" \
       "static inline tt_vi8 tt_km8(int64_t n) { tt_vi8 i = {0, 1, 2, 3, 4, 5, 6, 7}; return i < (int32_t)(n < 0 ? 0 : n > 8 ? 8 : n); }\n" \
       "static inline tt_v8 tt_vloadm8(const float *p, int64_t n) { return __builtin_ia32_maskloadps256((const tt_v8 *)p, tt_km8(n)); }\n" \
       "static inline void tt_vstorem8(float *p, tt_v8 v, int64_t n) { __builtin_ia32_maskstoreps256((tt_v8 *)p, tt_km8(n), v); }\n" \
       "#else\n" \
       "#define tt_vloadm8 tt_vloadmg8\n#define tt_vstorem8 tt_vstoremg8\n" \
       "#endif\n" \
       "#define tt_vloadm2 tt_vloadmg2\n#define tt_vstorem2 tt_vstoremg2\n" \
       "#define tt_vloadm4 tt_vloadmg4\n#define tt_vstorem4 tt_vstoremg4\n" \
       "#define tt_vloadm32 tt_vloadmg32\n#define tt_vstorem32 tt_vstoremg32\n" \
       "#define tt_vloadm64 tt_vloadmg64\n#define tt_vstorem64 tt_vstoremg64\n"

/* the aligned allocator */
#define PRELUDE_ALLOC \
       "static inline void tt_free_ptr(void *p) { free(*(void **)p); }\n" \
       "static inline void *tt_alloc(int64_t bytes) { void *p = NULL; if (posix_memalign(&p, 64, (size_t)(bytes + 64))) abort(); return p; }\n"

const char *tt_codegen_prelude(void)
{
    return PRELUDE_SCALAR PRELUDE_MATH PRELUDE_VECTORS PRELUDE_MASKED PRELUDE_ALLOC;
}
