/* SPDX-License-Identifier: MIT */
/* bte: libbtengine, the reference backtest engine (data, calendar, indicators, backtest, grid). */
#pragma once

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Error contract: functions returning int return 0 or -errno; functions
 * returning a pointer return NULL and set errno. Nothing here prints or
 * exits. Every *_free(NULL) is a no-op.
 *
 * Prices are stored in cents as integer-valued doubles, so sums of prices are
 * exact and the SMA and Bollinger results are bit-identical in the naive and
 * incremental modes. Cash, fills and commissions are whole cents too.
 */

/* ---- trading calendar ---------------------------------------------------- */

/* Days since 1970-01-01 for a proleptic Gregorian date. */
int32_t bte_days_from_civil(int year, unsigned month, unsigned day);
/* Inverse of bte_days_from_civil, as YYYYMMDD. */
uint32_t bte_civil_from_days(int32_t days);
/* True when the date is an exchange holiday (NYSE-like rules: New Year,
 * MLK day, Presidents day, Good Friday, Memorial day, Juneteenth from 2022,
 * Independence day, Labor day, Thanksgiving, Christmas; Saturday holidays
 * move to Friday except New Year, Sunday holidays move to Monday). */
bool bte_is_holiday(int32_t days);
/* True when the exchange trades that day (not a weekend, not a holiday). */
bool bte_is_session(int32_t days);

struct bte_calendar;
/* The first `count` sessions on or after `first_day` (days since epoch). */
struct bte_calendar *bte_calendar_new(int32_t first_day, size_t count);
void bte_calendar_free(struct bte_calendar *cal);
size_t bte_calendar_count(const struct bte_calendar *cal);
/* Day number (days since epoch) of session `index`; index < count. */
int32_t bte_calendar_day(const struct bte_calendar *cal, size_t index);
/* Index of the session on `day` by binary search, or -ENOENT. */
long bte_calendar_index(const struct bte_calendar *cal, int32_t day);

/* ---- synthetic market data ----------------------------------------------- */

/* One symbol's bars. Prices in cents (integer-valued), volume in shares. */
struct bte_series {
    const double *open, *high, *low, *close, *volume;
    size_t bars;
};

struct bte_data;
/* GBM OHLCV for `symbols` x `bars` from `seed`, on a calendar starting
 * 2000-01-03. Deterministic for a given seed on any thread count. */
struct bte_data *bte_data_new(unsigned symbols, size_t bars, uint64_t seed);
void bte_data_free(struct bte_data *data);
unsigned bte_data_symbols(const struct bte_data *data);
size_t bte_data_bars(const struct bte_data *data);
const struct bte_calendar *bte_data_calendar(const struct bte_data *data);
/* Symbol `sym` (< symbols); the struct is owned by data. */
const struct bte_series *bte_data_series(const struct bte_data *data, unsigned sym);

/* ---- indicators ------------------------------------------------------------ */

/*
 * Every indicator has a naive form, which recomputes from a window x[0..n-1]
 * (x[n-1] is the newest bar) and returns the value at the newest bar, and an
 * incremental form, which keeps state and is fed one window per bar, in bar
 * order, each ending one bar later than the last. The incremental form reads
 * only the newest bar and, for windowed indicators, the bar that leaves the
 * period (so n must exceed the period once period bars have been seen).
 *
 * Definitions (t = bar index from the start of the series):
 *   SMA(p): mean of the last min(p, t+1) values.
 *   EMA(p): e0 = x0; e = a*x + (1-a)*e with a = 2/(p+1).
 *   RSI(p): gains/losses of successive closes smoothed by Wilder's average
 *           (a = 1/p) seeded with the first change; 100 - 100/(1+g/l);
 *           50 before the first change, 100 when l == 0 < g.
 *   Bollinger(p, k): mean +- k * population std of the last min(p, t+1).
 *   MACD(f, s, g): EMA(f) - EMA(s); signal = EMA(g) of MACD seeded with the
 *           first MACD value; histogram = MACD - signal.
 *   ATR(p): true range (first bar: high - low) smoothed by Wilder (a = 1/p)
 *           seeded with the first true range.
 * The naive form of a recursive indicator starts the recursion at x[0], so it
 * matches the incremental form once the window is long enough for
 * (1 - a)^n to vanish (see bte_window_length).
 */
double bte_sma_naive(const double *x, size_t n, unsigned period);
double bte_ema_naive(const double *x, size_t n, unsigned period);
double bte_rsi_naive(const double *x, size_t n, unsigned period);
struct bte_bollinger {
    double mid, upper, lower;
};
struct bte_bollinger bte_bollinger_naive(const double *x, size_t n, unsigned period, double k);
struct bte_macd {
    double macd, signal, hist;
};
struct bte_macd bte_macd_naive(const double *x, size_t n, unsigned fast, unsigned slow,
                               unsigned signal);
double bte_atr_naive(const double *high, const double *low, const double *close, size_t n,
                     unsigned period);

struct bte_sma_state {
    unsigned period;
    size_t seen;
    double sum;
};
void bte_sma_init(struct bte_sma_state *s, unsigned period);
double bte_sma_update(struct bte_sma_state *s, const double *x, size_t n);

struct bte_ema_state {
    double alpha, value;
    size_t seen;
};
void bte_ema_init(struct bte_ema_state *s, unsigned period);
double bte_ema_update(struct bte_ema_state *s, double x);

struct bte_rsi_state {
    double alpha, gain, loss, prev;
    size_t seen;
};
void bte_rsi_init(struct bte_rsi_state *s, unsigned period);
double bte_rsi_update(struct bte_rsi_state *s, double x);

struct bte_bollinger_state {
    unsigned period;
    double k, sum, sumsq;
    size_t seen;
};
void bte_bollinger_init(struct bte_bollinger_state *s, unsigned period, double k);
struct bte_bollinger bte_bollinger_update(struct bte_bollinger_state *s, const double *x, size_t n);

struct bte_macd_state {
    struct bte_ema_state fast, slow, signal;
};
void bte_macd_init(struct bte_macd_state *s, unsigned fast, unsigned slow, unsigned signal);
struct bte_macd bte_macd_update(struct bte_macd_state *s, double x);

struct bte_atr_state {
    double alpha, value, prev_close;
    size_t seen;
};
void bte_atr_init(struct bte_atr_state *s, unsigned period);
double bte_atr_update(struct bte_atr_state *s, double high, double low, double close);

/* ---- metrics ----------------------------------------------------------------- */

struct bte_metrics {
    double total_return; /* final / initial - 1 */
    double cagr;         /* annualised with periods_per_year */
    double sharpe;       /* mean / sample std of period returns * sqrt(ppy) */
    double sortino;      /* mean / sqrt(mean(min(r, 0)^2)) * sqrt(ppy) */
    double max_drawdown; /* largest (peak - value) / peak, >= 0 */
    double win_rate;     /* winning round trips / closed round trips */
    uint64_t trades;     /* closed round trips */
};
/* Metrics of an equity curve (n >= 1 points, all > 0) and the P&L of each
 * closed round trip. Ratios with a zero denominator are 0. */
int bte_metrics_compute(const double *equity, size_t n, unsigned periods_per_year,
                        const double *trade_pnl, size_t ntrades, struct bte_metrics *out);

/* ---- backtest ------------------------------------------------------------------ */

enum bte_history_mode { BTE_HISTORY_NAIVE, BTE_HISTORY_FAST };
enum bte_indicator_mode { BTE_INDICATORS_NAIVE, BTE_INDICATORS_INCREMENTAL };
enum bte_strategy {
    BTE_STRATEGY_SMA_CROSS,
    BTE_STRATEGY_RSI,
    BTE_STRATEGY_MACD,
    BTE_STRATEGY_BOLLINGER
};
enum bte_phase {
    BTE_PHASE_HISTORY,
    BTE_PHASE_INDICATORS,
    BTE_PHASE_STRATEGY,
    BTE_PHASE_EXECUTION,
    BTE_PHASE_METRICS,
    BTE_PHASE_COUNT
};

/* Strategy and indicator parameters; see bte_params_default for defaults and
 * bte_param_set for names and ranges. */
struct bte_params {
    double fast, slow; /* sma_cross SMA periods */
    double rsi_period, rsi_low, rsi_high;
    double macd_fast, macd_slow, macd_signal;
    double bb_period, bb_width;
    double ema_period, atr_period;
    double atr_stop;     /* trailing stop, in ATRs below the highest price */
    double cooldown;     /* bars to wait after a stop-out before re-entering */
    double vol_lookback; /* bars of realised volatility for sizing */
    double target_vol;   /* annualised volatility target */
    double commission_bps, slippage_bps;
};
void bte_params_default(struct bte_params *p);
/* Sets parameter `name` ("fast", "rsi_period" or "rsi-period", ...).
 * -ENOENT for an unknown name, -ERANGE when value is outside its range
 * (then *min and *max, if not NULL, receive the range). */
int bte_param_set(struct bte_params *p, const char *name, double value, double *min, double *max);
/* Bars in every history window for these parameters: longer than every
 * period and long enough that the recursive indicators forget their seed. */
size_t bte_window_length(const struct bte_params *p);

struct bte_config {
    unsigned threads; /* workers; symbols are split in contiguous blocks */
    enum bte_history_mode history;
    enum bte_indicator_mode indicators;
    enum bte_strategy strategy;
    struct bte_params params;
    double capital; /* dollars, split evenly across symbols */
    /* Naive history keeps a packed copy of every window it builds (the five
     * OHLCV columns, BTE_CACHE_BYTES_PER_ROW a row) until the run ends: a
     * known amount of memory for memory profilers. Needs BTE_HISTORY_NAIVE. */
    bool memory_cache;
};

/* Bytes memory_cache keeps per window row: five float64 columns. */
#define BTE_CACHE_BYTES_PER_ROW 40
void bte_config_default(struct bte_config *c);

/* What may stop a run early. Both pointers may be NULL. */
struct bte_control {
    volatile sig_atomic_t *stop; /* nonzero: stop at the next bar */
    const int64_t *deadline_ns;  /* CLOCK_MONOTONIC ns: stop after it */
};

/* One executed order. */
struct bte_fill {
    uint32_t symbol, bar;
    int64_t qty;       /* > 0 buy, < 0 sell */
    double price;      /* cents */
    double commission; /* cents */
};

struct bte_result;
/* Runs the backtest on data. Returns NULL+errno on failure (EINVAL bad
 * config, ENOMEM). A run stopped through ctl returns a result for the bars
 * done so far, with bte_result_complete() false. */
struct bte_result *bte_run_backtest(const struct bte_data *data, const struct bte_config *cfg,
                                    const struct bte_control *ctl);
void bte_result_free(struct bte_result *r);
bool bte_result_complete(const struct bte_result *r);
const struct bte_metrics *bte_result_metrics(const struct bte_result *r);
/* FNV-1a 64 over the portfolio equity curve and the fills, quantised to 1e-6. */
uint64_t bte_result_checksum(const struct bte_result *r);
/* Portfolio equity in dollars, one point per bar; after a stop, a symbol
 * that did fewer bars holds its last equity. */
const double *bte_result_equity(const struct bte_result *r, size_t *n);
const struct bte_fill *bte_result_fills(const struct bte_result *r, size_t *n);
/* Symbol-bars processed (all symbols, all bars when complete). */
uint64_t bte_result_symbol_bars(const struct bte_result *r);
/* Nanoseconds spent in each phase, summed over threads; ns[BTE_PHASE_COUNT]. */
void bte_result_phase_ns(const struct bte_result *r, uint64_t *ns);
/* What memory_cache kept in this run, summed over symbols: bytes (rows x
 * BTE_CACHE_BYTES_PER_ROW; allocator overhead not counted) and windows. */
void bte_result_memory_cache(const struct bte_result *r, uint64_t *bytes, uint64_t *windows);
const char *bte_name_of_phase(enum bte_phase phase);

/* ---- grid search --------------------------------------------------------------- */

/* A grid is "name=start:stop:step,name=value,..." (stop inclusive). */
struct bte_grid;
/* NULL+errno: EINVAL (syntax; *bad_at gets the offending item), ENOENT
 * (unknown name), ERANGE (value outside the parameter's range), E2BIG (more
 * than 1,000,000 points). */
struct bte_grid *bte_grid_parse(const char *spec, const char **bad_at);
void bte_grid_free(struct bte_grid *g);
size_t bte_grid_points(const struct bte_grid *g);
/* Writes point `index` over base into *out. Points vary the last key fastest. */
int bte_grid_point(const struct bte_grid *g, size_t index, const struct bte_params *base,
                   struct bte_params *out);
/* Human description of point `index`, e.g. "fast=10 slow=100". */
int bte_grid_describe(const struct bte_grid *g, size_t index, char *buf, size_t len);

struct bte_optimize_result {
    size_t points, done; /* grid points and how many completed */
    size_t best;         /* index of the best point by Sharpe (lowest index on ties) */
    struct bte_metrics best_metrics;
    uint64_t best_checksum;
    uint64_t checksum; /* FNV-1a 64 over every point's checksum, in grid order */
    uint64_t phase_ns[BTE_PHASE_COUNT];
    uint64_t symbol_bars;
};
/* One backtest per grid point (each single-threaded) on `jobs` threads. The
 * result does not depend on jobs. Stopped early through ctl: -EINTR, with
 * *out describing the points done. */
int bte_optimize(const struct bte_data *data, const struct bte_config *base,
                 const struct bte_grid *grid, unsigned jobs, const struct bte_control *ctl,
                 struct bte_optimize_result *out);

/* FNV-1a 64 helpers (exposed for tests and tools). */
#define BTE_FNV_OFFSET 0xcbf29ce484222325ULL
uint64_t bte_fnv1a_u64(uint64_t hash, uint64_t value);
