/* SPDX-License-Identifier: MIT */
/* jit-map: names of JIT-compiled code from /tmp/perf-PID.map, the text
 * format Node's --perf-basic-prof and Python's -X perf write. */
#pragma once

#include <stdint.h>
#include <sys/types.h>

struct bts_jit_map;

/* A reader of the perf map at `path` (usually /tmp/perf-PID.map). The file
 * need not exist yet. NULL + errno on allocation failure. */
struct bts_jit_map *bts_jit_map_new(const char *path);
void bts_jit_map_free(struct bts_jit_map *jit);

/* The name of the JIT entry holding `pc`, or NULL. On a miss, lines the
 * file gained since the last read are parsed first (a file that shrank is
 * read again from the start); later entries win over earlier ones at the
 * same address. The string is owned by the map and lives as long as it. */
const char *bts_jit_map_find(struct bts_jit_map *jit, uint64_t pc);
