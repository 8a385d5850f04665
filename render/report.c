/* SPDX-License-Identifier: MIT */
/* report: format sniffing and loading, folded output of a call tree, and
 * the per-function self/total table. */
#define _GNU_SOURCE /* fopencookie */
#include "report.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "perf-script.h"
#include "pprof.h"
#include "speedscope-private.h"
#include "speedscope.h"

#define SNIFF_BYTES 4096

static const struct {
    enum bts_report_format format;
    const char *name;
} format_names[] = {
    {BTS_REPORT_FORMAT_FOLDED, "folded"},
    {BTS_REPORT_FORMAT_FOLDED, "collapsed"},
    {BTS_REPORT_FORMAT_PPROF, "pprof"},
    {BTS_REPORT_FORMAT_SPEEDSCOPE, "speedscope"},
    {BTS_REPORT_FORMAT_PERF_SCRIPT, "perf-script"},
};

enum bts_report_format bts_report_format_from_name(const char *name)
{
    for (size_t i = 0; i < sizeof(format_names) / sizeof(format_names[0]); i++)
        if (!strcmp(name, format_names[i].name))
            return format_names[i].format;
    return BTS_REPORT_FORMAT_AUTO;
}

const char *bts_report_format_name(enum bts_report_format f)
{
    for (size_t i = 0; i < sizeof(format_names) / sizeof(format_names[0]); i++)
        if (format_names[i].format == f)
            return format_names[i].name;
    return "auto";
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

enum bts_report_format bts_report_format_from_path(const char *path)
{
    static const struct {
        const char *ext;
        enum bts_report_format format;
    } exts[] = {
        {".speedscope.json", BTS_REPORT_FORMAT_SPEEDSCOPE},
        {".json", BTS_REPORT_FORMAT_SPEEDSCOPE},
        {".pb.gz", BTS_REPORT_FORMAT_PPROF},
        {".pprof", BTS_REPORT_FORMAT_PPROF},
        {".pb", BTS_REPORT_FORMAT_PPROF},
        {".folded", BTS_REPORT_FORMAT_FOLDED},
        {".collapsed", BTS_REPORT_FORMAT_FOLDED},
        {".txt", BTS_REPORT_FORMAT_FOLDED},
    };
    for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++)
        if (ends_with(path, exts[i].ext))
            return exts[i].format;
    return BTS_REPORT_FORMAT_AUTO;
}

enum bts_report_format bts_report_format_sniff(const void *head, size_t len)
{
    const unsigned char *p = head;
    size_t i = 0;

    if (len >= 2 && p[0] == 0x1f && p[1] == 0x8b)
        return BTS_REPORT_FORMAT_PPROF;
    /* An uncompressed profile starts with its first sample_type: field 1
     * (0x0a), a short length, then ValueType.type (0x08). Text formats never
     * hold NUL bytes; protobuf nearly always does. */
    if (len >= 3 && p[0] == 0x0a && p[1] < 0x80 && p[2] == 0x08)
        return BTS_REPORT_FORMAT_PPROF;
    if (memchr(p, '\0', len))
        return BTS_REPORT_FORMAT_PPROF;
    while (i < len && (p[i] == ' ' || p[i] == '\n' || p[i] == '\r' || p[i] == '\t'))
        i++;
    if (i < len && p[i] == '{')
        return BTS_REPORT_FORMAT_SPEEDSCOPE;
    if (bts_perf_script_sniff(head, len))
        return BTS_REPORT_FORMAT_PERF_SCRIPT;
    return BTS_REPORT_FORMAT_FOLDED;
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

int bts_report_load(FILE *in, const char *name, const struct bts_report_load_opts *o,
                    struct bts_calltree *t, bts_folded_diag_fn diag, void *diag_ctx,
                    enum bts_report_format *used, char *err, size_t errlen)
{
    static const struct bts_report_load_opts defaults;
    cookie_io_functions_t io = {.read = replay_read};
    struct replay *r = calloc(1, sizeof(*r));
    enum bts_report_format f;
    FILE *s = NULL;
    int ret = 0;

    if (!o)
        o = &defaults;
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
    f = o->format != BTS_REPORT_FORMAT_AUTO ? o->format : bts_report_format_sniff(r->head, r->len);
    if (used)
        *used = f;
    s = fopencookie(r, "r", io);
    if (!s) {
        ret = -errno;
        goto out;
    }
    switch (f) {
    case BTS_REPORT_FORMAT_PPROF:
        ret = bts_pprof_read(s, o->sample_type, t, err, errlen);
        break;
    case BTS_REPORT_FORMAT_SPEEDSCOPE:
        ret = bts_speedscope_read(s, t, err, errlen);
        break;
    case BTS_REPORT_FORMAT_PERF_SCRIPT: {
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

/* Depth-first over a finished tree in name order with the path so far. */
struct dfs {
    bts_calltree_node *path;
    size_t *next;
    size_t sp;
};

static int dfs_init(struct dfs *d, const struct bts_calltree *t)
{
    size_t cap = (size_t)bts_calltree_max_depth(t) + 2;

    d->path = calloc(cap, sizeof(*d->path));
    d->next = calloc(cap, sizeof(*d->next));
    d->sp = 1;
    if (!d->path || !d->next)
        return -ENOMEM;
    d->path[0] = BTS_CALLTREE_ROOT;
    return 0;
}

static void dfs_free(struct dfs *d)
{
    free(d->path);
    free(d->next);
}

/* Returns the next node in pre-order (depth of the path is d->sp - 1), or
 * BTS_CALLTREE_ROOT when done. */
static bts_calltree_node dfs_next(struct dfs *d, const struct bts_calltree *t)
{
    while (d->sp) {
        bts_calltree_node n = d->path[d->sp - 1];
        const bts_calltree_node *kids;
        size_t nk = bts_calltree_children(t, n, &kids);

        if (d->next[d->sp - 1] < nk) {
            bts_calltree_node c = kids[d->next[d->sp - 1]++];
            d->path[d->sp] = c;
            d->next[d->sp] = 0;
            d->sp++;
            return c;
        }
        d->sp--;
    }
    return BTS_CALLTREE_ROOT;
}

int bts_report_write_folded(const struct bts_calltree *t, FILE *out)
{
    bool diff = bts_calltree_is_differential(t);
    struct dfs d;
    bts_calltree_node n;
    int err = dfs_init(&d, t);

    if (err)
        goto out;
    /* Samples without frames come first, as a line with no stack. */
    n = BTS_CALLTREE_ROOT;
    do {
        uint64_t c[2] = {bts_calltree_self(t, n, 0), bts_calltree_self(t, n, 1)};
        if (!c[0] && !(diff && c[1]))
            continue;
        for (size_t i = 1; i < d.sp; i++) {
            size_t len;
            const char *name = bts_calltree_name(t, d.path[i], &len);
            if (i > 1)
                putc(';', out);
            fwrite(name, 1, len, out);
        }
        if (diff)
            fprintf(out, " %" PRIu64 " %" PRIu64 "\n", c[0], c[1]);
        else
            fprintf(out, " %" PRIu64 "\n", c[0]);
    } while ((n = dfs_next(&d, t)) != BTS_CALLTREE_ROOT);
    if (fflush(out) || ferror(out))
        err = -EIO;
out:
    dfs_free(&d);
    return err;
}

static bool parse_root_frame(const char *prefix, const char *name, size_t len, const char **tname,
                             size_t *tname_len, int64_t *id)
{
    size_t pl = strlen(prefix), open, i;
    int64_t v = 0;

    if (len < pl + 4 || memcmp(name, prefix, pl) || name[len - 1] != ')')
        return false;
    for (open = len - 1; open > pl; open--)
        if (name[open] == '(')
            break;
    if (open <= pl || name[open - 1] != ' ' || open + 1 == len - 1)
        return false;
    for (i = open + 1; i < len - 1; i++) {
        if (name[i] < '0' || name[i] > '9' || v > (INT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (name[i] - '0');
    }
    *tname = name + pl;
    *tname_len = open - 1 - pl;
    *id = v;
    return true;
}

bool bts_report_parse_thread_frame(const char *name, size_t len, const char **tname,
                                   size_t *tname_len, int64_t *tid)
{
    return parse_root_frame("thread ", name, len, tname, tname_len, tid);
}

static bool is_context_frame(const char *name, size_t len)
{
    const char *n;
    size_t l;
    int64_t id;

    return parse_root_frame("thread ", name, len, &n, &l, &id) ||
           parse_root_frame("process ", name, len, &n, &l, &id);
}

struct row {
    uint32_t name;
    uint64_t self, total;
};

static int cmp_keys(uint64_t kx, uint64_t ky, uint64_t sx, uint64_t sy, const struct row *x,
                    const struct row *y)
{
    if (kx != ky)
        return kx > ky ? -1 : 1;
    if (sx != sy)
        return sx > sy ? -1 : 1;
    return (x->name > y->name) - (x->name < y->name);
}

static int cmp_by_self(const void *a, const void *b)
{
    const struct row *x = a, *y = b;
    return cmp_keys(x->self, y->self, x->total, y->total, x, y);
}

static int cmp_by_total(const void *a, const void *b)
{
    const struct row *x = a, *y = b;
    return cmp_keys(x->total, y->total, x->self, y->self, x, y);
}

static void write_markdown_cell(FILE *out, const char *s, size_t len)
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

static void write_csv_cell(FILE *out, const char *s, size_t len)
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
static void write_text_cell(FILE *out, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        putc((unsigned char)s[i] < 0x20 ? '?' : s[i], out);
}

int bts_report_write(const struct bts_calltree *t, const struct bts_report_opts *o, FILE *out)
{
    size_t nnames = bts_calltree_name_count(t), nrows = 0, width = 8;
    struct row *rows = calloc(nnames + 1, sizeof(*rows));
    size_t *row_of = calloc(nnames + 1, sizeof(*row_of));
    size_t *stamp = calloc(nnames + 1, sizeof(*stamp));
    uint64_t grand = bts_calltree_self(t, BTS_CALLTREE_ROOT, 0); /* samples without frames */
    size_t visit = 0;
    struct dfs d = {0};
    bts_calltree_node n;
    int err = -ENOMEM;

    if (!rows || !row_of || !stamp || dfs_init(&d, t))
        goto out;
    err = 0;
    for (size_t i = 0; i < nnames; i++)
        row_of[i] = SIZE_MAX;
    while ((n = dfs_next(&d, t)) != BTS_CALLTREE_ROOT) {
        uint64_t self = bts_calltree_self(t, n, 0);
        if (!self)
            continue;
        grand += self;
        visit++;
        /* Each distinct function on the stack gets the sample once. */
        bool leading = true;
        for (size_t i = 1; i < d.sp; i++) {
            size_t len;
            const char *name = bts_calltree_name(t, d.path[i], &len);
            uint32_t id = bts_calltree_name_id(t, d.path[i]);
            if (leading && is_context_frame(name, len))
                continue;
            leading = false;
            if (row_of[id] == SIZE_MAX) {
                row_of[id] = nrows;
                rows[nrows++].name = id;
            }
            struct row *r = &rows[row_of[id]];
            if (stamp[id] != visit) {
                stamp[id] = visit;
                r->total += self;
            }
            if (i == d.sp - 1)
                r->self += self;
        }
    }
    qsort(rows, nrows, sizeof(*rows), o->by == BTS_REPORT_BY_TOTAL ? cmp_by_total : cmp_by_self);
    size_t shown = o->top && o->top < nrows ? o->top : nrows;
    for (size_t i = 0; i < shown; i++) {
        size_t len;
        bts_calltree_name_by_id(t, rows[i].name, &len);
        if (len > width)
            width = len > 60 ? 60 : len;
    }

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
    for (size_t i = 0; i < shown; i++) {
        const struct row *r = &rows[i];
        size_t len;
        const char *name = bts_calltree_name_by_id(t, r->name, &len);
        double sp = grand ? 100.0 * (double)r->self / (double)grand : 0;
        double tp = grand ? 100.0 * (double)r->total / (double)grand : 0;

        switch (o->style) {
        case BTS_REPORT_TEXT:
            fprintf(out, "%4zu  ", i + 1);
            write_text_cell(out, name, len);
            fprintf(out, "%*s  %6.2f%%  %6.2f%%  %12" PRIu64 "  %12" PRIu64 "\n",
                    len < width ? (int)(width - len) : 0, "", sp, tp, r->self, r->total);
            break;
        case BTS_REPORT_MARKDOWN:
            fprintf(out, "| %zu | ", i + 1);
            write_markdown_cell(out, name, len);
            fprintf(out, " | %.2f%% | %.2f%% | %" PRIu64 " | %" PRIu64 " |\n", sp, tp, r->self,
                    r->total);
            break;
        case BTS_REPORT_CSV:
            fprintf(out, "%zu,", i + 1);
            write_csv_cell(out, name, len);
            fprintf(out, ",%.2f,%.2f,%" PRIu64 ",%" PRIu64 "\n", sp, tp, r->self, r->total);
            break;
        case BTS_REPORT_JSON:
            fprintf(out, "%s\n {\"rank\":%zu,\"function\":", i ? "," : "", i + 1);
            bts_speedscope_json_string(out, name, len);
            fprintf(out,
                    ",\"self_percent\":%.4f,\"total_percent\":%.4f,\"self_samples\":%" PRIu64
                    ",\"total_samples\":%" PRIu64 "}",
                    sp, tp, r->self, r->total);
            break;
        }
    }
    if (o->style == BTS_REPORT_JSON)
        fputs("\n]}\n", out);
    if (fflush(out) || ferror(out))
        err = -EIO;
out:
    dfs_free(&d);
    free(rows);
    free(row_of);
    free(stamp);
    return err;
}
