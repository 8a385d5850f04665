/* SPDX-License-Identifier: MIT */
/* jit-map: /tmp/perf-PID.map ("START SIZE name", hex) read incrementally
 * into a sorted array searched by binary search. Any local user can create
 * a file at that path, and the reader may be a root daemon: the file is
 * opened without following links or blocking, used only when it is a
 * regular file owned by root or the target, and read within fixed bounds. */
#define _GNU_SOURCE

#include "jit-map-private.h"
#include "string-arena-private.h"

#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define READ_CHUNK  65536 /* bytes per pread; a longer line is skipped */
#define MAX_LINE    (READ_CHUNK - 1)
#define MAX_BYTES   ((off_t)128 << 20) /* of one file; the rest is ignored */
#define MAX_ENTRIES ((size_t)2 << 20)
#define NOTE_LEN    256

struct jit_entry {
    uint64_t start;
    uint64_t end;
    uint64_t seq; /* line number: later lines win */
    const char *name;
};

struct bts_jit_map {
    char *path;
    pid_t pid; /* whose uids may own the file (besides root) */
    struct jit_entry *entries;
    size_t count;
    size_t cap;
    uint64_t seq;
    off_t consumed; /* bytes of the file parsed so far (whole lines) */
    bool skipping;  /* inside a line longer than MAX_LINE */
    dev_t dev;      /* the file the entries came from: */
    ino_t ino;      /* a new inode is read from the start */
    bool accepted;  /* dev/ino passed the owner check */
    char note[NOTE_LEN];
    struct bts_string_arena names;
};

struct bts_jit_map *bts_jit_map_new(const char *path, pid_t pid)
{
    struct bts_jit_map *jit = calloc(1, sizeof(*jit));
    if (!jit)
        return NULL;
    jit->pid = pid;
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
    bts_string_arena_clear(&jit->names);
    free(jit->entries);
    jit->entries = NULL;
    jit->count = jit->cap = 0;
    jit->consumed = 0;
    jit->skipping = false;
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
    return bts_string_arena_add(&jit->names, name, len);
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

static void set_note(struct bts_jit_map *jit, const char *why)
{
    snprintf(jit->note, sizeof(jit->note), "did not read %s: %s", jit->path, why);
}

/* Real and effective uid of jit->pid from /proc/PID/status. 0 or -errno. */
static int target_uids(const struct bts_jit_map *jit, uid_t *ruid, uid_t *euid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)jit->pid);
    ssize_t n = bts_proc_read_small(path, buf, sizeof(buf));
    if (n < 0)
        return (int)n;
    const char *line = strstr(buf, "\nUid:");
    unsigned r, e;
    if (!line || sscanf(line + 5, "%u %u", &r, &e) != 2)
        return -EIO;
    *ruid = r;
    *euid = e;
    return 0;
}

static const char *kind_name(mode_t mode)
{
    if (S_ISFIFO(mode))
        return "a FIFO";
    if (S_ISCHR(mode))
        return "a character device";
    if (S_ISBLK(mode))
        return "a block device";
    if (S_ISSOCK(mode))
        return "a socket";
    if (S_ISDIR(mode))
        return "a directory";
    return "not a regular file";
}

/* Opens the map if it may be read: a regular file (not a link, a FIFO or a
 * device: opening those could block or follow into another user's file)
 * with one name, owned by root or by the target's real or effective uid,
 * the rule perf applies. Other files are skipped with a note. fd or -errno. */
static int open_map(struct bts_jit_map *jit, struct stat *st)
{
    int fd = open(jit->path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        int err = errno;
        if (err == ELOOP)
            set_note(jit, "it is a symbolic link");
        return -err;
    }
    char why[128];
    int ret;
    if (fstat(fd, st) != 0) {
        ret = -errno;
        goto refuse;
    }
    if (jit->accepted && st->st_dev == jit->dev && st->st_ino == jit->ino)
        return fd;
    if (!S_ISREG(st->st_mode)) {
        snprintf(why, sizeof(why), "it is %s", kind_name(st->st_mode));
        set_note(jit, why);
        ret = -EINVAL;
        goto refuse;
    }
    if (st->st_nlink != 1) {
        snprintf(why, sizeof(why), "it has %lu hard links", (unsigned long)st->st_nlink);
        set_note(jit, why);
        ret = -EINVAL;
        goto refuse;
    }
    uid_t ruid = 0, euid = 0;
    ret = target_uids(jit, &ruid, &euid);
    if (ret < 0)
        goto refuse;
    if (st->st_uid != 0 && st->st_uid != ruid && st->st_uid != euid) {
        snprintf(why, sizeof(why), "it is owned by uid %u, neither root nor the target's uid %u",
                 (unsigned)st->st_uid, (unsigned)euid);
        set_note(jit, why);
        ret = -EPERM;
        goto refuse;
    }
    if (jit->accepted)
        drop_all(jit); /* another file: a new process reused the pid */
    jit->accepted = true;
    jit->dev = st->st_dev;
    jit->ino = st->st_ino;
    return fd;
refuse:
    close(fd);
    return ret;
}

/* Parses the whole lines in buf[0..len), adding their entries; returns the
 * bytes used (up to the last newline) or -errno. */
static ssize_t parse_lines(struct bts_jit_map *jit, const char *buf, size_t len)
{
    const char *p = buf, *end = buf + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            break; /* a line still being written, or the chunk's end */
        if (jit->skipping) {
            jit->skipping = false; /* the end of an overlong line */
        } else if (jit->count < MAX_ENTRIES) {
            int ret = add_line(jit, p, nl);
            if (ret < 0)
                return ret;
        }
        p = nl + 1;
    }
    return p - buf;
}

/* Parses whole lines appended since the last read, at most MAX_BYTES of the
 * file in all, READ_CHUNK bytes at a time. */
static int read_new_lines(struct bts_jit_map *jit)
{
    struct stat st;
    int fd = open_map(jit, &st);
    if (fd < 0)
        return fd;
    char *buf = NULL;
    size_t old = jit->count;
    int ret = 0;
    if (st.st_size < jit->consumed) {
        drop_all(jit); /* rewritten: a new process reused the pid */
        old = 0;
    }
    off_t limit = st.st_size < MAX_BYTES ? st.st_size : MAX_BYTES;
    if (st.st_size > MAX_BYTES)
        set_note(jit, "it is larger than 128 MiB; the rest was ignored");
    if (limit <= jit->consumed)
        goto out;
    buf = malloc(READ_CHUNK);
    if (!buf) {
        ret = -ENOMEM;
        goto out;
    }
    while (jit->consumed < limit) {
        size_t want =
            limit - jit->consumed < READ_CHUNK ? (size_t)(limit - jit->consumed) : READ_CHUNK;
        ssize_t got = pread(fd, buf, want, jit->consumed);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            ret = got < 0 ? -errno : 0;
            break;
        }
        ssize_t used = parse_lines(jit, buf, (size_t)got);
        if (used < 0) {
            ret = (int)used;
            break;
        }
        if (used == 0 && (size_t)got < READ_CHUNK)
            break; /* an unfinished last line: wait for its newline */
        if (used == 0) {
            /* No newline in a whole chunk: skip the line to its end. */
            jit->skipping = true;
            used = got;
        }
        jit->consumed += used;
    }
    if (jit->count >= MAX_ENTRIES)
        set_note(jit, "it has more than 2097152 entries; the rest were ignored");
out:;
    int merged = merge_new(jit, old);
    if (ret == 0)
        ret = merged;
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

const char *bts_jit_map_note(const struct bts_jit_map *jit)
{
    return jit && jit->note[0] ? jit->note : NULL;
}
