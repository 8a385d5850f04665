/* SPDX-License-Identifier: MIT */
/* target-guard: holds a profiling session to one process for its whole life
 * (a pidfd, not a pid number) and, for bt-spyd's clients that are not root,
 * to what the client may profile: the client's uid and gid in every slot, no
 * capabilities, dumpable. A backend asks before it samples a thread found
 * after start, after every exec, and on every rescan; once the answer is no,
 * it stays no and says why. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "identity.h"

struct bts_target_guard_opts {
    pid_t pid;
    bool rights; /* hold the target to uid and gid below, no capabilities, dumpable */
    uid_t uid;
    gid_t gid;
    /* Tests inject facts here; NULL means /proc (bts_identity_read) and a
     * pidfd. `exited` returns true once the process has exited. */
    int (*read)(void *ctx, pid_t pid, pid_t tid, struct bts_identity *out);
    bool (*exited)(void *ctx);
    void *ctx;
};

/* check() result: the same process with the same rights runs a new image
 * (the caller refreshes what it knows of the address space). */
#define BTS_TARGET_GUARD_EXEC 1

struct bts_target_guard;

/* Opens a pidfd on opts->pid (where the kernel has pidfd_open). Nothing is
 * checked until bts_target_guard_pin(). NULL + errno (ESRCH: no process). */
struct bts_target_guard *bts_target_guard_new(const struct bts_target_guard_opts *opts);

/* Records the process as it is now: at attach, or once a launched command's
 * exec is done. With rights, also checks them. 0, -ESRCH (gone), -EPERM
 * (not the client's to profile; bts_target_guard_reason says why). */
int bts_target_guard_pin(struct bts_target_guard *g);

/* May thread `tid` of the process (or the process, tid = pid) be sampled
 * now? 0 yes; BTS_TARGET_GUARD_EXEC yes, and it runs a new image; -ENOENT
 * the thread is gone; -ESRCH the process has exited (its pid may name
 * another process now); -EPERM its rights changed (credentials,
 * capabilities, dumpability). -ESRCH and -EPERM are final: every later call
 * returns them. Before pin() only exit is checked. */
int bts_target_guard_check(struct bts_target_guard *g, pid_t tid);

/* The final -ESRCH or -EPERM, or 0 while the process may be sampled. */
int bts_target_guard_verdict(const struct bts_target_guard *g);

/* Why the verdict or a refused pin, as a lowercase sentence ("pid 1234
 * changed credentials (setuid exec: euid 0): session ended"); "" if none. */
const char *bts_target_guard_reason(const struct bts_target_guard *g);

void bts_target_guard_free(struct bts_target_guard *g);
