/* SPDX-License-Identifier: MIT */
/* python-frames: finds a process's CPython, reads the Python stack of each
 * sampled thread, and interns its frames as tagged stack-table values. */
#define _GNU_SOURCE
#include "python-frames-private.h"
#include "proc.h"
#include "python-bpf-private.h"
#include "python-locals.h"
#include "python-reader.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* After the start or an exec, an interpreter that is not found is looked
 * for again every SEARCH_RETRY_NS for SEARCH_WINDOW_NS (a launched command
 * maps libpython3.X.so some milliseconds after its exec), and at once when
 * the process maps something new. After the window only a new mapping
 * (an embedder's dlopen) makes us look again, at most once a second, so a
 * process that runs no Python costs a handful of looks and no more. */
#define SEARCH_WINDOW_NS    (2 * 1000000000LL)
#define SEARCH_RETRY_NS     (100 * 1000000LL)
#define SEARCH_MAPS_NS      (10 * 1000000LL)
#define SEARCH_LATE_MAPS_NS (1000 * 1000000LL)

/* threading's names are read again this often, and, for a thread not
 * among them, at most this often (a thread started since). */
#define NAMES_MAX_AGE_NS (1000 * 1000000LL)
#define NAMES_MISS_NS    (100 * 1000000LL)
#define NAMES_MAX        256

struct thread_name {
    uint64_t thread_id;
    char name[64];
};

struct frame_entry {
    uint64_t code;
    int line;
    bool plain; /* name is the whole text */
    uint64_t hash;
    char *name;
    char *file;
    char *text;
};

struct bts_python_frames {
    pid_t pid;
    bool function;
    struct bts_python *py;
    bool searching;          /* no interpreter yet, and still worth looking for */
    bool maps_changed;       /* since the last look */
    int64_t search_start_ns; /* the start or the last exec; 0 until the first read */
    int64_t last_try_ns;
    int64_t next_try_ns;
    char note[192];
    bool note_new;
    /* (code, line, name, file) -> entry; slots hold index + 1 */
    struct frame_entry *entries;
    size_t n_entries, cap_entries;
    uint32_t *slots;
    size_t n_slots; /* power of two */
    struct bts_python_frames_stats stats;
    /* threading's name of each thread (by thread_id), as last read */
    struct thread_name names[NAMES_MAX];
    size_t n_names;
    int64_t names_read_ns; /* 0: never */
    /* The eBPF capture (NULL: none), and the reader whose chain layout it
     * was given (NULL: not yet). */
    struct bts_python_bpf *bpf;
    const struct bts_python *bpf_reader;
    struct bts_python_chain_layout chain;
    struct bts_python_overlay_block blocks[BTS_CAPTURE_MAX_FRAMES + 4];
};

struct bts_python_frames *bts_python_frames_new(pid_t pid, bool function)
{
    struct bts_python_frames *p = calloc(1, sizeof(*p));

    if (!p) {
        errno = ENOMEM;
        return NULL;
    }
    p->pid = pid;
    p->function = function;
    p->searching = true;
    return p;
}

void bts_python_frames_free(struct bts_python_frames *p)
{
    if (!p)
        return;
    bts_python_free(p->py);
    for (size_t i = 0; i < p->n_entries; i++) {
        free(p->entries[i].name);
        free(p->entries[i].file);
        free(p->entries[i].text);
    }
    free(p->entries);
    free(p->slots);
    free(p);
}

void bts_python_frames_set_capture(struct bts_python_frames *p, struct bts_python_bpf *bpf)
{
    if (p)
        p->bpf = bpf;
}

void bts_python_frames_exec(struct bts_python_frames *p)
{
    if (!p)
        return;
    if (p->bpf && p->bpf_reader)
        bts_python_bpf_forget_process(p->bpf, p->pid);
    p->bpf_reader = NULL;
    bts_python_free(p->py);
    p->py = NULL;
    p->searching = true;
    p->search_start_ns = 0;
    p->next_try_ns = 0;
    p->stats.found = false;
    p->stats.version[0] = '\0';
    p->n_names = 0;
    p->names_read_ns = 0;
}

void bts_python_frames_maps_changed(struct bts_python_frames *p)
{
    if (p)
        p->maps_changed = true;
}

static void set_note(struct bts_python_frames *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void set_note(struct bts_python_frames *p, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(p->note, sizeof(p->note), fmt, ap);
    va_end(ap);
    p->note_new = true;
}

/* One look for the interpreter. */
static void search(struct bts_python_frames *p, int64_t now)
{
    struct bts_python_info info;
    bool in_window = now - p->search_start_ns < SEARCH_WINDOW_NS;

    p->last_try_ns = now;
    p->maps_changed = false;
    p->py = bts_python_new(p->pid, &info);
    if (p->py) {
        const char *base = strrchr(info.path, '/');

        base = base ? base + 1 : info.path;
        p->searching = false;
        p->stats.found = true;
        snprintf(p->stats.version, sizeof(p->stats.version), "%s", bts_python_version(p->py));
        set_note(p, "python %s (%s) found in pid %d", p->stats.version,
                 strncmp(base, "libpython", 9) == 0 ? "shared" : "static", (int)p->pid);
        return;
    }
    switch (errno) {
    case ENOTSUP:
        /* A version we do not know: say which, and keep native frames. */
        p->searching = false;
        set_note(p,
                 "python %s in pid %d is not a version bt-spy reads (3.8 to 3.13): its "
                 "stacks stay native",
                 info.version[0] ? info.version : "(unknown version)", (int)p->pid);
        break;
    case ESRCH:
        p->searching = false; /* gone */
        break;
    default:
        /* Not there (yet), or not readable now: look again soon while the
         * process starts up, then only when it maps something new. */
        p->next_try_ns = in_window ? now + SEARCH_RETRY_NS : INT64_MAX;
        break;
    }
}

static bool search_due(const struct bts_python_frames *p, int64_t now)
{
    if (now >= p->next_try_ns)
        return true;
    if (!p->maps_changed)
        return false;
    return now - p->last_try_ns >=
           (now - p->search_start_ns < SEARCH_WINDOW_NS ? SEARCH_MAPS_NS : SEARCH_LATE_MAPS_NS);
}

static uint64_t mix64(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

static int grow_slots(struct bts_python_frames *p)
{
    size_t n = p->n_slots ? p->n_slots * 2 : 256;
    uint32_t *slots = calloc(n, sizeof(*slots));

    if (!slots)
        return -ENOMEM;
    for (size_t i = 0; i < p->n_entries; i++) {
        size_t j = p->entries[i].hash & (n - 1);

        while (slots[j])
            j = (j + 1) & (n - 1);
        slots[j] = (uint32_t)(i + 1);
    }
    free(p->slots);
    p->slots = slots;
    p->n_slots = n;
    return 0;
}

/* The index of the frame (code, line) named `name` in `file`; the name and
 * file are compared too, since a freed code object's address can come back
 * as another function's. A NULL `file` interns `name` as the frame's whole
 * text (a marker such as "[python frames torn]"). UINT32_MAX when out of
 * memory. */
static uint32_t intern(struct bts_python_frames *p, uint64_t code, int line, const char *name,
                       const char *file)
{
    uint64_t h = mix64(code ^ mix64((uint64_t)(int64_t)line));
    bool plain = !file;
    struct frame_entry *e;
    size_t j;

    if (plain)
        file = "";

    if (p->n_slots) {
        for (j = h & (p->n_slots - 1); p->slots[j]; j = (j + 1) & (p->n_slots - 1)) {
            e = &p->entries[p->slots[j] - 1];
            if (e->hash == h && e->code == code && e->line == line && e->plain == plain &&
                strcmp(e->name, name) == 0 && strcmp(e->file, file) == 0)
                return p->slots[j] - 1;
        }
    }
    if (p->n_entries >= UINT32_MAX - 1)
        return UINT32_MAX;
    if ((p->n_entries + 1) * 2 > p->n_slots && grow_slots(p))
        return UINT32_MAX;
    if (p->n_entries == p->cap_entries) {
        size_t cap = p->cap_entries ? p->cap_entries * 2 : 256;
        struct frame_entry *n = realloc(p->entries, cap * sizeof(*n));

        if (!n)
            return UINT32_MAX;
        p->entries = n;
        p->cap_entries = cap;
    }
    e = &p->entries[p->n_entries];
    memset(e, 0, sizeof(*e));
    e->code = code;
    e->line = line;
    e->hash = h;
    e->plain = plain;
    e->name = strdup(name);
    e->file = strdup(file);
    if (e->name && e->file) {
        int r = plain         ? asprintf(&e->text, "%s", name)
                : p->function ? asprintf(&e->text, "%s (%s)", name, file)
                              : asprintf(&e->text, "%s (%s:%d)", name, file, line);
        if (r < 0)
            e->text = NULL;
    }
    if (!e->name || !e->file || !e->text) {
        free(e->name);
        free(e->file);
        free(e->text);
        return UINT32_MAX;
    }
    for (j = h & (p->n_slots - 1); p->slots[j]; j = (j + 1) & (p->n_slots - 1))
        ;
    p->slots[j] = (uint32_t)(p->n_entries + 1);
    return (uint32_t)p->n_entries++;
}

/* Copies threading's names of the threads (read now, after a sample). */
static void read_names(struct bts_python_frames *p, int64_t now)
{
    struct bts_python_thread_name names[NAMES_MAX];
    int n = bts_python_thread_names(p->py, names, NAMES_MAX);

    p->names_read_ns = now;
    p->n_names = 0;
    for (int i = 0; i < n; i++) {
        p->names[p->n_names].thread_id = names[i].thread_id;
        snprintf(p->names[p->n_names].name, sizeof(p->names[0].name), "%s", names[i].name);
        p->n_names++;
    }
}

/* threading's name for the thread `thread_id`, or NULL. */
static const char *thread_name(struct bts_python_frames *p, uint64_t thread_id)
{
    int64_t now = bts_proc_now_ns();
    bool stale = !p->names_read_ns || now - p->names_read_ns >= NAMES_MAX_AGE_NS;

    for (int pass = 0; pass < 2; pass++) {
        if (stale) {
            read_names(p, now);
            stale = false;
        }
        for (size_t i = 0; i < p->n_names; i++)
            if (p->names[i].thread_id == thread_id)
                return p->names[i].name;
        stale = now - p->names_read_ns >= NAMES_MISS_NS;
    }
    return NULL;
}

/* One read of thread `tid` (over the overlay `ov` when not NULL). */
static const struct bts_python_thread *read_thread(struct bts_python_frames *p, pid_t tid,
                                                   const struct bts_python_overlay *ov,
                                                   struct bts_python_frames_read *out)
{
    struct bts_python_sample sample;
    const struct bts_python_thread *t;
    int64_t t0, t1;
    int err;

    t0 = bts_proc_now_ns();
    bts_python_set_overlay(p->py, ov);
    err = bts_python_sample_thread(p->py, tid, &sample);
    bts_python_set_overlay(p->py, NULL);
    t1 = bts_proc_now_ns();
    p->stats.reads++;
    p->stats.read_ns += (uint64_t)(t1 - t0);
    if (err) {
        p->stats.errors++;
        return NULL;
    }
    p->stats.errors += sample.errors;
    if (sample.n_threads == 0)
        return NULL;
    t = &sample.threads[0];
    out->gil = t->gil == BTS_PYTHON_GIL_HELD       ? BTS_PYTHON_FRAMES_GIL_HELD
               : t->gil == BTS_PYTHON_GIL_NOT_HELD ? BTS_PYTHON_FRAMES_GIL_NOT_HELD
                                                   : BTS_PYTHON_FRAMES_GIL_UNKNOWN;
    out->thread_name = t->thread_id ? thread_name(p, t->thread_id) : NULL;
    out->n = t->n_frames;
    return t;
}

/* The sample's stack as the capture copied it: NULL when there is no
 * usable record of it (the caller reads the thread now); *missing when
 * there was none at all. */
static const struct bts_python_thread *captured_thread(struct bts_python_frames *p, pid_t tid,
                                                       uint64_t time_ns,
                                                       struct bts_python_frames_read *out,
                                                       bool *missing)
{
    const struct bts_capture_record *r;
    const struct bts_python_thread *t;
    struct bts_python_overlay ov;

    if (p->bpf_reader != p->py) {
        bts_python_chain_layout(p->py, &p->chain);
        if (bts_python_bpf_set_process(p->bpf, p->pid, &p->chain) < 0)
            return NULL;
        p->bpf_reader = p->py;
    }
    r = bts_python_bpf_find(p->bpf, tid, time_ns);
    if (!r) {
        *missing = true;
        return NULL;
    }
    if (!bts_python_bpf_overlay(r, &p->chain, p->blocks, &ov)) {
        p->stats.capture_unusable++;
        return NULL;
    }
    t = read_thread(p, tid, &ov, out);
    /* The thread state the program copied must be the one the tid names. */
    if (!t || t->tstate != r->tstate) {
        p->stats.capture_unusable++;
        memset(out, 0, sizeof(*out));
        return NULL;
    }
    p->stats.captured++;
    out->captured = true;
    return t;
}

const struct bts_python_thread *bts_python_frames_thread(struct bts_python_frames *p, pid_t tid,
                                                         uint64_t time_ns,
                                                         struct bts_python_frames_read *out)
{
    const struct bts_python_thread *t = NULL;
    bool missing = false;

    memset(out, 0, sizeof(*out));
    if (!p)
        return NULL;
    if (!p->py && p->searching) {
        int64_t now = bts_proc_now_ns();

        if (!p->search_start_ns) {
            p->search_start_ns = now;
            p->next_try_ns = now;
        }
        if (search_due(p, now))
            search(p, now);
    }
    if (!p->py)
        return NULL;
    if (p->bpf && time_ns)
        t = captured_thread(p, tid, time_ns, out, &missing);
    if (!t) {
        t = read_thread(p, tid, NULL, out);
        /* Threads that run no Python have no record, rightly. */
        p->stats.capture_missing += missing && t;
        /* From the thread's next sample on, the program copies its chain. */
        if (t && t->tstate && p->bpf && p->bpf_reader == p->py)
            bts_python_bpf_set_thread(p->bpf, p->pid, tid, t->tstate);
    }
    return t;
}

uint64_t bts_python_frames_tag(struct bts_python_frames *p, const struct bts_python_frame *f,
                               int line)
{
    uint32_t id = intern(p, f->code, p->function ? 0 : line, f->name ? f->name : "?",
                         f->filename ? f->filename : "?");

    return id == UINT32_MAX ? 0 : BTS_PYTHON_FRAME_TAG | id;
}

uint64_t bts_python_frames_tag_text(struct bts_python_frames *p, const char *text)
{
    uint32_t id = intern(p, 0, 0, text, NULL);

    return id == UINT32_MAX ? 0 : BTS_PYTHON_FRAME_TAG | id;
}

struct bts_python *bts_python_frames_reader(struct bts_python_frames *p)
{
    return p ? p->py : NULL;
}

size_t bts_python_frames_read(struct bts_python_frames *p, pid_t tid, uint64_t time_ns,
                              uint64_t *pcs, size_t max, struct bts_python_frames_read *out)
{
    const struct bts_python_thread *t = bts_python_frames_thread(p, tid, time_ns, out);
    size_t n = 0;

    for (size_t i = 0; t && i < t->n_frames && n < max; i++) {
        uint64_t v = bts_python_frames_tag(p, &t->frames[i], t->frames[i].line);

        if (!v)
            break;
        pcs[n++] = v;
    }
    out->n = n;
    return n;
}

const char *bts_python_frames_name(const struct bts_python_frames *p, uint64_t tagged)
{
    uint64_t id = tagged & ~BTS_PYTHON_FRAME_TAG;

    if (!p || !(tagged & BTS_PYTHON_FRAME_TAG) || id >= p->n_entries)
        return NULL;
    return p->entries[id].text;
}

bool bts_python_frames_take_note(struct bts_python_frames *p, char *buf, size_t len)
{
    if (!p || !p->note_new)
        return false;
    p->note_new = false;
    snprintf(buf, len, "%s", p->note);
    return true;
}

void bts_python_frames_stats(const struct bts_python_frames *p, struct bts_python_frames_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (p)
        *out = p->stats;
}
