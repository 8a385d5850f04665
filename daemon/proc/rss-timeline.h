/* SPDX-License-Identifier: MIT */
/* rss-timeline: a process's resident memory over time, read from
 * /proc/PID/statm (and smaps_rollup for PSS and swap, less often), with its
 * exact peak and its biggest jumps, in bounded memory. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* A value not read at that point. */
#define BTS_RSS_NONE UINT64_MAX

struct bts_rss_timeline_opts {
    uint64_t interval_ns;  /* between two statm reads (10 ms) */
    unsigned rollup_every; /* read smaps_rollup every N intervals (10), or less
                            * often when it is slow (bts_rss_rollup_gap); 0 = never */
    size_t max_points;     /* kept points (4096, at least 16); when full, pairs merge */
    uint64_t pause_ns;     /* a rise ends after this long without growing (100 ms) */
    uint64_t noise_bytes;  /* growth smaller than this is not a rise (256 KiB) */
    uint64_t min_jump;     /* rises smaller than this are not jumps (1 MiB) */
    size_t max_jumps;      /* the biggest kept (8, at most 64) */
};

/* One point. A kept point stands for `stride` reads (see
 * bts_rss_timeline_stride) and holds the highest RSS among them, at the
 * time it was read; PSS and swap are their highest values read there. */
struct bts_rss_point {
    uint64_t t_ns; /* since bts_rss_timeline_new's start_ns */
    uint64_t rss;  /* bytes */
    uint64_t pss;  /* bytes, or BTS_RSS_NONE */
    uint64_t swap; /* bytes, or BTS_RSS_NONE */
};

/* RSS rose from rss_from (at t_from_ns, the last low point) to rss_to (at
 * t_to_ns, the last time it grew by noise_bytes or more) and then did not
 * grow for pause_ns, or the recording ended. */
struct bts_rss_jump {
    uint64_t t_from_ns, t_to_ns;
    uint64_t rss_from, rss_to;
};

struct bts_rss_timeline;

/* Fills *o with the defaults above. */
void bts_rss_timeline_opts_init(struct bts_rss_timeline_opts *o);

/* A timeline of process pid (0: no process; feed it with
 * bts_rss_timeline_add) whose time 0 is start_ns (CLOCK_MONOTONIC, as
 * bts_proc_now_ns). o may be NULL (defaults). NULL and errno: EINVAL (a
 * bad option), ENOMEM. Opens nothing yet; bts_rss_timeline_free(NULL) is a
 * no-op. */
struct bts_rss_timeline *bts_rss_timeline_new(pid_t pid, int64_t start_ns,
                                              const struct bts_rss_timeline_opts *o);
void bts_rss_timeline_free(struct bts_rss_timeline *tl);

/* Reads statm (and smaps_rollup when due) if a read is due at now_ns, and
 * adds the point. Returns 0 (read or not due), -ESRCH once the process is
 * gone (the timeline keeps what it has), or another -errno of the read. */
int bts_rss_timeline_poll(struct bts_rss_timeline *tl, int64_t now_ns);
/* When the next read is due (CLOCK_MONOTONIC ns), for poll timeouts. */
int64_t bts_rss_timeline_next_due(const struct bts_rss_timeline *tl);

/* Adds one read (times must not go backwards: -EINVAL). 0 or -EINVAL. */
int bts_rss_timeline_add(struct bts_rss_timeline *tl, const struct bts_rss_point *p);
/* Ends the recording at t_ns (since start): closes a rise still going on.
 * Later adds are refused (-EINVAL). */
void bts_rss_timeline_finish(struct bts_rss_timeline *tl, uint64_t t_ns);

/* The kept points, by time (valid until the next add). */
const struct bts_rss_point *bts_rss_timeline_points(const struct bts_rss_timeline *tl, size_t *n);
/* Reads each kept point stands for (1, 2, 4, ... as the buffer filled). */
uint64_t bts_rss_timeline_stride(const struct bts_rss_timeline *tl);
/* The jumps, biggest first. */
const struct bts_rss_jump *bts_rss_timeline_jumps(const struct bts_rss_timeline *tl, size_t *n);
/* The highest RSS read and when (exact: downsampling never loses it). */
uint64_t bts_rss_timeline_peak(const struct bts_rss_timeline *tl, uint64_t *t_ns);
/* The latest read's RSS and time (not merged with others, unlike the
 * kept points), or BTS_RSS_NONE before the first read. t_ns may be NULL. */
uint64_t bts_rss_timeline_last(const struct bts_rss_timeline *tl, uint64_t *t_ns);
/* Reads so far, and the options in force. */
uint64_t bts_rss_timeline_reads(const struct bts_rss_timeline *tl);
const struct bts_rss_timeline_opts *bts_rss_timeline_opts(const struct bts_rss_timeline *tl);
/* Duration: the finish time, else the last read's. */
uint64_t bts_rss_timeline_duration(const struct bts_rss_timeline *tl);

/* smaps_rollup walks the target's page tables under its mmap lock: 25 ms
 * for 400 MiB resident. A read that took cost_ns is followed by a gap of at
 * least BTS_RSS_ROLLUP_SHARE times that, else interval x rollup_every. */
#define BTS_RSS_ROLLUP_SHARE 100
uint64_t bts_rss_rollup_gap(const struct bts_rss_timeline_opts *o, uint64_t cost_ns);

/* Parses statm text ("size resident ...", in pages) into RSS bytes. 0,
 * -EBADMSG, or -ESRCH for a size of 0 (an exiting process, whose memory is
 * gone: its zeros are no RSS reading). */
int bts_rss_parse_statm(const char *text, uint64_t page_size, uint64_t *rss);
/* Parses smaps_rollup text: the Pss: and Swap: lines (kB) into bytes
 * (BTS_RSS_NONE where a line is missing). 0 or -EBADMSG when neither is
 * there. */
int bts_rss_parse_rollup(const char *text, uint64_t *pss, uint64_t *swap);
