/* SPDX-License-Identifier: MIT */
/* server: bt-spyd's socket, clients, requests and in-process sessions.
 * Errors are -errno everywhere inside; the wire's positive errno is made
 * only in send_error. */
#define _GNU_SOURCE
#include "server.h"
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <malloc.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "authz.h"
#include "protocol.h"
#include "request-budget.h"
#include "session.h"
#include "thread-dump.h"
#include "spool.h"
#include "watch.h"

#define TICK_BUSY_MS 10
#define TICK_IDLE_MS 50

#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

struct client {
    int fd;
    uint64_t serial;
    struct bts_authz_peer peer;
    char name[BTS_PROTOCOL_MAX_NAME + 1];
    bool hello;
    bool closing; /* close once the queued output is sent */
    bool dead;
    int64_t accepted_ns;
    int64_t message_ns;            /* when the first byte of an unfinished message came, or 0 */
    int fds[BTS_PROTOCOL_MAX_FDS]; /* descriptors that came with the bytes read */
    size_t nfds;
    struct bts_frame_reader *rd;
    uint8_t *out;
    size_t out_len, out_off, out_cap;
    uint32_t stream_session; /* 0: no stream */
    unsigned stream_ms;
    bool stream_folded;
    int64_t stream_next_ns;
};

struct served_session {
    uint32_t id;
    struct bts_session *s;
    struct client *owner;
    uid_t owner_uid;
    gid_t owner_gid;
    struct bts_authz_target target;
    pid_t pid;
    bool launched;
    char comm[64];
    double duration_s;
    bool running;
    int error;                              /* -errno when sampling failed */
    char reason[BTS_PROTOCOL_MAX_TEXT + 1]; /* why the session ended, for its client */
    char reason_hint[BTS_PROTOCOL_MAX_TEXT + 1];
    struct bts_session_stats last; /* what fill_stats last sent (its strings travel from here) */
};

struct bts_server {
    struct bts_server_opts opts;
    char *path;
    bool bound; /* we created the socket file */
    int listen_fd;
    struct client **clients;
    size_t nclients;
    struct served_session **sessions;
    size_t nsessions;
    pid_t *orphans; /* launched commands whose session is gone: reaped here */
    size_t norphans;
    uint32_t next_id;
    uint64_t next_serial;
    int64_t start_ns;
    struct bts_watch *watch;
    struct pollfd *pfds;
    size_t cap_pfds;
    int64_t refusal_log_ns; /* refusals are logged at most once a second */
    unsigned refusals_unlogged;
    int64_t accept_paused_ns;          /* out of descriptors: accept again after this */
    struct bts_request_budget *budget; /* expensive requests, per uid */
};

#define LOG(srv, level, ...) bts_log_printf(&(srv)->opts.log, level, __VA_ARGS__)

/* Socket setup. */

static int bind_socket(struct bts_server *srv, char *why, size_t why_len)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd = -1, ret = 0;
    if (strlen(srv->path) >= sizeof(sa.sun_path)) {
        snprintf(why, why_len, "socket path '%s' is too long", srv->path);
        return -ENAMETOOLONG;
    }
    strcpy(sa.sun_path, srv->path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (lstat(srv->path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            snprintf(why, why_len, "'%s' exists and is not a socket", srv->path);
            ret = -EEXIST;
            goto out;
        }
        /* A socket nobody answers on is left over from a crash. */
        int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        bool alive = probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0;
        if (probe >= 0)
            close(probe);
        if (alive) {
            snprintf(why, why_len, "another bt-spyd listens on '%s'", srv->path);
            ret = -EADDRINUSE;
            goto out;
        }
        unlink(srv->path);
    }
    /* Created 0600 and only then opened up, so there is no window in which
     * the socket is more open than asked. */
    mode_t old = umask(0177);
    int r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
    umask(old);
    if (r < 0) {
        ret = -errno;
        snprintf(why, why_len, "cannot bind '%s': %s", srv->path, bts_protocol_strerror(-ret));
        goto out;
    }
    srv->bound = true;
    if (srv->opts.gid != (gid_t)-1 && chown(srv->path, (uid_t)-1, srv->opts.gid) < 0) {
        ret = -errno;
        snprintf(why, why_len, "cannot set the group of '%s': %s", srv->path,
                 bts_protocol_strerror(-ret));
        goto out;
    }
    if (chmod(srv->path, srv->opts.mode) < 0) {
        ret = -errno;
        snprintf(why, why_len, "cannot set the mode of '%s': %s", srv->path,
                 bts_protocol_strerror(-ret));
        goto out;
    }
    if (listen(fd, SOMAXCONN) < 0) {
        ret = -errno;
        snprintf(why, why_len, "cannot listen on '%s': %s", srv->path, bts_protocol_strerror(-ret));
        goto out;
    }
    srv->listen_fd = fd;
    fd = -1;
out:
    if (fd >= 0)
        close(fd);
    return ret;
}

struct bts_server *bts_server_new(const struct bts_server_opts *o, char *why, size_t why_len)
{
    struct bts_server *srv = calloc(1, sizeof(*srv));
    int ret = -ENOMEM;
    why[0] = '\0';
    if (!srv)
        goto out;
    srv->opts = *o;
    if (!srv->opts.clients_per_uid)
        srv->opts.clients_per_uid = BTS_SERVER_DEFAULT_CLIENTS_PER_UID;
    if (!srv->opts.sessions_per_uid)
        srv->opts.sessions_per_uid = BTS_SERVER_DEFAULT_SESSIONS_PER_UID;
    if (!srv->opts.message_ms)
        srv->opts.message_ms = BTS_SERVER_MESSAGE_MS;
    if (!srv->opts.hello_ms)
        srv->opts.hello_ms = BTS_SERVER_HELLO_MS;
    srv->listen_fd = -1;
    srv->next_id = 1;
    if (!(srv->budget =
              bts_request_budget_new(BTS_SERVER_WORK_UNITS_PER_S, BTS_SERVER_WORK_UNITS_BURST)))
        goto out;
    srv->start_ns = bts_proc_now_ns();
    srv->path = strdup(o->socket_path ? o->socket_path : "");
    if (!srv->path)
        goto out;
    if (o->listen_fd >= 0) {
        srv->listen_fd = o->listen_fd;
        int fl = fcntl(srv->listen_fd, F_GETFL);
        if (fl < 0 || fcntl(srv->listen_fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
            fcntl(srv->listen_fd, F_SETFD, FD_CLOEXEC) < 0) {
            ret = -errno;
            snprintf(why, why_len, "the inherited socket is unusable: %s",
                     bts_protocol_strerror(errno));
            goto out;
        }
        ret = 0;
    } else {
        ret = bind_socket(srv, why, why_len);
    }
out:
    if (ret < 0) {
        if (!why[0])
            snprintf(why, why_len, "%s", bts_protocol_strerror(-ret));
        bts_server_free(srv);
        errno = -ret;
        return NULL;
    }
    return srv;
}

void bts_server_set_watch(struct bts_server *srv, struct bts_watch *w)
{
    srv->watch = w;
}

/* Output queue. */

static size_t unsent(const struct client *c)
{
    return c->out_len - c->out_off;
}

/* Reply bytes queued and not yet read by all of uid's connections. */
static size_t uid_unsent(const struct bts_server *srv, uid_t uid)
{
    size_t n = 0;
    for (size_t i = 0; i < srv->nclients; i++)
        n += srv->clients[i]->peer.uid == uid ? unsent(srv->clients[i]) : 0;
    return n;
}

/* A client that has not read what it was sent gets no more: its
 * connection is dropped rather than the daemon buffering for it. One
 * reply is always queued on top of what is within budget, so a snapshot
 * larger than the budget still goes to a client that reads. */
static void queue_bytes(struct bts_server *srv, struct client *c, const uint8_t *buf, size_t len)
{
    if (c->dead)
        return;
    size_t mine = unsent(c), uid_total = c->peer.uid ? uid_unsent(srv, c->peer.uid) : 0;
    if (mine > BTS_SERVER_UNSENT_PER_CLIENT || uid_total > BTS_SERVER_UNSENT_PER_UID) {
        LOG(srv, BTS_LOG_WARN,
            "client %llu (uid %u) reads too slowly: %zu bytes unread on this connection, %zu "
            "on the user's (at most %u and %u): disconnected",
            (unsigned long long)c->serial, (unsigned)c->peer.uid, mine, uid_total,
            BTS_SERVER_UNSENT_PER_CLIENT, BTS_SERVER_UNSENT_PER_UID);
        c->dead = true;
        return;
    }
    if (c->out_off && c->out_off == c->out_len)
        c->out_off = c->out_len = 0;
    if (c->out_len + len > c->out_cap) {
        if (c->out_off) {
            memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
            c->out_len -= c->out_off;
            c->out_off = 0;
        }
        size_t cap = c->out_cap ? c->out_cap : 4096;
        while (cap < c->out_len + len)
            cap *= 2;
        uint8_t *nb = realloc(c->out, cap);
        if (!nb) {
            c->dead = true;
            return;
        }
        c->out = nb;
        c->out_cap = cap;
    }
    memcpy(c->out + c->out_len, buf, len);
    c->out_len += len;
}

static void send_reply(struct bts_server *srv, struct client *c, const Btspy__Reply *reply)
{
    uint8_t *buf;
    size_t len;
    int r = bts_protocol_frame_reply(reply, &buf, &len);
    if (r < 0) {
        Btspy__Reply err = BTSPY__REPLY__INIT;
        err.error = -r; /* the wire's errno is positive */
        err.reason = (char *)"the reply is too large to send";
        if (bts_protocol_frame_reply(&err, &buf, &len) < 0) {
            c->dead = true;
            return;
        }
    }
    queue_bytes(srv, c, buf, len);
    free(buf);
}

/* err is -errno; reason NULL: strerror's. */
static void send_error(struct bts_server *srv, struct client *c, int err, const char *reason,
                       const char *hint)
{
    Btspy__Reply reply = BTSPY__REPLY__INIT;
    reply.error = -err; /* the wire's errno is positive */
    reply.reason = (char *)(reason ? reason : bts_protocol_strerror(err));
    reply.hint = (char *)(hint ? hint : "");
    send_reply(srv, c, &reply);
}

static void flush_client(struct client *c)
{
    while (!c->dead && c->out_off < c->out_len) {
        ssize_t n =
            send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n <= 0) {
            c->dead = true;
            return;
        }
        c->out_off += (size_t)n;
    }
    if (c->out_off == c->out_len && c->closing)
        c->dead = true;
}

/* Sessions. */

static void fill_stats(struct served_session *ss, Btspy__Stats *out)
{
    struct bts_session_stats st;
    bts_session_stats(ss->s, &st);
    ss->last = st;
    out->samples = st.samples;
    out->lost = st.lost;
    out->failed = st.failed;
    out->threads = st.threads;
    out->threads_seen = st.threads_seen;
    out->elapsed_s = st.elapsed_s;
    out->target_exited = st.target_exited;
    out->exit_status = st.exit_status;
    out->stopped = !ss->running && !st.target_exited;
    out->error = -ss->error; /* ss->error is -errno, the wire's positive */
    out->reason = (char *)ss->reason;
    out->hint = (char *)ss->reason_hint;
    out->python_samples = st.python_samples;
    out->python_reads = st.python_reads;
    out->python_read_ns = st.python_read_ns;
    out->python_errors = st.python_errors;
    out->python_late = st.python_late;
    out->gil_dropped = st.gil_dropped;
    out->python_found = st.python_found;
    out->python_version = ss->last.python_version;
    out->python_notes = st.python_notes;
    out->python_note = ss->last.python_note;
    out->native_merged = st.native_merged;
    out->native_torn = st.native_torn;
    out->native_torn_late = st.native_torn_late;
    out->native_unknown = st.native_unknown;
    out->native_stopped = st.native_stopped;
    out->native_stop_ns = st.native_stop_ns;
    out->native_torn_count = st.native_torn_count;
    out->native_torn_frame = st.native_torn_frame;
    out->native_torn_code = st.native_torn_code;
    out->native_torn_learning = st.native_torn_learning;
    out->native_torn_stack = st.native_torn_stack;
    out->native_partial = st.native_partial;
    out->native_captured = st.native_captured;
    out->native_captured_torn = st.native_captured_torn;
    out->python_captured = st.python_captured;
    out->python_capture_missing = st.python_capture_missing;
    out->python_capture_unusable = st.python_capture_unusable;
    out->capture_errno = st.capture_errno;
}

static void free_session(struct bts_server *srv, struct served_session *ss)
{
    if (!ss)
        return;
    struct bts_session_stats st;
    bts_session_stats(ss->s, &st);
    bts_session_free(ss->s);
    /* A launched command outlives its session; reap it when it ends. */
    if (ss->launched && !st.target_exited && ss->pid > 0) {
        pid_t *np = realloc(srv->orphans, (srv->norphans + 1) * sizeof(*np));
        if (np) {
            srv->orphans = np;
            srv->orphans[srv->norphans++] = ss->pid;
        }
    }
    bts_authz_target_release(&ss->target);
    free(ss);
    malloc_trim(0); /* see watch.c: keep a long-running daemon's RSS flat */
}

static struct served_session *find_session(struct bts_server *srv, uint32_t id)
{
    for (size_t i = 0; i < srv->nsessions; i++) {
        if (srv->sessions[i]->id == id)
            return srv->sessions[i];
    }
    return NULL;
}

/* The session for a stop, snapshot or stream request, if the client may
 * touch it (its owner's uid, or root); otherwise replies the refusal. */
static struct served_session *session_for(struct bts_server *srv, struct client *c, uint32_t id)
{
    char why[128];
    struct served_session *ss = find_session(srv, id);
    if (!ss) {
        snprintf(why, sizeof(why), "no session %u", id);
        send_error(srv, c, -ENOENT, why, NULL);
        return NULL;
    }
    if (c->peer.uid != 0 && c->peer.uid != ss->owner_uid) {
        snprintf(why, sizeof(why), "session %u belongs to uid %u, you are uid %u", id,
                 (unsigned)ss->owner_uid, (unsigned)c->peer.uid);
        send_error(srv, c, -EPERM, why, NULL);
        return NULL;
    }
    return ss;
}

static void read_comm(pid_t pid, char *out, size_t len)
{
    if (bts_proc_comm(pid, 0, out, len) < 0)
        snprintf(out, len, "pid");
}

/* What a launched command takes from its client, applied in the child
 * between fork and exec: async-signal-safe calls only, everything
 * prepared by the parent. */
struct launch_as {
    bool drop_ids; /* take uid/gid, no supplementary groups */
    uid_t uid;
    gid_t gid;
    const char *cwd;      /* the client's directory, entered after dropping ids */
    char **envp;          /* the client's environment (NULL-terminated) */
    int stdio[3];         /* the client's stdin, stdout, stderr, or /dev/null */
    int highest_fd;       /* the highest descriptor open in the daemon */
    struct rlimit nofile; /* the limit bt-spyd started with (it raises its own) */
};

/* Every descriptor from 3 up closes at exec: the daemon's sockets, pipes
 * and whatever it inherited stay out of the command. close_range (Linux
 * 5.11) marks them in one call; the loop covers older kernels. */
static void cloexec_from_3(int highest)
{
    if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
        return;
    for (int fd = 3; fd <= highest; fd++)
        fcntl(fd, F_SETFD, FD_CLOEXEC);
}

static int launch_as_client(void *ctx)
{
    const struct launch_as *as = ctx;
    extern char **environ;

    /* Its own session: no controlling terminal of the daemon's. */
    setsid();
    if (as->drop_ids && (setgroups(0, NULL) < 0 || setresgid(as->gid, as->gid, as->gid) < 0 ||
                         setresuid(as->uid, as->uid, as->uid) < 0))
        return -errno;
    if (as->cwd && chdir(as->cwd) < 0)
        return -errno;
    for (int i = 0; i < 3; i++) {
        if (as->stdio[i] == i ? fcntl(i, F_SETFD, 0) < 0 : dup2(as->stdio[i], i) < 0)
            return -errno;
    }
    cloexec_from_3(as->highest_fd);
    if (setrlimit(RLIMIT_NOFILE, &as->nofile) < 0)
        return -errno;
    signal(SIGPIPE, SIG_DFL); /* the daemon ignores it; the command must not */
    environ = as->envp;       /* execvp searches the client's PATH too */
    return 0;
}

/* The highest descriptor open now (for the fallback of cloexec_from_3). */
static int highest_open_fd(void)
{
    int highest = 1024;
    DIR *d = opendir("/proc/self/fd");
    struct dirent *de;
    if (!d)
        return 65536;
    while ((de = readdir(d))) {
        int fd = atoi(de->d_name);
        if (fd > highest)
            highest = fd;
    }
    closedir(d);
    return highest + 64; /* and what the session opens before forking */
}

static void close_client_fds(struct client *c)
{
    for (size_t i = 0; i < c->nfds; i++)
        close(c->fds[i]);
    c->nfds = 0;
}

/* Sessions the uid holds. */
static size_t uid_sessions(const struct bts_server *srv, uid_t uid)
{
    size_t n = 0;
    for (size_t i = 0; i < srv->nsessions; i++)
        n += srv->sessions[i]->owner_uid == uid;
    return n;
}

/* 0 when the client may open one more session, else -EBUSY with why. */
static int check_session_quota(const struct bts_server *srv, const struct client *c, char *why,
                               size_t why_len)
{
    size_t mine = uid_sessions(srv, c->peer.uid);
    if (c->peer.uid != 0 && mine >= srv->opts.sessions_per_uid) {
        snprintf(why, why_len, "uid %u has %zu sessions open, at most %u per user",
                 (unsigned)c->peer.uid, mine, srv->opts.sessions_per_uid);
        return -EBUSY;
    }
    if (srv->nsessions >= BTS_SERVER_MAX_SESSIONS) {
        snprintf(why, why_len, "bt-spyd runs %zu sessions, its most", srv->nsessions);
        return -EBUSY;
    }
    return 0;
}

/* Fills *as for launching st's command on c's behalf. 0 or -errno with
 * why and hint. The caller closes as->stdio and frees as->envp. */
static int prepare_launch(struct bts_server *srv, struct client *c, const Btspy__StartSession *st,
                          struct launch_as *as, char *why, size_t why_len, char *hint,
                          size_t hint_len)
{
    *as = (struct launch_as){.cwd = st->cwd[0] ? st->cwd : NULL, .stdio = {-1, -1, -1}};
    if (srv->opts.no_launch) {
        snprintf(why, why_len, "this bt-spyd does not launch commands (--no-launch)");
        snprintf(hint, hint_len, "start the command yourself and record it with --pid");
        return -EPERM;
    }
    if (geteuid() == 0) {
        /* Say why a directory is refused before anything is forked for
         * the session; the child's own chdir is what enforces it. */
        if (st->cwd[0] && c->peer.uid != 0) {
            int r = bts_authz_check_dir(&c->peer, st->cwd, why, why_len);
            if (r < 0) {
                snprintf(hint, hint_len, "run it from a directory uid %u can enter",
                         (unsigned)c->peer.uid);
                return r;
            }
        }
        /* Never run a client's command as root unless the client is root. */
        as->drop_ids = true;
        as->uid = c->peer.uid;
        as->gid = c->peer.gid;
    } else if (c->peer.uid != geteuid()) {
        snprintf(why, why_len, "bt-spyd runs as uid %u and cannot launch commands as uid %u",
                 (unsigned)geteuid(), (unsigned)c->peer.uid);
        return -EPERM;
    }
    if (st->stdio && c->nfds != 3) {
        snprintf(why, why_len,
                 "the request announced stdin, stdout and stderr but carried %zu descriptors",
                 c->nfds);
        return -EINVAL;
    }
    /* The command's output belongs to its client, never to the daemon's
     * log: without the client's streams it gets /dev/null. */
    for (int i = 0; i < 3; i++) {
        if (st->stdio) {
            as->stdio[i] = c->fds[i];
            c->fds[i] = -1;
        } else if ((as->stdio[i] = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0) {
            return -errno;
        }
    }
    if (st->stdio)
        c->nfds = 0;
    as->envp = calloc(st->n_env + 1, sizeof(char *));
    if (!as->envp)
        return -ENOMEM;
    memcpy(as->envp, st->env, st->n_env * sizeof(char *));
    as->highest_fd = highest_open_fd();
    as->nofile = srv->opts.launch_nofile;
    if (!as->nofile.rlim_cur && getrlimit(RLIMIT_NOFILE, &as->nofile) < 0)
        return -errno;
    return 0;
}

static void release_launch(struct launch_as *as)
{
    for (int i = 0; i < 3; i++) {
        if (as->stdio[i] >= 0)
            close(as->stdio[i]);
        as->stdio[i] = -1;
    }
    free(as->envp);
    as->envp = NULL;
}

/* Takes a started session into the table, owned by client c. */
static void add_session(struct bts_server *srv, struct client *c, struct served_session *ss,
                        const Btspy__StartSession *st)
{
    ss->id = srv->next_id++;
    if (!srv->next_id)
        srv->next_id = 1;
    ss->owner = c;
    ss->owner_uid = c->peer.uid;
    ss->owner_gid = c->peer.gid;
    ss->pid = bts_session_pid(ss->s);
    ss->launched = st->n_argv > 0;
    ss->duration_s = st->duration_s;
    ss->running = true;
    if (ss->launched) {
        const char *slash = strrchr(st->argv[0], '/');
        snprintf(ss->comm, sizeof(ss->comm), "%s", slash ? slash + 1 : st->argv[0]);
    } else {
        read_comm(ss->pid, ss->comm, sizeof(ss->comm));
    }
    srv->sessions[srv->nsessions++] = ss;
    LOG(srv, BTS_LOG_INFO, "session %u: uid %u profiles pid %d (%s) with %s", ss->id,
        (unsigned)c->peer.uid, (int)ss->pid, ss->comm, bts_session_backend(ss->s));
}

static void reply_started(struct bts_server *srv, struct client *c, const struct served_session *ss)
{
    Btspy__SessionStarted started = BTSPY__SESSION_STARTED__INIT;
    Btspy__Reply reply = BTSPY__REPLY__INIT;

    started.session_id = ss->id;
    started.pid = ss->pid;
    started.backend = (char *)bts_session_backend(ss->s);
    struct bts_session_stats st;
    bts_session_stats(ss->s, &st);
    started.start_ns = st.start_ns;
    reply.body_case = BTSPY__REPLY__BODY_STARTED;
    reply.started = &started;
    send_reply(srv, c, &reply);
}

static void handle_start(struct bts_server *srv, struct client *c, const Btspy__StartSession *st)
{
    char why[512] = "", hint[512] = "";
    struct served_session *ss = NULL;
    struct launch_as as = {.stdio = {-1, -1, -1}};
    char **argv = NULL;
    int err = check_session_quota(srv, c, why, sizeof(why));
    if (err < 0) {
        snprintf(hint, sizeof(hint), "stop one of this user's sessions first");
        goto fail;
    }
    ss = calloc(1, sizeof(*ss));
    struct served_session **grown =
        realloc(srv->sessions, (srv->nsessions + 1) * sizeof(*srv->sessions));
    if (grown)
        srv->sessions = grown;
    if (!ss || !grown) {
        err = -ENOMEM;
        goto fail;
    }
    ss->target.pidfd = -1;
    struct bts_session_opts so = {
        /* A client that is not root profiles its target only while the
         * target runs with exactly the client's ids (session.h). */
        .guard = c->peer.uid != 0,
        .guard_uid = c->peer.uid,
        .guard_gid = c->peer.gid,
    };
    /* Every sampling option as the client sent it, through the one mapping
     * check-protocol round-trips field by field (protocol.c); argv (below),
     * the launch hook and the guard are the daemon's. */
    bts_protocol_opts_from_start(st, &so);
    if (st->n_argv) {
        if ((err = prepare_launch(srv, c, st, &as, why, sizeof(why), hint, sizeof(hint))) < 0)
            goto fail;
        so.before_exec = launch_as_client;
        so.before_exec_ctx = &as;
        /* argv from protobuf-c is not NULL-terminated: copy it. */
        argv = calloc(st->n_argv + 1, sizeof(char *));
        if (!argv) {
            err = -ENOMEM;
            goto fail;
        }
        memcpy(argv, st->argv, st->n_argv * sizeof(char *));
        so.argv = argv;
    } else {
        err = bts_authz_check_pid(&c->peer, st->pid, &ss->target, why, sizeof(why), hint,
                                  sizeof(hint));
        if (err < 0)
            goto fail;
    }
    ss->s = bts_session_new(&so);
    if (!ss->s) {
        err = -errno;
        goto fail;
    }
    err = bts_session_start(ss->s);
    release_launch(&as); /* the child has its copies */
    if (err < 0) {
        const char *w, *h;
        bts_session_explain(ss->s, &w, &h);
        snprintf(why, sizeof(why), "%s", *w ? w : bts_protocol_strerror(err));
        snprintf(hint, sizeof(hint), "%s", h);
        goto fail;
    }
    if (!st->n_argv && !bts_authz_target_alive(&ss->target)) {
        snprintf(why, sizeof(why), "pid %d exited while it was being attached", (int)st->pid);
        err = -ESRCH;
        goto fail;
    }
    add_session(srv, c, ss, st);
    free(argv);
    reply_started(srv, c, ss);
    return;
fail:
    LOG(srv, BTS_LOG_INFO, "uid %u refused: %s", (unsigned)c->peer.uid,
        why[0] ? why : bts_protocol_strerror(err));
    send_error(srv, c, err ? err : -EIO, why[0] ? why : NULL, hint);
    release_launch(&as);
    if (ss) {
        bts_session_free(ss->s);
        bts_authz_target_release(&ss->target);
        free(ss);
    }
    free(argv);
}

static void send_stats(struct bts_server *srv, struct client *c, struct served_session *ss)
{
    Btspy__Stats stats = BTSPY__STATS__INIT;
    fill_stats(ss, &stats);
    Btspy__Reply reply = BTSPY__REPLY__INIT;
    reply.body_case = BTSPY__REPLY__BODY_STATS;
    reply.stats = &stats;
    send_reply(srv, c, &reply);
}

static void stop_session(struct bts_server *srv, struct served_session *ss, const char *why)
{
    if (!ss->running)
        return;
    bts_session_stop(ss->s);
    ss->running = false;
    LOG(srv, BTS_LOG_INFO, "session %u (pid %d): %s", ss->id, (int)ss->pid, why);
}

/* One (stack, bucket) of a memory session as SnapshotReply.buckets says. */
static int bucket_line(void *ctx, const char *root, const struct bts_session_frame *frames,
                       size_t n, uint64_t count, int64_t time_ms)
{
    FILE *out = ctx;

    fprintf(out, "%lld\t%s\t", (long long)time_ms, root ? root : "");
    for (size_t i = 0; i < n; i++)
        fprintf(out, "%s%s", i ? ";" : "", frames[i].name);
    fprintf(out, " %llu\n", (unsigned long long)count);
    return 0;
}

/* The folded text of a session, in a malloc'ed buffer; with bucket_ns, a
 * memory session's stacks per time bucket instead (SnapshotReply.buckets).
 * 0 or -errno (-ENOTSUP: no buckets). */
static int session_folded(const struct served_session *ss, char **text, size_t *len,
                          uint64_t *bucket_ns)
{
    *text = NULL;
    *len = 0;
    FILE *mem = open_memstream(text, len);
    if (!mem)
        return -errno;
    int r = bucket_ns ? bts_session_foreach_bucket(ss->s, bucket_line, mem, bucket_ns)
                      : bts_session_write_folded(ss->s, mem);
    if (fclose(mem) && !r)
        r = -errno;
    if (!r && *len > BTS_PROTOCOL_MAX_REPLY - 4096)
        r = -EMSGSIZE;
    if (r) {
        free(*text);
        *text = NULL;
        *len = 0;
    }
    return r;
}

static void handle_snapshot(struct bts_server *srv, struct client *c, const Btspy__Snapshot *sn)
{
    struct served_session *ss = session_for(srv, c, sn->session_id);
    uint32_t id = sn->session_id;
    uint64_t bucket_ns = 0;
    char *text = NULL;
    size_t len = 0;
    if (!ss)
        return;
    int r = session_folded(ss, &text, &len, sn->buckets ? &bucket_ns : NULL);
    if (r < 0) {
        send_error(srv, c, r,
                   r == -EMSGSIZE  ? "the profile is larger than a 16 MiB snapshot"
                   : r == -ENOTSUP ? "the session has no time buckets (not --memory, or "
                                     "--subprocesses)"
                                   : NULL,
                   NULL);
        return;
    }
    Btspy__Stats stats = BTSPY__STATS__INIT;
    fill_stats(ss, &stats);
    Btspy__SnapshotReply snap = BTSPY__SNAPSHOT_REPLY__INIT;
    snap.session_id = id;
    snap.stats = &stats;
    if (sn->buckets) {
        snap.buckets.data = (uint8_t *)text;
        snap.buckets.len = len;
        snap.bucket_ns = bucket_ns;
    } else {
        snap.folded.data = (uint8_t *)text;
        snap.folded.len = len;
    }
    Btspy__Reply reply = BTSPY__REPLY__INIT;
    reply.body_case = BTSPY__REPLY__BODY_SNAPSHOT;
    reply.snapshot = &snap;
    send_reply(srv, c, &reply);
    free(text);
}

static void push_update(struct bts_server *srv, struct client *c, struct served_session *ss)
{
    char *text = NULL;
    size_t len = 0;
    Btspy__Stats stats = BTSPY__STATS__INIT;
    fill_stats(ss, &stats);
    Btspy__StreamUpdate up = BTSPY__STREAM_UPDATE__INIT;
    up.session_id = ss->id;
    up.stats = &stats;
    if (c->stream_folded && session_folded(ss, &text, &len, NULL) == 0) {
        up.folded.data = (uint8_t *)text;
        up.folded.len = len;
        up.has_folded = true;
    }
    Btspy__Reply reply = BTSPY__REPLY__INIT;
    reply.body_case = BTSPY__REPLY__BODY_UPDATE;
    reply.update = &up;
    send_reply(srv, c, &reply);
    free(text);
}

static void handle_list(struct bts_server *srv, struct client *c)
{
    Btspy__SessionInfo *infos = calloc(srv->nsessions + 1, sizeof(*infos));
    Btspy__SessionInfo **ptrs = calloc(srv->nsessions + 1, sizeof(*ptrs));
    Btspy__Stats *stats = calloc(srv->nsessions + 1, sizeof(*stats));
    Btspy__SessionList list = BTSPY__SESSION_LIST__INIT;
    if (!infos || !ptrs || !stats) {
        send_error(srv, c, -ENOMEM, NULL, NULL);
        goto out;
    }
    for (size_t i = 0; i < srv->nsessions; i++) {
        struct served_session *ss = srv->sessions[i];
        if (c->peer.uid != 0 && c->peer.uid != ss->owner_uid)
            continue;
        Btspy__SessionInfo *si = &infos[list.n_sessions];
        btspy__session_info__init(si);
        btspy__stats__init(&stats[list.n_sessions]);
        fill_stats(ss, &stats[list.n_sessions]);
        si->session_id = ss->id;
        si->pid = ss->pid;
        si->owner_uid = ss->owner_uid;
        si->backend = (char *)bts_session_backend(ss->s);
        si->stats = &stats[list.n_sessions];
        ptrs[list.n_sessions++] = si;
    }
    list.sessions = ptrs;
    Btspy__Reply reply = BTSPY__REPLY__INIT;
    reply.body_case = BTSPY__REPLY__BODY_LIST;
    reply.list = &list;
    send_reply(srv, c, &reply);
out:
    free(infos);
    free(ptrs);
    free(stats);
}

static uint64_t rss_bytes(void)
{
    unsigned long size, resident;
    FILE *f = fopen("/proc/self/statm", "re");
    if (!f)
        return 0;
    int n = fscanf(f, "%lu %lu", &size, &resident);
    fclose(f);
    return n == 2 ? (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE) : 0;
}

static void handle_status(struct bts_server *srv, struct client *c)
{
    Btspy__StatusReply st = BTSPY__STATUS_REPLY__INIT;
    st.pid = getpid();
    st.uptime_s = (double)(bts_proc_now_ns() - srv->start_ns) / 1e9;
    st.sessions = (uint32_t)srv->nsessions;
    st.clients = (uint32_t)srv->nclients;
    st.rss_bytes = rss_bytes();
    st.watched = srv->watch ? bts_watch_count(srv->watch) : 0;
    Btspy__Reply reply = BTSPY__REPLY__INIT;
    reply.body_case = BTSPY__REPLY__BODY_STATUS;
    reply.status = &st;
    send_reply(srv, c, &reply);
}

/* The Python part of a dumped thread, as wire messages. The messages live
 * in `arena` (one calloc per thread, freed by the caller); strings point
 * into the dump. */
static int fill_python(const struct bts_thread_stack *t, Btspy__DumpThread *out, void **arena)
{
    size_t nlocals = 0;
    Btspy__DumpPythonFrame *frames, **frame_ptrs;
    Btspy__DumpLocal *locals, **local_ptrs;
    char *mem;

    out->python_state = (uint32_t)t->python_state;
    out->holds_gil = t->holds_gil;
    out->python_name = (char *)(t->python_name ? t->python_name : "");
    *arena = NULL;
    if (!t->n_python_frames)
        return 0;
    for (size_t k = 0; k < t->n_python_frames; k++)
        nlocals += t->python_frames[k].nlocals;
    mem = calloc(1, t->n_python_frames * (sizeof(*frames) + sizeof(*frame_ptrs)) +
                        nlocals * (sizeof(*locals) + sizeof(*local_ptrs)));
    if (!mem)
        return -ENOMEM;
    *arena = mem;
    frames = (Btspy__DumpPythonFrame *)mem;
    locals = (Btspy__DumpLocal *)(frames + t->n_python_frames);
    frame_ptrs = (Btspy__DumpPythonFrame **)(locals + nlocals);
    local_ptrs = (Btspy__DumpLocal **)(frame_ptrs + t->n_python_frames);
    for (size_t k = 0; k < t->n_python_frames; k++) {
        const struct bts_thread_python_frame *f = &t->python_frames[k];

        btspy__dump_python_frame__init(&frames[k]);
        frames[k].name = (char *)f->name;
        frames[k].filename = (char *)f->filename;
        frames[k].line = f->line;
        frames[k].n_locals = f->nlocals;
        frames[k].locals = local_ptrs;
        for (size_t j = 0; j < f->nlocals; j++) {
            btspy__dump_local__init(locals);
            locals->name = (char *)f->locals[j].name;
            locals->value = (char *)f->locals[j].value;
            *local_ptrs++ = locals++;
        }
        frame_ptrs[k] = &frames[k];
    }
    out->n_python_frames = t->n_python_frames;
    out->python_frames = frame_ptrs;
    return 0;
}

static void handle_dump(struct bts_server *srv, struct client *c, const Btspy__Dump *dm)
{
    char why[512], hint[512];
    struct bts_authz_target target;
    struct bts_thread_dump *d = NULL;
    Btspy__DumpThread *threads = NULL, **ptrs = NULL;
    void **arenas = NULL;
    size_t n = 0;
    struct bts_thread_dump_opts opts = {
        .lines = dm->lines, .python = !dm->no_python, .locals = dm->locals};
    int r = bts_authz_check_pid(&c->peer, dm->pid, &target, why, sizeof(why), hint, sizeof(hint));
    if (r < 0) {
        send_error(srv, c, r, why, hint);
        return;
    }
    r = bts_thread_dump_take(dm->pid, &opts, &d);
    if (r < 0) {
        bts_thread_dump_explain(dm->pid, r, why, sizeof(why), hint, sizeof(hint));
        send_error(srv, c, r, why[0] ? why : NULL, hint);
        goto out;
    }
    n = bts_thread_dump_count(d);
    threads = calloc(n + 1, sizeof(*threads));
    ptrs = calloc(n + 1, sizeof(*ptrs));
    arenas = calloc(n + 1, sizeof(*arenas));
    char(*states)[2] = calloc(n + 1, sizeof(*states));
    if (!threads || !ptrs || !states || !arenas) {
        free(states);
        send_error(srv, c, -ENOMEM, NULL, NULL);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const struct bts_thread_stack *t = bts_thread_dump_thread(d, i);
        btspy__dump_thread__init(&threads[i]);
        threads[i].tid = t->tid;
        threads[i].name = (char *)t->name;
        states[i][0] = t->state;
        threads[i].state = states[i];
        threads[i].error = t->error;
        threads[i].n_frames = t->nframes;
        threads[i].frames = (char **)t->frames;
        if (fill_python(t, &threads[i], &arenas[i]) < 0) {
            free(states);
            send_error(srv, c, -ENOMEM, NULL, NULL);
            goto out;
        }
        ptrs[i] = &threads[i];
    }
    Btspy__DumpReply dr = BTSPY__DUMP_REPLY__INIT;
    dr.pid = dm->pid;
    dr.command = (char *)bts_thread_dump_command(d);
    dr.n_threads = n;
    dr.threads = ptrs;
    dr.python = (char *)(bts_thread_dump_python(d) ? bts_thread_dump_python(d) : "");
    dr.python_note = (char *)(bts_thread_dump_python_note(d) ? bts_thread_dump_python_note(d) : "");
    Btspy__Reply reply = BTSPY__REPLY__INIT;
    reply.body_case = BTSPY__REPLY__BODY_DUMP;
    reply.dump = &dr;
    send_reply(srv, c, &reply);
    free(states);
out:
    for (size_t i = 0; arenas && i < n; i++)
        free(arenas[i]);
    free(arenas);
    free(threads);
    free(ptrs);
    bts_thread_dump_free(d);
    bts_authz_target_release(&target);
}

/* Spends `cost` units of the client's uid's budget for expensive work
 * (root has no budget). False when it has not that much left: the request
 * is refused with how long to wait. */
static bool spend(struct bts_server *srv, struct client *c, unsigned cost)
{
    int64_t wait_ns;
    char why[256], hint[128];
    if (c->peer.uid == 0 || bts_request_budget_take(srv->budget, c->peer.uid, cost,
                                                    bts_proc_now_ns(), &wait_ns) != -EAGAIN)
        return true;
    snprintf(why, sizeof(why),
             "uid %u asks for more than bt-spyd does for one user: %u units a second, a thread "
             "dump costs %u, a snapshot or a stream update with stacks %u",
             (unsigned)c->peer.uid, BTS_SERVER_WORK_UNITS_PER_S, BTS_SERVER_DUMP_COST,
             BTS_SERVER_SNAPSHOT_COST);
    snprintf(hint, sizeof(hint), "try again in %.1f s, or ask less often",
             (double)wait_ns / 1e9 + 0.05);
    LOG(srv, BTS_LOG_DEBUG, "client %llu (uid %u): refused: over its budget",
        (unsigned long long)c->serial, (unsigned)c->peer.uid);
    send_error(srv, c, -EAGAIN, why, hint);
    return false;
}

static void handle_hello(struct bts_server *srv, struct client *c, const Btspy__Hello *h)
{
    char why[160];
    if (h->version_major != BTS_PROTOCOL_VERSION_MAJOR) {
        snprintf(why, sizeof(why), "protocol version %u.%u is not supported: bt-spyd speaks %d.%d",
                 h->version_major, h->version_minor, BTS_PROTOCOL_VERSION_MAJOR,
                 BTS_PROTOCOL_VERSION_MINOR);
        send_error(srv, c, -EPROTONOSUPPORT, why, "use a bt-spy of the same version as bt-spyd");
        c->closing = true;
        return;
    }
    snprintf(c->name, sizeof(c->name), "%s", h->client_name);
    c->hello = true;
    Btspy__HelloReply hr = BTSPY__HELLO_REPLY__INIT;
    hr.version_major = BTS_PROTOCOL_VERSION_MAJOR;
    hr.version_minor = BTS_PROTOCOL_VERSION_MINOR;
    hr.daemon_pid = getpid();
    hr.client_uid = c->peer.uid;
    Btspy__Reply reply = BTSPY__REPLY__INIT;
    reply.body_case = BTSPY__REPLY__BODY_HELLO;
    reply.hello = &hr;
    send_reply(srv, c, &reply);
    LOG(srv, BTS_LOG_DEBUG, "client %llu: '%s', uid %u, pid %d", (unsigned long long)c->serial,
        c->name, (unsigned)c->peer.uid, (int)c->peer.pid);
}

static void handle_request(struct bts_server *srv, struct client *c, const Btspy__Request *req)
{
    if (!c->hello && req->body_case != BTSPY__REQUEST__BODY_HELLO) {
        send_error(srv, c, -EPROTO, "the first request must be hello", NULL);
        c->closing = true;
        return;
    }
    switch (req->body_case) {
    case BTSPY__REQUEST__BODY_HELLO:
        handle_hello(srv, c, req->hello);
        break;
    case BTSPY__REQUEST__BODY_START:
        handle_start(srv, c, req->start);
        break;
    case BTSPY__REQUEST__BODY_STOP: {
        struct served_session *ss = session_for(srv, c, req->stop->session_id);
        if (ss) {
            stop_session(srv, ss, "stopped by its client");
            send_stats(srv, c, ss);
        }
        break;
    }
    case BTSPY__REQUEST__BODY_SNAPSHOT:
        if (spend(srv, c, BTS_SERVER_SNAPSHOT_COST))
            handle_snapshot(srv, c, req->snapshot);
        break;
    case BTSPY__REQUEST__BODY_STREAM: {
        struct served_session *ss = session_for(srv, c, req->stream->session_id);
        if (!ss)
            break;
        c->stream_session = req->stream->interval_ms ? ss->id : 0;
        c->stream_ms = req->stream->interval_ms;
        c->stream_folded = req->stream->with_folded;
        c->stream_next_ns = bts_proc_now_ns() + (int64_t)c->stream_ms * 1000000LL;
        Btspy__Reply reply = BTSPY__REPLY__INIT;
        send_reply(srv, c, &reply);
        break;
    }
    case BTSPY__REQUEST__BODY_LIST:
        handle_list(srv, c);
        break;
    case BTSPY__REQUEST__BODY_STATUS:
        handle_status(srv, c);
        break;
    case BTSPY__REQUEST__BODY_DUMP:
        if (spend(srv, c, BTS_SERVER_DUMP_COST))
            handle_dump(srv, c, req->dump);
        break;
    default:
        break; /* validation rejected it already */
    }
}

/* Reads what a client sent and answers every complete request. A message
 * must arrive whole within opts.message_ms of its first byte (see
 * enforce_deadlines). */
static void serve_client(struct bts_server *srv, struct client *c)
{
    size_t before = bts_frame_reader_pending(c->rd);
    size_t had_fds = c->nfds;
    long n = bts_frame_reader_fill_fds(c->rd, c->fd, c->fds, BTS_PROTOCOL_MAX_FDS, &c->nfds);
    if (n == 0 || (n < 0 && n != -EAGAIN)) {
        c->dead = true;
        return;
    }
    if (had_fds && c->nfds > had_fds) {
        /* New descriptors replace those no request took. */
        for (size_t i = 0; i < had_fds; i++)
            close(c->fds[i]);
        memmove(c->fds, c->fds + had_fds, (c->nfds - had_fds) * sizeof(int));
        c->nfds -= had_fds;
    }
    if (n > 0 && before == 0)
        c->message_ns = bts_proc_now_ns();
    for (;;) {
        const uint8_t *msg;
        size_t len;
        char why[256];
        if (c->closing || c->dead)
            break;
        int r = bts_frame_reader_next(c->rd, &msg, &len);
        if (r == 0)
            break;
        if (r < 0) {
            LOG(srv, BTS_LOG_WARN, "client %llu (uid %u): oversized message: disconnected",
                (unsigned long long)c->serial, (unsigned)c->peer.uid);
            send_error(srv, c, -EMSGSIZE, "message larger than 64 KiB", NULL);
            c->closing = true;
            break;
        }
        /* The next message starts with the bytes after this one. */
        c->message_ns = bts_frame_reader_pending(c->rd) ? bts_proc_now_ns() : 0;
        Btspy__Request *req = bts_protocol_decode_request(msg, len, why, sizeof(why));
        if (!req) {
            int e = -errno;
            LOG(srv, BTS_LOG_WARN, "client %llu (uid %u): %s", (unsigned long long)c->serial,
                (unsigned)c->peer.uid, why);
            send_error(srv, c, e, why, NULL);
            /* A malformed message means the stream cannot be trusted; a
             * well-formed one with a bad value is only refused. */
            if (e != -EINVAL || !c->hello)
                c->closing = true;
            continue;
        }
        handle_request(srv, c, req);
        btspy__request__free_unpacked(req, NULL);
    }
    /* Descriptors belong to the request they came with: once every byte
     * read is handled, those no request took are closed. */
    if (!bts_frame_reader_pending(c->rd) || c->closing || c->dead)
        close_client_fds(c);
}

static size_t uid_clients(const struct bts_server *srv, uid_t uid)
{
    size_t n = 0;
    for (size_t i = 0; i < srv->nclients; i++)
        n += !srv->clients[i]->dead && srv->clients[i]->peer.uid == uid;
    return n;
}

static size_t live_clients(const struct bts_server *srv)
{
    size_t n = 0;
    for (size_t i = 0; i < srv->nclients; i++)
        n += !srv->clients[i]->dead;
    return n;
}

/* Logs a refusal, at most once a second (a flood must not flood the log). */
static void log_refusal(struct bts_server *srv, const struct bts_authz_peer *peer, const char *why)
{
    int64_t now = bts_proc_now_ns();
    if (now - srv->refusal_log_ns < 1000000000LL) {
        srv->refusals_unlogged++;
        return;
    }
    LOG(srv, BTS_LOG_WARN, "connection of uid %u (pid %d) refused: %s%s", (unsigned)peer->uid,
        (int)peer->pid, why, srv->refusals_unlogged ? " (and more refusals since)" : "");
    srv->refusal_log_ns = now;
    srv->refusals_unlogged = 0;
}

/* Answers a connection it will not serve with the reason, then closes it.
 * The reply fits in an empty socket buffer, so it is sent at once. */
static void refuse_connection(struct bts_server *srv, int fd, const struct bts_authz_peer *peer,
                              int err, const char *why, const char *hint)
{
    Btspy__Reply reply = BTSPY__REPLY__INIT;
    uint8_t *buf;
    size_t len;
    char drain[512];
    reply.error = -err;
    reply.reason = (char *)why;
    reply.hint = (char *)hint;
    log_refusal(srv, peer, why);
    if (bts_protocol_frame_reply(&reply, &buf, &len) == 0) {
        if (send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
            LOG(srv, BTS_LOG_DEBUG, "refusal not sent: %s", bts_protocol_strerror(errno));
        free(buf);
    }
    /* Unread bytes would turn the peer's read of the reply into a reset;
     * a request's worth is read at most. */
    for (size_t got = 0; got < BTS_PROTOCOL_MAX_REQUEST;) {
        ssize_t n = recv(fd, drain, sizeof(drain), MSG_DONTWAIT);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
}

/* When the connection table is full: the connection to give up for a
 * newcomer of uid `uid` — one of the uid holding the most connections, if
 * it holds more than the newcomer's uid would after joining; a connection
 * that never said hello goes first, then the oldest. NULL: refuse the
 * newcomer. */
static struct client *pick_eviction(const struct bts_server *srv, uid_t uid)
{
    uid_t top_uid = uid;
    size_t top = 0;
    for (size_t i = 0; i < srv->nclients; i++) {
        uid_t u = srv->clients[i]->peer.uid;
        size_t n = uid_clients(srv, u);
        if (!srv->clients[i]->dead && n > top) {
            top = n;
            top_uid = u;
        }
    }
    if (top_uid == uid || top <= uid_clients(srv, uid) + 1)
        return NULL;
    struct client *victim = NULL;
    for (size_t i = 0; i < srv->nclients; i++) {
        struct client *c = srv->clients[i];
        if (c->dead || c->peer.uid != top_uid)
            continue;
        if (!victim || (!c->hello && victim->hello) ||
            (c->hello == victim->hello && c->accepted_ns < victim->accepted_ns))
            victim = c;
    }
    return victim;
}

/* Admits a new connection within the caps, or refuses it with a reason.
 * 0: admit. */
static int admit(struct bts_server *srv, int fd, const struct bts_authz_peer *peer)
{
    char why[256];
    size_t mine = uid_clients(srv, peer->uid);
    if (peer->uid != 0 && mine >= srv->opts.clients_per_uid) {
        snprintf(why, sizeof(why), "uid %u has %zu connections open, at most %u per user",
                 (unsigned)peer->uid, mine, srv->opts.clients_per_uid);
        refuse_connection(srv, fd, peer, -EBUSY, why,
                          "close this user's other bt-spy connections, or ask the "
                          "administrator to raise --max-connections-per-uid");
        return -EBUSY;
    }
    if (live_clients(srv) < BTS_SERVER_MAX_CLIENTS)
        return 0;
    struct client *victim = pick_eviction(srv, peer->uid);
    if (!victim) {
        snprintf(why, sizeof(why), "bt-spyd serves %d connections, its most",
                 BTS_SERVER_MAX_CLIENTS);
        refuse_connection(srv, fd, peer, -EBUSY, why, "try again later");
        return -EBUSY;
    }
    snprintf(why, sizeof(why), "uid %u holds the most connections and bt-spyd is full",
             (unsigned)victim->peer.uid);
    LOG(srv, BTS_LOG_WARN, "client %llu (uid %u) dropped for uid %u: %s",
        (unsigned long long)victim->serial, (unsigned)victim->peer.uid, (unsigned)peer->uid, why);
    send_error(srv, victim, -EBUSY, why, NULL);
    flush_client(victim);
    victim->dead = true;
    return 0;
}

static void accept_clients(struct bts_server *srv)
{
    for (;;) {
        struct bts_authz_peer peer;
        int fd = accept4(srv->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE) {
                /* The connection stays queued and poll() would report it
                 * at once, again and again: wait for descriptors instead. */
                srv->accept_paused_ns = bts_proc_now_ns() + 100000000LL;
                LOG(srv, BTS_LOG_WARN, "accept: %s: new connections wait",
                    bts_protocol_strerror(errno));
            } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                LOG(srv, BTS_LOG_WARN, "accept: %s", bts_protocol_strerror(errno));
            }
            return;
        }
        if (bts_authz_peer_of(fd, &peer) < 0) {
            close(fd);
            continue;
        }
        if (admit(srv, fd, &peer) < 0)
            continue; /* refused and closed */
        struct client *c = calloc(1, sizeof(*c));
        struct client **grown = realloc(srv->clients, (srv->nclients + 1) * sizeof(*grown));
        if (grown)
            srv->clients = grown;
        if (!c || !grown || !(c->rd = bts_frame_reader_new(BTS_PROTOCOL_MAX_REQUEST))) {
            free(c);
            close(fd);
            continue;
        }
        c->fd = fd;
        c->peer = peer;
        c->serial = ++srv->next_serial;
        c->accepted_ns = bts_proc_now_ns();
        srv->clients[srv->nclients++] = c;
    }
}

/* A client that does not say hello in time, or leaves a message half
 * sent, is holding a slot for nothing: it is told why and dropped. */
static void enforce_deadlines(struct bts_server *srv)
{
    int64_t now = bts_proc_now_ns();
    for (size_t i = 0; i < srv->nclients; i++) {
        struct client *c = srv->clients[i];
        const char *why = NULL;
        if (c->dead || c->closing)
            continue;
        if (c->message_ns && now - c->message_ns > (int64_t)srv->opts.message_ms * 1000000LL)
            why = "a message was not completed in time";
        else if (!c->hello && now - c->accepted_ns > (int64_t)srv->opts.hello_ms * 1000000LL)
            why = "no hello in time";
        if (!why)
            continue;
        LOG(srv, BTS_LOG_INFO, "client %llu (uid %u): %s: disconnected",
            (unsigned long long)c->serial, (unsigned)c->peer.uid, why);
        send_error(srv, c, -ETIMEDOUT, why, NULL);
        c->closing = true;
        close_client_fds(c);
    }
}

static void free_client(struct bts_server *srv, struct client *c)
{
    /* Sessions end with their client (documented in bt-spyd(8)). */
    size_t k = 0;
    for (size_t i = 0; i < srv->nsessions; i++) {
        struct served_session *ss = srv->sessions[i];
        if (ss->owner == c) {
            LOG(srv, BTS_LOG_INFO, "session %u (pid %d): client gone, session freed", ss->id,
                (int)ss->pid);
            free_session(srv, ss);
        } else {
            srv->sessions[k++] = ss;
        }
    }
    srv->nsessions = k;
    /* Another client streaming a freed session stops at its next push
     * (push_streams finds no session; ids are never reused). */
    close(c->fd);
    close_client_fds(c);
    bts_frame_reader_free(c->rd);
    free(c->out);
    free(c);
}

static void tick_sessions(struct bts_server *srv)
{
    for (size_t i = 0; i < srv->nsessions; i++) {
        struct served_session *ss = srv->sessions[i];
        if (!ss->running)
            continue;
        int r = bts_session_poll(ss->s, 0);
        const char *w = "", *h = "";
        if (r != 0)
            bts_session_explain(ss->s, &w, &h); /* e.g. the target changed credentials */
        snprintf(ss->reason, sizeof(ss->reason), "%s", w);
        snprintf(ss->reason_hint, sizeof(ss->reason_hint), "%s", h);
        if (r == 1) {
            ss->running = false;
            LOG(srv, BTS_LOG_INFO, "session %u: pid %d exited%s%s", ss->id, (int)ss->pid,
                *w ? ": " : "", w);
        } else if (r < 0) {
            ss->error = r;
            char why[BTS_PROTOCOL_MAX_TEXT + 64];
            snprintf(why, sizeof(why), "sampling failed: %s", *w ? w : bts_protocol_strerror(r));
            stop_session(srv, ss, why);
        } else if (ss->duration_s > 0) {
            struct bts_session_stats st;
            bts_session_stats(ss->s, &st);
            if (st.elapsed_s >= ss->duration_s)
                stop_session(srv, ss, "duration reached");
        }
    }
    /* Threads a ptrace stop could not let go in time are let go here, at
     * their stop, even once no session runs. */
    bts_session_release_stragglers();
    size_t k = 0;
    for (size_t i = 0; i < srv->norphans; i++) {
        int status;
        pid_t r = waitpid(srv->orphans[i], &status, WNOHANG);
        if (r == 0)
            srv->orphans[k++] = srv->orphans[i];
    }
    srv->norphans = k;
}

static void push_streams(struct bts_server *srv)
{
    int64_t t = bts_proc_now_ns();
    for (size_t i = 0; i < srv->nclients; i++) {
        struct client *c = srv->clients[i];
        if (!c->stream_session || c->dead || t < c->stream_next_ns)
            continue;
        struct served_session *ss = find_session(srv, c->stream_session);
        if (!ss) {
            c->stream_session = 0;
            continue;
        }
        c->stream_next_ns = t + (int64_t)c->stream_ms * 1000000LL;
        /* An update waits while the last one is unread (a newer one
         * replaces it), and one with stacks is paid for from the uid's
         * budget: a slow or greedy reader gets fewer, nobody gets a queue. */
        int64_t wait_ns = 0;
        if (ss->running && (unsent(c) || (c->stream_folded && c->peer.uid != 0 &&
                                          bts_request_budget_take(srv->budget, c->peer.uid,
                                                                  BTS_SERVER_SNAPSHOT_COST, t,
                                                                  &wait_ns) == -EAGAIN))) {
            if (wait_ns > (int64_t)c->stream_ms * 1000000LL)
                c->stream_next_ns = t + wait_ns;
            continue;
        }
        push_update(srv, c, ss);
        /* A finished session's final update is the last one. */
        if (!ss->running)
            c->stream_session = 0;
    }
}

/* Room for at least `need` entries in srv->pfds. 0 or -ENOMEM. */
static int grow_pfds(struct bts_server *srv, size_t need)
{
    if (need <= srv->cap_pfds)
        return 0;
    struct pollfd *np = realloc(srv->pfds, need * sizeof(*np));
    if (!np)
        return -ENOMEM;
    srv->pfds = np;
    srv->cap_pfds = need;
    return 0;
}

int bts_server_run(struct bts_server *srv, volatile sig_atomic_t *stop)
{
    while (!*stop) {
        size_t need = srv->nclients + 1;
        if (grow_pfds(srv, need) < 0)
            return -ENOMEM;
        bool accepting = bts_proc_now_ns() >= srv->accept_paused_ns;
        srv->pfds[0] = (struct pollfd){.fd = srv->listen_fd, .events = accepting ? POLLIN : 0};
        for (size_t i = 0; i < srv->nclients; i++) {
            struct client *c = srv->clients[i];
            short ev = c->closing ? 0 : POLLIN;
            if (c->out_off < c->out_len)
                ev |= POLLOUT;
            srv->pfds[i + 1] = (struct pollfd){.fd = c->fd, .events = ev};
        }
        /* Sessions whose backend says when samples wait (perf_event's
         * rings) are polled as soon as they do, not at the next tick: a
         * Python stack is read when its sample is, and --native merges
         * only what was read soon after the sample. */
        for (size_t i = 0; i < srv->nsessions; i++) {
            struct bts_session *s = srv->sessions[i]->s;
            size_t n;
            if (!srv->sessions[i]->running)
                continue;
            while ((n = bts_session_wait_fds(s, srv->pfds + need, srv->cap_pfds - need)) >
                   srv->cap_pfds - need) {
                if (grow_pfds(srv, need + n) < 0)
                    return -ENOMEM;
            }
            need += n;
        }
        bool busy = srv->nsessions > 0 || (srv->watch && bts_watch_count(srv->watch) > 0);
        int r = poll(srv->pfds, need, busy ? TICK_BUSY_MS : TICK_IDLE_MS);
        if (r < 0 && errno != EINTR)
            return -errno;
        size_t nclients = srv->nclients; /* accept appends after these */
        if (r > 0) {
            for (size_t i = 0; i < nclients; i++) {
                struct client *c = srv->clients[i];
                short re = srv->pfds[i + 1].revents;
                if (re & (POLLIN | POLLHUP | POLLERR))
                    serve_client(srv, c);
                if (!c->dead)
                    flush_client(c);
            }
            if (srv->pfds[0].revents & POLLIN)
                accept_clients(srv);
        }
        enforce_deadlines(srv);
        tick_sessions(srv);
        push_streams(srv);
        if (srv->watch)
            bts_watch_tick(srv->watch);
        size_t k = 0;
        for (size_t i = 0; i < srv->nclients; i++) {
            struct client *c = srv->clients[i];
            if (!c->dead)
                flush_client(c);
            if (c->dead) {
                LOG(srv, BTS_LOG_DEBUG, "client %llu disconnected", (unsigned long long)c->serial);
                free_client(srv, c);
            } else {
                srv->clients[k++] = c;
            }
        }
        srv->nclients = k;
    }
    return 0;
}

int bts_server_save_sessions(struct bts_server *srv, const char *dir)
{
    int saved = 0;
    for (size_t i = 0; i < srv->nsessions; i++) {
        struct served_session *ss = srv->sessions[i];
        char *text;
        size_t len;
        char stem[128], name[160];
        stop_session(srv, ss, "daemon shutting down");
        if (session_folded(ss, &text, &len, NULL) < 0)
            continue;
        if (len) {
            struct bts_spool_owner owner = {
                .uid = ss->owner_uid,
                .gid = srv->opts.spool_gid != (gid_t)-1 ? srv->opts.spool_gid : ss->owner_gid,
                .group_read = srv->opts.spool_gid != (gid_t)-1,
            };
            bts_profile_stem(ss->pid, ss->comm, stem, sizeof(stem));
            snprintf(name, sizeof(name), "%s.folded", stem);
            int r = bts_spool_write(dir, name, text, len, &owner);
            if (r < 0)
                LOG(srv, BTS_LOG_ERROR, "cannot write '%s/%s': %s", dir, name,
                    bts_protocol_strerror(-r));
            else {
                LOG(srv, BTS_LOG_INFO, "wrote '%s/%s'", dir, name);
                saved++;
            }
        }
        free(text);
    }
    return saved;
}

void bts_server_free(struct bts_server *srv)
{
    if (!srv)
        return;
    while (srv->nclients)
        free_client(srv, srv->clients[--srv->nclients]);
    for (size_t i = 0; i < srv->nsessions; i++)
        free_session(srv, srv->sessions[i]);
    free(srv->clients);
    free(srv->sessions);
    free(srv->orphans);
    free(srv->pfds);
    bts_request_budget_free(srv->budget);
    if (srv->listen_fd >= 0)
        close(srv->listen_fd);
    if (srv->bound)
        unlink(srv->path);
    free(srv->path);
    free(srv);
}
