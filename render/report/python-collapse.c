/* SPDX-License-Identifier: MIT */
/* python-collapse: native frames folded into their Python caller. */
#include "python-collapse.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The sampler's marker of a partial merge (BTS_MERGE_TORN_TEXT there). */
#define TORN "[python frames torn]"

static bool ends_with(const char *s, size_t len, const char *suffix)
{
    size_t n = strlen(suffix);
    return len >= n && memcmp(s + len - n, suffix, n) == 0;
}

bool bts_python_frame_name(const char *name, size_t len)
{
    const char *open;
    size_t path_len;
    /* "qualname (path[:line])": the last " (" opens the location */
    if (len < 5 || name[len - 1] != ')')
        return false;
    open = NULL;
    for (size_t i = len - 1; i-- > 1;) {
        if (name[i] == '(' && name[i - 1] == ' ') {
            open = name + i + 1;
            break;
        }
    }
    if (!open)
        return false;
    path_len = (size_t)(name + len - 1 - open);
    /* drop ":line" when the rest is digits */
    for (size_t i = path_len; i-- > 0;) {
        if (open[i] == ':') {
            bool digits = i + 1 < path_len;
            for (size_t j = i + 1; j < path_len; j++)
                digits &= open[j] >= '0' && open[j] <= '9';
            if (digits)
                path_len = i;
            break;
        }
        if (open[i] < '0' || open[i] > '9')
            break;
    }
    if (path_len >= 2 && open[0] == '<' && open[path_len - 1] == '>')
        return true;
    return ends_with(open, path_len, ".py") || ends_with(open, path_len, ".pyw") ||
           ends_with(open, path_len, ".pyx");
}

struct bts_calltree *bts_calltree_collapse_native(const struct bts_calltree *t)
{
    struct bts_calltree *out = bts_calltree_new();
    struct bts_calltree_walk w = {0};
    const char **names = NULL;
    size_t *lens = NULL;
    size_t cap = 0;
    int err = -ENOMEM;
    unsigned ncounts = bts_calltree_is_differential(t) ? BTS_CALLTREE_COLUMNS : 1;
    bts_calltree_node node;

    if (!out || bts_calltree_walk_init(&w, t) < 0)
        goto out;
    while ((node = bts_calltree_walk_next(&w, t)) != BTS_CALLTREE_ROOT) {
        uint64_t count[BTS_CALLTREE_COLUMNS];
        size_t depth = w.sp - 1, cut = depth;
        for (unsigned c = 0; c < BTS_CALLTREE_COLUMNS; c++)
            count[c] = bts_calltree_self(t, node, c);
        if (!count[0] && !count[1])
            continue;
        if (depth > cap) {
            size_t ncap = depth * 2;
            const char **nn = realloc(names, ncap * sizeof(*nn));
            if (!nn)
                goto out;
            names = nn;
            size_t *nl = realloc(lens, ncap * sizeof(*nl));
            if (!nl)
                goto out;
            lens = nl;
            cap = ncap;
        }
        for (size_t i = 0; i < depth; i++)
            names[i] = bts_calltree_name(t, w.path[i + 1], &lens[i]);
        /* path[sp - 1] is the node itself: the stack is path[1..sp) */
        /* A partial merge's "[python frames torn]" under Python callers
         * stands for Python frames: what runs under it is theirs. (At the
         * root it marks a fully torn sample, kept native.) */
        for (size_t i = depth; i-- > 0;) {
            if (bts_python_frame_name(names[i], lens[i]) ||
                (i > 0 && lens[i] == sizeof(TORN) - 1 && memcmp(names[i], TORN, lens[i]) == 0)) {
                cut = i + 1;
                break;
            }
        }
        err = bts_calltree_add_frames(out, names, lens, cut, count, ncounts, 0);
        if (err < 0)
            goto out;
    }
    err = bts_calltree_finish(out);
out:
    bts_calltree_walk_free(&w);
    free(names);
    free(lens);
    if (err < 0) {
        bts_calltree_free(out);
        errno = -err;
        return NULL;
    }
    return out;
}
