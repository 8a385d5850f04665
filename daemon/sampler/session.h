/* SPDX-License-Identifier: MIT */
/* session: one profiling session of one target (attached pid or launched
 * command): backend, thread following, unwinding, symbolizing, and the
 * aggregated stack table, all in this process. (remote/profiler.h picks
 * between this and a session run by bt-spyd.) */
#pragma once

#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

enum bts_backend {
    BTS_BACKEND_AUTO = 0, /* perf_event, falling back to ptrace */
    BTS_BACKEND_PERF,
    BTS_BACKEND_PTRACE,
    BTS_BACKEND_READ, /* Python stacks only, read on our own clock: nothing in the target */
};

enum bts_unwind {
    BTS_UNWIND_DWARF = 0, /* libunwind over .eh_frame on a copied stack */
    BTS_UNWIND_FP,        /* kernel frame-pointer callchain */
};

/* The session limits, defined once: the CLI, the protocol and bt-spyd all
 * check against these. */
#define BTS_SESSION_DEFAULT_RATE_HZ    100
#define BTS_SESSION_MAX_RATE_HZ        20000 /* per thread; above it the overhead swamps the target */
#define BTS_SESSION_DEFAULT_STACK_SIZE 8192
/* --native: an evaluation loop activation must be in the copy for the
 * merge to anchor on, and native code (BLAS kernels, OpenSSL) can use
 * more than 8 KiB of stack below it. */
#define BTS_SESSION_NATIVE_STACK_SIZE 32768
#define BTS_SESSION_MIN_STACK_SIZE    512
#define BTS_SESSION_MAX_STACK_SIZE    65528 /* perf_event: a sample stays below 64 KiB */
/* --memory: every 32nd page fault (128 KiB with 4 KiB pages) */
#define BTS_SESSION_DEFAULT_FAULT_PERIOD 32
#define BTS_SESSION_MAX_FAULT_PERIOD     (1 << 20)

struct bts_session_opts {
    pid_t pid;         /* attach to this process, or 0 to launch argv */
    char *const *argv; /* command to launch (searched in PATH) */
    unsigned rate_hz;  /* samples per second per thread; 0: the default */
    enum bts_backend backend;
    enum bts_unwind unwind;
    uint32_t stack_size; /* user stack bytes copied per sample; 0: the default
                          * (BTS_SESSION_NATIVE_STACK_SIZE with native) */
    bool threads;        /* add a "thread NAME (TID)" root frame */
    bool idle;           /* also sample sleeping threads (wall clock) */
    bool lines;          /* add file:line to frame names */
    bool subprocesses;   /* follow children, under "process NAME (PID)" */
    /* CPython 3.8-3.13 (python-frames-private.h): unless no_python, each
     * process's interpreter is looked for, and a sample of a thread that
     * runs Python is its Python stack, "qualname (path:line)" root first,
     * read when the sample is processed (process_vm_readv; the target is
     * never stopped for it). function: "qualname (path)", by function.
     * gil: keep only samples of the thread holding the GIL. */
    bool no_python;
    bool function;
    bool gil;
    /* --native: a Python thread's sample is one stack, its Python frames
     * where the evaluation loop ran them among its native frames
     * (python-native-private.h), the interpreter's call plumbing hidden
     * unless native_internal. With perf_event the Python stack is read
     * after the sample and anchored on the sample's registers and stack;
     * a sample it cannot be shown to belong to ("torn") keeps its native
     * frames under a "[python frames torn]" root. With ptrace it is read
     * while the thread is stopped for the sample: exact. DWARF unwinding
     * only; not with no_python. */
    bool native;
    bool native_internal;
    /* bt-spyd sets these for a client that is not root: the target may be
     * sampled only while every uid is guard_uid, every gid guard_gid, it has
     * no capabilities and it is dumpable. Checked at start (after the exec,
     * for a launched command), on every thread found later, after every
     * exec (with ptrace at the exec stop, before the new image runs), and on
     * every rescan. On a change sampling stops at once, what was recorded
     * before it stays, and poll returns -EPERM (bts_session_explain says
     * why). Whether set or not, a session follows one process, not a pid
     * number: once it exits, the session ends (target_exited), whatever
     * process the pid names next. */
    bool guard;
    uid_t guard_uid;
    gid_t guard_gid;
    /* Launching only: runs in the child after fork, before exec (so it
     * must be async-signal-safe), e.g. to take a client's ids, cwd and
     * environment (bt-spyd). Returns 0 or -errno, which becomes the launch
     * error. */
    int (*before_exec)(void *ctx);
    void *before_exec_ctx;
    /* Memory (issue 17): sample every fault_period-th page fault (the
     * first touch of new memory) with its user stack instead of CPU time;
     * each sample stands for fault_period x page size bytes. perf_event
     * only: ptrace has no such event, and auto does not fall back. */
    bool memory;
    unsigned fault_period; /* 0: BTS_SESSION_DEFAULT_FAULT_PERIOD */
};

struct bts_session_stats {
    uint64_t samples;      /* samples added to the stack table */
    uint64_t lost;         /* samples the kernel dropped (ring overflow) */
    uint64_t failed;       /* samples that could not be unwound at all */
    unsigned threads;      /* threads currently followed */
    unsigned threads_seen; /* threads followed at any time */
    double elapsed_s;      /* since bts_session_start() */
    int64_t start_ns;      /* CLOCK_MONOTONIC when sampling started; 0: unknown */
    bool target_exited;    /* every followed thread is gone */
    int exit_status;       /* launched command's wait status, if exited */
    /* CPython, summed over the followed processes. */
    uint64_t python_samples; /* samples whose stack is Python frames */
    uint64_t python_reads;   /* Python stack reads (one per sample of a process with one) */
    uint64_t python_read_ns; /* the time those reads took */
    uint64_t python_errors;  /* failed reads, chains cut off, unreadable objects */
    uint64_t python_late;    /* Python samples left out: read too long after they were taken */
    uint64_t gil_dropped;    /* with gil: samples of threads not holding the GIL */
    unsigned python_found;   /* processes whose interpreter is being read */
    char python_version[32]; /* one such interpreter's version ("3.11.2"), "" if none */
    /* The latest note about an interpreter ("python 3.11.2 (static) found in
     * pid 1234", or a version we cannot read), and how many there have been:
     * print it when the count grows. */
    unsigned python_notes;
    char python_note[192];
    /* --native, summed over the followed processes. */
    uint64_t native_merged;    /* samples shown as merged Python + native stacks */
    uint64_t native_torn;      /* Python samples shown native under "[python frames torn]" */
    uint64_t native_torn_late; /* torn and read late: left out (also in python_late) */
    uint64_t native_unknown;   /* merged, the innermost frame "[python frame unknown]" */
    uint64_t native_partial;   /* torn, yet shown with the outer activations' frames */
    uint64_t native_stopped;   /* merged from Python stacks read while the thread was stopped */
    uint64_t native_stop_ns;   /* time those reads kept the thread stopped (ptrace) */
    /* perf_event's eBPF capture (python-bpf-private.h): Python stacks
     * taken from the chains it copied at the sample; Python samples it had
     * no record for, or none it could use (read after the sample instead);
     * --native samples merged and torn with a captured stack; why it could
     * not be loaded (an errno; 0: loaded or not tried). */
    uint64_t python_captured, python_capture_missing, python_capture_unusable;
    uint64_t native_captured, native_captured_torn;
    int capture_errno;
    /* the torn ones by cause: activations != runs of Python frames, an
     * activation's frame or code not the one read, the anchors not
     * learned yet, no activation in the copied stack */
    uint64_t native_torn_count, native_torn_frame, native_torn_code, native_torn_learning,
        native_torn_stack;
};

struct bts_session;

/* Copies opts. NULL + errno (EINVAL for inconsistent options). */
struct bts_session *bts_session_new(const struct bts_session_opts *opts);

/* Launches or attaches and starts sampling. With the perf_event backend
 * the calling thread runs at nice BTS_PROC_SAMPLER_NICE where allowed,
 * until the session stops (a launched command keeps the nice value it would
 * have had). 0 or -errno:
 * -ESRCH no such process, -EPERM/-EACCES not allowed (see
 * bts_session_explain), -ENOENT command not found. */
int bts_session_start(struct bts_session *s);

/* After a failed start: a lowercase sentence naming the check that failed
 * (e.g. "perf_event_paranoid is 3") and one naming the fix
 * (e.g. "run: sysctl kernel.perf_event_paranoid=1"). After poll ended the
 * session because the target changed ("pid 1234 changed credentials
 * (setuid exec: euid 0): session ended") or exited ("pid 1234 exited; its
 * pid now names another process"): why it ended. Empty strings otherwise.
 * Strings owned by s. */
void bts_session_explain(const struct bts_session *s, const char **why, const char **hint);

/* Name of the backend that runs ("perf_event" or "ptrace"). */
const char *bts_session_backend(const struct bts_session *s);

/* Waits up to timeout_ms for samples, processes everything pending and picks
 * up new threads. Returns 1 once the target has exited, 0 otherwise, or
 * -errno on a fatal error (the stacks gathered so far stay readable): -EPERM
 * when the guard ended it (see bts_session_opts.guard). */
int bts_session_poll(struct bts_session *s, int timeout_ms);

/* The descriptors (events POLLIN, up to cap of them in out) that become
 * readable when samples of s or of a followed child wait: how many there
 * are, 0 when its backend has none (ptrace and read sample on the poll
 * caller's clock). A caller that waits on them and calls
 * bts_session_poll(s, 0) as soon as one is ready reads as promptly as a
 * waiting poll does, and from this call on s judges its Python reads as
 * late or not as it does then. The set changes as threads come and go:
 * ask again before each wait. */
size_t bts_session_wait_fds(struct bts_session *s, struct pollfd *out, size_t cap);

/* Stops sampling and detaches; the target keeps running (a launched command
 * is left running too, unless the caller signals it). Idempotent. */
void bts_session_stop(struct bts_session *s);

void bts_session_stats(const struct bts_session *s, struct bts_session_stats *out);

/* One Python thread's samples by the GIL, as its stack reads found it. A
 * thread sampled on its CPU without the GIL runs code that released it
 * (or spins to take it back: telling those apart takes its native stack). */
struct bts_session_gil_thread {
    pid_t pid, tid;
    uint64_t held, not_held, unknown;
};

/* The Python threads of the session and its children, up to max of them,
 * in the order they were first sampled. Returns how many were copied. */
size_t bts_session_gil_threads(const struct bts_session *s, struct bts_session_gil_thread *out,
                               size_t max);

/* pid of the target (the launched child once started). */
pid_t bts_session_pid(const struct bts_session *s);

/* Writes the aggregated stacks as folded lines ("root;..;leaf COUNT\n"),
 * sorted bytewise so the output is deterministic. 0 or -errno. */
int bts_session_write_folded(const struct bts_session *s, FILE *out);

/* One frame of a recorded stack, for writers that keep addresses (pprof). */
struct bts_session_frame {
    uint64_t pc;        /* run-time address as sampled */
    const char *name;   /* the frame's name, as in folded output */
    uint64_t map_start; /* the mapping that holds pc, all 0 when none */
    uint64_t map_end;
    uint64_t map_offset;  /* file offset of map_start */
    const char *map_path; /* the mapped file, or NULL */
};

/* Called once per unique stack: `root` is the "thread NAME (TID)" label or
 * NULL, frames[0..n) are root first. Strings live until the call returns.
 * Return 0 to go on, or -errno to stop (returned by the foreach). */
typedef int (*bts_session_stack_fn)(void *ctx, const char *root,
                                    const struct bts_session_frame *frames, size_t n,
                                    uint64_t count);

/* Visits every aggregated stack with its pcs and mappings, in no particular
 * order. -ENOTSUP for remote sessions and --subprocesses (use
 * bts_session_write_folded there), else 0 or the visitor's error. */
int bts_session_foreach_stack(const struct bts_session *s, bts_session_stack_fn fn, void *ctx);

/* --memory: the same stacks, counted per time bucket. time_ms is the
 * bucket's start, in ms since stats' start_ns; a stack appears once per
 * bucket it was sampled in. */
typedef int (*bts_session_bucket_fn)(void *ctx, const char *root,
                                     const struct bts_session_frame *frames, size_t n,
                                     uint64_t count, int64_t time_ms);

/* Visits every (stack, bucket) and sets *bucket_ns (may be NULL) to the
 * buckets' width (10 ms, doubled each time the count passed its cap).
 * -ENOTSUP without opts.memory or with --subprocesses (each child keeps its
 * own; use bts_session_write_folded), else 0 or the visitor's error. */
int bts_session_foreach_bucket(const struct bts_session *s, bts_session_bucket_fn fn, void *ctx,
                               uint64_t *bucket_ns);

void bts_session_free(struct bts_session *s);

/* Lets go of the threads a ptrace session's stop could not detach in time
 * (each is let go at its next stop; see ptrace-backend.c). Sessions do
 * this as they run; a long-lived tracer (bt-spyd) also calls it while no
 * session runs. Returns how many threads are still waited for. */
size_t bts_session_release_stragglers(void);
