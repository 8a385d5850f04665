/* SPDX-License-Identifier: MIT */
/* gen-folded: deterministic synthetic folded profile for the render benchmark. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Usage: gen-folded [LINES [UNIQUE [SEED]]] > out.folded
 * Defaults: 1000000 lines, 200000 unique stacks, seed 1. Stacks are 5-40
 * frames deep, with C++-style names full of < > & : and commas. */

struct rng {
    uint64_t s;
};

static uint64_t next(struct rng *r)
{
    /* xorshift64*: fast, and the same sequence everywhere. */
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 0x2545f4914f6cdd1dull;
}

static uint32_t below(struct rng *r, uint32_t n)
{
    return (uint32_t)((next(r) >> 32) * n >> 32);
}

static const char *const spaces[] = {"bte",
                                     "std",
                                     "boost::asio::detail",
                                     "market",
                                     "risk::var",
                                     "strategy::momentum",
                                     "io",
                                     "absl::container_internal"};
static const char *const classes[] = {"OrderBook",    "Portfolio",  "BarFeed", "Executor",
                                      "SignalEngine", "RingBuffer", "HashMap", "Scheduler"};
static const char *const args[] = {"int",
                                   "double",
                                   "std::string",
                                   "Order",
                                   "Fill const&",
                                   "std::vector<double, std::allocator<double> >",
                                   "std::pair<int const, Tick>",
                                   "unsigned long"};
static const char *const verbs[] = {"process", "apply",   "update", "find",  "insert",
                                    "run",     "compute", "flush",  "merge", "on_bar"};

#define NFUNCS 20000

static char *names[NFUNCS];

static void make_names(struct rng *r)
{
    char buf[512];
    for (int i = 0; i < NFUNCS; i++) {
        int n = snprintf(buf, sizeof(buf), "%s::%s<%s, %s>::%s_%d(%s&, %s)", spaces[below(r, 8)],
                         classes[below(r, 8)], args[below(r, 8)], args[below(r, 8)],
                         verbs[below(r, 10)], i, args[below(r, 8)], args[below(r, 8)]);
        if (i % 5 == 0) /* plain C names too */
            n = snprintf(buf, sizeof(buf), "%s_%d", verbs[below(r, 10)], i);
        names[i] = malloc((size_t)n + 1);
        if (!names[i])
            exit(1);
        memcpy(names[i], buf, (size_t)n + 1);
    }
}

/* The callee chosen at a level: a fixed fan-out of 6 per caller, skewed. */
static uint32_t callee(uint32_t caller, uint32_t k)
{
    uint64_t h = ((uint64_t)caller << 8 | k) * 0x9e3779b97f4a7c15ull;
    return (uint32_t)((h >> 33) % (NFUNCS - 1)) + 1;
}

int main(int argc, char **argv)
{
    unsigned long long lines = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
    unsigned long long unique = argc > 2 ? strtoull(argv[2], NULL, 10) : 200000;
    struct rng r = {argc > 3 ? strtoull(argv[3], NULL, 10) * 2654435761u + 1
                             : 88172645463325252ull};
    uint8_t(*paths)[40];
    uint8_t *depths;
    uint64_t *seen;
    size_t seen_mask = 1;
    static char out[1 << 16];

    if (!lines || !unique || unique > lines) {
        fprintf(stderr, "usage: gen-folded [LINES [UNIQUE [SEED]]] (UNIQUE <= LINES)\n");
        return 2;
    }
    make_names(&r);
    paths = malloc(unique * sizeof(*paths));
    depths = malloc(unique);
    while (seen_mask < unique * 2)
        seen_mask = seen_mask * 2 + 1;
    seen = calloc(seen_mask + 1, sizeof(*seen));
    if (!paths || !depths || !seen)
        return 1;
    setvbuf(stdout, out, _IOFBF, sizeof(out));

    /* Unique stacks: walks down the call graph with skewed choices. */
    for (unsigned long long i = 0; i < unique;) {
        uint8_t d = (uint8_t)(5 + below(&r, 36));
        uint64_t h = d;
        for (int k = 0; k < d; k++) {
            uint32_t u = below(&r, 64);
            paths[i][k] = (uint8_t)(u < 40   ? 0
                                    : u < 52 ? 1
                                    : u < 58 ? 2
                                    : u < 61 ? 3
                                    : u < 63 ? 4
                                             : 5);
            h = (h ^ paths[i][k]) * 0x100000001b3ull;
        }
        h |= 1;
        size_t s = h & seen_mask;
        while (seen[s] && seen[s] != h)
            s = (s + 1) & seen_mask;
        if (seen[s])
            continue; /* the same stack again: draw another */
        seen[s] = h;
        depths[i] = d;
        i++;
    }

    for (unsigned long long line = 0; line < lines; line++) {
        unsigned long long idx;
        if (line % (lines / unique) == 0 && line / (lines / unique) < unique)
            idx = line / (lines / unique);
        else {
            uint64_t u = below(&r, 1u << 16);
            idx = (u * u >> 16) * unique >> 16; /* hot stacks first */
        }
        uint32_t fn = 0;
        fputs("main", stdout);
        for (int k = 0; k < depths[idx]; k++) {
            fn = callee(fn, paths[idx][k]);
            putchar(';');
            fputs(names[fn], stdout);
        }
        printf(" %u\n", 1 + below(&r, 100));
    }
    if (fflush(stdout) || ferror(stdout)) {
        fprintf(stderr, "gen-folded: write error\n");
        return 1;
    }
    return 0;
}
