/* SPDX-License-Identifier: MIT */
/* backtest: the bar loop, its five timed phases, worker threads, the portfolio and the checksum. */
#define _GNU_SOURCE
#include "bte.h"
#include "engine-private.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PERIODS_PER_YEAR     252
#define ROLLING_BARS         252
#define MIN_COMMISSION_CENTS 100.0
#define INTRABAR_STEPS       78

/* A history window: newest bar last. The naive path fills `dates` too. */
struct window {
    const double *open, *high, *low, *close, *volume;
    const uint32_t *dates;
    size_t len;
};

/* What data.history() returns on the naive path: a freshly built frame. */
struct frame {
    double *open, *high, *low, *close, *volume;
    uint32_t *dates;
};

struct indicator_values {
    double sma_fast, sma_slow, ema, rsi, atr;
    struct bte_bollinger bb;
    struct bte_macd macd;
};

struct growable {
    void *items;
    size_t len, cap, size;
};

/* Everything one symbol's backtest owns. */
struct bte_symbol_run {
    const struct bte_config *cfg;
    const struct bte_calendar *cal;
    const struct bte_series *series;
    uint32_t symbol;
    size_t window_len, warmup;

    struct window win;
    struct frame *frame;

    struct bte_sma_state sma_fast, sma_slow;
    struct bte_ema_state ema;
    struct bte_rsi_state rsi;
    struct bte_bollinger_state bb;
    struct bte_macd_state macd;
    struct bte_atr_state atr;
    struct indicator_values ind;

    double realized_vol;
    size_t stopped_at; /* bar of the last stop-out */

    double cash;            /* cents */
    int64_t position;       /* shares */
    int64_t order_now;      /* fills at this bar's open */
    int64_t order_next;     /* decided this bar, fills at the next open */
    double next_stop, stop; /* cents; 0 = none */
    double highest;         /* highest intrabar price since entry, cents */
    double stop_atr;        /* ATR at the previous close, trails the stop */
    double entry_cost;      /* cents paid for the open position */

    double *equity; /* cents, per bar */
    double *returns;
    double peak, max_drawdown, min_rolling_sharpe;
    double rolling_sharpe, rolling_sortino, rolling_drawdown; /* trailing year */
    size_t bars_done;

    struct growable fills; /* struct bte_fill */
    struct growable pnl;   /* double, dollars per closed round trip */
    struct growable cache; /* double *, one packed window each (memory_cache) */
    uint64_t cache_bytes;
    int error;
};

struct bte_result {
    bool complete;
    struct bte_metrics metrics;
    uint64_t checksum;
    double *equity;
    size_t n;
    struct bte_fill *fills;
    size_t nfills;
    uint64_t symbol_bars;
    uint64_t phase_ns[BTE_PHASE_COUNT];
    uint64_t cache_bytes, cache_windows;
};

struct worker {
    pthread_t thread;
    struct bte_symbol_run *runs;
    unsigned count;
    size_t bars;
    const struct bte_control *ctl;
    uint64_t phase_ns[BTE_PHASE_COUNT];
    bool stopped;
};

int64_t bte_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int push(struct growable *g, const void *item)
{
    if (g->len == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 64;
        void *items = realloc(g->items, cap * g->size);
        if (!items)
            return -ENOMEM;
        g->items = items;
        g->cap = cap;
    }
    memcpy((char *)g->items + g->len * g->size, item, g->size);
    g->len++;
    return 0;
}

static void frame_free(struct frame *f)
{
    if (!f)
        return;
    free(f->open);
    free(f->dates);
    free(f);
}

/* data.history() the way a dataframe library serves it: find today's session
 * in the calendar, build a date index for the window, and copy every column
 * into a new frame. */
static struct frame *frame_build(const struct bte_calendar *cal, const struct bte_series *s,
                                 int32_t today, size_t want)
{
    struct frame *f = calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    long end = bte_calendar_index(cal, today);
    if (end < 0) {
        free(f);
        errno = ENOENT;
        return NULL;
    }
    size_t len = (size_t)end + 1 < want ? (size_t)end + 1 : want;
    size_t start = (size_t)end + 1 - len;
    f->open = malloc(5 * len * sizeof(double));
    f->dates = malloc(len * sizeof(uint32_t));
    if (!f->open || !f->dates) {
        frame_free(f);
        errno = ENOMEM;
        return NULL;
    }
    f->high = f->open + len;
    f->low = f->high + len;
    f->close = f->low + len;
    f->volume = f->close + len;
    /* Label the rows with their dates, then align the labels to the
     * calendar (a reindex, merging two sorted indexes) and take each column
     * at the aligned positions. */
    for (size_t i = 0; i < len; i++)
        f->dates[i] = bte_civil_from_days(bte_calendar_day(cal, start + i));
    size_t row = start, sessions = bte_calendar_count(cal);
    for (size_t i = 0; i < len; i++) {
        uint32_t ymd = f->dates[i];
        int32_t day = bte_days_from_civil((int)(ymd / 10000), ymd / 100 % 100, ymd % 100);
        while (row < sessions && bte_calendar_day(cal, row) < day)
            row++;
        if (row == sessions || bte_calendar_day(cal, row) != day) {
            frame_free(f);
            errno = ENOENT;
            return NULL;
        }
        f->open[i] = s->open[row];
        f->high[i] = s->high[row];
        f->low[i] = s->low[row];
        f->close[i] = s->close[row];
        f->volume[i] = s->volume[row];
    }
    /* Forward-fill missing values column by column, as history() does. */
    double *columns[] = {f->open, f->high, f->low, f->close, f->volume};
    for (size_t c = 0; c < 5; c++)
        for (size_t i = 1; i < len; i++)
            if (isnan(columns[c][i]))
                columns[c][i] = columns[c][i - 1];
    /* A frame's index must be strictly increasing, as a DatetimeIndex is. */
    for (size_t i = 1; i < len; i++)
        if (f->dates[i] <= f->dates[i - 1]) {
            frame_free(f);
            errno = EINVAL;
            return NULL;
        }
    return f;
}

BTE_PHASE_FN void bte_phase_history(struct bte_symbol_run *run, size_t bar)
{
    const struct bte_series *s = run->series;
    size_t len = bar + 1 < run->window_len ? bar + 1 : run->window_len;
    if (run->cfg->history == BTE_HISTORY_FAST) {
        size_t start = bar + 1 - len;
        run->win = (struct window){s->open + start,
                                   s->high + start,
                                   s->low + start,
                                   s->close + start,
                                   s->volume + start,
                                   NULL,
                                   len};
        return;
    }
    frame_free(run->frame);
    run->frame = frame_build(run->cal, s, bte_calendar_day(run->cal, bar), run->window_len);
    if (!run->frame) {
        run->error = -errno;
        run->win.len = 0;
        return;
    }
    struct frame *f = run->frame;
    run->win = (struct window){f->open, f->high, f->low, f->close, f->volume, f->dates, len};
    if (run->cfg->memory_cache)
        bte_cache_window(run, len);
}

/* --memory-cache: a packed copy of the window just built, kept until the
 * run ends. Its first touch of new memory is here, under history. */
BTE_PHASE_FN void bte_cache_window(struct bte_symbol_run *run, size_t len)
{
    const struct frame *f = run->frame;
    double *copy = malloc(5 * len * sizeof(double));

    if (!copy || push(&run->cache, &copy)) {
        free(copy);
        run->error = -ENOMEM;
        return;
    }
    /* The frame's five columns are one block: open, high, low, close, volume. */
    memcpy(copy, f->open, 5 * len * sizeof(double));
    run->cache_bytes += (uint64_t)len * BTE_CACHE_BYTES_PER_ROW;
}

BTE_PHASE_FN void bte_phase_indicators(struct bte_symbol_run *run, size_t bar)
{
    const struct bte_params *p = &run->cfg->params;
    const struct window *w = &run->win;
    const double *c = w->close;
    size_t n = w->len;
    struct indicator_values *v = &run->ind;
    (void)bar;
    if (run->cfg->indicators == BTE_INDICATORS_NAIVE) {
        v->sma_fast = bte_sma_naive(c, n, (unsigned)p->fast);
        v->sma_slow = bte_sma_naive(c, n, (unsigned)p->slow);
        v->ema = bte_ema_naive(c, n, (unsigned)p->ema_period);
        v->rsi = bte_rsi_naive(c, n, (unsigned)p->rsi_period);
        v->bb = bte_bollinger_naive(c, n, (unsigned)p->bb_period, p->bb_width);
        v->macd = bte_macd_naive(c, n, (unsigned)p->macd_fast, (unsigned)p->macd_slow,
                                 (unsigned)p->macd_signal);
        v->atr = bte_atr_naive(w->high, w->low, c, n, (unsigned)p->atr_period);
        return;
    }
    double close = c[n - 1];
    v->sma_fast = bte_sma_update(&run->sma_fast, c, n);
    v->sma_slow = bte_sma_update(&run->sma_slow, c, n);
    v->ema = bte_ema_update(&run->ema, close);
    v->rsi = bte_rsi_update(&run->rsi, close);
    v->bb = bte_bollinger_update(&run->bb, c, n);
    v->macd = bte_macd_update(&run->macd, close);
    v->atr = bte_atr_update(&run->atr, w->high[n - 1], w->low[n - 1], close);
}

/* Annualised volatility of the last `lookback` log returns in the window. */
static double realized_volatility(const double *close, size_t n, size_t lookback)
{
    if (n < 3)
        return 0.0;
    size_t m = n - 1 < lookback ? n - 1 : lookback;
    double sum = 0.0, sumsq = 0.0;
    for (size_t i = n - m; i < n; i++) {
        double r = log(close[i] / close[i - 1]);
        sum += r;
        sumsq += r * r;
    }
    double mean = sum / (double)m;
    double var = (sumsq - (double)m * mean * mean) / (double)(m > 1 ? m - 1 : 1);
    return var > 0.0 ? sqrt(var * PERIODS_PER_YEAR) : 0.0;
}

static bool wants_long(const struct bte_symbol_run *run, bool holding)
{
    const struct bte_params *p = &run->cfg->params;
    const struct indicator_values *v = &run->ind;
    double close = run->win.close[run->win.len - 1];
    switch (run->cfg->strategy) {
    case BTE_STRATEGY_SMA_CROSS:
        return v->sma_fast > v->sma_slow;
    case BTE_STRATEGY_RSI:
        return holding ? !(v->rsi > p->rsi_high) : v->rsi < p->rsi_low;
    case BTE_STRATEGY_MACD:
        return v->macd.hist > 0.0;
    case BTE_STRATEGY_BOLLINGER:
        return holding ? !(close > v->bb.mid) : close < v->bb.lower;
    }
    return false;
}

BTE_PHASE_FN void bte_phase_strategy(struct bte_symbol_run *run, size_t bar)
{
    const struct bte_params *p = &run->cfg->params;
    const struct window *w = &run->win;
    double close = w->close[w->len - 1];
    run->realized_vol = realized_volatility(w->close, w->len, (size_t)p->vol_lookback);
    run->order_next = 0;
    if (bar < run->warmup)
        return;
    int64_t intended = run->position + run->order_now;
    bool want = wants_long(run, intended > 0);
    if (!want) {
        if (intended > 0)
            run->order_next = -intended;
        return;
    }
    /* After a stop-out, wait `cooldown` bars before re-entering. */
    if (intended > 0 || bar < run->stopped_at + (size_t)p->cooldown)
        return;
    double weight = 1.0;
    if (run->realized_vol > 0.0 && p->target_vol < run->realized_vol)
        weight = p->target_vol / run->realized_vol;
    double equity = run->cash + (double)run->position * close;
    int64_t qty = (int64_t)floor(equity * weight / close);
    if (qty <= 0)
        return;
    run->order_next = qty;
    double stop = floor(close - p->atr_stop * run->ind.atr);
    run->next_stop = stop > 1.0 ? stop : 1.0;
}

static double slippage(const struct bte_params *p, double price)
{
    double slip = round(price * p->slippage_bps / 10000.0);
    return slip < 1.0 ? 1.0 : slip;
}

static double commission(const struct bte_params *p, double notional)
{
    double c = round(fabs(notional) * p->commission_bps / 10000.0);
    return c < MIN_COMMISSION_CENTS ? MIN_COMMISSION_CENTS : c;
}

static void fill(struct bte_symbol_run *run, size_t bar, int64_t qty, double price)
{
    const struct bte_params *p = &run->cfg->params;
    if (qty > 0) {
        /* Never spend more cash than there is: shrink the order to fit. */
        double per_share = price * (1.0 + p->commission_bps / 10000.0);
        int64_t affordable = (int64_t)floor((run->cash - MIN_COMMISSION_CENTS) / per_share);
        if (qty > affordable)
            qty = affordable;
        if (qty <= 0)
            return;
    }
    if (price < 1.0)
        price = 1.0;
    double fee = commission(p, (double)qty * price);
    run->cash -= (double)qty * price + fee;
    run->position += qty;
    struct bte_fill f = {run->symbol, (uint32_t)bar, qty, price, fee};
    if (push(&run->fills, &f) < 0)
        run->error = -ENOMEM;
    if (qty > 0) {
        run->entry_cost += (double)qty * price + fee;
        run->stop = run->next_stop;
        run->highest = price;
    } else if (run->position == 0) {
        double pnl = ((double)-qty * price - fee - run->entry_cost) / 100.0;
        if (push(&run->pnl, &pnl) < 0)
            run->error = -ENOMEM;
        run->entry_cost = 0.0;
        run->stop = 0.0;
    }
}

/* A 5-minute price path through the bar: a Brownian bridge from open to
 * close, its upward and downward excursions scaled so that it touches the
 * bar's high and low. Seeded from (symbol, bar) so every mode sees it. */
static void intrabar_path(const struct bte_symbol_run *run, size_t bar, double *path)
{
    const struct bte_series *s = run->series;
    double open = s->open[bar], close = s->close[bar], high = s->high[bar], low = s->low[bar];
    double walk[INTRABAR_STEPS + 1], up = INFINITY, down = INFINITY;
    struct bte_rng rng;
    bte_rng_seed(&rng, bte_splitmix64(((uint64_t)run->symbol << 40) ^ bar));
    walk[0] = 0.0;
    for (int k = 1; k <= INTRABAR_STEPS; k++)
        walk[k] = walk[k - 1] + bte_rng_normal(&rng);
    for (int k = 0; k <= INTRABAR_STEPS; k++) {
        double frac = (double)k / INTRABAR_STEPS;
        double bridge = walk[k] - frac * walk[INTRABAR_STEPS];
        double line = open + (close - open) * frac;
        walk[k] = bridge;
        path[k] = line;
        if (bridge > 0.0 && (high - line) / bridge < up)
            up = (high - line) / bridge;
        if (bridge < 0.0 && (line - low) / -bridge < down)
            down = (line - low) / -bridge;
    }
    for (int k = 1; k < INTRABAR_STEPS; k++)
        path[k] += walk[k] * (walk[k] > 0.0 ? up : down);
    path[0] = open;
    path[INTRABAR_STEPS] = close;
}

/* The protective stop trails the highest price since entry by atr_stop
 * ATRs (a chandelier exit), walked along the intrabar path so that the
 * order of highs and lows within the bar is respected. */
static void trail_stop(struct bte_symbol_run *run, size_t bar)
{
    const struct bte_params *p = &run->cfg->params;
    double path[INTRABAR_STEPS + 1];
    intrabar_path(run, bar, path);
    for (int k = 0; k <= INTRABAR_STEPS; k++) {
        if (path[k] <= run->stop) {
            /* Gapping through the stop fills at the open, otherwise at the stop. */
            double at = k == 0 ? path[0] : run->stop;
            fill(run, bar, -run->position, at - slippage(p, at));
            run->stopped_at = bar;
            if (run->order_next < 0)
                run->order_next = 0;
            return;
        }
        if (path[k] > run->highest) {
            run->highest = path[k];
            double trail = floor(run->highest - p->atr_stop * run->stop_atr);
            if (trail > run->stop)
                run->stop = trail;
        }
    }
}

BTE_PHASE_FN void bte_phase_execution(struct bte_symbol_run *run, size_t bar)
{
    const struct bte_params *p = &run->cfg->params;
    const struct bte_series *s = run->series;
    double open = s->open[bar];
    if (run->order_now > 0)
        fill(run, bar, run->order_now, open + slippage(p, open));
    else if (run->order_now < 0)
        fill(run, bar, run->order_now, open - slippage(p, open));
    if (run->position > 0 && run->stop > 0.0)
        trail_stop(run, bar);
    /* Today's ATR is known only after the close: it trails tomorrow. */
    run->stop_atr = run->ind.atr;
    run->equity[bar] = run->cash + (double)run->position * s->close[bar];
    run->order_now = run->order_next;
    run->order_next = 0;
}

/* Per-bar risk report, recomputed over the trailing year as a per-bar risk
 * tracker does: daily return, drawdown, rolling Sharpe, Sortino and
 * drawdown. */
BTE_PHASE_FN void bte_phase_metrics(struct bte_symbol_run *run, size_t bar)
{
    double eq = run->equity[bar];
    run->returns[bar] = bar == 0 ? 0.0 : eq / run->equity[bar - 1] - 1.0;
    if (eq > run->peak)
        run->peak = eq;
    double dd = (run->peak - eq) / run->peak;
    if (dd > run->max_drawdown)
        run->max_drawdown = dd;
    size_t m = bar < ROLLING_BARS ? bar : ROLLING_BARS;
    run->bars_done = bar + 1;
    if (m < 2)
        return;
    const double *r = run->returns + bar + 1 - m;
    double sum = 0.0;
    for (size_t i = 0; i < m; i++)
        sum += r[i];
    double mean = sum / (double)m, var = 0.0;
    for (size_t i = 0; i < m; i++)
        var += (r[i] - mean) * (r[i] - mean);
    double sd = sqrt(var / (double)(m - 1));
    run->rolling_sharpe = sd > 0.0 ? mean / sd * sqrt((double)PERIODS_PER_YEAR) : 0.0;
    double downsq = 0.0;
    for (size_t i = 0; i < m; i++)
        downsq += r[i] < 0.0 ? r[i] * r[i] : 0.0;
    double downside = sqrt(downsq / (double)m);
    run->rolling_sortino = downside > 0.0 ? mean / downside * sqrt((double)PERIODS_PER_YEAR) : 0.0;
    const double *e = run->equity + bar + 1 - m;
    double peak = e[0], worst = 0.0;
    for (size_t i = 1; i < m; i++) {
        peak = e[i] > peak ? e[i] : peak;
        worst = (peak - e[i]) / peak > worst ? (peak - e[i]) / peak : worst;
    }
    run->rolling_drawdown = worst;
    if (m == ROLLING_BARS && run->rolling_sharpe < run->min_rolling_sharpe)
        run->min_rolling_sharpe = run->rolling_sharpe;
}

static bool should_stop(const struct bte_control *ctl, int64_t now)
{
    if (!ctl)
        return false;
    if (ctl->stop && *ctl->stop)
        return true;
    return ctl->deadline_ns && now >= *ctl->deadline_ns;
}

/* Bar-major over the worker's block of symbols, like an engine's clock. */
void *bte_worker_main(void *arg)
{
    struct worker *w = arg;
    int64_t t5 = bte_now_ns();
    for (size_t bar = 0; bar < w->bars && !w->stopped; bar++) {
        for (unsigned i = 0; i < w->count; i++) {
            struct bte_symbol_run *run = &w->runs[i];
            if (should_stop(w->ctl, t5) || run->error) {
                w->stopped = true;
                break;
            }
            int64_t t0 = bte_now_ns();
            bte_phase_history(run, bar);
            int64_t t1 = bte_now_ns();
            if (run->error) {
                w->stopped = true;
                break;
            }
            bte_phase_indicators(run, bar);
            int64_t t2 = bte_now_ns();
            bte_phase_strategy(run, bar);
            int64_t t3 = bte_now_ns();
            bte_phase_execution(run, bar);
            int64_t t4 = bte_now_ns();
            bte_phase_metrics(run, bar);
            t5 = bte_now_ns();
            w->phase_ns[BTE_PHASE_HISTORY] += (uint64_t)(t1 - t0);
            w->phase_ns[BTE_PHASE_INDICATORS] += (uint64_t)(t2 - t1);
            w->phase_ns[BTE_PHASE_STRATEGY] += (uint64_t)(t3 - t2);
            w->phase_ns[BTE_PHASE_EXECUTION] += (uint64_t)(t4 - t3);
            w->phase_ns[BTE_PHASE_METRICS] += (uint64_t)(t5 - t4);
        }
    }
    return NULL;
}

static int run_init(struct bte_symbol_run *run, const struct bte_data *data,
                    const struct bte_config *cfg, unsigned sym)
{
    const struct bte_params *p = &cfg->params;
    size_t bars = bte_data_bars(data);
    memset(run, 0, sizeof(*run));
    run->cfg = cfg;
    run->cal = bte_data_calendar(data);
    run->series = bte_data_series(data, sym);
    run->symbol = sym;
    run->window_len = bte_window_length(p);
    run->warmup = run->window_len - 1;
    run->cash = floor(cfg->capital * 100.0 / (double)bte_data_symbols(data));
    run->peak = run->cash;
    run->min_rolling_sharpe = INFINITY;
    run->fills.size = sizeof(struct bte_fill);
    run->pnl.size = sizeof(double);
    run->cache.size = sizeof(double *);
    bte_sma_init(&run->sma_fast, (unsigned)p->fast);
    bte_sma_init(&run->sma_slow, (unsigned)p->slow);
    bte_ema_init(&run->ema, (unsigned)p->ema_period);
    bte_rsi_init(&run->rsi, (unsigned)p->rsi_period);
    bte_bollinger_init(&run->bb, (unsigned)p->bb_period, p->bb_width);
    bte_macd_init(&run->macd, (unsigned)p->macd_fast, (unsigned)p->macd_slow,
                  (unsigned)p->macd_signal);
    bte_atr_init(&run->atr, (unsigned)p->atr_period);
    run->equity = malloc(bars * sizeof(double));
    run->returns = malloc(bars * sizeof(double));
    return run->equity && run->returns ? 0 : -ENOMEM;
}

static void run_release(struct bte_symbol_run *run)
{
    for (size_t i = 0; i < run->cache.len; i++)
        free(((double **)run->cache.items)[i]);
    free(run->cache.items);
    frame_free(run->frame);
    free(run->equity);
    free(run->returns);
    free(run->fills.items);
    free(run->pnl.items);
}

uint64_t bte_fnv1a_u64(uint64_t hash, uint64_t value)
{
    for (int i = 0; i < 8; i++) {
        hash ^= (value >> (8 * i)) & 0xff;
        hash *= 0x100000001b3ULL;
    }
    return hash;
}

static uint64_t quantize(double dollars)
{
    return (uint64_t)llround(dollars * 1e6);
}

/* Portfolio equity, fills, metrics and checksum from the symbols' runs.
 * A symbol stopped early holds its last equity for the remaining bars. */
static int portfolio_build(struct bte_result *r, struct bte_symbol_run *runs, unsigned nsym)
{
    int ret = 0;
    double *pnl = NULL;
    size_t n = 0, nfills = 0, npnl = 0;
    for (unsigned s = 0; s < nsym; s++) {
        if (runs[s].bars_done > n)
            n = runs[s].bars_done;
        nfills += runs[s].fills.len;
        npnl += runs[s].pnl.len;
        r->symbol_bars += runs[s].bars_done;
    }
    r->equity = calloc(n ? n : 1, sizeof(double));
    r->fills = malloc((nfills ? nfills : 1) * sizeof(struct bte_fill));
    pnl = malloc((npnl ? npnl : 1) * sizeof(double));
    if (!r->equity || !r->fills || !pnl) {
        ret = -ENOMEM;
        goto out;
    }
    r->n = n;
    for (unsigned s = 0; s < nsym; s++) {
        const struct bte_symbol_run *run = &runs[s];
        double held = run->bars_done ? run->equity[run->bars_done - 1] : run->cash;
        for (size_t b = 0; b < n; b++)
            r->equity[b] += (b < run->bars_done ? run->equity[b] : held) / 100.0;
        if (run->fills.len)
            memcpy(r->fills + r->nfills, run->fills.items,
                   run->fills.len * sizeof(struct bte_fill));
        r->nfills += run->fills.len;
    }
    size_t k = 0;
    for (unsigned s = 0; s < nsym; s++) {
        if (runs[s].pnl.len)
            memcpy(pnl + k, runs[s].pnl.items, runs[s].pnl.len * sizeof(double));
        k += runs[s].pnl.len;
    }
    if (n > 0) {
        ret = bte_metrics_compute(r->equity, n, PERIODS_PER_YEAR, pnl, npnl, &r->metrics);
        if (ret < 0)
            goto out;
    }
    uint64_t h = BTE_FNV_OFFSET;
    h = bte_fnv1a_u64(h, n);
    for (size_t b = 0; b < n; b++)
        h = bte_fnv1a_u64(h, quantize(r->equity[b]));
    h = bte_fnv1a_u64(h, r->nfills);
    for (size_t i = 0; i < r->nfills; i++) {
        const struct bte_fill *f = &r->fills[i];
        h = bte_fnv1a_u64(h, ((uint64_t)f->symbol << 32) | f->bar);
        h = bte_fnv1a_u64(h, (uint64_t)f->qty);
        h = bte_fnv1a_u64(h, quantize(f->price / 100.0));
        h = bte_fnv1a_u64(h, quantize(f->commission / 100.0));
    }
    r->checksum = h;
out:
    free(pnl);
    return ret;
}

static bool config_valid(const struct bte_config *cfg)
{
    return cfg->threads >= 1 && cfg->capital > 0 && (unsigned)cfg->history <= BTE_HISTORY_FAST &&
           (!cfg->memory_cache || cfg->history == BTE_HISTORY_NAIVE) &&
           (unsigned)cfg->indicators <= BTE_INDICATORS_INCREMENTAL &&
           (unsigned)cfg->strategy <= BTE_STRATEGY_BOLLINGER;
}

struct bte_result *bte_run_backtest(const struct bte_data *data, const struct bte_config *cfg,
                                    const struct bte_control *ctl)
{
    int err = 0;
    unsigned nsym = bte_data_symbols(data), started = 0, nworkers = 0;
    struct bte_symbol_run *runs = NULL;
    struct worker *workers = NULL;
    struct bte_result *r = calloc(1, sizeof(*r));
    if (!r) {
        err = ENOMEM;
        goto out;
    }
    if (!config_valid(cfg)) {
        err = EINVAL;
        goto out;
    }
    nworkers = cfg->threads < nsym ? cfg->threads : nsym;
    runs = calloc(nsym, sizeof(*runs));
    workers = calloc(nworkers, sizeof(*workers));
    if (!runs || !workers) {
        err = ENOMEM;
        goto out;
    }
    for (unsigned s = 0; s < nsym; s++)
        if (run_init(&runs[s], data, cfg, s) < 0) {
            err = ENOMEM;
            goto out;
        }
    for (unsigned i = 0, first = 0; i < nworkers; i++) {
        unsigned count = nsym / nworkers + (i < nsym % nworkers);
        workers[i] = (struct worker){
            .runs = runs + first, .count = count, .bars = bte_data_bars(data), .ctl = ctl};
        first += count;
    }
    /* One thread runs inline. With more, every worker is its own thread and
     * the calling thread only waits, as in a typical engine: a dump shows
     * the main thread plus T workers. */
    if (nworkers == 1) {
        bte_worker_main(&workers[0]);
        started = 1;
    } else {
        for (started = 0; started < nworkers; started++) {
            int rc =
                pthread_create(&workers[started].thread, NULL, bte_worker_main, &workers[started]);
            if (rc) {
                err = rc;
                if (ctl && ctl->stop)
                    *ctl->stop = 1;
                break;
            }
            /* Named threads make --threads profiles and dumps readable. */
            char name[16];
            snprintf(name, sizeof(name), "bte-worker-%u", started % 10000);
            pthread_setname_np(workers[started].thread, name);
        }
        for (unsigned i = 0; i < started; i++)
            pthread_join(workers[i].thread, NULL);
    }
    if (err)
        goto out;
    r->complete = true;
    for (unsigned i = 0; i < nworkers; i++) {
        r->complete &= !workers[i].stopped;
        for (int ph = 0; ph < BTE_PHASE_COUNT; ph++)
            r->phase_ns[ph] += workers[i].phase_ns[ph];
    }
    for (unsigned s = 0; s < nsym; s++)
        if (runs[s].error) {
            err = -runs[s].error;
            goto out;
        }
    for (unsigned s = 0; s < nsym; s++) {
        r->cache_bytes += runs[s].cache_bytes;
        r->cache_windows += runs[s].cache.len;
    }
    int rc = portfolio_build(r, runs, nsym);
    if (rc < 0)
        err = -rc;
out:
    for (unsigned s = 0; runs && s < nsym; s++)
        run_release(&runs[s]);
    free(runs);
    free(workers);
    if (err) {
        bte_result_free(r);
        r = NULL;
        errno = err;
    }
    return r;
}

void bte_result_free(struct bte_result *r)
{
    if (!r)
        return;
    free(r->equity);
    free(r->fills);
    free(r);
}

bool bte_result_complete(const struct bte_result *r)
{
    return r->complete;
}

const struct bte_metrics *bte_result_metrics(const struct bte_result *r)
{
    return &r->metrics;
}

uint64_t bte_result_checksum(const struct bte_result *r)
{
    return r->checksum;
}

const double *bte_result_equity(const struct bte_result *r, size_t *n)
{
    *n = r->n;
    return r->equity;
}

const struct bte_fill *bte_result_fills(const struct bte_result *r, size_t *n)
{
    *n = r->nfills;
    return r->fills;
}

uint64_t bte_result_symbol_bars(const struct bte_result *r)
{
    return r->symbol_bars;
}

void bte_result_phase_ns(const struct bte_result *r, uint64_t *ns)
{
    memcpy(ns, r->phase_ns, sizeof(r->phase_ns));
}

void bte_result_memory_cache(const struct bte_result *r, uint64_t *bytes, uint64_t *windows)
{
    *bytes = r->cache_bytes;
    *windows = r->cache_windows;
}

const char *bte_name_of_phase(enum bte_phase phase)
{
    static const char *const names[BTE_PHASE_COUNT] = {"history", "indicators", "strategy",
                                                       "execution", "metrics"};
    return (unsigned)phase < BTE_PHASE_COUNT ? names[phase] : "?";
}

void bte_config_default(struct bte_config *c)
{
    *c = (struct bte_config){.threads = 1,
                             .history = BTE_HISTORY_NAIVE,
                             .indicators = BTE_INDICATORS_NAIVE,
                             .strategy = BTE_STRATEGY_SMA_CROSS,
                             .capital = 1000000.0};
    bte_params_default(&c->params);
}
