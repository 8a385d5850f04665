/* SPDX-License-Identifier: MIT */
/* memory-record: an RSS timeline turned into the render side's model. */
#include "memory-record.h"

#include <errno.h>

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
