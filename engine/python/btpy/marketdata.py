# SPDX-License-Identifier: MIT
"""marketdata: synthetic OHLCV bars from geometric Brownian motion, one PRNG stream per symbol.

The same streams and arithmetic as engine/data.c, so the bars equal bt-engine's
bit for bit. Prices are whole cents stored as integer-valued floats.
"""

import math

from .prng import Rng, splitmix64
from .sessions import session_days

COLUMNS = ("open", "high", "low", "close", "volume", "log_return")
OHLCV = COLUMNS[:5]


def c_round(x):
    """C's round(): halves go away from zero (Python's round() goes to even)."""
    if x < 0.0:
        return -c_round(-x)
    f = math.floor(x)
    return float(f + 1) if x - f >= 0.5 else float(f)


def _to_cents(dollars):
    c = c_round(dollars * 100.0)
    return 1.0 if c < 1.0 else c


class Series:
    """One symbol's bars as lists of floats; backends.prepare() adds its own forms.

    log_return[i] = log(close[i] / close[i-1]) (0 for the first bar), shipped
    with the bars as a data vendor's returns column, computed with math.log so
    that every backend sees the same values."""

    __slots__ = COLUMNS + ("bars", "views", "block", "frame", "rows")

    def __init__(self, bars):
        self.bars = bars
        self.views = self.block = self.frame = self.rows = None


def generate_symbol(seed, sym, bars):
    rng = Rng(splitmix64(seed & 0xFFFFFFFFFFFFFFFF) ^ splitmix64(0x5EED + sym))
    price = 20.0 + 180.0 * rng.uniform()
    mu = -0.02 + 0.17 * rng.uniform()
    sigma = 0.15 + 0.30 * rng.uniform()
    dt = 1.0 / 252.0
    vol = sigma * math.sqrt(dt)
    drift = (mu - 0.5 * sigma * sigma) * dt
    base_volume = 2e5 + 2e6 * rng.uniform()
    s = Series(bars)
    opens, highs, lows, closes, volumes = [], [], [], [], []
    exp, normal = math.exp, rng.normal
    for i in range(bars):
        o = price if i == 0 else price * exp(0.3 * vol * normal())
        c = o * exp(drift + vol * normal())
        up = abs(normal()) * 0.5 * vol
        down = abs(normal()) * 0.5 * vol
        oc, cc = _to_cents(o), _to_cents(c)
        top = oc if oc > cc else cc
        bottom = oc if oc < cc else cc
        h = _to_cents(max(o, c) * exp(up))
        l = _to_cents(min(o, c) * exp(-down))
        opens.append(oc)
        closes.append(cc)
        highs.append(h if h > top else top)
        lows.append(l if l < bottom else bottom)
        volumes.append(c_round(base_volume * exp(0.5 * normal())))
        price = c
    s.open, s.high, s.low, s.close, s.volume = opens, highs, lows, closes, volumes
    s.log_return = [0.0] + [math.log(closes[i] / closes[i - 1]) for i in range(1, bars)]
    return s


class MarketData:
    """`symbols` x `bars` bars from `seed` on the calendar from 2000-01-03."""

    def __init__(self, symbols, bars, seed):
        self.symbols = symbols
        self.bars = bars
        self.seed = seed
        self.days = session_days(bars)
        self.series = [generate_symbol(seed, s, bars) for s in range(symbols)]
