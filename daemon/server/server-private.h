/* SPDX-License-Identifier: MIT */
/* server: bt-spyd's event loop. One poll() loop serves the listening
 * socket, every client and every session (each polled with
 * bts_session_poll(s, 0) on a 10 ms tick), and the watcher. */
#pragma once

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
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

struct bts_server_opts {
    const char *socket_path; /* bound unless listen_fd >= 0 */
    int listen_fd;           /* an inherited listening socket (systemd), or -1 */
    mode_t mode;             /* the socket's mode, e.g. 0660 */
    gid_t gid;               /* the socket's group, or (gid_t)-1 to leave it */
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
 * <name>-<pid>-<start>.folded (atomically). Returns how many were written. */
int bts_server_save_sessions(struct bts_server *srv, const char *dir);

/* Disconnects every client, frees every session (stopping it), closes the
 * socket and removes it when we created it. NULL is a no-op. */
void bts_server_free(struct bts_server *srv);

/* Writes text to dir/name atomically (a temporary beside it, then
 * rename). 0 or -errno. Shared with the watcher. */
int bts_spool_write(const char *dir, const char *name, const char *text, size_t len);

/* "<comm>-<pid>-<start>" where start is the process's start time in Unix
 * seconds, for profile file names. */
void bts_profile_stem(pid_t pid, const char *comm, char *out, size_t out_len);
