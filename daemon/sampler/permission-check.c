/* SPDX-License-Identifier: MIT */
/* permission-check: explains perf_event and ptrace refusals. */
#define _GNU_SOURCE
#include "permission-check-private.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CAP_SYS_PTRACE_BIT 19
#define CAP_SYS_ADMIN_BIT  21
#define CAP_PERFMON_BIT    38

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
        snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
        if (status_field(path, "Uid", value, sizeof(value)))
            facts->target_uid = (uid_t)strtoul(value, NULL, 10);
        else
            facts->target_uid = facts->self_uid;
    }
}

void bts_permission_diagnose(const struct bts_permission_facts *f, int err, const char *command,
                             char *why, size_t why_len, char *hint, size_t hint_len)
{
    bool privileged = f->self_uid == 0 || f->cap_perfmon;
    why[0] = hint[0] = '\0';
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
                 "--idle needs --backend ptrace or auto; --subprocesses is not supported yet");
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
