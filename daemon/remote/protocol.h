/* SPDX-License-Identifier: MIT */
/* protocol: bt-spyd's wire format. Frames are a 4-byte big-endian length and
 * a protobuf-c message (protos/btspy.proto); every decoded message is
 * validated before anyone reads it. Shared by the daemon and its clients. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "btspy.pb-c.h"
#include "session.h"

#define BTS_PROTOCOL_VERSION_MAJOR 1
/* Minor versions add fields a daemon that predates them ignores; a client
 * that needs one checks the daemon's minor first. 1: StartSession.memory
 * and fault_period, Snapshot.buckets, SessionStarted.start_ns. 2: the read
 * backend (StartSession.backend BACKEND_READ). 3: StartSession.native and
 * native_internal, Stats.native_*. */
#define BTS_PROTOCOL_VERSION_MINOR 3
#define BTS_PROTOCOL_MINOR_MEMORY  1
#define BTS_PROTOCOL_MINOR_READ    2
#define BTS_PROTOCOL_MINOR_NATIVE  3

#define BTS_PROTOCOL_MAX_REQUEST (64u * 1024)        /* client -> daemon */
#define BTS_PROTOCOL_MAX_REPLY   (16u * 1024 * 1024) /* daemon -> client */
#define BTS_PROTOCOL_MAX_ARGV    256                 /* arguments of a launched command */
#define BTS_PROTOCOL_MAX_ARG     4096                /* bytes per argument, and for cwd */
#define BTS_PROTOCOL_MAX_NAME    64                  /* client name */
#define BTS_PROTOCOL_MAX_TEXT    1024                /* reason and hint */
#define BTS_PROTOCOL_MAX_ENV     1024                /* environment entries of a launched command */
#define BTS_PROTOCOL_MAX_FDS     3                   /* descriptors with one request: stdio */
#define BTS_PROTOCOL_MAX_THREADS 65536               /* threads in a dump reply */
#define BTS_PROTOCOL_MAX_FRAMES  1024                /* frames per dumped thread */
#define BTS_PROTOCOL_MAX_LOCALS  256                 /* locals per dumped Python frame */

/* Accumulates bytes from a stream and cuts them into frames. */
struct bts_frame_reader;

/* max_message: the largest message accepted (its length prefix excluded).
 * NULL + errno. */
struct bts_frame_reader *bts_frame_reader_new(size_t max_message);
void bts_frame_reader_free(struct bts_frame_reader *r);

/* Appends n bytes. 0 or -ENOMEM. */
int bts_frame_reader_feed(struct bts_frame_reader *r, const void *data, size_t n);

/* Reads what a non-blocking or blocking fd has (one read()). Returns the
 * number of bytes read, 0 at end of file, or -errno (-EAGAIN: nothing yet).
 * Descriptors passed with the bytes (SCM_RIGHTS) are closed. */
long bts_frame_reader_fill(struct bts_frame_reader *r, int fd);

/* The same for a unix socket, keeping descriptors that came with the bytes:
 * up to max_fds are appended to fds[*nfds..] (close-on-exec) and *nfds
 * grows; any beyond that are closed. */
long bts_frame_reader_fill_fds(struct bts_frame_reader *r, int fd, int *fds, size_t max_fds,
                               size_t *nfds);

/* Takes the next complete message: 1 and *msg and *len (valid until the next
 * call on r), 0 when more bytes are needed, -EMSGSIZE when the announced
 * length exceeds the maximum (the stream cannot be resynchronised). */
int bts_frame_reader_next(struct bts_frame_reader *r, const uint8_t **msg, size_t *len);

/* Bytes buffered but not yet returned as messages. */
size_t bts_frame_reader_pending(const struct bts_frame_reader *r);

/* Packs req or reply behind a length prefix into a new buffer (free()).
 * 0, -EMSGSIZE above the direction's maximum, or -ENOMEM. */
int bts_protocol_frame_request(const Btspy__Request *req, uint8_t **out, size_t *len);
int bts_protocol_frame_reply(const Btspy__Reply *reply, uint8_t **out, size_t *len);

/* Unpacks and validates one message. NULL + errno (EBADMSG: not a valid
 * message; EINVAL: a field is out of range) with a lowercase reason in why.
 * Free with btspy__request__free_unpacked(m, NULL), or the reply's. */
Btspy__Request *bts_protocol_decode_request(const uint8_t *msg, size_t len, char *why,
                                            size_t why_len);
Btspy__Reply *bts_protocol_decode_reply(const uint8_t *msg, size_t len, char *why, size_t why_len);

/* Validation alone, for messages built in memory. 0 or -EINVAL + why. */
int bts_protocol_validate_request(const Btspy__Request *req, char *why, size_t why_len);
int bts_protocol_validate_reply(const Btspy__Reply *reply, char *why, size_t why_len);

/* The session options as a StartSession, field by field (pid, argv and
 * every sampling option; argv points into opts). cwd, env and stdio are
 * the launching side's business and are left as they are. */
void bts_protocol_start_from_opts(const struct bts_session_opts *opts, Btspy__StartSession *st);

/* The reverse, for the daemon: sets every sampling option of *opts (pid,
 * rate, backend, unwind, stack size, threads, idle, lines, subprocesses)
 * from a validated StartSession. The rest of *opts is the daemon's and is
 * left as it is: argv (protobuf-c's is not NULL-terminated), the launch
 * hook, the guard. */
void bts_protocol_opts_from_start(const Btspy__StartSession *st, struct bts_session_opts *opts);

/* strerror(err) lowercased for reasons and logs ("permission denied"), in
 * a per-thread buffer valid until the next call. err may be negative. */
const char *bts_protocol_strerror(int err);

/* Writes all of buf to a blocking fd (a socket: without SIGPIPE), retrying
 * on EINTR. 0 or -errno. */
int bts_protocol_write_all(int fd, const void *buf, size_t len);
