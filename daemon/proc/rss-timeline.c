/* SPDX-License-Identifier: MIT */
/* rss-timeline: statm/smaps_rollup reads, peak, jumps and pairwise
 * downsampling. */
#define _GNU_SOURCE /* O_CLOEXEC, pread */
#include "rss-timeline.h"

#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_JUMPS 64

struct rise {
    bool rising;
    struct bts_rss_point base; /* what growth is measured from */
    struct bts_rss_point low;  /* the last read before growth passed noise_bytes */
    struct bts_rss_point top;  /* the last read that grew by noise_bytes */
    struct bts_rss_point prev; /* the read before this one */
};

struct bts_rss_timeline {
    struct bts_rss_timeline_opts o;
    pid_t pid;
    int64_t start_ns, next_due;
    int64_t rollup_due; /* the next smaps_rollup read, CLOCK_MONOTONIC ns */
    int statm_fd, rollup_fd;
    uint64_t page_size;
    struct bts_rss_point *points;
    size_t npoints;
    uint64_t stride;              /* reads per kept point */
    struct bts_rss_point pending; /* the highest of the reads not yet kept */
    uint64_t pending_reads;
    uint64_t reads;
    uint64_t last_t, last_rss;
    uint64_t peak, peak_t;
    struct rise rise;
    struct bts_rss_jump jumps[MAX_JUMPS];
    size_t njumps;
    bool finished;
    uint64_t end_t;
    bool gone;
};

void bts_rss_timeline_opts_init(struct bts_rss_timeline_opts *o)
{
    *o = (struct bts_rss_timeline_opts){
        .interval_ns = 10000000,
        .rollup_every = 10,
        .max_points = 4096,
        .pause_ns = 100000000,
        .noise_bytes = 256 << 10,
        .min_jump = 1 << 20,
        .max_jumps = 8,
    };
}

struct bts_rss_timeline *bts_rss_timeline_new(pid_t pid, int64_t start_ns,
                                              const struct bts_rss_timeline_opts *o)
{
    struct bts_rss_timeline *tl;
    long ps = sysconf(_SC_PAGESIZE);

    tl = calloc(1, sizeof(*tl));
    if (!tl) {
        errno = ENOMEM;
        return NULL;
    }
    if (o)
        tl->o = *o;
    else
        bts_rss_timeline_opts_init(&tl->o);
    if (!tl->o.interval_ns || tl->o.max_points < 16 || tl->o.max_points > (1u << 20) ||
        tl->o.max_jumps > MAX_JUMPS) {
        free(tl);
        errno = EINVAL;
        return NULL;
    }
    tl->points = malloc(tl->o.max_points * sizeof(*tl->points));
    if (!tl->points) {
        free(tl);
        errno = ENOMEM;
        return NULL;
    }
    tl->pid = pid;
    tl->start_ns = start_ns;
    tl->next_due = start_ns;
    tl->statm_fd = -1;
    tl->rollup_fd = -1;
    tl->page_size = ps > 0 ? (uint64_t)ps : 4096;
    tl->stride = 1;
    return tl;
}

void bts_rss_timeline_free(struct bts_rss_timeline *tl)
{
    if (!tl)
        return;
    if (tl->statm_fd >= 0)
        close(tl->statm_fd);
    if (tl->rollup_fd >= 0)
        close(tl->rollup_fd);
    free(tl->points);
    free(tl);
}

/* ---- parsing ---- */

static bool parse_u64(const char **p, uint64_t *out)
{
    const char *s = *p;
    uint64_t v = 0;

    while (*s == ' ' || *s == '\t')
        s++;
    if (*s < '0' || *s > '9')
        return false;
    for (; *s >= '0' && *s <= '9'; s++) {
        if (v > (UINT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *p = s;
    *out = v;
    return true;
}

int bts_rss_parse_statm(const char *text, uint64_t page_size, uint64_t *rss)
{
    uint64_t size, resident;
    const char *p = text;

    if (!parse_u64(&p, &size) || !parse_u64(&p, &resident))
        return -EBADMSG;
    /* A process past exit_mm (a zombie, or one being reaped) reads as all
     * zeros: not an RSS of 0 but no memory at all. */
    if (!size)
        return -ESRCH;
    if (page_size && resident > UINT64_MAX / page_size)
        return -EBADMSG;
    *rss = resident * page_size;
    return 0;
}

/* The value of line "KEY:   N kB", or false. */
static bool rollup_field(const char *text, const char *key, uint64_t *bytes)
{
    size_t kl = strlen(key);

    for (const char *line = text; line && *line;
         line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
        uint64_t kb;
        const char *p;
        if (strncmp(line, key, kl) || line[kl] != ':')
            continue;
        p = line + kl + 1;
        if (!parse_u64(&p, &kb) || kb > UINT64_MAX / 1024 - 1)
            return false;
        *bytes = kb * 1024;
        return true;
    }
    return false;
}

int bts_rss_parse_rollup(const char *text, uint64_t *pss, uint64_t *swap)
{
    bool a = rollup_field(text, "Pss", pss), b = rollup_field(text, "Swap", swap);

    if (!a)
        *pss = BTS_RSS_NONE;
    if (!b)
        *swap = BTS_RSS_NONE;
    return a || b ? 0 : -EBADMSG;
}

/* ---- the model ---- */

static uint64_t max_known(uint64_t a, uint64_t b)
{
    if (a == BTS_RSS_NONE)
        return b;
    if (b == BTS_RSS_NONE)
        return a;
    return a > b ? a : b;
}

/* Merges b into a: the higher RSS (and its time), the highest PSS/swap. */
static void merge(struct bts_rss_point *a, const struct bts_rss_point *b)
{
    uint64_t pss = max_known(a->pss, b->pss), swap = max_known(a->swap, b->swap);

    if (b->rss > a->rss) {
        a->rss = b->rss;
        a->t_ns = b->t_ns;
    }
    a->pss = pss;
    a->swap = swap;
}

static void keep(struct bts_rss_timeline *tl, const struct bts_rss_point *p)
{
    if (tl->npoints == tl->o.max_points) {
        /* Full: every two points become one and later points stand for
         * twice as many reads, so the buffer covers any length evenly. */
        size_t n = tl->npoints / 2;
        for (size_t i = 0; i < n; i++) {
            struct bts_rss_point m = tl->points[2 * i];
            merge(&m, &tl->points[2 * i + 1]);
            tl->points[i] = m;
        }
        if (tl->npoints % 2)
            tl->points[n++] = tl->points[tl->npoints - 1];
        tl->npoints = n;
        tl->stride *= 2;
    }
    tl->points[tl->npoints++] = *p;
}

static void add_jump(struct bts_rss_timeline *tl, const struct bts_rss_jump *j)
{
    uint64_t size = j->rss_to - j->rss_from;
    size_t at = tl->njumps;

    if (size < tl->o.min_jump || !tl->o.max_jumps)
        return;
    while (at > 0 && tl->jumps[at - 1].rss_to - tl->jumps[at - 1].rss_from < size)
        at--;
    if (at >= tl->o.max_jumps)
        return;
    if (tl->njumps == tl->o.max_jumps)
        tl->njumps--;
    memmove(tl->jumps + at + 1, tl->jumps + at, (tl->njumps - at) * sizeof(*j));
    tl->jumps[at] = *j;
    tl->njumps++;
}

static void close_rise(struct bts_rss_timeline *tl, const struct bts_rss_point *now)
{
    struct rise *r = &tl->rise;
    struct bts_rss_jump j = {r->low.t_ns, r->top.t_ns, r->low.rss, r->top.rss};

    add_jump(tl, &j);
    r->rising = false;
    r->base = *now;
    r->low = *now;
}

/* Rises: see struct bts_rss_jump. Growth is measured from a base at most
 * pause_ns old (so slow growth adds up), and a rise's window starts at the
 * last read before it passed noise_bytes (so it starts where the growth
 * did, not where the base was taken). */
static void track_rise(struct bts_rss_timeline *tl, const struct bts_rss_point *p)
{
    struct rise *r = &tl->rise;

    if (tl->reads == 1) {
        r->base = *p;
        r->low = *p;
        r->prev = *p;
        return;
    }
    if (r->rising) {
        if (p->t_ns - r->top.t_ns < tl->o.pause_ns) {
            if (p->rss >= r->top.rss + tl->o.noise_bytes)
                r->top = *p;
            r->prev = *p;
            return;
        }
        /* Paused since top (also when reads came late): that rise is over,
         * and this read may start the next one. */
        close_rise(tl, &r->prev);
    }
    if (p->rss >= r->base.rss + tl->o.noise_bytes) {
        r->rising = true;
        r->top = *p;
    } else {
        r->low = *p;
        if (p->rss <= r->base.rss || p->t_ns - r->base.t_ns >= tl->o.pause_ns)
            r->base = *p;
    }
    r->prev = *p;
}

int bts_rss_timeline_add(struct bts_rss_timeline *tl, const struct bts_rss_point *p)
{
    if (tl->finished || p->rss == BTS_RSS_NONE || (tl->reads && p->t_ns < tl->last_t))
        return -EINVAL;
    tl->reads++;
    tl->last_t = p->t_ns;
    tl->last_rss = p->rss;
    if (tl->reads == 1 || p->rss > tl->peak) {
        tl->peak = p->rss;
        tl->peak_t = p->t_ns;
    }
    track_rise(tl, p);
    if (tl->pending_reads == 0)
        tl->pending = *p;
    else
        merge(&tl->pending, p);
    if (++tl->pending_reads >= tl->stride) {
        keep(tl, &tl->pending);
        tl->pending_reads = 0;
    }
    return 0;
}

void bts_rss_timeline_finish(struct bts_rss_timeline *tl, uint64_t t_ns)
{
    if (tl->finished)
        return;
    if (tl->pending_reads) {
        keep(tl, &tl->pending);
        tl->pending_reads = 0;
    }
    if (tl->rise.rising)
        close_rise(tl, &tl->rise.top);
    tl->finished = true;
    tl->end_t = t_ns > tl->last_t ? t_ns : tl->last_t;
}

/* ---- reading /proc ---- */

static int open_proc(pid_t pid, const char *name)
{
    char path[64];

    snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
    return open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
}

/* The whole file at offset 0 (seq_file regenerates it on each read from
 * 0, so one fd serves every read and stays with the process it opened). */
static ssize_t read_at0(int fd, char *buf, size_t len)
{
    ssize_t got = 0, n;

    while ((size_t)got < len - 1) {
        n = pread(fd, buf + got, len - 1 - (size_t)got, got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            break;
        got += n;
    }
    buf[got] = '\0';
    return got;
}

uint64_t bts_rss_rollup_gap(const struct bts_rss_timeline_opts *o, uint64_t cost_ns)
{
    uint64_t gap = o->interval_ns * o->rollup_every;

    /* The walk holds the target's mmap lock and a CPU for cost_ns: at most
     * 1% of the time, however big the target grows. */
    if (cost_ns > gap / BTS_RSS_ROLLUP_SHARE)
        gap = cost_ns * BTS_RSS_ROLLUP_SHARE;
    return gap;
}

int bts_rss_timeline_poll(struct bts_rss_timeline *tl, int64_t now_ns)
{
    struct bts_rss_point p = {0, 0, BTS_RSS_NONE, BTS_RSS_NONE};
    char buf[4096];
    ssize_t n;
    int err;

    if (tl->gone || tl->finished)
        return tl->gone ? -ESRCH : 0;
    if (!tl->pid || now_ns < tl->next_due)
        return 0;
    /* Keep the grid: a late poll does not shift the following reads. */
    while (tl->next_due <= now_ns)
        tl->next_due += (int64_t)tl->o.interval_ns;
    if (tl->statm_fd < 0) {
        tl->statm_fd = open_proc(tl->pid, "statm");
        if (tl->statm_fd < 0) {
            err = errno == ENOENT ? -ESRCH : -errno;
            goto fail;
        }
    }
    n = read_at0(tl->statm_fd, buf, sizeof(buf));
    /* A process that exited reads as empty or fails with ESRCH. */
    if (n <= 0) {
        err = n == 0 ? -ESRCH : (int)n;
        goto fail;
    }
    err = bts_rss_parse_statm(buf, tl->page_size, &p.rss);
    if (err)
        goto fail;
    if (tl->o.rollup_every && now_ns >= tl->rollup_due) {
        int64_t t0 = bts_proc_now_ns();

        if (tl->rollup_fd < 0)
            tl->rollup_fd = open_proc(tl->pid, "smaps_rollup");
        /* Older kernels have no smaps_rollup: RSS alone then. */
        if (tl->rollup_fd >= 0 && read_at0(tl->rollup_fd, buf, sizeof(buf)) > 0)
            bts_rss_parse_rollup(buf, &p.pss, &p.swap);
        tl->rollup_due =
            now_ns + (int64_t)bts_rss_rollup_gap(&tl->o, (uint64_t)(bts_proc_now_ns() - t0));
    }
    p.t_ns = now_ns > tl->start_ns ? (uint64_t)(now_ns - tl->start_ns) : 0;
    if (tl->reads && p.t_ns < tl->last_t)
        p.t_ns = tl->last_t;
    return bts_rss_timeline_add(tl, &p);
fail:
    if (err == -ESRCH)
        tl->gone = true;
    return err;
}

int64_t bts_rss_timeline_next_due(const struct bts_rss_timeline *tl)
{
    return tl->next_due;
}

/* ---- results ---- */

const struct bts_rss_point *bts_rss_timeline_points(const struct bts_rss_timeline *tl, size_t *n)
{
    *n = tl->npoints;
    return tl->points;
}

uint64_t bts_rss_timeline_stride(const struct bts_rss_timeline *tl)
{
    return tl->stride;
}

const struct bts_rss_jump *bts_rss_timeline_jumps(const struct bts_rss_timeline *tl, size_t *n)
{
    *n = tl->njumps;
    return tl->jumps;
}

uint64_t bts_rss_timeline_peak(const struct bts_rss_timeline *tl, uint64_t *t_ns)
{
    if (t_ns)
        *t_ns = tl->peak_t;
    return tl->peak;
}

uint64_t bts_rss_timeline_last(const struct bts_rss_timeline *tl, uint64_t *t_ns)
{
    if (t_ns)
        *t_ns = tl->last_t;
    return tl->reads ? tl->last_rss : BTS_RSS_NONE;
}

uint64_t bts_rss_timeline_reads(const struct bts_rss_timeline *tl)
{
    return tl->reads;
}

const struct bts_rss_timeline_opts *bts_rss_timeline_opts(const struct bts_rss_timeline *tl)
{
    return &tl->o;
}

uint64_t bts_rss_timeline_duration(const struct bts_rss_timeline *tl)
{
    return tl->finished ? tl->end_t : tl->last_t;
}
