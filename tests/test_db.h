/* test_db.h - helpers test_db.c defines for test_db_rows.c too. */
#ifndef TT_TEST_DB_H
#define TT_TEST_DB_H

#include <stdint.h>
#include <stddef.h>

#include "../src/db/db.h"

/* The temporary directory of the last tdb_tmp_path. */
extern char tdb_tmp_dir[512];
/* A fresh database path in a new temporary directory (removed by
 * tdb_tmp_done), or NULL. */
const char *tdb_tmp_path(void);
void tdb_tmp_done(void);
/* buf = the shared log `name`; a missing one skips the test. */
void tdb_log_path(char *buf, size_t n, const char *name);
/* One SQL statement on a raw connection (not through tt_db); 0 or -1. */
int tdb_raw_sql(const char *path, const char *sql);
/* The matmul tutorial record, identified: its kernel goes into db. */
tt_record *tdb_matmul_record(tt_db *db, int64_t *kernel);
/* n records of a kernel from one base record: costs base_cost * (i + 1). */
void tdb_make_batch(tt_record *recs, int n, const tt_record *base, double base_cost);

/* Lines of a log, kept by tdb_collect (a tt_log_foreach callback; at most 64). */
typedef struct tdb_lines {
    int n;
    char *text[64];
} tdb_lines;
int tdb_collect(void *ctx, int lineno, const char *line);

#endif
