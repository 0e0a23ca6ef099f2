#include "test.h"

const tt_test tests_util[] = {
    {NULL, NULL},
};
