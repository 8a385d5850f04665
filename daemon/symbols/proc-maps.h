/* SPDX-License-Identifier: MIT */
/* proc-maps: a process's memory mappings from /proc/PID/maps, with each
 * file mapping's ELF image opened lazily and shared through a cache. */
#pragma once

#include "elf-image.h"

#include <stdint.h>
#include <sys/types.h>

struct bts_elf;
struct bts_elf_cache;

struct bts_maps;

/* Reads /proc/PID/maps. Images are opened through `cache`, which must
 * outlive the maps; pass NULL to use a private cache. NULL + errno on error
 * (ENOENT / ESRCH when the process is gone, EACCES when not allowed). */
struct bts_maps *bts_maps_new(pid_t pid, struct bts_elf_cache *cache);
void bts_maps_free(struct bts_maps *maps);

/* Re-reads /proc/PID/maps. 0 or -errno; on error the old maps stay. */
int bts_maps_refresh(struct bts_maps *maps);

/* The mapping holding `addr`. When none does, refreshes the maps once
 * (at most every 10 ms, so a stream of bad pcs cannot cost a reread each)
 * and looks again. NULL when the address is not mapped. */
const struct bts_map *bts_maps_find(struct bts_maps *maps, uint64_t addr);

/* The ELF image behind a file mapping, opened once per (dev, ino) through
 * the cache. NULL (errno set) for anonymous or unreadable mappings. The
 * image is owned by the cache. For [vdso], the image is read from the
 * target's memory. */
struct bts_elf *bts_maps_elf(struct bts_maps *maps, const struct bts_map *map);

pid_t bts_maps_pid(const struct bts_maps *maps);
