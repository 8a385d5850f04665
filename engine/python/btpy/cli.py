# SPDX-License-Identifier: MIT
"""cli: options, the run loop (--repeat, --seconds, signals), optimize and the summary of bt_backtest.py."""

import getopt
import json
import platform
import re
import signal
import sys
import time

from . import backends, optimize
from .backtest import PHASES, Config, Control, run_backtest
from .marketdata import MarketData
from .params import (PARAM_TABLE, STRATEGIES, Params, describe, param_range, param_set,
                     window_length)

PROG = "bt_backtest"
EXIT_USAGE = 2
MAX_SYMBOL_BARS = 50000000
DEFAULT_SYMBOLS = 4
DEFAULT_BARS = 2000
# optimize's defaults, as bt-engine's.
OPTIMIZE_SYMBOLS = 2
OPTIMIZE_BARS = 2000
NAMED_PARAMS = ("fast", "slow", "rsi-period", "rsi-low", "rsi-high", "macd-fast", "macd-slow",
                "macd-signal", "bb-period", "bb-width")

USAGE = """\
usage: bt_backtest.py [run] [options]
       bt_backtest.py optimize --grid SPEC [--jobs J] [--pool pool|processpool] [options]

The Python reference backtest, a twin of bt-engine: synthetic GBM bars on a
trading calendar, six indicators, four strategies, next-bar fills, metrics and
a checksum, in five timed phases (history, indicators, strategy, execution,
metrics). Runs on numpy/pandas when they import, on the standard library alone
otherwise.

data:
  --symbols N          symbols (1..10000, default %(symbols)d)
  --bars B             bars per symbol (1..10000000, default %(bars)d)
  --seed S             PRNG seed for the data (default 42)
engine:
  --history MODE       naive (copy a window, look up the calendar; default) or fast
                       (views: ndarray or memoryview slices)
  --indicators MODE    incremental (default) or naive (recompute each window)
  --backend NAME       auto (default: pandas, else numpy, else stdlib), stdlib,
                       numpy or pandas
  --threads T          split the symbols over T named Python threads (1..256, default 1)
  --capital DOLLARS    starting cash split over the symbols (default 1000000)
  --memory-cache       naive history keeps a packed copy of every window it builds:
                       40 bytes per window row, the total is printed
strategy:
  --strategy NAME      sma_cross (default), rsi, macd or bollinger
  --fast N --slow N    sma_cross periods (default 50, 200)
  --rsi-period N --rsi-low X --rsi-high X       (default 14, 30, 70)
  --macd-fast N --macd-slow N --macd-signal N   (default 12, 26, 9)
  --bb-period N --bb-width X                    (default 20, 2)
  --param NAME=VALUE   any parameter, e.g. atr_stop=3, commission_bps=5,
                       slippage_bps=2, target_vol=0.15, vol_lookback=63
running:
  --repeat N           run the whole backtest N times (1..1000000)
  --seconds S          repeat until S seconds have passed (at least one run)
sweep (optimize: one single-threaded backtest per grid point; default data
%(osymbols)d symbols x %(obars)d bars):
  --grid SPEC          NAME=START:STOP:STEP (STOP inclusive) or NAME=VALUE, comma
                       separated; the last key varies fastest
  --jobs J             worker processes (1..256, default 1: run in this process)
  --pool KIND          pool (multiprocessing.Pool, default) or processpool
                       (concurrent.futures.ProcessPoolExecutor)
  --start-method M     fork, spawn or forkserver (default: the platform's, %(start)s)
output:
  --phase-times        print each phase's share of the time spent in phases
  --json               print one JSON object instead of the summary
  -h, --help           show this help

SIGINT or SIGTERM stops a run at the next bar; what was done is printed and the
exit status is 0. Usage errors exit 2, runtime failures 1. The checksum equals
bt-engine's for the same data, strategy and parameters.

examples:
  python3 engine/python/bt_backtest.py
  python3 engine/python/bt_backtest.py --symbols 2 --bars 1500 --phase-times
  python3 engine/python/bt_backtest.py --history fast --threads 2 --json
  python3 engine/python/bt_backtest.py --backend stdlib --seconds 30
  python3 engine/python/bt_backtest.py --history naive --memory-cache --bars 1000
  python3 engine/python/bt_backtest.py optimize --grid 'fast=10:50:20,slow=100:200:50' --jobs 2
  python3 engine/python/bt_backtest.py optimize --grid 'atr_stop=2:4:1' --jobs 2 --pool processpool
"""


def _usage():
    import multiprocessing
    return USAGE % {"symbols": DEFAULT_SYMBOLS, "bars": DEFAULT_BARS,
                    "osymbols": OPTIMIZE_SYMBOLS, "obars": OPTIMIZE_BARS,
                    "start": multiprocessing.get_start_method()}


class UsageError(Exception):
    pass


class Options:
    def __init__(self):
        self.symbols = DEFAULT_SYMBOLS
        self.bars = DEFAULT_BARS
        self.seed = 42
        self.repeat = None
        self.seconds = 0.0
        self.backend = "auto"
        self.history = "naive"
        self.indicators = "incremental"
        self.strategy = "sma_cross"
        self.threads = 1
        self.capital = 1000000.0
        self.memory_cache = False
        self.json = False
        self.phase_times = False
        self.params = Params()
        self.optimize = False
        self.grid = None
        self.jobs = 1
        self.pool = "pool"
        self.start_method = None


_INT = re.compile(r"[0-9]+\Z")
_FLOAT = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?\Z")


def _parse_int(opt, arg, lo, hi):
    if not _INT.match(arg) or not lo <= int(arg) <= hi:
        raise UsageError("invalid --%s: '%s' (expected %d..%d)" % (opt, arg, lo, hi))
    return int(arg)


def _parse_float(opt, arg, lo, hi):
    if not _FLOAT.match(arg) or not lo <= float(arg) <= hi:
        raise UsageError("invalid --%s: '%s' (expected %g..%g)" % (opt, arg, lo, hi))
    return float(arg)


def _parse_choice(opt, arg, names):
    if arg not in names:
        expected = ", ".join(names[:-1]) + " or " + names[-1]
        raise UsageError("invalid --%s: '%s' (expected %s)" % (opt, arg, expected))
    return arg


def _set_param(o, opt, name, arg):
    spec = param_range(name)
    if spec is None:
        raise UsageError("unknown parameter '%s'" % name)
    value = float(arg) if _FLOAT.match(arg) else None
    try:
        if value is None:
            raise ValueError(name)
        param_set(o.params, name, value)
    except ValueError:
        raise UsageError("invalid %s: '%s' (expected %g..%g)" % (opt, arg, spec[1], spec[2]))


def _getopt_message(e):
    opt = "--" + e.opt if len(e.opt) > 1 else "-" + e.opt
    if "requires argument" in e.msg:
        return "option '%s' needs a value" % opt
    if "must not have an argument" in e.msg:
        return "option '%s' takes no value" % opt
    if "not a unique prefix" in e.msg:
        return "ambiguous option '%s'" % opt
    return "unknown option '%s'" % opt


def parse_args(argv):
    """Options from argv (without the program name); None for --help."""
    o = Options()
    if argv and argv[0] == "run":
        argv = argv[1:]
    elif argv and argv[0] == "optimize":
        o.optimize = True
        argv = argv[1:]
    seen = set()
    longopts = ["symbols=", "bars=", "seed=", "threads=", "history=", "indicators=",
                "strategy=", "param=", "repeat=", "seconds=", "json", "phase-times",
                "capital=", "backend=", "memory-cache", "grid=", "jobs=", "pool=",
                "start-method=", "help"]
    longopts += [name + "=" for name in NAMED_PARAMS]
    try:
        opts, rest = getopt.gnu_getopt(argv, "h", longopts)
    except getopt.GetoptError as e:
        raise UsageError(_getopt_message(e))
    for opt, arg in opts:
        name = opt.lstrip("-")
        seen.add(name)
        if opt in ("-h", "--help"):
            return None
        elif name == "symbols":
            o.symbols = _parse_int(name, arg, 1, 10000)
        elif name == "bars":
            o.bars = _parse_int(name, arg, 1, 10000000)
        elif name == "seed":
            o.seed = _parse_int(name, arg, 0, (1 << 64) - 1)
        elif name == "threads":
            o.threads = _parse_int(name, arg, 1, 256)
        elif name == "repeat":
            o.repeat = _parse_int(name, arg, 1, 1000000)
        elif name == "seconds":
            o.seconds = _parse_float(name, arg, 0.001, 1e6)
        elif name == "capital":
            o.capital = _parse_float(name, arg, 1000, 1e12)
        elif name == "history":
            o.history = _parse_choice(name, arg, ("naive", "fast"))
        elif name == "indicators":
            o.indicators = _parse_choice(name, arg, ("naive", "incremental"))
        elif name == "strategy":
            o.strategy = _parse_choice(name, arg, STRATEGIES)
        elif name == "backend":
            o.backend = _parse_choice(name, arg, ("auto",) + backends.NAMES)
        elif name == "param":
            key, eq, value = arg.partition("=")
            if not eq or not key:
                raise UsageError("invalid --param: '%s' (expected NAME=VALUE)" % arg)
            _set_param(o, "--param " + key, key, value)
        elif name in NAMED_PARAMS:
            _set_param(o, opt, name, arg)
        elif name == "json":
            o.json = True
        elif name == "phase-times":
            o.phase_times = True
        elif name == "memory-cache":
            o.memory_cache = True
        elif name == "grid":
            o.grid = arg
        elif name == "jobs":
            o.jobs = _parse_int(name, arg, 1, 256)
        elif name == "pool":
            o.pool = _parse_choice(name, arg, optimize.POOLS)
        elif name == "start-method":
            o.start_method = _parse_choice(name, arg, optimize.START_METHODS)
    if rest:
        raise UsageError("unexpected argument '%s'" % rest[0])
    sweep_opts = ("grid", "jobs", "pool", "start-method")
    if o.optimize:
        if o.grid is None:
            raise UsageError("optimize needs --grid (e.g. --grid 'fast=10:50:10')")
        if "symbols" not in seen:
            o.symbols = OPTIMIZE_SYMBOLS
        if "bars" not in seen:
            o.bars = OPTIMIZE_BARS
        if o.threads != 1 or "repeat" in seen or "seconds" in seen:
            raise UsageError("--threads, --repeat and --seconds do not apply to optimize "
                             "(use --jobs)")
        if o.memory_cache:
            raise UsageError("--memory-cache does not apply to optimize")
        try:
            o.grid = optimize.Grid(o.grid)
        except optimize.GridError as e:
            raise UsageError("invalid --grid: %s" % e)
        if o.start_method is None:
            import multiprocessing
            o.start_method = multiprocessing.get_start_method()
    elif any(x in seen for x in sweep_opts):
        raise UsageError("--grid, --jobs, --pool and --start-method only apply to "
                         "'bt_backtest.py optimize'")
    if o.memory_cache and o.history != "naive":
        raise UsageError("--memory-cache needs --history naive (the fast path copies nothing)")
    if o.repeat is None:
        o.repeat = 1000000000 if o.seconds > 0 else 1
    if o.symbols * o.bars > MAX_SYMBOL_BARS:
        raise UsageError("--symbols times --bars is %d (expected at most %d)"
                         % (o.symbols * o.bars, MAX_SYMBOL_BARS))
    return o


class Report:
    """What the summary prints: a run's result (metrics, fills, checksum), or
    optimize's best point and sweep checksum."""

    def __init__(self):
        self.metrics = None
        self.checksum = 0
        self.complete = True
        self.runs = 0
        self.fills = 0
        self.cache_bytes = self.cache_windows = 0
        self.points = self.done = 0
        self.best = None
        self.worker_pids = []
        self.symbol_bars = 0
        self.phase_s = [0.0] * len(PHASES)
        self.elapsed = 0.0


def _signal_name(signum):
    return {signal.SIGINT: "SIGINT", signal.SIGTERM: "SIGTERM"}.get(signum)


def _shares(phase_s):
    total = sum(phase_s)
    return [100.0 * s / total if total > 0 else 0.0 for s in phase_s], total


def _sweep_how(o):
    if o.jobs == 1 or o.grid.points == 1:
        return "in this process"
    return "%s, start %s" % (optimize.POOL_NAMES[o.pool], o.start_method)


def print_report(o, cfg, rep, control):
    m = rep.metrics
    pct, total_s = _shares(rep.phase_s)
    rate = rep.symbol_bars / rep.elapsed if rep.elapsed > 0 else 0.0
    sig = _signal_name(control.signum)
    params = describe(o.strategy, o.params)
    python = "%s %s" % (platform.python_implementation(), platform.python_version())
    out = sys.stdout
    if o.json:
        fields = [
            '"command":"%s"' % ("optimize" if o.optimize else "run"),
            '"strategy":%s' % json.dumps(o.strategy),
            '"params":%s' % json.dumps(params), '"symbols":%d' % o.symbols,
            '"bars":%d' % o.bars, '"seed":%d' % o.seed, '"history":"%s"' % o.history,
            '"indicators":"%s"' % o.indicators, '"threads":%d' % o.threads,
            '"backend":"%s"' % cfg.backend.name,
            '"backend_version":%s' % json.dumps(cfg.backend.version),
            '"python":%s' % json.dumps(python), '"window":%d' % window_length(o.params),
        ]
        if o.optimize:
            fields += [
                '"jobs":%d' % o.jobs, '"pool":"%s"' % o.pool,
                '"start_method":"%s"' % o.start_method, '"grid":%s' % json.dumps(o.grid.spec),
                '"points":%d' % rep.points, '"points_done":%d' % rep.done,
                '"best":%s' % json.dumps(o.grid.describe(rep.best) if rep.done else ""),
                '"worker_pids":[%s]' % ",".join("%d" % p for p in rep.worker_pids),
            ]
        else:
            fields += ['"runs":%d' % rep.runs, '"fills":%d' % rep.fills]
        fields += [
            '"complete":%s' % ("true" if rep.complete else "false"),
            '"stopped_by":%s' % (json.dumps(sig) if sig else "null"),
            '"metrics":{"total_return":%.6f,"cagr":%.6f,"sharpe":%.6f,"sortino":%.6f,'
            '"max_drawdown":%.6f,"win_rate":%.6f,"trades":%d}'
            % (m.total_return, m.cagr, m.sharpe, m.sortino, m.max_drawdown, m.win_rate,
               m.trades),
            '"elapsed_s":%.6f' % rep.elapsed, '"symbol_bars":%d' % rep.symbol_bars,
            '"symbol_bars_per_s":%.0f' % rate, '"checksum":"%016x"' % rep.checksum,
        ]
        if o.memory_cache:
            fields.append('"memory_cache_bytes":%d,"memory_cache_windows":%d'
                          % (rep.cache_bytes, rep.cache_windows))
        if o.phase_times:
            fields.append('"phase_seconds":%.6f,"phase_times":{%s}' % (total_s, ",".join(
                '"%s":%.2f' % (name, pct[i]) for i, name in enumerate(PHASES))))
        out.write("{" + ",".join(fields) + "}\n")
        out.flush()
        return
    out.write("%s: %s %s | %d symbols x %d bars, seed %d | history %s | indicators %s"
              " | threads %d | backend %s\n"
              % ("optimize" if o.optimize else "backtest", o.strategy,
                 o.grid.spec if o.optimize else params, o.symbols, o.bars, o.seed, o.history,
                 o.indicators, o.threads, cfg.backend.name))
    out.write("backend:       %s on %s\n" % (cfg.backend.version, python))
    if o.optimize:
        out.write("grid points:   %d done of %d (jobs %d, %s)\n"
                  % (rep.done, rep.points, o.jobs, _sweep_how(o)))
        out.write("best:          %s\n" % (o.grid.describe(rep.best) if rep.done else "(none)"))
    else:
        out.write("runs:          %d complete%s\n"
                  % (rep.runs, "" if rep.complete else
                     " (stopped mid-run: results cover the bars done)"))
    if sig:
        out.write("stopped by:    %s\n" % sig)
    out.write("total return:  %.2f%%\n" % (100.0 * m.total_return))
    out.write("CAGR:          %.2f%%\n" % (100.0 * m.cagr))
    out.write("sharpe:        %.4f\n" % m.sharpe)
    out.write("sortino:       %.4f\n" % m.sortino)
    out.write("max drawdown:  %.2f%%\n" % (100.0 * m.max_drawdown))
    out.write("win rate:      %.2f%%\n" % (100.0 * m.win_rate))
    out.write("trades:        %d\n" % m.trades)
    if not o.optimize:
        out.write("fills:         %d\n" % rep.fills)
    if o.memory_cache:
        out.write("memory cache:  %d bytes (%.1f MiB) in %d windows\n"
                  % (rep.cache_bytes, rep.cache_bytes / 1048576.0, rep.cache_windows))
    out.write("elapsed:       %.3f s\n" % rep.elapsed)
    out.write("throughput:    %.0f symbol-bars/s\n" % rate)
    out.write("checksum: %016x\n" % rep.checksum)
    if o.phase_times:
        what = "workers" if o.optimize else "threads"
        out.write("phase times (share of %.3f s in phases, summed over %s):\n" % (total_s, what))
        for i, name in enumerate(PHASES):
            out.write("  %-12s %5.1f%%\n" % (name, pct[i]))
    out.flush()


def run_backtests(o, cfg, data, calendar, control, start):
    rep = Report()
    deadline = start + o.seconds
    last = None
    while True:
        # The first run always finishes; later ones are cut at the deadline.
        control.deadline = deadline if rep.runs and o.seconds > 0 else None
        r = run_backtest(data, calendar, cfg, control)
        if r.error is not None:
            sys.stderr.write("%s: backtest failed: %s: %s\n"
                             % (PROG, type(r.error).__name__, r.error))
            return 1
        for i in range(len(PHASES)):
            rep.phase_s[i] += r.phase_s[i]
        rep.symbol_bars += r.symbol_bars
        if r.complete:
            if last is not None and last.complete and last.checksum != r.checksum:
                sys.stderr.write("%s: run %d gave checksum %016x after %016x\n"
                                 % (PROG, rep.runs + 1, r.checksum, last.checksum))
                return 1
            last = r
            rep.runs += 1
        elif last is None:
            last = r  # interrupted first run: report what it has
        if not last.complete or control.signum or rep.runs >= o.repeat:
            break
        if o.seconds > 0 and time.perf_counter() >= deadline:
            break
    rep.metrics = last.metrics
    rep.checksum = last.checksum
    rep.complete = last.complete
    rep.fills = len(last.fills)
    rep.cache_bytes = last.cache_bytes
    rep.cache_windows = last.cache_windows
    rep.elapsed = time.perf_counter() - start
    print_report(o, cfg, rep, control)
    return 0


def _sweep_spec(o, backend):
    spec = optimize.SweepSpec()
    spec.symbols, spec.bars, spec.seed = o.symbols, o.bars, o.seed
    spec.backend = backend.name
    spec.history, spec.indicators, spec.strategy = o.history, o.indicators, o.strategy
    spec.capital = o.capital
    spec.params = tuple((row[0], getattr(o.params, row[0])) for row in PARAM_TABLE)
    spec.grid = o.grid
    return spec


def run_optimize(o, cfg, control, start):
    spec = _sweep_spec(o, cfg.backend)
    prepared = None
    # The inline job and forked workers use the data made here; spawned
    # workers make their own.
    if o.jobs == 1 or o.grid.points == 1 or o.start_method == "fork":
        data = MarketData(o.symbols, o.bars, o.seed)
        prepared = (data, backends.prepare(cfg.backend, data, o.history))
    try:
        res = optimize.run_sweep(spec, o.jobs, o.pool, o.start_method, control, prepared)
    except Exception as e:  # e.g. a worker process that died
        sys.stderr.write("%s: optimize failed: %s: %s\n" % (PROG, type(e).__name__, e))
        return 1
    if res.error is not None:
        sys.stderr.write("%s: backtest failed: %s\n" % (PROG, res.error))
        return 1
    rep = Report()
    rep.metrics = res.best_metrics
    rep.checksum = res.checksum
    rep.complete = res.done == res.points
    rep.points, rep.done, rep.best = res.points, res.done, res.best
    rep.worker_pids = res.worker_pids
    rep.symbol_bars = res.symbol_bars
    rep.phase_s = res.phase_s
    rep.elapsed = time.perf_counter() - start
    print_report(o, cfg, rep, control)
    return 0


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    try:
        o = parse_args(argv)
    except UsageError as e:
        sys.stderr.write("%s: %s\ntry 'bt_backtest.py --help'\n" % (PROG, e))
        return EXIT_USAGE
    if o is None:
        sys.stdout.write(_usage())
        return 0
    try:
        backend = backends.select(o.backend)
    except backends.BackendUnavailable as e:
        sys.stderr.write("%s: cannot use --backend %s: %s\n"
                         "hint: install python3-%s, or use --backend stdlib\n"
                         % (PROG, o.backend, e, o.backend))
        return 1
    control = Control()

    def on_signal(signum, frame):
        control.signum = signum

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    cfg = Config(backend, o.params)
    cfg.threads = o.threads
    cfg.history = o.history
    cfg.indicators = o.indicators
    cfg.strategy = o.strategy
    cfg.capital = o.capital
    cfg.memory_cache = o.memory_cache
    start = time.perf_counter()
    if o.optimize:
        return run_optimize(o, cfg, control, start)
    data = MarketData(o.symbols, o.bars, o.seed)
    calendar = backends.prepare(backend, data, o.history)
    return run_backtests(o, cfg, data, calendar, control, start)
