/* SPDX-License-Identifier: MIT */
/* watch: bt-spyd's continuous mode. Every new process whose name matches a
 * glob is profiled for its whole life; its profile lands in a spool
 * directory when it exits, readable only by the process's uid (and a
 * configured group), with retention by count and by bytes per uid. A
 * process that gave no samples leaves no profile. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "log.h"
#include "spool.h"

struct bts_watch_opts {
    const char *pattern;   /* fnmatch(3) glob on comm or on argv[0]'s basename */
    const char *spool_dir; /* must exist */
    unsigned keep;         /* profiles kept per uid (0: no limit) */
    uint64_t max_bytes;    /* bytes kept per uid (0: no limit) */
    unsigned rate_hz;      /* 0: the session default */
    gid_t spool_gid;       /* may read every profile (0640), or (gid_t)-1 (0600) */
    struct bts_log log;
    /* Called after NAME.folded was written, to add NAME.svg (bt-spyd
     * renders it: the sampler library never writes SVG) with the same
     * owner. May be NULL. */
    void (*on_profile)(void *ctx, const char *dir, const char *stem, const char *title,
                       const struct bts_spool_owner *owner);
    void *ctx;
};

/* Processes of one uid profiled at once; more wait for the next scan. */
#define BTS_WATCH_MAX_PER_UID 32

struct bts_watch;

/* Processes running now are not profiled: only those that appear later.
 * NULL + errno. */
struct bts_watch *bts_watch_new(const struct bts_watch_opts *o);

/* Scans /proc when 50 ms have passed since the last scan, polls every
 * watched session, and writes the profiles of those whose process exited. */
void bts_watch_tick(struct bts_watch *w);

/* Processes being profiled now. */
unsigned bts_watch_count(const struct bts_watch *w);

/* Writes the profiles of processes still running (at shutdown). */
void bts_watch_flush(struct bts_watch *w);

void bts_watch_free(struct bts_watch *w);
