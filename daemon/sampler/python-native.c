/* SPDX-License-Identifier: MIT */
/* python-native: --native stacks for a session: unwind with per-frame
 * state, name and classify each frame, merge with the thread's Python
 * frames, tag the result. */
#include "python-native-private.h"
#include "proc.h"
#include "python-frames-private.h"
#include "python-reader.h"
#include "symbolizer.h"
#include "unwinder-private.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A stack read while its thread was stopped is the next sample's when that
 * sample was taken at most this long before it was read. */
#define KEPT_MAX_AGE_NS (50 * 1000000LL)
#define KEPT_STRINGS    (64 * 1024)

#define KIND_SLOTS 4096u

/* The kind of each name the symbolizer handed out, by pointer (its names
 * are stable, and the same pointer comes back for a pc looked up again). */
struct kind_entry {
    const char *name;
    uint8_t kind;
};

/* A Python stack read during a ptrace stop, copied out of the reader. */
struct kept {
    pid_t tid; /* 0: none */
    int64_t read_ns;
    int gil_held;
    char thread_name[64];
    bool has_name;
    struct bts_python_thread thread;
    struct bts_python_frame frames[BTS_PYTHON_MAX_FRAMES];
    char strings[KEPT_STRINGS];
    size_t strings_len;
};

struct bts_python_native {
    struct bts_python_merge *merge;
    struct kind_entry *kinds_cache;
    struct bts_unwind_frame frames[BTS_MAX_FRAMES];
    uint8_t kinds[BTS_MAX_FRAMES];
    struct bts_merge_frame out[BTS_MAX_FRAMES + BTS_PYTHON_MAX_FRAMES];
    struct kept kept;
    bool lines, keep_internal;
    uint64_t trusted, torn, torn_late, partial, stop_ns;
    uint64_t captured, captured_torn; /* merged and torn from the eBPF capture's stacks */
};

struct bts_python_native *bts_python_native_new(bool keep_internal, bool lines)
{
    struct bts_merge_opts mo = {.keep_internal = keep_internal};
    struct bts_python_native *pn = calloc(1, sizeof(*pn));
    if (!pn)
        goto fail;
    pn->lines = lines;
    pn->keep_internal = keep_internal;
    pn->merge = bts_python_merge_new(&mo);
    pn->kinds_cache = calloc(KIND_SLOTS, sizeof(*pn->kinds_cache));
    if (!pn->merge || !pn->kinds_cache)
        goto fail;
    return pn;
fail:
    bts_python_native_free(pn);
    errno = ENOMEM;
    return NULL;
}

void bts_python_native_free(struct bts_python_native *pn)
{
    if (!pn)
        return;
    bts_python_merge_free(pn->merge);
    free(pn->kinds_cache);
    free(pn);
}

void bts_python_native_reset(struct bts_python_native *pn)
{
    if (!pn)
        return;
    bts_python_merge_reset(pn->merge);
    memset(pn->kinds_cache, 0, KIND_SLOTS * sizeof(*pn->kinds_cache));
    pn->kept.tid = 0;
}

static uint8_t kind_of(struct bts_python_native *pn, const char *name)
{
    if (!pn)
        return (uint8_t)bts_python_merge_classify(name);
    size_t h = ((uintptr_t)name >> 3) * 0x9e3779b97f4a7c15ull >> 52;
    for (size_t probe = 0; probe < 8; probe++) {
        struct kind_entry *e = &pn->kinds_cache[(h + probe) & (KIND_SLOTS - 1)];
        if (e->name == name)
            return e->kind;
        if (!e->name) {
            e->name = name;
            e->kind = (uint8_t)bts_python_merge_classify(name);
            return e->kind;
        }
    }
    return (uint8_t)bts_python_merge_classify(name);
}

/* With pn, its cache of each name's kind is used. */
static void classify(struct bts_python_native *pn, struct bts_symbolizer *sym,
                     const struct bts_unwind_frame *frames, size_t n, uint8_t *kinds)
{
    const char *loop_module = NULL;

    for (size_t i = 0; i < n; i++) {
        kinds[i] = kind_of(pn, bts_symbolizer_name(sym, frames[i].pc, i > 0));
        if (!loop_module && kinds[i] == BTS_MERGE_EVAL)
            loop_module = bts_symbolizer_module(sym, frames[i].pc);
    }
    for (size_t i = 0; loop_module && i < n; i++) {
        if (kinds[i] == BTS_MERGE_UNKNOWN &&
            strcmp(bts_symbolizer_module(sym, frames[i].pc), loop_module) != 0)
            kinds[i] = BTS_MERGE_NATIVE;
    }
}

void bts_python_native_classify(struct bts_symbolizer *sym, const struct bts_unwind_frame *frames,
                                size_t n, uint8_t *kinds)
{
    classify(NULL, sym, frames, n, kinds);
}

/* --- stacks read while stopped ------------------------------------------- */

static const char *keep_string(struct kept *k, const char *s)
{
    size_t n = s ? strlen(s) + 1 : 0;
    if (!s || k->strings_len + n > sizeof(k->strings))
        return "?";
    char *copy = memcpy(k->strings + k->strings_len, s, n);
    k->strings_len += n;
    return copy;
}

void bts_python_native_stopped(struct bts_python_native *pn, struct bts_python_frames *pf,
                               pid_t tid)
{
    struct bts_python_frames_read pr;
    struct kept *k = &pn->kept;
    int64_t t0 = bts_proc_now_ns();
    const struct bts_python_thread *t = bts_python_frames_thread(pf, tid, 0, &pr);
    k->tid = 0;
    if (!t) {
        pn->stop_ns += (uint64_t)(bts_proc_now_ns() - t0);
        return;
    }
    k->strings_len = 0;
    k->thread = *t;
    k->thread.n_frames = t->n_frames < BTS_PYTHON_MAX_FRAMES ? t->n_frames : BTS_PYTHON_MAX_FRAMES;
    for (size_t i = 0; i < k->thread.n_frames; i++) {
        k->frames[i] = t->frames[i];
        k->frames[i].name = keep_string(k, t->frames[i].name);
        k->frames[i].filename = keep_string(k, t->frames[i].filename);
    }
    k->thread.frames = k->frames;
    k->thread.name = "";
    k->has_name = pr.thread_name != NULL;
    snprintf(k->thread_name, sizeof(k->thread_name), "%s", pr.thread_name ? pr.thread_name : "");
    k->gil_held = pr.gil == BTS_PYTHON_FRAMES_GIL_HELD       ? 1
                  : pr.gil == BTS_PYTHON_FRAMES_GIL_NOT_HELD ? 0
                                                             : -1;
    k->read_ns = bts_proc_now_ns();
    k->tid = tid;
    pn->stop_ns += (uint64_t)(k->read_ns - t0);
}

/* A native frame as the stack table keeps it: by function (its entry + 1,
 * so a return address's pc - 1 stays inside), or its exact pc for lines.
 * Its leaf-ness is the unwinder's, not its place in the merged stack. */
static uint64_t native_value(const struct bts_python_native *pn, struct bts_symbolizer *sym,
                             size_t native_index)
{
    uint64_t pc = pn->frames[native_index].pc, start;
    if (pn->lines)
        return pc;
    start = bts_symbolizer_function_start(sym, pc, native_index > 0);
    return start ? start + 1 : pc;
}

/* --- the merge's access to the reader -------------------------------------- */

static int read_frame(void *reader, uint64_t frame, struct bts_python_frame *out,
                      uint64_t *previous)
{
    return bts_python_read_frame(reader, frame, out, previous);
}

static int code_at(void *reader, uint64_t addr, uint64_t instr, struct bts_python_frame *out)
{
    return bts_python_code_at(reader, addr, instr, out);
}

int bts_python_native_stack(struct bts_python_native *pn, struct bts_unwinder *u,
                            struct bts_symbolizer *sym, struct bts_python_frames *pf,
                            const struct bts_raw_sample *raw, bool late, uint64_t *pcs, size_t max,
                            const char **thread_name, int *gil_held)
{
    struct bts_python_frames_read pr;
    const struct bts_python_thread *t;
    struct kept *k = &pn->kept;
    bool trusted = false, captured = false;
    size_t n_out = 0;
    int n;

    if (!raw->has_regs || !u || !sym)
        return 0;
    /* The stack kept at this sample's stop, else a read now. */
    if (k->tid == raw->tid && k->read_ns >= (int64_t)raw->time_ns &&
        k->read_ns - (int64_t)raw->time_ns < KEPT_MAX_AGE_NS) {
        t = &k->thread;
        trusted = true;
        if (k->has_name)
            *thread_name = k->thread_name;
        if (gil_held)
            *gil_held = k->gil_held;
        k->tid = 0;
    } else {
        t = bts_python_frames_thread(pf, raw->tid, raw->time_ns, &pr);
        if (!t)
            return 0;
        /* A captured stack is the sample's however late it is read. */
        trusted = captured = pr.captured;
        late = late && !captured;
        if (pr.thread_name)
            *thread_name = pr.thread_name;
        if (gil_held)
            *gil_held = pr.gil == BTS_PYTHON_FRAMES_GIL_HELD       ? 1
                        : pr.gil == BTS_PYTHON_FRAMES_GIL_NOT_HELD ? 0
                                                                   : -1;
    }
    /* A thread state without frames still goes to the merge: with the
     * loop on its native stack it is a Python thread read between frames
     * (torn), without it one that runs no Python now. */
    n = bts_unwinder_unwind_frames(u, raw->regs, raw->stack, raw->stack ? raw->stack_size : 0,
                                   pn->frames, BTS_MAX_FRAMES);
    if (n <= 0)
        return -1;
    classify(pn, sym, pn->frames, (size_t)n, pn->kinds);

    struct bts_merge_input in = {
        .native = pn->frames,
        .kinds = pn->kinds,
        .n_native = (size_t)n,
        .complete = pn->frames[n - 1].outermost,
        .regs = raw->regs,
        .stack = raw->stack,
        .stack_size = raw->stack ? raw->stack_size : 0,
        .python = t,
        .trusted = trusted,
        .reader = bts_python_frames_reader(pf),
        .read_frame = read_frame,
        .code_at = code_at,
    };
    size_t merged;
    enum bts_merge_result r =
        bts_python_merge(pn->merge, &in, pn->out, sizeof(pn->out) / sizeof(pn->out[0]), &merged);
    /* Merged, or torn with its outer activations vouched for (a partial
     * merge). Read late, a partial merge is left out as a torn sample is:
     * which late samples stay must not depend on where the thread went. */
    bool partial = r != BTS_MERGE_OK && r != BTS_MERGE_NO_PYTHON && merged > 0;
    if (r == BTS_MERGE_OK || (partial && !late)) {
        if (r == BTS_MERGE_OK && captured)
            pn->captured++;
        else if (r == BTS_MERGE_OK)
            pn->trusted += trusted;
        else
            pn->partial++;
        for (size_t i = 0; i < merged && n_out < max; i++) {
            const struct bts_merge_frame *f = &pn->out[i];
            uint64_t v = f->unknown  ? bts_python_frames_tag_text(pf, BTS_MERGE_UNKNOWN_TEXT)
                         : f->torn   ? bts_python_frames_tag_text(pf, BTS_MERGE_TORN_TEXT)
                         : f->python ? bts_python_frames_tag(pf, f->python, f->line)
                                     : native_value(pn, sym, f->native);
            if (!v)
                return -1;
            pcs[n_out++] = v;
        }
        return (int)n_out;
    }
    if (r == BTS_MERGE_NO_PYTHON)
        return 0;
    pn->captured_torn += captured;
    if (late) {
        pn->torn_late++;
        return BTS_PYTHON_NATIVE_LATE;
    }
    /* Torn: the native stack as unwound, without the interpreter's own
     * frames unless asked for, under a root that says so. */
    pn->torn++;
    for (int i = 0; i < n && n_out + 1 < max; i++) {
        if (!pn->keep_internal && pn->kinds[i] != BTS_MERGE_NATIVE &&
            pn->kinds[i] != BTS_MERGE_UNKNOWN)
            continue;
        pcs[n_out++] = native_value(pn, sym, (size_t)i);
    }
    uint64_t root = bts_python_frames_tag_text(pf, BTS_MERGE_TORN_TEXT);
    if (!root)
        return -1;
    pcs[n_out++] = root;
    return (int)n_out;
}

void bts_python_native_stats(const struct bts_python_native *pn,
                             struct bts_python_native_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (!pn)
        return;
    bts_python_merge_stats(pn->merge, &out->merge);
    out->trusted = pn->trusted;
    out->torn = pn->torn;
    out->torn_late = pn->torn_late;
    out->partial = pn->partial;
    out->stop_ns = pn->stop_ns;
    out->captured = pn->captured;
    out->captured_torn = pn->captured_torn;
}
