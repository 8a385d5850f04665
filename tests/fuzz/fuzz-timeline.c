/* SPDX-License-Identifier: MIT */
/* fuzz-timeline: libFuzzer target for the memory timeline's text form (what
 * a pprof or speedscope file carries), its CSV, and the memory chart drawn
 * from whatever it decodes to. */
#define _GNU_SOURCE

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calltree.h"
#include "render.h"
#include "timeline.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static FILE *sink;

/* A decoded timeline must encode to text that decodes to the same model
 * and encodes to the same text again. */
static void round_trip(const struct bts_timeline *tl)
{
    char *a = NULL, *b = NULL;
    size_t na, nb;
    struct bts_timeline *back;

    if (bts_timeline_encode(tl, &a, &na))
        return;
    back = bts_timeline_decode(a, na, NULL);
    if (!back)
        __builtin_trap();
    if (back->npoints != tl->npoints || back->njumps != tl->njumps ||
        back->peak_rss != tl->peak_rss || back->peak_t_ns != tl->peak_t_ns)
        __builtin_trap();
    for (size_t i = 0; i < tl->npoints; i++)
        if (memcmp(&back->points[i], &tl->points[i], sizeof(tl->points[i])))
            __builtin_trap();
    if (bts_timeline_encode(back, &b, &nb) || na != nb || memcmp(a, b, na))
        __builtin_trap();
    free(a);
    free(b);
    bts_timeline_free(back);
}

/* The chart above a one-frame graph. */
static void draw(const struct bts_timeline *tl)
{
    struct bts_calltree *t = bts_calltree_new();
    struct bts_render_opts o;
    uint64_t one = 1;

    if (!t)
        return;
    if (!bts_calltree_add_stack(t, "main;f", 6, &one, 1, 0) && !bts_calltree_finish(t)) {
        bts_render_opts_init(&o);
        o.timeline = tl;
        o.countname = "bytes";
        /* SVG only: cairo's text pulls in fontconfig, whose caches read as
         * leaks; the chart's geometry is the same code for both. */
        bts_render_tree(t, &o, BTS_RENDER_SVG, sink);
    }
    bts_calltree_free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct bts_timeline *tl;
    const char *why = NULL;

    if (!sink)
        sink = fopen("/dev/null", "w");
    tl = bts_timeline_decode((const char *)data, size, &why);
    if (!tl) {
        if (!why)
            __builtin_trap();
        return 0;
    }
    round_trip(tl);
    bts_timeline_write_csv(tl, sink);
    draw(tl);
    bts_timeline_free(tl);
    return 0;
}
