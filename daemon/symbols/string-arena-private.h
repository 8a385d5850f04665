/* SPDX-License-Identifier: MIT */
/* string-arena: NUL-terminated copies of names in large chunks, freed all
 * at once (the symbolizer's interned names, a JIT map's names). */
#pragma once

#include <stddef.h>

struct bts_string_chunk;

/* Zero-initialise; free with bts_string_arena_clear(). */
struct bts_string_arena {
    struct bts_string_chunk *chunks;
};

/* A copy of s[0..len) plus a NUL, owned by the arena; NULL when out of
 * memory. */
const char *bts_string_arena_add(struct bts_string_arena *a, const char *s, size_t len);

/* Frees every copy; the arena is empty and usable again. */
void bts_string_arena_clear(struct bts_string_arena *a);
