/* SPDX-License-Identifier: MIT */
/* report: the per-function self/total table of `bt-spy report`. */
#include "report.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "aggregate-private.h"
#include "json.h"
#include "report-private.h"

static int cmp_keys(uint64_t kx, uint64_t ky, uint64_t sx, uint64_t sy,
                    const struct bts_report_row *x, const struct bts_report_row *y)
{
    if (kx != ky)
        return kx > ky ? -1 : 1;
    if (sx != sy)
        return sx > sy ? -1 : 1;
    return (x->name > y->name) - (x->name < y->name);
}

static int cmp_by_self(const void *a, const void *b)
{
    const struct bts_report_row *x = a, *y = b;
    return cmp_keys(x->self, y->self, x->total, y->total, x, y);
}

static int cmp_by_total(const void *a, const void *b)
{
    const struct bts_report_row *x = a, *y = b;
    return cmp_keys(x->total, y->total, x->self, y->self, x, y);
}

void bts_report_markdown_cell(FILE *out, const char *s, size_t len)
{
    /* Inside a code span only the backtick needs care; pipes are escaped
     * so the table keeps its columns. */
    size_t ticks = 0, run = 0;

    for (size_t i = 0; i < len; i++) {
        run = s[i] == '`' ? run + 1 : 0;
        if (run > ticks)
            ticks = run;
    }
    for (size_t i = 0; i <= ticks; i++)
        putc('`', out);
    if (ticks || (len && s[0] == '`'))
        putc(' ', out);
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '|')
            fputs("\\|", out);
        else if (s[i] == '\n' || s[i] == '\r')
            putc(' ', out);
        else
            putc(s[i], out);
    }
    if (ticks || (len && s[len - 1] == '`'))
        putc(' ', out);
    for (size_t i = 0; i <= ticks; i++)
        putc('`', out);
}

void bts_report_csv_cell(FILE *out, const char *s, size_t len)
{
    bool quote = false;

    for (size_t i = 0; i < len; i++)
        if (s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r')
            quote = true;
    if (len && (s[0] == ' ' || s[len - 1] == ' '))
        quote = true;
    if (!quote) {
        fwrite(s, 1, len, out);
        return;
    }
    putc('"', out);
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '"')
            putc('"', out);
        putc(s[i], out);
    }
    putc('"', out);
}

/* Text cells: control characters would break the columns. */
void bts_report_text_cell(FILE *out, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        putc((unsigned char)s[i] < 0x20 ? '?' : s[i], out);
}

int bts_report_rows(const struct bts_calltree *t, enum bts_report_order by,
                    struct bts_report_row **rows_out, size_t *nrows_out, uint64_t *grand_out)
{
    struct bts_aggregate a;
    struct bts_report_row *rows = NULL;
    uint64_t grand[BTS_AGGREGATE_COLUMNS];
    size_t nrows = 0;
    int err = bts_aggregate_init(&a, bts_calltree_name_count(t));

    if (!err)
        err = bts_aggregate_calltree(&a, t, grand);
    if (!err && !(rows = calloc(a.nkeys + 1, sizeof(*rows))))
        err = -ENOMEM;
    if (err)
        goto out;
    for (size_t k = 0; k < a.nkeys; k++) {
        if (!a.fns[k].total[0])
            continue;
        rows[nrows].name = (uint32_t)k;
        rows[nrows].self = a.fns[k].self[0];
        rows[nrows++].total = a.fns[k].total[0];
    }
    qsort(rows, nrows, sizeof(*rows), by == BTS_REPORT_BY_TOTAL ? cmp_by_total : cmp_by_self);
    *rows_out = rows;
    *nrows_out = nrows;
    *grand_out = grand[0];
    rows = NULL;
out:
    bts_aggregate_free(&a);
    free(rows);
    return err;
}

size_t bts_report_name_width(const struct bts_calltree *t, const struct bts_report_row *rows,
                             size_t n)
{
    size_t width = 8;

    for (size_t i = 0; i < n; i++) {
        size_t len;
        bts_calltree_name_by_id(t, rows[i].name, &len);
        if (len > width)
            width = len > 60 ? 60 : len;
    }
    return width;
}

void bts_report_write_row(FILE *out, enum bts_report_style style, const struct bts_calltree *t,
                          const struct bts_report_row *rows, size_t i, uint64_t grand,
                          size_t name_width, const struct bts_report_unit *unit)
{
    const struct bts_report_row *r = &rows[i];
    size_t len;
    const char *name = bts_calltree_name_by_id(t, r->name, &len);
    double sp = grand ? 100.0 * (double)r->self / (double)grand : 0;
    double tp = grand ? 100.0 * (double)r->total / (double)grand : 0;
    char self[32], total[32];

    if (unit->format) {
        unit->format(r->self, self, sizeof(self));
        unit->format(r->total, total, sizeof(total));
    } else {
        snprintf(self, sizeof(self), "%" PRIu64, r->self);
        snprintf(total, sizeof(total), "%" PRIu64, r->total);
    }
    switch (style) {
    case BTS_REPORT_TEXT:
        fprintf(out, "%4zu  ", i + 1);
        bts_report_text_cell(out, name, len);
        fprintf(out, "%*s  %6.2f%%  %6.2f%%  %*s  %*s\n",
                len < name_width ? (int)(name_width - len) : 0, "", sp, tp, unit->width, self,
                unit->width, total);
        break;
    case BTS_REPORT_MARKDOWN:
        fprintf(out, "| %zu | ", i + 1);
        bts_report_markdown_cell(out, name, len);
        fprintf(out, " | %.2f%% | %.2f%% | %s | %s |\n", sp, tp, self, total);
        break;
    case BTS_REPORT_CSV:
        fprintf(out, "%zu,", i + 1);
        bts_report_csv_cell(out, name, len);
        fprintf(out, ",%.2f,%.2f,%" PRIu64 ",%" PRIu64 "\n", sp, tp, r->self, r->total);
        break;
    case BTS_REPORT_JSON:
        fprintf(out, "%s\n {\"rank\":%zu,\"function\":", i ? "," : "", i + 1);
        bts_json_write_string(out, name, len);
        fprintf(out,
                ",\"self_percent\":%.4f,\"total_percent\":%.4f,\"self_%s\":%" PRIu64
                ",\"total_%s\":%" PRIu64 "}",
                sp, tp, unit->name, r->self, unit->name, r->total);
        break;
    }
}

int bts_report_write(const struct bts_calltree *t, const struct bts_report_opts *o, FILE *out)
{
    static const struct bts_report_unit samples = {"samples", 12, NULL};
    struct bts_report_row *rows = NULL;
    size_t nrows = 0, width;
    uint64_t grand = 0;
    int err = bts_report_rows(t, o->by, &rows, &nrows, &grand);

    if (err)
        return err;
    size_t shown = o->top && o->top < nrows ? o->top : nrows;
    width = bts_report_name_width(t, rows, shown);

    switch (o->style) {
    case BTS_REPORT_TEXT:
        fprintf(out, "%" PRIu64 " samples, %zu functions%s\n\n", grand, nrows,
                o->by == BTS_REPORT_BY_TOTAL ? ", by total" : ", by self");
        fprintf(out, "%4s  %-*s  %7s  %7s  %12s  %12s\n", "rank", (int)width, "function", "self%",
                "total%", "self", "total");
        break;
    case BTS_REPORT_MARKDOWN:
        fputs("| rank | function | self % | total % | self samples | total samples |\n"
              "| ---: | :--- | ---: | ---: | ---: | ---: |\n",
              out);
        break;
    case BTS_REPORT_CSV:
        fputs("rank,function,self_percent,total_percent,self_samples,total_samples\n", out);
        break;
    case BTS_REPORT_JSON:
        fprintf(out, "{\"total_samples\":%" PRIu64 ",\"functions\":[", grand);
        break;
    }
    for (size_t i = 0; i < shown; i++)
        bts_report_write_row(out, o->style, t, rows, i, grand, width, &samples);
    if (o->style == BTS_REPORT_JSON)
        fputs("\n]}\n", out);
    if (fflush(out) || ferror(out))
        err = -EIO;
    free(rows);
    return err;
}
