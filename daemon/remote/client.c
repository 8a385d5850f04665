/* SPDX-License-Identifier: MIT */
/* client: connects to bt-spyd, runs remote sessions and dumps. */
#define _GNU_SOURCE
#include "client.h"
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define STREAM_INTERVAL_MS 100

extern char **environ;

struct bts_client {
    int fd; /* non-blocking: every wait is a poll() with a deadline */
    struct bts_frame_reader *rd;
    const volatile sig_atomic_t *interrupt;
    int broken;     /* -errno once a call failed: replies no longer pair with requests */
    uint32_t minor; /* the daemon's protocol minor version */
};

static int64_t deadline_in(int ms)
{
    return bts_proc_now_ns() + (int64_t)(ms < 0 ? 0 : ms) * 1000000LL;
}

/* Milliseconds left until deadline, rounded up, at least 0. */
static int ms_left(int64_t deadline)
{
    int64_t left = deadline - bts_proc_now_ns();
    if (left <= 0)
        return 0;
    left = (left + 999999) / 1000000;
    return left > INT_MAX ? INT_MAX : (int)left;
}

static bool interrupted(const struct bts_client *c)
{
    return c->interrupt && *c->interrupt;
}

/* poll() on the connection until deadline: 1 ready, 0 timed out, -errno
 * (-EINTR when a signal came while the interrupt flag is set). */
static int wait_for(struct bts_client *c, short events, int64_t deadline)
{
    for (;;) {
        if (interrupted(c))
            return -EINTR;
        struct pollfd pfd = {.fd = c->fd, .events = events};
        int r = poll(&pfd, 1, ms_left(deadline));
        if (r > 0)
            return 1;
        if (r < 0 && errno != EINTR)
            return -errno;
        if (r == 0 || bts_proc_now_ns() >= deadline)
            return interrupted(c) ? -EINTR : 0;
    }
}

/* Connects the non-blocking socket. A unix socket whose backlog is full
 * answers EAGAIN at once, so the connect is retried until the deadline. */
static int connect_until(struct bts_client *c, const struct sockaddr_un *sa, int64_t deadline)
{
    for (;;) {
        if (connect(c->fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0)
            return 0;
        int e = errno;
        if (e == EINPROGRESS) {
            socklen_t len = sizeof(e);
            int r = wait_for(c, POLLOUT, deadline);
            if (r <= 0)
                return r ? r : -ETIMEDOUT;
            if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0)
                return -errno;
            return -e;
        }
        if (e != EAGAIN && e != EINTR)
            return -e;
        if (interrupted(c))
            return -EINTR;
        if (bts_proc_now_ns() >= deadline)
            return -ETIMEDOUT;
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

/* Sends all of buf, the descriptors with its first byte. 0 or -errno. */
static int send_until(struct bts_client *c, const uint8_t *buf, size_t len, const int *fds,
                      size_t nfds, int64_t deadline)
{
    union {
        char buf[CMSG_SPACE(BTS_PROTOCOL_MAX_FDS * sizeof(int))];
        struct cmsghdr align;
    } control;
    if (nfds > BTS_PROTOCOL_MAX_FDS)
        return -EINVAL;
    while (len) {
        struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
        if (nfds) {
            memset(&control, 0, sizeof(control));
            mh.msg_control = control.buf;
            mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
            struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
            cm->cmsg_level = SOL_SOCKET;
            cm->cmsg_type = SCM_RIGHTS;
            cm->cmsg_len = CMSG_LEN(nfds * sizeof(int));
            memcpy(CMSG_DATA(cm), fds, nfds * sizeof(int));
        }
        ssize_t n = sendmsg(c->fd, &mh, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) {
            if (interrupted(c))
                return -EINTR;
            continue;
        }
        if (n < 0 && errno == EAGAIN) {
            int r = wait_for(c, POLLOUT, deadline);
            if (r <= 0)
                return r ? r : -ETIMEDOUT;
            continue;
        }
        if (n < 0)
            return errno == EPIPE ? -ECONNRESET : -errno;
        buf += n;
        len -= (size_t)n;
        nfds = 0; /* they went with the first byte */
    }
    return 0;
}

/* Waits until deadline for one message. 1 and *reply, 0 on timeout, or
 * -errno. */
static int receive_until(struct bts_client *c, int64_t deadline, Btspy__Reply **reply)
{
    for (;;) {
        const uint8_t *msg;
        size_t len;
        int r = bts_frame_reader_next(c->rd, &msg, &len);
        if (r < 0)
            return r;
        if (r == 1) {
            *reply = bts_protocol_decode_reply(msg, len, NULL, 0);
            return *reply ? 1 : -EPROTO;
        }
        r = wait_for(c, POLLIN, deadline);
        if (r <= 0)
            return r;
        long n = bts_frame_reader_fill(c->rd, c->fd);
        if (n == 0)
            return -ECONNRESET;
        if (n < 0 && n != -EAGAIN)
            return (int)n;
    }
}

int bts_client_receive(struct bts_client *c, int timeout_ms, Btspy__Reply **reply)
{
    if (c->broken)
        return c->broken;
    int r = receive_until(c, deadline_in(timeout_ms), reply);
    if (r < 0)
        c->broken = r;
    return r;
}

/* One request and its answer within answer_ms, restarted by every stream
 * update. A request the daemon cannot take any more (it closed the
 * connection) may still have an answer waiting: a refusal. */
static int call_within(struct bts_client *c, const Btspy__Request *req, const int *fds, size_t nfds,
                       int answer_ms, Btspy__Reply **reply,
                       void (*on_update)(void *ctx, const Btspy__StreamUpdate *u), void *ctx)
{
    uint8_t *buf = NULL;
    size_t len;
    int64_t deadline = deadline_in(answer_ms);
    *reply = NULL;
    if (c->broken)
        return c->broken;
    int ret = bts_protocol_frame_request(req, &buf, &len);
    if (ret < 0)
        return ret;
    ret = send_until(c, buf, len, fds, nfds, deadline);
    free(buf);
    if (ret < 0 && ret != -ECONNRESET)
        return c->broken = ret;
    int sent = ret;
    for (;;) {
        Btspy__Reply *r = NULL;
        ret = receive_until(c, sent < 0 ? deadline_in(100) : deadline, &r);
        if (ret < 0)
            return c->broken = ret;
        if (ret == 0)
            return c->broken = sent < 0 ? sent : -ETIMEDOUT;
        if (r->body_case == BTSPY__REPLY__BODY_UPDATE) {
            if (on_update)
                on_update(ctx, r->update);
            btspy__reply__free_unpacked(r, NULL);
            deadline = deadline_in(answer_ms);
            continue;
        }
        *reply = r;
        return 0;
    }
}

int bts_client_call_fds(struct bts_client *c, const Btspy__Request *req, const int *fds,
                        size_t nfds, Btspy__Reply **reply,
                        void (*on_update)(void *ctx, const Btspy__StreamUpdate *u), void *ctx)
{
    return call_within(c, req, fds, nfds, BTS_CLIENT_ANSWER_MS, reply, on_update, ctx);
}

int bts_client_call(struct bts_client *c, const Btspy__Request *req, Btspy__Reply **reply,
                    void (*on_update)(void *ctx, const Btspy__StreamUpdate *u), void *ctx)
{
    return call_within(c, req, NULL, 0, BTS_CLIENT_ANSWER_MS, reply, on_update, ctx);
}

static void put(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void put(char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;
    if (!buf || !len)
        return;
    va_start(ap, fmt);
    vsnprintf(buf, len, fmt, ap);
    va_end(ap);
}

/* Why a connection failed, told apart by whether a daemon answered. */
static void explain_connect(const char *path, int stage_err, bool connected, char *why,
                            size_t why_len, char *hint, size_t hint_len)
{
    const char *e = bts_protocol_strerror(stage_err);
    if (stage_err == -EINTR) {
        put(why, why_len, "interrupted while waiting for bt-spyd at '%s'", path);
    } else if (!connected && (stage_err == -ENOENT || stage_err == -ECONNREFUSED)) {
        put(why, why_len, "no daemon listens on '%s' (%s)", path, e);
        put(hint, hint_len, "start it with: bt-spyd --socket %s", path);
    } else if (!connected && stage_err == -ETIMEDOUT) {
        put(why, why_len, "bt-spyd at '%s' took no new connection within %d s", path,
            BTS_CLIENT_CONNECT_MS / 1000);
        put(hint, hint_len, "the daemon is overloaded or stuck: see its log");
    } else if (!connected && stage_err == -EACCES) {
        put(why, why_len, "cannot connect to '%s': %s", path, e);
        put(hint, hint_len, "the socket's mode or group keeps this user out: ask its owner");
    } else if (!connected) {
        put(why, why_len, "cannot connect to '%s': %s", path, e);
    } else if (stage_err == -ETIMEDOUT) {
        put(why, why_len, "bt-spyd at '%s' did not answer within %d s", path,
            BTS_CLIENT_CONNECT_MS / 1000);
        put(hint, hint_len, "the daemon is overloaded or stuck, or '%s' is not a bt-spyd socket",
            path);
    } else if (stage_err == -ECONNRESET) {
        put(why, why_len, "bt-spyd at '%s' closed the connection without an answer", path);
        put(hint, hint_len, "see the daemon's log");
    } else {
        put(why, why_len, "no answer from the daemon at '%s': %s", path, e);
    }
}

int bts_client_connect(const char *socket_path, const char *client_name,
                       const volatile sig_atomic_t *interrupt, struct bts_client **out, char *why,
                       size_t why_len, char *hint, size_t hint_len)
{
    struct bts_client *c = NULL;
    Btspy__Reply *reply = NULL;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int64_t deadline = deadline_in(BTS_CLIENT_CONNECT_MS);
    bool connected = false;
    int ret = 0;
    put(why, why_len, "%s", "");
    put(hint, hint_len, "%s", "");
    *out = NULL;
    if (!socket_path || strlen(socket_path) >= sizeof(sa.sun_path)) {
        put(why, why_len, "socket path '%s' is too long", socket_path ? socket_path : "");
        return -ENAMETOOLONG;
    }
    strcpy(sa.sun_path, socket_path);
    c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->interrupt = interrupt;
    c->fd = -1;
    if (!(c->rd = bts_frame_reader_new(BTS_PROTOCOL_MAX_REPLY))) {
        ret = -ENOMEM;
        goto out;
    }
    c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (c->fd < 0) {
        ret = -errno;
        goto out;
    }
    if ((ret = connect_until(c, &sa, deadline)) < 0)
        goto fail;
    connected = true;
    Btspy__Hello hello = BTSPY__HELLO__INIT;
    hello.version_major = BTS_PROTOCOL_VERSION_MAJOR;
    hello.version_minor = BTS_PROTOCOL_VERSION_MINOR;
    hello.client_name = (char *)(client_name ? client_name : "bt-spy");
    Btspy__Request req = BTSPY__REQUEST__INIT;
    req.body_case = BTSPY__REQUEST__BODY_HELLO;
    req.hello = &hello;
    if ((ret = call_within(c, &req, NULL, 0, ms_left(deadline), &reply, NULL, NULL)) < 0)
        goto fail;
    if (reply->error) {
        /* The daemon answered: it is running, and says why not. */
        ret = -reply->error;
        put(why, why_len, "bt-spyd refused the connection: %s", reply->reason);
        put(hint, hint_len, "%s", reply->hint);
        goto out;
    }
    if (reply->body_case != BTSPY__REPLY__BODY_HELLO ||
        reply->hello->version_major != BTS_PROTOCOL_VERSION_MAJOR) {
        ret = -EPROTO;
        put(why, why_len, "the daemon speaks protocol %u, this client %u",
            reply->body_case == BTSPY__REPLY__BODY_HELLO ? reply->hello->version_major : 0,
            BTS_PROTOCOL_VERSION_MAJOR);
        goto out;
    }
    c->minor = reply->hello->version_minor;
    *out = c;
    c = NULL;
    goto out;
fail:
    explain_connect(socket_path, ret, connected, why, why_len, hint, hint_len);
out:
    if (reply)
        btspy__reply__free_unpacked(reply, NULL);
    bts_client_free(c);
    return ret;
}

void bts_client_free(struct bts_client *c)
{
    if (!c)
        return;
    if (c->fd >= 0)
        close(c->fd);
    bts_frame_reader_free(c->rd);
    free(c);
}

void bts_client_set_interrupt(struct bts_client *c, const volatile sig_atomic_t *interrupt)
{
    if (c)
        c->interrupt = interrupt;
}

/* Remote sessions. */

struct bts_client_session {
    char *path;
    struct bts_session_opts opts;
    char **argv;
    struct bts_client *c;
    uint32_t id;
    pid_t pid;
    bool started, stopped;
    bool stop_sent; /* we stopped it; otherwise the daemon did */
    int error;      /* the daemon's sampling error (-errno), or 0 */
    const volatile sig_atomic_t *interrupt;
    int64_t heard_ns; /* when the daemon last sent anything */
    char backend[32];
    int64_t start_ns; /* the daemon's, CLOCK_MONOTONIC; 0: unknown */
    struct bts_session_stats stats;
    int64_t stats_ns; /* when stats arrived: elapsed time runs on from there */
    char why[BTS_PROTOCOL_MAX_TEXT + 1];
    char hint[BTS_PROTOCOL_MAX_TEXT + 1];
};

struct bts_client_session *bts_client_session_new(const char *socket_path,
                                                  const struct bts_session_opts *opts)
{
    struct bts_client_session *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->opts = *opts;
    r->path = strdup(socket_path);
    if (!r->path)
        goto fail;
    if (opts->argv) {
        size_t n = 0;
        while (opts->argv[n])
            n++;
        r->argv = calloc(n + 1, sizeof(char *));
        if (!r->argv)
            goto fail;
        for (size_t i = 0; i < n; i++) {
            if (!(r->argv[i] = strdup(opts->argv[i])))
                goto fail;
        }
        r->opts.argv = r->argv;
    }
    r->pid = opts->pid;
    snprintf(r->backend, sizeof(r->backend), "perf_event");
    return r;
fail:
    bts_client_session_free(r);
    errno = ENOMEM;
    return NULL;
}

static void take_stats(struct bts_client_session *r, const Btspy__Stats *st)
{
    if (!st)
        return;
    r->stats.samples = st->samples;
    r->stats.lost = st->lost;
    r->stats.failed = st->failed;
    r->stats.threads = st->threads;
    r->stats.threads_seen = st->threads_seen;
    r->stats.elapsed_s = st->elapsed_s;
    r->stats.target_exited = st->target_exited;
    r->stats.exit_status = st->exit_status;
    r->stats.python_samples = st->python_samples;
    r->stats.python_reads = st->python_reads;
    r->stats.python_read_ns = st->python_read_ns;
    r->stats.python_errors = st->python_errors;
    r->stats.python_late = st->python_late;
    r->stats.gil_dropped = st->gil_dropped;
    r->stats.python_found = st->python_found;
    snprintf(r->stats.python_version, sizeof(r->stats.python_version), "%s",
             st->python_version ? st->python_version : "");
    r->stats.python_notes = st->python_notes;
    snprintf(r->stats.python_note, sizeof(r->stats.python_note), "%s",
             st->python_note ? st->python_note : "");
    r->stats.native_merged = st->native_merged;
    r->stats.native_torn = st->native_torn;
    r->stats.native_torn_late = st->native_torn_late;
    r->stats.native_unknown = st->native_unknown;
    r->stats.native_stopped = st->native_stopped;
    r->stats.native_stop_ns = st->native_stop_ns;
    r->stats.native_torn_count = st->native_torn_count;
    r->stats.native_torn_frame = st->native_torn_frame;
    r->stats.native_torn_code = st->native_torn_code;
    r->stats.native_torn_learning = st->native_torn_learning;
    r->stats.native_torn_stack = st->native_torn_stack;
    r->stats.native_partial = st->native_partial;
    r->stats.native_captured = st->native_captured;
    r->stats.native_captured_torn = st->native_captured_torn;
    r->stats.python_captured = st->python_captured;
    r->stats.python_capture_missing = st->python_capture_missing;
    r->stats.python_capture_unusable = st->python_capture_unusable;
    r->stats.capture_errno = st->capture_errno;
    if (st->stopped)
        r->stopped = true;
    if (st->error)
        r->error = -st->error;
    if (st->reason && st->reason[0]) {
        /* The daemon ended the session and says why (bts_session_explain). */
        snprintf(r->why, sizeof(r->why), "%s", st->reason);
        snprintf(r->hint, sizeof(r->hint), "%s", st->hint ? st->hint : "");
    }
    r->stats_ns = bts_proc_now_ns();
}

static void on_session_update(void *ctx, const Btspy__StreamUpdate *u)
{
    struct bts_client_session *r = ctx;
    r->heard_ns = bts_proc_now_ns();
    if (u->session_id == r->id)
        take_stats(r, u->stats);
}

void bts_client_session_set_interrupt(struct bts_client_session *r,
                                      const volatile sig_atomic_t *interrupt)
{
    if (r)
        r->interrupt = interrupt;
}

/* This process's environment for a launched command, or -E2BIG when it
 * cannot travel in one request. */
static int count_environment(size_t *n)
{
    size_t bytes = 0;
    *n = 0;
    for (char **e = environ; e && *e; e++) {
        if (!strchr(*e, '=') || **e == '=')
            continue; /* not NAME=value: the daemon would refuse it */
        bytes += strlen(*e) + 4;
        (*n)++;
    }
    return *n > BTS_PROTOCOL_MAX_ENV || bytes > BTS_PROTOCOL_MAX_REQUEST / 2 ? -E2BIG : 0;
}

static int fill_environment(char **env, size_t n)
{
    size_t k = 0;
    for (char **e = environ; e && *e && k < n; e++) {
        if (strchr(*e, '=') && **e != '=')
            env[k++] = *e;
    }
    return (int)k;
}

/* This process's stdin, stdout and stderr for a launched command; a closed
 * one is replaced by /dev/null (opened here, closed by close_stdio). */
static void open_stdio(int fds[3], bool opened[3])
{
    for (int i = 0; i < 3; i++) {
        opened[i] = false;
        fds[i] = i;
        if (fcntl(i, F_GETFD) < 0) {
            fds[i] = open("/dev/null", i ? O_WRONLY | O_CLOEXEC : O_RDONLY | O_CLOEXEC);
            opened[i] = fds[i] >= 0;
        }
    }
}

static void close_stdio(int fds[3], const bool opened[3])
{
    for (int i = 0; i < 3; i++) {
        if (opened[i])
            close(fds[i]);
    }
}

static void remember_error(struct bts_client_session *r, const Btspy__Reply *reply)
{
    snprintf(r->why, sizeof(r->why), "%s", reply->reason);
    snprintf(r->hint, sizeof(r->hint), "%s", reply->hint);
}

/* Sends StartSession (with the environment and stdio of a launch) and
 * takes the SessionStarted answer. */
static int send_start(struct bts_client_session *r)
{
    Btspy__Reply *reply = NULL;
    Btspy__StartSession st = BTSPY__START_SESSION__INIT;
    char cwd[PATH_MAX], **env = NULL;
    int fds[3] = {-1, -1, -1};
    bool opened[3] = {false, false, false};
    size_t nenv = 0;
    int ret;

    bts_protocol_start_from_opts(&r->opts, &st);
    if (r->argv) {
        if (getcwd(cwd, sizeof(cwd)))
            st.cwd = cwd;
        if (count_environment(&nenv) < 0) {
            snprintf(r->why, sizeof(r->why),
                     "the environment is too large to send to bt-spyd (at most %d variables "
                     "and %u KiB)",
                     BTS_PROTOCOL_MAX_ENV, BTS_PROTOCOL_MAX_REQUEST / 2048);
            snprintf(r->hint, sizeof(r->hint), "run it with a smaller environment, e.g. env -i");
            return -E2BIG;
        }
        env = calloc(nenv + 1, sizeof(*env));
        if (!env)
            return -ENOMEM;
        st.n_env = (size_t)fill_environment(env, nenv);
        st.env = env;
        open_stdio(fds, opened);
        st.stdio = fds[0] >= 0 && fds[1] >= 0 && fds[2] >= 0;
    }
    Btspy__Request req = BTSPY__REQUEST__INIT;
    req.body_case = BTSPY__REQUEST__BODY_START;
    req.start = &st;
    ret = bts_client_call_fds(r->c, &req, fds, st.stdio ? 3 : 0, &reply, NULL, NULL);
    close_stdio(fds, opened);
    free(env);
    if (ret == -EMSGSIZE) {
        snprintf(r->why, sizeof(r->why),
                 "the command and its environment do not fit in one request to bt-spyd "
                 "(at most %u KiB)",
                 BTS_PROTOCOL_MAX_REQUEST / 1024);
        return ret;
    }
    if (ret < 0) {
        if (ret == -EINTR)
            snprintf(r->why, sizeof(r->why), "interrupted while waiting for bt-spyd at '%s'",
                     r->path);
        else if (ret == -ETIMEDOUT)
            snprintf(r->why, sizeof(r->why), "bt-spyd at '%s' did not answer within %d s", r->path,
                     BTS_CLIENT_ANSWER_MS / 1000);
        else
            snprintf(r->why, sizeof(r->why), "the daemon did not answer: %s",
                     bts_protocol_strerror(ret));
        return ret;
    }
    if (reply->error) {
        ret = -reply->error;
        remember_error(r, reply);
    } else if (reply->body_case != BTSPY__REPLY__BODY_STARTED) {
        ret = -EPROTO;
    } else {
        r->id = reply->started->session_id;
        r->pid = reply->started->pid;
        r->start_ns = reply->started->start_ns;
        snprintf(r->backend, sizeof(r->backend), "%s", reply->started->backend);
    }
    btspy__reply__free_unpacked(reply, NULL);
    return ret;
}

int bts_client_session_start(struct bts_client_session *r)
{
    Btspy__Reply *reply = NULL;
    int ret;
    if (!r || r->started)
        return -EINVAL;
    ret = bts_client_connect(r->path, "bt-spy", r->interrupt, &r->c, r->why, sizeof(r->why),
                             r->hint, sizeof(r->hint));
    if (ret < 0)
        goto out;
    /* An older daemon would ignore memory and sample CPU time instead. */
    if (r->opts.memory && r->c->minor < BTS_PROTOCOL_MINOR_MEMORY) {
        snprintf(r->why, sizeof(r->why),
                 "bt-spyd at '%s' predates --memory (protocol 1.%u): it cannot sample page faults",
                 r->path, r->c->minor);
        snprintf(r->hint, sizeof(r->hint), "update bt-spyd, or run without --connect");
        ret = -EPROTONOSUPPORT;
        goto out;
    }
    if (r->opts.backend == BTS_BACKEND_READ && r->c->minor < BTS_PROTOCOL_MINOR_READ) {
        snprintf(r->why, sizeof(r->why), "bt-spyd at '%s' predates --backend read (protocol 1.%u)",
                 r->path, r->c->minor);
        snprintf(r->hint, sizeof(r->hint),
                 "update bt-spyd, pick another backend, or run without --connect");
        ret = -EPROTONOSUPPORT;
        goto out;
    }
    /* An older daemon would ignore native and send unmerged stacks. */
    if (r->opts.native && r->c->minor < BTS_PROTOCOL_MINOR_NATIVE) {
        snprintf(r->why, sizeof(r->why), "bt-spyd at '%s' predates --native (protocol 1.%u)",
                 r->path, r->c->minor);
        snprintf(r->hint, sizeof(r->hint), "update bt-spyd, or run without --connect");
        ret = -EPROTONOSUPPORT;
        goto out;
    }
    if ((ret = send_start(r)) < 0)
        goto out;

    /* Stats arrive as stream updates, so poll() only has to listen. */
    Btspy__Stream sm = BTSPY__STREAM__INIT;
    sm.session_id = r->id;
    sm.interval_ms = STREAM_INTERVAL_MS;
    Btspy__Request req = BTSPY__REQUEST__INIT;
    req.body_case = BTSPY__REQUEST__BODY_STREAM;
    req.stream = &sm;
    if ((ret = bts_client_call(r->c, &req, &reply, on_session_update, r)) < 0)
        goto out;
    if (reply->error) {
        ret = -reply->error;
        remember_error(r, reply);
        goto out;
    }
    r->stats_ns = r->heard_ns = bts_proc_now_ns();
    r->started = true;
out:
    /* Past the start, a signal means "stop and write": only deadlines
     * bound the remaining calls. */
    bts_client_set_interrupt(r->c, NULL);
    if (reply)
        btspy__reply__free_unpacked(reply, NULL);
    return ret;
}

void bts_client_session_explain(const struct bts_client_session *r, const char **why,
                                const char **hint)
{
    *why = r ? r->why : "";
    *hint = r ? r->hint : "";
}

const char *bts_client_session_backend(const struct bts_client_session *r)
{
    return r ? r->backend : "perf_event";
}

/* The session ended in the daemon without our asking: a sampling error,
 * or another client (same uid, or root) stopped it. Like a local fatal
 * error, the stacks gathered so far stay readable. */
static int daemon_stop_error(const struct bts_client_session *r)
{
    return r->error ? r->error : -ECANCELED;
}

int bts_client_session_poll(struct bts_client_session *r, int timeout_ms)
{
    if (!r || !r->started)
        return -EINVAL;
    if (r->stats.target_exited)
        return 1;
    if (r->stopped)
        return r->stop_sent ? 0 : daemon_stop_error(r);
    int64_t deadline = bts_proc_now_ns() + (int64_t)(timeout_ms < 0 ? 0 : timeout_ms) * 1000000LL;
    bool got = false;
    for (;;) {
        int64_t left = got ? 0 : (deadline - bts_proc_now_ns()) / 1000000;
        Btspy__Reply *reply = NULL;
        int ret = bts_client_receive(r->c, left > 0 ? (int)left : 0, &reply);
        if (ret < 0)
            return ret;
        if (ret == 0)
            break;
        if (reply->body_case == BTSPY__REPLY__BODY_UPDATE)
            on_session_update(r, reply->update);
        btspy__reply__free_unpacked(reply, NULL);
        got = true;
    }
    /* Updates come every 100 ms: a daemon silent for this long is stuck. */
    if (bts_proc_now_ns() - r->heard_ns > (int64_t)BTS_CLIENT_ANSWER_MS * 1000000LL) {
        snprintf(r->why, sizeof(r->why), "bt-spyd sent nothing for %d s",
                 BTS_CLIENT_ANSWER_MS / 1000);
        return r->c->broken = -ETIMEDOUT;
    }
    if (r->stats.target_exited)
        return 1;
    return r->stopped && !r->stop_sent ? daemon_stop_error(r) : 0;
}

void bts_client_session_stop(struct bts_client_session *r)
{
    Btspy__Reply *reply = NULL;
    if (!r || !r->started || r->stopped)
        return;
    r->stop_sent = true;
    Btspy__StopSession sp = BTSPY__STOP_SESSION__INIT;
    sp.session_id = r->id;
    Btspy__Request req = BTSPY__REQUEST__INIT;
    req.body_case = BTSPY__REQUEST__BODY_STOP;
    req.stop = &sp;
    if (bts_client_call(r->c, &req, &reply, on_session_update, r) == 0 && !reply->error &&
        reply->body_case == BTSPY__REPLY__BODY_STATS)
        take_stats(r, reply->stats);
    r->stopped = true;
    if (reply)
        btspy__reply__free_unpacked(reply, NULL);
}

void bts_client_session_stats(const struct bts_client_session *r, struct bts_session_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (!r)
        return;
    *out = r->stats;
    out->start_ns = r->start_ns;
    if (r->started && !r->stopped && !r->stats.target_exited)
        out->elapsed_s += (double)(bts_proc_now_ns() - r->stats_ns) / 1e9;
}

pid_t bts_client_session_pid(const struct bts_client_session *r)
{
    return r ? r->pid : 0;
}

/* A Snapshot (with buckets: per time bucket). 0 with *out the reply to
 * free, or -errno. */
static int snapshot(struct bts_client_session *r, bool buckets, Btspy__Reply **out)
{
    Btspy__Reply *reply = NULL;
    int ret;

    *out = NULL;
    Btspy__Snapshot sn = BTSPY__SNAPSHOT__INIT;
    sn.session_id = r->id;
    sn.buckets = buckets;
    Btspy__Request req = BTSPY__REQUEST__INIT;
    req.body_case = BTSPY__REQUEST__BODY_SNAPSHOT;
    req.snapshot = &sn;
    if ((ret = bts_client_call(r->c, &req, &reply, on_session_update, r)) < 0)
        return ret;
    if (reply->error) {
        ret = -reply->error;
        remember_error(r, reply);
    } else if (reply->body_case != BTSPY__REPLY__BODY_SNAPSHOT) {
        ret = -EPROTO;
    } else {
        take_stats(r, reply->snapshot->stats);
        *out = reply;
        return 0;
    }
    btspy__reply__free_unpacked(reply, NULL);
    return ret;
}

int bts_client_session_write_folded(const struct bts_client_session *cr, FILE *out)
{
    struct bts_client_session *r = (struct bts_client_session *)cr;
    Btspy__Reply *reply;
    int ret;
    if (!r || !out)
        return -EINVAL;
    if (!r->started)
        return 0;
    if ((ret = snapshot(r, false, &reply)) < 0)
        return ret;
    const ProtobufCBinaryData *f = &reply->snapshot->folded;
    if (f->len && fwrite(f->data, 1, f->len, out) != f->len)
        ret = -EIO;
    btspy__reply__free_unpacked(reply, NULL);
    return ret;
}

#define MAX_BUCKET_FRAMES 256 /* as many as a session keeps */

/* One "TIME_MS\tROOT\tframe;..;frame COUNT" line (NUL-terminated, in
 * place) to fn. A malformed line is skipped: 0. */
static int visit_bucket_line(char *line, struct bts_session_frame *frames, size_t cap,
                             bts_session_bucket_fn fn, void *ctx)
{
    char *root = strchr(line, '\t'), *stack, *count_at, *end;
    unsigned long long count;
    long long time_ms;
    size_t n = 0;

    if (!root || !(stack = strchr(root + 1, '\t')))
        return 0;
    *root++ = '\0';
    *stack++ = '\0';
    count_at = strrchr(stack, ' ');
    if (!count_at)
        return 0;
    *count_at++ = '\0';
    errno = 0;
    time_ms = strtoll(line, &end, 10);
    if (errno || *end || end == line)
        return 0;
    count = strtoull(count_at, &end, 10);
    if (errno || *end || end == count_at || !count)
        return 0;
    for (char *f = stack, *semi; f && *f && n < cap; f = semi ? semi + 1 : NULL) {
        semi = strchr(f, ';');
        if (semi)
            *semi = '\0';
        frames[n++] = (struct bts_session_frame){.name = f};
    }
    return n ? fn(ctx, *root ? root : NULL, frames, n, count, time_ms) : 0;
}

int bts_client_session_foreach_bucket(const struct bts_client_session *cr, bts_session_bucket_fn fn,
                                      void *ctx, uint64_t *bucket_ns)
{
    struct bts_client_session *r = (struct bts_client_session *)cr;
    struct bts_session_frame *frames = NULL;
    Btspy__Reply *reply;
    char *text = NULL;
    int ret;
    if (!r || !fn)
        return -EINVAL;
    if (!r->opts.memory || r->opts.subprocesses)
        return -ENOTSUP;
    if (!r->started)
        return 0;
    if ((ret = snapshot(r, true, &reply)) < 0)
        return ret;
    const ProtobufCBinaryData *b = &reply->snapshot->buckets;
    if (bucket_ns)
        *bucket_ns = reply->snapshot->bucket_ns;
    frames = calloc(MAX_BUCKET_FRAMES, sizeof(*frames));
    text = malloc(b->len + 1);
    if (!frames || !text)
        ret = -ENOMEM;
    if (!ret) {
        memcpy(text, b->data, b->len);
        text[b->len] = '\0';
    }
    for (char *line = text, *nl; !ret && line && *line; line = nl ? nl + 1 : NULL) {
        nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        ret = visit_bucket_line(line, frames, MAX_BUCKET_FRAMES, fn, ctx);
    }
    free(text);
    free(frames);
    btspy__reply__free_unpacked(reply, NULL);
    return ret;
}

void bts_client_session_free(struct bts_client_session *r)
{
    if (!r)
        return;
    /* Closing the connection makes the daemon stop and free the session. */
    bts_client_free(r->c);
    if (r->argv) {
        for (size_t i = 0; r->argv[i]; i++)
            free(r->argv[i]);
        free(r->argv);
    }
    free(r->path);
    free(r);
}

/* Dumps. */

_Static_assert(BTS_THREAD_PYTHON_NONE == 0 && BTS_THREAD_PYTHON_RUNNING == 1 &&
                   BTS_THREAD_PYTHON_WAITING == 2 && BTS_THREAD_PYTHON_IDLE == 3,
               "the wire's python_state numbers are thread-dump.h's");

static void free_python_frames(struct bts_thread_stack *ts)
{
    struct bts_thread_python_frame *frames = (struct bts_thread_python_frame *)ts->python_frames;

    for (size_t k = 0; k < ts->n_python_frames; k++) {
        struct bts_thread_local *locals = (struct bts_thread_local *)frames[k].locals;

        for (size_t j = 0; j < frames[k].nlocals; j++) {
            free((char *)locals[j].name);
            free((char *)locals[j].value);
        }
        free(locals);
        free((char *)frames[k].name);
        free((char *)frames[k].filename);
    }
    free(frames);
    free((char *)ts->python_name);
}

void bts_client_dump_free(struct bts_client_dump *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->nthreads; i++) {
        for (size_t k = 0; k < d->threads[i].nframes; k++)
            free((char *)d->threads[i].frames[k]);
        free(d->threads[i].frames);
        free_python_frames(&d->threads[i]);
    }
    free(d->threads);
    free(d->command);
    free(d->python);
    free(d->python_note);
    free(d);
}

/* Copies a thread's Python frames and locals out of the reply. */
static int copy_python(const Btspy__DumpThread *t, struct bts_thread_stack *ts)
{
    struct bts_thread_python_frame *frames;

    ts->python_state = (enum bts_thread_python_state)t->python_state;
    ts->holds_gil = t->holds_gil;
    if (t->python_name[0] && !(ts->python_name = strdup(t->python_name)))
        return -ENOMEM;
    if (!t->n_python_frames)
        return 0;
    frames = calloc(t->n_python_frames, sizeof(*frames));
    if (!frames)
        return -ENOMEM;
    ts->python_frames = frames;
    for (size_t k = 0; k < t->n_python_frames; k++, ts->n_python_frames++) {
        const Btspy__DumpPythonFrame *f = t->python_frames[k];
        struct bts_thread_local *locals = NULL;

        frames[k].line = f->line;
        frames[k].name = strdup(f->name);
        frames[k].filename = strdup(f->filename);
        if (f->n_locals && (locals = calloc(f->n_locals, sizeof(*locals))))
            frames[k].locals = locals;
        if (!frames[k].name || !frames[k].filename || (f->n_locals && !locals)) {
            ts->n_python_frames++; /* so free_python_frames frees this one too */
            return -ENOMEM;
        }
        for (size_t j = 0; j < f->n_locals; j++, frames[k].nlocals++) {
            locals[j].name = strdup(f->locals[j]->name);
            locals[j].value = strdup(f->locals[j]->value);
            if (!locals[j].name || !locals[j].value) {
                frames[k].nlocals++;
                ts->n_python_frames++;
                return -ENOMEM;
            }
        }
    }
    return 0;
}

static struct bts_client_dump *copy_dump(const Btspy__DumpReply *dr)
{
    struct bts_client_dump *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    d->pid = dr->pid;
    d->command = strdup(dr->command);
    d->threads = calloc(dr->n_threads ? dr->n_threads : 1, sizeof(*d->threads));
    if (!d->command || !d->threads || (dr->python[0] && !(d->python = strdup(dr->python))) ||
        (dr->python_note[0] && !(d->python_note = strdup(dr->python_note))))
        goto fail;
    for (size_t i = 0; i < dr->n_threads; i++) {
        const Btspy__DumpThread *t = dr->threads[i];
        struct bts_thread_stack *ts = &d->threads[i];
        d->nthreads++;
        ts->tid = t->tid;
        snprintf(ts->name, sizeof(ts->name), "%s", t->name);
        ts->state = t->state[0] ? t->state[0] : '?';
        ts->error = t->error;
        ts->frames = calloc(t->n_frames ? t->n_frames : 1, sizeof(char *));
        if (!ts->frames)
            goto fail;
        for (size_t k = 0; k < t->n_frames; k++, ts->nframes++) {
            if (!(ts->frames[k] = strdup(t->frames[k])))
                goto fail;
        }
        if (copy_python(t, ts))
            goto fail;
    }
    return d;
fail:
    bts_client_dump_free(d);
    errno = ENOMEM;
    return NULL;
}

int bts_client_dump(const char *socket_path, pid_t pid, bool lines, struct bts_client_dump **out,
                    char *why, size_t why_len, char *hint, size_t hint_len)
{
    struct bts_thread_dump_opts opts = {.lines = lines, .python = true, .locals = false};

    return bts_client_dump_take(socket_path, pid, &opts, out, why, why_len, hint, hint_len);
}

int bts_client_dump_take(const char *socket_path, pid_t pid,
                         const struct bts_thread_dump_opts *opts, struct bts_client_dump **out,
                         char *why, size_t why_len, char *hint, size_t hint_len)
{
    struct bts_client *c = NULL;
    Btspy__Reply *reply = NULL;
    int ret;
    if (hint && hint_len)
        hint[0] = '\0';
    if ((ret = bts_client_connect(socket_path, "bt-spy dump", NULL, &c, why, why_len, hint,
                                  hint_len)) < 0)
        goto out;
    Btspy__Dump dm = BTSPY__DUMP__INIT;
    dm.pid = pid;
    dm.lines = opts->lines;
    dm.no_python = !opts->python;
    dm.locals = opts->locals;
    Btspy__Request req = BTSPY__REQUEST__INIT;
    req.body_case = BTSPY__REQUEST__BODY_DUMP;
    req.dump = &dm;
    if ((ret = bts_client_call(c, &req, &reply, NULL, NULL)) < 0) {
        if (ret == -ETIMEDOUT)
            put(why, why_len, "bt-spyd at '%s' did not answer within %d s", socket_path,
                BTS_CLIENT_ANSWER_MS / 1000);
        else
            put(why, why_len, "no answer from the daemon at '%s': %s", socket_path,
                bts_protocol_strerror(ret));
        goto out;
    }
    if (reply->error) {
        ret = -reply->error;
        if (why && why_len)
            snprintf(why, why_len, "%s", reply->reason);
        if (hint && hint_len)
            snprintf(hint, hint_len, "%s", reply->hint);
        goto out;
    }
    if (reply->body_case != BTSPY__REPLY__BODY_DUMP) {
        ret = -EPROTO;
        goto out;
    }
    if (!(*out = copy_dump(reply->dump)))
        ret = -ENOMEM;
out:
    if (reply)
        btspy__reply__free_unpacked(reply, NULL);
    bts_client_free(c);
    return ret;
}
