/* SPDX-License-Identifier: MIT */
/* memory-report: `bt-spy report --memory`: the functions that made the
 * process grow (bytes, self and total), the peak RSS and when, and for the
 * biggest RSS jumps the stacks that faulted memory in during each. */
#pragma once

#include <stddef.h>
#include <stdio.h>

#include "calltree.h"
#include "report.h"
#include "timeline.h"

struct bts_memory_report_opts {
    size_t top; /* function rows; 0 = all */
    enum bts_report_order by;
    enum bts_report_style style;
    size_t stacks_per_jump; /* top stacks listed under each jump (0 = 3) */
};

/* Writes the report. t is a finished byte-weighted tree (the profile's
 * space/bytes values). tl is the recording's timeline or NULL (then the
 * report says there is none). jumps[i], for i < njumps <= tl->njumps, is a
 * finished tree of the bytes faulted in during tl->jumps[i] (the samples
 * whose time label falls in bts_timeline_jump_buckets), or jumps is NULL
 * when the profile has no time labels. Text and markdown have every part;
 * JSON too; CSV has the function table only. 0, -EIO or -ENOMEM. */
int bts_memory_report_write(const struct bts_calltree *t, const struct bts_timeline *tl,
                            struct bts_calltree *const *jumps, size_t njumps,
                            const struct bts_memory_report_opts *o, FILE *out);
