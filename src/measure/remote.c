/* remote.c - the remote runner: server and client (see remote.h). */
#include "remote.h"
#include "measure_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../util/hmac.h"

#define NONCE_LEN 32
#define KEY_MAX 1024
/* a peer silent this long in the middle of a message is given up */
#define IO_TIMEOUT_S 120

struct tt_remote {
    int fd;
    unsigned char key[KEY_MAX];
    size_t keylen;
    unsigned char nonce[NONCE_LEN];
    uint64_t seq_out, seq_in;
    char cls[256];
};

int tt_remote_read_key(const char *path, unsigned char *key, size_t cap, size_t *len, tt_err *err)
{
    size_t n = 0;
    char *b = tt_read_file_max(path, cap, &n, err);
    if (!b)
        return -1;
    while (n > 0 && (b[n - 1] == '\n' || b[n - 1] == '\r'))
        n--;
    if (n < 16) {
        free(b);
        return tt_err_set(err, "%s: a key needs at least 16 bytes", path);
    }
    memcpy(key, b, n);
    memset(b, 0, n);
    free(b);
    *len = n;
    return 0;
}

/* ---- frames ------------------------------------------------------------------------ */

static int write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

static int read_all(int fd, void *p, size_t n)
{
    char *c = p;
    while (n > 0) {
        ssize_t r = recv(fd, c, n, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        c += r;
        n -= (size_t)r;
    }
    return 0;
}

/* The tag of a message: HMAC(key, direction || nonce || seq || payload). */
static void frame_tag(const tt_remote *c, char dir, uint64_t seq, const void *p, uint32_t n,
                      unsigned char tag[TT_SHA256_LEN])
{
    tt_hmac h;
    tt_hmac_init(&h, c->key, c->keylen);
    tt_hmac_update(&h, &dir, 1);
    tt_hmac_update(&h, c->nonce, NONCE_LEN);
    unsigned char s[8];
    for (int i = 0; i < 8; i++)
        s[i] = (unsigned char)(seq >> (8 * i));
    tt_hmac_update(&h, s, 8);
    tt_hmac_update(&h, p, n);
    tt_hmac_final(&h, tag);
}

static int send_frame(tt_remote *c, char dir, const void *p, size_t n)
{
    if (n > TT_REMOTE_MAX_MSG)
        return -1;
    uint32_t len = (uint32_t)n;
    unsigned char tag[TT_SHA256_LEN];
    frame_tag(c, dir, c->seq_out++, p, len, tag);
    return write_all(c->fd, &len, 4) || write_all(c->fd, p, n) || write_all(c->fd, tag, sizeof tag) ? -1 : 0;
}

/* A message from the peer (malloc'd, *n bytes), its tag checked; NULL with
 * err on a closed connection, an oversized or unauthenticated message. */
static char *recv_frame(tt_remote *c, char dir, size_t *n, tt_err *err)
{
    uint32_t len;
    if (read_all(c->fd, &len, 4)) {
        tt_err_set(err, "the connection closed");
        return NULL;
    }
    if (len > TT_REMOTE_MAX_MSG) {
        tt_err_set(err, "a message of %u bytes (the limit is %u)", len, TT_REMOTE_MAX_MSG);
        return NULL;
    }
    char *p = malloc((size_t)len + 1);
    unsigned char tag[TT_SHA256_LEN], want[TT_SHA256_LEN];
    if (!p) {
        tt_err_set(err, "out of memory for a message of %u bytes", len);
        return NULL;
    }
    if (read_all(c->fd, p, len) || read_all(c->fd, tag, sizeof tag)) {
        free(p);
        tt_err_set(err, "a truncated message");
        return NULL;
    }
    frame_tag(c, dir, c->seq_in++, p, len, want);
    if (!tt_ct_equal(tag, want, sizeof tag)) {
        free(p);
        tt_err_set(err, "a message that does not carry the key's tag (wrong key, or altered)");
        return NULL;
    }
    p[len] = 0;
    *n = len;
    return p;
}

static void set_timeouts(int fd)
{
    struct timeval tv = {IO_TIMEOUT_S, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* "HOST:PORT" into a socket address (numeric or resolved host). */
static int parse_addr(const char *s, struct sockaddr_storage *sa, socklen_t *len, tt_err *err)
{
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s || !colon[1] || strlen(s) > 255)
        return tt_err_set(err, "'%s': HOST:PORT expected", s);
    char host[256];
    snprintf(host, sizeof host, "%.*s", (int)(colon - s), s);
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(host, colon + 1, &hints, &res);
    if (rc || !res)
        return tt_err_set(err, "'%s': %s", s, gai_strerror(rc));
    memcpy(sa, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

/* ---- the client ----------------------------------------------------------------------- */

int tt_remote_open(const char *url, const char *key_path, tt_remote **out, tt_err *err)
{
    *out = NULL;
    if (!url || strncmp(url, "tcp://", 6))
        return tt_err_set(err, "runner '%s': tcp://HOST:PORT expected", url ? url : "");
    tt_remote *c = tt_xcalloc(1, sizeof *c);
    c->fd = -1;
    struct sockaddr_storage sa;
    socklen_t sl;
    if (!key_path)
        tt_err_set(err, "a remote runner needs --key FILE (the key its runner was started with)");
    if (!key_path || tt_remote_read_key(key_path, c->key, sizeof c->key, &c->keylen, err) ||
        parse_addr(url + 6, &sa, &sl, err)) {
        free(c);
        return -1;
    }
    c->fd = socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sl) != 0) {
        tt_err_set(err, "cannot connect to %s: %s", url, strerror(errno));
        tt_remote_close(c);
        return -1;
    }
    set_timeouts(c->fd);
    char magic[4];
    uint32_t ver = 0, cl = 0;
    if (read_all(c->fd, magic, 4) || memcmp(magic, "TTRR", 4) || read_all(c->fd, &ver, 4) ||
        ver != TT_REMOTE_VERSION || read_all(c->fd, c->nonce, NONCE_LEN) || read_all(c->fd, &cl, 4) ||
        cl >= sizeof c->cls || read_all(c->fd, c->cls, cl)) {
        tt_err_set(err, "%s is not a transtune runner of protocol %u", url, TT_REMOTE_VERSION);
        tt_remote_close(c);
        return -1;
    }
    c->cls[cl] = 0;
    *out = c;
    return 0;
}

const char *tt_remote_class(const tt_remote *r) { return r->cls; }

void tt_remote_close(tt_remote *r)
{
    if (!r)
        return;
    if (r->fd >= 0)
        close(r->fd);
    memset(r->key, 0, sizeof r->key);
    free(r);
}

static void put_blob(tt_str *o, const char *path, tt_err *err, int *rc)
{
    size_t n = 0;
    char *b = path && path[0] ? tt_read_file_max(path, TT_REMOTE_MAX_MSG, &n, err) : NULL;
    if (path && path[0] && !b)
        *rc = -1;
    uint32_t len = (uint32_t)n;
    tt_str_catn(o, &len, 4);
    if (n)
        tt_str_catn(o, b, n);
    free(b);
}

/* Job J with only its built items (views into J's items; the caller frees
 * the array). */
static tt_job built_view(const tt_job *J)
{
    tt_job v = *J;
    v.items = tt_xcalloc((size_t)J->nitems + 1, sizeof *v.items);
    v.nitems = 0;
    for (int i = 0; i < J->nitems; i++)
        if (J->items[i].so[0])
            v.items[v.nitems++] = J->items[i];
    return v;
}

int tt_remote_backend(void *ctx, tt_job *jobs, int n, const tt_build_opts *bo, const tt_run_opts *ro,
                      tt_eval_progress progress, void *pctx, tt_err *err)
{
    tt_remote *c = ctx;
    tt_build_opts b;
    char own[PATH_MAX];
    if (tt_jobs_workdir(bo, &b, own, sizeof own, err))
        return -1;
    int rc = tt_jobs_build(jobs, n, &b, err);
    tt_job *v = tt_xcalloc((size_t)n + 1, sizeof *v);
    for (int j = 0; j < n; j++)
        v[j] = built_view(&jobs[j]);
    tt_str msg;
    tt_str_init(&msg);
    if (rc == 0) {
        tt_str packed;
        tt_str_init(&packed);
        tt_jobs_pack(v, n, ro, 2, &packed);
        uint32_t pl = (uint32_t)packed.len;
        tt_str_cat(&msg, "JOBS");
        tt_str_catn(&msg, &pl, 4);
        tt_str_catn(&msg, packed.buf, packed.len);
        tt_str_free(&packed);
        for (int j = 0; j < n && rc == 0; j++) {
            put_blob(&msg, v[j].ref.n > 0 ? NULL : v[j].ref_so, err, &rc);
            put_blob(&msg, v[j].anchor_so, err, &rc);
            for (int i = 0; i < v[j].nitems; i++)
                put_blob(&msg, v[j].items[i].so, err, &rc);
        }
    }
    if (rc == 0 && msg.len > TT_REMOTE_MAX_MSG)
        rc = tt_err_set(err, "a batch of %zu bytes of shared objects is over the remote limit", msg.len);
    if (rc == 0 && send_frame(c, 'c', msg.buf, msg.len))
        rc = tt_err_set(err, "the remote runner closed the connection");
    size_t len = 0;
    char *ans = rc == 0 ? recv_frame(c, 's', &len, err) : NULL;
    if (rc == 0 && !ans)
        rc = -1;
    if (rc == 0 && len >= 4 && !memcmp(ans, "FAIL", 4))
        rc = tt_err_set(err, "the remote runner: %.400s", ans + 4);
    else if (rc == 0 && (len < 4 || memcmp(ans, "RSLT", 4)))
        rc = tt_err_set(err, "the remote runner answered something else than results");
    else if (rc == 0)
        rc = tt_jobs_unpack_results(ans + 4, len - 4, v, n, err);
    for (int j = 0; j < n; j++) {
        if (rc == 0) {
            /* the built items' results back in place; a computed reference kept */
            for (int i = 0, k = 0; i < jobs[j].nitems; i++)
                if (jobs[j].items[i].so[0])
                    jobs[j].items[i] = v[j].items[k++];
            if (jobs[j].ref.n == 0)
                jobs[j].ref = v[j].ref;
            jobs[j].ref_error = v[j].ref_error;
            memcpy(jobs[j].ref_msg, v[j].ref_msg, sizeof jobs[j].ref_msg);
            jobs[j].run_wall_s = v[j].run_wall_s;
            for (int i = 0; i < jobs[j].nitems && progress; i++)
                progress(pctx, jobs[j].task, jobs[j].items[i].item);
        }
        free(v[j].items);
    }
    free(v);
    free(ans);
    tt_str_free(&msg);
    if (own[0])
        tt_remove_tree(own);
    return rc;
}

/* ---- the server ------------------------------------------------------------------------- */

/* A blob of the message into dir/name; its path into path ("" for none). */
static int take_blob(const char **p, size_t *left, const char *dir, const char *name, char *path, size_t cap)
{
    uint32_t n;
    if (*left < 4)
        return -1;
    memcpy(&n, *p, 4);
    *p += 4, *left -= 4;
    path[0] = 0;
    if (n > *left)
        return -1;
    if (n == 0)
        return 0;
    snprintf(path, cap, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    int ok = f && fwrite(*p, 1, n, f) == n;
    if (f && fclose(f) != 0)
        ok = 0;
    *p += n, *left -= n;
    return ok ? 0 : -1;
}

/* One JOBS message: the shared objects written, the jobs measured here;
 * the answer (RSLT or FAIL) into out. */
static void serve_jobs(const char *p, size_t len, tt_str *out)
{
    tt_err err = {0};
    char dir[PATH_MAX] = "";
    tt_job *jobs = NULL;
    int n = 0;
    tt_run_opts ro;
    /* u32 length of the packed jobs, the jobs, then the shared objects */
    size_t jl = 0;
    int rc = -1;
    if (len >= 4) {
        uint32_t l32;
        memcpy(&l32, p, 4);
        jl = l32;
    }
    if (len < 4 || jl > len - 4 || tt_jobs_unpack(p + 4, jl, &jobs, &n, &ro, &err)) {
        tt_str_cat(out, "FAIL");
        tt_str_cat(out, err.msg[0] ? err.msg : "malformed jobs");
        return;
    }
    const char *q = p + 4 + jl;
    size_t left = len - 4 - jl;
    rc = tt_temp_dir("tt-remote", dir, sizeof dir, &err);
    for (int j = 0; j < n && rc == 0; j++) {
        char name[64];
        snprintf(name, sizeof name, "j%d_ref.so", j);
        rc = take_blob(&q, &left, dir, name, jobs[j].ref_so, sizeof jobs[j].ref_so);
        snprintf(name, sizeof name, "j%d_anchor.so", j);
        rc = rc ? rc : take_blob(&q, &left, dir, name, jobs[j].anchor_so, sizeof jobs[j].anchor_so);
        for (int i = 0; i < jobs[j].nitems && rc == 0; i++) {
            snprintf(name, sizeof name, "j%d_%d.so", j, i);
            rc = take_blob(&q, &left, dir, name, jobs[j].items[i].so, sizeof jobs[j].items[i].so);
            if (rc == 0 && !jobs[j].items[i].so[0])
                rc = -1; /* only built items are sent */
        }
        if (rc == 0 && jobs[j].ref.n == 0 && !jobs[j].ref_so[0] && !jobs[j].ref_error) {
            jobs[j].ref_error = 1;
            snprintf(jobs[j].ref_msg, sizeof jobs[j].ref_msg, "no reference was sent");
        }
    }
    if (rc == 0 && left != 0)
        rc = -1;
    if (rc == 0) {
        tt_jobs_measure(jobs, n, &ro, NULL, NULL);
        tt_str_cat(out, "RSLT");
        tt_jobs_pack(jobs, n, &ro, 1, out);
    } else {
        tt_str_cat(out, "FAIL");
        tt_str_cat(out, err.msg[0] ? err.msg : "malformed shared objects");
    }
    for (int j = 0; j < n; j++)
        tt_job_free(&jobs[j]);
    free(jobs);
    if (dir[0])
        tt_remove_tree(dir);
}

static void cpu_class(char *buf, size_t n)
{
    char model[128];
    tt_cpu_model(model, sizeof model);
    snprintf(buf, n, "%s, %ld cores", model, sysconf(_SC_NPROCESSORS_ONLN));
}

/* One connection: the greeting, then messages until it closes or fails. */
static void serve_conn(int fd, const unsigned char *key, size_t keylen)
{
    tt_remote c;
    memset(&c, 0, sizeof c);
    c.fd = fd;
    memcpy(c.key, key, keylen);
    c.keylen = keylen;
    if (getrandom(c.nonce, NONCE_LEN, 0) != NONCE_LEN) {
        close(fd);
        return;
    }
    char cls[200];
    cpu_class(cls, sizeof cls);
    uint32_t ver = TT_REMOTE_VERSION, cl = (uint32_t)strlen(cls);
    if (write_all(fd, "TTRR", 4) || write_all(fd, &ver, 4) || write_all(fd, c.nonce, NONCE_LEN) ||
        write_all(fd, &cl, 4) || write_all(fd, cls, cl)) {
        close(fd);
        return;
    }
    for (;;) {
        size_t len = 0;
        tt_err err = {0};
        char *m = recv_frame(&c, 'c', &len, &err);
        if (!m) {
            if (strcmp(err.msg, "the connection closed"))
                fprintf(stderr, "transtune-runner: connection dropped: %s\n", err.msg);
            break;
        }
        tt_str out;
        tt_str_init(&out);
        if (len >= 4 && !memcmp(m, "JOBS", 4))
            serve_jobs(m + 4, len - 4, &out);
        else
            tt_str_cat(&out, "FAILunknown request");
        free(m);
        int bad = send_frame(&c, 's', out.buf, out.len);
        tt_str_free(&out);
        if (bad)
            break;
    }
    memset(c.key, 0, sizeof c.key);
    close(fd);
}

int tt_remote_serve(const char *addr, const char *key_path, int max_conns, tt_err *err)
{
    unsigned char key[KEY_MAX];
    size_t keylen = 0;
    struct sockaddr_storage sa;
    socklen_t sl;
    if (tt_remote_read_key(key_path, key, sizeof key, &keylen, err) || parse_addr(addr, &sa, &sl, err))
        return -1;
    int fd = socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    if (fd >= 0)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sl) != 0 || listen(fd, 4) != 0) {
        tt_err_set(err, "cannot listen on %s: %s", addr, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    signal(SIGPIPE, SIG_IGN);
    fprintf(stderr, "transtune-runner: listening on %s\n", addr);
    for (int k = 0; max_conns <= 0 || k < max_conns; k++) {
        int c = accept(fd, NULL, NULL);
        if (c < 0) {
            if (errno == EINTR)
                continue;
            tt_err_set(err, "accept: %s", strerror(errno));
            break;
        }
        set_timeouts(c);
        serve_conn(c, key, keylen);
    }
    memset(key, 0, sizeof key);
    close(fd);
    return err->msg[0] ? -1 : 0;
}
