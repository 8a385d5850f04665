/* SPDX-License-Identifier: MIT */
/* ring-reader: consumer side of one perf_event mmap ring buffer. */
#pragma once

#include <linux/perf_event.h>
#include <stddef.h>
#include <stdint.h>

struct bts_ring {
    void *base;       /* mmap'd area: metadata page + data pages */
    size_t mmap_size; /* 0 when the ring is not mmap'd (tests) */
    struct perf_event_mmap_page *meta;
    uint8_t *data;
    uint64_t data_size; /* power of two */
    uint8_t *scratch;   /* holds records that wrap around the end */
    uint64_t peeked;    /* bts_ring_peek has looked at the records before this */
    size_t scratch_size;
};

/* Maps the ring of perf event `fd` with `data_pages` (power of two) data
 * pages, halving down to `min_pages` when the kernel refuses (the per-user
 * perf_event_mlock_kb limit). 0 or -errno. */
int bts_ring_map(struct bts_ring *r, int fd, size_t data_pages, size_t min_pages);

/* Sets up a ring over caller memory: one metadata page of `page_size`
 * followed by `data_size` (power of two) data bytes. For tests. */
void bts_ring_init_memory(struct bts_ring *r, void *mem, size_t page_size, uint64_t data_size);

/* Unmaps and frees; the struct is zeroed. */
void bts_ring_unmap(struct bts_ring *r);

/* Called for every record, contiguous in memory even when it wrapped. */
typedef void (*bts_ring_record_fn)(void *ctx, const struct perf_event_header *hdr);

/* Consumes every complete record published so far. Returns the number of
 * records read, or -errno (-EBADMSG on a corrupt header; the ring is then
 * skipped to its head). */
int bts_ring_drain(struct bts_ring *r, bts_ring_record_fn fn, void *ctx);

/* Passes the waiting records of one type (PERF_RECORD_*) that no earlier
 * peek passed to `fn`, without consuming any: a drain reads them again.
 * Returns how many, or -errno (-EBADMSG on a corrupt header). */
int bts_ring_peek(struct bts_ring *r, uint32_t type, bts_ring_record_fn fn, void *ctx);

/* True when records are waiting. */
int bts_ring_pending(const struct bts_ring *r);
