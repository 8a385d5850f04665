/* SPDX-License-Identifier: MIT */
/* timeline: a recording's memory over time (RSS, PSS, swap), its peak and
 * its biggest jumps; CSV output and the compact text that carries it inside
 * pprof comments and speedscope files. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* A value that was not read at that point (PSS and swap come from
 * smaps_rollup, read less often than RSS). */
#define BTS_TIMELINE_NONE UINT64_MAX

/* The encoded form starts with this; a pprof comment that does is a
 * timeline, not a note. */
#define BTS_TIMELINE_MAGIC "bt-spy-timeline/1 "

/* A pprof comment that starts with this says a timeline is in the file
 * ("bt-spy memory: peak RSS 252.3 MiB at 1.31 s, ..."); it is not a note. */
#define BTS_TIMELINE_SUMMARY "bt-spy memory: "

/* Hostile inputs cannot make a timeline larger than this. */
#define BTS_TIMELINE_MAX_POINTS (1u << 20)
#define BTS_TIMELINE_MAX_JUMPS  64

/* One point: the highest RSS seen in the interval it stands for, at the
 * time it was seen. Values are in bytes (multiples of 1 KiB in the encoded
 * form), times in ns since the recording started. */
struct bts_timeline_point {
    uint64_t t_ns;
    uint64_t rss;
    uint64_t pss;  /* BTS_TIMELINE_NONE when not read */
    uint64_t swap; /* BTS_TIMELINE_NONE when not read */
};

/* A jump: RSS rose from rss_from at t_from_ns to rss_to at t_to_ns without
 * a pause (see daemon/proc/rss-timeline.h for the rule). */
struct bts_timeline_jump {
    uint64_t t_from_ns, t_to_ns;
    uint64_t rss_from, rss_to;
};

/* Plain data: read the fields; change it through the functions below. */
struct bts_timeline {
    uint64_t interval_ns; /* sampling interval asked for (10 ms by default) */
    uint64_t bucket_ns;   /* width of the profile's time labels (0: samples carry none) */
    uint64_t duration_ns; /* of the recording (0: the last point's time) */
    uint64_t peak_rss;    /* bytes; exact, whatever downsampling did to the points */
    uint64_t peak_t_ns;
    struct bts_timeline_point *points; /* by time */
    size_t npoints, points_cap;
    struct bts_timeline_jump *jumps; /* biggest first */
    size_t njumps, jumps_cap;
};

/* NULL and errno = ENOMEM. bts_timeline_free(NULL) is a no-op. */
struct bts_timeline *bts_timeline_new(void);
void bts_timeline_free(struct bts_timeline *tl);

/* Appends a point; times must not go backwards (-EINVAL). Raises the peak
 * when p->rss is above it. 0, -EINVAL, -E2BIG (BTS_TIMELINE_MAX_POINTS),
 * -ENOMEM. */
int bts_timeline_add_point(struct bts_timeline *tl, const struct bts_timeline_point *p);
/* Adds a jump, kept biggest first (ties: earlier first). 0, -EINVAL
 * (rss_to < rss_from or t_to < t_from), -E2BIG, -ENOMEM. */
int bts_timeline_add_jump(struct bts_timeline *tl, const struct bts_timeline_jump *j);

/* The recording's length: duration_ns, else the last point's time. */
uint64_t bts_timeline_duration_ns(const struct bts_timeline *tl);
/* Lowest RSS of the points (0 when there are none). */
uint64_t bts_timeline_min_rss(const struct bts_timeline *tl);

/* The time labels (bucket starts, in ms) whose bucket overlaps the jump's
 * window: samples labelled from *first_ms to *last_ms faulted in during it.
 * false when the profile has no time labels (bucket_ns == 0). */
bool bts_timeline_jump_buckets(const struct bts_timeline *tl, const struct bts_timeline_jump *j,
                               int64_t *first_ms, int64_t *last_ms);

/* CSV: a header line "time_s,rss_bytes,pss_bytes,swap_bytes", then one line
 * per point (time with 3 decimals; an empty field where a value was not
 * read). 0 or -EIO. */
int bts_timeline_write_csv(const struct bts_timeline *tl, FILE *out);

/* The encoded form, one line of printable ASCII starting with
 * BTS_TIMELINE_MAGIC (grammar in docs/DESIGN.md, "Memory"). Caller frees
 * *out. 0 or -ENOMEM. */
int bts_timeline_encode(const struct bts_timeline *tl, char **out, size_t *len);
/* Parses it back (len bytes; no terminator needed). Unknown keys are
 * skipped, so later versions can add some. NULL and errno: EBADMSG
 * (malformed; *why, when not NULL, says what), E2BIG, ENOMEM. */
struct bts_timeline *bts_timeline_decode(const char *s, size_t len, const char **why);
/* True when s starts with BTS_TIMELINE_MAGIC. */
bool bts_timeline_is_encoded(const char *s, size_t len);

/* "252.3 MiB", "12.0 KiB", "512 B": bytes for people, into buf. */
const char *bts_timeline_format_bytes(uint64_t bytes, char *buf, size_t len);
/* "1.31 s" (from 1 s), "250 ms": a time for people, into buf. */
const char *bts_timeline_format_time(uint64_t ns, char *buf, size_t len);
