/* SPDX-License-Identifier: MIT */
/* Fixture for the security tests: a bt-spyd client that speaks the wire
 * format by hand (4-byte big-endian length, protobuf fields written here),
 * so it needs none of the daemon's code and can misbehave on purpose:
 *   sec-client status SOCK                 one Status request
 *   sec-client start SOCK PID RATE         one StartSession; prints its error
 *   sec-client sessions SOCK CONNS PER PID SECONDS
 *                                          CONNS connections of PER sessions
 *   sec-client flood SOCK N SECONDS        N half-open connections: a length
 *                                          prefix, then 1 byte every 2 s
 *   sec-client mute SOCK SECONDS           a server that accepts and never
 *                                          answers
 *   sec-client dumps SOCK PID N            N thread dumps of PID sent at once,
 *                                          then their answers counted
 *   sec-client unread SOCK N               N ListSessions requests, whose
 *                                          answers are never read */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

struct buf {
    uint8_t b[4096];
    size_t n;
};

static void put_varint(struct buf *o, uint64_t v)
{
    while (v >= 0x80 && o->n < sizeof(o->b)) {
        o->b[o->n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    if (o->n < sizeof(o->b))
        o->b[o->n++] = (uint8_t)v;
}

static void put_tag(struct buf *o, unsigned field, unsigned wire)
{
    put_varint(o, (uint64_t)field << 3 | wire);
}

static void put_bytes(struct buf *o, unsigned field, const void *p, size_t len)
{
    put_tag(o, field, 2);
    put_varint(o, len);
    if (o->n + len <= sizeof(o->b)) {
        memcpy(o->b + o->n, p, len);
        o->n += len;
    }
}

static void put_double(struct buf *o, unsigned field, double d)
{
    uint64_t v;
    memcpy(&v, &d, sizeof(v));
    put_tag(o, field, 1);
    for (int i = 0; i < 8 && o->n < sizeof(o->b); i++)
        o->b[o->n++] = (uint8_t)(v >> (8 * i));
}

static int send_frame(int fd, const struct buf *m)
{
    uint8_t hdr[4] = {(uint8_t)(m->n >> 24), (uint8_t)(m->n >> 16), (uint8_t)(m->n >> 8),
                      (uint8_t)m->n};
    if (send(fd, hdr, 4, MSG_NOSIGNAL) != 4 || send(fd, m->b, m->n, MSG_NOSIGNAL) != (ssize_t)m->n)
        return -1;
    return 0;
}

/* Request{hello: Hello{version_major: 1, client_name: "sec-client"}} */
static int send_hello(int fd)
{
    struct buf hello = {.n = 0}, req = {.n = 0};
    put_tag(&hello, 1, 0);
    put_varint(&hello, 1);
    put_bytes(&hello, 3, "sec-client", 10);
    put_bytes(&req, 1, hello.b, hello.n);
    return send_frame(fd, &req);
}

/* Request{start: StartSession{pid, rate_hz, duration_s}} */
static int send_start(int fd, long pid, unsigned long rate, double duration)
{
    struct buf st = {.n = 0}, req = {.n = 0};
    put_tag(&st, 1, 0);
    put_varint(&st, (uint64_t)pid);
    put_tag(&st, 4, 0);
    put_varint(&st, rate);
    if (duration > 0)
        put_double(&st, 5, duration);
    put_bytes(&req, 2, st.b, st.n);
    return send_frame(fd, &req);
}

static int send_status(int fd)
{
    struct buf req = {.n = 0};
    put_bytes(&req, 7, "", 0);
    return send_frame(fd, &req);
}

/* Request{dump: Dump{pid, no_python: true}} */
static int send_dump(int fd, long pid)
{
    struct buf dm = {.n = 0}, req = {.n = 0};
    put_tag(&dm, 1, 0);
    put_varint(&dm, (uint64_t)pid);
    put_tag(&dm, 3, 0);
    put_varint(&dm, 1);
    put_bytes(&req, 8, dm.b, dm.n);
    return send_frame(fd, &req);
}

static int read_full(int fd, uint8_t *p, size_t len, int timeout_ms)
{
    size_t got = 0;
    while (got < len) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int r = poll(&pfd, 1, timeout_ms);
        if (r <= 0)
            return r == 0 ? -ETIMEDOUT : -errno;
        ssize_t n = read(fd, p + got, len - got);
        if (n <= 0)
            return n == 0 ? -ECONNRESET : -errno;
        got += (size_t)n;
    }
    return 0;
}

static uint64_t get_varint(const uint8_t **p, const uint8_t *end)
{
    uint64_t v = 0;
    for (int shift = 0; *p < end && shift < 64; shift += 7) {
        uint8_t c = *(*p)++;
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80))
            break;
    }
    return v;
}

/* The fields of one reply this tool looks at. */
struct reply {
    int64_t error;
    char reason[1024];
    uint64_t status[7]; /* StatusReply's varint fields by number */
    int has_status;
};

/* Walks one message's fields; calls itself for StatusReply (field 16). */
static void parse(const uint8_t *p, const uint8_t *end, struct reply *r, int in_status)
{
    while (p < end) {
        uint64_t key = get_varint(&p, end);
        unsigned field = (unsigned)(key >> 3), wire = (unsigned)(key & 7);
        if (wire == 0) {
            uint64_t v = get_varint(&p, end);
            if (in_status && field < 7)
                r->status[field] = v;
            else if (!in_status && field == 1)
                r->error = (int64_t)v;
        } else if (wire == 1) {
            p += 8;
        } else if (wire == 5) {
            p += 4;
        } else if (wire == 2) {
            uint64_t len = get_varint(&p, end);
            if (len > (uint64_t)(end - p))
                return;
            if (!in_status && field == 2) {
                size_t n = len < sizeof(r->reason) - 1 ? len : sizeof(r->reason) - 1;
                memcpy(r->reason, p, n);
                r->reason[n] = '\0';
            } else if (!in_status && field == 16) {
                r->has_status = 1;
                parse(p, p + len, r, 1);
            }
            p += len;
        } else {
            return;
        }
    }
}

static int read_reply(int fd, struct reply *r, int timeout_ms)
{
    uint8_t hdr[4], *msg;
    memset(r, 0, sizeof(*r));
    int e = read_full(fd, hdr, 4, timeout_ms);
    if (e < 0)
        return e;
    size_t len = (size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 | (size_t)hdr[2] << 8 | hdr[3];
    if (len > (16u << 20))
        return -EMSGSIZE;
    msg = malloc(len ? len : 1);
    if (!msg)
        return -ENOMEM;
    e = read_full(fd, msg, len, timeout_ms);
    if (!e)
        parse(msg, msg + len, r, 0);
    free(msg);
    return e;
}

static int connect_to(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct timeval tv = {.tv_sec = 2};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* A connection that said hello and got the answer. */
static int connect_hello(const char *path)
{
    struct reply r;
    int fd = connect_to(path);
    if (fd < 0)
        return -1;
    if (send_hello(fd) < 0 || read_reply(fd, &r, 5000) < 0 || r.error) {
        close(fd);
        return -1;
    }
    return fd;
}

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void hold(double seconds)
{
    double end = now_s() + seconds;
    while (!stop && now_s() < end)
        usleep(20000);
}

static int cmd_status(const char *sock)
{
    struct reply r;
    int fd = connect_hello(sock);
    if (fd < 0 || send_status(fd) < 0 || read_reply(fd, &r, 5000) < 0 || !r.has_status) {
        fprintf(stderr, "sec-client: no status from '%s'\n", sock);
        return 1;
    }
    printf("pid %llu sessions %llu clients %llu watched %llu\n", (unsigned long long)r.status[1],
           (unsigned long long)r.status[3], (unsigned long long)r.status[4],
           (unsigned long long)r.status[6]);
    close(fd);
    return 0;
}

static int cmd_start(const char *sock, long pid, unsigned long rate)
{
    struct reply r;
    int fd = connect_hello(sock);
    if (fd < 0) {
        fprintf(stderr, "sec-client: cannot connect to '%s'\n", sock);
        return 1;
    }
    if (send_start(fd, pid, rate, 0.5) < 0 || read_reply(fd, &r, 5000) < 0) {
        fprintf(stderr, "sec-client: no answer to StartSession\n");
        return 1;
    }
    printf("error %lld %s\n", (long long)r.error, r.reason);
    close(fd);
    return 0;
}

static int cmd_sessions(const char *sock, int conns, int per, long pid, double seconds)
{
    int fds[64], started = 0, tried = 0;
    if (conns > 64)
        conns = 64;
    for (int c = 0; c < conns; c++) {
        fds[c] = connect_hello(sock);
        for (int i = 0; fds[c] >= 0 && i < per; i++) {
            struct reply r;
            tried++;
            if (send_start(fds[c], pid, 1, 0) < 0 || read_reply(fds[c], &r, 5000) < 0)
                break;
            started += r.error == 0;
        }
    }
    printf("started %d of %d\n", started, conns * per);
    fflush(stdout);
    hold(seconds);
    for (int c = 0; c < conns; c++)
        if (fds[c] >= 0)
            close(fds[c]);
    return 0;
}

static int cmd_flood(const char *sock, int n, double seconds)
{
    static int fds[4096];
    int open_now = 0;
    if (n > 4096)
        n = 4096;
    for (int i = 0; i < n; i++) {
        const uint8_t hdr[4] = {0, 0, 0, 64}; /* a 64-byte message, never finished */
        fds[i] = connect_to(sock);
        if (fds[i] >= 0 && send(fds[i], hdr, 4, MSG_NOSIGNAL) != 4) {
            close(fds[i]);
            fds[i] = -1;
        }
        open_now += fds[i] >= 0;
    }
    printf("open %d of %d\n", open_now, n);
    fflush(stdout);
    double end = now_s() + seconds;
    while (!stop && now_s() < end) {
        hold(2.0 < end - now_s() ? 2.0 : end - now_s());
        for (int i = 0; i < n; i++)
            if (fds[i] >= 0 && send(fds[i], "x", 1, MSG_NOSIGNAL | MSG_DONTWAIT) != 1) {
                close(fds[i]);
                fds[i] = -1;
            }
    }
    open_now = 0;
    for (int i = 0; i < n; i++)
        if (fds[i] >= 0) {
            open_now++;
            close(fds[i]);
        }
    printf("still open %d of %d\n", open_now, n);
    return 0;
}

static int cmd_mute(const char *sock, double seconds)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int held[256], n = 0;
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
    int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    unlink(sock);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 64) < 0) {
        perror("sec-client: mute");
        return 1;
    }
    printf("listening\n");
    fflush(stdout);
    double end = now_s() + seconds;
    while (!stop && now_s() < end) {
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd >= 0 && n < 256)
            held[n++] = fd;
        else if (fd >= 0)
            close(fd);
        else
            usleep(10000);
    }
    for (int i = 0; i < n; i++)
        close(held[i]);
    close(lfd);
    unlink(sock);
    return 0;
}

static int cmd_dumps(const char *sock, long pid, int n)
{
    int served = 0, refused = 0;
    char reason[1024] = "";
    int fd = connect_hello(sock);
    if (fd < 0) {
        fprintf(stderr, "sec-client: cannot connect to '%s'\n", sock);
        return 1;
    }
    for (int i = 0; i < n; i++)
        if (send_dump(fd, pid) < 0)
            return 1;
    for (int i = 0; i < n; i++) {
        struct reply r;
        if (read_reply(fd, &r, 10000) < 0)
            break;
        if (r.error == 0) {
            served++;
        } else {
            refused++;
            if (!reason[0])
                snprintf(reason, sizeof(reason), "%s", r.reason);
        }
    }
    printf("dumps %d served %d refused %d\n", n, served, refused);
    if (reason[0])
        printf("reason: %s\n", reason);
    close(fd);
    return 0;
}

/* Sends n ListSessions requests in large writes and reads nothing back.
 * Prints whether the daemon closed the connection (a send fails) or it is
 * still open 3 s after the last request. */
static int cmd_unread(const char *sock, int n)
{
    static const uint8_t list[6] = {0, 0, 0, 2, 0x32, 0}; /* Request{list: {}} */
    uint8_t chunk[6 * 1024];
    int fd = connect_hello(sock), sent = 0;
    if (fd < 0) {
        fprintf(stderr, "sec-client: cannot connect to '%s'\n", sock);
        return 1;
    }
    for (size_t i = 0; i < sizeof(chunk); i += sizeof(list))
        memcpy(chunk + i, list, sizeof(list));
    double end = now_s() + 60;
    while (sent < n && now_s() < end) {
        int k = n - sent < 1024 ? n - sent : 1024;
        size_t off = 0, len = (size_t)k * sizeof(list);
        while (off < len && now_s() < end) {
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            poll(&p, 1, 100);
            ssize_t w = send(fd, chunk + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (w < 0 && (errno == EAGAIN || errno == EINTR))
                continue;
            if (w <= 0) {
                printf("closed by the daemon after %d of %d requests\n", sent, n);
                return 0;
            }
            off += (size_t)w;
        }
        sent += k;
    }
    for (int i = 0; i < 30; i++) {
        usleep(100000);
        if (send(fd, list, sizeof(list), MSG_NOSIGNAL | MSG_DONTWAIT) < 0 && errno != EAGAIN) {
            printf("closed by the daemon after %d of %d requests\n", sent, n);
            return 0;
        }
    }
    printf("still open after %d of %d requests\n", sent, n);
    close(fd);
    return 0;
}

int main(int argc, char **argv)
{
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    if (argc >= 3 && !strcmp(argv[1], "status"))
        return cmd_status(argv[2]);
    if (argc >= 5 && !strcmp(argv[1], "start"))
        return cmd_start(argv[2], atol(argv[3]), strtoul(argv[4], NULL, 10));
    if (argc >= 7 && !strcmp(argv[1], "sessions"))
        return cmd_sessions(argv[2], atoi(argv[3]), atoi(argv[4]), atol(argv[5]), atof(argv[6]));
    if (argc >= 5 && !strcmp(argv[1], "flood"))
        return cmd_flood(argv[2], atoi(argv[3]), atof(argv[4]));
    if (argc >= 4 && !strcmp(argv[1], "mute"))
        return cmd_mute(argv[2], atof(argv[3]));
    if (argc >= 5 && !strcmp(argv[1], "dumps"))
        return cmd_dumps(argv[2], atol(argv[3]), atoi(argv[4]));
    if (argc >= 4 && !strcmp(argv[1], "unread"))
        return cmd_unread(argv[2], atoi(argv[3]));
    fputs("usage: sec-client status SOCK | start SOCK PID RATE |\n"
          "       sessions SOCK CONNS PER PID SECONDS | flood SOCK N SECONDS |\n"
          "       mute SOCK SECONDS | dumps SOCK PID N | unread SOCK N\n",
          stderr);
    return 2;
}
