/* SPDX-License-Identifier: MIT */
/* authz: peer credentials and the ptrace-equivalent access check. The
 * facts are gathered from /proc apart from the decision, so the decision
 * can be tested with facts made up (tests/daemon/check-authz.c). Every
 * function returns 0 or -errno. */
#define _GNU_SOURCE
#include "authz-private.h"
#include "protocol.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

int bts_authz_peer_of(int fd, struct bts_authz_peer *out)
{
    struct ucred cred;
    socklen_t len = sizeof(cred);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
        return -errno;
    out->pid = cred.pid;
    out->uid = cred.uid;
    out->gid = cred.gid;
    return 0;
}

/* Reads /proc/PID/stat: the ppid (field 4) and starttime (field 22). The
 * comm may hold spaces and parentheses, so parsing starts after the last ')'. */
static int read_stat(pid_t pid, pid_t *ppid, uint64_t *start)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return -ESRCH;
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    if (!p)
        return -EINVAL;
    char state;
    int pp;
    unsigned long long st;
    /* state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
     * utime stime cutime cstime priority nice num_threads itrealvalue start */
    if (sscanf(p + 1,
               " %c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
               &state, &pp, &st) != 3)
        return -EINVAL;
    if (ppid)
        *ppid = pp;
    if (start)
        *start = st;
    return 0;
}

uint64_t bts_authz_start_ticks(pid_t pid)
{
    uint64_t st = 0;
    return read_stat(pid, NULL, &st) == 0 ? st : 0;
}

/* The four ids of a "Uid:" or "Gid:" line of /proc/PID/status. */
static int read_ids(pid_t pid, unsigned long uids[4], unsigned long gids[4])
{
    char path[64], line[256];
    int found = 0;
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return -errno;
    while (fgets(line, sizeof(line), f)) {
        unsigned long *ids = !strncmp(line, "Uid:", 4)   ? uids
                             : !strncmp(line, "Gid:", 4) ? gids
                                                         : NULL;
        if (ids && sscanf(line + 4, "%lu %lu %lu %lu", &ids[0], &ids[1], &ids[2], &ids[3]) == 4)
            found++;
    }
    fclose(f);
    return found == 2 ? 0 : -ESRCH;
}

static int read_int_file(const char *path, int fallback)
{
    char buf[32];
    int v = fallback;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fallback;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n > 0) {
        buf[n] = '\0';
        v = atoi(buf);
    }
    return v;
}

/* Walks the ppid chain from pid up to init looking for ancestor. */
static bool descends_from(pid_t pid, pid_t ancestor)
{
    for (int depth = 0; pid > 1 && depth < 4096; depth++) {
        pid_t ppid;
        if (read_stat(pid, &ppid, NULL) < 0)
            return false;
        if (ppid == ancestor)
            return true;
        pid = ppid;
    }
    return false;
}

/* Runs action(arg) in a child holding the peer's uid and gid and no
 * supplementary groups. 0 when the test ran, with *result = action's own
 * 0 or -errno; -EPERM when the ids cannot be taken (not root), -ECHILD
 * when the child did not report, or fork's -errno. The child's exit
 * status carries the action's errno (1..254), the one positive errno here. */
static int run_as(const struct bts_authz_peer *peer, int (*action)(const void *arg),
                  const void *arg, int *result)
{
    pid_t child = fork();
    if (child < 0)
        return -errno;
    if (child == 0) {
        if (setgroups(0, NULL) < 0 && geteuid() != peer->uid)
            _exit(255);
        if (setresgid(peer->gid, peer->gid, peer->gid) < 0 ||
            setresuid(peer->uid, peer->uid, peer->uid) < 0)
            _exit(255);
        int e = -action(arg);
        _exit(e > 0 && e < 255 ? e : 0);
    }
    int status;
    while (waitpid(child, &status, 0) < 0) {
        if (errno != EINTR)
            return -errno;
    }
    if (!WIFEXITED(status))
        return -ECHILD;
    if (WEXITSTATUS(status) == 255)
        return -EPERM;
    *result = -WEXITSTATUS(status);
    return 0;
}

/* The kernel's own answer: opening /proc/PID/mem runs the full ptrace
 * access check (PTRACE_MODE_ATTACH). */
static int open_mem(const void *arg)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/mem", *(const pid_t *)arg);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    close(fd);
    return 0;
}

static int enter_dir(const void *arg)
{
    return chdir(arg) == 0 ? 0 : -errno;
}

int bts_authz_check_dir(const struct bts_authz_peer *peer, const char *dir, char *why,
                        size_t why_len)
{
    int result = 0;
    if (run_as(peer, enter_dir, dir, &result) < 0 || result == 0)
        return 0; /* allowed, or not testable here: the launch's own chdir decides */
    snprintf(why, why_len, "uid %u cannot enter '%s': %s", (unsigned)peer->uid, dir,
             bts_protocol_strerror(result));
    return result;
}

static int refuse(char *why, size_t why_len, char *hint, size_t hint_len, const char *hint_text,
                  const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static int refuse(char *why, size_t why_len, char *hint, size_t hint_len, const char *hint_text,
                  const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, why_len, fmt, ap);
    va_end(ap);
    snprintf(hint, hint_len, "%s", hint_text ? hint_text : "");
    return -EPERM;
}

int bts_authz_decide(const struct bts_authz_peer *peer, const struct bts_authz_facts *f, char *why,
                     size_t why_len, char *hint, size_t hint_len)
{
    const char *as_owner = "run bt-spy as the target's user, or ask root to profile it";
    why[0] = hint[0] = '\0';
    if (peer->uid == 0)
        return 0;
    if (!f->exists)
        return -ESRCH;
    for (int i = 0; i < 4; i++) {
        if (f->uids[i] != peer->uid)
            return refuse(why, why_len, hint, hint_len, as_owner,
                          "pid %d belongs to uid %u, you are uid %u", (int)f->pid,
                          (unsigned)f->uids[i], (unsigned)peer->uid);
    }
    for (int i = 0; i < 4; i++) {
        if (f->gids[i] != peer->gid)
            return refuse(why, why_len, hint, hint_len, as_owner,
                          "pid %d runs with gid %u, you are gid %u", (int)f->pid,
                          (unsigned)f->gids[i], (unsigned)peer->gid);
    }
    if (f->dump_owner != peer->uid)
        return refuse(why, why_len, hint, hint_len,
                      "the process changed credentials or called prctl(PR_SET_DUMPABLE, 0); "
                      "ask root to profile it",
                      "pid %d is not dumpable", (int)f->pid);
    if (f->ptrace_scope >= 2)
        return refuse(why, why_len, hint, hint_len,
                      "ask root to profile it, or run: sysctl kernel.yama.ptrace_scope=1",
                      "kernel.yama.ptrace_scope is %d: only root may profile other processes",
                      f->ptrace_scope);
    if (f->ptrace_scope == 1) {
        if (!f->descends_from_peer)
            return refuse(why, why_len, hint, hint_len,
                          "launch the command through bt-spy, or run: sysctl "
                          "kernel.yama.ptrace_scope=0",
                          "kernel.yama.ptrace_scope is %d: pid %d is not a descendant of your "
                          "process %d",
                          f->ptrace_scope, (int)f->pid, (int)peer->pid);
        return 0;
    }
    if (f->kernel_check < 0)
        return refuse(why, why_len, hint, hint_len, as_owner, "uid %u may not trace pid %d: %s",
                      (unsigned)peer->uid, (int)f->pid, bts_protocol_strerror(f->kernel_check));
    return 0;
}

int bts_authz_gather(const struct bts_authz_peer *peer, pid_t pid, struct bts_authz_facts *f)
{
    unsigned long uids[4], gids[4];
    char path[64];
    struct stat st;
    *f = (struct bts_authz_facts){.pid = pid, .ptrace_scope = -1};
    if (read_ids(pid, uids, gids) < 0)
        return 0; /* no such process: f->exists stays false */
    for (int i = 0; i < 4; i++) {
        f->uids[i] = (uid_t)uids[i];
        f->gids[i] = (gid_t)gids[i];
    }
    /* The files in /proc/PID take the task's uid only while it is dumpable;
     * otherwise the kernel gives them to root (fs/proc/base.c
     * task_dump_owner). The directory itself keeps the task's uid either
     * way, so it cannot tell. */
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    if (stat(path, &st) < 0)
        return 0;
    f->exists = true;
    f->dump_owner = st.st_uid;
    f->ptrace_scope = read_int_file("/proc/sys/kernel/yama/ptrace_scope", -1);
    if (f->ptrace_scope == 1)
        f->descends_from_peer = descends_from(pid, peer->pid);
    /* The kernel's check forks: only when everything else allows. */
    char why[8], hint[8];
    f->kernel_check = 1;
    if (f->ptrace_scope <= 0 && peer->uid != 0 &&
        bts_authz_decide(peer, f, why, sizeof(why), hint, sizeof(hint)) == 0) {
        int result = 0;
        if (run_as(peer, open_mem, &pid, &result) == 0)
            f->kernel_check = result;
    }
    return 0;
}

int bts_authz_owner_of(pid_t pid, uid_t *uid, gid_t *gid)
{
    unsigned long uids[4], gids[4];
    int r = read_ids(pid, uids, gids);
    if (r < 0)
        return r;
    *uid = (uid_t)uids[0];
    *gid = (gid_t)gids[0];
    for (int i = 1; i < 4; i++) {
        if (uids[i] != uids[0])
            *uid = 0;
        if (gids[i] != gids[0])
            *gid = 0;
    }
    return 0;
}

int bts_authz_check_pid(const struct bts_authz_peer *peer, pid_t pid,
                        struct bts_authz_target *target, char *why, size_t why_len, char *hint,
                        size_t hint_len)
{
    int ret = 0;
    *target = (struct bts_authz_target){.pid = pid, .pidfd = -1};
    why[0] = hint[0] = '\0';
    if (pid <= 0) {
        ret = -ESRCH;
        goto out;
    }
    long fd = syscall(SYS_pidfd_open, pid, 0);
    if (fd < 0 && errno == ESRCH) {
        ret = -ESRCH;
        goto out;
    }
    target->pidfd = fd >= 0 ? (int)fd : -1;
    target->start_ticks = bts_authz_start_ticks(pid);
    if (!target->start_ticks) {
        ret = -ESRCH;
        goto out;
    }
    if (peer->uid != 0) {
        struct bts_authz_facts facts;
        if ((ret = bts_authz_gather(peer, pid, &facts)) < 0 ||
            (ret = bts_authz_decide(peer, &facts, why, why_len, hint, hint_len)) < 0)
            goto out;
    }
    /* The checks read /proc/PID by number: make sure that number still
     * names the process that was pinned before them. */
    if (!bts_authz_target_alive(target))
        ret = -ESRCH;
out:
    if (ret == -ESRCH && !why[0])
        snprintf(why, why_len, "no process with pid %d", (int)pid);
    if (ret < 0)
        bts_authz_target_release(target);
    return ret;
}

bool bts_authz_target_alive(const struct bts_authz_target *t)
{
    if (t->pid <= 0)
        return false;
    if (t->pidfd >= 0 && syscall(SYS_pidfd_send_signal, t->pidfd, 0, NULL, 0) < 0)
        return false;
    return bts_authz_start_ticks(t->pid) == t->start_ticks;
}

void bts_authz_target_release(struct bts_authz_target *t)
{
    if (t->pid > 0 && t->pidfd >= 0)
        close(t->pidfd);
    t->pidfd = -1;
    t->pid = 0;
}
