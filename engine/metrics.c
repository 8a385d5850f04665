/* SPDX-License-Identifier: MIT */
/* metrics: return, CAGR, Sharpe, Sortino, drawdown and win rate of an equity curve. */
#include "bte.h"

#include <errno.h>
#include <math.h>

int bte_metrics_compute(const double *equity, size_t n, unsigned periods_per_year,
                        const double *trade_pnl, size_t ntrades, struct bte_metrics *out)
{
    int ret = 0;
    *out = (struct bte_metrics){0};
    if (n == 0 || equity[0] <= 0.0 || periods_per_year == 0) {
        ret = -EINVAL;
        goto out;
    }
    double ppy = (double)periods_per_year;
    out->total_return = equity[n - 1] / equity[0] - 1.0;
    size_t k = n - 1;
    if (k > 0 && equity[n - 1] > 0.0)
        out->cagr = pow(equity[n - 1] / equity[0], ppy / (double)k) - 1.0;

    double sum = 0.0, downsq = 0.0, peak = equity[0];
    for (size_t i = 0; i < n; i++) {
        if (equity[i] > peak)
            peak = equity[i];
        double dd = (peak - equity[i]) / peak;
        if (dd > out->max_drawdown)
            out->max_drawdown = dd;
        if (i == 0)
            continue;
        double r = equity[i] / equity[i - 1] - 1.0;
        sum += r;
        if (r < 0.0)
            downsq += r * r;
    }
    if (k >= 2) {
        double mean = sum / (double)k, var = 0.0;
        for (size_t i = 1; i < n; i++) {
            double d = equity[i] / equity[i - 1] - 1.0 - mean;
            var += d * d;
        }
        double sd = sqrt(var / (double)(k - 1));
        if (sd > 0.0)
            out->sharpe = mean / sd * sqrt(ppy);
        double downside = sqrt(downsq / (double)k);
        if (downside > 0.0)
            out->sortino = mean / downside * sqrt(ppy);
    }
    size_t wins = 0;
    for (size_t i = 0; i < ntrades; i++)
        wins += trade_pnl[i] > 0.0;
    out->trades = ntrades;
    out->win_rate = ntrades ? (double)wins / (double)ntrades : 0.0;
out:
    return ret;
}
