#include "test.h"

const tt_test tests_dag[] = {
    {NULL, NULL},
};
