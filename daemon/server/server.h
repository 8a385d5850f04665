/* SPDX-License-Identifier: MIT */
/* server: bt-spyd's event loop. One poll() loop serves the listening
 * socket, every client and every session (each polled with
 * bts_session_poll(s, 0) on a 10 ms tick), and the watcher. */
#pragma once

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "log.h"

/* What one uid may hold at once, and how long a client may take. Root is
 * exempt from the per-uid caps (not from the table sizes). */
#define BTS_SERVER_MAX_CLIENTS              128 /* connections in all */
#define BTS_SERVER_MAX_SESSIONS             64  /* sessions in all */
#define BTS_SERVER_DEFAULT_CLIENTS_PER_UID  16
#define BTS_SERVER_DEFAULT_SESSIONS_PER_UID 8
#define BTS_SERVER_MESSAGE_MS               2000 /* from a message's first byte to its last */
#define BTS_SERVER_HELLO_MS                 5000 /* from accept to a Hello */

/* Expensive work each uid may ask for (root is exempt): a budget of units
 * a second, of which up to a burst may be spent at once. A thread dump
 * stops every thread of its target; a snapshot or a stream update with
 * stacks writes the whole profile out. */
#define BTS_SERVER_WORK_UNITS_PER_S 20
#define BTS_SERVER_WORK_UNITS_BURST 20
#define BTS_SERVER_DUMP_COST        5
#define BTS_SERVER_SNAPSHOT_COST    1 /* also a stream update with stacks */

/* Reply bytes a client may leave unread before it gets no more: past this
 * its connection is dropped (a stream update just waits for the last one
 * to be read). A reply larger than the budget still goes to a client with
 * nothing unread. Root is exempt from the per-uid figure only. */
#define BTS_SERVER_UNSENT_PER_CLIENT (1u << 20)
#define BTS_SERVER_UNSENT_PER_UID    (32u << 20)

struct bts_server_opts {
    const char *socket_path;     /* bound unless listen_fd >= 0 */
    int listen_fd;               /* an inherited listening socket (systemd), or -1 */
    mode_t mode;                 /* the socket's mode, e.g. 0660 */
    gid_t gid;                   /* the socket's group, or (gid_t)-1 to leave it */
    unsigned clients_per_uid;    /* 0: BTS_SERVER_DEFAULT_CLIENTS_PER_UID */
    unsigned sessions_per_uid;   /* 0: BTS_SERVER_DEFAULT_SESSIONS_PER_UID */
    unsigned message_ms;         /* 0: BTS_SERVER_MESSAGE_MS (tests shorten them) */
    unsigned hello_ms;           /* 0: BTS_SERVER_HELLO_MS */
    bool no_launch;              /* refuse to launch commands: attach only */
    gid_t spool_gid;             /* profiles saved at shutdown: this group may read
                                  * them (0640), or (gid_t)-1: their owner only (0600) */
    struct rlimit launch_nofile; /* RLIMIT_NOFILE for launched commands; zero: ours */
    struct bts_log log;
};

struct bts_server;
struct bts_watch;

/* Binds (refusing when another daemon answers on the path; a stale socket
 * is replaced) and listens. NULL + errno; why says what failed. */
struct bts_server *bts_server_new(const struct bts_server_opts *o, char *why, size_t why_len);

/* Lets the loop drive a watcher too (owned by the caller). */
void bts_server_set_watch(struct bts_server *srv, struct bts_watch *w);

/* Serves until *stop becomes non-zero (checked at least every 50 ms).
 * 0, or -errno when the loop itself cannot go on (poll failed). */
int bts_server_run(struct bts_server *srv, volatile sig_atomic_t *stop);

/* Writes the folded stacks of every open session with samples into dir as
 * <name>-<pid>-<start>.folded (atomically), each owned by the session's
 * uid. Returns how many were written. */
int bts_server_save_sessions(struct bts_server *srv, const char *dir);

/* Disconnects every client, frees every session (stopping it), closes the
 * socket and removes it when we created it. NULL is a no-op. */
void bts_server_free(struct bts_server *srv);
