# SPDX-License-Identifier: MIT
"""backends: stdlib, numpy or pandas forms of the bars, the history windows and the array kernels.

A backend decides how history windows are built and which array kernels the
strategy and metrics phases use. The per-bar scalar work (indicator updates,
orders, fills, the intrabar path) is the same Python code on every backend.
"""

import math
from array import array
from bisect import bisect_left

from .marketdata import COLUMNS, OHLCV
from .sessions import iso_label, ymd_label

NAMES = ("stdlib", "numpy", "pandas")
NAN = float("nan")
# Newest rows of a window that the pandas path checks with iterrows().
CHECKED_ROWS = 3
# Bytes --memory-cache keeps per window row: five float64 columns (OHLCV).
CACHE_BYTES_PER_ROW = 8 * len(OHLCV)


class Backend:
    __slots__ = ("name", "np", "pd", "version")

    def __init__(self, name, np=None, pd=None):
        self.name = name
        self.np = np
        self.pd = pd
        if pd is not None:
            self.version = "pandas %s (numpy %s)" % (pd.__version__, np.__version__)
        elif np is not None:
            self.version = "numpy %s" % np.__version__
        else:
            self.version = "stdlib"


class BackendUnavailable(Exception):
    pass


def select(requested):
    """The backend for `requested` (auto, stdlib, numpy or pandas). auto takes
    pandas when it imports, else numpy, else stdlib."""
    np = pd = None
    np_error = pd_error = None
    if requested != "stdlib":
        try:
            import numpy as np
        except ImportError as e:
            np, np_error = None, e
        if np is not None and requested in ("auto", "pandas"):
            try:
                import pandas as pd
            except ImportError as e:
                pd, pd_error = None, e
    if requested == "auto":
        if pd is not None:
            return Backend("pandas", np, pd)
        return Backend("numpy", np) if np is not None else Backend("stdlib")
    if requested == "stdlib":
        return Backend("stdlib")
    if np is None:
        raise BackendUnavailable("numpy: %s" % np_error)
    if requested == "numpy":
        return Backend("numpy", np)
    if pd is None:
        raise BackendUnavailable("pandas: %s" % pd_error)
    return Backend("pandas", np, pd)


class Calendar:
    """The sessions in the forms the backends look dates up in."""

    __slots__ = ("days", "labels", "ymd", "index")

    def __init__(self, backend, days):
        self.days = days
        self.labels = [iso_label(d) for d in days]
        self.ymd = self.index = None
        if backend.np is not None:
            self.ymd = backend.np.array([ymd_label(d) for d in days], dtype=backend.np.int64)
        if backend.pd is not None:
            self.index = backend.pd.DatetimeIndex(self.labels, name="date")
            # Every frame shares this index, and worker threads look dates up
            # in it at once. pandas builds an index's lookup table on first
            # use, and two threads building it together can miss a key
            # (KeyError: Timestamp('2000-01-04'), once in a --threads 2 run):
            # build it here, before any thread starts.
            if days:
                self.index.get_loc(self.index[-1])
            _ = self.index.is_monotonic_increasing, self.index.is_unique


def prepare(backend, data, history):
    """Adds the backend's forms to every series (outside the timed phases) and
    returns the Calendar."""
    cal = Calendar(backend, data.days)
    for s in data.series:
        cols = [getattr(s, c) for c in COLUMNS]
        if backend.name == "pandas":
            s.frame = backend.pd.DataFrame(dict(zip(COLUMNS, cols)), index=cal.index)
            # The fast path reads numpy views of the frame's own columns.
            s.views = tuple(s.frame[c].to_numpy() for c in COLUMNS)
        elif backend.name == "numpy":
            s.block = backend.np.array(cols, dtype=backend.np.float64)
            s.views = tuple(s.block[i] for i in range(len(COLUMNS)))
        elif history == "naive":
            # Records, as csv.DictReader would give them.
            keys = ("date",) + COLUMNS
            s.rows = [dict(zip(keys, row)) for row in zip(cal.labels, *cols)]
        else:
            s.views = tuple(memoryview(array("d", c)) for c in cols)
    return cal


def window_is_array(backend, history):
    """True when the windows' columns are ndarrays (numpy kernels apply)."""
    return backend.name == "numpy" or (backend.name == "pandas" and history == "fast")


# ---- history windows -------------------------------------------------------------


def history_fast(run, bar):
    """Zero-copy views: memoryview slices (stdlib) or ndarray slices."""
    n = bar + 1 if bar + 1 < run.window_len else run.window_len
    start = bar + 1 - n
    end = bar + 1
    o, h, l, c, v, r = run.series.views
    w = run.win
    w.open = o[start:end]
    w.high = h[start:end]
    w.low = l[start:end]
    w.close = c[start:end]
    w.volume = v[start:end]
    w.log_return = r[start:end]
    w.n = n


def history_naive_stdlib(run, bar):
    """data.history() on records: find today in the calendar, copy the window's
    rows, align them to the calendar by date, build each column as a new list,
    forward-fill and check the index."""
    labels = run.calendar.labels
    today = labels[bar]
    end = bisect_left(labels, today)
    if end == len(labels) or labels[end] != today:
        raise LookupError("session %s is not in the calendar" % today)
    n = end + 1 if end + 1 < run.window_len else run.window_len
    start = end + 1 - n
    index = labels[start:end + 1]
    records = run.series.rows[start:end + 1]
    by_date = {row["date"]: row for row in records}
    aligned = [by_date.get(label) for label in index]
    columns = []
    for name in COLUMNS:
        col = [row[name] if row is not None else NAN for row in aligned]
        for i in range(1, n):
            if col[i] != col[i]:
                col[i] = col[i - 1]
        columns.append(col)
    for i in range(1, n):
        if index[i] <= index[i - 1]:
            raise ValueError("window index is not increasing at %s" % index[i])
    _publish(run, columns, n, cache_window_stdlib)


def history_naive_numpy(run, bar):
    """data.history() on arrays: search today's label, take the window's labels,
    align them to the calendar, gather the columns into a new block, forward-fill
    and check the index."""
    np = run.np
    ymd = run.calendar.ymd
    today = ymd[bar]
    end = int(np.searchsorted(ymd, today))
    if end == len(ymd) or ymd[end] != today:
        raise LookupError("session %d is not in the calendar" % today)
    n = end + 1 if end + 1 < run.window_len else run.window_len
    start = end + 1 - n
    index = ymd[start:end + 1].copy()
    pos = np.searchsorted(ymd, index)
    if not (ymd[pos] == index).all():
        raise LookupError("window dates are not all sessions")
    block = run.series.block[:, pos]
    missing = np.isnan(block)
    if missing.any():
        for col in range(block.shape[0]):
            for i in np.flatnonzero(missing[col]):
                if i > 0:
                    block[col, i] = block[col, i - 1]
    if n > 1 and not (np.diff(index) > 0).all():
        raise ValueError("window index is not increasing")
    _publish(run, block, n, cache_window_numpy)


def history_naive_pandas(run, bar):
    """The slow pandas pattern: look today up in the frame's index, slice the
    frame, reindex the slice to the calendar and forward-fill it, check the
    newest rows with iterrows(), then hand the columns on as lists (.tolist())."""
    frame = run.series.frame
    sessions = run.calendar.index
    today = sessions[bar]
    end = frame.index.get_loc(today)
    n = end + 1 if end + 1 < run.window_len else run.window_len
    start = end + 1 - n
    window = frame.iloc[start:end + 1]
    window = window.reindex(sessions[start:end + 1]).ffill()
    if not window.index.is_monotonic_increasing:
        raise ValueError("window index is not increasing")
    for when, row in window.tail(CHECKED_ROWS).iterrows():
        if not row["low"] <= row["close"] <= row["high"]:
            raise ValueError("bar %s: close outside low..high" % when.date())
    columns = [window[name].tolist() for name in COLUMNS]
    _publish(run, columns, n, cache_window_pandas)


def _publish(run, columns, n, keep):
    """Makes `columns` (one per COLUMNS) the run's window; with --memory-cache,
    `keep` stores a copy."""
    w = run.win
    w.open, w.high, w.low, w.close, w.volume, w.log_return = columns
    w.n = n
    if run.cache is not None:
        keep(run, columns, n)


def history_function(backend, history):
    if history == "fast":
        return history_fast
    return {"stdlib": history_naive_stdlib, "numpy": history_naive_numpy,
            "pandas": history_naive_pandas}[backend.name]


# ---- --memory-cache: every naive window kept, CACHE_BYTES_PER_ROW per row ----------


def cache_window_stdlib(run, columns, n):
    run.cache.append(array("d", columns[0] + columns[1] + columns[2] + columns[3] + columns[4]))
    run.cache_bytes += CACHE_BYTES_PER_ROW * n


def cache_window_numpy(run, block, n):
    run.cache.append(block[:len(OHLCV)].copy())
    run.cache_bytes += CACHE_BYTES_PER_ROW * n


def cache_window_pandas(run, columns, n):
    run.cache.append(run.np.array(columns[:len(OHLCV)]))
    run.cache_bytes += CACHE_BYTES_PER_ROW * n


# ---- strategy kernel: realised volatility -------------------------------------------


def realized_vol_seq(lr, n, lookback, periods_per_year):
    """Annualised volatility of the last `lookback` log returns of the window,
    summed left to right as the engine does (builtin sum() would compensate on
    3.12+ and differ in the last bits)."""
    if n < 3:
        return 0.0
    m = n - 1 if n - 1 < lookback else lookback
    total = sumsq = 0.0
    for i in range(n - m, n):
        r = lr[i]
        total += r
        sumsq += r * r
    mean = total / m
    var = (sumsq - m * mean * mean) / (m - 1 if m > 1 else 1)
    return math.sqrt(var * periods_per_year) if var > 0.0 else 0.0


def realized_vol_numpy(lr, n, lookback, periods_per_year, np):
    """The same on an ndarray view: cumsum adds left to right, unlike sum()'s
    pairwise order, so the result equals realized_vol_seq's bit for bit."""
    if n < 3:
        return 0.0
    m = n - 1 if n - 1 < lookback else lookback
    r = lr[n - m:n]
    total = float(np.cumsum(r)[-1])
    sumsq = float(np.cumsum(r * r)[-1])
    mean = total / m
    var = (sumsq - m * mean * mean) / (m - 1 if m > 1 else 1)
    return math.sqrt(var * periods_per_year) if var > 0.0 else 0.0


# ---- metrics kernel: the trailing-year risk report ---------------------------------


def rolling_risk_seq(returns, equity, lo, hi, periods_per_year):
    """(sharpe, sortino, drawdown) over returns[lo:hi] and equity[lo:hi]."""
    r = returns[lo:hi]
    m = len(r)
    mean = math.fsum(r) / m
    var = 0.0
    downsq = 0.0
    for x in r:
        var += (x - mean) * (x - mean)
        if x < 0.0:
            downsq += x * x
    sd = math.sqrt(var / (m - 1))
    root = math.sqrt(periods_per_year)
    sharpe = mean / sd * root if sd > 0.0 else 0.0
    downside = math.sqrt(downsq / m)
    sortino = mean / downside * root if downside > 0.0 else 0.0
    e = equity[lo:hi]
    peak = e[0]
    worst = 0.0
    for x in e:
        if x > peak:
            peak = x
        dd = (peak - x) / peak
        if dd > worst:
            worst = dd
    return sharpe, sortino, worst


def rolling_risk_numpy(returns, equity, lo, hi, periods_per_year, np):
    r = returns[lo:hi]
    m = r.shape[0]
    mean = float(r.mean())
    sd = float(np.sqrt(((r - mean) ** 2).sum() / (m - 1)))
    root = math.sqrt(periods_per_year)
    sharpe = mean / sd * root if sd > 0.0 else 0.0
    downside = float(np.sqrt((np.minimum(r, 0.0) ** 2).sum() / m))
    sortino = mean / downside * root if downside > 0.0 else 0.0
    e = equity[lo:hi]
    peak = np.maximum.accumulate(e)
    worst = float(((peak - e) / peak).max())
    return sharpe, sortino, worst
