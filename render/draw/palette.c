/* SPDX-License-Identifier: MIT */
/* palette: a frame's colour from a hash of its name (flamegraph.pl's
 * palettes and our "kind"), differential colours, and backgrounds. */
#include "draw-private.h"

#include <errno.h>
#include <math.h>
#include <string.h>

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

/* ---- backgrounds ---- */

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
int palette_background(const char *name, enum bts_render_palette pal, uint32_t *top, uint32_t *bot)
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
    return palette_background(value, BTS_PALETTE_HOT, &a, &b);
}

/* ---- frame colours ---- */

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

uint32_t palette_frame(enum bts_render_palette pal, const char *s, size_t n)
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
uint32_t palette_delta(double delta, double maxdelta, bool negate)
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
uint32_t palette_compare(double delta, double maxdelta, bool significant, bool negate)
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
