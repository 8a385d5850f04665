/* SPDX-License-Identifier: MIT */
/* check-backtest: determinism across threads, jobs and modes, fills, stopping and grids. */
#include "bte.h"

#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#define SYMBOLS 4
#define BARS    1200

static struct bte_data *data;

static void data_setup(void)
{
    data = bte_data_new(SYMBOLS, BARS, 1234);
    ck_assert_ptr_nonnull(data);
}

static void data_teardown(void)
{
    bte_data_free(data);
    data = NULL;
}

static uint64_t checksum_of(const struct bte_config *cfg, size_t *fills)
{
    struct bte_result *r = bte_run_backtest(data, cfg, NULL);
    ck_assert_ptr_nonnull(r);
    ck_assert(bte_result_complete(r));
    ck_assert_uint_eq(bte_result_symbol_bars(r), (uint64_t)SYMBOLS * BARS);
    if (fills)
        bte_result_fills(r, fills);
    uint64_t sum = bte_result_checksum(r);
    bte_result_free(r);
    return sum;
}

START_TEST(test_checksum_is_the_same_for_any_threads_history_and_indicators)
{
    for (int strategy = BTE_STRATEGY_SMA_CROSS; strategy <= BTE_STRATEGY_BOLLINGER; strategy++) {
        struct bte_config cfg;
        bte_config_default(&cfg);
        cfg.strategy = (enum bte_strategy)strategy;
        cfg.params.fast = 20;
        cfg.params.slow = 60;
        size_t fills = 0;
        uint64_t want = checksum_of(&cfg, &fills);
        ck_assert_msg(fills > 0, "strategy %d made no trades", strategy);
        for (unsigned threads = 1; threads <= 3; threads += 2)
            for (int h = BTE_HISTORY_NAIVE; h <= BTE_HISTORY_FAST; h++)
                for (int i = BTE_INDICATORS_NAIVE; i <= BTE_INDICATORS_INCREMENTAL; i++) {
                    cfg.threads = threads;
                    cfg.history = (enum bte_history_mode)h;
                    cfg.indicators = (enum bte_indicator_mode)i;
                    ck_assert_msg(checksum_of(&cfg, NULL) == want,
                                  "strategy %d threads %u history %d indicators %d", strategy,
                                  threads, h, i);
                }
    }
}
END_TEST

START_TEST(test_different_seeds_give_different_checksums)
{
    struct bte_config cfg;
    bte_config_default(&cfg);
    cfg.history = BTE_HISTORY_FAST;
    cfg.params.fast = 20;
    cfg.params.slow = 60;
    uint64_t a = checksum_of(&cfg, NULL);
    struct bte_data *other = bte_data_new(SYMBOLS, BARS, 1235);
    ck_assert_ptr_nonnull(other);
    struct bte_result *r = bte_run_backtest(other, &cfg, NULL);
    ck_assert_ptr_nonnull(r);
    ck_assert_uint_ne(bte_result_checksum(r), a);
    bte_result_free(r);
    bte_data_free(other);
}
END_TEST

START_TEST(test_fills_are_whole_cents_and_equity_starts_at_capital)
{
    struct bte_config cfg;
    bte_config_default(&cfg);
    cfg.history = BTE_HISTORY_FAST;
    cfg.params.fast = 10;
    cfg.params.slow = 40;
    struct bte_result *r = bte_run_backtest(data, &cfg, NULL);
    ck_assert_ptr_nonnull(r);
    size_t n, nfills;
    const double *equity = bte_result_equity(r, &n);
    const struct bte_fill *fills = bte_result_fills(r, &nfills);
    ck_assert_uint_eq(n, BARS);
    ck_assert_double_eq_tol(equity[0], cfg.capital, 0.01);
    ck_assert_uint_gt(nfills, 0);
    int64_t position[SYMBOLS] = {0};
    for (size_t i = 0; i < nfills; i++) {
        ck_assert_double_eq(fills[i].price, floor(fills[i].price));
        ck_assert(fills[i].commission >= 100.0);
        ck_assert_uint_lt(fills[i].symbol, SYMBOLS);
        position[fills[i].symbol] += fills[i].qty;
        ck_assert_int_ge(position[fills[i].symbol], 0); /* long only */
    }
    uint64_t ns[BTE_PHASE_COUNT];
    bte_result_phase_ns(r, ns);
    for (int p = 0; p < BTE_PHASE_COUNT; p++)
        ck_assert_uint_gt(ns[p], 0);
    bte_result_free(r);
}
END_TEST

START_TEST(test_market_data_bars_are_consistent_whole_cents)
{
    for (unsigned s = 0; s < SYMBOLS; s++) {
        const struct bte_series *ser = bte_data_series(data, s);
        ck_assert_uint_eq(ser->bars, BARS);
        for (size_t i = 0; i < BARS; i++) {
            ck_assert(ser->low[i] >= 1.0 && ser->low[i] <= ser->open[i]);
            ck_assert(ser->low[i] <= ser->close[i] && ser->high[i] >= ser->close[i]);
            ck_assert(ser->high[i] >= ser->open[i] && ser->close[i] == floor(ser->close[i]));
            ck_assert(ser->volume[i] > 0);
        }
    }
}
END_TEST

START_TEST(test_stop_flag_ends_the_run_with_a_partial_result)
{
    volatile sig_atomic_t stop = 1;
    struct bte_control ctl = {&stop, NULL};
    struct bte_config cfg;
    bte_config_default(&cfg);
    cfg.threads = 2;
    struct bte_result *r = bte_run_backtest(data, &cfg, &ctl);
    ck_assert_ptr_nonnull(r);
    ck_assert(!bte_result_complete(r));
    ck_assert_uint_eq(bte_result_symbol_bars(r), 0);
    bte_result_free(r);
    bte_result_free(NULL);
}
END_TEST

START_TEST(test_expired_deadline_stops_before_the_first_bar)
{
    int64_t deadline = 0;
    struct bte_control ctl = {NULL, &deadline};
    struct bte_config cfg;
    bte_config_default(&cfg);
    struct bte_result *r = bte_run_backtest(data, &cfg, &ctl);
    ck_assert_ptr_nonnull(r);
    ck_assert(!bte_result_complete(r));
    ck_assert_uint_eq(bte_result_symbol_bars(r), 0);
    bte_result_free(r);
}
END_TEST

START_TEST(test_optimize_gives_the_same_best_and_checksum_for_any_jobs)
{
    struct bte_grid *g = bte_grid_parse("fast=10:30:10,slow=50:100:25", NULL);
    ck_assert_ptr_nonnull(g);
    ck_assert_uint_eq(bte_grid_points(g), 9);
    struct bte_config cfg;
    bte_config_default(&cfg);
    cfg.history = BTE_HISTORY_FAST;
    cfg.indicators = BTE_INDICATORS_INCREMENTAL;
    struct bte_optimize_result one, two;
    ck_assert_int_eq(bte_optimize(data, &cfg, g, 1, NULL, &one), 0);
    ck_assert_int_eq(bte_optimize(data, &cfg, g, 2, NULL, &two), 0);
    ck_assert_uint_eq(one.done, 9);
    ck_assert_uint_eq(one.best, two.best);
    ck_assert_uint_eq(one.checksum, two.checksum);
    ck_assert_uint_eq(one.best_checksum, two.best_checksum);
    /* The best point's checksum is that of a plain run with its parameters. */
    ck_assert_int_eq(bte_grid_point(g, one.best, &cfg.params, &cfg.params), 0);
    ck_assert_uint_eq(checksum_of(&cfg, NULL), one.best_checksum);
    bte_grid_free(g);
}
END_TEST

START_TEST(test_grid_points_vary_the_last_key_fastest)
{
    struct bte_grid *g = bte_grid_parse("fast=10:50:10,slow=100:200:25,bb_width=2.5", NULL);
    ck_assert_ptr_nonnull(g);
    ck_assert_uint_eq(bte_grid_points(g), 25);
    struct bte_params base, p;
    bte_params_default(&base);
    ck_assert_int_eq(bte_grid_point(g, 6, &base, &p), 0);
    ck_assert_double_eq(p.fast, 20);
    ck_assert_double_eq(p.slow, 125);
    ck_assert_double_eq(p.bb_width, 2.5);
    char buf[64];
    ck_assert_int_eq(bte_grid_describe(g, 24, buf, sizeof(buf)), 0);
    ck_assert_str_eq(buf, "fast=50 slow=200 bb_width=2.5");
    ck_assert_int_eq(bte_grid_point(g, 25, &base, &p), -EINVAL);
    bte_grid_free(g);
}
END_TEST

START_TEST(test_bad_grids_are_rejected_with_the_reason)
{
    const char *bad = NULL;
    ck_assert_ptr_null(bte_grid_parse("fast=10:50:10,nope=1", &bad));
    ck_assert_int_eq(errno, ENOENT);
    ck_assert_str_eq(bad, "nope=1");
    ck_assert_ptr_null(bte_grid_parse("fast=0:10:5", &bad));
    ck_assert_int_eq(errno, ERANGE);
    ck_assert_ptr_null(bte_grid_parse("fast=10:5:1", &bad));
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_ptr_null(bte_grid_parse("fast=1:2", &bad));
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_ptr_null(bte_grid_parse("", &bad));
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_ptr_null(bte_grid_parse("fast=1:1000:1,slow=1:2000:1", &bad));
    ck_assert_int_eq(errno, E2BIG);
}
END_TEST

START_TEST(test_params_accept_dashes_and_check_ranges)
{
    struct bte_params p;
    double min, max;
    bte_params_default(&p);
    ck_assert_double_eq(p.fast, 50);
    ck_assert_double_eq(p.slow, 200);
    ck_assert_int_eq(bte_param_set(&p, "rsi-period", 10, NULL, NULL), 0);
    ck_assert_double_eq(p.rsi_period, 10);
    ck_assert_int_eq(bte_param_set(&p, "fast", 0, &min, &max), -ERANGE);
    ck_assert_double_eq(min, 1);
    ck_assert_int_eq(bte_param_set(&p, "fast", 10.5, NULL, NULL), -ERANGE);
    ck_assert_int_eq(bte_param_set(&p, "fast", NAN, NULL, NULL), -ERANGE);
    ck_assert_int_eq(bte_param_set(&p, "speed", 1, NULL, NULL), -ENOENT);
}
END_TEST

Suite *bts_backtest_suite(void)
{
    Suite *s = suite_create("backtest");
    TCase *det = tcase_create("determinism");
    tcase_add_checked_fixture(det, data_setup, data_teardown);
    tcase_add_test(det, test_checksum_is_the_same_for_any_threads_history_and_indicators);
    tcase_add_test(det, test_different_seeds_give_different_checksums);
    tcase_add_test(det, test_optimize_gives_the_same_best_and_checksum_for_any_jobs);
    suite_add_tcase(s, det);
    TCase *exec = tcase_create("execution");
    tcase_add_checked_fixture(exec, data_setup, data_teardown);
    tcase_add_test(exec, test_fills_are_whole_cents_and_equity_starts_at_capital);
    tcase_add_test(exec, test_market_data_bars_are_consistent_whole_cents);
    suite_add_tcase(s, exec);
    TCase *stop = tcase_create("stopping");
    tcase_add_checked_fixture(stop, data_setup, data_teardown);
    tcase_add_test(stop, test_stop_flag_ends_the_run_with_a_partial_result);
    tcase_add_test(stop, test_expired_deadline_stops_before_the_first_bar);
    suite_add_tcase(s, stop);
    TCase *grid = tcase_create("grid");
    tcase_add_test(grid, test_grid_points_vary_the_last_key_fastest);
    tcase_add_test(grid, test_bad_grids_are_rejected_with_the_reason);
    tcase_add_test(grid, test_params_accept_dashes_and_check_ranges);
    suite_add_tcase(s, grid);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(bts_backtest_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
