/* SPDX-License-Identifier: MIT */
/* params: the table of strategy parameters with defaults and ranges, and the window length. */
#include "bte.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <string.h>

struct param_spec {
    const char *name;
    size_t offset;
    double def, min, max;
    bool integer;
};

#define PARAM(field, def, min, max, integer)                                                       \
    {                                                                                              \
#field, offsetof(struct bte_params, field), def, min, max, integer                         \
    }

static const struct param_spec param_table[] = {
    PARAM(fast, 50, 1, 1000, true),           PARAM(slow, 200, 1, 2000, true),
    PARAM(rsi_period, 14, 2, 100, true),      PARAM(rsi_low, 30, 0, 100, false),
    PARAM(rsi_high, 70, 0, 100, false),       PARAM(macd_fast, 12, 1, 100, true),
    PARAM(macd_slow, 26, 1, 200, true),       PARAM(macd_signal, 9, 1, 100, true),
    PARAM(bb_period, 20, 1, 1000, true),      PARAM(bb_width, 2, 0.1, 10, false),
    PARAM(ema_period, 20, 1, 200, true),      PARAM(atr_period, 14, 1, 100, true),
    PARAM(atr_stop, 3, 0.5, 20, false),       PARAM(cooldown, 5, 0, 100000, true),
    PARAM(vol_lookback, 126, 2, 1000, true),  PARAM(target_vol, 0.15, 0.01, 2, false),
    PARAM(commission_bps, 5, 0, 1000, false), PARAM(slippage_bps, 2, 0, 1000, false),
};

#define PARAM_COUNT (sizeof(param_table) / sizeof(param_table[0]))

static double *field(struct bte_params *p, const struct param_spec *spec)
{
    return (double *)((char *)p + spec->offset);
}

void bte_params_default(struct bte_params *p)
{
    for (size_t i = 0; i < PARAM_COUNT; i++)
        *field(p, &param_table[i]) = param_table[i].def;
}

/* Parameter names compare with '-' and '_' as equals. */
static bool same_name(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char x = *a == '-' ? '_' : *a, y = *b == '-' ? '_' : *b;
        if (x != y)
            return false;
    }
    return *a == *b;
}

int bte_param_set(struct bte_params *p, const char *name, double value, double *min, double *max)
{
    for (size_t i = 0; i < PARAM_COUNT; i++) {
        const struct param_spec *spec = &param_table[i];
        if (!same_name(spec->name, name))
            continue;
        if (min)
            *min = spec->min;
        if (max)
            *max = spec->max;
        if (!(value >= spec->min && value <= spec->max) || (spec->integer && value != floor(value)))
            return -ERANGE;
        *field(p, spec) = value;
        return 0;
    }
    return -ENOENT;
}

/* Bars after which a recursion with smoothing factor alpha has forgotten its
 * seed to below double precision: (1 - alpha)^n < e^-37. */
static double forget_bars(double alpha)
{
    return ceil(37.0 / -log1p(-alpha));
}

size_t bte_window_length(const struct bte_params *p)
{
    double n = fmax(fmax(p->fast, p->slow), fmax(p->bb_period, p->vol_lookback)) + 1.0;
    const double ema_periods[] = {p->ema_period, p->macd_fast, p->macd_slow, p->macd_signal};
    for (size_t i = 0; i < sizeof(ema_periods) / sizeof(ema_periods[0]); i++)
        if (ema_periods[i] > 1)
            n = fmax(n, forget_bars(2.0 / (ema_periods[i] + 1.0)));
    n = fmax(n, forget_bars(1.0 / p->rsi_period));
    if (p->atr_period > 1)
        n = fmax(n, forget_bars(1.0 / p->atr_period));
    return (size_t)n;
}
