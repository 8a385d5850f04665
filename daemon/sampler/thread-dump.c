/* SPDX-License-Identifier: MIT */
/* thread-dump: every thread's stack once, taken with the ptrace backend in
 * wall-clock mode (one tick), unwound and named after the threads run; in a
 * CPython process, each thread's Python stack read as its copy arrives. */
#define _GNU_SOURCE
#include "thread-dump.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "elf-image.h"
#include "permission-check-private.h"
#include "proc-maps.h"
#include "ptrace-backend-private.h"
#include "python-locals.h"
#include "python-merge-private.h"
#include "python-native-private.h"
#include "python-reader.h"
#include "remote-read.h"
#include "symbolizer.h"
#include "unwinder-private.h"

/* Copies reach up to the end of the stack mapping, so even deep stacks reach
 * main; the backend clamps each copy to the mapping holding sp. */
#define DUMP_STACK_SIZE (8u << 20)
#define COMMAND_MAX     4096
/* Thread names read from the threading module, at most. */
#define MAX_PYTHON_NAMES 1024

/* perf's register numbers (backend-private.h) of the syscall return value
 * and first argument. */
#define REG_AX 0
#define REG_DI 5

/* Registers and stack of one thread, kept until it is unwound, and what
 * its Python thread state said at that moment. */
struct thread_copy {
    bool taken;
    uint64_t regs[BTS_REG_COUNT];
    uint8_t *stack;
    uint64_t stack_size;
    bool python;
    bool holds_gil;
    uint64_t thread_id;      /* the Python thread's ident */
    uint64_t gil_lo, gil_hi; /* its GIL's bytes; 0, 0 when unknown */
    bool python_read;        /* its Python stack was read (at its stop) */
    /* opts.native: the Python frames as read (strings in the arena), for
     * the merge */
    struct bts_python_thread raw;
};

/* Blocks the Python strings, frames and locals live in, freed together. */
struct arena_block {
    struct arena_block *next;
    size_t used, cap;
    max_align_t data[];
};

struct bts_thread_dump {
    pid_t pid;
    char *command;
    struct bts_thread_stack *threads;
    struct thread_copy *copies;
    size_t n, cap;
    int error; /* first allocation failure while sampling */
    struct bts_thread_dump_opts opts;
    struct bts_python *py;
    char *python_version;
    char *python_note;
    struct arena_block *arena;
};

static void *arena_alloc(struct bts_thread_dump *d, size_t len)
{
    struct arena_block *b = d->arena;
    size_t align = sizeof(max_align_t);

    len = (len + align - 1) / align * align;
    if (!b || b->cap - b->used < len) {
        size_t cap = len > 65536 ? len : 65536;

        b = malloc(sizeof(*b) + cap);
        if (!b)
            return NULL;
        b->next = d->arena;
        b->used = 0;
        b->cap = cap;
        d->arena = b;
    }
    b->used += len;
    return (char *)b->data + b->used - len;
}

static const char *arena_strdup(struct bts_thread_dump *d, const char *s)
{
    size_t len = strlen(s) + 1;
    char *copy = arena_alloc(d, len);

    return copy ? memcpy(copy, s, len) : NULL;
}

struct dump_maps {
    struct bts_maps *maps;
};

static int read_small_file(const char *path, char *buf, size_t len, size_t *got)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n;
    if (fd < 0)
        return -errno;
    do
        n = read(fd, buf, len);
    while (n < 0 && errno == EINTR);
    int err = n < 0 ? -errno : 0;
    close(fd);
    *got = n < 0 ? 0 : (size_t)n;
    return err;
}

static struct bts_thread_stack *add_thread(struct bts_thread_dump *d, pid_t tid)
{
    if (d->n == d->cap) {
        size_t ncap = d->cap ? d->cap * 2 : 16;
        struct bts_thread_stack *t = realloc(d->threads, ncap * sizeof(*t));
        if (!t)
            return NULL;
        d->threads = t;
        struct thread_copy *c = realloc(d->copies, ncap * sizeof(*c));
        if (!c)
            return NULL;
        d->copies = c;
        d->cap = ncap;
    }
    struct bts_thread_stack *t = &d->threads[d->n];
    memset(t, 0, sizeof(*t));
    memset(&d->copies[d->n], 0, sizeof(d->copies[d->n]));
    t->tid = tid;
    t->state = '?';
    t->error = -EAGAIN;
    d->n++;
    return t;
}

static struct bts_thread_stack *find_thread(struct bts_thread_dump *d, pid_t tid, size_t *index)
{
    for (size_t i = 0; i < d->n; i++) {
        if (d->threads[i].tid == tid) {
            *index = i;
            return &d->threads[i];
        }
    }
    return NULL;
}

/* Name and state of each thread as it was before we touched it. */
static int list_threads(struct bts_thread_dump *d)
{
    char path[320], buf[512];
    snprintf(path, sizeof(path), "/proc/%d/task", (int)d->pid);
    DIR *dir = opendir(path);
    if (!dir)
        return errno == ENOENT ? -ESRCH : -errno;
    int ret = 0;
    struct dirent *de;
    while ((de = readdir(dir))) {
        if (de->d_name[0] < '0' || de->d_name[0] > '9')
            continue;
        size_t n;
        snprintf(path, sizeof(path), "/proc/%d/task/%s/stat", (int)d->pid, de->d_name);
        if (read_small_file(path, buf, sizeof(buf) - 1, &n) < 0 || n == 0)
            continue;
        buf[n] = '\0';
        const char *open_paren = strchr(buf, '(');
        const char *close_paren = strrchr(buf, ')');
        if (!open_paren || !close_paren || close_paren < open_paren || close_paren[1] != ' ')
            continue;
        struct bts_thread_stack *t = add_thread(d, (pid_t)atoi(de->d_name));
        if (!t) {
            ret = -ENOMEM;
            break;
        }
        size_t len = (size_t)(close_paren - open_paren - 1);
        if (len >= sizeof(t->name))
            len = sizeof(t->name) - 1;
        memcpy(t->name, open_paren + 1, len);
        t->state = close_paren[2];
    }
    closedir(dir);
    return ret;
}

static void read_command(struct bts_thread_dump *d)
{
    char path[64], buf[COMMAND_MAX];
    size_t n = 0;
    snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)d->pid);
    read_small_file(path, buf, sizeof(buf) - 1, &n);
    while (n > 0 && buf[n - 1] == '\0')
        n--;
    for (size_t i = 0; i < n; i++) {
        if (buf[i] == '\0')
            buf[i] = ' ';
    }
    buf[n] = '\0';
    d->command = strdup(buf);
}

/* Locals of one frame, gathered before they are copied into the arena. */
struct locals_buf {
    struct bts_thread_local items[BTS_PYTHON_MAX_LOCALS];
    size_t n;
    struct bts_thread_dump *d;
};

static int on_local(void *ctx, const struct bts_python_local *local)
{
    struct locals_buf *lb = ctx;
    const char *name, *value;

    if (lb->n >= BTS_PYTHON_MAX_LOCALS)
        return 0;
    name = arena_strdup(lb->d, local->name);
    value = arena_strdup(lb->d, local->value);
    if (!name || !value)
        return -ENOMEM;
    lb->items[lb->n].name = name;
    lb->items[lb->n].value = value;
    lb->n++;
    return 0;
}

static int copy_locals(struct bts_thread_dump *d, const struct bts_python_frame *f,
                       struct bts_thread_python_frame *out)
{
    struct locals_buf *lb = malloc(sizeof(*lb));
    struct bts_thread_local *items;
    int err;

    if (!lb)
        return -ENOMEM;
    lb->n = 0;
    lb->d = d;
    err = bts_python_frame_locals(d->py, f, on_local, lb);
    /* a frame whose locals cannot be read still shows; only memory ends it */
    if (err == -ENOMEM)
        goto out;
    err = 0;
    if (lb->n) {
        items = arena_alloc(d, lb->n * sizeof(*items));
        if (!items) {
            err = -ENOMEM;
            goto out;
        }
        memcpy(items, lb->items, lb->n * sizeof(*items));
        out->locals = items;
        out->nlocals = lb->n;
    }
out:
    free(lb);
    return err;
}

/* Keeps the frames of `pt` for the merge, named by the arena's copies. */
static void keep_raw(struct bts_thread_dump *d, struct thread_copy *c,
                     const struct bts_python_thread *pt,
                     const struct bts_thread_python_frame *named)
{
    struct bts_python_frame *raw = arena_alloc(d, pt->n_frames * sizeof(*raw));

    if (!raw) {
        d->error = -ENOMEM;
        return;
    }
    for (size_t k = 0; k < pt->n_frames; k++) {
        raw[k] = pt->frames[k];
        raw[k].name = named[k].name;
        raw[k].filename = named[k].filename;
    }
    c->raw = *pt;
    c->raw.name = "";
    c->raw.frames = raw;
}

/* Reads the Python stack of thread i, stopped with its copy just taken,
 * from the interpreter's thread state that names its tid. */
static void read_python(struct bts_thread_dump *d, size_t i)
{
    struct bts_thread_stack *t = &d->threads[i];
    struct thread_copy *c = &d->copies[i];
    const struct bts_python_thread *pt;
    struct bts_python_sample s;
    struct bts_thread_python_frame *frames;

    /* only this thread's chain is walked: a dump of N threads reads N
     * stacks, not N times all of them */
    c->python_read = true;
    if (bts_python_sample_thread(d->py, t->tid, &s) < 0 || s.n_threads != 1)
        return;
    pt = &s.threads[0];
    c->python = true;
    c->holds_gil = pt->gil == BTS_PYTHON_GIL_HELD;
    c->thread_id = pt->thread_id;
    if (bts_python_gil_range(d->py, pt, &c->gil_lo, &c->gil_hi))
        c->gil_lo = c->gil_hi = 0;
    if (!pt->n_frames)
        return;
    frames = arena_alloc(d, pt->n_frames * sizeof(*frames));
    if (!frames) {
        d->error = -ENOMEM;
        return;
    }
    for (size_t k = 0; k < pt->n_frames; k++) {
        const struct bts_python_frame *f = &pt->frames[k];

        memset(&frames[k], 0, sizeof(frames[k]));
        frames[k].name = arena_strdup(d, f->name);
        frames[k].filename = arena_strdup(d, f->filename);
        frames[k].line = f->line;
        if (!frames[k].name || !frames[k].filename ||
            (d->opts.locals && copy_locals(d, f, &frames[k]))) {
            d->error = -ENOMEM;
            return;
        }
    }
    t->python_frames = frames;
    t->n_python_frames = pt->n_frames;
    if (d->opts.native)
        keep_raw(d, c, pt, frames);
}

/* Thread `tid`'s entry; a thread born after the listing is added (NULL
 * when out of memory). */
static struct bts_thread_stack *thread_entry(struct bts_thread_dump *d, pid_t tid, const char *comm,
                                             size_t *i)
{
    struct bts_thread_stack *t = find_thread(d, tid, i);
    if (t)
        return t;
    if (!(t = add_thread(d, tid))) {
        d->error = -ENOMEM;
        return NULL;
    }
    *i = d->n - 1;
    if (comm)
        snprintf(t->name, sizeof(t->name), "%s", comm);
    return t;
}

/* The thread is stopped, its registers and stack copied: its Python stack
 * read now is of the same instant. */
static void on_stopped(void *ctx, pid_t tid)
{
    struct bts_thread_dump *d = ctx;
    size_t i;

    if (d->py && thread_entry(d, tid, NULL, &i) && !d->copies[i].taken && !d->copies[i].python_read)
        read_python(d, i);
}

static void on_sample(void *ctx, const struct bts_raw_sample *s)
{
    struct bts_thread_dump *d = ctx;
    size_t i;
    struct bts_thread_stack *t = thread_entry(d, s->tid, s->thread_name, &i);
    if (!t)
        return;
    if (s->thread_name && !t->name[0])
        snprintf(t->name, sizeof(t->name), "%s", s->thread_name);
    struct thread_copy *c = &d->copies[i];
    if (c->taken || !s->has_regs)
        return;
    memcpy(c->regs, s->regs, sizeof(c->regs));
    if (s->stack && s->stack_size) {
        c->stack = malloc(s->stack_size);
        if (!c->stack) {
            d->error = -ENOMEM;
            return;
        }
        memcpy(c->stack, s->stack, s->stack_size);
        c->stack_size = s->stack_size;
    }
    c->taken = true;
    if (d->py && !c->python_read)
        read_python(d, i);
}

static void on_lost(void *ctx, uint64_t count)
{
    (void)ctx;
    (void)count; /* a thread that could not stop keeps error -EAGAIN */
}

static void on_maps_changed(void *ctx)
{
    (void)ctx;
}

/* Stops each thread once (wall-clock tick), copies it, resumes it, detaches. */
static int copy_threads(struct bts_thread_dump *d)
{
    int ret;
    struct bts_sampler_backend *b = bts_ptrace_backend_new();
    if (!b)
        return -errno;
    struct bts_backend_config cfg = {
        .pid = d->pid, .rate_hz = 1, .stack_size = DUMP_STACK_SIZE, .idle = true};
    struct bts_backend_sink sink = {.ctx = d,
                                    .sample = on_sample,
                                    .lost = on_lost,
                                    .maps_changed = on_maps_changed,
                                    .stopped = on_stopped};
    if ((ret = b->ops->start(b, &cfg, &sink)) < 0)
        goto out;
    ret = b->ops->poll(b, 0); /* the first tick is due at once */
    b->ops->stop(b);
    if (ret == 1)
        ret = -ESRCH;
    if (ret == 0 && d->error)
        ret = d->error;
out:
    b->ops->free(b);
    return ret;
}

static const struct bts_map *dump_find_map(void *ctx, uint64_t addr, struct bts_elf **elf)
{
    struct dump_maps *m = ctx;
    const struct bts_map *map = bts_maps_find(m->maps, addr);
    *elf = map ? bts_maps_elf(m->maps, map) : NULL;
    return map;
}

/* "main" and "main (file.c:3)" both name main. */
static bool names_function(const char *frame, const char *fn)
{
    size_t n = strlen(fn);
    return strncmp(frame, fn, n) == 0 && (frame[n] == '\0' || frame[n] == ' ');
}

static int name_frames(struct bts_thread_dump *d, size_t i, struct bts_unwinder *u,
                       struct bts_symbolizer *sym)
{
    uint64_t pcs[BTS_MAX_FRAMES];
    struct thread_copy *c = &d->copies[i];
    struct bts_thread_stack *t = &d->threads[i];
    if (!c->taken)
        return 0;
    int n = bts_unwinder_unwind(u, c->regs, c->stack, c->stack_size, pcs, BTS_MAX_FRAMES);
    t->error = n <= 0 ? -ENOENT : 0;
    if (n <= 0)
        return 0;
    t->frames = calloc((size_t)n, sizeof(*t->frames));
    if (!t->frames)
        return -ENOMEM;
    for (int k = 0; k < n; k++) {
        const char *name = bts_symbolizer_name(sym, pcs[k], k > 0);
        if (!(t->frames[k] = strdup(name)))
            return -ENOMEM;
        t->nframes++;
        if (names_function(name, "main") || names_function(name, "start_thread"))
            break;
    }
    return 0;
}

/* opts.native: thread i's native and Python stacks, both of the instant it
 * was stopped, merged into t->merged (left NULL when they do not line up). */
static int merge_frames(struct bts_thread_dump *d, size_t i, struct bts_unwinder *u,
                        struct bts_symbolizer *sym, struct bts_python_merge *m)
{
    struct thread_copy *c = &d->copies[i];
    struct bts_thread_stack *t = &d->threads[i];
    struct bts_unwind_frame *frames = calloc(BTS_MAX_FRAMES, sizeof(*frames));
    size_t max = BTS_MAX_FRAMES + BTS_PYTHON_MAX_FRAMES, n_out = 0;
    struct bts_merge_frame *out = calloc(max, sizeof(*out));
    uint8_t kinds[BTS_MAX_FRAMES];
    const char **merged = NULL;
    int n, ret = -ENOMEM;

    if (!frames || !out)
        goto out;
    ret = 0;
    n = bts_unwinder_unwind_frames(u, c->regs, c->stack, c->stack_size, frames, BTS_MAX_FRAMES);
    if (n <= 0)
        goto out;
    bts_python_native_classify(sym, frames, (size_t)n, kinds);
    struct bts_merge_input in = {
        .native = frames,
        .kinds = kinds,
        .n_native = (size_t)n,
        .complete = frames[n - 1].outermost,
        .regs = c->regs,
        .stack = c->stack,
        .stack_size = c->stack_size,
        .python = &c->raw,
        .trusted = true,
    };
    if (bts_python_merge(m, &in, out, max, &n_out) != BTS_MERGE_OK || !n_out)
        goto out;
    ret = -ENOMEM;
    if (!(merged = arena_alloc(d, n_out * sizeof(*merged))))
        goto out;
    for (size_t k = 0; k < n_out; k++) {
        const struct bts_python_frame *f = out[k].python;
        char text[8192];

        if (out[k].unknown)
            snprintf(text, sizeof(text), BTS_MERGE_UNKNOWN_TEXT);
        else if (out[k].torn)
            snprintf(text, sizeof(text), BTS_MERGE_TORN_TEXT);
        else if (f && out[k].line > 0)
            snprintf(text, sizeof(text), "%s (%s:%d)", f->name, f->filename, out[k].line);
        else if (f)
            snprintf(text, sizeof(text), "%s (%s)", f->name, f->filename);
        else
            snprintf(text, sizeof(text), "%s",
                     bts_symbolizer_name(sym, frames[out[k].native].pc, out[k].native > 0));
        if (!(merged[k] = arena_strdup(d, text)))
            goto out;
    }
    t->merged = merged;
    t->n_merged = n_out;
    ret = 0;
out:
    free(frames);
    free(out);
    return ret;
}

/* Functions a thread runs only while it takes (or hands over) the GIL,
 * across 3.8-3.13; with a suffix such as ".constprop.0" too. */
static const char *const gil_functions[] = {
    "take_gil",
    "drop_gil",
    "PyEval_RestoreThread",
    "PyEval_AcquireThread",
    "PyEval_AcquireLock",
    "_PyEval_AcquireLock",
    "_PyThreadState_Attach",
    "PyGILState_Ensure",
};

static bool names_gil_function(const char *frame)
{
    for (size_t i = 0; i < sizeof(gil_functions) / sizeof(gil_functions[0]); i++) {
        size_t n = strlen(gil_functions[i]);

        if (strncmp(frame, gil_functions[i], n) == 0 &&
            (frame[n] == '\0' || frame[n] == ' ' || frame[n] == '.'))
            return true;
    }
    return false;
}

/* Whether the copied registers are those of a thread stopped at a system
 * call: the instruction before ip is `syscall`. */
static bool stopped_at_syscall(pid_t pid, const uint64_t *regs)
{
    uint8_t insn[2];

    return bts_remote_read(pid, regs[BTS_REG_IP] - 2, insn, sizeof(insn)) == 0 && insn[0] == 0x0f &&
           insn[1] == 0x05;
}

/* ... and blocked in it: rax holds the code the kernel leaves for a call
 * it will restart, or EINTR. */
static bool blocked_in_syscall(const uint64_t *regs)
{
    int64_t ax = (int64_t)regs[REG_AX];

    return ax == -EINTR || (ax <= -512 && ax >= -516);
}

/* Running (holds the GIL, or was running code), waiting for the GIL (at a
 * futex call on the GIL's mutex or condition variables, or in a function
 * that takes it), or idle. */
static void python_state(struct bts_thread_dump *d, size_t i)
{
    struct bts_thread_stack *t = &d->threads[i];
    const struct thread_copy *c = &d->copies[i];
    bool waiting = false, at_syscall, blocked;

    if (!c->python)
        return;
    t->holds_gil = c->holds_gil;
    if (!c->taken) {
        t->python_state =
            c->holds_gil || t->state == 'R' ? BTS_THREAD_PYTHON_RUNNING : BTS_THREAD_PYTHON_IDLE;
        return;
    }
    at_syscall = stopped_at_syscall(d->pid, c->regs);
    blocked = at_syscall && blocked_in_syscall(c->regs);
    /* the only calls whose first argument points into the GIL are futex
     * waits and wakes on it: taking it, or handing it over */
    if (at_syscall && c->gil_lo && c->regs[REG_DI] >= c->gil_lo && c->regs[REG_DI] < c->gil_hi)
        waiting = true;
    for (size_t k = 0; k < t->nframes && !waiting; k++)
        waiting = names_gil_function(t->frames[k]);
    if (waiting)
        t->python_state = BTS_THREAD_PYTHON_WAITING;
    else if (c->holds_gil || !blocked)
        t->python_state = BTS_THREAD_PYTHON_RUNNING;
    else
        t->python_state = BTS_THREAD_PYTHON_IDLE;
}

/* Gives each Python thread the name the threading module has for it. */
static void name_python_threads(struct bts_thread_dump *d)
{
    struct bts_python_thread_name *names = calloc(MAX_PYTHON_NAMES, sizeof(*names));
    int n = names ? bts_python_thread_names(d->py, names, MAX_PYTHON_NAMES) : -ENOMEM;

    for (size_t i = 0; i < d->n && n > 0; i++) {
        if (!d->copies[i].python)
            continue;
        for (int k = 0; k < n; k++) {
            if (names[k].thread_id == d->copies[i].thread_id) {
                d->threads[i].python_name = arena_strdup(d, names[k].name);
                break;
            }
        }
    }
    free(names);
}

/* Finds the interpreter before any thread stops. Not finding one is no
 * error: the dump is then native, with a note when it looked like Python. */
static void find_python(struct bts_thread_dump *d)
{
    struct bts_python_info info;
    char note[256];

    memset(&info, 0, sizeof(info));
    d->py = bts_python_new(d->pid, &info);
    if (d->py) {
        d->python_version = strdup(bts_python_version(d->py));
        return;
    }
    if (errno == ENOENT || errno == ESRCH)
        return;
    if (errno == ENOTSUP)
        snprintf(note, sizeof(note),
                 "python %s cannot be read (bt-spy reads 3.8 to 3.13): native frames only",
                 info.version[0] ? info.version : "of an unknown version");
    else
        snprintf(note, sizeof(note), "cannot read the Python interpreter: %s: native frames only",
                 strerror(errno));
    d->python_note = strdup(note);
}

static int unwind_threads(struct bts_thread_dump *d, struct dump_maps *m, bool lines)
{
    int ret = 0;
    struct bts_unwinder *u = NULL;
    struct bts_symbolizer *sym = NULL;
    struct bts_python_merge *merge = NULL;
    struct bts_unwind_target target = {.ctx = m, .find_map = dump_find_map};
    struct bts_symbolizer_opts so = {.lines = lines, .demangle = true};
    if (!(u = bts_unwinder_new(&target)) || !(sym = bts_symbolizer_new(m->maps, &so)) ||
        (d->opts.native && !(merge = bts_python_merge_new(NULL)))) {
        ret = -errno;
        goto out;
    }
    for (size_t i = 0; i < d->n && ret == 0; i++) {
        ret = name_frames(d, i, u, sym);
        if (ret == 0 && merge && d->copies[i].taken && d->copies[i].raw.n_frames)
            ret = merge_frames(d, i, u, sym, merge);
        if (ret == 0)
            python_state(d, i);
    }
out:
    bts_python_merge_free(merge);
    bts_symbolizer_free(sym);
    bts_unwinder_free(u);
    return ret;
}

/* Drops threads that exited before they could be copied. */
static void drop_exited(struct bts_thread_dump *d)
{
    char path[64];
    size_t k = 0;
    for (size_t i = 0; i < d->n; i++) {
        snprintf(path, sizeof(path), "/proc/%d/task/%d", (int)d->pid, (int)d->threads[i].tid);
        if (!d->copies[i].taken && access(path, F_OK) != 0)
            continue;
        d->threads[k] = d->threads[i];
        d->copies[k] = d->copies[i];
        k++;
    }
    d->n = k;
}

/* The main thread first, then by tid. */
static int by_tid(const void *a, const void *b, void *pid)
{
    pid_t x = ((const struct bts_thread_stack *)a)->tid;
    pid_t y = ((const struct bts_thread_stack *)b)->tid;
    pid_t main_tid = *(const pid_t *)pid;
    if ((x == main_tid) != (y == main_tid))
        return x == main_tid ? -1 : 1;
    return (x > y) - (x < y);
}

int bts_thread_dump(pid_t pid, bool lines, struct bts_thread_dump **out)
{
    struct bts_thread_dump_opts opts = {.lines = lines, .python = true, .locals = false};

    return bts_thread_dump_take(pid, &opts, out);
}

int bts_thread_dump_take(pid_t pid, const struct bts_thread_dump_opts *opts,
                         struct bts_thread_dump **out)
{
    int ret;
    struct bts_elf_cache *cache = NULL;
    struct dump_maps m = {NULL};
    struct bts_thread_dump *d = calloc(1, sizeof(*d));
    *out = NULL;
    if (!d)
        return -ENOMEM;
    d->pid = pid;
    d->opts = *opts;
    if (pid <= 0) {
        ret = -ESRCH;
        goto out;
    }
    if ((ret = list_threads(d)) < 0)
        goto out;
    read_command(d);
    if (opts->python)
        find_python(d);
    if ((ret = copy_threads(d)) < 0)
        goto out;
    if (d->py)
        name_python_threads(d);
    /* Maps are read after the copies; code mappings outlive the moment. */
    if (!(cache = bts_elf_cache_new()) || !(m.maps = bts_maps_new(pid, cache))) {
        ret = errno == ENOENT ? -ESRCH : -errno;
        goto out;
    }
    if ((ret = unwind_threads(d, &m, opts->lines)) < 0)
        goto out;
    drop_exited(d);
    /* The copies are done with; release them so threads can be sorted alone. */
    for (size_t i = 0; i < d->n; i++) {
        free(d->copies[i].stack);
        d->copies[i].stack = NULL;
    }
    qsort_r(d->threads, d->n, sizeof(*d->threads), by_tid, &d->pid);
    if (!d->command && !(d->command = strdup(""))) {
        ret = -ENOMEM;
        goto out;
    }
    /* The interpreter's reader is done with; its strings were copied. */
    bts_python_free(d->py);
    d->py = NULL;
    *out = d;
    d = NULL;
out:
    bts_maps_free(m.maps);
    bts_elf_cache_free(cache);
    bts_thread_dump_free(d);
    return ret;
}

pid_t bts_thread_dump_pid(const struct bts_thread_dump *d)
{
    return d->pid;
}

const char *bts_thread_dump_command(const struct bts_thread_dump *d)
{
    return d->command ? d->command : "";
}

size_t bts_thread_dump_count(const struct bts_thread_dump *d)
{
    return d->n;
}

const struct bts_thread_stack *bts_thread_dump_thread(const struct bts_thread_dump *d, size_t i)
{
    return i < d->n ? &d->threads[i] : NULL;
}

void bts_thread_dump_free(struct bts_thread_dump *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->n; i++) {
        for (size_t k = 0; k < d->threads[i].nframes; k++)
            free((char *)d->threads[i].frames[k]);
        free(d->threads[i].frames);
        free(d->copies[i].stack);
    }
    free(d->threads);
    free(d->copies);
    free(d->command);
    bts_python_free(d->py);
    free(d->python_version);
    free(d->python_note);
    while (d->arena) {
        struct arena_block *next = d->arena->next;

        free(d->arena);
        d->arena = next;
    }
    free(d);
}

const char *bts_thread_dump_python(const struct bts_thread_dump *d)
{
    return d->python_version;
}

const char *bts_thread_dump_python_note(const struct bts_thread_dump *d)
{
    return d->python_note;
}

void bts_thread_dump_explain(pid_t pid, int err, char *why, size_t why_len, char *hint,
                             size_t hint_len)
{
    struct bts_permission_facts f;
    why[0] = hint[0] = '\0';
    bts_permission_gather(pid, &f);
    /* A zombie, a kernel thread, ourselves, another tracer's process. */
    if (bts_permission_explain_target(&f, err, true, why, why_len, hint, hint_len))
        return;
    if (err == -ESRCH || !f.pid_exists) {
        snprintf(why, why_len, "no process with pid %d", (int)pid);
        snprintf(hint, hint_len, "check the pid with: ps -p %d", (int)pid);
        return;
    }
    if (err != -EPERM && err != -EACCES)
        return;
    if (f.target_uid != f.self_uid && f.self_uid != 0 && !f.cap_ptrace) {
        snprintf(why, why_len, "pid %d belongs to another user (uid %u)", (int)pid,
                 (unsigned)f.target_uid);
        snprintf(hint, hint_len, "run as the target's user, as root, or add CAP_SYS_PTRACE");
    } else if (f.ptrace_scope >= 1 && f.self_uid != 0 && !f.cap_ptrace) {
        snprintf(why, why_len, "yama ptrace_scope is %d", f.ptrace_scope);
        snprintf(hint, hint_len,
                 f.ptrace_scope >= 3 ? "ptrace is disabled until reboot; nothing can attach"
                                     : "run: sysctl kernel.yama.ptrace_scope=0, or add "
                                       "CAP_SYS_PTRACE, or run as root");
    } else {
        snprintf(why, why_len, "ptrace was refused");
        snprintf(hint, hint_len,
                 "the process may be non-dumpable (setuid) or in another namespace; "
                 "run as root or add CAP_SYS_PTRACE");
    }
}
