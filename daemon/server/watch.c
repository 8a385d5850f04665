/* SPDX-License-Identifier: MIT */
/* watch: finds new processes by scanning /proc every 50 ms and profiles
 * those whose name matches, one in-process session each. */
#define _GNU_SOURCE
#include "watch.h"
#include "proc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "authz.h"
#include "protocol.h"
#include "session.h"

#define SCAN_NS       (50 * 1000000LL)
#define YOUNG_SECONDS 2 /* a process this young may still exec into a match */

struct seen_pid {
    pid_t pid;
    uint64_t start;
    bool decided; /* matched, or too old to exec into a match any more */
};

struct watched {
    pid_t pid;
    struct bts_spool_owner owner; /* who may read its profile */
    char comm[64];
    char stem[160];
    struct bts_session *s;
};

struct bts_watch {
    struct bts_watch_opts opts;
    char *pattern, *spool;
    struct seen_pid *seen;
    size_t nseen, cap_seen;
    struct watched **watched;
    size_t nwatched;
    int64_t last_scan_ns;
    long ticks_per_s;
};

#define LOG(w, level, ...) bts_log_printf(&(w)->opts.log, level, __VA_ARGS__)

static int cmp_seen(const void *a, const void *b)
{
    const struct seen_pid *x = a, *y = b;
    return (x->pid > y->pid) - (x->pid < y->pid);
}

static struct seen_pid *find_seen(struct seen_pid *v, size_t n, pid_t pid)
{
    struct seen_pid key = {.pid = pid};
    return n ? bsearch(&key, v, n, sizeof(*v), cmp_seen) : NULL; /* v may be NULL */
}

/* Uptime in clock ticks, comparable with /proc/PID/stat's starttime. */
static uint64_t uptime_ticks(const struct bts_watch *w)
{
    double up = 0;
    FILE *f = fopen("/proc/uptime", "re");
    if (f) {
        if (fscanf(f, "%lf", &up) != 1)
            up = 0;
        fclose(f);
    }
    return (uint64_t)(up * (double)w->ticks_per_s);
}

static bool read_small(const char *path, char *buf, size_t len, size_t *got)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, buf, len - 1);
    close(fd);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    if (got)
        *got = (size_t)n;
    return true;
}

/* Does the process's comm or argv[0] basename match? Fills comm. */
static bool matches(const struct bts_watch *w, pid_t pid, char *comm, size_t comm_len)
{
    char path[64], buf[4096];
    snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
    if (!read_small(path, buf, sizeof(buf), NULL))
        return false;
    buf[strcspn(buf, "\n")] = '\0';
    snprintf(comm, comm_len, "%.63s", buf);
    if (fnmatch(w->pattern, buf, 0) == 0)
        return true;
    snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
    if (!read_small(path, buf, sizeof(buf), NULL))
        return false;
    const char *slash = strrchr(buf, '/'); /* argv[0] ends at the first NUL */
    const char *base = slash ? slash + 1 : buf;
    if (*base && fnmatch(w->pattern, base, 0) == 0) {
        snprintf(comm, comm_len, "%.63s", base);
        return true;
    }
    return false;
}

static unsigned watched_of_uid(const struct bts_watch *w, uid_t uid)
{
    unsigned n = 0;
    for (size_t i = 0; i < w->nwatched; i++)
        n += w->watched[i]->owner.uid == uid;
    return n;
}

/* Returns false when the process was not taken up (yet): too many of its
 * uid are watched already. */
static bool start_watching(struct bts_watch *w, pid_t pid, const char *comm)
{
    uid_t uid;
    gid_t gid;
    if (bts_authz_owner_of(pid, &uid, &gid) < 0)
        return true; /* gone already */
    if (watched_of_uid(w, uid) >= BTS_WATCH_MAX_PER_UID) {
        LOG(w, BTS_LOG_DEBUG, "watch: pid %d (%s) waits: uid %u has %d processes watched", (int)pid,
            comm, (unsigned)uid, BTS_WATCH_MAX_PER_UID);
        return false;
    }
    struct watched *wd = calloc(1, sizeof(*wd));
    struct watched **grown = realloc(w->watched, (w->nwatched + 1) * sizeof(*grown));
    if (grown)
        w->watched = grown;
    if (!wd || !grown) {
        free(wd);
        return true;
    }
    wd->pid = pid;
    wd->owner = (struct bts_spool_owner){
        .uid = uid,
        .gid = w->opts.spool_gid != (gid_t)-1 ? w->opts.spool_gid : gid,
        .group_read = w->opts.spool_gid != (gid_t)-1,
    };
    snprintf(wd->comm, sizeof(wd->comm), "%s", comm);
    bts_profile_stem(pid, comm, wd->stem, sizeof(wd->stem));
    struct bts_session_opts so = {.pid = pid, .rate_hz = w->opts.rate_hz};
    wd->s = bts_session_new(&so);
    int r = wd->s ? bts_session_start(wd->s) : -errno;
    if (r < 0) {
        const char *why = "", *hint = "";
        if (wd->s)
            bts_session_explain(wd->s, &why, &hint);
        /* A process that ended before the attach is no news. */
        LOG(w, r == -ESRCH ? BTS_LOG_DEBUG : BTS_LOG_WARN, "watch: cannot profile pid %d (%s): %s",
            (int)pid, comm, *why ? why : bts_protocol_strerror(-r));
        bts_session_free(wd->s);
        free(wd);
        return true;
    }
    LOG(w, BTS_LOG_INFO, "watch: profiling pid %d (%s, uid %u) with %s", (int)pid, comm,
        (unsigned)uid, bts_session_backend(wd->s));
    w->watched[w->nwatched++] = wd;
    return true;
}

static void scan(struct bts_watch *w, bool initial)
{
    DIR *d = opendir("/proc");
    if (!d)
        return;
    uint64_t now = uptime_ticks(w);
    struct seen_pid *next = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        char *end;
        long pid = strtol(de->d_name, &end, 10);
        if (*end || pid <= 0 || pid == getpid())
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 512;
            struct seen_pid *g = realloc(next, cap * sizeof(*g));
            if (!g)
                break;
            next = g;
        }
        struct seen_pid *old = find_seen(w->seen, w->nseen, (pid_t)pid);
        uint64_t start = bts_authz_start_ticks((pid_t)pid);
        if (!start)
            continue; /* gone already */
        struct seen_pid sp = {.pid = (pid_t)pid, .start = start};
        if (old && old->start == start) {
            sp.decided = old->decided;
        } else if (initial) {
            sp.decided = true; /* running before we started: not new */
        }
        if (!sp.decided) {
            char comm[64];
            if (matches(w, sp.pid, comm, sizeof(comm))) {
                sp.decided = start_watching(w, sp.pid, comm);
            } else if (now > start + (uint64_t)YOUNG_SECONDS * (uint64_t)w->ticks_per_s) {
                sp.decided = true;
            }
        }
        next[n++] = sp;
    }
    closedir(d);
    qsort(next, n, sizeof(*next), cmp_seen);
    free(w->seen);
    w->seen = next;
    w->nseen = n;
}

struct bts_watch *bts_watch_new(const struct bts_watch_opts *o)
{
    struct bts_watch *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    w->opts = *o;
    w->pattern = strdup(o->pattern);
    w->spool = strdup(o->spool_dir);
    if (!w->pattern || !w->spool) {
        bts_watch_free(w);
        errno = ENOMEM;
        return NULL;
    }
    w->opts.pattern = w->pattern;
    w->opts.spool_dir = w->spool;
    w->ticks_per_s = sysconf(_SC_CLK_TCK);
    if (w->ticks_per_s <= 0)
        w->ticks_per_s = 100;
    scan(w, true);
    w->last_scan_ns = bts_proc_now_ns();
    return w;
}

struct spool_entry {
    char stem[256];
    struct timespec mtime;
    uint64_t bytes;
};

static int cmp_entry(const void *a, const void *b)
{
    const struct spool_entry *x = a, *y = b;
    if (x->mtime.tv_sec != y->mtime.tv_sec)
        return x->mtime.tv_sec < y->mtime.tv_sec ? -1 : 1;
    if (x->mtime.tv_nsec != y->mtime.tv_nsec)
        return x->mtime.tv_nsec < y->mtime.tv_nsec ? -1 : 1;
    return strcmp(x->stem, y->stem);
}

/* Removes the oldest of uid's profiles (NAME.folded, owned by uid, with
 * its NAME.svg) while more than `keep` are kept or they take more than
 * max_bytes; the newest one always stays. Other uids' profiles are not
 * touched: each uid has its own quota. */
static void enforce_retention(struct bts_watch *w, uid_t uid)
{
    if (!w->opts.keep && !w->opts.max_bytes)
        return;
    DIR *d = opendir(w->spool);
    if (!d)
        return;
    struct spool_entry *v = NULL;
    size_t n = 0, cap = 0;
    uint64_t total = 0;
    struct dirent *de;
    int dfd = dirfd(d);
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);
        if (de->d_name[0] == '.' || len <= 7 || len - 7 >= sizeof(v->stem) ||
            strcmp(de->d_name + len - 7, ".folded"))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            struct spool_entry *g = realloc(v, cap * sizeof(*g));
            if (!g)
                break;
            v = g;
        }
        struct spool_entry *e = &v[n];
        struct stat st;
        char svg[300];
        if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode) ||
            st.st_uid != uid)
            continue;
        memcpy(e->stem, de->d_name, len - 7);
        e->stem[len - 7] = '\0';
        e->mtime = st.st_mtim;
        e->bytes = (uint64_t)st.st_size;
        snprintf(svg, sizeof(svg), "%s.svg", e->stem);
        if (fstatat(dfd, svg, &st, AT_SYMLINK_NOFOLLOW) == 0)
            e->bytes += (uint64_t)st.st_size;
        total += e->bytes;
        n++;
    }
    qsort(v, n, sizeof(*v), cmp_entry);
    for (size_t i = 0; i + 1 < n; i++) {
        size_t left = n - i;
        if (!((w->opts.keep && left > w->opts.keep) ||
              (w->opts.max_bytes && total > w->opts.max_bytes)))
            break;
        char name[300];
        snprintf(name, sizeof(name), "%s.svg", v[i].stem);
        unlinkat(dfd, name, 0);
        snprintf(name, sizeof(name), "%s.folded", v[i].stem);
        unlinkat(dfd, name, 0);
        total -= v[i].bytes;
        LOG(w, BTS_LOG_DEBUG, "watch: retention removed %s", v[i].stem);
    }
    closedir(d);
    free(v);
}

/* Writes one watched process's profile, if it has samples, and frees its
 * session. */
static void finish(struct bts_watch *w, struct watched *wd)
{
    char *text = NULL, name[200];
    size_t len = 0;
    struct bts_session_stats st;
    struct stat written;
    bts_session_stop(wd->s);
    bts_session_stats(wd->s, &st);
    if (st.samples == 0) {
        /* Not a profile: it must not take a place in anyone's quota. */
        LOG(w, BTS_LOG_DEBUG, "watch: pid %d (%s): no samples, no profile", (int)wd->pid, wd->comm);
        goto out;
    }
    FILE *mem = open_memstream(&text, &len);
    int r = mem ? bts_session_write_folded(wd->s, mem) : -errno;
    if (mem && fclose(mem) && !r)
        r = -errno;
    if (r == 0 && len == 0)
        goto out;
    snprintf(name, sizeof(name), "%s.folded", wd->stem);
    if (r == 0)
        r = bts_spool_write(w->spool, name, text, len, &wd->owner);
    if (r < 0) {
        LOG(w, BTS_LOG_ERROR, "watch: pid %d: cannot write '%s/%s': %s", (int)wd->pid, w->spool,
            name, bts_protocol_strerror(r));
        goto out;
    }
    LOG(w, BTS_LOG_INFO, "watch: wrote '%s/%s' (%llu samples, uid %u)", w->spool, name,
        (unsigned long long)st.samples, (unsigned)wd->owner.uid);
    if (w->opts.on_profile)
        w->opts.on_profile(w->opts.ctx, w->spool, wd->stem, wd->comm, &wd->owner);
    /* The quota is the file owner's: the target's uid, or ours when we
     * may not give files away. */
    char path[4200];
    snprintf(path, sizeof(path), "%s/%s", w->spool, name);
    if (lstat(path, &written) == 0)
        enforce_retention(w, written.st_uid);
out:
    free(text);
    bts_session_free(wd->s);
    free(wd);
    /* A session's caches are large and short-lived: hand the pages back so
     * a daemon watching for weeks stays at its working size (glibc). */
    malloc_trim(0);
}

void bts_watch_tick(struct bts_watch *w)
{
    if (bts_proc_now_ns() - w->last_scan_ns >= SCAN_NS) {
        w->last_scan_ns = bts_proc_now_ns();
        scan(w, false);
    }
    size_t k = 0;
    for (size_t i = 0; i < w->nwatched; i++) {
        struct watched *wd = w->watched[i];
        int r = bts_session_poll(wd->s, 0);
        if (r < 0)
            LOG(w, BTS_LOG_WARN, "watch: pid %d: sampling failed: %s", (int)wd->pid,
                bts_protocol_strerror(-r));
        if (r != 0)
            finish(w, wd);
        else
            w->watched[k++] = wd;
    }
    w->nwatched = k;
}

unsigned bts_watch_count(const struct bts_watch *w)
{
    return w ? (unsigned)w->nwatched : 0;
}

void bts_watch_flush(struct bts_watch *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->nwatched; i++)
        finish(w, w->watched[i]);
    w->nwatched = 0;
}

void bts_watch_free(struct bts_watch *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->nwatched; i++) {
        bts_session_free(w->watched[i]->s);
        free(w->watched[i]);
    }
    free(w->watched);
    free(w->seen);
    free(w->pattern);
    free(w->spool);
    free(w);
}
