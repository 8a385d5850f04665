/* SPDX-License-Identifier: MIT */
/* check-report: the function table, format detection and loading any format. */
#define _GNU_SOURCE
#include "format.h"
#include "report.h"

#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "interop-fixture-private.h"
#include "pprof.h"
#include "speedscope.h"

static char *report_of(const char *folded, size_t top, enum bts_report_order by,
                       enum bts_report_style style)
{
    struct bts_calltree *t = tree_of(folded);
    struct bts_report_opts o = {.top = top, .by = by, .style = style};
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);

    ck_assert_int_eq(bts_report_write(t, &o, out), 0);
    fclose(out);
    bts_calltree_free(t);
    return buf;
}

START_TEST(test_recursive_function_counts_once_in_total)
{
    char *csv = report_of("main;rec;rec;rec 6\nmain;rec;leaf 2\nmain;other 2\n", 0,
                          BTS_REPORT_BY_TOTAL, BTS_REPORT_CSV);

    ck_assert_str_eq(csv, "rank,function,self_percent,total_percent,self_samples,total_samples\n"
                          "1,main,0.00,100.00,0,10\n"
                          "2,rec,60.00,80.00,6,8\n"
                          "3,leaf,20.00,20.00,2,2\n"
                          "4,other,20.00,20.00,2,2\n");
    free(csv);
}
END_TEST

START_TEST(test_by_self_orders_by_self_then_total_and_top_limits)
{
    char *csv = report_of("main;a 5\nmain;b;c 5\nmain 1\nmain;d 3\n", 2, BTS_REPORT_BY_SELF,
                          BTS_REPORT_CSV);

    ck_assert_str_eq(csv, "rank,function,self_percent,total_percent,self_samples,total_samples\n"
                          "1,a,35.71,35.71,5,5\n"
                          "2,c,35.71,35.71,5,5\n");
    free(csv);
}
END_TEST

START_TEST(test_thread_and_process_roots_are_not_functions)
{
    char *csv = report_of("thread main (1);f 1\nprocess bt (9);thread w (2);g 3\n", 0,
                          BTS_REPORT_BY_SELF, BTS_REPORT_CSV);

    ck_assert_str_eq(csv, "rank,function,self_percent,total_percent,self_samples,total_samples\n"
                          "1,g,75.00,75.00,3,3\n"
                          "2,f,25.00,25.00,1,1\n");
    free(csv);
}
END_TEST

START_TEST(test_markdown_escapes_pipes_and_backticks)
{
    char *md = report_of("a|b;x`y 1\n", 0, BTS_REPORT_BY_SELF, BTS_REPORT_MARKDOWN);

    ck_assert_str_eq(md, "| rank | function | self % | total % | self samples | total samples |\n"
                         "| ---: | :--- | ---: | ---: | ---: | ---: |\n"
                         "| 1 | `` x`y `` | 100.00% | 100.00% | 1 | 1 |\n"
                         "| 2 | `a\\|b` | 0.00% | 100.00% | 0 | 1 |\n");
    free(md);
}
END_TEST

START_TEST(test_csv_quotes_commas_and_quotes)
{
    char *csv = report_of("f(a, \"b\") 1\n", 0, BTS_REPORT_BY_SELF, BTS_REPORT_CSV);

    ck_assert_str_eq(csv, "rank,function,self_percent,total_percent,self_samples,total_samples\n"
                          "1,\"f(a, \"\"b\"\")\",100.00,100.00,1,1\n");
    free(csv);
}
END_TEST

START_TEST(test_json_escapes_names)
{
    char *json = report_of("q\"\\\x01 1\n", 0, BTS_REPORT_BY_SELF, BTS_REPORT_JSON);

    ck_assert_str_eq(json,
                     "{\"total_samples\":1,\"functions\":[\n"
                     " {\"rank\":1,\"function\":\"q\\\"\\\\\\u0001\",\"self_percent\":100.0000,"
                     "\"total_percent\":100.0000,\"self_samples\":1,\"total_samples\":1}\n]}\n");
    free(json);
}
END_TEST

START_TEST(test_text_has_all_columns)
{
    char *text = report_of("main;work 3\nmain 1\n", 0, BTS_REPORT_BY_SELF, BTS_REPORT_TEXT);

    ck_assert_str_eq(text, "4 samples, 2 functions, by self\n\n"
                           "rank  function    self%   total%          self         total\n"
                           "   1  work       75.00%   75.00%             3             3\n"
                           "   2  main       25.00%  100.00%             1             4\n");
    free(text);
}
END_TEST

START_TEST(test_samples_without_frames_count_in_the_total)
{
    char *text = report_of("main;work 3\n 1\n", 0, BTS_REPORT_BY_SELF, BTS_REPORT_TEXT);

    ck_assert_str_eq(text, "4 samples, 2 functions, by self\n\n"
                           "rank  function    self%   total%          self         total\n"
                           "   1  work       75.00%   75.00%             3             3\n"
                           "   2  main        0.00%   75.00%             0             3\n");
    free(text);
}
END_TEST

START_TEST(test_format_from_extension_and_name)
{
    ck_assert_int_eq(bts_format_from_path("a.folded"), BTS_FORMAT_FOLDED);
    ck_assert_int_eq(bts_format_from_path("a.collapsed"), BTS_FORMAT_FOLDED);
    ck_assert_int_eq(bts_format_from_path("a.txt"), BTS_FORMAT_FOLDED);
    ck_assert_int_eq(bts_format_from_path("a.pb.gz"), BTS_FORMAT_PPROF);
    ck_assert_int_eq(bts_format_from_path("a.pprof"), BTS_FORMAT_PPROF);
    ck_assert_int_eq(bts_format_from_path("a.pb"), BTS_FORMAT_PPROF);
    ck_assert_int_eq(bts_format_from_path("a.speedscope.json"), BTS_FORMAT_SPEEDSCOPE);
    ck_assert_int_eq(bts_format_from_path("a.json"), BTS_FORMAT_SPEEDSCOPE);
    ck_assert_int_eq(bts_format_from_path("A.PB.GZ"), BTS_FORMAT_PPROF);
    ck_assert_int_eq(bts_format_from_path("a.svg"), BTS_FORMAT_SVG);
    ck_assert_int_eq(bts_format_from_path("dir.v2/a.Png"), BTS_FORMAT_PNG);
    ck_assert_int_eq(bts_format_from_path("a.pdf"), BTS_FORMAT_PDF);
    ck_assert_int_eq(bts_format_from_path("dir.svg/a"), BTS_FORMAT_AUTO);
    ck_assert_int_eq(bts_format_from_path("a.gif"), BTS_FORMAT_AUTO);
    ck_assert(bts_format_is_picture(BTS_FORMAT_PNG));
    ck_assert(!bts_format_is_picture(BTS_FORMAT_PPROF));
    ck_assert_int_eq(bts_format_from_name("perf-script"), BTS_FORMAT_PERF_SCRIPT);
    ck_assert_int_eq(bts_format_from_name("SVG"), BTS_FORMAT_SVG);
    ck_assert_int_eq(bts_format_from_name("nope"), BTS_FORMAT_AUTO);
}
END_TEST

START_TEST(test_each_written_format_has_the_extension_it_is_read_back_by)
{
    static const enum bts_format written[] = {BTS_FORMAT_FOLDED,     BTS_FORMAT_PPROF,
                                              BTS_FORMAT_SPEEDSCOPE, BTS_FORMAT_SVG,
                                              BTS_FORMAT_PNG,        BTS_FORMAT_PDF};
    for (size_t i = 0; i < sizeof(written) / sizeof(written[0]); i++) {
        const char *ext = bts_format_extension(written[i]);
        char name[64];
        ck_assert_ptr_nonnull(ext);
        snprintf(name, sizeof(name), "profile.%s", ext);
        ck_assert_int_eq(bts_format_from_path(name), written[i]);
    }
    ck_assert_str_eq(bts_format_extension(BTS_FORMAT_PPROF), "pb.gz");
    ck_assert_str_eq(bts_format_extension(BTS_FORMAT_SPEEDSCOPE), "speedscope.json");
    ck_assert_ptr_null(bts_format_extension(BTS_FORMAT_PERF_SCRIPT));
    ck_assert_ptr_null(bts_format_extension(BTS_FORMAT_AUTO));
}
END_TEST

START_TEST(test_sniffing_tells_every_input_format_apart)
{
    static const unsigned char raw_pprof[] = {0x0a, 0x04, 0x08, 0x01, 0x10, 0x02};
    static const char perf[] = "t 11 [000] 1.000001: 1 cpu-clock: \n\t    401000 f (/bin/t)\n";

    ck_assert_int_eq(bts_format_sniff("\x1f\x8b\x08", 3), BTS_FORMAT_PPROF);
    ck_assert_int_eq(bts_format_sniff(raw_pprof, sizeof(raw_pprof)), BTS_FORMAT_PPROF);
    ck_assert_int_eq(bts_format_sniff("  {\"$schema\":1}", 15), BTS_FORMAT_SPEEDSCOPE);
    ck_assert_int_eq(bts_format_sniff(perf, strlen(perf)), BTS_FORMAT_PERF_SCRIPT);
    ck_assert_int_eq(bts_format_sniff("\nmain;a\x01 3\n", 11), BTS_FORMAT_FOLDED);
}
END_TEST

/* Writes `folded` in format f, loads it back with sniffing, and checks the
 * stacks and the detected format. */
static void check_load(enum bts_format f)
{
    static const char folded[] = "thread m (1);main;a 2\nmain;b 1\n";
    struct bts_calltree *t = tree_of(folded), *back = bts_calltree_new();
    struct bts_format_load_opts lo = {.sample_type = "samples"};
    enum bts_format used = BTS_FORMAT_AUTO;
    char *buf = NULL, err[128] = "", *got, *want = folded_of(t);
    size_t len = 0;
    FILE *o = open_memstream(&buf, &len), *in;

    if (f == BTS_FORMAT_PPROF)
        ck_assert_int_eq(bts_pprof_write_calltree(t, NULL, o), 0);
    else if (f == BTS_FORMAT_SPEEDSCOPE)
        ck_assert_int_eq(bts_speedscope_write_calltree(t, "x", NULL, o), 0);
    else
        ck_assert_int_eq(bts_calltree_write_folded(t, o), 0);
    fclose(o);
    in = fmemopen(buf, len, "r");
    ck_assert_int_eq(bts_format_load(in, "mem", &lo, back, NULL, NULL, &used, err, sizeof(err)), 0);
    fclose(in);
    ck_assert_int_eq(used, f);
    ck_assert_int_eq(bts_calltree_finish(back), 0);
    got = folded_of(back);
    ck_assert_str_eq(got, want);
    free(got);
    free(want);
    free(buf);
    bts_calltree_free(back);
    bts_calltree_free(t);
}

START_TEST(test_load_reads_every_format_back)
{
    check_load(BTS_FORMAT_FOLDED);
    check_load(BTS_FORMAT_PPROF);
    check_load(BTS_FORMAT_SPEEDSCOPE);
}
END_TEST

START_TEST(test_load_refuses_a_picture_format)
{
    struct bts_calltree *t = bts_calltree_new();
    struct bts_format_load_opts lo = {.format = BTS_FORMAT_SVG};
    char err[128] = "";
    FILE *in = fmemopen("main;a 1\n", 9, "r");

    ck_assert_int_eq(bts_format_load(in, "mem", &lo, t, NULL, NULL, NULL, err, sizeof(err)),
                     -EINVAL);
    ck_assert_str_eq(err, "pictures cannot be read");
    fclose(in);
    bts_calltree_free(t);
}
END_TEST

Suite *bts_report_suite(void)
{
    Suite *s = suite_create("report");
    TCase *c = tcase_create("counting"), *f = tcase_create("formats"), *l = tcase_create("loading");

    tcase_add_test(c, test_recursive_function_counts_once_in_total);
    tcase_add_test(c, test_by_self_orders_by_self_then_total_and_top_limits);
    tcase_add_test(c, test_thread_and_process_roots_are_not_functions);
    tcase_add_test(f, test_markdown_escapes_pipes_and_backticks);
    tcase_add_test(f, test_csv_quotes_commas_and_quotes);
    tcase_add_test(f, test_json_escapes_names);
    tcase_add_test(f, test_text_has_all_columns);
    tcase_add_test(f, test_samples_without_frames_count_in_the_total);
    tcase_add_test(l, test_format_from_extension_and_name);
    tcase_add_test(l, test_each_written_format_has_the_extension_it_is_read_back_by);
    tcase_add_test(l, test_sniffing_tells_every_input_format_apart);
    tcase_add_test(l, test_load_reads_every_format_back);
    tcase_add_test(l, test_load_refuses_a_picture_format);
    suite_add_tcase(s, c);
    suite_add_tcase(s, f);
    suite_add_tcase(s, l);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(bts_report_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
