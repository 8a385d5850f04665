/* SPDX-License-Identifier: MIT */
/* authz: may a bt-spyd client profile a pid? The client may do through the
 * daemon only what it could do itself with ptrace; root may do anything.
 * Every int-returning call gives 0 or -errno. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Who is asking: the peer credentials of a client's socket (SO_PEERCRED). */
struct bts_authz_peer {
    pid_t pid;
    uid_t uid;
    gid_t gid;
};

/* A target pinned while it is checked and profiled. */
struct bts_authz_target {
    pid_t pid;
    int pidfd;            /* pidfd_open(pid), or -1 where the kernel lacks it */
    uint64_t start_ticks; /* /proc/PID/stat starttime: pid reuse changes it */
};

/* Reads the credentials of a connected unix socket's peer. 0 or -errno. */
int bts_authz_peer_of(int fd, struct bts_authz_peer *out);

/* Pins `pid` (pidfd + start time) into *target, then checks that `peer`
 * could ptrace it itself: root always; otherwise the peer's uid and gid
 * equal every real, effective, saved and filesystem id of the target
 * (/proc/PID/status), the target is dumpable (the files in /proc/PID, e.g.
 * /proc/PID/stat, belong to its uid only while it is; the directory keeps
 * its uid either way), Yama's kernel.yama.ptrace_scope allows it (1: the target
 * descends from the peer's process; 2 and 3: root only), and finally a child
 * running with the peer's uid and gid can open /proc/PID/mem (the kernel's
 * own ptrace access check; skipped for Yama 1, where that child is no
 * ancestor). The pin is re-checked after the checks.
 * 0: allowed, target pinned (release with bts_authz_target_release).
 * -ESRCH: no such process (or it exited meanwhile). -EPERM: refused.
 * why/hint get lowercase sentences ("pid 123 belongs to uid 0, you are uid
 * 1001") on failure. */
int bts_authz_check_pid(const struct bts_authz_peer *peer, pid_t pid,
                        struct bts_authz_target *target, char *why, size_t why_len, char *hint,
                        size_t hint_len);

/* May `peer` enter `dir` (the working directory of a command it asks the
 * daemon to launch)? A child with the peer's ids tries chdir. 0 or -errno
 * with why ("uid 1001 cannot enter '/root': permission denied"). */
int bts_authz_check_dir(const struct bts_authz_peer *peer, const char *dir, char *why,
                        size_t why_len);

/* Is the pinned target still the process that was checked? */
bool bts_authz_target_alive(const struct bts_authz_target *target);

/* Closes the pidfd. Safe on a zeroed or released target. */
void bts_authz_target_release(struct bts_authz_target *target);

/* Whom a process's profile belongs to: the uid (gid) when its real,
 * effective, saved and filesystem ids agree, else root's 0 (a process
 * between privileges is root's to read). 0 or -errno (-ENOENT: gone). */
int bts_authz_owner_of(pid_t pid, uid_t *uid, gid_t *gid);

/* /proc/PID/stat's starttime (clock ticks since boot), 0 when unreadable. */
uint64_t bts_authz_start_ticks(pid_t pid);
