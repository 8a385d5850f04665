/* SPDX-License-Identifier: MIT */
/* fuzz-pprof: libFuzzer target for the pprof reader (gzip and raw protobuf),
 * then the folded and pprof writers on whatever it accepted. */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "calltree.h"
#include "pprof.h"
#include "format.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static FILE *sink;
    struct bts_calltree *t = bts_calltree_new();
    char err[256];

    if (!sink)
        sink = fopen("/dev/null", "w");
    if (!t || !sink)
        return 0;
    /* The last byte picks the sample type so both paths are explored. */
    const char *type = size && (data[size - 1] & 1) ? "cpu" : NULL;
    if (bts_pprof_read_buffer(data, size, type, t, err, sizeof(err)) == 0 &&
        bts_calltree_finish(t) == 0) {
        bts_calltree_write_folded(t, sink);
        bts_pprof_write_calltree(t, NULL, sink);
    }
    bts_calltree_free(t);
    return 0;
}
