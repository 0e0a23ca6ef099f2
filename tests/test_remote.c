/* test_remote.c - the remote runner over loopback: `transtune-runner --listen`
 * started here, a dense kernel's default schedule and a wrong one measured
 * through it against the local runner (same correctness, times within
 * noise); a client with the wrong key, a truncated message, an oversized
 * one and garbage are refused, and the runner still serves the next client. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../src/measure/remote.h"
#include "../src/sched/sched.h"
#include "test.h"

static pid_t server;
static char port_url[64], port_addr[64], key_path[512], bad_key[512];
static int port;

static const char *server_runner; /* $TT_RUNNER of the server, NULL: its own */

static int start_server(void)
{
    char runner[256];
    snprintf(runner, sizeof runner, "%s/transtune-runner", TT_TEST_BUILD_DIR);
    if (access(runner, X_OK) != 0) {
        tt_test_skip("%s is missing (make)", runner);
        return -1;
    }
    snprintf(key_path, sizeof key_path, "%s/tt-test-remote-%d.key", tt_test_tmpdir(), (int)getpid());
    snprintf(bad_key, sizeof bad_key, "%s/tt-test-remote-%d.bad", tt_test_tmpdir(), (int)getpid());
    FILE *f = fopen(key_path, "w"), *g = fopen(bad_key, "w");
    if (!f || !g)
        return -1;
    fputs("0123456789abcdef-the-right-key\n", f);
    fputs("0123456789abcdef-another-key\n", g);
    fclose(f), fclose(g);
    port = 40000 + (int)(getpid() % 20000);
    snprintf(port_addr, sizeof port_addr, "127.0.0.1:%d", port);
    snprintf(port_url, sizeof port_url, "tcp://127.0.0.1:%d", port);
    server = fork();
    if (server == 0) {
        if (server_runner)
            setenv("TT_RUNNER", server_runner, 1);
        int devnull = open("/dev/null", 1);
        dup2(devnull, 1);
        dup2(devnull, 2);
        execl(runner, runner, "--listen", port_addr, "--key", key_path, (char *)NULL);
        _exit(127);
    }
    /* wait for it to listen */
    for (int i = 0; i < 100; i++) {
        int s = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
        int ok = connect(s, (struct sockaddr *)&a, sizeof a) == 0;
        close(s);
        if (ok)
            return 0;
        usleep(50000);
    }
    return -1;
}

static void stop_server(void)
{
    if (server > 0) {
        kill(server, SIGKILL);
        waitpid(server, NULL, 0);
        server = 0;
    }
    unlink(key_path);
    unlink(bad_key);
}

/* Raw bytes to the server (after reading its greeting), then close. */
static void raw_send(const void *p, size_t n)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (connect(s, (struct sockaddr *)&a, sizeof a) == 0) {
        char hello[256];
        ssize_t r = recv(s, hello, sizeof hello, 0);
        (void)r;
        ssize_t w = send(s, p, n, MSG_NOSIGNAL);
        (void)w;
    }
    close(s);
}

/* A dense kernel's default schedule measured through tt_evaluate (local, or
 * with the remote backend set). */
static int measure(const tt_dag *d, tt_state *s, tt_result *res, tt_err *err)
{
    tt_eval_item it;
    memset(&it, 0, sizeof it);
    it.state = s;
    tt_eval_task task = {.dag = d, .nitems = 1, .items = &it};
    tt_run_opts ro = {.threads = 1, .repeat = 5, .timeout_s = 30, .seed = 7};
    int rc = tt_evaluate(&task, 1, NULL, &ro, NULL, NULL, err);
    *res = it.res;
    return rc;
}

static void test_remote_loopback(void)
{
    if (start_server())
        return;
    tt_err err = {0};
    tt_dag *d = tt_build_dense(64, 128, 256, NULL, &err);
    CHECK_MSG(d, "%s", err.msg);
    tt_state *s = tt_state_new(d);
    tt_step st[64];
    int ns = 0;
    CHECK(tt_default_schedule(d, tt_host_vector_lanes(), st, 64, &ns, &err) == 0 &&
          tt_state_apply_all(s, st, ns, &err) == 0);
    tt_result loc, rem;
    CHECK_MSG(measure(d, s, &loc, &err) == 0 && loc.error == 0 && loc.correct, "local: %s %s", err.msg, loc.msg);
    tt_remote *r = NULL;
    CHECK_MSG(tt_remote_open(port_url, key_path, &r, &err) == 0, "%s", err.msg);
    tt_evaluate_set_backend(tt_remote_backend, r);
    CHECK_MSG(measure(d, s, &rem, &err) == 0 && rem.error == 0 && rem.correct, "remote: %s %s", err.msg, rem.msg);
    CHECK_MSG(rem.ncosts == loc.ncosts && rem.mean < 3 * loc.mean && loc.mean < 3 * rem.mean,
              "remote %g s, local %g s", rem.mean, loc.mean);
    fprintf(stderr, "    dense 64x128x256: local %.4f ms, remote %.4f ms\n", loc.mean * 1e3, rem.mean * 1e3);
    tt_evaluate_set_backend(NULL, NULL);
    tt_remote_close(r);
    /* the wrong key: the runner measures nothing and drops the client */
    CHECK_MSG(tt_remote_open(port_url, bad_key, &r, &err) == 0, "%s", err.msg);
    tt_evaluate_set_backend(tt_remote_backend, r);
    CHECK(measure(d, s, &rem, &err) == -1);
    tt_evaluate_set_backend(NULL, NULL);
    tt_remote_close(r);
    /* a truncated message, an oversized one, garbage */
    uint32_t big = 0xfffffff0u, some = 1000;
    raw_send(&big, 4);
    char trunc[14];
    memcpy(trunc, &some, 4);
    memset(trunc + 4, 'x', 10);
    raw_send(trunc, sizeof trunc);
    raw_send("GET / HTTP/1.0\r\n\r\n", 18);
    /* still serving */
    CHECK(waitpid(server, NULL, WNOHANG) == 0);
    CHECK_MSG(tt_remote_open(port_url, key_path, &r, &err) == 0, "%s", err.msg);
    tt_evaluate_set_backend(tt_remote_backend, r);
    CHECK_MSG(measure(d, s, &rem, &err) == 0 && rem.error == 0 && rem.correct, "remote after: %s %s", err.msg,
              rem.msg);
    tt_evaluate_set_backend(NULL, NULL);
    tt_remote_close(r);
    /* a bad url, a missing key */
    tt_err_clear(&err);
    CHECK(tt_remote_open("http://x", key_path, &r, &err) == -1 && strstr(err.msg, "tcp://HOST:PORT"));
    tt_err_clear(&err);
    CHECK(tt_remote_open(port_url, NULL, &r, &err) == -1 && strstr(err.msg, "--key"));
    tt_state_free(s);
    tt_dag_free(d);
    stop_server();
}

/* An aarch64 device under qemu-aarch64: the listening runner's child is the
 * cross-compiled aarch64 runner, the host cross-compiles the kernels
 * (--target aarch64-linux-gnu); every record is checked on the "device"
 * (its times under emulation mean nothing and are not looked at). */
static void test_remote_aarch64(void)
{
    char a64[256], wrap[512], cmd[3000];
    snprintf(a64, sizeof a64, "%s/aarch64/transtune-runner", TT_TEST_BUILD_DIR);
    if (access(a64, X_OK) != 0) {
        tt_test_skip("%s is missing (gcc-aarch64-linux-gnu: scripts/install-deps.sh, then make)", a64);
        return;
    }
    if (system("command -v qemu-aarch64 > /dev/null 2>&1") != 0) {
        tt_test_skip("qemu-aarch64 is missing (qemu-user: scripts/install-deps.sh)");
        return;
    }
    char cwd[1024];
    CHECK(getcwd(cwd, sizeof cwd) != NULL);
    snprintf(wrap, sizeof wrap, "%s/tt-test-a64-%d.sh", tt_test_tmpdir(), (int)getpid());
    FILE *f = fopen(wrap, "w");
    CHECK(f != NULL);
    if (!f)
        return;
    fprintf(f, "#!/bin/sh\nexec qemu-aarch64 -L /usr/aarch64-linux-gnu '%s/%s' \"$@\"\n", cwd, a64);
    fclose(f);
    chmod(wrap, 0755);
    server_runner = wrap;
    int up = start_server() == 0;
    server_runner = NULL;
    CHECK(up);
    char db[600];
    snprintf(db, sizeof db, "%s/tt-test-a64-%d.db", tt_test_tmpdir(), (int)getpid());
    snprintf(cmd, sizeof cmd,
             "%s/transtune tune-kernel dense --m 16 --n 32 --k 64 --trials 6 --threads 1 --db '%s' --runner %s "
             "--key '%s' --target aarch64-linux-gnu > /dev/null 2>&1 && %s/transtune db stats --db '%s' | "
             "grep -q 'records        6 (6 measured without error)' && %s/transtune db export --db '%s' 2>/dev/null | "
             "grep -c 'mattr=+neon' | grep -qx 6",
             TT_TEST_BUILD_DIR, db, port_url, key_path, TT_TEST_BUILD_DIR, db, TT_TEST_BUILD_DIR, db);
    CHECK_MSG(system(cmd) == 0, "%s", cmd);
    stop_server();
    unlink(wrap);
    snprintf(cmd, sizeof cmd, "rm -f '%s' '%s-wal' '%s-shm'", db, db, db);
    CHECK(system(cmd) == 0);
}

const tt_test tests_remote[] = {
    {"loopback", test_remote_loopback},
    {"aarch64_qemu", test_remote_aarch64},
    {NULL, NULL},
};
