/* SPDX-License-Identifier: MIT */
/* layout: options, palettes, frame positions and label fitting. */
#include "render-private.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const palette_names[] = {
    [BTS_PALETTE_HOT] = "hot",       [BTS_PALETTE_MEM] = "mem",
    [BTS_PALETTE_IO] = "io",         [BTS_PALETTE_WAKEUP] = "wakeup",
    [BTS_PALETTE_CHAIN] = "chain",   [BTS_PALETTE_JAVA] = "java",
    [BTS_PALETTE_JS] = "js",         [BTS_PALETTE_PERL] = "perl",
    [BTS_PALETTE_RED] = "red",       [BTS_PALETTE_GREEN] = "green",
    [BTS_PALETTE_BLUE] = "blue",     [BTS_PALETTE_AQUA] = "aqua",
    [BTS_PALETTE_YELLOW] = "yellow", [BTS_PALETTE_PURPLE] = "purple",
    [BTS_PALETTE_ORANGE] = "orange", [BTS_PALETTE_KIND] = "kind",
};

void bts_render_opts_init(struct bts_render_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->width = 1200;
    o->frame_height = 16;
    o->minwidth = 0.1;
    o->fonttype = "Verdana";
    o->fontsize = 12;
    o->fontwidth = 0.59;
    o->countname = "samples";
    o->nametype = "Function:";
    o->palette = BTS_PALETTE_HOT;
    o->normalize = true;
}

int bts_render_palette_parse(const char *name, enum bts_render_palette *out)
{
    if (!strcmp(name, "module")) {
        *out = BTS_PALETTE_KIND;
        return 0;
    }
    for (size_t i = 0; i < sizeof(palette_names) / sizeof(palette_names[0]); i++) {
        if (!strcmp(name, palette_names[i])) {
            *out = (enum bts_render_palette)i;
            return 0;
        }
    }
    return -EINVAL;
}

const char *bts_render_palette_names(void)
{
    return "hot, mem, io, wakeup, chain, java, js, perl, red, green, blue, aqua, yellow, purple, "
           "orange, kind (or module)";
}

static int parse_hex_color(const char *s, uint32_t *rgb)
{
    uint32_t v = 0;

    if (s[0] != '#' || strlen(s) != 7)
        return -EINVAL;
    for (int i = 1; i < 7; i++) {
        char c = s[i];
        unsigned d;
        if (c >= '0' && c <= '9')
            d = (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            d = (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            d = (unsigned)(c - 'A' + 10);
        else
            return -EINVAL;
        v = v << 4 | d;
    }
    *rgb = v;
    return 0;
}

/* Background gradient, top and bottom colours. */
static int bg_colors(const char *name, enum bts_render_palette pal, uint32_t *top, uint32_t *bot)
{
    if (!name || !*name) {
        /* flamegraph.pl: blue for the cool palettes, yellow otherwise. */
        bool cool = pal == BTS_PALETTE_MEM || pal == BTS_PALETTE_IO || pal == BTS_PALETTE_WAKEUP ||
                    pal == BTS_PALETTE_CHAIN;
        name = cool ? "blue" : "yellow";
    }
    if (!strcmp(name, "yellow")) {
        *top = 0xeeeeee;
        *bot = 0xeeeeb0;
    } else if (!strcmp(name, "blue")) {
        *top = 0xeeeeee;
        *bot = 0xe0e0ff;
    } else if (!strcmp(name, "green")) {
        *top = 0xeef2ee;
        *bot = 0xe0ffe0;
    } else if (!strcmp(name, "grey") || !strcmp(name, "gray")) {
        *top = 0xf8f8f8;
        *bot = 0xe8e8e8;
    } else if (parse_hex_color(name, top) == 0) {
        *bot = *top;
    } else {
        return -EINVAL;
    }
    return 0;
}

int bts_render_bgcolors_check(const char *value)
{
    uint32_t a, b;
    return bg_colors(value, BTS_PALETTE_HOT, &a, &b);
}

int bts_render_format_parse(const char *s, bool by_extension, enum bts_render_format *out)
{
    static const struct {
        const char *name;
        enum bts_render_format fmt;
    } formats[] = {{"svg", BTS_RENDER_SVG}, {"png", BTS_RENDER_PNG}, {"pdf", BTS_RENDER_PDF}};

    if (by_extension) {
        const char *dot = strrchr(s, '.');
        const char *slash = strrchr(s, '/');
        if (!dot || (slash && slash > dot))
            return -EINVAL;
        s = dot + 1;
    }
    for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
        if (!strcasecmp(s, formats[i].name)) {
            *out = formats[i].fmt;
            return 0;
        }
    }
    return -EINVAL;
}

/* ---- colours ---- */

static uint32_t rgb(unsigned r, unsigned g, unsigned b)
{
    return (uint32_t)(r << 16 | g << 8 | b);
}

static bool ends_with(const char *s, size_t n, const char *suffix)
{
    size_t k = strlen(suffix);
    return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

static bool starts_with(const char *s, size_t n, const char *prefix)
{
    size_t k = strlen(prefix);
    return n >= k && memcmp(s, prefix, k) == 0;
}

static bool contains(const char *s, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(s + i, needle, k) == 0)
            return true;
    return false;
}

/* The hue families flamegraph.pl's multi palettes fall through to. */
enum family { FAM_RED, FAM_GREEN, FAM_BLUE, FAM_YELLOW, FAM_PURPLE, FAM_AQUA, FAM_ORANGE };

static uint32_t family_color(enum family f, double v1)
{
    switch (f) {
    case FAM_RED:
        return rgb(200 + (unsigned)(55 * v1), 50 + (unsigned)(80 * v1), 50 + (unsigned)(80 * v1));
    case FAM_GREEN:
        return rgb(50 + (unsigned)(60 * v1), 200 + (unsigned)(55 * v1), 50 + (unsigned)(60 * v1));
    case FAM_BLUE:
        return rgb(80 + (unsigned)(60 * v1), 80 + (unsigned)(60 * v1), 205 + (unsigned)(50 * v1));
    case FAM_YELLOW:
        return rgb(175 + (unsigned)(55 * v1), 175 + (unsigned)(55 * v1), 50 + (unsigned)(20 * v1));
    case FAM_PURPLE:
        return rgb(190 + (unsigned)(65 * v1), 80 + (unsigned)(60 * v1), 190 + (unsigned)(65 * v1));
    case FAM_AQUA:
        return rgb(50 + (unsigned)(60 * v1), 165 + (unsigned)(55 * v1), 165 + (unsigned)(55 * v1));
    case FAM_ORANGE:
        return rgb(190 + (unsigned)(65 * v1), 90 + (unsigned)(65 * v1), 0);
    }
    return 0;
}

static bool is_kernel(const char *s, size_t n)
{
    return ends_with(s, n, "_[k]") || ends_with(s, n, "[k]");
}

static bool is_jit(const char *s, size_t n)
{
    return ends_with(s, n, "_[j]") || ends_with(s, n, "[j]");
}

/* Our "kind" palette: what a frame is decides the hue. */
static uint32_t kind_color(const char *s, size_t n, double v1, double v2, double v3)
{
    if (is_kernel(s, n))
        return family_color(FAM_ORANGE, v1);
    if (is_jit(s, n))
        return family_color(FAM_GREEN, v1);
    if (ends_with(s, n, "_[i]"))
        return family_color(FAM_AQUA, v1);
    if (starts_with(s, n, "[unknown]") || contains(s, n, "+0x"))
        return rgb(170 + (unsigned)(40 * v1), 170 + (unsigned)(40 * v1), 170 + (unsigned)(40 * v1));
    if (starts_with(s, n, "std::") || starts_with(s, n, "__") || starts_with(s, n, "_dl_") ||
        starts_with(s, n, "__gnu_cxx::") || contains(s, n, ".so") || contains(s, n, "libc") ||
        contains(s, n, "libstdc++") || contains(s, n, "ld-linux") || contains(s, n, "[lib") ||
        starts_with(s, n, "pthread_") || starts_with(s, n, "malloc") || starts_with(s, n, "free") ||
        starts_with(s, n, "mem") || starts_with(s, n, "str"))
        return family_color(FAM_BLUE, v1);
    /* Our code: flamegraph.pl's hot. */
    return rgb(205 + (unsigned)(50 * v3), (unsigned)(230 * v1), (unsigned)(55 * v2));
}

static uint32_t frame_color(enum bts_render_palette pal, const char *s, size_t n)
{
    /* FNV-1a: colours are a function of the name alone, so the same
     * function has the same colour in every graph. */
    uint64_t h = 0xcbf29ce484222325ull;
    double v1, v2, v3;
    enum family fam;

    if (n == 2 && !memcmp(s, "--", 2))
        return 0xa0a0a0;
    if (n == 1 && s[0] == '-')
        return 0xc8c8c8;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
    h ^= h >> 29;
    v1 = (double)(h & 0xffff) / 65536.0;
    v2 = (double)((h >> 16) & 0xffff) / 65536.0;
    v3 = (double)((h >> 32) & 0xffff) / 65536.0;

    switch (pal) {
    case BTS_PALETTE_HOT:
        return rgb(205 + (unsigned)(50 * v3), (unsigned)(230 * v1), (unsigned)(55 * v2));
    case BTS_PALETTE_MEM:
        return rgb(0, 190 + (unsigned)(50 * v2), (unsigned)(210 * v1));
    case BTS_PALETTE_IO: {
        unsigned r = 80 + (unsigned)(60 * v1);
        return rgb(r, r, 190 + (unsigned)(55 * v2));
    }
    case BTS_PALETTE_KIND:
        return kind_color(s, n, v1, v2, v3);
    case BTS_PALETTE_WAKEUP:
        fam = FAM_AQUA;
        break;
    case BTS_PALETTE_CHAIN:
        fam = contains(s, n, "_[w]") ? FAM_AQUA : FAM_BLUE;
        break;
    case BTS_PALETTE_JAVA:
        if (ends_with(s, n, "_[j]"))
            fam = FAM_GREEN;
        else if (ends_with(s, n, "_[i]"))
            fam = FAM_AQUA;
        else if (starts_with(s, n, "java/") || starts_with(s, n, "javax/") ||
                 starts_with(s, n, "jdk/") || starts_with(s, n, "org/") ||
                 starts_with(s, n, "com/") || starts_with(s, n, "io/") ||
                 starts_with(s, n, "sun/") || starts_with(s, n, "net/") || contains(s, n, ":::"))
            fam = FAM_GREEN;
        else if (contains(s, n, "::"))
            fam = FAM_YELLOW;
        else if (ends_with(s, n, "_[k]"))
            fam = FAM_ORANGE;
        else
            fam = FAM_RED;
        break;
    case BTS_PALETTE_JS:
        if (ends_with(s, n, "_[j]"))
            fam = memchr(s, '/', n) ? FAM_GREEN : FAM_AQUA;
        else if (contains(s, n, "::"))
            fam = FAM_YELLOW;
        else if (memchr(s, '/', n) && contains(s, n, ".js"))
            fam = FAM_GREEN;
        else if (memchr(s, ':', n))
            fam = FAM_AQUA;
        else if (n == 1 && s[0] == ' ')
            fam = FAM_GREEN;
        else if (contains(s, n, "_[k]"))
            fam = FAM_ORANGE;
        else
            fam = FAM_RED;
        break;
    case BTS_PALETTE_PERL:
        if (contains(s, n, "::"))
            fam = FAM_YELLOW;
        else if (contains(s, n, "Perl") || contains(s, n, ".pl"))
            fam = FAM_GREEN;
        else if (ends_with(s, n, "_[k]"))
            fam = FAM_ORANGE;
        else
            fam = FAM_RED;
        break;
    case BTS_PALETTE_RED:
        fam = FAM_RED;
        break;
    case BTS_PALETTE_GREEN:
        fam = FAM_GREEN;
        break;
    case BTS_PALETTE_BLUE:
        fam = FAM_BLUE;
        break;
    case BTS_PALETTE_AQUA:
        fam = FAM_AQUA;
        break;
    case BTS_PALETTE_YELLOW:
        fam = FAM_YELLOW;
        break;
    case BTS_PALETTE_PURPLE:
        fam = FAM_PURPLE;
        break;
    case BTS_PALETTE_ORANGE:
    default:
        fam = FAM_ORANGE;
        break;
    }
    return family_color(fam, v1);
}

/* flamegraph.pl's color_scale: white at 0, full red/blue at +-max. */
static uint32_t delta_color(double delta, double maxdelta, bool negate)
{
    unsigned r = 255, g = 255, b = 255;

    if (negate)
        delta = -delta;
    if (maxdelta > 0 && delta > 0) {
        g = b = (unsigned)(210 * (maxdelta - delta) / maxdelta);
    } else if (maxdelta > 0 && delta < 0) {
        r = g = (unsigned)(210 * (maxdelta + delta) / maxdelta);
    }
    return rgb(r, g, b);
}

/* bt-spy diff's scale: white at no change, red (grew) or blue (shrank)
 * deepening with the change; a change that is not significant stays pale
 * whatever its size, so noise does not shout. */
static uint32_t compare_color(double delta, double maxdelta, bool significant, bool negate)
{
    double ratio = maxdelta > 0 ? fabs(delta) / maxdelta : 0, k;
    unsigned fade;

    if (ratio > 1)
        ratio = 1;
    if (delta == 0)
        return rgb(255, 255, 255);
    k = significant ? 0.35 + 0.65 * ratio : 0.15 * ratio;
    fade = 255 - (unsigned)(225 * k + 0.5);
    if ((delta > 0) != negate)
        return rgb(255, fade, fade);
    return rgb(fade, fade, 255);
}

/* A node's value on one side (see struct bts_render_compare). */
static double compare_value(const struct layout *l, bts_calltree_node n, unsigned side)
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
static int larger_widths(struct layout *l)
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

static uint64_t node_width(const struct layout *l, bts_calltree_node n)
{
    return l->widths ? l->widths[n] : bts_calltree_total(l->tree, n, l->column);
}

/* ---- labels ---- */

bool label_fit(const struct bts_render_opts *o, const char *name, size_t name_len, double px,
               size_t *len, bool *dots)
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

void layout_free(struct layout *l)
{
    if (!l)
        return;
    free(l->frames);
    l->frames = NULL;
    free(l->widths);
    l->widths = NULL;
}

double layout_row_y(const struct layout *l, uint32_t depth)
{
    if (l->opts->inverted)
        return l->top + depth * l->frame_height;
    return l->height - (l->fontsize * 2 + 10) - (depth + 1) * l->frame_height + 1;
}

double layout_label_y(const struct layout *l, uint32_t depth)
{
    return layout_row_y(l, depth) + 3 + (l->frame_height - 1) / 2;
}

static int push_frame(struct layout *l, size_t *alloc, const struct layout_frame *f)
{
    if (l->nframes == *alloc) {
        size_t n = *alloc ? *alloc * 2 : 1024;
        struct layout_frame *nf = realloc(l->frames, n * sizeof(*nf));
        if (!nf)
            return -ENOMEM;
        l->frames = nf;
        *alloc = n;
    }
    l->frames[l->nframes++] = *f;
    return 0;
}

int layout_build(struct layout *l, const struct bts_calltree *t, const struct bts_render_opts *o)
{
    size_t alloc = 0, sp = 0, stack_alloc = 256;
    struct {
        bts_calltree_node node;
        uint64_t x;
    } *stack = NULL;
    double minw_counts, maxdelta = 0, norm = 1;
    uint64_t tree_total;
    int err = -ENOMEM;

    memset(l, 0, sizeof(*l));
    l->tree = t;
    l->opts = o;
    l->differential = bts_calltree_is_differential(t);
    l->column = l->differential ? 1 : 0;
    l->compare = l->differential ? o->compare : NULL;
    tree_total = bts_calltree_total(t, BTS_CALLTREE_ROOT, l->column);
    if (tree_total == 0)
        return -ENODATA;
    if (l->compare && l->compare->widths == BTS_RENDER_WIDTHS_LARGER) {
        err = larger_widths(l);
        if (err)
            goto out;
        err = -ENOMEM;
        tree_total = l->widths[BTS_CALLTREE_ROOT];
        if (tree_total == 0) {
            err = -ENODATA;
            goto out;
        }
    }
    l->total = o->total > tree_total && !l->compare ? o->total : tree_total;
    l->xpad = 10;
    l->width = o->width;
    l->frame_height = o->frame_height;
    l->fontsize = o->fontsize;
    l->scale = (l->width - 2 * l->xpad) / (double)l->total;
    if (l->scale <= 0) {
        err = -EINVAL;
        goto out;
    }
    minw_counts = o->minwidth_percent ? l->total * o->minwidth / 100.0 : o->minwidth / l->scale;

    if (l->differential && o->normalize) {
        uint64_t before = bts_calltree_total(t, BTS_CALLTREE_ROOT, 0);
        norm = before ? (double)tree_total / (double)before : 1;
    }

    stack = malloc(stack_alloc * sizeof(*stack));
    if (!stack)
        goto out;
    stack[sp].node = BTS_CALLTREE_ROOT;
    stack[sp].x = 0;
    sp++;
    while (sp > 0) {
        struct layout_frame f;
        const bts_calltree_node *kids;
        size_t nkids;
        uint64_t cx;

        sp--;
        f.node = stack[sp].node;
        f.x = stack[sp].x;
        f.depth = bts_calltree_depth(t, f.node);
        f.w = node_width(l, f.node);
        f.rgb = 0;
        err = push_frame(l, &alloc, &f);
        if (err)
            goto out;
        err = -ENOMEM;
        if (f.depth > l->max_depth)
            l->max_depth = f.depth;
        /* Push children right to left so they pop in name order. */
        nkids = bts_calltree_children(t, f.node, &kids);
        /* Children start at the parent's left edge; self time is on the
         * right (as flamegraph.pl draws it). */
        cx = f.x;
        for (size_t i = 0; i < nkids; i++)
            cx += node_width(l, kids[i]);
        for (size_t i = nkids; i-- > 0;) {
            uint64_t w = node_width(l, kids[i]);
            cx -= w;
            if ((double)w < minw_counts || w == 0)
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

    /* maxdelta spans every node, drawn or not, as flamegraph.pl's does;
     * with statistics, every node but the root (in time, its change is
     * the difference of the durations and would pale the rest). */
    if (l->compare) {
        size_t n = bts_calltree_node_count(t);
        for (size_t i = 1; i < n; i++) {
            double d = compare_value(l, (bts_calltree_node)i, 1) -
                       compare_value(l, (bts_calltree_node)i, 0);
            if (fabs(d) > maxdelta)
                maxdelta = fabs(d);
        }
    } else if (l->differential) {
        size_t n = bts_calltree_node_count(t);
        for (size_t i = 0; i < n; i++) {
            double d = (double)bts_calltree_self(t, (bts_calltree_node)i, 1) -
                       (double)bts_calltree_self(t, (bts_calltree_node)i, 0) * norm;
            if (fabs(d) > maxdelta)
                maxdelta = fabs(d);
        }
    }
    for (size_t i = 0; i < l->nframes; i++) {
        struct layout_frame *f = &l->frames[i];
        size_t len;
        const char *name = f->node ? bts_calltree_name(t, f->node, &len) : "all";
        if (!f->node)
            len = 3;
        if (l->compare) {
            double d = compare_value(l, f->node, 1) - compare_value(l, f->node, 0);
            bool sig = !l->compare->significant || l->compare->significant[f->node];
            f->rgb = compare_color(d, maxdelta, sig, o->negate);
        } else if (l->differential) {
            double d = (double)bts_calltree_self(t, f->node, 1) -
                       (double)bts_calltree_self(t, f->node, 0) * norm;
            f->rgb = delta_color(d, maxdelta, o->negate);
        } else {
            f->rgb = frame_color(o->palette, name, len);
        }
    }

    /* Geometry (flamegraph.pl): title band, optional subtitle and notes,
     * frames, then the details line. */
    {
        double fs = o->fontsize;
        double ypad1 = fs * 3, ypad2 = fs * 2 + 10;
        if (o->subtitle && *o->subtitle)
            ypad1 += fs * 2;
        if (o->notes && *o->notes)
            ypad1 += fs * 1.5;
        l->title_y = fs * 2;
        l->subtitle_y = fs * 4;
        l->notes_y = (o->subtitle && *o->subtitle) ? fs * 5.5 : fs * 3.5;
        l->chart_h = chart_height(o);
        if (l->chart_h) {
            l->chart_y = ypad1;
            ypad1 += l->chart_h + fs * 0.5;
        }
        l->top = ypad1;
        l->height = (l->max_depth + 1) * l->frame_height + ypad1 + ypad2;
        l->details_y = l->height - fs / 2 - 5;
    }
    if (o->title && *o->title)
        l->title = o->title;
    else if (l->differential)
        l->title = "Differential Flame Graph";
    else if (o->inverted)
        l->title = "Icicle Graph";
    else
        l->title = "Flame Graph";
    if (bg_colors(o->bgcolors, o->palette, &l->bg_top, &l->bg_bottom)) {
        err = -EINVAL;
        goto out;
    }
    err = 0;
out:
    free(stack);
    if (err)
        layout_free(l);
    return err;
}

static int parse_number(const char *s, double min, double max, double *out)
{
    char *end;
    double v;

    if (!s || !*s || !((*s >= '0' && *s <= '9') || *s == '.'))
        return -EINVAL;
    errno = 0;
    v = strtod(s, &end);
    if (errno || *end || !isfinite(v) || v < min || v > max)
        return -EINVAL;
    *out = v;
    return 0;
}

static int parse_uint(const char *s, unsigned long long max, unsigned long long *out)
{
    char *end;
    unsigned long long v;

    if (!s || !(*s >= '0' && *s <= '9'))
        return -EINVAL;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || *end || v > max)
        return -EINVAL;
    *out = v;
    return 0;
}

int bts_render_opts_set(struct bts_render_opts *o, const char *name, const char *value,
                        const char **expected)
{
    static const struct {
        const char *name, *why;
    } unsupported[] = {
        {"random", "colours are always derived from a hash of the name"},
        {"cp", "no palette.map: colours are already consistent across graphs"},
        {"nameattr", "per-function attributes are not supported"},
        {"flamechart", "flame charts are not supported; stacks are always merged"},
        {"factor", "counts are integers; scale them before rendering"},
        {"encoding", "output is always UTF-8"},
    };
    unsigned long long u;
    double d;

    *expected = NULL;
    if (!strcmp(name, "title"))
        o->title = value;
    else if (!strcmp(name, "subtitle"))
        o->subtitle = value;
    else if (!strcmp(name, "notes"))
        o->notes = value;
    else if (!strcmp(name, "countname"))
        o->countname = value;
    else if (!strcmp(name, "nametype"))
        o->nametype = value;
    else if (!strcmp(name, "fonttype"))
        o->fonttype = value;
    else if (!strcmp(name, "width")) {
        *expected = "100..100000";
        if (parse_uint(value, 100000, &u) || u < 100)
            return -EINVAL;
        o->width = (unsigned)u;
    } else if (!strcmp(name, "height")) {
        *expected = "2..1000";
        if (parse_uint(value, 1000, &u) || u < 2)
            return -EINVAL;
        o->frame_height = (unsigned)u;
    } else if (!strcmp(name, "fontsize")) {
        *expected = "1..200";
        if (parse_number(value, 1, 200, &d))
            return -EINVAL;
        o->fontsize = d;
    } else if (!strcmp(name, "fontwidth")) {
        *expected = "0.1..2";
        if (parse_number(value, 0.1, 2, &d))
            return -EINVAL;
        o->fontwidth = d;
    } else if (!strcmp(name, "minwidth")) {
        size_t n = value ? strlen(value) : 0;
        char tmp[64];
        *expected = "pixels such as 0.1, or a percentage such as 0.5%";
        if (n == 0 || n >= sizeof(tmp))
            return -EINVAL;
        memcpy(tmp, value, n + 1);
        o->minwidth_percent = tmp[n - 1] == '%';
        if (o->minwidth_percent)
            tmp[n - 1] = '\0';
        if (parse_number(tmp, 0, o->minwidth_percent ? 100 : 100000, &d))
            return -EINVAL;
        o->minwidth = d;
    } else if (!strcmp(name, "colors")) {
        *expected = bts_render_palette_names();
        if (!value || bts_render_palette_parse(value, &o->palette))
            return -EINVAL;
    } else if (!strcmp(name, "bgcolors")) {
        *expected = "yellow, blue, green, grey or #rrggbb";
        if (!value || bts_render_bgcolors_check(value))
            return -EINVAL;
        o->bgcolors = value;
    } else if (!strcmp(name, "total")) {
        *expected = "a whole number of counts";
        if (parse_uint(value, UINT64_MAX, &u))
            return -EINVAL;
        o->total = u;
    } else if (!strcmp(name, "reverse"))
        o->reverse = true;
    else if (!strcmp(name, "inverted"))
        o->inverted = true;
    else if (!strcmp(name, "negate"))
        o->negate = true;
    else if (!strcmp(name, "hash"))
        ; /* always on: colours come from the name hash */
    else if (!strcmp(name, "strict"))
        o->strict = true;
    else if (!strcmp(name, "normalize"))
        o->normalize = true;
    else if (!strcmp(name, "no-normalize"))
        o->normalize = false;
    else {
        for (size_t i = 0; i < sizeof(unsupported) / sizeof(unsupported[0]); i++) {
            if (!strcmp(name, unsupported[i].name)) {
                *expected = unsupported[i].why;
                return -ENOTSUP;
            }
        }
        return -ENOENT;
    }
    *expected = NULL;
    return 0;
}

const struct bts_render_option bts_render_options[] = {
    {"title", "TEXT", "title (default \"Flame Graph\")"},
    {"subtitle", "TEXT", "second title line"},
    {"notes", "TEXT", "notes shown under the title and kept in <desc>"},
    {"width", "NUM", "image width in px (default 1200)"},
    {"height", "NUM", "frame height in px (default 16)"},
    {"minwidth", "NUM", "omit frames narrower than NUM px, or NUM% of the total (0.1)"},
    {"fonttype", "FONT", "font family (default Verdana)"},
    {"fontsize", "NUM", "font size (default 12)"},
    {"fontwidth", "NUM", "average glyph width / font size (default 0.59)"},
    {"countname", "TEXT", "count type label (default \"samples\")"},
    {"nametype", "TEXT", "name type label (default \"Function:\")"},
    {"colors", "PALETTE",
     "hot (default), mem, io, wakeup, chain, java, js, perl, red, green, blue, aqua, yellow, "
     "purple, orange, kind (or module: ours, libraries, kernel, JIT)"},
    {"bgcolors", "COLOR", "yellow (default), blue, green, grey or #rrggbb"},
    {"total", "NUM", "width of the graph in counts, when above the sum"},
    {"hash", NULL, "accepted: colours always come from a hash of the name"},
    {"reverse", NULL, "stacks are leaf first: reverse each one"},
    {"inverted", NULL, "icicle graph, root at the top"},
    {"negate", NULL, "differential: swap red and blue"},
    {"normalize", NULL, "differential: scale BEFORE to the AFTER total"},
    {"no-normalize", NULL, "differential: compare raw counts"},
    {"strict", NULL, "stop at the first malformed line"},
    {"random", NULL, NULL},
    {"cp", NULL, NULL},
    {"flamechart", NULL, NULL},
    {"nameattr", "FILE", NULL},
    {"factor", "NUM", NULL},
    {"encoding", "NAME", NULL},
};
const size_t bts_render_option_count = sizeof(bts_render_options) / sizeof(bts_render_options[0]);

void bts_render_options_write_help(FILE *out)
{
    for (size_t i = 0; i < bts_render_option_count; i++) {
        const struct bts_render_option *ro = &bts_render_options[i];
        char head[40];

        if (!ro->help)
            continue;
        snprintf(head, sizeof(head), "--%s%s%s", ro->name, ro->arg ? " " : "",
                 ro->arg ? ro->arg : "");
        fprintf(out, "  %-20s %s\n", head, ro->help);
    }
}
