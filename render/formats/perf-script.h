/* SPDX-License-Identifier: MIT */
/* perf-script: `perf script` text (with callchains) to folded stacks, the
 * way perf's own stackcollapse script and stackcollapse-perf.pl fold it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "calltree.h"
#include "folded.h"

/* Defaults match `perf script report stackcollapse`: the process name
 * (spaces turned to '_') is the root frame, symbol offsets (+0x1f) are
 * stripped, ';' in names becomes ':', unresolved symbols stay `[unknown]`,
 * kernel frames are not annotated, and each sample counts 1. */
struct bts_perf_script_opts {
    const char *event;    /* keep only this event ("cpu-clock"); NULL = the first event seen */
    bool no_comm;         /* leave out the process-name root frame */
    bool include_pid;     /* root frame "comm-PID"; perf script prints the pid
                           * only with -F +pid ("pid/tid"), else this is the tid */
    bool include_tid;     /* root frame "comm-PID/TID" (or "comm-TID") */
    bool thread_roots;    /* root frame "thread COMM (TID)" (bt-spy's --threads form) */
    bool annotate_kernel; /* append _[k] to frames whose dso is [kernel.kallsyms] */
    bool use_period;      /* count the sample period instead of 1 */
    bool strict;          /* stop at the first malformed line */
};

struct bts_perf_script_stats {
    uint64_t samples; /* samples folded */
    uint64_t skipped; /* samples of other events */
    uint64_t malformed;
    uint64_t lines;
    uint64_t bytes;
};

/* Streams `in` (not closed) into t (not finished). Malformed lines (a frame
 * outside a sample, a header without pid or event) go to diag with their
 * line number and their sample is dropped; under o->strict the load stops
 * with -EBADMSG and err holds "line N: reason". stats may be NULL. Returns
 * 0, -EBADMSG, -ENOMEM or -errno of a read error. */
int bts_perf_script_read(FILE *in, const char *name, const struct bts_perf_script_opts *o,
                         struct bts_calltree *t, bts_folded_diag_fn diag, void *diag_ctx,
                         struct bts_perf_script_stats *stats, char *err, size_t errlen);

/* True when the text starts like `perf script` output: a sample header
 * (comm, pid, optional [cpu], time:) followed by an indented frame. */
bool bts_perf_script_sniff(const char *head, size_t len);
