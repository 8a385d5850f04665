/* SPDX-License-Identifier: MIT */
/* check-render: layout, SVG markup and escaping, determinism, PNG pixels, diff colours. */
#define _GNU_SOURCE
#include "layout.h" /* where frames go, to check positions and pixels */
#include "render.h"

#include <cairo.h>
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct out {
    char *buf;
    size_t len;
};

static int render_str(const char *folded, const struct bts_render_opts *o,
                      enum bts_render_format fmt, struct out *res)
{
    FILE *in = fmemopen((void *)folded, strlen(folded), "r");
    FILE *out = open_memstream(&res->buf, &res->len);
    int err = bts_render_folded(in, "t.folded", o, fmt, out);
    fclose(in);
    fclose(out);
    return err;
}

static char *svg_of(const char *folded, const struct bts_render_opts *o)
{
    struct out r = {0};
    ck_assert_int_eq(render_str(folded, o, BTS_RENDER_SVG, &r), 0);
    return r.buf;
}

static int diff_str(const char *before, const char *after, const struct bts_render_opts *o,
                    enum bts_render_format fmt, struct out *res)
{
    FILE *b = fmemopen((void *)before, strlen(before), "r");
    FILE *a = fmemopen((void *)after, strlen(after), "r");
    FILE *out = open_memstream(&res->buf, &res->len);
    struct bts_render_input bi = {b, "before"}, ai = {a, "after"};
    int err = bts_render_diff(&bi, &ai, o, fmt, out);
    fclose(a);
    fclose(b);
    fclose(out);
    return err;
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* A tree and its layout from folded text. */
struct built {
    struct bts_calltree *tree;
    struct bts_layout layout;
};

static void build(struct built *b, const char *folded, const struct bts_render_opts *o)
{
    FILE *in = fmemopen((void *)folded, strlen(folded), "r");
    b->tree = bts_calltree_new();
    ck_assert_int_eq(bts_calltree_add_folded(
                         b->tree, in, "t", o->reverse ? BTS_CALLTREE_REVERSE : 0, NULL, NULL, NULL),
                     0);
    fclose(in);
    ck_assert_int_eq(bts_calltree_finish(b->tree), 0);
    ck_assert_int_eq(bts_layout_build(&b->layout, b->tree, o), 0);
}

static void unbuild(struct built *b)
{
    bts_layout_free(&b->layout);
    bts_calltree_free(b->tree);
}

static const struct bts_layout_frame *frame_named(const struct built *b, const char *name)
{
    for (size_t i = 0; i < b->layout.nframes; i++) {
        const struct bts_layout_frame *f = &b->layout.frames[i];
        if (f->node && !strcmp(bts_calltree_name(b->tree, f->node, NULL), name))
            return f;
    }
    return NULL;
}

/* ---- layout ---- */

START_TEST(test_layout_places_children_in_name_order)
{
    struct bts_render_opts o;
    struct built b;
    bts_render_opts_init(&o);
    build(&b, "m;b 2\nm;a 3\nm;a;z 1\n", &o);
    ck_assert_uint_eq(b.layout.nframes, 5);
    ck_assert_uint_eq(frame_named(&b, "a")->x, 0);
    ck_assert_uint_eq(frame_named(&b, "a")->w, 4);
    ck_assert_uint_eq(frame_named(&b, "b")->x, 4);
    ck_assert_uint_eq(frame_named(&b, "z")->x, 0);
    ck_assert_uint_eq(b.layout.total, 6);
    ck_assert_double_eq_tol(b.layout.scale, 1180.0 / 6, 1e-9);
    unbuild(&b);
}
END_TEST

START_TEST(test_layout_omits_frames_below_minwidth)
{
    struct bts_render_opts o;
    struct built b;
    const char *in = "m;wide 1000\nm;thin 1\nm;thin;deeper 1\n";
    bts_render_opts_init(&o);
    build(&b, in, &o); /* thin is 2 counts: 2.35 px */
    ck_assert_ptr_nonnull(frame_named(&b, "thin"));
    ck_assert_ptr_nonnull(frame_named(&b, "deeper"));
    unbuild(&b);
    o.minwidth = 2;
    build(&b, in, &o); /* deeper is 1.18 px */
    ck_assert_ptr_nonnull(frame_named(&b, "thin"));
    ck_assert_ptr_null(frame_named(&b, "deeper"));
    unbuild(&b);
    o.minwidth = 0.5;
    o.minwidth_percent = true; /* 0.5% of 1002 = 5.01 counts */
    build(&b, in, &o);
    ck_assert_ptr_null(frame_named(&b, "thin"));
    ck_assert_ptr_nonnull(frame_named(&b, "wide"));
    ck_assert_uint_eq(b.layout.max_depth, 2);
    unbuild(&b);
}
END_TEST

START_TEST(test_layout_inverted_puts_root_on_top)
{
    struct bts_render_opts o;
    struct built b;
    bts_render_opts_init(&o);
    build(&b, "m;f;g 1\n", &o);
    ck_assert_double_gt(bts_layout_row_y(&b.layout, 0), bts_layout_row_y(&b.layout, 3));
    ck_assert_str_eq(b.layout.title, "Flame Graph");
    unbuild(&b);
    o.inverted = true;
    build(&b, "m;f;g 1\n", &o);
    ck_assert_double_lt(bts_layout_row_y(&b.layout, 0), bts_layout_row_y(&b.layout, 3));
    ck_assert_double_eq(bts_layout_row_y(&b.layout, 0), b.layout.top);
    ck_assert_str_eq(b.layout.title, "Icicle Graph");
    unbuild(&b);
}
END_TEST

START_TEST(test_layout_reverse_puts_leaves_at_the_root)
{
    struct bts_render_opts o;
    struct built b;
    bts_render_opts_init(&o);
    o.reverse = true;
    build(&b, "main;work;memcpy 3\nmain;idle;memcpy 1\n", &o);
    ck_assert_uint_eq(frame_named(&b, "memcpy")->depth, 1);
    ck_assert_uint_eq(frame_named(&b, "memcpy")->w, 4);
    ck_assert_uint_eq(frame_named(&b, "work")->depth, 2);
    unbuild(&b);
}
END_TEST

START_TEST(test_labels_are_cut_with_two_dots)
{
    struct bts_render_opts o;
    size_t len;
    bool dots;
    bts_render_opts_init(&o);
    /* 7.08 px per char: 50 px fits 7 chars */
    ck_assert(bts_layout_label_fit(&o, "abcdefghij", 10, 50, &len, &dots));
    ck_assert_uint_eq(len, 5);
    ck_assert(dots);
    ck_assert(bts_layout_label_fit(&o, "abcdefg", 7, 50, &len, &dots));
    ck_assert_uint_eq(len, 7);
    ck_assert(!dots);
    ck_assert(!bts_layout_label_fit(&o, "abcdefg", 7, 20, &len, &dots));
    ck_assert(bts_layout_label_fit(&o, "do_sys_open_[k]", 15, 500, &len, &dots));
    ck_assert_uint_eq(len, 11);
    /* multi-byte characters count once */
    ck_assert(
        bts_layout_label_fit(&o, "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9",
                             16, 50, &len, &dots));
    ck_assert_uint_eq(len, 10);
    ck_assert(dots);
}
END_TEST

/* ---- SVG ---- */

START_TEST(test_svg_escapes_markup_in_names_and_titles)
{
    struct bts_render_opts o;
    bts_render_opts_init(&o);
    o.title = "a<b & \"c\" 'd'";
    o.countname = "\"><script>x()</script>";
    char *s = svg_of("main;</text><script>alert(1)</script> 5\nmain;f&g<h> 5\n", &o);
    ck_assert_ptr_nonnull(strstr(s, "&lt;/text&gt;&lt;script&gt;alert(1)&lt;/script&gt;"));
    ck_assert_ptr_nonnull(strstr(s, "f&amp;g&lt;h&gt;"));
    ck_assert_ptr_nonnull(strstr(s, ">a&lt;b &amp; &quot;c&quot; &#39;d&#39;</text>"));
    ck_assert_ptr_nonnull(strstr(s, "data-countname=\"&quot;&gt;&lt;script&gt;"));
    /* our one script element and nothing else */
    ck_assert_uint_eq(count(s, "<script"), 1);
    ck_assert_uint_eq(count(s, "</script>"), 1);
    ck_assert_uint_eq(count(s, "alert(1)"), 2); /* as escaped text: label and name table */
    free(s);
}
END_TEST

START_TEST(test_svg_replaces_invalid_utf8_and_controls)
{
    struct bts_render_opts o;
    bts_render_opts_init(&o);
    char *s = svg_of("main;bad\xff\xc0\x80;ctl\x01\x1b[0m;ok\xc3\xa9 5\n", &o);
    ck_assert_ptr_nonnull(strstr(s, "bad\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"));
    ck_assert_ptr_nonnull(strstr(s, "ctl\xef\xbf\xbd\xef\xbf\xbd[0m"));
    ck_assert_ptr_nonnull(strstr(s, "ok\xc3\xa9"));
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        ck_assert_msg(*p >= 0x20 || *p == '\n', "control byte %#x in output", *p);
    ck_assert_ptr_null(strstr(s, "\xff"));
    free(s);
}
END_TEST

START_TEST(test_svg_has_static_rects_and_labels)
{
    struct bts_render_opts o;
    bts_render_opts_init(&o);
    char *s = svg_of("main;work 30\nmain;idle 10\n", &o);
    /* all, main, idle, work */
    ck_assert_uint_eq(count(s, "\" n=\""), 4);
    ck_assert_ptr_nonnull(strstr(s, "<rect x=\"10\" width=\"30\" height=\"15\""));
    ck_assert_ptr_nonnull(strstr(s, ">work</text>"));
    ck_assert_ptr_nonnull(strstr(s, "data-total=\"40\""));
    ck_assert_ptr_nonnull(strstr(s, "<text id=\"names\">0|all\n0|idle\n0|main\n0|work</text>"));
    free(s);
}
END_TEST

START_TEST(test_svg_names_are_front_coded)
{
    struct bts_render_opts o;
    bts_render_opts_init(&o);
    char *s = svg_of("ns::Engine<int>::run 1\nns::Engine<int>::step 1\n", &o);
    ck_assert_ptr_nonnull(strstr(s, "0|all\n0|ns::Engine&lt;int&gt;::run\n17|step</text>"));
    free(s);
}
END_TEST

START_TEST(test_svg_names_share_tails_with_recent_names)
{
    struct bts_render_opts o;
    bts_render_opts_init(&o);
    char *s = svg_of("alpha::price(std::vector<double> const&, int) 1\n"
                     "beta::price(std::vector<double> const&, int) 1\n",
                     &o);
    /* beta's line: no prefix, "bet", then the last 41 characters of the
     * name one line up ("a::price(std::vector&lt;double&gt; const&amp;, int)"). */
    ck_assert_ptr_nonnull(
        strstr(s, "0|all\n2|pha::price(std::vector&lt;double&gt; const&amp;, int)\n0,1,41|bet<"));
    free(s);
}
END_TEST

START_TEST(test_svg_output_is_deterministic)
{
    struct bts_render_opts o;
    bts_render_opts_init(&o);
    o.palette = BTS_PALETTE_KIND;
    const char *a = "main;x;y 3\nmain;b 4\nmain;x;z 1\nlibc.so;memcpy 2\nmain;x 7\n";
    const char *b = "main;x 7\nlibc.so;memcpy 2\nmain;x;z 1\nmain;b 4\nmain;x;y 3\n";
    char *s1 = svg_of(a, &o), *s2 = svg_of(a, &o), *s3 = svg_of(b, &o);
    ck_assert_str_eq(s1, s2);
    ck_assert_str_eq(s1, s3); /* input order does not matter either */
    free(s1);
    free(s2);
    free(s3);
}
END_TEST

START_TEST(test_svg_colours_come_from_the_name)
{
    struct bts_render_opts o;
    struct built b1, b2;
    bts_render_opts_init(&o);
    build(&b1, "main;compute 5\n", &o);
    build(&b2, "other;x;compute 1\nother;y 9\n", &o);
    ck_assert_uint_eq(frame_named(&b1, "compute")->rgb, frame_named(&b2, "compute")->rgb);
    ck_assert_uint_ne(frame_named(&b1, "compute")->rgb, frame_named(&b1, "main")->rgb);
    /* hot: red 205..255, green 0..230, blue 0..55 */
    uint32_t c = frame_named(&b1, "compute")->rgb;
    ck_assert_uint_ge(c >> 16, 205);
    ck_assert_uint_le(c & 0xff, 55);
    unbuild(&b1);
    unbuild(&b2);
    o.palette = BTS_PALETTE_KIND;
    build(&b1, "main;sys_read_[k] 1\nmain;js_fn_[j] 1\nmain;std::sort 1\n", &o);
    c = frame_named(&b1, "sys_read_[k]")->rgb; /* orange: no blue */
    ck_assert_uint_eq(c & 0xff, 0);
    c = frame_named(&b1, "js_fn_[j]")->rgb; /* green dominant */
    ck_assert_uint_gt((c >> 8) & 0xff, c >> 16);
    c = frame_named(&b1, "std::sort")->rgb; /* blue dominant */
    ck_assert_uint_gt(c & 0xff, c >> 16);
    unbuild(&b1);
}
END_TEST

START_TEST(test_empty_input_is_an_error_not_a_graph)
{
    struct bts_render_opts o;
    struct out r = {0};
    bts_render_opts_init(&o);
    ck_assert_int_eq(render_str("\n\n", &o, BTS_RENDER_SVG, &r), -ENODATA);
    ck_assert_uint_eq(r.len, 0);
    free(r.buf);
    r = (struct out){0};
    ck_assert_int_eq(render_str("only garbage\n", &o, BTS_RENDER_SVG, &r), -ENODATA);
    free(r.buf);
    r = (struct out){0};
    o.strict = true;
    ck_assert_int_eq(render_str("a 1\ngarbage\n", &o, BTS_RENDER_SVG, &r), -EBADMSG);
    free(r.buf);
}
END_TEST

/* A stream whose every write fails as a full disk does. */
static ssize_t write_enospc(void *cookie, const char *buf, size_t size)
{
    (void)cookie;
    (void)buf;
    (void)size;
    errno = ENOSPC;
    return 0; /* fopencookie: 0 is an error, with errno saying which */
}

START_TEST(test_write_errors_are_reported)
{
    struct bts_render_opts o;
    FILE *in = fmemopen((void *)"a;b 1\n", 6, "r");
    FILE *full = fopencookie(NULL, "w", (cookie_io_functions_t){.write = write_enospc});
    ck_assert_ptr_nonnull(in);
    ck_assert_ptr_nonnull(full);
    bts_render_opts_init(&o);
    ck_assert_int_eq(bts_render_folded(in, "t", &o, BTS_RENDER_SVG, full), -ENOSPC);
    fclose(full);
    fclose(in);
}
END_TEST

START_TEST(test_options_are_validated)
{
    struct bts_render_opts o;
    const char *why;
    bts_render_opts_init(&o);
    ck_assert_int_eq(bts_render_opts_set(&o, "width", "800", &why), 0);
    ck_assert_uint_eq(o.width, 800);
    ck_assert_int_eq(bts_render_opts_set(&o, "width", "80x", &why), -EINVAL);
    ck_assert_str_eq(why, "100..100000");
    ck_assert_int_eq(bts_render_opts_set(&o, "minwidth", "0.5%", &why), 0);
    ck_assert(o.minwidth_percent);
    ck_assert_double_eq(o.minwidth, 0.5);
    ck_assert_int_eq(bts_render_opts_set(&o, "minwidth", "2", &why), 0);
    ck_assert(!o.minwidth_percent);
    ck_assert_int_eq(bts_render_opts_set(&o, "minwidth", "-1", &why), -EINVAL);
    ck_assert_int_eq(bts_render_opts_set(&o, "colors", "module", &why), 0);
    ck_assert_int_eq(o.palette, BTS_PALETTE_KIND);
    ck_assert_int_eq(bts_render_opts_set(&o, "colors", "rainbow", &why), -EINVAL);
    ck_assert_int_eq(bts_render_opts_set(&o, "bgcolors", "#12ab3F", &why), 0);
    ck_assert_int_eq(bts_render_opts_set(&o, "bgcolors", "#12ab3", &why), -EINVAL);
    ck_assert_int_eq(bts_render_opts_set(&o, "random", NULL, &why), -ENOTSUP);
    ck_assert_ptr_nonnull(why);
    ck_assert_int_eq(bts_render_opts_set(&o, "nonsense", NULL, &why), -ENOENT);
    enum bts_render_format f;
    ck_assert_int_eq(bts_render_format_parse("dir.v2/out.PNG", true, &f), 0);
    ck_assert_int_eq(f, BTS_RENDER_PNG);
    ck_assert_int_eq(bts_render_format_parse("dir.svg/out", true, &f), -EINVAL);
    ck_assert_int_eq(bts_render_format_parse("out.folded", true, &f), -EINVAL);
    ck_assert_int_eq(bts_render_format_parse("Pdf", false, &f), 0);
    ck_assert_int_eq(f, BTS_RENDER_PDF);
    ck_assert_int_eq(bts_render_format_parse("pprof", false, &f), -EINVAL);
}
END_TEST

/* ---- PNG and PDF ---- */

struct reader {
    const unsigned char *p;
    size_t left;
};

static cairo_status_t read_mem(void *closure, unsigned char *data, unsigned int length)
{
    struct reader *r = closure;
    if (length > r->left)
        return CAIRO_STATUS_READ_ERROR;
    memcpy(data, r->p, length);
    r->p += length;
    r->left -= length;
    return CAIRO_STATUS_SUCCESS;
}

static uint32_t pixel(cairo_surface_t *s, double x, double y)
{
    unsigned char *data = cairo_image_surface_get_data(s);
    int stride = cairo_image_surface_get_stride(s);
    uint32_t v;
    memcpy(&v, data + (size_t)y * (size_t)stride + (size_t)x * 4, 4);
    return v & 0xffffff;
}

static cairo_surface_t *png_of(const struct out *r)
{
    struct reader rd = {(const unsigned char *)r->buf, r->len};
    cairo_surface_t *s = cairo_image_surface_create_from_png_stream(read_mem, &rd);
    ck_assert_int_eq(cairo_surface_status(s), CAIRO_STATUS_SUCCESS);
    cairo_surface_flush(s);
    return s;
}

START_TEST(test_png_has_frame_colours_at_frame_centres)
{
    static const char in[] = "main;hot 6\nmain;cold 2\nmain;hot;deep 3\n";
    struct bts_render_opts o;
    struct built b;
    struct out r = {0};
    bts_render_opts_init(&o);
    build(&b, in, &o);
    ck_assert_int_eq(render_str(in, &o, BTS_RENDER_PNG, &r), 0);
    ck_assert_mem_eq(r.buf, "\x89PNG", 4);
    cairo_surface_t *s = png_of(&r);
    ck_assert_int_eq(cairo_image_surface_get_width(s), 1200);
    ck_assert_int_eq(cairo_image_surface_get_height(s), (int)b.layout.height);
    const char *names[] = {"main", "hot", "cold", "deep"};
    for (size_t i = 0; i < 4; i++) {
        const struct bts_layout_frame *f = frame_named(&b, names[i]);
        double cx = b.layout.xpad + (f->x + f->w / 2.0) * b.layout.scale;
        double cy = bts_layout_row_y(&b.layout, f->depth) + (b.layout.frame_height - 1) / 2;
        ck_assert_msg(pixel(s, cx, cy) == f->rgb, "%s: %06x at (%.0f,%.0f), expected %06x",
                      names[i], pixel(s, cx, cy), cx, cy, f->rgb);
    }
    /* between frames: the background, not a frame colour */
    ck_assert_uint_ne(pixel(s, 600, 5), frame_named(&b, "main")->rgb);
    cairo_surface_destroy(s);
    free(r.buf);
    unbuild(&b);
}
END_TEST

START_TEST(test_pdf_output_is_a_pdf)
{
    struct bts_render_opts o;
    struct out r = {0};
    bts_render_opts_init(&o);
    ck_assert_int_eq(render_str("main;f 1\n", &o, BTS_RENDER_PDF, &r), 0);
    ck_assert_uint_gt(r.len, 100);
    ck_assert_mem_eq(r.buf, "%PDF-", 5);
    ck_assert_ptr_nonnull(memmem(r.buf, r.len, "%%EOF", 5));
    free(r.buf);
}
END_TEST

/* ---- differential ---- */

static const char *fill_of(const char *svg, const char *name_index_attr)
{
    const char *p = strstr(svg, name_index_attr);
    ck_assert_ptr_nonnull(p);
    p = strstr(p, "fill=\"");
    ck_assert_ptr_nonnull(p);
    return p + 6;
}

START_TEST(test_diff_colours_grown_red_and_shrunk_blue)
{
    struct bts_render_opts o;
    struct out r = {0};
    bts_render_opts_init(&o);
    /* names: all=0 grow=1 m=2 same=3 shrink=4 */
    ck_assert_int_eq(diff_str("m;grow 5\nm;shrink 5\nm;same 5\n",
                              "m;grow 9\nm;shrink 1\nm;same 5\n", &o, BTS_RENDER_SVG, &r),
                     0);
    ck_assert_ptr_nonnull(strstr(r.buf, "Differential Flame Graph"));
    ck_assert_mem_eq(fill_of(r.buf, "n=\"1\""), "#ff0000", 7);
    ck_assert_mem_eq(fill_of(r.buf, "n=\"4\""), "#0000ff", 7);
    ck_assert_mem_eq(fill_of(r.buf, "n=\"3\""), "#ffffff", 7);
    /* widths from AFTER, BEFORE kept for tooltips */
    ck_assert_ptr_nonnull(strstr(r.buf, "width=\"9\" height=\"15\" n=\"1\" b=\"5\""));
    free(r.buf);

    r = (struct out){0};
    o.negate = true;
    ck_assert_int_eq(
        diff_str("m;grow 5\nm;shrink 5\n", "m;grow 9\nm;shrink 1\n", &o, BTS_RENDER_SVG, &r), 0);
    ck_assert_mem_eq(fill_of(r.buf, "n=\"1\""), "#0000ff", 7);
    free(r.buf);
}
END_TEST

START_TEST(test_diff_intensity_follows_the_delta)
{
    struct bts_render_opts o;
    struct out r = {0};
    bts_render_opts_init(&o);
    o.normalize = false;
    /* big grew by 10, small by 5: half intensity, 210 * 5 / 10 = 105 */
    ck_assert_int_eq(
        diff_str("m;big 10\nm;small 10\n", "m;big 20\nm;small 15\n", &o, BTS_RENDER_SVG, &r), 0);
    ck_assert_mem_eq(fill_of(r.buf, "n=\"1\""), "#ff0000", 7);
    ck_assert_mem_eq(fill_of(r.buf, "n=\"3\""), "#ff6969", 7);
    free(r.buf);
}
END_TEST

START_TEST(test_diff_normalizes_by_total_unless_told_not_to)
{
    struct bts_render_opts o;
    struct out r = {0};
    bts_render_opts_init(&o);
    /* twice the samples, same shape: no change once normalized */
    ck_assert_int_eq(diff_str("m;a 10\nm;b 30\n", "m;a 20\nm;b 60\n", &o, BTS_RENDER_SVG, &r), 0);
    ck_assert_mem_eq(fill_of(r.buf, "n=\"1\""), "#ffffff", 7);
    ck_assert_mem_eq(fill_of(r.buf, "n=\"2\""), "#ffffff", 7);
    free(r.buf);
    r = (struct out){0};
    o.normalize = false;
    ck_assert_int_eq(diff_str("m;a 10\nm;b 30\n", "m;a 20\nm;b 60\n", &o, BTS_RENDER_SVG, &r), 0);
    ck_assert_mem_eq(fill_of(r.buf, "n=\"2\""), "#ff0000", 7);
    free(r.buf);
}
END_TEST

START_TEST(test_two_count_input_is_differential)
{
    struct bts_render_opts o;
    bts_render_opts_init(&o);
    char *s = svg_of("m;up 1 4\nm;down 4 1\n", &o);
    ck_assert_ptr_nonnull(strstr(s, "data-diff=\"1\""));
    ck_assert_mem_eq(fill_of(s, "n=\"3\""), "#ff0000", 7);
    ck_assert_mem_eq(fill_of(s, "n=\"1\""), "#0000ff", 7);
    free(s);
}
END_TEST

START_TEST(test_diff_png_shows_red_and_blue)
{
    struct bts_render_opts o;
    struct out r = {0};
    struct built b;
    const char *both = "m;grow 1 9\nm;shrink 9 1\n";
    bts_render_opts_init(&o);
    build(&b, both, &o);
    ck_assert_int_eq(render_str(both, &o, BTS_RENDER_PNG, &r), 0);
    cairo_surface_t *s = png_of(&r);
    const struct bts_layout_frame *g = frame_named(&b, "grow"), *k = frame_named(&b, "shrink");
    double y = bts_layout_row_y(&b.layout, 2) + 7;
    ck_assert_uint_eq(pixel(s, b.layout.xpad + (g->x + g->w / 2.0) * b.layout.scale, y), 0xff0000);
    ck_assert_uint_eq(pixel(s, b.layout.xpad + (k->x + k->w / 2.0) * b.layout.scale + 3, y),
                      0x0000ff);
    cairo_surface_destroy(s);
    free(r.buf);
    unbuild(&b);
}
END_TEST

Suite *bts_render_suite(void)
{
    Suite *s = suite_create("render");
    TCase *layout = tcase_create("layout");
    tcase_add_test(layout, test_layout_places_children_in_name_order);
    tcase_add_test(layout, test_layout_omits_frames_below_minwidth);
    tcase_add_test(layout, test_layout_inverted_puts_root_on_top);
    tcase_add_test(layout, test_layout_reverse_puts_leaves_at_the_root);
    tcase_add_test(layout, test_labels_are_cut_with_two_dots);
    tcase_add_test(layout, test_options_are_validated);
    suite_add_tcase(s, layout);
    TCase *svg = tcase_create("svg");
    tcase_add_test(svg, test_svg_escapes_markup_in_names_and_titles);
    tcase_add_test(svg, test_svg_replaces_invalid_utf8_and_controls);
    tcase_add_test(svg, test_svg_has_static_rects_and_labels);
    tcase_add_test(svg, test_svg_names_are_front_coded);
    tcase_add_test(svg, test_svg_names_share_tails_with_recent_names);
    tcase_add_test(svg, test_svg_output_is_deterministic);
    tcase_add_test(svg, test_svg_colours_come_from_the_name);
    tcase_add_test(svg, test_empty_input_is_an_error_not_a_graph);
    tcase_add_test(svg, test_write_errors_are_reported);
    suite_add_tcase(s, svg);
    TCase *cairo = tcase_create("cairo");
    tcase_add_test(cairo, test_png_has_frame_colours_at_frame_centres);
    tcase_add_test(cairo, test_pdf_output_is_a_pdf);
    suite_add_tcase(s, cairo);
    TCase *diff = tcase_create("diff");
    tcase_add_test(diff, test_diff_colours_grown_red_and_shrunk_blue);
    tcase_add_test(diff, test_diff_intensity_follows_the_delta);
    tcase_add_test(diff, test_diff_normalizes_by_total_unless_told_not_to);
    tcase_add_test(diff, test_two_count_input_is_differential);
    tcase_add_test(diff, test_diff_png_shows_red_and_blue);
    suite_add_tcase(s, diff);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(bts_render_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
