/* SPDX-License-Identifier: MIT */
/* check-jit-map: /tmp/perf-PID.map parsing, growth and rewrites. */
#define _GNU_SOURCE

#include "jit-map-private.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char map_path[64];

static void make_path(void)
{
    snprintf(map_path, sizeof(map_path), "/tmp/bts-check-jit-%d.map", (int)getpid());
    unlink(map_path);
}

static void write_map(const char *mode, const char *text)
{
    FILE *f = fopen(map_path, mode);
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

START_TEST(test_jit_map_finds_entries_with_and_without_0x)
{
    make_path();
    write_map("w", "7f0000001000 40 LazyCompile:~run app.js:1\n"
                   "0x7f0000002000 0x10 py::step:bt.py\n");
    struct bts_jit_map *jit = bts_jit_map_new(map_path);
    const char *a = bts_jit_map_find(jit, 0x7f000000103f);
    const char *b = bts_jit_map_find(jit, 0x7f0000002000);
    const char *past = bts_jit_map_find(jit, 0x7f0000001040);
    const char *before = bts_jit_map_find(jit, 0x7f0000000fff);
    char *sa = a ? strdup(a) : NULL, *sb = b ? strdup(b) : NULL;
    bts_jit_map_free(jit);
    unlink(map_path);
    ck_assert_str_eq(sa, "LazyCompile:~run app.js:1");
    ck_assert_str_eq(sb, "py::step:bt.py");
    ck_assert_ptr_null(past);
    ck_assert_ptr_null(before);
    free(sa);
    free(sb);
}
END_TEST

START_TEST(test_jit_map_skips_malformed_lines)
{
    make_path();
    write_map("w", "garbage\n"
                   "1000 zz bad-size\n"
                   "2000 0 zero-size\n"
                   "3000 10\n"
                   "4000 10 good\r\n");
    struct bts_jit_map *jit = bts_jit_map_new(map_path);
    ck_assert_ptr_null(bts_jit_map_find(jit, 0x1000));
    ck_assert_ptr_null(bts_jit_map_find(jit, 0x2000));
    ck_assert_ptr_null(bts_jit_map_find(jit, 0x3000));
    ck_assert_str_eq(bts_jit_map_find(jit, 0x4008), "good");
    bts_jit_map_free(jit);
    unlink(map_path);
}
END_TEST

START_TEST(test_jit_map_reads_lines_appended_later)
{
    make_path();
    write_map("w", "1000 100 first\n5000 10 half");
    struct bts_jit_map *jit = bts_jit_map_new(map_path);
    ck_assert_str_eq(bts_jit_map_find(jit, 0x1080), "first");
    /* The unfinished line is not used until its newline arrives. */
    ck_assert_ptr_null(bts_jit_map_find(jit, 0x5000));
    write_map("a", "-done\n800 10 earlier\n");
    ck_assert_str_eq(bts_jit_map_find(jit, 0x5004), "half-done");
    ck_assert_str_eq(bts_jit_map_find(jit, 0x808), "earlier");
    ck_assert_str_eq(bts_jit_map_find(jit, 0x1000), "first");
    bts_jit_map_free(jit);
    unlink(map_path);
}
END_TEST

START_TEST(test_jit_map_prefers_later_entry_at_same_address)
{
    make_path();
    write_map("w", "1000 100 old\n1000 100 new\n");
    struct bts_jit_map *jit = bts_jit_map_new(map_path);
    ck_assert_str_eq(bts_jit_map_find(jit, 0x1010), "new");
    bts_jit_map_free(jit);
    unlink(map_path);
}
END_TEST

START_TEST(test_jit_map_rereads_a_file_that_shrank)
{
    make_path();
    write_map("w", "1000 100 a-rather-long-name-for-the-old-process\n");
    struct bts_jit_map *jit = bts_jit_map_new(map_path);
    ck_assert_str_eq(bts_jit_map_find(jit, 0x1000), "a-rather-long-name-for-the-old-process");
    write_map("w", "9000 10 fresh\n");
    ck_assert_str_eq(bts_jit_map_find(jit, 0x9000), "fresh");
    ck_assert_ptr_null(bts_jit_map_find(jit, 0x2000));
    bts_jit_map_free(jit);
    unlink(map_path);
}
END_TEST

START_TEST(test_jit_map_without_file_finds_nothing)
{
    make_path();
    struct bts_jit_map *jit = bts_jit_map_new(map_path);
    ck_assert_ptr_nonnull(jit);
    ck_assert_ptr_null(bts_jit_map_find(jit, 0x1000));
    bts_jit_map_free(jit);
    bts_jit_map_free(NULL);
}
END_TEST

Suite *bts_jit_map_suite(void);

Suite *bts_jit_map_suite(void)
{
    Suite *s = suite_create("jit_map");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, test_jit_map_finds_entries_with_and_without_0x);
    tcase_add_test(tc, test_jit_map_skips_malformed_lines);
    tcase_add_test(tc, test_jit_map_without_file_finds_nothing);
    suite_add_tcase(s, tc);
    tc = tcase_create("updates");
    tcase_add_test(tc, test_jit_map_reads_lines_appended_later);
    tcase_add_test(tc, test_jit_map_prefers_later_entry_at_same_address);
    tcase_add_test(tc, test_jit_map_rereads_a_file_that_shrank);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(bts_jit_map_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
