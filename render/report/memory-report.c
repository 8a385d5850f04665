/* SPDX-License-Identifier: MIT */
/* memory-report: functions by bytes, peak RSS, and the stacks behind each
 * RSS jump, as text, markdown, CSV or JSON. */
#define _GNU_SOURCE /* open_memstream */
#include "memory-report.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "report-private.h"

#define DEFAULT_STACKS 3

/* One stack of a jump's tree: its frames joined by ';' and its bytes. */
struct stack {
    char *text;
    size_t len;
    uint64_t bytes;
};

static int cmp_stacks(const void *a, const void *b)
{
    const struct stack *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c;

    if (x->bytes != y->bytes)
        return x->bytes > y->bytes ? -1 : 1;
    c = memcmp(x->text, y->text, n);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

static void free_stacks(struct stack *s, size_t n)
{
    for (size_t i = 0; s && i < n; i++)
        free(s[i].text);
    free(s);
}

/* Every stack of t with bytes of its own, biggest first. */
static int collect_stacks(const struct bts_calltree *t, struct stack **out, size_t *nout)
{
    struct bts_calltree_walk w = {0};
    struct stack *s = NULL;
    size_t n = 0, cap = 0;
    bts_calltree_node node;
    int err = -ENOMEM;

    if (bts_calltree_walk_init(&w, t))
        goto out;
    while ((node = bts_calltree_walk_next(&w, t)) != BTS_CALLTREE_ROOT) {
        uint64_t self = bts_calltree_self(t, node, 0);
        char *text = NULL;
        size_t len = 0;
        FILE *f;

        if (!self)
            continue;
        if (n == cap) {
            struct stack *ns = realloc(s, (cap ? cap * 2 : 16) * sizeof(*s));
            if (!ns)
                goto out;
            s = ns;
            cap = cap ? cap * 2 : 16;
        }
        f = open_memstream(&text, &len);
        if (!f)
            goto out;
        for (size_t i = 1; i < w.sp; i++) {
            size_t nl;
            const char *name = bts_calltree_name(t, w.path[i], &nl);
            if (i > 1)
                putc(';', f);
            fwrite(name, 1, nl, f);
        }
        if (fclose(f)) {
            free(text);
            goto out;
        }
        s[n++] = (struct stack){text, len, self};
    }
    if (n)
        qsort(s, n, sizeof(*s), cmp_stacks);
    *out = s;
    *nout = n;
    s = NULL;
    err = 0;
out:
    bts_calltree_walk_free(&w);
    free_stacks(s, n);
    return err;
}

static double pct(uint64_t part, uint64_t whole)
{
    return whole ? 100.0 * (double)part / (double)whole : 0;
}

static double seconds(uint64_t ns)
{
    return (double)ns / 1e9;
}

/* ---- the function table ---- */

static void write_functions(const struct bts_calltree *t, const struct bts_report_row *rows,
                            size_t shown, size_t nrows, uint64_t grand,
                            const struct bts_memory_report_opts *o, FILE *out)
{
    static const struct bts_report_unit bytes = {"bytes", 11, bts_timeline_format_bytes};
    size_t width = bts_report_name_width(t, rows, shown);

    switch (o->style) {
    case BTS_REPORT_TEXT:
        fprintf(out, "functions by bytes%s (%zu in all)\n\n",
                o->by == BTS_REPORT_BY_TOTAL ? ", by total" : ", by self", nrows);
        fprintf(out, "%4s  %-*s  %7s  %7s  %11s  %11s\n", "rank", (int)width, "function", "self%",
                "total%", "self", "total");
        break;
    case BTS_REPORT_MARKDOWN:
        fputs("## Functions by bytes\n\n"
              "| rank | function | self % | total % | self | total |\n"
              "| ---: | :--- | ---: | ---: | ---: | ---: |\n",
              out);
        break;
    case BTS_REPORT_CSV:
        fputs("rank,function,self_percent,total_percent,self_bytes,total_bytes\n", out);
        break;
    case BTS_REPORT_JSON:
        fputs(",\"functions\":[", out);
        break;
    }
    for (size_t i = 0; i < shown; i++)
        bts_report_write_row(out, o->style, t, rows, i, grand, width, &bytes);
    if (o->style == BTS_REPORT_JSON)
        fputs("\n]", out);
}

/* ---- peak and jumps ---- */

static void write_peak(const struct bts_timeline *tl, const struct bts_memory_report_opts *o,
                       FILE *out)
{
    char b1[32], b2[32], b3[32], b4[32];
    uint64_t start = tl->npoints ? tl->points[0].rss : 0;

    if (!tl->npoints && !tl->peak_rss) {
        if (o->style == BTS_REPORT_JSON)
            fputs(",\"peak_rss_bytes\":null", out);
        return;
    }
    bts_timeline_format_bytes(tl->peak_rss, b1, sizeof(b1));
    bts_timeline_format_time(tl->peak_t_ns, b2, sizeof(b2));
    bts_timeline_format_bytes(start, b3, sizeof(b3));
    bts_timeline_format_time(bts_timeline_duration_ns(tl), b4, sizeof(b4));
    switch (o->style) {
    case BTS_REPORT_TEXT:
        fprintf(out, "peak RSS %s at %s (RSS at start %s, recording %s)\n\n", b1, b2, b3, b4);
        break;
    case BTS_REPORT_MARKDOWN:
        fprintf(out, "**peak RSS %s at %s** (RSS at start %s, recording %s)\n\n", b1, b2, b3, b4);
        break;
    case BTS_REPORT_JSON:
        fprintf(out,
                ",\"peak_rss_bytes\":%" PRIu64 ",\"peak_time_s\":%.3f,\"start_rss_bytes\":%" PRIu64
                ",\"duration_s\":%.3f",
                tl->peak_rss, seconds(tl->peak_t_ns), start, seconds(bts_timeline_duration_ns(tl)));
        break;
    case BTS_REPORT_CSV:
        break;
    }
}

static int write_jump(const struct bts_timeline_jump *j, size_t rank, const struct bts_calltree *jt,
                      const struct bts_memory_report_opts *o, FILE *out)
{
    size_t want = o->stacks_per_jump ? o->stacks_per_jump : DEFAULT_STACKS, nall = 0, n;
    struct stack *s = NULL;
    uint64_t attributed = jt ? bts_calltree_total(jt, BTS_CALLTREE_ROOT, 0) : 0;
    char grow[32], from[32], to[32], t0[32], t1[32], got[32];
    int err = jt ? collect_stacks(jt, &s, &nall) : 0;

    if (err)
        return err;
    bts_timeline_format_bytes(j->rss_to - j->rss_from, grow, sizeof(grow));
    bts_timeline_format_bytes(j->rss_from, from, sizeof(from));
    bts_timeline_format_bytes(j->rss_to, to, sizeof(to));
    bts_timeline_format_time(j->t_from_ns, t0, sizeof(t0));
    bts_timeline_format_time(j->t_to_ns, t1, sizeof(t1));
    bts_timeline_format_bytes(attributed, got, sizeof(got));
    n = nall > want ? want : nall;
    switch (o->style) {
    case BTS_REPORT_TEXT:
        fprintf(out, "%2zu. +%s from %s to %s (%s -> %s)", rank, grow, t0, t1, from, to);
        if (jt)
            fprintf(out, ", faulted in: %s\n", got);
        else
            fputs("\n", out);
        for (size_t i = 0; i < n; i++) {
            bts_timeline_format_bytes(s[i].bytes, got, sizeof(got));
            fprintf(out, "      %10s  %5.1f%%  ", got, pct(s[i].bytes, attributed));
            bts_report_text_cell(out, s[i].text, s[i].len);
            fputs("\n", out);
        }
        break;
    case BTS_REPORT_MARKDOWN:
        fprintf(out, "%zu. **+%s** from %s to %s (%s → %s)", rank, grow, t0, t1, from, to);
        if (jt)
            fprintf(out, ", faulted in: %s", got);
        fputs("\n", out);
        for (size_t i = 0; i < n; i++) {
            bts_timeline_format_bytes(s[i].bytes, got, sizeof(got));
            fprintf(out, "   - %s (%.1f%%) ", got, pct(s[i].bytes, attributed));
            bts_report_markdown_cell(out, s[i].text, s[i].len);
            fputs("\n", out);
        }
        break;
    case BTS_REPORT_JSON:
        fprintf(out,
                "%s\n {\"from_s\":%.3f,\"to_s\":%.3f,\"rss_from_bytes\":%" PRIu64
                ",\"rss_to_bytes\":%" PRIu64 ",\"growth_bytes\":%" PRIu64,
                rank > 1 ? "," : "", seconds(j->t_from_ns), seconds(j->t_to_ns), j->rss_from,
                j->rss_to, j->rss_to - j->rss_from);
        if (jt) {
            fprintf(out, ",\"faulted_bytes\":%" PRIu64 ",\"stacks\":[", attributed);
            for (size_t i = 0; i < n; i++) {
                fputs(i ? ",{\"stack\":" : "{\"stack\":", out);
                bts_json_write_string(out, s[i].text, s[i].len);
                fprintf(out, ",\"bytes\":%" PRIu64 "}", s[i].bytes);
            }
            fputs("]", out);
        }
        fputs("}", out);
        break;
    case BTS_REPORT_CSV:
        break;
    }
    free_stacks(s, nall);
    return 0;
}

static int write_jumps(const struct bts_timeline *tl, struct bts_calltree *const *jumps,
                       size_t njumps, const struct bts_memory_report_opts *o, FILE *out)
{
    int err = 0;

    switch (o->style) {
    case BTS_REPORT_TEXT:
        fputs("\nbiggest RSS jumps", out);
        if (!jumps && tl->njumps)
            fputs(" (no stacks: the profile's samples carry no time labels)", out);
        fputs(tl->njumps ? "\n" : ": none\n", out);
        break;
    case BTS_REPORT_MARKDOWN:
        fputs("\n## Biggest RSS jumps\n\n", out);
        if (!tl->njumps)
            fputs("None.\n", out);
        else if (!jumps)
            fputs("The profile's samples carry no time labels: no stacks per jump.\n\n", out);
        break;
    case BTS_REPORT_JSON:
        fputs(",\"jumps\":[", out);
        break;
    case BTS_REPORT_CSV:
        return 0;
    }
    for (size_t i = 0; !err && i < tl->njumps; i++)
        err = write_jump(&tl->jumps[i], i + 1, jumps && i < njumps ? jumps[i] : NULL, o, out);
    if (o->style == BTS_REPORT_JSON)
        fputs("\n]", out);
    return err;
}

int bts_memory_report_write(const struct bts_calltree *t, const struct bts_timeline *tl,
                            struct bts_calltree *const *jumps, size_t njumps,
                            const struct bts_memory_report_opts *o, FILE *out)
{
    struct bts_report_row *rows = NULL;
    size_t nrows = 0, shown;
    uint64_t grand = 0;
    char b1[32];
    int err = bts_report_rows(t, o->by, &rows, &nrows, &grand);

    if (err)
        return err;
    shown = o->top && o->top < nrows ? o->top : nrows;
    bts_timeline_format_bytes(grand, b1, sizeof(b1));
    switch (o->style) {
    case BTS_REPORT_TEXT:
        fprintf(out, "memory: %s faulted in, attributed to %zu functions\n", b1, nrows);
        break;
    case BTS_REPORT_MARKDOWN:
        fprintf(out, "# Memory\n\n%s faulted in, attributed to %zu functions.\n\n", b1, nrows);
        break;
    case BTS_REPORT_JSON:
        fprintf(out, "{\"total_bytes\":%" PRIu64, grand);
        break;
    case BTS_REPORT_CSV:
        break;
    }
    if (tl) {
        write_peak(tl, o, out);
    } else if (o->style == BTS_REPORT_TEXT || o->style == BTS_REPORT_MARKDOWN) {
        fputs("no RSS timeline in this profile (record --memory writes one into pprof and "
              "speedscope)\n\n",
              out);
    } else if (o->style == BTS_REPORT_JSON) {
        fputs(",\"peak_rss_bytes\":null", out);
    }
    write_functions(t, rows, shown, nrows, grand, o, out);
    if (tl)
        err = write_jumps(tl, jumps, njumps, o, out);
    if (o->style == BTS_REPORT_JSON)
        fputs("}\n", out);
    free(rows);
    if (!err && (fflush(out) || ferror(out)))
        err = -EIO;
    return err;
}
