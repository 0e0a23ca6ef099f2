/* util.h - shared plumbing: error messages, arenas, growable strings, RNG.
 *
 * Every module reports failure the same way: a function returns an int status
 * (0 = ok, nonzero = failed) and writes a human-readable message into a tt_err
 * that the caller owns.  The first message wins, so the innermost cause is what
 * the user sees; callers may prefix context with tt_err_prefix().
 */
#ifndef TT_UTIL_H
#define TT_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- element types ----------------------------------------------------------
 * The model graph's tensors (graph.h) and .npy arrays (npy.h) share these; they
 * live here, the lowest stage, so that npy.h needs nothing above util. */

/* The largest rank of a graph tensor or .npy array. */
#define TT_GRAPH_MAX_DIMS 8

/* Element types: the values are ONNX's TensorProto.DataType codes. */
typedef enum tt_dtype {
    TT_DT_UNDEF = 0,
    TT_DT_FLOAT = 1,
    TT_DT_INT32 = 6,
    TT_DT_INT64 = 7,
    TT_DT_BOOL = 9,
} tt_dtype;
/* "float", "int64", ...; "?" for other codes. */
const char *tt_dtype_name(tt_dtype t);
/* Size of one element in bytes (0 for UNDEF / unsupported). */
int tt_dtype_size(tt_dtype t);

/* ---- errors ----------------------------------------------------------------- */

#define TT_ERR_MAX 512

typedef struct tt_err {
    int set;
    char msg[TT_ERR_MAX];
} tt_err;

/* Record an error (printf format).  No-op if err is NULL or already set.
 * Always returns -1 so callers can write `return tt_err_set(e, ...)`. */
int tt_err_set(tt_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prepend context to an already-set message: "CONTEXT: message".  The
 * ": " is added here, so write the context without it (one given with a
 * trailing ':' or spaces has them dropped); a context that already heads
 * the message is not repeated. */
void tt_err_prefix(tt_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void tt_err_clear(tt_err *err);

/* Allocation that aborts on out-of-memory (an internal invariant, not an input
 * error: the library has no sensible way to continue).  Before it aborts it
 * writes one line to stderr, "transtune: out of memory: cannot allocate N
 * bytes", the only output of the library that bypasses its caller. */
void *tt_xmalloc(size_t n);
void *tt_xcalloc(size_t n, size_t sz);
void *tt_xrealloc(void *p, size_t n);
char *tt_xstrdup(const char *s);

/* Allocation whose size comes from outside input (a file's length, a shape
 * read from a file): NULL with err "cannot allocate N bytes for WHAT"
 * instead of an abort.  tt_try_realloc leaves p allocated on failure. */
void *tt_try_malloc(size_t n, const char *what, tt_err *err);
void *tt_try_realloc(void *p, size_t n, const char *what, tt_err *err);

/* Arena: bump allocator with a named lifetime.  Everything allocated from it
 * is freed at once by tt_arena_free().  Memory is zeroed. */
typedef struct tt_arena tt_arena;
tt_arena *tt_arena_new(void);
void *tt_arena_alloc(tt_arena *a, size_t n);
char *tt_arena_strdup(tt_arena *a, const char *s);
void tt_arena_free(tt_arena *a);

/* Growable string. */
typedef struct tt_str {
    char *buf;
    size_t len, cap;
} tt_str;
void tt_str_init(tt_str *s);
void tt_str_free(tt_str *s);
void tt_str_cat(tt_str *s, const char *text);
/* n bytes, any values (a NUL too): binary messages; len counts them. */
void tt_str_catn(tt_str *s, const void *bytes, size_t n);
void tt_str_catf(tt_str *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void tt_str_vcatf(tt_str *s, const char *fmt, va_list ap);
void tt_str_clear(tt_str *s);
/* Detach the buffer (caller frees); the tt_str is reset. */
char *tt_str_take(tt_str *s);

/* Deterministic RNG (splitmix64 / xorshift), seeded explicitly. */
typedef struct tt_rng {
    uint64_t s;
} tt_rng;
void tt_rng_seed(tt_rng *r, uint64_t seed);
uint64_t tt_rng_next(tt_rng *r);
/* Uniform integer in [0, n). */
uint64_t tt_rng_below(tt_rng *r, uint64_t n);
/* Uniform double in [0, 1). */
double tt_rng_unit(tt_rng *r);

/* 64-bit FNV-1a over bytes; used for workload-key hashes. */
uint64_t tt_hash64(const void *data, size_t n);

/* Monotonic wall clock in seconds. */
double tt_now(void);

/* ---- outside files ----------------------------------------------------------
 * Every file transtune is given (ONNX models, .npy arrays, Ansor logs) and
 * every artifact it reads back is opened here, so that none is read without
 * bound: the path (a symbolic link is followed) must name a regular file (a
 * FIFO, a device such as /dev/zero, a directory or a socket is refused up
 * front, without blocking), and the file may hold at most the input limit.
 * The limit is $TT_MAX_INPUT_BYTES, in bytes or with a K, M, G or T suffix
 * (powers of 1024), else TT_MAX_INPUT_BYTES_DEFAULT; a file that grows past it
 * while being read is refused too.  Every message names the file. */
#define TT_MAX_INPUT_BYTES_DEFAULT ((uint64_t)4 << 30)

/* The input limit into *limit: 0, or -1 with err when $TT_MAX_INPUT_BYTES is
 * set but is not a positive size. */
int tt_input_limit(uint64_t *limit, tt_err *err);

/* Open path for reading after the checks above: a stream (caller fcloses),
 * the file's size at open in *size and the limit in *limit; or NULL with
 * err set. */
FILE *tt_open_input(const char *path, uint64_t *size, uint64_t *limit, tt_err *err);

/* Read a whole outside file into a NUL-terminated buffer (caller frees), its
 * length (without the NUL) in *len if len is not NULL; NULL with err set when
 * tt_open_input refuses the file, a read fails or memory runs out. */
char *tt_read_file(const char *path, size_t *len, tt_err *err);
/* tt_read_file with the limit max bytes in place of the input limit: for
 * transtune's own artifacts (a runner's output, a compiler's log), whose
 * size it knows, so that $TT_MAX_INPUT_BYTES set low does not break them. */
char *tt_read_file_max(const char *path, uint64_t max, size_t *len, tt_err *err);

/* The folder of the running executable (from /proc/self/exe) into buf:
 * 0, or -1 when it cannot be known or does not fit. */
int tt_exe_dir(char *buf, size_t n);
/* The folder of transtune's programs: the executable's, if transtune-runner
 * is there (build/, or PREFIX/bin for the CLI), else the first folder of
 * $PATH that holds it (a program linked with the library); -1 if none. */
int tt_tools_dir(char *buf, size_t n);
/* The CPU's model name (/proc/cpuinfo), "unknown" if none is found. */
void tt_cpu_model(char *buf, size_t n);
/* A fresh private directory PREFIX-XXXXXX under $TMPDIR (else /tmp), its
 * absolute path in buf: 0, or -1 with err set. */
int tt_temp_dir(const char *prefix, char *buf, size_t n, tt_err *err);
/* The same under base (NULL: $TMPDIR, else /tmp).  Names are
 * <prefix>-<pid>-XXXXXX. */
int tt_temp_dir_in(const char *base, const char *prefix, char *buf, size_t n, tt_err *err);
/* $TMPDIR, else /tmp. */
const char *tt_temp_base(void);
/* Remove the folders tt_temp_dir_in made under base (NULL: tt_temp_base())
 * for processes that no longer exist (a process killed with SIGKILL cannot
 * clean up); folders of live processes and of other users are kept.
 * Returns how many were removed. */
int tt_temp_sweep(const char *base);

/* Remove path and everything under it, never following a symbolic link: 0,
 * or -1 if something could not be removed. */
int tt_remove_tree(const char *path);

/* The median of v[0..n) (sorts v in place); 0 for n <= 0. */
double tt_median(double *v, int n);

/* Size in bytes of CPU 0's cache of `level` (2 or 3), 0 if unknown: sysfs
 * first (the kernel's view of this CPU: L3 32 MB on this EPYC), then sysconf
 * (glibc's, from CPUID: 256 MB here, the whole package's L3, which one
 * core's data cannot use). */
int64_t tt_host_cache_bytes(int level);


/* The host's fp32 FMA peak in GFLOP/s on `threads` threads (src/util/peak.c):
 * independent FMA chains on the ISA's vector registers, about `seconds` per
 * run (<= 0: 20 ms), best of 5 runs.  TT_ISA_BEST measures the widest ISA the
 * CPU has (the one kernels are compiled for with -march=native).  0 when the
 * CPU lacks the ISA or is not x86.  The denominator of "% of peak". */
typedef enum tt_isa { TT_ISA_BEST = 0, TT_ISA_AVX2, TT_ISA_AVX512, TT_ISA_COUNT } tt_isa;
double tt_fma_peak(tt_isa isa, int threads, double seconds);
/* "avx2", "avx512" (TT_ISA_BEST: the widest present) or "none". */
const char *tt_isa_name(tt_isa isa);

#endif
