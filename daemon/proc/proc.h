/* SPDX-License-Identifier: MIT */
/* proc: the monotonic clock and small /proc files, for every daemon/ room. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* CLOCK_MONOTONIC in nanoseconds. */
int64_t bts_proc_now_ns(void);

/* The nice value a sampler runs at where it may. */
#define BTS_PROC_SAMPLER_NICE (-10)

/* Raises the calling thread's priority to BTS_PROC_SAMPLER_NICE (threads it
 * starts later inherit it) for as long as one raise is not yet dropped,
 * remembering the nice value it had. 0, also when it already runs at that
 * or higher, or -errno (-EACCES: not allowed; nothing to drop then). */
int bts_proc_raise_priority(void);

/* Ends one successful raise; the last gives the thread its nice value back. */
void bts_proc_drop_priority(void);

/* Gives the calling thread the nice value bts_proc_raise_priority found:
 * for a child between fork and exec. Async-signal-safe. */
void bts_proc_restore_priority(void);

/* Reads at most len - 1 bytes of a small file (a /proc entry) into buf and
 * NUL-terminates it. Returns the bytes read or -errno. */
ssize_t bts_proc_read_small(const char *path, char *buf, size_t len);

/* The comm of process pid (tid 0) or of its thread tid, without the
 * newline. 0 or -errno (-ENOENT when it is empty or gone); buf is left as
 * it was on failure, so a caller keeps the last name of a process that
 * has exited. */
int bts_proc_comm(pid_t pid, pid_t tid, char *buf, size_t len);
