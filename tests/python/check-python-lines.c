/* SPDX-License-Identifier: MIT */
/* check-python-lines: the three CPython line-table decoders against real
 * tables from 3.8 to 3.13, and against tables no compiler would write. */
#include "python-lines.h"
#include "line-tables.h"

#include <check.h>
#include <limits.h>
#include <stdlib.h>

typedef int (*decoder)(const uint8_t *, size_t, int, int64_t);

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void assert_table(decoder decode, const uint8_t *table, size_t len, int first_line,
                         const struct expected_line *want, size_t n)
{
    ck_assert_uint_gt(n, 10);
    for (size_t i = 0; i < n; i++) {
        int got = decode(table, len, first_line, want[i].offset);

        ck_assert_msg(got == want[i].line, "offset %d: line %d, CPython says %d", want[i].offset,
                      got, want[i].line);
    }
}

START_TEST(test_lnotab_gives_cpython_lines_for_3_8)
{
    assert_table(bts_python_lnotab_line, table_38, N(table_38), FIRST_LINE_38, lines_38,
                 N(lines_38));
}
END_TEST

START_TEST(test_lnotab_gives_cpython_lines_for_3_9)
{
    assert_table(bts_python_lnotab_line, table_39, N(table_39), FIRST_LINE_39, lines_39,
                 N(lines_39));
}
END_TEST

START_TEST(test_linetable_gives_cpython_lines_for_3_10)
{
    assert_table(bts_python_linetable_line, table_310, N(table_310), FIRST_LINE_310, lines_310,
                 N(lines_310));
}
END_TEST

START_TEST(test_locations_give_cpython_lines_for_3_11)
{
    assert_table(bts_python_locations_line, table_311, N(table_311), FIRST_LINE_311, lines_311,
                 N(lines_311));
}
END_TEST

START_TEST(test_locations_give_cpython_lines_for_3_12)
{
    assert_table(bts_python_locations_line, table_312, N(table_312), FIRST_LINE_312, lines_312,
                 N(lines_312));
}
END_TEST

START_TEST(test_locations_give_cpython_lines_for_3_13)
{
    assert_table(bts_python_locations_line, table_313, N(table_313), FIRST_LINE_313, lines_313,
                 N(lines_313));
}
END_TEST

static int highest_line(decoder decode, const uint8_t *table, size_t len,
                        const struct expected_line *at, size_t n)
{
    int high = 0;

    for (size_t i = 0; i < n; i++) {
        int line = decode(table, len, 1, at[i].offset);

        high = line > high ? line : high;
    }
    return high;
}

START_TEST(test_real_tables_reach_the_line_past_the_long_gap)
{
    /* The sample function's last statements sit 300 lines below its
     * loop, which no single table entry can step. */
    ck_assert_int_gt(
        highest_line(bts_python_lnotab_line, table_38, N(table_38), lines_38, N(lines_38)), 300);
    ck_assert_int_gt(
        highest_line(bts_python_linetable_line, table_310, N(table_310), lines_310, N(lines_310)),
        300);
    ck_assert_int_gt(
        highest_line(bts_python_locations_line, table_313, N(table_313), lines_313, N(lines_313)),
        300);
}
END_TEST

START_TEST(test_empty_tables_give_first_line_or_none)
{
    ck_assert_int_eq(bts_python_lnotab_line(NULL, 0, 7, 10), 7);
    ck_assert_int_eq(bts_python_linetable_line(NULL, 0, 7, 10), -1);
    ck_assert_int_eq(bts_python_locations_line(NULL, 0, 7, 10), -1);
}
END_TEST

START_TEST(test_negative_offset_means_not_started_and_gives_first_line)
{
    ck_assert_int_eq(bts_python_lnotab_line(table_38, N(table_38), 5, -1), 5);
    ck_assert_int_eq(bts_python_linetable_line(table_310, N(table_310), 5, -2), 5);
    ck_assert_int_eq(bts_python_locations_line(table_312, N(table_312), 5, -2), 5);
}
END_TEST

START_TEST(test_offsets_past_the_table_have_no_line)
{
    ck_assert_int_eq(bts_python_linetable_line(table_310, N(table_310), 1, 1 << 20), -1);
    ck_assert_int_eq(bts_python_locations_line(table_311, N(table_311), 1, 1 << 20), -1);
}
END_TEST

START_TEST(test_linetable_no_line_marker_keeps_the_running_line)
{
    /* 4 bytes on line +1, 2 bytes without a line, 2 bytes on line +2 */
    const uint8_t table[] = {4, 1, 2, 0x80, 2, 2};

    ck_assert_int_eq(bts_python_linetable_line(table, N(table), 10, 2), 11);
    ck_assert_int_eq(bts_python_linetable_line(table, N(table), 10, 4), -1);
    ck_assert_int_eq(bts_python_linetable_line(table, N(table), 10, 6), 13);
}
END_TEST

START_TEST(test_line_sums_clamp_instead_of_overflowing)
{
    static uint8_t up[4096];

    for (size_t i = 0; i < N(up); i += 2) {
        up[i] = 0;       /* no offset step: every delta applies */
        up[i + 1] = 127; /* +127 lines */
    }
    ck_assert_int_eq(bts_python_lnotab_line(up, N(up), INT_MAX - 10, 0), INT_MAX);
    /* 3.11 long form, line delta +2^31 in a signed varint */
    {
        const uint8_t big[] = {0x80 | (14 << 3), 0x40, 0x40, 0x40, 0x40, 0x40, 0x08, 0, 0, 0};

        ck_assert_int_eq(bts_python_locations_line(big, N(big), INT_MAX - 5, 0), INT_MAX);
    }
}
END_TEST

START_TEST(test_locations_stop_at_a_byte_that_is_not_an_entry)
{
    /* short form entry (kind 0, 1 unit) then garbage without the top bit */
    const uint8_t bad[] = {0x80, 0x05, 0x80 | (10 << 3), 0x01, 0x02};

    ck_assert_int_eq(bts_python_locations_line(bad, N(bad), 3, 0), 3);
    ck_assert_int_eq(bts_python_locations_line(bad, N(bad), 3, 2), 3);
    ck_assert_int_eq(bts_python_locations_line(bad, 1, 3, 2), -1);
}
END_TEST

START_TEST(test_truncated_varint_ends_the_table)
{
    /* no-column kind whose varint never ends before the buffer does */
    const uint8_t cut[] = {0x80 | (13 << 3), 0x42, 0x41, 0x40};

    ck_assert_int_eq(bts_python_locations_line(cut, N(cut), 1, 0) != 0, 1);
    ck_assert_int_eq(bts_python_locations_line(cut, N(cut), 1, 2), -1);
}
END_TEST

Suite *bts_python_lines_suite(void);

Suite *bts_python_lines_suite(void)
{
    Suite *s = suite_create("python_lines");
    TCase *tc = tcase_create("real_tables");

    tcase_add_test(tc, test_lnotab_gives_cpython_lines_for_3_8);
    tcase_add_test(tc, test_lnotab_gives_cpython_lines_for_3_9);
    tcase_add_test(tc, test_linetable_gives_cpython_lines_for_3_10);
    tcase_add_test(tc, test_locations_give_cpython_lines_for_3_11);
    tcase_add_test(tc, test_locations_give_cpython_lines_for_3_12);
    tcase_add_test(tc, test_locations_give_cpython_lines_for_3_13);
    tcase_add_test(tc, test_real_tables_reach_the_line_past_the_long_gap);
    suite_add_tcase(s, tc);
    tc = tcase_create("edges");
    tcase_add_test(tc, test_empty_tables_give_first_line_or_none);
    tcase_add_test(tc, test_negative_offset_means_not_started_and_gives_first_line);
    tcase_add_test(tc, test_offsets_past_the_table_have_no_line);
    tcase_add_test(tc, test_linetable_no_line_marker_keeps_the_running_line);
    suite_add_tcase(s, tc);
    tc = tcase_create("hostile_tables");
    tcase_add_test(tc, test_line_sums_clamp_instead_of_overflowing);
    tcase_add_test(tc, test_locations_stop_at_a_byte_that_is_not_an_entry);
    tcase_add_test(tc, test_truncated_varint_ends_the_table);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(bts_python_lines_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
