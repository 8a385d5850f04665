/* SPDX-License-Identifier: MIT */
/* check-compare: BEFORE/AFTER values, intervals, significance and the table. */
#define _GNU_SOURCE
#include "compare.h"

#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A differential tree from "stack count" lines for each side. */
static struct bts_calltree *tree(const char *const *before, const char *const *after)
{
    struct bts_calltree *t = bts_calltree_new();
    const char *const *side[2] = {before, after};

    ck_assert_ptr_nonnull(t);
    for (unsigned s = 0; s < 2; s++) {
        for (const char *const *l = side[s]; *l; l++) {
            const char *sp = strrchr(*l, ' ');
            uint64_t c = strtoull(sp + 1, NULL, 10);
            ck_assert_int_eq(bts_calltree_add_stack(t, *l, (size_t)(sp - *l), &c, 1,
                                                    s ? BTS_CALLTREE_TO_COLUMN1 : 0),
                             0);
        }
    }
    ck_assert_int_eq(bts_calltree_finish(t), 0);
    return t;
}

/* The row of function `name`. */
static void row(const struct bts_compare *c, const char *name, struct bts_compare_value *v)
{
    for (size_t i = 0; i < bts_compare_function_count(c); i++) {
        size_t len;
        const char *n = bts_compare_function(c, i, &len, v, NULL);
        if (len == strlen(name) && !memcmp(n, name, len))
            return;
    }
    ck_abort_msg("no function %s", name);
}

static const char *const grow_before[] = {"main;grow 200", "main;shrink 800", NULL};
static const char *const grow_after[] = {"main;grow 800", "main;shrink 200", NULL};

START_TEST(test_shares_follow_the_two_proportion_test)
{
    struct bts_calltree *t = tree(grow_before, grow_after);
    struct bts_compare_opts o = {.measure = BTS_COMPARE_AUTO};
    struct bts_compare *c = bts_compare_new(t, &o);
    struct bts_compare_value v;

    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(bts_compare_measure_used(c), BTS_COMPARE_SHARES);
    row(c, "grow", &v);
    ck_assert_uint_eq(v.count[0], 200);
    ck_assert_uint_eq(v.count[1], 800);
    ck_assert_double_eq_tol(v.value[0], 20, 1e-9);
    ck_assert_double_eq_tol(v.value[1], 80, 1e-9);
    ck_assert_double_eq_tol(v.change, 60, 1e-9);
    /* pooled p = 0.5: z = 0.6 / sqrt(0.25 * 2 / 1000) = 26.8. */
    ck_assert_double_eq_tol(v.p, erfc(0.6 / sqrt(0.25 * 0.002) / sqrt(2)), 1e-300);
    /* 99%: 2.5758 x sqrt(0.2 * 0.8 / 1000 x 2) = 4.608 pp. */
    ck_assert_double_eq_tol(v.half_ci, 100 * 2.5758293 * sqrt(0.16 * 0.002), 1e-4);
    ck_assert(v.significant);
    /* The biggest change comes first; main (100% -> 100%) last. */
    ck_assert_double_eq_tol(fabs(v.change), 60, 1e-9);
    bts_compare_function(c, 2, NULL, &v, NULL);
    ck_assert_uint_eq(v.count[0], 1000);
    ck_assert(!v.significant);
    ck_assert_double_eq(v.p, 1);
    bts_compare_free(c);
    bts_calltree_free(t);
}
END_TEST

START_TEST(test_ten_samples_are_not_enough)
{
    static const char *const b[] = {"main;grow 2", "main;shrink 8", NULL};
    static const char *const a[] = {"main;grow 8", "main;shrink 2", NULL};
    struct bts_calltree *t = tree(b, a);
    struct bts_compare_opts o = {0};
    struct bts_compare *c = bts_compare_new(t, &o);
    struct bts_compare_value v;

    ck_assert_ptr_nonnull(c);
    /* Unadjusted p = 0.0073 < 1%, but three functions are tested. */
    row(c, "grow", &v);
    ck_assert(v.p < 0.01);
    ck_assert(!v.significant);
    bts_compare_free(c);
    bts_calltree_free(t);
}
END_TEST

START_TEST(test_time_with_equal_durations_scales_shares)
{
    struct bts_calltree *t = tree(grow_before, grow_after);
    struct bts_compare_opts o = {.side = {{.duration_s = 3}, {.duration_s = 3}}};
    struct bts_compare_opts s = {.measure = BTS_COMPARE_SHARES};
    struct bts_compare *ct = bts_compare_new(t, &o), *cs = bts_compare_new(t, &s);
    struct bts_compare_value vt, vs;

    ck_assert_ptr_nonnull(ct);
    ck_assert_ptr_nonnull(cs);
    ck_assert_int_eq(bts_compare_measure_used(ct), BTS_COMPARE_TIME);
    ck_assert_str_eq(bts_compare_unit(ct), "s");
    row(ct, "shrink", &vt);
    row(cs, "shrink", &vs);
    ck_assert_double_eq_tol(vt.value[0], 2.4, 1e-9);
    ck_assert_double_eq_tol(vt.value[1], 0.6, 1e-9);
    /* Time takes the counts as Poisson: the same values, less certain. */
    ck_assert_double_eq_tol(vt.change, 0.03 * vs.change, 1e-9);
    ck_assert(vt.p > vs.p);
    ck_assert(vt.significant && vs.significant);
    bts_compare_free(ct);
    bts_compare_free(cs);
    bts_calltree_free(t);
}
END_TEST

START_TEST(test_time_sees_a_shorter_run)
{
    /* Same shares, AFTER ran half as long: every function halved. */
    static const char *const same[] = {"main;a 500", "main;b 500", NULL};
    struct bts_calltree *t = tree(same, same);
    struct bts_compare_opts o = {.side = {{.duration_s = 4}, {.duration_s = 2}}};
    struct bts_compare *c = bts_compare_new(t, &o);
    struct bts_compare_value v;
    char sum[256];

    ck_assert_ptr_nonnull(c);
    row(c, "a", &v);
    ck_assert_double_eq_tol(v.change, -1, 1e-9);
    ck_assert(v.significant);
    bts_compare_summary(c, sum, sizeof(sum));
    ck_assert_msg(!strncmp(sum,
                           "total 4.00 s \xe2\x86\x92 2.00 s (\xe2\x88\x92"
                           "50%); main ",
                           35),
                  "%s", sum);
    bts_compare_free(c);
    bts_calltree_free(t);
}
END_TEST

START_TEST(test_per_unit_of_work_divides_by_the_work)
{
    static const char *const same[] = {"main;a 500", "main;b 500", NULL};
    struct bts_calltree *t = tree(same, same);
    struct bts_compare_opts o = {
        .work_unit = "bars",
        .side = {{.duration_s = 3, .work = 1000}, {.duration_s = 3, .work = 2000}}};
    struct bts_compare *c = bts_compare_new(t, &o);
    struct bts_compare_value v;
    char buf[64];

    ck_assert_ptr_nonnull(c);
    ck_assert_str_eq(bts_compare_unit(c), "s/bars");
    row(c, "a", &v);
    ck_assert_double_eq_tol(v.value[0], 1.5e-3, 1e-12);
    ck_assert_double_eq_tol(v.value[1], 0.75e-3, 1e-12);
    bts_compare_format_value(c, v.change, true, buf, sizeof(buf));
    ck_assert_str_eq(buf, "\xe2\x88\x92"
                          "750 \xc2\xb5s/bars");
    bts_compare_free(c);
    bts_calltree_free(t);
}
END_TEST

START_TEST(test_what_a_measure_needs_is_checked)
{
    struct bts_compare_opts o = {.measure = BTS_COMPARE_TIME};
    struct bts_calltree *t = tree(grow_before, grow_after);

    ck_assert_ptr_nonnull(bts_compare_check(&o));
    errno = 0;
    ck_assert_ptr_null(bts_compare_new(t, &o));
    ck_assert_int_eq(errno, EINVAL);
    o.side[0].rate_hz = o.side[1].rate_hz = 100; /* sampled time: 10 s each */
    ck_assert_ptr_null(bts_compare_check(&o));
    o = (struct bts_compare_opts){.work_unit = "bars", .side = {{.work = 1}, {.work = 0}}};
    ck_assert_ptr_nonnull(bts_compare_check(&o));
    o.side[1].work = 2;
    o.measure = BTS_COMPARE_SHARES;
    ck_assert_ptr_nonnull(bts_compare_check(&o));
    o.measure = BTS_COMPARE_AUTO; /* no durations: samples per bar */
    ck_assert_ptr_null(bts_compare_check(&o));
    o.confidence = 0.3;
    ck_assert_ptr_nonnull(bts_compare_check(&o));
    bts_calltree_free(t);
}
END_TEST

START_TEST(test_nodes_and_functions_are_separate_families)
{
    /* The same function under two callers: one node shrank, one grew. */
    static const char *const b[] = {"main;x;f 300", "main;y;f 100", "main;z 600", NULL};
    static const char *const a[] = {"main;x;f 100", "main;y;f 300", "main;z 600", NULL};
    struct bts_calltree *t = tree(b, a);
    struct bts_compare_opts o = {0};
    struct bts_compare *c = bts_compare_new(t, &o);
    struct bts_compare_value v;
    const bts_calltree_node *kids;

    ck_assert_ptr_nonnull(c);
    row(c, "f", &v);
    ck_assert_double_eq_tol(v.change, 0, 1e-9); /* 40% both sides */
    ck_assert(!v.significant);
    /* main's children in name order: x, y, z. */
    ck_assert_uint_eq(bts_calltree_children(t, 1, &kids), 3);
    bts_compare_node(c, kids[0], &v);
    ck_assert_double_eq_tol(v.change, -20, 1e-9);
    ck_assert(v.significant);
    bts_compare_node(c, kids[2], &v);
    ck_assert(!v.significant);
    bts_compare_free(c);
    bts_calltree_free(t);
}
END_TEST

START_TEST(test_markdown_table_has_summary_rows_and_links)
{
    struct bts_calltree *t = tree(grow_before, grow_after);
    struct bts_compare_opts o = {.side = {{.name = "a.folded"}, {.name = "b.folded"}}};
    struct bts_compare *c = bts_compare_new(t, &o);
    struct bts_compare_report_opts ro = {
        .style = BTS_REPORT_MARKDOWN, .png_link = "my review.png", .svg_link = "r.svg"};
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);

    ck_assert_int_eq(bts_compare_write(c, &ro, out), 0);
    fclose(out);
    ck_assert_msg(strstr(buf, "**total 1000 \xe2\x86\x92 1000 samples; grow +60.0 pp "
                              "(significant); 2 of 3 functions changed significantly**\n"),
                  "%s", buf);
    ck_assert_msg(strstr(buf, "| 1 | `grow` | 20.0% | 80.0% | +60.0 pp | 4.6 pp | **yes** | "
                              "200 \xe2\x86\x92 800 |\n"),
                  "%s", buf);
    ck_assert_msg(strstr(buf, "![differential flame graph](my%20review.png)"), "%s", buf);
    ck_assert_msg(strstr(buf, "(r.svg)"), "%s", buf);
    free(buf);
    bts_compare_free(c);
    bts_calltree_free(t);
}
END_TEST

static Suite *bts_compare_suite(void)
{
    Suite *s = suite_create("compare");
    TCase *stats = tcase_create("statistics");
    TCase *measures = tcase_create("measures");
    TCase *table = tcase_create("table");

    tcase_add_test(stats, test_shares_follow_the_two_proportion_test);
    tcase_add_test(stats, test_ten_samples_are_not_enough);
    tcase_add_test(stats, test_nodes_and_functions_are_separate_families);
    tcase_add_test(measures, test_time_with_equal_durations_scales_shares);
    tcase_add_test(measures, test_time_sees_a_shorter_run);
    tcase_add_test(measures, test_per_unit_of_work_divides_by_the_work);
    tcase_add_test(measures, test_what_a_measure_needs_is_checked);
    tcase_add_test(table, test_markdown_table_has_summary_rows_and_links);
    suite_add_tcase(s, stats);
    suite_add_tcase(s, measures);
    suite_add_tcase(s, table);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(bts_compare_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
