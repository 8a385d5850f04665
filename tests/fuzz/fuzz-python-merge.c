/* SPDX-License-Identifier: MIT */
/* fuzz-python-merge: the Python + native merge over arbitrary samples: native
 * frames, registers, stack words, Python frames and the reader's answers
 * all come from the input, which is what untrusted target memory can make
 * them. A merge object lives across inputs, so learning is fuzzed too. The
 * merged stack must only hold the input's own frames or the reader's. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "python-merge-private.h"

#define MAX_N 24

struct cursor {
    const uint8_t *p;
    size_t left;
};

static uint64_t take(struct cursor *c, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n && c->left; i++, c->left--)
        v |= (uint64_t)*c->p++ << (8 * i);
    return v;
}

/* A value drawn from a small pool, so that frames, slots and registers
 * agree often enough for the learning to elect something. */
static uint64_t value(struct cursor *c)
{
    static const uint64_t pool[] = {0,      0x1000, 0x1100, 0x1200, 0x2000,
                                    0x2100, 0x2104, 0x2106, 0x3000, 0x3102};
    uint8_t b = (uint8_t)take(c, 1);
    if (b < 200)
        return pool[b % (sizeof(pool) / sizeof(pool[0]))];
    return take(c, 8);
}

struct fuzz_reader {
    struct bts_python_frame frame;
    uint64_t previous;
    int rc;
};

static int read_frame(void *reader, uint64_t frame, struct bts_python_frame *out,
                      uint64_t *previous)
{
    struct fuzz_reader *r = reader;
    *out = r->frame;
    out->frame = frame;
    *previous = r->previous;
    return r->rc;
}

static int code_at(void *reader, uint64_t addr, uint64_t instr, struct bts_python_frame *out)
{
    struct fuzz_reader *r = reader;
    (void)addr;
    *out = r->frame;
    out->instr = instr;
    return r->rc;
}

static void python_frame(struct cursor *c, struct bts_python_frame *f)
{
    memset(f, 0, sizeof(*f));
    f->name = "f";
    f->filename = "f.py";
    f->frame = value(c);
    f->code = value(c);
    f->bytecode_start = value(c);
    f->bytecode_end = f->bytecode_start + take(c, 1);
    f->instr = value(c);
    f->is_entry = take(c, 1) & 1;
    f->line = (int)take(c, 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct bts_python_merge *m;
    struct cursor c = {data, size};
    struct bts_unwind_frame native[MAX_N];
    uint8_t kinds[MAX_N];
    uint64_t regs[BTS_REG_COUNT];
    uint8_t stack[512];
    struct bts_python_frame frames[MAX_N];
    struct bts_python_thread thread = {.frames = frames};
    struct fuzz_reader reader;
    struct bts_merge_frame out[2 * MAX_N];
    size_t n_native, n_out;

    if (!m) {
        struct bts_merge_opts o = {0};
        m = bts_python_merge_new(&o);
        if (!m)
            return 0;
    }
    if (take(&c, 1) == 0xff)
        bts_python_merge_reset(m);
    n_native = take(&c, 1) % MAX_N;
    memset(regs, 0, sizeof(regs));
    regs[BTS_REG_SP] = 0x7000;
    for (size_t i = 0; i < BTS_REG_COUNT; i++)
        if (i != BTS_REG_SP)
            regs[i] = value(&c);
    for (size_t i = 0; i < sizeof(stack); i += 8) {
        uint64_t v = value(&c);
        memcpy(stack + i, &v, 8);
    }
    for (size_t i = 0; i < n_native; i++) {
        struct bts_unwind_frame *f = &native[i];
        memset(f, 0, sizeof(*f));
        f->pc = 0x400000 + i;
        f->sp = 0x7000 + 16 * take(&c, 1);
        f->cfa = take(&c, 1) & 1 ? 0 : f->sp + 8 * take(&c, 1);
        f->saved_valid = (uint8_t)take(&c, 1);
        for (int k = 0; k < BTS_UNWIND_NSAVED; k++)
            f->saved[k] = value(&c);
        kinds[i] = (uint8_t)(take(&c, 1) % 5);
    }
    if (n_native)
        native[n_native - 1].outermost = take(&c, 1) & 1;
    thread.n_frames = take(&c, 1) % MAX_N;
    for (size_t i = 0; i < thread.n_frames; i++)
        python_frame(&c, &frames[i]);
    python_frame(&c, &reader.frame);
    reader.previous = value(&c);
    reader.rc = take(&c, 1) & 1 ? 0 : -14;

    struct bts_merge_input in = {
        .native = native,
        .kinds = kinds,
        .n_native = n_native,
        .complete = take(&c, 1) & 1,
        .regs = regs,
        .stack = stack,
        .stack_size = take(&c, 2) % (sizeof(stack) + 1),
        .python = take(&c, 1) & 1 ? NULL : &thread,
        .trusted = take(&c, 1) & 1,
        .reader = &reader,
        .read_frame = read_frame,
        .code_at = code_at,
    };
    bts_python_merge(m, &in, out, sizeof(out) / sizeof(out[0]), &n_out);
    /* Python frames are the input's, or the one the reader gave; native
     * ones index the input's. */
    for (size_t i = 0; i < n_out; i++) {
        const struct bts_python_frame *p = out[i].python;
        if (p && (p < frames || p >= frames + thread.n_frames) && p->code != reader.frame.code)
            abort();
        if (!p && out[i].native >= n_native)
            abort();
    }
    return 0;
}
