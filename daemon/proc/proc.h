/* SPDX-License-Identifier: MIT */
/* proc: the monotonic clock and small /proc files, for every daemon/ room. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* CLOCK_MONOTONIC in nanoseconds. */
int64_t bts_proc_now_ns(void);

/* Reads at most len - 1 bytes of a small file (a /proc entry) into buf and
 * NUL-terminates it. Returns the bytes read or -errno. */
ssize_t bts_proc_read_small(const char *path, char *buf, size_t len);

/* The comm of process pid (tid 0) or of its thread tid, without the
 * newline. 0 or -errno (-ENOENT when it is empty or gone); buf is left as
 * it was on failure, so a caller keeps the last name of a process that
 * has exited. */
int bts_proc_comm(pid_t pid, pid_t tid, char *buf, size_t len);
