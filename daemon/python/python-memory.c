/* SPDX-License-Identifier: MIT */
/* python-memory: target memory through the read callback, with a page
 * cache that lives for one sample. */
#include "python-reader-private.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* How many slots one page may try before it evicts. */
#define PROBES 4

int py_memory_init(struct py_memory *m, bts_python_read_fn read, void *ctx)
{
    memset(m, 0, sizeof(*m));
    m->read = read;
    m->ctx = ctx;
    m->generation = 1; /* slots start at 0: all stale */
    m->pages = calloc(PY_PAGE_SLOTS, sizeof(*m->pages));
    return m->pages ? 0 : -ENOMEM;
}

void py_memory_fini(struct py_memory *m)
{
    free(m->pages);
    m->pages = NULL;
}

static struct py_page *page_slot(struct py_memory *m, uint64_t page, bool *cached)
{
    uint64_t h = (page / PY_PAGE_SIZE) * 0x9e3779b97f4a7c15ull;
    struct py_page *victim = NULL;

    for (unsigned i = 0; i < PROBES; i++) {
        struct py_page *p = &m->pages[(h + i) % PY_PAGE_SLOTS];

        if (p->generation == m->generation && p->addr == page) {
            *cached = true;
            return p;
        }
        if (!victim && p->generation != m->generation)
            victim = p;
    }
    if (!victim)
        victim = &m->pages[h % PY_PAGE_SLOTS];
    victim->addr = page;
    victim->generation = m->generation;
    victim->error = -EAGAIN;
    *cached = false;
    return victim;
}

static int raw_read(struct py_memory *m, uint64_t addr, void *buf, size_t len)
{
    m->reads++;
    m->bytes += len;
    return m->read(m->ctx, addr, buf, len);
}

/* Fetches the previous sample's pages with as few calls as read_many
 * allows; a page it cannot copy is remembered as unreadable. */
static void prefetch(struct py_memory *m, const uint64_t *pages, size_t n)
{
    struct py_page *slots[PY_WORKING_SET];
    void *bufs[PY_WORKING_SET];
    uint64_t addrs[PY_WORKING_SET];
    size_t k = 0, done = 0;

    for (size_t i = 0; i < n; i++) {
        bool cached;
        struct py_page *p = page_slot(m, pages[i], &cached);

        if (cached)
            continue;
        slots[k] = p;
        bufs[k] = p->data;
        addrs[k] = pages[i];
        k++;
    }
    while (done < k) {
        int got;

        m->reads++;
        got = m->read_many(m->ctx, addrs + done, bufs + done, PY_PAGE_SIZE, k - done);
        if (got < 0) {
            for (size_t i = done; i < k; i++)
                slots[i]->error = got;
            return;
        }
        m->bytes += (uint64_t)got * PY_PAGE_SIZE;
        for (size_t i = done; i < done + (size_t)got && i < k; i++)
            slots[i]->error = 0;
        done += (size_t)got;
        if (done < k)
            slots[done++]->error = -EFAULT;
    }
}

void py_memory_next(struct py_memory *m)
{
    uint64_t previous[PY_WORKING_SET];
    size_t n = m->n_working;

    memcpy(previous, m->working, n * sizeof(previous[0]));
    m->n_working = 0;
    m->generation++;
    if (m->read_many && n)
        prefetch(m, previous, n);
}

void py_memory_forget(struct py_memory *m)
{
    m->generation++;
}

static struct py_page *page_get(struct py_memory *m, uint64_t page)
{
    bool cached;
    struct py_page *p = page_slot(m, page, &cached);

    if (!cached)
        p->error = raw_read(m, page, p->data, PY_PAGE_SIZE);
    if (p->used != m->generation) {
        p->used = m->generation;
        if (m->n_working < PY_WORKING_SET)
            m->working[m->n_working++] = page;
    }
    return p;
}

static int page_read(struct py_memory *m, uint64_t addr, void *buf, size_t len)
{
    uint8_t *out = buf;

    if (len > PY_PAGE_SIZE)
        return raw_read(m, addr, buf, len);
    while (len > 0) {
        uint64_t page = addr & ~(uint64_t)(PY_PAGE_SIZE - 1);
        size_t in_page = (size_t)(addr - page);
        size_t n = PY_PAGE_SIZE - in_page < len ? PY_PAGE_SIZE - in_page : len;
        struct py_page *p = page_get(m, page);

        if (p->error)
            return p->error;
        memcpy(out, p->data + in_page, n);
        out += n;
        addr += n;
        len -= n;
    }
    return 0;
}

/* Copies what the overlay holds of [addr, addr + len) into buf; whether
 * it covers all of it. */
static bool overlay_apply(const struct bts_python_overlay *ov, uint64_t addr, uint8_t *buf,
                          size_t len)
{
    uint64_t end = addr + len, covered = addr;
    size_t lo = 0, hi = ov->n;

    while (lo < hi) { /* the first block that may reach addr */
        size_t mid = lo + (hi - lo) / 2;

        if (ov->blocks[mid].addr + BTS_PYTHON_OVERLAY_MAX_BLOCK <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = lo; i < ov->n && ov->blocks[i].addr < end; i++) {
        const struct bts_python_overlay_block *b = &ov->blocks[i];
        uint64_t from = b->addr > addr ? b->addr : addr;
        uint64_t to = b->addr + b->len < end ? b->addr + b->len : end;

        if (from >= to)
            continue;
        memcpy(buf + (from - addr), b->data + (from - b->addr), (size_t)(to - from));
        if (from <= covered && to > covered)
            covered = to;
    }
    return covered >= end;
}

int py_memory_read(struct py_memory *m, uint64_t addr, void *buf, size_t len)
{
    int err;

    if (addr + len < addr)
        return -EFAULT;
    /* The first page of memory is never an object: fail fast on NULL and
     * small integers taken for pointers. */
    if (addr < PY_PAGE_SIZE)
        return -EFAULT;
    err = page_read(m, addr, buf, len);
    if (m->overlay && m->overlay->n && overlay_apply(m->overlay, addr, buf, len))
        err = 0;
    if (!err && m->trace)
        m->trace(m->trace_ctx, addr, buf, len);
    return err;
}

int py_memory_ptr(struct py_memory *m, uint64_t addr, uint64_t *out)
{
    return py_memory_read(m, addr, out, sizeof(*out));
}
