/* SPDX-License-Identifier: MIT */
/* python-frames: a session's view of one process's CPython interpreter:
 * finding it (and looking again while the process starts up or after it
 * execs), reading a sampled thread's Python stack, and the interned
 * (code, line) -> "qualname (path:line)" table behind the tagged values
 * those stacks hold in the stack table. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* A stack-table value with this bit set is a Python frame: the rest is its
 * index in the session's frame table. User-space addresses never have it. */
#define BTS_PYTHON_FRAME_TAG (1ULL << 63)

static inline bool bts_python_frame_is_tagged(uint64_t pc)
{
    return (pc & BTS_PYTHON_FRAME_TAG) != 0;
}

enum bts_python_frames_gil {
    BTS_PYTHON_FRAMES_GIL_UNKNOWN = 0,
    BTS_PYTHON_FRAMES_GIL_HELD,
    BTS_PYTHON_FRAMES_GIL_NOT_HELD,
};

/* What one read of a thread gave. */
struct bts_python_frames_read {
    size_t n;                       /* Python frames written, leaf first; 0: not a Python thread */
    enum bts_python_frames_gil gil; /* UNKNOWN when no interpreter or thread state was found */
    const char *thread_name; /* threading's name for it, or NULL; valid until the next read */
    /* The frames are the ones the eBPF capture copied at the sample, not
     * read afterwards: exact, however late. */
    bool captured;
};

struct bts_python_frames_stats {
    uint64_t reads;   /* stack reads of the interpreter */
    uint64_t read_ns; /* time those reads took */
    uint64_t errors;  /* failed reads, chains cut off, unreadable objects */
    bool found;       /* an interpreter is being read */
    /* With the eBPF capture: reads for a sample that took its frames from
     * the capture; that found no record for the sample (a thread not known
     * to the program yet); and that found one it could not use (cut short,
     * faulted, or another thread state's). */
    uint64_t captured, capture_missing, capture_unusable;
    char version[32]; /* its version ("3.11.2"), "" when none */
};

struct bts_python_frames;

/* For process `pid`; `function`: frames by function ("qualname (path)"),
 * not by line. Nothing is read until the first bts_python_frames_read().
 * NULL + errno (ENOMEM). */
struct bts_python_frames *bts_python_frames_new(pid_t pid, bool function);
void bts_python_frames_free(struct bts_python_frames *p);

/* The process runs a new image: the interpreter (if any) is gone, and the
 * new one is looked for afresh. */
void bts_python_frames_exec(struct bts_python_frames *p);
/* The process mapped something executable (e.g. libpython3.X.so). */
void bts_python_frames_maps_changed(struct bts_python_frames *p);

struct bts_python_bpf;

/* Takes the Python stack of each sample from the eBPF capture
 * (python-bpf-private.h) where it has a record of that sample, and tells
 * the capture about this process's interpreter and threads as they are
 * found. NULL: no capture. */
void bts_python_frames_set_capture(struct bts_python_frames *p, struct bts_python_bpf *bpf);

/* Reads thread `tid`'s Python stack for its sample taken at `time_ns`
 * into pcs[0..max) as tagged values, innermost first: the capture's copy of
 * it when there is one (out->captured), else the stack now (time_ns 0:
 * always now). Looks for the interpreter first when it is due. Returns
 * the number of frames (out->n), 0 when the thread runs no Python or no
 * interpreter is known; never fails (a failed read counts as an error and
 * gives 0). */
size_t bts_python_frames_read(struct bts_python_frames *p, pid_t tid, uint64_t time_ns,
                              uint64_t *pcs, size_t max, struct bts_python_frames_read *out);

struct bts_python;
struct bts_python_frame;
struct bts_python_thread;

/* The same read, its frames as the reader gives them (for --native's
 * merge): NULL when the thread runs no Python or no interpreter is known.
 * Valid until the next read of this process; out->n is its frame count. */
const struct bts_python_thread *bts_python_frames_thread(struct bts_python_frames *p, pid_t tid,
                                                         uint64_t time_ns,
                                                         struct bts_python_frames_read *out);

/* The tagged value of frame `f` shown at `line` (0: unknown), or of a
 * plain text frame ("[python frames torn]"). 0 when out of memory. */
uint64_t bts_python_frames_tag(struct bts_python_frames *p, const struct bts_python_frame *f,
                               int line);
uint64_t bts_python_frames_tag_text(struct bts_python_frames *p, const char *text);

/* The reader of the interpreter found, or NULL: for frames read again
 * after a sample (python-merge's rebuilt frames). Owned by p. */
struct bts_python *bts_python_frames_reader(struct bts_python_frames *p);

/* The name of a tagged value: "qualname (path:line)", or "qualname (path)"
 * by function. NULL when the value is not one of ours. */
const char *bts_python_frames_name(const struct bts_python_frames *p, uint64_t tagged);

/* A note for the user, once per event: the interpreter found ("python
 * 3.11.2 (static) found in pid 1234"), or one that cannot be read. Copies
 * it into buf and returns true once; false when there is none new. */
bool bts_python_frames_take_note(struct bts_python_frames *p, char *buf, size_t len);

void bts_python_frames_stats(const struct bts_python_frames *p,
                             struct bts_python_frames_stats *out);
