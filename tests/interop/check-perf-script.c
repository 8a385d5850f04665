/* SPDX-License-Identifier: MIT */
/* check-perf-script: folding `perf script` text by stackcollapse-perf.pl's
 * rules (the default) and by perf's own stackcollapse script. */
#define _GNU_SOURCE
#include "perf-script.h"

#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "interop-fixture-private.h"
#include "line-limit.h"

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

static const struct bts_perf_script_opts perf_conv = {.convention = BTS_PERF_SCRIPT_PERF};

START_TEST(test_frames_fold_root_first_with_comm_and_no_offsets)
{
    char *got = fold_ok(two_events, &perf_conv);

    ck_assert_str_eq(got, "bt-engine;main;asm_exc_page_fault;clear_page_erms 1\n"
                          "bt-engine;main;bte_phase_history 1\n");
    free(got);
}
END_TEST

START_TEST(test_kernel_frames_get_k_suffix_on_request)
{
    struct bts_perf_script_opts o = {
        .convention = BTS_PERF_SCRIPT_PERF, .annotate_kernel = true, .no_comm = true};
    char *got = fold_ok(two_events, &o);

    ck_assert_str_eq(got, "main;asm_exc_page_fault_[k];clear_page_erms_[k] 1\n"
                          "main;bte_phase_history 1\n");
    free(got);
}
END_TEST

/* perf's script keeps a sample without frames under --no-comm as an empty
 * stack, so the totals still agree; stackcollapse-perf.pl drops it (and weighs by period). */
START_TEST(test_a_frameless_sample_without_comm_is_an_empty_stack_by_perf_rules)
{
    static const char text[] = HDR("t", "cpu-clock") "\n" HDR(
        "t", "cpu-clock") "\t    55d4c3a1d000 work+0x5 (/usr/bin/t)\n\n";
    struct bts_perf_script_opts perf = {.convention = BTS_PERF_SCRIPT_PERF, .no_comm = true};
    struct bts_perf_script_opts fg = {.no_comm = true};
    char *got = fold_ok(text, &perf);

    ck_assert_str_eq(got, " 1\nwork 1\n");
    free(got);
    got = fold_ok(text, &fg);
    ck_assert_str_eq(got, "work 250000\n");
    free(got);
}
END_TEST

START_TEST(test_perf_convention_keeps_unknown_symbols)
{
    static const char text[] =
        HDR("t", "cpu-clock") "\t    7f00000a1234 [unknown] (/usr/lib/x86_64-linux-gnu/libm.so.6)\n"
                              "\t    55d4c3a1d000 work+0x5 (/usr/bin/t)\n"
                              "\t               0 [unknown] ([unknown])\n"
                              "\n";
    char *got = fold_ok(text, &perf_conv);

    ck_assert_str_eq(got, "t;[unknown];work;[unknown] 1\n");
    free(got);
}
END_TEST

START_TEST(test_default_keeps_the_first_event_only)
{
    struct bts_perf_script_stats st;
    char err[64];
    int ret;
    char *got = fold(two_events, &perf_conv, NULL, &st, &ret, err, sizeof(err));

    ck_assert_int_eq(ret, 0);
    ck_assert_uint_eq(st.samples, 2);
    ck_assert_uint_eq(st.skipped, 1);
    free(got);
}
END_TEST

START_TEST(test_event_option_picks_by_name_without_modifiers)
{
    struct bts_perf_script_opts o = {.convention = BTS_PERF_SCRIPT_PERF, .event = "page-faults"};
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
    struct bts_perf_script_opts o = perf_conv;
    char *got = fold_ok(text, &o);

    ck_assert_str_eq(got, "bt_worker_7;a:b;std::vector<int>::push_back(int const&) 1\n");
    free(got);
    o.include_pid = o.include_tid = true;
    got = fold_ok(text, &o);
    ck_assert_str_eq(got, "bt_worker_7-4101/4102;a:b;std::vector<int>::push_back(int const&) 1\n");
    free(got);
    o = (struct bts_perf_script_opts){.convention = BTS_PERF_SCRIPT_PERF, .thread_roots = true};
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
    struct bts_perf_script_opts o = {.convention = BTS_PERF_SCRIPT_PERF, .use_period = true};
    char *got = fold_ok(text, &perf_conv);

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
    char *got = fold(text, &perf_conv, &d, &st, &ret, err, sizeof(err));

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
    struct bts_perf_script_opts o = {.convention = BTS_PERF_SCRIPT_PERF, .strict = true};
    char err[128] = "";
    int ret;

    ck_assert_ptr_null(fold(text, &o, NULL, NULL, &ret, err, sizeof(err)));
    ck_assert_int_eq(ret, -EBADMSG);
    ck_assert_str_eq(err, "line 5: frame line without an address");
}
END_TEST

/* tests/data/interop/sample.perf-script, read whole; the caller frees. */
static char *sample_fixture(void)
{
    char path[4096], *text = NULL;
    size_t len = 0;
    FILE *f;
    const char *src = getenv("BTS_SOURCE_DIR");

    ck_assert_ptr_nonnull(src);
    snprintf(path, sizeof(path), "%s/tests/data/interop/sample.perf-script", src);
    f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(getdelim(&text, &len, '\0', f) > 0, 1);
    fclose(f);
    return text;
}

START_TEST(test_fixture_matches_expected_folding)
{
    char *text = sample_fixture(), *got;

    got = fold_ok(text, &perf_conv);
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

/* By stackcollapse-perf.pl's rules (the default). */

START_TEST(test_unresolved_frames_name_their_module)
{
    static const char text[] = HDR(
        "dd", "cpu-clock") "\t    7f00000a1234 [unknown] (/usr/lib/x86_64-linux-gnu/libm.so.6)\n"
                           "\t    55d4c3a1d000 work+0x5 (/usr/bin/dd)\n"
                           "\t               0 [unknown] ([unknown])\n"
                           "\n";
    struct bts_perf_script_opts o = {.include_addrs = true};
    char *got = fold_ok(text, NULL);

    ck_assert_str_eq(got, "dd;[unknown];work;[libm.so.6] 250000\n");
    free(got);
    got = fold_ok(text, &o);
    ck_assert_str_eq(got, "dd;[unknown <0>];work;[libm.so.6 <7f00000a1234>] 250000\n");
    free(got);
}
END_TEST

START_TEST(test_argument_lists_go_but_go_methods_and_anonymous_namespaces_stay)
{
    static const char text[] = HDR(
        "srv", "cpu-clock") "\t  4a1b2c std::vector<int>::push_back(int const&)+0x40 (/bin/srv)\n"
                            "\t  4a1b3c ns::(anonymous namespace)::take(long)+0x9 (/bin/srv)\n"
                            "\t  4a1b4c (anonymous namespace)::hidden(int)+0x9 (/bin/srv)\n"
                            "\t  4a1b5c net/http.(*Client).Do+0x2f (/bin/srv)\n"
                            "\t  4a1b6c RegExp:[&<>\"'];x (/tmp/perf-12.map)\n"
                            "\n";
    char *got = fold_ok(text, NULL);

    /* A symbol that starts with '(' is left out, as the script does. */
    ck_assert_str_eq(got,
                     "srv;RegExp:[&<>]:x;net/http.(*Client).Do;ns::(anonymous namespace)::take;"
                     "std::vector<int>::push_back 250000\n");
    free(got);
}
END_TEST

START_TEST(test_java_processes_lose_the_leading_L_of_class_paths)
{
    static const char text[] =
        HDR("java", "cpu-clock") "\t 7f01 Lorg/x/Factory;.call(Lorg/x/Action;)Ljava/lang/Object; "
                                 "(/tmp/perf-9.map)\n"
                                 "\t 7f02 LBusy;::main (/tmp/perf-9.map)\n"
                                 "\n" HDR("node", "cpu-clock") "\t 7f01 Lorg/x/Factory;.call "
                                                               "(/tmp/perf-9.map)\n"
                                                               "\n";
    struct bts_perf_script_opts o = {.annotate_jit = true, .include_tid = true};
    char *got = fold_ok(text, NULL);

    ck_assert_str_eq(got, "java;LBusy:::main;org/x/Factory:.call 250000\n"
                          "node;Lorg/x/Factory:.call 250000\n");
    free(got);
    got = fold_ok(text, &o);
    ck_assert_str_eq(got, "java-4101/4101;LBusy:::main_[j];org/x/Factory:.call_[j] 250000\n"
                          "node-4101/4101;Lorg/x/Factory:.call_[j] 250000\n");
    free(got);
}
END_TEST

START_TEST(test_inline_chains_and_kernel_modules_are_annotated)
{
    static const char text[] =
        HDR("k", "cpu-clock") "\t 401000 leaf->inner+0x8 (/usr/bin/k)\n"
                              "\t ffffffff8103ce3b nf_hook+0x7f ([nf_conntrack_ipv4])\n"
                              "\t 8c3453 tcp_sendmsg (/lib/modules/4.3/build/vmlinux)\n"
                              "\t ffffffff81000000 [unknown] ([unknown])\n"
                              "\n";
    struct bts_perf_script_opts o = {.annotate_kernel = true};
    char *got = fold_ok(text, NULL);

    /* "k" is one byte: the script's comm needs two, so it grows to the
     * time field; the pid is then the period. */
    ck_assert_str_eq(got, "k_4101/4101_[000]__100.000100:;[unknown];tcp_sendmsg;nf_hook;leaf;"
                          "inner_[i] 250000\n");
    free(got);
    got = fold_ok(text, &o);
    ck_assert_str_eq(got, "k_4101/4101_[000]__100.000100:;[unknown];tcp_sendmsg_[k];nf_hook_[k];"
                          "leaf;inner_[i] 250000\n");
    free(got);
}
END_TEST

START_TEST(test_headers_of_every_perf_version_give_comm_pid_and_tid)
{
    static const char text[] = "java 25607 4794564.109216: cycles:\n"
                               "\t 7f01 a (/bin/j)\n\n"
                               "V8 WorkerThread 24636/25607 [000] 94564.109216: 100 cycles:\n"
                               "\t 7f01 b (/bin/j)\n\n"
                               "java 12688/12764 6544038.708352: 10309278 cycles:\n"
                               "\t 7f01 c (/bin/j)\n\n"
                               "swapper     0/0     [001]   264.594886:     0 cycles: \n"
                               "\t 7f01 d (/bin/j)\n\n";
    struct bts_perf_script_opts o = {.include_tid = true};
    char *got = fold_ok(text, NULL);

    ck_assert_str_eq(got, "V8_WorkerThread;b 100\n"
                          "java;a 1\n"
                          "java;c 10309278\n"
                          "swapper;d 1\n");
    free(got);
    got = fold_ok(text, &o);
    ck_assert_str_eq(got, "V8_WorkerThread-24636/25607;b 100\n"
                          "java-12688/12764;c 10309278\n"
                          "java-?/25607;a 1\n"
                          "swapper-?/0;d 1\n");
    free(got);
}
END_TEST

START_TEST(test_only_an_empty_line_ends_a_sample)
{
    static const char text[] = HDR("bt", "cpu-clock") /* 1 */
        "\t 401000 leaf (/bin/bt)\n"                  /* 2 */
        "   \n"                                       /* 3: warned, the sample goes on */
        "\t 401100 main (/bin/bt)\n"                  /* 4 */
        "this line is neither\n"                      /* 5 */
        "\n" HDR("bt", "cpu-clock")                   /* 6, 7 */
        "\t 401000 cut_short (/bin/bt)\n";            /* 8: no empty line follows */
    struct diags d = {0};
    struct bts_perf_script_stats st;
    char err[128] = "";
    int ret;
    char *got = fold(text, NULL, &d, &st, &ret, err, sizeof(err));

    ck_assert_int_eq(ret, 0);
    ck_assert_str_eq(got, "bt;main;leaf 250000\n");
    ck_assert_str_eq(
        d.text,
        "perf.txt:3: line of only blanks (an empty line ends a sample)\n"
        "perf.txt:5: unrecognized line: neither a sample header nor a frame\n"
        "perf.txt:7: sample left out: no empty line ends it (the input may be cut short)\n");
    ck_assert_uint_eq(st.malformed, 2);
    ck_assert_uint_eq(st.samples, 1);
    free(got);
}
END_TEST

START_TEST(test_a_line_over_the_limit_stops_the_read_with_its_line_number)
{
    /* A header, then a frame line longer than any real one, with and
     * without its newline: memory stays bounded either way. */
    size_t n = BTS_LINE_LIMIT_BYTES + 10;
    for (int with_newline = 0; with_newline < 2; with_newline++) {
        char *text = malloc(n + 128);
        struct diags d = {0};
        char err[128] = "";
        int ret;

        ck_assert_ptr_nonnull(text);
        size_t k = (size_t)sprintf(text, HDR("bt", "cpu-clock") "\t 401000 ");
        memset(text + k, 'x', n);
        strcpy(text + k + n, with_newline ? "\n\n" : "");
        ck_assert_ptr_null(fold(text, NULL, &d, NULL, &ret, err, sizeof(err)));
        ck_assert_int_eq(ret, -EMSGSIZE);
        ck_assert_str_eq(d.text, "perf.txt:2: " BTS_LINE_LIMIT_REASON "\n");
        free(text);
    }
}
END_TEST

START_TEST(test_strict_stops_at_an_unrecognized_line)
{
    static const char text[] = HDR("bt", "cpu-clock") "\t 401000 leaf (/bin/bt)\n"
                                                      "\t no module here\n";
    struct bts_perf_script_opts o = {.strict = true};
    char err[128] = "";
    int ret;

    ck_assert_ptr_null(fold(text, &o, NULL, NULL, &ret, err, sizeof(err)));
    ck_assert_int_eq(ret, -EBADMSG);
    ck_assert_str_eq(err, "line 3: unrecognized line: neither a sample header nor a frame");
}
END_TEST

START_TEST(test_the_first_event_is_kept_and_others_are_noted_once)
{
    static const char text[] = HDR("bt", "cpu-clock:pppH") "\t 401000 a (/bin/bt)\n\n" /* 1-3 */
        HDR("bt", "page-faults:u") "\t 401000 b (/bin/bt)\n\n"                         /* 4-6 */
        HDR("bt", "cpu-clock") "\t 401000 c (/bin/bt)\n\n";                            /* 7-9 */
    struct bts_perf_script_opts o = {.event = "cpu-clock"};
    struct diags d = {0};
    struct bts_perf_script_stats st;
    char err[64];
    int ret;
    char *got = fold(text, NULL, &d, &st, &ret, err, sizeof(err));

    /* The default filter is the first event as printed, modifiers included. */
    ck_assert_str_eq(got, "bt;a 250000\n");
    ck_assert_uint_eq(st.skipped, 2);
    ck_assert_str_eq(d.text, "perf.txt:4: samples of event 'page-faults:u' left out: only "
                             "'cpu-clock:pppH', the first event, is folded (choose one with "
                             "--event-filter)\n");
    free(got);
    got = fold_ok(text, &o);
    ck_assert_str_eq(got, "bt;a 250000\nbt;c 250000\n");
    free(got);
    o.event_exact = true;
    got = fold_ok(text, &o);
    ck_assert_str_eq(got, "bt;c 250000\n");
    free(got);
}
END_TEST

START_TEST(test_fixture_folds_by_the_script_rules)
{
    char *text = sample_fixture(), *got;

    got = fold_ok(text, NULL);
    ck_assert_str_eq(got,
                     "bt-engine;__libc_start_call_main;main;bte_run_backtest;bte_phase_history "
                     "250000\n"
                     "bt-engine;__libc_start_call_main;main;bte_run_backtest;bte_phase_history;"
                     "asm_exc_page_fault;do_anonymous_page;clear_page_erms 250000\n"
                     "bt-engine;main;a:b 250000\n"
                     "bt_worker;[unknown];bte_worker_main;std::vector<double, "
                     "std::allocator<double> >::push_back;[libm.so.6] 500000\n");
    free(got);
    free(text);
}
END_TEST

Suite *bts_perf_script_suite(void)
{
    Suite *s = suite_create("perf-script");
    TCase *f = tcase_create("folding"), *e = tcase_create("events"), *m = tcase_create("malformed");
    TCase *g = tcase_create("flamegraph");

    tcase_add_test(g, test_unresolved_frames_name_their_module);
    tcase_add_test(g, test_argument_lists_go_but_go_methods_and_anonymous_namespaces_stay);
    tcase_add_test(g, test_java_processes_lose_the_leading_L_of_class_paths);
    tcase_add_test(g, test_inline_chains_and_kernel_modules_are_annotated);
    tcase_add_test(g, test_headers_of_every_perf_version_give_comm_pid_and_tid);
    tcase_add_test(g, test_only_an_empty_line_ends_a_sample);
    tcase_add_test(g, test_strict_stops_at_an_unrecognized_line);
    tcase_add_test(g, test_a_line_over_the_limit_stops_the_read_with_its_line_number);
    tcase_add_test(g, test_the_first_event_is_kept_and_others_are_noted_once);
    tcase_add_test(g, test_fixture_folds_by_the_script_rules);
    tcase_add_test(f, test_frames_fold_root_first_with_comm_and_no_offsets);
    tcase_add_test(f, test_kernel_frames_get_k_suffix_on_request);
    tcase_add_test(f, test_perf_convention_keeps_unknown_symbols);
    tcase_add_test(f, test_a_frameless_sample_without_comm_is_an_empty_stack_by_perf_rules);
    tcase_add_test(f, test_comm_with_spaces_digits_and_thread_roots);
    tcase_add_test(f, test_period_weighting_and_samples_without_callchain);
    tcase_add_test(f, test_fixture_matches_expected_folding);
    tcase_add_test(f, test_sniff_recognises_perf_script_only);
    tcase_add_test(e, test_default_keeps_the_first_event_only);
    tcase_add_test(e, test_event_option_picks_by_name_without_modifiers);
    tcase_add_test(m, test_malformed_lines_are_reported_with_line_numbers);
    tcase_add_test(m, test_strict_mode_stops_at_the_first_malformed_line);
    suite_add_tcase(s, g);
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
