/* SPDX-License-Identifier: MIT */
/* memory-chart: where the RSS line, its peak and its jumps go above a flame
 * graph; the SVG and cairo back ends draw what this computes. */
#include "layout.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Jumps shaded on the chart, the biggest first. */
#define CHART_JUMPS 3

double bts_chart_height(const struct bts_render_opts *o)
{
    if (!o->timeline || !o->timeline->npoints)
        return 0;
    return o->fontsize * 10;
}

int bts_chart_build(struct bts_chart *c, const struct bts_layout *l)
{
    const struct bts_render_opts *o = l->opts;
    const struct bts_timeline *tl = o->timeline;
    double fs = o->fontsize;
    uint64_t dur, top;
    char b1[32], b2[32];

    memset(c, 0, sizeof(*c));
    if (!l->chart_h)
        return 0;
    dur = bts_timeline_duration_ns(tl);
    if (!dur)
        dur = 1;
    /* The y axis ends at a whole number of MiB above the peak. */
    top = tl->peak_rss + tl->peak_rss / 10;
    top = (top / (1024 * 1024) + 1) * 1024 * 1024;
    c->x0 = l->xpad;
    c->x1 = l->width - l->xpad;
    c->y0 = l->chart_y + fs * 1.5;
    c->y1 = l->chart_y + l->chart_h - fs * 1.5;
    c->caption_y = l->chart_y + fs;
    c->axis_y = l->chart_y + l->chart_h - fs * 0.25;
    c->pts = malloc(tl->npoints * 2 * sizeof(*c->pts));
    if (!c->pts)
        return -ENOMEM;
    for (size_t i = 0; i < tl->npoints; i++) {
        const struct bts_timeline_point *p = &tl->points[i];
        c->pts[2 * i] = c->x0 + (c->x1 - c->x0) * ((double)p->t_ns / (double)dur);
        c->pts[2 * i + 1] = c->y1 - (c->y1 - c->y0) * ((double)p->rss / (double)top);
    }
    c->npts = tl->npoints;
    c->peak_x = c->x0 + (c->x1 - c->x0) * ((double)tl->peak_t_ns / (double)dur);
    c->peak_y = c->y1 - (c->y1 - c->y0) * ((double)tl->peak_rss / (double)top);
    bts_timeline_format_time(tl->peak_t_ns, b2, sizeof(b2));
    snprintf(c->peak_label, sizeof(c->peak_label), "peak %s at %s",
             bts_timeline_format_bytes(tl->peak_rss, b1, sizeof(b1)), b2);
    /* The label reads away from the nearer edge. */
    c->peak_anchor_end = c->peak_x > (c->x0 + c->x1) / 2;
    for (size_t i = 0; i < tl->njumps && c->njumps < CHART_JUMPS; i++) {
        const struct bts_timeline_jump *j = &tl->jumps[i];
        struct bts_chart_jump *cj = &c->jumps[c->njumps++];
        cj->x = c->x0 + (c->x1 - c->x0) * ((double)j->t_from_ns / (double)dur);
        cj->w = (c->x1 - c->x0) * ((double)(j->t_to_ns - j->t_from_ns) / (double)dur);
        if (cj->w < 2)
            cj->w = 2;
        snprintf(cj->label, sizeof(cj->label), "+%s",
                 bts_timeline_format_bytes(j->rss_to - j->rss_from, b1, sizeof(b1)));
    }
    snprintf(c->caption, sizeof(c->caption), "RSS (0 to %s)",
             bts_timeline_format_bytes(top, b1, sizeof(b1)));
    snprintf(c->t0_label, sizeof(c->t0_label), "0 s");
    bts_timeline_format_time(dur, c->t1_label, sizeof(c->t1_label));
    return 0;
}

void bts_chart_free(struct bts_chart *c)
{
    free(c->pts);
    c->pts = NULL;
}
