/* print.c - the canonical print of a DAG and the workload key built on it.
 *
 * Format "tt-dag-v2" (persisted through workload keys: change it only with a
 * new version line).  One line per op, then its expressions indented:
 *
 *   tt-dag-v2
 *   op 0 placeholder const=0 shape=[1,56,56,64]
 *   op 1 compute "PaddedInput" tag="injective,pad" attrs="pad=0:0,1:1,1:1,0:0" shape=[1,58,58,64] reduce=none[]
 *     body (select (and (ge a1 1) ...) T0[a0,(sub a1 1),(sub a2 1),a3] 0f)
 *
 * Expressions are prefix forms; a load names its tensor by position (T<i>),
 * axes are a<i> (spatial) and r<i> (reduce), float constants end in 'f'.
 * The abstract print writes every extent as '?' and every integer constant
 * as '#', so kernels that differ only in shapes print alike; strides,
 * paddings, kernel windows and clip bounds stay visible through attrs and
 * float constants.
 */
#include "dag.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TT_DAG_PRINT_VERSION "tt-dag-v2"

static void print_float(tt_str *s, double v)
{
    if (isinf(v))
        tt_str_cat(s, v > 0 ? "inf" : "-inf");
    else
        tt_str_catf(s, "%.9gf", v);
}

static void print_expr(tt_str *s, const tt_expr *e, int abstract)
{
    switch (e->kind) {
    case TT_E_INT:
        if (abstract)
            tt_str_cat(s, "#");
        else
            tt_str_catf(s, "%lld", (long long)e->u.ival);
        return;
    case TT_E_FLOAT:
        print_float(s, e->u.fval);
        return;
    case TT_E_AXIS:
        tt_str_catf(s, "a%d", e->u.axis);
        return;
    case TT_E_RAXIS:
        tt_str_catf(s, "r%d", e->u.axis);
        return;
    case TT_E_LOAD:
        tt_str_catf(s, "T%d[", e->u.uid);
        for (int i = 0; i < e->n; i++) {
            if (i)
                tt_str_cat(s, ",");
            print_expr(s, e->args[i], abstract);
        }
        tt_str_cat(s, "]");
        return;
    case TT_E_CALL:
        tt_str_catf(s, "(%s", tt_call_names[e->u.call]);
        break;
    default:
        tt_str_catf(s, "(%s", tt_ekind_names[e->kind]);
        break;
    }
    for (int i = 0; i < e->n; i++) {
        tt_str_cat(s, " ");
        print_expr(s, e->args[i], abstract);
    }
    tt_str_cat(s, ")");
}

static void print_extents(tt_str *s, const tt_axis *ax, int n, int abstract)
{
    tt_str_cat(s, "[");
    for (int i = 0; i < n; i++) {
        if (i)
            tt_str_cat(s, ",");
        if (abstract)
            tt_str_cat(s, "?");
        else
            tt_str_catf(s, "%lld", (long long)ax[i].extent);
    }
    tt_str_cat(s, "]");
}

/* Canonical text of the DAG (format above); abstract != 0 hides every extent
 * and integer constant.  Deterministic: equal DAGs print byte-equal.  Caller
 * frees. */
char *tt_dag_print(const tt_dag *d, int abstract)
{
    tt_str s;
    tt_str_init(&s);
    tt_str_cat(&s, TT_DAG_PRINT_VERSION "\n");
    for (int i = 0; i < d->nops; i++) {
        const tt_op *op = d->ops[i];
        if (op->kind == TT_OP_PLACEHOLDER) {
            /* No name: a placeholder is known by its position and its readers,
             * and the same kernel from a zoo model, an ONNX file or a TVM
             * record must print the same whatever its inputs were called. */
            tt_str_catf(&s, "op %d placeholder const=%d shape=", i, op->is_const);
            print_extents(&s, op->axis, op->ndim, abstract);
            tt_str_cat(&s, "\n");
            continue;
        }
        tt_str_catf(&s, "op %d compute \"%s\" tag=\"%s\" attrs=\"%s\" shape=", i, op->name, op->tag,
                    op->attrs);
        print_extents(&s, op->axis, op->ndim, abstract);
        tt_str_catf(&s, " reduce=%s", tt_red_names[op->red]);
        print_extents(&s, op->raxis, op->nreduce, abstract);
        tt_str_cat(&s, "\n  body ");
        if (op->body)
            print_expr(&s, op->body, abstract);
        tt_str_cat(&s, "\n");
        if (op->cond) {
            tt_str_cat(&s, "  cond ");
            print_expr(&s, op->cond, abstract);
            tt_str_cat(&s, "\n");
        }
    }
    return tt_str_take(&s);
}

static void print_shape(tt_str *s, const tt_op *op)
{
    tt_str_cat(s, ", [");
    for (int i = 0; i < op->ndim; i++)
        tt_str_catf(s, "%s%lld", i ? ", " : "", (long long)op->axis[i].extent);
    tt_str_cat(s, "]");
}

/* Workload key, JSON as Ansor writes it:
 *   ["<16 hex digits of tt_hash64(abstract print)>", [input 0 shape], ..., [output shape]]
 * inputs being the placeholders in op order and the output the last op.
 * Caller frees. */
char *tt_dag_workload_key(const tt_dag *d)
{
    char *text = tt_dag_print(d, 1);
    uint64_t h = tt_hash64(text, strlen(text));
    free(text);
    tt_str s;
    tt_str_init(&s);
    tt_str_catf(&s, "[\"%016llx\"", (unsigned long long)h);
    for (int i = 0; i < d->nops; i++)
        if (d->ops[i]->kind == TT_OP_PLACEHOLDER)
            print_shape(&s, d->ops[i]);
    if (d->nops > 0)
        print_shape(&s, d->ops[d->nops - 1]);
    tt_str_cat(&s, "]");
    return tt_str_take(&s);
}

/* ---- reading a print back: the layout only -------------------------------- */

/* A quoted field `key="..."` at *p: its text into out (at most n-1 chars).
 * Returns 0 and moves *p past the closing quote, or -1. */
static int read_quoted(const char **p, const char *key, char *out, size_t n)
{
    size_t k = strlen(key);
    if (strncmp(*p, key, k) || (*p)[k] != '"')
        return -1;
    const char *a = *p + k + 1, *b = a;
    while (*b && *b != '"' && *b >= 0x20 && *b < 0x7f) /* names are printable ASCII */
        b++;
    if (*b != '"' || (size_t)(b - a) >= n)
        return -1;
    memcpy(out, a, (size_t)(b - a));
    out[b - a] = 0;
    *p = b + 1;
    return 0;
}

/* A bracketed extent list `key[e0,e1,...]` at *p (extents numbers or '?'):
 * its length into *len.  Returns 0 and moves *p past ']', or -1. */
static int read_list(const char **p, const char *key, int max, int *len)
{
    size_t k = strlen(key);
    if (strncmp(*p, key, k) || (*p)[k] != '[')
        return -1;
    const char *q = *p + k + 1;
    int n = 0, item = 0;
    for (; *q && *q != ']'; q++) {
        if (*q == ',') {
            if (!item)
                return -1;
            n++;
            item = 0;
        } else if ((*q >= '0' && *q <= '9') || *q == '?') {
            item = 1;
        } else {
            return -1;
        }
    }
    if (*q != ']' || (n > 0 && !item))
        return -1;
    n += item;
    if (n > max)
        return -1;
    *len = n;
    *p = q + 1;
    return 0;
}

/* Grammar (one op per line; indented body/cond lines are skipped):
 *   print  := "tt-dag-v2\n" { opline "\n" { "  " ... "\n" } }
 *   opline := "op " I " placeholder const=" (0|1) " shape=" LIST
 *           | "op " I " compute " QUOTED " tag=" QUOTED " attrs=" QUOTED
 *             " shape=" LIST " reduce=" WORD LIST
 * with I the op's index, counting from 0. */
int tt_dag_layout_parse(const char *print, tt_dag_layout *L, tt_err *err)
{
    memset(L, 0, sizeof *L);
    if (!print)
        return tt_err_set(err, "DAG print: none");
    size_t vl = strlen(TT_DAG_PRINT_VERSION);
    if (strncmp(print, TT_DAG_PRINT_VERSION, vl) || print[vl] != '\n')
        return tt_err_set(err, "DAG print: does not start with the line %s", TT_DAG_PRINT_VERSION);
    int line = 1;
    for (const char *p = print + vl + 1; *p; line++) {
        const char *end = strchr(p, '\n');
        const char *next = end ? end + 1 : p + strlen(p);
        if (p[0] == ' ' && p[1] == ' ') {
            if (L->nops == 0)
                return tt_err_set(err, "DAG print line %d: an expression before any op", line);
            p = next;
            continue;
        }
        int idx = -1, used = 0;
        if (sscanf(p, "op %d %n", &idx, &used) != 1 || used == 0 || idx != L->nops)
            return tt_err_set(err, "DAG print line %d: expected \"op %d ...\"", line, L->nops);
        if (L->nops == TT_LAYOUT_MAX_OPS)
            return tt_err_set(err, "DAG print: more than %d ops", TT_LAYOUT_MAX_OPS);
        tt_layout_op *h = &L->op[L->nops];
        const char *q = p + used;
        if (!strncmp(q, "placeholder const=", 18) && (q[18] == '0' || q[18] == '1') && q[19] == ' ') {
            q += 20;
            if (read_list(&q, "shape=", TT_MAX_DIMS, &h->ndim))
                return tt_err_set(err, "DAG print line %d: bad placeholder shape", line);
        } else if (!strncmp(q, "compute ", 8)) {
            char attrs[256];
            q += 8;
            h->compute = 1;
            if (read_quoted(&q, "", h->name, sizeof h->name) || *q++ != ' ' ||
                read_quoted(&q, "tag=", h->tag, sizeof h->tag) || *q++ != ' ' ||
                read_quoted(&q, "attrs=", attrs, sizeof attrs) || *q++ != ' ' ||
                read_list(&q, "shape=", TT_MAX_DIMS, &h->ndim) || strncmp(q, " reduce=", 8))
                return tt_err_set(err, "DAG print line %d: bad compute op", line);
            q += 8;
            char red[16];
            int n = 0;
            while (n < 15 && q[n] >= 'a' && q[n] <= 'z') {
                red[n] = q[n];
                n++;
            }
            red[n] = 0;
            q += n;
            int known = 0;
            for (int r = 0; r < TT_RED_COUNT; r++)
                known |= !strcmp(red, tt_red_names[r]);
            if (!known || read_list(&q, "", TT_MAX_RAXES, &h->nreduce) ||
                (h->nreduce > 0) != (strcmp(red, tt_red_names[TT_RED_NONE]) != 0))
                return tt_err_set(err, "DAG print line %d: bad reduction", line);
        } else {
            return tt_err_set(err, "DAG print line %d: op %d is neither placeholder nor compute",
                              line, idx);
        }
        if (q != (end ? end : next))
            return tt_err_set(err, "DAG print line %d: unexpected text after op %d", line, idx);
        L->nops++;
        p = next;
    }
    if (L->nops == 0 || !L->op[L->nops - 1].compute)
        return tt_err_set(err, "DAG print: %s", L->nops ? "the last op is not a compute" : "no ops");
    tt_dag_layout_finish(L);
    return 0;
}
