/* SPDX-License-Identifier: MIT */
/* format: the one registry of profile formats: names, file extensions,
 * sniffing, and loading any of them into a call tree. */
#define _GNU_SOURCE /* fopencookie */
#include "format.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "perf-script.h"
#include "pprof.h"
#include "speedscope.h"

#define SNIFF_BYTES 4096

static const struct {
    enum bts_format format;
    const char *name;
} format_names[] = {
    {BTS_FORMAT_FOLDED, "folded"},
    {BTS_FORMAT_FOLDED, "collapsed"},
    {BTS_FORMAT_PPROF, "pprof"},
    {BTS_FORMAT_SPEEDSCOPE, "speedscope"},
    {BTS_FORMAT_PERF_SCRIPT, "perf-script"},
};

enum bts_format bts_format_from_name(const char *name)
{
    for (size_t i = 0; i < sizeof(format_names) / sizeof(format_names[0]); i++)
        if (!strcmp(name, format_names[i].name))
            return format_names[i].format;
    return BTS_FORMAT_AUTO;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

enum bts_format bts_format_from_path(const char *path)
{
    static const struct {
        const char *ext;
        enum bts_format format;
    } exts[] = {
        {".speedscope.json", BTS_FORMAT_SPEEDSCOPE},
        {".json", BTS_FORMAT_SPEEDSCOPE},
        {".pb.gz", BTS_FORMAT_PPROF},
        {".pprof", BTS_FORMAT_PPROF},
        {".pb", BTS_FORMAT_PPROF},
        {".folded", BTS_FORMAT_FOLDED},
        {".collapsed", BTS_FORMAT_FOLDED},
        {".txt", BTS_FORMAT_FOLDED},
    };
    for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++)
        if (ends_with(path, exts[i].ext))
            return exts[i].format;
    return BTS_FORMAT_AUTO;
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

/* A stream that replays the sniffed head, then reads on from `in`. */
struct replay {
    FILE *in;
    char head[SNIFF_BYTES];
    size_t len, pos;
};

static ssize_t replay_read(void *cookie, char *buf, size_t size)
{
    struct replay *r = cookie;

    if (r->pos < r->len) {
        size_t n = r->len - r->pos < size ? r->len - r->pos : size;
        memcpy(buf, r->head + r->pos, n);
        r->pos += n;
        return (ssize_t)n;
    }
    size_t got = fread(buf, 1, size, r->in);
    if (got == 0 && ferror(r->in))
        return -1;
    return (ssize_t)got;
}

int bts_format_load(FILE *in, const char *name, const struct bts_format_load_opts *o,
                    struct bts_calltree *t, bts_folded_diag_fn diag, void *diag_ctx,
                    enum bts_format *used, char *err, size_t errlen)
{
    static const struct bts_format_load_opts defaults;
    cookie_io_functions_t io = {.read = replay_read};
    struct replay *r = calloc(1, sizeof(*r));
    enum bts_format f;
    FILE *s = NULL;
    int ret = 0;

    if (!o)
        o = &defaults;
    if (o->meta)
        memset(o->meta, 0, sizeof(*o->meta));
    if (o->timeline)
        *o->timeline = NULL;
    if (err && errlen)
        err[0] = '\0';
    if (!r) {
        ret = -ENOMEM;
        goto out;
    }
    r->in = in;
    while (r->len < sizeof(r->head)) {
        size_t got = fread(r->head + r->len, 1, sizeof(r->head) - r->len, in);
        if (got == 0)
            break;
        r->len += got;
    }
    if (ferror(in)) {
        ret = errno ? -errno : -EIO;
        goto out;
    }
    f = o->format != BTS_FORMAT_AUTO ? o->format : bts_format_sniff(r->head, r->len);
    if (used)
        *used = f;
    s = fopencookie(r, "r", io);
    if (!s) {
        ret = -errno;
        goto out;
    }
    switch (f) {
    case BTS_FORMAT_PPROF: {
        struct bts_pprof_meta pm;
        struct bts_pprof_read_opts ro = {.sample_type = o->sample_type, .timeline = o->timeline};
        ret = bts_pprof_read_file_ex(s, &ro, t, o->meta ? &pm : NULL, err, errlen);
        if (!ret && o->meta) {
            o->meta->duration_s = (double)pm.duration_nanos / 1e9;
            o->meta->rate_hz = pm.period_ns > 0 ? 1e9 / (double)pm.period_ns : 0;
            o->meta->start_unix_s = pm.time_nanos / 1000000000;
            snprintf(o->meta->comment, sizeof(o->meta->comment), "%s", pm.comment);
            snprintf(o->meta->unit, sizeof(o->meta->unit), "%s", pm.unit);
        }
        break;
    }
    case BTS_FORMAT_SPEEDSCOPE: {
        struct bts_speedscope_extras x;
        ret = bts_speedscope_read_extras(s, t, &x, err, errlen);
        if (!ret && o->meta)
            snprintf(o->meta->unit, sizeof(o->meta->unit), "%s", x.unit);
        if (!ret && o->timeline)
            *o->timeline = x.timeline;
        else
            bts_timeline_free(x.timeline);
        break;
    }
    case BTS_FORMAT_PERF_SCRIPT: {
        struct bts_perf_script_opts po = o->perf;
        po.strict = o->strict;
        ret = bts_perf_script_read(s, name, &po, t, diag, diag_ctx, NULL, err, errlen);
        break;
    }
    default:
        ret = bts_calltree_add_folded(t, s, name, o->strict ? BTS_CALLTREE_STRICT : 0, diag,
                                      diag_ctx, NULL);
        if (ret == -EBADMSG && err && errlen && !err[0])
            snprintf(err, errlen, "malformed folded line");
        break;
    }
out:
    if (s)
        fclose(s);
    free(r);
    return ret;
}
