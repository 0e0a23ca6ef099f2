#include "test.h"

const tt_test tests_measure[] = {
    {NULL, NULL},
};
