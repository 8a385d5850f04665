/* SPDX-License-Identifier: MIT */
/* protocol: framing, packing and validation of bt-spyd messages. */
#define _GNU_SOURCE
#include "protocol.h"

#include <errno.h>
#include <math.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define PREFIX 4u

struct bts_frame_reader {
    uint8_t *buf;
    size_t len; /* bytes held */
    size_t off; /* start of the unread part */
    size_t cap;
    size_t max_message;
    bool broken;
};

struct bts_frame_reader *bts_frame_reader_new(size_t max_message)
{
    struct bts_frame_reader *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->max_message = max_message;
    return r;
}

void bts_frame_reader_free(struct bts_frame_reader *r)
{
    if (!r)
        return;
    free(r->buf);
    free(r);
}

/* Makes room for `more` bytes after the held ones, compacting first. */
static int reserve(struct bts_frame_reader *r, size_t more)
{
    if (r->off) {
        memmove(r->buf, r->buf + r->off, r->len - r->off);
        r->len -= r->off;
        r->off = 0;
    }
    if (r->len + more <= r->cap)
        return 0;
    size_t cap = r->cap ? r->cap : 4096;
    while (cap < r->len + more)
        cap *= 2;
    uint8_t *nb = realloc(r->buf, cap);
    if (!nb)
        return -ENOMEM;
    r->buf = nb;
    r->cap = cap;
    return 0;
}

int bts_frame_reader_feed(struct bts_frame_reader *r, const void *data, size_t n)
{
    if (!n)
        return 0;
    if (reserve(r, n) < 0)
        return -ENOMEM;
    memcpy(r->buf + r->len, data, n);
    r->len += n;
    return 0;
}

long bts_frame_reader_fill(struct bts_frame_reader *r, int fd)
{
    size_t none = 0;
    return bts_frame_reader_fill_fds(r, fd, NULL, 0, &none);
}

/* Keeps what fits of the descriptors in one SCM_RIGHTS message; closes the
 * rest. */
static void take_fds(struct msghdr *mh, int *fds, size_t max_fds, size_t *nfds)
{
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
            continue;
        size_t n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < n; i++) {
            int got;
            memcpy(&got, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
            if (fds && *nfds < max_fds)
                fds[(*nfds)++] = got;
            else
                close(got);
        }
    }
}

long bts_frame_reader_fill_fds(struct bts_frame_reader *r, int fd, int *fds, size_t max_fds,
                               size_t *nfds)
{
    /* Read what the next frame needs, at least 4 KiB, at most 256 KiB, so
     * a peer cannot make us allocate ahead of validation. */
    size_t want = 4096;
    size_t held = r->len - r->off;
    if (held >= PREFIX) {
        const uint8_t *p = r->buf + r->off;
        size_t frame = ((size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3]);
        if (frame <= r->max_message && frame + PREFIX > held)
            want = frame + PREFIX - held;
    }
    if (want < 4096)
        want = 4096;
    if (want > 256 * 1024)
        want = 256 * 1024;
    if (reserve(r, want) < 0)
        return -ENOMEM;
    /* Room for more descriptors than anyone may send, so that a client
     * sending too many has them closed here rather than by the kernel. */
    union {
        char buf[CMSG_SPACE(8 * sizeof(int))];
        struct cmsghdr align;
    } control;
    struct iovec iov = {.iov_base = r->buf + r->len, .iov_len = r->cap - r->len};
    struct msghdr mh = {
        .msg_iov = &iov,
        .msg_iovlen = 1,
        .msg_control = control.buf,
        .msg_controllen = sizeof(control.buf),
    };
    ssize_t n;
    do
        n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    if (n < 0 && errno == ENOTSOCK) {
        do
            n = read(fd, r->buf + r->len, r->cap - r->len);
        while (n < 0 && errno == EINTR);
        mh.msg_controllen = 0;
    }
    if (n < 0)
        return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    if (mh.msg_controllen)
        take_fds(&mh, fds, max_fds, nfds);
    r->len += (size_t)n;
    return (long)n;
}

int bts_frame_reader_next(struct bts_frame_reader *r, const uint8_t **msg, size_t *len)
{
    if (r->broken)
        return -EMSGSIZE;
    size_t held = r->len - r->off;
    if (held < PREFIX)
        return 0;
    const uint8_t *p = r->buf + r->off;
    size_t frame = ((size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3]);
    if (frame > r->max_message) {
        r->broken = true;
        return -EMSGSIZE;
    }
    if (held - PREFIX < frame)
        return 0;
    *msg = p + PREFIX;
    *len = frame;
    r->off += PREFIX + frame;
    return 1;
}

size_t bts_frame_reader_pending(const struct bts_frame_reader *r)
{
    return r->len - r->off;
}

static int frame_message(const ProtobufCMessage *m, size_t max, uint8_t **out, size_t *len)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    if (n > max)
        return -EMSGSIZE;
    uint8_t *buf = malloc(PREFIX + n);
    if (!buf)
        return -ENOMEM;
    buf[0] = (uint8_t)(n >> 24);
    buf[1] = (uint8_t)(n >> 16);
    buf[2] = (uint8_t)(n >> 8);
    buf[3] = (uint8_t)n;
    protobuf_c_message_pack(m, buf + PREFIX);
    *out = buf;
    *len = PREFIX + n;
    return 0;
}

int bts_protocol_frame_request(const Btspy__Request *req, uint8_t **out, size_t *len)
{
    return frame_message(&req->base, BTS_PROTOCOL_MAX_REQUEST, out, len);
}

int bts_protocol_frame_reply(const Btspy__Reply *reply, uint8_t **out, size_t *len)
{
    return frame_message(&reply->base, BTS_PROTOCOL_MAX_REPLY, out, len);
}

static int invalid(char *why, size_t why_len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (why && why_len)
        vsnprintf(why, why_len, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

/* A protobuf-c string: present, and no longer than max bytes. */
static bool text_ok(const char *s, size_t max)
{
    return s && strnlen(s, max + 1) <= max;
}

static int validate_start(const Btspy__StartSession *st, char *why, size_t why_len)
{
    if (st->pid < 0)
        return invalid(why, why_len, "invalid pid %d", (int)st->pid);
    if ((st->pid > 0) == (st->n_argv > 0))
        return invalid(why, why_len, "give either a pid or a command, not %s",
                       st->pid > 0 ? "both" : "neither");
    if (st->n_argv > BTS_PROTOCOL_MAX_ARGV)
        return invalid(why, why_len, "too many arguments: %zu (at most %d)", st->n_argv,
                       BTS_PROTOCOL_MAX_ARGV);
    for (size_t i = 0; i < st->n_argv; i++) {
        if (!text_ok(st->argv[i], BTS_PROTOCOL_MAX_ARG))
            return invalid(why, why_len, "argument %zu is longer than %d bytes", i,
                           BTS_PROTOCOL_MAX_ARG);
    }
    if (st->n_argv && !st->argv[0][0])
        return invalid(why, why_len, "empty command name");
    if (!text_ok(st->cwd, BTS_PROTOCOL_MAX_ARG) || (st->cwd[0] && st->cwd[0] != '/'))
        return invalid(why, why_len, "the working directory must be an absolute path");
    if (st->rate_hz > BTS_SESSION_MAX_RATE_HZ)
        return invalid(why, why_len, "invalid rate %u (expected 1..%d)", st->rate_hz,
                       BTS_SESSION_MAX_RATE_HZ);
    if (!isfinite(st->duration_s) || st->duration_s < 0 || st->duration_s > 31 * 86400.0)
        return invalid(why, why_len, "invalid duration (expected 0..%d s)", 31 * 86400);
    if ((unsigned)st->backend > BTSPY__BACKEND__BACKEND_READ)
        return invalid(why, why_len, "unknown backend %d", (int)st->backend);
    if ((unsigned)st->unwind > BTSPY__UNWIND__UNWIND_FP)
        return invalid(why, why_len, "unknown unwind mode %d", (int)st->unwind);
    if (st->stack_size % 8 || st->stack_size > BTS_SESSION_MAX_STACK_SIZE ||
        (st->stack_size && st->stack_size < BTS_SESSION_MIN_STACK_SIZE))
        return invalid(why, why_len, "invalid stack size %u (a multiple of 8, %d..%d)",
                       st->stack_size, BTS_SESSION_MIN_STACK_SIZE, BTS_SESSION_MAX_STACK_SIZE);
    if (st->idle && st->backend == BTSPY__BACKEND__BACKEND_PERF)
        return invalid(why, why_len, "idle sampling needs the ptrace or auto backend");
    if (st->fault_period > BTS_SESSION_MAX_FAULT_PERIOD || (st->fault_period && !st->memory))
        return invalid(why, why_len, "invalid fault period %u (1..%d, and only with memory)",
                       st->fault_period, BTS_SESSION_MAX_FAULT_PERIOD);
    if (st->memory && (st->idle || st->backend == BTSPY__BACKEND__BACKEND_PTRACE))
        return invalid(why, why_len,
                       "memory samples page faults: it needs the perf backend and "
                       "not idle");
    if (st->backend == BTSPY__BACKEND__BACKEND_READ && (st->no_python || st->memory))
        return invalid(why, why_len, "the read backend reads Python stacks only: not with %s",
                       st->no_python ? "no_python" : "memory");
    if (st->no_python && (st->function || st->gil))
        return invalid(why, why_len, "%s needs Python frames, which no_python turns off",
                       st->function ? "function" : "gil");
    if (st->native_internal && !st->native)
        return invalid(why, why_len, "native_internal goes only with native");
    if (st->native && (st->no_python || st->memory || st->backend == BTSPY__BACKEND__BACKEND_READ))
        return invalid(why, why_len, "native merges Python and native frames: not with %s",
                       st->no_python ? "no_python"
                       : st->memory  ? "memory"
                                     : "the read backend");
    if (st->native && st->unwind == BTSPY__UNWIND__UNWIND_FP)
        return invalid(why, why_len, "native needs DWARF unwinding, not frame pointers");
    if ((st->n_env || st->stdio) && !st->n_argv)
        return invalid(why, why_len, "an environment or stdio goes only with a command to launch");
    if (st->n_env > BTS_PROTOCOL_MAX_ENV)
        return invalid(why, why_len, "too many environment variables: %zu (at most %d)", st->n_env,
                       BTS_PROTOCOL_MAX_ENV);
    for (size_t i = 0; i < st->n_env; i++) {
        const char *eq =
            text_ok(st->env[i], BTS_PROTOCOL_MAX_REQUEST) ? strchr(st->env[i], '=') : NULL;
        if (!eq || eq == st->env[i])
            return invalid(why, why_len, "environment entry %zu is not NAME=value", i);
    }
    return 0;
}

void bts_protocol_start_from_opts(const struct bts_session_opts *o, Btspy__StartSession *st)
{
    st->pid = o->pid;
    st->n_argv = 0;
    st->argv = (char **)o->argv;
    while (o->argv && o->argv[st->n_argv])
        st->n_argv++;
    st->rate_hz = o->rate_hz;
    st->backend = (Btspy__Backend)o->backend;
    st->unwind = (Btspy__Unwind)o->unwind;
    st->stack_size = o->stack_size;
    st->threads = o->threads;
    st->idle = o->idle;
    st->lines = o->lines;
    st->subprocesses = o->subprocesses;
    st->no_python = o->no_python;
    st->function = o->function;
    st->gil = o->gil;
    st->memory = o->memory;
    st->fault_period = o->fault_period;
    st->native = o->native;
    st->native_internal = o->native_internal;
}

void bts_protocol_opts_from_start(const Btspy__StartSession *st, struct bts_session_opts *o)
{
    o->pid = st->pid;
    o->rate_hz = st->rate_hz;
    o->backend = (enum bts_backend)st->backend;
    o->unwind = (enum bts_unwind)st->unwind;
    o->stack_size = st->stack_size;
    o->threads = st->threads;
    o->idle = st->idle;
    o->lines = st->lines;
    o->subprocesses = st->subprocesses;
    o->no_python = st->no_python;
    o->function = st->function;
    o->gil = st->gil;
    o->memory = st->memory;
    o->fault_period = st->fault_period;
    o->native = st->native;
    o->native_internal = st->native_internal;
}

_Static_assert((int)BTS_BACKEND_AUTO == BTSPY__BACKEND__BACKEND_AUTO &&
                   (int)BTS_BACKEND_PERF == BTSPY__BACKEND__BACKEND_PERF &&
                   (int)BTS_BACKEND_PTRACE == BTSPY__BACKEND__BACKEND_PTRACE &&
                   (int)BTS_BACKEND_READ == BTSPY__BACKEND__BACKEND_READ,
               "the wire's backends are the sampler's");
_Static_assert((int)BTS_UNWIND_DWARF == BTSPY__UNWIND__UNWIND_DWARF &&
                   (int)BTS_UNWIND_FP == BTSPY__UNWIND__UNWIND_FP,
               "the wire's unwind modes are the sampler's");

int bts_protocol_validate_request(const Btspy__Request *req, char *why, size_t why_len)
{
    switch (req->body_case) {
    case BTSPY__REQUEST__BODY_HELLO:
        if (!text_ok(req->hello->client_name, BTS_PROTOCOL_MAX_NAME))
            return invalid(why, why_len, "client name longer than %d bytes", BTS_PROTOCOL_MAX_NAME);
        return 0;
    case BTSPY__REQUEST__BODY_START:
        return validate_start(req->start, why, why_len);
    case BTSPY__REQUEST__BODY_STOP:
        if (!req->stop->session_id)
            return invalid(why, why_len, "session id 0 is not valid");
        return 0;
    case BTSPY__REQUEST__BODY_SNAPSHOT:
        if (!req->snapshot->session_id)
            return invalid(why, why_len, "session id 0 is not valid");
        return 0;
    case BTSPY__REQUEST__BODY_STREAM:
        if (!req->stream->session_id)
            return invalid(why, why_len, "session id 0 is not valid");
        if (req->stream->interval_ms &&
            (req->stream->interval_ms < 10 || req->stream->interval_ms > 60000))
            return invalid(why, why_len, "invalid stream interval %u ms (expected 10..60000)",
                           req->stream->interval_ms);
        return 0;
    case BTSPY__REQUEST__BODY_LIST:
    case BTSPY__REQUEST__BODY_STATUS:
        return 0;
    case BTSPY__REQUEST__BODY_DUMP:
        if (req->dump->pid <= 0)
            return invalid(why, why_len, "invalid pid %d", (int)req->dump->pid);
        return 0;
    default:
        return invalid(why, why_len, "unknown or empty request");
    }
}

static int validate_stats(const Btspy__Stats *st, char *why, size_t why_len)
{
    if (st && (!isfinite(st->elapsed_s) || st->elapsed_s < 0))
        return invalid(why, why_len, "invalid elapsed time");
    if (st && (st->error < 0 || st->error > 4095))
        return invalid(why, why_len, "invalid session error %d", (int)st->error);
    if (st &&
        (!text_ok(st->reason, BTS_PROTOCOL_MAX_TEXT) || !text_ok(st->hint, BTS_PROTOCOL_MAX_TEXT)))
        return invalid(why, why_len, "session reason or hint longer than %d bytes",
                       BTS_PROTOCOL_MAX_TEXT);
    if (st && (!text_ok(st->python_version, BTS_PROTOCOL_MAX_NAME) ||
               !text_ok(st->python_note, BTS_PROTOCOL_MAX_TEXT)))
        return invalid(why, why_len, "python version or note too long");
    return 0;
}

/* A Python frame of a dumped thread: names, a line, bounded locals. */
static int validate_python_frame(const Btspy__DumpPythonFrame *f, char *why, size_t why_len)
{
    if (!text_ok(f->name, BTS_PROTOCOL_MAX_ARG) || !text_ok(f->filename, BTS_PROTOCOL_MAX_ARG) ||
        f->line < 0 || f->n_locals > BTS_PROTOCOL_MAX_LOCALS)
        return invalid(why, why_len, "invalid Python frame in a dump");
    for (size_t i = 0; i < f->n_locals; i++) {
        if (!text_ok(f->locals[i]->name, BTS_PROTOCOL_MAX_ARG) ||
            !text_ok(f->locals[i]->value, BTS_PROTOCOL_MAX_ARG))
            return invalid(why, why_len, "invalid local variable in a dump");
    }
    return 0;
}

static int validate_dump(const Btspy__DumpReply *d, char *why, size_t why_len)
{
    if (d->pid <= 0 || !text_ok(d->command, BTS_PROTOCOL_MAX_REQUEST) || !text_ok(d->python, 32) ||
        !text_ok(d->python_note, BTS_PROTOCOL_MAX_TEXT))
        return invalid(why, why_len, "invalid dump header");
    if (d->n_threads > BTS_PROTOCOL_MAX_THREADS)
        return invalid(why, why_len, "too many threads in a dump: %zu", d->n_threads);
    for (size_t i = 0; i < d->n_threads; i++) {
        const Btspy__DumpThread *t = d->threads[i];
        if (t->tid <= 0 || !text_ok(t->name, 15) || !text_ok(t->state, 1) || t->error > 0 ||
            t->n_frames > BTS_PROTOCOL_MAX_FRAMES)
            return invalid(why, why_len, "invalid dumped thread %zu", i);
        for (size_t k = 0; k < t->n_frames; k++) {
            if (!text_ok(t->frames[k], BTS_PROTOCOL_MAX_ARG))
                return invalid(why, why_len, "frame name longer than %d bytes",
                               BTS_PROTOCOL_MAX_ARG);
        }
        if (t->python_state > 3 || !text_ok(t->python_name, BTS_PROTOCOL_MAX_ARG) ||
            t->n_python_frames > BTS_PROTOCOL_MAX_FRAMES)
            return invalid(why, why_len, "invalid dumped thread %zu", i);
        for (size_t k = 0; k < t->n_python_frames; k++) {
            int err = validate_python_frame(t->python_frames[k], why, why_len);
            if (err)
                return err;
        }
    }
    return 0;
}

int bts_protocol_validate_reply(const Btspy__Reply *r, char *why, size_t why_len)
{
    if (r->error < 0 || r->error > 4095)
        return invalid(why, why_len, "invalid error code %d", (int)r->error);
    if (!text_ok(r->reason, BTS_PROTOCOL_MAX_TEXT) || !text_ok(r->hint, BTS_PROTOCOL_MAX_TEXT))
        return invalid(why, why_len, "reason or hint longer than %d bytes", BTS_PROTOCOL_MAX_TEXT);
    switch (r->body_case) {
    case BTSPY__REPLY__BODY__NOT_SET:
        return 0;
    case BTSPY__REPLY__BODY_HELLO:
        return 0;
    case BTSPY__REPLY__BODY_STARTED:
        if (!r->started->session_id || r->started->pid <= 0 || !text_ok(r->started->backend, 32))
            return invalid(why, why_len, "invalid session start reply");
        return 0;
    case BTSPY__REPLY__BODY_STATS:
        return validate_stats(r->stats, why, why_len);
    case BTSPY__REPLY__BODY_SNAPSHOT:
        return validate_stats(r->snapshot->stats, why, why_len);
    case BTSPY__REPLY__BODY_UPDATE:
        if (!r->update->session_id)
            return invalid(why, why_len, "invalid stream update");
        return validate_stats(r->update->stats, why, why_len);
    case BTSPY__REPLY__BODY_LIST:
        for (size_t i = 0; i < r->list->n_sessions; i++) {
            const Btspy__SessionInfo *si = r->list->sessions[i];
            if (!si->session_id || !text_ok(si->backend, 32) ||
                validate_stats(si->stats, why, why_len))
                return invalid(why, why_len, "invalid session %zu in the list", i);
        }
        return 0;
    case BTSPY__REPLY__BODY_STATUS:
        if (!isfinite(r->status->uptime_s))
            return invalid(why, why_len, "invalid uptime");
        return 0;
    case BTSPY__REPLY__BODY_DUMP:
        return validate_dump(r->dump, why, why_len);
    default:
        return invalid(why, why_len, "unknown reply");
    }
}

/* Unpacks and validates one message of either direction: NULL with errno
 * and why set when it is too long, malformed or invalid. */
static ProtobufCMessage *decode(const ProtobufCMessageDescriptor *desc, const char *what,
                                size_t max, int (*validate)(const void *, char *, size_t),
                                const uint8_t *msg, size_t len, char *why, size_t why_len)
{
    if (len > max) {
        invalid(why, why_len, "%s of %zu bytes (at most %zu)", what, len, max);
        errno = EMSGSIZE;
        return NULL;
    }
    ProtobufCMessage *m = protobuf_c_message_unpack(desc, NULL, len, msg);
    if (!m) {
        invalid(why, why_len, "malformed %s (%zu bytes)", what, len);
        errno = EBADMSG;
        return NULL;
    }
    if (validate(m, why, why_len) < 0) {
        protobuf_c_message_free_unpacked(m, NULL);
        errno = EINVAL;
        return NULL;
    }
    return m;
}

static int validate_any_request(const void *m, char *why, size_t why_len)
{
    return bts_protocol_validate_request(m, why, why_len);
}

static int validate_any_reply(const void *m, char *why, size_t why_len)
{
    return bts_protocol_validate_reply(m, why, why_len);
}

Btspy__Request *bts_protocol_decode_request(const uint8_t *msg, size_t len, char *why,
                                            size_t why_len)
{
    return (Btspy__Request *)decode(&btspy__request__descriptor, "request",
                                    BTS_PROTOCOL_MAX_REQUEST, validate_any_request, msg, len, why,
                                    why_len);
}

Btspy__Reply *bts_protocol_decode_reply(const uint8_t *msg, size_t len, char *why, size_t why_len)
{
    return (Btspy__Reply *)decode(&btspy__reply__descriptor, "reply", BTS_PROTOCOL_MAX_REPLY,
                                  validate_any_reply, msg, len, why, why_len);
}

int bts_protocol_write_all(int fd, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    while (len) {
        /* MSG_NOSIGNAL: a peer that went away is an error, not SIGPIPE. */
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == ENOTSOCK)
            n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

const char *bts_protocol_strerror(int err)
{
    static _Thread_local char buf[128];
    snprintf(buf, sizeof(buf), "%s", strerror(err < 0 ? -err : err));
    if (buf[0] && !(buf[1] && isupper((unsigned char)buf[1])))
        buf[0] = (char)tolower((unsigned char)buf[0]);
    return buf;
}
