/* SPDX-License-Identifier: MIT */
/* check-python-merge: the Python + native merge, on hand-made samples (one
 * rule each) and on samples recorded from every CPython by
 * python-merge-probe, replayed offline: a late read that is published must
 * equal the truth read while the thread was stopped.
 *
 * Recorded files (tests/data/python-merge/NAME.txt.gz), one item a line:
 *   version 3.11.2
 *   sample                                  starts a sample
 *   regs R0 .. R23                          hex, perf's register order
 *   native PC SP CFA VALID OUTERMOST S0..S5 NAME   leaf first; S = rbx rbp r12..r15
 *   words SP W0 W1 ..                       the stack words from SP up to the
 *                                           frame's CFA (evaluation loop frames)
 *   py truth|late FRAME CODE INSTR BSTART BEND ENTRY LINE NAME   innermost first
 *   rf ADDR RC PREVIOUS FRAME...            what the late reader answered when
 *   ca ADDR INSTR RC FRAME...               the merge asked for a frame by address
 *                                           (rf) or a code object by a pointer into
 *                                           its bytecode (ca); FRAME... as for py
 *   end */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "python-merge-compare.h"
#include "python-merge-private.h"

#define MAX_NATIVE 256
#define MAX_PY     512
#define MAX_OUT    (MAX_NATIVE + MAX_PY)
#define MAX_WORDS  (64 * 1024 / 8)

/* --- hand-made samples ----------------------------------------------------- */

/* A little native stack: leaf first. Each "eval" frame holds its current
 * Python frame in rbx and a pointer into its bytecode in r15, the way a
 * compiled evaluation loop keeps them across calls. */
struct fake {
    struct bts_unwind_frame native[MAX_NATIVE];
    uint8_t kinds[MAX_NATIVE];
    size_t n_native;
    uint64_t regs[BTS_REG_COUNT];
    uint8_t stack[256];
    struct bts_python_frame frames[MAX_PY];
    struct bts_python_thread thread;
};

enum { RBX = 0, R12 = 2, R15 = 5 };

/* Also keep the frame in r12, a second copy the merge learns. */
static bool fake_copy;

static void fake_native(struct fake *f, enum bts_merge_kind kind, uint64_t frame, uint64_t instr)
{
    struct bts_unwind_frame *n = &f->native[f->n_native];
    memset(n, 0, sizeof(*n));
    n->pc = 0x1000 + 0x10 * f->n_native;
    n->sp = 0x7000 + 0x100 * f->n_native;
    n->cfa = n->sp + 0x100;
    n->saved[RBX] = frame;
    n->saved[R12] = fake_copy ? frame : 0x1234;
    n->saved[R15] = instr;
    n->saved_valid = 0x3f;
    f->kinds[f->n_native++] = (uint8_t)kind;
}

/* A Python frame at `frame` running code `code` (bytecode at code + 0x100,
 * 0x100 bytes), at instruction offset `at`. */
static void fake_python(struct fake *f, uint64_t frame, uint64_t code, uint64_t at, bool entry)
{
    struct bts_python_frame *p = &f->frames[f->thread.n_frames++];
    memset(p, 0, sizeof(*p));
    p->name = "f";
    p->filename = "f.py";
    p->line = (int)at;
    p->frame = frame;
    p->code = code;
    p->bytecode_start = code + 0x100;
    p->bytecode_end = code + 0x200;
    p->instr = p->bytecode_start + at;
    p->is_entry = entry;
    f->thread.frames = f->frames;
}

static struct bts_merge_input fake_input(struct fake *f, bool trusted)
{
    f->native[f->n_native - 1].outermost = true;
    f->regs[BTS_REG_SP] = f->native[0].sp;
    return (struct bts_merge_input){
        .native = f->native,
        .kinds = f->kinds,
        .n_native = f->n_native,
        .complete = true,
        .regs = f->regs,
        .stack = f->stack,
        .stack_size = sizeof(f->stack),
        .python = f->thread.n_frames ? &f->thread : NULL,
        .trusted = trusted,
    };
}

/* main -> eval(run a -> b, entry a) -> call plumbing -> sort -> memcpy,
 * the Python frames a (outer, entry) and b (inner). */
static void fake_two_frames(struct fake *f, uint64_t b_at)
{
    memset(f, 0, sizeof(*f));
    fake_native(f, BTS_MERGE_NATIVE, 0, 0);                        /* memcpy */
    fake_native(f, BTS_MERGE_NATIVE, 0, 0);                        /* list_sort */
    fake_native(f, BTS_MERGE_INTERNAL, 0, 0);                      /* vectorcall */
    fake_native(f, BTS_MERGE_EVAL, 0xb000, 0xbc00 + 0x100 + b_at); /* eval */
    fake_native(f, BTS_MERGE_INTERNAL, 0, 0);                      /* Py_RunMain */
    fake_python(f, 0xb000, 0xbc00, b_at, false);
    fake_python(f, 0xa000, 0xac00, 0x10, true);
}

/* Teaches `m` where the fake loop keeps its frame and code. */
static void teach(struct bts_python_merge *m)
{
    struct fake f;
    struct bts_merge_frame out[MAX_OUT];
    size_t n;
    for (int i = 0; i < 16; i++) {
        fake_two_frames(&f, 0x20 + 2 * (uint64_t)i);
        struct bts_merge_input in = fake_input(&f, false);
        bts_python_merge(m, &in, out, MAX_OUT, &n);
    }
}

START_TEST(test_classify_names_the_loop_its_cold_part_and_the_plumbing)
{
    ck_assert_int_eq(bts_python_merge_classify("_PyEval_EvalFrameDefault"), BTS_MERGE_EVAL);
    ck_assert_int_eq(bts_python_merge_classify("_PyEval_EvalFrameDefault.cold"), BTS_MERGE_EVAL);
    ck_assert_int_eq(bts_python_merge_classify("_PyEval_EvalFrameDefault (ceval.c:5120)"),
                     BTS_MERGE_EVAL);
    ck_assert_int_eq(bts_python_merge_classify("_PyEval_Vector"), BTS_MERGE_INTERNAL);
    ck_assert_int_eq(bts_python_merge_classify("method_vectorcall_FASTCALL_KEYWORDS"),
                     BTS_MERGE_INTERNAL);
    ck_assert_int_eq(bts_python_merge_classify("cfunction_vectorcall_O"), BTS_MERGE_INTERNAL);
    ck_assert_int_eq(bts_python_merge_classify("_PyObject_MakeTpCall"), BTS_MERGE_INTERNAL);
    ck_assert_int_eq(bts_python_merge_classify("call_function"), BTS_MERGE_INTERNAL);
    ck_assert_int_eq(bts_python_merge_classify("list_sort_impl"), BTS_MERGE_NATIVE);
    ck_assert_int_eq(bts_python_merge_classify("SHA256_Update"), BTS_MERGE_NATIVE);
    ck_assert_int_eq(bts_python_merge_classify("PyObject_CallableCheck"), BTS_MERGE_NATIVE);
    ck_assert_int_eq(bts_python_merge_classify("_PyEval_FrameClearAndPop"), BTS_MERGE_FRAME_OP);
    ck_assert_int_eq(bts_python_merge_classify("python3.11+0x5c76a9"), BTS_MERGE_UNKNOWN);
    ck_assert_int_eq(bts_python_merge_classify("[unknown]"), BTS_MERGE_UNKNOWN);
    ck_assert_int_eq(bts_python_merge_classify(NULL), BTS_MERGE_UNKNOWN);
}
END_TEST

START_TEST(test_merge_puts_python_frames_where_the_loop_was)
{
    struct bts_python_merge *m = bts_python_merge_new(NULL);
    struct bts_merge_frame out[MAX_OUT];
    struct fake f;
    size_t n;
    teach(m);
    fake_two_frames(&f, 0x40);
    struct bts_merge_input in = fake_input(&f, false);
    ck_assert_int_eq(bts_python_merge(m, &in, out, MAX_OUT, &n), BTS_MERGE_OK);
    /* memcpy, list_sort, b, a: plumbing and the root hidden */
    ck_assert_uint_eq(n, 4);
    ck_assert(!out[0].python && out[0].native == 0);
    ck_assert(!out[1].python && out[1].native == 1);
    ck_assert(out[2].python == &f.frames[0]);
    ck_assert(out[3].python == &f.frames[1]);
    char frame[16], code[16];
    bts_python_merge_anchors(m, frame, code, sizeof(frame));
    ck_assert_str_eq(frame, "rbx");
    ck_assert_str_eq(code, "r15");
    bts_python_merge_free(m);
}
END_TEST

START_TEST(test_merge_keeps_the_plumbing_when_asked)
{
    struct bts_merge_opts opts = {.keep_internal = true};
    struct bts_python_merge *m = bts_python_merge_new(&opts);
    struct bts_merge_frame out[MAX_OUT];
    struct fake f;
    size_t n;
    teach(m);
    fake_two_frames(&f, 0x40);
    struct bts_merge_input in = fake_input(&f, false);
    ck_assert_int_eq(bts_python_merge(m, &in, out, MAX_OUT, &n), BTS_MERGE_OK);
    ck_assert_uint_eq(n, 6); /* memcpy, list_sort, vectorcall, b, a, Py_RunMain */
    ck_assert(!out[2].python && out[2].native == 2);
    ck_assert(!out[5].python && out[5].native == 4);
    bts_python_merge_free(m);
}
END_TEST

START_TEST(test_merge_is_torn_until_the_anchors_are_learned)
{
    struct bts_python_merge *m = bts_python_merge_new(NULL);
    struct bts_merge_frame out[MAX_OUT];
    struct fake f;
    size_t n = 99;
    fake_two_frames(&f, 0x40);
    struct bts_merge_input in = fake_input(&f, false);
    ck_assert_int_eq(bts_python_merge(m, &in, out, MAX_OUT, &n), BTS_MERGE_TORN_LEARNING);
    ck_assert_uint_eq(n, 0);
    /* read while stopped, nothing needs anchoring */
    in.trusted = true;
    ck_assert_int_eq(bts_python_merge(m, &in, out, MAX_OUT, &n), BTS_MERGE_OK);
    ck_assert_uint_eq(n, 4);
    bts_python_merge_free(m);
}
END_TEST

/* Start-up calls (imports) may keep the frame where later ones do not:
 * with none elected, old counts fade, and the place the loop uses now is
 * elected within a few samples rather than after as many as came before. */
START_TEST(test_merge_learns_where_the_loop_keeps_its_frame_now)
{
    struct bts_python_merge *m = bts_python_merge_new(NULL);
    struct bts_merge_frame out[MAX_OUT];
    struct fake f;
    size_t n;
    int i;
    for (i = 0; i < 64; i++) {
        fake_two_frames(&f, 0x40);
        f.native[3].saved[RBX] = 0xd000 + 0x100 * (uint64_t)i; /* kept elsewhere */
        struct bts_merge_input in = fake_input(&f, false);
        ck_assert_int_eq(bts_python_merge(m, &in, out, MAX_OUT, &n), BTS_MERGE_TORN_LEARNING);
    }
    for (i = 0; i < 64; i++) {
        fake_two_frames(&f, 0x40);
        struct bts_merge_input in = fake_input(&f, false);
        if (bts_python_merge(m, &in, out, MAX_OUT, &n) == BTS_MERGE_OK)
            break;
    }
    ck_assert_int_lt(i, 16);
    ck_assert_uint_eq(n, 4);
    bts_python_merge_free(m);
}
END_TEST

START_TEST(test_merge_is_torn_when_the_frame_moved)
{
    struct bts_python_merge *m = bts_python_merge_new(NULL);
    struct bts_merge_frame out[MAX_OUT];
    struct fake f;
    size_t n;
    teach(m);
    /* the sample's loop ran frame 0xb000; the read found b returned and a
     * running alone */
    fake_two_frames(&f, 0x40);
    f.thread.n_frames = 0;
    fake_python(&f, 0xa000, 0xac00, 0x12, true);
    struct bts_merge_input in = fake_input(&f, false);
    ck_assert_int_eq(bts_python_merge(m, &in, out, MAX_OUT, &n), BTS_MERGE_TORN_FRAME);
    ck_assert_uint_eq(n, 0);
    bts_python_merge_free(m);
}
END_TEST

START_TEST(test_merge_is_torn_when_the_frame_runs_other_code)
{
    struct bts_python_merge *m = bts_python_merge_new(NULL);
    struct bts_merge_frame out[MAX_OUT];
    struct fake f;
    size_t n;
    teach(m);
    /* b returned and c was called at the same address */
    fake_two_frames(&f, 0x40);
    f.thread.n_frames = 0;
    fake_python(&f, 0xb000, 0xcc00, 0x40, false);
    fake_python(&f, 0xa000, 0xac00, 0x10, true);
    struct bts_merge_input in = fake_input(&f, false);
    ck_assert_int_eq(bts_python_merge(m, &in, out, MAX_OUT, &n), BTS_MERGE_TORN_CODE);
    bts_python_merge_free(m);
}
END_TEST

START_TEST(test_merge_is_torn_when_activations_and_runs_differ)
{
    struct bts_python_merge *m = bts_python_merge_new(NULL);
    struct bts_merge_frame out[MAX_OUT];
    struct fake f;
    size_t n;
    teach(m);
    /* b became an entry frame: two runs for one activation */
    fake_two_frames(&f, 0x40);
    f.frames[0].is_entry = true;
    struct bts_merge_input in = fake_input(&f, false);
    ck_assert_int_eq(bts_python_merge(m, &in, out, MAX_OUT, &n), BTS_MERGE_TORN_COUNT);
    /* a chain whose outermost frame is no entry frame was cut off */
    fake_two_frames(&f, 0x40);
    f.frames[1].is_entry = false;
    in = fake_input(&f, false);
    ck_assert_int_eq(bts_python_merge(m, &in, out, MAX_OUT, &n), BTS_MERGE_TORN_COUNT);
    bts_python_merge_free(m);
}
END_TEST

START_TEST(test_merge_passes_threads_without_python_through)
{
    struct bts_python_merge *m = bts_python_merge_new(NULL);
    struct bts_merge_frame out[MAX_OUT];
    struct fake f;
    size_t n;
    memset(&f, 0, sizeof(f));
    fake_native(&f, BTS_MERGE_NATIVE, 0, 0);
    fake_native(&f, BTS_MERGE_NATIVE, 0, 0);
    struct bts_merge_input in = fake_input(&f, false);
    ck_assert_int_eq(bts_python_merge(m, &in, out, MAX_OUT, &n), BTS_MERGE_NO_PYTHON);
    ck_assert_uint_eq(n, 2);
    ck_assert(!out[0].python && !out[1].python);
    /* a thread state read without frames while the loop is on its stack
     * (its module just ended, say) is a torn Python sample */
    fake_native(&f, BTS_MERGE_EVAL, 0x7000, 0x7100);
    in = fake_input(&f, false);
    struct bts_python_thread empty = {0};
    in.python = &empty;
    ck_assert_int_eq(bts_python_merge(m, &in, out, MAX_OUT, &n), BTS_MERGE_TORN_COUNT);
    ck_assert_uint_eq(n, 0);
    bts_python_merge_free(m);
}
END_TEST

START_TEST(test_merge_puts_frames_past_the_stack_copy_on_top)
{
    struct bts_python_merge *m = bts_python_merge_new(NULL);
    struct bts_merge_frame out[MAX_OUT];
    struct fake f;
    size_t n;
    teach(m);
    /* one activation per frame (3.8-3.10): the copy holds b's only */
    memset(&f, 0, sizeof(f));
    fake_native(&f, BTS_MERGE_NATIVE, 0, 0);
    fake_native(&f, BTS_MERGE_EVAL, 0xb000, 0xbc00 + 0x140);
    fake_native(&f, BTS_MERGE_INTERNAL, 0, 0);
    fake_python(&f, 0xb000, 0xbc00, 0x40, true);
    fake_python(&f, 0xa000, 0xac00, 0x10, true);
    struct bts_merge_input in = fake_input(&f, false);
    in.complete = false;
    ck_assert_int_eq(bts_python_merge(m, &in, out, MAX_OUT, &n), BTS_MERGE_OK);
    ck_assert_uint_eq(n, 3); /* leaf, b, a */
    ck_assert(out[1].python == &f.frames[0]);
    ck_assert(out[2].python == &f.frames[1]);
    struct bts_merge_stats st;
    bts_python_merge_stats(m, &st);
    ck_assert_uint_eq(st.truncated, 1);
    /* the same stack unwound to its root has one activation too few */
    in.complete = true;
    ck_assert_int_eq(bts_python_merge(m, &in, out, MAX_OUT, &n), BTS_MERGE_TORN_COUNT);
    bts_python_merge_free(m);
}
END_TEST

/* What the fake reader answers: one frame by address, one code object. */
struct fake_reader {
    struct bts_python_frame frame;
    uint64_t previous;
    int calls;
};

static int fake_read_frame(void *reader, uint64_t frame, struct bts_python_frame *out,
                           uint64_t *previous)
{
    struct fake_reader *r = reader;
    r->calls++;
    if (frame != r->frame.frame)
        return -EFAULT;
    *out = r->frame;
    *previous = r->previous;
    return 0;
}

static int fake_code_at(void *reader, uint64_t addr, uint64_t instr, struct bts_python_frame *out)
{
    struct fake_reader *r = reader;
    r->calls++;
    if (addr < r->frame.bytecode_start || addr >= r->frame.bytecode_end)
        return -ENOENT;
    *out = r->frame;
    out->frame = 0;
    out->instr = instr;
    out->line = (int)(instr - r->frame.bytecode_start);
    return 0;
}

static struct bts_merge_input reader_input(struct fake *f, struct fake_reader *r)
{
    struct bts_merge_input in = fake_input(f, false);
    in.reader = r;
    in.read_frame = fake_read_frame;
    in.code_at = fake_code_at;
    return in;
}

START_TEST(test_merge_rebuilds_a_frame_that_returned_since)
{
    struct bts_python_merge *m = bts_python_merge_new(NULL);
    struct bts_merge_frame out[MAX_OUT];
    struct fake f;
    struct fake_reader r = {0};
    size_t n;
    teach(m);
    /* b returned to a after the sample; b's memory still says so */
    fake_two_frames(&f, 0x40);
    r.frame = f.frames[0];
    r.previous = 0xa000;
    f.thread.n_frames = 0;
    fake_python(&f, 0xa000, 0xac00, 0x12, true);
    struct bts_merge_input in = reader_input(&f, &r);
    ck_assert_int_eq(bts_python_merge(m, &in, out, MAX_OUT, &n), BTS_MERGE_OK);
    ck_assert_uint_eq(n, 4);
    ck_assert(out[2].python && out[2].python->frame == 0xb000 && out[2].python->code == 0xbc00);
    ck_assert(out[3].python == &f.frames[0]);
    /* From 3.11 both sit on the data stack, b right after a's 0x1000 bytes */
    r.frame.stack_bytes = 0x100;
    f.frames[0].stack_bytes = 0x1000;
    ck_assert_int_eq(bts_python_merge(m, &in, out, MAX_OUT, &n), BTS_MERGE_OK);
    /* a returned too, and a later call of another size took its address:
     * b's memory still links there, but no call from it would push b there */
    f.frames[0].stack_bytes = 0x800;
    ck_assert_int_eq(bts_python_merge(m, &in, out, MAX_OUT, &n), BTS_MERGE_TORN_FRAME);
    f.frames[0].stack_bytes = r.frame.stack_bytes = 0;
    /* b's memory links elsewhere: it is not a's callee any more */
    r.previous = 0xe000;
    ck_assert_int_eq(bts_python_merge(m, &in, out, MAX_OUT, &n), BTS_MERGE_TORN_FRAME);
    /* b's memory runs other code now */
    r.previous = 0xa000;
    r.frame.code = 0xcc00;
    r.frame.bytecode_start = 0xcd00;
    r.frame.bytecode_end = 0xce00;
    ck_assert_int_eq(bts_python_merge(m, &in, out, MAX_OUT, &n), BTS_MERGE_TORN_FRAME);
    bts_python_merge_free(m);
}
END_TEST

START_TEST(test_merge_rebuilds_nothing_for_a_sample_in_the_loop_itself)
{
    struct bts_python_merge *m = bts_python_merge_new(NULL);
    struct bts_merge_frame out[MAX_OUT];
    struct fake f;
    struct fake_reader r = {0};
    size_t n;
    teach(m);
    /* the loop itself was running (no call under it): its frame and
     * code pointers may be between two frames, so b, gone from the
     * chain, is not rebuilt */
    memset(&f, 0, sizeof(f));
    fake_native(&f, BTS_MERGE_EVAL, 0xb000, 0xbc00 + 0x140);
    fake_native(&f, BTS_MERGE_INTERNAL, 0, 0);
    fake_python(&f, 0xb000, 0xbc00, 0x40, false);
    r.frame = f.frames[0];
    r.previous = 0xa000;
    f.thread.n_frames = 0;
    fake_python(&f, 0xa000, 0xac00, 0x12, true);
    struct bts_merge_input in = reader_input(&f, &r);
    ck_assert_int_eq(bts_python_merge(m, &in, out, MAX_OUT, &n), BTS_MERGE_TORN_FRAME);
    ck_assert_int_eq(r.calls, 0);
    /* nor when another call took b's place */
    f.thread.n_frames = 0;
    fake_python(&f, 0xb000, 0xcc00, 0x40, false);
    fake_python(&f, 0xa000, 0xac00, 0x10, true);
    ck_assert_int_eq(bts_python_merge(m, &in, out, MAX_OUT, &n), BTS_MERGE_TORN_CODE);
    ck_assert_int_eq(r.calls, 0);
    /* the chain read agreeing is merged */
    f.thread.n_frames = 0;
    fake_python(&f, 0xb000, 0xbc00, 0x40, false);
    fake_python(&f, 0xa000, 0xac00, 0x10, true);
    ck_assert_int_eq(bts_python_merge(m, &in, out, MAX_OUT, &n), BTS_MERGE_OK);
    ck_assert_uint_eq(n, 2);
    bts_python_merge_free(m);
}
END_TEST

/* leaf -> eval (frame b) -> call plumbing -> eval (frame a): two
 * activations, Python frames to be added. */
static void fake_two_activations(struct fake *f)
{
    memset(f, 0, sizeof(*f));
    fake_native(f, BTS_MERGE_NATIVE, 0, 0);
    fake_native(f, BTS_MERGE_EVAL, 0xb000, 0xbc00 + 0x140);
    fake_native(f, BTS_MERGE_INTERNAL, 0, 0);
    fake_native(f, BTS_MERGE_EVAL, 0xa000, 0xac00 + 0x110);
}

START_TEST(test_merge_rebuilds_an_activation_a_later_call_replaced)
{
    struct bts_python_merge *m = bts_python_merge_new(NULL);
    struct bts_merge_frame out[MAX_OUT];
    struct fake f;
    struct fake_reader r = {0};
    size_t n;
    teach(m);
    /* one activation per frame (3.8-3.10): b ran alone in the inner one;
     * by the read b returned and a called c from the same place */
    fake_two_activations(&f);
    fake_python(&f, 0xb000, 0xbc00, 0x40, true);
    r.frame = f.frames[0];
    r.previous = 0xa000;
    f.thread.n_frames = 0;
    fake_python(&f, 0xc000, 0xcc00, 0x10, true);
    fake_python(&f, 0xa000, 0xac00, 0x10, true);
    struct bts_merge_input in = reader_input(&f, &r);
    ck_assert_int_eq(bts_python_merge(m, &in, out, MAX_OUT, &n), BTS_MERGE_OK);
    ck_assert_uint_eq(n, 3); /* leaf, b, a */
    ck_assert(out[1].python && out[1].python->frame == 0xb000 && out[1].python->code == 0xbc00);
    ck_assert(out[2].python == &f.frames[1]);
    /* b's memory names another caller */
    r.previous = 0xe000;
    ck_assert_int_eq(bts_python_merge(m, &in, out, MAX_OUT, &n), BTS_MERGE_TORN_FRAME);
    bts_python_merge_free(m);
}
END_TEST

START_TEST(test_merge_is_torn_when_another_call_took_the_frames_address)
{
    struct bts_python_merge *m = bts_python_merge_new(NULL);
    struct bts_merge_frame out[MAX_OUT];
    struct fake f;
    struct fake_reader r = {0};
    size_t n;
    teach(m);
    /* b returned and c was called at the same address */
    fake_two_frames(&f, 0x40);
    r.frame = f.frames[0];
    f.thread.n_frames = 0;
    fake_python(&f, 0xb000, 0xcc00, 0x40, false);
    fake_python(&f, 0xa000, 0xac00, 0x10, true);
    struct bts_merge_input in = reader_input(&f, &r);
    ck_assert_int_eq(bts_python_merge(m, &in, out, MAX_OUT, &n), BTS_MERGE_TORN_CODE);
    ck_assert_uint_eq(n, 0);
    /* pandas under 3.11: b, a property a called through C, ran alone in
     * the inner activation; by the read a had resumed generator g, and g
     * called c at b's address. b's callers were a's, not g. */
    fake_two_activations(&f);
    fake_python(&f, 0xb000, 0xcc00, 0x20, false);
    fake_python(&f, 0x9000, 0x9c00, 0x10, true);
    fake_python(&f, 0xa000, 0xac00, 0x10, true);
    r.frame = f.frames[0];
    r.frame.code = 0xbc00;
    r.frame.bytecode_start = 0xbd00;
    r.frame.bytecode_end = 0xbe00;
    in = reader_input(&f, &r);
    ck_assert_int_eq(bts_python_merge(m, &in, out, MAX_OUT, &n), BTS_MERGE_TORN_CODE);
    /* a partial merge: the outer activation still runs a, as the sample
     * shows; the inner one is torn, and no other Python frame is shown */
    ck_assert_uint_ge(n, 2);
    ck_assert(out[n - 1].python && out[n - 1].python->frame == 0xa000);
    bool torn = false;
    for (size_t i = 0; i + 1 < n; i++) {
        ck_assert(!out[i].python);
        torn |= out[i].torn;
    }
    ck_assert(torn);
    struct bts_merge_stats st;
    bts_python_merge_stats(m, &st);
    ck_assert_uint_eq(st.partial, 1);
    /* nor when the outer activation no longer runs a */
    f.frames[2].frame = 0xa800;
    ck_assert_int_ne(bts_python_merge(m, &in, out, MAX_OUT, &n), BTS_MERGE_OK);
    ck_assert_uint_eq(n, 0);
    bts_python_merge_free(m);
}
END_TEST

START_TEST(test_merge_leaves_out_frames_pushed_since)
{
    struct bts_python_merge *m = bts_python_merge_new(NULL);
    struct bts_merge_frame out[MAX_OUT];
    struct fake f;
    size_t n;
    teach(m);
    /* b called d (in the same activation) after the sample */
    fake_two_frames(&f, 0x40);
    f.thread.n_frames = 0;
    fake_python(&f, 0xd000, 0xdc00, 0x10, false);
    fake_python(&f, 0xb000, 0xbc00, 0x40, false);
    fake_python(&f, 0xa000, 0xac00, 0x10, true);
    struct bts_merge_input in = fake_input(&f, false);
    ck_assert_int_eq(bts_python_merge(m, &in, out, MAX_OUT, &n), BTS_MERGE_OK);
    ck_assert_uint_eq(n, 4);
    ck_assert(out[2].python == &f.frames[1]);
    ck_assert(out[3].python == &f.frames[2]);
    bts_python_merge_free(m);
}
END_TEST

START_TEST(test_merge_leaves_out_calls_made_since_unless_a_nameless_frame_hides_one)
{
    struct bts_python_merge *m = bts_python_merge_new(NULL);
    struct bts_merge_frame out[MAX_OUT];
    struct fake f;
    size_t n;
    teach(m);
    /* after the sample, the sorted list's C code called e back (a new
     * activation, entry frame e) */
    fake_two_frames(&f, 0x40);
    f.thread.n_frames = 0;
    fake_python(&f, 0xe000, 0xec00, 0x10, true);
    fake_python(&f, 0xb000, 0xbc00, 0x40, false);
    fake_python(&f, 0xa000, 0xac00, 0x10, true);
    struct bts_merge_input in = fake_input(&f, false);
    ck_assert_int_eq(bts_python_merge(m, &in, out, MAX_OUT, &n), BTS_MERGE_OK);
    ck_assert_uint_eq(n, 4);
    ck_assert(out[2].python == &f.frames[1]);
    /* a nameless frame under the loop could be a loop of its own, running
     * e: then e would be the sample's, not a later call */
    f.kinds[1] = BTS_MERGE_UNKNOWN;
    ck_assert_int_eq(bts_python_merge(m, &in, out, MAX_OUT, &n), BTS_MERGE_TORN_COUNT);
    bts_python_merge_free(m);
}
END_TEST

START_TEST(test_merge_is_torn_while_its_loop_pushes_or_pops_a_frame_not_a_later_one)
{
    struct bts_python_merge *m = bts_python_merge_new(NULL);
    struct bts_merge_frame out[MAX_OUT];
    struct fake f;
    size_t n;
    teach(m);
    /* the loop is popping a frame: its own pointer and the chain may
     * disagree, even where the chain read matches */
    fake_two_frames(&f, 0x40);
    f.kinds[1] = BTS_MERGE_FRAME_OP;
    struct bts_merge_input in = fake_input(&f, false);
    ck_assert_int_eq(bts_python_merge(m, &in, out, MAX_OUT, &n), BTS_MERGE_TORN_FRAME);
    /* list.sort pushes its key function's frame: a later activation's,
     * not the one under it, whose frame the sample still vouches for */
    f.kinds[1] = BTS_MERGE_NATIVE;
    f.kinds[0] = BTS_MERGE_FRAME_OP;
    ck_assert_int_eq(bts_python_merge(m, &in, out, MAX_OUT, &n), BTS_MERGE_OK);
    ck_assert(out[n - 2].python == &f.frames[0]);
    bts_python_merge_free(m);
}
END_TEST

START_TEST(test_merge_shows_an_innermost_activation_at_its_start_as_unknown)
{
    struct bts_python_merge *m = bts_python_merge_new(NULL);
    struct bts_merge_frame out[MAX_OUT];
    struct fake f;
    size_t n;
    teach(m);
    /* list.sort called e back: its activation has just started (in the
     * loop itself, its pointers not set yet), and e has returned since;
     * with native code of its own under it, that code's caller is unknown */
    for (int own_code = 0; own_code < 2; own_code++) {
        memset(&f, 0, sizeof(f));
        if (own_code)
            fake_native(&f, BTS_MERGE_NATIVE, 0, 0);                    /* float_neg */
        fake_native(&f, BTS_MERGE_EVAL, 0x9999, 0);                     /* e's loop */
        fake_native(&f, BTS_MERGE_INTERNAL, 0, 0);                      /* vectorcall */
        fake_native(&f, BTS_MERGE_NATIVE, 0, 0);                        /* list_sort */
        fake_native(&f, BTS_MERGE_EVAL, 0xb000, 0xbc00 + 0x100 + 0x40); /* b's loop */
        fake_native(&f, BTS_MERGE_INTERNAL, 0, 0);                      /* Py_RunMain */
        fake_python(&f, 0xb000, 0xbc00, 0x40, false);
        fake_python(&f, 0xa000, 0xac00, 0x10, true);
        struct bts_merge_input in = fake_input(&f, false);
        if (own_code) {
            ck_assert_int_ne(bts_python_merge(m, &in, out, MAX_OUT, &n), BTS_MERGE_OK);
            continue;
        }
        ck_assert_int_eq(bts_python_merge(m, &in, out, MAX_OUT, &n), BTS_MERGE_OK);
        ck_assert(out[0].unknown);
        ck_assert(!out[1].python && out[1].native == 2);
        ck_assert(out[2].python == &f.frames[0]);
        ck_assert(out[3].python == &f.frames[1]);
    }
    bts_python_merge_free(m);
}
END_TEST

START_TEST(test_merge_read_while_stopped_leaves_out_a_call_not_started_and_marks_one_ending)
{
    struct bts_python_merge *m = bts_python_merge_new(NULL);
    struct bts_merge_frame out[MAX_OUT];
    struct fake f;
    size_t n;
    /* list.sort pushed its key function's frame e; e's loop has not
     * started: e has not run */
    memset(&f, 0, sizeof(f));
    fake_native(&f, BTS_MERGE_FRAME_OP, 0, 0);                      /* push */
    fake_native(&f, BTS_MERGE_INTERNAL, 0, 0);                      /* vectorcall */
    fake_native(&f, BTS_MERGE_NATIVE, 0, 0);                        /* list_sort */
    fake_native(&f, BTS_MERGE_EVAL, 0xb000, 0xbc00 + 0x100 + 0x40); /* b's loop */
    fake_native(&f, BTS_MERGE_INTERNAL, 0, 0);                      /* Py_RunMain */
    fake_python(&f, 0xe000, 0xec00, 0, true);
    fake_python(&f, 0xb000, 0xbc00, 0x40, false);
    fake_python(&f, 0xa000, 0xac00, 0x10, true);
    struct bts_merge_input in = fake_input(&f, true);
    ck_assert_int_eq(bts_python_merge(m, &in, out, MAX_OUT, &n), BTS_MERGE_OK);
    ck_assert_uint_eq(n, 3);
    ck_assert(!out[0].python && out[0].native == 2);
    ck_assert(out[1].python == &f.frames[1]);
    /* e's loop is ending, its frame gone from the chain already */
    f.kinds[0] = BTS_MERGE_EVAL;
    f.frames[0] = f.frames[1];
    f.frames[1] = f.frames[2];
    f.thread.n_frames = 2;
    ck_assert_int_eq(bts_python_merge(m, &in, out, MAX_OUT, &n), BTS_MERGE_OK);
    ck_assert(out[0].unknown);
    ck_assert(!out[1].python && out[1].native == 2);
    ck_assert(out[2].python == &f.frames[0]);
    bts_python_merge_free(m);
}
END_TEST

START_TEST(test_merge_is_torn_when_copies_of_the_frame_disagree)
{
    struct bts_python_merge *m = bts_python_merge_new(NULL);
    struct bts_merge_frame out[MAX_OUT];
    struct fake f;
    size_t n;
    fake_copy = true;
    teach(m);
    fake_two_frames(&f, 0x40);
    struct bts_merge_input in = fake_input(&f, false);
    ck_assert_int_eq(bts_python_merge(m, &in, out, MAX_OUT, &n), BTS_MERGE_OK);
    /* r12 says another frame: the loop is between two */
    f.native[3].saved[R12] = 0xe000;
    ck_assert_int_eq(bts_python_merge(m, &in, out, MAX_OUT, &n), BTS_MERGE_TORN_FRAME);
    fake_copy = false;
    bts_python_merge_free(m);
}
END_TEST

/* --- recorded samples -------------------------------------------------------- */

#define MAX_ANSWERS 16

/* What the late reader answered the merge, replayed in the same order. */
struct answer {
    char kind; /* 'f': read_frame, 'c': code_at */
    uint64_t addr, instr, previous;
    int rc;
    struct bts_python_frame frame;
    char name[64];
};

struct recorded {
    char version[32];
    uint64_t regs[BTS_REG_COUNT];
    struct bts_unwind_frame native[MAX_NATIVE];
    uint8_t kinds[MAX_NATIVE];
    char names[MAX_NATIVE][96];
    size_t n_native;
    uint64_t stack[MAX_WORDS];
    uint64_t stack_words;
    struct bts_python_frame py[2][MAX_PY];
    char py_names[2][MAX_PY][64];
    struct bts_python_thread thread[2];
    struct answer answers[MAX_ANSWERS];
    size_t n_answers, next_answer;
};

struct replay {
    unsigned samples, truth_torn, published, partial, wrong, lines_differ;
    struct bts_merge_stats late;
    char anchor_frame[16], anchor_code[16];
};

/* FRAME CODE INSTR BSTART BEND ENTRY LINE NAME into `f`; false if malformed. */
static bool parse_frame(const char *line, struct bts_python_frame *f, char *name, size_t len)
{
    unsigned long frame, code, instr, bs, be;
    int entry, lineno, pos = 0;
    memset(f, 0, sizeof(*f));
    if (sscanf(line, "%lx %lx %lx %lx %lx %d %d %n", &frame, &code, &instr, &bs, &be, &entry,
               &lineno, &pos) < 7)
        return false;
    snprintf(name, len, "%.*s", (int)strcspn(line + pos, "\n"), line + pos);
    *f = (struct bts_python_frame){.name = name,
                                   .filename = "?",
                                   .line = lineno,
                                   .is_entry = entry != 0,
                                   .code = code,
                                   .frame = frame,
                                   .instr = instr,
                                   .bytecode_start = bs,
                                   .bytecode_end = be};
    return true;
}

static void parse_py(struct recorded *r, int which, const char *line)
{
    struct bts_python_thread *t = &r->thread[which];
    if (t->n_frames == MAX_PY ||
        !parse_frame(line, &r->py[which][t->n_frames], r->py_names[which][t->n_frames], 64))
        return;
    t->frames = r->py[which];
    t->n_frames++;
}

static void parse_answer(struct recorded *r, char kind, const char *line)
{
    struct answer *a = &r->answers[r->n_answers];
    unsigned long x, y;
    int rc, pos = 0;
    if (r->n_answers == MAX_ANSWERS || sscanf(line, "%lx %d %lx %n", &x, &rc, &y, &pos) < 3)
        return;
    memset(a, 0, sizeof(*a));
    a->kind = kind;
    a->rc = rc;
    if (kind == 'f') {
        a->addr = x;
        a->previous = y;
    } else {
        /* ca ADDR INSTR RC: the second and third fields the other way round */
        pos = 0;
        if (sscanf(line, "%lx %lx %d %n", &x, &y, &rc, &pos) < 3)
            return;
        a->addr = x;
        a->instr = y;
        a->rc = rc;
    }
    if (parse_frame(line + pos, &a->frame, a->name, sizeof(a->name)))
        r->n_answers++;
}

static const struct answer *next_answer(struct recorded *r, char kind, uint64_t addr,
                                        uint64_t instr)
{
    if (r->next_answer == r->n_answers)
        return NULL;
    const struct answer *a = &r->answers[r->next_answer++];
    if (a->kind != kind || a->addr != addr || (kind == 'c' && a->instr != instr))
        return NULL;
    return a;
}

static int replay_read_frame(void *reader, uint64_t frame, struct bts_python_frame *out,
                             uint64_t *previous)
{
    const struct answer *a = next_answer(reader, 'f', frame, 0);
    if (!a)
        return -ENOENT;
    *out = a->frame;
    *previous = a->previous;
    return a->rc;
}

static int replay_code_at(void *reader, uint64_t addr, uint64_t instr, struct bts_python_frame *out)
{
    const struct answer *a = next_answer(reader, 'c', addr, instr);
    if (!a)
        return -ENOENT;
    *out = a->frame;
    return a->rc;
}

static void parse_native(struct recorded *r, const char *line)
{
    if (r->n_native == MAX_NATIVE)
        return;
    struct bts_unwind_frame *f = &r->native[r->n_native];
    unsigned long pc, sp, cfa, s[BTS_UNWIND_NSAVED];
    unsigned valid;
    int outermost, pos = 0;
    if (sscanf(line, "%lx %lx %lx %x %d %lx %lx %lx %lx %lx %lx %n", &pc, &sp, &cfa, &valid,
               &outermost, &s[0], &s[1], &s[2], &s[3], &s[4], &s[5], &pos) < 11)
        return;
    *f = (struct bts_unwind_frame){
        .pc = pc, .sp = sp, .cfa = cfa, .saved_valid = (uint8_t)valid, .outermost = outermost != 0};
    for (int k = 0; k < BTS_UNWIND_NSAVED; k++)
        f->saved[k] = s[k];
    snprintf(r->names[r->n_native], sizeof(r->names[0]), "%.*s", (int)strcspn(line + pos, "\n"),
             line + pos);
    r->kinds[r->n_native] = (uint8_t)bts_python_merge_classify(r->names[r->n_native]);
    r->n_native++;
}

static void parse_words(struct recorded *r, const char *line)
{
    char *end;
    uint64_t sp = strtoull(line, &end, 16);
    uint64_t at = (sp - r->regs[BTS_REG_SP]) / 8;
    for (const char *p = end; at < MAX_WORDS; at++) {
        char *next;
        uint64_t v = strtoull(p, &next, 16);
        if (next == p)
            break;
        r->stack[at] = v;
        if (at + 1 > r->stack_words)
            r->stack_words = at + 1;
        p = next;
    }
}

static const char *frame_name(const struct recorded *r, const struct bts_merge_frame *f)
{
    return f->unknown  ? "[python frame unknown]"
           : f->python ? f->python->name
                       : r->names[f->native];
}

static void replay_sample(struct recorded *r, struct bts_python_merge *truth,
                          struct bts_python_merge *late, struct replay *out)
{
    static struct bts_merge_frame to[MAX_OUT], lo[MAX_OUT];
    size_t nt, nl;
    bool lines_differ;
    if (!r->n_native)
        return;
    struct bts_merge_input in = {
        .native = r->native,
        .kinds = r->kinds,
        .n_native = r->n_native,
        .complete = r->native[r->n_native - 1].outermost,
        .regs = r->regs,
        .stack = (const uint8_t *)r->stack,
        .stack_size = r->stack_words * 8,
        .python = &r->thread[0],
        .trusted = true,
    };
    out->samples++;
    enum bts_merge_result rt = bts_python_merge(truth, &in, to, MAX_OUT, &nt);
    in.python = r->thread[1].n_frames ? &r->thread[1] : NULL;
    in.trusted = false;
    in.reader = r;
    in.read_frame = replay_read_frame;
    in.code_at = replay_code_at;
    r->next_answer = 0;
    enum bts_merge_result rl = bts_python_merge(late, &in, lo, MAX_OUT, &nl);
    if (rt != BTS_MERGE_OK) {
        out->truth_torn++;
        return;
    }
    if (rl != BTS_MERGE_OK && (rl == BTS_MERGE_NO_PYTHON || nl == 0))
        return;
    /* a partial merge is held to the truth as a full one is */
    if (rl != BTS_MERGE_OK)
        out->partial++;
    else
        out->published++;
    if (!same_merge(to, nt, lo, nl, &lines_differ)) {
        out->wrong++;
        fprintf(stderr, "wrong merge in sample %u (%s):\n", out->samples, r->version);
        for (size_t i = 0; i < nt || i < nl; i++)
            fprintf(stderr, "  %-40s | %s\n", i < nt ? frame_name(r, &to[i]) : "",
                    i < nl ? frame_name(r, &lo[i]) : "");
    } else if (lines_differ) {
        out->lines_differ++;
    }
}

/* Replays every sample of `path`. */
static int replay_file(const char *path, struct replay *out)
{
    static struct recorded r;
    char line[64 * 1024];
    gzFile gz = gzopen(path, "rb");
    struct bts_python_merge *truth = bts_python_merge_new(NULL);
    struct bts_python_merge *late = bts_python_merge_new(NULL);
    bool in_sample = false;
    memset(out, 0, sizeof(*out));
    memset(&r, 0, sizeof(r));
    if (!gz || !truth || !late)
        return -1;
    while (gzgets(gz, line, sizeof(line))) {
        if (strncmp(line, "version ", 8) == 0) {
            snprintf(r.version, sizeof(r.version), "%.*s", (int)strcspn(line + 8, "\n"), line + 8);
        } else if (strncmp(line, "sample", 6) == 0) {
            char version[32];
            memcpy(version, r.version, sizeof(version));
            memset(&r, 0, sizeof(r));
            memcpy(r.version, version, sizeof(version));
            in_sample = true;
        } else if (in_sample && strncmp(line, "regs ", 5) == 0) {
            char *p = line + 5;
            for (int i = 0; i < BTS_REG_COUNT; i++)
                r.regs[i] = strtoull(p, &p, 16);
        } else if (in_sample && strncmp(line, "native ", 7) == 0) {
            parse_native(&r, line + 7);
        } else if (in_sample && strncmp(line, "words ", 6) == 0) {
            parse_words(&r, line + 6);
        } else if (in_sample && strncmp(line, "py truth ", 9) == 0) {
            parse_py(&r, 0, line + 9);
        } else if (in_sample && strncmp(line, "py late ", 8) == 0) {
            parse_py(&r, 1, line + 8);
        } else if (in_sample && strncmp(line, "rf ", 3) == 0) {
            parse_answer(&r, 'f', line + 3);
        } else if (in_sample && strncmp(line, "ca ", 3) == 0) {
            parse_answer(&r, 'c', line + 3);
        } else if (in_sample && strncmp(line, "end", 3) == 0) {
            replay_sample(&r, truth, late, out);
            in_sample = false;
        }
    }
    gzclose(gz);
    bts_python_merge_stats(late, &out->late);
    bts_python_merge_anchors(late, out->anchor_frame, out->anchor_code, sizeof(out->anchor_frame));
    bts_python_merge_free(truth);
    bts_python_merge_free(late);
    return 0;
}

static const char *const recordings[] = {
    "mixed-3.8",         "mixed-3.9",  "mixed-3.10", "mixed-3.11",
    "mixed-3.11-debian", "mixed-3.12", "mixed-3.13",
};

START_TEST(test_recorded_late_merges_equal_the_truth)
{
    char path[4096];
    struct replay rp;
    snprintf(path, sizeof(path), "%s/%s.txt.gz", BTS_MERGE_DATA_DIR, recordings[_i]);
    ck_assert_int_eq(replay_file(path, &rp), 0);
    unsigned considered = rp.samples - rp.truth_torn;
    printf("%-18s samples %3u, published %3u of %3u, partly %u, wrong %u, lines differ %u, "
           "anchors %s/%s\n",
           recordings[_i], rp.samples, rp.published, considered, rp.partial, rp.wrong,
           rp.lines_differ, rp.anchor_frame, rp.anchor_code);
    printf("  late:");
    for (int r = 0; r < BTS_MERGE_RESULT_COUNT; r++)
        printf(" %s=%lu", bts_python_merge_result_name(r), (unsigned long)rp.late.results[r]);
    printf("\n");
    fflush(stdout);
    ck_assert_uint_ge(rp.samples, 200);
    ck_assert_uint_eq(rp.wrong, 0);
    /* Read 1 ms after the sample: some are torn, most are not. */
    ck_assert_uint_ge(rp.published * 100, considered * 85);
    ck_assert(rp.anchor_frame[0] && rp.anchor_code[0]);
}
END_TEST

static Suite *bts_python_merge_suite(void)
{
    Suite *s = suite_create("python-merge");
    TCase *tc = tcase_create("rules");
    tcase_add_test(tc, test_classify_names_the_loop_its_cold_part_and_the_plumbing);
    tcase_add_test(tc, test_merge_puts_python_frames_where_the_loop_was);
    tcase_add_test(tc, test_merge_keeps_the_plumbing_when_asked);
    tcase_add_test(tc, test_merge_is_torn_until_the_anchors_are_learned);
    tcase_add_test(tc, test_merge_learns_where_the_loop_keeps_its_frame_now);
    tcase_add_test(tc, test_merge_is_torn_when_the_frame_moved);
    tcase_add_test(tc, test_merge_is_torn_when_the_frame_runs_other_code);
    tcase_add_test(tc, test_merge_is_torn_when_activations_and_runs_differ);
    tcase_add_test(tc, test_merge_passes_threads_without_python_through);
    tcase_add_test(tc, test_merge_puts_frames_past_the_stack_copy_on_top);
    tcase_add_test(tc, test_merge_rebuilds_a_frame_that_returned_since);
    tcase_add_test(tc, test_merge_rebuilds_nothing_for_a_sample_in_the_loop_itself);
    tcase_add_test(tc, test_merge_rebuilds_an_activation_a_later_call_replaced);
    tcase_add_test(tc, test_merge_is_torn_when_another_call_took_the_frames_address);
    tcase_add_test(tc, test_merge_leaves_out_frames_pushed_since);
    tcase_add_test(tc, test_merge_leaves_out_calls_made_since_unless_a_nameless_frame_hides_one);
    tcase_add_test(tc, test_merge_is_torn_while_its_loop_pushes_or_pops_a_frame_not_a_later_one);
    tcase_add_test(tc, test_merge_shows_an_innermost_activation_at_its_start_as_unknown);
    tcase_add_test(
        tc, test_merge_read_while_stopped_leaves_out_a_call_not_started_and_marks_one_ending);
    tcase_add_test(tc, test_merge_is_torn_when_copies_of_the_frame_disagree);
    suite_add_tcase(s, tc);
    tc = tcase_create("recorded");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_recorded_late_merges_equal_the_truth, 0,
                        sizeof(recordings) / sizeof(recordings[0]));
    suite_add_tcase(s, tc);
    return s;
}

/* With files as arguments: replays each and prints what it gave. */
static int replay_files(int argc, char **argv)
{
    int ret = 0;
    for (int i = 1; i < argc; i++) {
        struct replay rp;
        if (replay_file(argv[i], &rp) < 0) {
            fprintf(stderr, "check-python-merge: cannot read '%s'\n", argv[i]);
            ret = 1;
            continue;
        }
        printf("%s: samples %u, truth torn %u, published %u, partly %u, wrong %u, lines "
               "differ %u, anchors %s/%s\n ",
               argv[i], rp.samples, rp.truth_torn, rp.published, rp.partial, rp.wrong,
               rp.lines_differ, rp.anchor_frame, rp.anchor_code);
        for (int r = 0; r < BTS_MERGE_RESULT_COUNT; r++)
            printf(" %s=%lu", bts_python_merge_result_name(r), (unsigned long)rp.late.results[r]);
        printf("\n");
        ret |= rp.wrong != 0;
    }
    return ret;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        return replay_files(argc, argv);
    SRunner *sr = srunner_create(bts_python_merge_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
