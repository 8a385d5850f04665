/* SPDX-License-Identifier: MIT */
/* perf-backend: samples a process with one perf_event (cpu-clock) per thread,
 * each with its own mmap ring. New threads are picked up from FORK records,
 * looked for in every ring before any sample is read, and from
 * /proc/PID/task every 50 ms. (The kernel refuses to mmap inherited per-task
 * events, so launched commands are followed the same way; their first event
 * is enabled on exec.)
 *
 * The backend follows a process, not a pid number, and asks the sink's
 * check() before it opens an event on any thread found later (and again
 * after, closing the event unread on a no), on every rescan, and at every
 * exec's COMM record. A root profiler can open events on a setuid process;
 * the kernel only drops the events that exist at its exec. */
#define _GNU_SOURCE
#include "backend-private.h"
#include "proc.h"
#include "session.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "ring-reader-private.h"

/* After a thread appears, rings are read every 5 ms for a while: a FORK
 * record waits in its creator's ring, which may take no samples (a main
 * thread that only joins its workers), and a short-lived thread must be
 * opened before it exits. */
#define RESCAN_NS         50000000LL
#define FORK_TICK_NS      5000000LL
#define FORK_BUSY_NS      2000000000LL
#define THREAD_RING_PAGES 128 /* 512 KiB per thread while there are few */
/* --memory: faults come in bursts (12,000 samples a second while a program
 * touches fresh memory): 2 MiB lets the reader be 70 ms late without loss. */
#define MEMORY_RING_PAGES 512
#define MIN_RING_BYTES    (64 * 1024) /* room for a few 8 KiB-stack samples */
#define FORK_QUEUE        256

struct perf_thread {
    pid_t tid;
    int fd;
    bool hung_up; /* the event ended: the thread exited, or an exec dropped it */
    bool seen;    /* found by the current rescan */
    struct bts_ring ring;
    char comm[16];
};

struct perf_backend {
    struct bts_sampler_backend base;
    struct bts_backend_config cfg;
    struct bts_backend_sink sink;
    struct perf_event_attr attr;
    struct perf_thread *threads;
    size_t nthreads, cap_threads;
    unsigned threads_seen;
    bool exec_pending;       /* launched command: the first event waits for exec */
    pid_t forks[FORK_QUEUE]; /* threads announced by FORK records */
    size_t nforks;
    struct pollfd *pfds;
    size_t cap_pfds;
    int64_t last_scan_ns;
    int64_t busy_until_ns; /* read rings every FORK_TICK_NS until then */
    int64_t last_peek_ns;  /* when the rings were last looked at for FORKs */
    bool exited;
    bool stopped;
    int verdict;      /* -EPERM once check() said the target's rights changed */
    bool cut;         /* drop the rest of the ring being read (after a refused exec) */
    size_t last_hit;  /* thread index of the previous sample */
    bool user_only;   /* the kernel refused to count kernel time: user time only */
    int bpf_fd;       /* eBPF program attached to every event (set_bpf); 0: none */
    int bpf_error;    /* the first refusal to attach it, or 0 */
    bool prompt;      /* events wake us at every sample */
    bool want_prompt; /* what set_prompt asked for, applied between drains */
    bool raised;      /* bts_proc_raise_priority succeeded: drop it at stop */
};

static int perf_event_open(struct perf_event_attr *attr, pid_t pid, int cpu, int group,
                           unsigned long flags)
{
    return (int)syscall(SYS_perf_event_open, attr, pid, cpu, group, flags);
}

/* Attaches the set_bpf program to event `fd`; a refusal is remembered. */
static void attach_bpf(struct perf_backend *pb, int fd)
{
    if (ioctl(fd, PERF_EVENT_IOC_SET_BPF, pb->bpf_fd) < 0 && !pb->bpf_error)
        pb->bpf_error = -errno;
}

static struct perf_thread *find_thread(struct perf_backend *pb, pid_t tid)
{
    if (pb->last_hit < pb->nthreads && pb->threads[pb->last_hit].tid == tid)
        return &pb->threads[pb->last_hit];
    for (size_t i = 0; i < pb->nthreads; i++) {
        if (pb->threads[i].tid == tid) {
            pb->last_hit = i;
            return &pb->threads[i];
        }
    }
    return NULL;
}

/* Asks the sink whether `tid` may be sampled; a final answer sticks. */
static int vet(struct perf_backend *pb, pid_t tid)
{
    int r;
    if (pb->verdict)
        return pb->verdict;
    if (pb->exited)
        return -ESRCH;
    if (!pb->sink.check)
        return 0;
    r = pb->sink.check(pb->sink.ctx, tid);
    if (r == -EPERM)
        pb->verdict = -EPERM;
    else if (r == -ESRCH)
        pb->exited = true;
    return r;
}

static void handle_sample(struct perf_backend *pb, const struct perf_event_header *hdr)
{
    const uint8_t *p = (const uint8_t *)(hdr + 1);
    const uint8_t *end = (const uint8_t *)hdr + hdr->size;
    struct bts_raw_sample s;
    uint64_t pcs[BTS_MAX_FRAMES];
    uint32_t ids[2];
    uint64_t v;
    memset(&s, 0, sizeof(s));
#define TAKE(dst, n)                                                                               \
    do {                                                                                           \
        if ((size_t)(end - p) < (n))                                                               \
            return;                                                                                \
        memcpy((dst), p, (n));                                                                     \
        p += (n);                                                                                  \
    } while (0)
    TAKE(ids, sizeof(ids));
    s.pid = (pid_t)ids[0];
    s.tid = (pid_t)ids[1];
    TAKE(&s.time_ns, sizeof(uint64_t));
    if (pb->cfg.callchain) {
        uint64_t nr;
        TAKE(&nr, sizeof(nr));
        if (nr > (uint64_t)(end - p) / 8)
            return;
        for (uint64_t i = 0; i < nr; i++) {
            memcpy(&v, p + i * 8, 8);
            if (v >= (uint64_t)PERF_CONTEXT_MAX)
                continue; /* context marker */
            if (s.npcs < BTS_MAX_FRAMES)
                pcs[s.npcs++] = v;
        }
        p += nr * 8;
        s.pcs = pcs;
    } else {
        uint64_t abi, size;
        TAKE(&abi, sizeof(abi));
        if (abi != PERF_SAMPLE_REGS_ABI_NONE) {
            s.has_regs = true;
            for (unsigned r = 0; r < BTS_REG_COUNT; r++) {
                if (BTS_REGS_MASK & (1ULL << r))
                    TAKE(&s.regs[r], sizeof(uint64_t));
            }
        }
        TAKE(&size, sizeof(size));
        if (size) {
            if (size > (uint64_t)(end - p) || (uint64_t)(end - p) - size < 8)
                return;
            s.stack = p;
            memcpy(&s.stack_size, p + size, 8); /* dyn_size follows the data */
            if (s.stack_size > size)
                s.stack_size = size;
        }
    }
#undef TAKE
    if (s.pid != pb->cfg.pid)
        return; /* a child process of a launched command */
    struct perf_thread *t = find_thread(pb, s.tid);
    s.thread_name = t && t->comm[0] ? t->comm : NULL;
    pb->sink.sample(pb->sink.ctx, &s);
}

/* Queues a new thread of ours to be opened after the ring being read. */
static void queue_fork(struct perf_backend *pb, pid_t tid)
{
    for (size_t i = 0; i < pb->nforks; i++) {
        if (pb->forks[i] == tid)
            return;
    }
    if (pb->nforks < FORK_QUEUE && !find_thread(pb, tid))
        pb->forks[pb->nforks++] = tid;
}

static void handle_record(void *ctx, const struct perf_event_header *hdr)
{
    struct perf_backend *pb = ctx;
    const uint8_t *body = (const uint8_t *)(hdr + 1);
    size_t len = hdr->size - sizeof(*hdr);
    if (pb->cut)
        return;
    switch (hdr->type) {
    case PERF_RECORD_SAMPLE:
        handle_sample(pb, hdr);
        break;
    case PERF_RECORD_LOST:
        if (len >= 16) {
            uint64_t lost;
            memcpy(&lost, body + 8, 8);
            pb->sink.lost(pb->sink.ctx, lost);
        }
        break;
    case PERF_RECORD_LOST_SAMPLES:
        if (len >= 8) {
            uint64_t lost;
            memcpy(&lost, body, 8);
            pb->sink.lost(pb->sink.ctx, lost);
        }
        break;
    case PERF_RECORD_MMAP:
    case PERF_RECORD_MMAP2:
        if (len >= 8) {
            uint32_t pid;
            memcpy(&pid, body, 4);
            if ((pid_t)pid == pb->cfg.pid)
                pb->sink.maps_changed(pb->sink.ctx);
        }
        break;
    case PERF_RECORD_COMM:
        if (len > 8) {
            uint32_t ids[2];
            memcpy(ids, body, 8);
            struct perf_thread *t = find_thread(pb, (pid_t)ids[1]);
            if ((pid_t)ids[0] == pb->cfg.pid && t) {
                size_t n = strnlen((const char *)body + 8, len - 8);
                if (n >= sizeof(t->comm))
                    n = sizeof(t->comm) - 1;
                memcpy(t->comm, body + 8, n);
                t->comm[n] = '\0';
            }
            /* The exec wrote this record before it installed its new
             * credentials, and this thread's later records come from the new
             * image: vet it before reading on (the check waits for the exec
             * to finish). A refused exec ends this ring here. */
            if ((hdr->misc & PERF_RECORD_MISC_COMM_EXEC) && (pid_t)ids[0] == pb->cfg.pid) {
                int r = vet(pb, (pid_t)ids[1]);
                if (r == -EPERM || pb->verdict) {
                    pb->cut = true;
                    break;
                }
                if (pb->sink.exec)
                    pb->sink.exec(pb->sink.ctx);
                pb->sink.maps_changed(pb->sink.ctx);
            }
        }
        break;
    case PERF_RECORD_FORK:
        /* { pid, ppid, tid, ptid } of the new task. A thread of ours made a
         * thread: follow it before /proc is rescanned. Or it started a
         * process: tell the session, which may follow it. */
        if (len >= 16) {
            uint32_t ids[4];
            memcpy(ids, body, 16);
            /* Our threads are queued by peek_forks, before the drain:
             * opening during one could move the ring being read. */
            if ((pid_t)ids[0] == pb->cfg.pid)
                queue_fork(pb, (pid_t)ids[2]);
            else if ((pid_t)ids[0] != pb->cfg.pid && (pid_t)ids[1] == pb->cfg.pid &&
                     pb->sink.forked)
                pb->sink.forked(pb->sink.ctx, (pid_t)ids[0]);
        }
        break;
    default:
        break;
    }
}

static void fill_attr(struct perf_backend *pb)
{
    struct perf_event_attr *a = &pb->attr;
    memset(a, 0, sizeof(*a));
    a->size = sizeof(*a);
    a->type = PERF_TYPE_SOFTWARE;
    a->config = PERF_COUNT_SW_CPU_CLOCK;
    a->sample_period =
        1000000000ULL / (pb->cfg.rate_hz ? pb->cfg.rate_hz : BTS_SESSION_DEFAULT_RATE_HZ);
    if (pb->cfg.memory) {
        /* Memory: every Nth page fault, with the stack that touched the page. */
        a->config = PERF_COUNT_SW_PAGE_FAULTS;
        a->sample_period = pb->cfg.fault_period;
    }
    if (!a->sample_period)
        a->sample_period = 1;
    a->sample_type = PERF_SAMPLE_TID | PERF_SAMPLE_TIME;
    /* Sample times on the clock the rest of bt-spy reads (bts_proc_now_ns). */
    a->use_clockid = 1;
    a->clockid = CLOCK_MONOTONIC;
    if (pb->cfg.callchain) {
        a->sample_type |= PERF_SAMPLE_CALLCHAIN;
        a->exclude_callchain_kernel = 1;
    } else {
        a->sample_type |= PERF_SAMPLE_REGS_USER | PERF_SAMPLE_STACK_USER;
        a->sample_regs_user = BTS_REGS_MASK;
        a->sample_stack_user = pb->cfg.stack_size;
    }
    /* Time the kernel spends on the thread's behalf (page faults, system
     * calls) is its CPU time too: a sample there carries the user registers
     * and stack it entered the kernel from. Without this, a phase that
     * faults in fresh memory (CPython 3.8/3.9 unmap and map their arenas
     * again every few milliseconds) loses a sixth of its samples. Counting
     * it takes perf_event_paranoid <= 1 or CAP_PERFMON: refused, we count
     * user time only (open_event). */
    a->exclude_kernel = pb->user_only;
    a->exclude_hv = 1;
    a->mmap = 1;
    a->comm = 1;
    a->task = 1;
    a->comm_exec = 1;
    /* Batches, woken at a quarter of the ring (open_event), or every
     * sample when prompt. */
    a->watermark = !pb->prompt;
}

static int grow_threads(struct perf_backend *pb)
{
    if (pb->nthreads < pb->cap_threads)
        return 0;
    size_t ncap = pb->cap_threads ? pb->cap_threads * 2 : 16;
    struct perf_thread *n = realloc(pb->threads, ncap * sizeof(*n));
    if (!n)
        return -ENOMEM;
    pb->threads = n;
    pb->cap_threads = ncap;
    return 0;
}

/* Opens an event and its ring for `tid`. */
/* Smaller rings as the thread count grows, so hundreds of threads do not
 * lock hundreds of MiB. */
static size_t ring_pages(const struct perf_backend *pb)
{
    size_t pages = pb->cfg.memory ? MEMORY_RING_PAGES : THREAD_RING_PAGES;
    if (pb->nthreads >= 16)
        pages /= 2;
    if (pb->nthreads >= 64)
        pages /= 2;
    return pages;
}

static int open_event(struct perf_backend *pb, pid_t tid, size_t pages, int *fd_out,
                      struct bts_ring *ring)
{
    int ret = 0;
    long page = sysconf(_SC_PAGESIZE);
    size_t min_pages = 1;
    while (min_pages * (size_t)page < MIN_RING_BYTES ||
           min_pages * (size_t)page < 4 * (size_t)pb->cfg.stack_size)
        min_pages *= 2;
    if (pages < min_pages)
        pages = min_pages;
    if (pb->attr.watermark)
        pb->attr.wakeup_watermark = (uint32_t)(pages * (size_t)page / 4);
    else
        pb->attr.wakeup_events = 1; /* the same field: a count of samples */
    pb->attr.disabled = pb->exec_pending;
    pb->attr.enable_on_exec = pb->exec_pending;
    int fd = perf_event_open(&pb->attr, tid, -1, -1, PERF_FLAG_FD_CLOEXEC);
    if (fd < 0 && (errno == EACCES || errno == EPERM) && !pb->user_only) {
        pb->user_only = true;
        pb->attr.exclude_kernel = 1;
        fd = perf_event_open(&pb->attr, tid, -1, -1, PERF_FLAG_FD_CLOEXEC);
    }
    if (fd < 0) {
        ret = -errno;
        goto out;
    }
    if ((ret = bts_ring_map(ring, fd, pages, min_pages)) < 0) {
        close(fd);
        goto out;
    }
    if (pb->bpf_fd > 0)
        attach_bpf(pb, fd);
    *fd_out = fd;
out:
    return ret;
}

/* Opens an event on a thread found after start. The thread is vetted before
 * the open and again after it: an exec or an exit in between would leave
 * the event on another image or another process, so it is closed unread. */
static int add_thread(struct perf_backend *pb, pid_t tid, struct perf_thread **out)
{
    int ret;
    if ((ret = grow_threads(pb)) < 0)
        return ret;
    if ((ret = vet(pb, tid)) < 0)
        return ret == -ENOENT ? -ESRCH : ret;
    struct perf_thread *t = &pb->threads[pb->nthreads];
    memset(t, 0, sizeof(*t));
    t->tid = tid;
    t->fd = -1;
    t->seen = true;
    ret = open_event(pb, tid, ring_pages(pb), &t->fd, &t->ring);
    if (ret < 0)
        return ret;
    if ((ret = vet(pb, tid)) < 0) {
        bts_ring_unmap(&t->ring);
        close(t->fd);
        return ret == -ENOENT ? -ESRCH : ret;
    }
    bts_proc_comm(pb->cfg.pid, tid, t->comm, sizeof(t->comm));
    pb->nthreads++;
    pb->threads_seen++;
    if (out)
        *out = t;
    return 0;
}

/* Reads what is left in a ring; after a refused exec, only up to it. */
static int drain_ring(struct perf_backend *pb, struct bts_ring *ring)
{
    pb->cut = false;
    int n = bts_ring_drain(ring, handle_record, pb);
    pb->cut = false;
    return n;
}

static void remove_thread(struct perf_backend *pb, size_t i)
{
    struct perf_thread *t = &pb->threads[i];
    if (t->fd >= 0) {
        drain_ring(pb, &t->ring);
        bts_ring_unmap(&t->ring);
        close(t->fd);
    }
    pb->threads[i] = pb->threads[--pb->nthreads];
}

static char task_state(pid_t pid, pid_t tid)
{
    char path[64], buf[256];
    snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int)pid, (int)tid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 'X';
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return 'X';
    buf[n] = '\0';
    const char *paren = strrchr(buf, ')');
    return paren && paren[1] == ' ' ? paren[2] : 'X';
}

/* An event ended while its thread lives on: an exec dropped it (the kernel
 * does so when the new image is not dumpable), or a thread that exec'd took
 * over the main thread's tid. Vetted like a new thread, it gets a new event. */
static void reopen_thread(struct perf_backend *pb, struct perf_thread *t)
{
    struct perf_thread fresh;
    drain_ring(pb, &t->ring);
    bts_ring_unmap(&t->ring);
    close(t->fd);
    t->fd = -1;
    t->hung_up = false;
    if (vet(pb, t->tid) < 0)
        return;
    memset(&fresh, 0, sizeof(fresh));
    if (open_event(pb, t->tid, ring_pages(pb), &fresh.fd, &fresh.ring) < 0)
        return;
    if (vet(pb, t->tid) < 0) {
        bts_ring_unmap(&fresh.ring);
        close(fresh.fd);
        return;
    }
    t->fd = fresh.fd;
    t->ring = fresh.ring;
    bts_proc_comm(pb->cfg.pid, t->tid, t->comm, sizeof(t->comm));
    if (pb->sink.exec)
        pb->sink.exec(pb->sink.ctx);
    pb->sink.maps_changed(pb->sink.ctx);
}

/* Gives every thread an event with the wakeups set_prompt asked for: the
 * new event is opened before the old one is read out and closed, so no
 * time goes unsampled. A thread whose new event cannot be opened keeps its
 * old one. Called between drains only: opening an event while a ring is
 * being read could move it. Each new event is vetted like a new thread's,
 * before and after the open: the thread may have exec'd since its own was
 * opened (an event the kernel dropped at exec reads as hung up only once
 * poll has seen it). */
static void apply_prompt(struct perf_backend *pb)
{
    pb->prompt = pb->want_prompt;
    fill_attr(pb);
    for (size_t i = 0; i < pb->nthreads && !pb->verdict && !pb->exited; i++) {
        struct perf_thread *t = &pb->threads[i];
        struct perf_thread fresh;

        if (t->fd < 0 || t->hung_up || vet(pb, t->tid) < 0)
            continue;
        memset(&fresh, 0, sizeof(fresh));
        if (open_event(pb, t->tid, ring_pages(pb), &fresh.fd, &fresh.ring) < 0)
            continue;
        if (vet(pb, t->tid) < 0) {
            bts_ring_unmap(&fresh.ring);
            close(fresh.fd);
            continue;
        }
        drain_ring(pb, &t->ring);
        bts_ring_unmap(&t->ring);
        close(t->fd);
        t->fd = fresh.fd;
        t->ring = fresh.ring;
    }
}

static int perf_set_bpf(struct bts_sampler_backend *b, int prog_fd)
{
    struct perf_backend *pb = (struct perf_backend *)b;

    if (pb->cfg.memory)
        return -EOPNOTSUPP;
    pb->bpf_fd = prog_fd;
    for (size_t i = 0; i < pb->nthreads; i++)
        if (pb->threads[i].fd >= 0 && !pb->threads[i].hung_up)
            attach_bpf(pb, pb->threads[i].fd);
    return pb->bpf_error;
}

static void perf_set_prompt(struct bts_sampler_backend *b, bool prompt)
{
    struct perf_backend *pb = (struct perf_backend *)b;

    pb->want_prompt = prompt;
}

/* Syncs the thread list with /proc/PID/task. Returns the first hard error
 * opening an event for the main thread, else 0. The process is vetted
 * first: once it has exited, its pid number may name another process, whose
 * threads are not looked at. */
static int rescan(struct perf_backend *pb)
{
    char path[64];
    int ret = 0;
    unsigned live = 0;
    pb->last_scan_ns = bts_proc_now_ns();
    if (vet(pb, pb->cfg.pid) == -ESRCH || pb->exited || pb->verdict)
        goto out;
    snprintf(path, sizeof(path), "/proc/%d/task", (int)pb->cfg.pid);
    DIR *d = opendir(path);
    if (!d) {
        pb->exited = true;
        goto out;
    }
    for (size_t i = 0; i < pb->nthreads; i++)
        pb->threads[i].seen = false;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] < '0' || de->d_name[0] > '9')
            continue;
        pid_t tid = (pid_t)atoi(de->d_name);
        struct perf_thread *t = find_thread(pb, tid);
        /* Exited threads leave the directory at once; only the group
         * leader lingers as a zombie while others run or until reaped. */
        char state = tid == pb->cfg.pid ? task_state(pb->cfg.pid, tid) : 'R';
        if (state == 'Z' || state == 'X')
            continue;
        live++;
        if (t) {
            t->seen = true;
            if (t->hung_up && t->fd >= 0)
                reopen_thread(pb, t);
            continue;
        }
        if (pb->verdict || pb->exited)
            break;
        int err = add_thread(pb, tid, NULL);
        if (err == 0)
            pb->busy_until_ns = pb->last_scan_ns + FORK_BUSY_NS;
        if (err < 0 && err != -ESRCH && err != -EPERM && tid == pb->cfg.pid && !ret)
            ret = err;
    }
    closedir(d);
    for (size_t i = 0; i < pb->nthreads;) {
        if (!pb->threads[i].seen)
            remove_thread(pb, i);
        else
            i++;
    }
    if (live == 0)
        pb->exited = true;
out:
    return ret;
}

static void follow_forks(struct perf_backend *pb)
{
    if (pb->nforks)
        pb->busy_until_ns = bts_proc_now_ns() + FORK_BUSY_NS;
    for (size_t i = 0; i < pb->nforks && !pb->verdict && !pb->exited; i++) {
        if (!find_thread(pb, pb->forks[i]))
            add_thread(pb, pb->forks[i], NULL); /* ESRCH: it is gone already */
    }
    pb->nforks = 0;
}

static void peek_fork(void *ctx, const struct perf_event_header *hdr)
{
    struct perf_backend *pb = ctx;
    uint32_t ids[4];

    if (hdr->size >= sizeof(*hdr) + sizeof(ids)) {
        memcpy(ids, hdr + 1, sizeof(ids));
        if ((pid_t)ids[0] == pb->cfg.pid)
            queue_fork(pb, (pid_t)ids[2]);
    }
}

/* Opens the threads that FORK records announce before reading any sample:
 * when the profiler falls behind (a target with more busy threads than
 * there are cores gets most of the CPU), reading and unwinding the samples
 * waiting in every ring takes long, and a thread that lives less than that
 * would be gone before the drain got to its creator's FORK record. */
static void peek_forks(struct perf_backend *pb)
{
    for (size_t i = 0; i < pb->nthreads; i++) {
        if (pb->threads[i].fd >= 0)
            bts_ring_peek(&pb->threads[i].ring, PERF_RECORD_FORK, peek_fork, pb);
    }
    follow_forks(pb);
    pb->last_peek_ns = bts_proc_now_ns();
}

/* Reads every ring, looking for new threads first and again every
 * FORK_TICK_NS while the reading goes on. */
static int drain_all(struct perf_backend *pb)
{
    int n = 0;
    peek_forks(pb);
    for (size_t i = 0; i < pb->nthreads; i++) {
        if (pb->threads[i].fd >= 0)
            n += drain_ring(pb, &pb->threads[i].ring) > 0;
        if (bts_proc_now_ns() - pb->last_peek_ns >= FORK_TICK_NS)
            peek_forks(pb);
    }
    follow_forks(pb);
    return n;
}

static void perf_stop(struct bts_sampler_backend *b);

/* The target's rights changed: what the rings hold from before the change
 * is read (each ring up to an exec), then every event is closed. */
static int refuse(struct perf_backend *pb)
{
    if (!pb->stopped) {
        drain_all(pb);
        perf_stop(&pb->base);
    }
    return pb->verdict;
}

static int perf_start(struct bts_sampler_backend *b, const struct bts_backend_config *cfg,
                      const struct bts_backend_sink *sink)
{
    struct perf_backend *pb = (struct perf_backend *)b;
    int ret = 0;
    pb->cfg = *cfg;
    pb->sink = *sink;
    if (cfg->idle) {
        ret = -ENOTSUP;
        goto out;
    }
    if (!cfg->callchain && (cfg->stack_size == 0 || cfg->stack_size % 8 ||
                            cfg->stack_size > BTS_SESSION_MAX_STACK_SIZE)) {
        ret = -EINVAL;
        goto out;
    }
    fill_attr(pb);
    pb->exec_pending = cfg->launched;
    ret = rescan(pb);
    pb->exec_pending = false;
    if (ret == 0 && pb->verdict)
        ret = pb->verdict;
    if (ret == 0 && pb->nthreads == 0)
        ret = -ESRCH;
    if (ret < 0)
        goto out;
    /* A target with more busy threads than cores leaves the sampler a small
     * share of the CPU: it falls behind, and threads end before their FORK
     * records are read. Not the ptrace backend's way: its short spins while
     * a thread stops would take the CPU that thread needs to stop. */
    pb->raised = bts_proc_raise_priority() == 0;
out:
    if (ret < 0)
        pb->base.ops->stop(b);
    return ret;
}

/* One entry per thread whose ring may still fill, up to cap of them in
 * out: how many there are. */
static size_t perf_wait_fds(const struct bts_sampler_backend *b, struct pollfd *out, size_t cap)
{
    const struct perf_backend *pb = (const struct perf_backend *)b;
    size_t n = 0;

    for (size_t i = 0; i < pb->nthreads; i++) {
        if (pb->threads[i].fd < 0 || pb->threads[i].hung_up)
            continue;
        if (n < cap)
            out[n] = (struct pollfd){.fd = pb->threads[i].fd, .events = POLLIN};
        n++;
    }
    return n;
}

/* pb->pfds: perf_wait_fds's entries; how many. */
static int fill_pfds(struct perf_backend *pb, size_t *n)
{
    if (pb->nthreads > pb->cap_pfds) {
        struct pollfd *np = realloc(pb->pfds, pb->nthreads * sizeof(*np));
        if (!np)
            return -ENOMEM;
        pb->pfds = np;
        pb->cap_pfds = pb->nthreads;
    }
    *n = perf_wait_fds(&pb->base, pb->pfds, pb->cap_pfds);
    return 0;
}

/* A hung-up event belongs to a thread that exited, or one whose exec
 * dropped it: its ring is read once more by the next drain, and the next
 * rescan releases it or, for a thread that lives on, vets the thread and
 * opens a new one. Until then it is left out of every poll (it would be
 * ready at once, every time). */
static void note_hangups(struct perf_backend *pb, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        if (!(pb->pfds[k].revents & (POLLHUP | POLLERR)))
            continue;
        for (size_t i = 0; i < pb->nthreads; i++) {
            if (pb->threads[i].fd == pb->pfds[k].fd)
                pb->threads[i].hung_up = true;
        }
    }
}

static int perf_poll(struct bts_sampler_backend *b, int timeout_ms)
{
    struct perf_backend *pb = (struct perf_backend *)b;
    int64_t deadline = bts_proc_now_ns() + (int64_t)(timeout_ms < 0 ? 0 : timeout_ms) * 1000000LL;
    if (pb->verdict)
        return refuse(pb);
    if (pb->stopped)
        return 1;
    for (;;) {
        int64_t t = bts_proc_now_ns();
        if (t - pb->last_scan_ns >= RESCAN_NS) {
            rescan(pb);
        }
        int drained = drain_all(pb);
        if (pb->verdict)
            return refuse(pb);
        if (pb->want_prompt != pb->prompt && !pb->exited)
            apply_prompt(pb);
        if (pb->exited) {
            drain_all(pb);
            return 1;
        }
        /* A caller that waits on wait_fds itself polls with timeout 0:
         * then nothing waits here, but hang-ups are looked for. */
        bool caller_waits = timeout_ms <= 0;
        if (drained > 0 && !caller_waits)
            return 0;
        t = bts_proc_now_ns();
        if (t >= deadline && !caller_waits)
            return 0;
        int64_t wait = deadline - t;
        if (wait > pb->last_scan_ns + RESCAN_NS - t)
            wait = pb->last_scan_ns + RESCAN_NS - t;
        if (t < pb->busy_until_ns && wait > FORK_TICK_NS)
            wait = FORK_TICK_NS;
        if (wait < 0 || caller_waits)
            wait = 0;
        size_t n;
        if (fill_pfds(pb, &n) < 0)
            return -ENOMEM;
        int r = poll(pb->pfds, n, (int)((wait + 999999) / 1000000));
        if (r < 0 && errno != EINTR)
            return -errno;
        if (r > 0)
            note_hangups(pb, n);
        if (r < 0 || caller_waits)
            return 0;
    }
}

static void perf_threads(const struct bts_sampler_backend *b, struct bts_backend_threads *out)
{
    const struct perf_backend *pb = (const struct perf_backend *)b;
    out->now = (unsigned)pb->nthreads;
    out->seen = pb->threads_seen;
}

static void perf_stop(struct bts_sampler_backend *b)
{
    struct perf_backend *pb = (struct perf_backend *)b;
    for (size_t i = 0; i < pb->nthreads; i++) {
        if (pb->threads[i].fd >= 0) {
            bts_ring_unmap(&pb->threads[i].ring);
            close(pb->threads[i].fd);
            pb->threads[i].fd = -1;
        }
    }
    pb->nthreads = 0;
    pb->stopped = true;
    if (pb->raised)
        bts_proc_drop_priority();
    pb->raised = false;
}

static void perf_free(struct bts_sampler_backend *b)
{
    struct perf_backend *pb = (struct perf_backend *)b;
    if (!pb)
        return;
    perf_stop(b);
    free(pb->threads);
    free(pb->pfds);
    free(pb);
}

static const struct bts_backend_ops perf_ops = {
    .name = "perf_event",
    .start = perf_start,
    .poll = perf_poll,
    .threads = perf_threads,
    .set_prompt = perf_set_prompt,
    .set_bpf = perf_set_bpf,
    .wait_fds = perf_wait_fds,
    .stop = perf_stop,
    .free = perf_free,
};

struct bts_sampler_backend *bts_perf_backend_new(void)
{
    struct perf_backend *pb = calloc(1, sizeof(*pb));
    if (!pb) {
        errno = ENOMEM;
        return NULL;
    }
    pb->base.ops = &perf_ops;
    return &pb->base;
}
