/* schedgen.h - test support: random small DAGs and random but valid Ansor
 * schedules on them (the generator behind codegen/random_differential; see
 * the comment at the top of tests/test_codegen.c for what it covers). */
#ifndef TT_TEST_SCHEDGEN_H
#define TT_TEST_SCHEDGEN_H

#include "../src/sched/sched.h"

#define MAXU 256          /* uids of a DAG and the stages a state adds */

typedef enum dkind {
    K_MATMUL_ADD = 0,
    K_DENSE,
    K_DENSE_EPI,
    K_BATCH_MATMUL,
    K_CONV_BIAS_RELU,
    K_CONV_RESIDUAL,
    K_DEPTHWISE,
    K_GROUPED,
    K_MAX_POOL,
    K_AVG_POOL,
    K_GLOBAL_POOL,
    K_SOFTMAX,
    K_WINOGRAD,
    K_COUNT
} dkind;

extern const char *const sg_kind_names[K_COUNT];

/* A random DAG of kind k (small random shapes); desc gets a description. */
tt_dag *sg_make_dag(dkind k, tt_rng *r, char *desc, size_t cap, tt_err *err);

typedef struct sg_gen {
    tt_rng *r;
    tt_state *s;
    const tt_dag *d;
    int fail;                  /* a generated step was refused */
    char msg[TT_ERR_MAX + 512];
    /* plan over DAG uids */
    int inl[MAXU], reserved[MAXU], mode[MAXU], chw[MAXU], fuse_level[MAXU], fuse_target[MAXU];
    int tiled[MAXU];           /* multi-level tiled (by uid of the stage in the state) */
} sg_gen;

/* Generate and apply a random schedule for g->s (a fresh state of g->d);
 * g->fail and g->msg say if a generated step was refused. */
void sg_generate(sg_gen *g);

/* A step of the given kind on a stage, other fields zero. */
tt_step sg_step0(tt_steptag tag, int stage);

/* Integer from the environment, or def. */
int sg_env_int(const char *name, int def);

/* rm -rf of a test directory. */
void sg_rm_tree(const char *dir);

#endif
