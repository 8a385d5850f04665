/* SPDX-License-Identifier: MIT */
/* authz-private: the facts the access check looks at and the decision
 * apart from gathering them, so tests can decide on made-up facts. */
#pragma once

#include "authz.h"

/* What bts_authz_check_pid reads about a target (or a test sets). */
struct bts_authz_facts {
    pid_t pid;
    bool exists;   /* /proc/PID/status and stat were readable */
    uid_t uids[4]; /* real, effective, saved, filesystem */
    gid_t gids[4];
    uid_t dump_owner;        /* owner of /proc/PID/stat: root while not dumpable */
    int ptrace_scope;        /* kernel.yama.ptrace_scope, -1 without Yama */
    bool descends_from_peer; /* read only when ptrace_scope is 1 */
    int kernel_check;        /* opening /proc/PID/mem as the peer: 0 or -errno;
                              * 1 when not run (root, Yama, or refused before) */
};

/* Reads the facts about pid for peer. A missing process leaves exists
 * false. 0 or -errno. */
int bts_authz_gather(const struct bts_authz_peer *peer, pid_t pid, struct bts_authz_facts *f);

/* The decision: 0 (allowed), -ESRCH (no such process) or -EPERM with why
 * and hint set, checking in this order: ids, dumpable, Yama, the kernel's
 * own check. Root is always allowed. */
int bts_authz_decide(const struct bts_authz_peer *peer, const struct bts_authz_facts *f, char *why,
                     size_t why_len, char *hint, size_t hint_len);
