/* SPDX-License-Identifier: MIT */
/* flamegraph: folded inputs -> call tree -> layout -> a back end. */
#include "flamegraph.h"

#include <errno.h>

int bts_flamegraph_tree(const struct bts_calltree *t, const struct bts_render_opts *o,
                        bts_flamegraph_writer write, FILE *out)
{
    struct bts_layout l;
    int err = bts_layout_build(&l, t, o);

    if (err)
        return err;
    err = write(&l, out);
    bts_layout_free(&l);
    return err;
}

int bts_flamegraph_folded(const struct bts_render_input *in, size_t n, const unsigned *column_flags,
                          const struct bts_render_opts *o, bts_flamegraph_writer write, FILE *out)
{
    struct bts_calltree *t = bts_calltree_new();
    unsigned flags =
        (o->reverse ? BTS_CALLTREE_REVERSE : 0) | (o->strict ? BTS_CALLTREE_STRICT : 0);
    int err = -ENOMEM;

    if (n == 0) {
        err = -EINVAL;
        goto out;
    }
    if (!t)
        goto out;
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
    err = bts_flamegraph_tree(t, o, write, out);
    if (err == -ENODATA && o->diag) /* stacks, but every count is 0 */
        o->diag(o->diag_ctx, in[n - 1].name, 0, "no samples");
out:
    bts_calltree_free(t);
    return err;
}
