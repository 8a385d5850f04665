/* SPDX-License-Identifier: MIT */
/* check-metrics: performance metrics on hand-computed equity curves. */
#include "bte.h"

#include <check.h>
#include <errno.h>
#include <stdlib.h>

#define TOL 1e-12

START_TEST(test_metrics_of_four_ten_percent_moves)
{
    /* Returns +10%, -10%, +10%, +10%: mean 0.05, sample std 0.1, downside
     * deviation sqrt(0.01 / 4) = 0.05. Four periods a year make one year. */
    const double equity[] = {100, 110, 99, 108.9, 119.79};
    struct bte_metrics m;
    ck_assert_int_eq(bte_metrics_compute(equity, 5, 4, NULL, 0, &m), 0);
    ck_assert_double_eq_tol(m.total_return, 0.1979, TOL);
    ck_assert_double_eq_tol(m.cagr, 0.1979, TOL);
    ck_assert_double_eq_tol(m.sharpe, 0.05 / 0.1 * 2.0, TOL);
    ck_assert_double_eq_tol(m.sortino, 0.05 / 0.05 * 2.0, TOL);
    ck_assert_double_eq_tol(m.max_drawdown, 0.1, TOL);
    ck_assert_uint_eq(m.trades, 0);
    ck_assert_double_eq(m.win_rate, 0.0);
}
END_TEST

START_TEST(test_max_drawdown_is_the_deepest_fall_from_a_running_peak)
{
    const double equity[] = {100, 120, 90, 95, 130};
    struct bte_metrics m;
    ck_assert_int_eq(bte_metrics_compute(equity, 5, 252, NULL, 0, &m), 0);
    ck_assert_double_eq_tol(m.max_drawdown, 0.25, TOL);
    ck_assert_double_eq_tol(m.total_return, 0.3, TOL);
}
END_TEST

START_TEST(test_flat_curve_has_zero_ratios)
{
    const double equity[] = {50, 50, 50, 50, 50};
    struct bte_metrics m;
    ck_assert_int_eq(bte_metrics_compute(equity, 5, 252, NULL, 0, &m), 0);
    ck_assert_double_eq(m.sharpe, 0.0);
    ck_assert_double_eq(m.sortino, 0.0);
    ck_assert_double_eq(m.max_drawdown, 0.0);
    ck_assert_double_eq(m.cagr, 0.0);
}
END_TEST

START_TEST(test_win_rate_counts_only_profitable_round_trips)
{
    const double equity[] = {100, 101};
    const double pnl[] = {10, -5, 0, 3};
    struct bte_metrics m;
    ck_assert_int_eq(bte_metrics_compute(equity, 2, 252, pnl, 4, &m), 0);
    ck_assert_uint_eq(m.trades, 4);
    ck_assert_double_eq_tol(m.win_rate, 0.5, TOL);
}
END_TEST

START_TEST(test_empty_or_nonpositive_curves_are_rejected)
{
    const double bad[] = {0, 10};
    struct bte_metrics m;
    ck_assert_int_eq(bte_metrics_compute(bad, 0, 252, NULL, 0, &m), -EINVAL);
    ck_assert_int_eq(bte_metrics_compute(bad, 2, 252, NULL, 0, &m), -EINVAL);
}
END_TEST

Suite *bts_metrics_suite(void)
{
    Suite *s = suite_create("metrics");
    TCase *ratios = tcase_create("ratios");
    tcase_add_test(ratios, test_metrics_of_four_ten_percent_moves);
    tcase_add_test(ratios, test_flat_curve_has_zero_ratios);
    suite_add_tcase(s, ratios);
    TCase *drawdown = tcase_create("drawdown");
    tcase_add_test(drawdown, test_max_drawdown_is_the_deepest_fall_from_a_running_peak);
    suite_add_tcase(s, drawdown);
    TCase *trades = tcase_create("trades");
    tcase_add_test(trades, test_win_rate_counts_only_profitable_round_trips);
    suite_add_tcase(s, trades);
    TCase *errors = tcase_create("errors");
    tcase_add_test(errors, test_empty_or_nonpositive_curves_are_rejected);
    suite_add_tcase(s, errors);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(bts_metrics_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
