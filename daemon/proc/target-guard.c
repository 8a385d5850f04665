/* SPDX-License-Identifier: MIT */
/* target-guard: one process for a session's whole life, and for a client
 * that is not root only while it runs with exactly that client's rights. */
#define _GNU_SOURCE /* syscall, pidfd under c11 */
#include "target-guard.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

struct bts_target_guard {
    struct bts_target_guard_opts opts;
    int pidfd; /* -1 where the kernel has no pidfd_open: start times decide */
    bool pinned;
    struct bts_identity pin; /* the process at pin(); its image follows accepted execs */
    int verdict;
    char reason[192];
};

static int read_proc(void *ctx, pid_t pid, pid_t tid, struct bts_identity *out)
{
    (void)ctx;
    return bts_identity_read(pid, tid, out);
}

/* A pidfd turns readable once every thread of the process has exited. */
static bool pidfd_exited(struct bts_target_guard *g)
{
    struct pollfd p = {.fd = g->pidfd, .events = POLLIN};
    int r;
    do
        r = poll(&p, 1, 0);
    while (r < 0 && errno == EINTR);
    return r > 0;
}

static bool has_exited(struct bts_target_guard *g)
{
    struct bts_identity now;
    if (g->opts.exited)
        return g->opts.exited(g->opts.ctx);
    if (g->pidfd >= 0)
        return pidfd_exited(g);
    /* No pidfd: the process lives while its pid shows the start time we pinned. */
    if (!g->pinned)
        return false;
    return g->opts.read(g->opts.ctx, g->opts.pid, 0, &now) == -ESRCH ||
           now.start_ticks != g->pin.start_ticks;
}

struct bts_target_guard *bts_target_guard_new(const struct bts_target_guard_opts *opts)
{
    struct bts_target_guard *g = NULL;
    int err = EINVAL;

    if (!opts || opts->pid <= 0)
        goto fail;
    err = ENOMEM;
    if (!(g = calloc(1, sizeof(*g))))
        goto fail;
    g->opts = *opts;
    if (!g->opts.read)
        g->opts.read = read_proc;
    g->pidfd = -1;
    if (!opts->exited) {
        long fd = syscall(SYS_pidfd_open, opts->pid, 0);
        if (fd < 0 && errno == ESRCH) {
            err = ESRCH;
            goto fail;
        }
        g->pidfd = fd >= 0 ? (int)fd : -1; /* pidfds are close-on-exec */
    }
    return g;
fail:
    free(g);
    errno = err;
    return NULL;
}

/* The first way `id` differs from what the client may profile, as a short
 * phrase ("setuid exec: euid 0"), or NULL when it does not. */
static const char *rights_differ(const struct bts_target_guard *g, const struct bts_identity *id,
                                 bool exec, char *buf, size_t len)
{
    static const char *const slot[4] = {"uid", "euid", "suid", "fsuid"};
    const char *how = exec ? " exec" : "";
    for (int i = 0; i < 4; i++) {
        if (id->uid[i] != (uint32_t)g->opts.uid) {
            snprintf(buf, len, "%s%s: %s %u", i == 1 || i == 2 ? "setuid" : "uid change", how,
                     slot[i], (unsigned)id->uid[i]);
            return buf;
        }
    }
    for (int i = 0; i < 4; i++) {
        if (id->gid[i] != (uint32_t)g->opts.gid) {
            snprintf(buf, len, "%s%s: %s %u", i == 1 || i == 2 ? "setgid" : "gid change", how,
                     i == 0   ? "gid"
                     : i == 1 ? "egid"
                     : i == 2 ? "sgid"
                              : "fsgid",
                     (unsigned)id->gid[i]);
            return buf;
        }
    }
    if (id->cap_prm || id->cap_eff) {
        snprintf(buf, len, "%s: capabilities %#llx",
                 exec ? "file capabilities at exec" : "capabilities",
                 (unsigned long long)(id->cap_prm | id->cap_eff));
        return buf;
    }
    return NULL;
}

static int decide(struct bts_target_guard *g, int verdict, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int decide(struct bts_target_guard *g, int verdict, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g->reason, sizeof(g->reason), fmt, ap);
    va_end(ap);
    g->verdict = verdict;
    return verdict;
}

/* The process is gone: say whether its pid names another process now. */
static int decide_exited(struct bts_target_guard *g)
{
    struct bts_identity now;
    int pid = (int)g->opts.pid;
    if (g->pinned && g->opts.read(g->opts.ctx, g->opts.pid, 0, &now) == 0 &&
        now.start_ticks != g->pin.start_ticks)
        return decide(g, -ESRCH, "pid %d exited; its pid now names another process", pid);
    return decide(g, -ESRCH, "pid %d exited", pid);
}

int bts_target_guard_pin(struct bts_target_guard *g)
{
    struct bts_identity id;
    char what[96];
    int r;

    if (!g)
        return -EINVAL;
    if (g->verdict)
        return g->verdict;
    if (has_exited(g))
        return decide_exited(g);
    r = g->opts.read(g->opts.ctx, g->opts.pid, 0, &id);
    if (r == -ESRCH || r == -ENOENT)
        return decide_exited(g);
    if (r < 0)
        return r;
    if (g->opts.rights) {
        if (rights_differ(g, &id, false, what, sizeof(what)))
            return decide(g, -EPERM, "pid %d runs with other credentials than uid %u (%s)",
                          (int)g->opts.pid, (unsigned)g->opts.uid, what);
        if (!id.dumpable)
            return decide(g, -EPERM, "pid %d is not dumpable", (int)g->opts.pid);
    }
    /* Read before the exit check: a pin taken of a reused pid is refused. */
    if (has_exited(g))
        return decide_exited(g);
    g->pin = id;
    g->pinned = true;
    return 0;
}

int bts_target_guard_check(struct bts_target_guard *g, pid_t tid)
{
    struct bts_identity id;
    char what[96];
    bool exec;
    int pid, r;

    if (!g)
        return -EINVAL;
    if (g->verdict)
        return g->verdict;
    if (has_exited(g))
        return decide_exited(g);
    if (!g->pinned || !g->opts.rights)
        return 0;
    pid = (int)g->opts.pid;
    r = g->opts.read(g->opts.ctx, g->opts.pid, tid > 0 ? tid : 0, &id);
    if (r == -ESRCH)
        return decide_exited(g);
    if (r < 0)
        return r; /* -ENOENT: the thread is gone; else it cannot be vouched for */
    if (id.start_ticks != g->pin.start_ticks)
        return decide_exited(g);
    exec = bts_identity_exec_changed(&g->pin, &id);
    if (rights_differ(g, &id, exec, what, sizeof(what)))
        return decide(g, -EPERM, "pid %d changed credentials (%s): session ended", pid, what);
    if (!id.dumpable)
        return decide(g, -EPERM, "pid %d became non-dumpable%s: session ended", pid,
                      exec ? " at exec (a program it may not read)" : "");
    /* The reading is of our process only if it still lives now. */
    if (has_exited(g))
        return decide_exited(g);
    if (!exec)
        return 0;
    g->pin.exe_dev = id.exe_dev;
    g->pin.exe_ino = id.exe_ino;
    g->pin.start_code = id.start_code;
    g->pin.start_stack = id.start_stack;
    return BTS_TARGET_GUARD_EXEC;
}

int bts_target_guard_verdict(const struct bts_target_guard *g)
{
    return g ? g->verdict : 0;
}

const char *bts_target_guard_reason(const struct bts_target_guard *g)
{
    return g ? g->reason : "";
}

void bts_target_guard_free(struct bts_target_guard *g)
{
    if (!g)
        return;
    if (g->pidfd >= 0)
        close(g->pidfd);
    free(g);
}
