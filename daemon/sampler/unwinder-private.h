/* SPDX-License-Identifier: MIT */
/* unwinder: DWARF unwinding of one copied user stack with libunwind's remote
 * API and custom accessors (registers from the sample, memory from the
 * stack copy or the ELF files, unwind tables from .eh_frame_hdr). */
#pragma once

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

/* Unwinds a sample: `regs` as in struct bts_raw_sample, `stack` a copy of
 * `stack_size` bytes from regs[BTS_REG_SP]. Writes up to `max` pcs, leaf
 * first, and returns how many (>= 1), or -errno when not even the leaf is
 * known. A stack cut short by missing unwind info or a too-small copy still
 * returns the frames found. Unwinding gives up after `max` frames or 2 ms. */
int bts_unwinder_unwind(struct bts_unwinder *u, const uint64_t *regs, const uint8_t *stack,
                        uint64_t stack_size, uint64_t *pcs, unsigned max);
