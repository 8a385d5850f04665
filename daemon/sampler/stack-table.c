/* SPDX-License-Identifier: MIT */
/* stack-table: interned pc stacks with counts, written as sorted folded lines. */
#define _GNU_SOURCE
#include "stack-table.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define NO_ROOT UINT32_MAX

struct stack_entry {
    uint64_t hash;
    uint64_t pcs_off; /* index into pcs arena */
    uint64_t count;
    uint32_t n;
    uint32_t root; /* index into roots, or NO_ROOT */
};

struct bts_stack_table {
    struct stack_entry *stacks;
    size_t nstacks, cap_stacks;
    uint32_t *slots; /* open addressing: stack index + 1, 0 = empty */
    size_t nslots;   /* power of two */
    uint64_t *pcs;
    size_t npcs, cap_pcs;
    char **roots;
    uint64_t *root_hash;
    size_t nroots, cap_roots;
    uint32_t *root_slots;
    size_t nroot_slots;
    uint64_t total;
    size_t root_bytes;
};

static uint64_t mix64(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

static uint64_t hash_pcs(uint32_t root, const uint64_t *pcs, size_t n)
{
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ root;
    for (size_t i = 0; i < n; i++)
        h = mix64(h ^ pcs[i]) + i;
    return mix64(h ^ n);
}

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return mix64(h);
}

static int grow(void **arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t ncap = *cap ? *cap : 16;
    while (ncap < need)
        ncap *= 2;
    void *p = realloc(*arr, ncap * elem);
    if (!p)
        return -ENOMEM;
    *arr = p;
    *cap = ncap;
    return 0;
}

/* Rebuilds an index of `count` items with hashes from `hash_of`, doubling
 * its size until it is more than twice the count. */
static int rehash(uint32_t **slots, size_t *nslots, size_t count,
                  uint64_t (*hash_of)(const struct bts_stack_table *, size_t),
                  const struct bts_stack_table *t)
{
    size_t n = *nslots ? *nslots : 64;
    while (n < count * 2 + 2)
        n *= 2;
    uint32_t *s = calloc(n, sizeof(*s));
    if (!s)
        return -ENOMEM;
    for (size_t i = 0; i < count; i++) {
        size_t j = hash_of(t, i) & (n - 1);
        while (s[j])
            j = (j + 1) & (n - 1);
        s[j] = (uint32_t)(i + 1);
    }
    free(*slots);
    *slots = s;
    *nslots = n;
    return 0;
}

static uint64_t stack_hash_of(const struct bts_stack_table *t, size_t i)
{
    return t->stacks[i].hash;
}

static uint64_t root_hash_of(const struct bts_stack_table *t, size_t i)
{
    return t->root_hash[i];
}

struct bts_stack_table *bts_stack_table_new(void)
{
    struct bts_stack_table *t = calloc(1, sizeof(*t));
    if (!t)
        errno = ENOMEM;
    return t;
}

void bts_stack_table_free(struct bts_stack_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->nroots; i++)
        free(t->roots[i]);
    free(t->roots);
    free(t->root_hash);
    free(t->root_slots);
    free(t->stacks);
    free(t->slots);
    free(t->pcs);
    free(t);
}

static int intern_root(struct bts_stack_table *t, const char *root, uint32_t *id)
{
    int ret = 0;
    uint64_t h = hash_str(root);
    if (t->nroot_slots) {
        size_t mask = t->nroot_slots - 1;
        for (size_t j = h & mask; t->root_slots[j]; j = (j + 1) & mask) {
            uint32_t i = t->root_slots[j] - 1;
            if (t->root_hash[i] == h && strcmp(t->roots[i], root) == 0) {
                *id = i;
                goto out;
            }
        }
    }
    if ((ret = grow((void **)&t->roots, &t->cap_roots, t->nroots + 1, sizeof(char *))) < 0)
        goto out;
    size_t cap = t->cap_roots;
    if (!t->root_hash || cap > t->nroots + 1) {
        uint64_t *rh = realloc(t->root_hash, cap * sizeof(uint64_t));
        if (!rh) {
            ret = -ENOMEM;
            goto out;
        }
        t->root_hash = rh;
    }
    char *copy = strdup(root);
    if (!copy) {
        ret = -ENOMEM;
        goto out;
    }
    t->roots[t->nroots] = copy;
    t->root_hash[t->nroots] = h;
    t->root_bytes += strlen(copy) + 1;
    *id = (uint32_t)t->nroots++;
    if (t->nroots * 2 >= t->nroot_slots) {
        ret = rehash(&t->root_slots, &t->nroot_slots, t->nroots, root_hash_of, t);
        if (ret < 0)
            goto out;
    } else {
        size_t mask = t->nroot_slots - 1;
        size_t j = h & mask;
        while (t->root_slots[j])
            j = (j + 1) & mask;
        t->root_slots[j] = *id + 1;
    }
out:
    return ret;
}

/* The id of root label `root`, or NO_ROOT. */
static uint32_t find_root(const struct bts_stack_table *t, const char *root)
{
    uint64_t h = hash_str(root);

    if (!t->nroot_slots)
        return NO_ROOT;
    size_t mask = t->nroot_slots - 1;
    for (size_t j = h & mask; t->root_slots[j]; j = (j + 1) & mask) {
        uint32_t i = t->root_slots[j] - 1;
        if (t->root_hash[i] == h && strcmp(t->roots[i], root) == 0)
            return i;
    }
    return NO_ROOT;
}

int bts_stack_table_rename_root(struct bts_stack_table *t, const char *from, const char *to)
{
    uint32_t id;
    char *copy;

    if (!t || !from || !to)
        return -EINVAL;
    id = find_root(t, from);
    if (id == NO_ROOT || strcmp(from, to) == 0)
        return 0;
    copy = strdup(to);
    if (!copy)
        return -ENOMEM;
    t->root_bytes += strlen(copy) + 1;
    t->root_bytes -= strlen(t->roots[id]) + 1;
    free(t->roots[id]);
    t->roots[id] = copy;
    t->root_hash[id] = hash_str(copy);
    /* Stacks under this id now compare under the new label's hash; when
     * `to` had an id already, both ids carry it and lookups find one. */
    return rehash(&t->root_slots, &t->nroot_slots, t->nroots, root_hash_of, t);
}

int bts_stack_table_add(struct bts_stack_table *t, const char *root, const uint64_t *pcs, size_t n,
                        uint64_t count)
{
    int ret = 0;
    uint32_t root_id = NO_ROOT;
    if (!t || !pcs || n == 0 || n > UINT32_MAX) {
        ret = -EINVAL;
        goto out;
    }
    if (root && (ret = intern_root(t, root, &root_id)) < 0)
        goto out;
    uint64_t h = hash_pcs(root_id, pcs, n);
    if (t->nslots) {
        size_t mask = t->nslots - 1;
        for (size_t j = h & mask; t->slots[j]; j = (j + 1) & mask) {
            struct stack_entry *e = &t->stacks[t->slots[j] - 1];
            if (e->hash == h && e->n == n && e->root == root_id &&
                memcmp(t->pcs + e->pcs_off, pcs, n * sizeof(*pcs)) == 0) {
                e->count += count;
                t->total += count;
                ret = 0;
                goto out;
            }
        }
    }
    if (t->nstacks >= UINT32_MAX - 1) {
        ret = -ENOSPC;
        goto out;
    }
    if ((ret = grow((void **)&t->pcs, &t->cap_pcs, t->npcs + n, sizeof(uint64_t))) < 0)
        goto out;
    if ((ret = grow((void **)&t->stacks, &t->cap_stacks, t->nstacks + 1,
                    sizeof(struct stack_entry))) < 0)
        goto out;
    memcpy(t->pcs + t->npcs, pcs, n * sizeof(*pcs));
    t->stacks[t->nstacks] = (struct stack_entry){
        .hash = h, .pcs_off = t->npcs, .count = count, .n = (uint32_t)n, .root = root_id};
    t->npcs += n;
    t->nstacks++;
    t->total += count;
    if (t->nstacks * 2 >= t->nslots) {
        if ((ret = rehash(&t->slots, &t->nslots, t->nstacks, stack_hash_of, t)) < 0)
            goto out;
    } else {
        size_t mask = t->nslots - 1;
        size_t j = h & mask;
        while (t->slots[j])
            j = (j + 1) & mask;
        t->slots[j] = (uint32_t)t->nstacks;
    }
    ret = 1;
out:
    return ret;
}

size_t bts_stack_table_unique(const struct bts_stack_table *t)
{
    return t ? t->nstacks : 0;
}

uint64_t bts_stack_table_total(const struct bts_stack_table *t)
{
    return t ? t->total : 0;
}

size_t bts_stack_table_memory(const struct bts_stack_table *t)
{
    if (!t)
        return 0;
    return sizeof(*t) + t->cap_stacks * sizeof(struct stack_entry) + t->nslots * sizeof(uint32_t) +
           t->cap_pcs * sizeof(uint64_t) + t->cap_roots * (sizeof(char *) + sizeof(uint64_t)) +
           t->nroot_slots * sizeof(uint32_t) + t->root_bytes;
}

int bts_stack_table_foreach(const struct bts_stack_table *t, bts_stack_table_visitor visit,
                            void *ctx)
{
    int ret = 0;
    for (size_t i = 0; t && i < t->nstacks && ret == 0; i++) {
        const struct stack_entry *e = &t->stacks[i];
        ret = visit(ctx, e->root == NO_ROOT ? NULL : t->roots[e->root], t->pcs + e->pcs_off, e->n,
                    e->count);
    }
    return ret;
}

struct folded_line {
    char *text;
    uint64_t count;
};

struct text_buf {
    char *p;
    size_t len, cap;
};

static int buf_put_name(struct text_buf *b, const char *name)
{
    size_t len = strlen(name);
    int ret = grow((void **)&b->p, &b->cap, b->len + len + 2, 1);
    if (ret < 0)
        return ret;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (c == ';')
            c = ':';
        else if (c == '\n' || c == '\r')
            c = ' ';
        b->p[b->len++] = c;
    }
    b->p[b->len] = '\0';
    return 0;
}

static int compare_lines(const void *a, const void *b)
{
    const struct folded_line *la = a, *lb = b;
    return strcmp(la->text, lb->text);
}

int bts_stack_table_write_folded(const struct bts_stack_table *t, bts_stack_table_namer namer,
                                 void *ctx, FILE *out)
{
    int ret = 0;
    struct folded_line *lines = NULL;
    size_t nlines = 0;
    struct text_buf b = {0};
    if (!t || !namer || !out) {
        ret = -EINVAL;
        goto out;
    }
    lines = calloc(t->nstacks ? t->nstacks : 1, sizeof(*lines));
    if (!lines) {
        ret = -ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < t->nstacks; i++) {
        const struct stack_entry *e = &t->stacks[i];
        b.len = 0;
        if (e->root != NO_ROOT) {
            if ((ret = buf_put_name(&b, t->roots[e->root])) < 0)
                goto out;
        }
        for (size_t k = e->n; k-- > 0;) {
            const char *name = namer(ctx, t->pcs[e->pcs_off + k], k != 0);
            if (!name)
                continue;
            if (b.len)
                b.p[b.len++] = ';'; /* buf_put_name keeps 2 spare bytes */
            if ((ret = buf_put_name(&b, name)) < 0)
                goto out;
        }
        lines[nlines].text = strdup(b.p ? b.p : "");
        if (!lines[nlines].text) {
            ret = -ENOMEM;
            goto out;
        }
        lines[nlines++].count = e->count;
    }
    qsort(lines, nlines, sizeof(*lines), compare_lines);
    for (size_t i = 0; i < nlines;) {
        uint64_t count = lines[i].count;
        size_t j = i + 1;
        while (j < nlines && strcmp(lines[j].text, lines[i].text) == 0)
            count += lines[j++].count;
        if (fprintf(out, "%s %llu\n", lines[i].text, (unsigned long long)count) < 0) {
            ret = errno ? -errno : -EIO; /* e.g. -ENOSPC, for the message */
            goto out;
        }
        i = j;
    }
    if (fflush(out) != 0)
        ret = -errno;
out:
    for (size_t i = 0; i < nlines; i++)
        free(lines[i].text);
    free(lines);
    free(b.p);
    return ret;
}
