/* SPDX-License-Identifier: MIT */
/* check-indicators: each indicator, naive and incremental, against plain reference formulas. */
#include "bte.h"

#include <check.h>
#include <math.h>
#include <stdlib.h>

#define N      1500
#define WINDOW 600
#define TOL    1e-9

static double close_[N], high_[N], low_[N];

/* A random walk with highs and lows around it, from a fixed LCG seed. */
static void make_series(unsigned seed, bool cents)
{
    srand(seed);
    double p = 100.0;
    for (int i = 0; i < N; i++) {
        p *= 1.0 + ((double)rand() / RAND_MAX - 0.5) * 0.04;
        double up = (double)rand() / RAND_MAX * 0.01 * p,
               down = (double)rand() / RAND_MAX * 0.01 * p;
        close_[i] = cents ? round(p * 100.0) : p;
        high_[i] = cents ? round((p + up) * 100.0) : p + up;
        low_[i] = cents ? round((p - down) * 100.0) : p - down;
    }
}

static size_t window_start(size_t t)
{
    return t + 1 > WINDOW ? t + 1 - WINDOW : 0;
}

static void assert_close(double got, double want, size_t t)
{
    double scale = fabs(want) > 1.0 ? fabs(want) : 1.0;
    ck_assert_msg(fabs(got - want) <= TOL * scale, "bar %zu: got %.17g, want %.17g", t, got, want);
}

static double ref_mean(const double *x, size_t t, unsigned p, size_t *m_out)
{
    size_t m = t + 1 < p ? t + 1 : p;
    double sum = 0;
    for (size_t i = t + 1 - m; i <= t; i++)
        sum += x[i];
    *m_out = m;
    return sum / (double)m;
}

START_TEST(test_sma_naive_and_incremental_match_the_mean_of_the_last_period_closes)
{
    make_series(1, false);
    struct bte_sma_state st;
    bte_sma_init(&st, 30);
    for (size_t t = 0; t < N; t++) {
        size_t m, s = window_start(t);
        double want = ref_mean(close_, t, 30, &m);
        assert_close(bte_sma_naive(close_ + s, t + 1 - s, 30), want, t);
        assert_close(bte_sma_update(&st, close_ + s, t + 1 - s), want, t);
    }
}
END_TEST

START_TEST(test_ema_naive_and_incremental_match_the_full_recursion)
{
    make_series(2, false);
    struct bte_ema_state st;
    bte_ema_init(&st, 20);
    double a = 2.0 / 21.0, e = close_[0];
    for (size_t t = 0; t < N; t++) {
        if (t > 0)
            e = e + a * (close_[t] - e);
        size_t s = window_start(t);
        assert_close(bte_ema_naive(close_ + s, t + 1 - s, 20), e, t);
        assert_close(bte_ema_update(&st, close_[t]), e, t);
    }
}
END_TEST

START_TEST(test_rsi_naive_and_incremental_match_wilder_smoothing)
{
    make_series(3, false);
    struct bte_rsi_state st;
    bte_rsi_init(&st, 14);
    double gain = 0, loss = 0;
    for (size_t t = 0; t < N; t++) {
        double want = 50.0;
        if (t >= 1) {
            double d = close_[t] - close_[t - 1];
            double g = d > 0 ? d : 0, l = d < 0 ? -d : 0;
            gain = t == 1 ? g : gain + (g - gain) / 14.0;
            loss = t == 1 ? l : loss + (l - loss) / 14.0;
            double rs = gain / loss;
            want = loss == 0 ? (gain == 0 ? 50.0 : 100.0) : 100.0 * rs / (1.0 + rs);
        }
        size_t s = window_start(t);
        assert_close(bte_rsi_naive(close_ + s, t + 1 - s, 14), want, t);
        assert_close(bte_rsi_update(&st, close_[t]), want, t);
    }
}
END_TEST

START_TEST(test_bollinger_naive_and_incremental_match_two_pass_mean_and_std)
{
    make_series(4, false);
    struct bte_bollinger_state st;
    bte_bollinger_init(&st, 20, 2.0);
    for (size_t t = 0; t < N; t++) {
        size_t m, s = window_start(t);
        double mean = ref_mean(close_, t, 20, &m), ss = 0;
        for (size_t i = t + 1 - m; i <= t; i++)
            ss += (close_[i] - mean) * (close_[i] - mean);
        double sd = sqrt(ss / (double)m);
        struct bte_bollinger nv = bte_bollinger_naive(close_ + s, t + 1 - s, 20, 2.0);
        struct bte_bollinger inc = bte_bollinger_update(&st, close_ + s, t + 1 - s);
        assert_close(nv.mid, mean, t);
        assert_close(nv.upper, mean + 2 * sd, t);
        assert_close(nv.lower, mean - 2 * sd, t);
        assert_close(inc.mid, mean, t);
        assert_close(inc.upper, mean + 2 * sd, t);
        assert_close(inc.lower, mean - 2 * sd, t);
    }
}
END_TEST

START_TEST(test_macd_naive_and_incremental_match_ema_difference_and_signal)
{
    make_series(5, false);
    struct bte_macd_state st;
    bte_macd_init(&st, 12, 26, 9);
    double ef = close_[0], es = close_[0], sig = 0;
    for (size_t t = 0; t < N; t++) {
        if (t > 0) {
            ef = ef + 2.0 / 13.0 * (close_[t] - ef);
            es = es + 2.0 / 27.0 * (close_[t] - es);
            sig = sig + 2.0 / 10.0 * ((ef - es) - sig);
        }
        size_t s = window_start(t);
        struct bte_macd nv = bte_macd_naive(close_ + s, t + 1 - s, 12, 26, 9);
        struct bte_macd inc = bte_macd_update(&st, close_[t]);
        assert_close(nv.macd, ef - es, t);
        assert_close(nv.signal, sig, t);
        assert_close(nv.hist, ef - es - sig, t);
        assert_close(inc.macd, ef - es, t);
        assert_close(inc.signal, sig, t);
        assert_close(inc.hist, ef - es - sig, t);
    }
}
END_TEST

START_TEST(test_atr_naive_and_incremental_match_smoothed_true_range)
{
    make_series(6, false);
    struct bte_atr_state st;
    bte_atr_init(&st, 14);
    double atr = 0;
    for (size_t t = 0; t < N; t++) {
        double tr = high_[t] - low_[t];
        if (t > 0) {
            tr = fmax(tr, fmax(fabs(high_[t] - close_[t - 1]), fabs(low_[t] - close_[t - 1])));
            atr = atr + (tr - atr) / 14.0;
        } else {
            atr = tr;
        }
        size_t s = window_start(t);
        assert_close(bte_atr_naive(high_ + s, low_ + s, close_ + s, t + 1 - s, 14), atr, t);
        assert_close(bte_atr_update(&st, high_[t], low_[t], close_[t]), atr, t);
    }
}
END_TEST

START_TEST(test_sma_and_bollinger_modes_are_bit_identical_on_whole_cents)
{
    make_series(7, true);
    struct bte_sma_state sma;
    struct bte_bollinger_state bb;
    bte_sma_init(&sma, 50);
    bte_bollinger_init(&bb, 20, 2.0);
    for (size_t t = 0; t < N; t++) {
        size_t s = window_start(t), n = t + 1 - s;
        ck_assert(bte_sma_naive(close_ + s, n, 50) == bte_sma_update(&sma, close_ + s, n));
        struct bte_bollinger a = bte_bollinger_naive(close_ + s, n, 20, 2.0);
        struct bte_bollinger b = bte_bollinger_update(&bb, close_ + s, n);
        ck_assert(a.mid == b.mid && a.upper == b.upper && a.lower == b.lower);
    }
}
END_TEST

START_TEST(test_window_length_covers_periods_and_recursion_memory)
{
    struct bte_params p;
    bte_params_default(&p);
    size_t w = bte_window_length(&p);
    ck_assert_uint_gt(w, 200);
    /* Wilder smoothing at 14 must have forgotten its seed: (13/14)^w < 1e-16. */
    ck_assert(pow(13.0 / 14.0, (double)w) < 1e-16);
    p.slow = 1500;
    ck_assert_uint_ge(bte_window_length(&p), 1501);
}
END_TEST

Suite *bts_indicators_suite(void)
{
    Suite *s = suite_create("indicators");
    struct {
        const char *name;
        const TTest *test;
    } cases[] = {
        {"sma", test_sma_naive_and_incremental_match_the_mean_of_the_last_period_closes},
        {"ema", test_ema_naive_and_incremental_match_the_full_recursion},
        {"rsi", test_rsi_naive_and_incremental_match_wilder_smoothing},
        {"bollinger", test_bollinger_naive_and_incremental_match_two_pass_mean_and_std},
        {"macd", test_macd_naive_and_incremental_match_ema_difference_and_signal},
        {"atr", test_atr_naive_and_incremental_match_smoothed_true_range},
        {"exactness", test_sma_and_bollinger_modes_are_bit_identical_on_whole_cents},
        {"window", test_window_length_covers_periods_and_recursion_memory},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        TCase *tc = tcase_create(cases[i].name);
        tcase_add_test(tc, cases[i].test);
        suite_add_tcase(s, tc);
    }
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(bts_indicators_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
