/* SPDX-License-Identifier: MIT */
/* check-memory-chart: the memory chart above a flame graph in SVG, PNG and
 * PDF: present only with a timeline, labelled, deterministic. */
#define _GNU_SOURCE
#include "render.h"
#include "timeline.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#define MIB (1024ull * 1024)
#define MS  1000000ull

static struct bts_calltree *tree(void)
{
    struct bts_calltree *t = bts_calltree_new();
    uint64_t a = 120 * MIB, b = 40 * MIB;

    ck_assert_int_eq(bts_calltree_add_stack(t, "main;grow_a", 11, &a, 1, 0), 0);
    ck_assert_int_eq(bts_calltree_add_stack(t, "main;grow_b", 11, &b, 1, 0), 0);
    ck_assert_int_eq(bts_calltree_finish(t), 0);
    return t;
}

static struct bts_timeline *timeline(void)
{
    struct bts_timeline *tl = bts_timeline_new();
    struct bts_timeline_jump j = {300 * MS, 400 * MS, 2 * MIB, 122 * MIB};

    for (uint64_t i = 0; i <= 150; i++) {
        uint64_t v = i < 30 ? 2 * MIB : i < 90 ? 122 * MIB : i < 131 ? 162 * MIB : 100 * MIB;
        struct bts_timeline_point p = {i * 10 * MS, v, BTS_TIMELINE_NONE, BTS_TIMELINE_NONE};
        ck_assert_int_eq(bts_timeline_add_point(tl, &p), 0);
    }
    ck_assert_int_eq(bts_timeline_add_jump(tl, &j), 0);
    return tl;
}

static char *render(const struct bts_calltree *t, const struct bts_timeline *tl,
                    enum bts_render_format fmt, size_t *len)
{
    struct bts_render_opts o;
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);

    bts_render_opts_init(&o);
    o.countname = "bytes";
    o.timeline = tl;
    ck_assert_int_eq(bts_render_tree(t, &o, fmt, f), 0);
    fclose(f);
    return buf;
}

START_TEST(test_svg_has_the_chart_only_with_a_timeline)
{
    struct bts_calltree *t = tree();
    struct bts_timeline *tl = timeline();
    size_t n1, n2, n0;
    char *a = render(t, tl, BTS_RENDER_SVG, &n1), *b = render(t, tl, BTS_RENDER_SVG, &n2);
    char *none = render(t, NULL, BTS_RENDER_SVG, &n0);

    ck_assert_uint_eq(n1, n2);
    ck_assert_mem_eq(a, b, n1); /* deterministic */
    ck_assert_ptr_nonnull(strstr(a, ">peak 162.0 MiB at 900 ms</text>"));
    ck_assert_ptr_nonnull(strstr(a, ">RSS (0 to 179.0 MiB)</text>"));
    ck_assert_ptr_nonnull(strstr(a, ">+120.0 MiB</text>"));
    ck_assert_ptr_nonnull(strstr(a, "<polyline id=\"rss\""));
    ck_assert_ptr_null(strstr(none, "id=\"memory\""));
    /* The counts pass 2^24: written in units, with the divisor. */
    ck_assert_ptr_nonnull(strstr(a, "data-div=\""));
    free(a);
    free(b);
    free(none);
    bts_timeline_free(tl);
    bts_calltree_free(t);
}
END_TEST

START_TEST(test_png_and_pdf_draw_it_too)
{
    struct bts_calltree *t = tree();
    struct bts_timeline *tl = timeline();
    size_t n1, n2, n0, np;
    char *a = render(t, tl, BTS_RENDER_PNG, &n1), *b = render(t, tl, BTS_RENDER_PNG, &n2);
    char *none = render(t, NULL, BTS_RENDER_PNG, &n0), *pdf = render(t, tl, BTS_RENDER_PDF, &np);

    ck_assert_uint_gt(n1, 8);
    ck_assert_mem_eq(a, "\x89PNG", 4);
    ck_assert_uint_eq(n1, n2);
    ck_assert_mem_eq(a, b, n1); /* deterministic */
    ck_assert(n0 != n1 || memcmp(none, a, n0));
    ck_assert_mem_eq(pdf, "%PDF", 4);
    free(a);
    free(b);
    free(none);
    free(pdf);
    bts_timeline_free(tl);
    bts_calltree_free(t);
}
END_TEST

START_TEST(test_an_empty_timeline_draws_no_chart)
{
    struct bts_calltree *t = tree();
    struct bts_timeline *tl = bts_timeline_new();
    size_t n;
    char *a = render(t, tl, BTS_RENDER_SVG, &n);

    ck_assert_ptr_null(strstr(a, "id=\"memory\""));
    free(a);
    bts_timeline_free(tl);
    bts_calltree_free(t);
}
END_TEST

static Suite *bts_memory_chart_suite(void)
{
    Suite *s = suite_create("memory-chart");
    TCase *c = tcase_create("chart");

    tcase_add_test(c, test_svg_has_the_chart_only_with_a_timeline);
    tcase_add_test(c, test_png_and_pdf_draw_it_too);
    tcase_add_test(c, test_an_empty_timeline_draws_no_chart);
    suite_add_tcase(s, c);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(bts_memory_chart_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
