/* SPDX-License-Identifier: MIT */
/* format: the one registry of the formats bt-spy reads and writes: a
 * format from its name, a file name or its first bytes. Loading them is
 * format-load.c's. */
#include "format.h"

#include <string.h>
#include <strings.h>

#include "perf-script.h"

static const struct {
    enum bts_format format;
    const char *name;
} format_names[] = {
    {BTS_FORMAT_FOLDED, "folded"},
    {BTS_FORMAT_FOLDED, "collapsed"},
    {BTS_FORMAT_PPROF, "pprof"},
    {BTS_FORMAT_SPEEDSCOPE, "speedscope"},
    {BTS_FORMAT_PERF_SCRIPT, "perf-script"},
    {BTS_FORMAT_SVG, "svg"},
    {BTS_FORMAT_PNG, "png"},
    {BTS_FORMAT_PDF, "pdf"},
};

enum bts_format bts_format_from_name(const char *name)
{
    for (size_t i = 0; i < sizeof(format_names) / sizeof(format_names[0]); i++)
        if (!strcasecmp(name, format_names[i].name))
            return format_names[i].format;
    return BTS_FORMAT_AUTO;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcasecmp(s + a - b, suffix);
}

/* Extensions in the order they are tried; a format's first one is the one
 * it is written with. */
static const struct {
    const char *ext;
    enum bts_format format;
} format_exts[] = {
    {".speedscope.json", BTS_FORMAT_SPEEDSCOPE},
    {".json", BTS_FORMAT_SPEEDSCOPE},
    {".pb.gz", BTS_FORMAT_PPROF},
    {".pprof", BTS_FORMAT_PPROF},
    {".pb", BTS_FORMAT_PPROF},
    {".folded", BTS_FORMAT_FOLDED},
    {".collapsed", BTS_FORMAT_FOLDED},
    {".txt", BTS_FORMAT_FOLDED},
    {".svg", BTS_FORMAT_SVG},
    {".png", BTS_FORMAT_PNG},
    {".pdf", BTS_FORMAT_PDF},
};

enum bts_format bts_format_from_path(const char *path)
{
    for (size_t i = 0; i < sizeof(format_exts) / sizeof(format_exts[0]); i++)
        if (ends_with(path, format_exts[i].ext))
            return format_exts[i].format;
    return BTS_FORMAT_AUTO;
}

const char *bts_format_extension(enum bts_format f)
{
    for (size_t i = 0; i < sizeof(format_exts) / sizeof(format_exts[0]); i++)
        if (format_exts[i].format == f)
            return format_exts[i].ext + 1;
    return NULL;
}

bool bts_format_is_picture(enum bts_format f)
{
    return f == BTS_FORMAT_SVG || f == BTS_FORMAT_PNG || f == BTS_FORMAT_PDF;
}

enum bts_format bts_format_sniff(const void *head, size_t len)
{
    const unsigned char *p = head;
    size_t i = 0;

    if (len >= 2 && p[0] == 0x1f && p[1] == 0x8b)
        return BTS_FORMAT_PPROF;
    /* An uncompressed profile starts with its first sample_type: field 1
     * (0x0a), a short length, then ValueType.type (0x08). Text formats never
     * hold NUL bytes; protobuf nearly always does. */
    if (len >= 3 && p[0] == 0x0a && p[1] < 0x80 && p[2] == 0x08)
        return BTS_FORMAT_PPROF;
    if (memchr(p, '\0', len))
        return BTS_FORMAT_PPROF;
    while (i < len && (p[i] == ' ' || p[i] == '\n' || p[i] == '\r' || p[i] == '\t'))
        i++;
    if (i < len && p[i] == '{')
        return BTS_FORMAT_SPEEDSCOPE;
    if (bts_perf_script_sniff(head, len))
        return BTS_FORMAT_PERF_SCRIPT;
    return BTS_FORMAT_FOLDED;
}
