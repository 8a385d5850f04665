/* SPDX-License-Identifier: MIT */
/* interop-fixture-private: folded text <-> call tree, shared by the interop suites. */
#pragma once

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calltree.h"
#include "format.h"
#include "report.h"

/* A finished tree of the folded lines in `text`. */
static inline struct bts_calltree *tree_of(const char *text)
{
    struct bts_calltree *t = bts_calltree_new();
    FILE *in = fmemopen((void *)text, strlen(text), "r");

    ck_assert_ptr_nonnull(t);
    ck_assert_ptr_nonnull(in);
    ck_assert_int_eq(
        bts_calltree_add_folded(t, in, "in.folded", BTS_CALLTREE_STRICT, NULL, NULL, NULL), 0);
    fclose(in);
    ck_assert_int_eq(bts_calltree_finish(t), 0);
    return t;
}

/* The folded lines of a finished tree, sorted as `LC_ALL=C sort` sorts
 * them. The caller frees. */
static inline int cmp_lines(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static inline char *folded_of(const struct bts_calltree *t)
{
    char *buf = NULL, *out, **lines;
    size_t len = 0, n = 0;
    FILE *o = open_memstream(&buf, &len);

    ck_assert_ptr_nonnull(o);
    ck_assert_int_eq(bts_calltree_write_folded(t, o), 0);
    fclose(o);
    lines = calloc(len + 1, sizeof(*lines));
    out = calloc(len + 1, 1);
    ck_assert_ptr_nonnull(lines);
    ck_assert_ptr_nonnull(out);
    for (char *save = NULL, *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
        lines[n++] = l;
    qsort(lines, n, sizeof(*lines), cmp_lines);
    for (size_t i = 0; i < n; i++) {
        strcat(out, lines[i]);
        strcat(out, "\n");
    }
    free(lines);
    free(buf);
    return out;
}

/* Sorts the lines of a folded text the same way, for comparisons. */
static inline char *sorted_lines(const char *text)
{
    struct bts_calltree *t = tree_of(text);
    char *s = folded_of(t);

    bts_calltree_free(t);
    return s;
}
