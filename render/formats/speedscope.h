/* SPDX-License-Identifier: MIT */
/* speedscope: writer and reader of speedscope's JSON file format
 * (https://www.speedscope.app/file-format-schema.json). */
#pragma once

#include <stddef.h>
#include <stdio.h>

#include "calltree.h"

struct bts_speedscope_opts {
    const char *exporter; /* NULL = "bt-spy" */
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
