/* SPDX-License-Identifier: MIT */
/* jit-map: /tmp/perf-PID.map ("START SIZE name", hex) read incrementally
 * into a sorted array searched by binary search. */
#define _GNU_SOURCE

#include "jit-map-private.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NAME_CHUNK 65536

struct jit_entry {
    uint64_t start;
    uint64_t end;
    uint64_t seq; /* line number: later lines win */
    const char *name;
};

struct name_chunk {
    struct name_chunk *next;
    size_t used;
    size_t cap;
    char data[];
};

struct bts_jit_map {
    char *path;
    struct jit_entry *entries;
    size_t count;
    size_t cap;
    uint64_t seq;
    off_t consumed; /* bytes of the file parsed so far (whole lines) */
    struct name_chunk *names;
};

struct bts_jit_map *bts_jit_map_new(const char *path)
{
    struct bts_jit_map *jit = calloc(1, sizeof(*jit));
    if (!jit)
        return NULL;
    jit->path = strdup(path);
    if (!jit->path) {
        free(jit);
        errno = ENOMEM;
        return NULL;
    }
    return jit;
}

static void drop_all(struct bts_jit_map *jit)
{
    while (jit->names) {
        struct name_chunk *next = jit->names->next;
        free(jit->names);
        jit->names = next;
    }
    free(jit->entries);
    jit->entries = NULL;
    jit->count = jit->cap = 0;
    jit->consumed = 0;
}

void bts_jit_map_free(struct bts_jit_map *jit)
{
    if (!jit)
        return;
    drop_all(jit);
    free(jit->path);
    free(jit);
}

static const char *store_name(struct bts_jit_map *jit, const char *name, size_t len)
{
    struct name_chunk *c = jit->names;
    if (!c || c->cap - c->used < len + 1) {
        size_t cap = len + 1 > NAME_CHUNK ? len + 1 : NAME_CHUNK;
        c = malloc(sizeof(*c) + cap);
        if (!c)
            return NULL;
        c->next = jit->names;
        c->used = 0;
        c->cap = cap;
        jit->names = c;
    }
    char *s = c->data + c->used;
    memcpy(s, name, len);
    s[len] = '\0';
    c->used += len + 1;
    return s;
}

static bool parse_hex(const char **p, const char *end, uint64_t *out)
{
    const char *s = *p;
    if (end - s > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
        s += 2;
    uint64_t v = 0;
    const char *digits = s;
    for (; s < end; s++) {
        int d;
        if (*s >= '0' && *s <= '9')
            d = *s - '0';
        else if (*s >= 'a' && *s <= 'f')
            d = *s - 'a' + 10;
        else if (*s >= 'A' && *s <= 'F')
            d = *s - 'A' + 10;
        else
            break;
        if (v >> 60)
            return false;
        v = v << 4 | (uint64_t)d;
    }
    if (s == digits)
        return false;
    *out = v;
    *p = s;
    return true;
}

/* Appends one line's entry; malformed lines are skipped. */
static int add_line(struct bts_jit_map *jit, const char *line, const char *end)
{
    const char *p = line;
    uint64_t start, size;
    if (!parse_hex(&p, end, &start) || p >= end || *p != ' ')
        return 0;
    p++;
    if (!parse_hex(&p, end, &size) || p >= end || *p != ' ' || size == 0)
        return 0;
    p++;
    while (end > p && (end[-1] == '\r' || end[-1] == ' '))
        end--;
    if (end == p || start + size < start)
        return 0;
    if (jit->count == jit->cap) {
        size_t ncap = jit->cap ? jit->cap * 2 : 1024;
        struct jit_entry *e = realloc(jit->entries, ncap * sizeof(*e));
        if (!e)
            return -ENOMEM;
        jit->entries = e;
        jit->cap = ncap;
    }
    const char *name = store_name(jit, p, (size_t)(end - p));
    if (!name)
        return -ENOMEM;
    jit->entries[jit->count++] = (struct jit_entry){
        .start = start,
        .end = start + size,
        .seq = jit->seq++,
        .name = name,
    };
    return 0;
}

static int entry_cmp(const void *pa, const void *pb)
{
    const struct jit_entry *a = pa, *b = pb;
    if (a->start != b->start)
        return a->start < b->start ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* Sorts the entries added after `old`, then merges them into the sorted
 * prefix, so a growing file costs O(n) per read rather than a full sort. */
static int merge_new(struct bts_jit_map *jit, size_t old)
{
    size_t added = jit->count - old;
    if (added == 0)
        return 0;
    qsort(jit->entries + old, added, sizeof(*jit->entries), entry_cmp);
    if (old == 0 || entry_cmp(&jit->entries[old - 1], &jit->entries[old]) <= 0)
        return 0;
    struct jit_entry *merged = malloc(jit->count * sizeof(*merged));
    if (!merged)
        return -ENOMEM;
    size_t i = 0, j = old, k = 0;
    while (i < old && j < jit->count)
        merged[k++] = entry_cmp(&jit->entries[i], &jit->entries[j]) <= 0 ? jit->entries[i++]
                                                                         : jit->entries[j++];
    while (i < old)
        merged[k++] = jit->entries[i++];
    while (j < jit->count)
        merged[k++] = jit->entries[j++];
    memcpy(jit->entries, merged, jit->count * sizeof(*merged));
    free(merged);
    return 0;
}

/* Parses whole lines appended since the last read. */
static int read_new_lines(struct bts_jit_map *jit)
{
    int fd = open(jit->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    char *buf = NULL;
    int ret;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        ret = -errno;
        goto out;
    }
    if (st.st_size < jit->consumed)
        drop_all(jit); /* rewritten: a new process reused the pid */
    if (st.st_size == jit->consumed) {
        ret = 0;
        goto out;
    }
    size_t len = (size_t)(st.st_size - jit->consumed);
    buf = malloc(len);
    if (!buf) {
        ret = -ENOMEM;
        goto out;
    }
    ssize_t got = pread(fd, buf, len, jit->consumed);
    if (got < 0) {
        ret = -errno;
        goto out;
    }
    size_t old = jit->count;
    const char *p = buf, *end = buf + got;
    ret = 0;
    while (p < end && ret == 0) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            break; /* a line still being written */
        ret = add_line(jit, p, nl);
        p = nl + 1;
    }
    jit->consumed += p - buf;
    int merge = merge_new(jit, old);
    if (ret == 0)
        ret = merge;
out:
    free(buf);
    close(fd);
    return ret;
}

static const struct jit_entry *search(const struct bts_jit_map *jit, uint64_t pc)
{
    size_t lo = 0, hi = jit->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (jit->entries[mid].start <= pc)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0 || pc >= jit->entries[lo - 1].end)
        return NULL;
    return &jit->entries[lo - 1];
}

const char *bts_jit_map_find(struct bts_jit_map *jit, uint64_t pc)
{
    const struct jit_entry *e = search(jit, pc);
    if (e)
        return e->name;
    if (read_new_lines(jit) < 0)
        return NULL;
    e = search(jit, pc);
    return e ? e->name : NULL;
}
