/* SPDX-License-Identifier: MIT */
/* unwinder: DWARF unwinding of one copied user stack with libunwind's remote
 * API and custom accessors (registers from the sample, memory from the
 * stack copy or the ELF files, unwind tables from .eh_frame_hdr). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "backend-private.h"

struct bts_map;
struct bts_elf;

/* Tells the unwinder what is mapped where. `find_map` returns the mapping
 * holding `addr` and sets *elf to its image (NULL for anonymous memory), or
 * returns NULL when nothing is mapped there. */
struct bts_unwind_target {
    void *ctx;
    const struct bts_map *(*find_map)(void *ctx, uint64_t addr, struct bts_elf **elf);
};

struct bts_unwinder;

/* NULL + errno. */
struct bts_unwinder *bts_unwinder_new(const struct bts_unwind_target *target);
void bts_unwinder_free(struct bts_unwinder *u);

/* Forget cached unwind info: call when the target's mappings changed. */
void bts_unwinder_flush(struct bts_unwinder *u);

/* What the unwinder recovered for one frame, for callers that look into a
 * frame as well as at its pc (the Python merge anchors each evaluation
 * loop activation on them). */
#define BTS_UNWIND_NSAVED 6 /* rbx, rbp, r12, r13, r14, r15 */

struct bts_unwind_frame {
    uint64_t pc;
    uint64_t sp;  /* the frame's stack pointer */
    uint64_t cfa; /* where its frame ends (the caller's sp); 0 when not known */
    /* The callee-saved registers (rbx, rbp, r12..r15) as they were in
     * this frame: in the sample's registers, or where a callee saved them
     * in the copied stack. Bit i of `saved_valid` says saved[i] is known. */
    uint64_t saved[BTS_UNWIND_NSAVED];
    uint8_t saved_valid;
    /* Set on the last frame when unwinding ended at the stack's root (the
     * unwind tables say there is no caller), not at the end of the copy or
     * of the unwind information. */
    bool outermost;
};

/* The perf register index of saved[i] (BTS_REG_* numbering). */
extern const int bts_unwind_saved_reg[BTS_UNWIND_NSAVED];

/* Unwinds a sample: `regs` as in struct bts_raw_sample, `stack` a copy of
 * `stack_size` bytes from regs[BTS_REG_SP]. Writes up to `max` pcs, leaf
 * first, and returns how many (>= 1), or -errno when not even the leaf is
 * known. A stack cut short by missing unwind info or a too-small copy still
 * returns the frames found. Unwinding gives up after `max` frames or 2 ms. */
int bts_unwinder_unwind(struct bts_unwinder *u, const uint64_t *regs, const uint8_t *stack,
                        uint64_t stack_size, uint64_t *pcs, unsigned max);

/* The same, with each frame's stack range and recovered callee-saved
 * registers. Returns how many frames were written, leaf first, or -errno. */
int bts_unwinder_unwind_frames(struct bts_unwinder *u, const uint64_t *regs, const uint8_t *stack,
                               uint64_t stack_size, struct bts_unwind_frame *frames, unsigned max);
