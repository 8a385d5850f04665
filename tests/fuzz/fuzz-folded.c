/* SPDX-License-Identifier: MIT */
/* fuzz-folded: libFuzzer target for the folded reader, the call tree and the
 * SVG writer (plain, reversed, icicle, differential). */
#define _GNU_SOURCE

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "calltree.h"
#include "folded.h"
#include "render.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static FILE *sink;

/* The reader alone, in strict or lenient mode: every record it returns
 * must be NUL-terminated where its length says and carry 1 or 2 counts. */
static void read_records(const uint8_t *data, size_t size, unsigned flags)
{
    struct bts_folded_reader *r;
    struct bts_folded_record rec;
    FILE *in = fmemopen((void *)data, size, "r");

    if (!in)
        return;
    r = bts_folded_reader_new(in, "fuzz", flags, NULL, NULL);
    while (r && bts_folded_reader_next(r, &rec) == 1) {
        if (rec.stack[rec.stack_len] != '\0' || rec.ncounts < 1 || rec.ncounts > 2)
            __builtin_trap();
        bts_folded_write(sink, rec.stack, rec.stack_len, rec.count, rec.ncounts);
    }
    bts_folded_reader_free(r);
    fclose(in);
}

/* Tree + layout + SVG with options picked from `knobs`. */
static void render_svg(const uint8_t *data, size_t size, uint8_t knobs)
{
    struct bts_render_opts o;
    FILE *in = fmemopen((void *)data, size, "r");

    if (!in)
        return;
    bts_render_opts_init(&o);
    o.reverse = knobs & 0x1;
    o.inverted = knobs & 0x2;
    o.strict = knobs & 0x4;
    o.minwidth_percent = knobs & 0x8;
    o.minwidth = knobs & 0x8 ? 0.5 : 0.1;
    o.palette = knobs & 0x10 ? BTS_PALETTE_KIND : BTS_PALETTE_HOT;
    o.negate = knobs & 0x20;
    o.normalize = !(knobs & 0x40);
    o.width = knobs & 0x80 ? 300 : 1200;
    bts_render_folded(in, "fuzz", &o, BTS_RENDER_SVG, sink);
    fclose(in);
}

/* Input split at its first NUL into BEFORE and AFTER for a diff graph. */
static void render_diff(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, '\0', size);
    struct bts_render_input before, after;
    struct bts_render_opts o;
    size_t n;

    if (!nul || nul == data || nul == data + size - 1)
        return;
    n = (size_t)(nul - data);
    before.file = fmemopen((void *)data, n, "r");
    after.file = fmemopen((void *)(nul + 1), size - n - 1, "r");
    before.name = "before";
    after.name = "after";
    if (before.file && after.file) {
        bts_render_opts_init(&o);
        bts_render_diff(&before, &after, &o, BTS_RENDER_SVG, sink);
    }
    if (before.file)
        fclose(before.file);
    if (after.file)
        fclose(after.file);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!sink)
        sink = fopen("/dev/null", "w");
    if (!sink || size == 0)
        return 0;
    read_records(data, size, 0);
    read_records(data, size, BTS_FOLDED_STRICT);
    render_svg(data, size, data[size - 1]);
    render_diff(data, size);
    return 0;
}
