/* mpi_main.c - transtune-mpi: the transtune command with its measurements
 * spread over MPI ranks.
 *
 *   mpirun --enable-recovery -np N transtune-mpi tune|transfer|... (the same options)
 *
 * Rank 0 runs the command (the search, the cost model, the database, every
 * end-to-end timing) exactly as `transtune` would, except that each batch of
 * candidates tt_evaluate measures is cut into chunks (one task's C sources,
 * reference and anchor: measure's jobs) that the other ranks build, run and
 * check, taking the next chunk as they finish one (dynamic balancing).  Rank
 * 0 measures itself only when no worker is left.
 *
 * Start: every rank reports its CPU class (the CPU model, its vector ISA and
 * lanes, its core count; $TT_MPI_CPU_CLASS stands for it, for tests); a
 * worker whose class differs from rank 0's is refused (it says so and
 * exits 0) and rank 0 goes on with the others: records are of one machine
 * class.
 *
 * Failures: a worker sends a heartbeat every second while it works; one
 * silent for $TT_MPI_SILENCE_S seconds (default 15), or whose chunk runs past
 * its deadline, is given up: its chunk goes back to the queue and it gets no
 * more work (its late results are ignored).  Nothing committed is lost: the
 * database is rank 0's.  Open MPI ends the whole job when one rank dies unless
 * mpirun is given --enable-recovery; MPI_Finalize then gets
 * $TT_MPI_FINALIZE_S seconds (default 30), as it can wait for a dead rank for
 * ever (finalize, below).  Test hook: $TT_MPI_TEST_DIE=R:K makes rank R kill
 * itself (SIGKILL) when it receives its K-th chunk.
 */
#include <mpi.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../measure/evaluate.h"
#include "../sched/sched.h"

int transtune_main(int argc, char **argv);

enum { TAG_WORK = 11, TAG_RESULT, TAG_FAIL, TAG_BEAT, TAG_STOP };
#define CLASS_LEN 256

static int g_rank, g_size;

/* ---- leaving: MPI_Finalize with a watchdog ------------------------------------------ */

/* After a rank died, Open MPI's MPI_Finalize can wait for it for ever (seen
 * once in about ten runs of mpi/worker_dies: every trial committed, the
 * survivors then blocked in finalize until mpirun's timeout).  Everything
 * of value is in rank 0's database by then, so finalize gets
 * $TT_MPI_FINALIZE_S seconds (default 30); then the rank says so and exits
 * with its own status without finishing it. */
static volatile sig_atomic_t g_exit_rc; /* this rank's status, for finalize_overdue */

static void finalize_overdue(int sig)
{
    (void)sig;
    static const char msg[] = "transtune-mpi: MPI_Finalize did not return (a rank died?): leaving without it\n";
    ssize_t w = write(2, msg, sizeof msg - 1);
    (void)w;
    _exit(g_exit_rc);
}

static void finalize(void)
{
    const char *e = getenv("TT_MPI_FINALIZE_S");
    int secs = e && atoi(e) > 0 ? atoi(e) : 30;
    signal(SIGALRM, finalize_overdue);
    alarm((unsigned)secs);
    MPI_Finalize();
    alarm(0);
}

/* ---- the CPU class ---------------------------------------------------------------- */

static void cpu_class(char *buf, size_t n)
{
    const char *e = getenv("TT_MPI_CPU_CLASS");
    if (e && *e) {
        snprintf(buf, n, "%s", e);
        return;
    }
    char model[128];
    tt_cpu_model(model, sizeof model);
    snprintf(buf, n, "%s, %s, %d fp32 lanes, %ld cores", model, tt_isa_name(TT_ISA_BEST), tt_host_vector_lanes(),
             sysconf(_SC_NPROCESSORS_ONLN));
}

/* ---- workers ---------------------------------------------------------------------- */

static pthread_mutex_t beat_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t beat_cv = PTHREAD_COND_INITIALIZER;
static int beat_on;

/* While a chunk runs, one heartbeat a second (MPI_THREAD_SERIALIZED: the
 * main thread makes no MPI call meanwhile). */
static void *beat_thread(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&beat_mu);
    while (beat_on) {
        int one = 1;
        MPI_Send(&one, 1, MPI_INT, 0, TAG_BEAT, MPI_COMM_WORLD);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&beat_cv, &beat_mu, &ts);
    }
    pthread_mutex_unlock(&beat_mu);
    return NULL;
}

static int worker(void)
{
    int die_rank = -1, die_at = 0, chunks = 0;
    const char *d = getenv("TT_MPI_TEST_DIE");
    if (d && sscanf(d, "%d:%d", &die_rank, &die_at) != 2)
        die_rank = -1;
    for (;;) {
        MPI_Status st;
        if (MPI_Probe(0, MPI_ANY_TAG, MPI_COMM_WORLD, &st) != MPI_SUCCESS)
            return 1;
        int len = 0;
        MPI_Get_count(&st, MPI_BYTE, &len);
        char *buf = tt_xmalloc((size_t)len + 1);
        MPI_Recv(buf, len, MPI_BYTE, 0, st.MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        if (st.MPI_TAG == TAG_STOP) {
            buf[len] = 0;
            if (len > 0)
                fprintf(stderr, "transtune-mpi: rank %d: %s\n", g_rank, buf);
            free(buf);
            return 0;
        }
        if (++chunks == die_at && die_rank == g_rank)
            kill(getpid(), SIGKILL);
        tt_job *jobs = NULL;
        int n = 0;
        tt_run_opts ro;
        tt_err err = {0};
        tt_str out;
        tt_str_init(&out);
        int tag = TAG_RESULT;
        if (tt_jobs_unpack(buf, (size_t)len, &jobs, &n, &ro, &err) == 0) {
            pthread_t th;
            beat_on = 1;
            int have_th = pthread_create(&th, NULL, beat_thread, NULL) == 0;
            int rc = tt_jobs_run(jobs, n, NULL, &ro, NULL, NULL, &err);
            pthread_mutex_lock(&beat_mu);
            beat_on = 0;
            pthread_cond_signal(&beat_cv);
            pthread_mutex_unlock(&beat_mu);
            if (have_th)
                pthread_join(th, NULL);
            if (rc == 0)
                tt_jobs_pack(jobs, n, &ro, 1, &out);
        }
        if (!out.len) {
            tag = TAG_FAIL;
            tt_str_cat(&out, err.msg[0] ? err.msg : "failed");
        }
        MPI_Send(out.buf, (int)out.len, MPI_BYTE, 0, tag, MPI_COMM_WORLD);
        tt_str_free(&out);
        for (int j = 0; j < n; j++)
            tt_job_free(&jobs[j]);
        free(jobs);
        free(buf);
    }
}

/* ---- rank 0: the backend of tt_evaluate ---------------------------------------------- */

typedef struct wstate {
    int live;                  /* accepted and not given up */
    int chunk;                 /* in flight: its chunk index, -1 idle */
    double last_heard, deadline;
    tt_str msg;                /* the packed chunk (kept until answered) */
    MPI_Request req;
    int chunks, items;         /* answered */
    double build_s, run_s;     /* their build and run times on the rank */
} wstate;

static wstate *W;
static int g_stopped;

/* One chunk: items [a, b) of job j. */
typedef struct chunk {
    int job, a, b;
    int done, tries;
} chunk;

/* The sub-job of chunk c: job j's fields, items a..b (shallow: not owned). */
static tt_job sub_job(const tt_job *J, const chunk *c)
{
    tt_job s = *J;
    s.items = J->items + c->a;
    s.nitems = c->b - c->a;
    return s;
}

static double silence_s(void)
{
    const char *e = getenv("TT_MPI_SILENCE_S");
    double v = e ? atof(e) : 0;
    return v > 0 ? v : 15;
}

static int live_workers(void)
{
    int n = 0;
    for (int r = 1; r < g_size; r++)
        n += W[r].live;
    return n;
}

/* Give up worker r (dead, silent or too slow): its chunk back to the queue. */
static void give_up(int r, chunk *C, const char *why)
{
    fprintf(stderr, "transtune-mpi: rank %d given up (%s)%s\n", r, why,
            W[r].chunk >= 0 ? "; its chunk goes to another rank" : "");
    if (W[r].chunk >= 0)
        C[W[r].chunk].tries++;
    W[r].live = 0;
    W[r].chunk = -1;
}

static void send_chunk(int r, int ci, chunk *C, tt_job *jobs, const tt_run_opts *ro)
{
    tt_job s = sub_job(&jobs[C[ci].job], &C[ci]);
    tt_str_clear(&W[r].msg);
    tt_jobs_pack(&s, 1, ro, 0, &W[r].msg);
    MPI_Isend(W[r].msg.buf, (int)W[r].msg.len, MPI_BYTE, r, TAG_WORK, MPI_COMM_WORLD, &W[r].req);
    W[r].chunk = ci;
    W[r].last_heard = tt_now();
    /* the runner's own timeouts bound each run; this bounds a worker that
     * answers heartbeats but never finishes */
    double per = ro->timeout_s > 0 ? ro->timeout_s : 10;
    W[r].deadline = tt_now() + 300 + 4 * per * (C[ci].b - C[ci].a + 2);
}

/* A message from worker r with tag `tag` (probed): results into the chunk's
 * job, a heartbeat, or a failure (the chunk goes back). */
static void receive(int r, int tag, chunk *C, tt_job *jobs, tt_eval_progress progress, void *pctx)
{
    MPI_Status st;
    MPI_Probe(r, tag, MPI_COMM_WORLD, &st);
    int len = 0;
    MPI_Get_count(&st, MPI_BYTE, &len);
    char *buf = tt_xmalloc((size_t)len + 1);
    MPI_Recv(buf, len, MPI_BYTE, r, tag, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    buf[len] = 0;
    W[r].last_heard = tt_now();
    int ci = W[r].chunk;
    if (tag == TAG_BEAT || !W[r].live || ci < 0) {
        free(buf);
        return;
    }
    MPI_Wait(&W[r].req, MPI_STATUS_IGNORE);
    W[r].chunk = -1;
    if (tag == TAG_FAIL) {
        fprintf(stderr, "transtune-mpi: rank %d could not measure a chunk: %s\n", r, buf);
        C[ci].tries++;
        free(buf);
        return;
    }
    tt_job s = sub_job(&jobs[C[ci].job], &C[ci]);
    tt_err err = {0};
    if (tt_jobs_unpack_results(buf, (size_t)len, &s, 1, &err)) {
        fprintf(stderr, "transtune-mpi: rank %d sent results that do not parse (%s)\n", r, err.msg);
        C[ci].tries++;
    } else {
        tt_job *J = &jobs[C[ci].job];
        /* the reference a worker computed serves the other chunks of this job too */
        if (J->ref.n == 0 && s.ref.n > 0)
            J->ref = s.ref;
        else if (s.ref.n > 0 && s.ref.out != J->ref.out)
            tt_ref_free(&s.ref);
        J->ref_error = s.ref_error;
        memcpy(J->ref_msg, s.ref_msg, sizeof J->ref_msg);
        J->build_wall_s += s.build_wall_s;
        J->run_wall_s += s.run_wall_s;
        W[r].chunks++;
        W[r].items += C[ci].b - C[ci].a;
        W[r].build_s += s.build_wall_s;
        W[r].run_s += s.run_wall_s;
        C[ci].done = 1;
        for (int i = C[ci].a; i < C[ci].b && progress; i++)
            progress(pctx, J->task, J->items[i].item);
    }
    free(buf);
}

static int mpi_backend(void *ctx, tt_job *jobs, int n, const tt_build_opts *bo, const tt_run_opts *ro,
                       tt_eval_progress progress, void *pctx, tt_err *err)
{
    (void)ctx;
    int nw = live_workers();
    if (nw == 0)
        return tt_jobs_run(jobs, n, bo, ro, progress, pctx, err);
    /* chunks: each job in about 2 pieces per worker (at least 2 items each) */
    int nc = 0, cap = 16;
    chunk *C = tt_xmalloc((size_t)cap * sizeof *C);
    for (int j = 0; j < n; j++) {
        int ni = jobs[j].nitems, per = (ni + 2 * nw - 1) / (2 * nw);
        per = per < 2 ? 2 : per;
        for (int a = 0; a < ni || (a == 0 && ni == 0); a += per) {
            if (nc == cap)
                C = tt_xrealloc(C, (size_t)(cap *= 2) * sizeof *C);
            C[nc++] = (chunk){j, a, a + per < ni ? a + per : ni, 0, 0};
            if (ni == 0)
                break;
        }
    }
    /* chunks of a job whose reference is not kept: the first one alone
     * first, so that its reference comes back and goes out with the others */
    double silence = silence_s(), t0 = tt_now();
    int rc = 0;
    for (;;) {
        int left = 0;
        for (int c = 0; c < nc; c++)
            left += !C[c].done;
        if (left == 0)
            break;
        if (live_workers() == 0) {
            /* no one left: the rest here */
            for (int c = 0; c < nc && rc == 0; c++) {
                if (C[c].done)
                    continue;
                tt_job s = sub_job(&jobs[C[c].job], &C[c]);
                rc = tt_jobs_run(&s, 1, bo, ro, progress, pctx, err);
                jobs[C[c].job].ref = s.ref;
                C[c].done = 1;
            }
            break;
        }
        /* idle live workers take the next chunks not in flight */
        for (int r = 1; r < g_size; r++) {
            if (!W[r].live || W[r].chunk >= 0)
                continue;
            for (int c = 0; c < nc; c++) {
                int busy = 0;
                for (int q = 1; q < g_size; q++)
                    busy |= W[q].live && W[q].chunk == c;
                /* wait for a job's reference before sending its other chunks */
                int first_pending = 0;
                if (jobs[C[c].job].ref.n == 0 && jobs[C[c].job].ref_src)
                    for (int q = 1; q < g_size; q++)
                        first_pending |= W[q].live && W[q].chunk >= 0 && C[W[q].chunk].job == C[c].job;
                if (C[c].done || busy || first_pending)
                    continue;
                if (C[c].tries >= 3) {
                    /* failed on three workers: measured here */
                    tt_job s = sub_job(&jobs[C[c].job], &C[c]);
                    rc = rc ? rc : tt_jobs_run(&s, 1, bo, ro, progress, pctx, err);
                    jobs[C[c].job].ref = s.ref;
                    C[c].done = 1;
                    continue;
                }
                send_chunk(r, c, C, jobs, ro);
                break;
            }
        }
        /* answers, or silence */
        int flag = 0;
        MPI_Status st;
        MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &st);
        if (flag && st.MPI_SOURCE > 0 && st.MPI_SOURCE < g_size) {
            receive(st.MPI_SOURCE, st.MPI_TAG, C, jobs, progress, pctx);
            continue;
        }
        double now = tt_now();
        for (int r = 1; r < g_size; r++) {
            if (!W[r].live || W[r].chunk < 0)
                continue;
            if (now - W[r].last_heard > silence)
                give_up(r, C, "silent");
            else if (now > W[r].deadline)
                give_up(r, C, "past its chunk's deadline");
        }
        usleep(2000);
    }
    /* the workers' build and run times overlap: the wall time of this call
     * is split between build and run in their proportion */
    double wall = tt_now() - t0, sb = 0, sr = 0;
    for (int j = 0; j < n; j++)
        sb += jobs[j].build_wall_s, sr += jobs[j].run_wall_s;
    for (int j = 0; j < n && sb + sr > 0; j++) {
        jobs[j].build_wall_s = wall * sb / (sb + sr);
        jobs[j].run_wall_s = wall * sr / (sb + sr);
    }
    free(C);
    return rc;
}

/* Rank 0's end: every live worker told to stop (also at exit()). */
static void stop_workers(void)
{
    if (g_stopped || g_rank != 0)
        return;
    g_stopped = 1;
    /* the time split per rank: what each worker measured, and how long */
    for (int r = 1; r < g_size; r++)
        if (W[r].chunks)
            fprintf(stderr, "transtune-mpi: rank %d: %d chunks, %d candidates, build %.1f s, run %.1f s%s\n", r,
                    W[r].chunks, W[r].items, W[r].build_s, W[r].run_s, W[r].live ? "" : " (given up)");
    for (int r = 1; r < g_size; r++)
        if (W[r].live)
            MPI_Send("", 0, MPI_BYTE, r, TAG_STOP, MPI_COMM_WORLD);
    finalize();
}

int main(int argc, char **argv)
{
    int provided = 0;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_SERIALIZED, &provided);
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    char mine[CLASS_LEN] = "", *all = g_rank == 0 ? tt_xcalloc((size_t)g_size, CLASS_LEN) : NULL;
    cpu_class(mine, sizeof mine);
    MPI_Gather(mine, CLASS_LEN, MPI_CHAR, all, CLASS_LEN, MPI_CHAR, 0, MPI_COMM_WORLD);
    if (g_rank != 0) {
        int rc = provided >= MPI_THREAD_SERIALIZED ? worker() : 1;
        g_exit_rc = rc;
        finalize();
        return rc;
    }
    W = tt_xcalloc((size_t)g_size, sizeof *W);
    for (int r = 1; r < g_size; r++) {
        tt_str_init(&W[r].msg);
        W[r].chunk = -1;
        if (!strcmp(all + (size_t)r * CLASS_LEN, mine)) {
            W[r].live = 1;
            continue;
        }
        char why[3 * CLASS_LEN];
        snprintf(why, sizeof why, "refused: its CPU class (%s) differs from rank 0's (%s)", all + (size_t)r * CLASS_LEN,
                 mine);
        fprintf(stderr, "transtune-mpi: rank %d %s\n", r, why);
        MPI_Send(why, (int)strlen(why), MPI_BYTE, r, TAG_STOP, MPI_COMM_WORLD);
    }
    free(all);
    if (provided < MPI_THREAD_SERIALIZED) {
        fprintf(stderr, "transtune-mpi: this MPI does not give MPI_THREAD_SERIALIZED (the workers' heartbeats)\n");
        for (int r = 1; r < g_size; r++)
            W[r].live = 0;
    }
    fprintf(stderr, "transtune-mpi: %d rank(s), %d worker(s) measuring (%s)\n", g_size, live_workers(), mine);
    tt_evaluate_set_backend(mpi_backend, NULL);
    g_exit_rc = 1; /* an exit() inside the command: its status is not known here */
    atexit(stop_workers);
    int rc = transtune_main(argc, argv);
    g_exit_rc = rc;
    stop_workers();
    return rc;
}
