/* SPDX-License-Identifier: MIT */
/* top-view: interns the stacks of cumulative folded snapshots and derives
 * the per-function table of `bt-spy top` from them on demand. */
#define _GNU_SOURCE

#include "top-view.h"

#include "aggregate-private.h"
#include "folded.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NO_THREAD UINT32_MAX

/* Strings -> dense ids in order of insertion (open addressing, FNV-1a). */
struct str_table {
    char **strs;
    size_t n, cap;
    uint32_t *slots; /* id + 1, 0 = empty */
    size_t nslots;   /* power of two */
};

struct stack {
    uint32_t thread; /* index into threads, or NO_THREAD */
    uint32_t nframes;
    uint32_t *frames; /* frame ids, root first, thread root excluded */
    uint64_t cur, prev, base;
};

struct bts_top_view {
    bool thread_roots;
    struct str_table stack_names;
    struct stack *stacks; /* parallel to stack_names */
    size_t stacks_cap;
    struct str_table frames;
    uint32_t *line_key; /* frame id -> key id of the whole frame name */
    uint32_t *func_key; /* frame id -> key id of the function name */
    size_t frames_cap;
    struct str_table keys;
    struct str_table threads;
    uint64_t malformed;
};

static uint64_t hash_bytes(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ull;
    size_t i;

    for (i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

static void str_table_free(struct str_table *t)
{
    size_t i;

    for (i = 0; i < t->n; i++)
        free(t->strs[i]);
    free(t->strs);
    free(t->slots);
    memset(t, 0, sizeof(*t));
}

static uint32_t *str_table_slot(const struct str_table *t, const char *s, size_t len)
{
    size_t mask = t->nslots - 1;
    size_t i = (size_t)hash_bytes(s, len) & mask;

    for (;; i = (i + 1) & mask) {
        uint32_t v = t->slots[i];
        if (!v)
            return &t->slots[i];
        if (!strncmp(t->strs[v - 1], s, len) && t->strs[v - 1][len] == '\0')
            return &t->slots[i];
    }
}

/* Returns the id of s, or UINT32_MAX when absent. */
static uint32_t str_table_find(const struct str_table *t, const char *s, size_t len)
{
    if (!t->nslots)
        return UINT32_MAX;
    uint32_t v = *str_table_slot(t, s, len);
    return v ? v - 1 : UINT32_MAX;
}

static int str_table_grow(struct str_table *t)
{
    size_t nslots = t->nslots ? t->nslots * 2 : 64;
    uint32_t *slots = calloc(nslots, sizeof(*slots));
    size_t i;

    if (!slots)
        return -ENOMEM;
    free(t->slots);
    t->slots = slots;
    t->nslots = nslots;
    for (i = 0; i < t->n; i++)
        *str_table_slot(t, t->strs[i], strlen(t->strs[i])) = (uint32_t)i + 1;
    return 0;
}

/* *id = the id of s, adding a copy when new (*added tells). 0 or -ENOMEM. */
static int str_table_intern(struct str_table *t, const char *s, size_t len, uint32_t *id,
                            bool *added)
{
    uint32_t *slot;
    int ret;

    *added = false;
    if ((t->n + 1) * 2 > t->nslots && (ret = str_table_grow(t)))
        return ret;
    slot = str_table_slot(t, s, len);
    if (*slot) {
        *id = *slot - 1;
        return 0;
    }
    if (t->n == UINT32_MAX - 1)
        return -ENOMEM;
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        char **strs = realloc(t->strs, cap * sizeof(*strs));
        if (!strs)
            return -ENOMEM;
        t->strs = strs;
        t->cap = cap;
    }
    t->strs[t->n] = strndup(s, len);
    if (!t->strs[t->n])
        return -ENOMEM;
    *slot = (uint32_t)t->n + 1;
    *id = (uint32_t)t->n++;
    *added = true;
    return 0;
}

size_t bts_top_function_len(const char *frame, size_t len)
{
    size_t i = len - 1;

    /* The suffix is " (FILE:LINE)": digits before the final ')', a ':',
     * then FILE without parentheses back to " (". */
    if (len < 5 || frame[i] != ')')
        return len;
    while (i > 0 && frame[i - 1] >= '0' && frame[i - 1] <= '9')
        i--;
    if (i == len - 1 || i < 4 || frame[i - 1] != ':')
        return len;
    for (i--; i > 0 && frame[i - 1] != '(' && frame[i - 1] != ')'; i--)
        ;
    if (i < 2 || frame[i - 1] != '(' || frame[i - 2] != ' ')
        return len;
    return i - 2;
}

struct bts_top_view *bts_top_view_new(bool thread_roots)
{
    struct bts_top_view *v = calloc(1, sizeof(*v));

    if (!v)
        return NULL;
    v->thread_roots = thread_roots;
    return v;
}

void bts_top_view_free(struct bts_top_view *v)
{
    size_t i;

    if (!v)
        return;
    for (i = 0; i < v->stack_names.n; i++)
        free(v->stacks[i].frames);
    free(v->stacks);
    str_table_free(&v->stack_names);
    str_table_free(&v->frames);
    free(v->line_key);
    free(v->func_key);
    str_table_free(&v->keys);
    str_table_free(&v->threads);
    free(v);
}

/* The frame id of name, interning it and its keys when new. The keys go
 * first: a failure then leaves no frame without keys. */
static int intern_frame(struct bts_top_view *v, const char *name, size_t len, uint32_t *id)
{
    uint32_t line_key, func_key;
    bool added;
    int ret;

    *id = str_table_find(&v->frames, name, len);
    if (*id != UINT32_MAX)
        return 0;
    if (v->frames.n == v->frames_cap) {
        size_t cap = v->frames_cap ? v->frames_cap * 2 : 64;
        uint32_t *lk = realloc(v->line_key, cap * sizeof(*lk));
        if (!lk)
            return -ENOMEM;
        v->line_key = lk;
        uint32_t *fk = realloc(v->func_key, cap * sizeof(*fk));
        if (!fk)
            return -ENOMEM;
        v->func_key = fk;
        v->frames_cap = cap;
    }
    if ((ret = str_table_intern(&v->keys, name, len, &line_key, &added)) ||
        (ret = str_table_intern(&v->keys, name, bts_top_function_len(name, len), &func_key,
                                &added)) ||
        (ret = str_table_intern(&v->frames, name, len, id, &added)))
        return ret;
    v->line_key[*id] = line_key;
    v->func_key[*id] = func_key;
    return 0;
}

/* Splits a new stack line into its thread and frame ids. */
static int parse_stack(struct bts_top_view *v, const char *text, size_t len, struct stack *st)
{
    const char *p = text, *end = text + len;
    size_t cap = 0;
    bool added;
    int ret = 0;

    memset(st, 0, sizeof(*st));
    st->thread = NO_THREAD;
    while (p < end) {
        const char *semi = memchr(p, ';', (size_t)(end - p));
        size_t flen = semi ? (size_t)(semi - p) : (size_t)(end - p);
        uint32_t id;

        if (p == text && v->thread_roots && flen > 7 && !strncmp(p, "thread ", 7)) {
            ret = str_table_intern(&v->threads, p, flen, &st->thread, &added);
        } else {
            if (st->nframes == cap) {
                size_t ncap = cap ? cap * 2 : 16;
                uint32_t *f = realloc(st->frames, ncap * sizeof(*f));
                if (!f) {
                    ret = -ENOMEM;
                    break;
                }
                st->frames = f;
                cap = ncap;
            }
            ret = intern_frame(v, p, flen, &id);
            if (!ret)
                st->frames[st->nframes++] = id;
        }
        if (ret)
            break;
        p += flen + 1;
    }
    if (ret) {
        free(st->frames);
        st->frames = NULL;
    }
    return ret;
}

static void count_malformed(void *ctx, const char *file, uint64_t line, const char *reason)
{
    struct bts_top_view *v = ctx;

    (void)file;
    (void)line;
    (void)reason;
    v->malformed++;
}

int bts_top_view_update(struct bts_top_view *v, const char *folded, size_t len)
{
    struct bts_folded_reader *r = NULL;
    struct bts_folded_record rec;
    uint64_t *next = NULL;
    size_t next_cap = 0, i;
    FILE *in = NULL;
    int ret = 0;

    if (!len)
        goto commit;
    in = fmemopen((void *)folded, len, "r");
    if (!in) {
        ret = -errno;
        goto out;
    }
    r = bts_folded_reader_new(in, "snapshot", 0, count_malformed, v);
    if (!r) {
        ret = -errno;
        goto out;
    }
    while ((ret = bts_folded_reader_next(r, &rec)) == 1) {
        uint32_t id = str_table_find(&v->stack_names, rec.stack, rec.stack_len);

        if (id == UINT32_MAX) {
            struct stack st;
            bool added;

            if ((ret = parse_stack(v, rec.stack, rec.stack_len, &st)))
                goto out;
            if (v->stack_names.n == v->stacks_cap) {
                size_t cap = v->stacks_cap ? v->stacks_cap * 2 : 64;
                struct stack *s = realloc(v->stacks, cap * sizeof(*s));
                if (!s) {
                    free(st.frames);
                    ret = -ENOMEM;
                    goto out;
                }
                v->stacks = s;
                v->stacks_cap = cap;
            }
            ret = str_table_intern(&v->stack_names, rec.stack, rec.stack_len, &id, &added);
            if (ret) {
                free(st.frames);
                goto out;
            }
            v->stacks[id] = st;
        }
        if (id >= next_cap) {
            size_t cap = next_cap ? next_cap : 256;
            while (cap <= id)
                cap *= 2;
            uint64_t *n = realloc(next, cap * sizeof(*n));
            if (!n) {
                ret = -ENOMEM;
                goto out;
            }
            memset(n + next_cap, 0, (cap - next_cap) * sizeof(*n));
            next = n;
            next_cap = cap;
        }
        next[id] += rec.count[0];
    }
    if (ret < 0)
        goto out;
commit:
    ret = 0;
    for (i = 0; i < v->stack_names.n; i++) {
        v->stacks[i].prev = v->stacks[i].cur;
        v->stacks[i].cur = i < next_cap ? next[i] : 0;
    }
out:
    bts_folded_reader_free(r);
    if (in)
        fclose(in);
    free(next);
    return ret;
}

uint64_t bts_top_view_malformed(const struct bts_top_view *v)
{
    return v->malformed;
}

void bts_top_view_reset(struct bts_top_view *v)
{
    size_t i;

    for (i = 0; i < v->stack_names.n; i++)
        v->stacks[i].base = v->stacks[i].cur;
}

size_t bts_top_view_threads(const struct bts_top_view *v)
{
    return v->threads.n;
}

const char *bts_top_view_thread(const struct bts_top_view *v, size_t i)
{
    return i < v->threads.n ? v->threads.strs[i] : NULL;
}

static uint64_t since(uint64_t now, uint64_t then)
{
    return now > then ? now - then : 0;
}

static uint64_t sort_value(const struct bts_top_row *r, enum bts_top_sort sort)
{
    switch (sort) {
    case BTS_TOP_SORT_OWN_PCT:
        return r->own_window;
    case BTS_TOP_SORT_TOTAL_PCT:
        return r->total_window;
    case BTS_TOP_SORT_OWN_TIME:
        return r->own_cum;
    case BTS_TOP_SORT_TOTAL_TIME:
        return r->total_cum;
    }
    return 0;
}

/* The chosen column, descending; ties by the other columns, then by name,
 * so the order is deterministic. */
static int compare_rows(const void *pa, const void *pb, void *ctx)
{
    const struct bts_top_row *a = pa, *b = pb;
    enum bts_top_sort sort = *(const enum bts_top_sort *)ctx;
    static const enum bts_top_sort ties[] = {BTS_TOP_SORT_TOTAL_PCT, BTS_TOP_SORT_OWN_PCT,
                                             BTS_TOP_SORT_TOTAL_TIME, BTS_TOP_SORT_OWN_TIME};
    uint64_t x = sort_value(a, sort), y = sort_value(b, sort);
    size_t i;

    for (i = 0; x == y && i < sizeof(ties) / sizeof(ties[0]); i++) {
        x = sort_value(a, ties[i]);
        y = sort_value(b, ties[i]);
    }
    if (x != y)
        return x > y ? -1 : 1;
    return strcmp(a->name, b->name);
}

struct bts_top_table *bts_top_view_table(const struct bts_top_view *v,
                                         const struct bts_top_query *q)
{
    struct bts_top_table *t = calloc(1, sizeof(*t));
    const uint32_t *keymap = q->group == BTS_TOP_GROUP_LINE ? v->line_key : v->func_key;
    struct bts_aggregate a = {0};
    uint32_t *keys = NULL, thread = NO_THREAD;
    size_t keys_cap = 0, i, j;
    enum bts_top_sort sort = q->sort;
    int err = 0;

    if (!t)
        return NULL;
    if (q->thread) {
        thread = str_table_find(&v->threads, q->thread, strlen(q->thread));
        if (thread == UINT32_MAX)
            goto out; /* no such thread (yet): an empty table */
    }
    if (bts_aggregate_init(&a, v->keys.n)) {
        err = ENOMEM;
        goto out;
    }
    /* Column 0 is the window, column 1 the run since the reset. */
    for (i = 0; i < v->stack_names.n; i++) {
        const struct stack *st = &v->stacks[i];
        uint64_t cum = since(st->cur, st->base);
        uint64_t counts[BTS_AGGREGATE_COLUMNS] = {q->whole_run ? cum : since(st->cur, st->prev),
                                                  cum};

        if (q->thread && st->thread != thread)
            continue;
        if (!counts[0] && !counts[1])
            continue;
        t->window_samples += counts[0];
        t->cum_samples += counts[1];
        if (st->nframes > keys_cap) {
            uint32_t *k = realloc(keys, 2 * st->nframes * sizeof(*k));
            if (!k) {
                err = ENOMEM;
                goto out;
            }
            keys = k;
            keys_cap = 2 * st->nframes;
        }
        for (j = 0; j < st->nframes; j++)
            keys[j] = keymap[st->frames[j]];
        bts_aggregate_stack(&a, keys, st->nframes, 0, counts);
    }
    for (i = 0; i < a.nkeys; i++)
        if (a.fns[i].total[0] || a.fns[i].total[1])
            t->nrows++;
    t->rows = calloc(t->nrows ? t->nrows : 1, sizeof(*t->rows));
    if (!t->rows) {
        err = ENOMEM;
        goto out;
    }
    for (i = 0, j = 0; i < a.nkeys; i++) {
        const struct bts_aggregate_fn *f = &a.fns[i];
        if (!f->total[0] && !f->total[1])
            continue;
        t->rows[j++] = (struct bts_top_row){.name = v->keys.strs[i],
                                            .own_window = f->self[0],
                                            .total_window = f->total[0],
                                            .own_cum = f->self[1],
                                            .total_cum = f->total[1]};
    }
    qsort_r(t->rows, t->nrows, sizeof(*t->rows), compare_rows, &sort);
out:
    bts_aggregate_free(&a);
    free(keys);
    if (err) {
        bts_top_table_free(t);
        errno = err;
        return NULL;
    }
    return t;
}

void bts_top_table_free(struct bts_top_table *t)
{
    if (!t)
        return;
    free(t->rows);
    free(t);
}
