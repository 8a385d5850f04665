/* SPDX-License-Identifier: MIT */
/* python-reader: the Python stacks of every thread of a running CPython
 * (3.8 to 3.13), read from outside the process without stopping it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* All target memory is read through this: copy `len` bytes at `addr` into
 * `buf`, return 0 or -errno (-EFAULT for unmapped memory). The reader
 * treats every byte it gets as untrusted and possibly changing. */
typedef int (*bts_python_read_fn)(void *ctx, uint64_t addr, void *buf, size_t len);

/* Optional, for speed: copies `n` ranges of `size` bytes, addrs[i] into
 * bufs[i], with the same ctx as the read callback; returns how many leading
 * ranges were copied whole, or -errno. */
typedef int (*bts_python_read_many_fn)(void *ctx, const uint64_t *addrs, void *const *bufs,
                                       size_t size, size_t n);

/* Deepest stack kept per thread; deeper ones are cut and counted. */
#define BTS_PYTHON_MAX_FRAMES 512

struct bts_python_frame {
    const char *name;     /* co_qualname from 3.11, co_name before; "?" if unreadable */
    const char *filename; /* co_filename; "?" if unreadable */
    /* The executing line; 0 when unknown. An instruction CPython's table
     * gives no line (a loop's backward jump) takes the line before it. */
    int line;
    int first_line; /* co_firstlineno */
    /* The first frame run by one C-level call into the evaluation loop:
     * the native frames of that call sit between this frame and the next
     * (outer) one. Every frame is one before 3.11. */
    bool is_entry;
    uint64_t code; /* address of the code object */
    /* address of the frame: a PyFrameObject before 3.11, a
     * _PyInterpreterFrame from 3.11 (for python-locals.h) */
    uint64_t frame;
    /* Where the frame is in its bytecode, for checks against a native
     * sample (daemon/sampler's python-merge): the address of the code
     * unit `line` was decoded from (0 when the frame has not started), and
     * the code object's bytecode [bytecode_start, bytecode_end) (0, 0 if
     * unknown). */
    uint64_t instr;
    uint64_t bytecode_start, bytecode_end;
    /* The bytes the frame takes on its thread's data stack, where a call
     * from it pushes the callee's frame right after it (3.11+, a frame the
     * thread owns); 0 for a generator's frame, before 3.11, or unknown. */
    uint32_t stack_bytes;
};

enum bts_python_gil {
    BTS_PYTHON_GIL_UNKNOWN = 0,
    BTS_PYTHON_GIL_HELD, /* this thread holds the GIL */
    /* It does not: waiting for it or idle. Telling those apart takes the
     * thread's native stack (blocked in take_gil or not). */
    BTS_PYTHON_GIL_NOT_HELD,
};

struct bts_python_thread {
    pid_t tid;          /* OS thread id; 0 when it could not be told */
    uint64_t thread_id; /* threading.get_ident(), the pthread_t */
    uint64_t tstate;    /* address of the PyThreadState */
    const char *name;   /* /proc/PID/task/TID/comm; "" when unknown */
    enum bts_python_gil gil;
    bool truncated; /* the frame chain was cut off (counted in errors) */
    size_t n_frames;
    const struct bts_python_frame *frames; /* [0] is the innermost frame */
};

struct bts_python_sample {
    size_t n_threads;
    const struct bts_python_thread *threads;
    unsigned errors; /* chains cut off and objects not readable in this sample */
};

/* What was found about the interpreter, filled by bts_python_new() even
 * when it fails with ENOTSUP, so the caller can name the version. */
struct bts_python_info {
    char version[32];     /* "3.11.7"; "3.10" when only a file name told (3.8-3.10) */
    unsigned version_hex; /* PY_VERSION_HEX; at least major and minor */
    char path[4096];      /* the file (executable or libpython) holding _PyRuntime */
    uint64_t runtime;     /* run-time address of _PyRuntime */
};

/* Where the interpreter lives, for bts_python_new_reader(). */
struct bts_python_target {
    unsigned version_hex;   /* PY_VERSION_HEX; 3.8 to 3.13 are known */
    uint64_t runtime;       /* run-time address of _PyRuntime */
    uint64_t code_type;     /* run-time address of PyCode_Type; 0 skips the check */
    uint64_t unicode_type;  /* run-time address of PyUnicode_Type; 0 skips the check */
    pid_t pid;              /* for /proc/PID/task; 0 for a memory snapshot */
    int pthread_tid_offset; /* 3.8-3.10: tid's offset in glibc's struct
                             * pthread; -1 when unknown (tids read as 0) */
};

/* Cumulative counters since bts_python_new*(). */
struct bts_python_stats {
    uint64_t samples;
    uint64_t errors;
    uint64_t remote_reads; /* calls of the read and read_many callbacks */
    uint64_t remote_bytes;
    uint64_t code_hits; /* code objects found in the cache, still valid */
    uint64_t code_misses;
};

/* A reader serves one caller at a time, for one process image: after the
 * target execs, make a new one. */
struct bts_python;

/* Finds the interpreter of process `pid`: the executable or libpython3.X.so
 * that holds an initialised _PyRuntime, its version and layout. `info` may
 * be NULL. NULL + errno on failure: ENOENT when the process runs no
 * CPython, ENOTSUP when its version is not one we can read (info says
 * which), ESRCH when it is gone, EACCES/EPERM when not allowed. */
struct bts_python *bts_python_new(pid_t pid, struct bts_python_info *info);

/* A reader over any memory: `read` and `ctx` must outlive it; a NULL `ctx`
 * stands for the reader's own copy of target->pid, as bts_remote_read_pid
 * wants it. For 3.13 the layout is read from the target's _Py_DebugOffsets
 * at this call. NULL + errno: ENOTSUP for an unknown version or layout,
 * EFAULT when the runtime cannot be read, ENOMEM. */
struct bts_python *bts_python_new_reader(const struct bts_python_target *target,
                                         bts_python_read_fn read, void *ctx);

/* Lets the reader fetch, in one call at the start of each sample, the
 * pages the previous sample read. bts_python_new() sets it for itself. */
void bts_python_set_read_many(struct bts_python *py, bts_python_read_many_fn read_many);

void bts_python_free(struct bts_python *py);

/* "3.11.7" (or "3.11"), owned by the reader. */
const char *bts_python_version(const struct bts_python *py);

/* Reads every thread's stack now. `out` and all it points to (threads,
 * frames, strings) are owned by the reader and stay valid until the next
 * bts_python_sample() or bts_python_free(). A thread whose chain is broken
 * keeps the frames read before the break. 0, or -errno when nothing could
 * be read at all (-ESRCH: the process is gone; -EFAULT: the runtime is
 * unreadable); an interpreter that is not initialised yet gives 0 threads. */
int bts_python_sample(struct bts_python *py, struct bts_python_sample *out);

/* The same for the one thread whose OS thread id is `tid` (a sampler's
 * sample of that thread): the thread states before it are looked at, not
 * walked. out->n_threads is 1, or 0 when no thread state has that tid (a
 * thread that runs no Python, or one whose tid cannot be told: 3.8-3.10
 * when the pthread offset is unknown). The same ownership and errors as
 * bts_python_sample (-EINVAL for tid <= 0). */
int bts_python_sample_thread(struct bts_python *py, pid_t tid, struct bts_python_sample *out);

/* One frame at `frame`, read now whether or not it is still on a thread's
 * chain (a frame that was current when a sample was taken and has been
 * popped since: its memory may still describe it). Sets *previous to the
 * frame it links to (past a 3.12+ shim frame, which makes it an entry
 * frame). Names are valid until the next bts_python_sample*(). 0, -EFAULT
 * when unreadable, -EINVAL when it runs no code object. */
int bts_python_read_frame(struct bts_python *py, uint64_t frame, struct bts_python_frame *out,
                          uint64_t *previous);

/* The code object whose bytecode holds `addr`, among those read since the
 * last re-read of the cache, re-checked now; the frame's line is that of
 * the instruction at `instr` (0 when `instr` is not in that bytecode), its
 * `frame` 0. -ENOENT when none is known to hold it. */
int bts_python_code_at(struct bts_python *py, uint64_t addr, uint64_t instr,
                       struct bts_python_frame *out);

/* Bytes of the target as they were at one instant, laid over what the
 * reader reads while the overlay is set: a sampler that copied a thread's
 * frame chain when it took a sample (daemon/sampler's eBPF capture) has
 * the reader walk that copy, so the frames are the sample's and not the
 * ones running when the read comes. Whatever the blocks do not cover
 * (code objects, strings, the thread list) is read live. Blocks are
 * sorted by address, each at most BTS_PYTHON_OVERLAY_MAX_BLOCK bytes;
 * they may overlap only where their bytes agree. A read the blocks cover
 * whole succeeds even where the memory is no longer readable. */
#define BTS_PYTHON_OVERLAY_MAX_BLOCK 128
struct bts_python_overlay_block {
    uint64_t addr;
    uint32_t len;
    const uint8_t *data;
};
struct bts_python_overlay {
    const struct bts_python_overlay_block *blocks;
    size_t n;
};

/* The name of a frame of an overlaid chain whose code object could not be
 * read any more (freed since the sample). */
#define BTS_PYTHON_CODE_GONE "[code object freed]"

/* Sets (NULL: clears) the overlay; it must outlive its use. */
void bts_python_set_overlay(struct bts_python *py, const struct bts_python_overlay *ov);

/* Where a thread's frame chain lives, for a sampler that copies it: the
 * thread state's field that leads to the frames, the _PyCFrame's field
 * that holds the current frame (3.11, 3.12; UINT32_MAX before and after),
 * the frame's link to the one it returns to, and how many bytes from the
 * start of a frame hold every field the reader reads of it; and where the
 * main interpreter's GIL keeps whether it is held and by which thread
 * state (addresses; 0 when they could not be read), so a copy of those
 * tells the holder at the sample. */
struct bts_python_chain_layout {
    uint32_t tstate_frame;
    uint32_t cframe_frame;
    uint32_t frame_previous;
    uint32_t frame_bytes;
    uint64_t gil_locked; /* an int */
    uint64_t gil_holder; /* a PyThreadState * */
};

void bts_python_chain_layout(struct bts_python *py, struct bts_python_chain_layout *out);

void bts_python_stats(const struct bts_python *py, struct bts_python_stats *out);

/* The target the reader was made for (what discovery found), e.g. to
 * build a second reader over a recording of the same memory. */
void bts_python_target_of(const struct bts_python *py, struct bts_python_target *out);
