/* SPDX-License-Identifier: MIT */
/* stack-table: aggregation of sampled stacks. Stacks are interned by their pc
 * list (plus an optional root label such as "thread NAME (TID)"), so memory
 * grows with unique stacks, not samples, and names are resolved once per
 * unique stack when written. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct bts_stack_table;

/* NULL + errno (ENOMEM). */
struct bts_stack_table *bts_stack_table_new(void);
void bts_stack_table_free(struct bts_stack_table *t);

/* Adds `count` samples of the stack `pcs[0..n)` (leaf first) under the
 * optional root label `root` (copied and interned; NULL for none).
 * Returns 1 when the stack was new, 0 when it was already known, -errno on
 * error (-EINVAL when n is 0). */
int bts_stack_table_add(struct bts_stack_table *t, const char *root, const uint64_t *pcs, size_t n,
                        uint64_t count);

/* Gives the stacks under root label `from` the label `to` (copied), e.g.
 * once a thread's name is known: "thread python3 (12)" becomes "thread
 * MainThread (12)". Stacks that then read the same are merged when
 * written. 0 (also when no stack has `from`), or -errno (-ENOMEM). */
int bts_stack_table_rename_root(struct bts_stack_table *t, const char *from, const char *to);

/* Number of unique stacks and total samples held. */
size_t bts_stack_table_unique(const struct bts_stack_table *t);
uint64_t bts_stack_table_total(const struct bts_stack_table *t);

/* Bytes held by the table (its arrays and interned data), for tests and
 * status lines. */
size_t bts_stack_table_memory(const struct bts_stack_table *t);

/* Names a frame: `is_return_address` is false for the leaf only. The string
 * must stay valid until the next call. NULL leaves the frame out (e.g. the
 * libc start-up frames above main). */
typedef const char *(*bts_stack_table_namer)(void *ctx, uint64_t pc, bool is_return_address);

/* Calls `visit` for every unique stack (order unspecified). `visit` returns
 * 0 to go on or -errno to stop (returned). */
typedef int (*bts_stack_table_visitor)(void *ctx, const char *root, const uint64_t *pcs, size_t n,
                                       uint64_t count);
int bts_stack_table_foreach(const struct bts_stack_table *t, bts_stack_table_visitor visit,
                            void *ctx);

/* Writes folded lines "root;..;leaf COUNT\n", root first, with frames named
 * by `namer`. ';' in names becomes ':' and newlines become spaces. Stacks
 * whose names coincide are merged; lines are sorted bytewise. 0 or -errno. */
int bts_stack_table_write_folded(const struct bts_stack_table *t, bts_stack_table_namer namer,
                                 void *ctx, FILE *out);
