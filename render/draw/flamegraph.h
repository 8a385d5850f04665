/* SPDX-License-Identifier: MIT */
/* flamegraph: folded inputs or a call tree, laid out and handed to a back
 * end: bts_svg_write here; PNG and PDF in render/image (render.h). */
#pragma once

#include <stddef.h>
#include <stdio.h>

#include "calltree.h"
#include "layout.h"
#include "options.h"

/* A back end: draws a built layout on `out` and flushes it (not closing
 * it). 0 or -errno; a write error as its -errno, -EIO when unknown. */
typedef int (*bts_flamegraph_writer)(const struct bts_layout *l, FILE *out);

/* The errors below: 0, -ENODATA when an input holds no stack or every count
 * is 0 (o->diag is then called with line 0 and reason "no stacks" or "no
 * samples" for that input, so print "REASON in 'NAME'"), -EBADMSG for a
 * malformed line under o->strict, -errno of a read error, -ENOMEM, or the
 * writer's error. */

/* A finished tree (bts_calltree_finish) to a graph; -ENODATA when its total
 * is 0. o->reverse, o->strict and o->diag only apply to folded input. */
int bts_flamegraph_tree(const struct bts_calltree *t, const struct bts_render_opts *o,
                        bts_flamegraph_writer write, FILE *out);

/* Folded inputs merged into one graph. column_flags (NULL: none) gives
 * each input's BTS_CALLTREE_* column flags: {0, BTS_CALLTREE_TO_COLUMN1}
 * makes a differential graph of BEFORE and AFTER. -EINVAL when n is 0. */
struct bts_render_input {
    FILE *file;
    const char *name;
};
int bts_flamegraph_folded(const struct bts_render_input *in, size_t n, const unsigned *column_flags,
                          const struct bts_render_opts *o, bts_flamegraph_writer write, FILE *out);
