/* SPDX-License-Identifier: MIT */
/* check-python-locals: a frame's locals, threading's thread names and the
 * GIL's range, over objects built in memory with each table version's
 * layout (every value kind, cells, cut strings, and memory that lies) and
 * over snapshots recorded from workloads/threads3.py under real CPythons.
 * Needs python-reader-private.h and python-locals-private.h.
 *
 * `check-python-locals --record PID FILE` records such a snapshot: the
 * bytes one sample, the thread names and every frame's locals read. The
 * seeds in tests/fuzz/corpus/fuzz-python-locals/ were made with it:
 *   python3.X tests/python/workloads/threads3.py &  (wait for its line)
 *   check-python-locals --record $! python-3.X.snap */
#define _GNU_SOURCE

#include "python-locals-private.h"
#include "python-locals.h"
#include "python-reader-private.h"
#include "python-reader.h"
#include "python-snapshot.h"
#include "remote-read.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BASE     0x10000000ull
#define MEM_SIZE (4u << 20)
#define UNMAPPED 0xdead0000ull

static const unsigned table_versions[] = {0x030812f0, 0x030912f0, 0x030a0df0, 0x030b07f0,
                                          0x030c01f0};
#define N_VERSIONS (int)(sizeof(table_versions) / sizeof(table_versions[0]))

/* --- a fake interpreter's objects --------------------------------------- */

struct fake {
    struct py_layout l;
    struct py_object_layout ol;
    unsigned version;
    uint8_t *mem;
    uint64_t brk;
    uint64_t runtime, interp;
    /* types */
    uint64_t t_type, t_str, t_int, t_bool, t_float, t_none, t_list, t_tuple, t_dict, t_set,
        t_frozenset, t_cell, t_module, t_thread;
    uint64_t none;
};

static int fake_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
    struct fake *f = ctx;

    if (addr < BASE || addr - BASE > MEM_SIZE || len > MEM_SIZE - (addr - BASE))
        return -EFAULT;
    memcpy(buf, f->mem + (addr - BASE), len);
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

/* An object header: a reference count and a type. */
static uint64_t object(struct fake *f, uint64_t type, size_t size)
{
    uint64_t a = alloc(f, size);

    put64(f, a, 1);
    put64(f, a + f->l.object_type, type);
    return a;
}

static uint64_t make_type(struct fake *f, const char *name, uint64_t flags)
{
    uint64_t a = object(f, f->t_type, 1024);
    uint64_t s = alloc(f, strlen(name) + 1);

    put(f, s, name, strlen(name) + 1);
    put64(f, a + f->ol.type_name, s);
    put64(f, a + f->ol.type_flags, flags);
    put64(f, a + f->ol.type_basicsize, 16);
    return a;
}

/* A compact str of code points `text` (kind 1: ASCII when all < 128). */
static uint64_t make_str_wide(struct fake *f, const uint32_t *text, size_t len)
{
    const struct py_layout *l = &f->l;
    unsigned kind = 1;
    bool ascii = true;
    uint64_t a, data;

    for (size_t i = 0; i < len; i++) {
        if (text[i] >= 0x80)
            ascii = false;
        if (text[i] >= 0x100 && kind < 2)
            kind = 2;
        if (text[i] >= 0x10000)
            kind = 4;
    }
    a = object(f, f->t_str, l->unicode_compact_size + len * kind + 4);
    put64(f, a + l->unicode_length, len);
    put64(f, a + l->unicode_length + 8, 0x1234 + len);
    put32(f, a + l->unicode_state, (kind << 2) | (1u << 5) | (ascii ? 1u << 6 : 0));
    data = a + (ascii ? l->unicode_ascii_size : l->unicode_compact_size);
    for (size_t i = 0; i < len; i++) {
        if (kind == 1)
            put8(f, data + i, (uint8_t)text[i]);
        else if (kind == 2)
            put(f, data + i * 2, &(uint16_t){(uint16_t)text[i]}, 2);
        else
            put32(f, data + i * 4, text[i]);
    }
    return a;
}

static uint64_t make_str(struct fake *f, const char *s)
{
    size_t n = strlen(s);
    uint32_t *wide = calloc(n + 1, sizeof(*wide));
    uint64_t a;

    ck_assert_ptr_nonnull(wide);
    for (size_t i = 0; i < n; i++)
        wide[i] = (uint8_t)s[i];
    a = make_str_wide(f, wide, n);
    free(wide);
    return a;
}

/* An int (or a bool, by type) from 30-bit digits, least significant first. */
static uint64_t make_long_digits(struct fake *f, uint64_t type, bool negative,
                                 const uint32_t *digits, size_t n)
{
    uint64_t a = object(f, type, 64);

    if (f->ol.long_kind == PY_LONG_TAG)
        put64(f, a + f->ol.long_size, (n << 3) | (n == 0 ? 1 : negative ? 2 : 0));
    else
        put64(f, a + f->ol.long_size, negative ? (uint64_t)0 - n : n);
    for (size_t i = 0; i < n; i++)
        put32(f, a + f->ol.long_digits + i * 4, digits[i]);
    return a;
}

static uint64_t make_int(struct fake *f, int64_t v)
{
    uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    uint32_t digits[3] = {0, 0, 0};
    size_t n = 0;

    while (mag) {
        digits[n++] = (uint32_t)(mag & ((1u << 30) - 1));
        mag >>= 30;
    }
    return make_long_digits(f, f->t_int, v < 0, digits, n);
}

static uint64_t make_float(struct fake *f, double v)
{
    uint64_t a = object(f, f->t_float, 32);

    put(f, a + f->ol.float_value, &v, sizeof(v));
    return a;
}

static uint64_t make_sized(struct fake *f, uint64_t type, uint32_t at, int64_t n)
{
    uint64_t a = object(f, type, 64);

    put64(f, a + at, (uint64_t)n);
    return a;
}

static uint64_t make_tuple(struct fake *f, const uint64_t *items, size_t n)
{
    uint64_t a = object(f, f->t_tuple, f->ol.tuple_items + n * 8 + 8);

    put64(f, a + f->ol.tuple_size, n);
    for (size_t i = 0; i < n; i++)
        put64(f, a + f->ol.tuple_items + i * 8, items[i]);
    return a;
}

static uint64_t make_bytes(struct fake *f, const uint8_t *data, size_t n)
{
    uint64_t a = alloc(f, f->l.bytes_data + n + 1);

    put64(f, a, 1);
    put64(f, a + f->l.bytes_size, n);
    put(f, a + f->l.bytes_data, data, n);
    return a;
}

/* A keys object of this version holding keys[i] -> values[i] (values
 * NULL: a split table whose values live elsewhere). */
static uint64_t make_keys(struct fake *f, const uint64_t *keys, const uint64_t *values, size_t n,
                          int kind)
{
    const struct py_object_layout *ol = &f->ol;
    uint64_t a = alloc(f, 64 + 8 + 24 * 8);
    uint64_t entries;
    size_t entry_size;

    ck_assert_uint_le(n, 5);
    put64(f, a, 1);
    if (ol->dict_kind == PY_DICT_SIZED) {
        put64(f, a + ol->keys_size, 8);
        entries = a + ol->keys_indices + 8;
        entry_size = 24;
    } else {
        put8(f, a + ol->keys_log2_size, 3);
        put8(f, a + ol->keys_log2_index_bytes, 3);
        put8(f, a + ol->keys_kind, (uint8_t)kind);
        entries = a + ol->keys_indices + 8;
        entry_size = kind == 0 ? 24 : 16;
    }
    put64(f, a + ol->keys_nentries, n);
    for (size_t i = 0; i < n; i++) {
        uint64_t e = entries + i * entry_size;

        if (entry_size == 24) {
            put64(f, e, 0x55 + i);
            e += 8;
        }
        put64(f, e, keys[i]);
        put64(f, e + 8, values ? values[i] : 0);
    }
    return a;
}

static uint64_t make_dict(struct fake *f, const uint64_t *keys, const uint64_t *values, size_t n,
                          bool str_keys)
{
    uint64_t a = object(f, f->t_dict, 64);

    put64(f, a + f->ol.dict_used, n);
    put64(f, a + f->ol.dict_keys, make_keys(f, keys, values, n, str_keys ? 1 : 0));
    return a;
}

static struct fake *fake_new(unsigned version)
{
    struct fake *f = calloc(1, sizeof(*f));
    uint64_t type_name;

    ck_assert_ptr_nonnull(f);
    f->mem = calloc(1, MEM_SIZE);
    ck_assert_ptr_nonnull(f->mem);
    f->version = version;
    ck_assert_int_eq(py_layout_init(&f->l, version, fake_read, f, 0), 0);
    ck_assert_int_eq(py_object_layout_init(&f->ol, version, NULL), 0);
    f->brk = PY_PAGE_SIZE;
    f->t_type = alloc(f, 1024); /* `type` is its own type */
    put64(f, f->t_type, 1);
    put64(f, f->t_type + f->l.object_type, f->t_type);
    type_name = alloc(f, 8);
    put(f, type_name, "type", 5);
    put64(f, f->t_type + f->ol.type_name, type_name);
    f->t_str = make_type(f, "str", 0);
    f->t_int = make_type(f, "int", 0);
    f->t_bool = make_type(f, "bool", 0);
    f->t_float = make_type(f, "float", 0);
    f->t_none = make_type(f, "NoneType", 0);
    f->t_list = make_type(f, "list", 0);
    f->t_tuple = make_type(f, "tuple", 0);
    f->t_dict = make_type(f, "dict", 0);
    f->t_set = make_type(f, "set", 0);
    f->t_frozenset = make_type(f, "frozenset", 0);
    f->t_cell = make_type(f, "cell", 0);
    f->t_module = make_type(f, "module", 0);
    f->none = object(f, f->t_none, 16);
    f->runtime = alloc(f, 4096);
    f->interp = alloc(f, 16384);
    put64(f, f->runtime + f->l.runtime_interpreters_head, f->interp);
    return f;
}

static struct bts_python *fake_reader(struct fake *f)
{
    struct bts_python_target t = {
        .version_hex = f->version,
        .runtime = f->runtime,
        .unicode_type = f->t_str,
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

/* A frame of this version whose slots are values[i] named names[i]; the
 * last n_cells of them are cell variables (their slots hold cells). */
static struct bts_python_frame make_frame(struct fake *f, const char *const *names,
                                          const uint64_t *values, size_t n, size_t n_cells)
{
    const struct py_object_layout *ol = &f->ol;
    uint64_t code = object(f, 0, 512), frame = alloc(f, f->ol.frame_localsplus + n * 8 + 8);
    uint64_t name_objs[300];
    struct bts_python_frame fr = {.name = "f", .filename = "f.py", .frame = frame, .code = code};

    ck_assert_uint_le(n, 300);
    for (size_t i = 0; i < n; i++)
        name_objs[i] = make_str(f, names[i]);
    if (ol->code_localsplusnames != PY_NONE) {
        uint8_t kinds[300];

        for (size_t i = 0; i < n; i++)
            kinds[i] = i >= n - n_cells ? PY_KIND_CELL : PY_KIND_LOCAL;
        put64(f, code + ol->code_localsplusnames, make_tuple(f, name_objs, n));
        put64(f, code + ol->code_localspluskinds, make_bytes(f, kinds, n));
    } else {
        put32(f, code + ol->code_nlocals, (uint32_t)(n - n_cells));
        put64(f, code + ol->code_varnames, make_tuple(f, name_objs, n - n_cells));
        put64(f, code + ol->code_cellvars, make_tuple(f, name_objs + n - n_cells, n_cells));
        put64(f, code + ol->code_freevars, make_tuple(f, NULL, 0));
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t v = values[i];

        if (i >= n - n_cells) {
            uint64_t cell = object(f, f->t_cell, 32);

            put64(f, cell + ol->cell_ref, v);
            v = cell;
        }
        put64(f, frame + ol->frame_localsplus + i * 8, v);
    }
    return fr;
}

/* What a locals walk reported, one "name = value" per line. */
struct seen {
    char text[16384];
    size_t n;
    size_t stop_after; /* 0: never */
};

static int collect(void *ctx, const struct bts_python_local *local)
{
    struct seen *s = ctx;
    size_t len = strlen(s->text);

    snprintf(s->text + len, sizeof(s->text) - len, "%s = %s\n", local->name, local->value);
    s->n++;
    return s->stop_after && s->n >= s->stop_after ? 42 : 0;
}

/* --- locals ------------------------------------------------------------- */

START_TEST(test_locals_show_each_kind_of_value_for_each_table_version)
{
    struct fake *f = fake_new(table_versions[_i]);
    static const uint32_t snowman[] = {'s', 0x2603, '\n'};
    uint32_t big[3] = {1, 2, 3}; /* 3 * 2^60 + 2 * 2^30 + 1: past 2^61, fits */
    uint32_t huge[4] = {1, 1, 1, 1};
    const char *names[] = {"n",   "neg", "zero", "big",      "huge", "t",       "fl",
                           "f20", "s",   "ws",   "none",     "lst",  "tup",     "d",
                           "st",  "fst", "obj",  "fake_int", "gone", "unbound", "closed"};
    uint64_t values[] = {
        make_int(f, 4242),
        make_int(f, -7),
        make_int(f, 0),
        make_long_digits(f, f->t_int, false, big, 3),
        make_long_digits(f, f->t_int, true, huge, 4),
        make_long_digits(f, f->t_bool, false, (uint32_t[]){1}, 1),
        make_float(f, 0.1),
        make_float(f, 20.0),
        make_str(f, "it's \"q\"\t"),
        make_str_wide(f, snowman, 3),
        f->none,
        make_sized(f, f->t_list, f->ol.list_size, 7),
        make_tuple(f, (uint64_t[]){f->none, f->none}, 2),
        make_sized(f, f->t_dict, f->ol.dict_used, 3),
        make_sized(f, f->t_set, f->ol.set_used, 0),
        make_sized(f, f->t_frozenset, f->ol.set_used, 2),
        object(f, make_type(f, "Widget", PY_TPFLAG_HEAPTYPE), 32),
        /* a class of the program named int: shown by name, not decoded */
        object(f, make_type(f, "int", PY_TPFLAG_HEAPTYPE), 32),
        UNMAPPED,
        0,
        make_int(f, 99),
    };
    size_t n = sizeof(values) / sizeof(values[0]);
    struct bts_python_frame fr = make_frame(f, names, values, n, 1);
    struct bts_python *py = fake_reader(f);
    struct seen s = {.text = ""};

    ck_assert_int_eq(bts_python_frame_locals(py, &fr, collect, &s), 0);
    ck_assert_str_eq(s.text, "n = 4242\n"
                             "neg = -7\n"
                             "zero = 0\n"
                             "big = 3458764515968024577\n"
                             "huge = <int>\n"
                             "t = True\n"
                             "fl = 0.1\n"
                             "f20 = 20.0\n"
                             "s = 'it\\'s \"q\"\\t'\n"
                             "ws = 's\xe2\x98\x83\\n'\n"
                             "none = None\n"
                             "lst = <list, len 7>\n"
                             "tup = <tuple, len 2>\n"
                             "d = <dict, len 3>\n"
                             "st = <set, len 0>\n"
                             "fst = <frozenset, len 2>\n"
                             "obj = <Widget>\n"
                             "fake_int = <int>\n"
                             "gone = <?>\n"
                             "closed = 99\n");
    bts_python_free(py);
    fake_free(f);
}
END_TEST

START_TEST(test_locals_cut_a_long_str_and_say_its_length)
{
    struct fake *f = fake_new(table_versions[_i]);
    char text[1001];
    const char *names[] = {"long"};
    uint64_t values[1];
    struct bts_python_frame fr;
    struct bts_python *py;
    struct seen s = {.text = ""};
    char want[256];

    memset(text, 'x', 1000);
    text[1000] = '\0';
    values[0] = make_str(f, text);
    fr = make_frame(f, names, values, 1, 0);
    py = fake_reader(f);
    ck_assert_int_eq(bts_python_frame_locals(py, &fr, collect, &s), 0);
    snprintf(want, sizeof(want), "long = '%.*s'... (len 1000)\n", BTS_PYTHON_STR_CHARS, text);
    ck_assert_str_eq(s.text, want);
    bts_python_free(py);
    fake_free(f);
}
END_TEST

START_TEST(test_locals_stop_at_the_cap)
{
    struct fake *f = fake_new(table_versions[_i]);
    enum { N = 300 };
    static char name_buf[N][8];
    const char *names[N];
    uint64_t values[N];
    struct bts_python_frame fr;
    struct bts_python *py;
    struct seen *s = calloc(1, sizeof(*s));
    uint64_t one = make_int(f, 1);

    ck_assert_ptr_nonnull(s);
    for (int i = 0; i < N; i++) {
        snprintf(name_buf[i], sizeof(name_buf[i]), "v%d", i);
        names[i] = name_buf[i];
        values[i] = one;
    }
    fr = make_frame(f, names, values, N, 0);
    py = fake_reader(f);
    ck_assert_int_eq(bts_python_frame_locals(py, &fr, collect, s), 0);
    ck_assert_uint_eq(s->n, BTS_PYTHON_MAX_LOCALS);
    free(s);
    bts_python_free(py);
    fake_free(f);
}
END_TEST

START_TEST(test_locals_return_what_the_callback_returns)
{
    struct fake *f = fake_new(table_versions[_i]);
    const char *names[] = {"a", "b", "c"};
    uint64_t values[] = {f->none, f->none, f->none};
    struct bts_python_frame fr = make_frame(f, names, values, 3, 0);
    struct bts_python *py = fake_reader(f);
    struct seen s = {.text = "", .stop_after = 2};

    ck_assert_int_eq(bts_python_frame_locals(py, &fr, collect, &s), 42);
    ck_assert_uint_eq(s.n, 2);
    bts_python_free(py);
    fake_free(f);
}
END_TEST

/* Memory that lies: each broken piece gives an error or "<?>", never a
 * crash or an unbounded read. */
START_TEST(test_locals_refuse_lying_memory)
{
    struct fake *f = fake_new(table_versions[_i]);
    const struct py_object_layout *ol = &f->ol;
    const char *names[] = {"a", "b"};
    uint64_t bad_digit = make_long_digits(f, f->t_int, false, (uint32_t[]){1u << 31}, 1);
    uint64_t odd_name = object(f, make_type(f, "bad\x01name", 0), 32);
    uint64_t values[] = {bad_digit, odd_name};
    struct bts_python_frame fr = make_frame(f, names, values, 2, 0);
    struct bts_python_frame no_addr = {.name = "f", .filename = "f.py"};
    struct bts_python_frame unmapped = {.frame = UNMAPPED, .code = UNMAPPED};
    struct bts_python *py = fake_reader(f);
    struct seen s = {.text = ""};
    uint64_t names_tuple;

    ck_assert_int_eq(bts_python_frame_locals(py, &fr, collect, &s), 0);
    ck_assert_str_eq(s.text, "a = <?>\nb = <?>\n");
    ck_assert_int_eq(bts_python_frame_locals(py, &no_addr, collect, &s), -EINVAL);
    ck_assert_int_eq(bts_python_frame_locals(py, &unmapped, collect, &s), -EFAULT);
    bts_python_free(py);

    /* a names tuple claiming more names than any frame may have */
    names_tuple =
        ol->code_localsplusnames != PY_NONE ? ol->code_localsplusnames : ol->code_varnames;
    {
        uint64_t t;

        memcpy(&t, f->mem + (fr.code + names_tuple - BASE), 8);
        put64(f, t + ol->tuple_size, 1u << 20);
    }
    if (ol->code_nlocals != PY_NONE)
        put32(f, fr.code + ol->code_nlocals, 1u << 20);
    py = fake_reader(f);
    ck_assert_int_eq(bts_python_frame_locals(py, &fr, collect, &s), -EFAULT);
    bts_python_free(py);

    /* names that are not a tuple */
    put64(f, fr.code + names_tuple, f->none);
    py = fake_reader(f);
    ck_assert_int_eq(bts_python_frame_locals(py, &fr, collect, &s), -EFAULT);
    bts_python_free(py);
    fake_free(f);
}
END_TEST

START_TEST(test_locals_refuse_kinds_that_do_not_match_the_names)
{
    struct fake *f = fake_new(0x030b07f0 + (_i << 16)); /* 3.11, 3.12 */
    const char *names[] = {"a", "b"};
    uint64_t values[] = {f->none, f->none};
    struct bts_python_frame fr = make_frame(f, names, values, 2, 0);
    struct bts_python *py;
    struct seen s = {.text = ""};
    uint64_t kinds;

    memcpy(&kinds, f->mem + (fr.code + f->ol.code_localspluskinds - BASE), 8);
    put64(f, kinds + f->l.bytes_size, 3);
    py = fake_reader(f);
    ck_assert_int_eq(bts_python_frame_locals(py, &fr, collect, &s), -EFAULT);
    ck_assert_uint_eq(s.n, 0);
    bts_python_free(py);
    fake_free(f);
}
END_TEST

START_TEST(test_locals_skip_hidden_slots)
{
    struct fake *f = fake_new(0x030c01f0); /* 3.12: comprehension temporaries */
    const char *names[] = {"shown", "hidden"};
    uint64_t values[] = {make_int(f, 1), make_int(f, 2)};
    struct bts_python_frame fr = make_frame(f, names, values, 2, 0);
    struct bts_python *py;
    struct seen s = {.text = ""};
    uint64_t kinds;

    memcpy(&kinds, f->mem + (fr.code + f->ol.code_localspluskinds - BASE), 8);
    put8(f, kinds + f->l.bytes_data + 1, PY_KIND_LOCAL | PY_KIND_HIDDEN);
    py = fake_reader(f);
    ck_assert_int_eq(bts_python_frame_locals(py, &fr, collect, &s), 0);
    ck_assert_str_eq(s.text, "shown = 1\n");
    bts_python_free(py);
    fake_free(f);
}
END_TEST

/* --- thread names ------------------------------------------------------- */

/* A Thread object whose _name is `name`, its attributes where this version
 * keeps them; `as_dict`: in a materialised __dict__ even where values
 * could be inline. */
static uint64_t make_thread(struct fake *f, const char *name, bool as_dict)
{
    const struct py_object_layout *ol = &f->ol;
    uint64_t keys[2] = {make_str(f, "_target"), make_str(f, "_name")};
    uint64_t values[2] = {f->none, make_str(f, name)};
    uint64_t obj = alloc(f, 64) + 32; /* room for the words before it */

    put64(f, obj, 1);
    put64(f, obj + f->l.object_type, f->t_thread);
    if (ol->instance_kind == PY_INSTANCE_DICTOFFSET) {
        put64(f, obj + 16, make_dict(f, keys, values, 2, true));
    } else if (as_dict) {
        put64(f, obj - 24, make_dict(f, keys, values, 2, true));
    } else {
        uint64_t vals = alloc(f, 32);

        put64(f, vals + ol->values_items, values[0]);
        put64(f, vals + ol->values_items + 8, values[1]);
        if (ol->instance_kind == PY_INSTANCE_MANAGED)
            put64(f, obj - 32, vals);
        else
            put64(f, obj - 24, vals - 1);
        put64(f, f->t_thread + ol->heaptype_cached_keys, make_keys(f, keys, NULL, 2, 2));
    }
    return obj;
}

/* sys.modules = {"threading": module}, threading._active = {ident: Thread} */
static void make_threading(struct fake *f, const uint64_t *idents, const char *const *names,
                           size_t n)
{
    uint64_t keys[4], threads[4], module, globals, active;
    uint64_t g_keys[2] = {make_str(f, "__name__"), make_str(f, "_active")};
    uint64_t m_keys[2] = {make_str(f, "sys"), make_str(f, "threading")};
    uint64_t m_values[2];

    f->t_thread =
        make_type(f, "Thread",
                  PY_TPFLAG_HEAPTYPE |
                      (f->ol.instance_kind == PY_INSTANCE_DICTOFFSET ? 0 : PY_TPFLAG_MANAGED_DICT));
    put64(f, f->t_thread + f->ol.type_dictoffset, 16);
    for (size_t i = 0; i < n; i++) {
        uint32_t digits[3] = {(uint32_t)(idents[i] & ((1u << 30) - 1)),
                              (uint32_t)((idents[i] >> 30) & ((1u << 30) - 1)),
                              (uint32_t)(idents[i] >> 60)};

        keys[i] = make_long_digits(f, f->t_int, false, digits, digits[2] ? 3 : 2);
        threads[i] = make_thread(f, names[i], i % 2 == 1);
    }
    active = make_dict(f, keys, threads, n, false);
    globals = make_dict(f, g_keys, (uint64_t[]){f->none, active}, 2, true);
    module = object(f, f->t_module, 64);
    put64(f, module + f->ol.module_dict, globals);
    m_values[0] = object(f, f->t_module, 64);
    m_values[1] = module;
    put64(f, f->interp + f->ol.interp_modules, make_dict(f, m_keys, m_values, 2, true));
}

START_TEST(test_thread_names_come_from_threading_active)
{
    struct fake *f = fake_new(table_versions[_i]);
    const uint64_t idents[] = {0x7f45d6b31040ull, 0xf000000000000001ull};
    const char *const names[] = {"MainThread", "worker-1"};
    struct bts_python_thread_name out[4];
    struct bts_python *py;

    make_threading(f, idents, names, 2);
    py = fake_reader(f);
    ck_assert_int_eq(bts_python_thread_names(py, out, 4), 2);
    ck_assert_uint_eq(out[0].thread_id, idents[0]);
    ck_assert_str_eq(out[0].name, "MainThread");
    ck_assert_uint_eq(out[1].thread_id, idents[1]);
    ck_assert_str_eq(out[1].name, "worker-1");
    ck_assert_int_eq(bts_python_thread_names(py, out, 1), 1);
    bts_python_free(py);
    fake_free(f);
}
END_TEST

START_TEST(test_thread_names_are_none_without_threading)
{
    struct fake *f = fake_new(table_versions[_i]);
    uint64_t keys[1] = {make_str(f, "sys")};
    uint64_t values[1] = {object(f, f->t_module, 64)};
    struct bts_python_thread_name out[4];
    struct bts_python *py;

    put64(f, f->interp + f->ol.interp_modules, make_dict(f, keys, values, 1, true));
    py = fake_reader(f);
    ck_assert_int_eq(bts_python_thread_names(py, out, 4), 0);
    bts_python_free(py);
    fake_free(f);
}
END_TEST

START_TEST(test_thread_names_fail_on_a_dict_that_lies)
{
    struct fake *f = fake_new(table_versions[_i]);
    uint64_t keys[1] = {make_str(f, "threading")};
    uint64_t values[1] = {object(f, f->t_module, 64)};
    uint64_t modules = make_dict(f, keys, values, 1, true), dk;
    struct bts_python_thread_name out[4];
    struct bts_python *py;

    put64(f, f->interp + f->ol.interp_modules, modules);
    /* more entries than the table has room for */
    memcpy(&dk, f->mem + (modules + f->ol.dict_keys - BASE), 8);
    put64(f, dk + f->ol.keys_nentries, 1u << 30);
    py = fake_reader(f);
    ck_assert_int_eq(bts_python_thread_names(py, out, 4), -EFAULT);
    bts_python_free(py);
    /* sys.modules that is not a dict */
    put64(f, f->interp + f->ol.interp_modules, f->none);
    py = fake_reader(f);
    ck_assert_int_eq(bts_python_thread_names(py, out, 4), -EFAULT);
    bts_python_free(py);
    fake_free(f);
}
END_TEST

START_TEST(test_gil_range_covers_the_gil_struct)
{
    struct fake *f = fake_new(table_versions[_i]);
    struct bts_python_thread t = {.tstate = alloc(f, 512)};
    struct bts_python *py;
    uint64_t lo, hi, gil;

    put64(f, t.tstate + f->l.tstate_interp, f->interp);
    if (f->l.gil_base == PY_GIL_IN_RUNTIME) {
        gil = f->runtime + f->l.gil;
    } else {
        gil = alloc(f, 256);
        put64(f, f->interp + f->l.gil, gil);
    }
    py = fake_reader(f);
    ck_assert_int_eq(bts_python_gil_range(py, &t, &lo, &hi), 0);
    ck_assert_uint_eq(lo, gil);
    ck_assert_uint_eq(hi, gil + 208);
    bts_python_free(py);
    fake_free(f);
}
END_TEST

/* --- recorded snapshots ------------------------------------------------- */

static int snapshot_read_many(void *ctx, const uint64_t *addrs, void *const *bufs, size_t size,
                              size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (py_snapshot_read(ctx, addrs[i], bufs[i], size))
            return (int)i;
    return (int)n;
}

/* Every snapshot of threads3.py: the sleeper's nap() frame shows the
 * planted locals, and the three threads have their threading names. */
START_TEST(test_recorded_snapshots_show_the_planted_locals_and_names)
{
    DIR *dir = opendir(PY_LOCALS_SNAPSHOT_DIR);
    struct dirent *d;
    int checked = 0;

    ck_assert_ptr_nonnull(dir);
    while ((d = readdir(dir))) {
        char path[4096];
        FILE *in;
        uint8_t *buf = malloc(8u << 20);
        size_t len;
        struct py_snapshot *snap = malloc(sizeof(*snap));
        struct bts_python *py;
        struct bts_python_sample s;
        struct bts_python_thread_name names[8];
        const struct bts_python_frame *nap = NULL;
        struct seen seen = {.text = ""};
        int n_names;
        bool main_seen = false, sleeper_seen = false, spinner_seen = false;

        ck_assert_ptr_nonnull(buf);
        ck_assert_ptr_nonnull(snap);
        if (!strstr(d->d_name, ".snap")) {
            free(buf);
            free(snap);
            continue;
        }
        snprintf(path, sizeof(path), "%s/%s", PY_LOCALS_SNAPSHOT_DIR, d->d_name);
        in = fopen(path, "rb");
        ck_assert_ptr_nonnull(in);
        len = fread(buf, 1, 8u << 20, in);
        fclose(in);
        ck_assert_int_eq(py_snapshot_parse(buf, len, snap), 0);
        py = bts_python_new_reader(&snap->target, py_snapshot_read, snap);
        ck_assert_msg(py != NULL, "%s: no reader", d->d_name);
        bts_python_set_read_many(py, snapshot_read_many);
        ck_assert_int_eq(bts_python_sample(py, &s), 0);
        ck_assert_uint_eq(s.n_threads, 3);
        n_names = bts_python_thread_names(py, names, 8);
        ck_assert_msg(n_names == 3, "%s: %d thread names", d->d_name, n_names);
        for (int i = 0; i < n_names; i++) {
            main_seen |= strcmp(names[i].name, "MainThread") == 0;
            sleeper_seen |= strcmp(names[i].name, "py-sleeper") == 0;
            spinner_seen |= strcmp(names[i].name, "py-spinner") == 0;
        }
        ck_assert_msg(main_seen && sleeper_seen && spinner_seen, "%s: names", d->d_name);
        for (size_t i = 0; i < s.n_threads; i++) {
            uint64_t lo, hi;

            ck_assert_int_eq(bts_python_gil_range(py, &s.threads[i], &lo, &hi), 0);
            ck_assert_uint_eq(hi - lo, 208);
            if (s.threads[i].n_frames && strcmp(s.threads[i].frames[0].name, "nap") == 0)
                nap = &s.threads[i].frames[0];
        }
        ck_assert_msg(nap != NULL, "%s: no thread in nap()", d->d_name);
        ck_assert_int_eq(bts_python_frame_locals(py, nap, collect, &seen), 0);
        ck_assert_msg(strstr(seen.text, "planted_int = 4242\n") &&
                          strstr(seen.text, "planted_str = 'planted-marker'\n") &&
                          strstr(seen.text, "planted_list = <list, len 7>\n"),
                      "%s: locals of nap():\n%s", d->d_name, seen.text);
        checked++;
        bts_python_free(py);
        free(snap);
        free(buf);
    }
    closedir(dir);
    ck_assert_int_ge(checked, 1);
}
END_TEST

/* --- recording ---------------------------------------------------------- */

static void record_read(void *ctx, uint64_t addr, const void *data, size_t len)
{
    py_snapshot_write_record(ctx, addr, data, len);
}

static int ignore_local(void *ctx, const struct bts_python_local *local)
{
    (void)ctx;
    (void)local;
    return 0;
}

static int record(pid_t pid, const char *path)
{
    struct bts_python_info info;
    struct bts_python *found = bts_python_new(pid, &info), *py;
    struct bts_python_target target;
    struct bts_python_sample s;
    struct bts_python_thread_name names[64];
    uint8_t block[PY_DEBUG_OFFSETS_LEN];
    FILE *out;

    if (!found) {
        fprintf(stderr, "check-python-locals: no CPython in pid %d: %s\n", (int)pid,
                strerror(errno));
        return 1;
    }
    bts_python_target_of(found, &target);
    bts_python_free(found);
    out = fopen(path, "we");
    if (!out || py_snapshot_write_header(out, &target)) {
        fprintf(stderr, "check-python-locals: cannot write '%s'\n", path);
        return 1;
    }
    /* 3.13 reads its layout before the trace is set */
    if (bts_remote_read(pid, target.runtime, block, sizeof(block)) == 0 &&
        memcmp(block, "xdebugpy", 8) == 0)
        py_snapshot_write_record(out, target.runtime, block, sizeof(block));
    py = bts_python_new_reader(&target, bts_remote_read_pid, NULL);
    if (!py) {
        fclose(out);
        return 1;
    }
    py_reader_set_trace(py, record_read, out);
    if (bts_python_sample(py, &s) == 0) {
        bts_python_thread_names(py, names, 64);
        for (size_t i = 0; i < s.n_threads; i++) {
            uint64_t lo, hi;

            bts_python_gil_range(py, &s.threads[i], &lo, &hi);
            for (size_t k = 0; k < s.threads[i].n_frames; k++)
                bts_python_frame_locals(py, &s.threads[i].frames[k], ignore_local, NULL);
        }
    }
    bts_python_free(py);
    return fclose(out) ? 1 : 0;
}

static Suite *bts_python_locals_suite(void)
{
    Suite *s = suite_create("python_locals");
    TCase *tc = tcase_create("locals");

    tcase_add_loop_test(tc, test_locals_show_each_kind_of_value_for_each_table_version, 0,
                        N_VERSIONS);
    tcase_add_loop_test(tc, test_locals_cut_a_long_str_and_say_its_length, 0, N_VERSIONS);
    tcase_add_loop_test(tc, test_locals_stop_at_the_cap, 0, N_VERSIONS);
    tcase_add_loop_test(tc, test_locals_return_what_the_callback_returns, 0, N_VERSIONS);
    tcase_add_loop_test(tc, test_locals_refuse_lying_memory, 0, N_VERSIONS);
    tcase_add_loop_test(tc, test_locals_refuse_kinds_that_do_not_match_the_names, 0, 2);
    tcase_add_test(tc, test_locals_skip_hidden_slots);
    suite_add_tcase(s, tc);

    tc = tcase_create("threads");
    tcase_add_loop_test(tc, test_thread_names_come_from_threading_active, 0, N_VERSIONS);
    tcase_add_loop_test(tc, test_thread_names_are_none_without_threading, 0, N_VERSIONS);
    tcase_add_loop_test(tc, test_thread_names_fail_on_a_dict_that_lies, 0, N_VERSIONS);
    tcase_add_loop_test(tc, test_gil_range_covers_the_gil_struct, 0, N_VERSIONS);
    suite_add_tcase(s, tc);

    tc = tcase_create("snapshots");
    tcase_add_test(tc, test_recorded_snapshots_show_the_planted_locals_and_names);
    suite_add_tcase(s, tc);
    return s;
}

int main(int argc, char **argv)
{
    SRunner *sr;
    int failed;

    if (argc == 4 && strcmp(argv[1], "--record") == 0)
        return record((pid_t)atoi(argv[2]), argv[3]);
    sr = srunner_create(bts_python_locals_suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
