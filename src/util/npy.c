/* npy.c - numpy .npy reader and writer (see npy.h for what is supported).
 *
 * The format (numpy/lib/format.py):
 *   "\x93NUMPY" major minor   then the header length, 2 bytes LE (1.0) or
 *   4 bytes LE (2.0, 3.0), then the header: a Python dict literal such as
 *   {'descr': '<f4', 'fortran_order': False, 'shape': (1, 3, 224, 224), }
 *   padded with spaces and a final '\n' so that the data starts at a multiple
 *   of 64 bytes, then the raw elements.
 * The header is parsed by a small recursive-descent reader of exactly that
 * dict grammar, not by guessing at substrings: keys in any order, single or
 * double quotes, any whitespace, optional trailing commas.
 */
#include "npy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char npy_magic[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};

/* ---- header parsing -------------------------------------------------------------------- */

typedef struct npy_hdr {
    char descr[16];
    int fortran;
    int ndim;
    int64_t shape[TT_GRAPH_MAX_DIMS];
    int seen_descr, seen_fortran, seen_shape;
} npy_hdr;

typedef struct npy_cur {
    const char *p, *end;
} npy_cur;

static void npy_ws(npy_cur *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

/* string := '...' | "..."   (no escapes: numpy's keys and dtype strings never need them) */
static int npy_string(npy_cur *c, char *out, size_t cap, tt_err *err)
{
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"'))
        return tt_err_set(err, "expected a quoted string in header");
    char q = *c->p++;
    size_t n = 0;
    while (c->p < c->end && *c->p != q) {
        /* Strings end up in error messages: printable ASCII only. */
        if (*c->p == '\\' || (unsigned char)*c->p < 0x20 || (unsigned char)*c->p >= 0x7f)
            return tt_err_set(err, "unsupported character (code %d) in a header string",
                              (unsigned char)*c->p);
        if (n + 1 >= cap)
            return tt_err_set(err, "header string too long");
        out[n++] = *c->p++;
    }
    if (c->p >= c->end)
        return tt_err_set(err, "unterminated string in header");
    c->p++;
    out[n] = 0;
    return 0;
}

static int npy_word(npy_cur *c, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(c->end - c->p) >= n && memcmp(c->p, w, n) == 0) {
        c->p += n;
        return 1;
    }
    return 0;
}

/* int := digit+ ['L']   (Python 2's numpy wrote long dimensions with an L suffix) */
static int npy_int(npy_cur *c, int64_t *v, tt_err *err)
{
    if (c->p >= c->end || *c->p < '0' || *c->p > '9')
        return tt_err_set(err, "expected a non-negative integer in 'shape'");
    int64_t x = 0;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
        int d = *c->p++ - '0';
        if (x > (INT64_MAX - d) / 10)
            return tt_err_set(err, "dimension in 'shape' overflows int64");
        x = x * 10 + d;
    }
    if (c->p < c->end && *c->p == 'L')
        c->p++;
    *v = x;
    return 0;
}

/* tuple := '(' [int (',' int)* [',']] ')' */
static int npy_shape(npy_cur *c, npy_hdr *h, tt_err *err)
{
    if (c->p >= c->end || *c->p != '(')
        return tt_err_set(err, "'shape' must be a tuple");
    c->p++;
    h->ndim = 0;
    npy_ws(c);
    while (c->p < c->end && *c->p != ')') {
        if (h->ndim == TT_GRAPH_MAX_DIMS)
            return tt_err_set(err, "'shape' has more than %d dimensions", TT_GRAPH_MAX_DIMS);
        if (npy_int(c, &h->shape[h->ndim], err))
            return -1;
        h->ndim++;
        npy_ws(c);
        if (c->p < c->end && *c->p == ',') {
            c->p++;
            npy_ws(c);
        } else if (c->p < c->end && *c->p != ')') {
            return tt_err_set(err, "expected ',' or ')' in 'shape'");
        }
    }
    if (c->p >= c->end)
        return tt_err_set(err, "unterminated 'shape' tuple");
    c->p++;
    return 0;
}

/* header := '{' [key ':' value (',' key ':' value)* [',']] '}'   with keys
 * 'descr' (string), 'fortran_order' (True/False), 'shape' (tuple), each once. */
static int npy_parse_header(const char *s, size_t n, npy_hdr *h, tt_err *err)
{
    npy_cur c = {s, s + n};
    memset(h, 0, sizeof *h);
    npy_ws(&c);
    if (c.p >= c.end || *c.p != '{')
        return tt_err_set(err, "header is not a dict (no '{')");
    c.p++;
    npy_ws(&c);
    while (c.p < c.end && *c.p != '}') {
        char key[32];
        if (npy_string(&c, key, sizeof key, err))
            return -1;
        npy_ws(&c);
        if (c.p >= c.end || *c.p != ':')
            return tt_err_set(err, "expected ':' after key '%s'", key);
        c.p++;
        npy_ws(&c);
        if (strcmp(key, "descr") == 0) {
            if (h->seen_descr++)
                return tt_err_set(err, "duplicate key 'descr'");
            if (c.p < c.end && (*c.p == '[' || *c.p == '('))
                return tt_err_set(err, "structured dtypes are not supported");
            if (npy_string(&c, h->descr, sizeof h->descr, err))
                return -1;
        } else if (strcmp(key, "fortran_order") == 0) {
            if (h->seen_fortran++)
                return tt_err_set(err, "duplicate key 'fortran_order'");
            if (npy_word(&c, "True"))
                h->fortran = 1;
            else if (npy_word(&c, "False"))
                h->fortran = 0;
            else
                return tt_err_set(err, "'fortran_order' must be True or False");
        } else if (strcmp(key, "shape") == 0) {
            if (h->seen_shape++)
                return tt_err_set(err, "duplicate key 'shape'");
            if (npy_shape(&c, h, err))
                return -1;
        } else {
            return tt_err_set(err, "unexpected key '%s' in header", key);
        }
        npy_ws(&c);
        if (c.p < c.end && *c.p == ',') {
            c.p++;
            npy_ws(&c);
        } else if (c.p < c.end && *c.p != '}') {
            return tt_err_set(err, "expected ',' or '}' in header");
        }
    }
    if (c.p >= c.end)
        return tt_err_set(err, "unterminated header dict (no '}')");
    c.p++;
    npy_ws(&c);
    if (c.p != c.end)
        return tt_err_set(err, "unexpected text after the header dict");
    if (!h->seen_descr || !h->seen_fortran || !h->seen_shape)
        return tt_err_set(err, "header lacks '%s'",
                          !h->seen_descr ? "descr" : !h->seen_fortran ? "fortran_order" : "shape");
    return 0;
}

/* ---- reading --------------------------------------------------------------------------- */

static uint32_t npy_le(const unsigned char *b, int n)
{
    uint32_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | b[i];
    return v;
}

int tt_npy_parse_mem(const void *buf, size_t len, tt_npy *out, tt_err *err)
{
    const unsigned char *b = buf;
    memset(out, 0, sizeof *out);
    if (len < 10)
        return tt_err_set(err, "not a .npy file (only %zu bytes)", len);
    if (memcmp(b, npy_magic, sizeof npy_magic) != 0)
        return tt_err_set(err, "not a .npy file (bad magic)");
    int major = b[6], minor = b[7];
    size_t pre;
    if (major == 1 && minor == 0)
        pre = 10;
    else if ((major == 2 || major == 3) && minor == 0)
        pre = 12;
    else
        return tt_err_set(err, "unsupported .npy format version %d.%d", major, minor);
    if (len < pre)
        return tt_err_set(err, "truncated .npy header");
    size_t hlen = npy_le(b + 8, (int)pre - 8);
    if (hlen > len - pre)
        return tt_err_set(err, "truncated .npy header (%zu bytes announced, %zu present)", hlen,
                          len - pre);
    npy_hdr h;
    if (npy_parse_header((const char *)b + pre, hlen, &h, err)) {
        tt_err_prefix(err, ".npy header");
        return -1;
    }
    if (h.fortran)
        return tt_err_set(err, ".npy array is in Fortran order (fortran_order True); only C "
                               "order is supported (use numpy.ascontiguousarray)");
    int src_size;
    tt_dtype dt;
    if (strcmp(h.descr, "<f4") == 0) {
        dt = TT_DT_FLOAT;
        src_size = 4;
    } else if (strcmp(h.descr, "<i8") == 0) {
        dt = TT_DT_INT64;
        src_size = 8;
    } else if (strcmp(h.descr, "<f8") == 0) {
        dt = TT_DT_FLOAT;
        src_size = 8;
    } else {
        return tt_err_set(err, ".npy dtype '%s' is not supported (only '<f4', '<i8', '<f8')",
                          h.descr);
    }
    int64_t numel = 1;
    for (int i = 0; i < h.ndim; i++) {
        if (h.shape[i] != 0 && numel > INT64_MAX / 8 / h.shape[i])
            return tt_err_set(err, ".npy shape is too large");
        numel *= h.shape[i];
    }
    size_t avail = len - pre - hlen;
    if ((uint64_t)numel * (uint64_t)src_size != avail)
        return tt_err_set(err, ".npy data size %zu bytes does not match shape (%lld elements of "
                               "%d bytes)",
                          avail, (long long)numel, src_size);
    const unsigned char *src = b + pre + hlen;
    void *data = NULL;
    if (numel > 0) {
        /* numel * src_size bytes are in the buffer, so this is bounded by
         * the file; it may still fail */
        data = tt_try_malloc((size_t)numel * (dt == TT_DT_FLOAT ? 4 : 8), "the .npy array", err);
        if (!data)
            return -1;
        if (src_size == 8 && dt == TT_DT_FLOAT) {
            float *f = data;
            for (int64_t i = 0; i < numel; i++) {
                double d;
                memcpy(&d, src + i * 8, 8);
                f[i] = (float)d;
            }
        } else {
            memcpy(data, src, (size_t)numel * src_size);
        }
    }
    out->dtype = dt;
    out->ndim = h.ndim;
    memcpy(out->shape, h.shape, sizeof h.shape);
    out->numel = numel;
    out->data = data;
    return 0;
}

int tt_npy_read(const char *path, tt_npy *out, tt_err *err)
{
    memset(out, 0, sizeof *out);
    size_t len;
    char *buf = tt_read_file(path, &len, err);
    if (!buf)
        return -1;
    int rc = tt_npy_parse_mem(buf, len, out, err);
    free(buf);
    if (rc)
        tt_err_prefix(err, "%s", path);
    return rc;
}

void tt_npy_free(tt_npy *a)
{
    if (!a)
        return;
    free(a->data);
    memset(a, 0, sizeof *a);
}

/* ---- writing --------------------------------------------------------------------------- */

int tt_npy_write(const char *path, tt_dtype dt, int ndim, const int64_t *shape, const void *data,
                 tt_err *err)
{
    const char *descr;
    int esize;
    if (dt == TT_DT_FLOAT) {
        descr = "<f4";
        esize = 4;
    } else if (dt == TT_DT_INT64) {
        descr = "<i8";
        esize = 8;
    } else {
        return tt_err_set(err, "%s: .npy writing supports float32 and int64 only (dtype code %d)",
                          path, (int)dt);
    }
    if (ndim < 0 || ndim > TT_GRAPH_MAX_DIMS)
        return tt_err_set(err, "%s: bad rank %d for .npy", path, ndim);
    int64_t numel = 1;
    tt_str h;
    tt_str_init(&h);
    tt_str_catf(&h, "{'descr': '%s', 'fortran_order': False, 'shape': (", descr);
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) {
            tt_str_free(&h);
            return tt_err_set(err, "%s: negative dimension %lld for .npy", path,
                              (long long)shape[i]);
        }
        numel *= shape[i];
        tt_str_catf(&h, "%s%lld", i ? ", " : "", (long long)shape[i]);
    }
    tt_str_cat(&h, ndim == 1 ? ",), }" : "), }");
    /* Pad with spaces and a final newline so that the data starts at a multiple of 64.  With
     * at most 8 dimensions of at most 20 digits the header stays far below format 1.0's limit
     * of 65535 bytes, so 1.0 is always enough. */
    size_t pre = 10;
    while ((pre + h.len + 1) % 64)
        tt_str_cat(&h, " ");
    tt_str_cat(&h, "\n");
    unsigned char lead[10];
    memcpy(lead, npy_magic, 6);
    lead[6] = 1;
    lead[7] = 0;
    lead[8] = (unsigned char)(h.len & 0xff);
    lead[9] = (unsigned char)(h.len >> 8);

    tt_str tmp;
    tt_str_init(&tmp);
    tt_str_catf(&tmp, "%s.tmp", path);
    FILE *f = fopen(tmp.buf, "wb");
    if (!f) {
        tt_err_set(err, "%s: cannot create: %s", tmp.buf, strerror(errno));
        tt_str_free(&tmp);
        tt_str_free(&h);
        return -1;
    }
    size_t nbytes = (size_t)numel * esize;
    int ok = fwrite(lead, 1, pre, f) == pre && fwrite(h.buf, 1, h.len, f) == h.len &&
             (nbytes == 0 || fwrite(data, 1, nbytes, f) == nbytes);
    ok = (fclose(f) == 0) && ok;
    if (!ok) {
        tt_err_set(err, "%s: write failed: %s", tmp.buf, strerror(errno));
        remove(tmp.buf);
    } else if (rename(tmp.buf, path) != 0) {
        tt_err_set(err, "%s: cannot rename to %s: %s", tmp.buf, path, strerror(errno));
        remove(tmp.buf);
        ok = 0;
    }
    tt_str_free(&tmp);
    tt_str_free(&h);
    return ok ? 0 : -1;
}
