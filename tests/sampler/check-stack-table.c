/* SPDX-License-Identifier: MIT */
/* check-stack-table: interning, counts, memory and folded output. */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stack-table.h"

/* Names pc N "fN", with a few special pcs for sanitising and merging. */
static const char *test_namer(void *ctx, uint64_t pc, bool is_return_address)
{
    static char buf[64];
    (void)ctx;
    (void)is_return_address;
    if (pc == 1000)
        return "ns::f<a;b>";
    if (pc == 1001)
        return "line\nbreak";
    if (pc == 1002 || pc == 1003)
        return "same";
    if (pc == 1004)
        return NULL;
    snprintf(buf, sizeof(buf), "f%llu", (unsigned long long)pc);
    return buf;
}

static char *folded(struct bts_stack_table *t)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(bts_stack_table_write_folded(t, test_namer, NULL, f), 0);
    fclose(f);
    return text;
}

START_TEST(test_stack_table_interns_identical_stacks)
{
    struct bts_stack_table *t = bts_stack_table_new();
    uint64_t pcs[] = {3, 2, 1};
    ck_assert_int_eq(bts_stack_table_add(t, NULL, pcs, 3, 1), 1);
    ck_assert_int_eq(bts_stack_table_add(t, NULL, pcs, 3, 2), 0);
    ck_assert_uint_eq(bts_stack_table_unique(t), 1);
    ck_assert_uint_eq(bts_stack_table_total(t), 3);
    bts_stack_table_free(t);
}
END_TEST

START_TEST(test_stack_table_keeps_prefixes_and_roots_apart)
{
    struct bts_stack_table *t = bts_stack_table_new();
    uint64_t pcs[] = {3, 2, 1};
    ck_assert_int_eq(bts_stack_table_add(t, NULL, pcs, 3, 1), 1);
    ck_assert_int_eq(bts_stack_table_add(t, NULL, pcs + 1, 2, 1), 1);
    ck_assert_int_eq(bts_stack_table_add(t, "thread a (1)", pcs, 3, 1), 1);
    ck_assert_int_eq(bts_stack_table_add(t, "thread b (2)", pcs, 3, 1), 1);
    ck_assert_int_eq(bts_stack_table_add(t, "thread a (1)", pcs, 3, 1), 0);
    ck_assert_uint_eq(bts_stack_table_unique(t), 4);
    ck_assert_uint_eq(bts_stack_table_total(t), 5);
    bts_stack_table_free(t);
}
END_TEST

START_TEST(test_stack_table_rejects_empty_stack)
{
    struct bts_stack_table *t = bts_stack_table_new();
    uint64_t pc = 1;
    ck_assert_int_eq(bts_stack_table_add(t, NULL, &pc, 0, 1), -EINVAL);
    ck_assert_uint_eq(bts_stack_table_unique(t), 0);
    bts_stack_table_free(t);
    bts_stack_table_free(NULL);
}
END_TEST

START_TEST(test_stack_table_counts_many_unique_stacks)
{
    struct bts_stack_table *t = bts_stack_table_new();
    for (uint64_t i = 0; i < 20000; i++) {
        uint64_t pcs[] = {i + 100, i % 7 + 10, 1};
        ck_assert_int_eq(bts_stack_table_add(t, i % 2 ? "thread x (9)" : NULL, pcs, 3, 1), 1);
    }
    for (uint64_t i = 0; i < 20000; i++) {
        uint64_t pcs[] = {i + 100, i % 7 + 10, 1};
        ck_assert_int_eq(bts_stack_table_add(t, i % 2 ? "thread x (9)" : NULL, pcs, 3, 1), 0);
    }
    ck_assert_uint_eq(bts_stack_table_unique(t), 20000);
    ck_assert_uint_eq(bts_stack_table_total(t), 40000);
    bts_stack_table_free(t);
}
END_TEST

START_TEST(test_stack_table_memory_does_not_grow_with_repeated_samples)
{
    struct bts_stack_table *t = bts_stack_table_new();
    uint64_t stacks[5][4] = {{4, 3, 2, 1}, {5, 3, 2, 1}, {6, 2, 1, 0}, {7, 1, 0, 0}, {8, 0, 0, 0}};
    for (int k = 0; k < 5; k++)
        bts_stack_table_add(t, "thread main (1)", stacks[k], 4, 1);
    size_t before = bts_stack_table_memory(t);
    ck_assert_uint_gt(before, 0);
    for (int i = 0; i < 100000; i++)
        ck_assert_int_eq(bts_stack_table_add(t, "thread main (1)", stacks[i % 5], 4, 1), 0);
    ck_assert_uint_eq(bts_stack_table_memory(t), before);
    ck_assert_uint_eq(bts_stack_table_total(t), 100005);
    bts_stack_table_free(t);
}
END_TEST

START_TEST(test_folded_output_is_root_first_and_sorted_bytewise)
{
    struct bts_stack_table *t = bts_stack_table_new();
    uint64_t s1[] = {3, 2, 1}, s2[] = {9, 1}, s3[] = {2, 1}, s4[] = {10, 1};
    bts_stack_table_add(t, NULL, s1, 3, 5);
    bts_stack_table_add(t, NULL, s2, 2, 2);
    bts_stack_table_add(t, NULL, s3, 2, 1);
    bts_stack_table_add(t, NULL, s4, 2, 7);
    char *text = folded(t);
    ck_assert_str_eq(text, "f1;f10 7\nf1;f2 1\nf1;f2;f3 5\nf1;f9 2\n");
    free(text);
    bts_stack_table_free(t);
}
END_TEST

START_TEST(test_folded_output_sanitises_separators_in_names)
{
    struct bts_stack_table *t = bts_stack_table_new();
    uint64_t pcs[] = {1001, 1000, 1};
    bts_stack_table_add(t, "thread a;b (3)", pcs, 3, 4);
    char *text = folded(t);
    ck_assert_str_eq(text, "thread a:b (3);f1;ns::f<a:b>;line break 4\n");
    free(text);
    bts_stack_table_free(t);
}
END_TEST

START_TEST(test_folded_output_merges_stacks_whose_names_coincide)
{
    struct bts_stack_table *t = bts_stack_table_new();
    uint64_t s1[] = {1002, 1}, s2[] = {1003, 1};
    bts_stack_table_add(t, NULL, s1, 2, 3);
    bts_stack_table_add(t, NULL, s2, 2, 4);
    ck_assert_uint_eq(bts_stack_table_unique(t), 2);
    char *text = folded(t);
    ck_assert_str_eq(text, "f1;same 7\n");
    free(text);
    bts_stack_table_free(t);
}
END_TEST

START_TEST(test_folded_output_puts_thread_root_frame_first)
{
    struct bts_stack_table *t = bts_stack_table_new();
    uint64_t pcs[] = {2, 1};
    bts_stack_table_add(t, "thread worker (42)", pcs, 2, 1);
    bts_stack_table_add(t, "thread main (41)", pcs, 2, 2);
    char *text = folded(t);
    ck_assert_str_eq(text, "thread main (41);f1;f2 2\nthread worker (42);f1;f2 1\n");
    free(text);
    bts_stack_table_free(t);
}
END_TEST

START_TEST(test_folded_output_leaves_out_frames_the_namer_drops)
{
    struct bts_stack_table *t = bts_stack_table_new();
    uint64_t pcs[] = {2, 1, 1004};
    bts_stack_table_add(t, NULL, pcs, 3, 1);
    char *text = folded(t);
    ck_assert_str_eq(text, "f1;f2 1\n");
    free(text);
    bts_stack_table_free(t);
}
END_TEST

static int count_visit(void *ctx, const char *root, const uint64_t *pcs, size_t n, uint64_t count)
{
    (void)root;
    (void)pcs;
    (void)n;
    *(uint64_t *)ctx += count;
    return 0;
}

START_TEST(test_foreach_visits_every_stack_once)
{
    struct bts_stack_table *t = bts_stack_table_new();
    uint64_t s1[] = {2, 1}, s2[] = {3, 1};
    bts_stack_table_add(t, NULL, s1, 2, 3);
    bts_stack_table_add(t, NULL, s2, 2, 4);
    uint64_t sum = 0;
    ck_assert_int_eq(bts_stack_table_foreach(t, count_visit, &sum), 0);
    ck_assert_uint_eq(sum, 7);
    bts_stack_table_free(t);
}
END_TEST

Suite *bts_stack_table_suite(void)
{
    Suite *s = suite_create("stack_table");
    TCase *tc = tcase_create("interning");
    tcase_add_test(tc, test_stack_table_interns_identical_stacks);
    tcase_add_test(tc, test_stack_table_keeps_prefixes_and_roots_apart);
    tcase_add_test(tc, test_stack_table_rejects_empty_stack);
    tcase_add_test(tc, test_stack_table_counts_many_unique_stacks);
    tcase_add_test(tc, test_foreach_visits_every_stack_once);
    suite_add_tcase(s, tc);
    tc = tcase_create("memory");
    tcase_add_test(tc, test_stack_table_memory_does_not_grow_with_repeated_samples);
    suite_add_tcase(s, tc);
    tc = tcase_create("folded");
    tcase_add_test(tc, test_folded_output_is_root_first_and_sorted_bytewise);
    tcase_add_test(tc, test_folded_output_sanitises_separators_in_names);
    tcase_add_test(tc, test_folded_output_merges_stacks_whose_names_coincide);
    tcase_add_test(tc, test_folded_output_puts_thread_root_frame_first);
    tcase_add_test(tc, test_folded_output_leaves_out_frames_the_namer_drops);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(bts_stack_table_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
