/* SPDX-License-Identifier: MIT */
/* remote-read: copies bytes out of another process with process_vm_readv,
 * without stopping it or writing to it. */
#define _GNU_SOURCE

#include "remote-read.h"

#include <errno.h>
#include <limits.h>
#include <sys/uio.h>

int bts_remote_read(pid_t pid, uint64_t addr, void *buf, size_t len)
{
    struct iovec local = {.iov_base = buf, .iov_len = len};
    struct iovec remote = {.iov_base = (void *)(uintptr_t)addr, .iov_len = len};
    ssize_t n;

    if (len == 0)
        return 0;
    if (addr + len < addr)
        return -EFAULT;
    n = process_vm_readv(pid, &local, 1, &remote, 1, 0);
    if (n < 0)
        return -errno;
    /* A short copy means the range ran into an unmapped page. */
    return (size_t)n == len ? 0 : -EFAULT;
}

int bts_remote_read_pid(void *ctx, uint64_t addr, void *buf, size_t len)
{
    return bts_remote_read(*(const pid_t *)ctx, addr, buf, len);
}

/* iovecs per call: the kernel's limit (UIO_MAXIOV) is 1024 */
#define MANY_BATCH 256

int bts_remote_read_many(void *ctx, const uint64_t *addrs, void *const *bufs, size_t size, size_t n)
{
    pid_t pid = *(const pid_t *)ctx;
    struct iovec local[MANY_BATCH], remote[MANY_BATCH];
    size_t done = 0;

    if (n > INT_MAX)
        n = INT_MAX;
    while (done < n) {
        size_t batch = n - done < MANY_BATCH ? n - done : MANY_BATCH;
        ssize_t got;

        for (size_t i = 0; i < batch; i++) {
            local[i].iov_base = bufs[done + i];
            local[i].iov_len = size;
            remote[i].iov_base = (void *)(uintptr_t)addrs[done + i];
            remote[i].iov_len = size;
        }
        got = process_vm_readv(pid, local, batch, remote, batch, 0);
        if (got < 0) {
            /* EFAULT on the very first range reads as "none copied" */
            if (errno == EFAULT)
                return (int)done;
            return done ? (int)done : -errno;
        }
        done += size ? (size_t)got / size : batch;
        if ((size_t)got < batch * size)
            break;
    }
    return (int)done;
}
