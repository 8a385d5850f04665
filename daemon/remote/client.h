/* SPDX-License-Identifier: MIT */
/* client: the client side of bt-spyd's protocol. The profiler facade
 * (profiler.h) runs sessions through it; bt-spy dump and the tests use the
 * calls below directly. No call waits without a deadline. */
#pragma once

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "protocol.h"
#include "session.h"
#include "thread-dump.h"

/* Connecting and the Hello answer together take at most this long. */
#define BTS_CLIENT_CONNECT_MS 5000
/* Any other answer, and the silence between a session's stream updates
 * (the daemon sends one every 100 ms), may last at most this long. */
#define BTS_CLIENT_ANSWER_MS 10000

/* One connection to bt-spyd, after the version handshake. */
struct bts_client;

/* Connects to the daemon's socket and says Hello, within
 * BTS_CLIENT_CONNECT_MS. interrupt, when not NULL, is a flag a signal
 * handler sets: a wait that a signal interrupts while it is non-zero ends
 * with -EINTR (this connection's later calls keep watching it; see
 * bts_client_set_interrupt). 0 or -errno; on failure why holds a lowercase
 * sentence that says whether a daemon answered ("bt-spyd refused the
 * connection: ...", "no daemon listens on '/run/bt-spy/bt-spy.sock'") and
 * hint the fix when one is known (either may be empty). */
int bts_client_connect(const char *socket_path, const char *client_name,
                       const volatile sig_atomic_t *interrupt, struct bts_client **out, char *why,
                       size_t why_len, char *hint, size_t hint_len);
void bts_client_free(struct bts_client *c);

/* Changes (or, with NULL, drops) the flag that interrupts waits. */
void bts_client_set_interrupt(struct bts_client *c, const volatile sig_atomic_t *interrupt);

/* Sends req and returns its reply (not a StreamUpdate) in *reply, to free
 * with btspy__reply__free_unpacked(reply, NULL). StreamUpdates that arrive
 * first go to on_update when set (and are freed after it returns); each
 * one restarts the BTS_CLIENT_ANSWER_MS deadline. 0 or -errno for a
 * transport or protocol failure (-ETIMEDOUT: no answer in time, -EINTR:
 * interrupted); the daemon's own error is (*reply)->error. */
int bts_client_call(struct bts_client *c, const Btspy__Request *req, Btspy__Reply **reply,
                    void (*on_update)(void *ctx, const Btspy__StreamUpdate *u), void *ctx);

/* The same, passing nfds descriptors (SCM_RIGHTS) with the request's first
 * byte. The caller keeps its descriptors. */
int bts_client_call_fds(struct bts_client *c, const Btspy__Request *req, const int *fds,
                        size_t nfds, Btspy__Reply **reply,
                        void (*on_update)(void *ctx, const Btspy__StreamUpdate *u), void *ctx);

/* Waits up to timeout_ms for one pushed message (a StreamUpdate).
 * 1 and *reply, 0 on timeout, or -errno (-ECONNRESET: the daemon went away,
 * -EINTR: interrupted). */
int bts_client_receive(struct bts_client *c, int timeout_ms, Btspy__Reply **reply);

/* Remote sessions: the bts_session_* calls of session.h, run by the daemon
 * (profiler.c dispatches to these; the semantics are the same). Every
 * session option travels in StartSession. A launched command gets this
 * process's environment, working directory and stdin/stdout/stderr. */
struct bts_client_session;
struct bts_client_session *bts_client_session_new(const char *socket_path,
                                                  const struct bts_session_opts *opts);
/* After poll returned an error, explain gives the daemon's reason for
 * ending the session, as bts_session_explain does locally.
 * While *interrupt is non-zero, a signal ends the start's waits (-EINTR).
 * Later calls are bounded by their deadlines only. */
void bts_client_session_set_interrupt(struct bts_client_session *r,
                                      const volatile sig_atomic_t *interrupt);
int bts_client_session_start(struct bts_client_session *r);
void bts_client_session_explain(const struct bts_client_session *r, const char **why,
                                const char **hint);
const char *bts_client_session_backend(const struct bts_client_session *r);
int bts_client_session_poll(struct bts_client_session *r, int timeout_ms);
void bts_client_session_stop(struct bts_client_session *r);
void bts_client_session_stats(const struct bts_client_session *r, struct bts_session_stats *out);
pid_t bts_client_session_pid(const struct bts_client_session *r);
int bts_client_session_write_folded(const struct bts_client_session *r, FILE *out);
/* A memory session's (stack, time bucket) counts, as
 * bts_session_foreach_bucket gives them (frames carry names only). -ENOTSUP
 * without memory or with subprocesses; else 0, -errno or the visitor's. */
int bts_client_session_foreach_bucket(const struct bts_client_session *r, bts_session_bucket_fn fn,
                                      void *ctx, uint64_t *bucket_ns);
void bts_client_session_free(struct bts_client_session *r);

/* A thread dump taken by the daemon: the data of thread-dump.h. */
struct bts_client_dump {
    pid_t pid;
    char *command;
    size_t nthreads;
    struct bts_thread_stack *threads; /* main thread first */
    char *python;                     /* CPython version read; NULL when none */
    char *python_note;                /* as bts_thread_dump_python_note; NULL when none */
};

/* Asks the daemon for `bt-spy dump --pid PID [--lines]` (Python stacks
 * included, no locals). 0 or -errno; on failure why/hint hold the daemon's
 * (or the transport's) reason. */
int bts_client_dump(const char *socket_path, pid_t pid, bool lines, struct bts_client_dump **out,
                    char *why, size_t why_len, char *hint, size_t hint_len);
/* The same with thread-dump.h's options. */
int bts_client_dump_take(const char *socket_path, pid_t pid,
                         const struct bts_thread_dump_opts *opts, struct bts_client_dump **out,
                         char *why, size_t why_len, char *hint, size_t hint_len);
void bts_client_dump_free(struct bts_client_dump *d);
