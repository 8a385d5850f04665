/* SPDX-License-Identifier: MIT */
/* fuzz-python-locals: libFuzzer target for what python-locals reads over a
 * memory snapshot (python-snapshot.h): every frame's local variables (names
 * tuples, kinds, cells, ints, floats, strs, containers, type names),
 * threading's thread names (sys.modules, dicts, instance attributes) and
 * the GIL's range. Seeds: snapshots of threads3.py, one per CPython. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "python-locals.h"
#include "python-reader.h"
#include "python-snapshot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const unsigned known_versions[] = {0x030812f0, 0x030912f0, 0x030a0df0,
                                          0x030b07f0, 0x030c01f0, 0x030d00f0};

static volatile size_t text_sum;

static int on_local(void *ctx, const struct bts_python_local *local)
{
    (void)ctx;
    /* every byte of both strings is touched: they must be NUL-terminated */
    text_sum += strlen(local->name) + strlen(local->value);
    return 0;
}

static void read_all(struct bts_python *py)
{
    struct bts_python_sample s;
    struct bts_python_thread_name names[16];
    int n;

    if (bts_python_sample(py, &s))
        return;
    n = bts_python_thread_names(py, names, 16);
    for (int i = 0; i < n; i++)
        text_sum += strlen(names[i].name) + (size_t)names[i].thread_id;
    for (size_t i = 0; i < s.n_threads; i++) {
        uint64_t lo, hi;

        if (bts_python_gil_range(py, &s.threads[i], &lo, &hi) == 0)
            text_sum += (size_t)(hi - lo);
        for (size_t j = 0; j < s.threads[i].n_frames; j++)
            bts_python_frame_locals(py, &s.threads[i].frames[j], on_local, NULL);
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
        /* twice: the second time on the reader's warm caches */
        read_all(py);
        read_all(py);
        bts_python_free(py);
    }
    free(snap);
    return 0;
}
