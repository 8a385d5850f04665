/* SPDX-License-Identifier: MIT */
/* fuzz-perf-script: libFuzzer target for the `perf script` parser, with
 * the first two bytes choosing the convention and options, then the folded
 * writer. */
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

    if (size < 2)
        return 0;
    o.no_comm = data[0] & 1;
    o.include_pid = data[0] & 2;
    o.include_tid = data[0] & 4;
    o.annotate_kernel = data[0] & 8;
    o.use_period = data[0] & 16;
    o.strict = data[0] & 32;
    o.thread_roots = data[0] & 64;
    o.event = data[0] & 128 ? "cpu-clock" : NULL;
    o.convention = data[1] & 1 ? BTS_PERF_SCRIPT_PERF : BTS_PERF_SCRIPT_FLAMEGRAPH;
    o.event_exact = data[1] & 2;
    if (o.convention == BTS_PERF_SCRIPT_FLAMEGRAPH) {
        o.annotate_jit = data[1] & 4;
        o.include_addrs = data[1] & 8;
    }
    if (!sink)
        sink = fopen("/dev/null", "w");
    in = fmemopen((void *)(data + 2), size - 2 ? size - 2 : 1, "r");
    t = bts_calltree_new();
    if (in && t && sink && size > 2 &&
        bts_perf_script_read(in, "fuzz", &o, t, NULL, NULL, NULL, err, sizeof(err)) == 0 &&
        bts_calltree_finish(t) == 0)
        bts_calltree_write_folded(t, sink);
    if (in)
        fclose(in);
    bts_calltree_free(t);
    return 0;
}
