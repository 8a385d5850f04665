/* SPDX-License-Identifier: MIT */
/* data: synthetic OHLCV bars from geometric Brownian motion, one PRNG stream per symbol. */
#include "bte.h"
#include "engine-private.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

struct bte_data {
    unsigned symbols;
    size_t bars;
    struct bte_calendar *calendar;
    struct bte_series *series;
    double *storage;
};

static double to_cents(double dollars)
{
    double c = round(dollars * 100.0);
    return c < 1.0 ? 1.0 : c;
}

static void generate_symbol(uint64_t seed, unsigned sym, size_t bars, double *open, double *high,
                            double *low, double *close, double *volume)
{
    struct bte_rng rng;
    bte_rng_seed(&rng, bte_splitmix64(seed) ^ bte_splitmix64(0x5eedULL + sym));
    double price = 20.0 + 180.0 * bte_rng_uniform(&rng);
    double mu = -0.02 + 0.17 * bte_rng_uniform(&rng);
    double sigma = 0.15 + 0.30 * bte_rng_uniform(&rng);
    double dt = 1.0 / 252.0, vol = sigma * sqrt(dt), drift = (mu - 0.5 * sigma * sigma) * dt;
    double base_volume = 2e5 + 2e6 * bte_rng_uniform(&rng);

    for (size_t i = 0; i < bars; i++) {
        double o = i == 0 ? price : price * exp(0.3 * vol * bte_rng_normal(&rng));
        double c = o * exp(drift + vol * bte_rng_normal(&rng));
        double up = fabs(bte_rng_normal(&rng)) * 0.5 * vol;
        double down = fabs(bte_rng_normal(&rng)) * 0.5 * vol;
        open[i] = to_cents(o);
        close[i] = to_cents(c);
        double top = open[i] > close[i] ? open[i] : close[i];
        double bottom = open[i] < close[i] ? open[i] : close[i];
        double h = to_cents(fmax(o, c) * exp(up));
        double l = to_cents(fmin(o, c) * exp(-down));
        high[i] = h > top ? h : top;
        low[i] = l < bottom ? l : bottom;
        volume[i] = round(base_volume * exp(0.5 * bte_rng_normal(&rng)));
        price = c;
    }
}

struct bte_data *bte_data_new(unsigned symbols, size_t bars, uint64_t seed)
{
    struct bte_data *d = NULL;
    int err = 0;
    if (symbols == 0 || bars == 0 || bars > SIZE_MAX / 5 / sizeof(double) / symbols) {
        err = EINVAL;
        goto out;
    }
    d = calloc(1, sizeof(*d));
    if (!d) {
        err = ENOMEM;
        goto out;
    }
    d->symbols = symbols;
    d->bars = bars;
    d->calendar = bte_calendar_new(bte_days_from_civil(2000, 1, 3), bars);
    d->series = calloc(symbols, sizeof(*d->series));
    d->storage = malloc((size_t)symbols * bars * 5 * sizeof(double));
    if (!d->calendar || !d->series || !d->storage) {
        err = ENOMEM;
        goto out;
    }
    for (unsigned s = 0; s < symbols; s++) {
        double *base = d->storage + (size_t)s * bars * 5;
        double *o = base, *h = base + bars, *l = base + 2 * bars, *c = base + 3 * bars;
        double *v = base + 4 * bars;
        generate_symbol(seed, s, bars, o, h, l, c, v);
        d->series[s] = (struct bte_series){o, h, l, c, v, bars};
    }
out:
    if (err) {
        bte_data_free(d);
        d = NULL;
        errno = err;
    }
    return d;
}

void bte_data_free(struct bte_data *d)
{
    if (!d)
        return;
    bte_calendar_free(d->calendar);
    free(d->series);
    free(d->storage);
    free(d);
}

unsigned bte_data_symbols(const struct bte_data *d)
{
    return d->symbols;
}

size_t bte_data_bars(const struct bte_data *d)
{
    return d->bars;
}

const struct bte_calendar *bte_data_calendar(const struct bte_data *d)
{
    return d->calendar;
}

const struct bte_series *bte_data_series(const struct bte_data *d, unsigned sym)
{
    return &d->series[sym];
}
