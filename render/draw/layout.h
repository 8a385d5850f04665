/* SPDX-License-Identifier: MIT */
/* layout: where each frame of a call tree goes in a flame graph, its
 * colour, the picture's geometry and the memory chart above it, in px: what
 * every back end (SVG here, PNG and PDF in render/image) draws. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "calltree.h"
#include "options.h"

/* One drawn frame. x and w are in counts (the width column); px = xpad +
 * x * scale. Frames come in depth-first order, children by name. */
struct bts_layout_frame {
    bts_calltree_node node;
    uint32_t depth;
    uint64_t x;
    uint64_t w;
    uint32_t rgb; /* 0xRRGGBB */
};

struct bts_layout {
    const struct bts_calltree *tree;
    const struct bts_render_opts *opts;
    struct bts_layout_frame *frames;
    size_t nframes;
    unsigned column;                          /* count column used for widths */
    bool differential;                        /* before in column 0, after in column 1 */
    const struct bts_render_compare *compare; /* opts->compare on a differential tree */
    uint64_t *widths;   /* per node, when widths do not come from a column (or NULL) */
    uint64_t total;     /* counts across the full width */
    double scale;       /* px per count */
    uint32_t max_depth; /* deepest drawn frame */
    /* Geometry in px, as flamegraph.pl lays it out. */
    double width, height, xpad, frame_height, fontsize, title_y, subtitle_y, notes_y, details_y;
    double top;                 /* y of the highest frame row area (ypad1) */
    double chart_y, chart_h;    /* the memory chart's band (chart_h 0: none) */
    uint32_t bg_top, bg_bottom; /* background gradient */
    const char *title;
};

/* Lays out the drawn frames of a finished tree; l keeps t and o by pointer
 * and owns its frames until bts_layout_free (a no-op on NULL). Returns 0,
 * -ENODATA (no counts), -EINVAL (a bad o->bgcolors, or no px to draw in),
 * -ENOMEM; l holds nothing to free after an error. */
int bts_layout_build(struct bts_layout *l, const struct bts_calltree *t,
                     const struct bts_render_opts *o);
void bts_layout_free(struct bts_layout *l);

/* y of the top of a frame row and its label baseline. */
double bts_layout_row_y(const struct bts_layout *l, uint32_t depth);
double bts_layout_label_y(const struct bts_layout *l, uint32_t depth);

/* Label of a frame `px` wide: as flamegraph.pl, int(px / (fontsize *
 * fontwidth)) characters, "" below 3, else the name (annotation such as
 * _[k] removed) cut to fit with ".." at the end. Returns the byte range of
 * the name to show in *len and whether ".." follows. */
bool bts_layout_label_fit(const struct bts_render_opts *o, const char *name, size_t name_len,
                          double px, size_t *len, bool *dots);

/* The memory chart (opts->timeline) in px, memory-chart.c: its plot area,
 * the RSS line, the peak and its label, the biggest jumps shaded. */
struct bts_chart_jump {
    double x, w;
    char label[48]; /* "+120.0 MiB" */
};
struct bts_chart {
    double x0, x1, y0, y1; /* plot area */
    double caption_y, axis_y;
    double *pts; /* x, y pairs */
    size_t npts;
    double peak_x, peak_y;
    bool peak_anchor_end;
    char peak_label[96]; /* "peak 252.3 MiB at 1.31 s" */
    char caption[64];    /* "RSS (0 to 280.0 MiB)" */
    char t0_label[16], t1_label[32];
    struct bts_chart_jump jumps[3];
    size_t njumps;
};
/* Height of the chart band for these options (0: no timeline). */
double bts_chart_height(const struct bts_render_opts *o);
/* Fills *c from a built layout (nothing when it has no chart). 0 or
 * -ENOMEM; bts_chart_free(c) after either. */
int bts_chart_build(struct bts_chart *c, const struct bts_layout *l);
void bts_chart_free(struct bts_chart *c);
