/* SPDX-License-Identifier: MIT */
/* render internals: the layout shared by the SVG and cairo back ends. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "render.h"
#include "utf8.h"

/* One drawn frame. x and w are in counts (the width column); px = xpad +
 * x * scale. Frames come in depth-first order, children by name. */
struct layout_frame {
    bts_calltree_node node;
    uint32_t depth;
    uint64_t x;
    uint64_t w;
    uint32_t rgb; /* 0xRRGGBB */
};

struct layout {
    const struct bts_calltree *tree;
    const struct bts_render_opts *opts;
    struct layout_frame *frames;
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

/* Colours (palette.c), 0xRRGGBB. A frame's colour under palette pal from
 * a hash of its name alone, so a function has the same colour in every
 * graph; a differential frame's from its self-count delta (flamegraph.pl's
 * scale: white at 0, full red or blue at +-maxdelta, negate swaps them), or
 * from the caller's statistics (pale when not significant). */
uint32_t palette_frame(enum bts_render_palette pal, const char *name, size_t len);
uint32_t palette_delta(double delta, double maxdelta, bool negate);
uint32_t palette_compare(double delta, double maxdelta, bool significant, bool negate);
/* The background gradient for --bgcolors NAME (NULL or "": the palette's
 * default). 0 or -EINVAL. */
int palette_background(const char *name, enum bts_render_palette pal, uint32_t *top, uint32_t *bot);

/* Lays out the drawn frames of a finished tree. Returns 0, -ENODATA (no
 * counts), -ENOMEM. layout_free(NULL) is a no-op. */
int layout_build(struct layout *l, const struct bts_calltree *t, const struct bts_render_opts *o);
void layout_free(struct layout *l);

/* y of the top of a frame row and its label baseline. */
double layout_row_y(const struct layout *l, uint32_t depth);
double layout_label_y(const struct layout *l, uint32_t depth);

/* Label of a frame `px` wide: as flamegraph.pl, int(px / (fontsize *
 * fontwidth)) characters, "" below 3, else the name (annotation such as
 * _[k] removed) cut to fit with ".." at the end. Returns the byte range of
 * the name to show in *len and whether ".." follows. */
bool label_fit(const struct bts_render_opts *o, const char *name, size_t name_len, double px,
               size_t *len, bool *dots);

/* The memory chart (opts->timeline) in px: its plot area, the RSS line,
 * the peak and its label, the biggest jumps shaded. */
struct chart_jump {
    double x, w;
    char label[48]; /* "+120.0 MiB" */
};
struct chart {
    double x0, x1, y0, y1; /* plot area */
    double caption_y, axis_y;
    double *pts; /* x, y pairs */
    size_t npts;
    double peak_x, peak_y;
    bool peak_anchor_end;
    char peak_label[96]; /* "peak 252.3 MiB at 1.31 s" */
    char caption[64];    /* "RSS (0 to 280.0 MiB)" */
    char t0_label[16], t1_label[32];
    struct chart_jump jumps[3];
    size_t njumps;
};
/* Height of the chart band for these options (0: no timeline). */
double chart_height(const struct bts_render_opts *o);
/* Fills *c from a built layout (nothing when it has no chart). 0 or
 * -ENOMEM; chart_free(c) after either. */
int chart_build(struct chart *c, const struct layout *l);
void chart_free(struct chart *c);

/* Back ends: return 0 or -errno (write errors as -errno or -EIO). */
int svg_write(const struct layout *l, FILE *out);
int cairo_write(const struct layout *l, enum bts_render_format fmt, FILE *out);
