/* SPDX-License-Identifier: MIT */
/* fuzz-perf-script: libFuzzer target for the `perf script` parser, with
 * the first byte choosing the options, then the folded writer. */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "calltree.h"
#include "perf-script.h"
#include "format.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static FILE *sink;
    struct bts_perf_script_opts o = {0};
    struct bts_calltree *t;
    FILE *in;
    char err[256];

    if (size < 1)
        return 0;
    o.no_comm = data[0] & 1;
    o.include_pid = data[0] & 2;
    o.include_tid = data[0] & 4;
    o.annotate_kernel = data[0] & 8;
    o.use_period = data[0] & 16;
    o.strict = data[0] & 32;
    o.thread_roots = data[0] & 64;
    o.event = data[0] & 128 ? "cpu-clock" : NULL;
    if (!sink)
        sink = fopen("/dev/null", "w");
    in = fmemopen((void *)(data + 1), size - 1 ? size - 1 : 1, "r");
    t = bts_calltree_new();
    if (in && t && sink && size > 1 &&
        bts_perf_script_read(in, "fuzz", &o, t, NULL, NULL, NULL, err, sizeof(err)) == 0 &&
        bts_calltree_finish(t) == 0)
        bts_calltree_write_folded(t, sink);
    if (in)
        fclose(in);
    bts_calltree_free(t);
    return 0;
}
