#include "test.h"

const tt_test tests_cli[] = {
    {NULL, NULL},
};
