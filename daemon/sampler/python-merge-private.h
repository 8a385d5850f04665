/* SPDX-License-Identifier: MIT */
/* python-merge: one sample's unwound native frames and the Python frames
 * read for its thread, merged into one stack in which every Python frame
 * sits where it was when the kernel took the sample -- or "torn" when the
 * sample itself cannot vouch for the Python frames read after it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "python-reader.h"
#include "unwinder-private.h"

/* What a native frame is, for the merge (from its function's name). */
enum bts_merge_kind {
    BTS_MERGE_NATIVE = 0, /* any other code: extensions, libc, BLAS, the interpreter's own work */
    BTS_MERGE_EVAL,       /* an activation of the evaluation loop (incl. its .cold part) */
    BTS_MERGE_INTERNAL,   /* the interpreter's call plumbing: hidden unless asked for */
    /* Pushing or popping an interpreter frame (hidden too): the loop's
     * own view of its frame and the thread's chain may differ here. */
    BTS_MERGE_FRAME_OP,
    /* No function name (module+0xoff, [unknown]): shown as native, but it
     * could be a nameless part of the loop, such as a stripped
     * interpreter's .cold code. */
    BTS_MERGE_UNKNOWN,
};

/* The kind of the function named `name` (a symbol, perhaps with a
 * ".cold"/".constprop.N" suffix); NULL, "[unknown]" or a module+0xoff
 * name is UNKNOWN. */
enum bts_merge_kind bts_python_merge_classify(const char *name);

/* Why a sample could not be merged. */
enum bts_merge_result {
    BTS_MERGE_OK = 0,        /* merged */
    BTS_MERGE_NO_PYTHON,     /* the thread runs no Python: its native frames, as they are */
    BTS_MERGE_TORN_COUNT,    /* evaluation loop activations != runs of Python frames */
    BTS_MERGE_TORN_FRAME,    /* an activation ran another frame than the one read */
    BTS_MERGE_TORN_CODE,     /* the frame read runs other code than the activation did */
    BTS_MERGE_TORN_LEARNING, /* where the loop keeps its frame is not known yet */
    BTS_MERGE_TORN_STACK,    /* no activation in the copied stack to anchor on */
    BTS_MERGE_RESULT_COUNT,
};

/* "ok", "no python", "activation count", ... for stats and tests. */
const char *bts_python_merge_result_name(enum bts_merge_result r);

/* One sample, as unwound and read. All pointers are borrowed for the call. */
struct bts_merge_input {
    const struct bts_unwind_frame *native; /* leaf first */
    const uint8_t *kinds;                  /* enum bts_merge_kind of each native frame */
    size_t n_native;
    /* The unwinder reached the outermost frame (not cut off by the end of
     * the stack copy or by missing unwind info). */
    bool complete;
    const uint64_t *regs; /* the sample's registers (BTS_REG_*) */
    const uint8_t *stack; /* the copied stack, from regs[BTS_REG_SP] */
    uint64_t stack_size;
    const struct bts_python_thread *python; /* the thread's Python frames; NULL: none */
    /* The Python frames were read while the thread was stopped at the
     * sample (ptrace): exact by construction, nothing to anchor. */
    bool trusted;
    /* Optional, for the innermost activation's frame when the read no
     * longer shows it (it returned), and for the line of the instruction
     * the sample shows: the reader that gave `python`
     * (bts_python_read_frame, bts_python_code_at). Without them such
     * samples are torn, and lines are the ones read. */
    void *reader;
    int (*read_frame)(void *reader, uint64_t frame, struct bts_python_frame *out,
                      uint64_t *previous);
    int (*code_at)(void *reader, uint64_t addr, uint64_t instr, struct bts_python_frame *out);
};

/* How a merged stack's marker frames read: a torn merge's (and a partial
 * merge's .torn frames), and an .unknown innermost frame. */
#define BTS_MERGE_TORN_TEXT    "[python frames torn]"
#define BTS_MERGE_UNKNOWN_TEXT "[python frame unknown]"

/* One frame of a merged stack. */
struct bts_merge_frame {
    /* A Python frame: one of input->python's, or one the merge rebuilt
     * from the sample (valid until the next bts_python_merge()); NULL for
     * the native frame input->native[native]. */
    const struct bts_python_frame *python;
    uint32_t native;
    /* For Python frames: the line to show, the frame's own unless the
     * sample tells better; 0 when unknown. */
    int line;
    /* The innermost activation's Python frame, which the merge could not
     * tell (python and native unset): that activation was starting or
     * ending its frame at the sample, called back from native code whose
     * Python callers the outer activations vouch for. */
    bool unknown;
    /* In a partial merge (bts_merge_stats.partial): the Python frames of an
     * activation the sample could not vouch for (python and native unset),
     * shown as "[python frames torn]" under its vouched callers. */
    bool torn;
};

struct bts_merge_opts {
    bool keep_internal; /* keep the interpreter's call plumbing and startup frames */
};

/* Counters since bts_python_merge_new(). */
struct bts_merge_stats {
    uint64_t samples;
    uint64_t results[BTS_MERGE_RESULT_COUNT];
    uint64_t truncated; /* merged with Python frames beyond the copied stack */
    /* Merged although the innermost frame had moved on: rebuilt from the
     * sample after it returned, or with the frames it called since left
     * out. */
    uint64_t rebuilt_returned, trimmed;
    /* Merged with the innermost activation's frame shown unknown. */
    uint64_t unknown_innermost;
    /* Torn (counted in results[] by why), yet given its outer activations'
     * frames, which the sample vouches for, with the others shown torn. */
    uint64_t partial;
    /* The line of each activation's innermost frame: read, and the sample
     * showed the same instruction; taken from the sample's instruction;
     * read, the sample not telling (the frame may have moved on within
     * its function); unknown (a rebuilt frame, no instruction). */
    uint64_t line_exact, line_sample, line_after, line_unknown;
    bool learned; /* the anchor slots are known */
};

/* The merge of one process: it learns, from the samples it is given,
 * where that interpreter's evaluation loop keeps its current frame and
 * code (a register or a slot of its stack frame). */
struct bts_python_merge;

/* NULL + errno (ENOMEM). */
struct bts_python_merge *bts_python_merge_new(const struct bts_merge_opts *opts);
void bts_python_merge_free(struct bts_python_merge *m);

/* The interpreter changed (an exec): forget what was learned. */
void bts_python_merge_reset(struct bts_python_merge *m);

/* Merges one sample into out[0..max), leaf first. Returns the result and
 * sets *n_out. A BTS_MERGE_NO_PYTHON sample gets its native frames
 * unchanged. Never publishes a Python frame it could not check: a torn
 * result leaves *n_out at 0, or gives a partial merge (stats.partial): the
 * outer activations' frames the sample vouches for, the others each one
 * frame with .torn set. */
enum bts_merge_result bts_python_merge(struct bts_python_merge *m, const struct bts_merge_input *in,
                                       struct bts_merge_frame *out, size_t max, size_t *n_out);

void bts_python_merge_stats(const struct bts_python_merge *m, struct bts_merge_stats *out);

/* For tests: where the loop's current frame and code were found to live.
 * Each is "rbx".."r15" or "cfa-N"; "" while unknown. */
void bts_python_merge_anchors(const struct bts_python_merge *m, char *frame, char *code,
                              size_t len);
