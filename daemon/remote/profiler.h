/* SPDX-License-Identifier: MIT */
/* profiler: the one front door tools/ uses for sessions and thread dumps.
 * It runs them in this process (sampler/session.h, thread-dump.h) or, given
 * a socket path, in bt-spyd (client.h); results and errors read the same. */
#pragma once

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "session.h"
#include "thread-dump.h"

struct bts_profiler;

/* Copies opts (before_exec must be NULL: a remote launch runs as the
 * client, in the daemon's child). connect_path NULL = in this process.
 * NULL + errno (EINVAL for inconsistent options). */
struct bts_profiler *bts_profiler_new(const struct bts_session_opts *opts,
                                      const char *connect_path);

/* A flag a signal handler sets (the CLI's first SIGINT/SIGTERM). While it
 * is non-zero, a signal ends bts_profiler_start's waits for bt-spyd with
 * -EINTR; a local start ignores it (it does not wait on anyone). */
void bts_profiler_set_interrupt(struct bts_profiler *p, const volatile sig_atomic_t *flag);

/* The calls below mirror bts_session_* (session.h), with the same error
 * contract, whichever side runs the session. A remote call never blocks
 * beyond the deadlines of client.h. */
int bts_profiler_start(struct bts_profiler *p);
void bts_profiler_explain(const struct bts_profiler *p, const char **why, const char **hint);
const char *bts_profiler_backend(const struct bts_profiler *p);
int bts_profiler_poll(struct bts_profiler *p, int timeout_ms);
void bts_profiler_stop(struct bts_profiler *p);
void bts_profiler_stats(const struct bts_profiler *p, struct bts_session_stats *out);
/* bts_session_gil_threads(); 0 through --connect (the protocol does not
 * carry them). */
size_t bts_profiler_gil_threads(const struct bts_profiler *p, struct bts_session_gil_thread *out,
                                size_t max);
pid_t bts_profiler_pid(const struct bts_profiler *p);
int bts_profiler_write_folded(const struct bts_profiler *p, FILE *out);
/* -ENOTSUP for remote sessions and --subprocesses. */
int bts_profiler_foreach_stack(const struct bts_profiler *p, bts_session_stack_fn fn, void *ctx);
/* --memory's (stack, time bucket) counts, here or from bt-spyd (whose frames
 * carry names only). -ENOTSUP for --subprocesses. */
int bts_profiler_foreach_bucket(const struct bts_profiler *p, bts_session_bucket_fn fn, void *ctx,
                                uint64_t *bucket_ns);
bool bts_profiler_is_remote(const struct bts_profiler *p);
void bts_profiler_free(struct bts_profiler *p);

/* Every thread's stack of one process, once, taken here or by bt-spyd. */
struct bts_profiler_dump;

/* With thread-dump.h's options (lines, Python stacks, locals). 0 or
 * -errno; on failure why/hint hold a lowercase reason and fix when one is
 * known (either may be empty). */
int bts_profiler_dump(const char *connect_path, pid_t pid, const struct bts_thread_dump_opts *opts,
                      struct bts_profiler_dump **out, char *why, size_t why_len, char *hint,
                      size_t hint_len);
pid_t bts_profiler_dump_pid(const struct bts_profiler_dump *d);
const char *bts_profiler_dump_command(const struct bts_profiler_dump *d);
size_t bts_profiler_dump_count(const struct bts_profiler_dump *d);
/* Main thread first. Owned by d. */
const struct bts_thread_stack *bts_profiler_dump_thread(const struct bts_profiler_dump *d,
                                                        size_t i);
/* The CPython version whose stacks the dump holds, NULL when none; and why
 * a Python process shows native frames only, NULL when nothing to say. */
const char *bts_profiler_dump_python(const struct bts_profiler_dump *d);
const char *bts_profiler_dump_python_note(const struct bts_profiler_dump *d);
void bts_profiler_dump_free(struct bts_profiler_dump *d);
