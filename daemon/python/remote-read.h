/* SPDX-License-Identifier: MIT */
/* remote-read: copies bytes out of another process with process_vm_readv,
 * without stopping it or writing to it. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Copies `len` bytes at `addr` in process `pid` into `buf`. 0 when all of
 * them were copied, else -errno: -EFAULT when part of the range is not
 * mapped (buf then holds garbage), -ESRCH when the process is gone, -EPERM
 * when we may not read it. */
int bts_remote_read(pid_t pid, uint64_t addr, void *buf, size_t len);

/* The same, shaped as a read callback: `ctx` points at the pid_t. */
int bts_remote_read_pid(void *ctx, uint64_t addr, void *buf, size_t len);

/* Copies `n` ranges of `size` bytes each, addrs[i] into bufs[i], in as few
 * system calls as the kernel allows. Returns how many leading ranges were
 * copied whole (the copy stops at the first unmapped one), or -errno when
 * the process cannot be read at all. `ctx` points at the pid_t. */
int bts_remote_read_many(void *ctx, const uint64_t *addrs, void *const *bufs, size_t size,
                         size_t n);
