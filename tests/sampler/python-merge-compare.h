/* SPDX-License-Identifier: MIT */
/* python-merge-compare: whether a late merge tells what the truth does, for
 * python-merge-probe and check-python-merge's replay of its recordings. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "python-merge-private.h"

/* An unknown frame in the late merge l (the innermost activation's, which
 * it could not tell), or a torn one (an activation a partial merge could
 * not vouch for), stands for that activation's run in the truth t: its
 * Python frames up to its entry frame, or the truth's own unknown frame (an
 * activation ending, its frame gone from the chain). *lines_differ: the same frames, but
 * some Python frame's line is not the truth's. */
static inline bool same_merge(const struct bts_merge_frame *t, size_t nt,
                              const struct bts_merge_frame *l, size_t nl, bool *lines_differ)
{
    size_t i = 0, j = 0;
    *lines_differ = false;
    for (; i < nt && j < nl; i++, j++) {
        if ((l[j].unknown || l[j].torn) && t[i].unknown)
            continue;
        if (l[j].unknown || l[j].torn) {
            if (!t[i].python)
                return false;
            while (i + 1 < nt && t[i + 1].python && !t[i].python->is_entry)
                i++;
            continue;
        }
        if (!t[i].python != !l[j].python)
            return false;
        if (!t[i].python) {
            if (t[i].native != l[j].native)
                return false;
            continue;
        }
        if (t[i].python->frame != l[j].python->frame || t[i].python->code != l[j].python->code)
            return false;
        *lines_differ |= t[i].line != l[j].line;
    }
    return i == nt && j == nl;
}
