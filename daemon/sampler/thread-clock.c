/* SPDX-License-Identifier: MIT */
/* thread-clock: a thread's state and CPU time from its /proc files, and the
 * credit rule of on-CPU sampling without a perf event. */
#define _GNU_SOURCE
#include "thread-clock-private.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CREDIT_CAP_NS 20000000LL /* two steps of a 100 Hz kernel tick */

static int open_task_file(pid_t pid, pid_t tid, const char *name)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/task/%d/%s", (int)pid, (int)tid, name);
    return open(path, O_RDONLY | O_CLOEXEC);
}

int bts_thread_clock_open(struct bts_thread_clock *c, pid_t pid, pid_t tid)
{
    memset(c, 0, sizeof(*c));
    c->schedstat_fd = -1;
    c->stat_fd = open_task_file(pid, tid, "stat");
    if (c->stat_fd < 0)
        return -errno;
    c->schedstat_fd = open_task_file(pid, tid, "schedstat");
    return 0;
}

void bts_thread_clock_close(struct bts_thread_clock *c)
{
    if (c->stat_fd >= 0)
        close(c->stat_fd);
    if (c->schedstat_fd >= 0)
        close(c->schedstat_fd);
    c->stat_fd = c->schedstat_fd = -1;
}

/* utime + stime (fields 14 and 15; `f` is field 3, the state) in ns. */
static uint64_t stat_cpu_ns(const char *f)
{
    static long tick_ns;
    for (int field = 3; field < 14 && f; field++)
        f = (f = strchr(f, ' ')) ? f + 1 : NULL;
    if (!f)
        return 0;
    char *end;
    unsigned long long ticks = strtoull(f, &end, 10);
    ticks += strtoull(end, NULL, 10);
    if (!tick_ns)
        tick_ns = 1000000000L / sysconf(_SC_CLK_TCK);
    return ticks * (uint64_t)tick_ns;
}

char bts_thread_clock_state(struct bts_thread_clock *c, bool cpu, int64_t period_ns)
{
    char buf[512];
    if (c->stat_fd < 0)
        return 'X';
    ssize_t n = pread(c->stat_fd, buf, sizeof(buf) - 1, 0);
    if (n <= 0)
        return 'X';
    buf[n] = '\0';
    const char *open_paren = strchr(buf, '(');
    const char *close_paren = strrchr(buf, ')');
    if (!open_paren || !close_paren || close_paren < open_paren || close_paren[1] != ' ')
        return 'X';
    size_t len = (size_t)(close_paren - open_paren - 1);
    if (len >= sizeof(c->comm))
        len = sizeof(c->comm) - 1;
    memcpy(c->comm, open_paren + 1, len);
    c->comm[len] = '\0';
    char state = close_paren[2];
    if (!cpu)
        return state;
    uint64_t before = c->cpu_ns, now;
    char sbuf[128];
    if (c->schedstat_fd >= 0 && (n = pread(c->schedstat_fd, sbuf, sizeof(sbuf) - 1, 0)) > 0) {
        sbuf[n] = '\0';
        now = strtoull(sbuf, NULL, 10);
    } else {
        now = stat_cpu_ns(close_paren + 2);
    }
    c->cpu_ns = now;
    if (before && now > before)
        c->credit_ns += (int64_t)(now - before);
    /* The kernel adds a running thread's time in steps of its tick (4 ms
     * at 250 Hz, 10 ms at 100 Hz, seen through schedstat too): a cap
     * below one step would drop the samples of the periods in it (half
     * of them at 999 Hz and 250 Hz). The cap keeps a thread that ran long
     * unseen from being sampled at every tick for long after. */
    int64_t cap = 2 * period_ns > CREDIT_CAP_NS ? 2 * period_ns : CREDIT_CAP_NS;
    if (c->credit_ns > cap)
        c->credit_ns = cap;
    return state;
}

bool bts_thread_clock_due(struct bts_thread_clock *c, char state, int64_t period_ns)
{
    if (state != 'R' || c->credit_ns < period_ns / 2)
        return false;
    c->credit_ns -= c->credit_ns < period_ns ? c->credit_ns : period_ns;
    return true;
}
