/* SPDX-License-Identifier: MIT */
/* debug-frame: rewrites a .debug_frame section into the .eh_frame layout with
 * a sorted search table in front, so libunwind's remote-table search (the
 * only DWARF lookup it exports) can use images that lack .eh_frame. */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct bts_debug_frame_table {
    uint8_t *data;         /* search table (count * 8 bytes), then CIEs and FDEs */
    size_t len;            /* multiple of 8 */
    size_t count;          /* FDEs, i.e. table entries */
    uint64_t *starts;      /* run-time start of each FDE, sorted */
    uint32_t *fde_offsets; /* offset of each FDE in data */
    uint64_t bias;         /* run-time minus ELF vaddr the addresses were made for */
};

/* Converts the 32-bit DWARF CIEs (versions 1, 3, 4 with an empty
 * augmentation) and their FDEs of `sec`; FDE addresses become run-time
 * addresses (vaddr + bias). 0, -ENOENT when nothing was usable, -ENOMEM. */
int bts_debug_frame_convert(const uint8_t *sec, size_t len, uint64_t bias,
                            struct bts_debug_frame_table *out);

/* Fills the search table for `data` served at run-time address `base`:
 * entries are int32 offsets from base. 0 or -ERANGE when out of reach. */
int bts_debug_frame_place(struct bts_debug_frame_table *t, uint64_t base);

void bts_debug_frame_table_free(struct bts_debug_frame_table *t);
