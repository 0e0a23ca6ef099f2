#include "test.h"

const tt_test tests_record[] = {
    {NULL, NULL},
};
