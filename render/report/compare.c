/* SPDX-License-Identifier: MIT */
/* compare: BEFORE/AFTER statistics of two profiles and the compare table. */
#define _POSIX_C_SOURCE 200809L /* gmtime_r */
#include "compare.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aggregate-private.h"
#include "json.h"
#include "report-private.h"

#define MINUS "\xe2\x88\x92" /* U+2212 */
#define ARROW "\xe2\x86\x92" /* U+2192 */

struct fn_row {
    uint32_t name;
    const char *s; /* the name's bytes, for sorting */
    size_t len;
    size_t depth; /* shallowest place on a stack: callers sort before callees */
    struct bts_compare_value total, self;
};

struct bts_compare {
    const struct bts_calltree *tree;
    struct bts_compare_opts opts;
    enum bts_compare_measure measure;
    char unit[64], change_unit[64];
    uint64_t n[2];   /* samples of each side */
    double scale[2]; /* value = scale x count / n */
    double time[2];  /* seconds of each side, 0 = unknown */
    double zcrit;    /* two-sided critical z at the confidence level */
    struct bts_compare_value *nodes;
    struct fn_row *fns;
    size_t nfns;
};

/* ---- statistics ----
 *
 * Each side is N samples; a function's count x is taken as binomial (x of
 * N), so its share p = x / N has variance p (1 - p) / N, and its value is
 * scale x p (scale = 100 for shares, the side's seconds for time, N for
 * counts, each divided by the side's work under --per). "No change" is
 * scale0 p0 = scale1 p1 = v; its estimate pools both sides, weighting each
 * by how many samples a unit of value takes there:
 *     v = (x0 + x1) / (N0 / scale0 + N1 / scale1),
 * which for equal scales is the pooled two-proportion z-test. z is the
 * change over its standard error under that hypothesis; the interval uses
 * the unpooled error.
 *
 * In shares the counts are binomial: a function at 100% of both profiles
 * has nothing to test. In time (and counts) they are taken as Poisson,
 * variance x rather than x (1 - x / N): how many samples a run gets is as
 * random as how they split, and without that a function near 100% would
 * turn the few milliseconds by which two 3-second recordings differ into a
 * "significant" change (measured: 4 of 17 functions in one pair).
 *
 * Two things make a plain 99% test cry wolf far more often than 1 in 100:
 * a profile has dozens of functions, each tested, and samples are not
 * fully independent (a program that stays in one function for longer than
 * the sampling interval gives runs of equal samples). Measured on 10 pairs
 * of 3-second recordings of the same engine run (bench/compare-noise.sh),
 * the unadjusted test marked 4 of 157 functions with >= 20 samples (2.5%);
 * the z-scores' mean square was 1.05, so overdispersion is small here and
 * the number of tests is what matters (with the correction: 0 of 157 there,
 * 0 of 181 in 10 further pairs, as time and as shares). Significance is therefore decided
 * by the Benjamini-Hochberg procedure over all functions (or all frames of
 * the picture) at q = 1 - confidence: when nothing changed this bounds the
 * chance of any false alarm in the whole profile by q, and when much
 * changed it keeps the expected share of false alarms among the changes
 * marked significant below q. Run-to-run variation of the program itself
 * (another CPU frequency, a noisy neighbour) is not sampling noise and is
 * not covered: compare repeated runs for that. */

/* Two-sided p-value of a standard normal z. */
static double p_two_sided(double z)
{
    return erfc(fabs(z) / sqrt(2.0));
}

/* z with p_two_sided(z) = alpha, by bisection (monotone, 60 steps). */
static double z_critical(double alpha)
{
    double lo = 0, hi = 40;
    for (int i = 0; i < 60; i++) {
        double mid = (lo + hi) / 2;
        if (p_two_sided(mid) > alpha)
            lo = mid;
        else
            hi = mid;
    }
    return (lo + hi) / 2;
}

static double clamp_share(double p, uint64_t n)
{
    /* Keep a share of 0 or 1 from claiming a variance of 0. */
    double lo = 0.5 / (double)n;
    return p < lo ? lo : p > 1 - lo ? 1 - lo : p;
}

/* N x the variance of a share q: binomial for shares, Poisson otherwise. */
static double spread(const struct bts_compare *c, double q)
{
    return c->measure == BTS_COMPARE_SHARES ? q * (1 - q) : q;
}

static void test_counts(const struct bts_compare *c, uint64_t x0, uint64_t x1,
                        struct bts_compare_value *v)
{
    double n0 = (double)c->n[0], n1 = (double)c->n[1];
    double p0 = (double)x0 / n0, p1 = (double)x1 / n1;

    memset(v, 0, sizeof(*v));
    v->count[0] = x0;
    v->count[1] = x1;
    v->value[0] = c->scale[0] * p0;
    v->value[1] = c->scale[1] * p1;
    v->change = v->value[1] - v->value[0];
    v->p = 1;
    if (x0 == 0 && x1 == 0)
        return;
    double s0 = c->scale[0], s1 = c->scale[1];
    double pooled = ((double)x0 + (double)x1) / (n0 / s0 + n1 / s1);
    double q0 = clamp_share(pooled / s0, c->n[0]), q1 = clamp_share(pooled / s1, c->n[1]);
    double se0 = sqrt(s0 * s0 * spread(c, q0) / n0 + s1 * s1 * spread(c, q1) / n1);
    double u0 = clamp_share(p0, c->n[0]), u1 = clamp_share(p1, c->n[1]);
    double se = sqrt(s0 * s0 * spread(c, u0) / n0 + s1 * s1 * spread(c, u1) / n1);
    v->half_ci = c->zcrit * se;
    v->p = se0 > 0 ? p_two_sided(v->change / se0) : (v->change != 0 ? 0 : 1);
}

static int cmp_p(const void *a, const void *b)
{
    const struct bts_compare_value *x = *(struct bts_compare_value *const *)a;
    const struct bts_compare_value *y = *(struct bts_compare_value *const *)b;
    return (x->p > y->p) - (x->p < y->p);
}

/* Benjamini-Hochberg at level q over the tested items (p < 1 or a count):
 * with m tested, the k smallest are significant for the largest k whose
 * p <= q k / m. */
static int mark_significant(struct bts_compare_value **items, size_t m, double q)
{
    size_t k = 0;

    qsort(items, m, sizeof(*items), cmp_p);
    for (size_t i = m; i-- > 0;) {
        if (items[i]->p <= q * (double)(i + 1) / (double)m) {
            k = i + 1;
            break;
        }
    }
    for (size_t i = 0; i < k; i++)
        items[i]->significant = true;
    return 0;
}

static int mark_family(struct bts_compare_value *base, size_t stride, size_t n, double q)
{
    struct bts_compare_value **items = malloc((n ? n : 1) * sizeof(*items));
    size_t m = 0;

    if (!items)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        struct bts_compare_value *v = (struct bts_compare_value *)((char *)base + i * stride);
        if (v->count[0] || v->count[1])
            items[m++] = v;
    }
    mark_significant(items, m, q);
    free(items);
    return 0;
}

/* ---- setup ---- */

static bool has_time(const struct bts_compare_side *s)
{
    return s->duration_s > 0 || s->rate_hz > 0;
}

const char *bts_compare_check(const struct bts_compare_opts *o)
{
    bool per = o->work_unit != NULL;

    if (per && !(o->side[0].work > 0 && o->side[1].work > 0))
        return "--per needs the amount of work of both profiles";
    if (per && o->measure == BTS_COMPARE_SHARES)
        return "shares are already per sample: --per needs --measure time or counts";
    if (o->measure == BTS_COMPARE_TIME && !(has_time(&o->side[0]) && has_time(&o->side[1])))
        return "--measure time needs each profile's duration or sampling rate";
    if (o->confidence != 0 && !(o->confidence >= 0.5 && o->confidence <= 0.999999))
        return "the confidence level must be within 50%..99.9999%";
    return NULL;
}

static enum bts_compare_measure resolve(const struct bts_compare_opts *o)
{
    if (o->measure != BTS_COMPARE_AUTO)
        return o->measure;
    if (o->work_unit)
        return has_time(&o->side[0]) && has_time(&o->side[1]) ? BTS_COMPARE_TIME
                                                              : BTS_COMPARE_COUNTS;
    if (o->side[0].duration_s > 0 && o->side[1].duration_s > 0)
        return BTS_COMPARE_TIME;
    return BTS_COMPARE_SHARES;
}

static double side_time(const struct bts_compare_side *s, uint64_t n)
{
    if (s->duration_s > 0)
        return s->duration_s;
    if (s->rate_hz > 0)
        return (double)n / s->rate_hz;
    return 0;
}

/* Inclusive and self counts of every function on both sides, a sample
 * counted once per distinct function on its stack. */
static int collect_functions(struct bts_compare *c)
{
    struct bts_aggregate a;
    uint64_t grand[BTS_AGGREGATE_COLUMNS];
    int err = bts_aggregate_init(&a, bts_calltree_name_count(c->tree));

    if (!err)
        err = bts_aggregate_calltree(&a, c->tree, grand);
    if (!err && !(c->fns = calloc(a.nkeys + 1, sizeof(*c->fns))))
        err = -ENOMEM;
    if (err)
        goto out;
    for (size_t k = 0; k < a.nkeys; k++) {
        const struct bts_aggregate_fn *f = &a.fns[k];
        struct fn_row *r = &c->fns[c->nfns];
        if (f->depth == SIZE_MAX)
            continue; /* on no stack with samples */
        r->name = (uint32_t)k;
        r->depth = f->depth;
        for (int side = 0; side < 2; side++) {
            r->total.count[side] = f->total[side];
            r->self.count[side] = f->self[side];
        }
        c->nfns++;
    }
out:
    bts_aggregate_free(&a);
    return err;
}

static int cmp_fn(const void *a, const void *b)
{
    const struct fn_row *x = a, *y = b;
    double dx = fabs(x->total.change), dy = fabs(y->total.change);
    int k;

    if (dx != dy)
        return dx > dy ? -1 : 1;
    if (x->depth != y->depth) /* equal changes: the caller explains its callees */
        return x->depth < y->depth ? -1 : 1;
    k = memcmp(x->s, y->s, x->len < y->len ? x->len : y->len);
    return k ? k : (x->len > y->len) - (x->len < y->len);
}

struct bts_compare *bts_compare_new(const struct bts_calltree *t, const struct bts_compare_opts *o)
{
    struct bts_compare *c;
    size_t nn = bts_calltree_node_count(t);
    int err = -ENOMEM;
    bool per = o->work_unit != NULL;

    if (bts_compare_check(o)) {
        errno = EINVAL;
        return NULL;
    }
    c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->tree = t;
    c->opts = *o;
    if (c->opts.confidence == 0)
        c->opts.confidence = 0.99;
    c->measure = resolve(o);
    c->zcrit = z_critical(1 - c->opts.confidence);
    for (unsigned s = 0; s < 2; s++) {
        c->n[s] = bts_calltree_total(t, BTS_CALLTREE_ROOT, s);
        if (c->n[s] == 0) {
            err = -ENODATA;
            goto fail;
        }
        c->time[s] = side_time(&o->side[s], c->n[s]);
        switch (c->measure) {
        case BTS_COMPARE_TIME:
            c->scale[s] = c->time[s];
            break;
        case BTS_COMPARE_COUNTS:
            c->scale[s] = (double)c->n[s];
            break;
        default:
            c->scale[s] = 100;
        }
        if (per)
            c->scale[s] /= o->side[s].work;
    }
    snprintf(c->unit, sizeof(c->unit), "%s%s%s",
             c->measure == BTS_COMPARE_TIME     ? "s"
             : c->measure == BTS_COMPARE_COUNTS ? "samples"
                                                : "%",
             per ? "/" : "", per ? o->work_unit : "");
    snprintf(c->change_unit, sizeof(c->change_unit), "%s",
             c->measure == BTS_COMPARE_SHARES ? "pp" : c->unit);

    c->nodes = calloc(nn, sizeof(*c->nodes));
    if (!c->nodes)
        goto fail;
    for (size_t i = 0; i < nn; i++)
        test_counts(c, bts_calltree_total(t, (bts_calltree_node)i, 0),
                    bts_calltree_total(t, (bts_calltree_node)i, 1), &c->nodes[i]);
    /* The root is every sample: nothing to test in shares, and in time
     * its change is the known difference of the durations. */
    c->nodes[0].p = 1;
    c->nodes[0].count[0] = c->nodes[0].count[1] = 0;
    err = mark_family(c->nodes, sizeof(*c->nodes), nn, 1 - c->opts.confidence);
    c->nodes[0].count[0] = c->n[0];
    c->nodes[0].count[1] = c->n[1];
    if (err)
        goto fail;

    err = collect_functions(c);
    if (err)
        goto fail;
    for (size_t i = 0; i < c->nfns; i++) {
        struct fn_row *r = &c->fns[i];
        test_counts(c, r->total.count[0], r->total.count[1], &r->total);
        test_counts(c, r->self.count[0], r->self.count[1], &r->self);
        r->s = bts_calltree_name_by_id(t, r->name, &r->len);
    }
    err = mark_family(&c->fns[0].total, sizeof(*c->fns), c->nfns, 1 - c->opts.confidence);
    if (!err)
        err = mark_family(&c->fns[0].self, sizeof(*c->fns), c->nfns, 1 - c->opts.confidence);
    if (err)
        goto fail;
    qsort(c->fns, c->nfns, sizeof(*c->fns), cmp_fn);
    return c;
fail:
    bts_compare_free(c);
    errno = -err;
    return NULL;
}

void bts_compare_free(struct bts_compare *c)
{
    if (!c)
        return;
    free(c->nodes);
    free(c->fns);
    free(c);
}

enum bts_compare_measure bts_compare_measure_used(const struct bts_compare *c)
{
    return c->measure;
}

double bts_compare_scale(const struct bts_compare *c, unsigned side)
{
    return c->scale[side & 1];
}

uint64_t bts_compare_total(const struct bts_compare *c, unsigned side)
{
    return c->n[side & 1];
}

double bts_compare_confidence(const struct bts_compare *c)
{
    return c->opts.confidence;
}

const char *bts_compare_unit(const struct bts_compare *c)
{
    return c->unit;
}

const char *bts_compare_change_unit(const struct bts_compare *c)
{
    return c->change_unit;
}

void bts_compare_node(const struct bts_compare *c, bts_calltree_node n, struct bts_compare_value *v)
{
    *v = c->nodes[n];
}

size_t bts_compare_function_count(const struct bts_compare *c)
{
    return c->nfns;
}

const char *bts_compare_function(const struct bts_compare *c, size_t i, size_t *len,
                                 struct bts_compare_value *total, struct bts_compare_value *self)
{
    if (total)
        *total = c->fns[i].total;
    if (self)
        *self = c->fns[i].self;
    return bts_calltree_name_by_id(c->tree, c->fns[i].name, len);
}

/* ---- formatting ---- */

/* Appends to buf[*pos..len), keeping it terminated. */
static void append(char *buf, size_t len, size_t *pos, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void append(char *buf, size_t len, size_t *pos, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (*pos >= len)
        return;
    va_start(ap, fmt);
    n = vsnprintf(buf + *pos, len - *pos, fmt, ap);
    va_end(ap);
    if (n > 0)
        *pos = *pos + (size_t)n < len ? *pos + (size_t)n : len - 1;
}

/* Seconds with a unit that keeps 3 significant digits readable. */
static void format_seconds(double v, char *buf, size_t len)
{
    double a = fabs(v);
    const char *u = "s";
    double k = 1;

    if (a == 0) {
        snprintf(buf, len, "0 s");
        return;
    }
    if (a < 1e-6) {
        u = "ns";
        k = 1e9;
    } else if (a < 1e-3) {
        u = "\xc2\xb5s"; /* µs */
        k = 1e6;
    } else if (a < 1) {
        u = "ms";
        k = 1e3;
    }
    a *= k;
    snprintf(buf, len, "%.*f %s", a >= 100 ? 0 : a >= 10 ? 1 : 2, a, u);
}

void bts_compare_format_value(const struct bts_compare *c, double v, bool change, char *buf,
                              size_t len)
{
    const char *sign = change ? (v < 0 ? MINUS : v > 0 ? "+" : "") : (v < 0 ? "-" : "");
    const char *per = c->opts.work_unit;
    char num[64];
    double a = fabs(v);

    switch (c->measure) {
    case BTS_COMPARE_TIME:
        format_seconds(a, num, sizeof(num));
        break;
    case BTS_COMPARE_COUNTS:
        snprintf(num, sizeof(num), per ? "%.3g samples" : "%.0f samples", a);
        break;
    default:
        snprintf(num, sizeof(num), change ? "%.1f pp" : "%.1f%%", a);
        per = NULL;
    }
    snprintf(buf, len, "%s%s%s%s", sign, num, per ? "/" : "", per ? per : "");
}

void bts_compare_describe_side(const struct bts_compare *c, unsigned side, char *buf, size_t len)
{
    const struct bts_compare_side *s = &c->opts.side[side & 1];
    size_t pos = 0;

    if (len)
        buf[0] = '\0';
    append(buf, len, &pos, "%s", s->command ? s->command : s->name ? s->name : "?");
    if (s->command && s->name)
        append(buf, len, &pos, " (%s)", s->name);
    append(buf, len, &pos, ": %" PRIu64 " samples", c->n[side & 1]);
    if (s->duration_s > 0)
        append(buf, len, &pos, ", %.1f s", s->duration_s);
    if (s->rate_hz > 0)
        append(buf, len, &pos, " at %.0f Hz", s->rate_hz);
    if (s->work > 0 && c->opts.work_unit)
        append(buf, len, &pos, ", %g %s", s->work, c->opts.work_unit);
    if (s->start_unix_s > 0) {
        time_t when = (time_t)s->start_unix_s;
        struct tm tm;
        char date[40];
        if (gmtime_r(&when, &tm) && strftime(date, sizeof(date), "%Y-%m-%d %H:%M UTC", &tm))
            append(buf, len, &pos, ", %s", date);
    }
}

static size_t significant_count(const struct bts_compare *c)
{
    size_t k = 0;
    for (size_t i = 0; i < c->nfns; i++)
        k += c->fns[i].total.significant;
    return k;
}

/* "total 3.4 s → 3.0 s (−12%)"; a change under 0.5% reads "(0%)". */
static void append_total(char *buf, size_t len, size_t *pos, const char *a, const char *b,
                         double pct)
{
    if (fabs(pct) < 0.5)
        append(buf, len, pos, "total %s " ARROW " %s (0%%)", a, b);
    else
        append(buf, len, pos, "total %s " ARROW " %s (%s%.0f%%)", a, b, pct < 0 ? MINUS : "+",
               fabs(pct));
}

void bts_compare_summary(const struct bts_compare *c, char *buf, size_t len)
{
    size_t pos = 0, sig = significant_count(c);
    char a[64], b[64];

    if (len)
        buf[0] = '\0';
    if (c->measure == BTS_COMPARE_TIME && !c->opts.work_unit) {
        double pct = c->time[0] > 0 ? 100 * (c->time[1] - c->time[0]) / c->time[0] : 0;
        format_seconds(c->time[0], a, sizeof(a));
        format_seconds(c->time[1], b, sizeof(b));
        append_total(buf, len, &pos, a, b, pct);
    } else if (c->opts.work_unit) {
        bts_compare_format_value(c, c->scale[0], false, a, sizeof(a));
        bts_compare_format_value(c, c->scale[1], false, b, sizeof(b));
        double pct = 100 * (c->scale[1] - c->scale[0]) / c->scale[0];
        append_total(buf, len, &pos, a, b, pct);
    } else {
        append(buf, len, &pos, "total %" PRIu64 " " ARROW " %" PRIu64 " samples", c->n[0], c->n[1]);
    }
    if (c->nfns) {
        size_t nlen;
        struct bts_compare_value v;
        const char *name = bts_compare_function(c, 0, &nlen, &v, NULL);
        bts_compare_format_value(c, v.change, true, a, sizeof(a));
        append(buf, len, &pos, "; %.*s %s (%s)", (int)(nlen > 80 ? 80 : nlen), name, a,
               v.significant ? "significant" : "not significant");
    }
    append(buf, len, &pos, "; %zu of %zu functions changed significantly", sig, c->nfns);
}

/* A markdown link target: bytes that would end or split it are escaped. */
static void write_link_target(FILE *out, const char *s)
{
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch <= 0x20 || ch == '(' || ch == ')' || ch == '<' || ch == '>' || ch == '%' ||
            ch == '\\' || ch >= 0x7f)
            fprintf(out, "%%%02X", ch);
        else
            putc(ch, out);
    }
}

static const char *measure_words(const struct bts_compare *c)
{
    switch (c->measure) {
    case BTS_COMPARE_TIME:
        return c->opts.work_unit ? "time per unit of work (share of samples x time / work)"
                                 : "time (share of samples x the profile's duration)";
    case BTS_COMPARE_COUNTS:
        return c->opts.work_unit ? "samples per unit of work" : "raw sample counts";
    default:
        return "share of the samples";
    }
}

int bts_compare_write(const struct bts_compare *c, const struct bts_compare_report_opts *o,
                      FILE *out)
{
    size_t shown = o->top && o->top < c->nfns ? o->top : c->nfns, width = 8;
    double conf = 100 * c->opts.confidence;
    char summary[512], side[2][512];

    bts_compare_summary(c, summary, sizeof(summary));
    bts_compare_describe_side(c, 0, side[0], sizeof(side[0]));
    bts_compare_describe_side(c, 1, side[1], sizeof(side[1]));
    for (size_t i = 0; i < shown; i++) {
        size_t len;
        bts_compare_function(c, i, &len, NULL, NULL);
        if (len > width)
            width = len > 50 ? 50 : len;
    }

    switch (o->style) {
    case BTS_REPORT_TEXT:
        fprintf(out, "%s\n\nbefore: %s\nafter:  %s\nmeasure: %s; significant at %g%%\n\n", summary,
                side[0], side[1], measure_words(c), conf);
        fprintf(out, "%4s  %-*s  %12s  %12s  %14s  %12s  %-4s  %s\n", "rank", (int)width,
                "function", "before", "after", "change", "+/-", "sig", "samples");
        break;
    case BTS_REPORT_MARKDOWN:
        fprintf(out, "**%s**\n\n", summary);
        fputs("- before: ", out);
        bts_report_markdown_cell(out, side[0], strlen(side[0]));
        fputs("\n- after: ", out);
        bts_report_markdown_cell(out, side[1], strlen(side[1]));
        fprintf(out, "\n- measure: %s\n\n", measure_words(c));
        fprintf(out,
                "| rank | function | before | after | change | \xc2\xb1 %g%% | significant | "
                "samples |\n| ---: | :--- | ---: | ---: | ---: | ---: | :---: | ---: |\n",
                conf);
        break;
    case BTS_REPORT_CSV:
        fputs("rank,function,before,after,change,ci_half_width,significant,p_value,"
              "before_samples,after_samples,before_self_samples,after_self_samples\n",
              out);
        break;
    case BTS_REPORT_JSON:
        fputs("{\"summary\":", out);
        bts_json_write_string(out, summary, strlen(summary));
        for (unsigned s = 0; s < 2; s++) {
            const struct bts_compare_side *sd = &c->opts.side[s];
            fprintf(out, ",\"%s\":{\"name\":", s ? "after" : "before");
            bts_json_write_string(out, sd->name ? sd->name : "", sd->name ? strlen(sd->name) : 0);
            if (sd->command) {
                fputs(",\"command\":", out);
                bts_json_write_string(out, sd->command, strlen(sd->command));
            }
            fprintf(out, ",\"samples\":%" PRIu64 ",\"duration_s\":%.6g,\"rate_hz\":%.6g", c->n[s],
                    sd->duration_s, sd->rate_hz);
            if (sd->work > 0)
                fprintf(out, ",\"work\":%.10g", sd->work);
            fputs("}", out);
        }
        fputs(",\"measure\":", out);
        bts_json_write_string(out, measure_words(c), strlen(measure_words(c)));
        fputs(",\"unit\":", out);
        bts_json_write_string(out, c->unit, strlen(c->unit));
        fprintf(out, ",\"confidence\":%.6g,\"functions\":[", c->opts.confidence);
        break;
    }
    for (size_t i = 0; i < shown; i++) {
        struct bts_compare_value v, self;
        size_t len;
        const char *name = bts_compare_function(c, i, &len, &v, &self);
        char b[64], a[64], d[64], ci[64];

        bts_compare_format_value(c, v.value[0], false, b, sizeof(b));
        bts_compare_format_value(c, v.value[1], false, a, sizeof(a));
        bts_compare_format_value(c, v.change, true, d, sizeof(d));
        bts_compare_format_value(c, v.half_ci, true, ci, sizeof(ci));
        if (ci[0] == '+') /* a spread, in the change's unit, without a sign */
            memmove(ci, ci + 1, strlen(ci));
        switch (o->style) {
        case BTS_REPORT_TEXT:
            fprintf(out, "%4zu  ", i + 1);
            bts_report_text_cell(out, name, len);
            /* Columns count bytes; the minus sign takes 3 for 1 column. */
            fprintf(out, "%*s  %12s  %12s  %*s  %12s  %-4s  %" PRIu64 " -> %" PRIu64 "\n",
                    len < width ? (int)(width - len) : 0, "", b, a, 14 + (v.change < 0 ? 2 : 0), d,
                    ci, v.significant ? "yes" : "no", v.count[0], v.count[1]);
            break;
        case BTS_REPORT_MARKDOWN:
            fprintf(out, "| %zu | ", i + 1);
            bts_report_markdown_cell(out, name, len);
            fprintf(out, " | %s | %s | %s | %s | %s | %" PRIu64 " " ARROW " %" PRIu64 " |\n", b, a,
                    d, ci, v.significant ? "**yes**" : "no", v.count[0], v.count[1]);
            break;
        case BTS_REPORT_CSV:
            fprintf(out, "%zu,", i + 1);
            bts_report_csv_cell(out, name, len);
            fprintf(out,
                    ",%.6g,%.6g,%.6g,%.6g,%s,%.3g,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64
                    "\n",
                    v.value[0], v.value[1], v.change, v.half_ci, v.significant ? "yes" : "no", v.p,
                    v.count[0], v.count[1], self.count[0], self.count[1]);
            break;
        case BTS_REPORT_JSON:
            fprintf(out, "%s\n {\"rank\":%zu,\"function\":", i ? "," : "", i + 1);
            bts_json_write_string(out, name, len);
            fprintf(out,
                    ",\"before\":%.6g,\"after\":%.6g,\"change\":%.6g,\"ci_half_width\":%.6g,"
                    "\"significant\":%s,\"p_value\":%.3g,\"before_samples\":%" PRIu64
                    ",\"after_samples\":%" PRIu64 ",\"before_self_samples\":%" PRIu64
                    ",\"after_self_samples\":%" PRIu64 "}",
                    v.value[0], v.value[1], v.change, v.half_ci, v.significant ? "true" : "false",
                    v.p, v.count[0], v.count[1], self.count[0], self.count[1]);
            break;
        }
    }
    switch (o->style) {
    case BTS_REPORT_TEXT:
        fprintf(out,
                "\nchange = after - before; +/- is its %g%% interval; significant: two-sample "
                "test,\nBenjamini-Hochberg over %zu functions at %g%%.\n",
                conf, c->nfns, 100 - conf);
        break;
    case BTS_REPORT_MARKDOWN:
        fprintf(out,
                "\nChange is after \xe2\x88\x92 before; \xc2\xb1 is its %g%% interval. "
                "Significant: two-sample test on the sample counts, Benjamini\xe2\x80\x93Hochberg "
                "over %zu functions at %g%%.\n",
                conf, c->nfns, 100 - conf);
        if (o->png_link || o->svg_link) {
            fputs("\n", out);
            if (o->png_link) {
                fputs("![differential flame graph](", out);
                write_link_target(out, o->png_link);
                fputs(")\n", out);
            }
            if (o->svg_link) {
                fputs("\n[Interactive SVG: hover for both values](", out);
                write_link_target(out, o->svg_link);
                fputs(")\n", out);
            }
        }
        break;
    case BTS_REPORT_JSON:
        fputs("\n]}\n", out);
        break;
    default:
        break;
    }
    if (fflush(out) || ferror(out))
        return -EIO;
    return 0;
}
