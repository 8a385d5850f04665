/* SPDX-License-Identifier: MIT */
/* request-budget: how much expensive work (thread dumps, snapshots, stream
 * updates with stacks) bt-spyd does per uid, as a token bucket per uid. */
#pragma once

#include <stdint.h>
#include <sys/types.h>

struct bts_request_budget;

/* A budget of units_per_s units a second for each uid, of which a uid that
 * asked for nothing for a while may spend up to burst at once (burst >=
 * the largest cost asked for). NULL + errno. */
struct bts_request_budget *bts_request_budget_new(unsigned units_per_s, unsigned burst);

/* Spends `cost` units of uid's budget at now_ns (any monotonic clock).
 * 0, or -EAGAIN when the uid has not that much left, with *wait_ns (may be
 * NULL) set to how long until it has; nothing is spent then. -ENOMEM when
 * a new uid cannot be tracked. */
int bts_request_budget_take(struct bts_request_budget *b, uid_t uid, unsigned cost, int64_t now_ns,
                            int64_t *wait_ns);

/* NULL is a no-op. */
void bts_request_budget_free(struct bts_request_budget *b);
