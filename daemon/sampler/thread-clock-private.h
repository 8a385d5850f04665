/* SPDX-License-Identifier: MIT */
/* thread-clock: what the backends without an event in the target (ptrace,
 * read) know of a thread between samples: its state letter and the CPU
 * time it has used, from its /proc files kept open, and the rule that
 * samples a running thread about once per period of CPU time it used, as
 * a cpu-clock event would. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct bts_thread_clock {
    int stat_fd;
    int schedstat_fd;  /* -1 without CONFIG_SCHEDSTATS-style run times */
    uint64_t cpu_ns;   /* CPU time used when last looked at */
    int64_t credit_ns; /* CPU time not yet paid for by a sample */
    char comm[16];
};

/* Opens thread `tid` of process `pid`: 0, or -errno (-ENOENT: it is gone). */
int bts_thread_clock_open(struct bts_thread_clock *c, pid_t pid, pid_t tid);
void bts_thread_clock_close(struct bts_thread_clock *c);

/* The thread's state letter ('X' when gone); refreshes its comm. With
 * `cpu`, also reads its CPU time (schedstat's ns where the kernel has it,
 * else utime + stime in clock ticks) and adds what it used since the last
 * look to its credit, up to two periods or 20 ms, whichever is more (the
 * kernel adds run time in steps of its tick). */
char bts_thread_clock_state(struct bts_thread_clock *c, bool cpu, int64_t period_ns);

/* On-CPU sampling: whether a thread in state R has earned a sample (half a
 * period of credit at least; state R alone also holds threads that only
 * wait for a CPU); if so, a period is taken off its credit. */
bool bts_thread_clock_due(struct bts_thread_clock *c, char state, int64_t period_ns);
