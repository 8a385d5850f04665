/* SPDX-License-Identifier: MIT */
/* ptrace-backend: samples a process by stopping one thread at a time with
 * PTRACE_INTERRUPT, copying its registers and user stack, and resuming it.
 *
 * Unwinding with libunwind-ptrace would be simpler, and we do not: its
 * _UPT accessors read every register with its own PTRACE_PEEKUSER, every
 * stack word with PTRACE_PEEKDATA, and re-read /proc/PID/maps on each unwind
 * info lookup, all while the thread must stay stopped, so a 30-frame stack
 * costs hundreds of syscalls of stopped time per sample. Here a stopped
 * thread costs exactly three calls (PTRACE_GETREGS, one process_vm_readv of
 * [sp, sp + stack_size) clamped to the stack mapping, PTRACE_CONT). The
 * registers and the copy then go to the sink like a perf sample does, and the
 * session's one libunwind remote unwinder (custom accessors, unwind tables
 * cached per image) unwinds them while the thread is already running again.
 *
 * Safety rules, because a tracer holds its tracees' fate:
 * - PTRACE_SEIZE without PTRACE_O_EXITKILL: if bt-spy dies, even by SIGKILL,
 *   the kernel detaches every tracee and a thread in a ptrace-stop resumes.
 * - No option adds stops the target would wait on for us except TRACEEXEC
 *   (to see exec); new threads are found by rescanning /proc/PID/task.
 * - Signals reported in a signal-delivery-stop are re-injected; group-stops
 *   (SIGSTOP from outside) are parked with PTRACE_LISTEN, so we never resume
 *   a process someone else stopped; stop() detaches from each thread from a
 *   ptrace-stop it has collected, so none is left stopped.
 * - Waits for a stop are bounded, so one tick never holds up the caller's
 *   loop for long: a thread that has not stopped by then (waiting for a CPU
 *   on a loaded machine, or in uninterruptible sleep) keeps its interrupt
 *   pending, and the sweep, tick or detach that collects its stop takes the
 *   sample then. A stop is never waited for twice, and never given up on:
 *   a thread stop() could not detach in time is a straggler, let go at its
 *   stop by the tracer's next call into this backend.
 * - A thread is forgotten only once its exit is collected, or once it is
 *   not our tracee: a traced zombie keeps its process from being reaped.
 * - The sink's check() is asked before a thread found after start is seized
 *   and again after, on every rescan, and at every exec stop, before the new
 *   image runs a single instruction. A no at the exec stop detaches there:
 *   a root tracer is what lets a setuid exec keep its privilege, so the
 *   privileged image must never run traced by us.
 *
 * With cfg->idle every thread is sampled each tick (wall clock); this wakes
 * sleeping threads, whose syscalls restart. Without it only threads in state R
 * are interrupted, so time spent sleeping is not counted. */
#define _GNU_SOURCE
#include "backend-private.h"
#include "proc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proc-maps.h"
#include "ptrace-backend-private.h"
#include "thread-clock-private.h"

#define RESCAN_NS       10000000LL /* look for new threads this often */
#define SWEEP_NS        5000000LL  /* collect signals and group-stops this often */
#define STOP_WAIT_NS    20000000LL /* longest wait for one thread to stop */
#define DETACH_WAIT_NS  1000000000LL
#define SPIN_NS         30000LL /* yield-spin this long before sleeping */
#define DEFAULT_RATE_HZ 100
#define DEFAULT_STACK   8192
#define MAX_STACK       (8u << 20)

struct ptrace_thread {
    pid_t tid;
    struct bts_thread_clock clock;
    bool seen;         /* found by the current rescan */
    bool listening;    /* in a group-stop, parked with PTRACE_LISTEN */
    bool interrupting; /* PTRACE_INTERRUPT sent, its stop not collected yet */
    bool detach_sent;  /* being let go: our own interrupt is sent */
    bool sampling;     /* interrupted by this tick, to be captured */
    bool gone;
    uint64_t stack_lo, stack_hi; /* mapping that held sp at the last sample */
};

/* What one collected stop produced, to hand to the sink once resumed. */
struct capture {
    bool taken;
    uint64_t regs[BTS_REG_COUNT];
    uint64_t stack_len;
    uint64_t time_ns;
};

struct ptrace_backend {
    struct bts_sampler_backend base;
    struct bts_backend_config cfg;
    struct bts_backend_sink sink;
    struct ptrace_thread *threads;
    size_t nthreads, cap_threads;
    unsigned threads_seen;
    struct bts_maps *maps; /* stack mappings, for clamping copies */
    bool maps_dirty;
    uint8_t *stack_buf;
    int64_t period_ns;
    int64_t next_tick_ns, last_scan_ns, last_sweep_ns;
    unsigned last_eligible; /* threads the previous tick wanted to sample */
    bool exec_seen;         /* a launched command has exec'd: samples are its own */
    bool started;
    bool stopped;
    bool exited;
    int verdict; /* -EPERM once check() said the target's rights changed */
};

/* The kernel answers a pending PTRACE_INTERRUPT with whatever ptrace-stop
 * comes first ("any trap clears pending STOP trap", kernel/signal.c): an
 * exec stop answers it too, and no interrupt stop follows. A signal cannot
 * come first: the tracee takes its pending trap before it dequeues one. */
enum status_kind {
    STATUS_SIGNAL,  /* signal-delivery-stop, re-injected: an interrupt stays pending */
    STATUS_EXEC,    /* exec event, which answers an interrupt: resumed, or detached when refused */
    STATUS_TRAPPED, /* interrupt or group-stop, handled (captured if asked) */
    STATUS_GONE,    /* the thread exited */
};

/* One step of a bounded wait: yield while the stop is probably microseconds
 * away, then sleep in growing steps up to 200 us (a stopped thread waits for
 * us to notice it, so the steps stay short). */
static void wait_step(int64_t started_ns, unsigned *sleeps)
{
    if (bts_proc_now_ns() - started_ns < SPIN_NS) {
        sched_yield();
        return;
    }
    long ns = 10000L << (*sleeps < 5 ? *sleeps : 5);
    if (ns > 200000L)
        ns = 200000L;
    (*sleeps)++;
    struct timespec ts = {0, ns};
    nanosleep(&ts, NULL);
}

/* waitpid for one thread, without waiting. A launched command's main
 * thread (`child`) is our child as well as our tracee: its exit is only
 * peeked at (WNOWAIT), so the session still reaps it and gets its exit
 * status. Returns as waitpid does. */
static pid_t wait_tracee(pid_t tid, bool child, int *status)
{
    int flags = __WALL | WNOHANG;
    if (child) {
        siginfo_t si;
        memset(&si, 0, sizeof(si));
        if (waitid(P_PID, (id_t)tid, &si, WEXITED | WSTOPPED | WNOWAIT | flags) < 0)
            return -1;
        if (si.si_pid == 0)
            return 0;
        if (si.si_code == CLD_EXITED || si.si_code == CLD_KILLED || si.si_code == CLD_DUMPED) {
            *status = 0; /* WIFEXITED; the real status stays for the session */
            return tid;
        }
    }
    return waitpid(tid, status, flags);
}

static bool is_child(const struct ptrace_backend *pt, pid_t tid)
{
    return pt->cfg.launched && tid == pt->cfg.pid;
}

static void regs_from_user(const struct user_regs_struct *u, uint64_t *r)
{
    memset(r, 0, BTS_REG_COUNT * sizeof(uint64_t));
#ifdef __x86_64__
    r[0] = u->rax;
    r[1] = u->rbx;
    r[2] = u->rcx;
    r[3] = u->rdx;
    r[4] = u->rsi;
    r[5] = u->rdi;
    r[6] = u->rbp;
    r[7] = u->rsp;
    r[8] = u->rip;
    r[9] = u->eflags;
    r[10] = u->cs;
    r[11] = u->ss;
    r[12] = u->ds;
    r[13] = u->es;
    r[14] = u->fs;
    r[15] = u->gs;
    r[16] = u->r8;
    r[17] = u->r9;
    r[18] = u->r10;
    r[19] = u->r11;
    r[20] = u->r12;
    r[21] = u->r13;
    r[22] = u->r14;
    r[23] = u->r15;
#else
    (void)u;
#endif
}

/* The mapping holding `sp`, cached per thread: looked up (and the maps
 * re-read) only when the thread's sp leaves the mapping it was in. */
static void find_stack_range(struct ptrace_backend *pt, struct ptrace_thread *t, uint64_t sp)
{
    if (sp >= t->stack_lo && sp < t->stack_hi)
        return;
    if (!pt->maps) {
        pt->maps = bts_maps_new(pt->cfg.pid, NULL);
        pt->maps_dirty = false;
    } else if (pt->maps_dirty) {
        bts_maps_refresh(pt->maps);
        pt->maps_dirty = false;
    }
    const struct bts_map *m = pt->maps ? bts_maps_find(pt->maps, sp) : NULL;
    t->stack_lo = m ? m->start : 0;
    t->stack_hi = m ? m->end : 0;
}

/* Copies the stopped thread's registers and [sp, sp + stack_size) with one
 * process_vm_readv, clamped to the end of the mapping holding sp; a copy
 * that runs into an unmapped page comes back short, which is fine. */
static void capture_thread(struct ptrace_backend *pt, struct ptrace_thread *t, struct capture *cap)
{
    struct user_regs_struct u;
    cap->taken = false;
    if (ptrace(PTRACE_GETREGS, t->tid, NULL, &u) < 0)
        return;
    regs_from_user(&u, cap->regs);
    cap->time_ns = (uint64_t)bts_proc_now_ns();
    cap->stack_len = 0;
    cap->taken = true;
    uint64_t sp = cap->regs[BTS_REG_SP];
    uint64_t len = pt->cfg.stack_size;
    find_stack_range(pt, t, sp);
    if (sp >= t->stack_lo && sp < t->stack_hi && t->stack_hi - sp < len)
        len = t->stack_hi - sp;
    if (sp != 0 && len != 0) {
        struct iovec local = {.iov_base = pt->stack_buf, .iov_len = len};
        struct iovec remote = {.iov_base = (void *)(uintptr_t)sp, .iov_len = len};
        ssize_t n = process_vm_readv(t->tid, &local, 1, &remote, 1, 0);
        if (n > 0)
            cap->stack_len = (uint64_t)n;
    }
    /* Still stopped: the sink may read what the copy does not hold (a
     * thread dump's Python stack) while it matches the registers. */
    if (t->sampling && pt->sink.stopped)
        pt->sink.stopped(pt->sink.ctx, t->tid);
}

/* Frame-pointer mode: walk the rbp chain inside the stack copy. */
static unsigned walk_frame_pointers(const struct capture *cap, const uint8_t *stack, uint64_t *pcs)
{
    uint64_t sp = cap->regs[BTS_REG_SP], fp = cap->regs[BTS_REG_BP];
    unsigned n = 0;
    pcs[n++] = cap->regs[BTS_REG_IP];
    while (n < BTS_MAX_FRAMES && fp >= sp && fp - sp + 16 <= cap->stack_len && fp % 8 == 0) {
        uint64_t next, ret;
        memcpy(&next, stack + (fp - sp), 8);
        memcpy(&ret, stack + (fp - sp) + 8, 8);
        if (ret == 0)
            break;
        pcs[n++] = ret;
        if (next <= fp)
            break;
        fp = next;
    }
    return n;
}

static void emit(struct ptrace_backend *pt, struct ptrace_thread *t, const struct capture *cap)
{
    struct bts_raw_sample s;
    uint64_t pcs[BTS_MAX_FRAMES];
    memset(&s, 0, sizeof(s));
    s.pid = pt->cfg.pid;
    s.tid = t->tid;
    s.time_ns = cap->time_ns;
    s.thread_name = t->clock.comm[0] ? t->clock.comm : NULL;
    if (pt->cfg.callchain) {
        s.npcs = walk_frame_pointers(cap, pt->stack_buf, pcs);
        s.pcs = pcs;
    } else {
        s.has_regs = true;
        memcpy(s.regs, cap->regs, sizeof(s.regs));
        s.stack = cap->stack_len ? pt->stack_buf : NULL;
        s.stack_size = cap->stack_len;
    }
    pt->sink.sample(pt->sink.ctx, &s);
}

/* Asks the sink whether `tid` may be sampled; a final answer sticks. */
static int vet(struct ptrace_backend *pt, pid_t tid)
{
    int r;
    if (pt->verdict)
        return pt->verdict;
    if (pt->exited)
        return -ESRCH;
    if (!pt->sink.check)
        return 0;
    r = pt->sink.check(pt->sink.ctx, tid);
    if (r == -EPERM)
        pt->verdict = -EPERM;
    else if (r == -ESRCH)
        pt->exited = true;
    return r;
}

static bool is_group_stop_signal(int sig)
{
    return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU;
}

/* Whether a PTRACE_EVENT_STOP of `t` is to be captured: the stop of an
 * interrupt sent to sample it (a group-stop only in wall-clock mode), and
 * never once the target's rights changed. */
static bool wants_capture(const struct ptrace_backend *pt, const struct ptrace_thread *t, int sig)
{
    return t->sampling && !pt->verdict && (!is_group_stop_signal(sig) || pt->cfg.idle);
}

/* The interrupt sent to sample `t` has been answered: hand over the copy,
 * or count the sample as lost. */
static void finish_sample(struct ptrace_backend *pt, struct ptrace_thread *t,
                          const struct capture *cap)
{
    t->sampling = false;
    if (cap->taken)
        emit(pt, t, cap);
    else if (!t->gone && !pt->verdict)
        pt->sink.lost(pt->sink.ctx, 1);
}

/* Detaches a tracee at the stop `status` reported, passing on a signal
 * that was about to be delivered. False when that fails: SIGKILL woke it,
 * and its exit is still ours to collect. */
static bool detach_at_stop(pid_t tid, int status)
{
    int event = (int)((unsigned)status >> 16);
    int sig = event ? 0 : WSTOPSIG(status);
    return ptrace(PTRACE_DETACH, tid, NULL, (void *)(uintptr_t)sig) == 0;
}

/* Resumes `t` from the stop just collected, delivering `sig`. This fails
 * only when SIGKILL (a kill, another thread's exit_group) has woken it: it
 * is not gone yet, and its exit is ours to collect, because until the
 * tracer collects every thread's exit, the process's parent cannot reap
 * it. */
static void resume(struct ptrace_thread *t, int sig)
{
    ptrace(PTRACE_CONT, t->tid, NULL, (void *)(uintptr_t)sig);
}

/* Acts on one wait status of `t` and leaves the thread running, or parked in
 * its group-stop. At the interrupt stop of a thread being sampled, captures
 * it into `cap` first. */
static enum status_kind handle_status(struct ptrace_backend *pt, struct ptrace_thread *t,
                                      int status, struct capture *cap)
{
    if (WIFEXITED(status) || WIFSIGNALED(status)) {
        t->gone = true;
        return STATUS_GONE;
    }
    if (!WIFSTOPPED(status))
        return STATUS_SIGNAL;
    int sig = WSTOPSIG(status);
    int event = (int)((unsigned)status >> 16);
    if (event == PTRACE_EVENT_STOP) {
        t->interrupting = false;
        bool group_stop = is_group_stop_signal(sig);
        if (wants_capture(pt, t, sig))
            capture_thread(pt, t, cap);
        /* A group-stop stays a stop: LISTEN lets SIGCONT (not us) end it. */
        if (group_stop && ptrace(PTRACE_LISTEN, t->tid, NULL, NULL) == 0) {
            t->listening = true;
        } else {
            t->listening = false;
            resume(t, 0);
        }
        return STATUS_TRAPPED;
    }
    if (event == PTRACE_EVENT_EXEC) {
        /* The new image is in place and has not run yet: vet it here. A no
         * detaches from this stop, so the image runs as it would untraced. */
        if (vet(pt, t->tid) < 0) {
            t->gone = detach_at_stop(t->tid, status);
            return STATUS_EXEC;
        }
        pt->exec_seen = true;
        pt->maps_dirty = true;
        pt->last_scan_ns = 0; /* threads other than the execing one are gone */
        /* The execing thread may have taken over this tid: what was pending
         * for the old one is void (a stop still due is collected anyway). */
        t->interrupting = t->listening = false;
        bts_thread_clock_close(&t->clock);
        bts_thread_clock_open(&t->clock, pt->cfg.pid, t->tid);
        bts_thread_clock_state(&t->clock, true, pt->period_ns);
        t->stack_lo = t->stack_hi = 0;
        if (pt->sink.exec)
            pt->sink.exec(pt->sink.ctx);
        pt->sink.maps_changed(pt->sink.ctx);
        resume(t, 0);
        return STATUS_EXEC;
    }
    /* Signal-delivery-stop: hand the signal back so the target gets it. */
    t->listening = false;
    resume(t, event ? 0 : sig);
    return STATUS_SIGNAL;
}

/* Collects whatever `t` reported without waiting. */
static void sweep_thread(struct ptrace_backend *pt, struct ptrace_thread *t)
{
    struct capture cap = {.taken = false};
    int status;
    while (!t->gone) {
        pid_t r = wait_tracee(t->tid, is_child(pt, t->tid), &status);
        if (r == 0)
            break;
        if (r < 0) {
            if (errno == EINTR)
                continue;
            t->gone = true; /* ECHILD: no longer our tracee */
            break;
        }
        cap.taken = false;
        if (handle_status(pt, t, status, &cap) != STATUS_SIGNAL || t->gone) {
            if (t->sampling)
                finish_sample(pt, t, &cap); /* a stop that came after its tick */
        }
    }
    if (t->gone && t->sampling)
        finish_sample(pt, t, &cap);
}

static int grow_threads(struct ptrace_backend *pt)
{
    if (pt->nthreads < pt->cap_threads)
        return 0;
    size_t ncap = pt->cap_threads ? pt->cap_threads * 2 : 16;
    struct ptrace_thread *n = realloc(pt->threads, ncap * sizeof(*n));
    if (!n)
        return -ENOMEM;
    pt->threads = n;
    pt->cap_threads = ncap;
    return 0;
}

static struct ptrace_thread *find_thread(struct ptrace_backend *pt, pid_t tid)
{
    for (size_t i = 0; i < pt->nthreads; i++) {
        if (pt->threads[i].tid == tid)
            return &pt->threads[i];
    }
    return NULL;
}

static void detach_threads(struct ptrace_backend *pt, size_t from);

static int add_thread(struct ptrace_backend *pt, pid_t tid)
{
    int ret;
    if ((ret = grow_threads(pt)) < 0)
        return ret;
    struct ptrace_thread *t = &pt->threads[pt->nthreads];
    memset(t, 0, sizeof(*t));
    t->tid = tid;
    t->seen = true;
    if (bts_thread_clock_open(&t->clock, pt->cfg.pid, tid) < 0) {
        ret = -ESRCH;
        goto out;
    }
    char state = bts_thread_clock_state(&t->clock, true, pt->period_ns);
    if (state == 'Z' || state == 'X') {
        ret = -ESRCH; /* exiting: nothing left to sample */
        goto out;
    }
    if ((ret = vet(pt, tid)) < 0) {
        ret = ret == -ENOENT ? -ESRCH : ret;
        goto out;
    }
    ret = 0;
    if (ptrace(PTRACE_SEIZE, tid, NULL, (void *)(uintptr_t)PTRACE_O_TRACEEXEC) < 0) {
        ret = -errno;
        goto out;
    }
    pt->nthreads++;
    /* An exec or an exit between the check and the seize would leave us
     * tracing another image, or another process's thread: let it go at
     * once, without a look at it. */
    if ((ret = vet(pt, tid)) < 0) {
        detach_threads(pt, pt->nthreads - 1);
        pt->nthreads--;
        ret = ret == -ENOENT ? -ESRCH : ret;
        goto out;
    }
    ret = 0;
    pt->threads_seen++;
out:
    if (ret < 0)
        bts_thread_clock_close(&t->clock);
    return ret;
}

static void remove_gone(struct ptrace_backend *pt)
{
    for (size_t i = 0; i < pt->nthreads;) {
        if (pt->threads[i].gone) {
            bts_thread_clock_close(&pt->threads[i].clock);
            pt->threads[i] = pt->threads[--pt->nthreads];
        } else {
            i++;
        }
    }
}

/* Syncs the thread list with /proc/PID/task: seizes new threads, forgets
 * reaped ones. Returns the error seizing the main thread, else 0. */
static int rescan(struct ptrace_backend *pt)
{
    char path[64];
    int ret = 0;
    unsigned live = 0;
    pt->last_scan_ns = bts_proc_now_ns();
    /* Once the process has exited its pid may name another process, whose
     * threads are not looked at. */
    if (vet(pt, pt->cfg.pid) == -ESRCH || pt->exited || pt->verdict) {
        ret = pt->verdict ? pt->verdict : -ESRCH;
        goto out;
    }
    snprintf(path, sizeof(path), "/proc/%d/task", (int)pt->cfg.pid);
    DIR *d = opendir(path);
    if (!d) {
        ret = errno == ENOENT ? -ESRCH : -errno;
        pt->exited = true;
        goto out;
    }
    for (size_t i = 0; i < pt->nthreads; i++)
        pt->threads[i].seen = false;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] < '0' || de->d_name[0] > '9')
            continue;
        pid_t tid = (pid_t)atoi(de->d_name);
        struct ptrace_thread *t = find_thread(pt, tid);
        if (t) {
            t->seen = true;
            char state = bts_thread_clock_state(&t->clock, false, 0);
            if (state != 'Z' && state != 'X')
                live++;
            continue;
        }
        if (pt->verdict || pt->exited)
            break;
        int err = add_thread(pt, tid);
        if (err == 0)
            live++;
        else if (tid == pt->cfg.pid && err != -ESRCH && !ret)
            ret = err;
    }
    closedir(d);
    if (pt->verdict || pt->exited) {
        ret = ret ? ret : pt->verdict ? pt->verdict : -ESRCH;
        goto out; /* the caller lets every thread go */
    }
    for (size_t i = 0; i < pt->nthreads; i++) {
        if (!pt->threads[i].seen)
            pt->threads[i].gone = true;
    }
    remove_gone(pt);
    if (live == 0)
        pt->exited = true;
out:
    return ret;
}

static void sweep(struct ptrace_backend *pt)
{
    pt->last_sweep_ns = bts_proc_now_ns();
    for (size_t i = 0; i < pt->nthreads; i++)
        sweep_thread(pt, &pt->threads[i]);
    remove_gone(pt);
}

/* Whether this tick should interrupt `t`; counts a wanted but impossible
 * sample as lost. */
static bool eligible(struct ptrace_backend *pt, struct ptrace_thread *t, unsigned *wanted)
{
    char state = bts_thread_clock_state(&t->clock, !pt->cfg.idle, pt->period_ns);
    if (state == 'Z' || state == 'X')
        return false;
    if (!pt->cfg.idle && (t->listening || !bts_thread_clock_due(&t->clock, state, pt->period_ns)))
        return false;
    (*wanted)++;
    /* Uninterruptible sleep, or a stop not collected yet, would keep us
     * waiting: skip it this tick. */
    if (t->interrupting || state == 'D' || ((state == 'T' || state == 't') && !t->listening)) {
        pt->sink.lost(pt->sink.ctx, 1);
        return false;
    }
    return true;
}

/* Collects the stop of each thread with a sample pending, capturing and
 * resuming each as soon as it stops. The waits overlap: a thread that is
 * runnable but waiting for a CPU delays only itself, and for STOP_WAIT_NS at
 * most; one still running then keeps its sample pending (see sweep_thread).
 * Returns how many threads are still to stop. */
static size_t collect_stops(struct ptrace_backend *pt)
{
    struct capture cap;
    unsigned sleeps = 0;
    int64_t start = bts_proc_now_ns();
    size_t pending = 0;
    for (size_t i = 0; i < pt->nthreads; i++)
        pending += pt->threads[i].sampling;
    while (pending > 0) {
        bool progress = false;
        for (size_t i = 0; i < pt->nthreads; i++) {
            struct ptrace_thread *t = &pt->threads[i];
            int status;
            if (!t->sampling)
                continue;
            pid_t r = wait_tracee(t->tid, is_child(pt, t->tid), &status);
            if (r == 0 || (r < 0 && errno == EINTR))
                continue;
            progress = true;
            cap.taken = false;
            if (r < 0)
                t->gone = true; /* ECHILD: no longer our tracee */
            else if (handle_status(pt, t, status, &cap) == STATUS_SIGNAL && !t->gone)
                continue; /* a signal it had already; the interrupt is still due */
            pending--;
            finish_sample(pt, t, &cap);
        }
        if (pending > 0 && !progress) {
            if (bts_proc_now_ns() - start > STOP_WAIT_NS)
                break;
            wait_step(start, &sleeps);
        }
    }
    return pending;
}

static void tick(struct ptrace_backend *pt)
{
    unsigned wanted = 0;
    for (size_t i = 0; i < pt->nthreads; i++) {
        struct ptrace_thread *t = &pt->threads[i];
        sweep_thread(pt, t);
        if (t->gone || !eligible(pt, t, &wanted))
            continue;
        if (ptrace(PTRACE_INTERRUPT, t->tid, NULL, NULL) < 0) {
            if (errno == ESRCH)
                t->gone = true;
            continue;
        }
        t->interrupting = true;
        t->sampling = true;
    }
    collect_stops(pt);
    pt->last_sweep_ns = bts_proc_now_ns();
    pt->last_eligible = wanted;
    remove_gone(pt);
}

static int ptrace_start(struct bts_sampler_backend *b, const struct bts_backend_config *cfg,
                        const struct bts_backend_sink *sink)
{
    struct ptrace_backend *pt = (struct ptrace_backend *)b;
    int ret = 0;
#ifndef __x86_64__
    ret = -ENOTSUP;
    goto out;
#endif
    if (pt->started || cfg->pid <= 0) {
        ret = -EINVAL;
        goto out;
    }
    bts_ptrace_release_stragglers(); /* one may be the thread seized next */
    pt->cfg = *cfg;
    pt->sink = *sink;
    if (!pt->cfg.rate_hz)
        pt->cfg.rate_hz = DEFAULT_RATE_HZ;
    if (!pt->cfg.stack_size)
        pt->cfg.stack_size = DEFAULT_STACK;
    if (pt->cfg.stack_size % 8 || pt->cfg.stack_size > MAX_STACK) {
        ret = -EINVAL;
        goto out;
    }
    pt->period_ns = 1000000000LL / pt->cfg.rate_hz;
    if (pt->period_ns <= 0)
        pt->period_ns = 1;
    pt->stack_buf = malloc(pt->cfg.stack_size);
    if (!pt->stack_buf) {
        ret = -ENOMEM;
        goto out;
    }
    pt->started = true;
    pt->exec_seen = !cfg->launched;
    ret = rescan(pt);
    if (ret == 0 && pt->nthreads == 0)
        ret = -ESRCH;
    if (ret < 0)
        goto out;
    if (!cfg->launched)
        pt->maps = bts_maps_new(cfg->pid, NULL); /* NULL is fine: copies go unclamped */
    pt->next_tick_ns = bts_proc_now_ns();
out:
    if (ret < 0)
        b->ops->stop(b);
    return ret;
}

/* The target exited: collect the exits of its other threads, so its main
 * thread's exit reaches its parent (who may be waiting for it right now).
 * False while a launched command still has threads to collect: its
 * session reaps it next, and blocks until those are collected. */
static bool reap_exited(struct ptrace_backend *pt)
{
    unsigned sleeps = 0;
    int64_t start = bts_proc_now_ns();
    bool others;
    for (;;) {
        sweep(pt);
        others = false;
        for (size_t i = 0; i < pt->nthreads; i++)
            others |= pt->threads[i].tid != pt->cfg.pid;
        if (!others || bts_proc_now_ns() - start > STOP_WAIT_NS)
            break;
        wait_step(start, &sleeps);
    }
    /* As its tracer we hear of the leader's exit before its parent does,
     * and the parent is told only once we have collected it: a shell
     * waiting for this process would otherwise wait for as long as we run.
     * A command we launched is our own child; the session collects it. */
    if (pt->cfg.launched)
        return !others;
    start = bts_proc_now_ns();
    sleeps = 0;
    for (;;) {
        int status;
        pid_t r = waitpid(pt->cfg.pid, &status, __WALL | WNOHANG);
        if (r == pt->cfg.pid && (WIFEXITED(status) || WIFSIGNALED(status)))
            break;
        if (r < 0 && errno != EINTR)
            break; /* ECHILD: collected already, or never ours */
        if (bts_proc_now_ns() - start > STOP_WAIT_NS)
            break;
        if (r == 0)
            wait_step(start, &sleeps);
    }
    return true; /* what is left, stop() collects or lets go */
}

static void ptrace_stop(struct bts_sampler_backend *b);

/* The target's rights changed: let every thread go, and say so from now on. */
static int refuse(struct ptrace_backend *pt)
{
    ptrace_stop(&pt->base);
    return pt->verdict;
}

static int ptrace_poll(struct bts_sampler_backend *b, int timeout_ms)
{
    struct ptrace_backend *pt = (struct ptrace_backend *)b;
    bts_ptrace_release_stragglers();
    if (pt->verdict)
        return refuse(pt);
    if (pt->stopped || !pt->started)
        return 1;
    int64_t deadline = bts_proc_now_ns() + (int64_t)(timeout_ms < 0 ? 0 : timeout_ms) * 1000000LL;
    for (;;) {
        int64_t t = bts_proc_now_ns();
        if (t - pt->last_sweep_ns >= SWEEP_NS)
            sweep(pt);
        if (pt->verdict)
            return refuse(pt);
        if (t - pt->last_scan_ns >= RESCAN_NS || pt->nthreads == 0 || pt->exited) {
            rescan(pt);
            if (pt->verdict)
                return refuse(pt);
            if (pt->exited)
                return reap_exited(pt) ? 1 : 0;
        }
        if (!pt->exec_seen) {
            pt->next_tick_ns = bts_proc_now_ns(); /* a launched command starts at exec */
        } else if (t >= pt->next_tick_ns) {
            int64_t late = (t - pt->next_tick_ns) / pt->period_ns;
            if (late > 0)
                pt->sink.lost(pt->sink.ctx, (uint64_t)late * pt->last_eligible);
            pt->next_tick_ns += (late + 1) * pt->period_ns;
            tick(pt);
            return pt->verdict ? refuse(pt) : 0;
        }
        t = bts_proc_now_ns();
        if (t >= deadline)
            return 0;
        int64_t wake = deadline;
        if (pt->exec_seen && pt->next_tick_ns < wake)
            wake = pt->next_tick_ns;
        if (pt->last_sweep_ns + SWEEP_NS < wake)
            wake = pt->last_sweep_ns + SWEEP_NS;
        if (pt->last_scan_ns + RESCAN_NS < wake)
            wake = pt->last_scan_ns + RESCAN_NS;
        if (wake > t) {
            struct timespec ts = {(time_t)(wake / 1000000000LL), (long)(wake % 1000000000LL)};
            if (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
                return 0; /* let the caller look at its signal flags */
        }
    }
}

static void ptrace_threads(const struct bts_sampler_backend *b, struct bts_backend_threads *out)
{
    const struct ptrace_backend *pt = (const struct ptrace_backend *)b;
    out->now = (unsigned)pt->nthreads;
    out->seen = pt->threads_seen;
}

/* Threads stop() could not let go within DETACH_WAIT_NS: starved of a CPU
 * on a loaded machine, or in a long uninterruptible sleep (a vfork, a
 * hung filesystem). Each is still traced with an interrupt pending, so it
 * would enter a ptrace-stop at its next return to user space and sit there
 * until its tracer exits, which for bt-spyd is not soon. Its tracer (this
 * thread: ptrace requests come from the thread that attached) keeps them
 * here and lets each go at that stop, from every later call into this
 * backend and from bts_ptrace_release_stragglers(). */
struct straggler {
    pid_t tid;
    bool child; /* a launched command's main thread: the session reaps it */
};
static _Thread_local struct straggler *stragglers;
static _Thread_local size_t nstragglers, cap_stragglers;

static void add_straggler(pid_t tid, bool child)
{
    if (nstragglers == cap_stragglers) {
        size_t ncap = cap_stragglers ? cap_stragglers * 2 : 8;
        struct straggler *n = realloc(stragglers, ncap * sizeof(*n));
        if (!n)
            return; /* it stays traced until we exit, as it would have */
        stragglers = n;
        cap_stragglers = ncap;
    }
    stragglers[nstragglers++] = (struct straggler){.tid = tid, .child = child};
}

size_t bts_ptrace_release_stragglers(void)
{
    size_t k = 0;
    for (size_t i = 0; i < nstragglers; i++) {
        struct straggler *st = &stragglers[i];
        int status;
        pid_t r = wait_tracee(st->tid, st->child, &status);
        bool done = r < 0 ? errno != EINTR /* ECHILD: no longer ours */
                          : r > 0 && (!WIFSTOPPED(status) || detach_at_stop(st->tid, status));
        if (!done)
            stragglers[k++] = *st;
    }
    nstragglers = k;
    if (!k) {
        free(stragglers);
        stragglers = NULL;
        cap_stragglers = 0;
    }
    return k;
}

/* One look at a thread being let go, without waiting: at a stop it
 * reported, detaches it there (the stop of an interrupt sent to sample it
 * is still a sample); an exit is collected (a zombie we trace keeps its
 * process from being reaped). Else sends it an interrupt, once: one more
 * is harmless if one is due, they merge. True once it is let go. */
static bool detach_step(struct ptrace_backend *pt, struct ptrace_thread *t)
{
    struct capture cap = {.taken = false};
    int status;
    bool done = false;
    while (!done) {
        pid_t r = wait_tracee(t->tid, is_child(pt, t->tid), &status);
        if (r < 0 && errno == EINTR)
            continue;
        if (r == 0)
            break;
        if (r < 0 || WIFEXITED(status) || WIFSIGNALED(status)) {
            done = true; /* exited, or (ECHILD) no longer ours */
        } else {
            if ((status >> 16) == PTRACE_EVENT_STOP && wants_capture(pt, t, WSTOPSIG(status)))
                capture_thread(pt, t, &cap);
            done = detach_at_stop(t->tid, status); /* else killed: its exit comes next */
        }
    }
    if (!done && !t->detach_sent) {
        t->detach_sent = true;
        done = ptrace(PTRACE_INTERRUPT, t->tid, NULL, NULL) < 0; /* ESRCH: not ours */
    }
    if (done)
        t->gone = true;
    if (t->sampling && (done || cap.taken))
        finish_sample(pt, t, &cap);
    return done;
}

/* Lets go of threads [from, nthreads), all at once: every one is sent its
 * interrupt at the first look, so a thread slow to stop delays the others
 * by nothing, and the whole takes DETACH_WAIT_NS at most. A thread that
 * has not stopped by then becomes a straggler. */
static void detach_threads(struct ptrace_backend *pt, size_t from)
{
    unsigned sleeps = 0;
    int64_t start = bts_proc_now_ns();
    for (;;) {
        bool left = false;
        for (size_t i = from; i < pt->nthreads; i++)
            left |= !pt->threads[i].gone && !detach_step(pt, &pt->threads[i]);
        if (!left)
            return;
        if (bts_proc_now_ns() - start > DETACH_WAIT_NS)
            break;
        wait_step(start, &sleeps);
    }
    for (size_t i = from; i < pt->nthreads; i++) {
        struct ptrace_thread *t = &pt->threads[i];
        if (t->gone)
            continue;
        add_straggler(t->tid, is_child(pt, t->tid));
        t->gone = true;
        if (t->sampling)
            finish_sample(pt, t, &(struct capture){.taken = false});
    }
}

static void ptrace_stop(struct bts_sampler_backend *b)
{
    struct ptrace_backend *pt = (struct ptrace_backend *)b;
    bts_ptrace_release_stragglers();
    if (pt->stopped)
        return;
    /* An exiting process's main thread reports its exit only once the
     * others are collected: the rounds of detach_threads() get to it. */
    detach_threads(pt, 0);
    remove_gone(pt);
    pt->stopped = true;
}

static void ptrace_free(struct bts_sampler_backend *b)
{
    struct ptrace_backend *pt = (struct ptrace_backend *)b;
    if (!pt)
        return;
    ptrace_stop(b);
    bts_maps_free(pt->maps);
    free(pt->threads);
    free(pt->stack_buf);
    free(pt);
}

static const struct bts_backend_ops ptrace_ops = {
    .name = "ptrace",
    .start = ptrace_start,
    .poll = ptrace_poll,
    .threads = ptrace_threads,
    .stop = ptrace_stop,
    .free = ptrace_free,
};

struct bts_sampler_backend *bts_ptrace_backend_new(void)
{
    struct ptrace_backend *pt = calloc(1, sizeof(*pt));
    if (!pt) {
        errno = ENOMEM;
        return NULL;
    }
    pt->base.ops = &ptrace_ops;
    return &pt->base;
}
