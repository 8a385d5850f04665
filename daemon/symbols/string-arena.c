/* SPDX-License-Identifier: MIT */
/* string-arena: name copies in 64 KiB chunks (or one chunk for a longer name). */
#include "string-arena-private.h"

#include <stdlib.h>
#include <string.h>

#define CHUNK_BYTES 65536

struct bts_string_chunk {
    struct bts_string_chunk *next;
    size_t used;
    size_t cap;
    char data[];
};

const char *bts_string_arena_add(struct bts_string_arena *a, const char *s, size_t len)
{
    struct bts_string_chunk *c = a->chunks;
    char *copy;

    if (!c || c->cap - c->used < len + 1) {
        size_t cap = len + 1 > CHUNK_BYTES ? len + 1 : CHUNK_BYTES;
        c = malloc(sizeof(*c) + cap);
        if (!c)
            return NULL;
        c->next = a->chunks;
        c->used = 0;
        c->cap = cap;
        a->chunks = c;
    }
    copy = c->data + c->used;
    memcpy(copy, s, len);
    copy[len] = '\0';
    c->used += len + 1;
    return copy;
}

void bts_string_arena_clear(struct bts_string_arena *a)
{
    while (a->chunks) {
        struct bts_string_chunk *next = a->chunks->next;
        free(a->chunks);
        a->chunks = next;
    }
}
