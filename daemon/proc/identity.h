/* SPDX-License-Identifier: MIT */
/* identity: who a process is and what it may do, as /proc tells it: its
 * start time (a reused pid has another), the credentials and capabilities of
 * one of its threads, whether it is dumpable, and which image it runs. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct bts_identity {
    pid_t pid;
    pid_t tid;
    uint64_t start_ticks; /* /proc/PID/stat starttime: the process, not the pid number */
    uint32_t uid[4];      /* real, effective, saved, filesystem (/proc/PID/task/TID/status) */
    uint32_t gid[4];
    uint64_t cap_prm; /* CapPrm */
    uint64_t cap_eff; /* CapEff */
    bool dumpable;    /* the kernel gives /proc/PID/task/TID/stat to root when it is not */
    /* The image: each exec changes at least one of these (the mm's code and
     * stack addresses move with ASLR; the file with a new program). */
    uint64_t exe_dev, exe_ino;
    uint64_t start_code, start_stack;
};

/* Reads the identity of thread `tid` of process `pid` (tid 0: the main
 * thread). Opening the thread's maps first waits out an exec in progress
 * (the kernel holds its exec lock until the new credentials are in place),
 * so a reading never mixes the old image with half-installed credentials.
 * 0, or -ESRCH (no process `pid`), -ENOENT (no thread `tid` in it), -errno. */
int bts_identity_read(pid_t pid, pid_t tid, struct bts_identity *out);

/* Did the image change between two readings of the same process? */
bool bts_identity_exec_changed(const struct bts_identity *was, const struct bts_identity *now);
