/* SPDX-License-Identifier: MIT */
/* render: folded stacks or a call tree to a flame graph in the picture
 * format asked for: SVG (render/draw), PNG or PDF (cairo). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "calltree.h"
#include "flamegraph.h"
#include "format.h"
#include "options.h"

enum bts_render_format {
    BTS_RENDER_SVG,
    BTS_RENDER_PNG,
    BTS_RENDER_PDF,
};

/* The picture format of a registry format (format.h): 0, or -EINVAL when
 * f is not SVG, PNG or PDF. */
int bts_render_format_from(enum bts_format f, enum bts_render_format *out);
/* The picture format named s ("svg", "png", "pdf", in any case), or of file
 * name s when by_extension is true ("out.png"), by the registry's
 * bts_format_from_name / bts_format_from_path. Returns 0 or -EINVAL. */
int bts_render_format_parse(const char *s, bool by_extension, enum bts_render_format *out);

/* The errors below are bts_flamegraph_folded's and bts_flamegraph_tree's
 * (flamegraph.h): 0, -ENODATA (no stacks or no samples, told to o->diag),
 * -EBADMSG under o->strict, -errno of a read error, -ENOMEM, or -errno of a
 * write error on `out` (ENOSPC...; -EIO when the cause is unknown); -EFBIG
 * for a PNG over 32767 px; -EINVAL for an unknown format. `out` is flushed,
 * not closed. */

/* One folded input (plain or differential) to a graph. */
int bts_render_folded(FILE *in, const char *in_name, const struct bts_render_opts *o,
                      enum bts_render_format fmt, FILE *out);

/* Several folded inputs (n >= 1) merged into one graph. */
int bts_render_folded_many(const struct bts_render_input *in, size_t n,
                           const struct bts_render_opts *o, enum bts_render_format fmt, FILE *out);

/* Differential graph of two plain folded inputs: widths from AFTER, red
 * where a frame's self count grew, blue where it shrank. */
int bts_render_diff(const struct bts_render_input *before, const struct bts_render_input *after,
                    const struct bts_render_opts *o, enum bts_render_format fmt, FILE *out);

/* A finished tree (bts_calltree_finish) to a graph; -ENODATA when its total
 * is 0. o->reverse, o->strict and o->diag only apply to folded input. */
int bts_render_tree(const struct bts_calltree *t, const struct bts_render_opts *o,
                    enum bts_render_format fmt, FILE *out);
