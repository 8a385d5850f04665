/* SPDX-License-Identifier: MIT */
/* line-limit: the longest line any text reader of profiles accepts. */
#pragma once

#include <stddef.h>

/* The longest line, not counting its newline, that the folded reader (and
 * so render, diff, report, convert and bt-flamegraph) and the perf script
 * reader accept: 1 MiB. A longer line stops the read with an error naming
 * FILE:LINE, so input without newlines (/dev/zero, a binary file) cannot
 * grow a reader's buffer without end: a reader holds at most a few times
 * this much. Real lines are far shorter: 2000 frames of 200 bytes each
 * are 400 KiB. */
#define BTS_LINE_LIMIT_BYTES ((size_t)1 << 20)

/* The reason readers give for such a line, after "FILE:LINE: ". */
#define BTS_LINE_LIMIT_REASON "line longer than 1 MiB (the limit of one line)"
