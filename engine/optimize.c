/* SPDX-License-Identifier: MIT */
/* optimize: parameter grids and one backtest per grid point on a pool of threads. */
#include "bte.h"
#include "engine-private.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GRID_MAX_KEYS   16
#define GRID_MAX_POINTS 1000000
#define GRID_NAME_MAX   32

struct grid_key {
    char name[GRID_NAME_MAX];
    double start, step;
    size_t count;
};

struct bte_grid {
    struct grid_key keys[GRID_MAX_KEYS];
    size_t nkeys, points;
};

static int parse_number(const char *s, size_t len, double *out)
{
    char buf[64];
    if (len == 0 || len >= sizeof(buf))
        return -EINVAL;
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *end;
    errno = 0;
    double v = strtod(buf, &end);
    if (errno || *end || !isfinite(v))
        return -EINVAL;
    *out = v;
    return 0;
}

/* One "name=start:stop:step" or "name=value" item of length len. */
static int parse_key(const char *item, size_t len, struct grid_key *key)
{
    const char *eq = memchr(item, '=', len);
    if (!eq || eq == item || (size_t)(eq - item) >= GRID_NAME_MAX)
        return -EINVAL;
    memcpy(key->name, item, (size_t)(eq - item));
    key->name[eq - item] = '\0';
    const char *v = eq + 1, *end = item + len;
    const char *c1 = memchr(v, ':', (size_t)(end - v));
    double start, stop, step = 1.0;
    if (!c1) {
        if (parse_number(v, (size_t)(end - v), &start) < 0)
            return -EINVAL;
        stop = start;
    } else {
        const char *c2 = memchr(c1 + 1, ':', (size_t)(end - c1 - 1));
        if (!c2 || parse_number(v, (size_t)(c1 - v), &start) < 0 ||
            parse_number(c1 + 1, (size_t)(c2 - c1 - 1), &stop) < 0 ||
            parse_number(c2 + 1, (size_t)(end - c2 - 1), &step) < 0)
            return -EINVAL;
    }
    if (!(step > 0.0) || stop < start)
        return -EINVAL;
    double count = floor((stop - start) / step + 1e-9) + 1.0;
    if (count > GRID_MAX_POINTS)
        return -E2BIG;
    key->start = start;
    key->step = step;
    key->count = (size_t)count;
    struct bte_params scratch;
    bte_params_default(&scratch);
    for (size_t i = 0; i < key->count; i++) {
        int rc = bte_param_set(&scratch, key->name, start + (double)i * step, NULL, NULL);
        if (rc < 0)
            return rc;
    }
    return 0;
}

struct bte_grid *bte_grid_parse(const char *spec, const char **bad_at)
{
    int err = 0;
    struct bte_grid *g = calloc(1, sizeof(*g));
    if (!g) {
        err = ENOMEM;
        goto out;
    }
    g->points = 1;
    const char *item = spec;
    while (*item) {
        const char *comma = strchr(item, ',');
        size_t len = comma ? (size_t)(comma - item) : strlen(item);
        if (bad_at)
            *bad_at = item;
        if (g->nkeys == GRID_MAX_KEYS) {
            err = E2BIG;
            goto out;
        }
        int rc = parse_key(item, len, &g->keys[g->nkeys]);
        if (rc < 0) {
            err = -rc;
            goto out;
        }
        g->points *= g->keys[g->nkeys++].count;
        if (g->points > GRID_MAX_POINTS) {
            err = E2BIG;
            goto out;
        }
        item += len + (comma ? 1 : 0);
        if (comma && !*item) {
            err = EINVAL;
            goto out;
        }
    }
    if (g->nkeys == 0) {
        if (bad_at)
            *bad_at = spec;
        err = EINVAL;
    }
out:
    if (err) {
        free(g);
        g = NULL;
        errno = err;
    }
    return g;
}

void bte_grid_free(struct bte_grid *g)
{
    free(g);
}

size_t bte_grid_points(const struct bte_grid *g)
{
    return g->points;
}

int bte_grid_point(const struct bte_grid *g, size_t index, const struct bte_params *base,
                   struct bte_params *out)
{
    if (index >= g->points)
        return -EINVAL;
    *out = *base;
    for (size_t k = g->nkeys; k-- > 0;) {
        const struct grid_key *key = &g->keys[k];
        int rc = bte_param_set(out, key->name,
                               key->start + (double)(index % key->count) * key->step, NULL, NULL);
        if (rc < 0)
            return rc;
        index /= key->count;
    }
    return 0;
}

int bte_grid_describe(const struct bte_grid *g, size_t index, char *buf, size_t len)
{
    if (index >= g->points || len == 0)
        return -EINVAL;
    double values[GRID_MAX_KEYS];
    for (size_t k = g->nkeys; k-- > 0;) {
        values[k] = g->keys[k].start + (double)(index % g->keys[k].count) * g->keys[k].step;
        index /= g->keys[k].count;
    }
    size_t used = 0;
    buf[0] = '\0';
    for (size_t k = 0; k < g->nkeys; k++) {
        int n =
            snprintf(buf + used, len - used, "%s%s=%g", k ? " " : "", g->keys[k].name, values[k]);
        if (n < 0 || (size_t)n >= len - used)
            return -ENOSPC;
        used += (size_t)n;
    }
    return 0;
}

struct point_result {
    bool done;
    double sharpe;
    struct bte_metrics metrics;
    uint64_t checksum;
};

struct optimize_pool {
    const struct bte_data *data;
    const struct bte_config *base;
    const struct bte_grid *grid;
    const struct bte_control *ctl;
    struct point_result *results;
    atomic_size_t next;
    atomic_int error;
};

struct optimize_worker {
    pthread_t thread;
    struct optimize_pool *pool;
    uint64_t phase_ns[BTE_PHASE_COUNT];
    uint64_t symbol_bars;
};

void *bte_optimize_worker(void *arg)
{
    struct optimize_worker *w = arg;
    struct optimize_pool *pool = w->pool;
    for (;;) {
        size_t i = atomic_fetch_add(&pool->next, 1);
        if (i >= pool->grid->points || atomic_load(&pool->error))
            break;
        struct bte_config cfg = *pool->base;
        cfg.threads = 1;
        int rc = bte_grid_point(pool->grid, i, &pool->base->params, &cfg.params);
        if (rc < 0) {
            atomic_store(&pool->error, -rc);
            break;
        }
        struct bte_result *r = bte_run_backtest(pool->data, &cfg, pool->ctl);
        if (!r) {
            atomic_store(&pool->error, errno);
            break;
        }
        uint64_t ns[BTE_PHASE_COUNT];
        bte_result_phase_ns(r, ns);
        for (int ph = 0; ph < BTE_PHASE_COUNT; ph++)
            w->phase_ns[ph] += ns[ph];
        w->symbol_bars += bte_result_symbol_bars(r);
        bool complete = bte_result_complete(r);
        if (complete)
            pool->results[i] =
                (struct point_result){true, bte_result_metrics(r)->sharpe, *bte_result_metrics(r),
                                      bte_result_checksum(r)};
        bte_result_free(r);
        if (!complete)
            break;
    }
    return NULL;
}

int bte_optimize(const struct bte_data *data, const struct bte_config *base,
                 const struct bte_grid *grid, unsigned jobs, const struct bte_control *ctl,
                 struct bte_optimize_result *out)
{
    int ret = 0;
    unsigned started = 0;
    struct optimize_worker *workers = NULL;
    struct optimize_pool pool = {.data = data, .base = base, .grid = grid, .ctl = ctl};
    atomic_init(&pool.next, 0);
    atomic_init(&pool.error, 0);
    memset(out, 0, sizeof(*out));
    out->points = grid->points;
    if (jobs == 0) {
        ret = -EINVAL;
        goto out;
    }
    if (jobs > grid->points)
        jobs = (unsigned)grid->points;
    pool.results = calloc(grid->points, sizeof(*pool.results));
    workers = calloc(jobs, sizeof(*workers));
    if (!pool.results || !workers) {
        ret = -ENOMEM;
        goto out;
    }
    for (unsigned i = 0; i < jobs; i++)
        workers[i].pool = &pool;
    /* As in bte_run_backtest: one job runs inline, more run on their own
     * threads while the calling thread waits. */
    if (jobs == 1) {
        bte_optimize_worker(&workers[0]);
        started = 1;
    } else {
        for (started = 0; started < jobs; started++)
            if (pthread_create(&workers[started].thread, NULL, bte_optimize_worker,
                               &workers[started])) {
                atomic_store(&pool.error, EAGAIN);
                break;
            }
        for (unsigned i = 0; i < started; i++)
            pthread_join(workers[i].thread, NULL);
    }
    for (unsigned i = 0; i < started; i++) {
        for (int ph = 0; ph < BTE_PHASE_COUNT; ph++)
            out->phase_ns[ph] += workers[i].phase_ns[ph];
        out->symbol_bars += workers[i].symbol_bars;
    }
    if (atomic_load(&pool.error)) {
        ret = -atomic_load(&pool.error);
        goto out;
    }
    uint64_t h = BTE_FNV_OFFSET;
    bool have_best = false;
    for (size_t i = 0; i < grid->points; i++) {
        const struct point_result *p = &pool.results[i];
        if (!p->done)
            continue;
        out->done++;
        h = bte_fnv1a_u64(h, i);
        h = bte_fnv1a_u64(h, p->checksum);
        /* Strictly greater keeps the lowest index among equal Sharpe ratios. */
        if (!have_best || p->sharpe > out->best_metrics.sharpe) {
            have_best = true;
            out->best = i;
            out->best_metrics = p->metrics;
            out->best_checksum = p->checksum;
        }
    }
    out->checksum = h;
    if (out->done < grid->points)
        ret = -EINTR;
out:
    free(pool.results);
    free(workers);
    return ret;
}
