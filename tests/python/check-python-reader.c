/* SPDX-License-Identifier: MIT */
/* check-python-reader: the frame reader over a fake interpreter built in
 * memory with each version's layout (names, lines, entry frames, the GIL,
 * and every kind of broken chain), over recorded snapshots of real ones,
 * and the 3.13 _Py_DebugOffsets parser. Needs python-reader-private.h. */
#define _GNU_SOURCE

#include "python-reader-private.h"
#include "python-reader.h"
#include "python-snapshot.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BASE     0x10000000ull
#define MEM_SIZE (4u << 20)
#define UNMAPPED 0xdead0000ull

/* Line-table bytes that put byte offsets [0, 6) on first + 1 and [6, 12)
 * on first + 2, one per format. */
static const uint8_t lnotab[] = {0, 1, 6, 1};
static const uint8_t linetable310[] = {6, 1, 6, 1};
/* two no-column entries of 3 code units, each +1 line (svarint 2) */
static const uint8_t locations[] = {0x80 | (13 << 3) | 2, 2, 0x80 | (13 << 3) | 2, 2};
#define OFFSET   8 /* the byte offset every frame is at */
#define FIRST    40
#define WANT_TID 4242

struct fake {
    struct py_layout l;
    unsigned version;
    uint8_t *mem;
    uint64_t brk;
    uint64_t code_type, unicode_type;
    uint64_t runtime, interp, tstate;
    uint64_t frames[3]; /* innermost first */
    uint64_t codes[3];
    uint64_t dead_once; /* the first read of this word gives 0 */
};

static int fake_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
    struct fake *f = ctx;

    if (addr < BASE || addr - BASE > MEM_SIZE || len > MEM_SIZE - (addr - BASE))
        return -EFAULT;
    memcpy(buf, f->mem + (addr - BASE), len);
    /* an object freed and brought back between two reads */
    if (f->dead_once && f->dead_once >= addr && f->dead_once + 8 <= addr + len) {
        memset((uint8_t *)buf + (f->dead_once - addr), 0, 8);
        f->dead_once = 0;
    }
    return 0;
}

static uint64_t alloc(struct fake *f, size_t n)
{
    uint64_t at = BASE + f->brk;

    f->brk += (n + 15) & ~(size_t)15;
    ck_assert_uint_le(f->brk, MEM_SIZE);
    return at;
}

static void put(struct fake *f, uint64_t addr, const void *v, size_t n)
{
    memcpy(f->mem + (addr - BASE), v, n);
}

static void put64(struct fake *f, uint64_t addr, uint64_t v)
{
    put(f, addr, &v, 8);
}

static void put32(struct fake *f, uint64_t addr, uint32_t v)
{
    put(f, addr, &v, 4);
}

static void put8(struct fake *f, uint64_t addr, uint8_t v)
{
    put(f, addr, &v, 1);
}

/* A compact str: ASCII (kind 1) or UCS-2 (kind 2) from `text`. */
static uint64_t make_str_kind(struct fake *f, const uint16_t *text, size_t len, unsigned kind)
{
    const struct py_layout *l = &f->l;
    bool ascii = kind == 1;
    uint64_t data, a = alloc(f, l->unicode_compact_size + len * kind + 2);

    put64(f, a, 1); /* ob_refcnt */
    put64(f, a + l->object_type, f->unicode_type);
    put64(f, a + l->unicode_length, len);
    put64(f, a + l->unicode_length + 8, 0x1234 + len);
    put32(f, a + l->unicode_state, (kind << 2) | (1u << 5) | (ascii ? 1u << 6 : 0));
    data = a + (ascii ? l->unicode_ascii_size : l->unicode_compact_size);
    for (size_t i = 0; i < len; i++) {
        if (kind == 1)
            put8(f, data + i, (uint8_t)text[i]);
        else
            put(f, data + i * 2, &text[i], 2);
    }
    return a;
}

static uint64_t make_str(struct fake *f, const char *s)
{
    uint16_t wide[64];
    size_t n = strlen(s);

    for (size_t i = 0; i < n; i++)
        wide[i] = (uint8_t)s[i];
    return make_str_kind(f, wide, n, 1);
}

static uint64_t make_bytes(struct fake *f, const uint8_t *data, size_t n)
{
    uint64_t a = alloc(f, f->l.bytes_data + n + 1);

    put64(f, a + f->l.bytes_size, n);
    put(f, a + f->l.bytes_data, data, n);
    return a;
}

static uint64_t make_code(struct fake *f, const char *name, const char *qualname)
{
    const struct py_layout *l = &f->l;
    uint64_t a = alloc(f, 512);
    const uint8_t *table = l->lines_kind == PY_LINES_LNOTAB ? lnotab
                           : l->lines_kind == PY_LINES_310  ? linetable310
                                                            : locations;

    put64(f, a, 1);
    put64(f, a + l->object_type, f->code_type);
    put64(f, a + l->code_filename, make_str(f, "/src/app.py"));
    put64(f, a + l->code_name, make_str(f, name));
    if (l->code_qualname != PY_NONE)
        put64(f, a + l->code_qualname, make_str(f, qualname));
    put32(f, a + l->code_firstlineno, FIRST);
    put64(f, a + l->code_linetable, make_bytes(f, table, 4));
    return a;
}

/* Points frame `at` at code `code` with instruction offset OFFSET. */
static void set_frame(struct fake *f, uint64_t at, uint64_t code, uint64_t previous, bool entry)
{
    const struct py_layout *l = &f->l;

    put64(f, at + l->frame_previous, previous);
    put64(f, at + l->frame_code, code);
    if (l->frame_kind == PY_FRAME_OBJECT) {
        put64(f, at, 1);
        put32(f, at + l->frame_instr, OFFSET / l->lasti_scale);
        return;
    }
    put64(f, at + l->frame_instr, code + l->code_adaptive + OFFSET);
    if (l->frame_owner != PY_NONE)
        put8(f, at + l->frame_owner, 0);
    if (l->frame_is_entry != PY_NONE)
        put8(f, at + l->frame_is_entry, entry);
}

/* A C-stack shim frame (3.12+) in front of `previous`. */
static uint64_t make_shim(struct fake *f, uint64_t previous)
{
    uint64_t s = alloc(f, 128);

    put64(f, s + f->l.frame_previous, previous);
    put64(f, s + f->l.frame_code, 0);
    put8(f, s + f->l.frame_owner, (uint8_t)f->l.owner_cstack);
    return s;
}

/* One interpreter, one thread holding the GIL, running
 * <module> -> middle -> leaf, where middle and <module> each start a C
 * call into the evaluation loop. */
static struct fake *fake_new(unsigned version)
{
    struct fake *f = calloc(1, sizeof(*f));
    struct py_layout *l = &f->l;
    uint64_t gil, below_middle, below_module;

    ck_assert_ptr_nonnull(f);
    f->mem = calloc(1, MEM_SIZE);
    ck_assert_ptr_nonnull(f->mem);
    f->version = version;
    ck_assert_int_eq(py_layout_init(l, version, fake_read, f, 0), 0);
    f->brk = PY_PAGE_SIZE; /* keep the first page unused */
    f->code_type = alloc(f, 64);
    f->unicode_type = alloc(f, 64);
    f->runtime = alloc(f, 4096);
    f->interp = alloc(f, 4096);
    f->tstate = alloc(f, 512);
    put64(f, f->runtime + l->runtime_interpreters_head, f->interp);
    put64(f, f->interp + l->interp_threads_head, f->tstate);
    if (l->gil_base == PY_GIL_IN_RUNTIME) {
        gil = f->runtime + l->gil;
    } else {
        gil = alloc(f, 64);
        put64(f, f->interp + l->gil, gil);
    }
    put32(f, gil + l->gil_locked, 1);
    put64(f, gil + l->gil_last_holder, f->tstate);
    put64(f, f->tstate + l->tstate_interp, f->interp);
    put64(f, f->tstate + l->tstate_thread_id, 0x7f0000001000ull);
    if (l->tstate_native_thread_id != PY_NONE)
        put64(f, f->tstate + l->tstate_native_thread_id, WANT_TID);

    f->codes[0] = make_code(f, "leaf", "leaf");
    f->codes[1] = make_code(f, "middle", "Klass.middle");
    f->codes[2] = make_code(f, "<module>", "<module>");
    for (int i = 0; i < 3; i++)
        f->frames[i] = alloc(f, 128);
    below_module = l->owner_cstack >= 0 ? make_shim(f, 0) : 0;
    below_middle = l->owner_cstack >= 0 ? make_shim(f, f->frames[2]) : f->frames[2];
    set_frame(f, f->frames[0], f->codes[0], f->frames[1], false);
    set_frame(f, f->frames[1], f->codes[1], below_middle, true);
    set_frame(f, f->frames[2], f->codes[2], below_module, true);
    if (l->cframe_frame != PY_NONE) {
        uint64_t cframe = alloc(f, 64);

        put64(f, f->tstate + l->tstate_frame, cframe);
        put64(f, cframe + l->cframe_frame, f->frames[0]);
    } else {
        put64(f, f->tstate + l->tstate_frame, f->frames[0]);
    }
    return f;
}

static struct bts_python *fake_reader(struct fake *f)
{
    struct bts_python_target t = {
        .version_hex = f->version,
        .runtime = f->runtime,
        .code_type = f->code_type,
        .unicode_type = f->unicode_type,
        .pthread_tid_offset = -1,
    };
    struct bts_python *py = bts_python_new_reader(&t, fake_read, f);

    ck_assert_ptr_nonnull(py);
    return py;
}

static void fake_free(struct fake *f)
{
    free(f->mem);
    free(f);
}

static const unsigned table_versions[] = {0x030812f0, 0x030912f0, 0x030a0df0, 0x030b07f0,
                                          0x030c01f0};

START_TEST(test_reader_gives_names_lines_entries_and_gil_for_each_table_version)
{
    struct fake *f = fake_new(table_versions[_i]);
    struct bts_python *py = fake_reader(f);
    struct bts_python_sample s;
    const struct bts_python_thread *t;
    bool qualnames = f->l.code_qualname != PY_NONE;
    bool all_entries = f->l.frame_kind == PY_FRAME_OBJECT;

    ck_assert_int_eq(bts_python_sample(py, &s), 0);
    ck_assert_uint_eq(s.n_threads, 1);
    ck_assert_uint_eq(s.errors, 0);
    t = &s.threads[0];
    ck_assert(!t->truncated);
    ck_assert_uint_eq(t->n_frames, 3);
    ck_assert_str_eq(t->frames[0].name, "leaf");
    ck_assert_str_eq(t->frames[1].name, qualnames ? "Klass.middle" : "middle");
    ck_assert_str_eq(t->frames[2].name, "<module>");
    for (int i = 0; i < 3; i++) {
        ck_assert_str_eq(t->frames[i].filename, "/src/app.py");
        ck_assert_int_eq(t->frames[i].first_line, FIRST);
        ck_assert_int_eq(t->frames[i].line, FIRST + 2);
        ck_assert_uint_eq(t->frames[i].code, f->codes[i]);
    }
    ck_assert(t->frames[0].is_entry == all_entries);
    ck_assert(t->frames[1].is_entry);
    ck_assert(t->frames[2].is_entry);
    ck_assert_int_eq(t->gil, BTS_PYTHON_GIL_HELD);
    ck_assert_int_eq(t->tid, f->l.tstate_native_thread_id != PY_NONE ? WANT_TID : 0);
    ck_assert_uint_eq(t->tstate, f->tstate);
    bts_python_free(py);
    fake_free(f);
}
END_TEST

START_TEST(test_reader_says_gil_not_held_when_unlocked)
{
    struct fake *f = fake_new(0x030b07f0);
    struct bts_python *py = fake_reader(f);
    struct bts_python_sample s;

    put32(f, f->runtime + f->l.gil + f->l.gil_locked, 0);
    ck_assert_int_eq(bts_python_sample(py, &s), 0);
    ck_assert_int_eq(s.threads[0].gil, BTS_PYTHON_GIL_NOT_HELD);
    bts_python_free(py);
    fake_free(f);
}
END_TEST

START_TEST(test_reader_cuts_a_frame_loop)
{
    struct fake *f = fake_new(table_versions[_i]);
    struct bts_python *py = fake_reader(f);
    struct bts_python_sample s;

    set_frame(f, f->frames[1], f->codes[1], f->frames[0], false); /* middle -> leaf */
    ck_assert_int_eq(bts_python_sample(py, &s), 0);
    ck_assert(s.threads[0].truncated);
    ck_assert_uint_le(s.threads[0].n_frames, 8);
    ck_assert_uint_ge(s.errors, 1);
    bts_python_free(py);
    fake_free(f);
}
END_TEST

/* Makes the outermost frame (<module>) a generator's with no caller, as
 * a generator looks once it has yielded. */
static void make_outer_a_suspended_generator(struct fake *f)
{
    const struct py_layout *l = &f->l;

    put64(f, f->frames[2] + l->frame_previous, 0);
    if (l->frame_kind == PY_FRAME_OBJECT)
        put32(f, f->codes[2] + l->code_flags, 0x20); /* CO_GENERATOR */
    else
        put8(f, f->frames[2] + l->frame_owner, (uint8_t)l->owner_generator);
}

START_TEST(test_reader_calls_a_chain_ending_at_a_generator_torn)
{
    struct fake *f = fake_new(table_versions[_i]);
    struct bts_python *py = fake_reader(f);
    struct bts_python_sample s;

    make_outer_a_suspended_generator(f);
    ck_assert_int_eq(bts_python_sample(py, &s), 0);
    ck_assert(s.threads[0].truncated);
    ck_assert_uint_ge(s.errors, 1);
    /* the frames read are kept */
    ck_assert_uint_eq(s.threads[0].n_frames, 3);
    bts_python_free(py);
    fake_free(f);
}
END_TEST

/* 3.10+: the leaf's code units [6, 10) have no line in its table (a
 * loop's backward jump); the frame is at byte 8. */
START_TEST(test_reader_gives_an_instruction_without_a_line_the_line_before)
{
    static const uint8_t no_line_310[] = {6, 1, 4, 0x80};
    static const uint8_t no_line_locations[] = {0x80 | (13 << 3) | 2, 2, 0x80 | (15 << 3) | 1};
    struct fake *f = fake_new(table_versions[_i]);
    struct bts_python *py = fake_reader(f);
    struct bts_python_sample s;
    bool v310 = f->l.lines_kind == PY_LINES_310;

    put64(f, f->codes[0] + f->l.code_linetable,
          v310 ? make_bytes(f, no_line_310, sizeof(no_line_310))
               : make_bytes(f, no_line_locations, sizeof(no_line_locations)));
    ck_assert_int_eq(bts_python_sample(py, &s), 0);
    ck_assert_int_eq(s.threads[0].frames[0].line, FIRST + 1);
    ck_assert_int_eq(s.threads[0].frames[1].line, FIRST + 2);
    bts_python_free(py);
    fake_free(f);
}
END_TEST

START_TEST(test_reader_caps_deep_stacks)
{
    struct fake *f = fake_new(table_versions[_i]);
    struct bts_python *py = fake_reader(f);
    struct bts_python_sample s;
    uint64_t previous = 0;

    /* 600 distinct frames under leaf */
    for (int i = 0; i < 600; i++) {
        uint64_t fr = alloc(f, 128);

        set_frame(f, fr, f->codes[1], previous, false);
        previous = fr;
    }
    set_frame(f, f->frames[0], f->codes[0], previous, false);
    ck_assert_int_eq(bts_python_sample(py, &s), 0);
    ck_assert(s.threads[0].truncated);
    ck_assert_uint_eq(s.threads[0].n_frames, BTS_PYTHON_MAX_FRAMES);
    ck_assert_uint_ge(s.errors, 1);
    bts_python_free(py);
    fake_free(f);
}
END_TEST

START_TEST(test_reader_keeps_frames_before_an_unmapped_pointer)
{
    struct fake *f = fake_new(table_versions[_i]);
    struct bts_python *py = fake_reader(f);
    struct bts_python_sample s;

    set_frame(f, f->frames[1], f->codes[1], UNMAPPED, false);
    ck_assert_int_eq(bts_python_sample(py, &s), 0);
    ck_assert(s.threads[0].truncated);
    ck_assert_uint_eq(s.threads[0].n_frames, 2);
    ck_assert_str_eq(s.threads[0].frames[0].name, "leaf");
    bts_python_free(py);
    fake_free(f);
}
END_TEST

START_TEST(test_reader_cuts_the_chain_at_an_object_that_is_not_code)
{
    struct fake *f = fake_new(table_versions[_i]);
    struct bts_python *py = fake_reader(f);
    struct bts_python_sample s;

    put64(f, f->codes[1] + f->l.object_type, f->unicode_type);
    ck_assert_int_eq(bts_python_sample(py, &s), 0);
    ck_assert(s.threads[0].truncated);
    ck_assert_uint_eq(s.threads[0].n_frames, 1);
    ck_assert_uint_ge(s.errors, 1);
    bts_python_free(py);
    fake_free(f);
}
END_TEST

START_TEST(test_reader_cuts_the_chain_at_a_freed_code_object)
{
    struct fake *f = fake_new(table_versions[_i]);
    struct bts_python *py = fake_reader(f);
    struct bts_python_sample s;

    ck_assert_int_eq(bts_python_sample(py, &s), 0);
    ck_assert_uint_eq(s.threads[0].n_frames, 3);
    /* freed by pymalloc: the free-list link to another block of its
     * (mmap'ed, so high) arena over ob_refcnt, every other field as it
     * was, and the entry still cached */
    put64(f, f->codes[1], 0x7f1234567000ull);
    ck_assert_int_eq(bts_python_sample(py, &s), 0);
    ck_assert(s.threads[0].truncated);
    ck_assert_uint_eq(s.threads[0].n_frames, 1);
    put64(f, f->codes[1], 0);
    ck_assert_int_eq(bts_python_sample(py, &s), 0);
    ck_assert_uint_eq(s.threads[0].n_frames, 1);
    bts_python_free(py);
    fake_free(f);
}
END_TEST

START_TEST(test_reader_cuts_the_chain_at_a_freed_frame_object)
{
    struct fake *f = fake_new(0x030a0df0);
    struct bts_python *py = fake_reader(f);
    struct bts_python_sample s;

    put64(f, f->frames[1], 0); /* dealloc'ed frames keep a zero count */
    ck_assert_int_eq(bts_python_sample(py, &s), 0);
    ck_assert(s.threads[0].truncated);
    ck_assert_uint_eq(s.threads[0].n_frames, 1);
    bts_python_free(py);
    fake_free(f);
}
END_TEST

/* 3.8-3.10: the innermost frame object returned (zero count) while its
 * caller's chain still reads right: it is kept, not read again later. */
START_TEST(test_reader_keeps_an_innermost_frame_that_just_returned)
{
    struct fake *f = fake_new(table_versions[_i]);
    struct bts_python *py = fake_reader(f);
    struct bts_python_sample s;

    put64(f, f->frames[0], 0);
    ck_assert_int_eq(bts_python_sample(py, &s), 0);
    ck_assert(!s.threads[0].truncated);
    ck_assert_uint_eq(s.threads[0].n_frames, 3);
    ck_assert_str_eq(s.threads[0].frames[0].name, "leaf");
    bts_python_free(py);
    fake_free(f);
}
END_TEST

START_TEST(test_reader_reads_a_chain_that_moved_under_it_again)
{
    struct fake *f = fake_new(0x030a0df0);
    struct bts_python *py = fake_reader(f);
    struct bts_python_sample s;

    f->dead_once = f->frames[1];
    ck_assert_int_eq(bts_python_sample(py, &s), 0);
    ck_assert(!s.threads[0].truncated);
    ck_assert_uint_eq(s.threads[0].n_frames, 3);
    ck_assert_uint_eq(s.errors, 0);
    ck_assert_uint_eq(f->dead_once, 0);
    bts_python_free(py);
    fake_free(f);
}
END_TEST

START_TEST(test_reader_drops_a_thread_state_of_another_interpreter)
{
    struct fake *f = fake_new(table_versions[_i]);
    struct bts_python *py = fake_reader(f);
    struct bts_python_sample s;

    put64(f, f->tstate + f->l.tstate_interp, f->interp + 8);
    ck_assert_int_eq(bts_python_sample(py, &s), 0);
    ck_assert_uint_eq(s.n_threads, 0);
    ck_assert_uint_ge(s.errors, 1);
    bts_python_free(py);
    fake_free(f);
}
END_TEST

START_TEST(test_reader_cuts_a_thread_list_loop)
{
    struct fake *f = fake_new(0x030c01f0);
    struct bts_python *py = fake_reader(f);
    struct bts_python_sample s;
    uint64_t second = alloc(f, 512);

    put64(f, second + f->l.tstate_interp, f->interp);
    put64(f, second + f->l.tstate_next, f->tstate);
    put64(f, f->tstate + f->l.tstate_next, second);
    ck_assert_int_eq(bts_python_sample(py, &s), 0);
    ck_assert_uint_le(s.n_threads, 8); /* found within a few laps */
    ck_assert_uint_ge(s.errors, 1);
    bts_python_free(py);
    fake_free(f);
}
END_TEST

START_TEST(test_reader_names_a_non_string_question_mark)
{
    struct fake *f = fake_new(table_versions[_i]);
    struct bts_python *py = fake_reader(f);
    struct bts_python_sample s;
    uint32_t name_at = f->l.code_qualname != PY_NONE ? f->l.code_qualname : f->l.code_name;

    /* the name points at the code type object: not a str */
    put64(f, f->codes[0] + name_at, f->code_type);
    ck_assert_int_eq(bts_python_sample(py, &s), 0);
    ck_assert_str_eq(s.threads[0].frames[0].name, "?");
    ck_assert_uint_eq(s.threads[0].n_frames, 3);
    ck_assert_uint_ge(s.errors, 1);
    bts_python_free(py);
    fake_free(f);
}
END_TEST

START_TEST(test_reader_turns_ucs2_names_into_utf8)
{
    struct fake *f = fake_new(0x030b07f0);
    struct bts_python *py = fake_reader(f);
    struct bts_python_sample s;
    const uint16_t text[] = {'c', 0xe9, 0x4e2d}; /* c, e-acute, CJK */

    put64(f, f->codes[0] + f->l.code_qualname, make_str_kind(f, text, 3, 2));
    ck_assert_int_eq(bts_python_sample(py, &s), 0);
    ck_assert_str_eq(s.threads[0].frames[0].name, "c\xc3\xa9\xe4\xb8\xad");
    bts_python_free(py);
    fake_free(f);
}
END_TEST

START_TEST(test_reader_notices_a_code_object_replaced_at_the_same_address)
{
    struct fake *f = fake_new(table_versions[_i]);
    struct bts_python *py = fake_reader(f);
    struct bts_python_sample s;
    uint32_t name_at = f->l.code_qualname != PY_NONE ? f->l.code_qualname : f->l.code_name;
    struct bts_python_stats st;

    ck_assert_int_eq(bts_python_sample(py, &s), 0);
    ck_assert_int_eq(bts_python_sample(py, &s), 0);
    bts_python_stats(py, &st);
    ck_assert_uint_eq(st.code_misses, 3);
    ck_assert_uint_eq(st.code_hits, 3);
    /* a new code object where leaf's was: other name, other first line */
    put64(f, f->codes[0] + name_at, make_str(f, "replacement"));
    put32(f, f->codes[0] + f->l.code_firstlineno, 7);
    ck_assert_int_eq(bts_python_sample(py, &s), 0);
    ck_assert_str_eq(s.threads[0].frames[0].name, "replacement");
    ck_assert_int_eq(s.threads[0].frames[0].first_line, 7);
    ck_assert_int_eq(s.threads[0].frames[0].line, 9);
    bts_python_free(py);
    fake_free(f);
}
END_TEST

START_TEST(test_reader_notices_a_code_object_reborn_with_its_strings_at_the_same_addresses)
{
    struct fake *f = fake_new(table_versions[_i]);
    struct bts_python *py = fake_reader(f);
    struct bts_python_sample s;
    uint32_t name_at = f->l.code_qualname != PY_NONE ? f->l.code_qualname : f->l.code_name;
    uint64_t str;

    ck_assert_int_eq(bts_python_sample(py, &s), 0);
    ck_assert_str_eq(s.threads[0].frames[0].name, "leaf");
    /* The allocator gave the new code object, its name and its line
     * table the old blocks: every pointer reads the same, only the name's
     * text (length, hash) differs. */
    memcpy(&str, f->mem + (f->codes[0] + name_at - BASE), 8);
    put64(f, str + f->l.unicode_length, 3);
    put64(f, str + f->l.unicode_length + 8, 99);
    put(f, str + f->l.unicode_ascii_size, "abc", 3);
    ck_assert_int_eq(bts_python_sample(py, &s), 0);
    ck_assert_str_eq(s.threads[0].frames[0].name, "abc");
    bts_python_free(py);
    fake_free(f);
}
END_TEST

START_TEST(test_reader_gives_no_threads_before_the_runtime_is_initialised)
{
    struct fake *f = fake_new(0x030b07f0);
    struct bts_python *py = fake_reader(f);
    struct bts_python_sample s;

    put64(f, f->runtime + f->l.runtime_interpreters_head, 0);
    ck_assert_int_eq(bts_python_sample(py, &s), 0);
    ck_assert_uint_eq(s.n_threads, 0);
    ck_assert_uint_eq(s.errors, 0);
    bts_python_free(py);
    fake_free(f);
}
END_TEST

START_TEST(test_reader_fails_when_the_runtime_is_unreadable)
{
    struct fake *f = fake_new(0x030b07f0);
    struct bts_python_target t = {.version_hex = 0x030b07f0, .runtime = UNMAPPED};
    struct bts_python *py = bts_python_new_reader(&t, fake_read, f);
    struct bts_python_sample s;

    ck_assert_ptr_nonnull(py);
    ck_assert_int_eq(bts_python_sample(py, &s), -EFAULT);
    ck_assert_uint_eq(s.n_threads, 0);
    bts_python_free(py);
    fake_free(f);
}
END_TEST

START_TEST(test_new_reader_refuses_unknown_versions)
{
    struct fake *f = fake_new(0x030b07f0);
    struct bts_python_target t = {.version_hex = 0x030700f0, .runtime = f->runtime};

    errno = 0;
    ck_assert_ptr_null(bts_python_new_reader(&t, fake_read, f));
    ck_assert_int_eq(errno, ENOTSUP);
    t.version_hex = 0x030e00f0;
    ck_assert_ptr_null(bts_python_new_reader(&t, fake_read, f));
    ck_assert_int_eq(errno, ENOTSUP);
    fake_free(f);
}
END_TEST

/* --- 3.13 debug offsets ---------------------------------------------- */

static void debug_block(uint8_t *block, uint64_t version)
{
    memset(block, 0, PY_DEBUG_OFFSETS_LEN);
    memcpy(block, "xdebugpy", 8);
    memcpy(block + 8, &version, 8);
    /* every field at its index * 8, the GIL state at 100 with locked and
     * holder inside it */
    for (unsigned at = 24; at + 8 <= 584; at += 8) {
        uint64_t v = at;

        memcpy(block + at, &v, 8);
    }
    for (unsigned at = 120; at <= 144; at += 8) {
        uint64_t v = at == 120 ? 1000 : at == 136 ? 1016 : 1008;

        memcpy(block + at, &v, 8);
    }
    /* object headers as CPython has them: ob_type, bytes, str */
    memcpy(block + 360, &(uint64_t){8}, 8);
    memcpy(block + 520, &(uint64_t){16}, 8);
    memcpy(block + 528, &(uint64_t){32}, 8);
    memcpy(block + 544, &(uint64_t){32}, 8);
    memcpy(block + 552, &(uint64_t){16}, 8);
    memcpy(block + 560, &(uint64_t){40}, 8);
}

START_TEST(test_debug_offsets_fill_the_layout)
{
    uint8_t block[PY_DEBUG_OFFSETS_LEN];
    struct py_layout l;

    debug_block(block, 0x030d00f0);
    ck_assert_int_eq(py_layout_from_debug_offsets(&l, block, sizeof(block)), 0);
    ck_assert_uint_eq(l.runtime_interpreters_head, 40);
    ck_assert_uint_eq(l.tstate_frame, 184);
    ck_assert_uint_eq(l.frame_code, 240);
    ck_assert_uint_eq(l.code_adaptive, 344);
    ck_assert_uint_eq(l.gil, 112);
    ck_assert_uint_eq(l.gil_locked, 16);
    ck_assert_uint_eq(l.gil_last_holder, 8);
    ck_assert_uint_eq(l.unicode_compact_size, 40 + 16);
    ck_assert_int_eq(l.owner_cstack, 3);
}
END_TEST

START_TEST(test_debug_offsets_refuse_other_versions_cookies_and_sizes)
{
    uint8_t block[PY_DEBUG_OFFSETS_LEN];
    struct py_layout l;
    uint64_t huge = 1ull << 40;

    debug_block(block, 0x030e00f0);
    ck_assert_int_eq(py_layout_from_debug_offsets(&l, block, sizeof(block)), -ENOTSUP);
    debug_block(block, 0x030d00f0);
    block[0] = 'X';
    ck_assert_int_eq(py_layout_from_debug_offsets(&l, block, sizeof(block)), -ENOTSUP);
    debug_block(block, 0x030d00f0);
    memcpy(block + 16, &(uint64_t){1}, 8); /* free-threaded */
    ck_assert_int_eq(py_layout_from_debug_offsets(&l, block, sizeof(block)), -ENOTSUP);
    debug_block(block, 0x030d00f0);
    memcpy(block + 184, &huge, 8);
    ck_assert_int_eq(py_layout_from_debug_offsets(&l, block, sizeof(block)), -ENOTSUP);
    debug_block(block, 0x030d00f0);
    ck_assert_int_eq(py_layout_from_debug_offsets(&l, block, 100), -ENOTSUP);
    /* a str header larger than the reader's buffer */
    debug_block(block, 0x030d00f0);
    memcpy(block + 560, &(uint64_t){4000}, 8);
    ck_assert_int_eq(py_layout_from_debug_offsets(&l, block, sizeof(block)), -ENOTSUP);
}
END_TEST

/* --- recorded snapshots ---------------------------------------------- */

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    long n;

    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0) {
        buf = malloc((size_t)n);
        if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
            free(buf);
            buf = NULL;
        }
        *len = (size_t)n;
    }
    fclose(f);
    return buf;
}

static bool has_frame(const struct bts_python_thread *t, const char *name)
{
    for (size_t i = 0; i < t->n_frames; i++)
        if (strcmp(t->frames[i].name, name) == 0 && strstr(t->frames[i].filename, "nested.py") &&
            t->frames[i].line > t->frames[i].first_line)
            return true;
    return false;
}

START_TEST(test_recorded_snapshots_replay_to_the_workload_stacks)
{
    DIR *dir = opendir(PY_SNAPSHOT_DIR);
    struct dirent *d;
    int replayed = 0;

    ck_assert_ptr_nonnull(dir);
    while ((d = readdir(dir))) {
        char path[4096];
        size_t len = 0;
        uint8_t *buf;
        struct py_snapshot *snap = malloc(sizeof(*snap));
        struct bts_python *py;
        struct bts_python_sample s;
        bool main_seen = false, sleeper_seen = false;

        if (!strstr(d->d_name, ".snap")) {
            free(snap);
            continue;
        }
        snprintf(path, sizeof(path), "%s/%s", PY_SNAPSHOT_DIR, d->d_name);
        buf = slurp(path, &len);
        ck_assert_ptr_nonnull(buf);
        ck_assert_int_eq(py_snapshot_parse(buf, len, snap), 0);
        py = bts_python_new_reader(&snap->target, py_snapshot_read, snap);
        ck_assert_msg(py != NULL, "%s: %s", d->d_name, strerror(errno));
        ck_assert_int_eq(bts_python_sample(py, &s), 0);
        ck_assert_msg(s.errors == 0, "%s: %u errors", d->d_name, s.errors);
        for (size_t i = 0; i < s.n_threads; i++) {
            main_seen = main_seen ||
                        (has_frame(&s.threads[i], "main") && has_frame(&s.threads[i], "<module>"));
            sleeper_seen = sleeper_seen || has_frame(&s.threads[i], "sleeper");
        }
        ck_assert_msg(main_seen && sleeper_seen, "%s: workload stacks missing", d->d_name);
        bts_python_free(py);
        free(snap);
        free(buf);
        replayed++;
    }
    closedir(dir);
    ck_assert_int_ge(replayed, 6);
}
END_TEST

/* A sampler's copy of the chain (as the eBPF capture takes it) laid over
 * memory that has moved on: the reader walks the copy. The leaf's frame is
 * copied to an address that is no longer mapped, so its reads succeed only
 * through the overlay. */
START_TEST(test_reader_walks_an_overlay_of_the_chain_as_it_was)
{
    struct fake *f = fake_new(table_versions[_i]);
    struct bts_python *py = fake_reader(f);
    struct bts_python_chain_layout cl;
    struct bts_python_overlay_block blocks[8];
    uint8_t copies[8][BTS_PYTHON_OVERLAY_MAX_BLOCK];
    uint64_t first = UNMAPPED, cframe = 0, frame;
    struct bts_python_sample s;
    size_t n = 0;

    bts_python_chain_layout(py, &cl);
    ck_assert_uint_le(cl.frame_bytes, BTS_PYTHON_OVERLAY_MAX_BLOCK);
    ck_assert_uint_le(cl.frame_previous + 8, cl.frame_bytes);
    ck_assert_uint_le(f->l.frame_code + 8, cl.frame_bytes);
    ck_assert_uint_eq(cl.tstate_frame, f->l.tstate_frame);
    /* where the GIL says it is held, and by whom */
    ck_assert_uint_ne(cl.gil_holder, 0);
    ck_assert_uint_eq(*(uint64_t *)(f->mem + (cl.gil_holder - BASE)), f->tstate);
    ck_assert_uint_eq(*(uint32_t *)(f->mem + (cl.gil_locked - BASE)), 1);
    /* the thread state's field (and 3.11-3.12's _PyCFrame) lead to the copy */
    if (cl.cframe_frame != UINT32_MAX) {
        memcpy(&cframe, f->mem + (f->tstate + cl.tstate_frame - BASE), 8);
        memcpy(copies[n], &cframe, 8);
        blocks[n] = (struct bts_python_overlay_block){f->tstate + cl.tstate_frame, 8, copies[n]};
        n++;
        memcpy(copies[n], &first, 8);
        blocks[n] = (struct bts_python_overlay_block){cframe + cl.cframe_frame, 8, copies[n]};
        n++;
    } else {
        memcpy(copies[n], &first, 8);
        blocks[n] = (struct bts_python_overlay_block){f->tstate + cl.tstate_frame, 8, copies[n]};
        n++;
    }
    memcpy(copies[n], f->mem + (f->frames[0] - BASE), cl.frame_bytes);
    blocks[n] = (struct bts_python_overlay_block){UNMAPPED, cl.frame_bytes, copies[n]};
    n++;
    /* at the sample the GIL was free */
    memset(copies[n], 0, 4);
    blocks[n] = (struct bts_python_overlay_block){cl.gil_locked, 4, copies[n]};
    n++;
    /* then the thread moved on: the leaf returned, its frame was reused */
    frame = f->frames[1];
    if (cl.cframe_frame != UINT32_MAX)
        put64(f, cframe + cl.cframe_frame, frame);
    else
        put64(f, f->tstate + cl.tstate_frame, frame);
    memset(f->mem + (f->frames[0] - BASE), 0, 128);
    for (size_t i = 1; i < n; i++) /* sorted by address */
        for (size_t j = i; j > 0 && blocks[j].addr < blocks[j - 1].addr; j--) {
            struct bts_python_overlay_block t = blocks[j];
            blocks[j] = blocks[j - 1];
            blocks[j - 1] = t;
        }

    ck_assert_int_eq(bts_python_sample(py, &s), 0);
    ck_assert_uint_eq(s.threads[0].n_frames, 2);
    ck_assert_uint_eq(s.threads[0].frames[0].code, f->codes[1]);

    struct bts_python_overlay ov = {blocks, n};
    bts_python_set_overlay(py, &ov);
    ck_assert_int_eq(bts_python_sample(py, &s), 0);
    ck_assert(!s.threads[0].truncated);
    ck_assert_uint_eq(s.threads[0].n_frames, 3);
    ck_assert_str_eq(s.threads[0].frames[0].name, "leaf");
    ck_assert_uint_eq(s.threads[0].frames[0].frame, UNMAPPED);
    ck_assert_int_eq(s.threads[0].gil, BTS_PYTHON_GIL_NOT_HELD);
    ck_assert_int_eq(s.threads[0].frames[0].line, FIRST + 2);
    /* a code object freed since the sample (an import's module body): the
     * copied chain still holds its frame, which says so */
    put64(f, f->codes[1], 0);
    ck_assert_int_eq(bts_python_sample(py, &s), 0);
    ck_assert(!s.threads[0].truncated);
    ck_assert_uint_eq(s.threads[0].n_frames, 3);
    ck_assert_str_eq(s.threads[0].frames[1].name, BTS_PYTHON_CODE_GONE);
    ck_assert_int_eq(s.threads[0].frames[1].line, 0);
    ck_assert_str_eq(s.threads[0].frames[2].name, "<module>");

    /* without the overlay, the same freed code object cuts the chain */
    bts_python_set_overlay(py, NULL);
    ck_assert_int_eq(bts_python_sample(py, &s), 0);
    ck_assert_int_eq(s.threads[0].gil, BTS_PYTHON_GIL_HELD);
    ck_assert(s.threads[0].truncated);
    ck_assert_uint_eq(s.threads[0].n_frames, 0);
    bts_python_free(py);
    fake_free(f);
}
END_TEST

Suite *bts_python_reader_suite(void);

Suite *bts_python_reader_suite(void)
{
    Suite *s = suite_create("python_reader");
    TCase *tc = tcase_create("layouts");
    int n = (int)(sizeof(table_versions) / sizeof(table_versions[0]));

    tcase_add_loop_test(tc, test_reader_gives_names_lines_entries_and_gil_for_each_table_version, 0,
                        n);
    tcase_add_test(tc, test_reader_says_gil_not_held_when_unlocked);
    tcase_add_test(tc, test_reader_turns_ucs2_names_into_utf8);
    tcase_add_test(tc, test_reader_gives_no_threads_before_the_runtime_is_initialised);
    tcase_add_test(tc, test_reader_fails_when_the_runtime_is_unreadable);
    tcase_add_test(tc, test_new_reader_refuses_unknown_versions);
    /* 3.8 and 3.9's lnotab gives every instruction a line */
    tcase_add_loop_test(tc, test_reader_gives_an_instruction_without_a_line_the_line_before, 2, n);
    suite_add_tcase(s, tc);
    tc = tcase_create("broken_memory");
    tcase_add_loop_test(tc, test_reader_cuts_a_frame_loop, 0, n);
    tcase_add_loop_test(tc, test_reader_caps_deep_stacks, 0, n);
    tcase_add_loop_test(tc, test_reader_calls_a_chain_ending_at_a_generator_torn, 0, n);
    tcase_add_loop_test(tc, test_reader_keeps_frames_before_an_unmapped_pointer, 0, n);
    tcase_add_loop_test(tc, test_reader_cuts_the_chain_at_an_object_that_is_not_code, 0, n);
    tcase_add_loop_test(tc, test_reader_cuts_the_chain_at_a_freed_code_object, 0, n);
    tcase_add_test(tc, test_reader_cuts_the_chain_at_a_freed_frame_object);
    tcase_add_test(tc, test_reader_reads_a_chain_that_moved_under_it_again);
    /* the frame-object versions, 3.8-3.10 */
    tcase_add_loop_test(tc, test_reader_keeps_an_innermost_frame_that_just_returned, 0, 3);
    tcase_add_loop_test(tc, test_reader_drops_a_thread_state_of_another_interpreter, 0, n);
    tcase_add_test(tc, test_reader_cuts_a_thread_list_loop);
    tcase_add_loop_test(tc, test_reader_names_a_non_string_question_mark, 0, n);
    suite_add_tcase(s, tc);
    tcase_add_loop_test(tc, test_reader_walks_an_overlay_of_the_chain_as_it_was, 0, n);
    tc = tcase_create("caches");
    tcase_add_loop_test(tc, test_reader_notices_a_code_object_replaced_at_the_same_address, 0, n);
    tcase_add_loop_test(
        tc, test_reader_notices_a_code_object_reborn_with_its_strings_at_the_same_addresses, 0, n);
    suite_add_tcase(s, tc);
    tc = tcase_create("debug_offsets");
    tcase_add_test(tc, test_debug_offsets_fill_the_layout);
    tcase_add_test(tc, test_debug_offsets_refuse_other_versions_cookies_and_sizes);
    suite_add_tcase(s, tc);
    tc = tcase_create("snapshots");
    tcase_add_test(tc, test_recorded_snapshots_replay_to_the_workload_stacks);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(bts_python_reader_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
