/* SPDX-License-Identifier: MIT */
/* perf-script: block-buffered `perf script` parser folding each sample's
 * callchain into the call tree. */
#define _GNU_SOURCE /* strndup, memrchr */
#include "perf-script.h"

#include "array.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* Reads start small (short inputs stay cheap) and double up to the block
 * size that large inputs are parsed in. */
#define FIRST_BLOCK (64u << 10)
#define BLOCK_SIZE  (4u << 20)

struct frame_ref {
    size_t off; /* into frames arena */
    size_t len;
};

struct parser {
    const struct bts_perf_script_opts *o;
    struct bts_calltree *t;
    const char *name;
    bts_folded_diag_fn diag;
    void *diag_ctx;
    struct bts_perf_script_stats st;
    char *err;
    size_t errlen;
    char *event;    /* the event kept (copied) */
    bool in_sample; /* a header was seen and its frames follow */
    bool dropping;  /* the current sample is skipped (other event, malformed) */
    uint64_t count; /* of the current sample */
    char *root;     /* root frame of the current sample */
    size_t root_len, root_cap;
    char *arena; /* frame names of the current sample, leaf first */
    size_t arena_len, arena_cap;
    struct frame_ref *frames;
    size_t nframes, frames_cap;
    char *stack; /* the folded stack being built */
    size_t stack_cap;
};

/* Character classes by table: the parser tests every byte of a frame. */
enum { C_SPACE = 1, C_DIGIT = 2, C_HEX = 4 };
#define DIGIT_HEX (C_DIGIT | C_HEX)
static const unsigned char char_class[256] = {
    [' '] = C_SPACE,   ['\t'] = C_SPACE,  ['0'] = DIGIT_HEX, ['1'] = DIGIT_HEX, ['2'] = DIGIT_HEX,
    ['3'] = DIGIT_HEX, ['4'] = DIGIT_HEX, ['5'] = DIGIT_HEX, ['6'] = DIGIT_HEX, ['7'] = DIGIT_HEX,
    ['8'] = DIGIT_HEX, ['9'] = DIGIT_HEX, ['a'] = C_HEX,     ['b'] = C_HEX,     ['c'] = C_HEX,
    ['d'] = C_HEX,     ['e'] = C_HEX,     ['f'] = C_HEX,     ['A'] = C_HEX,     ['B'] = C_HEX,
    ['C'] = C_HEX,     ['D'] = C_HEX,     ['E'] = C_HEX,     ['F'] = C_HEX,
};

static bool is_space(char c)
{
    return char_class[(unsigned char)c] & C_SPACE;
}

static bool is_digit(char c)
{
    return char_class[(unsigned char)c] & C_DIGIT;
}

static bool is_hex(char c)
{
    return char_class[(unsigned char)c] & C_HEX;
}

/* Reports a malformed line; returns -EBADMSG under strict, else 0. */
static int malformed(struct parser *p, const char *reason)
{
    p->st.malformed++;
    p->dropping = true;
    if (p->diag)
        p->diag(p->diag_ctx, p->name, p->st.lines, reason);
    if (p->o->strict) {
        if (p->err && p->errlen)
            snprintf(p->err, p->errlen, "line %" PRIu64 ": %s", p->st.lines, reason);
        return -EBADMSG;
    }
    return 0;
}

/* Appends one frame name (leaf-first order) with perf's tidying. */
static int add_frame(struct parser *p, const char *sym, size_t len, bool kernel)
{
    size_t need;
    char *d;

    if (len == 0) {
        sym = "[unknown]";
        len = 9;
    }
    need = p->arena_len + len + 4;
    if (bts_array_grow((void **)&p->arena, &p->arena_cap, need, 1) ||
        bts_array_grow((void **)&p->frames, &p->frames_cap, p->nframes + 1, sizeof(*p->frames)))
        return -ENOMEM;
    d = p->arena + p->arena_len;
    memcpy(d, sym, len);
    /* ';' separates frames in folded output; perf's script writes ':'. */
    for (char *semi = memchr(d, ';', len); semi; semi = memchr(semi, ';', (size_t)(d + len - semi)))
        *semi = ':';
    if (kernel) {
        memcpy(d + len, "_[k]", 4);
        len += 4;
    }
    p->frames[p->nframes].off = p->arena_len;
    p->frames[p->nframes].len = len;
    p->nframes++;
    p->arena_len += len;
    return 0;
}

/* Parses "addr sym+off (dso)" (leading blanks already skipped). */
static int parse_frame(struct parser *p, const char *s, size_t len)
{
    size_t i = 0, end = len, sym_end;
    const char *dso = NULL;
    size_t dso_len = 0;

    while (i < len && is_hex(s[i]))
        i++;
    if (i == 0 || (i < len && !is_space(s[i])))
        return malformed(p, "frame line without an address");
    while (i < len && is_space(s[i]))
        i++;
    while (end > i && is_space(s[end - 1]))
        end--;
    sym_end = end;
    /* The dso is the last " (...)" group of the line. */
    if (end > i && s[end - 1] == ')') {
        const char *open = memrchr(s + i, '(', end - i);
        while (open && open > s + i && !is_space(open[-1]))
            open = memrchr(s + i, '(', (size_t)(open - (s + i)));
        if (open && open > s + i) {
            size_t k = (size_t)(open - s);
            dso = s + k + 1;
            dso_len = end - 1 - (k + 1);
            sym_end = k - 1;
        }
        if (!dso && s[i] == '(') {
            /* No symbol at all: "addr (dso)". */
            dso = s + i + 1;
            dso_len = end - 1 - (i + 1);
            sym_end = i;
        }
    }
    while (sym_end > i && is_space(s[sym_end - 1]))
        sym_end--;
    /* Strip "+0x1f" offsets. */
    for (size_t k = sym_end; k > i + 3; k--) {
        if (!is_hex(s[k - 1])) {
            if (s[k - 1] == 'x' && s[k - 2] == '0' && s[k - 3] == '+' && k < sym_end)
                sym_end = k - 3;
            break;
        }
    }
    bool kernel =
        p->o->annotate_kernel && dso && dso_len == 17 && !memcmp(dso, "[kernel.kallsyms]", 17);
    return add_frame(p, s + i, sym_end - i, kernel);
}

static int flush_sample(struct parser *p)
{
    size_t need, pos = 0;
    int err = 0;

    if (!p->in_sample)
        return 0;
    p->in_sample = false;
    if (p->dropping)
        goto out;
    if (p->nframes == 0 && p->root_len == 0)
        goto out;
    need = p->root_len + p->arena_len + p->nframes + 1;
    if (bts_array_grow((void **)&p->stack, &p->stack_cap, need, 1)) {
        err = -ENOMEM;
        goto out;
    }
    if (p->root_len) {
        memcpy(p->stack, p->root, p->root_len);
        pos = p->root_len;
    }
    for (size_t i = p->nframes; i-- > 0;) {
        if (pos)
            p->stack[pos++] = ';';
        memcpy(p->stack + pos, p->arena + p->frames[i].off, p->frames[i].len);
        pos += p->frames[i].len;
    }
    err = bts_calltree_add_stack(p->t, p->stack, pos, &p->count, 1, 0);
    if (!err)
        p->st.samples++;
out:
    p->nframes = 0;
    p->arena_len = 0;
    p->root_len = 0;
    p->dropping = false;
    return err;
}

static bool event_matches(const char *want, const char *ev, size_t len)
{
    size_t wl = strlen(want);

    if (wl == len && !memcmp(want, ev, len))
        return true;
    /* "cpu-clock" matches "cpu-clock:ppp". */
    return wl < len && ev[wl] == ':' && !memcmp(want, ev, wl);
}

static int set_root(struct parser *p, const char *comm, size_t comm_len, const char *pid,
                    size_t pid_len, const char *tid, size_t tid_len)
{
    size_t pos = 0;

    if (p->o->no_comm)
        return 0;
    if (bts_array_grow((void **)&p->root, &p->root_cap, comm_len + pid_len + tid_len + 16, 1))
        return -ENOMEM;
    if (p->o->thread_roots) {
        memcpy(p->root, "thread ", 7);
        pos = 7;
        for (size_t i = 0; i < comm_len; i++)
            p->root[pos++] = comm[i] == ';' ? ':' : comm[i];
        p->root[pos++] = ' ';
        p->root[pos++] = '(';
        memcpy(p->root + pos, tid, tid_len);
        pos += tid_len;
        p->root[pos++] = ')';
        p->root_len = pos;
        return 0;
    }
    for (size_t i = 0; i < comm_len; i++)
        p->root[pos++] = comm[i] == ' ' ? '_' : comm[i] == ';' ? ':' : comm[i];
    char sep = '-';
    if (p->o->include_pid) {
        p->root[pos++] = sep;
        memcpy(p->root + pos, pid, pid_len);
        pos += pid_len;
        sep = '/';
    }
    if (p->o->include_tid) {
        p->root[pos++] = sep;
        memcpy(p->root + pos, tid, tid_len);
        pos += tid_len;
    }
    p->root_len = pos;
    return 0;
}

/* True when s[j..] is blanks, an optional "[cpu]" and a time "123.456:". */
static bool followed_by_time(const char *s, size_t j, size_t len)
{
    size_t k;
    bool dot = false;

    while (j < len && is_space(s[j]))
        j++;
    if (j < len && s[j] == '[') {
        while (j < len && s[j] != ']')
            j++;
        j++;
        while (j < len && is_space(s[j]))
            j++;
    }
    for (k = j; k < len && (is_digit(s[k]) || s[k] == '.'); k++)
        dot |= s[k] == '.';
    return k > j && dot && k < len && s[k] == ':';
}

/* "comm pid[/tid] [cpu] time: [period] event: [ip sym (dso)]" */
static int parse_header(struct parser *p, const char *s, size_t len)
{
    size_t i, comm_end = 0, pid_start = 0, pid_len = 0, tid_start = 0, tid_len = 0;
    const char *ev = NULL;
    size_t ev_len = 0;
    uint64_t period = 0;
    int err;

    p->in_sample = true;
    p->dropping = false;
    p->count = 1;
    /* The comm may hold spaces and digits ("bt worker 7"): the pid is the
     * all-digit field (optionally pid/tid) that the time follows, or
     * without a time field the first such field. */
    size_t first_i = 0, first_j = 0, best_i = 0, best_j = 0;
    for (i = 1; i < len; i++) {
        if (!is_space(s[i - 1]) || !is_digit(s[i]))
            continue;
        size_t j = i;
        while (j < len && is_digit(s[j]))
            j++;
        if (j < len && s[j] == '/') {
            size_t b_start = ++j;
            while (j < len && is_digit(s[j]))
                j++;
            if (j == b_start)
                continue;
        }
        if (j < len && !is_space(s[j]))
            continue;
        if (!first_j) {
            first_i = i;
            first_j = j;
        }
        if (followed_by_time(s, j, len)) {
            best_i = i;
            best_j = j;
            break;
        }
    }
    if (!best_j) {
        best_i = first_i;
        best_j = first_j;
    }
    if (best_j) {
        size_t a_end = best_i, b_start, b_end;
        while (a_end < best_j && is_digit(s[a_end]))
            a_end++;
        b_start = a_end < best_j ? a_end + 1 : best_j;
        b_end = best_j;
        comm_end = best_i;
        while (comm_end > 0 && is_space(s[comm_end - 1]))
            comm_end--;
        pid_start = best_i;
        pid_len = a_end - best_i;
        tid_start = b_end > b_start ? b_start : best_i;
        tid_len = b_end > b_start ? b_end - b_start : pid_len;
        i = best_j;
    }
    if (!pid_len || !comm_end)
        return malformed(p, "sample header without a pid");
    /* Fields up to the event name, the first field ending in ':' that is
     * not the time. */
    while (i < len) {
        while (i < len && is_space(s[i]))
            i++;
        size_t start = i;
        while (i < len && !is_space(s[i]))
            i++;
        if (i == start)
            break;
        const char *f = s + start;
        size_t fl = i - start;
        if (f[0] == '[')
            continue; /* [cpu] */
        if (f[fl - 1] == ':') {
            size_t k = 0;
            bool time = true;
            for (k = 0; k + 1 < fl; k++)
                if (!is_digit(f[k]) && f[k] != '.')
                    time = false;
            if (time && fl > 1)
                continue;
            ev = f;
            ev_len = fl - 1;
            break;
        }
        bool num = true;
        for (size_t k = 0; k < fl; k++)
            if (!is_digit(f[k]))
                num = false;
        if (num) {
            period = 0;
            for (size_t k = 0; k < fl && period < UINT64_MAX / 10 - 10; k++)
                period = period * 10 + (uint64_t)(f[k] - '0');
        }
    }
    if (!ev || ev_len == 0)
        return malformed(p, "sample header without an event name");
    if (!p->event) {
        /* Without --event the first event seen is kept, as
         * stackcollapse-perf.pl does. */
        p->event = p->o->event ? strdup(p->o->event) : strndup(ev, ev_len);
        if (!p->event)
            return -ENOMEM;
    }
    if (!event_matches(p->event, ev, ev_len)) {
        p->st.skipped++;
        p->dropping = true;
        return 0;
    }
    if (p->o->use_period)
        p->count = period ? period : 1;
    err = set_root(p, s, comm_end, s + pid_start, pid_len, s + tid_start, tid_len);
    if (err)
        return err;
    /* Without callchains the ip and symbol follow the event on this line. */
    while (i < len && is_space(s[i]))
        i++;
    if (i < len && is_hex(s[i]))
        return parse_frame(p, s + i, len - i);
    return 0;
}

static int parse_line(struct parser *p, const char *s, size_t len)
{
    size_t i = 0;

    if (len && s[len - 1] == '\r')
        len--;
    while (i < len && is_space(s[i]))
        i++;
    if (i == len) /* blank line: the sample ends */
        return flush_sample(p);
    if (i > 0) {
        if (!p->in_sample)
            return malformed(p, "frame line outside a sample");
        if (p->dropping)
            return 0;
        return parse_frame(p, s + i, len - i);
    }
    if (s[0] == '#' && !p->in_sample)
        return 0;
    int err = flush_sample(p);
    if (err)
        return err;
    return parse_header(p, s, len);
}

int bts_perf_script_read(FILE *in, const char *name, const struct bts_perf_script_opts *o,
                         struct bts_calltree *t, bts_folded_diag_fn diag, void *diag_ctx,
                         struct bts_perf_script_stats *stats, char *err, size_t errlen)
{
    static const struct bts_perf_script_opts defaults;
    struct parser p = {0};
    char *buf = NULL;
    size_t cap = FIRST_BLOCK, len = 0, pos = 0;
    bool eof = false;
    int ret = 0;

    p.o = o ? o : &defaults;
    p.t = t;
    p.name = name ? name : "-";
    p.diag = diag;
    p.diag_ctx = diag_ctx;
    p.err = err;
    p.errlen = errlen;
    buf = malloc(cap);
    if (!buf) {
        ret = -ENOMEM;
        goto out;
    }
    for (;;) {
        char *nl = pos < len ? memchr(buf + pos, '\n', len - pos) : NULL;
        if (!nl) {
            if (eof) {
                if (pos < len) {
                    p.st.lines++;
                    ret = parse_line(&p, buf + pos, len - pos);
                    if (ret)
                        goto out;
                }
                break;
            }
            /* Keep the partial line and refill behind it. */
            memmove(buf, buf + pos, len - pos);
            len -= pos;
            pos = 0;
            /* Grow for a line longer than the buffer, or because the
             * input outlasted the blocks read so far. */
            if (len == cap || (cap < BLOCK_SIZE && p.st.bytes)) {
                char *nb = cap > SIZE_MAX / 2 ? NULL : realloc(buf, cap * 2);
                if (!nb) {
                    ret = -ENOMEM;
                    goto out;
                }
                buf = nb;
                cap *= 2;
            }
            size_t got = fread(buf + len, 1, cap - len, in);
            p.st.bytes += got;
            len += got;
            if (got == 0) {
                if (ferror(in)) {
                    ret = errno ? -errno : -EIO;
                    goto out;
                }
                eof = true;
            }
            continue;
        }
        p.st.lines++;
        ret = parse_line(&p, buf + pos, (size_t)(nl - (buf + pos)));
        if (ret)
            goto out;
        pos = (size_t)(nl - buf) + 1;
    }
    ret = flush_sample(&p);
out:
    if (stats)
        *stats = p.st;
    free(buf);
    free(p.event);
    free(p.root);
    free(p.arena);
    free(p.frames);
    free(p.stack);
    return ret;
}

bool bts_perf_script_sniff(const char *head, size_t len)
{
    size_t i = 0;

    /* Skip comment lines perf script --header prints. */
    while (i < len && head[i] == '#') {
        const char *nl = memchr(head + i, '\n', len - i);
        if (!nl)
            return false;
        i = (size_t)(nl - head) + 1;
    }
    const char *nl = memchr(head + i, '\n', len - i);
    if (!nl || i >= len || is_space(head[i]))
        return false;
    size_t hl = (size_t)(nl - (head + i));
    const char *h = head + i;
    /* A header ends its event with ':' and has a digit field (the pid). */
    bool colon = false, digit_field = false;
    for (size_t k = 1; k < hl; k++) {
        if (h[k] == ':')
            colon = true;
        if (is_space(h[k - 1]) && is_digit(h[k]))
            digit_field = true;
    }
    if (!colon || !digit_field)
        return false;
    size_t j = (size_t)(nl - head) + 1;
    if (j >= len || !is_space(head[j]))
        return false;
    while (j < len && is_space(head[j]))
        j++;
    size_t k = j;
    while (k < len && is_hex(head[k]))
        k++;
    return k > j && k < len && is_space(head[k]);
}
