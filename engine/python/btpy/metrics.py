# SPDX-License-Identifier: MIT
"""metrics: return, CAGR, Sharpe, Sortino, drawdown and win rate of an equity curve."""

import math


class Metrics:
    __slots__ = ("total_return", "cagr", "sharpe", "sortino", "max_drawdown", "win_rate",
                 "trades")

    def __init__(self):
        self.total_return = self.cagr = self.sharpe = self.sortino = 0.0
        self.max_drawdown = self.win_rate = 0.0
        self.trades = 0


def metrics_compute(equity, periods_per_year, trade_pnl):
    """Metrics of an equity curve (all points > 0) and the P&L of each closed
    round trip; ratios with a zero denominator are 0. Loops are sequential, in
    the engine's order, so the values match bt-engine's to the last bit."""
    out = Metrics()
    n = len(equity)
    if n == 0 or equity[0] <= 0.0 or periods_per_year <= 0:
        raise ValueError("empty or non-positive equity curve")
    ppy = float(periods_per_year)
    out.total_return = equity[n - 1] / equity[0] - 1.0
    k = n - 1
    if k > 0 and equity[n - 1] > 0.0:
        out.cagr = math.pow(equity[n - 1] / equity[0], ppy / k) - 1.0
    total = downsq = 0.0
    peak = equity[0]
    for i in range(n):
        e = equity[i]
        if e > peak:
            peak = e
        dd = (peak - e) / peak
        if dd > out.max_drawdown:
            out.max_drawdown = dd
        if i == 0:
            continue
        r = e / equity[i - 1] - 1.0
        total += r
        if r < 0.0:
            downsq += r * r
    if k >= 2:
        mean = total / k
        var = 0.0
        for i in range(1, n):
            d = equity[i] / equity[i - 1] - 1.0 - mean
            var += d * d
        sd = math.sqrt(var / (k - 1))
        if sd > 0.0:
            out.sharpe = mean / sd * math.sqrt(ppy)
        downside = math.sqrt(downsq / k)
        if downside > 0.0:
            out.sortino = mean / downside * math.sqrt(ppy)
    wins = 0
    for pnl in trade_pnl:
        if pnl > 0.0:
            wins += 1
    out.trades = len(trade_pnl)
    out.win_rate = wins / len(trade_pnl) if trade_pnl else 0.0
    return out
