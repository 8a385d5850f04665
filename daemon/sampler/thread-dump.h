/* SPDX-License-Identifier: MIT */
/* thread-dump: a one-shot stack of every thread of a live process (what
 * `bt-spy dump` prints). Each thread is stopped only to copy its registers
 * and stack; unwinding and naming happen after it runs again. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* One thread of a dump. Owned by the dump. */
struct bts_thread_stack {
    pid_t tid;
    char name[16]; /* comm */
    char state;    /* /proc state letter before the dump: R, S, D, T, ... */
    int error;     /* 0, or -errno why there is no stack: -EAGAIN the thread
                    * did not stop in time (e.g. state D), -ENOENT its stack
                    * could not be unwound */
    size_t nframes;
    const char **frames; /* leaf first, down to main or start_thread (the
                          * frames glibc runs before those are left out) */
};

struct bts_thread_dump;

/* Seizes every thread of `pid`, copies each one's registers and stack (the
 * whole used part of its stack mapping), resumes it at once, then detaches,
 * unwinds with .eh_frame and names frames (with " (file:line)" when
 * `lines`). 0 or -errno: -ESRCH no such process, -EPERM not allowed (see
 * bts_thread_dump_explain). On success *out is the dump. */
int bts_thread_dump(pid_t pid, bool lines, struct bts_thread_dump **out);

pid_t bts_thread_dump_pid(const struct bts_thread_dump *d);
/* The target's command line, arguments separated by spaces ("" if unknown). */
const char *bts_thread_dump_command(const struct bts_thread_dump *d);
/* Threads in tid order, the main thread first. */
size_t bts_thread_dump_count(const struct bts_thread_dump *d);
const struct bts_thread_stack *bts_thread_dump_thread(const struct bts_thread_dump *d, size_t i);
void bts_thread_dump_free(struct bts_thread_dump *d);

/* After bts_thread_dump() failed with `err`: a lowercase sentence saying why
 * and one giving the fix (e.g. "another tracer (pid 42) is attached"), for
 * `pid`. Empty strings when there is nothing to add. */
void bts_thread_dump_explain(pid_t pid, int err, char *why, size_t why_len, char *hint,
                             size_t hint_len);
