/* SPDX-License-Identifier: MIT */
/* proc: the monotonic clock and small /proc files. */
#define _GNU_SOURCE /* O_CLOEXEC, clock_gettime under c11 */
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

int64_t bts_proc_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

ssize_t bts_proc_read_small(const char *path, char *buf, size_t len)
{
    ssize_t n, got = 0;
    int fd, err = 0;

    if (!len)
        return -EINVAL;
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return -errno;
    while ((size_t)got < len - 1) {
        n = read(fd, buf + got, len - 1 - (size_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            err = -errno;
            break;
        }
        if (n == 0)
            break;
        got += n;
    }
    close(fd);
    buf[got] = '\0';
    return err ? err : got;
}

int bts_proc_comm(pid_t pid, pid_t tid, char *buf, size_t len)
{
    char path[64], comm[64];
    ssize_t n;

    if (!len)
        return -EINVAL;
    if (tid > 0)
        snprintf(path, sizeof(path), "/proc/%d/task/%d/comm", (int)pid, (int)tid);
    else
        snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
    n = bts_proc_read_small(path, comm, sizeof(comm));
    if (n < 0)
        return (int)n;
    comm[strcspn(comm, "\n")] = '\0';
    if (!comm[0])
        return -ENOENT;
    snprintf(buf, len, "%s", comm);
    return 0;
}

/* The nice value before bts_proc_raise_priority changed it (INT_MIN: it
 * did not), and how many raises are not yet dropped. */
static int nice_before = INT_MIN;
static unsigned raises;

int bts_proc_raise_priority(void)
{
    int cur;

    if (raises) {
        raises++;
        return 0;
    }
    errno = 0;
    cur = getpriority(PRIO_PROCESS, 0);
    if (cur == -1 && errno)
        return -errno;
    if (cur > BTS_PROC_SAMPLER_NICE) {
        if (setpriority(PRIO_PROCESS, 0, BTS_PROC_SAMPLER_NICE) < 0)
            return -errno;
        nice_before = cur;
    }
    raises = 1;
    return 0;
}

void bts_proc_drop_priority(void)
{
    if (raises && --raises == 0) {
        bts_proc_restore_priority();
        nice_before = INT_MIN;
    }
}

void bts_proc_restore_priority(void)
{
    if (nice_before != INT_MIN)
        setpriority(PRIO_PROCESS, 0, nice_before);
}
