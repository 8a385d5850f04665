/* SPDX-License-Identifier: MIT */
/* fuzz-python-frames: libFuzzer target for the CPython frame reader over a
 * memory snapshot (python-snapshot.h): thread lists, frame chains, code
 * objects, strings, line tables and, for 3.13, _Py_DebugOffsets. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "python-reader.h"
#include "python-snapshot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const unsigned known_versions[] = {0x030812f0, 0x030912f0, 0x030a0df0,
                                          0x030b07f0, 0x030c01f0, 0x030d00f0};

static volatile size_t frame_sum;

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
        bts_python_free(py);
    }
    free(snap);
    return 0;
}
