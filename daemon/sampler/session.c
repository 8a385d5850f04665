/* SPDX-License-Identifier: MIT */
/* session: launches or attaches, runs a backend, unwinds and aggregates. */
#define _GNU_SOURCE
#include "session.h"
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "backend-private.h"
#include "elf-image.h"
#include "permission-check-private.h"
#include "process-tree.h"
#include "proc-maps.h"
#include "ptrace-backend-private.h"
#include "python-frames-private.h"
#include "python-bpf-private.h"
#include "python-native-private.h"
#include "read-backend-private.h"
#include "stack-table.h"
#include "symbolizer.h"
#include "target-guard.h"
#include "unwinder-private.h"

#define MAX_PTRACE_STACK_SIZE (8u << 20) /* ptrace copies the stack itself: no 64 KiB bound */

#define FORKED_QUEUE 64

struct bts_session {
    struct bts_session_opts opts;
    char **argv; /* deep copy of opts.argv */
    pid_t pid;
    bool launched;
    bool started;
    bool stopped;
    bool exited;
    bool reaped;
    int exit_status;
    bool maps_dirty;
    struct bts_sampler_backend *backend;
    /* The one process this session samples, and with opts.guard what it
     * may run as; backends ask it through the sink's check(). */
    struct bts_target_guard *guard;
    int guard_error;  /* -EPERM once the guard ended the session */
    bool guard_start; /* the start failed on the guard's refusal */
    struct bts_elf_cache *elf_cache;
    struct bts_maps *maps;
    struct bts_symbolizer *sym;
    struct bts_unwinder *unwinder;
    struct bts_stack_table *table;
    uint64_t samples, lost, failed;
    int64_t start_ns, end_ns;
    int start_error;
    char why[256];
    char hint[256];
    char root[64];
    uint64_t pcs[BTS_MAX_FRAMES];
    /* --memory: the same stacks counted per time bucket (bucket_ns wide,
     * from start_ns), each stored with one more value at its root end:
     * BUCKET_TAG | bucket. Past BUCKET_CAP entries the width doubles and
     * neighbouring buckets merge. */
    struct bts_stack_table *buckets;
    uint64_t bucket_ns;
    uint64_t bucket_pcs[BTS_MAX_FRAMES + 1];
    /* --subprocesses: one session per descendant process, found by a /proc
     * scan every 50 ms and, with the perf backend, as soon as a FORK record
     * names it; each under a "process COMM (PID)" root frame. comm is
     * refreshed while the process lives (it changes at exec). */
    struct bts_session **children;
    size_t nchildren, children_cap;
    int64_t last_scan_ns;
    pid_t forked[FORKED_QUEUE]; /* processes this target started, not followed yet */
    size_t nforked;
    char comm[16];
    /* CPython: this process's interpreter and its interned frames (NULL
     * with no_python). Notes about interpreters go to the root session,
     * which the CLI reads through the stats. */
    struct bts_python_frames *python;
    /* --native: the merge of each Python sample's frames with its native
     * ones (NULL without opts.native). */
    struct bts_python_native *native;
    /* Python with perf_event: the eBPF capture of frame chains, loaded by
     * the root session (own_bpf) when the first interpreter is found in
     * it or a child, and shared with its children; NULL when the kernel
     * refused it (the root's bpf_errno says why). */
    struct bts_python_bpf *bpf;
    bool own_bpf;
    bool bpf_tried; /* this session looked for the capture (its root: loaded it) */
    int bpf_errno;
    struct bts_session *root_session; /* the session that follows this one, or NULL */
    bool prompt;                      /* asked the backend for a sample at a time */
    bool polling;                     /* in a poll that waits (timeout > 0) */
    bool caller_waits;                /* the caller waits on bts_session_wait_fds */
    uint64_t python_samples, python_late, gil_dropped;
    /* samples of each Python thread by the GIL (bts_session_gil_threads) */
    struct bts_session_gil_thread *gil_threads;
    size_t n_gil_threads;
    unsigned python_notes;
    char python_note[192];
    /* --threads: the root label each thread's stacks carry, by tid. */
    struct thread_label *labels;
    size_t nlabels, labels_cap;
    uint32_t *label_slots; /* open addressing: index + 1, 0 = empty */
    size_t nlabel_slots;   /* power of two */
};

struct thread_label {
    pid_t tid;
    bool python_named; /* the name is threading's, not the thread's comm */
    char text[64];     /* "thread NAME (TID)" */
};

#define CHILD_SCAN_NS (50 * 1000000LL)

/* A Python stack is read when its sample is processed, not when it was
 * taken. Read more than this after the sample, it is no longer that
 * sample's: on a busy machine the read waits for the target's next stop on
 * its CPU, which its own system calls make more likely than other places
 * (a clock read ends its time slice), so late reads pile up there. While
 * the session's owner waits in poll (or on bts_session_wait_fds) and the
 * backend hands samples over one at a time, such a sample is left out
 * (counted as late). */
#define PYTHON_LATE_NS (200 * 1000LL)

/* --memory's time buckets: 10 ms wide, doubling past this many (stack,
 * bucket) entries. */
#define BUCKET_NS  (10 * 1000000ULL)
#define BUCKET_CAP 65536
#define BUCKET_TAG 0xb7b0000000000000ULL

static int rebucket_one(void *ctx, const char *root, const uint64_t *pcs, size_t n, uint64_t count)
{
    struct bts_stack_table *to = ctx;
    uint64_t copy[BTS_MAX_FRAMES + 1];

    if (n == 0 || n > BTS_MAX_FRAMES + 1)
        return 0;
    memcpy(copy, pcs, n * sizeof(*pcs));
    copy[n - 1] = BUCKET_TAG | ((pcs[n - 1] & ~BUCKET_TAG) >> 1);
    return bts_stack_table_add(to, root, copy, n, count) < 0 ? -ENOMEM : 0;
}

/* Halves the number of buckets: bucket b becomes b / 2, twice as wide. */
static int rebucket(struct bts_session *s)
{
    struct bts_stack_table *to = bts_stack_table_new();

    if (!to)
        return -ENOMEM;
    if (bts_stack_table_foreach(s->buckets, rebucket_one, to) < 0) {
        bts_stack_table_free(to);
        return -ENOMEM;
    }
    bts_stack_table_free(s->buckets);
    s->buckets = to;
    s->bucket_ns *= 2;
    return 0;
}

/* Counts the stack pcs[0..n) (leaf first) once more in the time bucket of
 * time_ns (CLOCK_MONOTONIC; before the start: the first bucket). */
static void add_bucket(struct bts_session *s, const char *root, const uint64_t *pcs, size_t n,
                       uint64_t time_ns)
{
    uint64_t t =
        s->start_ns && time_ns > (uint64_t)s->start_ns ? time_ns - (uint64_t)s->start_ns : 0;

    if (n > BTS_MAX_FRAMES)
        n = BTS_MAX_FRAMES;
    if (bts_stack_table_unique(s->buckets) >= BUCKET_CAP && rebucket(s) < 0)
        return; /* the stack is still in the main table */
    memcpy(s->bucket_pcs, pcs, n * sizeof(*pcs));
    s->bucket_pcs[n] = BUCKET_TAG | ((t / s->bucket_ns) & ~BUCKET_TAG);
    bts_stack_table_add(s->buckets, root, s->bucket_pcs, n + 1, 1);
}

struct bts_session *bts_session_new(const struct bts_session_opts *opts)
{
    struct bts_session *s = NULL;
    int err = EINVAL;
    if (!opts || (opts->pid > 0) == (opts->argv && opts->argv[0]) || opts->pid < 0)
        goto out;
    if (opts->rate_hz > BTS_SESSION_MAX_RATE_HZ)
        goto out;
    if (opts->no_python && (opts->function || opts->gil || opts->native))
        goto out; /* they need the Python stacks */
    if ((opts->native_internal && !opts->native) ||
        (opts->native && (opts->unwind == BTS_UNWIND_FP || opts->memory)))
        goto out; /* the merge anchors on DWARF-unwound frames */
    if (opts->memory && (opts->backend == BTS_BACKEND_PTRACE || opts->idle))
        goto out; /* page faults are a perf_event event */
    if (opts->backend == BTS_BACKEND_READ && (opts->no_python || opts->native || opts->memory))
        goto out; /* it reads Python stacks and nothing else */
    if (opts->stack_size &&
        (opts->stack_size % 8 ||
         opts->stack_size > (opts->backend == BTS_BACKEND_PTRACE ? MAX_PTRACE_STACK_SIZE
                                                                 : BTS_SESSION_MAX_STACK_SIZE)))
        goto out;
    err = ENOMEM;
    s = calloc(1, sizeof(*s));
    if (!s)
        goto out;
    s->opts = *opts;
    if (!s->opts.rate_hz)
        s->opts.rate_hz = BTS_SESSION_DEFAULT_RATE_HZ;
    if (!s->opts.stack_size)
        s->opts.stack_size =
            opts->native ? BTS_SESSION_NATIVE_STACK_SIZE : BTS_SESSION_DEFAULT_STACK_SIZE;
    if (!s->opts.fault_period)
        s->opts.fault_period = BTS_SESSION_DEFAULT_FAULT_PERIOD;
    if (opts->argv) {
        size_t n = 0;
        while (opts->argv[n])
            n++;
        s->argv = calloc(n + 1, sizeof(char *));
        if (!s->argv)
            goto out;
        for (size_t i = 0; i < n; i++) {
            s->argv[i] = strdup(opts->argv[i]);
            if (!s->argv[i])
                goto out;
        }
        s->opts.argv = s->argv;
    }
    s->pid = opts->pid;
    s->table = bts_stack_table_new();
    s->elf_cache = bts_elf_cache_new();
    if (!s->table || !s->elf_cache)
        goto out;
    if (s->opts.memory) {
        s->bucket_ns = BUCKET_NS;
        if (!(s->buckets = bts_stack_table_new()))
            goto out;
    }
    return s;
out:
    bts_session_free(s);
    errno = err;
    return NULL;
}

static const struct bts_map *session_find_map(void *ctx, uint64_t addr, struct bts_elf **elf)
{
    struct bts_session *s = ctx;
    const struct bts_map *map = bts_maps_find(s->maps, addr);
    *elf = map ? bts_maps_elf(s->maps, map) : NULL;
    return map;
}

/* Passes a note of this session's interpreter search to the root session. */
static void take_python_note(struct bts_session *s)
{
    struct bts_session *r = s->root_session ? s->root_session : s;

    if (bts_python_frames_take_note(s->python, r->python_note, sizeof(r->python_note)))
        r->python_notes++;
}

/* With the guard, the target's memory is read only while the guard vouches
 * for the process now: a sample drained after an exec would otherwise have
 * its Python stack read from the new image (the kernel lets root read a
 * setuid process). The native stack was copied at the sample and stays. */
static bool python_readable(struct bts_session *s, pid_t tid)
{
    if (!s->opts.guard)
        return true;
    int g = bts_target_guard_check(s->guard, tid);
    if (g == BTS_TARGET_GUARD_EXEC)
        s->maps_dirty = true;
    return g >= 0;
}

/* Once an interpreter is found on perf_event's CPU time: the eBPF capture
 * of frame chains at the sample, where the kernel allows it (CAP_BPF and
 * CAP_PERFMON). Without it, stacks are read after the sample (and with
 * --native anchored on it). */
static void start_capture(struct bts_session *s)
{
    struct bts_session *r = s->root_session ? s->root_session : s;
    int err;

    s->bpf_tried = true;
    if (s->opts.memory || !s->backend || !s->backend->ops->set_bpf)
        return;
    if (!r->bpf && !r->own_bpf && !r->bpf_errno) {
        r->bpf = bts_python_bpf_new();
        r->own_bpf = r->bpf != NULL;
        r->bpf_errno = r->bpf ? 0 : (errno ? errno : EINVAL);
    }
    if (!r->bpf)
        return;
    err = s->backend->ops->set_bpf(s->backend, bts_python_bpf_prog_fd(r->bpf));
    if (err < 0 && !r->bpf_errno)
        r->bpf_errno = -err;
    s->bpf = r->bpf;
    bts_python_frames_set_capture(s->python, s->bpf);
}

/* After a read: passes its note on, and with an interpreter to read asks
 * for samples one at a time, as they come (a batch would read every
 * sample's stack at the batch's end), unless the eBPF capture gives nearly
 * every sample its stack (all but one in CAPTURE_BATCH_RATIO): then
 * batches are as exact, and cheaper (a wakeup per sample costs the
 * target's CPU an interrupt), and the few samples read without a copy
 * (a new thread's first ones) are judged late or not as prompt ones are. */
#define CAPTURE_BATCH_RATIO 16
static void python_read_done(struct bts_session *s)
{
    struct bts_python_frames_stats ps;
    bool prompt;

    take_python_note(s);
    bts_python_frames_stats(s->python, &ps);
    if (ps.found && !s->bpf_tried)
        start_capture(s);
    prompt = ps.found &&
             ps.captured < CAPTURE_BATCH_RATIO * (1 + ps.capture_missing + ps.capture_unusable);
    if (prompt != s->prompt && s->backend && s->backend->ops->set_prompt) {
        s->backend->ops->set_prompt(s->backend, prompt);
        s->prompt = prompt;
    }
}

static void refresh_maps(struct bts_session *s)
{
    if (s->maps_dirty) {
        bts_maps_refresh(s->maps);
        bts_unwinder_flush(s->unwinder);
        s->maps_dirty = false;
    }
}

/* Whether a Python stack read now is too late for the sample (see
 * PYTHON_LATE_NS). Judged when the read starts: what it reads is the thread
 * at that moment, and a read that waits on the target's memory map (its own
 * mmap or munmap) must not make the sample look late, or the phases that
 * map memory lose samples. --memory keeps late samples: faults come in
 * bursts, so many reads are late, and leaving them out would lose bytes;
 * the function that keeps faulting is the one still running when the read
 * comes. With the eBPF capture, samples may come in batches: one it has a
 * copy for is never late (the caller checks), any other is. */
static bool read_late(const struct bts_session *s, const struct bts_raw_sample *raw)
{
    return !s->opts.memory && (s->prompt || s->bpf) && (s->polling || s->caller_waits) &&
           raw->time_ns && bts_proc_now_ns() - (int64_t)raw->time_ns > PYTHON_LATE_NS;
}

/* Threads whose GIL shares are kept; later ones are not counted. */
#define GIL_THREADS_MAX 256

static void count_gil(struct bts_session *s, pid_t tid, enum bts_python_frames_gil gil)
{
    struct bts_session_gil_thread *t = NULL;

    for (size_t i = 0; i < s->n_gil_threads && !t; i++)
        if (s->gil_threads[i].tid == tid)
            t = &s->gil_threads[i];
    if (!t) {
        if (!s->gil_threads)
            s->gil_threads = calloc(GIL_THREADS_MAX, sizeof(*s->gil_threads));
        if (!s->gil_threads || s->n_gil_threads == GIL_THREADS_MAX)
            return;
        t = &s->gil_threads[s->n_gil_threads++];
        t->pid = s->pid;
        t->tid = tid;
    }
    if (gil == BTS_PYTHON_FRAMES_GIL_HELD)
        t->held++;
    else if (gil == BTS_PYTHON_FRAMES_GIL_NOT_HELD)
        t->not_held++;
    else
        t->unknown++;
}

/* --native: the sample's merged stack into s->pcs (leaf first, native
 * frames by function unless --lines): the number of values, 0 for a thread
 * that runs no Python (unwound as a native one), -1 when there is no stack
 * at all; *drop when it is left out: --gil and the thread does not hold the
 * GIL, or read late and torn. A late read that the merge can tie to the
 * sample is kept. */
static int native_stack(struct bts_session *s, const struct bts_raw_sample *raw,
                        const char **thread_name, bool *drop)
{
    bool late = read_late(s, raw);
    int gil = -1, n;

    *drop = false;
    if (!raw->has_regs || !s->unwinder || !python_readable(s, raw->tid))
        return 0;
    refresh_maps(s);
    n = bts_python_native_stack(s->native, s->unwinder, s->sym, s->python, raw, late, s->pcs,
                                BTS_MAX_FRAMES, thread_name, &gil);
    python_read_done(s);
    if (n == BTS_PYTHON_NATIVE_LATE) {
        s->python_late++;
        *drop = true;
        return 0;
    }
    if (n > 0)
        count_gil(s, raw->tid,
                  gil == 1   ? BTS_PYTHON_FRAMES_GIL_HELD
                  : gil == 0 ? BTS_PYTHON_FRAMES_GIL_NOT_HELD
                             : BTS_PYTHON_FRAMES_GIL_UNKNOWN);
    if (s->opts.gil && gil != 1) {
        s->gil_dropped++;
        *drop = true;
    }
    return n;
}

/* The sampled thread's Python stack into s->pcs (leaf first), read now:
 * the number of frames, 0 for a thread that runs no Python. -1 when the
 * sample is to be dropped (gil, and the thread does not hold the GIL). */
static int python_stack(struct bts_session *s, const struct bts_raw_sample *raw,
                        const char **thread_name)
{
    bool late = read_late(s, raw);
    struct bts_python_frames_read pr;
    size_t n;

    if (!s->python) {
        if (s->opts.gil) {
            s->gil_dropped++;
            return -1;
        }
        return 0;
    }
    if (!python_readable(s, raw->tid))
        return 0;
    n = bts_python_frames_read(s->python, raw->tid, raw->time_ns, s->pcs, BTS_MAX_FRAMES, &pr);
    python_read_done(s);
    if (n && late && !pr.captured) {
        s->python_late++;
        return -1;
    }
    if (n)
        count_gil(s, raw->tid, pr.gil);
    if (s->opts.gil && pr.gil != BTS_PYTHON_FRAMES_GIL_HELD) {
        s->gil_dropped++;
        return -1;
    }
    if (n && pr.thread_name)
        *thread_name = pr.thread_name;
    return (int)n;
}

static struct thread_label *find_label(struct bts_session *s, pid_t tid)
{
    if (!s->nlabel_slots)
        return NULL;
    size_t mask = s->nlabel_slots - 1;
    for (size_t j = ((uint32_t)tid * 2654435761u) & mask; s->label_slots[j]; j = (j + 1) & mask)
        if (s->labels[s->label_slots[j] - 1].tid == tid)
            return &s->labels[s->label_slots[j] - 1];
    return NULL;
}

static struct thread_label *add_label(struct bts_session *s, pid_t tid)
{
    if ((s->nlabels + 1) * 2 > s->nlabel_slots) {
        size_t n = s->nlabel_slots ? s->nlabel_slots * 2 : 64;
        uint32_t *slots = calloc(n, sizeof(*slots));
        if (!slots)
            return NULL;
        for (size_t i = 0; i < s->nlabels; i++) {
            size_t j = ((uint32_t)s->labels[i].tid * 2654435761u) & (n - 1);
            while (slots[j])
                j = (j + 1) & (n - 1);
            slots[j] = (uint32_t)(i + 1);
        }
        free(s->label_slots);
        s->label_slots = slots;
        s->nlabel_slots = n;
    }
    if (s->nlabels == s->labels_cap) {
        size_t cap = s->labels_cap ? s->labels_cap * 2 : 32;
        struct thread_label *l = realloc(s->labels, cap * sizeof(*l));
        if (!l)
            return NULL;
        s->labels = l;
        s->labels_cap = cap;
    }
    struct thread_label *l = &s->labels[s->nlabels];
    memset(l, 0, sizeof(*l));
    l->tid = tid;
    size_t j = ((uint32_t)tid * 2654435761u) & (s->nlabel_slots - 1);
    while (s->label_slots[j])
        j = (j + 1) & (s->nlabel_slots - 1);
    s->label_slots[j] = (uint32_t)(++s->nlabels);
    return l;
}

/* The "thread NAME (TID)" root of a sample. A thread is known by its
 * threading name once one is read: the stacks it had under its comm (taken
 * before the name was found) move under that name, and a later sample that
 * finds no name (a names read missed it) keeps it. */
static const char *thread_root(struct bts_session *s, pid_t tid, const char *name,
                               bool python_named)
{
    char text[sizeof(((struct thread_label *)0)->text)];
    struct thread_label *l = find_label(s, tid);

    snprintf(text, sizeof(text), "thread %s (%d)", name ? name : "[unknown]", (int)tid);
    if (!l) {
        l = add_label(s, tid);
        if (!l) {
            snprintf(s->root, sizeof(s->root), "%s", text);
            return s->root;
        }
    } else if (strcmp(l->text, text) != 0) {
        if (l->python_named && !python_named)
            return l->text;
        if (python_named && bts_stack_table_rename_root(s->table, l->text, text) < 0) {
            snprintf(s->root, sizeof(s->root), "%s", text);
            return s->root;
        }
    }
    snprintf(l->text, sizeof(l->text), "%s", text);
    l->python_named = python_named;
    return l->text;
}

static void on_sample(void *ctx, const struct bts_raw_sample *raw)
{
    struct bts_session *s = ctx;
    const uint64_t *pcs = s->pcs;
    const char *thread_name = raw->thread_name;
    bool python = false, unread = false, drop = false;
    int n;
    if (s->native) {
        n = native_stack(s, raw, &thread_name, &drop);
        if (drop)
            return;
        if (n < 0) {
            s->failed++;
            return;
        }
    } else {
        n = python_stack(s, raw, &thread_name);
        if (n < 0)
            return;
    }
    if (n > 0) {
        /* A Python thread's stack is its Python frames: the interpreter's
         * own C frames say nothing the Python ones do not. */
        python = true;
    } else if (!raw->pcs && !raw->has_regs && s->python) {
        /* The read backend's sample of a thread with no Python stack: its
         * time, without a stack it cannot see. */
        s->pcs[0] = bts_python_frames_tag_text(s->python, "[no Python frames]");
        n = 1;
        unread = true;
    } else if (raw->pcs) {
        pcs = raw->pcs;
        n = raw->npcs ? (int)raw->npcs : -ENOENT;
    } else if (raw->has_regs && s->unwinder) {
        refresh_maps(s);
        n = bts_unwinder_unwind(s->unwinder, raw->regs, raw->stack,
                                raw->stack ? raw->stack_size : 0, s->pcs, BTS_MAX_FRAMES);
    } else {
        n = -ENOENT;
    }
    if (n <= 0) {
        s->failed++;
        return;
    }
    /* Intern stacks by function, not by instruction: every frame becomes
     * its function's entry + 1 (+1 keeps a return address's pc - 1 lookup
     * inside the function). Otherwise each new leaf address would make a
     * new "unique" stack and memory would creep for as long as new
     * addresses turn up. --lines needs the exact pcs. */
    if (s->sym && !s->opts.lines && !python && !unread) {
        if (pcs != s->pcs) {
            if (n > BTS_MAX_FRAMES)
                n = BTS_MAX_FRAMES;
            memcpy(s->pcs, pcs, (size_t)n * sizeof(*pcs));
            pcs = s->pcs;
        }
        for (int i = 0; i < n; i++) {
            uint64_t start = bts_symbolizer_function_start(s->sym, s->pcs[i], i > 0);
            if (start)
                s->pcs[i] = start + 1;
        }
    }
    const char *root = NULL;
    if (s->opts.threads)
        root = thread_root(s, raw->tid, thread_name, thread_name != raw->thread_name);
    int r = bts_stack_table_add(s->table, root, pcs, (size_t)n, 1);
    if (r < 0) {
        s->failed++;
        return;
    }
    if (s->buckets)
        add_bucket(s, root, pcs, (size_t)n, raw->time_ns);
    s->samples++;
    if (python)
        s->python_samples++;
    if ((python && !s->native) || unread)
        return;
    /* Name a new stack's native frames now, while its mappings are still
     * current; the symbolizer caches every pc, so writing later costs no
     * lookups. */
    if (r == 1 && s->sym) {
        for (int i = 0; i < n; i++)
            if (!bts_python_frame_is_tagged(pcs[i]))
                bts_symbolizer_name(s->sym, pcs[i], i > 0);
    }
}

static void on_lost(void *ctx, uint64_t count)
{
    struct bts_session *s = ctx;
    s->lost += count;
}

static void on_maps_changed(void *ctx)
{
    struct bts_session *s = ctx;
    s->maps_dirty = true;
    bts_python_frames_maps_changed(s->python);
}

static void on_exec(void *ctx)
{
    struct bts_session *s = ctx;
    bts_python_frames_exec(s->python);
    bts_python_native_reset(s->native);
    if (s->prompt && s->backend && s->backend->ops->set_prompt) {
        s->backend->ops->set_prompt(s->backend, false);
        s->prompt = false;
    }
}

/* ptrace: the thread is stopped at its sample: its Python stack read now
 * is the sample's own. */
static void on_stopped(void *ctx, pid_t tid)
{
    struct bts_session *s = ctx;

    if (python_readable(s, tid))
        bts_python_native_stopped(s->native, s->python, tid);
}

static void on_forked(void *ctx, pid_t pid)
{
    struct bts_session *s = ctx;
    if (s->nforked < FORKED_QUEUE) /* a full queue waits for the /proc scan */
        s->forked[s->nforked++] = pid;
}

static int on_check(void *ctx, pid_t tid)
{
    struct bts_session *s = ctx;
    int r = bts_target_guard_check(s->guard, tid);
    if (r == BTS_TARGET_GUARD_EXEC)
        s->maps_dirty = true; /* the same rights, a new image */
    return r;
}

static int new_guard(struct bts_session *s)
{
    struct bts_target_guard_opts go = {
        .pid = s->pid,
        .rights = s->opts.guard,
        .uid = s->opts.guard_uid,
        .gid = s->opts.guard_gid,
    };
    s->guard = bts_target_guard_new(&go);
    return s->guard ? 0 : -errno;
}

/* Records the target as it runs now; a refusal is the start's error. */
static int pin_guard(struct bts_session *s)
{
    int r = bts_target_guard_pin(s->guard);
    if (r == -EPERM)
        s->guard_start = true;
    return r;
}

/* Forks `argv` stopped before exec; the caller releases it via *go_fd. */
static int fork_stopped(struct bts_session *s, int *go_fd, int *err_fd)
{
    int go[2] = {-1, -1}, report[2] = {-1, -1};
    int ret = 0;
    if (pipe2(go, O_CLOEXEC) < 0 || pipe2(report, O_CLOEXEC) < 0) {
        ret = -errno;
        goto out;
    }
    pid_t pid = fork();
    if (pid < 0) {
        ret = -errno;
        goto out;
    }
    if (pid == 0) {
        char c;
        bts_proc_restore_priority(); /* the command runs as it would unprofiled */
        close(go[1]);
        close(report[0]);
        int e;
        if (read(go[0], &c, 1) != 1)
            _exit(127); /* the profiler gave up before starting us */
        if (s->opts.before_exec && (e = s->opts.before_exec(s->opts.before_exec_ctx)) < 0) {
            errno = -e;
            goto report;
        }
        execvp(s->argv[0], s->argv);
    report:
        e = errno;
        if (write(report[1], &e, sizeof(e)) < 0)
            _exit(127);
        _exit(127);
    }
    s->pid = pid;
    *go_fd = go[1];
    *err_fd = report[0];
    go[1] = report[0] = -1;
out:
    for (int i = 0; i < 2; i++) {
        if (go[i] >= 0)
            close(go[i]);
        if (report[i] >= 0)
            close(report[i]);
    }
    return ret;
}

static int make_symbolizer(struct bts_session *s)
{
    struct bts_symbolizer_opts so = {.lines = s->opts.lines, .demangle = true};
    if (!s->maps)
        s->maps = bts_maps_new(s->pid, s->elf_cache);
    if (!s->maps)
        return -errno;
    s->sym = bts_symbolizer_new(s->maps, &so);
    if (!s->sym)
        return -errno;
    struct bts_unwind_target target = {.ctx = s, .find_map = session_find_map};
    s->unwinder = bts_unwinder_new(&target);
    if (!s->unwinder)
        return -errno;
    return 0;
}

static bool perf_refused(int err)
{
    return err == -EACCES || err == -EPERM || err == -ENOSYS || err == -ENODEV || err == -ENOENT ||
           err == -EOPNOTSUPP;
}

/* perf_event unless ptrace was asked for; auto falls back to ptrace when
 * perf_event is refused (or cannot do --idle). */
static int start_backend(struct bts_session *s, const struct bts_backend_config *cfg,
                         const struct bts_backend_sink *sink)
{
    int ret = -ENOTSUP;
    if (s->opts.backend == BTS_BACKEND_READ) {
        if (!(s->backend = bts_read_backend_new()))
            return -errno;
        return s->backend->ops->start(s->backend, cfg, sink);
    }
    bool try_perf = s->opts.backend == BTS_BACKEND_PERF ||
                    (s->opts.backend == BTS_BACKEND_AUTO && !s->opts.idle);
    if (try_perf) {
        s->backend = bts_perf_backend_new();
        if (!s->backend)
            return -errno;
        ret = s->backend->ops->start(s->backend, cfg, sink);
        /* --memory has no ptrace counterpart: no fallback. */
        if (ret == 0 || s->opts.backend == BTS_BACKEND_PERF || s->opts.memory || !perf_refused(ret))
            return ret;
        s->backend->ops->free(s->backend);
        s->backend = NULL;
    }
    s->backend = bts_ptrace_backend_new();
    if (!s->backend)
        return -errno;
    int pret = s->backend->ops->start(s->backend, cfg, sink);
    /* When both are refused, explain the perf_event refusal: its fix is the
     * usual one (paranoid sysctl, CAP_PERFMON). */
    return pret < 0 && try_perf ? ret : pret;
}

int bts_session_start(struct bts_session *s)
{
    int ret = 0;
    int go_fd = -1, err_fd = -1;
    if (!s || s->started) {
        ret = -EINVAL;
        goto out;
    }
    if (s->opts.idle && s->opts.backend == BTS_BACKEND_PERF) {
        ret = -ENOTSUP;
        goto out;
    }
    if (s->argv) {
        if ((ret = fork_stopped(s, &go_fd, &err_fd)) < 0)
            goto out;
        s->launched = true;
        if ((ret = new_guard(s)) < 0)
            goto out;
    } else {
        /* Pinned before anything of the target is read: with opts.guard,
         * a process the client may not profile is not looked at. */
        if ((ret = new_guard(s)) < 0 || (ret = pin_guard(s)) < 0)
            goto out;
        if ((ret = make_symbolizer(s)) < 0) {
            if (ret == -ENOENT)
                ret = -ESRCH; /* /proc/PID is missing */
            goto out;
        }
    }
    struct bts_backend_config cfg = {
        .pid = s->pid,
        .launched = s->launched,
        .rate_hz = s->opts.rate_hz,
        .stack_size = s->opts.stack_size,
        .callchain = s->opts.unwind == BTS_UNWIND_FP,
        .idle = s->opts.idle,
        .memory = s->opts.memory,
        .fault_period = s->opts.fault_period,
    };
    if (!s->opts.no_python && !(s->python = bts_python_frames_new(s->pid, s->opts.function))) {
        ret = -errno;
        goto out;
    }
    if (s->opts.native &&
        !(s->native = bts_python_native_new(s->opts.native_internal, s->opts.lines))) {
        ret = -errno;
        goto out;
    }
    struct bts_backend_sink sink = {.ctx = s,
                                    .sample = on_sample,
                                    .lost = on_lost,
                                    .maps_changed = on_maps_changed,
                                    .exec = on_exec,
                                    .stopped = s->native ? on_stopped : NULL,
                                    .forked = on_forked,
                                    .check = on_check};
    if ((ret = start_backend(s, &cfg, &sink)) < 0)
        goto out;
    s->start_ns = bts_proc_now_ns();
    if (s->launched) {
        int e = 0;
        ssize_t n;
        if (write(go_fd, "g", 1) != 1) {
            ret = -errno;
            goto out;
        }
        close(go_fd);
        go_fd = -1;
        do
            n = read(err_fd, &e, sizeof(e));
        while (n < 0 && errno == EINTR);
        if (n == sizeof(e)) {
            ret = -e;
            goto out;
        }
        /* The exec is done (the pipe closed at exec; the pin waits for the
         * new credentials): pin the image the command runs now, then read
         * its maps. A command that already ran to completion has none left:
         * that is a finished session, not a failed start. */
        ret = pin_guard(s);
        if (ret == 0)
            ret = make_symbolizer(s);
        if (ret == -ESRCH)
            ret = 0;
        if (ret < 0)
            goto out;
    }
    s->started = true;
out:
    if (go_fd >= 0)
        close(go_fd); /* the child sees EOF and exits without exec */
    if (err_fd >= 0)
        close(err_fd);
    if (ret < 0 && s) {
        s->start_error = ret;
        /* A launched command is ended before it is let go: with ptrace it
         * may sit at its exec stop, and a refused image must not run. */
        if (s->launched && s->pid > 0)
            kill(s->pid, SIGKILL);
        if (s->backend)
            s->backend->ops->stop(s->backend);
        if (s->launched && s->pid > 0) {
            int status;
            waitpid(s->pid, &status, 0);
            s->reaped = true;
        }
    }
    return ret;
}

void bts_session_explain(const struct bts_session *s, const char **why, const char **hint)
{
    struct bts_session *ms = (struct bts_session *)s;
    struct bts_permission_facts facts;
    *why = *hint = "";
    if (!s)
        return;
    if (s->guard_start || s->guard_error) {
        *why = bts_target_guard_reason(s->guard);
        *hint = s->guard_start ? "bt-spyd profiles a process only while it runs with exactly your "
                                 "credentials; run it without bt-spy, or ask root to profile it"
                               : "the profile holds what was sampled before the change";
        return;
    }
    if (s->exited && bts_target_guard_verdict(s->guard)) {
        *why = bts_target_guard_reason(s->guard);
        return;
    }
    if (!s->start_error)
        return;
    bts_permission_gather(s->launched ? 0 : s->pid, &facts);
    bts_permission_diagnose(&facts, s->start_error, s->argv ? s->argv[0] : NULL, ms->why,
                            sizeof(ms->why), ms->hint, sizeof(ms->hint));
    *why = s->why;
    *hint = s->hint;
}

const char *bts_session_backend(const struct bts_session *s)
{
    return s && s->backend ? s->backend->ops->name : "perf_event";
}

static void reap(struct bts_session *s, bool block)
{
    int status;
    if (!s->launched || s->reaped)
        return;
    pid_t r = waitpid(s->pid, &status, block ? 0 : WNOHANG);
    if (r == s->pid) {
        s->reaped = true;
        s->exit_status = status;
    } else if (r < 0 && errno == ECHILD) {
        s->reaped = true;
    }
}

static int poll_one(struct bts_session *s, int timeout_ms)
{
    if (s->exited)
        return 1;
    if (s->guard_error)
        return s->guard_error;
    if (s->stopped)
        return 0;
    s->polling = timeout_ms > 0;
    int r = s->backend->ops->poll(s->backend, timeout_ms);
    s->polling = false;
    if (r == -EPERM && bts_target_guard_verdict(s->guard) == -EPERM) {
        /* The backend stopped sampling at the change; keep what it gave. */
        s->guard_error = r;
        s->end_ns = bts_proc_now_ns();
        return r;
    }
    if (r == 1) {
        s->exited = true;
        s->end_ns = bts_proc_now_ns();
        /* Every thread is a zombie or gone: reaping does not block long. */
        reap(s, true);
    }
    return r;
}

static bool is_child(const struct bts_session *s, pid_t pid)
{
    for (size_t i = 0; i < s->nchildren; i++)
        if (s->children[i]->pid == pid)
            return true;
    return false;
}

/* Starts a session following `pid`. A process that cannot be attached
 * (gone already, not allowed) is kept as an unstarted child so it is not
 * retried. */
static void follow(struct bts_session *s, pid_t pid)
{
    if (pid == s->pid || is_child(s, pid))
        return;
    if (s->nchildren == s->children_cap) {
        size_t cap = s->children_cap ? s->children_cap * 2 : 8;
        struct bts_session **c = realloc(s->children, cap * sizeof(*c));
        if (!c)
            return;
        s->children = c;
        s->children_cap = cap;
    }
    struct bts_session_opts o = s->opts;
    o.pid = pid;
    o.argv = NULL;
    o.subprocesses = false;
    o.before_exec = NULL;
    struct bts_session *c = bts_session_new(&o);
    if (!c)
        return;
    c->root_session = s;
    bts_proc_comm(c->pid, 0, c->comm, sizeof(c->comm));
    bts_session_start(c);
    s->children[s->nchildren++] = c;
}

/* Follows the processes FORK records named since the last call, then, every
 * 50 ms, every descendant not followed yet. Descendants of followed
 * children count too, so grandchildren orphaned by an exiting parent are
 * still found. */
static void follow_children(struct bts_session *s)
{
    pid_t pids[256];
    int64_t t = bts_proc_now_ns();

    for (size_t root = 0; root <= s->nchildren; root++) {
        struct bts_session *r = root ? s->children[root - 1] : s;
        size_t n = r->nforked;
        r->nforked = 0;
        for (size_t i = 0; i < n; i++)
            follow(s, r->forked[i]);
    }
    if (t - s->last_scan_ns < CHILD_SCAN_NS)
        return;
    s->last_scan_ns = t;
    bts_proc_comm(s->pid, 0, s->comm, sizeof(s->comm));
    for (size_t root = 0; root <= s->nchildren; root++) {
        struct bts_session *r = root ? s->children[root - 1] : s;
        if (root && (!r->started || r->exited))
            continue;
        if (root)
            bts_proc_comm(r->pid, 0, r->comm, sizeof(r->comm));
        int n = bts_process_tree_descendants(r->pid, pids, sizeof(pids) / sizeof(pids[0]));
        for (int i = 0; i < n && i < (int)(sizeof(pids) / sizeof(pids[0])); i++)
            follow(s, pids[i]);
    }
}

/* Polls the target and every followed child until timeout_ms has passed;
 * 1 once all of them have exited. */
static int poll_tree(struct bts_session *s, int timeout_ms)
{
    int64_t deadline = bts_proc_now_ns() + (int64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000000LL;

    for (;;) {
        int64_t left_ms = (deadline - bts_proc_now_ns()) / 1000000LL;
        int slice = (int)(left_ms < 0 ? 0 : left_ms > 10 ? 10 : left_ms);
        bool done = true;
        if (!s->exited) {
            int r = poll_one(s, slice);
            if (r < 0)
                return r;
        } else if (slice > 0) {
            struct timespec ts = {0, slice * 1000000L};
            nanosleep(&ts, NULL);
        }
        follow_children(s);
        for (size_t i = 0; i < s->nchildren; i++) {
            struct bts_session *c = s->children[i];
            if (c->started && !c->exited && !c->stopped && poll_one(c, 0) == 0)
                done = false;
        }
        if (done && s->exited)
            return 1;
        if (bts_proc_now_ns() >= deadline)
            return 0;
    }
}

int bts_session_poll(struct bts_session *s, int timeout_ms)
{
    if (!s || !s->started)
        return -EINVAL;
    if (s->stopped)
        return s->exited ? 1 : 0;
    return s->opts.subprocesses ? poll_tree(s, timeout_ms) : poll_one(s, timeout_ms);
}

size_t bts_session_wait_fds(struct bts_session *s, struct pollfd *out, size_t cap)
{
    size_t n = 0;

    if (!s || !s->started || s->stopped || s->exited)
        return 0;
    if (s->backend->ops->wait_fds) {
        n = s->backend->ops->wait_fds(s->backend, out, cap);
        s->caller_waits = true;
    }
    for (size_t i = 0; i < s->nchildren; i++)
        n += bts_session_wait_fds(s->children[i], n < cap ? out + n : NULL, n < cap ? cap - n : 0);
    return n;
}

void bts_session_stop(struct bts_session *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nchildren; i++)
        bts_session_stop(s->children[i]);
    if (!s->started || s->stopped)
        return;
    s->backend->ops->stop(s->backend);
    s->stopped = true;
    if (!s->end_ns)
        s->end_ns = bts_proc_now_ns();
    reap(s, false);
}

/* Adds this process's Python figures to `out`. */
static void add_python_stats(const struct bts_session *s, struct bts_session_stats *out)
{
    struct bts_python_frames_stats ps;
    struct bts_python_native_stats ns;

    out->python_samples += s->python_samples;
    out->python_late += s->python_late;
    out->gil_dropped += s->gil_dropped;
    if (s->native) {
        const uint64_t *why = ns.merge.results;

        bts_python_native_stats(s->native, &ns); /* fills why[] */
        out->native_merged += why[BTS_MERGE_OK];
        out->native_torn += ns.torn;
        out->native_torn_late += ns.torn_late;
        out->native_unknown += ns.merge.unknown_innermost;
        out->native_partial += ns.partial;
        out->native_stopped += ns.trusted;
        out->native_stop_ns += ns.stop_ns;
        out->native_captured += ns.captured;
        out->native_captured_torn += ns.captured_torn;
        out->native_torn_count += why[BTS_MERGE_TORN_COUNT];
        out->native_torn_frame += why[BTS_MERGE_TORN_FRAME];
        out->native_torn_code += why[BTS_MERGE_TORN_CODE];
        out->native_torn_learning += why[BTS_MERGE_TORN_LEARNING];
        out->native_torn_stack += why[BTS_MERGE_TORN_STACK];
    }
    if (!s->python)
        return;
    bts_python_frames_stats(s->python, &ps);
    out->python_reads += ps.reads;
    out->python_read_ns += ps.read_ns;
    out->python_errors += ps.errors;
    out->python_captured += ps.captured;
    out->python_capture_missing += ps.capture_missing;
    out->python_capture_unusable += ps.capture_unusable;
    if (ps.found) {
        out->python_found++;
        if (!out->python_version[0])
            snprintf(out->python_version, sizeof(out->python_version), "%s", ps.version);
    }
}

void bts_session_stats(const struct bts_session *s, struct bts_session_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (!s)
        return;
    out->samples = s->samples;
    out->lost = s->lost;
    out->failed = s->failed;
    add_python_stats(s, out);
    out->capture_errno = s->bpf_errno;
    out->python_notes = s->python_notes;
    snprintf(out->python_note, sizeof(out->python_note), "%s", s->python_note);
    if (s->backend && s->started) {
        struct bts_backend_threads t;
        s->backend->ops->threads(s->backend, &t);
        out->threads = t.now;
        out->threads_seen = t.seen;
    }
    out->start_ns = s->start_ns;
    if (s->start_ns)
        out->elapsed_s = (double)((s->end_ns ? s->end_ns : bts_proc_now_ns()) - s->start_ns) / 1e9;
    out->target_exited = s->exited;
    out->exit_status = s->exit_status;
    for (size_t i = 0; i < s->nchildren; i++) {
        struct bts_session_stats c;
        if (!s->children[i]->started)
            continue;
        bts_session_stats(s->children[i], &c);
        out->samples += c.samples;
        out->lost += c.lost;
        out->failed += c.failed;
        out->threads += c.threads;
        out->threads_seen += c.threads_seen;
        out->target_exited &= c.target_exited;
        out->python_samples += c.python_samples;
        out->python_late += c.python_late;
        out->python_reads += c.python_reads;
        out->python_read_ns += c.python_read_ns;
        out->python_errors += c.python_errors;
        out->gil_dropped += c.gil_dropped;
        out->native_merged += c.native_merged;
        out->native_torn += c.native_torn;
        out->native_torn_late += c.native_torn_late;
        out->native_unknown += c.native_unknown;
        out->native_partial += c.native_partial;
        out->native_stopped += c.native_stopped;
        out->native_captured += c.native_captured;
        out->native_captured_torn += c.native_captured_torn;
        out->python_captured += c.python_captured;
        out->python_capture_missing += c.python_capture_missing;
        out->python_capture_unusable += c.python_capture_unusable;
        out->native_stop_ns += c.native_stop_ns;
        out->native_torn_count += c.native_torn_count;
        out->native_torn_frame += c.native_torn_frame;
        out->native_torn_code += c.native_torn_code;
        out->native_torn_learning += c.native_torn_learning;
        out->native_torn_stack += c.native_torn_stack;
        out->python_found += c.python_found;
        if (!out->python_version[0])
            snprintf(out->python_version, sizeof(out->python_version), "%s", c.python_version);
    }
}

size_t bts_session_gil_threads(const struct bts_session *s, struct bts_session_gil_thread *out,
                               size_t max)
{
    size_t n = 0;

    if (!s)
        return 0;
    for (size_t i = 0; i < s->n_gil_threads && n < max; i++)
        out[n++] = s->gil_threads[i];
    for (size_t i = 0; i < s->nchildren && n < max; i++)
        n += bts_session_gil_threads(s->children[i], out + n, max - n);
    return n;
}

pid_t bts_session_pid(const struct bts_session *s)
{
    return s ? s->pid : 0;
}

/* Frames glibc runs before main: left out so stacks start at main, the way
 * users read them. */
static bool is_startup_frame(const char *name)
{
    static const char *const startup[] = {"_start", "__libc_start_main", "__libc_start_main_impl",
                                          "__libc_start_call_main"};
    /* "__libc_start_main@@GLIBC_2.34", "__libc_start_main (libc-start.c:360)" */
    size_t len = strcspn(name, "@ ");
    for (size_t i = 0; i < sizeof(startup) / sizeof(startup[0]); i++) {
        if (strlen(startup[i]) == len && strncmp(name, startup[i], len) == 0)
            return true;
    }
    return false;
}

/* Names a stack-table value: a Python frame's "qualname (path:line)", or
 * the symbol of a native pc. `ctx` is the session. */
static const char *name_frame(void *ctx, uint64_t pc, bool is_return_address)
{
    const struct bts_session *s = ctx;
    if (bts_python_frame_is_tagged(pc)) {
        const char *py = bts_python_frames_name(s->python, pc);
        return py ? py : "[python]";
    }
    const char *name = bts_symbolizer_name(s->sym, pc, is_return_address);
    return is_startup_frame(name) ? NULL : name;
}

static int write_one_folded(const struct bts_session *s, FILE *out)
{
    if (!s->sym)
        return 0;
    return bts_stack_table_write_folded(s->table, name_frame, (void *)s, out);
}

static int by_string(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every process's stacks under its "process COMM (PID)" root, merged and
 * sorted bytewise like a single session's output. */
static int write_tree_folded(const struct bts_session *s, FILE *out)
{
    char **lines = NULL, *buf = NULL;
    size_t nlines = 0, cap = 0, len = 0;
    int ret = 0;

    for (size_t k = 0; k <= s->nchildren && !ret; k++) {
        const struct bts_session *x = k ? s->children[k - 1] : s;
        FILE *mem;
        if (k && !x->started)
            continue;
        mem = open_memstream(&buf, &len);
        if (!mem) {
            ret = -errno;
            break;
        }
        ret = write_one_folded(x, mem);
        if (fclose(mem) && !ret)
            ret = -errno;
        for (char *line = buf, *nl; !ret && line && *line; line = nl ? nl + 1 : NULL) {
            nl = strchr(line, '\n');
            if (nl)
                *nl = '\0';
            if (nlines == cap) {
                size_t ncap = cap ? cap * 2 : 64;
                char **nlist = realloc(lines, ncap * sizeof(*lines));
                if (!nlist) {
                    ret = -ENOMEM;
                    break;
                }
                lines = nlist;
                cap = ncap;
            }
            if (asprintf(&lines[nlines], "process %s (%d);%s", x->comm[0] ? x->comm : "?",
                         (int)x->pid, line) < 0) {
                ret = -ENOMEM;
                break;
            }
            nlines++;
        }
        free(buf);
        buf = NULL;
    }
    if (!ret) {
        qsort(lines, nlines, sizeof(*lines), by_string);
        for (size_t i = 0; i < nlines; i++)
            if (fputs(lines[i], out) < 0 || fputc('\n', out) < 0) {
                ret = -EIO;
                break;
            }
    }
    for (size_t i = 0; i < nlines; i++)
        free(lines[i]);
    free(lines);
    return ret;
}

struct stack_visit {
    const struct bts_session *s;
    bts_session_stack_fn fn;
    void *ctx;
    struct bts_session_frame frames[BTS_MAX_FRAMES];
};

static int visit_stack(void *ctx, const char *root, const uint64_t *pcs, size_t n, uint64_t count)
{
    struct stack_visit *v = ctx;
    size_t k = 0;

    /* pcs are leaf first; frames go root first, without glibc's start-up
     * frames, exactly as the folded output names them. */
    for (size_t i = n; i-- > 0 && k < BTS_MAX_FRAMES;) {
        const char *name = name_frame((void *)v->s, pcs[i], i > 0);
        if (!name)
            continue;
        const struct bts_map *m =
            bts_python_frame_is_tagged(pcs[i]) ? NULL : bts_maps_find(v->s->maps, pcs[i]);
        v->frames[k++] = (struct bts_session_frame){
            .pc = bts_python_frame_is_tagged(pcs[i]) ? 0 : pcs[i], /* a Python frame has none */
            .name = name,
            .map_start = m ? m->start : 0,
            .map_end = m ? m->end : 0,
            .map_offset = m ? m->pgoff : 0,
            .map_path = m && m->path && m->path[0] == '/' ? m->path : NULL,
        };
    }
    return k ? v->fn(v->ctx, root, v->frames, k, count) : 0;
}

int bts_session_foreach_stack(const struct bts_session *s, bts_session_stack_fn fn, void *ctx)
{
    struct stack_visit *v;
    int ret;

    if (!s || !fn)
        return -EINVAL;
    if (s->opts.subprocesses)
        return -ENOTSUP;
    if (!s->sym)
        return 0;
    v = malloc(sizeof(*v));
    if (!v)
        return -ENOMEM;
    *v = (struct stack_visit){.s = s, .fn = fn, .ctx = ctx};
    ret = bts_stack_table_foreach(s->table, visit_stack, v);
    free(v);
    return ret;
}

struct bucket_visit {
    struct stack_visit v;
    bts_session_bucket_fn fn;
    void *ctx;
    uint64_t bucket_ns;
    int64_t time_ms; /* of the stack being visited */
};

static int visit_bucket_frames(void *ctx, const char *root, const struct bts_session_frame *frames,
                               size_t n, uint64_t count)
{
    struct bucket_visit *b = ctx;

    return b->fn(b->ctx, root, frames, n, count, b->time_ms);
}

static int visit_bucket(void *ctx, const char *root, const uint64_t *pcs, size_t n, uint64_t count)
{
    struct bucket_visit *b = ctx;

    if (n < 2)
        return 0;
    b->time_ms = (int64_t)((pcs[n - 1] & ~BUCKET_TAG) * b->bucket_ns / 1000000);
    return visit_stack(&b->v, root, pcs, n - 1, count);
}

int bts_session_foreach_bucket(const struct bts_session *s, bts_session_bucket_fn fn, void *ctx,
                               uint64_t *bucket_ns)
{
    struct bucket_visit *b;
    int ret;

    if (!s || !fn)
        return -EINVAL;
    /* The children's buckets are theirs: a tree has no one set to visit. */
    if (!s->buckets || s->opts.subprocesses)
        return -ENOTSUP;
    if (bucket_ns)
        *bucket_ns = s->bucket_ns;
    if (!s->sym)
        return 0;
    b = malloc(sizeof(*b));
    if (!b)
        return -ENOMEM;
    *b = (struct bucket_visit){.fn = fn, .ctx = ctx, .bucket_ns = s->bucket_ns};
    b->v = (struct stack_visit){.s = s, .fn = visit_bucket_frames, .ctx = b};
    ret = bts_stack_table_foreach(s->buckets, visit_bucket, b);
    free(b);
    return ret;
}

int bts_session_write_folded(const struct bts_session *s, FILE *out)
{
    if (!s || !out)
        return -EINVAL;
    return s->opts.subprocesses ? write_tree_folded(s, out) : write_one_folded(s, out);
}

void bts_session_free(struct bts_session *s)
{
    if (!s)
        return;
    bts_session_stop(s);
    for (size_t i = 0; i < s->nchildren; i++)
        bts_session_free(s->children[i]);
    free(s->children);
    free(s->gil_threads);
    if (s->backend)
        s->backend->ops->free(s->backend);
    bts_unwinder_free(s->unwinder);
    bts_symbolizer_free(s->sym);
    bts_maps_free(s->maps);
    bts_elf_cache_free(s->elf_cache);
    bts_stack_table_free(s->table);
    bts_stack_table_free(s->buckets);
    bts_python_native_free(s->native);
    if (s->own_bpf)
        bts_python_bpf_free(s->bpf);
    bts_python_frames_free(s->python);
    free(s->labels);
    free(s->label_slots);
    bts_target_guard_free(s->guard);
    if (s->argv) {
        for (size_t i = 0; s->argv[i]; i++)
            free(s->argv[i]);
        free(s->argv);
    }
    free(s);
}

size_t bts_session_release_stragglers(void)
{
    return bts_ptrace_release_stragglers();
}
