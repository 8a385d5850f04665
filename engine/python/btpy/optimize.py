# SPDX-License-Identifier: MIT
"""optimize: parameter grids, and one backtest per grid point on a pool of worker processes.

A twin of engine/optimize.c, with processes instead of threads: the GIL lets
one thread run Python at a time, so a Python sweep fans out over processes,
with multiprocessing.Pool (--pool pool) or concurrent.futures'
ProcessPoolExecutor (--pool processpool). The stable names a profiler sees in
a worker are sweep_point -> run_backtest -> worker_main -> phase_*.

Results are stored by grid index, so the best point and the sweep's checksum
do not depend on the number of jobs, the pool or the order points finish in.
"""

import math
import os
import re
import signal

from .backtest import FNV_OFFSET, PHASES, Config, _fnv1a_u64, run_backtest
from .marketdata import MarketData
from .metrics import Metrics
from .params import Params, param_range, param_set

GRID_MAX_KEYS = 16
GRID_MAX_POINTS = 1000000
GRID_NAME_MAX = 32
POOLS = ("pool", "processpool")
POOL_NAMES = {"pool": "multiprocessing.Pool", "processpool": "ProcessPoolExecutor"}
START_METHODS = ("fork", "spawn", "forkserver")
# How often the waiting parent looks at the stop flag, in seconds.
POLL_S = 0.2

_NUMBER = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?\Z")


class GridError(ValueError):
    """A bad --grid: `rest` is the spec from the offending item on, `what` says why."""

    def __init__(self, rest, what):
        ValueError.__init__(self, "'%s' (%s)" % (rest, what))
        self.rest = rest
        self.what = what


_BAD_SYNTAX = "expected NAME=START:STOP:STEP or NAME=VALUE"
_TOO_MANY = "too many points (at most %d)" % GRID_MAX_POINTS


def _number(text):
    if not _NUMBER.match(text):
        return None
    value = float(text)
    return value if math.isfinite(value) else None


class Grid:
    """Keys (name, start, step, count) in spec order; the last key varies fastest."""

    __slots__ = ("spec", "keys", "points")

    def __init__(self, spec):
        """Parses SPEC as bt-engine does; raises GridError."""
        self.spec = spec
        self.keys = []
        self.points = 1
        pos = 0
        while pos < len(spec):
            comma = spec.find(",", pos)
            end = comma if comma >= 0 else len(spec)
            rest = spec[pos:]
            if len(self.keys) == GRID_MAX_KEYS:
                raise GridError(rest, _TOO_MANY)
            key = _parse_key(spec[pos:end], rest)
            self.keys.append(key)
            self.points *= key[3]
            if self.points > GRID_MAX_POINTS:
                raise GridError(rest, _TOO_MANY)
            pos = end + 1 if comma >= 0 else end
            if comma >= 0 and pos == len(spec):
                raise GridError(rest, _BAD_SYNTAX)
        if not self.keys:
            raise GridError(spec, _BAD_SYNTAX)

    def values(self, index):
        """The keys' values at grid point `index`, in key order."""
        out = [0.0] * len(self.keys)
        for k in range(len(self.keys) - 1, -1, -1):
            name, start, step, count = self.keys[k]
            out[k] = start + float(index % count) * step
            index //= count
        return out

    def point(self, index, base):
        """A copy of Params `base` with the keys set for grid point `index`."""
        p = base.copy()
        for key, value in zip(self.keys, self.values(index)):
            param_set(p, key[0], value)
        return p

    def describe(self, index):
        """'fast=10 slow=100', as bt-engine prints the best point."""
        return " ".join("%s=%g" % (key[0], value)
                        for key, value in zip(self.keys, self.values(index)))


def _parse_key(item, rest):
    name, eq, value = item.partition("=")
    if not eq or not name or len(name) >= GRID_NAME_MAX:
        raise GridError(rest, _BAD_SYNTAX)
    parts = value.split(":")
    if len(parts) == 1:
        start = stop = _number(parts[0])
        step = 1.0
    elif len(parts) == 3:
        start, stop, step = (_number(x) for x in parts)
    else:
        start = None
    if start is None or stop is None or step is None or not step > 0.0 or stop < start:
        raise GridError(rest, _BAD_SYNTAX)
    count = math.floor((stop - start) / step + 1e-9) + 1
    if count > GRID_MAX_POINTS:
        raise GridError(rest, _TOO_MANY)
    if param_range(name) is None:
        raise GridError(rest, "unknown parameter")
    scratch = Params()
    for i in range(count):
        try:
            param_set(scratch, name, start + float(i) * step)
        except ValueError:
            raise GridError(rest, "value out of range")
    return (name, start, step, count)


class SweepSpec:
    """Everything a worker process needs to rebuild the sweep: plain values
    only, so it pickles for the spawn and forkserver start methods."""

    __slots__ = ("symbols", "bars", "seed", "backend", "history", "indicators", "strategy",
                 "capital", "params", "grid")

    def key(self):
        return (self.symbols, self.bars, self.seed, self.backend, self.history)


class SweepResult:
    __slots__ = ("points", "done", "best", "best_metrics", "checksum", "phase_s",
                 "symbol_bars", "error", "worker_pids")


class _StopFlag:
    """What a worker's run reads as control.signum: the parent's shared flag
    (a RawValue; 0 while running, the signal number once stopped)."""

    __slots__ = ("flag", "deadline")

    def __init__(self, flag):
        self.flag = flag
        self.deadline = None

    @property
    def signum(self):
        return self.flag.value


class _WorkerState:
    __slots__ = ("spec", "prepared", "cfg", "grid", "control")


# The state of this process's sweep: set by the parent before its workers
# fork (they inherit it) and by sweep_worker_init in every worker.
_state = None


def _build_state(spec, control, prepared=None):
    """The state a process runs points with; `prepared` is (MarketData,
    Calendar) already made for this spec, or None to make them."""
    from . import backends
    st = _WorkerState()
    st.spec = spec
    st.grid = spec.grid
    st.control = control
    backend = backends.select(spec.backend)
    params = Params()
    for name, value in spec.params:
        param_set(params, name, value)
    cfg = Config(backend, params)
    cfg.threads = 1
    cfg.history = spec.history
    cfg.indicators = spec.indicators
    cfg.strategy = spec.strategy
    cfg.capital = spec.capital
    st.cfg = cfg
    if prepared is None:
        data = MarketData(spec.symbols, spec.bars, spec.seed)
        prepared = (data, backends.prepare(backend, data, spec.history))
    st.prepared = prepared
    return st


def sweep_worker_init(spec, flag):
    """Runs first in every worker process. The parent decides when to stop:
    Ctrl-C on the terminal reaches the workers too, and is ignored here; the
    parent then sets the shared flag, which every run checks each bar."""
    global _state
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    control = _StopFlag(flag)
    if _state is not None and _state.spec.key() == spec.key():
        # Forked from the parent: its data is already here.
        _state = _build_state(spec, control, _state.prepared)
    else:
        _state = _build_state(spec, control)


def sweep_point(index):
    """One backtest at grid point `index` (a single thread), in a worker.
    Returns a plain tuple: (index, complete, metrics fields, checksum, phase
    seconds, symbol-bars, error text or None, pid)."""
    st = _state
    cfg = Config(st.cfg.backend, st.grid.point(index, st.cfg.params))
    cfg.threads = 1
    cfg.history = st.cfg.history
    cfg.indicators = st.cfg.indicators
    cfg.strategy = st.cfg.strategy
    cfg.capital = st.cfg.capital
    data, calendar = st.prepared
    r = run_backtest(data, calendar, cfg, st.control)
    if r.error is not None:
        return (index, False, None, 0, r.phase_s, 0,
                "%s: %s" % (type(r.error).__name__, r.error), os.getpid())
    m = r.metrics
    fields = (m.total_return, m.cagr, m.sharpe, m.sortino, m.max_drawdown, m.win_rate, m.trades)
    return (index, r.complete, fields, r.checksum, r.phase_s, r.symbol_bars, None, os.getpid())


def _metrics_of(fields):
    m = Metrics()
    (m.total_return, m.cagr, m.sharpe, m.sortino, m.max_drawdown, m.win_rate,
     m.trades) = fields
    return m


def _run_inline(points, control):
    for i in range(points):
        if control.signum:
            break
        out = sweep_point(i)
        yield out
        if not out[1]:
            break


def _run_pool(ctx, jobs, spec, flag, points, stopping):
    pool = ctx.Pool(jobs, initializer=sweep_worker_init, initargs=(spec, flag))
    try:
        it = pool.imap_unordered(sweep_point, range(points), chunksize=1)
        got = 0
        while got < points and not stopping():
            try:
                out = it.next(POLL_S)
            except ctx.TimeoutError:
                continue
            got += 1
            yield out
            if out[6] is not None:
                break
    finally:
        # Running points have seen the flag by now, or are cut here.
        pool.terminate()
        pool.join()


def _run_processpool(ctx, jobs, spec, flag, points, stopping):
    import concurrent.futures as cf
    ex = cf.ProcessPoolExecutor(jobs, mp_context=ctx, initializer=sweep_worker_init,
                                initargs=(spec, flag))
    pending = set()
    try:
        nxt = 0
        while not stopping():
            # Keep two points per job queued: a million-point grid is never
            # submitted at once.
            while nxt < points and len(pending) < 2 * jobs:
                pending.add(ex.submit(sweep_point, nxt))
                nxt += 1
            if not pending:
                break
            done, pending = cf.wait(pending, timeout=POLL_S, return_when=cf.FIRST_COMPLETED)
            failed = False
            for f in done:
                out = f.result()
                yield out
                failed = failed or out[6] is not None
            if failed:
                break
    finally:
        for f in pending:
            f.cancel()
        # Points already handed to a worker see the flag at their next bar.
        ex.shutdown(wait=True)


def run_sweep(spec, jobs, pool, start_method, control, prepared=None):
    """Runs every grid point of spec.grid and returns a SweepResult. `control`
    is the parent's Control (the signal handler sets its signum); `prepared`,
    when given, is the parent's (MarketData, Calendar) for this spec: the
    inline job and forked workers use it instead of making their own."""
    global _state
    import multiprocessing
    grid = spec.grid
    res = SweepResult()
    res.points = grid.points
    res.done = 0
    res.best = None
    res.best_metrics = Metrics()
    res.phase_s = [0.0] * len(PHASES)
    res.symbol_bars = 0
    res.error = None
    results = {}
    pids = set()
    jobs = min(jobs, grid.points)
    if jobs == 1:
        # As bt-engine: one job runs in the calling process.
        _state = _build_state(spec, control, prepared)
        stream = _run_inline(grid.points, control)
    else:
        ctx = multiprocessing.get_context(start_method)
        flag = ctx.RawValue("i", 0)
        if prepared is not None and start_method == "fork":
            _state = _build_state(spec, None, prepared)

        def stopping():
            if control.signum and not flag.value:
                flag.value = control.signum
            return bool(control.signum)

        run = _run_pool if pool == "pool" else _run_processpool
        stream = run(ctx, jobs, spec, flag, grid.points, stopping)
    for out in stream:
        index, complete, fields, checksum, phase_s, symbol_bars, error, pid = out
        for i in range(len(PHASES)):
            res.phase_s[i] += phase_s[i]
        res.symbol_bars += symbol_bars
        pids.add(pid)
        if error is not None:
            res.error = error
            break
        if complete:
            results[index] = (fields, checksum)
    h = FNV_OFFSET
    for i in range(grid.points):
        if i not in results:
            continue
        fields, checksum = results[i]
        res.done += 1
        h = _fnv1a_u64(h, i)
        h = _fnv1a_u64(h, checksum)
        # Strictly greater keeps the lowest index among equal Sharpe ratios.
        if res.best is None or fields[2] > res.best_metrics.sharpe:
            res.best = i
            res.best_metrics = _metrics_of(fields)
    res.checksum = h
    res.worker_pids = sorted(pids)
    return res
