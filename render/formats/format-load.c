/* SPDX-License-Identifier: MIT */
/* format-load: any format the registry knows, sniffed or named, loaded
 * into a call tree. */
#define _GNU_SOURCE /* fopencookie */
#include "format.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "perf-script.h"
#include "pprof.h"
#include "speedscope.h"

/* How much of an input is read to sniff its format. */
#define SNIFF_BYTES 4096

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
    case BTS_FORMAT_SVG:
    case BTS_FORMAT_PNG:
    case BTS_FORMAT_PDF:
        ret = -EINVAL;
        if (err && errlen)
            snprintf(err, errlen, "pictures cannot be read");
        break;
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
