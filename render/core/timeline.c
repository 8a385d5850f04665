/* SPDX-License-Identifier: MIT */
/* timeline: the memory timeline model, its CSV and its compact encoding. */
#include "timeline.h"

#include "array.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define KIB    UINT64_C(1024)
#define US_NS  UINT64_C(1000)
#define MS_NS  UINT64_C(1000000)
#define MAX_US (UINT64_MAX / US_NS)
#define MAX_KB (UINT64_MAX / KIB - 1) /* NONE stays distinct once scaled */

struct bts_timeline *bts_timeline_new(void)
{
    struct bts_timeline *tl = calloc(1, sizeof(*tl));

    if (!tl)
        errno = ENOMEM;
    return tl;
}

void bts_timeline_free(struct bts_timeline *tl)
{
    if (!tl)
        return;
    free(tl->points);
    free(tl->jumps);
    free(tl);
}

int bts_timeline_add_point(struct bts_timeline *tl, const struct bts_timeline_point *p)
{
    if (tl->npoints && p->t_ns < tl->points[tl->npoints - 1].t_ns)
        return -EINVAL;
    if (p->rss == BTS_TIMELINE_NONE)
        return -EINVAL;
    if (tl->npoints >= BTS_TIMELINE_MAX_POINTS)
        return -E2BIG;
    if (bts_array_grow((void **)&tl->points, &tl->points_cap, tl->npoints + 1, sizeof(*p)))
        return -ENOMEM;
    tl->points[tl->npoints++] = *p;
    if (tl->npoints == 1 || p->rss > tl->peak_rss) {
        tl->peak_rss = p->rss;
        tl->peak_t_ns = p->t_ns;
    }
    return 0;
}

static uint64_t jump_size(const struct bts_timeline_jump *j)
{
    return j->rss_to - j->rss_from;
}

int bts_timeline_add_jump(struct bts_timeline *tl, const struct bts_timeline_jump *j)
{
    size_t at;

    if (j->rss_to < j->rss_from || j->t_to_ns < j->t_from_ns)
        return -EINVAL;
    if (tl->njumps >= BTS_TIMELINE_MAX_JUMPS)
        return -E2BIG;
    if (bts_array_grow((void **)&tl->jumps, &tl->jumps_cap, tl->njumps + 1, sizeof(*j)))
        return -ENOMEM;
    for (at = 0; at < tl->njumps; at++) {
        const struct bts_timeline_jump *o = &tl->jumps[at];
        if (jump_size(j) > jump_size(o) ||
            (jump_size(j) == jump_size(o) && j->t_from_ns < o->t_from_ns))
            break;
    }
    memmove(tl->jumps + at + 1, tl->jumps + at, (tl->njumps - at) * sizeof(*j));
    tl->jumps[at] = *j;
    tl->njumps++;
    return 0;
}

uint64_t bts_timeline_duration_ns(const struct bts_timeline *tl)
{
    if (tl->duration_ns)
        return tl->duration_ns;
    return tl->npoints ? tl->points[tl->npoints - 1].t_ns : 0;
}

uint64_t bts_timeline_min_rss(const struct bts_timeline *tl)
{
    uint64_t m = UINT64_MAX;

    for (size_t i = 0; i < tl->npoints; i++)
        if (tl->points[i].rss < m)
            m = tl->points[i].rss;
    return tl->npoints ? m : 0;
}

bool bts_timeline_jump_buckets(const struct bts_timeline *tl, const struct bts_timeline_jump *j,
                               int64_t *first_ms, int64_t *last_ms)
{
    uint64_t b = tl->bucket_ns;

    if (!b)
        return false;
    /* The bucket holding the window's start through the one holding its
     * end: a sample there faulted within one bucket of the window. */
    *first_ms = (int64_t)(j->t_from_ns / b * b / MS_NS);
    *last_ms = (int64_t)(j->t_to_ns / b * b / MS_NS);
    return true;
}

const char *bts_timeline_format_bytes(uint64_t bytes, char *buf, size_t len)
{
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    double v = (double)bytes;
    size_t u = 0;

    if (bytes < KIB) {
        snprintf(buf, len, "%" PRIu64 " B", bytes);
        return buf;
    }
    v /= 1024;
    while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
        v /= 1024;
        u++;
    }
    snprintf(buf, len, "%.1f %s", v, units[u]);
    return buf;
}

const char *bts_timeline_format_time(uint64_t ns, char *buf, size_t len)
{
    if (ns < 1000 * MS_NS)
        snprintf(buf, len, "%" PRIu64 " ms", ns / MS_NS);
    else
        snprintf(buf, len, "%" PRIu64 ".%02" PRIu64 " s", ns / (1000 * MS_NS),
                 ns / (10 * MS_NS) % 100);
    return buf;
}

/* ---- CSV ---- */

static void csv_value(FILE *out, uint64_t v)
{
    if (v != BTS_TIMELINE_NONE)
        fprintf(out, "%" PRIu64, v);
}

int bts_timeline_write_csv(const struct bts_timeline *tl, FILE *out)
{
    fputs("time_s,rss_bytes,pss_bytes,swap_bytes\n", out);
    for (size_t i = 0; i < tl->npoints; i++) {
        const struct bts_timeline_point *p = &tl->points[i];
        /* Integer arithmetic: the same bytes on every libc. */
        fprintf(out, "%" PRIu64 ".%03" PRIu64 ",", p->t_ns / UINT64_C(1000000000),
                p->t_ns / MS_NS % 1000);
        csv_value(out, p->rss);
        fputc(',', out);
        csv_value(out, p->pss);
        fputc(',', out);
        csv_value(out, p->swap);
        fputc('\n', out);
    }
    if (fflush(out) || ferror(out))
        return -EIO;
    return 0;
}

/* ---- encoding ----
 *
 * bt-spy-timeline/1 interval_us=U bucket_us=U duration_us=U peak_kib=K
 *   peak_us=U points=P;P;... jumps=J;J;...
 *
 * One line, tokens separated by one space. A point P is
 * "DT,DRSS[,DPSS[,DSWAP]]": the time since the previous point (us, >= 0)
 * and the change of each value since the last point that had it (KiB,
 * signed; the first is from 0). A field left off, or "-", was not read at
 * that point. A jump J is "FROM_US,TO_US,FROM_KIB,TO_KIB". */

struct sbuf {
    char *p;
    size_t len, cap;
    int err;
};

static void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (b->err)
        return;
    if (b->cap - b->len < 96 &&
        bts_array_grow((void **)&b->p, &b->cap, b->len + 96 + b->cap / 2, 1)) {
        b->err = -ENOMEM;
        return;
    }
    va_start(ap, fmt);
    n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= b->cap - b->len) {
        b->err = -ENOMEM; /* every call here writes less than 96 bytes */
        return;
    }
    b->len += (size_t)n;
}

/* Signed change from last to v, both in KiB. */
static void sb_delta(struct sbuf *b, uint64_t v, uint64_t last)
{
    if (v >= last)
        sb_printf(b, "%" PRIu64, v - last);
    else
        sb_printf(b, "-%" PRIu64, last - v);
}

int bts_timeline_encode(const struct bts_timeline *tl, char **out, size_t *len)
{
    struct sbuf b = {0};
    uint64_t t = 0, last[3] = {0, 0, 0};

    sb_printf(&b,
              BTS_TIMELINE_MAGIC "interval_us=%" PRIu64 " bucket_us=%" PRIu64
                                 " duration_us=%" PRIu64 " peak_kib=%" PRIu64 " peak_us=%" PRIu64
                                 " points=",
              tl->interval_ns / US_NS, tl->bucket_ns / US_NS, tl->duration_ns / US_NS,
              tl->peak_rss / KIB, tl->peak_t_ns / US_NS);
    for (size_t i = 0; i < tl->npoints; i++) {
        const struct bts_timeline_point *p = &tl->points[i];
        uint64_t us = p->t_ns / US_NS, v[3] = {p->rss / KIB, p->pss, p->swap};
        size_t nf = 1;

        for (int k = 1; k < 3; k++) {
            if (v[k] != BTS_TIMELINE_NONE) {
                v[k] /= KIB;
                nf = (size_t)k + 1;
            }
        }
        sb_printf(&b, "%s%" PRIu64 ",", i ? ";" : "", us - t);
        t = us;
        for (size_t k = 0; k < nf; k++) {
            if (k)
                sb_printf(&b, ",");
            if (v[k] == BTS_TIMELINE_NONE) {
                sb_printf(&b, "-");
                continue;
            }
            sb_delta(&b, v[k], last[k]);
            last[k] = v[k];
        }
    }
    sb_printf(&b, " jumps=");
    for (size_t i = 0; i < tl->njumps; i++) {
        const struct bts_timeline_jump *j = &tl->jumps[i];
        sb_printf(&b, "%s%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64, i ? ";" : "",
                  j->t_from_ns / US_NS, j->t_to_ns / US_NS, j->rss_from / KIB, j->rss_to / KIB);
    }
    if (b.err) {
        free(b.p);
        return b.err;
    }
    *out = b.p;
    *len = b.len;
    return 0;
}

bool bts_timeline_is_encoded(const char *s, size_t len)
{
    size_t m = sizeof(BTS_TIMELINE_MAGIC) - 1;
    return len >= m && !memcmp(s, BTS_TIMELINE_MAGIC, m);
}

/* A cursor over the encoded text. */
struct cursor {
    const char *p, *end;
    const char *why;
};

static bool at(const struct cursor *c, char ch)
{
    return c->p < c->end && *c->p == ch;
}

/* An unsigned decimal of at most `max`. */
static bool read_u64(struct cursor *c, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    const char *start = c->p;

    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
        unsigned d = (unsigned)(*c->p - '0');
        if (v > (max - d) / 10) {
            c->why = "number out of range";
            return false;
        }
        v = v * 10 + d;
        c->p++;
    }
    if (c->p == start) {
        c->why = "expected a number";
        return false;
    }
    *out = v;
    return true;
}

/* last + a signed decimal change, staying in 0..MAX_KB. */
static bool read_delta(struct cursor *c, uint64_t last, uint64_t *out)
{
    bool neg = at(c, '-');
    uint64_t d;

    if (neg)
        c->p++;
    if (!read_u64(c, MAX_KB, &d))
        return false;
    if (neg ? d > last : d > MAX_KB - last) {
        c->why = "value out of range";
        return false;
    }
    *out = neg ? last - d : last + d;
    return true;
}

static bool expect(struct cursor *c, char ch, const char *why)
{
    if (!at(c, ch)) {
        c->why = why;
        return false;
    }
    c->p++;
    return true;
}

/* The end of a token: a space or the end. */
static bool token_end(const struct cursor *c)
{
    return c->p == c->end || *c->p == ' ';
}

static int read_points(struct cursor *c, struct bts_timeline *tl)
{
    uint64_t t = 0, last[3] = {0, 0, 0};

    if (token_end(c))
        return 0;
    for (;;) {
        struct bts_timeline_point pt = {0, 0, BTS_TIMELINE_NONE, BTS_TIMELINE_NONE};
        uint64_t dt, v[3] = {0, BTS_TIMELINE_NONE, BTS_TIMELINE_NONE};
        int err;

        if (!read_u64(c, MAX_US - t, &dt) || !expect(c, ',', "expected ',' after a time"))
            return -EBADMSG;
        t += dt;
        for (int k = 0; k < 3; k++) {
            if (k && !at(c, ','))
                break;
            if (k)
                c->p++;
            if (k && at(c, '-') && (c->p + 1 == c->end || c->p[1] < '0' || c->p[1] > '9')) {
                c->p++;
                continue;
            }
            if (!read_delta(c, last[k], &v[k]))
                return -EBADMSG;
            last[k] = v[k];
        }
        pt.t_ns = t * US_NS;
        pt.rss = v[0] * KIB;
        pt.pss = v[1] == BTS_TIMELINE_NONE ? v[1] : v[1] * KIB;
        pt.swap = v[2] == BTS_TIMELINE_NONE ? v[2] : v[2] * KIB;
        err = bts_timeline_add_point(tl, &pt);
        if (err)
            return err;
        if (token_end(c))
            return 0;
        if (!expect(c, ';', "expected ';' between points"))
            return -EBADMSG;
    }
}

static int read_jumps(struct cursor *c, struct bts_timeline *tl)
{
    if (token_end(c))
        return 0;
    for (;;) {
        uint64_t f, t, a, b;
        struct bts_timeline_jump j;
        int err;

        if (!read_u64(c, MAX_US, &f) || !expect(c, ',', "expected ',' in a jump") ||
            !read_u64(c, MAX_US, &t) || !expect(c, ',', "expected ',' in a jump") ||
            !read_u64(c, MAX_KB, &a) || !expect(c, ',', "expected ',' in a jump") ||
            !read_u64(c, MAX_KB, &b))
            return -EBADMSG;
        j = (struct bts_timeline_jump){f * US_NS, t * US_NS, a * KIB, b * KIB};
        err = bts_timeline_add_jump(tl, &j);
        if (err == -EINVAL)
            c->why = "a jump ends before it starts or goes down";
        if (err)
            return err == -EINVAL ? -EBADMSG : err;
        if (token_end(c))
            return 0;
        if (!expect(c, ';', "expected ';' between jumps"))
            return -EBADMSG;
    }
}

static bool key_is(const char *k, size_t n, const char *want)
{
    return strlen(want) == n && !memcmp(k, want, n);
}

struct bts_timeline *bts_timeline_decode(const char *s, size_t len, const char **why)
{
    struct cursor c = {s, s + len, NULL};
    struct bts_timeline *tl = NULL;
    uint64_t peak_kib = 0, peak_us = 0;
    int err = -EBADMSG;

    if (!bts_timeline_is_encoded(s, len)) {
        c.why = "not a bt-spy timeline";
        goto out;
    }
    c.p += sizeof(BTS_TIMELINE_MAGIC) - 1;
    tl = bts_timeline_new();
    if (!tl) {
        err = -ENOMEM;
        goto out;
    }
    while (c.p < c.end) {
        const char *k = c.p;
        size_t kn;
        uint64_t v;

        while (c.p < c.end && *c.p != '=' && *c.p != ' ')
            c.p++;
        kn = (size_t)(c.p - k);
        if (!kn || !expect(&c, '=', "expected KEY=VALUE"))
            goto out;
        if (key_is(k, kn, "points")) {
            if (tl->npoints) {
                c.why = "points given twice";
                goto out;
            }
            err = read_points(&c, tl);
        } else if (key_is(k, kn, "jumps")) {
            if (tl->njumps) {
                c.why = "jumps given twice";
                goto out;
            }
            err = read_jumps(&c, tl);
        } else if (key_is(k, kn, "interval_us") || key_is(k, kn, "bucket_us") ||
                   key_is(k, kn, "duration_us") || key_is(k, kn, "peak_us")) {
            err = read_u64(&c, MAX_US, &v) ? 0 : -EBADMSG;
            if (key_is(k, kn, "interval_us"))
                tl->interval_ns = v * US_NS;
            else if (key_is(k, kn, "bucket_us"))
                tl->bucket_ns = v * US_NS;
            else if (key_is(k, kn, "duration_us"))
                tl->duration_ns = v * US_NS;
            else
                peak_us = v;
        } else if (key_is(k, kn, "peak_kib")) {
            err = read_u64(&c, MAX_KB, &peak_kib) ? 0 : -EBADMSG;
        } else {
            /* A key of a later version: skip its value. */
            while (c.p < c.end && *c.p != ' ')
                c.p++;
            err = 0;
        }
        if (err)
            goto out;
        err = -EBADMSG;
        if (!token_end(&c)) {
            c.why = "unexpected character after a value";
            goto out;
        }
        if (c.p < c.end) {
            c.p++;
            if (c.p == c.end || *c.p == ' ') {
                c.why = "empty token";
                goto out;
            }
        }
    }
    /* The writer's exact peak wins over the points' (downsampled) one. */
    if (peak_kib * KIB >= tl->peak_rss) {
        tl->peak_rss = peak_kib * KIB;
        tl->peak_t_ns = peak_us * US_NS;
    }
    err = 0;
out:
    if (err) {
        if (why)
            *why = c.why ? c.why : err == -ENOMEM ? "out of memory" : "too many points or jumps";
        bts_timeline_free(tl);
        errno = err == -EBADMSG ? EBADMSG : -err;
        return NULL;
    }
    return tl;
}
