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

enum bts_log_level {
    BTS_LOG_ERROR = 0,
    BTS_LOG_WARN,
    BTS_LOG_INFO,
    BTS_LOG_DEBUG,
};

/* Where the daemon's library code sends its log lines (it never prints). */
struct bts_log {
    void (*write)(void *ctx, enum bts_log_level level, const char *msg);
    void *ctx;
};

void bts_log_printf(const struct bts_log *log, enum bts_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* What one uid may hold at once, and how long a client may take. Root is
 * exempt from the per-uid caps (not from the table sizes). */
#define BTS_SERVER_MAX_CLIENTS              128 /* connections in all */
#define BTS_SERVER_MAX_SESSIONS             64  /* sessions in all */
#define BTS_SERVER_DEFAULT_CLIENTS_PER_UID  16
#define BTS_SERVER_DEFAULT_SESSIONS_PER_UID 8
#define BTS_SERVER_MESSAGE_MS               2000 /* from a message's first byte to its last */
#define BTS_SERVER_HELLO_MS                 5000 /* from accept to a Hello */

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

/* Who may read a profile in the spool: its uid, and gid when group_read. */
struct bts_spool_owner {
    uid_t uid;
    gid_t gid;
    bool group_read; /* 0640 with gid, else 0600 */
};

/* Writes text to dir/name atomically (a temporary beside it, then rename),
 * owned by owner->uid:gid with mode 0600 or 0640; when the daemon may not
 * give files away (not root), the file stays its own with mode 0600, so it
 * is never more open than asked. 0 or -errno. Shared with the watcher. */
int bts_spool_write(const char *dir, const char *name, const char *text, size_t len,
                    const struct bts_spool_owner *owner);

/* "<comm>-<pid>-<start>" where start is the process's start time in Unix
 * seconds, for profile file names. */
void bts_profile_stem(pid_t pid, const char *comm, char *out, size_t out_len);
