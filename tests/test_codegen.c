#include "test.h"

const tt_test tests_codegen[] = {
    {NULL, NULL},
};
