/* SPDX-License-Identifier: MIT */
/* folded: block-buffered line reader and `stack count [count]` splitter. */
#define _GNU_SOURCE
#include "folded.h"
#include "line-limit.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK_SIZE (256u << 10) /* a read; lines may be longer, up to the line limit */

struct bts_folded_reader {
    FILE *in;
    char *name;
    unsigned flags;
    bts_folded_diag_fn diag;
    void *diag_ctx;
    char *buf;     /* buf[0..len) holds unread bytes from pos */
    size_t cap;    /* allocated, always > len so a NUL fits */
    size_t pos;    /* start of the next line */
    size_t len;    /* bytes valid in buf */
    bool eof;      /* fread hit the end (or an error) */
    int read_err;  /* errno of a read error, reported after the buffered lines */
    int fatal;     /* -errno every later call returns (a line over the limit) */
    uint64_t line; /* number of the last line handed out or skipped */
    uint64_t stacks;
    uint64_t malformed;
    uint64_t bytes;
    unsigned ncounts;
};

struct bts_folded_reader *bts_folded_reader_new(FILE *in, const char *name, unsigned flags,
                                                bts_folded_diag_fn diag, void *diag_ctx)
{
    struct bts_folded_reader *r = calloc(1, sizeof(*r));
    int err = ENOMEM;

    if (!r)
        goto fail;
    r->name = strdup(name ? name : "-");
    r->cap = BLOCK_SIZE + 1;
    r->buf = malloc(r->cap);
    if (!r->name || !r->buf)
        goto fail;
    r->in = in;
    r->flags = flags;
    r->diag = diag;
    r->diag_ctx = diag_ctx;
    return r;
fail:
    bts_folded_reader_free(r);
    errno = err;
    return NULL;
}

void bts_folded_reader_free(struct bts_folded_reader *r)
{
    if (!r)
        return;
    free(r->name);
    free(r->buf);
    free(r);
}

/* Makes room and reads another block. Returns bytes read (0 at EOF), or
 * -ENOMEM. */
static long refill(struct bts_folded_reader *r)
{
    size_t got;

    if (r->eof)
        return 0;
    if (r->pos > 0) {
        memmove(r->buf, r->buf + r->pos, r->len - r->pos);
        r->len -= r->pos;
        r->pos = 0;
    }
    if (r->cap - 1 - r->len < BLOCK_SIZE / 2) {
        /* A line longer than half a block: grow, up to the line limit
         * (the caller stops before a line passes it). */
        size_t ncap = r->cap * 2;
        char *nbuf = realloc(r->buf, ncap);
        if (!nbuf)
            return -ENOMEM;
        r->buf = nbuf;
        r->cap = ncap;
    }
    got = fread(r->buf + r->len, 1, r->cap - 1 - r->len, r->in);
    if (got == 0) {
        r->eof = true;
        if (ferror(r->in))
            r->read_err = errno ? errno : EIO;
    }
    r->len += got;
    r->bytes += got;
    return (long)got;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

/* True when the digits at num (after lo) are a count with a minus sign:
 * "stack -3". */
static bool is_negative(const char *lo, const char *num)
{
    return num - lo >= 2 && num[-1] == '-' && is_blank(num[-2]);
}

/* Parses the decimal number ending at `end` (exclusive), starting after
 * `lo`. Returns the start of the digits, or NULL when there are none. Sets
 * *overflow when the number does not fit. */
static const char *number_before(const char *lo, const char *end, uint64_t *out, bool *overflow)
{
    const char *p = end;
    uint64_t v = 0;

    while (p > lo && p[-1] >= '0' && p[-1] <= '9')
        p--;
    if (p == end)
        return NULL;
    for (const char *q = p; q < end; q++) {
        unsigned d = (unsigned)(*q - '0');
        if (v > (UINT64_MAX - d) / 10)
            *overflow = true;
        v = v * 10 + d;
    }
    *out = v;
    return p;
}

/* Splits [s, e) into stack and counts. Returns NULL on success, else the
 * reason the line is malformed; sets *blank for an empty line. */
static const char *parse_line(struct bts_folded_reader *r, char *s, char *e,
                              struct bts_folded_record *rec, bool *blank)
{
    const char *num, *stack_end;
    bool overflow = false;
    uint64_t c1 = 0, c0 = 0;

    while (e > s && is_blank(e[-1]))
        e--;
    *blank = e == s;
    if (*blank)
        return NULL;
    if (memchr(s, '\0', (size_t)(e - s)))
        return "NUL byte in line";
    num = number_before(s, e, &c1, &overflow);
    if (!num)
        return "missing count";
    if (num == s)
        return "missing stack";
    if (is_negative(s, num))
        return "negative count";
    if (!is_blank(num[-1]))
        return "missing count";
    stack_end = num;
    while (stack_end > s && is_blank(stack_end[-1]))
        stack_end--;
    rec->ncounts = 1;
    rec->count[0] = c1;
    rec->count[1] = 0;
    if (r->ncounts != 1) {
        /* The first line decides; later lines must match. */
        const char *num0 = number_before(s, stack_end, &c0, &overflow);
        if (num0 && num0 > s && is_blank(num0[-1])) {
            rec->ncounts = 2;
            rec->count[0] = c0;
            rec->count[1] = c1;
            stack_end = num0;
            while (stack_end > s && is_blank(stack_end[-1]))
                stack_end--;
        } else if (r->ncounts == 2) {
            return num0 && is_negative(s, num0) ? "negative count"
                                                : "expected 2 counts (before after)";
        }
    }
    if (overflow)
        return "count out of range";
    /* " 12": samples without frames (flamegraph.pl counts them in the total;
     * perf's stackcollapse writes them for --no-comm kernel-only samples). */
    if (r->ncounts == 0)
        r->ncounts = rec->ncounts;
    rec->stack = s;
    rec->stack_len = (size_t)(stack_end - s);
    s[rec->stack_len] = '\0';
    return NULL;
}

/* Reports the line after the last one read as longer than the limit and
 * stops the reader there. */
static int too_long(struct bts_folded_reader *r)
{
    r->line++;
    r->malformed++;
    if (r->diag)
        r->diag(r->diag_ctx, r->name, r->line, BTS_LINE_LIMIT_REASON);
    r->fatal = -EMSGSIZE;
    return r->fatal;
}

int bts_folded_reader_next(struct bts_folded_reader *r, struct bts_folded_record *rec)
{
    if (r->fatal)
        return r->fatal;
    for (;;) {
        char *s = r->buf + r->pos;
        char *nl = memchr(s, '\n', r->len - r->pos);
        char *e;
        const char *reason;
        bool blank;

        if ((size_t)((nl ? nl : r->buf + r->len) - s) > BTS_LINE_LIMIT_BYTES)
            return too_long(r);
        if (!nl) {
            long got;
            if (!r->eof) {
                got = refill(r);
                if (got < 0)
                    return (int)got;
                continue;
            }
            if (r->pos == r->len)
                return r->read_err ? -r->read_err : 0;
            /* Last line without a newline. */
            e = r->buf + r->len;
            r->pos = r->len;
        } else {
            e = nl;
            r->pos = (size_t)(nl - r->buf) + 1;
        }
        r->line++;
        reason = parse_line(r, s, e, rec, &blank);
        if (blank)
            continue;
        if (reason) {
            r->malformed++;
            if (r->diag)
                r->diag(r->diag_ctx, r->name, r->line, reason);
            if (r->flags & BTS_FOLDED_STRICT)
                return -EBADMSG;
            continue;
        }
        rec->line = r->line;
        r->stacks++;
        return 1;
    }
}

uint64_t bts_folded_reader_stacks(const struct bts_folded_reader *r)
{
    return r->stacks;
}

uint64_t bts_folded_reader_malformed(const struct bts_folded_reader *r)
{
    return r->malformed;
}

uint64_t bts_folded_reader_bytes(const struct bts_folded_reader *r)
{
    return r->bytes;
}

int bts_folded_write(FILE *out, const char *stack, size_t stack_len, const uint64_t *counts,
                     unsigned ncounts)
{
    if (fwrite(stack, 1, stack_len, out) != stack_len)
        return -EIO;
    for (unsigned i = 0; i < ncounts; i++)
        if (fprintf(out, " %" PRIu64, counts[i]) < 0)
            return -EIO;
    if (putc('\n', out) == EOF)
        return -EIO;
    return 0;
}

/* ---- root frames ---- */

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

bool bts_folded_parse_thread_frame(const char *name, size_t len, const char **tname,
                                   size_t *tname_len, int64_t *tid)
{
    return parse_root_frame("thread ", name, len, tname, tname_len, tid);
}

bool bts_folded_is_context_frame(const char *name, size_t len)
{
    const char *n;
    size_t l;
    int64_t id;

    return parse_root_frame("thread ", name, len, &n, &l, &id) ||
           parse_root_frame("process ", name, len, &n, &l, &id);
}
