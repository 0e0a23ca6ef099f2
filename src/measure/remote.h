/* remote.h - measuring on another machine: `transtune-runner --listen` on the
 * device, and on the host a backend of tt_evaluate that builds the jobs here
 * and sends their shared objects there to be run and checked by the device's
 * runner, with the protocol of local measurement.
 *
 * Wire (TCP; version 1): the server opens with "TTRR", u32 version, a 32-byte
 * random nonce and its CPU class (u32 length + text).  Then every message,
 * either way, is u32 length, payload, and HMAC-SHA256(key, direction ||
 * nonce || u64 sequence || payload): a client without the key can make the
 * server run nothing, a message replayed or moved to another connection
 * fails its tag, and the host believes only results the device signed.
 * Payloads: host -> device "JOBS" + u32 length + the jobs packed without
 * sources (tt_jobs_pack, built mode) + per job its shared objects (reference,
 * anchor, items: u32 length + bytes, 0 = none); device -> host "RSLT" + the
 * jobs' results, or "FAIL" + a message.  Every length is bounded
 * (TT_REMOTE_MAX_MSG); a malformed, oversized, truncated or unauthenticated
 * message ends its connection and nothing else: the server goes on.
 */
#ifndef TT_REMOTE_H
#define TT_REMOTE_H

#include "evaluate.h"

#define TT_REMOTE_VERSION 1u
/* The largest message either side accepts (bytes). */
#define TT_REMOTE_MAX_MSG ((uint32_t)256 << 20)

typedef struct tt_remote tt_remote;

/* Read a key file: its bytes, a trailing newline dropped, at least 16 of them. */
int tt_remote_read_key(const char *path, unsigned char *key, size_t cap, size_t *len, tt_err *err);

/* Connect to url ("tcp://HOST:PORT") with the key in key_path. */
int tt_remote_open(const char *url, const char *key_path, tt_remote **out, tt_err *err);
/* The device's CPU class, as its runner reported it. */
const char *tt_remote_class(const tt_remote *r);
void tt_remote_close(tt_remote *r);

/* The backend (tt_evaluate_set_backend, ctx a tt_remote): every job built
 * here, its built items measured on the device. */
int tt_remote_backend(void *ctx, tt_job *jobs, int n, const tt_build_opts *bo, const tt_run_opts *ro,
                      tt_eval_progress progress, void *pctx, tt_err *err);

/* Serve on addr ("HOST:PORT"; HOST a numeric address, 127.0.0.1 unless told
 * otherwise), one connection at a time, until max_conns connections have
 * ended (0: forever).  Progress lines on stderr. */
int tt_remote_serve(const char *addr, const char *key_path, int max_conns, tt_err *err);

#endif
