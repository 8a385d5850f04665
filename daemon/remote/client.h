/* SPDX-License-Identifier: MIT */
/* client: the client side of bt-spyd's protocol. bts_session_* run remotely
 * through it when bts_session_opts.connect_path is set; bt-spy dump and the
 * tests use the calls below directly. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "protocol.h"
#include "session.h"
#include "thread-dump.h"

/* One connection to bt-spyd, after the version handshake. */
struct bts_client;

/* Connects to the daemon's socket and says Hello. 0 or -errno; on failure
 * why holds a lowercase sentence (e.g. "bt-spyd speaks protocol 2.0, this
 * client 1.0" or "no daemon listens on '/run/bt-spy/bt-spy.sock'"). */
int bts_client_connect(const char *socket_path, const char *client_name, struct bts_client **out,
                       char *why, size_t why_len);
void bts_client_free(struct bts_client *c);

/* The socket, for poll(). */
int bts_client_fd(const struct bts_client *c);

/* Sends req and returns its reply (not a StreamUpdate) in *reply, to free
 * with btspy__reply__free_unpacked(reply, NULL). StreamUpdates that arrive
 * first go to on_update when set (and are freed after it returns).
 * 0 or -errno for a transport or protocol failure; the daemon's own error
 * is (*reply)->error. */
int bts_client_call(struct bts_client *c, const Btspy__Request *req, Btspy__Reply **reply,
                    void (*on_update)(void *ctx, const Btspy__StreamUpdate *u), void *ctx);

/* Waits up to timeout_ms for one pushed message (a StreamUpdate).
 * 1 and *reply, 0 on timeout, or -errno (-ECONNRESET: the daemon went away). */
int bts_client_receive(struct bts_client *c, int timeout_ms, Btspy__Reply **reply);

/* Remote sessions: the bts_session_* calls of session.h, run by the daemon.
 * session.c dispatches to these; the semantics are the same. */
struct bts_client_session;
struct bts_client_session *bts_client_session_new(const char *socket_path,
                                                  const struct bts_session_opts *opts);
int bts_client_session_start(struct bts_client_session *r);
void bts_client_session_explain(const struct bts_client_session *r, const char **why,
                                const char **hint);
const char *bts_client_session_backend(const struct bts_client_session *r);
int bts_client_session_poll(struct bts_client_session *r, int timeout_ms);
void bts_client_session_stop(struct bts_client_session *r);
void bts_client_session_stats(const struct bts_client_session *r, struct bts_session_stats *out);
pid_t bts_client_session_pid(const struct bts_client_session *r);
int bts_client_session_write_folded(const struct bts_client_session *r, FILE *out);
void bts_client_session_free(struct bts_client_session *r);

/* A thread dump taken by the daemon: the data of thread-dump.h. */
struct bts_client_dump {
    pid_t pid;
    char *command;
    size_t nthreads;
    struct bts_thread_stack *threads; /* main thread first */
};

/* Asks the daemon for `bt-spy dump --pid PID [--lines]`. 0 or -errno;
 * on failure why/hint hold the daemon's (or the transport's) reason. */
int bts_client_dump(const char *socket_path, pid_t pid, bool lines, struct bts_client_dump **out,
                    char *why, size_t why_len, char *hint, size_t hint_len);
void bts_client_dump_free(struct bts_client_dump *d);
