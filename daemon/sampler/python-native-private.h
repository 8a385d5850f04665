/* SPDX-License-Identifier: MIT */
/* python-native: a session's --native stacks: each sample's native frames
 * and its thread's Python frames merged (python-merge) into stack-table
 * values, Python frames tagged by python-frames. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "backend-private.h"
#include "python-merge-private.h"

struct bts_unwinder;
struct bts_symbolizer;
struct bts_python_frames;

struct bts_python_native;

/* The merge's kind (enum bts_merge_kind) of each of frames[0..n), leaf
 * first, by its symbol's name. A nameless frame may be a stripped part of
 * the interpreter (its loop's .cold code), but not when it lies in another
 * module than the loop: there it is an extension's or a library's code. */
void bts_python_native_classify(struct bts_symbolizer *sym, const struct bts_unwind_frame *frames,
                                size_t n, uint8_t *kinds);

/* keep_internal: keep the interpreter's call plumbing. lines: keep the
 * native frames' exact pcs (else each becomes its function's entry + 1,
 * as the session interns native stacks). NULL + errno. */
struct bts_python_native *bts_python_native_new(bool keep_internal, bool lines);
void bts_python_native_free(struct bts_python_native *pn);

/* The process runs a new image: what was learned about its interpreter
 * and the stacks kept from stops no longer hold. */
void bts_python_native_reset(struct bts_python_native *pn);

/* ptrace: thread `tid` is stopped at a sample now; reads its Python stack
 * and keeps a copy for that sample, so its merge is exact. */
void bts_python_native_stopped(struct bts_python_native *pn, struct bts_python_frames *pf,
                               pid_t tid);

/* One sample's stack into pcs[0..max), leaf first: native pcs and
 * python-frames' tagged Python frames. The thread's Python stack is the
 * one kept at its stop, else read now. Returns the number of values;
 * 0 when the thread runs no Python (or no interpreter is known): the
 * caller unwinds it as a native thread. A sample whose Python frames
 * could not be shown to be the sample's (torn) gets its native frames
 * under a "[python frames torn]" root frame; unless `late` (the read
 * came long after the sample, so the thread had most likely moved on):
 * then BTS_PYTHON_NATIVE_LATE, and the caller leaves it out, as it does
 * late Python-only samples. -1: no stack at all.
 * *thread_name is set to threading's name when there is one; *gil_held
 * (may be NULL) to whether the thread held the GIL. */
#define BTS_PYTHON_NATIVE_LATE (-2)
int bts_python_native_stack(struct bts_python_native *pn, struct bts_unwinder *u,
                            struct bts_symbolizer *sym, struct bts_python_frames *pf,
                            const struct bts_raw_sample *raw, bool late, uint64_t *pcs, size_t max,
                            const char **thread_name, int *gil_held);

struct bts_python_native_stats {
    struct bts_merge_stats merge; /* per result, rebuilt, lines, ... */
    uint64_t trusted;             /* merged from Python frames read while stopped */
    uint64_t torn;                /* shown native under the torn root */
    uint64_t torn_late;           /* torn and read late: left out */
    uint64_t partial;             /* torn, shown with their outer activations' frames */
    uint64_t stop_ns;             /* time spent reading while a thread was stopped */
    /* samples merged from the eBPF capture's Python stack, and torn with it */
    uint64_t captured, captured_torn;
};

void bts_python_native_stats(const struct bts_python_native *pn,
                             struct bts_python_native_stats *out);
