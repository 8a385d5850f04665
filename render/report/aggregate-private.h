/* SPDX-License-Identifier: MIT */
/* aggregate: per-function self and total counts of stacks, the one
 * aggregator behind report, compare and the top view. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "calltree.h"

/* Counts carried per stack: one column (report), two sides (compare), or
 * the refresh window and the run since the reset (top). */
#define BTS_AGGREGATE_COLUMNS 2

/* One function (key). self counts the stacks whose leaf it is; total the
 * stacks it is on, once per stack even when it recurses. */
struct bts_aggregate_fn {
    uint64_t self[BTS_AGGREGATE_COLUMNS];
    uint64_t total[BTS_AGGREGATE_COLUMNS];
    size_t depth; /* shallowest place on a stack it was seen at; SIZE_MAX: never */
};

struct bts_aggregate {
    struct bts_aggregate_fn *fns; /* indexed by key */
    size_t nkeys;
    size_t *stamp; /* per key: the last stack that counted it in total */
    size_t stacks; /* stacks added so far */
};

/* Keys are dense ids in [0, nkeys). 0 or -ENOMEM; bts_aggregate_free()
 * either way (a zeroed struct is a no-op). */
int bts_aggregate_init(struct bts_aggregate *a, size_t nkeys);
void bts_aggregate_free(struct bts_aggregate *a);

/* Adds one stack: keys[0..n) root first, leaf last, at depth first_depth
 * and on; counts[c] of each column. An empty stack counts nowhere. */
void bts_aggregate_stack(struct bts_aggregate *a, const uint32_t *keys, size_t n,
                         size_t first_depth, const uint64_t counts[BTS_AGGREGATE_COLUMNS]);

/* Adds every stack of a finished tree, keyed by name id (nkeys:
 * bts_calltree_name_count), columns 0 and 1; leading thread and process
 * frames are not functions and are left out (depths still count them).
 * grand[c] receives all counts of column c, stacks without functions
 * included. 0 or -ENOMEM. */
int bts_aggregate_calltree(struct bts_aggregate *a, const struct bts_calltree *t,
                           uint64_t grand[BTS_AGGREGATE_COLUMNS]);
