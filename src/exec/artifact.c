/* artifact.c - a compiled model as files that run without transtune (see
 * exec.h, tt_exec_write_artifact).
 *
 * DIR/libNAME.so holds every kernel a call runs (with its chosen schedule and
 * form, the same C the executor builds) and a small runtime generated for
 * this model: the call list with each argument's buffer or weight, the
 * activation pool's sizes, the input and output shapes.  DIR/NAME.weights
 * holds the constants the calls read (Winograd weights already transformed;
 * packing into a kernel's layout happens on its first call, as in the
 * executor): a header (magic, the model's id, counts, a checksum) and the
 * tensors 64-byte aligned, so that a truncated, corrupted or foreign file is
 * refused with a message instead of running on garbage.  DIR/NAME.h is the C
 * API, DIR/NAME_example.c a small program over it, DIR/src/ the generated
 * sources (to rebuild elsewhere).  The library needs libc, libm and the
 * kernels' OpenMP runtime only.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../codegen/codegen.h"
#include "exec_int.h"

#define ART_MAGIC "TTWGT001"
#define ART_MAX_UNITS 8

/* What the writer collects before it writes. */
typedef struct art {
    const tt_model *m;
    const tt_exec_opts *o;
    const char *dir, *name;
    int *needed;                 /* per kernel: a call runs it */
    int nw;                      /* weights, in first-use order */
    const float **w_data;
    int64_t *w_bytes;
    int *w_root;                 /* the graph tensor (root) it is */
    int *w_m;                    /* 0, or the Winograd tile it was transformed for */
    float **w_own;               /* transformed copies (freed) */
    int *slot;                   /* per graph tensor: pool slot, -1 none */
    tt_xpool P;
    int *ref;                    /* per call, per argument: slot >= 0, or -(weight + 1) */
    int maxargs;
    uint64_t id;                 /* the model's id, shared by the library and its weights */
} art;

static void art_free(art *A)
{
    for (int i = 0; i < A->nw; i++)
        free(A->w_own[i]);
    free(A->needed), free(A->w_data), free(A->w_bytes), free(A->w_root), free(A->w_m), free(A->w_own);
    free(A->slot), free(A->P.size), free(A->P.busy), free(A->ref);
}

/* Weight index of (root tensor, Winograd tile), added if new. */
static int art_weight(art *A, int root, int wm, tt_err *err)
{
    for (int i = 0; i < A->nw; i++)
        if (A->w_root[i] == root && A->w_m[i] == wm)
            return i;
    const tt_graph *g = A->m->g;
    const tt_tensor *t = &g->tensors[root];
    int n = A->nw + 1;
    A->w_data = tt_xrealloc(A->w_data, (size_t)n * sizeof *A->w_data);
    A->w_bytes = tt_xrealloc(A->w_bytes, (size_t)n * sizeof *A->w_bytes);
    A->w_root = tt_xrealloc(A->w_root, (size_t)n * sizeof *A->w_root);
    A->w_m = tt_xrealloc(A->w_m, (size_t)n * sizeof *A->w_m);
    A->w_own = tt_xrealloc(A->w_own, (size_t)n * sizeof *A->w_own);
    int i = A->nw;
    A->w_root[i] = root;
    A->w_m[i] = wm;
    A->w_own[i] = NULL;
    if (wm == 0) {
        A->w_data[i] = t->data;
        A->w_bytes[i] = tt_exec_tensor_bytes(g, root);
    } else {
        if (t->ndim != 4 || t->shape[0] != 3 || t->shape[1] != 3)
            return tt_err_set(err, "Winograd: the weight '%s' is not a 3x3 kernel", t->name);
        int64_t ci = t->shape[2], co = t->shape[3], a = wm + 2;
        A->w_bytes[i] = a * a * ci * co * 4;
        A->w_own[i] = tt_xmalloc((size_t)A->w_bytes[i]);
        if (tt_winograd_transform_weight(wm, ci, co, (const float *)t->data, A->w_own[i])) {
            free(A->w_own[i]);
            A->w_own[i] = NULL;
            return tt_err_set(err, "Winograd: no F(%d, 3) transform", wm);
        }
        A->w_data[i] = A->w_own[i];
    }
    A->nw = n;
    return i;
}

/* The plan: which kernels run, the memory slots, every call's arguments. */
static int art_plan(art *A, tt_err *err)
{
    const tt_model *m = A->m;
    const tt_graph *g = m->g;
    A->needed = tt_xcalloc((size_t)m->nkernels + 1, sizeof(int));
    A->slot = tt_xmalloc((size_t)g->ntensors * sizeof(int));
    tt_exec_plan_memory(m, A->slot, &A->P);
    A->ref = tt_xcalloc((size_t)(m->ncalls ? m->ncalls : 1) * TT_MODEL_MAX_ARGS, sizeof(int));
    for (int c = 0; c < m->ncalls; c++) {
        const tt_mcall *mc = &m->calls[c];
        int k = mc->kind == TT_MCALL_KERNEL ? tt_exec_run_kernel(m, A->o, mc->kernel) : -1;
        if (k >= 0)
            A->needed[k] = 1;
        if (mc->nargs > A->maxargs)
            A->maxargs = mc->nargs;
        for (int a = 0; a < mc->nargs; a++) {
            int r = m->alias_of[mc->args[a]];
            int *ref = &A->ref[c * TT_MODEL_MAX_ARGS + a];
            if (g->tensors[r].data) {
                /* a Winograd twin's weight (argument 1) goes transformed */
                int wm = k >= 0 && k != mc->kernel && a == 1 ? m->kernels[k].wino_m : 0;
                int w = art_weight(A, r, wm, err);
                if (w < 0)
                    return -1;
                *ref = -(w + 1);
            } else if (A->slot[r] >= 0) {
                *ref = A->slot[r];
            } else {
                return tt_err_set(err, "call %d: tensor '%s' has no storage", c, g->tensors[r].name);
            }
        }
        if (mc->kind == TT_MCALL_HOST) {
            if (tt_art_host_code(g, &g->nodes[mc->node]) < 0) {
                tt_str dummy;
                tt_str_init(&dummy);
                int rc = tt_art_host_desc(g, mc->node, &dummy, err);
                tt_str_free(&dummy);
                return rc;
            }
        } else if (mc->kind != TT_MCALL_KERNEL) {
            const tt_tensor *tab = &g->tensors[mc->args[0]];
            if (tab->ndim != 2 || g->tensors[mc->args[1]].dtype != TT_DT_INT64)
                return tt_err_set(err, "Gather: a 2-D table and int64 ids are supported");
        }
    }
    if (A->slot[m->alias_of[m->output]] < 0)
        return tt_err_set(err, "the model's output is not computed by any kernel");
    /* the id: FNV-1a over the plan's shape, so that weights of another
     * compile of another model are refused */
    uint64_t h = 1469598103934665603ULL;
    for (int i = 0; i < A->nw; i++)
        h = (h ^ (uint64_t)A->w_bytes[i]) * 1099511628211ULL;
    for (int c = 0; c < m->ncalls * TT_MODEL_MAX_ARGS; c++)
        h = (h ^ (uint64_t)(uint32_t)A->ref[c]) * 1099511628211ULL;
    for (const char *p = A->name; *p; p++)
        h = (h ^ (uint8_t)*p) * 1099511628211ULL;
    A->id = h;
    return 0;
}

/* ---- the weights file ---------------------------------------------------------- */

/* The checksum the runtime recomputes (the same loop is emitted in C). */
static uint64_t art_checksum(const unsigned char *p, int64_t n)
{
    uint64_t h = 0x9e3779b97f4a7c15ULL;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t v;
        memcpy(&v, p + i, 8);
        h = (h ^ v) * 0x100000001b3ULL;
        h ^= h >> 29;
    }
    for (; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}

static int64_t art_align(int64_t x) { return (x + 63) / 64 * 64; }

/* Header: magic[8], id, count, data_bytes, checksum (u64 each), then count
 * pairs (offset, bytes) into the data, which starts at the next multiple of
 * 64 after the table. */
static int art_write_weights(const art *A, const char *path, tt_err *err)
{
    int64_t data = 0;
    int64_t *off = tt_xmalloc((size_t)(A->nw + 1) * sizeof *off);
    for (int i = 0; i < A->nw; i++) {
        off[i] = data;
        data += art_align(A->w_bytes[i]);
    }
    unsigned char *blob = tt_xcalloc((size_t)(data ? data : 1), 1);
    for (int i = 0; i < A->nw; i++)
        memcpy(blob + off[i], A->w_data[i], (size_t)A->w_bytes[i]);
    uint64_t hdr[4] = {A->id, (uint64_t)A->nw, (uint64_t)data, art_checksum(blob, data)};
    int64_t head = 8 + sizeof hdr + (int64_t)A->nw * 16;
    int rc = 0;
    FILE *f = fopen(path, "wb");
    if (!f) {
        rc = tt_err_set(err, "cannot write %s: %s", path, strerror(errno));
    } else {
        static const unsigned char zero[64];
        int ok = fwrite(ART_MAGIC, 1, 8, f) == 8 && fwrite(hdr, sizeof hdr, 1, f) == 1;
        for (int i = 0; i < A->nw && ok; i++) {
            uint64_t e[2] = {(uint64_t)off[i], (uint64_t)A->w_bytes[i]};
            ok = fwrite(e, sizeof e, 1, f) == 1;
        }
        if (ok && art_align(head) > head)
            ok = fwrite(zero, 1, (size_t)(art_align(head) - head), f) == (size_t)(art_align(head) - head);
        if (ok && data)
            ok = fwrite(blob, 1, (size_t)data, f) == (size_t)data;
        if (fclose(f) != 0 || !ok)
            rc = tt_err_set(err, "cannot write %s: %s", path, strerror(errno));
    }
    free(blob);
    free(off);
    return rc;
}

/* ---- generated C ------------------------------------------------------------------- */

static void art_dims(tt_str *o, const tt_tensor *t)
{
    for (int d = 0; d < t->ndim; d++)
        tt_str_catf(o, "%s%" PRId64, d ? ", " : "", t->shape[d]);
    if (t->ndim == 0)
        tt_str_cat(o, "1");
}

/* A C string literal of s (names come from ONNX files: anything may be in them). */
static void art_cstr(tt_str *o, const char *s)
{
    tt_str_cat(o, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            tt_str_catf(o, "\\%c", *p);
        else if (*p < 32 || *p > 126)
            tt_str_catf(o, "\\%03o", *p);
        else
            tt_str_catf(o, "%c", *p);
    }
    tt_str_cat(o, "\"");
}

static void art_header(const art *A, tt_str *o)
{
    const char *N = A->name;
    const tt_tensor *I = &A->m->g->tensors[A->m->input], *O = &A->m->g->tensors[A->m->output];
    tt_str_catf(o,
                "/* %s.h - the model %s compiled by transtune (`transtune compile`).\n"
                " * Link with lib%s.so (libc, libm and the OpenMP runtime are all it needs).\n"
                " *\n"
                " *   %s_model *m;\n"
                " *   char msg[256];\n"
                " *   if (%s_create(\"%s.weights\", &m, msg, sizeof msg)) { puts(msg); exit(1); }\n"
                " *   %s_run(m, input, %s_INPUT_NDIM, %s_input_shape, output, %s_OUTPUT_NUMEL);\n"
                " *   %s_destroy(m);\n"
                " *\n"
                " * input%s: ",
                N, A->m->name, N, N, N, N, N, N, N, N, N, A->m->ninputs > 1 ? "s" : "");
    for (int i = 0; i < A->m->ninputs; i++) {
        const tt_tensor *t = &A->m->g->tensors[A->m->inputs[i]];
        tt_str_catf(o, "%s%s%s %s (", i ? ", " : "", i ? "" : "", t->name, tt_dtype_name(t->dtype));
        art_dims(o, t);
        tt_str_cat(o, ")");
    }
    tt_str_catf(o, " in the model's ONNX layout; output: float32, shape (");
    art_dims(o, O);
    tt_str_catf(o, ").\n * Every function returns %s_OK (0) or an error code; %s_error(m) says why.\n"
                   " * The weights file is checked when loaded (truncated, corrupted, another model's);\n"
                   " * a truncated lib%s.so cannot be caught by a program linked to it (the system's\n"
                   " * loader maps it before any code runs): Python's transtune.Model checks it first. */\n",
                N, N, N);
    tt_str_catf(o, "#ifndef TT_ARTIFACT_%s_H\n#define TT_ARTIFACT_%s_H\n\n#include <stddef.h>\n#include <stdint.h>\n\n",
                N, N);
    tt_str_catf(o, "#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n");
    tt_str_catf(o,
                "enum {\n"
                "    %s_OK = 0,\n"
                "    %s_EIO = 1,      /* the weights file cannot be opened or read */\n"
                "    %s_EFORMAT = 2,  /* not this model's weights, truncated or corrupted */\n"
                "    %s_ENOMEM = 3,   /* out of memory */\n"
                "    %s_EARG = 4,     /* a NULL pointer, wrong shape, or an index out of range in the input */\n"
                "};\n\n",
                N, N, N, N, N);
    tt_str_catf(o, "#define %s_INPUT_NDIM %d\n#define %s_OUTPUT_NDIM %d\n", N, I->ndim, N, O->ndim);
    tt_str_catf(o, "#define %s_INPUT_NUMEL %" PRId64 "\n#define %s_OUTPUT_NUMEL %" PRId64 "\n", N,
                tt_tensor_numel(I), N, tt_tensor_numel(O));
    tt_str_catf(o, "#define %s_INPUT_IS_INT64 %d\n#define %s_NUM_INPUTS %d\n\n", N, I->dtype == TT_DT_INT64, N,
                A->m->ninputs);
    tt_str_catf(o, "extern const int64_t %s_input_shape[%d];\nextern const int64_t %s_output_shape[%d];\n", N,
                I->ndim ? I->ndim : 1, N, O->ndim ? O->ndim : 1);
    tt_str_catf(o, "extern const char %s_input_name[];\nextern const char %s_output_name[];\n", N, N);
    tt_str_catf(o, "/* The same as functions (for dlopen and ctypes users, who see no macros):\n"
                   " * ndim, shape (ndim entries), numel, and the input's dtype (\"float32\" or \"int64\"). */\n"
                   "int %s_input_ndim(void);\nint %s_output_ndim(void);\nconst char *%s_input_dtype(void);\n"
                   "/* Input i of %s_NUM_INPUTS, in the model's order: its name, ndim, shape,\n"
                   " * element count and dtype (\"float32\", \"int64\", \"int32\" or \"bool\");\n"
                   " * NULL or -1 for an i out of range. */\n"
                   "int %s_num_inputs(void);\nconst char *%s_input_name_at(int i);\nint %s_input_ndim_at(int i);\n"
                   "const int64_t *%s_input_shape_at(int i);\nint64_t %s_input_numel_at(int i);\n"
                   "const char *%s_input_dtype_at(int i);\n\n",
                N, N, N, N, N, N, N, N, N, N);
    tt_str_catf(o,
                "typedef struct %s_model %s_model;\n\n"
                "/* Load the weights file written beside the library; *out is NULL on error,\n"
                " * msg (may be NULL) gets the message. */\n"
                "int %s_create(const char *weights_path, %s_model **out, char *msg, size_t msg_len);\n"
                "/* One inference: input (float32, or int64 token ids when %s_INPUT_IS_INT64)\n"
                " * of exactly the shape given (ndim, shape), output of output_numel floats;\n"
                " * both caller-owned.  One run at a time in a process (the kernels keep\n"
                " * workspaces of their own). */\n"
                "int %s_run(%s_model *m, const void *input, int ndim, const int64_t *shape, float *output,\n"
                "           int64_t output_numel);\n"
                "/* One inference of a model of any number of inputs: inputs[i] holds input i\n"
                " * (of exactly its shape and dtype, %s_input_*_at(i)); ninputs must be\n"
                " * %s_NUM_INPUTS.  %s_run is this for a model of one input. */\n"
                "int %s_run_inputs(%s_model *m, int ninputs, const void *const *inputs, float *output,\n"
                "                  int64_t output_numel);\n"
                "/* Threads of the kernels' OpenMP runtime (process-wide). */\n"
                "void %s_set_threads(int threads);\n"
                "/* The message of the last error of m. */\n"
                "const char *%s_error(const %s_model *m);\n"
                "void %s_destroy(%s_model *m);\n\n",
                N, N, N, N, N, N, N, N, N, N, N, N, N, N, N, N, N);
    tt_str_catf(o, "#ifdef __cplusplus\n}\n#endif\n\n#endif\n");
}

/* The runtime's first part: its includes, the plan's tables (weights,
 * pool buffers, calls, shapes, names), the weights' checksum, the model
 * struct and the error helper. */
static int art_tables(const art *A, tt_str *o, tt_err *err)
{
    const tt_model *m = A->m;
    const tt_graph *g = m->g;
    const char *N = A->name;
    int nb = A->P.n, nw = A->nw, nc = m->ncalls, na = A->maxargs ? A->maxargs : 1;
    const tt_tensor *I = &g->tensors[m->input], *O = &g->tensors[m->output];
    tt_str_catf(o, "/* %s_rt.c - generated by `transtune compile`: the runtime of %s */\n", N, m->name);
    tt_str_cat(o, "#include <errno.h>\n#include <stdarg.h>\n#include <stdio.h>\n#include <stdlib.h>\n"
                  "#include <string.h>\n\n");
    tt_str_catf(o, "#include \"%s.h\"\n\nvoid omp_set_num_threads(int);\n", N);
    for (int k = 0; k < m->nkernels; k++)
        if (A->needed[k])
            tt_str_catf(o, "void %s_k%d(float *const *args);\n", N, k);
    tt_str_catf(o, "\nenum { NW = %d, NB = %d, NC = %d, NA = %d };\n", nw ? nw : 1, nb ? nb : 1, nc ? nc : 1, na);
    tt_str_catf(o, "static const unsigned long long MODEL_ID = 0x%016llxULL;\n", (unsigned long long)A->id);
    tt_str_cat(o, "static const long long w_bytes[NW] = {");
    for (int i = 0; i < nw; i++)
        tt_str_catf(o, "%s%" PRId64 "LL", i ? ", " : "", A->w_bytes[i]);
    tt_str_cat(o, nw ? "};\nstatic const long long b_bytes[NB] = {" : "0};\nstatic const long long b_bytes[NB] = {");
    for (int i = 0; i < nb; i++)
        tt_str_catf(o, "%s%" PRId64 "LL", i ? ", " : "", A->P.size[i]);
    tt_str_cat(o, nb ? "};\n" : "0};\n");
    int nh = 0;
    for (int c = 0; c < nc; c++)
        nh += m->calls[c].kind == TT_MCALL_HOST;
    if (nh) {
        tt_art_host_runtime(o);
        tt_str_catf(o, "static const host_t hosts[%d] = {\n", nh);
        for (int c = 0; c < nc; c++)
            if (m->calls[c].kind == TT_MCALL_HOST && tt_art_host_desc(g, m->calls[c].node, o, err))
                return -1;
        tt_str_cat(o, "};\n");
    }
    tt_str_cat(o, "/* fn NULL: a host call (host >= 0: hosts[host]) or a gather of table rows (args: table,\n"
                  " * int64 ids, output) */\n"
                  "typedef struct { void (*fn)(float *const *); int nargs; int ref[NA]; long long rows, width, vocab; "
                  "int host; } call_t;\n/* ref: a pool buffer (>= 0) or weight -(ref + 1) */\n"
                  "static const call_t calls[NC] = {\n");
    for (int c = 0, h = 0; c < nc; c++) {
        const tt_mcall *mc = &m->calls[c];
        if (mc->kind == TT_MCALL_KERNEL)
            tt_str_catf(o, "    {%s_k%d, %d, {", N, tt_exec_run_kernel(m, A->o, mc->kernel), mc->nargs);
        else
            tt_str_catf(o, "    {0, %d, {", mc->nargs);
        for (int a = 0; a < mc->nargs; a++)
            tt_str_catf(o, "%s%d", a ? ", " : "", A->ref[c * TT_MODEL_MAX_ARGS + a]);
        if (mc->kind == TT_MCALL_KERNEL) {
            tt_str_cat(o, "}, 0, 0, 0, -1},\n");
        } else if (mc->kind == TT_MCALL_HOST) {
            tt_str_catf(o, "}, 0, 0, 0, %d},\n", h++);
        } else {
            const tt_tensor *tab = &g->tensors[mc->args[0]];
            tt_str_catf(o, "}, %" PRId64 "LL, %" PRId64 "LL, %" PRId64 "LL, -1},\n",
                        tt_tensor_numel(&g->tensors[mc->args[1]]), tab->shape[1], tab->shape[0]);
        }
    }
    tt_str_cat(o, "};\n");
    int ni = m->ninputs;
    tt_str_catf(o, "enum { NI = %d };\nstatic const int out_buf = %d;\nstatic const long long out_bytes = %" PRId64
                   "LL;\n",
                ni, A->slot[m->alias_of[m->output]], tt_exec_tensor_bytes(g, m->output));
    /* per input: buffer, bytes, ndim, shape, name, dtype */
    tt_str cols[6];
    for (int j = 0; j < 6; j++)
        tt_str_init(&cols[j]);
    for (int i = 0; i < ni; i++) {
        const tt_tensor *t = &g->tensors[m->inputs[i]];
        const char *sep = i ? ", " : "";
        tt_str_catf(&cols[0], "%s%d", sep, A->slot[m->alias_of[m->inputs[i]]]);
        tt_str_catf(&cols[1], "%s%" PRId64 "LL", sep, tt_exec_tensor_bytes(g, m->inputs[i]));
        tt_str_catf(&cols[2], "%s%d", sep, t->ndim);
        tt_str_catf(&cols[3], "%s{", sep);
        art_dims(&cols[3], t);
        tt_str_cat(&cols[3], "}");
        tt_str_cat(&cols[4], sep);
        art_cstr(&cols[4], t->name);
        tt_str_catf(&cols[5], "%s\"%s\"", sep,
                    t->dtype == TT_DT_FLOAT ? "float32" : t->dtype == TT_DT_BOOL ? "bool" : tt_dtype_name(t->dtype));
    }
    tt_str_catf(o,
                "static const int in_buf[NI] = {%s};\nstatic const long long in_bytes[NI] = {%s};\n"
                "static const int in_ndim[NI] = {%s};\nstatic const int64_t in_shape[NI][%d] = {%s};\n"
                "static const char *const in_name[NI] = {%s};\nstatic const char *const in_dtype[NI] = {%s};\n",
                cols[0].buf, cols[1].buf, cols[2].buf, TT_GRAPH_MAX_DIMS, cols[3].buf, cols[4].buf, cols[5].buf);
    for (int j = 0; j < 6; j++)
        tt_str_free(&cols[j]);
    tt_str_catf(o, "const int64_t %s_input_shape[%d] = {", N, I->ndim ? I->ndim : 1);
    art_dims(o, I);
    tt_str_catf(o, "};\nconst int64_t %s_output_shape[%d] = {", N, O->ndim ? O->ndim : 1);
    art_dims(o, O);
    tt_str_catf(o, "};\nconst char %s_input_name[] = ", N);
    art_cstr(o, I->name);
    tt_str_catf(o, ";\nconst char %s_output_name[] = ", N);
    art_cstr(o, O->name);
    tt_str_cat(o, ";\n\n");
    /* the same checksum as art_checksum */
    tt_str_cat(o,
               "static unsigned long long checksum(const unsigned char *p, long long n)\n{\n"
               "    unsigned long long h = 0x9e3779b97f4a7c15ULL;\n    long long i = 0;\n"
               "    for (; i + 8 <= n; i += 8) {\n        unsigned long long v;\n        memcpy(&v, p + i, 8);\n"
               "        h = (h ^ v) * 0x100000001b3ULL;\n        h ^= h >> 29;\n    }\n"
               "    for (; i < n; i++)\n        h = (h ^ p[i]) * 0x100000001b3ULL;\n    return h;\n}\n\n");
    tt_str_catf(o,
                "struct %s_model {\n    unsigned char *wmem;\n    void *b[NB];\n    float *args[NC][NA];\n"
                "    char msg[256];\n};\n\n",
                N);
    tt_str_catf(o,
                "static int fail(%s_model *m, char *msg, size_t n, int code, const char *fmt, ...)\n{\n"
                "    char buf[256];\n    va_list ap;\n    va_start(ap, fmt);\n    vsnprintf(buf, sizeof buf, fmt, ap);\n"
                "    va_end(ap);\n    if (m)\n        snprintf(m->msg, sizeof m->msg, \"%%s\", buf);\n"
                "    if (msg && n)\n        snprintf(msg, n, \"%%s\", buf);\n    return code;\n}\n\n",
                N);
    return 0;
}

/* NAME_create: the weights file read and checked, the pool allocated, every
 * call's arguments bound. */
static void art_create(const art *A, tt_str *o)
{
    const char *N = A->name;
    int nw = A->nw;
    tt_str_catf(o,
                "int %s_create(const char *path, %s_model **out, char *msg, size_t n)\n{\n"
                "    if (!out)\n        return fail(0, msg, n, %s_EARG, \"%s_create: out is NULL\");\n"
                "    *out = 0;\n"
                "    if (!path)\n        return fail(0, msg, n, %s_EARG, \"%s_create: no weights path\");\n"
                "    FILE *f = fopen(path, \"rb\");\n"
                "    if (!f)\n        return fail(0, msg, n, %s_EIO, \"cannot open %%s: %%s\", path, strerror(errno));\n"
                "    char magic[8];\n    unsigned long long hdr[4], tab[2 * NW];\n"
                "    int ok = fread(magic, 1, 8, f) == 8 && fread(hdr, sizeof hdr, 1, f) == 1;\n"
                "    if (!ok || memcmp(magic, \"%s\", 8) != 0) {\n        fclose(f);\n"
                "        return fail(0, msg, n, %s_EFORMAT, \"%%s: not a transtune weights file\", path);\n    }\n"
                "    if (hdr[0] != MODEL_ID || hdr[1] != (unsigned long long)%d) {\n        fclose(f);\n"
                "        return fail(0, msg, n, %s_EFORMAT, \"%%s: the weights of another model (or another compile)\", path);\n    }\n"
                "    long long data = (long long)hdr[2], head = 8 + 32 + 16LL * %d;\n"
                "    ok = %d == 0 || fread(tab, 16, %d, f) == %d;\n"
                "    for (int i = 0; ok && i < %d; i++)\n"
                "        ok = tab[2 * i] %% 64 == 0 && tab[2 * i + 1] == (unsigned long long)w_bytes[i] &&\n"
                "             tab[2 * i] + tab[2 * i + 1] <= (unsigned long long)data;\n"
                "    if (!ok || data < 0 || fseek(f, (head + 63) / 64 * 64, SEEK_SET) != 0) {\n        fclose(f);\n"
                "        return fail(0, msg, n, %s_EFORMAT, \"%%s: truncated or corrupted (table)\", path);\n    }\n"
                "    %s_model *m = calloc(1, sizeof *m);\n    void *w = 0;\n"
                "    if (!m || posix_memalign(&w, 64, (size_t)(data ? data : 64))) {\n        fclose(f);\n        free(m);\n"
                "        return fail(0, msg, n, %s_ENOMEM, \"out of memory (%%lld bytes of weights)\", data);\n    }\n"
                "    m->wmem = w;\n"
                "    ok = (long long)fread(m->wmem, 1, (size_t)data, f) == data;\n    fclose(f);\n"
                "    if (!ok || checksum(m->wmem, data) != hdr[3]) {\n        %s_destroy(m);\n"
                "        return fail(0, msg, n, %s_EFORMAT, \"%%s: truncated or corrupted (data)\", path);\n    }\n"
                "    for (int i = 0; i < NB; i++) {\n"
                "        if (posix_memalign(&m->b[i], 64, (size_t)(b_bytes[i] + 64))) {\n            m->b[i] = 0;\n"
                "            %s_destroy(m);\n            return fail(0, msg, n, %s_ENOMEM, \"out of memory (activations)\");\n"
                "        }\n        memset(m->b[i], 0, (size_t)(b_bytes[i] + 64));\n    }\n"
                "    for (int c = 0; c < NC; c++)\n        for (int a = 0; a < calls[c].nargs; a++) {\n"
                "            int r = calls[c].ref[a];\n"
                "            m->args[c][a] = r >= 0 ? (float *)m->b[r] : (float *)(void *)(m->wmem + tab[2 * (-r - 1)]);\n"
                "        }\n    *out = m;\n    return %s_OK;\n}\n\n",
                N, N, N, N, N, N, N, ART_MAGIC, N, nw, N, nw, nw, nw, nw, nw, N, N, N, N, N, N, N, N);
}

/* NAME_run_inputs: the output's room checked, the inputs copied in, the
 * calls in order (host calls and gathers inline, ids checked); NAME_run:
 * one input's shape checked, then the same. */
static void art_run(const art *A, tt_str *o)
{
    const char *N = A->name;
    tt_str_catf(o,
                "int %s_run_inputs(%s_model *m, int ninputs, const void *const *inputs, float *output,\n"
                "                  int64_t output_numel)\n{\n"
                "    if (!m)\n        return %s_EARG;\n"
                "    if (ninputs != NI)\n"
                "        return fail(m, 0, 0, %s_EARG, \"%%d inputs given, the model takes %%d\", ninputs, NI);\n"
                "    if (!inputs || !output)\n        return fail(m, 0, 0, %s_EARG, \"%s_run: input or output is NULL\");\n"
                "    for (int i = 0; i < NI; i++)\n        if (!inputs[i])\n"
                "            return fail(m, 0, 0, %s_EARG, \"input %%d (%%s) is NULL\", i, in_name[i]);\n"
                "    if (output_numel != %s_OUTPUT_NUMEL)\n"
                "        return fail(m, 0, 0, %s_EARG, \"output: room for %%lld floats given, the model writes %%lld\",\n"
                "                    (long long)output_numel, (long long)%s_OUTPUT_NUMEL);\n"
                "    for (int i = 0; i < NI; i++)\n        memcpy(m->b[in_buf[i]], inputs[i], (size_t)in_bytes[i]);\n"
                "    for (int c = 0; c < NC; c++) {\n"
                "        const call_t *x = &calls[c];\n"
                "        if (x->fn) {\n            x->fn(m->args[c]);\n            continue;\n        }\n",
                N, N, N, N, N, N, N, N, N, N);
    int nh = 0;
    for (int c = 0; c < A->m->ncalls; c++)
        nh += A->m->calls[c].kind == TT_MCALL_HOST;
    if (nh)
        tt_str_catf(o,
                    "        if (x->host >= 0) {\n            char msg[200];\n"
                    "            if (host_run(&hosts[x->host], (void *const *)m->args[c], msg, sizeof msg))\n"
                    "                return fail(m, 0, 0, %s_EARG, \"input: %%s\", msg);\n"
                    "            continue;\n        }\n",
                    N);
    tt_str_catf(o,
                "        const float *tab = m->args[c][0];\n"
                "        const long long *ids = (const long long *)(const void *)m->args[c][1];\n"
                "        float *o = m->args[c][2];\n"
                "        for (long long r = 0; r < x->rows; r++) {\n"
                "            long long id = ids[r] < 0 ? ids[r] + x->vocab : ids[r];\n"
                "            if (id < 0 || id >= x->vocab)\n"
                "                return fail(m, 0, 0, %s_EARG, \"input: token id %%lld out of range [0, %%lld)\", ids[r], x->vocab);\n"
                "            memcpy(o + r * x->width, tab + id * x->width, (size_t)x->width * sizeof *o);\n"
                "        }\n    }\n"
                "    memcpy(output, m->b[out_buf], (size_t)out_bytes);\n    return %s_OK;\n}\n\n",
                N, N);
    tt_str_catf(o,
                "int %s_run(%s_model *m, const void *input, int ndim, const int64_t *shape, float *output,\n"
                "           int64_t output_numel)\n{\n"
                "    if (!m)\n        return %s_EARG;\n"
                "    if (NI != 1)\n"
                "        return fail(m, 0, 0, %s_EARG, \"the model takes %%d inputs: call %s_run_inputs\", NI);\n"
                "    if (ndim != %s_INPUT_NDIM || (ndim > 0 && !shape))\n"
                "        return fail(m, 0, 0, %s_EARG, \"input: %%d dimensions given, the model takes %%d\", ndim, %s_INPUT_NDIM);\n"
                "    for (int d = 0; d < ndim; d++)\n        if (shape[d] != %s_input_shape[d])\n"
                "            return fail(m, 0, 0, %s_EARG, \"input: dimension %%d is %%lld, the model takes %%lld\", d,\n"
                "                        (long long)shape[d], (long long)%s_input_shape[d]);\n"
                "    const void *in[1] = {input};\n"
                "    if (!input)\n        return fail(m, 0, 0, %s_EARG, \"%s_run: input or output is NULL\");\n"
                "    return %s_run_inputs(m, 1, in, output, output_numel);\n}\n\n",
                N, N, N, N, N, N, N, N, N, N, N, N, N, N);
}

/* The runtime: tables of the plan, then create / run / destroy. */
static int art_runtime(const art *A, tt_str *o, tt_err *err)
{
    const tt_model *m = A->m;
    const char *N = A->name;
    if (art_tables(A, o, err))
        return -1;
    art_create(A, o);
    art_run(A, o);
    tt_str_catf(o, "void %s_set_threads(int threads)\n{\n    if (threads > 0)\n        omp_set_num_threads(threads);\n}\n\n",
                N);
    tt_str_catf(o, "int %s_input_ndim(void) { return %s_INPUT_NDIM; }\nint %s_output_ndim(void) { return %s_OUTPUT_NDIM; }\n"
                   "const char *%s_input_dtype(void) { return in_dtype[0]; }\n\n",
                N, N, N, N, N);
    tt_str_catf(o, "int %s_num_inputs(void) { return NI; }\n"
                   "const char *%s_input_name_at(int i) { return i >= 0 && i < NI ? in_name[i] : 0; }\n"
                   "int %s_input_ndim_at(int i) { return i >= 0 && i < NI ? in_ndim[i] : -1; }\n"
                   "const int64_t *%s_input_shape_at(int i) { return i >= 0 && i < NI ? in_shape[i] : 0; }\n"
                   "int64_t %s_input_numel_at(int i)\n{\n    if (i < 0 || i >= NI)\n        return -1;\n"
                   "    int64_t n = 1;\n    for (int d = 0; d < in_ndim[i]; d++)\n        n *= in_shape[i][d];\n"
                   "    return n;\n}\n"
                   "const char *%s_input_dtype_at(int i) { return i >= 0 && i < NI ? in_dtype[i] : 0; }\n\n",
                N, N, N, N, N, N);
    tt_str_catf(o, "const char *%s_error(const %s_model *m)\n{\n    return m ? m->msg : \"no model\";\n}\n\n", N, N);
    tt_str_catf(o, "void %s_destroy(%s_model *m)\n{\n    if (!m)\n        return;\n", N, N);
    /* a kernel called with no arguments frees its packed weight copies */
    for (int k = 0; k < m->nkernels; k++)
        if (A->needed[k])
            tt_str_catf(o, "    %s_k%d(0);\n", N, k);
    tt_str_cat(o, "    for (int i = 0; i < NB; i++)\n        free(m->b[i]);\n    free(m->wmem);\n    free(m);\n}\n");
    return 0;
}

/* The example program: loads the model, runs it on an input (.npy, or a
 * fixed pseudo-random one), prints the latency and the top-1 class, writes
 * the output (.npy) when asked, and compares it with a reference (.npy). */
static void art_example(const art *A, tt_str *o)
{
    const char *N = A->name;
    tt_str_catf(o,
        "/* %s_example.c - run the compiled model %s (generated by `transtune compile`).\n"
        " * Build: cc -O2 -o %s_example %s_example.c -L. -l%s -Wl,-rpath,'$ORIGIN'\n"
        " * Run:   ./%s_example %s.weights [INPUT.npy[,INPUT2.npy...] [OUTPUT.npy [REFERENCE.npy]]]\n"
        " *        (one .npy per input, comma-separated, in the model's order) */\n"
        "#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n#include <time.h>\n\n#include \"%s.h\"\n\n",
        N, A->m->name, N, N, N, N, N, N);
    tt_str_cat(o,
        "/* A little-endian C-order .npy of n elements of `size` bytes (descr dtype) into buf. */\n"
        "static int npy_read(const char *path, const char *dtype, void *buf, long long n, int size)\n{\n"
        "    FILE *f = fopen(path, \"rb\");\n    if (!f) { perror(path); return -1; }\n"
        "    unsigned char h[10];\n    char hdr[4096];\n    int ok = fread(h, 1, 10, f) == 10 && memcmp(h, \"\\x93NUMPY\", 6) == 0;\n"
        "    unsigned len = ok ? (unsigned)(h[8] | h[9] << 8) : 0;\n"
        "    if (ok && h[6] >= 2) { unsigned char e[2]; ok = fread(e, 1, 2, f) == 2; len |= (unsigned)(e[0] << 16 | e[1] << 24); }\n"
        "    ok = ok && len < sizeof hdr && fread(hdr, 1, len, f) == len;\n    hdr[ok ? len : 0] = 0;\n"
        "    if (!ok || !strstr(hdr, dtype) || strstr(hdr, \"'fortran_order': True\")) {\n"
        "        fprintf(stderr, \"%s: not a C-order %s .npy\\n\", path, dtype);\n        fclose(f);\n        return -1;\n    }\n"
        "    ok = (long long)fread(buf, (size_t)size, (size_t)n, f) == n;\n    fclose(f);\n"
        "    if (!ok) fprintf(stderr, \"%s: fewer than %lld elements\\n\", path, n);\n    return ok ? 0 : -1;\n}\n\n"
        "static int npy_write(const char *path, const float *x, int ndim, const int64_t *shape, long long n)\n{\n"
        "    char sh[256] = \"\";\n    for (int d = 0; d < ndim; d++)\n"
        "        snprintf(sh + strlen(sh), sizeof sh - strlen(sh), \"%lld,%s\", (long long)shape[d], ndim > 1 && d + 1 < ndim ? \" \" : \"\");\n"
        "    char hdr[512];\n    int l = snprintf(hdr, sizeof hdr, \"{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }\", sh);\n"
        "    while ((10 + l + 1) % 64) hdr[l++] = ' ';\n    hdr[l++] = '\\n';\n"
        "    FILE *f = fopen(path, \"wb\");\n    if (!f) { perror(path); return -1; }\n"
        "    unsigned char h[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(l & 255), (unsigned char)(l >> 8)};\n"
        "    int ok = fwrite(h, 1, 10, f) == 10 && fwrite(hdr, 1, (size_t)l, f) == (size_t)l &&\n"
        "             (long long)fwrite(x, 4, (size_t)n, f) == n;\n    return fclose(f) == 0 && ok ? 0 : -1;\n}\n\n"
        "static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }\n"
        "static int cmp(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return (x > y) - (x < y); }\n\n");
    /* per input: the table its ids index (0: not ids) for the made-up input */
    tt_str_cat(o, "static const long long in_vocab[] = {");
    for (int i = 0; i < A->m->ninputs; i++)
        tt_str_catf(o, "%s%" PRId64 "LL", i ? ", " : "", tt_model_input_vocab(A->m, i));
    tt_str_cat(o, "};\n\n");
    tt_str_catf(o,
        "int main(int argc, char **argv)\n{\n"
        "    if (argc < 2) {\n        fprintf(stderr, \"usage: %%s %s.weights [INPUT.npy[,INPUT2.npy...] [OUTPUT.npy [REFERENCE.npy]]]\\n\", argv[0]);\n        return 2;\n    }\n"
        "    %s_model *m;\n    char msg[256];\n"
        "    if (%s_create(argv[1], &m, msg, sizeof msg)) {\n        fprintf(stderr, \"%%s\\n\", msg);\n        return 1;\n    }\n"
        "    enum { NI = %s_NUM_INPUTS };\n    void *in[NI];\n    char *files = argc > 2 ? argv[2] : 0;\n"
        "    for (int i = 0; i < NI; i++) {\n"
        "        const char *dt = %s_input_dtype_at(i);\n        long long n = %s_input_numel_at(i);\n"
        "        int isz = !strcmp(dt, \"int64\") ? 8 : !strcmp(dt, \"bool\") ? 1 : 4;\n"
        "        in[i] = calloc((size_t)n + 1, (size_t)isz);\n"
        "        if (!in[i]) { fprintf(stderr, \"out of memory\\n\"); return 1; }\n"
        "        if (files) {\n            /* one file per input, comma-separated, in the model's order */\n"
        "            char *next = strchr(files, ',');\n            if (next) *next++ = 0;\n"
        "            const char *descr = isz == 8 ? \"<i8\" : isz == 1 ? \"|b1\" : !strcmp(dt, \"int32\") ? \"<i4\" : \"<f4\";\n"
        "            if (!*files) { fprintf(stderr, \"no file for input %%d (%%s)\\n\", i, %s_input_name_at(i)); return 1; }\n"
        "            if (npy_read(files, descr, in[i], n, isz)) return 1;\n            files = next;\n"
        "            if (!files && i + 1 < NI) { fprintf(stderr, \"the model takes %%d inputs\\n\", NI); return 1; }\n"
        "            continue;\n        }\n"
        "        /* made up: floats in [-1, 1), token ids below their table, masks 1 with the\n"
        "         * last eighth of the last axis 0 */\n"
        "        unsigned s = 1u + (unsigned)i;\n        int nd = %s_input_ndim_at(i);\n"
        "        long long last = nd > 0 ? %s_input_shape_at(i)[nd - 1] : 1;\n"
        "        long long v = in_vocab[i] > 1000 || in_vocab[i] == 0 ? 1000 : in_vocab[i];\n"
        "        for (long long k = 0; k < n; k++) {\n            s = s * 1103515245u + 12345u;\n"
        "            long long id = in_vocab[i] ? (long long)((s >> 16) %% (unsigned)v) : (k %% last) < last - last / 8;\n"
        "            if (isz == 8) ((long long *)in[i])[k] = id;\n            else if (isz == 1) ((unsigned char *)in[i])[k] = (unsigned char)(id != 0);\n"
        "            else if (!strcmp(dt, \"int32\")) ((int *)in[i])[k] = (int)id;\n"
        "            else ((float *)in[i])[k] = (float)((s >> 8) & 0xffff) / 32768.0f - 1.0f;\n"
        "        }\n    }\n"
        "    float *out = calloc((size_t)%s_OUTPUT_NUMEL, sizeof *out), *ref = 0;\n"
        "    if (!out) { fprintf(stderr, \"out of memory\\n\"); return 1; }\n"
        "    double t[10];\n"
        "    for (int r = 0; r < 13; r++) {\n        double t0 = now();\n"
        "        if (%s_run_inputs(m, NI, (const void *const *)in, out, %s_OUTPUT_NUMEL)) {\n"
        "            fprintf(stderr, \"%%s\\n\", %s_error(m));\n            return 1;\n        }\n"
        "        if (r >= 3) t[r - 3] = now() - t0;\n    }\n"
        "    qsort(t, 10, sizeof t[0], cmp);\n"
        "    long long top = 0;\n    for (long long i = 1; i < %s_OUTPUT_NUMEL; i++) if (out[i] > out[top]) top = i;\n"
        "    printf(\"%s: %%.3f ms (median of 10), top-1 %%lld (%%g)\\n\", (t[4] + t[5]) * 500, top, out[top]);\n"
        "    if (argc > 3 && npy_write(argv[3], out, %s_OUTPUT_NDIM, %s_output_shape, %s_OUTPUT_NUMEL)) return 1;\n"
        "    if (argc > 4) {\n        ref = calloc((size_t)%s_OUTPUT_NUMEL, sizeof *ref);\n"
        "        if (!ref || npy_read(argv[4], \"<f4\", ref, %s_OUTPUT_NUMEL, 4)) return 1;\n"
        "        double md = 0, mr = 0;\n        for (long long i = 0; i < %s_OUTPUT_NUMEL; i++) {\n"
        "            double d = out[i] > ref[i] ? out[i] - ref[i] : ref[i] - out[i], a = ref[i] < 0 ? -ref[i] : ref[i];\n"
        "            md = d > md || d != d ? d : md;\n            mr = a > mr ? a : mr;\n        }\n"
        "        printf(\"max |out - ref| / max |ref| = %%.3g\\n\", mr > 0 ? md / mr : md);\n    }\n"
        "    %s_destroy(m);\n    for (int i = 0; i < NI; i++)\n        free(in[i]);\n    free(out);\n    free(ref);\n    return 0;\n}\n",
        N, N, N, N, N, N, N, N, N, N, N, N, N, N, N, N, N, N, N, N, N, N);
}

/* ---- files and the build ----------------------------------------------------------- */

static int art_write(const char *path, const char *text, tt_err *err)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return tt_err_set(err, "cannot write %s: %s", path, strerror(errno));
    int ok = fputs(text, f) >= 0;
    if (fclose(f) != 0 || !ok)
        return tt_err_set(err, "cannot write %s: %s", path, strerror(errno));
    return 0;
}

/* argv of the compiler with the kernels' flags, then `extra` words; words
 * point into buf. */
static int art_argv(const char *extra, char *buf, size_t n, char **argv, int max)
{
    const char *cc = tt_build_default_cc();
    snprintf(buf, n, "%s %s %s", cc, tt_build_default_cflags(cc), extra);
    int na = 0;
    for (char *p = strtok(buf, " "); p && na < max - 1; p = strtok(NULL, " "))
        argv[na++] = p;
    argv[na] = NULL;
    return na;
}

/* Compile the units (each to an object, in parallel) and link the library. */
static int art_build(const art *A, int nunits, tt_err *err)
{
    char src[PATH_MAX], lib[PATH_MAX];
    snprintf(src, sizeof src, "%s/src", A->dir);
    tt_proc ps[ART_MAX_UNITS + 1];
    int np = nunits + 1, rc = 0;
    memset(ps, 0, sizeof ps);
    for (int u = 0; u < np && rc == 0; u++) {
        char extra[PATH_MAX * 2 + 64], buf[8192], *argv[256];
        if (u < nunits)
            snprintf(extra, sizeof extra, "-c -o unit%d.o unit%d.c", u, u);
        else
            snprintf(extra, sizeof extra, "-c -I. -o %s_rt.o %s_rt.c", A->name, A->name);
        art_argv(extra, buf, sizeof buf, argv, 256);
        char log[64];
        snprintf(log, sizeof log, "unit%d.log", u);
        rc = tt_proc_spawn(&ps[u], argv, src, log, 0, err);
    }
    int failed = -1;
    for (int left = np; left > 0;) {
        tt_proc_wait_any(ps, np, 1.0);
        for (int u = 0; u < np; u++) {
            int st = 0;
            if (ps[u].pid && tt_proc_poll(&ps[u], &st)) {
                left--;
                if (st != 0 && failed < 0)
                    failed = u;
            } else if (!ps[u].pid && u >= 0) {
                /* never started (spawn failed) or reaped */
            }
        }
        int running = 0;
        for (int u = 0; u < np; u++)
            running += ps[u].pid != 0;
        left = running;
    }
    if (rc)
        return -1;
    if (failed >= 0)
        return tt_err_set(err, "compiling %s/src/%s failed (see %s/src/unit%d.log)", A->dir,
                          failed < nunits ? "unit*.c" : "*_rt.c", A->dir, failed);
    /* link */
    char extra[8192], buf[16384], *argv[512];
    int l = snprintf(extra, sizeof extra, "-o ../lib%s.so %s_rt.o", A->name, A->name);
    for (int u = 0; u < nunits; u++)
        l += snprintf(extra + l, sizeof extra - (size_t)l, " unit%d.o", u);
    snprintf(extra + l, sizeof extra - (size_t)l, " -lm");
    art_argv(extra, buf, sizeof buf, argv, 512);
    tt_proc p;
    int st = -1;
    if (tt_proc_spawn(&p, argv, src, "link.log", 0, err))
        return -1;
    while (!tt_proc_poll(&p, &st))
        tt_proc_wait_any(&p, 1, 1.0);
    snprintf(lib, sizeof lib, "%s/lib%s.so", A->dir, A->name);
    if (st != 0)
        return tt_err_set(err, "linking %s failed (see %s/link.log)", lib, src);
    return 0;
}

int tt_artifact_name_ok(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n < 1 || n > 64 || (name[0] >= '0' && name[0] <= '9'))
        return 0;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return 0;
    return 1;
}

int tt_exec_write_artifact(const tt_model *m, const tt_exec_opts *o, const char *dir, const char *name,
                           tt_artifact_info *info, tt_err *err)
{
    memset(info, 0, sizeof *info);
    tt_exec_opts dflt = {0};
    if (!o)
        o = &dflt;
    if (!tt_artifact_name_ok(name))
        return tt_err_set(err, "name '%s': 1 to 64 letters, digits and '_', not starting with a digit "
                               "(it prefixes the C API)", name);
    char src[PATH_MAX], path[PATH_MAX];
    snprintf(src, sizeof src, "%s/src", dir);
    if ((mkdir(dir, 0755) != 0 && errno != EEXIST) || (mkdir(src, 0755) != 0 && errno != EEXIST))
        return tt_err_set(err, "cannot create %s: %s", src, strerror(errno));
    double t0 = tt_now();
    art A;
    memset(&A, 0, sizeof A);
    A.m = m, A.o = o, A.dir = dir, A.name = name;
    int rc = art_plan(&A, err);
    /* the kernels, spread over units compiled in parallel */
    int nk = 0;
    for (int k = 0; k < m->nkernels; k++)
        nk += A.needed[k];
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    int nunits = nk < (ncpu > 0 ? (int)ncpu : 1) ? nk : (ncpu > 0 ? (int)ncpu : 1);
    if (nunits > ART_MAX_UNITS)
        nunits = ART_MAX_UNITS;
    if (nunits < 1)
        nunits = 1;
    tt_str *units = tt_xcalloc((size_t)nunits, sizeof *units);
    for (int u = 0; u < nunits; u++) {
        tt_str_init(&units[u]);
        tt_str_cat(&units[u], tt_codegen_prelude());
    }
    for (int k = 0, i = 0; k < m->nkernels && rc == 0; k++) {
        if (!A.needed[k])
            continue;
        int kind = 0;
        tt_state *s = tt_exec_kernel_state(m, o, k, &kind);
        char fn[96];
        snprintf(fn, sizeof fn, "%s_k%d", name, k);
        tt_str code;
        tt_str_init(&code);
        tt_err ce = {0};
        if (tt_codegen_candidate(s, fn, &code, &ce)) {
            /* as the executor: no schedule rather than no model */
            tt_state_free(s);
            s = tt_state_new(m->kernels[k].dag);
            tt_str_clear(&code);
            kind = 2;
            if (tt_codegen_candidate(s, fn, &code, &ce))
                rc = tt_err_set(err, "kernel %d: code generation failed: %s", k, ce.msg);
        }
        info->kernels++;
        info->kernels_given += kind == 1;
        info->kernels_winograd += m->kernels[k].alt_of >= 0;
        tt_str_catf(&units[i % nunits], "\n/* ---- kernel %d: %s (%s) ---- */\n%s", k, m->kernels[k].first_node,
                    m->kernels[k].dag->class_key, code.buf ? code.buf : "");
        tt_str_free(&code);
        tt_state_free(s);
        i++;
    }
    for (int u = 0; u < nunits && rc == 0; u++) {
        snprintf(path, sizeof path, "%s/unit%d.c", src, u);
        rc = art_write(path, units[u].buf, err);
    }
    for (int u = 0; u < nunits; u++)
        tt_str_free(&units[u]);
    free(units);
    tt_str t;
    tt_str_init(&t);
    if (rc == 0) {
        art_header(&A, &t);
        snprintf(path, sizeof path, "%s/%s.h", dir, name);
        rc = art_write(path, t.buf, err);
        snprintf(path, sizeof path, "%s/%s.h", src, name);
        if (rc == 0)
            rc = art_write(path, t.buf, err);
    }
    if (rc == 0) {
        tt_str_clear(&t);
        rc = art_runtime(&A, &t, err);
        snprintf(path, sizeof path, "%s/%s_rt.c", src, name);
        if (rc == 0)
            rc = art_write(path, t.buf, err);
    }
    if (rc == 0) {
        tt_str_clear(&t);
        art_example(&A, &t);
        snprintf(path, sizeof path, "%s/%s_example.c", dir, name);
        rc = art_write(path, t.buf, err);
    }
    tt_str_free(&t);
    if (rc == 0) {
        snprintf(path, sizeof path, "%s/%s.weights", dir, name);
        rc = art_write_weights(&A, path, err);
    }
    if (rc == 0)
        rc = art_build(&A, nunits, err);
    info->weights = A.nw;
    for (int i = 0; i < A.nw; i++)
        info->weight_bytes += A.w_bytes[i];
    for (int i = 0; i < A.P.n; i++)
        info->activation_bytes += A.P.size[i];
    info->build_s = tt_now() - t0;
    art_free(&A);
    return rc;
}
