/* SPDX-License-Identifier: MIT */
/* permission-check: explains perf_event and ptrace refusals. */
#define _GNU_SOURCE
#include "permission-check-private.h"
#include "proc.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CAP_SYS_PTRACE_BIT 19
#define CAP_SYS_ADMIN_BIT  21
#define CAP_PERFMON_BIT    38
#define PF_KTHREAD         0x00200000u /* /proc/PID/stat flags: a kernel thread */

static int read_int_file(const char *path, int fallback)
{
    int v = fallback;
    FILE *f = fopen(path, "re");
    if (!f)
        return fallback;
    if (fscanf(f, "%d", &v) != 1)
        v = fallback;
    fclose(f);
    return v;
}

/* Finds "Key:\t..." in a /proc status file and returns the rest of the line. */
static bool status_field(const char *path, const char *key, char *out, size_t len)
{
    char line[256];
    bool found = false;
    size_t klen = strlen(key);
    FILE *f = fopen(path, "re");
    if (!f)
        return false;
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
            snprintf(out, len, "%s", line + klen + 1);
            found = true;
            break;
        }
    }
    fclose(f);
    return found;
}

/* State, parent, flags and comm from /proc/PID/stat: "pid (comm) S ppid
 * pgrp session tty tpgid flags ...". */
static void gather_stat(pid_t pid, struct bts_permission_facts *facts)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    if (bts_proc_read_small(path, buf, sizeof(buf)) <= 0)
        return;
    char *open = strchr(buf, '('), *close = strrchr(buf, ')');
    if (!open || !close || close < open)
        return;
    size_t n = (size_t)(close - open - 1);
    if (n >= sizeof(facts->comm))
        n = sizeof(facts->comm) - 1;
    memcpy(facts->comm, open + 1, n);
    facts->comm[n] = '\0';
    char state;
    int ppid;
    unsigned flags;
    if (sscanf(close + 1, " %c %d %*d %*d %*d %*d %u", &state, &ppid, &flags) != 3)
        return;
    facts->zombie = state == 'Z' || state == 'X';
    facts->parent = ppid;
    facts->kernel_thread = flags & PF_KTHREAD;
}

void bts_permission_gather(pid_t pid, struct bts_permission_facts *facts)
{
    char path[64], value[128];
    memset(facts, 0, sizeof(*facts));
    facts->pid = pid;
    facts->paranoid = read_int_file("/proc/sys/kernel/perf_event_paranoid", -100);
    facts->ptrace_scope = read_int_file("/proc/sys/kernel/yama/ptrace_scope", -1);
    facts->self_uid = geteuid();
    if (status_field("/proc/self/status", "CapEff", value, sizeof(value))) {
        unsigned long long caps = strtoull(value, NULL, 16);
        facts->cap_perfmon = caps & ((1ULL << CAP_PERFMON_BIT) | (1ULL << CAP_SYS_ADMIN_BIT));
        facts->cap_ptrace = caps & (1ULL << CAP_SYS_PTRACE_BIT);
    }
    if (pid > 0) {
        facts->pid_exists = kill(pid, 0) == 0 || errno == EPERM;
        facts->is_self = pid == getpid();
        snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
        if (status_field(path, "Uid", value, sizeof(value)))
            facts->target_uid = (uid_t)strtoul(value, NULL, 10);
        else
            facts->target_uid = facts->self_uid;
        if (status_field(path, "TracerPid", value, sizeof(value)))
            facts->tracer = (pid_t)strtol(value, NULL, 10);
        gather_stat(pid, facts);
    }
}

bool bts_permission_explain_target(const struct bts_permission_facts *f, int err, bool ptrace,
                                   char *why, size_t why_len, char *hint, size_t hint_len)
{
    bool refused = err == -EPERM || err == -EACCES;
    if (f->pid <= 0 || !f->pid_exists)
        return false;
    if (f->zombie) {
        snprintf(why, why_len, "pid %d is a zombie (exited, not yet reaped by its parent)",
                 (int)f->pid);
        snprintf(hint, hint_len,
                 "it has no threads left to sample; its parent (pid %d) has to "
                 "wait() for it",
                 (int)f->parent);
    } else if (f->kernel_thread) {
        snprintf(why, why_len, "pid %d is a kernel thread (%s)", (int)f->pid, f->comm);
        snprintf(hint, hint_len,
                 "bt-spy samples user-space processes; for kernel stacks use: "
                 "perf record -g -p %d",
                 (int)f->pid);
    } else if (refused && ptrace && f->is_self) {
        snprintf(why, why_len, "pid %d is this process: a process cannot ptrace itself",
                 (int)f->pid);
        snprintf(hint, hint_len, "run bt-spy as another process");
    } else if (refused && ptrace && f->tracer > 0) {
        snprintf(why, why_len, "pid %d is already traced by pid %d", (int)f->pid, (int)f->tracer);
        snprintf(hint, hint_len, "detach the debugger or profiler (gdb, strace, bt-spy) first");
    } else {
        return false;
    }
    return true;
}

void bts_permission_diagnose(const struct bts_permission_facts *f, int err, const char *command,
                             char *why, size_t why_len, char *hint, size_t hint_len)
{
    bool privileged = f->self_uid == 0 || f->cap_perfmon;
    bool refused = err == -EPERM || err == -EACCES;
    why[0] = hint[0] = '\0';
    if (bts_permission_explain_target(f, err, false, why, why_len, hint, hint_len))
        return;
    /* perf_event_open minds neither another tracer nor the caller itself:
     * when the target has one of those, ptrace is what refused (unless
     * perf_event_paranoid refused perf_event first, which is the fix). */
    if (refused && (privileged || f->paranoid <= 2) &&
        bts_permission_explain_target(f, err, true, why, why_len, hint, hint_len)) {
        size_t n = strlen(hint);
        snprintf(hint + n, hint_len - n, ", or use --backend perf");
        return;
    }
    if (err == -ESRCH || (f->pid > 0 && !f->pid_exists)) {
        snprintf(why, why_len, "no process with pid %d", (int)f->pid);
        snprintf(hint, hint_len, "check the pid with: ps -p %d", (int)f->pid);
    } else if (err == -ENOENT && command) {
        snprintf(why, why_len, "command not found: %s", command);
        snprintf(hint, hint_len, "check the command name and PATH");
    } else if (err == -EPERM || err == -EACCES) {
        if (!privileged && f->paranoid > 2) {
            snprintf(why, why_len, "perf_event_paranoid is %d", f->paranoid);
            snprintf(hint, hint_len,
                     "run: sysctl kernel.perf_event_paranoid=1 or add CAP_PERFMON "
                     "(or use --backend ptrace)");
        } else if (f->pid > 0 && f->target_uid != f->self_uid && f->self_uid != 0 &&
                   !f->cap_ptrace) {
            snprintf(why, why_len, "pid %d belongs to another user (uid %u)", (int)f->pid,
                     (unsigned)f->target_uid);
            snprintf(hint, hint_len, "run as the target's user, or as root");
        } else if (!f->cap_ptrace && f->self_uid != 0 && f->ptrace_scope >= 2) {
            snprintf(why, why_len, "yama ptrace_scope is %d", f->ptrace_scope);
            snprintf(hint, hint_len,
                     f->ptrace_scope >= 3 ? "ptrace is disabled until reboot; run as root"
                                          : "run: sysctl kernel.yama.ptrace_scope=1 or add "
                                            "CAP_SYS_PTRACE");
        } else if (!privileged && f->paranoid > 1) {
            snprintf(why, why_len, "perf_event_paranoid is %d", f->paranoid);
            snprintf(hint, hint_len, "run: sysctl kernel.perf_event_paranoid=1 or add CAP_PERFMON");
        } else {
            snprintf(why, why_len, "perf_event_open was refused: %s", strerror(-err));
            snprintf(hint, hint_len, "run as root, or add CAP_PERFMON and CAP_SYS_PTRACE");
        }
    } else if (err == -ENOSYS || err == -ENODEV) {
        snprintf(why, why_len, "the kernel does not support perf events");
        snprintf(hint, hint_len, "use --backend ptrace");
    } else if (err == -ENOTSUP || err == -EOPNOTSUPP) {
        snprintf(why, why_len, "an option is not supported by this backend");
        snprintf(hint, hint_len,
                 "--idle needs --backend ptrace or auto; the ptrace backend runs on x86-64 only");
    } else if (err == -EMFILE || err == -ENFILE) {
        snprintf(why, why_len, "too many open files (one event per thread)");
        snprintf(hint, hint_len, "raise the limit: ulimit -n 65536");
    } else if (err < 0) {
        snprintf(why, why_len, "%s", strerror(-err));
        snprintf(hint, hint_len, "see bt-spy record --help");
    }
    /* strerror() text starts with a capital; messages are lowercase. */
    for (char *p = why; *p; p++) {
        if (*p >= 'A' && *p <= 'Z' && (p == why || p[-1] == ' ') && p[1] >= 'a' && p[1] <= 'z')
            *p = (char)(*p - 'A' + 'a');
    }
}
