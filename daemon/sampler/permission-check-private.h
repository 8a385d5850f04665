/* SPDX-License-Identifier: MIT */
/* permission-check: why a session could not start, and how to fix it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* What the checks look at, gathered from /proc (or set by tests). */
struct bts_permission_facts {
    pid_t pid;
    bool pid_exists;
    int paranoid;     /* kernel.perf_event_paranoid, or -100 when unknown */
    int ptrace_scope; /* kernel.yama.ptrace_scope, or -1 when absent */
    bool cap_perfmon; /* CAP_PERFMON or CAP_SYS_ADMIN effective */
    bool cap_ptrace;  /* CAP_SYS_PTRACE effective */
    uid_t self_uid;   /* our effective uid */
    uid_t target_uid; /* real uid of the target, when it exists */
    /* What the target is, when it exists (/proc/PID/stat and status): */
    bool zombie;        /* state Z: exited, not reaped by its parent */
    bool kernel_thread; /* PF_KTHREAD: no user space to sample */
    bool is_self;       /* the pid is the process asking */
    pid_t parent;       /* its parent's pid */
    pid_t tracer;       /* TracerPid: a debugger already attached, or 0 */
    char comm[16];      /* its name, "" when unknown */
};

/* Reads the facts for `pid` (0: no target yet, e.g. a launched command). */
void bts_permission_gather(pid_t pid, struct bts_permission_facts *facts);

/* Turns a start error (-errno) and the facts into a lowercase sentence
 * naming the failed check and one naming the fix. */
void bts_permission_diagnose(const struct bts_permission_facts *facts, int err, const char *command,
                             char *why, size_t why_len, char *hint, size_t hint_len);

/* What makes the target impossible to sample or trace whatever the error
 * said (a zombie, a kernel thread, ourselves, a process another tracer
 * holds, when `ptrace` tells that ptrace was used), as diagnose words it.
 * True when why and hint were filled. Shared with thread dumps. */
bool bts_permission_explain_target(const struct bts_permission_facts *facts, int err, bool ptrace,
                                   char *why, size_t why_len, char *hint, size_t hint_len);
