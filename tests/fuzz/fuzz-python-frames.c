/* SPDX-License-Identifier: MIT */
/* fuzz-python-frames: libFuzzer target for the CPython frame reader over a
 * memory snapshot (python-snapshot.h): thread lists, frame chains, code
 * objects, strings, line tables and, for 3.13, _Py_DebugOffsets; then
 * again with the snapshot's odd records laid over it as an overlay (as an
 * eBPF capture's frame heads are), shifted by a page where the record's
 * first byte says so, so the overlay disagrees with the memory under it. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "python-reader.h"
#include "python-snapshot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const unsigned known_versions[] = {0x030812f0, 0x030912f0, 0x030a0df0,
                                          0x030b07f0, 0x030c01f0, 0x030d00f0};

static volatile size_t frame_sum;

#define OVERLAY_BLOCKS 130

static int block_order(const void *a, const void *b)
{
    const struct bts_python_overlay_block *x = a, *y = b;

    return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/* Blocks from the snapshot's odd records, sorted by address. */
static size_t make_overlay(const struct py_snapshot *snap, struct bts_python_overlay_block *blocks)
{
    size_t n = 0;

    for (size_t i = 1; i < snap->n && n < OVERLAY_BLOCKS; i += 2) {
        const struct py_snapshot_region *r = &snap->regions[i];

        if (!r->len)
            continue;
        blocks[n++] = (struct bts_python_overlay_block){
            .addr = r->addr + ((r->data[0] & 1) ? 4096 : 0),
            .len = (uint32_t)(r->len < BTS_PYTHON_OVERLAY_MAX_BLOCK ? r->len
                                                                    : BTS_PYTHON_OVERLAY_MAX_BLOCK),
            .data = r->data,
        };
    }
    qsort(blocks, n, sizeof(*blocks), block_order);
    return n;
}

static int snapshot_read_many(void *ctx, const uint64_t *addrs, void *const *bufs, size_t size,
                              size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (py_snapshot_read(ctx, addrs[i], bufs[i], size))
            return (int)i;
    return (int)n;
}

static void sample_all(struct bts_python *py)
{
    struct bts_python_sample s;

    if (bts_python_sample(py, &s))
        return;
    for (size_t i = 0; i < s.n_threads; i++) {
        frame_sum += s.threads[i].n_frames + (size_t)s.threads[i].name[0];
        for (size_t j = 0; j < s.threads[i].n_frames; j++)
            frame_sum += (size_t)s.threads[i].frames[j].name[0] +
                         (size_t)s.threads[i].frames[j].filename[0] +
                         (size_t)s.threads[i].frames[j].line;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct py_snapshot *snap = malloc(sizeof(*snap));
    struct bts_python *py;
    bool known = false;

    if (!snap)
        return 0;
    if (py_snapshot_parse(data, size, snap)) {
        free(snap);
        return 0;
    }
    /* Keep most inputs on a version the reader knows. */
    for (size_t i = 0; i < sizeof(known_versions) / sizeof(known_versions[0]); i++)
        known = known || (snap->target.version_hex >> 16) == (known_versions[i] >> 16);
    if (!known)
        snap->target.version_hex = known_versions[snap->target.version_hex % 6];
    py = bts_python_new_reader(&snap->target, py_snapshot_read, snap);
    if (py) {
        /* twice: the second sample runs on warm caches and, with
         * read_many, prefetches the first one's pages */
        sample_all(py);
        bts_python_set_read_many(py, snapshot_read_many);
        sample_all(py);
        sample_all(py);

        struct bts_python_overlay_block blocks[OVERLAY_BLOCKS];
        struct bts_python_overlay ov = {blocks, make_overlay(snap, blocks)};
        struct bts_python_chain_layout cl;

        bts_python_chain_layout(py, &cl);
        frame_sum += cl.frame_bytes;
        bts_python_set_overlay(py, &ov);
        sample_all(py);
        bts_python_set_overlay(py, NULL);
        bts_python_free(py);
    }
    free(snap);
    return 0;
}
