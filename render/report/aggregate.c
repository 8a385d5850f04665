/* SPDX-License-Identifier: MIT */
/* aggregate: per-function self and total counts of stacks, the one
 * aggregator behind report, compare and the top view. */
#include "aggregate-private.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "folded.h"

int bts_aggregate_init(struct bts_aggregate *a, size_t nkeys)
{
    memset(a, 0, sizeof(*a));
    a->fns = calloc(nkeys ? nkeys : 1, sizeof(*a->fns));
    a->stamp = calloc(nkeys ? nkeys : 1, sizeof(*a->stamp));
    if (!a->fns || !a->stamp)
        return -ENOMEM;
    a->nkeys = nkeys;
    for (size_t k = 0; k < nkeys; k++)
        a->fns[k].depth = SIZE_MAX;
    return 0;
}

void bts_aggregate_free(struct bts_aggregate *a)
{
    free(a->fns);
    free(a->stamp);
    memset(a, 0, sizeof(*a));
}

void bts_aggregate_stack(struct bts_aggregate *a, const uint32_t *keys, size_t n,
                         size_t first_depth, const uint64_t counts[BTS_AGGREGATE_COLUMNS])
{
    if (!n)
        return;
    a->stacks++; /* stamps start at 0, so the first stack is 1 */
    for (size_t i = 0; i < n; i++) {
        struct bts_aggregate_fn *f = &a->fns[keys[i]];
        if (first_depth + i < f->depth)
            f->depth = first_depth + i;
        /* A recursive function counts once per stack. */
        if (a->stamp[keys[i]] == a->stacks)
            continue;
        a->stamp[keys[i]] = a->stacks;
        for (int c = 0; c < BTS_AGGREGATE_COLUMNS; c++)
            f->total[c] += counts[c];
    }
    for (int c = 0; c < BTS_AGGREGATE_COLUMNS; c++)
        a->fns[keys[n - 1]].self[c] += counts[c];
}

int bts_aggregate_calltree(struct bts_aggregate *a, const struct bts_calltree *t,
                           uint64_t grand[BTS_AGGREGATE_COLUMNS])
{
    struct bts_calltree_walk w = {0};
    uint32_t *keys = NULL;
    size_t cap = 0;
    bts_calltree_node n;
    int err = -ENOMEM;

    for (int c = 0; c < BTS_AGGREGATE_COLUMNS; c++)
        grand[c] = bts_calltree_self(t, BTS_CALLTREE_ROOT, c); /* samples without frames */
    if (bts_calltree_walk_init(&w, t))
        goto out;
    /* Every node with a count of its own ends a stack: path[1..sp). */
    while ((n = bts_calltree_walk_next(&w, t)) != BTS_CALLTREE_ROOT) {
        uint64_t self[BTS_AGGREGATE_COLUMNS] = {bts_calltree_self(t, n, 0),
                                                bts_calltree_self(t, n, 1)};
        size_t first = 1, nkeys = 0;
        if (!self[0] && !self[1])
            continue;
        for (int c = 0; c < BTS_AGGREGATE_COLUMNS; c++)
            grand[c] += self[c];
        if (w.sp > cap) {
            uint32_t *k = realloc(keys, 2 * w.sp * sizeof(*k));
            if (!k)
                goto out;
            keys = k;
            cap = 2 * w.sp;
        }
        for (; first < w.sp; first++) {
            size_t len;
            const char *name = bts_calltree_name(t, w.path[first], &len);
            if (!bts_folded_is_context_frame(name, len))
                break;
        }
        for (size_t i = first; i < w.sp; i++)
            keys[nkeys++] = bts_calltree_name_id(t, w.path[i]);
        bts_aggregate_stack(a, keys, nkeys, first, self);
    }
    err = 0;
out:
    bts_calltree_walk_free(&w);
    free(keys);
    return err;
}
