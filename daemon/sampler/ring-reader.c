/* SPDX-License-Identifier: MIT */
/* ring-reader: reads perf records from an mmap ring, handling wrap-around. */
#include "ring-reader-private.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int bts_ring_map(struct bts_ring *r, int fd, size_t data_pages, size_t min_pages)
{
    int ret = 0;
    long page = sysconf(_SC_PAGESIZE);
    memset(r, 0, sizeof(*r));
    if (min_pages < 1)
        min_pages = 1;
    for (size_t pages = data_pages; pages >= min_pages; pages /= 2) {
        size_t size = (pages + 1) * (size_t)page;
        void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (p != MAP_FAILED) {
            r->base = p;
            r->mmap_size = size;
            r->meta = p;
            r->data = (uint8_t *)p + page;
            r->data_size = pages * (uint64_t)page;
            if (r->meta->data_size) {
                r->data = (uint8_t *)p + r->meta->data_offset;
                r->data_size = r->meta->data_size;
            }
            goto out;
        }
        ret = -errno;
        if (ret != -EPERM && ret != -ENOMEM)
            goto out;
    }
out:
    return ret;
}

void bts_ring_init_memory(struct bts_ring *r, void *mem, size_t page_size, uint64_t data_size)
{
    memset(r, 0, sizeof(*r));
    r->base = mem;
    r->meta = mem;
    r->data = (uint8_t *)mem + page_size;
    r->data_size = data_size;
}

void bts_ring_unmap(struct bts_ring *r)
{
    if (r->mmap_size)
        munmap(r->base, r->mmap_size);
    free(r->scratch);
    memset(r, 0, sizeof(*r));
}

int bts_ring_pending(const struct bts_ring *r)
{
    if (!r->meta)
        return 0;
    uint64_t head = __atomic_load_n(&r->meta->data_head, __ATOMIC_ACQUIRE);
    return head != r->meta->data_tail;
}

/* Walks the records published from `tail` on, passing those of `type` (or
 * all, for type 0) to `fn`, each contiguous. Returns the number passed, or
 * -errno; *end is where the walk stopped (the head, also on an error). */
static int walk(struct bts_ring *r, uint64_t tail, uint32_t type, bts_ring_record_fn fn, void *ctx,
                uint64_t *end)
{
    int ret = 0;
    uint64_t head = __atomic_load_n(&r->meta->data_head, __ATOMIC_ACQUIRE);
    uint64_t mask = r->data_size - 1;
    while (tail < head) {
        struct perf_event_header hdr;
        uint64_t off = tail & mask;
        /* The 8-byte header itself never wraps: records are 8-aligned and
         * the data size is a multiple of 8. */
        memcpy(&hdr, r->data + off, sizeof(hdr));
        if (hdr.size < sizeof(hdr) || hdr.size > head - tail || (hdr.size & 7)) {
            ret = -EBADMSG;
            tail = head;
            break;
        }
        if (type && hdr.type != type) {
            tail += hdr.size;
            continue;
        }
        const struct perf_event_header *rec = (const void *)(r->data + off);
        if (off + hdr.size > r->data_size) {
            if (r->scratch_size < hdr.size) {
                uint8_t *s = realloc(r->scratch, hdr.size);
                if (!s) {
                    ret = -ENOMEM;
                    tail = head;
                    break;
                }
                r->scratch = s;
                r->scratch_size = hdr.size;
            }
            size_t first = r->data_size - off;
            memcpy(r->scratch, r->data + off, first);
            memcpy(r->scratch + first, r->data, hdr.size - first);
            rec = (const void *)r->scratch;
        }
        fn(ctx, rec);
        tail += hdr.size;
        ret++;
    }
    *end = tail;
    return ret;
}

int bts_ring_drain(struct bts_ring *r, bts_ring_record_fn fn, void *ctx)
{
    uint64_t end;
    int ret;
    if (!r->meta)
        return 0;
    ret = walk(r, r->meta->data_tail, 0, fn, ctx, &end);
    __atomic_store_n(&r->meta->data_tail, end, __ATOMIC_RELEASE);
    return ret;
}

int bts_ring_peek(struct bts_ring *r, uint32_t type, bts_ring_record_fn fn, void *ctx)
{
    uint64_t tail;
    if (!r->meta)
        return 0;
    tail = r->meta->data_tail;
    return walk(r, r->peeked > tail ? r->peeked : tail, type, fn, ctx, &r->peeked);
}
