/* SPDX-License-Identifier: MIT */
/* options: how a flame graph looks: sizes, fonts, palettes, titles,
 * differential colours; their defaults and their flamegraph.pl names. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "folded.h"
#include "timeline.h"

/* flamegraph.pl's palettes plus KIND, which colours by what a frame is:
 * our code, a library (libc, libstdc++, std::), kernel ([k], _[k]), JIT
 * ([j], _[j]) or unknown. Colours always come from a hash of the name. */
enum bts_render_palette {
    BTS_PALETTE_HOT,
    BTS_PALETTE_MEM,
    BTS_PALETTE_IO,
    BTS_PALETTE_WAKEUP,
    BTS_PALETTE_CHAIN,
    BTS_PALETTE_JAVA,
    BTS_PALETTE_JS,
    BTS_PALETTE_PERL,
    BTS_PALETTE_RED,
    BTS_PALETTE_GREEN,
    BTS_PALETTE_BLUE,
    BTS_PALETTE_AQUA,
    BTS_PALETTE_YELLOW,
    BTS_PALETTE_PURPLE,
    BTS_PALETTE_ORANGE,
    BTS_PALETTE_KIND,
};

/* Frame widths of a differential graph drawn with bts_render_compare. */
enum bts_render_widths {
    BTS_RENDER_WIDTHS_LARGER = 0, /* the larger of BEFORE and AFTER: what shrank stays visible */
    BTS_RENDER_WIDTHS_AFTER,      /* AFTER's, as flamegraph.pl draws them */
};

/* A differential graph coloured by the caller's statistics (bt-spy diff):
 * a frame's value on side i is scale[i] x its samples there / all samples
 * there; its colour is the change of that value (red grew, blue shrank),
 * pale where the change is not significant. */
struct bts_render_compare {
    enum bts_render_widths widths;
    double scale[2];         /* 100 for shares, seconds for time, ... */
    const bool *significant; /* per node of the tree; NULL: every change is */
    const char *unit;        /* how values read in tooltips: "%", "s", "samples", "s/bars" */
    const char *change_unit; /* and changes: "pp", "s", ... */
    double confidence;       /* named in tooltips: 0.99 */
};

struct bts_render_opts {
    const char *title;     /* NULL: "Flame Graph", "Icicle Graph" or "Differential Flame Graph" */
    const char *subtitle;  /* NULL: none */
    const char *notes;     /* NULL: none; shown small under the title and kept in <desc> */
    unsigned width;        /* image width in px (1200) */
    unsigned frame_height; /* px per frame (16) */
    double minwidth;       /* omit frames narrower than this (0.1) ... */
    bool minwidth_percent; /* ... px, or percent of the total when true */
    const char *fonttype;  /* "Verdana" */
    double fontsize;       /* 12 */
    double fontwidth;      /* average glyph width / fontsize (0.59) */
    const char *countname; /* "samples"; "bytes": tooltips read "12.5 MiB (31.00%)" */
    const char *nametype;  /* "Function:" */
    enum bts_render_palette palette;
    const char *bgcolors; /* "yellow" (default), "blue", "green", "grey", "#rrggbb" */
    bool reverse;         /* frames in each stack are leaf first (flamegraph.pl --reverse) */
    bool inverted;        /* icicle: root at the top */
    bool negate;          /* differential: swap red and blue */
    bool normalize;       /* differential: scale "before" to the "after" total (true) */
    bool strict;          /* stop at the first malformed line */
    uint64_t total;       /* width of the graph in counts when larger than the sum (0) */
    /* Differential trees only: colours and widths from the caller's
     * statistics. NULL: flamegraph.pl's self-count deltas. */
    const struct bts_render_compare *compare;
    /* A memory chart above the graph: the RSS line with its peak marked and
     * labelled ("peak 252.3 MiB at 1.31 s") and the biggest jumps shaded.
     * NULL: none. Kept by pointer. */
    const struct bts_timeline *timeline;
    /* Malformed input lines, "file:line: reason" for the caller to print. */
    bts_folded_diag_fn diag;
    void *diag_ctx;
};

/* Fills *o with the defaults above. */
void bts_render_opts_init(struct bts_render_opts *o);

/* Parses a palette name ("hot", "kind", "module" = kind, ...). Returns 0 or
 * -EINVAL. bts_render_palette_names() is the list for help texts. */
int bts_render_palette_parse(const char *name, enum bts_render_palette *out);
const char *bts_render_palette_names(void);
/* Sets one option by its flamegraph.pl name without "--": title,
 * subtitle, notes, width, height, minwidth ("0.1" px or "0.5%"), fonttype,
 * fontsize, fontwidth, countname, nametype, colors, bgcolors, total; and the
 * flags (value ignored) reverse, inverted, negate, hash, strict, normalize,
 * no-normalize. Strings are kept by pointer, not copied. Returns 0;
 * -EINVAL for a bad value (*expected says what is accepted: "1..100000");
 * -ENOTSUP for a flamegraph.pl option we do not support (*expected says
 * why); -ENOENT for an unknown name. */
int bts_render_opts_set(struct bts_render_opts *o, const char *name, const char *value,
                        const char **expected);

/* Every option bts_render_opts_set knows, in help order, for building
 * getopt tables and help texts. `arg` names the value (NULL for a flag);
 * `help` is NULL for the flamegraph.pl options we reject. */
struct bts_render_option {
    const char *name;
    const char *arg;
    const char *help;
};
extern const struct bts_render_option bts_render_options[];
extern const size_t bts_render_option_count;
/* Writes the supported options' help lines ("  --title TEXT   ...") to out,
 * for the usage texts of bt-flamegraph and bt-spy render/diff. */
void bts_render_options_write_help(FILE *out);

/* Checks a --bgcolors value. Returns 0 or -EINVAL. */
int bts_render_bgcolors_check(const char *value);
