/* SPDX-License-Identifier: MIT */
/* perf-script: `perf script` text (with callchains) to folded stacks, the
 * way FlameGraph's stackcollapse-perf.pl folds it, or perf's own script. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "calltree.h"
#include "folded.h"

/* Whose folding rules to follow. */
enum bts_perf_script_convention {
    /* FlameGraph's stackcollapse-perf.pl (and the tools that copy it, such
     * as inferno's collapse-perf): the process name (spaces turned to '_')
     * is the root frame; a sample weighs its period when the header prints
     * one; symbol offsets (+0x1f) and C++ argument lists are stripped (Go
     * method names keep their parentheses), ';' becomes ':', quotes are
     * dropped, Java frames of a `java*` process lose their leading 'L',
     * "a->b" inline chains become a;b_[i]; an unresolved frame is its
     * module in brackets ([libc.so.6]) or [unknown]; frames whose symbol
     * starts with '(' are left out; a sample counts when a blank line ends
     * it (never at the end of the input); only the first event is kept. */
    BTS_PERF_SCRIPT_FLAMEGRAPH = 0,
    /* perf's own `perf script report stackcollapse` (stackcollapse.py):
     * the process name is the root, offsets are stripped, ';' becomes ':',
     * unresolved symbols stay [unknown], argument lists are kept, each
     * sample counts 1 (or its period under use_period). */
    BTS_PERF_SCRIPT_PERF,
};

struct bts_perf_script_opts {
    enum bts_perf_script_convention convention;
    const char *event; /* keep only this event; NULL = the first event seen */
    bool event_exact;  /* event must equal the printed name ("cpu-clock:pppH", as
                        * --event-filter); else "cpu-clock" also matches "cpu-clock:ppp" */
    bool no_comm;      /* leave out the process-name root frame */
    /* Root frame "comm-PID" / "comm-PID/TID". FlameGraph: --tid alone gives
     * comm-PID/TID, and PID is '?' when the header has no pid (perf script
     * prints it with -F +pid). perf: include_pid gives comm-PID (the tid when
     * the header has no pid), include_tid comm-TID, both comm-PID/TID. */
    bool include_pid;
    bool include_tid;
    bool thread_roots;    /* root frame "thread COMM (TID)" (bt-spy's --threads form) */
    bool annotate_kernel; /* append _[k] to kernel frames (FlameGraph: module [..] or
                           * *vmlinux; perf: [kernel.kallsyms]) */
    bool annotate_jit;    /* FlameGraph: append _[j] to frames from /tmp/perf-PID.map */
    bool include_addrs;   /* FlameGraph: unresolved frames read [module <addr>] */
    bool use_period;      /* perf: count the sample period instead of 1 (FlameGraph
                           * always counts the period the header prints) */
    bool strict;          /* stop at the first malformed line */
};

struct bts_perf_script_stats {
    uint64_t samples; /* samples folded */
    uint64_t skipped; /* samples of other events */
    uint64_t malformed;
    uint64_t lines;
    uint64_t bytes;
};

/* Streams `in` (not closed) into t (not finished). Lines that do not parse
 * go to diag with their line number and are skipped (FlameGraph: the lines
 * stackcollapse-perf.pl calls unrecognized; perf: also a frame outside a
 * sample and a header without pid or event, whose sample is dropped); under
 * o->strict the load stops with -EBADMSG and err holds "line N: reason".
 * diag also gets notes that are not errors and never stop a strict load: the
 * first sample of a second event (left out) and a last sample that no blank
 * line ends. stats may be NULL. Returns 0, -EBADMSG, -ENOMEM, -EOVERFLOW or
 * -errno of a read error. */
int bts_perf_script_read(FILE *in, const char *name, const struct bts_perf_script_opts *o,
                         struct bts_calltree *t, bts_folded_diag_fn diag, void *diag_ctx,
                         struct bts_perf_script_stats *stats, char *err, size_t errlen);

/* True when the text starts like `perf script` output: a sample header
 * (comm, pid, optional [cpu], time:) followed by an indented frame. */
bool bts_perf_script_sniff(const char *head, size_t len);
