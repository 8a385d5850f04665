/* SPDX-License-Identifier: MIT */
/* check-calltree: merging stacks into a tree with self and total counts. */
#define _GNU_SOURCE
#include "calltree.h"

#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int add(struct bts_calltree *t, const char *stack, uint64_t count, unsigned flags)
{
    uint64_t c[1] = {count};
    return bts_calltree_add_stack(t, stack, strlen(stack), c, 1, flags);
}

/* The child of n named `name`, or UINT32_MAX. */
static bts_calltree_node child(const struct bts_calltree *t, bts_calltree_node n, const char *name)
{
    const bts_calltree_node *kids;
    size_t k = bts_calltree_children(t, n, &kids);
    for (size_t i = 0; i < k; i++)
        if (!strcmp(bts_calltree_name(t, kids[i], NULL), name))
            return kids[i];
    return UINT32_MAX;
}

/* Node at a ';' path from the root. */
static bts_calltree_node at(const struct bts_calltree *t, const char *path)
{
    char *copy = strdup(path), *save = NULL;
    bts_calltree_node n = BTS_CALLTREE_ROOT;
    for (char *f = strtok_r(copy, ";", &save); f && n != UINT32_MAX; f = strtok_r(NULL, ";", &save))
        n = child(t, n, f);
    free(copy);
    ck_assert_msg(n != UINT32_MAX, "no node at %s", path);
    return n;
}

/* The tree as text: "name self total" per node, depth-first, children in
 * their sorted order, indented by depth. */
static void dump(const struct bts_calltree *t, bts_calltree_node n, unsigned column, FILE *o)
{
    const bts_calltree_node *kids;
    size_t k = bts_calltree_children(t, n, &kids);
    if (n != BTS_CALLTREE_ROOT)
        fprintf(o, "%*s%s %llu %llu\n", (int)bts_calltree_depth(t, n) - 1, "",
                bts_calltree_name(t, n, NULL), (unsigned long long)bts_calltree_self(t, n, column),
                (unsigned long long)bts_calltree_total(t, n, column));
    for (size_t i = 0; i < k; i++)
        dump(t, kids[i], column, o);
}

static char *dump_str(const struct bts_calltree *t, unsigned column)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *o = open_memstream(&buf, &len);
    dump(t, BTS_CALLTREE_ROOT, column, o);
    fclose(o);
    return buf;
}

START_TEST(test_tree_merges_shared_prefixes)
{
    struct bts_calltree *t = bts_calltree_new();
    ck_assert_int_eq(add(t, "main;a;b", 5, 0), 0);
    ck_assert_int_eq(add(t, "main;a", 2, 0), 0);
    ck_assert_int_eq(add(t, "main;c", 3, 0), 0);
    ck_assert_int_eq(add(t, "main;a;b", 1, 0), 0);
    ck_assert_int_eq(bts_calltree_finish(t), 0);
    ck_assert_uint_eq(bts_calltree_node_count(t), 5);
    ck_assert_uint_eq(bts_calltree_total(t, BTS_CALLTREE_ROOT, 0), 11);
    ck_assert_uint_eq(bts_calltree_total(t, at(t, "main"), 0), 11);
    ck_assert_uint_eq(bts_calltree_self(t, at(t, "main"), 0), 0);
    ck_assert_uint_eq(bts_calltree_total(t, at(t, "main;a"), 0), 8);
    ck_assert_uint_eq(bts_calltree_self(t, at(t, "main;a"), 0), 2);
    ck_assert_uint_eq(bts_calltree_self(t, at(t, "main;a;b"), 0), 6);
    ck_assert_uint_eq(bts_calltree_depth(t, at(t, "main;a;b")), 3);
    ck_assert_uint_eq(bts_calltree_max_depth(t), 3);
    ck_assert_uint_eq(bts_calltree_parent(t, at(t, "main;a;b")), at(t, "main;a"));
    bts_calltree_free(t);
    bts_calltree_free(NULL);
}
END_TEST

START_TEST(test_empty_stack_counts_at_the_root_only)
{
    struct bts_calltree *t = bts_calltree_new();
    ck_assert_int_eq(add(t, "main;a", 3, 0), 0);
    ck_assert_int_eq(add(t, "", 2, 0), 0);
    ck_assert_int_eq(add(t, "", 1, BTS_CALLTREE_REVERSE), 0);
    ck_assert_int_eq(bts_calltree_finish(t), 0);
    ck_assert_uint_eq(bts_calltree_node_count(t), 3); /* no empty-named frame */
    ck_assert_uint_eq(bts_calltree_self(t, BTS_CALLTREE_ROOT, 0), 3);
    ck_assert_uint_eq(bts_calltree_total(t, BTS_CALLTREE_ROOT, 0), 6);
    ck_assert_uint_eq(bts_calltree_total(t, at(t, "main"), 0), 3);
    bts_calltree_free(t);
}
END_TEST

START_TEST(test_children_are_sorted_by_name_bytes)
{
    struct bts_calltree *t = bts_calltree_new();
    add(t, "r;zeta", 1, 0);
    add(t, "r;Alpha", 1, 0);
    add(t, "r;beta", 1, 0);
    add(t, "r;\xc3\xa9t\xc3\xa9", 1, 0);
    add(t, "r;alpha", 1, 0);
    ck_assert_int_eq(bts_calltree_finish(t), 0);
    char *s = dump_str(t, 0);
    ck_assert_str_eq(s, "r 0 5\n Alpha 1 1\n alpha 1 1\n beta 1 1\n zeta 1 1\n"
                        " \xc3\xa9t\xc3\xa9 1 1\n");
    free(s);
    bts_calltree_free(t);
}
END_TEST

START_TEST(test_names_are_interned_once)
{
    struct bts_calltree *t = bts_calltree_new();
    add(t, "main;f;g;f", 1, 0);
    add(t, "main;g;f", 1, 0);
    ck_assert_int_eq(bts_calltree_finish(t), 0);
    /* "", main, f, g */
    ck_assert_uint_eq(bts_calltree_name_count(t), 4);
    ck_assert_uint_eq(bts_calltree_name_id(t, at(t, "main;f")),
                      bts_calltree_name_id(t, at(t, "main;g;f")));
    size_t len;
    const char *n = bts_calltree_name_by_id(t, bts_calltree_name_id(t, at(t, "main")), &len);
    ck_assert_uint_eq(len, 4);
    ck_assert_str_eq(n, "main");
    bts_calltree_free(t);
}
END_TEST

START_TEST(test_reverse_flag_reads_leaf_first)
{
    struct bts_calltree *t = bts_calltree_new();
    add(t, "c;b;main", 4, BTS_CALLTREE_REVERSE);
    add(t, "d;main", 1, BTS_CALLTREE_REVERSE);
    ck_assert_int_eq(bts_calltree_finish(t), 0);
    char *s = dump_str(t, 0);
    ck_assert_str_eq(s, "main 0 5\n b 0 4\n  c 4 4\n d 1 1\n");
    free(s);
    bts_calltree_free(t);
}
END_TEST

START_TEST(test_empty_frames_and_repeated_stacks_are_kept_apart)
{
    struct bts_calltree *t = bts_calltree_new();
    /* Same bytes up to a point, different frame boundaries. */
    add(t, "a;bc", 1, 0);
    add(t, "a;b;c", 2, 0);
    add(t, "a;b", 4, 0);
    add(t, "a;;b", 8, 0);
    add(t, "a;bc", 16, 0);
    add(t, "a;b;c", 32, 0);
    ck_assert_int_eq(bts_calltree_finish(t), 0);
    char *s = dump_str(t, 0);
    ck_assert_str_eq(s, "a 0 63\n  0 8\n  b 8 8\n b 4 38\n  c 34 34\n bc 17 17\n");
    free(s);
    bts_calltree_free(t);
}
END_TEST

/* Random stacks through add_stack (with its caches) and add_frames (none)
 * must give the same tree. */
START_TEST(test_cached_paths_match_frame_by_frame_adds)
{
    static const char *const names[] = {"a", "b", "ab", "c", "main", "x;y"};
    struct bts_calltree *t1 = bts_calltree_new(), *t2 = bts_calltree_new();
    unsigned seed = 12345;
    for (int line = 0; line < 20000; line++) {
        const char *frames[12];
        size_t lens[12], n = 1 + (size_t)(rand_r(&seed) % 12), len = 0;
        char buf[256];
        for (size_t i = 0; i < n; i++) {
            /* "x;y" only through add_frames would differ: keep to 5 names */
            frames[i] = names[rand_r(&seed) % 5];
            lens[i] = strlen(frames[i]);
            len += (size_t)sprintf(buf + len, "%s%s", i ? ";" : "", frames[i]);
        }
        uint64_t c[1] = {1 + (uint64_t)(rand_r(&seed) % 9)};
        ck_assert_int_eq(bts_calltree_add_stack(t1, buf, len, c, 1, 0), 0);
        ck_assert_int_eq(bts_calltree_add_frames(t2, frames, lens, n, c, 1, 0), 0);
        if (line == 10000) {
            /* finish in the middle, then keep adding */
            ck_assert_int_eq(bts_calltree_finish(t1), 0);
        }
    }
    ck_assert_int_eq(bts_calltree_finish(t1), 0);
    ck_assert_int_eq(bts_calltree_finish(t2), 0);
    char *s1 = dump_str(t1, 0), *s2 = dump_str(t2, 0);
    ck_assert_str_eq(s1, s2);
    ck_assert_uint_eq(bts_calltree_node_count(t1), bts_calltree_node_count(t2));
    free(s1);
    free(s2);
    bts_calltree_free(t1);
    bts_calltree_free(t2);
}
END_TEST

START_TEST(test_two_columns_hold_before_and_after)
{
    struct bts_calltree *t = bts_calltree_new();
    uint64_t both[2] = {3, 7};
    ck_assert(!bts_calltree_is_differential(t));
    ck_assert_int_eq(bts_calltree_add_stack(t, "m;f", 3, both, 2, 0), 0);
    ck_assert(bts_calltree_is_differential(t));
    add(t, "m;g", 5, 0);
    add(t, "m;g", 6, BTS_CALLTREE_TO_COLUMN1);
    ck_assert_int_eq(bts_calltree_finish(t), 0);
    ck_assert_uint_eq(bts_calltree_total(t, at(t, "m"), 0), 8);
    ck_assert_uint_eq(bts_calltree_total(t, at(t, "m"), 1), 13);
    ck_assert_uint_eq(bts_calltree_self(t, at(t, "m;g"), 0), 5);
    ck_assert_uint_eq(bts_calltree_self(t, at(t, "m;g"), 1), 6);
    bts_calltree_free(t);
}
END_TEST

START_TEST(test_count_overflow_is_an_error)
{
    struct bts_calltree *t = bts_calltree_new();
    ck_assert_int_eq(add(t, "a", UINT64_MAX, 0), 0);
    ck_assert_int_eq(add(t, "a", 1, 0), -EOVERFLOW);
    bts_calltree_free(t);
}
END_TEST

/* Found by fuzz-folded: two stacks whose counts sum past UINT64_MAX made the
 * root's total saturate below its children's sum. */
START_TEST(test_count_overflow_across_stacks_is_an_error)
{
    struct bts_calltree *t = bts_calltree_new();
    ck_assert_int_eq(add(t, "a;b", UINT64_MAX, 0), 0);
    ck_assert_int_eq(add(t, "c", 1, 0), -EOVERFLOW);
    ck_assert_int_eq(bts_calltree_finish(t), 0);
    ck_assert_uint_eq(bts_calltree_total(t, BTS_CALLTREE_ROOT, 0), UINT64_MAX);
    bts_calltree_free(t);
}
END_TEST

static void ignore(void *ctx, const char *f, uint64_t l, const char *r)
{
    (void)f;
    (void)l;
    (void)r;
    ++*(int *)ctx;
}

START_TEST(test_add_folded_streams_a_file)
{
    static const char text[] = "main;a 2\nbroken\nmain;b 1 \r\n";
    FILE *in = fmemopen((void *)text, sizeof(text) - 1, "r");
    struct bts_calltree *t = bts_calltree_new();
    uint64_t n = 0;
    int bad = 0;
    ck_assert_int_eq(bts_calltree_add_folded(t, in, "x", 0, ignore, &bad, &n), 0);
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(bad, 1);
    rewind(in);
    ck_assert_int_eq(bts_calltree_add_folded(t, in, "x", BTS_CALLTREE_STRICT, ignore, &bad, &n),
                     -EBADMSG);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(bts_calltree_finish(t), 0);
    ck_assert_uint_eq(bts_calltree_total(t, BTS_CALLTREE_ROOT, 0), 5);
    bts_calltree_free(t);
    fclose(in);
}
END_TEST

Suite *bts_calltree_suite(void)
{
    Suite *s = suite_create("calltree");
    TCase *merge = tcase_create("merge");
    tcase_add_test(merge, test_tree_merges_shared_prefixes);
    tcase_add_test(merge, test_children_are_sorted_by_name_bytes);
    tcase_add_test(merge, test_empty_stack_counts_at_the_root_only);
    tcase_add_test(merge, test_names_are_interned_once);
    tcase_add_test(merge, test_reverse_flag_reads_leaf_first);
    tcase_add_test(merge, test_empty_frames_and_repeated_stacks_are_kept_apart);
    tcase_add_test(merge, test_cached_paths_match_frame_by_frame_adds);
    tcase_add_test(merge, test_add_folded_streams_a_file);
    suite_add_tcase(s, merge);
    TCase *counts = tcase_create("counts");
    tcase_add_test(counts, test_two_columns_hold_before_and_after);
    tcase_add_test(counts, test_count_overflow_is_an_error);
    tcase_add_test(counts, test_count_overflow_across_stacks_is_an_error);
    suite_add_tcase(s, counts);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(bts_calltree_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
