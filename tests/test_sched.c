#include "test.h"

const tt_test tests_sched[] = {
    {NULL, NULL},
};
