/* SPDX-License-Identifier: MIT */
/* report: profile formats in and out of a call tree (sniffing, loading,
 * folded output) and the per-function self/total table of `bt-spy report`. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "calltree.h"
#include "perf-script.h"

enum bts_report_format {
    BTS_REPORT_FORMAT_AUTO = 0, /* sniff the content */
    BTS_REPORT_FORMAT_FOLDED,
    BTS_REPORT_FORMAT_PPROF,
    BTS_REPORT_FORMAT_SPEEDSCOPE,
    BTS_REPORT_FORMAT_PERF_SCRIPT,
};

/* "folded", "pprof", "speedscope", "perf-script" -> format; AUTO when the
 * name is unknown. */
enum bts_report_format bts_report_format_from_name(const char *name);
const char *bts_report_format_name(enum bts_report_format f);
/* Output format from a file name's extension: .folded/.txt/.collapsed,
 * .pb.gz/.pprof/.pb, .speedscope.json/.json. AUTO when unknown. */
enum bts_report_format bts_report_format_from_path(const char *path);
/* Input format from the first bytes of a file: gzip magic or binary bytes
 * -> pprof, a JSON object -> speedscope, a `perf script` sample header
 * followed by an indented frame -> perf-script, else folded. */
enum bts_report_format bts_report_format_sniff(const void *head, size_t len);

/* Options for loading any input into a call tree. */
struct bts_report_load_opts {
    enum bts_report_format format;    /* AUTO: sniff */
    const char *sample_type;          /* pprof: sample type name; NULL = the first */
    struct bts_perf_script_opts perf; /* perf-script: event, root frame, kernel suffix */
    bool strict;                      /* folded/perf-script: stop at the first malformed line */
};

/* Loads `in` (not closed) into `t` (not finished). Diagnostics of skipped
 * folded/perf-script lines go to diag (may be NULL). A fatal error is
 * described in err ("offset 12: truncated gzip stream", "line 3: ...",
 * without the file name). *used receives the format that was read (may be
 * NULL). Returns 0, -EBADMSG (malformed input), -ENOMEM or -errno. */
int bts_report_load(FILE *in, const char *name, const struct bts_report_load_opts *o,
                    struct bts_calltree *t, bts_folded_diag_fn diag, void *diag_ctx,
                    enum bts_report_format *used, char *err, size_t errlen);

/* Writes every stack of a finished tree with a non-zero column-0 self count
 * (both columns for a differential tree) as folded lines, depth first with
 * children in name order. Returns 0 or -EIO. */
int bts_report_write_folded(const struct bts_calltree *t, FILE *out);

/* True when `name` is a `thread NAME (TID)` root frame; fills the thread
 * name span and the tid. */
bool bts_report_parse_thread_frame(const char *name, size_t len, const char **tname,
                                   size_t *tname_len, int64_t *tid);

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
