/* SPDX-License-Identifier: MIT */
/* indicators: SMA, EMA, RSI, Bollinger, MACD and ATR, each recomputed from a window or updated. */
#include "bte.h"

#include <math.h>

static double ema_alpha(unsigned period)
{
    return 2.0 / ((double)period + 1.0);
}

static double wilder_alpha(unsigned period)
{
    return 1.0 / (double)period;
}

static double smooth(double alpha, double value, double x)
{
    return alpha * x + (1.0 - alpha) * value;
}

static double rsi_from(double gain, double loss)
{
    if (loss == 0.0)
        return gain == 0.0 ? 50.0 : 100.0;
    return 100.0 - 100.0 / (1.0 + gain / loss);
}

static double true_range(double high, double low, double prev_close)
{
    double tr = high - low;
    double up = fabs(high - prev_close), down = fabs(low - prev_close);
    if (up > tr)
        tr = up;
    if (down > tr)
        tr = down;
    return tr;
}

/* The Bollinger formula on exact sums, shared by both forms so that prices
 * in whole cents give bit-identical bands. */
static struct bte_bollinger bands_from(double sum, double sumsq, double m, double k)
{
    double mean = sum / m;
    double var = (m * sumsq - sum * sum) / (m * m);
    double sd = var > 0.0 ? sqrt(var) : 0.0;
    return (struct bte_bollinger){mean, mean + k * sd, mean - k * sd};
}

double bte_sma_naive(const double *x, size_t n, unsigned period)
{
    size_t m = n < period ? n : period;
    double sum = 0.0;
    for (size_t i = n - m; i < n; i++)
        sum += x[i];
    return sum / (double)m;
}

double bte_ema_naive(const double *x, size_t n, unsigned period)
{
    double alpha = ema_alpha(period), e = x[0];
    for (size_t i = 1; i < n; i++)
        e = smooth(alpha, e, x[i]);
    return e;
}

double bte_rsi_naive(const double *x, size_t n, unsigned period)
{
    if (n < 2)
        return 50.0;
    double alpha = wilder_alpha(period);
    double d = x[1] - x[0];
    double gain = d > 0 ? d : 0.0, loss = d < 0 ? -d : 0.0;
    for (size_t i = 2; i < n; i++) {
        d = x[i] - x[i - 1];
        gain = smooth(alpha, gain, d > 0 ? d : 0.0);
        loss = smooth(alpha, loss, d < 0 ? -d : 0.0);
    }
    return rsi_from(gain, loss);
}

struct bte_bollinger bte_bollinger_naive(const double *x, size_t n, unsigned period, double k)
{
    size_t m = n < period ? n : period;
    double sum = 0.0, sumsq = 0.0;
    for (size_t i = n - m; i < n; i++) {
        sum += x[i];
        sumsq += x[i] * x[i];
    }
    return bands_from(sum, sumsq, (double)m, k);
}

struct bte_macd bte_macd_naive(const double *x, size_t n, unsigned fast, unsigned slow,
                               unsigned signal)
{
    double af = ema_alpha(fast), as = ema_alpha(slow), ag = ema_alpha(signal);
    double ef = x[0], es = x[0], sig = ef - es;
    for (size_t i = 1; i < n; i++) {
        ef = smooth(af, ef, x[i]);
        es = smooth(as, es, x[i]);
        sig = smooth(ag, sig, ef - es);
    }
    return (struct bte_macd){ef - es, sig, (ef - es) - sig};
}

double bte_atr_naive(const double *high, const double *low, const double *close, size_t n,
                     unsigned period)
{
    double alpha = wilder_alpha(period), atr = high[0] - low[0];
    for (size_t i = 1; i < n; i++)
        atr = smooth(alpha, atr, true_range(high[i], low[i], close[i - 1]));
    return atr;
}

void bte_sma_init(struct bte_sma_state *s, unsigned period)
{
    *s = (struct bte_sma_state){.period = period};
}

double bte_sma_update(struct bte_sma_state *s, const double *x, size_t n)
{
    s->sum += x[n - 1];
    if (++s->seen > s->period)
        s->sum -= x[n - 1 - s->period];
    size_t m = s->seen < s->period ? s->seen : s->period;
    return s->sum / (double)m;
}

void bte_ema_init(struct bte_ema_state *s, unsigned period)
{
    *s = (struct bte_ema_state){.alpha = ema_alpha(period)};
}

double bte_ema_update(struct bte_ema_state *s, double x)
{
    s->value = s->seen++ == 0 ? x : smooth(s->alpha, s->value, x);
    return s->value;
}

void bte_rsi_init(struct bte_rsi_state *s, unsigned period)
{
    *s = (struct bte_rsi_state){.alpha = wilder_alpha(period)};
}

double bte_rsi_update(struct bte_rsi_state *s, double x)
{
    size_t seen = s->seen++;
    double d = x - s->prev;
    s->prev = x;
    if (seen == 0)
        return 50.0;
    double g = d > 0 ? d : 0.0, l = d < 0 ? -d : 0.0;
    if (seen == 1) {
        s->gain = g;
        s->loss = l;
    } else {
        s->gain = smooth(s->alpha, s->gain, g);
        s->loss = smooth(s->alpha, s->loss, l);
    }
    return rsi_from(s->gain, s->loss);
}

void bte_bollinger_init(struct bte_bollinger_state *s, unsigned period, double k)
{
    *s = (struct bte_bollinger_state){.period = period, .k = k};
}

struct bte_bollinger bte_bollinger_update(struct bte_bollinger_state *s, const double *x, size_t n)
{
    double in = x[n - 1];
    s->sum += in;
    s->sumsq += in * in;
    if (++s->seen > s->period) {
        double out = x[n - 1 - s->period];
        s->sum -= out;
        s->sumsq -= out * out;
    }
    size_t m = s->seen < s->period ? s->seen : s->period;
    return bands_from(s->sum, s->sumsq, (double)m, s->k);
}

void bte_macd_init(struct bte_macd_state *s, unsigned fast, unsigned slow, unsigned signal)
{
    bte_ema_init(&s->fast, fast);
    bte_ema_init(&s->slow, slow);
    bte_ema_init(&s->signal, signal);
}

struct bte_macd bte_macd_update(struct bte_macd_state *s, double x)
{
    double macd = bte_ema_update(&s->fast, x) - bte_ema_update(&s->slow, x);
    double sig = bte_ema_update(&s->signal, macd);
    return (struct bte_macd){macd, sig, macd - sig};
}

void bte_atr_init(struct bte_atr_state *s, unsigned period)
{
    *s = (struct bte_atr_state){.alpha = wilder_alpha(period)};
}

double bte_atr_update(struct bte_atr_state *s, double high, double low, double close)
{
    if (s->seen++ == 0)
        s->value = high - low;
    else
        s->value = smooth(s->alpha, s->value, true_range(high, low, s->prev_close));
    s->prev_close = close;
    return s->value;
}
