/* onednn_conv.c - times one fp32 forward conv2d with oneDNN's C API, the peer that
 * bench/kernels compares transtune's kernels with.
 *
 * Layouts match transtune's conv2d_nhwc: source and destination NHWC; the weights
 * are made in HWIO and reordered once, outside timing, into the layout oneDNN's
 * primitive asks for (format_tag any), which is the layout rewrite a tuned kernel
 * may also do.  --post LIST gives oneDNN the same fused epilogue as the
 * transtune kernel it is compared with (comma-separated, in order): `sum` (a
 * residual tensor of the output's shape added: oneDNN's sum post-op, the
 * destination holding the residual), `add` and `mul` (a per-channel vector:
 * binary post-ops) and `relu` (eltwise).  Without --post: a plain convolution.
 *
 * Timing follows TVM's protocol: one warm-up call, then `number` grown until one
 * repeat (number calls) lasts at least --min-ms, then --repeat repeats; time_s is
 * the mean time of one call over all repeats.
 *
 *   onednn_conv --n 1 --h 56 --w 56 --ci 64 --co 64 --kh 3 --kw 3 --stride 1 --pad 1
 *               [--threads T] [--repeat R] [--min-ms MS] [--post LIST] [--check]
 *
 * Prints one JSON line: {"op":"conv2d","time_s":...,"gflops":...,...}.
 * --check instead compares one run with a naive double-precision convolution on
 * the same random data and prints {"op":"conv2d","check":"ok"|"fail",...}; exit
 * status 1 on a mismatch.
 *
 * Build: cc -O2 -std=c11 -fopenmp bench/onednn_conv.c -o build/bench/onednn_conv -ldnnl -lm
 * (bench/kernels does this).  Debian's libdnnl uses GNU OpenMP (libgomp), so
 * omp_set_num_threads() before the engine is created sets oneDNN's thread count.
 */
#define _POSIX_C_SOURCE 200809L
#include <dnnl.h>
#include <dnnl_debug.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DN(call)                                                                         \
    do {                                                                                 \
        dnnl_status_t s_ = (call);                                                       \
        if (s_ != dnnl_success) {                                                        \
            fprintf(stderr, "onednn_conv: %s failed: %s\n", #call, dnnl_status2str(s_)); \
            exit(1);                                                                     \
        }                                                                                \
    } while (0)

#define MAX_POST 8
typedef struct {
    long n, h, w, ci, co, kh, kw, stride, pad;
    int threads, repeat, check;
    double min_ms;
    int npost;
    char post[MAX_POST][8]; /* "sum", "add", "mul", "relu" */
} opts;

static void usage(FILE *f)
{
    fprintf(f, "usage: onednn_conv --n N --h H --w W --ci CI --co CO --kh KH --kw KW\n"
               "                   [--stride S] [--pad P] [--threads T] [--repeat R]\n"
               "                   [--min-ms MS] [--post sum,add,mul,relu] [--check]\n");
}

static long parse_long(const char *name, const char *s, long lo, long hi)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < lo || v > hi) {
        fprintf(stderr, "onednn_conv: --%s: expected an integer in [%ld, %ld], got '%s'\n",
                name, lo, hi, s);
        exit(2);
    }
    return v;
}

static void parse_args(int argc, char **argv, opts *o)
{
    *o = (opts){.n = 1, .h = 0, .w = 0, .ci = 0, .co = 0, .kh = 1, .kw = 1, .stride = 1,
                .pad = 0, .threads = 0, .repeat = 5, .check = 0, .min_ms = 100.0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--check")) {
            o->check = 1;
            continue;
        }
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            exit(0);
        }
        if (strncmp(a, "--", 2) != 0 || i + 1 >= argc) {
            usage(stderr);
            exit(2);
        }
        const char *k = a + 2, *v = argv[++i];
        if (!strcmp(k, "n"))
            o->n = parse_long(k, v, 1, 1 << 16);
        else if (!strcmp(k, "h"))
            o->h = parse_long(k, v, 1, 1 << 16);
        else if (!strcmp(k, "w"))
            o->w = parse_long(k, v, 1, 1 << 16);
        else if (!strcmp(k, "ci"))
            o->ci = parse_long(k, v, 1, 1 << 20);
        else if (!strcmp(k, "co"))
            o->co = parse_long(k, v, 1, 1 << 20);
        else if (!strcmp(k, "kh"))
            o->kh = parse_long(k, v, 1, 1 << 10);
        else if (!strcmp(k, "kw"))
            o->kw = parse_long(k, v, 1, 1 << 10);
        else if (!strcmp(k, "stride"))
            o->stride = parse_long(k, v, 1, 1 << 10);
        else if (!strcmp(k, "pad"))
            o->pad = parse_long(k, v, 0, 1 << 10);
        else if (!strcmp(k, "threads"))
            o->threads = (int)parse_long(k, v, 1, 1 << 12);
        else if (!strcmp(k, "repeat"))
            o->repeat = (int)parse_long(k, v, 1, 1 << 20);
        else if (!strcmp(k, "min-ms"))
            o->min_ms = (double)parse_long(k, v, 0, 1 << 20);
        else if (!strcmp(k, "post")) {
            char buf[128];
            snprintf(buf, sizeof buf, "%s", v);
            for (char *t = strtok(buf, ","); t; t = strtok(NULL, ",")) {
                if (o->npost >= MAX_POST || (strcmp(t, "sum") && strcmp(t, "add") && strcmp(t, "mul") &&
                                             strcmp(t, "relu"))) {
                    fprintf(stderr, "onednn_conv: --post: '%s' is not one of sum, add, mul, relu (at most %d)\n",
                            t, MAX_POST);
                    exit(2);
                }
                snprintf(o->post[o->npost++], sizeof o->post[0], "%s", t);
            }
        }
        else {
            fprintf(stderr, "onednn_conv: unknown option '%s'\n", a);
            usage(stderr);
            exit(2);
        }
    }
    if (!o->h || !o->w || !o->ci || !o->co) {
        fprintf(stderr, "onednn_conv: --h, --w, --ci and --co are required\n");
        usage(stderr);
        exit(2);
    }
    if (o->h + 2 * o->pad < o->kh || o->w + 2 * o->pad < o->kw) {
        fprintf(stderr, "onednn_conv: kernel larger than the padded input\n");
        exit(2);
    }
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Uniform in [-1, 1), from a fixed xorshift stream so runs are reproducible. */
static void fill_random(float *p, size_t count, uint64_t seed)
{
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < count; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (float)((double)(x >> 11) * (2.0 / 9007199254740992.0) - 1.0);
    }
}

/* The naive conv2d_nhwc in double, HWIO weights; compares every output of `out`
 * with a bound that scales with the reduction: |out - ref| <= K * eps32 * sum|x*w|. */
static int check_against_naive(const opts *o, long oh, long ow, const float *src,
                               const float *wei_hwio, const float *out, double *max_rel)
{
    const long K = o->kh * o->kw * o->ci;
    const double tol = (double)K * 1.1920929e-7 + 1e-6;
    long bad = 0;
    *max_rel = 0.0;
    for (long b = 0; b < o->n; b++)
        for (long y = 0; y < oh; y++)
            for (long x = 0; x < ow; x++)
                for (long f = 0; f < o->co; f++) {
                    double acc = 0.0, mag = 0.0;
                    for (long ry = 0; ry < o->kh; ry++) {
                        long iy = y * o->stride + ry - o->pad;
                        if (iy < 0 || iy >= o->h)
                            continue;
                        for (long rx = 0; rx < o->kw; rx++) {
                            long ix = x * o->stride + rx - o->pad;
                            if (ix < 0 || ix >= o->w)
                                continue;
                            const float *s = src + ((b * o->h + iy) * o->w + ix) * o->ci;
                            const float *wt = wei_hwio + (ry * o->kw + rx) * o->ci * o->co + f;
                            for (long c = 0; c < o->ci; c++) {
                                double t = (double)s[c] * (double)wt[c * o->co];
                                acc += t;
                                mag += fabs(t);
                            }
                        }
                    }
                    double got = out[((b * oh + y) * ow + x) * o->co + f];
                    double err = fabs(got - acc);
                    double rel = err / (mag > 0 ? mag : 1.0);
                    if (rel > *max_rel)
                        *max_rel = rel;
                    if (!(err <= tol * mag + 1e-30)) {
                        if (bad < 5)
                            fprintf(stderr, "onednn_conv: mismatch at n=%ld y=%ld x=%ld f=%ld: "
                                    "got %.8g want %.8g\n", b, y, x, f, got, acc);
                        bad++;
                    }
                }
    return bad == 0;
}

int main(int argc, char **argv)
{
    opts o;
    parse_args(argc, argv, &o);
    if (o.threads > 0)
        omp_set_num_threads(o.threads); /* before the engine: oneDNN reads it then */
    const int threads = omp_get_max_threads();

    const long oh = (o.h + 2 * o.pad - o.kh) / o.stride + 1;
    const long ow = (o.w + 2 * o.pad - o.kw) / o.stride + 1;

    dnnl_engine_t eng;
    dnnl_stream_t strm;
    DN(dnnl_engine_create(&eng, dnnl_cpu, 0));
    DN(dnnl_stream_create(&strm, eng, dnnl_stream_default_flags));

    /* oneDNN's dims are logical NCHW / OIHW whatever the memory format. */
    dnnl_dims_t src_dims = {o.n, o.ci, o.h, o.w};
    dnnl_dims_t wei_dims = {o.co, o.ci, o.kh, o.kw};
    dnnl_dims_t dst_dims = {o.n, o.co, oh, ow};
    dnnl_dims_t strides = {o.stride, o.stride};
    dnnl_dims_t pad_l = {o.pad, o.pad};
    /* Right padding as TVM's output size implies (floor division can drop input). */
    dnnl_dims_t pad_r = {(oh - 1) * o.stride + o.kh - o.h - o.pad,
                         (ow - 1) * o.stride + o.kw - o.w - o.pad};

    dnnl_memory_desc_t src_md, wei_any_md, wei_user_md, dst_md;
    DN(dnnl_memory_desc_init_by_tag(&src_md, 4, src_dims, dnnl_f32, dnnl_nhwc));
    DN(dnnl_memory_desc_init_by_tag(&wei_any_md, 4, wei_dims, dnnl_f32, dnnl_format_tag_any));
    DN(dnnl_memory_desc_init_by_tag(&wei_user_md, 4, wei_dims, dnnl_f32, dnnl_hwio));
    DN(dnnl_memory_desc_init_by_tag(&dst_md, 4, dst_dims, dnnl_f32, dnnl_nhwc));

    dnnl_convolution_desc_t cd;
    DN(dnnl_convolution_forward_desc_init(&cd, dnnl_forward_inference, dnnl_convolution_direct,
                                          &src_md, &wei_any_md, NULL, &dst_md, strides, pad_l,
                                          pad_r));
    /* the fused epilogue, as oneDNN post-ops */
    dnnl_post_ops_t po;
    dnnl_primitive_attr_t attr;
    DN(dnnl_post_ops_create(&po));
    DN(dnnl_primitive_attr_create(&attr));
    dnnl_dims_t chan_dims = {1, o.co, 1, 1};
    dnnl_memory_desc_t chan_md;
    DN(dnnl_memory_desc_init_by_tag(&chan_md, 4, chan_dims, dnnl_f32, dnnl_nhwc));
    int has_sum = 0;
    for (int i = 0; i < o.npost; i++) {
        if (!strcmp(o.post[i], "sum")) {
            DN(dnnl_post_ops_append_sum(po, 1.0f));
            has_sum = 1;
        } else if (!strcmp(o.post[i], "relu")) {
            DN(dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu, 0.0f, 0.0f));
        } else {
            DN(dnnl_post_ops_append_binary(po, !strcmp(o.post[i], "add") ? dnnl_binary_add : dnnl_binary_mul,
                                           &chan_md));
        }
    }
    DN(dnnl_primitive_attr_set_post_ops(attr, po));
    dnnl_primitive_desc_t pd;
    DN(dnnl_primitive_desc_create(&pd, &cd, attr, eng, NULL));
    const char *impl = "?";
    DN(dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl));
    const dnnl_memory_desc_t *wei_prim_md = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    const dnnl_memory_desc_t *src_prim_md = dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0);
    const dnnl_memory_desc_t *dst_prim_md = dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
    if (!dnnl_memory_desc_equal(src_prim_md, &src_md) ||
        !dnnl_memory_desc_equal(dst_prim_md, &dst_md)) {
        fprintf(stderr, "onednn_conv: primitive changed the nhwc source/destination layout\n");
        return 1;
    }

    dnnl_memory_t src_mem, wei_user_mem, wei_mem, dst_mem;
    DN(dnnl_memory_create(&src_mem, &src_md, eng, DNNL_MEMORY_ALLOCATE));
    DN(dnnl_memory_create(&wei_user_mem, &wei_user_md, eng, DNNL_MEMORY_ALLOCATE));
    DN(dnnl_memory_create(&dst_mem, &dst_md, eng, DNNL_MEMORY_ALLOCATE));
    float *src, *wei_hwio, *dst;
    DN(dnnl_memory_get_data_handle(src_mem, (void **)&src));
    DN(dnnl_memory_get_data_handle(wei_user_mem, (void **)&wei_hwio));
    DN(dnnl_memory_get_data_handle(dst_mem, (void **)&dst));
    const size_t src_count = (size_t)(o.n * o.h * o.w * o.ci);
    const size_t wei_count = (size_t)(o.kh * o.kw * o.ci * o.co);
    const size_t dst_count = (size_t)(o.n * oh * ow * o.co);
    fill_random(src, src_count, 1);
    fill_random(wei_hwio, wei_count, 2);
    memset(dst, 0, dst_count * sizeof *dst);

    /* Weights: HWIO -> the primitive's preferred layout, once, untimed. */
    if (dnnl_memory_desc_equal(wei_prim_md, &wei_user_md)) {
        wei_mem = wei_user_mem;
    } else {
        DN(dnnl_memory_create(&wei_mem, wei_prim_md, eng, DNNL_MEMORY_ALLOCATE));
        dnnl_primitive_desc_t rpd;
        dnnl_primitive_t reorder;
        DN(dnnl_reorder_primitive_desc_create(&rpd, &wei_user_md, eng, wei_prim_md, eng, NULL));
        DN(dnnl_primitive_create(&reorder, rpd));
        dnnl_exec_arg_t rargs[] = {{DNNL_ARG_FROM, wei_user_mem}, {DNNL_ARG_TO, wei_mem}};
        DN(dnnl_primitive_execute(reorder, strm, 2, rargs));
        DN(dnnl_stream_wait(strm));
        dnnl_primitive_destroy(reorder);
        dnnl_primitive_desc_destroy(rpd);
    }

    dnnl_primitive_t conv;
    DN(dnnl_primitive_create(&conv, pd));
    dnnl_exec_arg_t args[3 + MAX_POST] = {
        {DNNL_ARG_SRC, src_mem}, {DNNL_ARG_WEIGHTS, wei_mem}, {DNNL_ARG_DST, dst_mem}};
    int nargs = 3;
    dnnl_memory_t chan_mem[MAX_POST] = {0};
    for (int i = 0; i < o.npost; i++) {
        if (strcmp(o.post[i], "add") && strcmp(o.post[i], "mul"))
            continue;
        float *c;
        DN(dnnl_memory_create(&chan_mem[i], &chan_md, eng, DNNL_MEMORY_ALLOCATE));
        DN(dnnl_memory_get_data_handle(chan_mem[i], (void **)&c));
        fill_random(c, (size_t)o.co, 3 + (unsigned)i);
        args[nargs++] = (dnnl_exec_arg_t){DNNL_ARG_ATTR_MULTIPLE_POST_OP(i) | DNNL_ARG_SRC_1, chan_mem[i]};
    }
    /* sum: the destination holds the residual; each call adds to the last
     * result, which changes the values, not the work */
    if (has_sum)
        fill_random(dst, dst_count, 4);
#define RUN_ONCE()                                             \
    do {                                                       \
        DN(dnnl_primitive_execute(conv, strm, nargs, args));   \
        DN(dnnl_stream_wait(strm));                            \
    } while (0)

    const double flops = 2.0 * (double)o.n * (double)oh * (double)ow * (double)o.co *
                         (double)o.kh * (double)o.kw * (double)o.ci;
    char post_list[MAX_POST * 8 + 1] = "";
    for (int i = 0; i < o.npost; i++)
        snprintf(post_list + strlen(post_list), sizeof post_list - strlen(post_list), "%s%s", i ? "," : "",
                 o.post[i]);
    int rc = 0;
    if (o.check && o.npost) {
        fprintf(stderr, "onednn_conv: --check is for the plain convolution (no --post)\n");
        rc = 2;
    } else if (o.check) {
        RUN_ONCE();
        double max_rel;
        int ok = check_against_naive(&o, oh, ow, src, wei_hwio, dst, &max_rel);
        printf("{\"op\":\"conv2d\",\"check\":\"%s\",\"max_rel_err\":%.3g,\"n\":%ld,\"h\":%ld,"
               "\"w\":%ld,\"ci\":%ld,\"co\":%ld,\"kh\":%ld,\"kw\":%ld,\"stride\":%ld,\"pad\":%ld,"
               "\"oh\":%ld,\"ow\":%ld,\"threads\":%d,\"impl\":\"%s\"}\n",
               ok ? "ok" : "fail", max_rel, o.n, o.h, o.w, o.ci, o.co, o.kh, o.kw, o.stride,
               o.pad, oh, ow, threads, impl);
        rc = ok ? 0 : 1;
    } else {
        RUN_ONCE(); /* warm-up */
        /* Grow number until one repeat lasts min_ms, as TVM's time evaluator does. */
        long number = 1;
        for (;;) {
            double t0 = now_s();
            for (long i = 0; i < number; i++)
                RUN_ONCE();
            double ms = 1e3 * (now_s() - t0);
            if (ms >= o.min_ms)
                break;
            double per = ms / (double)number;
            long want = per > 0 ? (long)(o.min_ms / per * 1.05) + 1 : number * 10;
            long grown = (long)((double)number * 1.618) + 1;
            number = want > grown ? want : grown;
        }
        double sum = 0.0, best = INFINITY;
        for (int r = 0; r < o.repeat; r++) {
            double t0 = now_s();
            for (long i = 0; i < number; i++)
                RUN_ONCE();
            double per = (now_s() - t0) / (double)number;
            sum += per;
            if (per < best)
                best = per;
        }
        double mean = sum / o.repeat;
        printf("{\"op\":\"conv2d\",\"time_s\":%.6e,\"gflops\":%.3f,\"min_time_s\":%.6e,"
               "\"number\":%ld,\"repeat\":%d,\"n\":%ld,\"h\":%ld,\"w\":%ld,\"ci\":%ld,"
               "\"co\":%ld,\"kh\":%ld,\"kw\":%ld,\"stride\":%ld,\"pad\":%ld,\"threads\":%d,"
               "\"impl\":\"%s\",\"post\":\"%s\"}\n",
               mean, flops / mean * 1e-9, best, number, o.repeat, o.n, o.h, o.w, o.ci, o.co,
               o.kh, o.kw, o.stride, o.pad, threads, impl, post_list);
    }

    for (int i = 0; i < o.npost; i++)
        if (chan_mem[i])
            dnnl_memory_destroy(chan_mem[i]);
    dnnl_post_ops_destroy(po);
    dnnl_primitive_attr_destroy(attr);
    dnnl_primitive_destroy(conv);
    dnnl_primitive_desc_destroy(pd);
    if (wei_mem != wei_user_mem)
        dnnl_memory_destroy(wei_mem);
    dnnl_memory_destroy(wei_user_mem);
    dnnl_memory_destroy(src_mem);
    dnnl_memory_destroy(dst_mem);
    dnnl_stream_destroy(strm);
    dnnl_engine_destroy(eng);
    return rc;
}
