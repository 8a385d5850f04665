/* SPDX-License-Identifier: MIT */
/* svg: compact, deterministic, script-optional SVG flame graphs. */
#include "svg.h"

#include "svg-script-private.h"
#include "utf8.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Output goes through one buffer: snprintf per attribute would dominate. */
struct obuf {
    FILE *out;
    char *p;
    size_t len;
    int err;
};

#define OBUF_SIZE (1u << 16)
#define OBUF_ROOM 512 /* every single append below fits in this */

static void ob_flush(struct obuf *b)
{
    if (b->len && !b->err && fwrite(b->p, 1, b->len, b->out) != b->len)
        b->err = errno ? -errno : -EIO;
    b->len = 0;
}

static char *ob_room(struct obuf *b, size_t n)
{
    if (b->len + n > OBUF_SIZE)
        ob_flush(b);
    return b->p + b->len;
}

static void ob_mem(struct obuf *b, const char *s, size_t n)
{
    if (n > OBUF_SIZE / 2) {
        ob_flush(b);
        if (!b->err && fwrite(s, 1, n, b->out) != n)
            b->err = errno ? -errno : -EIO;
        return;
    }
    memcpy(ob_room(b, n), s, n);
    b->len += n;
}

static void ob_str(struct obuf *b, const char *s)
{
    ob_mem(b, s, strlen(s));
}

static void ob_u64(struct obuf *b, uint64_t v)
{
    char tmp[24], *e = tmp + sizeof(tmp), *p = e;
    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    ob_mem(b, p, (size_t)(e - p));
}

/* Fixed point with one decimal, trailing ".0" dropped: 12.3, 7, -0.5. */
static void ob_px(struct obuf *b, double v)
{
    long long t = (long long)(v * 10 + (v < 0 ? -0.5 : 0.5));
    if (t < 0) {
        ob_mem(b, "-", 1);
        t = -t;
    }
    ob_u64(b, (uint64_t)(t / 10));
    if (t % 10) {
        char d[2] = {'.', (char)('0' + t % 10)};
        ob_mem(b, d, 2);
    }
}

static void ob_double(struct obuf *b, double v)
{
    char tmp[40];
    int n = snprintf(tmp, sizeof(tmp), "%.10g", v);
    ob_mem(b, tmp, (size_t)n);
}

static void ob_rgb(struct obuf *b, uint32_t rgb)
{
    static const char hex[] = "0123456789abcdef";
    char *p = ob_room(b, 7);
    p[0] = '#';
    for (int i = 0; i < 6; i++)
        p[1 + i] = hex[(rgb >> (20 - 4 * i)) & 0xf];
    b->len += 7;
}

/* Raw bytes as XML-safe UTF-8: invalid sequences and controls become
 * U+FFFD, & < > " ' become entities (so the result is safe in text and in
 * either kind of quoted attribute). */
static void ob_escaped(struct obuf *b, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    while (i < n) {
        /* Copy runs of plain ASCII in one go. */
        size_t j = i;
        while (j < n && p[j] >= 0x20 && p[j] < 0x7f && p[j] != '&' && p[j] != '<' && p[j] != '>' &&
               p[j] != '"' && p[j] != '\'')
            j++;
        if (j > i) {
            ob_mem(b, s + i, j - i);
            i = j;
            continue;
        }
        uint32_t cp;
        size_t k = bts_utf8_next(p + i, n - i, &cp);
        switch (cp) {
        case '&':
            ob_mem(b, "&amp;", 5);
            break;
        case '<':
            ob_mem(b, "&lt;", 4);
            break;
        case '>':
            ob_mem(b, "&gt;", 4);
            break;
        case '"':
            ob_mem(b, "&quot;", 6);
            break;
        case '\'':
            ob_mem(b, "&#39;", 5);
            break;
        default: {
            char *o = ob_room(b, 4);
            b->len += bts_utf8_put(o, cp);
        }
        }
        i += k;
    }
}

static void ob_escaped_str(struct obuf *b, const char *s)
{
    ob_escaped(b, s, strlen(s));
}

/* Font names go into CSS: keep only characters that cannot end the rule. */
static void ob_font(struct obuf *b, const char *s)
{
    size_t n = 0;
    for (; *s && n < 100; s++) {
        char c = *s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == ' ' || c == '-' || c == '_' || c == ',') {
            ob_mem(b, &c, 1);
            n++;
        }
    }
    if (!n)
        ob_str(b, "sans-serif");
}

struct name_ref {
    const char *s;
    size_t len;
};

static int cmp_ref(const void *a, const void *b)
{
    const struct name_ref *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->s, y->s, n);
    if (c)
        return c;
    return (x->len > y->len) - (x->len < y->len);
}

static const char *frame_name(const struct bts_layout *l, const struct bts_layout_frame *f,
                              size_t *len)
{
    if (f->node == BTS_CALLTREE_ROOT) {
        *len = 3;
        return "all";
    }
    return bts_calltree_name(l->tree, f->node, len);
}

/* Indexes of drawn names in byte order, so the output never depends on
 * hash order. Returns name index per frame in *frame_name_idx. */
static int build_names(const struct bts_layout *l, struct name_ref **refs_out, size_t *nrefs,
                       uint32_t **frame_idx)
{
    size_t nn = bts_calltree_name_count(l->tree) + 1; /* +1: "all" */
    uint32_t *slot = malloc(nn * sizeof(*slot));
    struct name_ref *refs = malloc((l->nframes + 1) * sizeof(*refs));
    uint32_t *idx = malloc((l->nframes + 1) * sizeof(*idx));
    size_t n = 0, w = 0;
    int err = -ENOMEM;

    if (!slot || !refs || !idx)
        goto out;
    memset(slot, 0xff, nn * sizeof(*slot));
    for (size_t i = 0; i < l->nframes; i++) {
        const struct bts_layout_frame *f = &l->frames[i];
        size_t id = f->node ? bts_calltree_name_id(l->tree, f->node) : nn - 1;
        if (slot[id] == UINT32_MAX) {
            slot[id] = (uint32_t)n;
            refs[n].s = frame_name(l, f, &refs[n].len);
            n++;
        }
    }
    qsort(refs, n, sizeof(*refs), cmp_ref);
    /* Merge equal strings (a frame literally named "all"). */
    for (size_t i = 0; i < n; i++)
        if (!w || cmp_ref(&refs[w - 1], &refs[i]))
            refs[w++] = refs[i];
    for (size_t i = 0; i < l->nframes; i++) {
        struct name_ref key;
        key.s = frame_name(l, &l->frames[i], &key.len);
        struct name_ref *hit = bsearch(&key, refs, w, sizeof(*refs), cmp_ref);
        idx[i] = (uint32_t)(hit - refs);
    }
    *refs_out = refs;
    *nrefs = w;
    *frame_idx = idx;
    refs = NULL;
    idx = NULL;
    err = 0;
out:
    free(slot);
    free(refs);
    free(idx);
    return err;
}

/* Bytes of s[0..n) once escaped, for ASCII s. */
static size_t escaped_len(const char *s, size_t n)
{
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        switch (s[i]) {
        case '&':
        case '\'':
            len += 5;
            break;
        case '<':
        case '>':
            len += 4;
            break;
        case '"':
            len += 6;
            break;
        default:
            len++;
        }
    return len;
}

static size_t digits(size_t v)
{
    size_t n = 1;
    while (v >= 10) {
        v /= 10;
        n++;
    }
    return n;
}

/* Tail sharing: names of recent lines by a hash of their last TAIL_KEY
 * bytes, the newest first in each bucket. */
#define TAIL_KEY     8
#define TAIL_BUCKETS 4096
#define TAIL_WAYS    16

/* Number of ASCII bytes that a and b (lengths na, nb) end with in common,
 * at most max. ASCII only, so the count is the same in bytes and in JS. */
static size_t common_tail(const char *a, size_t na, const char *b, size_t nb, size_t max)
{
    size_t q = 0;
    while (q < max && q < na && q < nb && a[na - 1 - q] == b[nb - 1 - q] &&
           (unsigned char)a[na - 1 - q] < 0x80)
        q++;
    return q;
}

static uint32_t tail_hash(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = n - TAIL_KEY; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return (h ^ (h >> 16)) % TAIL_BUCKETS;
}

/* Names, sorted, one a line. "P|SUFFIX" is the first P characters of the
 * previous name then SUFFIX (front coding: C++ names share long prefixes);
 * "P,K,Q|MIDDLE" is the first P characters of the previous name, MIDDLE,
 * then the last Q characters of the name K lines up (argument lists repeat).
 * A reference is used only when it is shorter. Only the script reads them. */
static int write_names(struct obuf *b, const struct name_ref *refs, size_t nrefs)
{
    uint32_t *tails = malloc((size_t)TAIL_BUCKETS * TAIL_WAYS * sizeof(*tails));

    if (!tails)
        return -ENOMEM;
    memset(tails, 0xff, (size_t)TAIL_BUCKETS * TAIL_WAYS * sizeof(*tails));
    for (size_t i = 0; i < nrefs; i++) {
        const char *s = refs[i].s;
        size_t n = refs[i].len, p = 0, q = 0, k = 0;
        uint32_t *bucket = NULL;
        if (i > 0) {
            const char *a = refs[i - 1].s;
            size_t m = refs[i - 1].len < n ? refs[i - 1].len : n;
            /* ASCII only, so P counts the same in bytes and in JS. */
            while (p < m && a[p] == s[p] && (unsigned char)a[p] < 0x80)
                p++;
            ob_mem(b, "\n", 1);
        }
        if (n >= TAIL_KEY && common_tail(s, n, s, n, TAIL_KEY) == TAIL_KEY) {
            bucket = tails + (size_t)tail_hash(s, n) * TAIL_WAYS;
            for (size_t w = 0; w < TAIL_WAYS && bucket[w] != UINT32_MAX; w++) {
                const struct name_ref *c = &refs[bucket[w]];
                size_t cq = common_tail(s, n, c->s, c->len, n - p);
                if (cq > q) {
                    q = cq;
                    k = i - bucket[w];
                }
            }
            if (q && escaped_len(s + n - q, q) <= 2 + digits(k) + digits(q))
                q = 0;
        }
        ob_u64(b, p);
        if (q) {
            ob_mem(b, ",", 1);
            ob_u64(b, k);
            ob_mem(b, ",", 1);
            ob_u64(b, q);
        }
        ob_mem(b, "|", 1);
        ob_escaped(b, s + p, n - p - q);
        if (bucket) {
            memmove(bucket + 1, bucket, (TAIL_WAYS - 1) * sizeof(*bucket));
            bucket[0] = (uint32_t)i;
        }
    }
    free(tails);
    return 0;
}

/* Browsers keep SVG geometry in fixed point that saturates near 2^25
 * (Chromium's LayoutUnit), and a byte-weighted graph's counts go far past
 * it: above 2^24, x and width are written in units of `div` counts (a power
 * of two), and the script multiplies back. */
static uint64_t count_divisor(const struct bts_layout *l)
{
    uint64_t div = 1;

    while (l->total / div > (UINT64_C(1) << 24))
        div *= 2;
    return div;
}

static void write_head(struct obuf *b, const struct bts_layout *l)
{
    const struct bts_render_opts *o = l->opts;
    double fs = o->fontsize;

    ob_str(b, "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n"
              "<svg version=\"1.1\" xmlns=\"http://www.w3.org/2000/svg\" width=\"");
    ob_px(b, l->width);
    ob_str(b, "\" height=\"");
    ob_px(b, l->height);
    ob_str(b, "\" viewBox=\"0 0 ");
    ob_px(b, l->width);
    ob_str(b, " ");
    ob_px(b, l->height);
    ob_str(b, "\" data-total=\"");
    ob_u64(b, l->total / count_divisor(l));
    if (count_divisor(l) > 1) {
        ob_str(b, "\" data-div=\"");
        ob_u64(b, count_divisor(l));
    }
    ob_str(b, "\" data-xpad=\"");
    ob_px(b, l->xpad);
    ob_str(b, "\" data-fh=\"");
    ob_px(b, l->frame_height);
    ob_str(b, "\" data-fontsize=\"");
    ob_double(b, fs);
    ob_str(b, "\" data-fontwidth=\"");
    ob_double(b, o->fontwidth);
    ob_str(b, "\" data-countname=\"");
    ob_escaped_str(b, o->countname ? o->countname : "samples");
    ob_str(b, "\" data-nametype=\"");
    ob_escaped_str(b, o->nametype ? o->nametype : "Function:");
    if (l->compare) {
        /* What the compare script needs to turn counts into values. */
        ob_str(b, "\" data-diff=\"1\" data-cmp=\"");
        ob_double(b, l->compare->scale[0]);
        ob_str(b, " ");
        ob_double(b, l->compare->scale[1]);
        ob_str(b, " ");
        ob_u64(b, bts_calltree_total(l->tree, BTS_CALLTREE_ROOT, 0));
        ob_str(b, " ");
        ob_u64(b, bts_calltree_total(l->tree, BTS_CALLTREE_ROOT, 1));
        ob_str(b, " ");
        ob_double(b, 100 * l->compare->confidence);
        ob_str(b, "\" data-unit=\"");
        ob_escaped_str(b, l->compare->unit ? l->compare->unit : "%");
        ob_str(b, "\">\n");
    } else {
        ob_str(b, l->differential ? "\" data-diff=\"1\">\n" : "\" data-diff=\"0\">\n");
    }
    if (o->notes && *o->notes) {
        ob_str(b, "<desc>");
        ob_escaped_str(b, o->notes);
        ob_str(b, "</desc>\n");
    }
    ob_str(b, "<defs><linearGradient id=\"bg\" x1=\"0\" y1=\"0\" x2=\"0\" y2=\"1\">"
              "<stop stop-color=\"");
    ob_rgb(b, l->bg_top);
    ob_str(b, "\" offset=\"5%\"/><stop stop-color=\"");
    ob_rgb(b, l->bg_bottom);
    ob_str(b, "\" offset=\"95%\"/></linearGradient><clipPath id=\"clip\"><rect x=\"");
    ob_px(b, l->xpad);
    ob_str(b, "\" y=\"0\" width=\"");
    ob_px(b, l->width - 2 * l->xpad);
    ob_str(b, "\" height=\"");
    ob_px(b, l->height);
    ob_str(b, "\"/></clipPath></defs>\n<style>text{font-family:");
    ob_font(b, o->fonttype ? o->fonttype : "Verdana");
    ob_str(b, ",sans-serif;font-size:");
    ob_double(b, fs);
    ob_str(b, "px;fill:#000}#labels text{pointer-events:none}#rows rect{cursor:pointer}"
              "#rows rect:hover{stroke:#000;stroke-width:.5;vector-effect:non-scaling-stroke}"
              ".hide{display:none}.parent{opacity:.5}.ui{cursor:pointer}"
              "#title{font-size:");
    ob_double(b, fs + 5);
    ob_str(b, "px}#notes{font-size:");
    ob_double(b, fs * 0.85);
    ob_str(b, "px;fill:#555}#subtitle{fill:#a0a0a0}</style>\n"
              "<rect width=\"100%\" height=\"100%\" fill=\"url(#bg)\"/>\n<text id=\"title\" x=\"");
    ob_px(b, l->width / 2);
    ob_str(b, "\" y=\"");
    ob_px(b, l->title_y);
    ob_str(b, "\" text-anchor=\"middle\">");
    ob_escaped_str(b, l->title);
    ob_str(b, "</text>\n");
    if (o->subtitle && *o->subtitle) {
        ob_str(b, "<text id=\"subtitle\" x=\"");
        ob_px(b, l->width / 2);
        ob_str(b, "\" y=\"");
        ob_px(b, l->subtitle_y);
        ob_str(b, "\" text-anchor=\"middle\">");
        ob_escaped_str(b, o->subtitle);
        ob_str(b, "</text>\n");
    }
    if (o->notes && *o->notes) {
        ob_str(b, "<text id=\"notes\" x=\"");
        ob_px(b, l->xpad);
        ob_str(b, "\" y=\"");
        ob_px(b, l->notes_y);
        ob_str(b, "\">");
        ob_escaped_str(b, o->notes);
        ob_str(b, "</text>\n");
    }
    ob_str(b, "<text id=\"details\" x=\"");
    ob_px(b, l->xpad);
    ob_str(b, "\" y=\"");
    ob_px(b, l->details_y);
    ob_str(b, "\"> </text>\n<text id=\"unzoom\" class=\"ui hide\" x=\"");
    ob_px(b, l->xpad);
    ob_str(b, "\" y=\"");
    ob_px(b, l->title_y);
    ob_str(b, "\">Reset Zoom</text>\n<text id=\"search\" class=\"ui\" x=\"");
    ob_px(b, l->width - l->xpad);
    ob_str(b, "\" y=\"");
    ob_px(b, l->title_y);
    ob_str(b, "\" text-anchor=\"end\">Search</text>\n<text id=\"matched\" x=\"");
    ob_px(b, l->width - l->xpad);
    ob_str(b, "\" y=\"");
    ob_px(b, l->details_y);
    ob_str(b, "\" text-anchor=\"end\"> </text>\n");
}

static void ob_text(struct obuf *b, double x, double y, const char *anchor, const char *attrs,
                    const char *text)
{
    ob_str(b, "<text x=\"");
    ob_px(b, x);
    ob_str(b, "\" y=\"");
    ob_px(b, y);
    if (anchor) {
        ob_str(b, "\" text-anchor=\"");
        ob_str(b, anchor);
    }
    ob_str(b, "\"");
    ob_str(b, attrs);
    ob_str(b, ">");
    ob_escaped_str(b, text);
    ob_str(b, "</text>\n");
}

/* The memory chart: frame, jumps, the RSS line, the peak and the labels. */
static int write_chart(struct obuf *b, const struct bts_layout *l)
{
    struct bts_chart c;
    int err = bts_chart_build(&c, l);

    if (err || !c.npts) {
        bts_chart_free(&c);
        return err;
    }
    ob_str(b, "<g id=\"memory\">\n<rect x=\"");
    ob_px(b, c.x0);
    ob_str(b, "\" y=\"");
    ob_px(b, c.y0);
    ob_str(b, "\" width=\"");
    ob_px(b, c.x1 - c.x0);
    ob_str(b, "\" height=\"");
    ob_px(b, c.y1 - c.y0);
    ob_str(b, "\" fill=\"#fff\" fill-opacity=\".7\" stroke=\"#999\" stroke-width=\".5\"/>\n");
    for (size_t i = 0; i < c.njumps; i++) {
        ob_str(b, "<rect class=\"jump\" x=\"");
        ob_px(b, c.jumps[i].x);
        ob_str(b, "\" y=\"");
        ob_px(b, c.y0);
        ob_str(b, "\" width=\"");
        ob_px(b, c.jumps[i].w);
        ob_str(b, "\" height=\"");
        ob_px(b, c.y1 - c.y0);
        ob_str(b, "\" fill=\"#f08080\" fill-opacity=\".35\"/>\n");
        ob_text(b, c.jumps[i].x + c.jumps[i].w / 2, c.y1 - 3, "middle",
                " class=\"jump-label\" style=\"fill:#a00\"", c.jumps[i].label);
    }
    ob_str(b, "<polyline id=\"rss\" fill=\"none\" stroke=\"#1f4e9e\" stroke-width=\"1.5\" "
              "points=\"");
    for (size_t i = 0; i < c.npts; i++) {
        if (i)
            ob_str(b, " ");
        ob_px(b, c.pts[2 * i]);
        ob_str(b, ",");
        ob_px(b, c.pts[2 * i + 1]);
    }
    ob_str(b, "\"/>\n<circle id=\"peak\" cx=\"");
    ob_px(b, c.peak_x);
    ob_str(b, "\" cy=\"");
    ob_px(b, c.peak_y);
    ob_str(b, "\" r=\"3.5\" fill=\"#c00\"/>\n");
    ob_text(b, c.peak_x + (c.peak_anchor_end ? -6 : 6), c.peak_y + 4,
            c.peak_anchor_end ? "end" : "start", " id=\"peak-label\" style=\"fill:#c00\"",
            c.peak_label);
    ob_text(b, c.x0, c.caption_y, NULL, " id=\"memory-caption\" style=\"fill:#333\"", c.caption);
    ob_text(b, c.x0, c.axis_y, NULL, " style=\"fill:#555\"", c.t0_label);
    ob_text(b, c.x1, c.axis_y, "end", " style=\"fill:#555\"", c.t1_label);
    ob_str(b, "</g>\n");
    bts_chart_free(&c);
    return 0;
}

int bts_svg_write(const struct bts_layout *l, FILE *out)
{
    struct obuf b = {out, NULL, 0, 0};
    struct name_ref *refs = NULL;
    uint32_t *name_idx = NULL, *order = NULL, *row_start = NULL;
    uint32_t rows = l->max_depth + 1, *fill = NULL;
    uint64_t div = count_divisor(l);
    size_t nrefs = 0;
    int err;

    b.p = malloc(OBUF_SIZE + OBUF_ROOM);
    order = malloc((l->nframes + 1) * sizeof(*order));
    row_start = calloc(rows + 1, sizeof(*row_start));
    fill = malloc((rows + 1) * sizeof(*fill));
    err = -ENOMEM;
    if (!b.p || !order || !row_start || !fill)
        goto out;
    err = build_names(l, &refs, &nrefs, &name_idx);
    if (err)
        goto out;
    {
        /* Frames by row (stable: depth-first order is x order in a row). */
        for (size_t i = 0; i < l->nframes; i++)
            row_start[l->frames[i].depth + 1]++;
        for (uint32_t d = 0; d < rows; d++)
            row_start[d + 1] += row_start[d];
        memcpy(fill, row_start, (rows + 1) * sizeof(*fill));
        for (size_t i = 0; i < l->nframes; i++)
            order[fill[l->frames[i].depth]++] = (uint32_t)i;

        write_head(&b, l);
        err = write_chart(&b, l);
        if (err)
            goto out;

        /* Rects: x and width in counts under a per-row scale, so widths are
         * exact and the script reads counts straight from the attributes. */
        ob_str(&b, "<g id=\"rows\" clip-path=\"url(#clip)\">\n");
        for (uint32_t d = 0; d < rows; d++) {
            double y = bts_layout_row_y(l, d);
            ob_str(&b, "<g data-d=\"");
            ob_u64(&b, d);
            ob_str(&b, "\" data-y=\"");
            ob_px(&b, y);
            ob_str(&b, "\" transform=\"translate(");
            ob_px(&b, l->xpad);
            ob_str(&b, ",");
            ob_px(&b, y);
            ob_str(&b, ") scale(");
            ob_double(&b, l->scale * (double)div);
            ob_str(&b, ",1)\">\n");
            for (uint32_t k = row_start[d]; k < row_start[d + 1]; k++) {
                const struct bts_layout_frame *f = &l->frames[order[k]];
                ob_str(&b, "<rect x=\"");
                /* Rounded at both edges, so neighbours still touch. */
                ob_u64(&b, f->x / div);
                ob_str(&b, "\" width=\"");
                ob_u64(&b, (f->x + f->w) / div - f->x / div);
                ob_str(&b, "\" height=\"");
                ob_px(&b, l->frame_height - 1);
                ob_str(&b, "\" n=\"");
                ob_u64(&b, name_idx[order[k]]);
                if (l->differential) {
                    ob_str(&b, "\" b=\"");
                    ob_u64(&b, bts_calltree_total(l->tree, f->node, 0));
                }
                if (l->compare) {
                    ob_str(&b, "\" a=\"");
                    ob_u64(&b, bts_calltree_total(l->tree, f->node, 1));
                    if (!l->compare->significant || l->compare->significant[f->node])
                        ob_str(&b, "\" s=\"1");
                }
                ob_str(&b, "\" fill=\"");
                ob_rgb(&b, f->rgb);
                ob_str(&b, "\"/>\n");
            }
            ob_str(&b, "</g>\n");
        }
        ob_str(&b, "</g>\n<g id=\"labels\">\n");
        for (uint32_t d = 0; d < rows; d++) {
            bool open = false;
            for (uint32_t k = row_start[d]; k < row_start[d + 1]; k++) {
                const struct bts_layout_frame *f = &l->frames[order[k]];
                double px = l->xpad + f->x * l->scale, pw = f->w * l->scale;
                size_t nlen, show;
                bool dots;
                const char *name = frame_name(l, f, &nlen);
                if (!bts_layout_label_fit(l->opts, name, nlen, pw, &show, &dots))
                    continue;
                if (!open) {
                    ob_str(&b, "<g data-d=\"");
                    ob_u64(&b, d);
                    ob_str(&b, "\" transform=\"translate(0,");
                    ob_px(&b, bts_layout_label_y(l, d));
                    ob_str(&b, ")\">\n");
                    open = true;
                }
                ob_str(&b, "<text x=\"");
                ob_px(&b, px + 3);
                ob_str(&b, "\">");
                ob_escaped(&b, name, show);
                if (dots)
                    ob_mem(&b, "..", 2);
                ob_str(&b, "</text>\n");
            }
            if (open)
                ob_str(&b, "</g>\n");
        }
        ob_str(&b, "</g>\n<defs><text id=\"names\">");
        err = write_names(&b, refs, nrefs);
        if (err)
            goto out;
        ob_str(&b, "</text>");
        ob_str(&b, "</defs>\n<script type=\"text/ecmascript\"><![CDATA[\n");
        ob_str(&b, svg_script);
        ob_str(&b, "]]></script>\n");
        if (l->compare) {
            ob_str(&b, "<script type=\"text/ecmascript\"><![CDATA[\n");
            ob_str(&b, svg_compare_script);
            ob_str(&b, "]]></script>\n");
        }
        ob_str(&b, "</svg>\n");
    }
    ob_flush(&b);
    err = b.err;
    if (!err && fflush(out))
        err = errno ? -errno : -EIO;
    if (!err && ferror(out))
        err = -EIO;
out:
    free(b.p);
    free(refs);
    free(name_idx);
    free(order);
    free(row_start);
    free(fill);
    return err;
}
