/* SPDX-License-Identifier: MIT */
/* check-top-view: the table model of `bt-spy top`. */
#define _GNU_SOURCE
#include "top-view.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void update(struct bts_top_view *v, const char *folded)
{
    ck_assert_int_eq(bts_top_view_update(v, folded, strlen(folded)), 0);
}

static struct bts_top_table *table(struct bts_top_view *v, enum bts_top_group group,
                                   enum bts_top_sort sort, const char *thread, bool whole_run)
{
    struct bts_top_query q = {
        .group = group, .sort = sort, .thread = thread, .whole_run = whole_run};
    struct bts_top_table *t = bts_top_view_table(v, &q);

    ck_assert_ptr_nonnull(t);
    return t;
}

static struct bts_top_table *functions(struct bts_top_view *v)
{
    return table(v, BTS_TOP_GROUP_FUNCTION, BTS_TOP_SORT_TOTAL_PCT, NULL, false);
}

static const struct bts_top_row *row(const struct bts_top_table *t, const char *name)
{
    size_t i;

    for (i = 0; i < t->nrows; i++)
        if (!strcmp(t->rows[i].name, name))
            return &t->rows[i];
    ck_abort_msg("no row '%s'", name);
    return NULL;
}

static bool has_row(const struct bts_top_table *t, const char *name)
{
    size_t i;

    for (i = 0; i < t->nrows; i++)
        if (!strcmp(t->rows[i].name, name))
            return true;
    return false;
}

/* "own/total own/total" of the window and the cumulative counts. */
static void assert_counts(const struct bts_top_row *r, uint64_t own_w, uint64_t total_w,
                          uint64_t own_c, uint64_t total_c)
{
    ck_assert_uint_eq(r->own_window, own_w);
    ck_assert_uint_eq(r->total_window, total_w);
    ck_assert_uint_eq(r->own_cum, own_c);
    ck_assert_uint_eq(r->total_cum, total_c);
}

static size_t fn_len(const char *s)
{
    return bts_top_function_len(s, strlen(s));
}

START_TEST(test_function_name_drops_file_and_line_suffix)
{
    ck_assert_uint_eq(fn_len("bte_phase_history (backtest.c:135)"), strlen("bte_phase_history"));
    ck_assert_uint_eq(fn_len("f (:7)"), 1);
    ck_assert_uint_eq(fn_len("ns::f(int) const (a.cc:3)"), strlen("ns::f(int) const"));
}
END_TEST

START_TEST(test_function_name_keeps_names_without_a_line)
{
    static const char *const names[] = {
        "main",    "[unknown]", "libc.so.6+0x1234",         "ns::f(int)", "f(1:2)",
        "f (a.c)", "f (a.c:)",  "(anonymous namespace)::g", "f (a.c:1x)", "thread x (12)",
    };
    size_t i;

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        ck_assert_msg(fn_len(names[i]) == strlen(names[i]), "'%s' was cut", names[i]);
}
END_TEST

START_TEST(test_own_counts_leaf_and_total_counts_every_frame)
{
    struct bts_top_view *v = bts_top_view_new(false);
    struct bts_top_table *t;

    update(v, "main;a;b 3\nmain;a 2\nmain;c 5\n");
    t = functions(v);
    ck_assert_uint_eq(t->nrows, 4);
    ck_assert_uint_eq(t->window_samples, 10);
    ck_assert_uint_eq(t->cum_samples, 10);
    assert_counts(row(t, "main"), 0, 10, 0, 10);
    assert_counts(row(t, "a"), 2, 5, 2, 5);
    assert_counts(row(t, "b"), 3, 3, 3, 3);
    assert_counts(row(t, "c"), 5, 5, 5, 5);
    bts_top_table_free(t);
    bts_top_view_free(v);
}
END_TEST

START_TEST(test_recursive_function_counts_once_per_stack)
{
    struct bts_top_view *v = bts_top_view_new(false);
    struct bts_top_table *t;

    update(v, "main;f;g;f;f 4\nmain;f 1\n");
    t = functions(v);
    assert_counts(row(t, "f"), 5, 5, 5, 5);
    assert_counts(row(t, "g"), 0, 4, 0, 4);
    assert_counts(row(t, "main"), 0, 5, 0, 5);
    bts_top_table_free(t);
    bts_top_view_free(v);
}
END_TEST

START_TEST(test_window_holds_the_difference_between_snapshots)
{
    struct bts_top_view *v = bts_top_view_new(false);
    struct bts_top_table *t;

    update(v, "main;a 10\nmain;b 5\n");
    update(v, "main;a 12\nmain;b 15\nmain;c 1\n");
    t = functions(v);
    ck_assert_uint_eq(t->window_samples, 13);
    ck_assert_uint_eq(t->cum_samples, 28);
    assert_counts(row(t, "a"), 2, 2, 12, 12);
    assert_counts(row(t, "b"), 10, 10, 15, 15);
    assert_counts(row(t, "c"), 1, 1, 1, 1);
    assert_counts(row(t, "main"), 0, 13, 0, 28);
    bts_top_table_free(t);

    /* Nothing new: an empty window, the cumulative counts stay. */
    update(v, "main;a 12\nmain;b 15\nmain;c 1\n");
    t = functions(v);
    ck_assert_uint_eq(t->window_samples, 0);
    assert_counts(row(t, "b"), 0, 0, 15, 15);
    bts_top_table_free(t);
    bts_top_view_free(v);
}
END_TEST

START_TEST(test_whole_run_window_equals_cumulative_counts)
{
    struct bts_top_view *v = bts_top_view_new(false);
    struct bts_top_table *t;

    update(v, "main;a 10\n");
    update(v, "main;a 12\nmain;b 3\n");
    t = table(v, BTS_TOP_GROUP_FUNCTION, BTS_TOP_SORT_OWN_PCT, NULL, true);
    ck_assert_uint_eq(t->window_samples, 15);
    assert_counts(row(t, "a"), 12, 12, 12, 12);
    ck_assert_str_eq(t->rows[0].name, "a");
    bts_top_table_free(t);
    bts_top_view_free(v);
}
END_TEST

START_TEST(test_empty_snapshot_keeps_rows_with_cumulative_counts)
{
    struct bts_top_view *v = bts_top_view_new(false);
    struct bts_top_table *t;

    ck_assert_int_eq(bts_top_view_update(v, "", 0), 0);
    t = functions(v);
    ck_assert_uint_eq(t->nrows, 0);
    ck_assert_uint_eq(t->window_samples, 0);
    bts_top_table_free(t);
    bts_top_view_free(v);
}
END_TEST

START_TEST(test_malformed_lines_are_skipped_and_counted)
{
    struct bts_top_view *v = bts_top_view_new(false);
    struct bts_top_table *t;

    update(v, "main;a 2\nmain;b x\nmain;c\n");
    ck_assert_uint_eq(bts_top_view_malformed(v), 2);
    t = functions(v);
    ck_assert_uint_eq(t->window_samples, 2);
    ck_assert(!has_row(t, "b"));
    bts_top_table_free(t);
    bts_top_view_free(v);
}
END_TEST

START_TEST(test_reset_restarts_cumulative_counts_only)
{
    struct bts_top_view *v = bts_top_view_new(false);
    struct bts_top_table *t;

    update(v, "main;a 10\n");
    update(v, "main;a 14\n");
    bts_top_view_reset(v);
    t = functions(v);
    ck_assert_uint_eq(t->cum_samples, 0);
    ck_assert_uint_eq(t->window_samples, 4);
    assert_counts(row(t, "a"), 4, 4, 0, 0);
    bts_top_table_free(t);

    update(v, "main;a 20\nmain;b 1\n");
    t = functions(v);
    assert_counts(row(t, "a"), 6, 6, 6, 6);
    assert_counts(row(t, "b"), 1, 1, 1, 1);
    ck_assert_uint_eq(t->cum_samples, 7);
    bts_top_table_free(t);
    bts_top_view_free(v);
}
END_TEST

static const char sort_input[] = "main;x 1\n"
                                 "main;y;z 1\n";
static const char sort_input2[] = "main;x 2\n"
                                  "main;y;z 5\n"
                                  "main;w 8\n"
                                  "main;y 1\n";

START_TEST(test_rows_sort_by_the_chosen_column)
{
    struct bts_top_view *v = bts_top_view_new(false);
    struct bts_top_table *t;

    /* Window: x 1, z 4, w 8, y own 1 total 5; cumulative: x 2, z 5, w 8,
     * y own 1 total 6, main total 16. */
    update(v, sort_input);
    update(v, sort_input2);

    t = table(v, BTS_TOP_GROUP_FUNCTION, BTS_TOP_SORT_OWN_PCT, NULL, false);
    ck_assert_uint_eq(t->nrows, 5);
    ck_assert_str_eq(t->rows[0].name, "w");
    ck_assert_str_eq(t->rows[1].name, "z");
    ck_assert_str_eq(t->rows[2].name, "y"); /* own 1 like x; total 5 breaks the tie */
    ck_assert_str_eq(t->rows[3].name, "x");
    ck_assert_str_eq(t->rows[4].name, "main");
    bts_top_table_free(t);

    t = table(v, BTS_TOP_GROUP_FUNCTION, BTS_TOP_SORT_TOTAL_PCT, NULL, false);
    ck_assert_str_eq(t->rows[0].name, "main");
    ck_assert_str_eq(t->rows[1].name, "w");
    ck_assert_str_eq(t->rows[2].name, "y");
    ck_assert_str_eq(t->rows[3].name, "z");
    ck_assert_str_eq(t->rows[4].name, "x");
    bts_top_table_free(t);

    t = table(v, BTS_TOP_GROUP_FUNCTION, BTS_TOP_SORT_OWN_TIME, NULL, false);
    ck_assert_str_eq(t->rows[0].name, "w");
    ck_assert_str_eq(t->rows[1].name, "z");
    ck_assert_str_eq(t->rows[2].name, "x"); /* own 2 > y's 1 */
    ck_assert_str_eq(t->rows[3].name, "y");
    bts_top_table_free(t);

    t = table(v, BTS_TOP_GROUP_FUNCTION, BTS_TOP_SORT_TOTAL_TIME, NULL, false);
    ck_assert_str_eq(t->rows[0].name, "main");
    ck_assert_str_eq(t->rows[1].name, "w");
    ck_assert_str_eq(t->rows[2].name, "y");
    ck_assert_str_eq(t->rows[3].name, "z");
    ck_assert_str_eq(t->rows[4].name, "x");
    bts_top_table_free(t);
    bts_top_view_free(v);
}
END_TEST

START_TEST(test_equal_rows_sort_by_name)
{
    struct bts_top_view *v = bts_top_view_new(false);
    struct bts_top_table *t;

    update(v, "m;c 1\nm;a 1\nm;b 1\n");
    t = table(v, BTS_TOP_GROUP_FUNCTION, BTS_TOP_SORT_OWN_PCT, NULL, false);
    ck_assert_str_eq(t->rows[0].name, "a");
    ck_assert_str_eq(t->rows[1].name, "b");
    ck_assert_str_eq(t->rows[2].name, "c");
    ck_assert_str_eq(t->rows[3].name, "m");
    bts_top_table_free(t);
    bts_top_view_free(v);
}
END_TEST

static const char lines_input[] = "main (m.c:9);f (a.c:1) 3\n"
                                  "main (m.c:9);f (a.c:2) 2\n"
                                  "main (m.c:10);f (a.c:2);f (a.c:1) 4\n"
                                  "main (m.c:10);libc.so.6+0x10 1\n";

START_TEST(test_function_grouping_merges_lines_of_one_function)
{
    struct bts_top_view *v = bts_top_view_new(false);
    struct bts_top_table *t;

    update(v, lines_input);
    t = functions(v);
    ck_assert_uint_eq(t->nrows, 3);
    assert_counts(row(t, "main"), 0, 10, 0, 10);
    assert_counts(row(t, "f"), 9, 9, 9, 9); /* the recursive stack counts once */
    assert_counts(row(t, "libc.so.6+0x10"), 1, 1, 1, 1);
    bts_top_table_free(t);
    bts_top_view_free(v);
}
END_TEST

START_TEST(test_line_grouping_keeps_one_row_per_line)
{
    struct bts_top_view *v = bts_top_view_new(false);
    struct bts_top_table *t;

    update(v, lines_input);
    t = table(v, BTS_TOP_GROUP_LINE, BTS_TOP_SORT_TOTAL_PCT, NULL, false);
    ck_assert_uint_eq(t->nrows, 5);
    assert_counts(row(t, "main (m.c:9)"), 0, 5, 0, 5);
    assert_counts(row(t, "main (m.c:10)"), 0, 5, 0, 5);
    assert_counts(row(t, "f (a.c:1)"), 7, 7, 7, 7);
    assert_counts(row(t, "f (a.c:2)"), 2, 6, 2, 6);
    ck_assert(!has_row(t, "f"));
    bts_top_table_free(t);
    bts_top_view_free(v);
}
END_TEST

static const char threads_input[] = "thread eng (11);main;a 6\n"
                                    "thread eng (11);main;b 2\n"
                                    "thread worker (12);start;b 4\n"
                                    "thread worker (12) 1\n";

START_TEST(test_thread_roots_are_listed_and_not_functions)
{
    struct bts_top_view *v = bts_top_view_new(true);
    struct bts_top_table *t;

    update(v, threads_input);
    ck_assert_uint_eq(bts_top_view_threads(v), 2);
    ck_assert_str_eq(bts_top_view_thread(v, 0), "thread eng (11)");
    ck_assert_str_eq(bts_top_view_thread(v, 1), "thread worker (12)");
    ck_assert_ptr_null(bts_top_view_thread(v, 2));
    t = functions(v);
    ck_assert_uint_eq(t->window_samples, 13);
    ck_assert(!has_row(t, "thread eng (11)"));
    assert_counts(row(t, "b"), 6, 6, 6, 6);
    bts_top_table_free(t);
    bts_top_view_free(v);
}
END_TEST

START_TEST(test_thread_filter_keeps_only_that_threads_samples)
{
    struct bts_top_view *v = bts_top_view_new(true);
    struct bts_top_table *t;

    update(v, threads_input);
    t = table(v, BTS_TOP_GROUP_FUNCTION, BTS_TOP_SORT_OWN_PCT, "thread worker (12)", false);
    ck_assert_uint_eq(t->window_samples, 5);
    ck_assert_uint_eq(t->nrows, 2);
    assert_counts(row(t, "b"), 4, 4, 4, 4);
    assert_counts(row(t, "start"), 0, 4, 0, 4);
    ck_assert(!has_row(t, "main"));
    bts_top_table_free(t);

    t = table(v, BTS_TOP_GROUP_FUNCTION, BTS_TOP_SORT_OWN_PCT, "thread gone (99)", false);
    ck_assert_uint_eq(t->nrows, 0);
    ck_assert_uint_eq(t->window_samples, 0);
    bts_top_table_free(t);
    bts_top_view_free(v);
}
END_TEST

START_TEST(test_thread_frames_are_functions_without_thread_roots)
{
    struct bts_top_view *v = bts_top_view_new(false);
    struct bts_top_table *t;

    update(v, threads_input);
    ck_assert_uint_eq(bts_top_view_threads(v), 0);
    t = functions(v);
    assert_counts(row(t, "thread worker (12)"), 1, 5, 1, 5);
    bts_top_table_free(t);
    bts_top_view_free(v);
}
END_TEST

START_TEST(test_many_stacks_survive_table_growth)
{
    struct bts_top_view *v = bts_top_view_new(true);
    struct bts_top_table *t;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    int i;

    for (i = 0; i < 5000; i++)
        fprintf(f, "thread t (%d);main;fn%d (x.c:%d) %d\n", i % 7, i % 300, i, 1 + i % 3);
    fclose(f);
    ck_assert_int_eq(bts_top_view_update(v, text, len), 0);
    ck_assert_int_eq(bts_top_view_update(v, text, len), 0);
    t = table(v, BTS_TOP_GROUP_FUNCTION, BTS_TOP_SORT_TOTAL_TIME, NULL, false);
    ck_assert_uint_eq(t->nrows, 301);
    ck_assert_str_eq(t->rows[0].name, "main");
    ck_assert_uint_eq(t->rows[0].total_cum, t->cum_samples);
    ck_assert_uint_eq(t->window_samples, 0);
    bts_top_table_free(t);
    ck_assert_uint_eq(bts_top_view_threads(v), 7);
    free(text);
    bts_top_view_free(v);
}
END_TEST

START_TEST(test_free_of_null_is_a_no_op)
{
    bts_top_view_free(NULL);
    bts_top_table_free(NULL);
}
END_TEST

Suite *bts_top_view_suite(void)
{
    Suite *s = suite_create("top-view");
    TCase *tc;

    tc = tcase_create("frame names");
    tcase_add_test(tc, test_function_name_drops_file_and_line_suffix);
    tcase_add_test(tc, test_function_name_keeps_names_without_a_line);
    suite_add_tcase(s, tc);

    tc = tcase_create("own and total");
    tcase_add_test(tc, test_own_counts_leaf_and_total_counts_every_frame);
    tcase_add_test(tc, test_recursive_function_counts_once_per_stack);
    tcase_add_test(tc, test_malformed_lines_are_skipped_and_counted);
    tcase_add_test(tc, test_many_stacks_survive_table_growth);
    tcase_add_test(tc, test_free_of_null_is_a_no_op);
    suite_add_tcase(s, tc);

    tc = tcase_create("windows and reset");
    tcase_add_test(tc, test_window_holds_the_difference_between_snapshots);
    tcase_add_test(tc, test_whole_run_window_equals_cumulative_counts);
    tcase_add_test(tc, test_empty_snapshot_keeps_rows_with_cumulative_counts);
    tcase_add_test(tc, test_reset_restarts_cumulative_counts_only);
    suite_add_tcase(s, tc);

    tc = tcase_create("sorting");
    tcase_add_test(tc, test_rows_sort_by_the_chosen_column);
    tcase_add_test(tc, test_equal_rows_sort_by_name);
    suite_add_tcase(s, tc);

    tc = tcase_create("grouping");
    tcase_add_test(tc, test_function_grouping_merges_lines_of_one_function);
    tcase_add_test(tc, test_line_grouping_keeps_one_row_per_line);
    suite_add_tcase(s, tc);

    tc = tcase_create("threads");
    tcase_add_test(tc, test_thread_roots_are_listed_and_not_functions);
    tcase_add_test(tc, test_thread_filter_keeps_only_that_threads_samples);
    tcase_add_test(tc, test_thread_frames_are_functions_without_thread_roots);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(bts_top_view_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
