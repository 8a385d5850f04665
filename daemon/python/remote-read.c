/* SPDX-License-Identifier: MIT */
/* remote-read: copies bytes out of another process with process_vm_readv,
 * without stopping it or writing to it. */
#define _GNU_SOURCE

#include "remote-read.h"

#include <errno.h>
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
