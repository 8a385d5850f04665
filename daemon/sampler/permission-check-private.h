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
};

/* Reads the facts for `pid` (0: no target yet, e.g. a launched command). */
void bts_permission_gather(pid_t pid, struct bts_permission_facts *facts);

/* Turns a start error (-errno) and the facts into a lowercase sentence
 * naming the failed check and one naming the fix. */
void bts_permission_diagnose(const struct bts_permission_facts *facts, int err, const char *command,
                             char *why, size_t why_len, char *hint, size_t hint_len);
