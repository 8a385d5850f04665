/* SPDX-License-Identifier: MIT */
/* backend: the interface every sampler backend (perf_event, ptrace) offers
 * the session, and the raw sample it feeds into the shared unwind and
 * aggregation path. */
#pragma once

#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* x86_64 user registers a sample carries, indexed by perf's
 * enum perf_event_x86_regs (AX=0 .. IP=8, R8=16 .. R15=23). */
#define BTS_REG_COUNT 24
#define BTS_REG_BP    6
#define BTS_REG_SP    7
#define BTS_REG_IP    8
/* AX..IP and R8..R15: everything libunwind's x86_64 code may ask for. */
#define BTS_REGS_MASK 0xff01ffULL
/* Deepest stack kept per sample. */
#define BTS_MAX_FRAMES 256

/* One sample as a backend hands it over: either registers plus a copy of
 * the user stack (DWARF mode), or a pc list unwound already (frame-pointer
 * callchain, ptrace unwinding). Pointers are valid for the call only. */
struct bts_raw_sample {
    pid_t pid;
    pid_t tid;
    uint64_t time_ns;
    const char *thread_name; /* comm of tid, or NULL when unknown */
    bool has_regs;
    uint64_t regs[BTS_REG_COUNT];
    const uint8_t *stack; /* copy of [regs[SP], regs[SP] + stack_size) */
    uint64_t stack_size;
    const uint64_t *pcs; /* leaf first, user space only */
    unsigned npcs;
};

/* Where a backend sends what it reads. */
struct bts_backend_sink {
    void *ctx;
    void (*sample)(void *ctx, const struct bts_raw_sample *sample);
    void (*lost)(void *ctx, uint64_t count);
    /* The target mapped something executable: refresh maps, flush caches. */
    void (*maps_changed)(void *ctx);
    /* Optional: the target runs a new image (an exec), called before the
     * first sample of that image, beside maps_changed. */
    void (*exec)(void *ctx);
    /* Optional (ptrace only): thread `tid` is in the stop of an interrupt
     * sent to sample it, its registers and stack copied, and is resumed
     * when this returns: keep it short, the thread waits. The sample
     * itself comes after, through sample(). */
    void (*stopped)(void *ctx, pid_t tid);
    /* Optional: a thread of the target started process `pid` (so
     * --subprocesses can follow it before the next /proc scan). */
    void (*forked)(void *ctx, pid_t pid);
    /* Optional: may thread `tid` of the target (tid = pid: the process) be
     * sampled now? A backend asks on every rescan, before and after it opens
     * or seizes a thread found after start, and after every exec: with
     * ptrace at the exec stop, before the new image runs an instruction;
     * with perf_event at the exec's COMM record, before reading further.
     * 0: yes. Above 0: yes, and it runs a new image (the sink has noted
     * that its maps changed). -ENOENT: that thread is gone, skip it. -ESRCH: the process
     * has exited, whatever its pid names now: poll returns 1 from here on.
     * -EPERM: its rights changed: stop sampling at once and return -EPERM
     * from poll; nothing read after the change reaches the sink. Any other
     * -errno: do not sample that thread. */
    int (*check)(void *ctx, pid_t tid);
};

struct bts_backend_config {
    pid_t pid;     /* target process */
    bool launched; /* pid is our stopped child, exec pending */
    unsigned rate_hz;
    uint32_t stack_size;
    bool callchain; /* frame-pointer mode: pcs instead of regs + stack */
    bool idle;
    bool memory;           /* page faults instead of CPU time (perf_event only) */
    unsigned fault_period; /* with memory: every Nth fault */
};

struct bts_backend_threads {
    unsigned now;
    unsigned seen;
};

struct bts_sampler_backend;

struct bts_backend_ops {
    const char *name;
    /* Starts sampling `cfg->pid`. 0 or -errno. */
    int (*start)(struct bts_sampler_backend *b, const struct bts_backend_config *cfg,
                 const struct bts_backend_sink *sink);
    /* Waits up to timeout_ms, feeds the sink, follows threads. Returns 1 once
     * every thread of the target is gone, 0 otherwise, -errno when fatal. */
    int (*poll)(struct bts_sampler_backend *b, int timeout_ms);
    void (*threads)(const struct bts_sampler_backend *b, struct bts_backend_threads *out);
    /* Optional. prompt: hand each sample to the sink as soon as it is taken
     * rather than in batches, at the cost of a wakeup per sample: the sink
     * reads what it cannot get from the sample (a Python stack) when the
     * sample arrives, so the sooner the truer. Takes effect at the next
     * poll; may be called from within the sink. */
    void (*set_prompt)(struct bts_sampler_backend *b, bool prompt);
    /* Optional. The descriptors that become readable when samples wait
     * (events POLLIN), up to cap of them in out: how many there are. A
     * backend without it is driven by the caller's clock alone. */
    size_t (*wait_fds)(const struct bts_sampler_backend *b, struct pollfd *out, size_t cap);
    /* Optional (perf_event, CPU time). Attaches eBPF program `prog_fd`
     * (python-bpf) to every event, those open now and those opened later.
     * 0, or the first refusal's -errno (that event stays as it was). */
    int (*set_bpf)(struct bts_sampler_backend *b, int prog_fd);
    /* Stops sampling and releases the target. Idempotent. */
    void (*stop)(struct bts_sampler_backend *b);
    void (*free)(struct bts_sampler_backend *b);
};

/* Every backend struct starts with this. */
struct bts_sampler_backend {
    const struct bts_backend_ops *ops;
};

/* The perf_event backend. NULL + errno. */
struct bts_sampler_backend *bts_perf_backend_new(void);
