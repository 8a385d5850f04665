/* SPDX-License-Identifier: MIT */
/* options: the renderer's options, their defaults, and setting them by
 * their flamegraph.pl names with every value checked. */
#include "options.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

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
