/* SPDX-License-Identifier: MIT */
/* cairo: PNG and PDF flame graphs drawn from the same layout as the SVG. */
#include "image-private.h"

#include <cairo-pdf.h>
#include <cairo.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

struct sink {
    FILE *out;
    int err;
};

static cairo_status_t sink_write(void *closure, const unsigned char *data, unsigned int length)
{
    struct sink *s = closure;
    if (fwrite(data, 1, length, s->out) != length) {
        if (!s->err)
            s->err = errno ? -errno : -EIO;
        return CAIRO_STATUS_WRITE_ERROR;
    }
    return CAIRO_STATUS_SUCCESS;
}

static void set_rgb(cairo_t *cr, uint32_t rgb)
{
    cairo_set_source_rgb(cr, ((rgb >> 16) & 0xff) / 255.0, ((rgb >> 8) & 0xff) / 255.0,
                         (rgb & 0xff) / 255.0);
}

/* Bytes to valid UTF-8 without controls (cairo rejects invalid text). */
static char *clean_utf8(const char *s, size_t n, bool dots)
{
    char *out = malloc(n * 3 + 4), *o = out;
    const unsigned char *p = (const unsigned char *)s;

    if (!out)
        return NULL;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        i += bts_utf8_next(p + i, n - i, &cp);
        o += bts_utf8_put(o, cp);
    }
    if (dots) {
        *o++ = '.';
        *o++ = '.';
    }
    *o = '\0';
    return out;
}

static void draw_text(cairo_t *cr, const char *text, double x, double y, double size, uint32_t rgb,
                      int anchor /* -1 start, 0 middle, 1 end */)
{
    char *t = clean_utf8(text, strlen(text), false);
    cairo_text_extents_t ext;

    if (!t)
        return;
    cairo_set_font_size(cr, size);
    set_rgb(cr, rgb);
    if (anchor >= 0) {
        cairo_text_extents(cr, t, &ext);
        x -= anchor == 0 ? ext.x_advance / 2 : ext.x_advance;
    }
    cairo_move_to(cr, x, y);
    cairo_show_text(cr, t);
    free(t);
}

/* The memory chart, as the SVG draws it. */
static int draw_chart(cairo_t *cr, const struct bts_layout *l)
{
    const struct bts_render_opts *o = l->opts;
    struct bts_chart c;
    int err = bts_chart_build(&c, l);

    if (err || !c.npts) {
        bts_chart_free(&c);
        return err;
    }
    cairo_rectangle(cr, c.x0, c.y0, c.x1 - c.x0, c.y1 - c.y0);
    cairo_set_source_rgba(cr, 1, 1, 1, 0.7);
    cairo_fill_preserve(cr);
    cairo_set_source_rgb(cr, 0.6, 0.6, 0.6);
    cairo_set_line_width(cr, 0.5);
    cairo_stroke(cr);
    for (size_t i = 0; i < c.njumps; i++) {
        cairo_rectangle(cr, c.jumps[i].x, c.y0, c.jumps[i].w, c.y1 - c.y0);
        cairo_set_source_rgba(cr, 0xf0 / 255.0, 0x80 / 255.0, 0x80 / 255.0, 0.35);
        cairo_fill(cr);
        draw_text(cr, c.jumps[i].label, c.jumps[i].x + c.jumps[i].w / 2, c.y1 - 3, o->fontsize,
                  0xaa0000, 0);
    }
    for (size_t i = 0; i < c.npts; i++) {
        if (i)
            cairo_line_to(cr, c.pts[2 * i], c.pts[2 * i + 1]);
        else
            cairo_move_to(cr, c.pts[0], c.pts[1]);
    }
    set_rgb(cr, 0x1f4e9e);
    cairo_set_line_width(cr, 1.5);
    cairo_stroke(cr);
    cairo_arc(cr, c.peak_x, c.peak_y, 3.5, 0, 6.283185307179586);
    set_rgb(cr, 0xcc0000);
    cairo_fill(cr);
    draw_text(cr, c.peak_label, c.peak_x + (c.peak_anchor_end ? -6 : 6), c.peak_y + 4, o->fontsize,
              0xcc0000, c.peak_anchor_end ? 1 : -1);
    draw_text(cr, c.caption, c.x0, c.caption_y, o->fontsize, 0x333333, -1);
    draw_text(cr, c.t0_label, c.x0, c.axis_y, o->fontsize, 0x555555, -1);
    draw_text(cr, c.t1_label, c.x1, c.axis_y, o->fontsize, 0x555555, 1);
    bts_chart_free(&c);
    return 0;
}

static int draw(cairo_t *cr, const struct bts_layout *l)
{
    const struct bts_render_opts *o = l->opts;
    cairo_pattern_t *bg = cairo_pattern_create_linear(0, 0, 0, l->height);

    cairo_pattern_add_color_stop_rgb(bg, 0.05, ((l->bg_top >> 16) & 0xff) / 255.0,
                                     ((l->bg_top >> 8) & 0xff) / 255.0, (l->bg_top & 0xff) / 255.0);
    cairo_pattern_add_color_stop_rgb(bg, 0.95, ((l->bg_bottom >> 16) & 0xff) / 255.0,
                                     ((l->bg_bottom >> 8) & 0xff) / 255.0,
                                     (l->bg_bottom & 0xff) / 255.0);
    cairo_set_source(cr, bg);
    cairo_paint(cr);
    cairo_pattern_destroy(bg);

    cairo_select_font_face(cr, o->fonttype ? o->fonttype : "sans-serif", CAIRO_FONT_SLANT_NORMAL,
                           CAIRO_FONT_WEIGHT_NORMAL);
    draw_text(cr, l->title, l->width / 2, l->title_y, o->fontsize + 5, 0, 0);
    if (o->subtitle && *o->subtitle)
        draw_text(cr, o->subtitle, l->width / 2, l->subtitle_y, o->fontsize, 0xa0a0a0, 0);
    if (o->notes && *o->notes)
        draw_text(cr, o->notes, l->xpad, l->notes_y, o->fontsize * 0.85, 0x555555, -1);
    if (draw_chart(cr, l))
        return -ENOMEM;

    for (size_t i = 0; i < l->nframes; i++) {
        const struct bts_layout_frame *f = &l->frames[i];
        double x = l->xpad + f->x * l->scale, w = f->w * l->scale;
        double y = bts_layout_row_y(l, f->depth);
        set_rgb(cr, f->rgb);
        cairo_rectangle(cr, x, y, w, l->frame_height - 1);
        cairo_fill(cr);
    }

    cairo_set_font_size(cr, o->fontsize);
    set_rgb(cr, 0);
    for (size_t i = 0; i < l->nframes; i++) {
        const struct bts_layout_frame *f = &l->frames[i];
        double x = l->xpad + f->x * l->scale, w = f->w * l->scale;
        size_t nlen, show;
        bool dots;
        const char *name = f->node ? bts_calltree_name(l->tree, f->node, &nlen) : "all";
        char *t;
        if (!f->node)
            nlen = 3;
        if (!bts_layout_label_fit(o, name, nlen, w, &show, &dots))
            continue;
        t = clean_utf8(name, show, dots);
        if (!t)
            continue;
        /* Clip like the SVG's fixed-width estimate cannot: real glyphs may
         * be wider than fontsize * fontwidth. */
        cairo_save(cr);
        cairo_rectangle(cr, x, bts_layout_row_y(l, f->depth), w, l->frame_height - 1);
        cairo_clip(cr);
        cairo_move_to(cr, x + 3, bts_layout_label_y(l, f->depth));
        cairo_show_text(cr, t);
        cairo_restore(cr);
        free(t);
    }
    return 0;
}

static int image_write(const struct bts_layout *l, bool png, FILE *out)
{
    struct sink sink = {out, 0};
    cairo_surface_t *surf = NULL;
    cairo_t *cr = NULL;
    cairo_status_t st;
    int w = (int)ceil(l->width), h = (int)ceil(l->height);
    int err = 0;

    if (png) {
        if (w > 32767 || h > 32767)
            return -EFBIG;
        surf = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
    } else {
        surf = cairo_pdf_surface_create_for_stream(sink_write, &sink, l->width, l->height);
    }
    if (cairo_surface_status(surf) != CAIRO_STATUS_SUCCESS) {
        err = -ENOMEM;
        goto out;
    }
    cr = cairo_create(surf);
    if (draw(cr, l) || cairo_status(cr) != CAIRO_STATUS_SUCCESS) {
        err = -ENOMEM;
        goto out;
    }
    cairo_destroy(cr);
    cr = NULL;
    if (png) {
        st = cairo_surface_write_to_png_stream(surf, sink_write, &sink);
    } else {
        cairo_surface_finish(surf);
        st = cairo_surface_status(surf);
    }
    if (st != CAIRO_STATUS_SUCCESS)
        err = sink.err ? sink.err : -EIO;
    if (!err && fflush(out))
        err = errno ? -errno : -EIO;
out:
    if (cr)
        cairo_destroy(cr);
    if (surf)
        cairo_surface_destroy(surf);
    if (!err && sink.err)
        err = sink.err;
    return err;
}

int image_write_png(const struct bts_layout *l, FILE *out)
{
    return image_write(l, true, out);
}

int image_write_pdf(const struct bts_layout *l, FILE *out)
{
    return image_write(l, false, out);
}
