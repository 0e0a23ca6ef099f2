/* npy.h - numpy's .npy array files: model inputs and reference outputs.
 *
 * Supported: format versions 1.0, 2.0 and 3.0 (3.0 differs from 2.0 only in
 * allowing UTF-8 in the header, which we never need); C order only; the
 * little-endian element types '<f4' (float32) and '<i8' (int64), and, when
 * reading only, '<f8' (float64), which is converted to float32 (values out of
 * float range become +-inf, as a C cast does).  Anything else - big-endian
 * data, fortran_order True, other dtypes, a malformed or truncated header, a
 * data size that does not match the shape - is an error with a message
 * naming the problem; no input makes the reader crash or allocate more than
 * the file's size.
 */
#ifndef TT_NPY_H
#define TT_NPY_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

typedef struct tt_npy {
    tt_dtype dtype;                       /* TT_DT_FLOAT or TT_DT_INT64 */
    int ndim;                             /* 0..TT_GRAPH_MAX_DIMS (0: a scalar) */
    int64_t shape[TT_GRAPH_MAX_DIMS];
    int64_t numel;                        /* product of shape (1 for a scalar) */
    void *data;                           /* numel elements, malloc'd; NULL if numel is 0 */
} tt_npy;

/* Read the .npy file at path into *out (zeroed first; on failure it holds
 * nothing to free).  The file is read by tt_read_file: a regular file within
 * the input limit (util.h).  Errors name the path. */
int tt_npy_read(const char *path, tt_npy *out, tt_err *err);

/* Parse a whole .npy image held in memory (header and data), as tt_npy_read
 * does for a file; the data is copied.  The fuzz target's entry point. */
int tt_npy_parse_mem(const void *buf, size_t len, tt_npy *out, tt_err *err);

/* Write a C-order array as a .npy file (format 1.0, header padded so that
 * the data starts at a multiple of 64 bytes, as numpy does).  dt is TT_DT_FLOAT ('<f4') or
 * TT_DT_INT64 ('<i8'); 0 <= ndim <= TT_GRAPH_MAX_DIMS; shape entries >= 0.
 * The file is written to "<path>.tmp" and renamed, so a failed write never
 * leaves a truncated file under path. */
int tt_npy_write(const char *path, tt_dtype dt, int ndim, const int64_t *shape, const void *data,
                 tt_err *err);

/* Release out->data and reset *out. */
void tt_npy_free(tt_npy *a);

#endif
