/* SPDX-License-Identifier: MIT */
/* python-locals: a frame's local variables turned into short text, the
 * threading module's thread names, and the GIL's address, read through the
 * reader's page cache with the same distrust of every byte. */
#include "python-locals.h"
#include "python-locals-private.h"
#include "python-reader-private.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bounds on what untrusted memory can make us read. */
#define MAX_LOCALSPLUS   4096       /* slots of one frame */
#define MAX_DICT_ENTRIES (1u << 16) /* entries a dict walk looks at */
#define MAX_TYPE_NAME    64         /* bytes of tp_name kept */
#define MAX_STR_BYTES    (BTS_PYTHON_STR_CHARS * 4)

#define COMMON_OBJECT_FIELDS                                                                       \
    .type_name = 24, .type_basicsize = 32, .type_flags = 168, .type_dictoffset = 288,              \
    .tuple_size = 16, .tuple_items = 24, .list_size = 16, .float_value = 16, .set_used = 24,       \
    .cell_ref = 16, .module_dict = 16, .long_size = 16, .long_digits = 24, .dict_used = 16,        \
    .dict_keys = 32, .dict_values = 40, .gil_size = 208

#define FRAME_OBJECT_LOCALS                                                                        \
    .code_argcount = 16, .code_nlocals = 28, .code_varnames = 72, .code_cellvars = 88,             \
    .code_freevars = 80, .code_localsplusnames = PY_NONE, .code_localspluskinds = PY_NONE,         \
    .long_kind = PY_LONG_SIZE, .dict_kind = PY_DICT_SIZED, .keys_size = 8,                         \
    .keys_log2_size = PY_NONE, .keys_log2_index_bytes = PY_NONE, .keys_kind = PY_NONE,             \
    .keys_nentries = 32, .keys_indices = 40, .instance_kind = PY_INSTANCE_DICTOFFSET,              \
    .values_items = 0

#define INTERP_FRAME_LOCALS                                                                        \
    .frame_localsplus = 72, .code_nlocals = PY_NONE, .code_varnames = PY_NONE,                     \
    .code_cellvars = PY_NONE, .code_freevars = PY_NONE, .code_localsplusnames = 96,                \
    .code_localspluskinds = 104, .dict_kind = PY_DICT_LOG2, .keys_size = PY_NONE,                  \
    .keys_log2_size = 8, .keys_log2_index_bytes = 9, .keys_kind = 10, .keys_nentries = 24,         \
    .keys_indices = 32

/* 3.12 and 3.13: ints tagged with their sign and digit count. */
#define TAGGED_LONG_LOCALS                                                                         \
    .code_argcount = 52, .heaptype_cached_keys = 880, .long_kind = PY_LONG_TAG,                    \
    INTERP_FRAME_LOCALS, COMMON_OBJECT_FIELDS

static const struct py_object_layout object_layouts[] = {
    {.version = 0x03080000,
     .frame_localsplus = 360,
     .interp_modules = 56,
     .heaptype_cached_keys = 872,
     FRAME_OBJECT_LOCALS,
     COMMON_OBJECT_FIELDS},
    {.version = 0x03090000,
     .frame_localsplus = 360,
     .interp_modules = 856,
     .heaptype_cached_keys = 864,
     FRAME_OBJECT_LOCALS,
     COMMON_OBJECT_FIELDS},
    {.version = 0x030a0000,
     .frame_localsplus = 352,
     .interp_modules = 856,
     .heaptype_cached_keys = 872,
     FRAME_OBJECT_LOCALS,
     COMMON_OBJECT_FIELDS},
    {.version = 0x030b0000,
     .code_argcount = 56,
     .interp_modules = 888,
     .heaptype_cached_keys = 872,
     .long_kind = PY_LONG_SIZE,
     .instance_kind = PY_INSTANCE_MANAGED,
     .values_items = 0,
     INTERP_FRAME_LOCALS,
     COMMON_OBJECT_FIELDS},
    {.version = 0x030c0000,
     .interp_modules = 944,
     .instance_kind = PY_INSTANCE_TAGGED,
     .values_items = 0,
     TAGGED_LONG_LOCALS},
    /* 3.13: the fields its _Py_DebugOffsets lacks; the rest are
     * overwritten from the block (from_debug_offsets below). */
    {.version = 0x030d0000,
     .interp_modules = 7656,
     .instance_kind = PY_INSTANCE_INLINE,
     .values_items = 8,
     TAGGED_LONG_LOCALS},
};

static int from_debug_offsets(struct py_object_layout *ol, const uint8_t *block)
{
    static const struct py_debug_field fields[] = {
        PY_DEBUG_FIELD(DO_INTERP_IMPORTS_MODULES, struct py_object_layout, interp_modules),
        PY_DEBUG_FIELD(DO_FRAME_LOCALSPLUS, struct py_object_layout, frame_localsplus),
        PY_DEBUG_FIELD(DO_CODE_ARGCOUNT, struct py_object_layout, code_argcount),
        PY_DEBUG_FIELD(DO_CODE_LOCALSPLUSNAMES, struct py_object_layout, code_localsplusnames),
        PY_DEBUG_FIELD(DO_CODE_LOCALSPLUSKINDS, struct py_object_layout, code_localspluskinds),
        PY_DEBUG_FIELD(DO_TYPE_NAME, struct py_object_layout, type_name),
        PY_DEBUG_FIELD(DO_TYPE_FLAGS, struct py_object_layout, type_flags),
        PY_DEBUG_FIELD(DO_TUPLE_ITEMS, struct py_object_layout, tuple_items),
        PY_DEBUG_FIELD(DO_TUPLE_SIZE, struct py_object_layout, tuple_size),
        PY_DEBUG_FIELD(DO_LIST_SIZE, struct py_object_layout, list_size),
        PY_DEBUG_FIELD(DO_DICT_KEYS, struct py_object_layout, dict_keys),
        PY_DEBUG_FIELD(DO_DICT_VALUES, struct py_object_layout, dict_values),
        PY_DEBUG_FIELD(DO_FLOAT_VALUE, struct py_object_layout, float_value),
        PY_DEBUG_FIELD(DO_LONG_TAG, struct py_object_layout, long_size),
        PY_DEBUG_FIELD(DO_LONG_DIGITS, struct py_object_layout, long_digits),
    };

    if (memcmp(block, "xdebugpy", 8) != 0)
        return -ENOTSUP;
    /* no struct read here is anywhere near 64 KiB */
    return py_debug_fields_fill(ol, block, fields, sizeof(fields) / sizeof(fields[0]), 1u << 16);
}

/* A reader bound to one call: the reader, its layouts, its memory. */
struct objects {
    struct bts_python *py;
    struct py_memory *mem;
    const struct py_layout *l;
    struct py_object_layout ol;
};

int py_object_layout_init(struct py_object_layout *out, unsigned version, const uint8_t *block)
{
    unsigned minor = version & 0xffff0000u;

    for (size_t i = 0; i < sizeof(object_layouts) / sizeof(object_layouts[0]); i++) {
        if (object_layouts[i].version != minor)
            continue;
        *out = object_layouts[i];
        if (minor == 0x030d0000)
            return block ? from_debug_offsets(out, block) : -ENOTSUP;
        return 0;
    }
    return -ENOTSUP;
}

static int objects_init(struct objects *o, struct bts_python *py)
{
    uint8_t block[PY_DEBUG_OFFSETS_LEN];
    bool has_block;

    o->py = py;
    o->mem = py_reader_memory(py);
    o->l = py_reader_layout(py);
    /* 3.13 keeps its offsets in the runtime; read them through the cache */
    has_block = (o->l->version & 0xffff0000u) == 0x030d0000 &&
                py_memory_read(o->mem, py_reader_target(py)->runtime, block, sizeof(block)) == 0;
    return py_object_layout_init(&o->ol, o->l->version, has_block ? block : NULL);
}

static int rd(struct objects *o, uint64_t addr, void *buf, size_t len)
{
    return py_memory_read(o->mem, addr, buf, len);
}

static int rd_ptr(struct objects *o, uint64_t addr, uint64_t *out)
{
    return py_memory_ptr(o->mem, addr, out);
}

static int rd_i64(struct objects *o, uint64_t addr, int64_t *out)
{
    return rd(o, addr, out, sizeof(*out));
}

/* A live object's count is positive and below 2^32 (3.12's immortal
 * objects sit at 2^32 - 1); freed memory reads otherwise. */
static bool live(struct objects *o, uint64_t obj)
{
    uint64_t refcnt;

    return rd_ptr(o, obj, &refcnt) == 0 && refcnt > 0 && refcnt <= UINT32_MAX;
}

/* --- types ------------------------------------------------------------ */

struct type_info {
    uint64_t addr;
    uint64_t flags;
    char name[MAX_TYPE_NAME];
};

/* The type of `obj`: its address, flags and tp_name (printable ASCII only,
 * cut at MAX_TYPE_NAME - 1 bytes). 0 or -errno. */
static int type_of(struct objects *o, uint64_t obj, struct type_info *t)
{
    uint64_t name_ptr;
    size_t n = 0;

    if (!live(o, obj) || rd_ptr(o, obj + o->l->object_type, &t->addr) ||
        rd(o, t->addr + o->ol.type_flags, &t->flags, sizeof(t->flags)) ||
        rd_ptr(o, t->addr + o->ol.type_name, &name_ptr))
        return -EFAULT;
    /* a C string of unknown length: read up to each page's end at most, so
     * a name near the end of a mapping stays readable */
    while (n < sizeof(t->name) - 1) {
        uint64_t at = name_ptr + n;
        size_t chunk = PY_PAGE_SIZE - (size_t)(at % PY_PAGE_SIZE);
        const char *nul;

        if (chunk > sizeof(t->name) - 1 - n)
            chunk = sizeof(t->name) - 1 - n;
        if (rd(o, at, t->name + n, chunk))
            return -EFAULT;
        nul = memchr(t->name + n, '\0', chunk);
        if (nul) {
            n = (size_t)(nul - t->name);
            break;
        }
        n += chunk;
    }
    t->name[n] = '\0';
    if (n == 0)
        return -EFAULT;
    for (size_t i = 0; i < n; i++)
        if (t->name[i] < 0x21 || t->name[i] > 0x7e)
            return -EFAULT;
    return 0;
}

/* Whether `t` is the interpreter's own (static) type named `name`: a class
 * of the program with the same name is a heap type. */
static bool is_builtin(const struct type_info *t, const char *name)
{
    return !(t->flags & PY_TPFLAG_HEAPTYPE) && strcmp(t->name, name) == 0;
}

/* --- values ----------------------------------------------------------- */

/* An int's sign and magnitude when the magnitude fits in 64 bits: 0,
 * -ERANGE when it does not, -EFAULT when unreadable. */
static int long_parts(struct objects *o, uint64_t obj, bool *negative, uint64_t *mag)
{
    int64_t size;
    uint64_t ndigits;
    uint32_t digits[3];

    *mag = 0;
    if (rd_i64(o, obj + o->ol.long_size, &size))
        return -EFAULT;
    if (o->ol.long_kind == PY_LONG_TAG) {
        uint64_t tag = (uint64_t)size;

        if ((tag & 3) == 3)
            return -EFAULT;
        *negative = (tag & 3) == 2;
        ndigits = (tag & 3) == 1 ? 0 : tag >> 3; /* sign 1: zero */
    } else {
        *negative = size < 0;
        ndigits = size < 0 ? (uint64_t)0 - (uint64_t)size : (uint64_t)size;
    }
    if (ndigits > 3)
        return -ERANGE;
    if (ndigits && rd(o, obj + o->ol.long_digits, digits, ndigits * sizeof(digits[0])))
        return -EFAULT;
    for (uint64_t i = ndigits; i-- > 0;) {
        if (digits[i] >> 30)
            return -EFAULT; /* not a 30-bit digit */
        if (*mag >> 34)
            return -ERANGE;
        *mag = (*mag << 30) | digits[i];
    }
    return 0;
}

/* An int's value when it fits in an int64_t (else -ERANGE). */
static int long_value(struct objects *o, uint64_t obj, int64_t *out)
{
    bool negative;
    uint64_t mag;
    int err = long_parts(o, obj, &negative, &mag);

    if (err)
        return err;
    if (negative ? mag > (uint64_t)INT64_MAX + 1 : mag > (uint64_t)INT64_MAX)
        return -ERANGE;
    *out = negative ? (int64_t)(0 - mag) : (int64_t)mag;
    return 0;
}

/* A float the way Python's repr writes it: the fewest digits that read
 * back as `v`, positional from 1e-4 up to 1e16, else with an exponent. */
static void format_float(double v, char *out, size_t cap)
{
    int digits, exponent;

    if (isnan(v)) {
        snprintf(out, cap, "nan");
        return;
    }
    if (isinf(v)) {
        snprintf(out, cap, v < 0 ? "-inf" : "inf");
        return;
    }
    for (digits = 1; digits < 17; digits++) {
        snprintf(out, cap, "%.*e", digits - 1, v);
        if (strtod(out, NULL) == v)
            break;
    }
    snprintf(out, cap, "%.*e", digits - 1, v);
    exponent = atoi(strchr(out, 'e') + 1);
    if (exponent < -4 || exponent >= 16)
        return; /* 1e+16, 2.5e-05 */
    snprintf(out, cap, "%.*f", digits - 1 - exponent > 0 ? digits - 1 - exponent : 0, v);
    if (!strchr(out, '.') && strlen(out) + 3 <= cap)
        strcat(out, ".0"); /* a float says so: 20.0, not 20 */
}

struct text {
    char *buf;
    size_t cap, len;
    bool full;
};

static void put(struct text *t, const char *s, size_t n)
{
    if (t->full || t->len + n + 1 > t->cap) {
        t->full = true;
        return;
    }
    memcpy(t->buf + t->len, s, n);
    t->len += n;
    t->buf[t->len] = '\0';
}

/* Code point `c` as it reads inside '...': printable characters as UTF-8,
 * quotes and controls escaped, surrogates as \uXXXX. */
static void put_char(struct text *t, uint32_t c)
{
    char tmp[12];
    size_t n = 0;

    if (c == '\\' || c == '\'') {
        tmp[n++] = '\\';
        tmp[n++] = (char)c;
    } else if (c == '\n' || c == '\r' || c == '\t') {
        tmp[n++] = '\\';
        tmp[n++] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
    } else if (c < 0x20 || (c >= 0x7f && c < 0xa0)) {
        n = (size_t)snprintf(tmp, sizeof(tmp), "\\x%02x", (unsigned)c);
    } else if ((c >= 0xd800 && c <= 0xdfff) || c > 0x10ffff) {
        n = (size_t)snprintf(tmp, sizeof(tmp), "\\u%04x", (unsigned)(c & 0xffff));
    } else if (c < 0x80) {
        tmp[n++] = (char)c;
    } else if (c < 0x800) {
        tmp[n++] = (char)(0xc0 | (c >> 6));
        tmp[n++] = (char)(0x80 | (c & 0x3f));
    } else if (c < 0x10000) {
        tmp[n++] = (char)(0xe0 | (c >> 12));
        tmp[n++] = (char)(0x80 | ((c >> 6) & 0x3f));
        tmp[n++] = (char)(0x80 | (c & 0x3f));
    } else {
        tmp[n++] = (char)(0xf0 | (c >> 18));
        tmp[n++] = (char)(0x80 | ((c >> 12) & 0x3f));
        tmp[n++] = (char)(0x80 | ((c >> 6) & 0x3f));
        tmp[n++] = (char)(0x80 | (c & 0x3f));
    }
    put(t, tmp, n);
}

/* A str value in quotes, its first BTS_PYTHON_STR_CHARS characters. 0 or
 * -EFAULT when it is not a compact str we can read. */
static int format_str(struct objects *o, uint64_t obj, char *out, size_t cap)
{
    const struct py_layout *l = o->l;
    uint8_t head[128], raw[MAX_STR_BYTES];
    uint64_t length, shown;
    uint32_t state, kind;
    struct text t = {.buf = out, .cap = cap};
    char tail[48];

    if (l->unicode_compact_size > sizeof(head) || rd(o, obj, head, l->unicode_compact_size))
        return -EFAULT;
    memcpy(&length, head + l->unicode_length, sizeof(length));
    memcpy(&state, head + l->unicode_state, sizeof(state));
    kind = (state >> 2) & 7;
    if (!(state & (1u << 5)) || (kind != 1 && kind != 2 && kind != 4) || length > (1ull << 40))
        return -EFAULT;
    shown = length < BTS_PYTHON_STR_CHARS ? length : BTS_PYTHON_STR_CHARS;
    if (shown &&
        rd(o, obj + ((state & (1u << 6)) ? l->unicode_ascii_size : l->unicode_compact_size), raw,
           shown * kind))
        return -EFAULT;
    out[0] = '\0';
    put(&t, "'", 1);
    for (uint64_t i = 0; i < shown; i++) {
        uint32_t c;

        if (kind == 1) {
            c = raw[i];
        } else if (kind == 2) {
            uint16_t c16;

            memcpy(&c16, raw + i * 2, 2);
            c = c16;
        } else {
            memcpy(&c, raw + i * 4, 4);
        }
        put_char(&t, c);
    }
    put(&t, "'", 1);
    if (shown < length) {
        snprintf(tail, sizeof(tail), "... (len %" PRIu64 ")", length);
        put(&t, tail, strlen(tail));
    }
    return t.full ? -EFAULT : 0;
}

/* The length a container reports, from its size field. */
static int container_len(struct objects *o, const struct type_info *t, uint64_t obj, int64_t *n)
{
    uint32_t at;

    if (is_builtin(t, "list"))
        at = o->ol.list_size;
    else if (is_builtin(t, "tuple"))
        at = o->ol.tuple_size;
    else if (is_builtin(t, "dict"))
        at = o->ol.dict_used;
    else if (is_builtin(t, "set") || is_builtin(t, "frozenset"))
        at = o->ol.set_used;
    else
        return -ENOENT;
    if (rd_i64(o, obj + at, n) || *n < 0)
        return -EFAULT;
    return 0;
}

/* `obj` as one line for people (see struct bts_python_local). */
static void format_value(struct objects *o, uint64_t obj, char *out, size_t cap)
{
    struct type_info t;
    int64_t v;
    double d;
    int err;

    if (type_of(o, obj, &t)) {
        snprintf(out, cap, "<?>");
        return;
    }
    if (is_builtin(&t, "NoneType")) {
        snprintf(out, cap, "None");
    } else if (is_builtin(&t, "bool")) {
        err = long_value(o, obj, &v);
        snprintf(out, cap, "%s", err ? "<bool>" : v ? "True" : "False");
    } else if (is_builtin(&t, "int")) {
        err = long_value(o, obj, &v);
        if (err)
            snprintf(out, cap, "%s", err == -ERANGE ? "<int>" : "<?>");
        else
            snprintf(out, cap, "%" PRId64, v);
    } else if (is_builtin(&t, "float")) {
        if (rd(o, obj + o->ol.float_value, &d, sizeof(d)))
            snprintf(out, cap, "<?>");
        else
            format_float(d, out, cap);
    } else if (is_builtin(&t, "str")) {
        if (format_str(o, obj, out, cap))
            snprintf(out, cap, "<?>");
    } else if ((err = container_len(o, &t, obj, &v)) != -ENOENT) {
        if (err)
            snprintf(out, cap, "<%s>", t.name);
        else
            snprintf(out, cap, "<%s, len %" PRId64 ">", t.name, v);
    } else {
        snprintf(out, cap, "<%s>", t.name);
    }
}

/* --- tuples and frames ------------------------------------------------ */

static int tuple_size(struct objects *o, uint64_t tuple, int64_t *n)
{
    struct type_info t;

    if (type_of(o, tuple, &t) || !is_builtin(&t, "tuple") ||
        rd_i64(o, tuple + o->ol.tuple_size, n) || *n < 0 || *n > MAX_LOCALSPLUS)
        return -EFAULT;
    return 0;
}

static int tuple_item(struct objects *o, uint64_t tuple, int64_t i, uint64_t *item)
{
    return rd_ptr(o, tuple + o->ol.tuple_items + (uint64_t)i * 8, item);
}

/* Where the names of a frame's slots come from: one or more tuples, in
 * slot order. */
struct names {
    uint64_t tuples[3];
    int64_t sizes[3];
    size_t n_tuples;
    int64_t total;
    uint64_t kinds; /* bytes object of kinds (3.11+), 0 before */
};

static int frame_names(struct objects *o, uint64_t code, struct names *nm)
{
    const struct py_object_layout *ol = &o->ol;

    memset(nm, 0, sizeof(*nm));
    if (ol->code_localsplusnames != PY_NONE) {
        if (rd_ptr(o, code + ol->code_localsplusnames, &nm->tuples[0]) ||
            rd_ptr(o, code + ol->code_localspluskinds, &nm->kinds) ||
            tuple_size(o, nm->tuples[0], &nm->sizes[0]))
            return -EFAULT;
        nm->n_tuples = 1;
    } else {
        int32_t nlocals;
        int64_t varnames;

        if (rd(o, code + ol->code_nlocals, &nlocals, sizeof(nlocals)) ||
            rd_ptr(o, code + ol->code_varnames, &nm->tuples[0]) ||
            rd_ptr(o, code + ol->code_cellvars, &nm->tuples[1]) ||
            rd_ptr(o, code + ol->code_freevars, &nm->tuples[2]))
            return -EFAULT;
        for (size_t i = 0; i < 3; i++)
            if (tuple_size(o, nm->tuples[i], &nm->sizes[i]))
                return -EFAULT;
        /* the first co_nlocals slots are co_varnames */
        varnames = nm->sizes[0];
        if (nlocals < 0 || nlocals > varnames)
            return -EFAULT;
        nm->sizes[0] = nlocals;
        nm->n_tuples = 3;
    }
    for (size_t i = 0; i < nm->n_tuples; i++)
        nm->total += nm->sizes[i];
    return nm->total > MAX_LOCALSPLUS ? -EFAULT : 0;
}

/* The name tuple and index of slot `slot`. */
static void slot_name(const struct names *nm, int64_t slot, uint64_t *tuple, int64_t *index)
{
    for (size_t i = 0; i < nm->n_tuples; i++) {
        if (slot < nm->sizes[i]) {
            *tuple = nm->tuples[i];
            *index = slot;
            return;
        }
        slot -= nm->sizes[i];
    }
    *tuple = 0;
    *index = 0;
}

int bts_python_frame_locals(struct bts_python *py, const struct bts_python_frame *frame,
                            bts_python_local_fn fn, void *ctx)
{
    struct objects o;
    struct names nm;
    uint8_t kinds[MAX_LOCALSPLUS];
    uint64_t slots[64];
    unsigned reported = 0;
    int err;

    if (!frame->frame || !frame->code)
        return -EINVAL;
    err = objects_init(&o, py);
    if (err)
        return err;
    if (frame_names(&o, frame->code, &nm))
        return -EFAULT;
    if (nm.kinds) {
        int64_t n;

        if (rd_i64(&o, nm.kinds + o.l->bytes_size, &n) || n != nm.total ||
            (n && rd(&o, nm.kinds + o.l->bytes_data, kinds, (size_t)n)))
            return -EFAULT;
    }
    for (int64_t base = 0; base < nm.total; base += 64) {
        int64_t chunk = nm.total - base < 64 ? nm.total - base : 64;

        if (rd(&o, frame->frame + o.ol.frame_localsplus + (uint64_t)base * 8, slots,
               (size_t)chunk * 8))
            return -EFAULT;
        for (int64_t i = 0; i < chunk; i++) {
            int64_t slot = base + i, index;
            uint64_t value = slots[i], names;
            struct type_info t;
            struct bts_python_local local;
            char text[BTS_PYTHON_VALUE_MAX];
            const char *name;

            if (nm.kinds && (!(kinds[slot] & (PY_KIND_LOCAL | PY_KIND_CELL | PY_KIND_FREE)) ||
                             (kinds[slot] & PY_KIND_HIDDEN)))
                continue;
            /* a cell holds the variable of a closure: show what it holds */
            if (value && type_of(&o, value, &t) == 0 && is_builtin(&t, "cell") &&
                rd_ptr(&o, value + o.ol.cell_ref, &value))
                value = 0;
            if (!value)
                continue; /* unbound */
            slot_name(&nm, slot, &names, &index);
            if (!names || tuple_item(&o, names, index, &names) ||
                !(name = py_reader_string(py, names)))
                name = "?";
            if (reported++ >= BTS_PYTHON_MAX_LOCALS)
                return 0;
            format_value(&o, value, text, sizeof(text));
            local.name = name;
            local.value = text;
            err = fn(ctx, &local);
            if (err)
                return err;
        }
    }
    return 0;
}

/* --- dicts and attributes --------------------------------------------- */

/* One table of entries: a dict's keys object and, for a split table, the
 * values array that goes with it. */
struct table {
    uint64_t entries;
    uint64_t entry_size;
    uint64_t n_entries;
    uint64_t hash_words; /* words before key in an entry: 1 or 0 */
    uint64_t values;     /* split: the values array; 0 when combined */
};

static int index_bytes_for(uint64_t size)
{
    return size <= 0xff ? 1 : size <= 0xffff ? 2 : size <= 0xffffffffu ? 4 : 8;
}

static int keys_table(struct objects *o, uint64_t keys, uint64_t values, struct table *tb)
{
    const struct py_object_layout *ol = &o->ol;
    int64_t nentries;
    uint64_t size;

    if (rd_i64(o, keys + ol->keys_nentries, &nentries) || nentries < 0)
        return -EFAULT;
    if (ol->dict_kind == PY_DICT_SIZED) {
        int64_t dk_size;

        if (rd_i64(o, keys + ol->keys_size, &dk_size) || dk_size < 8 || dk_size > (1 << 24) ||
            (dk_size & (dk_size - 1)))
            return -EFAULT;
        size = (uint64_t)dk_size;
        tb->entries = keys + ol->keys_indices + size * (uint64_t)index_bytes_for(size);
        tb->entry_size = 24;
        tb->hash_words = 1;
    } else {
        uint8_t log2_size, log2_index_bytes, kind;

        if (rd(o, keys + ol->keys_log2_size, &log2_size, 1) ||
            rd(o, keys + ol->keys_log2_index_bytes, &log2_index_bytes, 1) ||
            rd(o, keys + ol->keys_kind, &kind, 1) || log2_size > 24 ||
            log2_index_bytes > log2_size + 3 || kind > 2)
            return -EFAULT;
        size = 1ull << log2_size;
        tb->entries = keys + ol->keys_indices + (1ull << log2_index_bytes);
        tb->entry_size = kind == 0 ? 24 : 16;
        tb->hash_words = kind == 0 ? 1 : 0;
    }
    if ((uint64_t)nentries > size)
        return -EFAULT;
    tb->n_entries = (uint64_t)nentries < MAX_DICT_ENTRIES ? (uint64_t)nentries : MAX_DICT_ENTRIES;
    tb->values = values ? values + ol->values_items : 0;
    return 0;
}

static int dict_table(struct objects *o, uint64_t dict, struct table *tb)
{
    struct type_info t;
    uint64_t keys, values;

    if (type_of(o, dict, &t) || !is_builtin(&t, "dict") ||
        rd_ptr(o, dict + o->ol.dict_keys, &keys) || rd_ptr(o, dict + o->ol.dict_values, &values))
        return -EFAULT;
    return keys_table(o, keys, values, tb);
}

/* Entry `i` of a table: its key and value, 0 for an empty slot. */
static int table_entry(struct objects *o, const struct table *tb, uint64_t i, uint64_t *key,
                       uint64_t *value)
{
    uint64_t e[3];
    uint64_t at = tb->entries + i * tb->entry_size;

    if (rd(o, at, e, (size_t)tb->entry_size))
        return -EFAULT;
    *key = e[tb->hash_words];
    *value = e[tb->hash_words + 1];
    if (tb->values && rd_ptr(o, tb->values + i * 8, value))
        return -EFAULT;
    return 0;
}

/* The value of the str key `name` in a table; 0 when absent. */
static int table_lookup(struct objects *o, const struct table *tb, const char *name, uint64_t *out)
{
    *out = 0;
    for (uint64_t i = 0; i < tb->n_entries; i++) {
        uint64_t key, value;
        const char *text;

        if (table_entry(o, tb, i, &key, &value))
            return -EFAULT;
        if (!key || !value)
            continue;
        text = py_reader_string(o->py, key);
        if (text && strcmp(text, name) == 0) {
            *out = value;
            return 0;
        }
    }
    return 0;
}

static int dict_lookup(struct objects *o, uint64_t dict, const char *name, uint64_t *out)
{
    struct table tb;

    *out = 0;
    if (dict_table(o, dict, &tb))
        return -EFAULT;
    return table_lookup(o, &tb, name, out);
}

/* The attribute `name` of an instance of a Python class, from its
 * __dict__ or its inline values; 0 in *out when it has none. */
static int instance_attr(struct objects *o, uint64_t obj, const char *name, uint64_t *out)
{
    const struct py_object_layout *ol = &o->ol;
    struct type_info t;
    struct table tb;
    uint64_t dict = 0, values = 0, keys;
    int64_t dictoffset, basicsize;

    *out = 0;
    if (type_of(o, obj, &t))
        return -EFAULT;
    if (ol->instance_kind == PY_INSTANCE_DICTOFFSET || !(t.flags & PY_TPFLAG_MANAGED_DICT)) {
        if (rd_i64(o, t.addr + ol->type_dictoffset, &dictoffset) || dictoffset <= 0 ||
            dictoffset > (1 << 16) || rd_ptr(o, obj + (uint64_t)dictoffset, &dict))
            return -EFAULT;
    } else if (ol->instance_kind == PY_INSTANCE_MANAGED) {
        if (rd_ptr(o, obj - 24, &dict) || (!dict && rd_ptr(o, obj - 32, &values)))
            return -EFAULT;
    } else if (ol->instance_kind == PY_INSTANCE_TAGGED) {
        uint64_t v;

        if (rd_ptr(o, obj - 24, &v))
            return -EFAULT;
        if (v & 1)
            values = v + 1;
        else
            dict = v;
    } else {
        if (rd_ptr(o, obj - 24, &dict))
            return -EFAULT;
        if (!dict && (t.flags & PY_TPFLAG_INLINE_VALUES)) {
            uint8_t valid;

            if (rd_i64(o, t.addr + ol->type_basicsize, &basicsize) || basicsize < 16 ||
                basicsize > (1 << 16))
                return -EFAULT;
            values = obj + (uint64_t)basicsize;
            if (rd(o, values + 3, &valid, 1))
                return -EFAULT;
            if (!valid)
                values = 0;
        }
    }
    if (dict)
        return dict_lookup(o, dict, name, out);
    if (!values)
        return 0;
    /* split values: the keys are the class's shared ones */
    if (!(t.flags & PY_TPFLAG_HEAPTYPE) || rd_ptr(o, t.addr + ol->heaptype_cached_keys, &keys) ||
        keys_table(o, keys, values, &tb))
        return -EFAULT;
    return table_lookup(o, &tb, name, out);
}

/* --- threads ---------------------------------------------------------- */

/* The first interpreter (the main one is the last created, the list's tail
 * in every version; any of them has sys.modules). */
static int main_interpreter(struct objects *o, uint64_t *interp)
{
    uint64_t at = py_reader_target(o->py)->runtime + o->l->runtime_interpreters_head;
    uint64_t next;

    if (rd_ptr(o, at, interp) || !*interp)
        return -EFAULT;
    for (unsigned i = 0; i < 64; i++) {
        if (rd_ptr(o, *interp + o->l->interp_next, &next))
            return -EFAULT;
        if (!next)
            return 0;
        *interp = next;
    }
    return -EFAULT;
}

int bts_python_thread_names(struct bts_python *py, struct bts_python_thread_name *out, size_t max)
{
    struct objects o;
    struct table tb;
    uint64_t interp, modules, threading, globals, active;
    size_t n = 0;
    int err = objects_init(&o, py);

    if (err)
        return err;
    if (main_interpreter(&o, &interp) || rd_ptr(&o, interp + o.ol.interp_modules, &modules) ||
        dict_lookup(&o, modules, "threading", &threading))
        return -EFAULT;
    if (!threading)
        return 0;
    if (rd_ptr(&o, threading + o.ol.module_dict, &globals) ||
        dict_lookup(&o, globals, "_active", &active))
        return -EFAULT;
    if (!active)
        return 0;
    if (dict_table(&o, active, &tb))
        return -EFAULT;
    for (uint64_t i = 0; i < tb.n_entries && n < max; i++) {
        uint64_t key, thread, name_obj, ident;
        struct type_info t;
        bool negative;
        const char *name;

        if (table_entry(&o, &tb, i, &key, &thread))
            return -EFAULT;
        if (!key || !thread)
            continue;
        /* idents are pthread_t values: unsigned, and may pass INT64_MAX */
        if (type_of(&o, key, &t) || !is_builtin(&t, "int") ||
            long_parts(&o, key, &negative, &ident) || negative)
            continue;
        if (instance_attr(&o, thread, "_name", &name_obj) || !name_obj ||
            !(name = py_reader_string(py, name_obj)))
            continue;
        out[n].thread_id = ident;
        out[n].name = name;
        n++;
    }
    return (int)n;
}

int bts_python_gil_range(struct bts_python *py, const struct bts_python_thread *thread,
                         uint64_t *lo, uint64_t *hi)
{
    struct objects o;
    uint64_t gil, interp;
    int err = objects_init(&o, py);

    if (err)
        return err;
    if (o.l->gil_base == PY_GIL_IN_RUNTIME) {
        gil = py_reader_target(py)->runtime + o.l->gil;
    } else if (rd_ptr(&o, thread->tstate + o.l->tstate_interp, &interp) ||
               rd_ptr(&o, interp + o.l->gil, &gil) || !gil) {
        return -EFAULT;
    }
    *lo = gil;
    *hi = gil + o.ol.gil_size;
    return 0;
}
