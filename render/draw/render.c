/* SPDX-License-Identifier: MIT */
/* render: folded inputs -> call tree -> layout -> SVG/PNG/PDF. */
#include "render.h"
#include "render-private.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

int bts_render_format_parse(const char *s, bool by_extension, enum bts_render_format *out)
{
    static const struct {
        const char *name;
        enum bts_render_format fmt;
    } formats[] = {{"svg", BTS_RENDER_SVG}, {"png", BTS_RENDER_PNG}, {"pdf", BTS_RENDER_PDF}};

    if (by_extension) {
        const char *dot = strrchr(s, '.');
        const char *slash = strrchr(s, '/');
        if (!dot || (slash && slash > dot))
            return -EINVAL;
        s = dot + 1;
    }
    for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
        if (!strcasecmp(s, formats[i].name)) {
            *out = formats[i].fmt;
            return 0;
        }
    }
    return -EINVAL;
}

int bts_render_tree(const struct bts_calltree *t, const struct bts_render_opts *o,
                    enum bts_render_format fmt, FILE *out)
{
    struct layout l;
    int err = layout_build(&l, t, o);

    if (err)
        return err;
    if (fmt == BTS_RENDER_SVG)
        err = svg_write(&l, out);
    else
        err = cairo_write(&l, fmt, out);
    layout_free(&l);
    return err;
}

static int load_and_render(const struct bts_render_input *in, size_t n,
                           const unsigned *column_flags, const struct bts_render_opts *o,
                           enum bts_render_format fmt, FILE *out)
{
    struct bts_calltree *t = bts_calltree_new();
    unsigned flags =
        (o->reverse ? BTS_CALLTREE_REVERSE : 0) | (o->strict ? BTS_CALLTREE_STRICT : 0);
    int err;

    if (!t)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        uint64_t stacks = 0;
        err = bts_calltree_add_folded(t, in[i].file, in[i].name,
                                      flags | (column_flags ? column_flags[i] : 0), o->diag,
                                      o->diag_ctx, &stacks);
        if (err)
            goto out;
        if (stacks == 0) {
            if (o->diag)
                o->diag(o->diag_ctx, in[i].name, 0, "no stacks");
            err = -ENODATA;
            goto out;
        }
    }
    err = bts_calltree_finish(t);
    if (err)
        goto out;
    err = bts_render_tree(t, o, fmt, out);
    if (err == -ENODATA && o->diag) /* stacks, but every count is 0 */
        o->diag(o->diag_ctx, in[n - 1].name, 0, "no samples");
out:
    bts_calltree_free(t);
    return err;
}

int bts_render_folded(FILE *in, const char *in_name, const struct bts_render_opts *o,
                      enum bts_render_format fmt, FILE *out)
{
    struct bts_render_input input = {in, in_name};
    return load_and_render(&input, 1, NULL, o, fmt, out);
}

int bts_render_folded_many(const struct bts_render_input *in, size_t n,
                           const struct bts_render_opts *o, enum bts_render_format fmt, FILE *out)
{
    if (n == 0)
        return -EINVAL;
    return load_and_render(in, n, NULL, o, fmt, out);
}

int bts_render_diff(const struct bts_render_input *before, const struct bts_render_input *after,
                    const struct bts_render_opts *o, enum bts_render_format fmt, FILE *out)
{
    struct bts_render_input in[2] = {*before, *after};
    unsigned cols[2] = {0, BTS_CALLTREE_TO_COLUMN1};
    return load_and_render(in, 2, cols, o, fmt, out);
}
