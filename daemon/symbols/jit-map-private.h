/* SPDX-License-Identifier: MIT */
/* jit-map: names of JIT-compiled code from /tmp/perf-PID.map, the text
 * format Node's --perf-basic-prof and Python's -X perf write. */
#pragma once

#include <stdint.h>
#include <sys/types.h>

struct bts_jit_map;

/* A reader of the perf map at `path` (usually /tmp/perf-PID.map) of process
 * `pid`. The file need not exist yet. Because any user can create a file at
 * that path, it is read only when it is a regular file with one link (not
 * a symbolic link, FIFO or device: it is opened with O_NOFOLLOW|O_NONBLOCK,
 * so nothing there can block the reader), owned by root or by pid's real
 * or effective uid. At most 128 MiB of it and 2097152 entries are read;
 * a line longer than 65535 bytes is skipped. NULL + errno on allocation
 * failure. */
struct bts_jit_map *bts_jit_map_new(const char *path, pid_t pid);
void bts_jit_map_free(struct bts_jit_map *jit);

/* The name of the JIT entry holding `pc`, or NULL. On a miss, lines the
 * file gained since the last read are parsed first (a file that shrank is
 * read again from the start); later entries win over earlier ones at the
 * same address. The string is owned by the map and lives as long as it. */
const char *bts_jit_map_find(struct bts_jit_map *jit, uint64_t pc);

/* Why the file was last skipped or cut short, as a lowercase sentence
 * ("did not read /tmp/perf-12.map: it is a FIFO"), or NULL. Owned by jit. */
const char *bts_jit_map_note(const struct bts_jit_map *jit);
