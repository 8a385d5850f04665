/* SPDX-License-Identifier: MIT */
/* check-perf-script: folding `perf script` text like perf's stackcollapse. */
#define _GNU_SOURCE
#include "perf-script.h"

#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "interop-fixture-private.h"

struct diags {
    char text[2048];
    size_t len;
};

static void collect(void *ctx, const char *file, uint64_t line, const char *reason)
{
    struct diags *d = ctx;
    int n = snprintf(d->text + d->len, sizeof(d->text) - d->len, "%s:%llu: %s\n", file,
                     (unsigned long long)line, reason);
    if (n > 0 && d->len + (size_t)n < sizeof(d->text))
        d->len += (size_t)n;
}

/* Folds `text`; returns the sorted folded lines, or NULL with *ret set. */
static char *fold(const char *text, const struct bts_perf_script_opts *o, struct diags *d,
                  struct bts_perf_script_stats *st, int *ret, char *err, size_t errlen)
{
    FILE *in = fmemopen((void *)text, strlen(text), "r");
    struct bts_calltree *t = bts_calltree_new();
    char *out = NULL;

    ck_assert_ptr_nonnull(in);
    *ret = bts_perf_script_read(in, "perf.txt", o, t, d ? collect : NULL, d, st, err, errlen);
    fclose(in);
    if (*ret == 0) {
        ck_assert_int_eq(bts_calltree_finish(t), 0);
        out = folded_of(t);
    }
    bts_calltree_free(t);
    return out;
}

static char *fold_ok(const char *text, const struct bts_perf_script_opts *o)
{
    char err[256] = "";
    int ret;
    char *out = fold(text, o, NULL, NULL, &ret, err, sizeof(err));

    ck_assert_msg(ret == 0, "%d %s", ret, err);
    return out;
}

#define HDR(comm, ev) comm " 4101/4101 [000]  100.000100:     250000 " ev ": \n"

static const char two_events[] =
    HDR("bt-engine",
        "cpu-clock:pppH") "\t    55d4c3a1b2c3 bte_phase_history+0x23 (/usr/bin/bt-engine)\n"
                          "\t    55d4c3a19000 main+0x11 (/usr/bin/bt-engine)\n"
                          "\n" HDR(
                              "bt-engine",
                              "page-faults:u") "\t    55d4c3a1b2c3 bte_fill_order+0x23 "
                                               "(/usr/bin/bt-engine)\n"
                                               "\t    55d4c3a19000 main+0x11 (/usr/bin/bt-engine)\n"
                                               "\n" HDR(
                                                   "bt-engine",
                                                   "cpu-clock:pppH") "\tffffffff81a0b0c0 "
                                                                     "clear_page_erms+0x10 "
                                                                     "([kernel.kallsyms])\n"
                                                                     "\tffffffff81000000 "
                                                                     "asm_exc_page_fault+0x26 "
                                                                     "([kernel.kallsyms])\n"
                                                                     "\t    55d4c3a19000 main+0x11 "
                                                                     "(/usr/bin/bt-engine)\n"
                                                                     "\n";

START_TEST(test_frames_fold_root_first_with_comm_and_no_offsets)
{
    char *got = fold_ok(two_events, NULL);

    ck_assert_str_eq(got, "bt-engine;main;asm_exc_page_fault;clear_page_erms 1\n"
                          "bt-engine;main;bte_phase_history 1\n");
    free(got);
}
END_TEST

START_TEST(test_kernel_frames_get_k_suffix_on_request)
{
    struct bts_perf_script_opts o = {.annotate_kernel = true, .no_comm = true};
    char *got = fold_ok(two_events, &o);

    ck_assert_str_eq(got, "main;asm_exc_page_fault_[k];clear_page_erms_[k] 1\n"
                          "main;bte_phase_history 1\n");
    free(got);
}
END_TEST

START_TEST(test_unknown_symbols_stay_unknown)
{
    static const char text[] =
        HDR("t", "cpu-clock") "\t    7f00000a1234 [unknown] (/usr/lib/x86_64-linux-gnu/libm.so.6)\n"
                              "\t    55d4c3a1d000 work+0x5 (/usr/bin/t)\n"
                              "\t               0 [unknown] ([unknown])\n"
                              "\n";
    char *got = fold_ok(text, NULL);

    ck_assert_str_eq(got, "t;[unknown];work;[unknown] 1\n");
    free(got);
}
END_TEST

START_TEST(test_default_keeps_the_first_event_only)
{
    struct bts_perf_script_stats st;
    char err[64];
    int ret;
    char *got = fold(two_events, NULL, NULL, &st, &ret, err, sizeof(err));

    ck_assert_int_eq(ret, 0);
    ck_assert_uint_eq(st.samples, 2);
    ck_assert_uint_eq(st.skipped, 1);
    free(got);
}
END_TEST

START_TEST(test_event_option_picks_by_name_without_modifiers)
{
    struct bts_perf_script_opts o = {.event = "page-faults"};
    char *got = fold_ok(two_events, &o);

    ck_assert_str_eq(got, "bt-engine;main;bte_fill_order 1\n");
    free(got);
    o.event = "page-faults:u";
    got = fold_ok(two_events, &o);
    ck_assert_str_eq(got, "bt-engine;main;bte_fill_order 1\n");
    free(got);
    o.event = "page";
    got = fold_ok(two_events, &o);
    ck_assert_str_eq(got, "");
    free(got);
}
END_TEST

START_TEST(test_comm_with_spaces_digits_and_thread_roots)
{
    static const char text[] =
        "bt worker 7 4101/4102 [001]  100.000600:     250000 cpu-clock: \n"
        "\t    55d4c3a1c000 std::vector<int>::push_back(int const&)+0x40 (/usr/bin/bt)\n"
        "\t    55d4c3a1d000 a;b (/usr/bin/bt)\n"
        "\n";
    struct bts_perf_script_opts o = {0};
    char *got = fold_ok(text, &o);

    ck_assert_str_eq(got, "bt_worker_7;a:b;std::vector<int>::push_back(int const&) 1\n");
    free(got);
    o.include_pid = o.include_tid = true;
    got = fold_ok(text, &o);
    ck_assert_str_eq(got, "bt_worker_7-4101/4102;a:b;std::vector<int>::push_back(int const&) 1\n");
    free(got);
    o = (struct bts_perf_script_opts){.thread_roots = true};
    got = fold_ok(text, &o);
    ck_assert_str_eq(got,
                     "thread bt worker 7 (4102);a:b;std::vector<int>::push_back(int const&) 1\n");
    free(got);
}
END_TEST

START_TEST(test_period_weighting_and_samples_without_callchain)
{
    static const char text[] =
        "t 11 [000] 1.000001: 250000 cpu-clock:  401000 leaf+0x3 (/bin/t)\n"
        "t 11 [000] 1.000002: 750000 cpu-clock:  401000 leaf+0x3 (/bin/t)\r\n";
    struct bts_perf_script_opts o = {.use_period = true};
    char *got = fold_ok(text, NULL);

    ck_assert_str_eq(got, "t;leaf 2\n");
    free(got);
    got = fold_ok(text, &o);
    ck_assert_str_eq(got, "t;leaf 1000000\n");
    free(got);
}
END_TEST

START_TEST(test_malformed_lines_are_reported_with_line_numbers)
{
    static const char text[] = "\t    55d4c3a1c000 orphan (/bin/t)\n" /* 1: no header */
                               "nopid here: cpu-clock:\n"             /* 2 */
                               "\n"                                   /* 3 */
                               "t 11 [000] 1.000001: 1 cpu-clock: \n" /* 4 */
                               "\t    zz-not-an-address x (/bin/t)\n" /* 5 */
                               "\n"                                   /* 6 */
                               "t 11 [000] 1.000001: 1\n"             /* 7: no event */
                               "\n"
                               "t 11 [000] 1.000002: 1 cpu-clock: \n"
                               "\t    401000 good+0x1 (/bin/t)\n";
    struct diags d = {0};
    struct bts_perf_script_stats st;
    char err[128] = "";
    int ret;
    char *got = fold(text, NULL, &d, &st, &ret, err, sizeof(err));

    ck_assert_int_eq(ret, 0);
    ck_assert_str_eq(got, "t;good 1\n");
    ck_assert_str_eq(d.text, "perf.txt:1: frame line outside a sample\n"
                             "perf.txt:2: sample header without a pid\n"
                             "perf.txt:5: frame line without an address\n"
                             "perf.txt:7: sample header without an event name\n");
    ck_assert_uint_eq(st.malformed, 4);
    ck_assert_uint_eq(st.samples, 1);
    free(got);
}
END_TEST

START_TEST(test_strict_mode_stops_at_the_first_malformed_line)
{
    static const char text[] = "t 11 [000] 1.000001: 1 cpu-clock: \n"
                               "\t    401000 good+0x1 (/bin/t)\n"
                               "\n"
                               "t 11 [000] 1.000001: 1 cpu-clock: \n"
                               "\t    (/bin/t)\n";
    struct bts_perf_script_opts o = {.strict = true};
    char err[128] = "";
    int ret;

    ck_assert_ptr_null(fold(text, &o, NULL, NULL, &ret, err, sizeof(err)));
    ck_assert_int_eq(ret, -EBADMSG);
    ck_assert_str_eq(err, "line 5: frame line without an address");
}
END_TEST

START_TEST(test_fixture_matches_expected_folding)
{
    char path[4096], *text = NULL, *got;
    size_t len = 0;
    FILE *f;
    const char *src = getenv("BTS_SOURCE_DIR");

    ck_assert_ptr_nonnull(src);
    snprintf(path, sizeof(path), "%s/tests/data/interop/sample.perf-script", src);
    f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(getdelim(&text, &len, '\0', f) > 0, 1);
    fclose(f);
    got = fold_ok(text, NULL);
    ck_assert_str_eq(got,
                     "bt-engine;__libc_start_call_main;main;bte_run_backtest;bte_phase_history 1\n"
                     "bt-engine;__libc_start_call_main;main;bte_run_backtest;bte_phase_history;"
                     "asm_exc_page_fault;do_anonymous_page;clear_page_erms 1\n"
                     "bt-engine;main;a:b 1\n"
                     "bt_worker_7;[unknown];bte_worker_main;std::vector<double, "
                     "std::allocator<double> >::push_back(double const&);[unknown] 2\n");
    free(got);
    free(text);
}
END_TEST

START_TEST(test_sniff_recognises_perf_script_only)
{
    static const char commented[] = "# header\n" HDR("t", "cycles") "\t 401000 x (/t)\n";

    ck_assert(bts_perf_script_sniff(two_events, strlen(two_events)));
    ck_assert(bts_perf_script_sniff(commented, strlen(commented)));
    ck_assert(!bts_perf_script_sniff("main;run 12\nmain 3\n", 20));
    ck_assert(!bts_perf_script_sniff("{\"shared\":1}\n", 13));
}
END_TEST

Suite *bts_perf_script_suite(void)
{
    Suite *s = suite_create("perf-script");
    TCase *f = tcase_create("folding"), *e = tcase_create("events"), *m = tcase_create("malformed");

    tcase_add_test(f, test_frames_fold_root_first_with_comm_and_no_offsets);
    tcase_add_test(f, test_kernel_frames_get_k_suffix_on_request);
    tcase_add_test(f, test_unknown_symbols_stay_unknown);
    tcase_add_test(f, test_comm_with_spaces_digits_and_thread_roots);
    tcase_add_test(f, test_period_weighting_and_samples_without_callchain);
    tcase_add_test(f, test_fixture_matches_expected_folding);
    tcase_add_test(f, test_sniff_recognises_perf_script_only);
    tcase_add_test(e, test_default_keeps_the_first_event_only);
    tcase_add_test(e, test_event_option_picks_by_name_without_modifiers);
    tcase_add_test(m, test_malformed_lines_are_reported_with_line_numbers);
    tcase_add_test(m, test_strict_mode_stops_at_the_first_malformed_line);
    suite_add_tcase(s, f);
    suite_add_tcase(s, e);
    suite_add_tcase(s, m);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(bts_perf_script_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
