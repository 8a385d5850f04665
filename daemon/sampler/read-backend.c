/* SPDX-License-Identifier: MIT */
/* read-backend: samples a Python process with nothing in the target: no
 * perf event, no ptrace stop, no signal. On its own clock it looks at each
 * thread's state and CPU time in /proc and, for a thread due a sample
 * (running, with a period of CPU time used since its last one; every
 * thread with cfg->idle), hands the sink a sample that holds no native
 * stack. The sink reads that thread's Python stack from outside, right
 * then (process_vm_readv), which is all such a sample shows.
 *
 * This is how Austin and py-spy sample, and why they cost a target less: a
 * cpu-clock event interrupts the target's CPU at every sample, and on a
 * virtual machine each interrupt is a VM exit. Here the target pays only
 * for the pages the reads pin, on the profiler's CPU.
 *
 * What it cannot see: native frames. A thread that runs no Python (a BLAS
 * worker, a process that is not Python) is sampled all the same, and the
 * sink shows its time without a stack.
 *
 * The process is held as ptrace holds it: the sink's check() is asked on
 * every rescan, for every new thread, and the process's image is compared
 * on every rescan, so an exec (found within RESCAN_NS) starts a new
 * interpreter search. With bt-spyd's guard, the sink also asks before each
 * read, so nothing is read from an image the client may not profile. */
#define _GNU_SOURCE
#include "backend-private.h"
#include "identity.h"
#include "proc.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "read-backend-private.h"
#include "thread-clock-private.h"

#define RESCAN_NS       10000000LL   /* look for new threads and an exec this often */
#define MAPS_NS         1000000000LL /* no mmap records: say the maps may have changed */
#define DEFAULT_RATE_HZ 100

struct read_thread {
    pid_t tid;
    struct bts_thread_clock clock;
    bool seen;
};

struct read_backend {
    struct bts_sampler_backend base;
    struct bts_backend_config cfg;
    struct bts_backend_sink sink;
    struct read_thread *threads;
    size_t nthreads, cap_threads;
    unsigned threads_seen;
    struct bts_identity image; /* the process as last seen, for exec */
    bool have_image;
    int64_t period_ns;
    int64_t next_tick_ns, last_scan_ns, last_maps_ns;
    unsigned last_due; /* threads the previous tick sampled */
    bool started, stopped, exited;
    int verdict; /* -EPERM once check() said the target's rights changed */
};

/* Asks the sink whether `tid` may be sampled; a final answer sticks. */
static int vet(struct read_backend *rb, pid_t tid)
{
    int r;
    if (rb->verdict)
        return rb->verdict;
    if (rb->exited)
        return -ESRCH;
    if (!rb->sink.check)
        return 0;
    r = rb->sink.check(rb->sink.ctx, tid);
    if (r == -EPERM)
        rb->verdict = -EPERM;
    else if (r == -ESRCH)
        rb->exited = true;
    return r;
}

static void forget(struct read_backend *rb, size_t i)
{
    bts_thread_clock_close(&rb->threads[i].clock);
    rb->threads[i] = rb->threads[--rb->nthreads];
}

static int add_thread(struct read_backend *rb, pid_t tid)
{
    if (rb->nthreads == rb->cap_threads) {
        size_t cap = rb->cap_threads ? rb->cap_threads * 2 : 16;
        struct read_thread *n = realloc(rb->threads, cap * sizeof(*n));
        if (!n)
            return -ENOMEM;
        rb->threads = n;
        rb->cap_threads = cap;
    }
    int r = vet(rb, tid);
    if (r < 0)
        return r == -ENOENT ? -ESRCH : r;
    struct read_thread *t = &rb->threads[rb->nthreads];
    memset(t, 0, sizeof(*t));
    t->tid = tid;
    t->seen = true;
    if (bts_thread_clock_open(&t->clock, rb->cfg.pid, tid) < 0)
        return -ESRCH;
    char state = bts_thread_clock_state(&t->clock, true, rb->period_ns);
    if (state == 'Z' || state == 'X') {
        bts_thread_clock_close(&t->clock);
        return -ESRCH;
    }
    rb->nthreads++;
    rb->threads_seen++;
    return 0;
}

/* An exec replaces the image without a record of it: compare the image
 * with the last one seen. The execing thread keeps the process's pid; the
 * others are gone, and the next rescan drops them. */
static void look_for_exec(struct read_backend *rb)
{
    struct bts_identity now;
    if (bts_identity_read(rb->cfg.pid, 0, &now) < 0)
        return;
    bool exec = rb->have_image && bts_identity_exec_changed(&rb->image, &now);
    rb->image = now;
    rb->have_image = true;
    if (!exec)
        return;
    if (rb->sink.exec)
        rb->sink.exec(rb->sink.ctx);
    rb->sink.maps_changed(rb->sink.ctx);
    rb->last_maps_ns = bts_proc_now_ns();
}

/* Syncs the thread list with /proc/PID/task and vets every thread. */
static void rescan(struct read_backend *rb)
{
    char path[64];
    unsigned live = 0;
    rb->last_scan_ns = bts_proc_now_ns();
    vet(rb, rb->cfg.pid);
    if (rb->exited || rb->verdict)
        return;
    look_for_exec(rb);
    snprintf(path, sizeof(path), "/proc/%d/task", (int)rb->cfg.pid);
    DIR *d = opendir(path);
    if (!d) {
        rb->exited = true;
        return;
    }
    for (size_t i = 0; i < rb->nthreads; i++)
        rb->threads[i].seen = false;
    struct dirent *de;
    while ((de = readdir(d)) && !rb->verdict && !rb->exited) {
        if (de->d_name[0] < '0' || de->d_name[0] > '9')
            continue;
        pid_t tid = (pid_t)atoi(de->d_name);
        struct read_thread *t = NULL;
        for (size_t i = 0; i < rb->nthreads && !t; i++)
            if (rb->threads[i].tid == tid)
                t = &rb->threads[i];
        if (t) {
            t->seen = true;
            if (vet(rb, tid) >= 0)
                live++;
            continue;
        }
        if (add_thread(rb, tid) == 0)
            live++;
    }
    closedir(d);
    if (rb->verdict)
        return;
    for (size_t i = 0; i < rb->nthreads;) {
        if (!rb->threads[i].seen)
            forget(rb, i);
        else
            i++;
    }
    if (live == 0)
        rb->exited = true;
}

static void tick(struct read_backend *rb)
{
    unsigned due = 0;
    for (size_t i = 0; i < rb->nthreads && !rb->verdict; i++) {
        struct read_thread *t = &rb->threads[i];
        char state = bts_thread_clock_state(&t->clock, !rb->cfg.idle, rb->period_ns);
        if (state == 'Z' || state == 'X')
            continue;
        if (!rb->cfg.idle && !bts_thread_clock_due(&t->clock, state, rb->period_ns))
            continue;
        struct bts_raw_sample s;
        memset(&s, 0, sizeof(s));
        s.pid = rb->cfg.pid;
        s.tid = t->tid;
        s.time_ns = (uint64_t)bts_proc_now_ns();
        s.thread_name = t->clock.comm[0] ? t->clock.comm : NULL;
        rb->sink.sample(rb->sink.ctx, &s);
        due++;
    }
    rb->last_due = due;
}

static void read_stop(struct bts_sampler_backend *b)
{
    struct read_backend *rb = (struct read_backend *)b;
    while (rb->nthreads)
        forget(rb, rb->nthreads - 1);
    rb->stopped = true;
}

static int read_start(struct bts_sampler_backend *b, const struct bts_backend_config *cfg,
                      const struct bts_backend_sink *sink)
{
    struct read_backend *rb = (struct read_backend *)b;
    int ret = 0;
    if (rb->started || cfg->pid <= 0 || cfg->memory) {
        ret = -EINVAL;
        goto out;
    }
    rb->cfg = *cfg;
    rb->sink = *sink;
    if (!rb->cfg.rate_hz)
        rb->cfg.rate_hz = DEFAULT_RATE_HZ;
    rb->period_ns = 1000000000LL / rb->cfg.rate_hz;
    if (rb->period_ns <= 0)
        rb->period_ns = 1;
    rb->started = true;
    /* A launched command is still the profiler's fork here, waiting to
     * exec: its image is noted now, and its exec is seen by the first
     * rescan after it (start returns before the exec, and nothing is
     * sampled until the first poll). */
    rescan(rb);
    if (rb->verdict)
        ret = rb->verdict;
    else if (rb->nthreads == 0)
        ret = -ESRCH;
    if (ret < 0)
        goto out;
    rb->next_tick_ns = rb->last_maps_ns = bts_proc_now_ns();
out:
    if (ret < 0)
        read_stop(b);
    return ret;
}

static int read_poll(struct bts_sampler_backend *b, int timeout_ms)
{
    struct read_backend *rb = (struct read_backend *)b;
    if (rb->stopped || !rb->started)
        return rb->verdict ? rb->verdict : 1;
    int64_t deadline = bts_proc_now_ns() + (int64_t)(timeout_ms < 0 ? 0 : timeout_ms) * 1000000LL;
    for (;;) {
        int64_t t = bts_proc_now_ns();
        if (t - rb->last_scan_ns >= RESCAN_NS)
            rescan(rb);
        if (rb->verdict) {
            read_stop(b);
            return rb->verdict;
        }
        if (rb->exited) {
            read_stop(b);
            return 1;
        }
        if (t - rb->last_maps_ns >= MAPS_NS) {
            rb->last_maps_ns = t;
            rb->sink.maps_changed(rb->sink.ctx);
        }
        if (t >= rb->next_tick_ns) {
            int64_t late = (t - rb->next_tick_ns) / rb->period_ns;
            if (late > 0)
                rb->sink.lost(rb->sink.ctx, (uint64_t)late * rb->last_due);
            rb->next_tick_ns += (late + 1) * rb->period_ns;
            tick(rb);
            if (rb->verdict) {
                read_stop(b);
                return rb->verdict;
            }
            return 0;
        }
        if (t >= deadline)
            return 0;
        int64_t wake = rb->next_tick_ns < deadline ? rb->next_tick_ns : deadline;
        if (rb->last_scan_ns + RESCAN_NS < wake)
            wake = rb->last_scan_ns + RESCAN_NS;
        if (wake > t) {
            struct timespec ts = {(time_t)(wake / 1000000000LL), (long)(wake % 1000000000LL)};
            if (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
                return 0; /* let the caller look at its signal flags */
        }
    }
}

static void read_threads(const struct bts_sampler_backend *b, struct bts_backend_threads *out)
{
    const struct read_backend *rb = (const struct read_backend *)b;
    out->now = (unsigned)rb->nthreads;
    out->seen = rb->threads_seen;
}

static void read_free(struct bts_sampler_backend *b)
{
    struct read_backend *rb = (struct read_backend *)b;
    if (!rb)
        return;
    read_stop(b);
    free(rb->threads);
    free(rb);
}

static const struct bts_backend_ops read_ops = {
    .name = "read",
    .start = read_start,
    .poll = read_poll,
    .threads = read_threads,
    .stop = read_stop,
    .free = read_free,
};

struct bts_sampler_backend *bts_read_backend_new(void)
{
    struct read_backend *rb = calloc(1, sizeof(*rb));
    if (!rb) {
        errno = ENOMEM;
        return NULL;
    }
    rb->base.ops = &read_ops;
    return &rb->base;
}
