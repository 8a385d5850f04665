/* SPDX-License-Identifier: MIT */
/* check-calendar: civil dates, NYSE-like holidays and the session table. */
#include "bte.h"

#include <check.h>
#include <errno.h>
#include <stdlib.h>

static int32_t day_of(int y, unsigned m, unsigned d)
{
    return bte_days_from_civil(y, m, d);
}

START_TEST(test_civil_dates_round_trip_from_1900_to_2200)
{
    ck_assert_int_eq(day_of(1970, 1, 1), 0);
    ck_assert_int_eq(day_of(2000, 1, 1), 10957);
    ck_assert_int_eq(day_of(1969, 12, 31), -1);
    ck_assert_uint_eq(bte_civil_from_days(day_of(2024, 2, 29)), 20240229);
    uint32_t prev = 0;
    for (int32_t d = day_of(1900, 1, 1); d < day_of(2200, 1, 1); d++) {
        uint32_t ymd = bte_civil_from_days(d);
        ck_assert_uint_gt(ymd, prev);
        ck_assert_int_eq(day_of((int)(ymd / 10000), ymd / 100 % 100, ymd % 100), d);
        prev = ymd;
    }
}
END_TEST

START_TEST(test_known_holidays_are_not_sessions)
{
    static const uint32_t holidays[] = {
        20190101, 20190121, 20190218, 20190419, 20190527,
        20190704, 20190902, 20191128, 20191225, 20210705, /* July 4th on a Sunday moves to Monday */
        20211224, /* Christmas on a Saturday moves to Friday */
        20220620, /* Juneteenth (from 2022) on a Sunday moves to Monday */
        20230102, /* New Year on a Sunday moves to Monday */
        20240329, /* Good Friday */
    };
    for (size_t i = 0; i < sizeof(holidays) / sizeof(holidays[0]); i++) {
        uint32_t h = holidays[i];
        int32_t d = day_of((int)(h / 10000), h / 100 % 100, h % 100);
        ck_assert_msg(bte_is_holiday(d), "%u should be a holiday", h);
        ck_assert_msg(!bte_is_session(d), "%u should not be a session", h);
    }
}
END_TEST

START_TEST(test_ordinary_days_and_unobserved_dates_are_sessions)
{
    static const uint32_t sessions[] = {
        20211231, /* New Year 2022 fell on a Saturday: no observed holiday */
        20210618, /* Juneteenth was not a market holiday before 2022 */
        20191224, 20190102, 20220103, 20240328,
    };
    for (size_t i = 0; i < sizeof(sessions) / sizeof(sessions[0]); i++) {
        uint32_t s = sessions[i];
        ck_assert_msg(bte_is_session(day_of((int)(s / 10000), s / 100 % 100, s % 100)),
                      "%u should be a session", s);
    }
    ck_assert(!bte_is_session(day_of(2019, 1, 5))); /* Saturday */
    ck_assert(!bte_is_session(day_of(2019, 1, 6))); /* Sunday */
}
END_TEST

START_TEST(test_sessions_per_year_match_the_exchange)
{
    static const struct {
        int year;
        size_t sessions;
    } years[] = {{2019, 252}, {2021, 252}, {2022, 251}, {2023, 250}};
    for (size_t i = 0; i < sizeof(years) / sizeof(years[0]); i++) {
        size_t n = 0;
        for (int32_t d = day_of(years[i].year, 1, 1); d < day_of(years[i].year + 1, 1, 1); d++)
            n += bte_is_session(d);
        ck_assert_msg(n == years[i].sessions, "%d: %zu sessions", years[i].year, n);
    }
}
END_TEST

START_TEST(test_calendar_lists_consecutive_weekday_sessions)
{
    struct bte_calendar *cal = bte_calendar_new(day_of(2019, 1, 1), 252);
    ck_assert_ptr_nonnull(cal);
    ck_assert_uint_eq(bte_calendar_count(cal), 252);
    ck_assert_uint_eq(bte_civil_from_days(bte_calendar_day(cal, 0)), 20190102);
    ck_assert_uint_eq(bte_civil_from_days(bte_calendar_day(cal, 251)), 20191231);
    for (size_t i = 0; i < 252; i++) {
        int32_t d = bte_calendar_day(cal, i);
        int wd = (int)(((d + 4) % 7 + 7) % 7);
        ck_assert(wd != 0 && wd != 6);
        ck_assert_int_eq(bte_calendar_index(cal, d), (long)i);
        if (i)
            ck_assert_int_gt(d, bte_calendar_day(cal, i - 1));
    }
    /* Friday 2019-01-04 is followed by Monday 2019-01-07. */
    ck_assert_uint_eq(bte_civil_from_days(bte_calendar_day(cal, 3)), 20190107);
    ck_assert_int_eq(bte_calendar_index(cal, day_of(2019, 1, 5)), -ENOENT);
    ck_assert_int_eq(bte_calendar_index(cal, day_of(2019, 7, 4)), -ENOENT);
    bte_calendar_free(cal);
    bte_calendar_free(NULL);
}
END_TEST

START_TEST(test_market_data_starts_on_the_first_session_of_2000)
{
    struct bte_data *data = bte_data_new(2, 300, 7);
    ck_assert_ptr_nonnull(data);
    const struct bte_calendar *cal = bte_data_calendar(data);
    ck_assert_uint_eq(bte_calendar_count(cal), 300);
    ck_assert_uint_eq(bte_civil_from_days(bte_calendar_day(cal, 0)), 20000103);
    /* Martin Luther King day 2000 (Jan 17) is skipped. */
    ck_assert_uint_eq(bte_civil_from_days(bte_calendar_day(cal, 10)), 20000118);
    bte_data_free(data);
}
END_TEST

Suite *bts_calendar_suite(void)
{
    Suite *s = suite_create("calendar");
    TCase *dates = tcase_create("dates");
    tcase_add_test(dates, test_civil_dates_round_trip_from_1900_to_2200);
    suite_add_tcase(s, dates);
    TCase *holidays = tcase_create("holidays");
    tcase_add_test(holidays, test_known_holidays_are_not_sessions);
    tcase_add_test(holidays, test_ordinary_days_and_unobserved_dates_are_sessions);
    tcase_add_test(holidays, test_sessions_per_year_match_the_exchange);
    suite_add_tcase(s, holidays);
    TCase *table = tcase_create("table");
    tcase_add_test(table, test_calendar_lists_consecutive_weekday_sessions);
    tcase_add_test(table, test_market_data_starts_on_the_first_session_of_2000);
    suite_add_tcase(s, table);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(bts_calendar_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
