/* SPDX-License-Identifier: MIT */
/* daemon-probe: a small bt-spyd client for the daemon tests: status, list,
 * remote recording through the session API, streams, dumps, and bad bytes. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "protocol.h"
#include "profiler.h"

static int die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("daemon-probe: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

static int call_simple(const char *sock, Btspy__Request *req, Btspy__Reply **reply)
{
    struct bts_client *c;
    char why[256];
    int r = bts_client_connect(sock, "daemon-probe", NULL, &c, why, sizeof(why), NULL, 0);
    if (r < 0)
        return die("cannot connect: %s", why);
    r = bts_client_call(c, req, reply, NULL, NULL);
    bts_client_free(c);
    if (r < 0)
        return die("call failed: %s", strerror(-r));
    return 0;
}

static int cmd_status(const char *sock)
{
    Btspy__Status st = BTSPY__STATUS__INIT;
    Btspy__Request req = BTSPY__REQUEST__INIT;
    Btspy__Reply *reply;
    req.body_case = BTSPY__REQUEST__BODY_STATUS;
    req.status = &st;
    if (call_simple(sock, &req, &reply))
        return 1;
    if (reply->body_case != BTSPY__REPLY__BODY_STATUS)
        return die("no status in the reply: %s", reply->reason);
    printf("pid %d uptime %.1f sessions %u clients %u rss %llu watched %u\n", reply->status->pid,
           reply->status->uptime_s, reply->status->sessions, reply->status->clients,
           (unsigned long long)reply->status->rss_bytes, reply->status->watched);
    btspy__reply__free_unpacked(reply, NULL);
    return 0;
}

static int cmd_list(const char *sock)
{
    Btspy__ListSessions ls = BTSPY__LIST_SESSIONS__INIT;
    Btspy__Request req = BTSPY__REQUEST__INIT;
    Btspy__Reply *reply;
    req.body_case = BTSPY__REQUEST__BODY_LIST;
    req.list = &ls;
    if (call_simple(sock, &req, &reply))
        return 1;
    if (reply->body_case != BTSPY__REPLY__BODY_LIST)
        return die("no list in the reply: %s", reply->reason);
    printf("%zu\n", reply->list->n_sessions);
    btspy__reply__free_unpacked(reply, NULL);
    return 0;
}

/* The same calls `bt-spy record` makes, with connect_path set. */
static int cmd_record(const char *sock, pid_t pid, double seconds, const char *out, unsigned rate)
{
    struct bts_session_opts so = {.pid = pid, .rate_hz = rate};
    struct bts_session_stats st;
    struct bts_profiler *s = bts_profiler_new(&so, sock);
    const char *why, *hint;
    int rc = 1;
    if (!s)
        return die("cannot set up the session: %s", strerror(errno));
    int r = bts_profiler_start(s);
    if (r < 0) {
        bts_profiler_explain(s, &why, &hint);
        fprintf(stderr, "daemon-probe: cannot attach to pid %d: %s\n", (int)pid,
                *why ? why : strerror(-r));
        if (*hint)
            fprintf(stderr, "hint: %s\n", hint);
        goto out;
    }
    for (;;) {
        r = bts_profiler_poll(s, 100);
        bts_profiler_stats(s, &st);
        if (r != 0 || st.elapsed_s >= seconds)
            break;
    }
    bts_profiler_stop(s);
    FILE *f = fopen(out, "w");
    if (!f) {
        die("cannot write '%s': %s", out, strerror(errno));
        goto out;
    }
    r = bts_profiler_write_folded(s, f);
    fclose(f);
    if (r < 0) {
        die("cannot read the profile: %s", strerror(-r));
        goto out;
    }
    bts_profiler_stats(s, &st);
    fprintf(stderr, "daemon-probe: %llu samples, backend %s, pid %d, %.1f s\n",
            (unsigned long long)st.samples, bts_profiler_backend(s), (int)bts_profiler_pid(s),
            st.elapsed_s);
    rc = 0;
out:
    bts_profiler_free(s);
    return rc;
}

/* Launches argv through the daemon and records it until it exits. */
static int cmd_run(const char *sock, const char *out, char **argv)
{
    struct bts_session_opts so = {.argv = argv, .rate_hz = 199};
    struct bts_profiler *s = bts_profiler_new(&so, sock);
    const char *why, *hint;
    int rc = 1, r;
    if (!s)
        return die("cannot set up the session: %s", strerror(errno));
    if ((r = bts_profiler_start(s)) < 0) {
        bts_profiler_explain(s, &why, &hint);
        fprintf(stderr, "daemon-probe: cannot start '%s': %s\n", argv[0],
                *why ? why : strerror(-r));
        goto out;
    }
    while ((r = bts_profiler_poll(s, 100)) == 0)
        ;
    FILE *f = fopen(out, "w");
    if (!f)
        goto out;
    r = bts_profiler_write_folded(s, f);
    fclose(f);
    struct bts_session_stats st;
    bts_profiler_stats(s, &st);
    fprintf(stderr, "daemon-probe: %llu samples, exit status %d\n", (unsigned long long)st.samples,
            st.exit_status);
    rc = r < 0 ? 1 : 0;
out:
    bts_profiler_free(s);
    return rc;
}

/* A top-like client: streams folded snapshots until killed. */
static int cmd_stream(const char *sock, pid_t pid)
{
    struct bts_client *c;
    Btspy__Reply *reply = NULL;
    char why[256];
    if (bts_client_connect(sock, "daemon-probe stream", NULL, &c, why, sizeof(why), NULL, 0) < 0)
        return die("cannot connect: %s", why);
    Btspy__StartSession st = BTSPY__START_SESSION__INIT;
    st.pid = pid;
    st.rate_hz = 199;
    Btspy__Request req = BTSPY__REQUEST__INIT;
    req.body_case = BTSPY__REQUEST__BODY_START;
    req.start = &st;
    if (bts_client_call(c, &req, &reply, NULL, NULL) < 0 || reply->error) {
        die("cannot start: %s", reply ? reply->reason : "no reply");
        goto fail;
    }
    uint32_t id = reply->started->session_id;
    btspy__reply__free_unpacked(reply, NULL);
    Btspy__Stream sm = BTSPY__STREAM__INIT;
    sm.session_id = id;
    sm.interval_ms = 100;
    sm.with_folded = true;
    req.body_case = BTSPY__REQUEST__BODY_STREAM;
    req.stream = &sm;
    if (bts_client_call(c, &req, &reply, NULL, NULL) < 0 || reply->error) {
        die("cannot stream: %s", reply ? reply->reason : "no reply");
        goto fail;
    }
    btspy__reply__free_unpacked(reply, NULL);
    printf("session %u\n", id);
    fflush(stdout);
    for (;;) {
        reply = NULL;
        int r = bts_client_receive(c, 5000, &reply);
        if (r <= 0) {
            die("stream ended: %s", r ? strerror(-r) : "timeout");
            goto fail;
        }
        if (reply->body_case == BTSPY__REPLY__BODY_UPDATE && reply->update->stats) {
            printf("update samples %llu folded %zu\n",
                   (unsigned long long)reply->update->stats->samples, reply->update->folded.len);
            fflush(stdout);
            bool done = reply->update->stats->target_exited;
            btspy__reply__free_unpacked(reply, NULL);
            if (done) {
                bts_client_free(c);
                return 0;
            }
        } else {
            btspy__reply__free_unpacked(reply, NULL);
        }
    }
fail:
    if (reply)
        btspy__reply__free_unpacked(reply, NULL);
    bts_client_free(c);
    return 1;
}

static int cmd_dump(const char *sock, pid_t pid)
{
    struct bts_client_dump *d;
    char why[512], hint[512];
    int r = bts_client_dump(sock, pid, false, &d, why, sizeof(why), hint, sizeof(hint));
    if (r < 0)
        return die("cannot dump pid %d: %s", (int)pid, why);
    printf("pid %d threads %zu\n", (int)d->pid, d->nthreads);
    for (size_t i = 0; i < d->nthreads; i++) {
        printf("thread %d %s", (int)d->threads[i].tid, d->threads[i].name);
        for (size_t k = 0; k < d->threads[i].nframes; k++)
            printf(";%s", d->threads[i].frames[k]);
        printf("\n");
    }
    bts_client_dump_free(d);
    return 0;
}

static int connect_raw(const char *sock)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

/* Sends bytes, then reads up to `replies` replies (2 s at most). Returns
 * the error code of the last reply, -1 when none came. */
static int send_bad(const char *sock, const void *bytes, size_t len, int replies)
{
    int fd = connect_raw(sock);
    int err = -1, got = 0;
    if (fd < 0)
        return -2;
    bts_protocol_write_all(fd, bytes, len);
    struct bts_frame_reader *rd = bts_frame_reader_new(BTS_PROTOCOL_MAX_REPLY);
    for (int i = 0; got < replies && i < 40; i++) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0)
            continue;
        if (bts_frame_reader_fill(rd, fd) <= 0)
            break;
        const uint8_t *m;
        size_t n;
        while (got < replies && bts_frame_reader_next(rd, &m, &n) == 1) {
            Btspy__Reply *r = bts_protocol_decode_reply(m, n, NULL, 0);
            err = r ? r->error : -3;
            got++;
            if (r)
                btspy__reply__free_unpacked(r, NULL);
        }
    }
    bts_frame_reader_free(rd);
    close(fd);
    return err;
}

static size_t frame(uint8_t *out, const ProtobufCMessage *m)
{
    size_t n = protobuf_c_message_pack(m, out + 4);
    out[0] = (uint8_t)(n >> 24), out[1] = (uint8_t)(n >> 16), out[2] = (uint8_t)(n >> 8);
    out[3] = (uint8_t)n;
    return n + 4;
}

/* Every kind of bad input, `rounds` times; each must be refused, not crash. */
static int cmd_bad(const char *sock, int rounds)
{
    uint8_t buf[256];
    int refused = 0, kinds = 0;
    Btspy__Hello hello = BTSPY__HELLO__INIT;
    Btspy__Request req = BTSPY__REQUEST__INIT;
    req.body_case = BTSPY__REQUEST__BODY_HELLO;
    req.hello = &hello;
    srand(1);
    for (int i = 0; i < rounds; i++) {
        size_t n;
        int e;
        kinds = 0;
        /* 1. oversized length */
        const uint8_t big[] = {0x7f, 0xff, 0xff, 0xff, 1, 2, 3};
        e = send_bad(sock, big, sizeof(big), 1);
        refused += e == EMSGSIZE, kinds++;
        /* 2. garbage in a well-sized frame */
        buf[0] = buf[1] = 0, buf[2] = 0, buf[3] = 40;
        for (int k = 4; k < 44; k++)
            buf[k] = (uint8_t)rand();
        buf[4] = 0xff; /* an invalid field key: unpack must fail */
        e = send_bad(sock, buf, 44, 1);
        refused += e == EBADMSG, kinds++;
        /* 3. wrong major version */
        hello.version_major = 99;
        n = frame(buf, &req.base);
        e = send_bad(sock, buf, n, 1);
        refused += e == EPROTONOSUPPORT, kinds++;
        /* 4. a request before hello */
        Btspy__Status st = BTSPY__STATUS__INIT;
        Btspy__Request sreq = BTSPY__REQUEST__INIT;
        sreq.body_case = BTSPY__REQUEST__BODY_STATUS;
        sreq.status = &st;
        n = frame(buf, &sreq.base);
        e = send_bad(sock, buf, n, 1);
        refused += e == EPROTO, kinds++;
        /* 5. truncated frame, then hang up (no reply expected) */
        hello.version_major = BTS_PROTOCOL_VERSION_MAJOR;
        n = frame(buf, &req.base);
        send_bad(sock, buf, n - 2, 0);
        /* 6. empty request (no body) after a valid hello */
        Btspy__Request empty = BTSPY__REQUEST__INIT;
        n = frame(buf, &req.base);
        n += frame(buf + n, &empty.base);
        e = send_bad(sock, buf, n, 2); /* the hello reply, then the refusal */
        refused += e == EINVAL, kinds++;
    }
    printf("refused %d of %d\n", refused, rounds * kinds);
    return refused == rounds * kinds ? 0 : 1;
}

static int cmd_version(const char *sock, unsigned major)
{
    uint8_t buf[128];
    Btspy__Hello hello = BTSPY__HELLO__INIT;
    hello.version_major = major;
    Btspy__Request req = BTSPY__REQUEST__INIT;
    req.body_case = BTSPY__REQUEST__BODY_HELLO;
    req.hello = &hello;
    size_t n = frame(buf, &req.base);
    int fd = connect_raw(sock);
    if (fd < 0)
        return die("cannot connect");
    bts_protocol_write_all(fd, buf, n);
    struct bts_frame_reader *rd = bts_frame_reader_new(BTS_PROTOCOL_MAX_REPLY);
    const uint8_t *m;
    size_t len;
    int rc = 2;
    while (bts_frame_reader_fill(rd, fd) > 0) {
        if (bts_frame_reader_next(rd, &m, &len) == 1) {
            Btspy__Reply *r = bts_protocol_decode_reply(m, len, NULL, 0);
            if (r) {
                printf("error %d: %s\n", r->error, r->reason);
                rc = r->error ? 1 : 0;
                btspy__reply__free_unpacked(r, NULL);
            }
            break;
        }
    }
    bts_frame_reader_free(rd);
    close(fd);
    return rc;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    if (argc >= 3 && !strcmp(argv[1], "status"))
        return cmd_status(argv[2]);
    if (argc >= 3 && !strcmp(argv[1], "list"))
        return cmd_list(argv[2]);
    if (argc >= 6 && !strcmp(argv[1], "record"))
        return cmd_record(argv[2], atoi(argv[3]), atof(argv[4]), argv[5],
                          argc > 6 ? (unsigned)atoi(argv[6]) : 0);
    if (argc >= 5 && !strcmp(argv[1], "run"))
        return cmd_run(argv[2], argv[3], argv + 4);
    if (argc >= 4 && !strcmp(argv[1], "stream"))
        return cmd_stream(argv[2], atoi(argv[3]));
    if (argc >= 4 && !strcmp(argv[1], "dump"))
        return cmd_dump(argv[2], atoi(argv[3]));
    if (argc >= 4 && !strcmp(argv[1], "bad"))
        return cmd_bad(argv[2], atoi(argv[3]));
    if (argc >= 4 && !strcmp(argv[1], "version"))
        return cmd_version(argv[2], (unsigned)atoi(argv[3]));
    fputs("usage: daemon-probe status|list SOCK\n"
          "       daemon-probe record SOCK PID SECONDS OUT.folded [RATE]\n"
          "       daemon-probe run SOCK OUT.folded CMD [ARGS...]\n"
          "       daemon-probe stream|dump SOCK PID\n"
          "       daemon-probe bad SOCK ROUNDS\n"
          "       daemon-probe version SOCK MAJOR\n",
          stderr);
    return 2;
}
