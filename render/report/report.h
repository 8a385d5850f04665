/* SPDX-License-Identifier: MIT */
/* report: the per-function self/total table of `bt-spy report`. */
#pragma once

#include <stddef.h>
#include <stdio.h>

#include "calltree.h"

enum bts_report_order { BTS_REPORT_BY_SELF = 0, BTS_REPORT_BY_TOTAL };
enum bts_report_style {
    BTS_REPORT_TEXT = 0,
    BTS_REPORT_MARKDOWN,
    BTS_REPORT_CSV,
    BTS_REPORT_JSON,
};

struct bts_report_opts {
    size_t top; /* rows to print; 0 = all */
    enum bts_report_order by;
    enum bts_report_style style;
};

/* Writes the function table of a finished tree: rank, function, self %,
 * total %, self samples, total samples. A sample counts once in the total
 * of each distinct function on its stack (recursion is not counted twice).
 * Leading `thread NAME (TID)` and `process NAME (PID)` frames are not
 * functions and are left out. Returns 0 or -EIO / -ENOMEM. */
int bts_report_write(const struct bts_calltree *t, const struct bts_report_opts *o, FILE *out);
