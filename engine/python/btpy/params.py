# SPDX-License-Identifier: MIT
"""params: strategy parameters with defaults and ranges, and the history window length."""

import math

# name: (default, min, max, integer), as engine/params.c.
PARAM_TABLE = (
    ("fast", 50, 1, 1000, True),
    ("slow", 200, 1, 2000, True),
    ("rsi_period", 14, 2, 100, True),
    ("rsi_low", 30, 0, 100, False),
    ("rsi_high", 70, 0, 100, False),
    ("macd_fast", 12, 1, 100, True),
    ("macd_slow", 26, 1, 200, True),
    ("macd_signal", 9, 1, 100, True),
    ("bb_period", 20, 1, 1000, True),
    ("bb_width", 2, 0.1, 10, False),
    ("ema_period", 20, 1, 200, True),
    ("atr_period", 14, 1, 100, True),
    ("atr_stop", 3, 0.5, 20, False),
    ("cooldown", 5, 0, 100000, True),
    ("vol_lookback", 126, 2, 1000, True),
    ("target_vol", 0.15, 0.01, 2, False),
    ("commission_bps", 5, 0, 1000, False),
    ("slippage_bps", 2, 0, 1000, False),
)

STRATEGIES = ("sma_cross", "rsi", "macd", "bollinger")


class Params:
    """Every parameter as a float attribute, defaults from PARAM_TABLE."""

    __slots__ = tuple(row[0] for row in PARAM_TABLE)

    def __init__(self):
        for name, default, _, _, _ in PARAM_TABLE:
            setattr(self, name, float(default))

    def copy(self):
        other = Params()
        for name in self.__slots__:
            setattr(other, name, getattr(self, name))
        return other


def param_range(name):
    """(canonical name, min, max, integer) of a parameter ('-' or '_'), or None."""
    key = name.replace("-", "_")
    for pname, _, lo, hi, integer in PARAM_TABLE:
        if pname == key:
            return pname, lo, hi, integer
    return None


def param_set(params, name, value):
    """Sets a parameter. Raises KeyError for an unknown name and ValueError out of range."""
    spec = param_range(name)
    if spec is None:
        raise KeyError(name)
    pname, lo, hi, integer = spec
    if not (lo <= value <= hi) or (integer and value != math.floor(value)):
        raise ValueError(name)
    setattr(params, pname, float(value))


def _forget_bars(alpha):
    # Bars after which a recursion with smoothing alpha has forgotten its
    # seed to below double precision: (1 - alpha)^n < e^-37.
    return math.ceil(37.0 / -math.log1p(-alpha))


def window_length(p):
    """Bars in every history window: longer than every period, and long enough
    that the recursive indicators forget their seed (engine: bte_window_length)."""
    n = max(max(p.fast, p.slow), max(p.bb_period, p.vol_lookback)) + 1.0
    for period in (p.ema_period, p.macd_fast, p.macd_slow, p.macd_signal):
        if period > 1:
            n = max(n, _forget_bars(2.0 / (period + 1.0)))
    n = max(n, _forget_bars(1.0 / p.rsi_period))
    if p.atr_period > 1:
        n = max(n, _forget_bars(1.0 / p.atr_period))
    return int(n)


def describe(strategy, p):
    """The strategy's own parameters, e.g. 'fast=50 slow=200'."""
    if strategy == "sma_cross":
        return "fast=%g slow=%g" % (p.fast, p.slow)
    if strategy == "rsi":
        return "rsi_period=%g rsi_low=%g rsi_high=%g" % (p.rsi_period, p.rsi_low, p.rsi_high)
    if strategy == "macd":
        return "macd_fast=%g macd_slow=%g macd_signal=%g" % (
            p.macd_fast, p.macd_slow, p.macd_signal)
    return "bb_period=%g bb_width=%g" % (p.bb_period, p.bb_width)
