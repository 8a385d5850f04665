/* SPDX-License-Identifier: MIT */
/* speedscope: writer and reader of speedscope's JSON file format
 * (https://www.speedscope.app/file-format-schema.json). */
#pragma once

#include <stddef.h>
#include <stdio.h>

#include "calltree.h"
#include "timeline.h"

/* The top-level member that carries a memory timeline (the schema allows
 * members it does not name; speedscope ignores them). */
#define BTS_SPEEDSCOPE_TIMELINE_KEY "btspyTimeline"

struct bts_speedscope_opts {
    const char *exporter; /* NULL = "bt-spy" */
    const char *unit;     /* "bytes" for a memory profile; NULL = "none" */
    /* Written as BTS_SPEEDSCOPE_TIMELINE_KEY: bts_timeline_encode's text. */
    const struct bts_timeline *timeline;
};

/* Writes a finished tree as "sampled" profiles. Stacks whose root frame is
 * `thread NAME (TID)` go to one profile per thread named after that frame
 * (the frame itself is left out); other stacks go to one profile named
 * `name`. Strings are JSON-escaped; invalid UTF-8 becomes U+FFFD. Output is
 * deterministic. Returns 0, -ENOMEM or -EIO. */
int bts_speedscope_write_calltree(const struct bts_calltree *t, const char *name,
                                  const struct bts_speedscope_opts *o, FILE *out);
/* Reads folded stacks from `in` (malformed lines skipped) and writes the
 * JSON; easy to call on a memory buffer through fmemopen. */
int bts_speedscope_write_folded(FILE *in, const char *name, const struct bts_speedscope_opts *o,
                                FILE *out);

/* Reads a speedscope JSON file ("sampled" and "evented" profiles) into t
 * (column 0, not finished). A profile named `thread NAME (TID)` gets that
 * root frame back. On malformed input returns -EBADMSG and describes it in
 * err ("line 3: expected ':'"). */
int bts_speedscope_read(FILE *in, struct bts_calltree *t, char *err, size_t errlen);
int bts_speedscope_read_buffer(const char *data, size_t len, struct bts_calltree *t, char *err,
                               size_t errlen);

/* What bts_speedscope_read_extras also hands back. */
struct bts_speedscope_extras {
    struct bts_timeline *timeline; /* NULL when none (or malformed); the caller frees */
    char unit[32];                 /* the first profile's unit unless "none", else "" */
};
/* bts_speedscope_read that fills *x (may be NULL). */
int bts_speedscope_read_extras(FILE *in, struct bts_calltree *t, struct bts_speedscope_extras *x,
                               char *err, size_t errlen);
