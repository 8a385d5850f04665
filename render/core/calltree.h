/* SPDX-License-Identifier: MIT */
/* calltree: stacks merged into a tree of frames with self and total counts. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "folded.h"

/* Nodes are small integers; the root (an unnamed frame above every stack)
 * is BTS_CALLTREE_ROOT. Frame names are interned: each distinct name is
 * stored once and has a name id in [0, bts_calltree_name_count). */
typedef uint32_t bts_calltree_node;
#define BTS_CALLTREE_ROOT ((bts_calltree_node)0)

/* Every node carries two columns of counts. A plain profile uses column 0
 * only; a differential one holds "before" in column 0 and "after" in 1. */
#define BTS_CALLTREE_COLUMNS 2

/* bts_calltree_add_* flags. */
#define BTS_CALLTREE_REVERSE    0x1u /* frames are given leaf first (flamegraph.pl --reverse) */
#define BTS_CALLTREE_TO_COLUMN1 0x2u /* single counts go to column 1 (the AFTER of a diff) */
#define BTS_CALLTREE_STRICT     0x4u /* add_folded: stop at the first malformed line */

struct bts_calltree;

/* Returns NULL and sets errno (ENOMEM). */
struct bts_calltree *bts_calltree_new(void);
void bts_calltree_free(struct bts_calltree *t);

/* Adds one stack: `stack` is `len` bytes of root-first frames separated by
 * ';' (reversed with BTS_CALLTREE_REVERSE). count[0] goes to column 0 and
 * count[1] to column 1; with ncounts == 1 only count[0] is used (into
 * column 1 under BTS_CALLTREE_TO_COLUMN1). An empty stack (len 0) is a
 * sample without frames: it counts in the root's self and total only.
 * Returns 0, -ENOMEM or -EOVERFLOW
 * (more than 2^32-2 nodes or a count sum past UINT64_MAX). */
int bts_calltree_add_stack(struct bts_calltree *t, const char *stack, size_t len,
                           const uint64_t *count, unsigned ncounts, unsigned flags);

/* Adds frames given one by one (root first), e.g. from pprof or perf script. */
int bts_calltree_add_frames(struct bts_calltree *t, const char *const *names, const size_t *lens,
                            size_t n, const uint64_t *count, unsigned ncounts, unsigned flags);

/* Streams a whole folded input into the tree. Malformed lines go to diag
 * (may be NULL) and are skipped, or end the load with -EBADMSG under
 * BTS_CALLTREE_STRICT. *nstacks (may be NULL) receives the number of stack
 * lines read from this input. Returns 0, -EBADMSG, -ENOMEM, -errno of a read
 * error. Differential lines mark the tree as differential. */
int bts_calltree_add_folded(struct bts_calltree *t, FILE *in, const char *name, unsigned flags,
                            bts_folded_diag_fn diag, void *diag_ctx, uint64_t *nstacks);

/* A finished tree of one folded input (malformed lines skipped), for the
 * writers that take folded text. NULL + errno (ENOMEM, or the read error). */
struct bts_calltree *bts_calltree_from_folded(FILE *in, const char *name);

/* Computes totals, depths and children sorted by name bytes (the order
 * flamegraph.pl draws). Call after the last add and before any query below;
 * adding again requires another finish. Returns 0 or -ENOMEM. */
int bts_calltree_finish(struct bts_calltree *t);

/* True once a two-count line or a column-1 add was seen. */
bool bts_calltree_is_differential(const struct bts_calltree *t);

/* Queries (valid after bts_calltree_finish). */
size_t bts_calltree_node_count(const struct bts_calltree *t); /* including the root */
bts_calltree_node bts_calltree_parent(const struct bts_calltree *t, bts_calltree_node n);
uint32_t bts_calltree_depth(const struct bts_calltree *t, bts_calltree_node n); /* root: 0 */
uint32_t bts_calltree_max_depth(const struct bts_calltree *t);
/* Children sorted by name; returns their number and points *children at
 * them (owned by the tree). */
size_t bts_calltree_children(const struct bts_calltree *t, bts_calltree_node n,
                             const bts_calltree_node **children);
/* Raw name bytes (NUL-terminated; the root's is ""). *len may be NULL. */
const char *bts_calltree_name(const struct bts_calltree *t, bts_calltree_node n, size_t *len);
uint32_t bts_calltree_name_id(const struct bts_calltree *t, bts_calltree_node n);
size_t bts_calltree_name_count(const struct bts_calltree *t);
const char *bts_calltree_name_by_id(const struct bts_calltree *t, uint32_t id, size_t *len);
uint64_t bts_calltree_self(const struct bts_calltree *t, bts_calltree_node n, unsigned column);
uint64_t bts_calltree_total(const struct bts_calltree *t, bts_calltree_node n, unsigned column);

/* Writes every stack of a finished tree with a non-zero column-0 self count
 * (both columns for a differential tree) as folded lines, depth first with
 * children in name order. Returns 0 or -EIO. */
int bts_calltree_write_folded(const struct bts_calltree *t, FILE *out);

/* Pre-order walk of a finished tree (or of one node's subtree), children
 * in name order, keeping the path: path[1..sp) are the frames from the
 * start down to the node just returned (path[0] is the start, which the
 * walk does not return). */
struct bts_calltree_walk {
    bts_calltree_node *path;
    size_t *next;
    size_t sp;
};

/* From the root, or below `start`. 0 or -ENOMEM; free with
 * bts_calltree_walk_free() either way. */
int bts_calltree_walk_init(struct bts_calltree_walk *w, const struct bts_calltree *t);
int bts_calltree_walk_init_at(struct bts_calltree_walk *w, const struct bts_calltree *t,
                              bts_calltree_node start);
/* The next node, or BTS_CALLTREE_ROOT when the walk is done. */
bts_calltree_node bts_calltree_walk_next(struct bts_calltree_walk *w, const struct bts_calltree *t);
void bts_calltree_walk_free(struct bts_calltree_walk *w);
