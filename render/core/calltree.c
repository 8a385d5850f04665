/* SPDX-License-Identifier: MIT */
/* calltree: interned names, one (parent, name) -> child hash, sorted CSR children. */
#include "calltree.h"

#include "array.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

struct name_entry {
    uint32_t off; /* into names_buf */
    uint32_t len;
    uint64_t hash;
};

struct node {
    uint32_t parent;
    uint32_t name;
    uint64_t self[BTS_CALLTREE_COLUMNS];
};

/* Edge slot: node == 0 marks an empty slot (the root is never a child). */
struct edge_slot {
    uint32_t parent;
    uint32_t name;
    uint32_t node;
};

/* Whole stacks seen before: (hash, length) -> leaf, checked by walking the
 * leaf's ancestors, so a repeated stack costs one hash and one probe. */
struct stack_slot {
    uint64_t hash;
    uint32_t len;
    uint32_t leaf; /* 0 = empty */
};

#define STACK_TABLE_MAX (1u << 21) /* slots; beyond, stacks take the frame path */

/* Frames of the previous stack, to skip the prefix it shares with the next. */
struct prefix_cache {
    char *bytes;
    size_t len, cap;
    uint32_t *ends;  /* byte offset just past frame i */
    uint32_t *nodes; /* node of frame i */
    size_t depth, ends_cap, nodes_cap;
};

struct bts_calltree {
    char *names_buf;
    size_t names_len, names_cap;
    struct name_entry *names;
    size_t nnames, names_alloc;
    uint32_t *name_slots; /* name id + 1, 0 = empty */
    size_t name_mask;

    struct node *nodes;
    size_t nnodes, nodes_alloc;
    struct edge_slot *edges; /* NULL after finish until the next add */
    size_t edge_mask;
    struct stack_slot *stacks;
    size_t stack_mask, nstacks;

    bool differential;
    bool finished;
    struct prefix_cache prev;
    /* Every count added, per column. Refusing a count that would overflow
     * it keeps every node's total (<= this sum) exact. */
    uint64_t sum[BTS_CALLTREE_COLUMNS];

    /* Filled by finish. */
    uint64_t *total; /* 2 per node */
    uint32_t *depth;
    uint32_t *child_start; /* nnodes + 1 */
    uint32_t *children;
    uint32_t max_depth;
};

static uint64_t hash_bytes(const char *p, size_t n)
{
    const uint64_t k = 0x9e3779b97f4a7c15ull;
    uint64_t h = n * k;
    uint64_t w;

    while (n >= 8) {
        memcpy(&w, p, 8);
        h = (h ^ w) * k;
        h ^= h >> 29;
        p += 8;
        n -= 8;
    }
    if (n) {
        w = 0;
        memcpy(&w, p, n);
        h = (h ^ w) * k;
    }
    h ^= h >> 32;
    h *= 0xd6e8feb86659fd93ull;
    h ^= h >> 32;
    return h;
}

static uint64_t hash_edge(uint32_t parent, uint32_t name)
{
    uint64_t h = ((uint64_t)parent << 32 | name) * 0x9e3779b97f4a7c15ull;
    return h ^ (h >> 31);
}

struct bts_calltree *bts_calltree_new(void)
{
    struct bts_calltree *t = calloc(1, sizeof(*t));

    if (!t)
        goto fail;
    t->name_mask = 1023;
    t->name_slots = calloc(t->name_mask + 1, sizeof(*t->name_slots));
    t->edge_mask = 4095;
    t->edges = calloc(t->edge_mask + 1, sizeof(*t->edges));
    t->stack_mask = 4095;
    t->stacks = calloc(t->stack_mask + 1, sizeof(*t->stacks));
    if (!t->name_slots || !t->edges || !t->stacks)
        goto fail;
    if (bts_array_grow((void **)&t->nodes, &t->nodes_alloc, 1024, sizeof(*t->nodes)))
        goto fail;
    /* Name id 0 is the root's empty name. */
    if (bts_array_grow((void **)&t->names, &t->names_alloc, 64, sizeof(*t->names)) ||
        bts_array_grow((void **)&t->names_buf, &t->names_cap, 4096, 1))
        goto fail;
    t->names_buf[0] = '\0';
    t->names_len = 1;
    t->names[0] = (struct name_entry){0, 0, hash_bytes("", 0)};
    t->nnames = 1;
    t->name_slots[t->names[0].hash & t->name_mask] = 1;
    memset(&t->nodes[0], 0, sizeof(t->nodes[0]));
    t->nnodes = 1;
    return t;
fail:
    bts_calltree_free(t);
    errno = ENOMEM;
    return NULL;
}

static void free_finished(struct bts_calltree *t)
{
    free(t->total);
    free(t->depth);
    free(t->child_start);
    free(t->children);
    t->total = NULL;
    t->depth = t->child_start = t->children = NULL;
    t->finished = false;
}

void bts_calltree_free(struct bts_calltree *t)
{
    if (!t)
        return;
    free_finished(t);
    free(t->names_buf);
    free(t->names);
    free(t->name_slots);
    free(t->nodes);
    free(t->edges);
    free(t->stacks);
    free(t->prev.bytes);
    free(t->prev.ends);
    free(t->prev.nodes);
    free(t);
}

static int rehash_names(struct bts_calltree *t)
{
    size_t mask = t->name_mask * 2 + 1;
    uint32_t *slots = calloc(mask + 1, sizeof(*slots));

    if (!slots)
        return -ENOMEM;
    for (size_t i = 0; i < t->nnames; i++) {
        size_t s = t->names[i].hash & mask;
        while (slots[s])
            s = (s + 1) & mask;
        slots[s] = (uint32_t)i + 1;
    }
    free(t->name_slots);
    t->name_slots = slots;
    t->name_mask = mask;
    return 0;
}

/* Returns the name id of [p, p+n), adding it when new, or -ENOMEM. */
static int64_t intern(struct bts_calltree *t, const char *p, size_t n)
{
    uint64_t h = hash_bytes(p, n);
    size_t s = h & t->name_mask;
    struct name_entry *e;

    for (;;) {
        uint32_t id = t->name_slots[s];
        if (!id)
            break;
        e = &t->names[id - 1];
        if (e->hash == h && e->len == n && memcmp(t->names_buf + e->off, p, n) == 0)
            return id - 1;
        s = (s + 1) & t->name_mask;
    }
    if (n > UINT32_MAX - 1 || t->names_len + n + 1 > UINT32_MAX || t->nnames >= UINT32_MAX - 1)
        return -EOVERFLOW;
    if (bts_array_grow((void **)&t->names_buf, &t->names_cap, t->names_len + n + 1, 1) ||
        bts_array_grow((void **)&t->names, &t->names_alloc, t->nnames + 1, sizeof(*t->names)))
        return -ENOMEM;
    memcpy(t->names_buf + t->names_len, p, n);
    t->names_buf[t->names_len + n] = '\0';
    t->names[t->nnames] = (struct name_entry){(uint32_t)t->names_len, (uint32_t)n, h};
    t->names_len += n + 1;
    t->name_slots[s] = (uint32_t)++t->nnames;
    if (t->nnames * 2 > t->name_mask && rehash_names(t))
        return -ENOMEM;
    return (int64_t)t->nnames - 1;
}

/* (Re)builds the edge table with mask+1 slots from the node array. */
static int build_edges(struct bts_calltree *t, size_t mask)
{
    struct edge_slot *slots = calloc(mask + 1, sizeof(*slots));

    if (!slots)
        return -ENOMEM;
    for (size_t i = 1; i < t->nnodes; i++) {
        const struct node *nd = &t->nodes[i];
        size_t s = hash_edge(nd->parent, nd->name) & mask;
        while (slots[s].node)
            s = (s + 1) & mask;
        slots[s] = (struct edge_slot){nd->parent, nd->name, (uint32_t)i};
    }
    free(t->edges);
    t->edges = slots;
    t->edge_mask = mask;
    return 0;
}

/* Returns the child of `parent` named `name`, creating it, or -errno. */
static int64_t child_of(struct bts_calltree *t, uint32_t parent, uint32_t name)
{
    size_t s;
    struct edge_slot *e;

    if (!t->edges) {
        size_t mask = 4095;
        while (t->nnodes * 4 > mask * 3)
            mask = mask * 2 + 1;
        if (build_edges(t, mask))
            return -ENOMEM;
    }
    s = hash_edge(parent, name) & t->edge_mask;
    for (;;) {
        e = &t->edges[s];
        if (!e->node)
            break;
        if (e->parent == parent && e->name == name)
            return e->node;
        s = (s + 1) & t->edge_mask;
    }
    if (t->nnodes >= UINT32_MAX - 1)
        return -EOVERFLOW;
    if (bts_array_grow((void **)&t->nodes, &t->nodes_alloc, t->nnodes + 1, sizeof(*t->nodes)))
        return -ENOMEM;
    t->nodes[t->nnodes] = (struct node){parent, name, {0, 0}};
    *e = (struct edge_slot){parent, name, (uint32_t)t->nnodes};
    t->nnodes++;
    if (t->nnodes * 4 > t->edge_mask * 3 && build_edges(t, t->edge_mask * 2 + 1))
        return -ENOMEM;
    return (int64_t)t->nnodes - 1;
}

static int add_counts(struct bts_calltree *t, uint32_t leaf, const uint64_t *count,
                      unsigned ncounts, unsigned flags)
{
    struct node *n = &t->nodes[leaf];

    if (ncounts >= 2) {
        if (t->sum[0] > UINT64_MAX - count[0] || t->sum[1] > UINT64_MAX - count[1])
            return -EOVERFLOW;
        t->sum[0] += count[0];
        t->sum[1] += count[1];
        n->self[0] += count[0];
        n->self[1] += count[1];
        t->differential = true;
        return 0;
    }
    unsigned c = (flags & BTS_CALLTREE_TO_COLUMN1) ? 1 : 0;
    if (c)
        t->differential = true;
    if (t->sum[c] > UINT64_MAX - count[0])
        return -EOVERFLOW;
    t->sum[c] += count[0];
    n->self[c] += count[0];
    return 0;
}

static int step(struct bts_calltree *t, uint32_t *node, const char *p, size_t n)
{
    int64_t id = intern(t, p, n);
    if (id < 0)
        return (int)id;
    id = child_of(t, *node, (uint32_t)id);
    if (id < 0)
        return (int)id;
    *node = (uint32_t)id;
    return 0;
}

static int add_reversed(struct bts_calltree *t, const char *stack, size_t len,
                        const uint64_t *count, unsigned ncounts, unsigned flags)
{
    uint32_t node = BTS_CALLTREE_ROOT;
    size_t end = len;
    int err;

    for (;;) {
        size_t start = end;
        while (start > 0 && stack[start - 1] != ';')
            start--;
        err = step(t, &node, stack + start, end - start);
        if (err)
            return err;
        if (start == 0)
            break;
        end = start - 1;
    }
    return add_counts(t, node, count, ncounts, flags);
}

/* True when the path from the root to `leaf` spells `stack`. */
static bool leaf_matches(const struct bts_calltree *t, uint32_t leaf, const char *stack, size_t len)
{
    size_t pos = len;
    uint32_t n = leaf;

    while (n != BTS_CALLTREE_ROOT) {
        const struct name_entry *e = &t->names[t->nodes[n].name];
        if (e->len > pos || memcmp(stack + pos - e->len, t->names_buf + e->off, e->len))
            return false;
        pos -= e->len;
        n = t->nodes[n].parent;
        if (n != BTS_CALLTREE_ROOT) {
            if (pos == 0 || stack[pos - 1] != ';')
                return false;
            pos--;
        }
    }
    return pos == 0;
}

static struct stack_slot *stack_lookup(struct bts_calltree *t, uint64_t h, const char *stack,
                                       size_t len, uint32_t *leaf)
{
    size_t s = h & t->stack_mask;

    for (;;) {
        struct stack_slot *e = &t->stacks[s];
        if (!e->leaf)
            return e;
        if (e->hash == h && e->len == len && leaf_matches(t, e->leaf, stack, len)) {
            *leaf = e->leaf;
            return e;
        }
        s = (s + 1) & t->stack_mask;
    }
}

static void stack_remember(struct bts_calltree *t, struct stack_slot *e, uint64_t h, size_t len,
                           uint32_t leaf)
{
    if (t->nstacks * 4 >= t->stack_mask * 3) {
        size_t mask = t->stack_mask * 2 + 1;
        struct stack_slot *slots;
        if (mask + 1 > STACK_TABLE_MAX)
            return; /* full: later stacks take the frame path */
        slots = calloc(mask + 1, sizeof(*slots));
        if (!slots)
            return; /* only a cache */
        for (size_t i = 0; i <= t->stack_mask; i++) {
            size_t s;
            if (!t->stacks[i].leaf)
                continue;
            s = t->stacks[i].hash & mask;
            while (slots[s].leaf)
                s = (s + 1) & mask;
            slots[s] = t->stacks[i];
        }
        free(t->stacks);
        t->stacks = slots;
        t->stack_mask = mask;
        e = &slots[h & mask];
        while (e->leaf)
            e = &slots[(size_t)(e - slots + 1) & mask];
    }
    *e = (struct stack_slot){h, (uint32_t)len, leaf};
    t->nstacks++;
}

int bts_calltree_add_stack(struct bts_calltree *t, const char *stack, size_t len,
                           const uint64_t *count, unsigned ncounts, unsigned flags)
{
    struct stack_slot *slot;
    uint64_t h;
    uint32_t leaf = 0;
    struct prefix_cache *pc = &t->prev;
    size_t common = 0, keep = 0, pos;
    uint32_t node = BTS_CALLTREE_ROOT;
    int err;

    if (t->finished)
        free_finished(t);
    if (len == 0) /* a sample without frames: the root's own count */
        return add_counts(t, BTS_CALLTREE_ROOT, count, ncounts, flags);
    if (flags & BTS_CALLTREE_REVERSE)
        return add_reversed(t, stack, len, count, ncounts, flags);
    if (len > UINT32_MAX - 1)
        return -EOVERFLOW;

    h = hash_bytes(stack, len);
    slot = stack_lookup(t, h, stack, len, &leaf);
    if (leaf)
        return add_counts(t, leaf, count, ncounts, flags);

    /* Frames shared with the previous stack are already resolved. */
    while (common < len && common < pc->len && stack[common] == pc->bytes[common])
        common++;
    while (keep < pc->depth && pc->ends[keep] <= common &&
           (pc->ends[keep] == len || stack[pc->ends[keep]] == ';'))
        keep++;
    if (keep) {
        node = pc->nodes[keep - 1];
        pos = pc->ends[keep - 1] + 1;
    } else {
        pos = 0;
    }
    if (keep && pc->ends[keep - 1] == len) {
        stack_remember(t, slot, h, len, node);
        return add_counts(t, node, count, ncounts, flags);
    }

    if (bts_array_grow((void **)&pc->bytes, &pc->cap, len + 1, 1))
        return -ENOMEM;
    memcpy(pc->bytes + common, stack + common, len - common);
    pc->len = len;
    pc->depth = keep;
    for (;;) {
        const char *semi = memchr(stack + pos, ';', len - pos);
        size_t end = semi ? (size_t)(semi - stack) : len;
        err = step(t, &node, stack + pos, end - pos);
        if (err)
            goto fail;
        if (bts_array_grow((void **)&pc->ends, &pc->ends_cap, pc->depth + 1, sizeof(*pc->ends)) ||
            bts_array_grow((void **)&pc->nodes, &pc->nodes_cap, pc->depth + 1,
                           sizeof(*pc->nodes))) {
            err = -ENOMEM;
            goto fail;
        }
        pc->ends[pc->depth] = (uint32_t)end;
        pc->nodes[pc->depth] = node;
        pc->depth++;
        if (!semi)
            break;
        pos = end + 1;
    }
    stack_remember(t, slot, h, len, node);
    return add_counts(t, node, count, ncounts, flags);
fail:
    pc->len = pc->depth = 0;
    return err;
}

int bts_calltree_add_frames(struct bts_calltree *t, const char *const *names, const size_t *lens,
                            size_t n, const uint64_t *count, unsigned ncounts, unsigned flags)
{
    uint32_t node = BTS_CALLTREE_ROOT;
    int err;

    if (t->finished)
        free_finished(t);
    for (size_t i = 0; i < n; i++) {
        size_t k = (flags & BTS_CALLTREE_REVERSE) ? n - 1 - i : i;
        err = step(t, &node, names[k], lens[k]);
        if (err)
            return err;
    }
    return add_counts(t, node, count, ncounts, flags);
}

int bts_calltree_add_folded(struct bts_calltree *t, FILE *in, const char *name, unsigned flags,
                            bts_folded_diag_fn diag, void *diag_ctx, uint64_t *nstacks)
{
    unsigned rflags = (flags & BTS_CALLTREE_STRICT) ? BTS_FOLDED_STRICT : 0;
    struct bts_folded_reader *r = bts_folded_reader_new(in, name, rflags, diag, diag_ctx);
    struct bts_folded_record rec;
    int err;

    if (!r)
        return -errno;
    while ((err = bts_folded_reader_next(r, &rec)) == 1) {
        err = bts_calltree_add_stack(t, rec.stack, rec.stack_len, rec.count, rec.ncounts, flags);
        if (err)
            goto out;
    }
out:
    if (nstacks)
        *nstacks = bts_folded_reader_stacks(r);
    bts_folded_reader_free(r);
    return err;
}

static int cmp_names(const void *a, const void *b, void *ctx)
{
    const struct bts_calltree *t = ctx;
    const struct name_entry *x = &t->names[*(const uint32_t *)a];
    const struct name_entry *y = &t->names[*(const uint32_t *)b];
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(t->names_buf + x->off, t->names_buf + y->off, n);
    if (c)
        return c;
    return (x->len > y->len) - (x->len < y->len);
}

/* qsort_r is a GNU/BSD extension with differing signatures; a small merge
 * sort keeps the code portable C11. */
static void sort_ids(uint32_t *v, uint32_t *tmp, size_t n, const struct bts_calltree *t)
{
    if (n < 2)
        return;
    size_t h = n / 2;
    sort_ids(v, tmp, h, t);
    sort_ids(v + h, tmp, n - h, t);
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n)
        tmp[k++] = cmp_names(&v[j], &v[i], (void *)t) < 0 ? v[j++] : v[i++];
    while (i < h)
        tmp[k++] = v[i++];
    while (j < n)
        tmp[k++] = v[j++];
    memcpy(v, tmp, n * sizeof(*v));
}

int bts_calltree_finish(struct bts_calltree *t)
{
    size_t n = t->nnodes;
    uint32_t *rank = NULL, *order = NULL, *tmp = NULL, *fill = NULL;
    int err = -ENOMEM;

    if (t->finished)
        return 0;
    /* The edge table is only needed to add; drop it before the arrays
     * below so peak memory stays low. It is rebuilt by the next add. */
    free(t->edges);
    t->edges = NULL;
    t->total = calloc(n * BTS_CALLTREE_COLUMNS, sizeof(*t->total));
    t->depth = malloc(n * sizeof(*t->depth));
    t->child_start = calloc(n + 1, sizeof(*t->child_start));
    t->children = malloc((n > 1 ? n - 1 : 1) * sizeof(*t->children));
    rank = malloc(t->nnames * sizeof(*rank));
    order = malloc(t->nnames * sizeof(*order));
    tmp = malloc(t->nnames * sizeof(*tmp));
    fill = malloc((n + 1) * sizeof(*fill));
    if (!t->total || !t->depth || !t->child_start || !t->children || !rank || !order || !tmp ||
        !fill)
        goto out;

    /* Children are created after their parent: one backward pass sums. */
    for (size_t i = n; i-- > 0;) {
        for (unsigned c = 0; c < BTS_CALLTREE_COLUMNS; c++) {
            uint64_t *tot = &t->total[i * BTS_CALLTREE_COLUMNS + c];
            *tot += t->nodes[i].self[c];
            if (i) {
                uint64_t *pt = &t->total[(size_t)t->nodes[i].parent * BTS_CALLTREE_COLUMNS + c];
                *pt = *pt > UINT64_MAX - *tot ? UINT64_MAX : *pt + *tot;
            }
        }
    }
    t->max_depth = 0;
    t->depth[0] = 0;
    for (size_t i = 1; i < n; i++) {
        t->depth[i] = t->depth[t->nodes[i].parent] + 1;
        if (t->depth[i] > t->max_depth)
            t->max_depth = t->depth[i];
    }

    /* Children of each parent, in name order: visit nodes by name rank. */
    for (size_t i = 0; i < t->nnames; i++)
        order[i] = (uint32_t)i;
    sort_ids(order, tmp, t->nnames, t);
    for (size_t i = 0; i < t->nnames; i++)
        rank[order[i]] = (uint32_t)i;
    for (size_t i = 1; i < n; i++)
        t->child_start[t->nodes[i].parent + 1]++;
    for (size_t i = 0; i < n; i++)
        t->child_start[i + 1] += t->child_start[i];
    memcpy(fill, t->child_start, (n + 1) * sizeof(*fill));
    for (size_t i = 1; i < n; i++)
        t->children[fill[t->nodes[i].parent]++] = (uint32_t)i;
    for (size_t p = 0; p < n; p++) {
        uint32_t *c = t->children + t->child_start[p];
        size_t k = t->child_start[p + 1] - t->child_start[p];
        /* Shell sort by name rank (gap 1 is an insertion sort): sibling
         * lists are mostly short. Names are unique among siblings. */
        for (size_t gap = k > 32 ? k / 2 : 1; gap > 0; gap /= 2) {
            for (size_t i = gap; i < k; i++) {
                uint32_t v = c[i];
                size_t j = i;
                while (j >= gap && rank[t->nodes[c[j - gap]].name] > rank[t->nodes[v].name]) {
                    c[j] = c[j - gap];
                    j -= gap;
                }
                c[j] = v;
            }
        }
    }
    t->finished = true;
    err = 0;
out:
    free(rank);
    free(order);
    free(tmp);
    free(fill);
    if (err)
        free_finished(t);
    return err;
}

bool bts_calltree_is_differential(const struct bts_calltree *t)
{
    return t->differential;
}

size_t bts_calltree_node_count(const struct bts_calltree *t)
{
    return t->nnodes;
}

bts_calltree_node bts_calltree_parent(const struct bts_calltree *t, bts_calltree_node n)
{
    return t->nodes[n].parent;
}

uint32_t bts_calltree_depth(const struct bts_calltree *t, bts_calltree_node n)
{
    return t->depth[n];
}

uint32_t bts_calltree_max_depth(const struct bts_calltree *t)
{
    return t->max_depth;
}

size_t bts_calltree_children(const struct bts_calltree *t, bts_calltree_node n,
                             const bts_calltree_node **children)
{
    *children = t->children + t->child_start[n];
    return t->child_start[n + 1] - t->child_start[n];
}

const char *bts_calltree_name(const struct bts_calltree *t, bts_calltree_node n, size_t *len)
{
    return bts_calltree_name_by_id(t, t->nodes[n].name, len);
}

uint32_t bts_calltree_name_id(const struct bts_calltree *t, bts_calltree_node n)
{
    return t->nodes[n].name;
}

size_t bts_calltree_name_count(const struct bts_calltree *t)
{
    return t->nnames;
}

const char *bts_calltree_name_by_id(const struct bts_calltree *t, uint32_t id, size_t *len)
{
    if (len)
        *len = t->names[id].len;
    return t->names_buf + t->names[id].off;
}

uint64_t bts_calltree_self(const struct bts_calltree *t, bts_calltree_node n, unsigned column)
{
    return t->nodes[n].self[column];
}

uint64_t bts_calltree_total(const struct bts_calltree *t, bts_calltree_node n, unsigned column)
{
    return t->total[(size_t)n * BTS_CALLTREE_COLUMNS + column];
}

struct bts_calltree *bts_calltree_from_folded(FILE *in, const char *name)
{
    struct bts_calltree *t = bts_calltree_new();
    int err;

    if (!t)
        return NULL;
    err = bts_calltree_add_folded(t, in, name ? name : "-", 0, NULL, NULL, NULL);
    if (!err)
        err = bts_calltree_finish(t);
    if (err) {
        bts_calltree_free(t);
        errno = -err;
        return NULL;
    }
    return t;
}

/* ---- folded output ---- */

int bts_calltree_walk_init_at(struct bts_calltree_walk *d, const struct bts_calltree *t,
                              bts_calltree_node start)
{
    size_t cap = (size_t)bts_calltree_max_depth(t) + 2;

    d->path = calloc(cap, sizeof(*d->path));
    d->next = calloc(cap, sizeof(*d->next));
    d->sp = 1;
    if (!d->path || !d->next)
        return -ENOMEM;
    d->path[0] = start;
    return 0;
}

int bts_calltree_walk_init(struct bts_calltree_walk *d, const struct bts_calltree *t)
{
    return bts_calltree_walk_init_at(d, t, BTS_CALLTREE_ROOT);
}

void bts_calltree_walk_free(struct bts_calltree_walk *d)
{
    free(d->path);
    free(d->next);
}

bts_calltree_node bts_calltree_walk_next(struct bts_calltree_walk *d, const struct bts_calltree *t)
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

int bts_calltree_write_folded(const struct bts_calltree *t, FILE *out)
{
    bool diff = bts_calltree_is_differential(t);
    struct bts_calltree_walk d;
    bts_calltree_node n;
    int err = bts_calltree_walk_init(&d, t);

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
    } while ((n = bts_calltree_walk_next(&d, t)) != BTS_CALLTREE_ROOT);
    if (fflush(out) || ferror(out))
        err = -EIO;
out:
    bts_calltree_walk_free(&d);
    return err;
}
