/* SPDX-License-Identifier: MIT */
/* elf-image-private: cache entry points proc-maps needs to pick the right
 * file for a mapping (strict inode check, negative caching, the vdso). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct bts_elf;
struct bts_elf_cache;

/* 1 when (dev, ino) is cached, with *elf set (NULL and *err set when an
 * earlier open failed); 0 when the cache knows nothing about it. */
int bts_elf_cache_lookup(struct bts_elf_cache *cache, uint64_t dev, uint64_t ino,
                         struct bts_elf **elf, int *err);

/* Like bts_elf_cache_open(), but when `strict` the opened file must have
 * inode (dev, ino) or the call fails with ESTALE. Failures are not cached:
 * the caller tries other paths and then calls bts_elf_cache_remember_failure. */
struct bts_elf *bts_elf_cache_open_file(struct bts_elf_cache *cache, const char *path, uint64_t dev,
                                        uint64_t ino, bool strict);

/* Records that (dev, ino) cannot be opened, so it is not retried. */
void bts_elf_cache_remember_failure(struct bts_elf_cache *cache, uint64_t dev, uint64_t ino,
                                    int err);

/* The kernel's vdso image, copied from the target's memory (/proc/PID/mem
 * at `start`, `len` bytes), or from this process's own vdso (getauxval
 * AT_SYSINFO_EHDR, identical for every 64-bit process on this kernel) when
 * that read is refused. Cached once per cache. NULL + errno on failure. */
struct bts_elf *bts_elf_cache_open_vdso(struct bts_elf_cache *cache, pid_t pid, uint64_t start,
                                        uint64_t len);
