/* SPDX-License-Identifier: MIT */
/* thread-dump: a one-shot stack of every thread of a live process (what
 * `bt-spy dump` prints). Each thread is stopped only to copy its registers
 * and stack; unwinding and naming happen after it runs again. In a CPython
 * process each thread's Python stack, name and GIL state come too. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* What a Python thread was doing when it was stopped. */
enum bts_thread_python_state {
    BTS_THREAD_PYTHON_NONE = 0, /* no Python thread state maps to this thread */
    BTS_THREAD_PYTHON_RUNNING,  /* holds the GIL, or ran outside a system call */
    BTS_THREAD_PYTHON_WAITING,  /* blocked taking the GIL */
    BTS_THREAD_PYTHON_IDLE,     /* neither: in a sleep, I/O or another wait */
};

/* One local variable of a Python frame, as python-locals.h writes it. */
struct bts_thread_local {
    const char *name;
    const char *value; /* 4242, 'text', <list, len 7>, <Thread>, ... */
};

struct bts_thread_python_frame {
    const char *name;     /* co_qualname from 3.11, co_name before */
    const char *filename; /* co_filename */
    int line;             /* 0 when unknown */
    size_t nlocals;       /* 0 unless locals were asked for */
    const struct bts_thread_local *locals;
};

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
    /* Python: set when the process runs CPython and a thread state of it
     * belongs to this thread. */
    enum bts_thread_python_state python_state;
    bool holds_gil;
    const char *python_name; /* threading's name ("MainThread"); NULL if none */
    size_t n_python_frames;
    const struct bts_thread_python_frame *python_frames; /* innermost first */
    /* With opts.native: one stack, leaf first, each Python frame
     * ("qualname (path:line)") where the evaluation loop ran it among the
     * native frames, the interpreter's call plumbing left out. Exact: the
     * Python stack was read while the thread was stopped for its copy.
     * NULL when the two could not be merged (shown apart then). */
    size_t n_merged;
    const char **merged;
};

struct bts_thread_dump_opts {
    bool lines;  /* native frames get " (file:line)" where debug info says */
    bool python; /* read Python stacks when the process runs CPython 3.8-3.13 */
    bool locals; /* and each Python frame's local variables */
    bool native; /* and merge each Python thread's stacks into one (merged) */
};

struct bts_thread_dump;

/* Seizes every thread of `pid`, copies each one's registers and stack (the
 * whole used part of its stack mapping), resumes it at once, then detaches,
 * unwinds with .eh_frame and names frames (with " (file:line)" when
 * `lines`). 0 or -errno: -ESRCH no such process, -EPERM not allowed (see
 * bts_thread_dump_explain). On success *out is the dump. */
int bts_thread_dump(pid_t pid, bool lines, struct bts_thread_dump **out);

/* The same with options. With opts->python the interpreter is looked for
 * before any thread stops; each thread's Python stack is read as soon as
 * its registers and stack are copied; whether it waits for the GIL is told
 * from those (a futex wait inside the GIL, or a GIL-taking function on its
 * native stack). Each Python stack is read while its thread is still
 * stopped, so it and the native stack are of one instant. A Python it
 * cannot read leaves the native stacks and a note
 * (bts_thread_dump_python_note). bts_thread_dump() is this with
 * python on and locals off. */
int bts_thread_dump_take(pid_t pid, const struct bts_thread_dump_opts *opts,
                         struct bts_thread_dump **out);

pid_t bts_thread_dump_pid(const struct bts_thread_dump *d);
/* The target's command line, arguments separated by spaces ("" if unknown). */
const char *bts_thread_dump_command(const struct bts_thread_dump *d);
/* Threads in tid order, the main thread first. */
size_t bts_thread_dump_count(const struct bts_thread_dump *d);
const struct bts_thread_stack *bts_thread_dump_thread(const struct bts_thread_dump *d, size_t i);
/* The CPython version read ("3.11.2"); NULL when none was. */
const char *bts_thread_dump_python(const struct bts_thread_dump *d);
/* Why no Python stacks are shown although the process looks like Python
 * ("python 3.14 cannot be read: ..."); NULL when there is nothing to say. */
const char *bts_thread_dump_python_note(const struct bts_thread_dump *d);
void bts_thread_dump_free(struct bts_thread_dump *d);

/* After bts_thread_dump() failed with `err`: a lowercase sentence saying why
 * and one giving the fix (e.g. "another tracer (pid 42) is attached"), for
 * `pid`. Empty strings when there is nothing to add. */
void bts_thread_dump_explain(pid_t pid, int err, char *why, size_t why_len, char *hint,
                             size_t hint_len);
