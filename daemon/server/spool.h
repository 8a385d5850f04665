/* SPDX-License-Identifier: MIT */
/* spool: profile files bt-spyd writes for other users, private to them. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Who may read a profile in the spool: its uid, and gid when group_read. */
struct bts_spool_owner {
    uid_t uid;
    gid_t gid;
    bool group_read; /* 0640 with gid, else 0600 */
};

/* Writes text to dir/name atomically (a temporary beside it, then rename),
 * owned by owner->uid:gid with mode 0600 or 0640; when the daemon may not
 * give files away (not root), the file stays its own with mode 0600, so it
 * is never more open than asked. 0 or -errno. */
int bts_spool_write(const char *dir, const char *name, const char *text, size_t len,
                    const struct bts_spool_owner *owner);

/* "<comm>-<pid>-<start>" where start is the process's start time in Unix
 * seconds, for profile file names. */
void bts_profile_stem(pid_t pid, const char *comm, char *out, size_t out_len);
