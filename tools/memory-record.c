/* SPDX-License-Identifier: MIT */
/* memory-record: what record and top --memory share: option checks, the
 * fault sampling described, the RSS polled, and the timeline model. */
#define _GNU_SOURCE /* O_CLOEXEC */
#include "memory-record.h"
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

struct bts_timeline *bts_memory_timeline(const struct bts_rss_timeline *rss, uint64_t bucket_ns)
{
    struct bts_timeline *tl = bts_timeline_new();
    const struct bts_rss_point *pts;
    const struct bts_rss_jump *jumps;
    size_t n, nj;
    uint64_t peak_t;
    int err = 0;

    if (!tl)
        return NULL;
    tl->interval_ns = bts_rss_timeline_opts(rss)->interval_ns;
    tl->bucket_ns = bucket_ns;
    tl->duration_ns = bts_rss_timeline_duration(rss);
    pts = bts_rss_timeline_points(rss, &n);
    for (size_t i = 0; !err && i < n; i++) {
        struct bts_timeline_point p = {
            pts[i].t_ns, pts[i].rss, pts[i].pss == BTS_RSS_NONE ? BTS_TIMELINE_NONE : pts[i].pss,
            pts[i].swap == BTS_RSS_NONE ? BTS_TIMELINE_NONE : pts[i].swap};
        err = bts_timeline_add_point(tl, &p);
    }
    jumps = bts_rss_timeline_jumps(rss, &nj);
    for (size_t i = 0; !err && i < nj; i++) {
        struct bts_timeline_jump j = {jumps[i].t_from_ns, jumps[i].t_to_ns, jumps[i].rss_from,
                                      jumps[i].rss_to};
        err = bts_timeline_add_jump(tl, &j);
    }
    if (err) {
        bts_timeline_free(tl);
        errno = -err;
        return NULL;
    }
    /* The reads' exact peak, which merged points may have moved. */
    tl->peak_rss = bts_rss_timeline_peak(rss, &peak_t);
    tl->peak_t_ns = peak_t;
    return tl;
}

void bts_memory_defaults(struct bts_session_opts *o)
{
    /* Without --memory a stack size of 0 leaves the choice to the session
     * (8 KiB, or 32 KiB with --native). */
    if (o->memory && !o->stack_size)
        o->stack_size = BTS_MEMORY_STACK_SIZE;
}

const char *bts_memory_refusal(const struct bts_session_opts *o)
{
    if (o->backend == BTS_BACKEND_PTRACE)
        return "--memory needs the perf backend: ptrace has no page-fault event (no growth "
               "attribution and no fallback)";
    if (o->idle)
        return "--memory and --idle do not go together";
    return NULL;
}

unsigned bts_memory_fault_period(const struct bts_session_opts *o)
{
    return o->fault_period ? o->fault_period : BTS_SESSION_DEFAULT_FAULT_PERIOD;
}

uint64_t bts_memory_bytes_per_sample(const struct bts_session_opts *o)
{
    long page = sysconf(_SC_PAGESIZE);

    return (uint64_t)(page > 0 ? page : 4096) * bts_memory_fault_period(o);
}

char *bts_memory_describe(const struct bts_session_opts *o, char *buf, size_t cap)
{
    uint64_t bytes = bts_memory_bytes_per_sample(o);
    unsigned period = bts_memory_fault_period(o);

    if (period == 1)
        snprintf(buf, cap, "page faults, every one (%llu KiB a sample)",
                 (unsigned long long)(bytes >> 10));
    else if (bytes >= (1u << 20) && !(bytes & ((1u << 20) - 1)))
        snprintf(buf, cap, "page faults, one in %u (%llu MiB a sample)", period,
                 (unsigned long long)(bytes >> 20));
    else
        snprintf(buf, cap, "page faults, one in %u (%llu KiB a sample)", period,
                 (unsigned long long)(bytes >> 10));
    return buf;
}

int bts_memory_poll_rss(struct bts_rss_timeline *rss, int max_ms)
{
    int64_t due;

    bts_rss_timeline_poll(rss, bts_proc_now_ns());
    due = bts_rss_timeline_next_due(rss) - bts_proc_now_ns();
    return due <= 0 ? 0 : due < max_ms * 1000000ll ? (int)((due + 999999) / 1000000) : max_ms;
}

bool bts_memory_has_children(pid_t pid)
{
    char path[64], buf[32];
    ssize_t n;
    int fd;

    snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid, (int)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    n = read(fd, buf, sizeof(buf));
    close(fd);
    return n > 0;
}
