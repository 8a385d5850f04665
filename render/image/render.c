/* SPDX-License-Identifier: MIT */
/* render: a flame graph in the picture format asked for: SVG from
 * render/draw, PNG and PDF through cairo. */
#include "render.h"

#include "image-private.h"
#include "svg.h"

#include <errno.h>

int bts_render_format_from(enum bts_format f, enum bts_render_format *out)
{
    switch (f) {
    case BTS_FORMAT_SVG:
        *out = BTS_RENDER_SVG;
        return 0;
    case BTS_FORMAT_PNG:
        *out = BTS_RENDER_PNG;
        return 0;
    case BTS_FORMAT_PDF:
        *out = BTS_RENDER_PDF;
        return 0;
    default:
        return -EINVAL;
    }
}

int bts_render_format_parse(const char *s, bool by_extension, enum bts_render_format *out)
{
    return bts_render_format_from(by_extension ? bts_format_from_path(s) : bts_format_from_name(s),
                                  out);
}

static bts_flamegraph_writer writer(enum bts_render_format fmt)
{
    switch (fmt) {
    case BTS_RENDER_SVG:
        return bts_svg_write;
    case BTS_RENDER_PNG:
        return image_write_png;
    case BTS_RENDER_PDF:
        return image_write_pdf;
    }
    return NULL;
}

int bts_render_tree(const struct bts_calltree *t, const struct bts_render_opts *o,
                    enum bts_render_format fmt, FILE *out)
{
    bts_flamegraph_writer write = writer(fmt);
    return write ? bts_flamegraph_tree(t, o, write, out) : -EINVAL;
}

int bts_render_folded(FILE *in, const char *in_name, const struct bts_render_opts *o,
                      enum bts_render_format fmt, FILE *out)
{
    struct bts_render_input input = {in, in_name};
    return bts_render_folded_many(&input, 1, o, fmt, out);
}

int bts_render_folded_many(const struct bts_render_input *in, size_t n,
                           const struct bts_render_opts *o, enum bts_render_format fmt, FILE *out)
{
    bts_flamegraph_writer write = writer(fmt);
    return write ? bts_flamegraph_folded(in, n, NULL, o, write, out) : -EINVAL;
}

int bts_render_diff(const struct bts_render_input *before, const struct bts_render_input *after,
                    const struct bts_render_opts *o, enum bts_render_format fmt, FILE *out)
{
    struct bts_render_input in[2] = {*before, *after};
    unsigned cols[2] = {0, BTS_CALLTREE_TO_COLUMN1};
    bts_flamegraph_writer write = writer(fmt);
    return write ? bts_flamegraph_folded(in, 2, cols, o, write, out) : -EINVAL;
}
