/* test_npy.c - the .npy reader and writer: round trips, files written by
 * numpy (tests/data/npy, made by numpy 1.24: see the list below), and headers
 * that must be refused with a clear message. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../src/util/npy.h"
#include "test.h"

#define NPY_DIR "tests/data/npy/"

/* A unique temporary path (the file itself is created by the code under test). */
static void tmp_path(char *buf, size_t n, const char *tag)
{
    snprintf(buf, n, "%s/tt-test-npy-%d-%s.npy", tt_test_tmpdir(), (int)getpid(), tag);
}

static void npy_roundtrip_float(void)
{
    char path[512];
    tmp_path(path, sizeof path, "f4");
    int64_t shape[4] = {1, 3, 5, 7};
    float v[105];
    for (int i = 0; i < 105; i++)
        v[i] = (float)i * 0.25f - 10.0f;
    tt_err err = {0};
    CHECK_MSG(tt_npy_write(path, TT_DT_FLOAT, 4, shape, v, &err) == 0, "%s", err.msg);
    tt_npy a;
    int rc = tt_npy_read(path, &a, &err);
    unlink(path);
    CHECK_MSG(rc == 0, "%s", err.msg);
    CHECK(a.dtype == TT_DT_FLOAT && a.ndim == 4 && a.numel == 105);
    CHECK(a.shape[0] == 1 && a.shape[1] == 3 && a.shape[2] == 5 && a.shape[3] == 7);
    CHECK(memcmp(a.data, v, sizeof v) == 0);
    tt_npy_free(&a);
    CHECK(a.data == NULL);
}

/* int64, 1-D (the "(n,)" tuple), 0-D and an empty array; the header must be
 * padded so that the data starts at a multiple of 64 bytes, as numpy does. */
static void npy_roundtrip_int64_and_edge_ranks(void)
{
    char path[512];
    tmp_path(path, sizeof path, "i8");
    int64_t ids[5] = {0, 1, -1, INT64_MAX, 30521};
    int64_t shape1[1] = {5};
    tt_err err = {0};
    CHECK_MSG(tt_npy_write(path, TT_DT_INT64, 1, shape1, ids, &err) == 0, "%s", err.msg);
    size_t len;
    char *raw = tt_read_file(path, &len, &err);
    CHECK(raw);
    CHECK(len == 128 + sizeof ids); /* numpy's own file for this header is 128 + data, too */
    CHECK(raw[127] == '\n' && raw[126] == ' ');
    CHECK(strstr(raw + 10, "'shape': (5,)"));
    free(raw);
    tt_npy a;
    int rc = tt_npy_read(path, &a, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    CHECK(a.dtype == TT_DT_INT64 && a.ndim == 1 && a.shape[0] == 5);
    CHECK(memcmp(a.data, ids, sizeof ids) == 0);
    tt_npy_free(&a);

    float s = 3.5f;
    CHECK_MSG(tt_npy_write(path, TT_DT_FLOAT, 0, NULL, &s, &err) == 0, "%s", err.msg);
    CHECK(tt_npy_read(path, &a, &err) == 0);
    CHECK(a.ndim == 0 && a.numel == 1 && ((float *)a.data)[0] == 3.5f);
    tt_npy_free(&a);

    int64_t shape2[2] = {4, 0};
    CHECK_MSG(tt_npy_write(path, TT_DT_FLOAT, 2, shape2, NULL, &err) == 0, "%s", err.msg);
    rc = tt_npy_read(path, &a, &err);
    unlink(path);
    CHECK_MSG(rc == 0, "%s", err.msg);
    CHECK(a.ndim == 2 && a.shape[0] == 4 && a.shape[1] == 0 && a.numel == 0 && !a.data);
    tt_npy_free(&a);

    /* Unsupported element types are refused, not written. */
    CHECK(tt_npy_write(path, TT_DT_BOOL, 1, shape1, ids, &err) != 0);
    CHECK(strstr(err.msg, "float32 and int64"));
    CHECK(access(path, F_OK) != 0);
}

/* Files written by numpy itself (np.save / format.write_array). */
static void npy_reads_numpy_files(void)
{
    tt_err err = {0};
    tt_npy a;
    CHECK_MSG(tt_npy_read(NPY_DIR "f4_2x3.npy", &a, &err) == 0, "%s", err.msg);
    CHECK(a.dtype == TT_DT_FLOAT && a.ndim == 2 && a.shape[0] == 2 && a.shape[1] == 3);
    for (int i = 0; i < 6; i++) /* np.arange(6).reshape(2,3) * 0.5 - 1 */
        CHECK(((float *)a.data)[i] == i * 0.5f - 1.0f);
    tt_npy_free(&a);

    CHECK_MSG(tt_npy_read(NPY_DIR "i8_4.npy", &a, &err) == 0, "%s", err.msg);
    CHECK(a.dtype == TT_DT_INT64 && a.ndim == 1 && a.shape[0] == 4);
    const int64_t *ids = a.data;
    CHECK(ids[0] == 0 && ids[1] == 1 && ids[2] == -2 && ids[3] == 30521);
    tt_npy_free(&a);

    /* float64 is converted to float32 */
    CHECK_MSG(tt_npy_read(NPY_DIR "f8_3.npy", &a, &err) == 0, "%s", err.msg);
    CHECK(a.dtype == TT_DT_FLOAT && a.ndim == 1 && a.shape[0] == 3);
    const float *f = a.data;
    CHECK(f[0] == 1.5f && f[1] == -2.25f && f[2] == (float)1e-3);
    tt_npy_free(&a);

    CHECK_MSG(tt_npy_read(NPY_DIR "f4_scalar.npy", &a, &err) == 0, "%s", err.msg);
    CHECK(a.ndim == 0 && a.numel == 1 && ((float *)a.data)[0] == 7.0f);
    tt_npy_free(&a);

    /* format 2.0 (4-byte header length) */
    CHECK_MSG(tt_npy_read(NPY_DIR "f4_v2.npy", &a, &err) == 0, "%s", err.msg);
    CHECK(a.ndim == 2 && a.shape[0] == 1 && a.shape[1] == 4 && ((float *)a.data)[3] == 3.0f);
    tt_npy_free(&a);
}

/* numpy files we must refuse, each with a message naming the reason and the file. */
static void npy_refuses_unsupported_numpy_files(void)
{
    static const struct {
        const char *file, *msg;
    } cases[] = {
        {"f4_fortran.npy", "Fortran order"},
        {"f4_big_endian.npy", "'>f4' is not supported"},
        {"i4_3.npy", "'<i4' is not supported"},
        {"no-such-file.npy", "no-such-file.npy"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[256];
        snprintf(path, sizeof path, NPY_DIR "%s", cases[i].file);
        tt_err err = {0};
        tt_npy a;
        CHECK_MSG(tt_npy_read(path, &a, &err) != 0, "%s was accepted", cases[i].file);
        CHECK_MSG(strstr(err.msg, cases[i].msg) && strstr(err.msg, cases[i].file),
                  "%s: message '%s'", cases[i].file, err.msg);
        CHECK(a.data == NULL);
    }
}

/* Build an in-memory v1.0 image: magic, header (unpadded), then nbytes of data. */
static size_t mk(unsigned char *buf, const char *header, size_t nbytes)
{
    size_t h = strlen(header);
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (unsigned char)(h & 0xff);
    buf[9] = (unsigned char)(h >> 8);
    memcpy(buf + 10, header, h);
    memset(buf + 10 + h, 0, nbytes);
    return 10 + h + nbytes;
}

static void npy_header_variants_and_bad_headers(void)
{
    unsigned char buf[1024];
    tt_npy a;
    tt_err err;
    /* Accepted: other key order, double quotes, no trailing comma, odd spacing, 'L' suffix. */
    static const char *good[] = {
        "{'shape': (2, 3), 'fortran_order': False, 'descr': '<f4'}\n",
        "{\"descr\":\"<f4\",\"fortran_order\":False,\"shape\":(2,3,)}",
        "  { 'descr' : '<f4' , 'fortran_order' : False , 'shape' : ( 2 , 3 ) , }   \n",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 3L), }",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        err = (tt_err){0};
        size_t n = mk(buf, good[i], 24);
        CHECK_MSG(tt_npy_parse_mem(buf, n, &a, &err) == 0, "good[%zu]: %s", i, err.msg);
        CHECK(a.ndim == 2 && a.shape[0] == 2 && a.shape[1] == 3 && a.numel == 6);
        tt_npy_free(&a);
    }
    static const struct {
        const char *header;
        size_t nbytes;
        const char *msg;
    } bad[] = {
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 20, "does not match"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 28, "does not match"},
        {"{'descr': '<f4', 'fortran_order': False}", 0, "lacks 'shape'"},
        {"{'descr': '<f4', 'shape': (2,)}", 8, "lacks 'fortran_order'"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'shape': (2,)}", 8,
         "duplicate"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", 8, "unexpected key"},
        {"{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2,)}", 8, "True or False"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (-2,)}", 8, "non-negative"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2 3)}", 8, "expected ','"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1)}", 4,
         "more than 8"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}", 4,
         "overflows"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296)}", 4,
         "too large"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,", 8, "unterminated"},
        {"{'descr': '<f4, 'fortran_order': False, 'shape': (2,)}", 8, "expected"},
        {"{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,)}", 8, "structured"},
        {"{'descr': '<U4', 'fortran_order': False, 'shape': (2,)}", 8, "'<U4' is not supported"},
        {"['descr', '<f4']", 8, "not a dict"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,)} x", 8, "after the header"},
        {"", 0, "not a dict"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err = (tt_err){0};
        size_t n = mk(buf, bad[i].header, bad[i].nbytes);
        CHECK_MSG(tt_npy_parse_mem(buf, n, &a, &err) != 0, "bad[%zu] accepted", i);
        CHECK_MSG(strstr(err.msg, bad[i].msg), "bad[%zu]: message '%s', wanted '%s'", i, err.msg,
                  bad[i].msg);
        CHECK(a.data == NULL);
    }
    /* Damaged preambles: magic, version, a header length beyond the end, truncation. */
    size_t n = mk(buf, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", 8);
    err = (tt_err){0};
    buf[1] = 'X';
    CHECK(tt_npy_parse_mem(buf, n, &a, &err) != 0 && strstr(err.msg, "bad magic"));
    buf[1] = 'N';
    buf[6] = 4;
    err = (tt_err){0};
    CHECK(tt_npy_parse_mem(buf, n, &a, &err) != 0 && strstr(err.msg, "version 4.0"));
    buf[6] = 1;
    buf[9] = 0x7f;
    err = (tt_err){0};
    CHECK(tt_npy_parse_mem(buf, n, &a, &err) != 0 && strstr(err.msg, "truncated"));
    buf[9] = 0;
    for (size_t cut = 0; cut < n; cut++) { /* every proper prefix is refused */
        err = (tt_err){0};
        CHECK_MSG(tt_npy_parse_mem(buf, cut, &a, &err) != 0, "prefix of %zu bytes accepted", cut);
    }
    err = (tt_err){0};
    CHECK_MSG(tt_npy_parse_mem(buf, n, &a, &err) == 0, "%s", err.msg);
    tt_npy_free(&a);
}

/* A file with a bad header: the message names the file and the header's
 * problem with one separator between them (it used to read
 * "FILE: : .npy header: : expected ..."). */
static void npy_error_message_separators(void)
{
    char path[512];
    tmp_path(path, sizeof path, "badhdr");
    FILE *f = fopen(path, "wb");
    CHECK(f);
    static const char img[] = "\x93NUMPY\x01\x00\x0e\x00{bad        }\n";
    CHECK(fwrite(img, 1, sizeof img - 1, f) == sizeof img - 1);
    CHECK(fclose(f) == 0);
    tt_npy a;
    tt_err err = {0};
    int rc = tt_npy_read(path, &a, &err);
    unlink(path);
    char want[600];
    snprintf(want, sizeof want, "%s: .npy header: expected a quoted string", path);
    CHECK_MSG(rc != 0 && !strstr(err.msg, ": :") && strstr(err.msg, want), "'%s'", err.msg);
}

const tt_test tests_npy[] = {
    {"roundtrip_float", npy_roundtrip_float},
    {"roundtrip_int64_and_edge_ranks", npy_roundtrip_int64_and_edge_ranks},
    {"reads_numpy_files", npy_reads_numpy_files},
    {"refuses_unsupported_numpy_files", npy_refuses_unsupported_numpy_files},
    {"header_variants_and_bad_headers", npy_header_variants_and_bad_headers},
    {"error_message_separators", npy_error_message_separators},
    {NULL, NULL},
};
