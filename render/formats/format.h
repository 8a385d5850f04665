/* SPDX-License-Identifier: MIT */
/* format: the registry of the formats bt-spy reads and writes (folded,
 * pprof, speedscope, perf script; and the pictures SVG, PNG, PDF, which it
 * only writes): names, extensions, sniffing, loading. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "calltree.h"
#include "perf-script.h"
#include "timeline.h"

enum bts_format {
    BTS_FORMAT_AUTO = 0, /* sniff the content */
    BTS_FORMAT_FOLDED,
    BTS_FORMAT_PPROF,
    BTS_FORMAT_SPEEDSCOPE,
    BTS_FORMAT_PERF_SCRIPT,
    BTS_FORMAT_SVG, /* pictures: written by render.h, never read */
    BTS_FORMAT_PNG,
    BTS_FORMAT_PDF,
};

/* "folded" (or "collapsed"), "pprof", "speedscope", "perf-script", "svg",
 * "png", "pdf" -> format, in any case; AUTO when the name is unknown. */
enum bts_format bts_format_from_name(const char *name);
/* Output format from a file name's extension, in any case:
 * .folded/.txt/.collapsed, .pb.gz/.pprof/.pb, .speedscope.json/.json,
 * .svg, .png, .pdf. AUTO when unknown. */
enum bts_format bts_format_from_path(const char *path);
/* The extension a file of format f is written with, without its dot
 * ("svg", "pb.gz", "speedscope.json"); NULL for perf-script and AUTO,
 * which bt-spy only reads. */
const char *bts_format_extension(enum bts_format f);
/* True for SVG, PNG and PDF. */
bool bts_format_is_picture(enum bts_format f);
/* Input format from the first bytes of a file: gzip magic or binary bytes
 * -> pprof, a JSON object -> speedscope, a `perf script` sample header
 * followed by an indented frame -> perf-script, else folded. */
enum bts_format bts_format_sniff(const void *head, size_t len);

/* What an input says about its recording (pprof carries these; folded,
 * speedscope and perf script do not): 0 or NULL where unknown. */
struct bts_profile_meta {
    double duration_s;    /* wall time of the recording */
    double rate_hz;       /* samples per second (1 / period) */
    int64_t start_unix_s; /* when it started */
    char comment[256];    /* a note the writer left, "" if none */
    char unit[32];        /* of the values read: "bytes", "nanoseconds", "count"; "" if unknown */
};

/* Options for loading any input into a call tree. */
struct bts_format_load_opts {
    enum bts_format format;           /* AUTO: sniff */
    const char *sample_type;          /* pprof: sample type name; NULL = the first */
    struct bts_perf_script_opts perf; /* perf-script: event, root frame, kernel suffix */
    bool strict;                      /* folded/perf-script: stop at the first malformed line */
    struct bts_profile_meta *meta;    /* out (may be NULL): filled with what the input says */
    /* Out (may be NULL): the memory timeline a pprof or speedscope input
     * carries (record --memory), else NULL; the caller frees it. */
    struct bts_timeline **timeline;
};

/* Loads `in` (not closed) into `t` (not finished) (format-load.c).
 * Diagnostics of skipped folded/perf-script lines go to diag (may be NULL).
 * A fatal error is described in err ("offset 12: truncated gzip stream",
 * "line 3: ...", without the file name). *used receives the format that was
 * read (may be NULL). Returns 0, -EBADMSG (malformed input), -EINVAL (a
 * picture format), -ENOMEM or -errno. */
int bts_format_load(FILE *in, const char *name, const struct bts_format_load_opts *o,
                    struct bts_calltree *t, bts_folded_diag_fn diag, void *diag_ctx,
                    enum bts_format *used, char *err, size_t errlen);
