/* SPDX-License-Identifier: MIT */
/* layout: where each frame of a call tree goes, its colour, and the
 * picture's geometry; the SVG and cairo back ends draw what this decides. */
#include "layout.h"

#include "draw-private.h"
#include "utf8.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A node's value on one side (see struct bts_render_compare). */
static double compare_value(const struct bts_layout *l, bts_calltree_node n, unsigned side)
{
    uint64_t all = bts_calltree_total(l->tree, BTS_CALLTREE_ROOT, side);
    return all ? l->compare->scale[side] * (double)bts_calltree_total(l->tree, n, side) /
                     (double)all
               : 0;
}

/* Widths from the larger of the two values, in units of 1e-6 of the larger
 * root; a frame is made at least as wide as its children together, so
 * every child fits inside its parent. Children have larger ids than their
 * parent: one backward pass sums them. */
static int larger_widths(struct bts_layout *l)
{
    size_t n = bts_calltree_node_count(l->tree);
    uint64_t *kids = calloc(n, sizeof(*kids));
    double top =
        fmax(compare_value(l, BTS_CALLTREE_ROOT, 0), compare_value(l, BTS_CALLTREE_ROOT, 1));
    double k = top > 0 ? 1e6 / top : 0;

    l->widths = calloc(n, sizeof(*l->widths));
    if (!kids || !l->widths) {
        free(kids);
        return -ENOMEM;
    }
    for (size_t i = n; i-- > 0;) {
        bts_calltree_node node = (bts_calltree_node)i;
        double v = fmax(compare_value(l, node, 0), compare_value(l, node, 1));
        uint64_t w = (uint64_t)llround(v * k);
        if (kids[i] > w)
            w = kids[i];
        l->widths[i] = w;
        if (i)
            kids[bts_calltree_parent(l->tree, node)] += w;
    }
    free(kids);
    return 0;
}

static uint64_t node_width(const struct bts_layout *l, bts_calltree_node n)
{
    return l->widths ? l->widths[n] : bts_calltree_total(l->tree, n, l->column);
}

/* ---- labels ---- */

bool bts_layout_label_fit(const struct bts_render_opts *o, const char *name, size_t name_len,
                          double px, size_t *len, bool *dots)
{
    double cw = o->fontsize * o->fontwidth;
    size_t chars = cw > 0 ? (size_t)(px / cw) : 0;
    size_t n = name_len, count = 0, pos = 0, cut = 0;
    const unsigned char *p = (const unsigned char *)name;

    if (chars < 3)
        return false;
    if (n >= 4 && name[n - 4] == '_' && name[n - 3] == '[' && name[n - 1] == ']' &&
        strchr("kwij", name[n - 2]))
        n -= 4;
    /* Count code points; remember where chars-2 of them end. */
    while (pos < n) {
        uint32_t cp;
        if (count == chars - 2)
            cut = pos;
        pos += bts_utf8_next(p + pos, n - pos, &cp);
        count++;
        if (count > chars)
            break;
    }
    if (count <= chars) {
        *len = n;
        *dots = false;
    } else {
        *len = cut;
        *dots = true;
    }
    return true;
}

/* ---- layout ---- */

void bts_layout_free(struct bts_layout *l)
{
    if (!l)
        return;
    free(l->frames);
    l->frames = NULL;
    free(l->widths);
    l->widths = NULL;
}

double bts_layout_row_y(const struct bts_layout *l, uint32_t depth)
{
    if (l->opts->inverted)
        return l->top + depth * l->frame_height;
    return l->height - (l->fontsize * 2 + 10) - (depth + 1) * l->frame_height + 1;
}

double bts_layout_label_y(const struct bts_layout *l, uint32_t depth)
{
    return bts_layout_row_y(l, depth) + 3 + (l->frame_height - 1) / 2;
}

static int push_frame(struct bts_layout *l, size_t *alloc, const struct bts_layout_frame *f)
{
    if (l->nframes == *alloc) {
        size_t n = *alloc ? *alloc * 2 : 1024;
        struct bts_layout_frame *nf = realloc(l->frames, n * sizeof(*nf));
        if (!nf)
            return -ENOMEM;
        l->frames = nf;
        *alloc = n;
    }
    l->frames[l->nframes++] = *f;
    return 0;
}

/* Which counts make the widths, the total across the picture and the px
 * per count. -ENODATA when there is nothing to draw, -EINVAL when the
 * width leaves no room, -ENOMEM. */
static int set_scale(struct bts_layout *l)
{
    const struct bts_render_opts *o = l->opts;
    uint64_t tree_total;
    int err;

    l->differential = bts_calltree_is_differential(l->tree);
    l->column = l->differential ? 1 : 0;
    l->compare = l->differential ? o->compare : NULL;
    tree_total = bts_calltree_total(l->tree, BTS_CALLTREE_ROOT, l->column);
    if (tree_total == 0)
        return -ENODATA;
    if (l->compare && l->compare->widths == BTS_RENDER_WIDTHS_LARGER) {
        err = larger_widths(l);
        if (err)
            return err;
        tree_total = l->widths[BTS_CALLTREE_ROOT];
        if (tree_total == 0)
            return -ENODATA;
    }
    l->total = o->total > tree_total && !l->compare ? o->total : tree_total;
    l->xpad = 10;
    l->width = o->width;
    l->frame_height = o->frame_height;
    l->fontsize = o->fontsize;
    l->scale = (l->width - 2 * l->xpad) / (double)l->total;
    return l->scale > 0 ? 0 : -EINVAL;
}

/* The frames wide enough to draw, depth first with children in name
 * order, each child at its place inside its parent. 0 or -ENOMEM. */
static int place_frames(struct bts_layout *l)
{
    const struct bts_render_opts *o = l->opts;
    double minw = o->minwidth_percent ? l->total * o->minwidth / 100.0 : o->minwidth / l->scale;
    size_t alloc = 0, sp = 0, stack_alloc = 256;
    struct {
        bts_calltree_node node;
        uint64_t x;
    } *stack = malloc(stack_alloc * sizeof(*stack));
    int err = -ENOMEM;

    if (!stack)
        return -ENOMEM;
    stack[sp].node = BTS_CALLTREE_ROOT;
    stack[sp].x = 0;
    sp++;
    while (sp > 0) {
        struct bts_layout_frame f;
        const bts_calltree_node *kids;
        size_t nkids;
        uint64_t cx;

        sp--;
        f.node = stack[sp].node;
        f.x = stack[sp].x;
        f.depth = bts_calltree_depth(l->tree, f.node);
        f.w = node_width(l, f.node);
        f.rgb = 0;
        err = push_frame(l, &alloc, &f);
        if (err)
            goto out;
        err = -ENOMEM;
        if (f.depth > l->max_depth)
            l->max_depth = f.depth;
        /* Push children right to left so they pop in name order. */
        nkids = bts_calltree_children(l->tree, f.node, &kids);
        /* Children start at the parent's left edge; self time is on the
         * right (as flamegraph.pl draws it). */
        cx = f.x;
        for (size_t i = 0; i < nkids; i++)
            cx += node_width(l, kids[i]);
        for (size_t i = nkids; i-- > 0;) {
            uint64_t w = node_width(l, kids[i]);
            cx -= w;
            if ((double)w < minw || w == 0)
                continue;
            if (sp == stack_alloc) {
                void *ns = realloc(stack, 2 * stack_alloc * sizeof(*stack));
                if (!ns)
                    goto out;
                stack = ns;
                stack_alloc *= 2;
            }
            stack[sp].node = kids[i];
            stack[sp].x = cx;
            sp++;
        }
    }
    err = 0;
out:
    free(stack);
    return err;
}

/* A differential node's change: AFTER's value less BEFORE's (statistics),
 * or its self count less BEFORE's scaled by norm (flamegraph.pl). */
static double node_delta(const struct bts_layout *l, bts_calltree_node n, double norm)
{
    if (l->compare)
        return compare_value(l, n, 1) - compare_value(l, n, 0);
    return (double)bts_calltree_self(l->tree, n, 1) -
           (double)bts_calltree_self(l->tree, n, 0) * norm;
}

/* Colours every drawn frame: by name, or by its change on a differential
 * tree. */
static void color_frames(struct bts_layout *l)
{
    const struct bts_render_opts *o = l->opts;
    const struct bts_calltree *t = l->tree;
    double maxdelta = 0, norm = 1;

    if (l->differential && !l->compare && o->normalize) {
        uint64_t before = bts_calltree_total(t, BTS_CALLTREE_ROOT, 0);
        norm = before ? (double)bts_calltree_total(t, BTS_CALLTREE_ROOT, 1) / (double)before : 1;
    }
    /* maxdelta spans every node, drawn or not, as flamegraph.pl's does;
     * with statistics, every node but the root (in time, its change is
     * the difference of the durations and would pale the rest). */
    if (l->differential) {
        size_t n = bts_calltree_node_count(t);
        for (size_t i = l->compare ? 1 : 0; i < n; i++) {
            double d = fabs(node_delta(l, (bts_calltree_node)i, norm));
            if (d > maxdelta)
                maxdelta = d;
        }
    }
    for (size_t i = 0; i < l->nframes; i++) {
        struct bts_layout_frame *f = &l->frames[i];
        size_t len = 3;
        const char *name = f->node ? bts_calltree_name(t, f->node, &len) : "all";
        if (l->compare) {
            bool sig = !l->compare->significant || l->compare->significant[f->node];
            f->rgb = palette_compare(node_delta(l, f->node, norm), maxdelta, sig, o->negate);
        } else if (l->differential) {
            f->rgb = palette_delta(node_delta(l, f->node, norm), maxdelta, o->negate);
        } else {
            f->rgb = palette_frame(o->palette, name, len);
        }
    }
}

/* The picture's geometry in px (flamegraph.pl's): title band, optional
 * subtitle, notes and memory chart, the frames, then the details line;
 * the title and the background. 0 or -EINVAL (a bad --bgcolors). */
static int set_geometry(struct bts_layout *l)
{
    const struct bts_render_opts *o = l->opts;
    double fs = o->fontsize;
    double ypad1 = fs * 3, ypad2 = fs * 2 + 10;

    if (o->subtitle && *o->subtitle)
        ypad1 += fs * 2;
    if (o->notes && *o->notes)
        ypad1 += fs * 1.5;
    l->title_y = fs * 2;
    l->subtitle_y = fs * 4;
    l->notes_y = (o->subtitle && *o->subtitle) ? fs * 5.5 : fs * 3.5;
    l->chart_h = bts_chart_height(o);
    if (l->chart_h) {
        l->chart_y = ypad1;
        ypad1 += l->chart_h + fs * 0.5;
    }
    l->top = ypad1;
    l->height = (l->max_depth + 1) * l->frame_height + ypad1 + ypad2;
    l->details_y = l->height - fs / 2 - 5;
    if (o->title && *o->title)
        l->title = o->title;
    else if (l->differential)
        l->title = "Differential Flame Graph";
    else if (o->inverted)
        l->title = "Icicle Graph";
    else
        l->title = "Flame Graph";
    return palette_background(o->bgcolors, o->palette, &l->bg_top, &l->bg_bottom);
}

int bts_layout_build(struct bts_layout *l, const struct bts_calltree *t,
                     const struct bts_render_opts *o)
{
    int err;

    memset(l, 0, sizeof(*l));
    l->tree = t;
    l->opts = o;
    err = set_scale(l);
    if (!err)
        err = place_frames(l);
    if (!err) {
        color_frames(l);
        err = set_geometry(l);
    }
    if (err)
        bts_layout_free(l);
    return err;
}
