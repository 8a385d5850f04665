/* SPDX-License-Identifier: MIT */
/* request-budget: a token bucket per uid, kept as the time at which the
 * uid's bucket would be full again (a "theoretical arrival time"): taking
 * `cost` units moves it cost * unit_ns later, and a take that would move it
 * more than burst units past now is refused. A uid whose time has passed
 * has a full bucket, so its entry can be reused. */
#include "request-budget.h"

#include <errno.h>
#include <stdlib.h>

struct budget_entry {
    uid_t uid;
    int64_t full_ns; /* when this uid's bucket is full again */
};

struct bts_request_budget {
    int64_t unit_ns;  /* time one unit takes to come back */
    int64_t burst_ns; /* how far past now full_ns may run */
    struct budget_entry *entries;
    size_t n, cap;
};

struct bts_request_budget *bts_request_budget_new(unsigned units_per_s, unsigned burst)
{
    struct bts_request_budget *b;
    if (!units_per_s || !burst) {
        errno = EINVAL;
        return NULL;
    }
    b = calloc(1, sizeof(*b));
    if (!b) {
        errno = ENOMEM;
        return NULL;
    }
    b->unit_ns = 1000000000LL / units_per_s;
    b->burst_ns = (int64_t)burst * b->unit_ns;
    return b;
}

/* The entry of uid, taking over one whose bucket is full (or adding one). */
static struct budget_entry *entry_of(struct bts_request_budget *b, uid_t uid, int64_t now_ns)
{
    struct budget_entry *spare = NULL;
    for (size_t i = 0; i < b->n; i++) {
        if (b->entries[i].uid == uid)
            return &b->entries[i];
        if (!spare && b->entries[i].full_ns <= now_ns)
            spare = &b->entries[i];
    }
    if (!spare) {
        if (b->n == b->cap) {
            size_t ncap = b->cap ? b->cap * 2 : 16;
            struct budget_entry *n = realloc(b->entries, ncap * sizeof(*n));
            if (!n)
                return NULL;
            b->entries = n;
            b->cap = ncap;
        }
        spare = &b->entries[b->n++];
    }
    *spare = (struct budget_entry){.uid = uid, .full_ns = now_ns};
    return spare;
}

int bts_request_budget_take(struct bts_request_budget *b, uid_t uid, unsigned cost, int64_t now_ns,
                            int64_t *wait_ns)
{
    struct budget_entry *e = entry_of(b, uid, now_ns);
    if (!e)
        return -ENOMEM;
    int64_t from = e->full_ns > now_ns ? e->full_ns : now_ns;
    int64_t to = from + (int64_t)cost * b->unit_ns;
    if (to - now_ns > b->burst_ns) {
        if (wait_ns)
            *wait_ns = to - now_ns - b->burst_ns;
        return -EAGAIN;
    }
    e->full_ns = to;
    if (wait_ns)
        *wait_ns = 0;
    return 0;
}

void bts_request_budget_free(struct bts_request_budget *b)
{
    if (!b)
        return;
    free(b->entries);
    free(b);
}
