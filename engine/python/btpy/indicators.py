# SPDX-License-Identifier: MIT
"""indicators: SMA, EMA, RSI, Bollinger, MACD and ATR, recomputed from a window or updated.

The same definitions and the same order of floating-point operations as
engine/indicators.c, so both forms give the native engine's values bit for
bit. Windows are sequences (list, memoryview or ndarray converted to a list)
with the newest bar last. Prices are whole cents, so the sums behind SMA and
Bollinger are exact in any order.
"""

import math


def _ema_alpha(period):
    return 2.0 / (period + 1.0)


def _wilder_alpha(period):
    return 1.0 / period


def _rsi_from(gain, loss):
    if loss == 0.0:
        return 50.0 if gain == 0.0 else 100.0
    return 100.0 - 100.0 / (1.0 + gain / loss)


def _true_range(high, low, prev_close):
    tr = high - low
    up = abs(high - prev_close)
    down = abs(low - prev_close)
    if up > tr:
        tr = up
    if down > tr:
        tr = down
    return tr


def bands_from(total, sumsq, m, k):
    """(mid, upper, lower) from exact sums, shared by both forms."""
    mean = total / m
    var = (m * sumsq - total * total) / (m * m)
    sd = math.sqrt(var) if var > 0.0 else 0.0
    return mean, mean + k * sd, mean - k * sd


# ---- naive forms: recompute over the whole window ------------------------------


def sma_naive(x, n, period):
    m = n if n < period else period
    total = 0.0
    for i in range(n - m, n):
        total += x[i]
    return total / m


def ema_naive(x, n, period):
    alpha = _ema_alpha(period)
    beta = 1.0 - alpha
    e = x[0]
    for i in range(1, n):
        e = alpha * x[i] + beta * e
    return e


def rsi_naive(x, n, period):
    if n < 2:
        return 50.0
    alpha = _wilder_alpha(period)
    beta = 1.0 - alpha
    d = x[1] - x[0]
    gain = d if d > 0 else 0.0
    loss = -d if d < 0 else 0.0
    for i in range(2, n):
        d = x[i] - x[i - 1]
        gain = alpha * (d if d > 0 else 0.0) + beta * gain
        loss = alpha * (-d if d < 0 else 0.0) + beta * loss
    return _rsi_from(gain, loss)


def bollinger_naive(x, n, period, k):
    m = n if n < period else period
    total = sumsq = 0.0
    for i in range(n - m, n):
        v = x[i]
        total += v
        sumsq += v * v
    return bands_from(total, sumsq, float(m), k)


def macd_naive(x, n, fast, slow, signal):
    af, a_s, ag = _ema_alpha(fast), _ema_alpha(slow), _ema_alpha(signal)
    bf, bs, bg = 1.0 - af, 1.0 - a_s, 1.0 - ag
    ef = es = x[0]
    sig = ef - es
    for i in range(1, n):
        v = x[i]
        ef = af * v + bf * ef
        es = a_s * v + bs * es
        sig = ag * (ef - es) + bg * sig
    return ef - es, sig, (ef - es) - sig


def atr_naive(high, low, close, n, period):
    alpha = _wilder_alpha(period)
    beta = 1.0 - alpha
    atr = high[0] - low[0]
    for i in range(1, n):
        atr = alpha * _true_range(high[i], low[i], close[i - 1]) + beta * atr
    return atr


# ---- incremental forms: running state fed one window per bar -------------------


class SmaState:
    __slots__ = ("period", "seen", "total")

    def __init__(self, period):
        self.period = int(period)
        self.seen = 0
        self.total = 0.0

    def update(self, x, n):
        """x[n-1] is the newest bar; x[n-1-period] leaves the period."""
        self.total += float(x[n - 1])
        self.seen += 1
        if self.seen > self.period:
            self.total -= float(x[n - 1 - self.period])
        m = self.seen if self.seen < self.period else self.period
        return self.total / m


class EmaState:
    __slots__ = ("alpha", "beta", "value", "seen")

    def __init__(self, period):
        self.alpha = _ema_alpha(period)
        self.beta = 1.0 - self.alpha
        self.value = 0.0
        self.seen = 0

    def update(self, x):
        if self.seen == 0:
            self.value = x
        else:
            self.value = self.alpha * x + self.beta * self.value
        self.seen += 1
        return self.value


class RsiState:
    __slots__ = ("alpha", "beta", "gain", "loss", "prev", "seen")

    def __init__(self, period):
        self.alpha = _wilder_alpha(period)
        self.beta = 1.0 - self.alpha
        self.gain = self.loss = self.prev = 0.0
        self.seen = 0

    def update(self, x):
        seen = self.seen
        self.seen += 1
        d = x - self.prev
        self.prev = x
        if seen == 0:
            return 50.0
        g = d if d > 0 else 0.0
        l = -d if d < 0 else 0.0
        if seen == 1:
            self.gain, self.loss = g, l
        else:
            self.gain = self.alpha * g + self.beta * self.gain
            self.loss = self.alpha * l + self.beta * self.loss
        return _rsi_from(self.gain, self.loss)


class BollingerState:
    __slots__ = ("period", "k", "total", "sumsq", "seen")

    def __init__(self, period, k):
        self.period = int(period)
        self.k = k
        self.total = self.sumsq = 0.0
        self.seen = 0

    def update(self, x, n):
        v = float(x[n - 1])
        self.total += v
        self.sumsq += v * v
        self.seen += 1
        if self.seen > self.period:
            out = float(x[n - 1 - self.period])
            self.total -= out
            self.sumsq -= out * out
        m = self.seen if self.seen < self.period else self.period
        return bands_from(self.total, self.sumsq, float(m), self.k)


class MacdState:
    __slots__ = ("fast", "slow", "signal")

    def __init__(self, fast, slow, signal):
        self.fast = EmaState(fast)
        self.slow = EmaState(slow)
        self.signal = EmaState(signal)

    def update(self, x):
        macd = self.fast.update(x) - self.slow.update(x)
        sig = self.signal.update(macd)
        return macd, sig, macd - sig


class AtrState:
    __slots__ = ("alpha", "beta", "value", "prev_close", "seen")

    def __init__(self, period):
        self.alpha = _wilder_alpha(period)
        self.beta = 1.0 - self.alpha
        self.value = self.prev_close = 0.0
        self.seen = 0

    def update(self, high, low, close):
        if self.seen == 0:
            self.value = high - low
        else:
            self.value = self.alpha * _true_range(high, low, self.prev_close) + \
                self.beta * self.value
        self.seen += 1
        self.prev_close = close
        return self.value
