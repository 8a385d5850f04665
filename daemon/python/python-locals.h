/* SPDX-License-Identifier: MIT */
/* python-locals: objects read out of a CPython process beside its stacks: a
 * frame's local variables, shown for people; the names the threading module
 * gives threads; where the GIL lives. Same reader, same untrusted memory. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "python-reader.h"

/* Most locals reported for one frame; the rest are cut and counted. */
#define BTS_PYTHON_MAX_LOCALS 256
/* Characters of a str value shown before it is cut with "...". */
#define BTS_PYTHON_STR_CHARS 80
/* Bytes a formatted value takes at most, with its NUL. */
#define BTS_PYTHON_VALUE_MAX 512

/* One local variable of a frame. */
struct bts_python_local {
    const char *name; /* from the code object; owned by the reader */
    /* For people, one line: 4242, -1.5, True, None, 'text' (escaped like a
     * Python repr, cut after BTS_PYTHON_STR_CHARS with "... (len N)"),
     * <list, len 7> (also tuple, dict, set, frozenset), <int> for an int
     * past 64 bits, <TypeName> for any other type, <?> when unreadable. */
    const char *value;
};

/* Called once per bound local, in the code object's order. Its pointers
 * are valid for the call only. A non-zero return stops the walk and is
 * returned. */
typedef int (*bts_python_local_fn)(void *ctx, const struct bts_python_local *local);

/* Reports the local variables (parameters, locals, cell and free
 * variables; not unbound ones) of `frame`, a frame of the last
 * bts_python_sample() of `py`, read now. Reads are bounded: at most
 * BTS_PYTHON_MAX_LOCALS per frame, str values cut as said. 0, the
 * callback's non-zero return, or -errno: -EINVAL when `frame` has no
 * address, -EFAULT when the frame or its code object cannot be read,
 * -ENOTSUP when the version's layout lacks what is needed. */
int bts_python_frame_locals(struct bts_python *py, const struct bts_python_frame *frame,
                            bts_python_local_fn fn, void *ctx);

/* A thread's name as the threading module has it. */
struct bts_python_thread_name {
    uint64_t thread_id; /* as bts_python_thread.thread_id */
    const char *name;   /* "MainThread", "worker-1"; owned by the reader */
};

/* Reads threading._active (each running Thread's ident and _name) into
 * out[0..max). The names stay valid until the next bts_python_sample() or
 * bts_python_free(). Returns how many were found (0 when the program never
 * imported threading), or -errno: -EFAULT when the interpreter cannot be
 * read, -ENOTSUP when the version's layout lacks what is needed. */
int bts_python_thread_names(struct bts_python *py, struct bts_python_thread_name *out, size_t max);

/* The bytes [*lo, *hi) of the GIL that `thread`'s interpreter uses: its
 * mutex and condition variables, where a thread waiting for it blocks
 * (futex addresses inside the range). 0 or -errno. */
int bts_python_gil_range(struct bts_python *py, const struct bts_python_thread *thread,
                         uint64_t *lo, uint64_t *hi);
