/* SPDX-License-Identifier: MIT */
/* engine-private: the PRNG and time helpers shared by the engine's own files. */
#pragma once

/* A phase function keeps its own symbol and frame: never inlined, and (GCC)
 * never cloned into a .constprop/.isra copy with another name. */
#if defined(__clang__)
#define BTE_PHASE_FN __attribute__((noinline))
#else
#define BTE_PHASE_FN __attribute__((noinline, noclone))
#endif

#include <stdint.h>
#include <math.h>
#include <stddef.h>

/* splitmix64: seeds streams and hashes (seed, symbol, bar) keys. */
static inline uint64_t bte_splitmix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* xoshiro256** with a cached second Box-Muller normal. */
struct bte_rng {
    uint64_t s[4];
    double spare;
    int has_spare;
};

static inline void bte_rng_seed(struct bte_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) {
        x = bte_splitmix64(x);
        r->s[i] = x;
    }
    r->has_spare = 0;
    r->spare = 0;
}

static inline uint64_t bte_rng_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static inline uint64_t bte_rng_next(struct bte_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = bte_rng_rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = bte_rng_rotl(s[3], 45);
    return result;
}

/* Uniform in (0, 1). */
static inline double bte_rng_uniform(struct bte_rng *r)
{
    return ((double)(bte_rng_next(r) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

static inline double bte_rng_normal(struct bte_rng *r)
{
    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    double u = bte_rng_uniform(r), v = bte_rng_uniform(r);
    double radius = sqrt(-2.0 * log(u));
    double angle = 6.283185307179586 * v;
    r->spare = radius * sin(angle);
    r->has_spare = 1;
    return radius * cos(angle);
}

int64_t bte_now_ns(void);

/* The per-symbol state of one backtest, and the functions a profiler sees. */
struct bte_symbol_run;
void bte_phase_history(struct bte_symbol_run *run, size_t bar);
void bte_cache_window(struct bte_symbol_run *run, size_t len);
void bte_phase_indicators(struct bte_symbol_run *run, size_t bar);
void bte_phase_strategy(struct bte_symbol_run *run, size_t bar);
void bte_phase_execution(struct bte_symbol_run *run, size_t bar);
void bte_phase_metrics(struct bte_symbol_run *run, size_t bar);
void *bte_worker_main(void *arg);
void *bte_optimize_worker(void *arg);
