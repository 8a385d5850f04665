/* SPDX-License-Identifier: MIT */
/* client: connects to bt-spyd, runs remote sessions and dumps. */
#define _GNU_SOURCE
#include "client.h"
#include "proc.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define STREAM_INTERVAL_MS 100

struct bts_client {
    int fd;
    struct bts_frame_reader *rd;
};

static void say(char *why, size_t why_len, const char *fmt, const char *arg, int err)
{
    if (why && why_len)
        snprintf(why, why_len, fmt, arg, bts_protocol_strerror(err));
}

int bts_client_connect(const char *socket_path, const char *client_name, struct bts_client **out,
                       char *why, size_t why_len)
{
    struct bts_client *c = NULL;
    Btspy__Reply *reply = NULL;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int ret = 0;
    if (why && why_len)
        why[0] = '\0';
    if (!socket_path || strlen(socket_path) >= sizeof(sa.sun_path)) {
        say(why, why_len, "socket path '%s' is too long (%s)", socket_path ? socket_path : "",
            ENAMETOOLONG);
        ret = -ENAMETOOLONG;
        goto out;
    }
    strcpy(sa.sun_path, socket_path);
    c = calloc(1, sizeof(*c));
    if (!c) {
        ret = -ENOMEM;
        goto out;
    }
    c->fd = -1;
    if (!(c->rd = bts_frame_reader_new(BTS_PROTOCOL_MAX_REPLY))) {
        ret = -ENOMEM;
        goto out;
    }
    c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        ret = -errno;
        goto out;
    }
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        ret = -errno;
        if (ret == -ENOENT || ret == -ECONNREFUSED)
            say(why, why_len, "no daemon listens on '%s' (%s)", socket_path, -ret);
        else
            say(why, why_len, "cannot connect to '%s': %s", socket_path, -ret);
        goto out;
    }
    Btspy__Hello hello = BTSPY__HELLO__INIT;
    hello.version_major = BTS_PROTOCOL_VERSION_MAJOR;
    hello.version_minor = BTS_PROTOCOL_VERSION_MINOR;
    hello.client_name = (char *)(client_name ? client_name : "bt-spy");
    Btspy__Request req = BTSPY__REQUEST__INIT;
    req.body_case = BTSPY__REQUEST__BODY_HELLO;
    req.hello = &hello;
    if ((ret = bts_client_call(c, &req, &reply, NULL, NULL)) < 0) {
        say(why, why_len, "no answer from the daemon at '%s': %s", socket_path, -ret);
        goto out;
    }
    if (reply->error) {
        ret = -reply->error;
        if (why && why_len)
            snprintf(why, why_len, "%s", reply->reason);
        goto out;
    }
    if (reply->body_case != BTSPY__REPLY__BODY_HELLO ||
        reply->hello->version_major != BTS_PROTOCOL_VERSION_MAJOR) {
        ret = -EPROTO;
        if (why && why_len)
            snprintf(why, why_len, "the daemon speaks protocol %u, this client %u",
                     reply->body_case == BTSPY__REPLY__BODY_HELLO ? reply->hello->version_major : 0,
                     BTS_PROTOCOL_VERSION_MAJOR);
        goto out;
    }
    *out = c;
    c = NULL;
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

int bts_client_fd(const struct bts_client *c)
{
    return c->fd;
}

int bts_client_receive(struct bts_client *c, int timeout_ms, Btspy__Reply **reply)
{
    int64_t deadline = bts_proc_now_ns() + (int64_t)(timeout_ms < 0 ? 0 : timeout_ms) * 1000000LL;
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
        int64_t left = deadline - bts_proc_now_ns();
        if (left < 0)
            left = 0;
        struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
        r = poll(&pfd, 1, (int)((left + 999999) / 1000000));
        if (r < 0 && errno != EINTR)
            return -errno;
        if (r <= 0) {
            if (bts_proc_now_ns() >= deadline)
                return 0;
            continue;
        }
        long n = bts_frame_reader_fill(c->rd, c->fd);
        if (n == 0)
            return -ECONNRESET;
        if (n < 0 && n != -EAGAIN)
            return (int)n;
    }
}

int bts_client_call(struct bts_client *c, const Btspy__Request *req, Btspy__Reply **reply,
                    void (*on_update)(void *ctx, const Btspy__StreamUpdate *u), void *ctx)
{
    uint8_t *buf = NULL;
    size_t len;
    int ret = bts_protocol_frame_request(req, &buf, &len);
    if (ret < 0)
        return ret;
    ret = bts_protocol_write_all(c->fd, buf, len);
    free(buf);
    if (ret < 0)
        return ret == -EPIPE ? -ECONNRESET : ret;
    for (;;) {
        Btspy__Reply *r = NULL;
        ret = bts_client_receive(c, INT_MAX / 2, &r);
        if (ret < 0)
            return ret;
        if (ret == 0)
            continue;
        if (r->body_case == BTSPY__REPLY__BODY_UPDATE) {
            if (on_update)
                on_update(ctx, r->update);
            btspy__reply__free_unpacked(r, NULL);
            continue;
        }
        *reply = r;
        return 0;
    }
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
    int error;      /* the daemon's sampling error (positive errno) */
    char backend[32];
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
    if (st->stopped)
        r->stopped = true;
    if (st->error)
        r->error = st->error;
    r->stats_ns = bts_proc_now_ns();
}

static void on_session_update(void *ctx, const Btspy__StreamUpdate *u)
{
    struct bts_client_session *r = ctx;
    if (u->session_id == r->id)
        take_stats(r, u->stats);
}

static void remember_error(struct bts_client_session *r, const Btspy__Reply *reply)
{
    snprintf(r->why, sizeof(r->why), "%s", reply->reason);
    snprintf(r->hint, sizeof(r->hint), "%s", reply->hint);
}

int bts_client_session_start(struct bts_client_session *r)
{
    Btspy__Reply *reply = NULL;
    char cwd[PATH_MAX];
    int ret;
    if (!r || r->started)
        return -EINVAL;
    ret = bts_client_connect(r->path, "bt-spy", &r->c, r->why, sizeof(r->why));
    if (ret < 0) {
        snprintf(r->hint, sizeof(r->hint), "start it with: bt-spyd --socket %s", r->path);
        goto out;
    }
    Btspy__StartSession st = BTSPY__START_SESSION__INIT;
    st.pid = r->opts.pid;
    if (r->argv) {
        while (r->argv[st.n_argv])
            st.n_argv++;
        st.argv = r->argv;
        if (getcwd(cwd, sizeof(cwd)))
            st.cwd = cwd;
    }
    st.rate_hz = r->opts.rate_hz;
    st.backend = (Btspy__Backend)r->opts.backend;
    st.unwind = (Btspy__Unwind)r->opts.unwind;
    st.stack_size = r->opts.stack_size;
    st.threads = r->opts.threads;
    st.idle = r->opts.idle;
    st.lines = r->opts.lines;
    Btspy__Request req = BTSPY__REQUEST__INIT;
    req.body_case = BTSPY__REQUEST__BODY_START;
    req.start = &st;
    if ((ret = bts_client_call(r->c, &req, &reply, NULL, NULL)) < 0) {
        snprintf(r->why, sizeof(r->why), "the daemon did not answer: %s",
                 bts_protocol_strerror(-ret));
        goto out;
    }
    if (reply->error) {
        ret = -reply->error;
        remember_error(r, reply);
        goto out;
    }
    if (reply->body_case != BTSPY__REPLY__BODY_STARTED) {
        ret = -EPROTO;
        goto out;
    }
    r->id = reply->started->session_id;
    r->pid = reply->started->pid;
    snprintf(r->backend, sizeof(r->backend), "%s", reply->started->backend);
    btspy__reply__free_unpacked(reply, NULL);
    reply = NULL;

    /* Stats arrive as stream updates, so poll() only has to listen. */
    Btspy__Stream sm = BTSPY__STREAM__INIT;
    sm.session_id = r->id;
    sm.interval_ms = STREAM_INTERVAL_MS;
    req.body_case = BTSPY__REQUEST__BODY_STREAM;
    req.stream = &sm;
    if ((ret = bts_client_call(r->c, &req, &reply, on_session_update, r)) < 0)
        goto out;
    if (reply->error) {
        ret = -reply->error;
        remember_error(r, reply);
        goto out;
    }
    r->stats_ns = bts_proc_now_ns();
    r->started = true;
out:
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
    return r->error ? -r->error : -ECANCELED;
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
    if (r->started && !r->stopped && !r->stats.target_exited)
        out->elapsed_s += (double)(bts_proc_now_ns() - r->stats_ns) / 1e9;
}

pid_t bts_client_session_pid(const struct bts_client_session *r)
{
    return r ? r->pid : 0;
}

int bts_client_session_write_folded(const struct bts_client_session *cr, FILE *out)
{
    struct bts_client_session *r = (struct bts_client_session *)cr;
    Btspy__Reply *reply = NULL;
    int ret;
    if (!r || !out)
        return -EINVAL;
    if (!r->started)
        return 0;
    Btspy__Snapshot sn = BTSPY__SNAPSHOT__INIT;
    sn.session_id = r->id;
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
        const ProtobufCBinaryData *f = &reply->snapshot->folded;
        if (f->len && fwrite(f->data, 1, f->len, out) != f->len)
            ret = -EIO;
    }
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

void bts_client_dump_free(struct bts_client_dump *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->nthreads; i++) {
        for (size_t k = 0; k < d->threads[i].nframes; k++)
            free((char *)d->threads[i].frames[k]);
        free(d->threads[i].frames);
    }
    free(d->threads);
    free(d->command);
    free(d);
}

static struct bts_client_dump *copy_dump(const Btspy__DumpReply *dr)
{
    struct bts_client_dump *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    d->pid = dr->pid;
    d->command = strdup(dr->command);
    d->threads = calloc(dr->n_threads ? dr->n_threads : 1, sizeof(*d->threads));
    if (!d->command || !d->threads)
        goto fail;
    for (size_t i = 0; i < dr->n_threads; i++, d->nthreads++) {
        const Btspy__DumpThread *t = dr->threads[i];
        struct bts_thread_stack *ts = &d->threads[i];
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
    struct bts_client *c = NULL;
    Btspy__Reply *reply = NULL;
    int ret;
    if (hint && hint_len)
        hint[0] = '\0';
    if ((ret = bts_client_connect(socket_path, "bt-spy dump", &c, why, why_len)) < 0)
        goto out;
    Btspy__Dump dm = BTSPY__DUMP__INIT;
    dm.pid = pid;
    dm.lines = lines;
    Btspy__Request req = BTSPY__REQUEST__INIT;
    req.body_case = BTSPY__REQUEST__BODY_DUMP;
    req.dump = &dm;
    if ((ret = bts_client_call(c, &req, &reply, NULL, NULL)) < 0) {
        say(why, why_len, "no answer from the daemon at '%s': %s", socket_path, -ret);
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
