# SPDX-License-Identifier: MIT
"""backtest: the bar loop, its five timed phases, worker threads, the portfolio and the checksum.

A twin of engine/backtest.c. The phase functions below are the stable names a
profiler sees: worker_main -> phase_history, phase_indicators, phase_strategy,
phase_execution, phase_metrics (helpers such as history_naive_pandas or
intrabar_path appear below them).
"""

import math
import threading
import time

from . import backends
from .indicators import (AtrState, BollingerState, EmaState, MacdState, RsiState, SmaState,
                         atr_naive, bollinger_naive, ema_naive, macd_naive, rsi_naive, sma_naive)
from .marketdata import c_round
from .metrics import Metrics, metrics_compute
from .params import window_length
from .prng import MASK64, Rng, splitmix64

PHASES = ("history", "indicators", "strategy", "execution", "metrics")
PERIODS_PER_YEAR = 252
ROLLING_BARS = 252
MIN_COMMISSION_CENTS = 100.0
INTRABAR_STEPS = 78
FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3
INF = float("inf")


class Config:
    """What one backtest runs with (engine: struct bte_config)."""

    __slots__ = ("threads", "history", "indicators", "strategy", "params", "capital", "backend",
                 "memory_cache")

    def __init__(self, backend, params):
        self.threads = 1
        self.history = "naive"
        self.indicators = "incremental"
        self.strategy = "sma_cross"
        self.params = params
        self.capital = 1000000.0
        self.backend = backend
        self.memory_cache = False


class Control:
    """What may stop a run early: a signal number set by the handler, and a
    perf_counter deadline (None: none)."""

    __slots__ = ("signum", "deadline")

    def __init__(self):
        self.signum = 0
        self.deadline = None


class Window:
    """A history window, newest bar last: lists, memoryviews or ndarrays."""

    __slots__ = ("open", "high", "low", "close", "volume", "log_return", "n")

    def __init__(self):
        self.open = self.high = self.low = self.close = self.volume = self.log_return = None
        self.n = 0


class SymbolRun:
    """Everything one symbol's backtest owns (engine: struct bte_symbol_run)."""

    __slots__ = (
        "cfg", "p", "calendar", "series", "symbol", "window_len", "warmup", "np", "win",
        "history", "window_arrays", "cache", "cache_bytes",
        "sma_fast", "sma_slow", "ema", "rsi", "bb", "macd", "atr",
        "v_sma_fast", "v_sma_slow", "v_ema", "v_rsi", "v_bb", "v_macd", "v_atr",
        "realized_vol", "stopped_at",
        "cash", "position", "order_now", "order_next", "next_stop", "stop", "highest",
        "stop_atr", "entry_cost",
        "equity", "returns", "peak", "max_drawdown", "min_rolling_sharpe",
        "rolling_sharpe", "rolling_sortino", "rolling_drawdown", "bars_done",
        "fills", "pnl")

    def __init__(self, data, calendar, cfg, sym):
        p = cfg.params
        self.cfg = cfg
        self.p = p
        self.calendar = calendar
        self.series = data.series[sym]
        self.symbol = sym
        self.window_len = window_length(p)
        self.warmup = self.window_len - 1
        self.np = cfg.backend.np
        self.win = Window()
        self.history = backends.history_function(cfg.backend, cfg.history)
        self.window_arrays = backends.window_is_array(cfg.backend, cfg.history)
        self.cache = [] if cfg.memory_cache else None
        self.cache_bytes = 0
        self.sma_fast = SmaState(p.fast)
        self.sma_slow = SmaState(p.slow)
        self.ema = EmaState(p.ema_period)
        self.rsi = RsiState(p.rsi_period)
        self.bb = BollingerState(p.bb_period, p.bb_width)
        self.macd = MacdState(p.macd_fast, p.macd_slow, p.macd_signal)
        self.atr = AtrState(p.atr_period)
        self.v_sma_fast = self.v_sma_slow = self.v_ema = self.v_rsi = self.v_atr = 0.0
        self.v_bb = (0.0, 0.0, 0.0)
        self.v_macd = (0.0, 0.0, 0.0)
        self.realized_vol = 0.0
        self.stopped_at = 0
        self.cash = float(math.floor(cfg.capital * 100.0 / data.symbols))
        self.position = self.order_now = self.order_next = 0
        self.next_stop = self.stop = self.highest = self.stop_atr = self.entry_cost = 0.0
        if self.np is not None:
            self.equity = self.np.zeros(data.bars)
            self.returns = self.np.zeros(data.bars)
        else:
            self.equity = [0.0] * data.bars
            self.returns = [0.0] * data.bars
        self.peak = self.cash
        self.max_drawdown = 0.0
        self.min_rolling_sharpe = INF
        self.rolling_sharpe = self.rolling_sortino = self.rolling_drawdown = 0.0
        self.bars_done = 0
        self.fills = []  # (symbol, bar, qty, price cents, commission cents)
        self.pnl = []  # dollars per closed round trip


# ---- the five phases ---------------------------------------------------------------


def phase_history(run, bar):
    """The window of the last window_len bars ending at `bar` (see backends)."""
    run.history(run, bar)


def phase_indicators(run, bar):
    cfg = run.cfg
    p = run.p
    w = run.win
    n = w.n
    c = w.close
    if cfg.indicators == "naive":
        h, l = w.high, w.low
        if run.window_arrays:
            c, h, l = c.tolist(), h.tolist(), l.tolist()
        run.v_sma_fast = sma_naive(c, n, int(p.fast))
        run.v_sma_slow = sma_naive(c, n, int(p.slow))
        run.v_ema = ema_naive(c, n, int(p.ema_period))
        run.v_rsi = rsi_naive(c, n, int(p.rsi_period))
        run.v_bb = bollinger_naive(c, n, int(p.bb_period), p.bb_width)
        run.v_macd = macd_naive(c, n, int(p.macd_fast), int(p.macd_slow), int(p.macd_signal))
        run.v_atr = atr_naive(h, l, c, n, int(p.atr_period))
        return
    close = float(c[n - 1])
    run.v_sma_fast = run.sma_fast.update(c, n)
    run.v_sma_slow = run.sma_slow.update(c, n)
    run.v_ema = run.ema.update(close)
    run.v_rsi = run.rsi.update(close)
    run.v_bb = run.bb.update(c, n)
    run.v_macd = run.macd.update(close)
    run.v_atr = run.atr.update(float(w.high[n - 1]), float(w.low[n - 1]), close)


def _wants_long(run, holding, close):
    p = run.p
    strategy = run.cfg.strategy
    if strategy == "sma_cross":
        return run.v_sma_fast > run.v_sma_slow
    if strategy == "rsi":
        return not (run.v_rsi > p.rsi_high) if holding else run.v_rsi < p.rsi_low
    if strategy == "macd":
        return run.v_macd[2] > 0.0
    mid, _, lower = run.v_bb
    return not (close > mid) if holding else close < lower


def phase_strategy(run, bar):
    """Realised volatility for sizing, the entry/exit rule, and an order for the
    next open with an ATR stop."""
    p = run.p
    w = run.win
    n = w.n
    close = float(w.close[n - 1])
    if run.window_arrays:
        run.realized_vol = backends.realized_vol_numpy(w.log_return, n, int(p.vol_lookback),
                                                       PERIODS_PER_YEAR, run.np)
    else:
        run.realized_vol = backends.realized_vol_seq(w.log_return, n, int(p.vol_lookback),
                                                     PERIODS_PER_YEAR)
    run.order_next = 0
    if bar < run.warmup:
        return
    intended = run.position + run.order_now
    if not _wants_long(run, intended > 0, close):
        if intended > 0:
            run.order_next = -intended
        return
    # After a stop-out, wait `cooldown` bars before re-entering.
    if intended > 0 or bar < run.stopped_at + int(p.cooldown):
        return
    weight = 1.0
    if run.realized_vol > 0.0 and p.target_vol < run.realized_vol:
        weight = p.target_vol / run.realized_vol
    equity = run.cash + run.position * close
    qty = _ifloor(equity * weight / close)
    if qty <= 0:
        return
    run.order_next = qty
    stop = _ffloor(close - p.atr_stop * run.v_atr)
    run.next_stop = stop if stop > 1.0 else 1.0


def _ifloor(x):
    return math.floor(x) if math.isfinite(x) else 0


def _ffloor(x):
    return float(math.floor(x)) if math.isfinite(x) else x


def _slippage(p, price):
    slip = c_round(price * p.slippage_bps / 10000.0)
    return 1.0 if slip < 1.0 else slip


def _commission(p, notional):
    c = c_round(abs(notional) * p.commission_bps / 10000.0)
    return MIN_COMMISSION_CENTS if c < MIN_COMMISSION_CENTS else c


def _fill(run, bar, qty, price):
    p = run.p
    if qty > 0:
        # Never spend more cash than there is: shrink the order to fit.
        per_share = price * (1.0 + p.commission_bps / 10000.0)
        affordable = _ifloor((run.cash - MIN_COMMISSION_CENTS) / per_share)
        if qty > affordable:
            qty = affordable
        if qty <= 0:
            return
    if price < 1.0:
        price = 1.0
    fee = _commission(p, float(qty) * price)
    run.cash -= float(qty) * price + fee
    run.position += qty
    run.fills.append((run.symbol, bar, qty, price, fee))
    if qty > 0:
        run.entry_cost += float(qty) * price + fee
        run.stop = run.next_stop
        run.highest = price
    elif run.position == 0:
        run.pnl.append((float(-qty) * price - fee - run.entry_cost) / 100.0)
        run.entry_cost = 0.0
        run.stop = 0.0


def intrabar_path(run, bar):
    """A 5-minute path through the bar: a Brownian bridge from open to close,
    its excursions scaled to touch the high and low; seeded from (symbol, bar)."""
    s = run.series
    open_, close, high, low = s.open[bar], s.close[bar], s.high[bar], s.low[bar]
    rng = Rng(splitmix64(((run.symbol << 40) ^ bar) & MASK64))
    normal = rng.normal
    steps = INTRABAR_STEPS
    walk = [0.0] * (steps + 1)
    x = 0.0
    for k in range(1, steps + 1):
        x = x + normal()
        walk[k] = x
    last = walk[steps]
    path = [0.0] * (steps + 1)
    up = down = INF
    span = close - open_
    for k in range(steps + 1):
        frac = k / steps
        bridge = walk[k] - frac * last
        line = open_ + span * frac
        walk[k] = bridge
        path[k] = line
        if bridge > 0.0 and (high - line) / bridge < up:
            up = (high - line) / bridge
        if bridge < 0.0 and (line - low) / -bridge < down:
            down = (line - low) / -bridge
    for k in range(1, steps):
        b = walk[k]
        path[k] += b * (up if b > 0.0 else down)
    path[0] = open_
    path[steps] = close
    return path


def _trail_stop(run, bar):
    """A chandelier stop atr_stop ATRs below the highest price since entry,
    walked along the intrabar path."""
    p = run.p
    path = intrabar_path(run, bar)
    for k in range(INTRABAR_STEPS + 1):
        price = path[k]
        if price <= run.stop:
            # Gapping through the stop fills at the open, otherwise at the stop.
            at = price if k == 0 else run.stop
            _fill(run, bar, -run.position, at - _slippage(p, at))
            run.stopped_at = bar
            if run.order_next < 0:
                run.order_next = 0
            return
        if price > run.highest:
            run.highest = price
            trail = _ffloor(run.highest - p.atr_stop * run.stop_atr)
            if trail > run.stop:
                run.stop = trail


def phase_execution(run, bar):
    """Yesterday's order at today's open, the trailing stop along the intrabar
    path, and the position marked to the close."""
    p = run.p
    s = run.series
    open_ = s.open[bar]
    if run.order_now > 0:
        _fill(run, bar, run.order_now, open_ + _slippage(p, open_))
    elif run.order_now < 0:
        _fill(run, bar, run.order_now, open_ - _slippage(p, open_))
    if run.position > 0 and run.stop > 0.0:
        _trail_stop(run, bar)
    # Today's ATR is known only after the close: it trails tomorrow.
    run.stop_atr = run.v_atr
    run.equity[bar] = run.cash + run.position * s.close[bar]
    run.order_now = run.order_next
    run.order_next = 0


def phase_metrics(run, bar):
    """The per-bar risk report: daily return, drawdown, and Sharpe, Sortino and
    drawdown over the trailing year."""
    equity = run.equity
    eq = float(equity[bar])
    run.returns[bar] = 0.0 if bar == 0 else eq / float(equity[bar - 1]) - 1.0
    if eq > run.peak:
        run.peak = eq
    dd = (run.peak - eq) / run.peak
    if dd > run.max_drawdown:
        run.max_drawdown = dd
    m = bar if bar < ROLLING_BARS else ROLLING_BARS
    run.bars_done = bar + 1
    if m < 2:
        return
    if run.np is not None:
        risk = backends.rolling_risk_numpy(run.returns, equity, bar + 1 - m, bar + 1,
                                           PERIODS_PER_YEAR, run.np)
    else:
        risk = backends.rolling_risk_seq(run.returns, equity, bar + 1 - m, bar + 1,
                                         PERIODS_PER_YEAR)
    run.rolling_sharpe, run.rolling_sortino, run.rolling_drawdown = risk
    if m == ROLLING_BARS and run.rolling_sharpe < run.min_rolling_sharpe:
        run.min_rolling_sharpe = run.rolling_sharpe


# ---- workers -------------------------------------------------------------------------


class Worker:
    __slots__ = ("runs", "bars", "control", "phase_s", "stopped", "error", "thread")

    def __init__(self, runs, bars, control):
        self.runs = runs
        self.bars = bars
        self.control = control
        self.phase_s = [0.0] * len(PHASES)
        self.stopped = False
        self.error = None
        self.thread = None


def worker_main(worker):
    """Bar-major over the worker's block of symbols, like an engine's clock.
    perf_counter is read right before and after each phase call, so each
    interval brackets exactly one phase_* call."""
    clock = time.perf_counter
    control = worker.control
    runs = worker.runs
    history = indicators = strategy = execution = metrics = 0.0
    t5 = clock()
    try:
        for bar in range(worker.bars):
            for run in runs:
                if control.signum or (control.deadline is not None and t5 >= control.deadline):
                    worker.stopped = True
                    break
                t0 = clock()
                phase_history(run, bar)
                t1 = clock()
                phase_indicators(run, bar)
                t2 = clock()
                phase_strategy(run, bar)
                t3 = clock()
                phase_execution(run, bar)
                t4 = clock()
                phase_metrics(run, bar)
                t5 = clock()
                history += t1 - t0
                indicators += t2 - t1
                strategy += t3 - t2
                execution += t4 - t3
                metrics += t5 - t4
            if worker.stopped:
                break
    except Exception as e:  # reported once by the caller, which exits 1
        worker.error = e
        worker.stopped = True
    worker.phase_s = [history, indicators, strategy, execution, metrics]


def _name_os_thread(name):
    """Best effort: give the OS thread the Python thread's name (PR_SET_NAME),
    so /proc/PID/task/TID/comm and native profilers show it too."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(15, ctypes.c_char_p(name.encode()[:15]), 0, 0, 0)
    except Exception:
        pass


def _thread_entry(worker, name):
    _name_os_thread(name)
    worker_main(worker)


class Result:
    __slots__ = ("complete", "metrics", "checksum", "equity", "fills", "symbol_bars",
                 "phase_s", "cache_bytes", "cache_windows", "error")


def run_backtest(data, calendar, cfg, control):
    """One backtest of every symbol. Returns a Result; a run stopped through
    control covers the bars done so far (complete False)."""
    runs = [SymbolRun(data, calendar, cfg, s) for s in range(data.symbols)]
    nworkers = cfg.threads if cfg.threads < data.symbols else data.symbols
    workers = []
    first = 0
    for i in range(nworkers):
        count = data.symbols // nworkers + (1 if i < data.symbols % nworkers else 0)
        workers.append(Worker(runs[first:first + count], data.bars, control))
        first += count
    if nworkers == 1:
        worker_main(workers[0])
    else:
        # Every worker is its own thread and the main thread only waits, as in
        # bt-engine: a dump shows the main thread plus T named workers.
        for i, w in enumerate(workers):
            name = "btpy-worker-%d" % i
            w.thread = threading.Thread(target=_thread_entry, args=(w, name), name=name,
                                        daemon=True)
            w.thread.start()
        for w in workers:
            # A timed join lets the main thread run the signal handler promptly.
            while w.thread.is_alive():
                w.thread.join(0.2)
    r = Result()
    r.error = next((w.error for w in workers if w.error is not None), None)
    r.complete = not any(w.stopped for w in workers)
    r.phase_s = [sum(w.phase_s[i] for w in workers) for i in range(len(PHASES))]
    r.cache_bytes = sum(run.cache_bytes for run in runs)
    r.cache_windows = sum(len(run.cache) for run in runs if run.cache is not None)
    if r.error is None:
        _portfolio_build(r, runs)
    return r


def _fnv1a_u64(h, value):
    for _ in range(8):
        h = ((h ^ (value & 0xFF)) * FNV_PRIME) & MASK64
        value >>= 8
    return h


def _quantize(dollars):
    """llround(dollars * 1e6) as an unsigned 64-bit value."""
    return int(c_round(dollars * 1e6)) & MASK64


def _portfolio_build(r, runs):
    """Portfolio equity, fills, metrics and checksum; a symbol stopped early
    holds its last equity for the remaining bars."""
    n = max((run.bars_done for run in runs), default=0)
    r.symbol_bars = sum(run.bars_done for run in runs)
    equity = [0.0] * n
    fills = []
    for run in runs:
        curve = run.equity.tolist() if run.np is not None else run.equity
        done = run.bars_done
        held = curve[done - 1] if done else run.cash
        for b in range(n):
            equity[b] += (curve[b] if b < done else held) / 100.0
        fills.extend(run.fills)
    pnl = [x for run in runs for x in run.pnl]
    r.metrics = metrics_compute(equity, PERIODS_PER_YEAR, pnl) if n else Metrics()
    h = _fnv1a_u64(FNV_OFFSET, n)
    for value in equity:
        h = _fnv1a_u64(h, _quantize(value))
    h = _fnv1a_u64(h, len(fills))
    for sym, bar, qty, price, fee in fills:
        h = _fnv1a_u64(h, (sym << 32) | bar)
        h = _fnv1a_u64(h, qty & MASK64)
        h = _fnv1a_u64(h, _quantize(price / 100.0))
        h = _fnv1a_u64(h, _quantize(fee / 100.0))
    r.checksum = h
    r.equity = equity
    r.fills = fills
