/* expr.c - expression nodes: name tables, typed constructors, rewriting.
 *
 * Expressions are small immutable trees allocated from an arena.  Every
 * constructor infers the node's type once, so later passes (flop counting,
 * printing, code generation) never have to guess:
 *
 *   INT, AXIS, RAXIS, FLOORDIV, FLOORMOD      int
 *   FLOAT, LOAD, DIV, CALL, CAST              float
 *   ADD SUB MUL MIN MAX                       type of the operands (float wins)
 *   LT LE GT GE EQ NE AND OR NOT              bool
 *   SELECT                                    type of the branches
 */
#include "dag.h"

#include <stdlib.h>
#include <string.h>

const char *const tt_ekind_names[TT_E_COUNT] = {
    "int", "float", "axis", "raxis", "load", "add", "sub", "mul", "div",
    "floordiv", "floormod", "min", "max", "lt", "le", "gt", "ge", "eq",
    "ne", "and", "or", "not", "select", "call", "cast",
};
_Static_assert(sizeof tt_ekind_names / sizeof tt_ekind_names[0] == TT_E_COUNT,
               "tt_ekind_names out of sync with tt_ekind");

const char *const tt_call_names[TT_CALL_COUNT] = {
    "exp", "log", "sqrt", "rsqrt", "tanh", "erf", "sigmoid", "pow", "fabs",
};
_Static_assert(sizeof tt_call_names / sizeof tt_call_names[0] == TT_CALL_COUNT,
               "tt_call_names out of sync with tt_call");

const char *const tt_red_names[TT_RED_COUNT] = {"none", "sum", "max", "min"};
_Static_assert(sizeof tt_red_names / sizeof tt_red_names[0] == TT_RED_COUNT,
               "tt_red_names out of sync with tt_red");

const char *const tt_epi_names[TT_EPI_COUNT] = {
    "bias_add", "bias_mul", "residual_add", "residual_mul", "relu", "clip", "scalar_add",
};
_Static_assert(sizeof tt_epi_names / sizeof tt_epi_names[0] == TT_EPI_COUNT,
               "tt_epi_names out of sync with tt_epi");

static tt_expr *expr_alloc(tt_arena *a, tt_ekind k, tt_type t, int n)
{
    tt_expr *e = tt_arena_alloc(a, sizeof *e);
    e->kind = k;
    e->type = t;
    e->n = n;
    if (n > 0)
        e->args = tt_arena_alloc(a, (size_t)n * sizeof *e->args);
    return e;
}

/* Integer constant (type int). */
tt_expr *tt_e_int(tt_arena *a, int64_t v)
{
    tt_expr *e = expr_alloc(a, TT_E_INT, TT_T_INT, 0);
    e->u.ival = v;
    return e;
}

/* float32 constant; +-inf and the float lowest are allowed (pad values). */
tt_expr *tt_e_float(tt_arena *a, double v)
{
    tt_expr *e = expr_alloc(a, TT_E_FLOAT, TT_T_FLOAT, 0);
    e->u.fval = v;
    return e;
}

/* Spatial axis i of the enclosing op (type int). */
tt_expr *tt_e_axis(tt_arena *a, int i)
{
    tt_expr *e = expr_alloc(a, TT_E_AXIS, TT_T_INT, 0);
    e->u.axis = i;
    return e;
}

/* Reduce axis i of the enclosing op (type int). */
tt_expr *tt_e_raxis(tt_arena *a, int i)
{
    tt_expr *e = expr_alloc(a, TT_E_RAXIS, TT_T_INT, 0);
    e->u.axis = i;
    return e;
}

/* Load of tensor `uid` at the n index expressions idx (type float).  The
 * index pointers are copied; the index trees themselves are shared. */
tt_expr *tt_e_load(tt_arena *a, int uid, int n, tt_expr *const *idx)
{
    tt_expr *e = expr_alloc(a, TT_E_LOAD, TT_T_FLOAT, n);
    e->u.uid = uid;
    for (int i = 0; i < n; i++)
        e->args[i] = idx[i];
    return e;
}

/* Binary node.  Arithmetic (ADD SUB MUL MIN MAX) takes the operands' type,
 * float if either is float; DIV is float; FLOORDIV/FLOORMOD are int;
 * comparisons and AND/OR are bool.  k must be a binary kind. */
tt_expr *tt_e_bin(tt_arena *a, tt_ekind k, tt_expr *x, tt_expr *y)
{
    tt_type t;
    switch (k) {
    case TT_E_ADD:
    case TT_E_SUB:
    case TT_E_MUL:
    case TT_E_MIN:
    case TT_E_MAX:
        t = (x->type == TT_T_FLOAT || y->type == TT_T_FLOAT) ? TT_T_FLOAT : x->type;
        break;
    case TT_E_DIV:
        t = TT_T_FLOAT;
        break;
    case TT_E_FLOORDIV:
    case TT_E_FLOORMOD:
        t = TT_T_INT;
        break;
    case TT_E_LT:
    case TT_E_LE:
    case TT_E_GT:
    case TT_E_GE:
    case TT_E_EQ:
    case TT_E_NE:
    case TT_E_AND:
    case TT_E_OR:
        t = TT_T_BOOL;
        break;
    default:
        abort(); /* not a binary kind: a bug in the caller */
    }
    tt_expr *e = expr_alloc(a, k, t, 2);
    e->args[0] = x;
    e->args[1] = y;
    return e;
}

/* Unary node: NOT (bool) or CAST (int -> float). */
tt_expr *tt_e_un(tt_arena *a, tt_ekind k, tt_expr *x)
{
    if (k != TT_E_NOT && k != TT_E_CAST)
        abort();
    tt_expr *e = expr_alloc(a, k, k == TT_E_NOT ? TT_T_BOOL : TT_T_FLOAT, 1);
    e->args[0] = x;
    return e;
}

/* c ? x : y, typed like its branches (float if either branch is float). */
tt_expr *tt_e_select(tt_arena *a, tt_expr *c, tt_expr *x, tt_expr *y)
{
    tt_type t = (x->type == TT_T_FLOAT || y->type == TT_T_FLOAT) ? TT_T_FLOAT : x->type;
    tt_expr *e = expr_alloc(a, TT_E_SELECT, t, 3);
    e->args[0] = c;
    e->args[1] = x;
    e->args[2] = y;
    return e;
}

/* Math call f(args...) on floats (type float). */
tt_expr *tt_e_call(tt_arena *a, tt_call f, int n, tt_expr *const *args)
{
    tt_expr *e = expr_alloc(a, TT_E_CALL, TT_T_FLOAT, n);
    e->u.call = f;
    for (int i = 0; i < n; i++)
        e->args[i] = args[i];
    return e;
}

/* Deep copy of e into arena a, offering every AXIS, RAXIS and LOAD node to fn
 * first.  A non-NULL answer replaces the node as is (its children are not
 * visited); NULL means "copy it", and a LOAD's indices are then rewritten in
 * turn.  The result never shares nodes with e, so it stays valid when e's
 * arena is freed. */
tt_expr *tt_expr_rewrite(tt_arena *a, const tt_expr *e, tt_expr_fn fn, void *ctx)
{
    if (fn && (e->kind == TT_E_AXIS || e->kind == TT_E_RAXIS || e->kind == TT_E_LOAD)) {
        tt_expr *r = fn(ctx, a, e);
        if (r)
            return r;
    }
    tt_expr *c = expr_alloc(a, e->kind, e->type, e->n);
    c->u = e->u;
    for (int i = 0; i < e->n; i++)
        c->args[i] = tt_expr_rewrite(a, e->args[i], fn, ctx);
    return c;
}
