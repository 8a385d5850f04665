/* SPDX-License-Identifier: MIT */
/* perf-script: block-buffered `perf script` parser folding each sample's
 * callchain into the call tree, by stackcollapse-perf.pl's rules or perf's. */
#define _GNU_SOURCE /* strndup, memrchr */
#include "perf-script.h"

#include "array.h"
#include "line-limit.h"

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
    char *event;          /* the event kept (copied) */
    bool in_sample;       /* perf: a header was seen and its frames follow */
    bool dropping;        /* perf: the current sample is skipped (other event, malformed) */
    bool have_root;       /* flamegraph: a header was taken and no blank line has come since */
    bool java;            /* flamegraph: the sample's comm starts with "java" */
    bool event_defaulted; /* the event kept is the first one seen, not asked for */
    bool event_noted;     /* the note about other events was given */
    uint64_t header_line; /* line of the current sample's header */
    char note[192];       /* diagnostics with names in them */
    uint64_t count;       /* of the current sample */
    char *root;           /* root frame of the current sample */
    size_t root_len, root_cap;
    char *arena; /* frame names of the current sample, leaf first */
    size_t arena_len, arena_cap;
    struct frame_ref *frames;
    size_t nframes, frames_cap;
    char *stack; /* the folded stack being built */
    size_t stack_cap;
};

/* Character classes by table: the parser tests every byte of a frame.
 * C_SPACE is perf's field separator (blank, tab); C_WS is what a Perl \s
 * matches in a byte string; C_WORD is \w (a-z A-Z 0-9 _); C_LHEX is a
 * digit of an offset as stackcollapse-perf.pl strips it (0-9 a-f); C_TIDY
 * marks the bytes its name tidying looks at. */
enum { C_SPACE = 1, C_DIGIT = 2, C_HEX = 4, C_WS = 8, C_WORD = 16, C_LHEX = 32, C_TIDY = 64 };
#define DIG (C_DIGIT | C_HEX | C_WORD | C_LHEX)
#define LOW (C_WORD | C_HEX | C_LHEX) /* a-f */
#define UPH (C_WORD | C_HEX)          /* A-F */
static const unsigned char char_class[256] = {
    [' '] = C_SPACE | C_WS,
    ['\t'] = C_SPACE | C_WS,
    ['\n'] = C_WS,
    ['\v'] = C_WS,
    ['\f'] = C_WS,
    ['\r'] = C_WS,
    ['0'] = DIG,
    ['1'] = DIG,
    ['2'] = DIG,
    ['3'] = DIG,
    ['4'] = DIG,
    ['5'] = DIG,
    ['6'] = DIG,
    ['7'] = DIG,
    ['8'] = DIG,
    ['9'] = DIG,
    ['a'] = LOW,
    ['b'] = LOW,
    ['c'] = LOW,
    ['d'] = LOW,
    ['e'] = LOW,
    ['f'] = LOW,
    ['A'] = UPH,
    ['B'] = UPH,
    ['C'] = UPH,
    ['D'] = UPH,
    ['E'] = UPH,
    ['F'] = UPH,
    ['g'] = C_WORD,
    ['h'] = C_WORD,
    ['i'] = C_WORD,
    ['j'] = C_WORD,
    ['k'] = C_WORD,
    ['l'] = C_WORD,
    ['m'] = C_WORD,
    ['n'] = C_WORD,
    ['o'] = C_WORD,
    ['p'] = C_WORD,
    ['q'] = C_WORD,
    ['r'] = C_WORD,
    ['s'] = C_WORD,
    ['t'] = C_WORD,
    ['u'] = C_WORD,
    ['v'] = C_WORD,
    ['w'] = C_WORD,
    ['x'] = C_WORD,
    ['y'] = C_WORD,
    ['z'] = C_WORD,
    ['G'] = C_WORD,
    ['H'] = C_WORD,
    ['I'] = C_WORD,
    ['J'] = C_WORD,
    ['K'] = C_WORD,
    ['L'] = C_WORD,
    ['M'] = C_WORD,
    ['N'] = C_WORD,
    ['O'] = C_WORD,
    ['P'] = C_WORD,
    ['Q'] = C_WORD,
    ['R'] = C_WORD,
    ['S'] = C_WORD,
    ['T'] = C_WORD,
    ['U'] = C_WORD,
    ['V'] = C_WORD,
    ['W'] = C_WORD,
    ['X'] = C_WORD,
    ['Y'] = C_WORD,
    ['Z'] = C_WORD,
    ['_'] = C_WORD,
    [';'] = C_TIDY,
    ['('] = C_TIDY,
    ['"'] = C_TIDY,
    ['\''] = C_TIDY,
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

static bool is_ws(char c)
{
    return char_class[(unsigned char)c] & C_WS;
}

static bool is_word(char c)
{
    return char_class[(unsigned char)c] & C_WORD;
}

static bool is_lhex(char c)
{
    return char_class[(unsigned char)c] & C_LHEX;
}

/* Reports a line that is not an error (no count, no stop under strict). */
static void note(struct parser *p, uint64_t line, const char *reason)
{
    if (p->diag)
        p->diag(p->diag_ctx, p->name, line, reason);
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

/* Adds the root frame and the frames gathered (leaf first) as one stack;
 * the list is cleared either way. */
static int emit_stack(struct parser *p)
{
    size_t need, pos = 0;
    bool any = false;
    int err = 0;

    /* perf's stackcollapse keeps a sample with neither comm nor frames as
     * an empty stack; stackcollapse-perf.pl leaves it out. */
    if (p->nframes == 0 && p->root_len == 0 && p->o->convention != BTS_PERF_SCRIPT_PERF)
        goto out;
    need = p->root_len + p->arena_len + p->nframes + 1;
    if (bts_array_grow((void **)&p->stack, &p->stack_cap, need, 1)) {
        err = -ENOMEM;
        goto out;
    }
    if (p->root_len) {
        memcpy(p->stack, p->root, p->root_len);
        pos = p->root_len;
        any = true;
    }
    for (size_t i = p->nframes; i-- > 0;) {
        if (any)
            p->stack[pos++] = ';';
        memcpy(p->stack + pos, p->arena + p->frames[i].off, p->frames[i].len);
        pos += p->frames[i].len;
        any = true;
    }
    err = bts_calltree_add_stack(p->t, p->stack, pos, &p->count, 1, 0);
    if (!err)
        p->st.samples++;
out:
    p->nframes = 0;
    p->arena_len = 0;
    return err;
}

static int flush_sample(struct parser *p)
{
    int err = 0;

    if (!p->in_sample)
        return 0;
    p->in_sample = false;
    if (!p->dropping)
        err = emit_stack(p);
    p->nframes = 0;
    p->arena_len = 0;
    p->root_len = 0;
    p->dropping = false;
    return err;
}

static bool event_matches(const char *want, bool exact, const char *ev, size_t len)
{
    size_t wl = strlen(want);

    if (wl == len && !memcmp(want, ev, len))
        return true;
    /* "cpu-clock" matches "cpu-clock:ppp". */
    return !exact && wl < len && ev[wl] == ':' && !memcmp(want, ev, wl);
}

/* The root frame: "thread COMM (TID)" under thread_roots, else the comm
 * with blanks as '_' and the ids each convention adds (perf's also turns
 * ';' into ':'). */
static int set_root(struct parser *p, const char *comm, size_t comm_len, const char *pid,
                    size_t pid_len, const char *tid, size_t tid_len)
{
    bool perf = p->o->convention == BTS_PERF_SCRIPT_PERF;
    bool with_pid = p->o->include_pid || (!perf && p->o->include_tid);
    size_t pos = 0;

    p->root_len = 0;
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
        p->root[pos++] = comm[i] == ' ' ? '_' : perf && comm[i] == ';' ? ':' : comm[i];
    if (with_pid) {
        p->root[pos++] = '-';
        memcpy(p->root + pos, pid, pid_len);
        pos += pid_len;
    }
    if (p->o->include_tid) {
        p->root[pos++] = with_pid ? '/' : '-';
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
    if (!event_matches(p->event, p->o->event_exact, ev, ev_len)) {
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

static int perf_line(struct parser *p, const char *s, size_t len)
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

/*
 * The FlameGraph convention: stackcollapse-perf.pl's reading of each line,
 * rule for rule, so that both give the same folded stacks for any input.
 * A line is a comment ('#'), empty (the sample ends), a sample header, a
 * frame, or unrecognized, tried in that order.
 */

struct fg_frame {
    const char *pc, *sym, *mod;
    size_t pc_len, sym_len, mod_len;
};

/* Header: a comm of at least two bytes that starts with a non-blank, then
 * blanks, the pid digits, optional slashes and tid digits, and a blank.
 * The comm is the shortest prefix that is followed so ("V8 WorkerThread
 * 25607 ..." has comm "V8 WorkerThread"). */
static bool fg_match_header(const char *s, size_t len, size_t *comm_len, size_t pid[2],
                            size_t tid[2])
{
    if (len < 3 || is_ws(s[0]))
        return false;
    for (size_t c = 2; c < len; c++) {
        size_t end = c, j = c, k, m, n;
        if (!is_ws(s[c]))
            continue;
        while (j < len && is_ws(s[j]))
            j++;
        /* Any later start inside this blank run meets the same digits. */
        c = j - 1;
        if (j == len || !is_digit(s[j]))
            continue;
        for (k = j; k < len && is_digit(s[k]);)
            k++;
        for (m = k; m < len && s[m] == '/';)
            m++;
        for (n = m; n < len && is_digit(s[n]);)
            n++;
        if (n == len || !is_ws(s[n]))
            continue;
        *comm_len = end;
        pid[0] = j;
        pid[1] = k;
        tid[0] = m;
        tid[1] = n;
        return true;
    }
    return false;
}

/* The event is the last field when it ends in ':' ("cpu-clock:pppH:"),
 * preceded by blanks, an optional period and blanks, and a ':' (the
 * time's). Spans are [start, end); per is empty without a period. */
static bool fg_match_event(const char *s, size_t len, size_t ev[2], size_t per[2])
{
    size_t e = len, t, w, d, x;

    while (e > 0 && is_ws(s[e - 1]))
        e--;
    if (e < 2 || s[e - 1] != ':')
        return false;
    for (t = e - 1; t > 0 && !is_ws(s[t - 1]);)
        t--;
    if (t == e - 1 || t == 0)
        return false;
    for (w = t; w > 0 && is_ws(s[w - 1]);)
        w--;
    for (d = w; d > 0 && is_digit(s[d - 1]);)
        d--;
    x = d;
    if (d < w)
        while (x > 0 && is_ws(s[x - 1]))
            x--;
    if (x == 0 || s[x - 1] != ':')
        return false;
    ev[0] = t;
    ev[1] = e - 1;
    per[0] = d;
    per[1] = w;
    return true;
}

/* Frame: "PC SYMBOL (MODULE)" where PC is word characters, MODULE runs
 * from the last " (" that a ')' follows to the last ')', and SYMBOL is
 * what lies between (at least one byte; when PC's blank is the " (" the
 * last byte of PC becomes the symbol, as the script's regex backtracks). */
static bool fg_match_frame(const char *s, size_t len, struct fg_frame *f)
{
    size_t i0 = 0, we, close, g, start;
    const char *q;

    while (i0 < len && is_ws(s[i0]))
        i0++;
    for (we = i0; we < len && is_word(s[we]);)
        we++;
    if (we == i0)
        return false;
    q = memrchr(s + we, ')', len - we);
    if (!q)
        return false;
    close = (size_t)(q - s);
    /* The rightmost " (" whose '(' comes before that ')'. */
    for (q = memrchr(s + we, '(', close - we); q && (q == s + we || q[-1] != ' ');)
        q = q > s + we ? memrchr(s + we, '(', (size_t)(q - (s + we))) : NULL;
    if (!q)
        return false;
    g = (size_t)(q - s) - 1;
    if (g > we) {
        for (start = we; start < g - 1 && is_ws(s[start]);)
            start++;
        f->pc_len = we - i0;
    } else {
        if (we - i0 < 2)
            return false;
        start = we - 1;
        f->pc_len = we - 1 - i0;
    }
    f->pc = s + i0;
    f->sym = s + start;
    f->sym_len = g - start;
    f->mod = s + g + 2;
    f->mod_len = close - (g + 2);
    return true;
}

static bool fg_kernel_module(const char *mod, size_t len)
{
    if (len && mod[0] == '[')
        return !memmem(mod, len, "unknown", 7);
    return len >= 7 && !memcmp(mod + len - 7, "vmlinux", 7) && !memmem(mod, len, "unknown", 7);
}

/* The module is a perf map: it holds "/tmp/perf-<digits>.map". */
static bool fg_jit_module(const char *mod, size_t len)
{
    const char *end = mod + len, *at = mod;

    while ((at = memmem(at, (size_t)(end - at), "/tmp/perf-", 10))) {
        const char *d = at + 10;
        while (d < end && is_digit(*d))
            d++;
        if (d > at + 10 && end - d >= 4 && !memcmp(d, ".map", 4))
            return true;
        at += 10;
    }
    return false;
}

/* Go method names ("net/http.(*Client).Do") keep their parentheses: a
 * ".(" with a ")." after it. */
static bool fg_go_method(const char *d, size_t n)
{
    const char *a = memmem(d, n, ".(", 2);
    size_t b;

    if (!a)
        return false;
    for (b = n - 1; b > 0; b--)
        if (d[b - 1] == ')' && d[b] == '.')
            return (size_t)(a - d) + 2 <= b - 1;
    return false;
}

/* Tidies a name in place: ';' to ':', everything from the first '(' that
 * does not open "(anonymous namespace)" dropped (unless a Go method), quotes
 * deleted, and a Java frame's leading 'L' dropped. Returns the new length. */
static size_t fg_tidy(char *d, size_t n, bool java)
{
    size_t cut = n;
    bool paren = false, quote = false;

    for (size_t i = 0; i < n; i++) {
        if (!(char_class[(unsigned char)d[i]] & C_TIDY))
            continue;
        if (d[i] == ';') {
            d[i] = ':';
        } else if (d[i] == '(') {
            paren = true;
            if (cut == n && !(n - i > 20 && !memcmp(d + i + 1, "anonymous namespace)", 20)))
                cut = i;
        } else {
            quote = true;
        }
    }
    if (cut < n && !(paren && fg_go_method(d, n)))
        n = cut;
    if (quote) {
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            if (d[i] != '"' && d[i] != '\'')
                d[k++] = d[i];
        n = k;
    }
    if (java && n && d[0] == 'L' && memchr(d, '/', n)) {
        memmove(d, d + 1, n - 1);
        n--;
    }
    return n;
}

static bool contains(const char *d, size_t n, const char *what)
{
    return memmem(d, n, what, strlen(what)) != NULL;
}

/* Adds one "->"-separated piece of a frame's symbol; `inlined` for every
 * piece after the first. */
static int fg_add_piece(struct parser *p, const char *sym, size_t len, const struct fg_frame *f,
                        bool inlined)
{
    size_t n, room = (len > f->mod_len ? len : f->mod_len) + f->pc_len + 12;
    char *d;

    if ((p->arena_len + room > p->arena_cap &&
         bts_array_grow((void **)&p->arena, &p->arena_cap, p->arena_len + room, 1)) ||
        (p->nframes == p->frames_cap &&
         bts_array_grow((void **)&p->frames, &p->frames_cap, p->nframes + 1, sizeof(*p->frames))))
        return -ENOMEM;
    d = p->arena + p->arena_len;
    if (len == 9 && !memcmp(sym, "[unknown]", 9)) {
        /* An unresolved frame is its module's file name, in brackets. */
        const char *base = "unknown";
        size_t blen = 7;
        if (f->mod_len != 9 || memcmp(f->mod, "[unknown]", 9)) {
            const char *slash = memrchr(f->mod, '/', f->mod_len);
            base = slash ? slash + 1 : f->mod;
            blen = (size_t)(f->mod + f->mod_len - base);
        }
        d[0] = '[';
        memcpy(d + 1, base, blen);
        n = blen + 1;
        if (p->o->include_addrs) {
            d[n++] = ' ';
            d[n++] = '<';
            memcpy(d + n, f->pc, f->pc_len);
            n += f->pc_len;
            d[n++] = '>';
        }
        d[n++] = ']';
    } else {
        memcpy(d, sym, len);
        n = len;
    }
    n = fg_tidy(d, n, p->java);
    if (inlined) {
        if (!contains(d, n, "_[i]")) {
            memcpy(d + n, "_[i]", 4);
            n += 4;
        }
    } else if (p->o->annotate_kernel && fg_kernel_module(f->mod, f->mod_len)) {
        memcpy(d + n, "_[k]", 4);
        n += 4;
    } else if (p->o->annotate_jit && fg_jit_module(f->mod, f->mod_len) && !contains(d, n, "_[j]")) {
        memcpy(d + n, "_[j]", 4);
        n += 4;
    }
    p->frames[p->nframes].off = p->arena_len;
    p->frames[p->nframes].len = n;
    p->nframes++;
    p->arena_len += n;
    return 0;
}

/* The first "->" in s[0, n), or NULL. ('>' is rarer than '-' in names.) */
static const char *find_arrow(const char *s, size_t n)
{
    const char *gt = n > 1 ? memchr(s + 1, '>', n - 1) : NULL;

    while (gt && gt[-1] != '-')
        gt = gt + 1 < s + n ? memchr(gt + 1, '>', (size_t)(s + n - gt - 1)) : NULL;
    return gt ? gt - 1 : NULL;
}

static int fg_frame(struct parser *p, struct fg_frame *f)
{
    const char *s = f->sym, *piece, *arrow;
    size_t len = f->sym_len, k, first = p->nframes;
    int err;

    /* "+0x1f" offsets: lowercase hex digits at the end after "+0x". */
    for (k = len; k > 0 && is_lhex(s[k - 1]);)
        k--;
    if (k < len && k >= 3 && s[k - 1] == 'x' && s[k - 2] == '0' && s[k - 3] == '+')
        len = k - 3;
    if (len && s[0] == '(')
        return 0; /* a process name in place of a symbol */
    /* Trailing empty pieces ("a->") are not frames; a leading one is. */
    while (len >= 2 && s[len - 2] == '-' && s[len - 1] == '>')
        len -= 2;
    if (len == 0)
        return 0;
    for (piece = s;; piece = arrow + 2) {
        arrow = find_arrow(piece, (size_t)(s + len - piece));
        size_t plen = arrow ? (size_t)(arrow - piece) : (size_t)(s + len - piece);
        err = fg_add_piece(p, piece, plen, f, piece != s);
        if (err)
            return err;
        if (!arrow)
            break;
    }
    /* Frames are kept leaf first; this line's pieces read caller first. */
    for (size_t a = first, b = p->nframes - 1; a < b; a++, b--) {
        struct frame_ref tmp = p->frames[a];
        p->frames[a] = p->frames[b];
        p->frames[b] = tmp;
    }
    return 0;
}

/* The weight of a sample: its period when the header prints one other than
 * "0", else 1. */
static uint64_t fg_count(const char *s, const size_t per[2])
{
    uint64_t v = 0;

    if (per[1] == per[0] || (per[1] - per[0] == 1 && s[per[0]] == '0'))
        return 1;
    for (size_t i = per[0]; i < per[1]; i++) {
        unsigned dgt = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - dgt) / 10)
            return UINT64_MAX;
        v = v * 10 + dgt;
    }
    return v;
}

/* A header line; a sample of another event leaves the state as it was, so
 * its frames are not taken (or, with no blank line before it, join the
 * sample before, as in the script). */
static int fg_header(struct parser *p, const char *s, size_t len, size_t comm_len,
                     const size_t pid[2], const size_t tid[2])
{
    size_t ev[2], per[2] = {0, 0};
    const char *pid_s = s + pid[0], *tid_s = s + tid[0];
    size_t pid_len = pid[1] - pid[0], tid_len = tid[1] - tid[0];

    if (fg_match_event(s, len, ev, per)) {
        const char *e = s + ev[0];
        size_t elen = ev[1] - ev[0];
        if (!p->event) {
            p->event = strndup(e, elen);
            if (!p->event)
                return -ENOMEM;
            p->event_defaulted = true;
        } else if (!event_matches(p->event, p->event_defaulted || p->o->event_exact, e, elen)) {
            p->st.skipped++;
            if (p->event_defaulted && !p->event_noted) {
                p->event_noted = true;
                snprintf(p->note, sizeof(p->note),
                         "samples of event '%.*s' left out: only '%s', the first event, is "
                         "folded (choose one with --event-filter)",
                         (int)(elen < 64 ? elen : 64), e, p->event);
                note(p, p->st.lines, p->note);
            }
            return 0;
        }
    }
    /* Without a tid ("comm 123 time:", or a tid of 0) the number is the tid
     * and the pid is unknown. */
    if (tid_len == 0 || (tid_len == 1 && tid_s[0] == '0')) {
        tid_s = pid_s;
        tid_len = pid_len;
        pid_s = "?";
        pid_len = 1;
    }
    p->count = fg_count(s, per);
    p->have_root = true;
    p->header_line = p->st.lines;
    p->java = comm_len >= 4 && !memcmp(s, "java", 4);
    return set_root(p, s, comm_len, pid_s, pid_len, tid_s, tid_len);
}

static int fg_end_sample(struct parser *p)
{
    if (!p->have_root)
        return 0;
    p->have_root = false;
    return emit_stack(p);
}

static int fg_line(struct parser *p, const char *s, size_t len)
{
    size_t comm_len, pid[2], tid[2];
    struct fg_frame f;
    size_t i;

    if (len == 0)
        return fg_end_sample(p);
    if (s[0] == '#')
        return 0;
    if (fg_match_header(s, len, &comm_len, pid, tid))
        return fg_header(p, s, len, comm_len, pid, tid);
    if (fg_match_frame(s, len, &f))
        return p->have_root ? fg_frame(p, &f) : 0;
    for (i = 0; i < len && is_ws(s[i]);)
        i++;
    /* The sample goes on: only an empty line ends it. */
    return malformed(p, i == len ? "line of only blanks (an empty line ends a sample)"
                                 : "unrecognized line: neither a sample header nor a frame");
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
    int (*line)(struct parser *, const char *, size_t);

    p.o = o ? o : &defaults;
    line = p.o->convention == BTS_PERF_SCRIPT_PERF ? perf_line : fg_line;
    if (p.o->convention != BTS_PERF_SCRIPT_PERF && p.o->event && p.o->event[0]) {
        p.event = strdup(p.o->event);
        if (!p.event) {
            ret = -ENOMEM;
            goto out;
        }
    }
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
                    ret = line(&p, buf + pos, len - pos);
                    if (ret)
                        goto out;
                }
                break;
            }
            /* Keep the partial line and refill behind it. */
            memmove(buf, buf + pos, len - pos);
            len -= pos;
            pos = 0;
            if (len > BTS_LINE_LIMIT_BYTES) {
                /* No end in sight (/dev/zero, a binary file): stop. */
                note(&p, p.st.lines + 1, BTS_LINE_LIMIT_REASON);
                ret = -EMSGSIZE;
                goto out;
            }
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
        if ((size_t)(nl - (buf + pos)) > BTS_LINE_LIMIT_BYTES) {
            note(&p, p.st.lines, BTS_LINE_LIMIT_REASON);
            ret = -EMSGSIZE;
            goto out;
        }
        ret = line(&p, buf + pos, (size_t)(nl - (buf + pos)));
        if (ret)
            goto out;
        pos = (size_t)(nl - buf) + 1;
    }
    if (p.o->convention == BTS_PERF_SCRIPT_PERF) {
        ret = flush_sample(&p);
    } else if (p.have_root) {
        /* The script counts a sample at the empty line after it. */
        note(&p, p.header_line,
             "sample left out: no empty line ends it (the input may be cut short)");
    }
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
