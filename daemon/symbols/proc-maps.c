/* SPDX-License-Identifier: MIT */
/* proc-maps: /proc/PID/maps as a sorted array searched in O(log n), with a
 * rate-limited reread on misses and each mapping's ELF image opened lazily. */
#define _GNU_SOURCE

#include "proc-maps.h"
#include "elf-image.h"
#include "elf-image-private.h"
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#define REFRESH_INTERVAL_NS 10000000ULL
#define DELETED_SUFFIX      " (deleted)"

struct map_entry {
    struct bts_map map; /* first, so a bts_map pointer is the entry's */
    struct bts_elf *elf;
    int elf_err;
    bool elf_tried;
};

struct bts_maps {
    pid_t pid;
    struct bts_elf_cache *cache;
    bool own_cache;
    struct map_entry *entries;
    size_t count;
    char *paths; /* every entry's path, NUL-separated */
    /* The arrays before the last refresh, kept one more round so a map
     * pointer taken just before an implicit refresh stays readable. */
    struct map_entry *old_entries;
    size_t old_count;
    char *old_paths;
    size_t last_hit;
    uint64_t last_miss_refresh_ns;
    char *text; /* buffer the maps file is read into */
    size_t text_cap;
};

/* Reads the whole maps file into maps->text; returns its length or -errno. */
static ssize_t read_maps_text(struct bts_maps *maps)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/maps", (int)maps->pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t len = 0;
    ssize_t ret;
    for (;;) {
        if (len + 4096 + 1 > maps->text_cap) {
            size_t ncap = maps->text_cap ? maps->text_cap * 2 : 65536;
            char *t = realloc(maps->text, ncap);
            if (!t) {
                ret = -ENOMEM;
                goto out;
            }
            maps->text = t;
            maps->text_cap = ncap;
        }
        ssize_t n = read(fd, maps->text + len, maps->text_cap - len - 1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            ret = -errno;
            goto out;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    maps->text[len] = '\0';
    ret = (ssize_t)len;
out:
    close(fd);
    return ret;
}

/* Parses "start-end perms pgoff maj:min ino   path". */
static bool parse_line(char *line, struct bts_map *m, char **path)
{
    char *p = line, *endp;
    errno = 0;
    m->start = strtoull(p, &endp, 16);
    if (endp == p || *endp != '-')
        return false;
    p = endp + 1;
    m->end = strtoull(p, &endp, 16);
    if (endp == p || *endp != ' ' || m->end <= m->start)
        return false;
    p = endp + 1;
    if (strlen(p) < 5)
        return false;
    m->prot = (p[0] == 'r' ? PROT_READ : 0) | (p[1] == 'w' ? PROT_WRITE : 0) |
              (p[2] == 'x' ? PROT_EXEC : 0);
    p += 4;
    if (*p != ' ')
        return false;
    m->pgoff = strtoull(p + 1, &endp, 16);
    if (endp == p + 1 || *endp != ' ')
        return false;
    p = endp + 1;
    unsigned long major = strtoul(p, &endp, 16);
    if (endp == p || *endp != ':')
        return false;
    p = endp + 1;
    unsigned long minor = strtoul(p, &endp, 16);
    if (endp == p || *endp != ' ')
        return false;
    m->dev = makedev(major, minor);
    p = endp + 1;
    m->ino = strtoull(p, &endp, 10);
    if (endp == p || errno)
        return false;
    p = endp;
    while (*p == ' ' || *p == '\t')
        p++;
    *path = p;
    return true;
}

static int entry_cmp(const void *pa, const void *pb)
{
    const struct map_entry *a = pa, *b = pb;
    return a->map.start < b->map.start ? -1 : a->map.start > b->map.start;
}

int bts_maps_refresh(struct bts_maps *maps)
{
    ssize_t len = read_maps_text(maps);
    if (len < 0)
        return (int)len;
    if (len == 0)
        return -ESRCH; /* a zombie or exited process has no maps */
    size_t lines = 0;
    for (ssize_t i = 0; i < len; i++)
        lines += maps->text[i] == '\n';
    lines++;
    struct map_entry *entries = calloc(lines, sizeof(*entries));
    char *paths = malloc((size_t)len + lines + 1);
    if (!entries || !paths) {
        free(entries);
        free(paths);
        return -ENOMEM;
    }
    size_t count = 0, used = 0;
    bool sorted = true;
    char *save = NULL;
    for (char *line = strtok_r(maps->text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        struct map_entry *e = &entries[count];
        char *path;
        if (!parse_line(line, &e->map, &path))
            continue;
        size_t plen = strlen(path);
        memcpy(paths + used, path, plen + 1);
        e->map.path = paths + used;
        used += plen + 1;
        if (count && entries[count - 1].map.start > e->map.start)
            sorted = false;
        count++;
    }
    if (!sorted)
        qsort(entries, count, sizeof(*entries), entry_cmp);
    free(maps->old_entries);
    free(maps->old_paths);
    maps->old_entries = maps->entries;
    maps->old_count = maps->count;
    maps->old_paths = maps->paths;
    maps->entries = entries;
    maps->paths = paths;
    maps->count = count;
    maps->last_hit = 0;
    return 0;
}

struct bts_maps *bts_maps_new(pid_t pid, struct bts_elf_cache *cache)
{
    struct bts_maps *maps = calloc(1, sizeof(*maps));
    int ret = -ENOMEM;
    if (!maps)
        goto out;
    maps->pid = pid;
    maps->cache = cache;
    if (!cache) {
        maps->cache = bts_elf_cache_new();
        if (!maps->cache) {
            ret = -errno;
            goto out;
        }
        maps->own_cache = true;
    }
    ret = bts_maps_refresh(maps);
out:
    if (ret < 0) {
        bts_maps_free(maps);
        errno = -ret;
        return NULL;
    }
    return maps;
}

void bts_maps_free(struct bts_maps *maps)
{
    if (!maps)
        return;
    if (maps->own_cache)
        bts_elf_cache_free(maps->cache);
    free(maps->entries);
    free(maps->paths);
    free(maps->old_entries);
    free(maps->old_paths);
    free(maps->text);
    free(maps);
}

pid_t bts_maps_pid(const struct bts_maps *maps)
{
    return maps->pid;
}

static const struct bts_map *search(struct bts_maps *maps, uint64_t addr)
{
    if (maps->last_hit < maps->count) {
        const struct bts_map *m = &maps->entries[maps->last_hit].map;
        if (addr >= m->start && addr < m->end)
            return m;
    }
    size_t lo = 0, hi = maps->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (maps->entries[mid].map.start <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0 || addr >= maps->entries[lo - 1].map.end)
        return NULL;
    maps->last_hit = lo - 1;
    return &maps->entries[lo - 1].map;
}

const struct bts_map *bts_maps_find(struct bts_maps *maps, uint64_t addr)
{
    const struct bts_map *m = search(maps, addr);
    if (m)
        return m;
    uint64_t now = (uint64_t)bts_proc_now_ns();
    if (maps->last_miss_refresh_ns && now - maps->last_miss_refresh_ns < REFRESH_INTERVAL_NS) {
        errno = ENOENT;
        return NULL;
    }
    maps->last_miss_refresh_ns = now;
    if (bts_maps_refresh(maps) == 0)
        m = search(maps, addr);
    if (!m)
        errno = ENOENT;
    return m;
}

/* Tries the paths that may hold the mapped file, most trusted first. */
static struct bts_elf *open_mapped_file(struct bts_maps *maps, const struct bts_map *m)
{
    char path[PATH_MAX];
    size_t plen = strlen(m->path);
    size_t slen = strlen(DELETED_SUFFIX);
    bool deleted = plen > slen && strcmp(m->path + plen - slen, DELETED_SUFFIX) == 0;
    char map_files[96];
    snprintf(map_files, sizeof(map_files), "/proc/%d/map_files/%llx-%llx", (int)maps->pid,
             (unsigned long long)m->start, (unsigned long long)m->end);
    struct bts_elf *elf;
    int err = ENOENT;

    if (!deleted) {
        elf = bts_elf_cache_open_file(maps->cache, m->path, m->dev, m->ino, true);
        if (elf)
            return elf;
        err = errno;
        int n = snprintf(path, sizeof(path), "/proc/%d/root%s", (int)maps->pid, m->path);
        if (n > 0 && (size_t)n < sizeof(path) && maps->pid != getpid()) {
            elf = bts_elf_cache_open_file(maps->cache, path, m->dev, m->ino, true);
            if (elf)
                return elf;
        }
    }
    elf = bts_elf_cache_open_file(maps->cache, map_files, m->dev, m->ino, false);
    if (elf)
        return elf;
    /* Inode numbers differ on overlay-like filesystems: accept the path. */
    if (!deleted && err == ESTALE) {
        elf = bts_elf_cache_open_file(maps->cache, m->path, m->dev, m->ino, false);
        if (elf)
            return elf;
    }
    bts_elf_cache_remember_failure(maps->cache, m->dev, m->ino, err);
    errno = err;
    return NULL;
}

static bool in_array(const struct map_entry *entries, size_t count, const struct bts_map *map)
{
    const void *p = map;
    return entries && p >= (const void *)entries && p < (const void *)(entries + count);
}

struct bts_elf *bts_maps_elf(struct bts_maps *maps, const struct bts_map *map)
{
    if (!map || !(in_array(maps->entries, maps->count, map) ||
                  in_array(maps->old_entries, maps->old_count, map))) {
        errno = EINVAL;
        return NULL;
    }
    struct map_entry *e = (struct map_entry *)((char *)map - offsetof(struct map_entry, map));
    if (e->elf_tried) {
        if (!e->elf)
            errno = e->elf_err;
        return e->elf;
    }
    e->elf_tried = true;
    struct bts_elf *elf = NULL;
    int err;
    if (strcmp(map->path, "[vdso]") == 0) {
        elf = bts_elf_cache_open_vdso(maps->cache, maps->pid, map->start, map->end - map->start);
    } else if (map->path[0] != '/' || map->ino == 0) {
        errno = ENOENT;
    } else if (bts_elf_cache_lookup(maps->cache, map->dev, map->ino, &elf, &err)) {
        if (!elf)
            errno = err;
    } else {
        elf = open_mapped_file(maps, map);
    }
    e->elf = elf;
    e->elf_err = elf ? 0 : errno;
    return elf;
}
