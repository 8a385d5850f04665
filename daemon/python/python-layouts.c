/* SPDX-License-Identifier: MIT */
/* python-layouts: where CPython 3.8-3.12 keep the fields we read (tables),
 * and 3.13's own _Py_DebugOffsets turned into the same form. */
#include "python-reader-private.h"

#include <errno.h>
#include <string.h>

/* The numbers below are offsetof()/sizeof() values on x86-64 Linux,
 * printed by a throwaway program compiled with -DPy_BUILD_CORE against
 * each version's installed headers (Include/, cpython/ and internal/):
 * pyenv's 3.8.18, 3.9.18, 3.10.13, 3.11.7 and 3.12.1, and Debian's 3.11.2,
 * which gave the same numbers as 3.11.7. Fields are the ones named in
 * struct py_layout; e.g. tstate_frame is offsetof(PyThreadState, frame)
 * before 3.11 and offsetof(PyThreadState, cframe) in 3.11 and 3.12. */

/* Shared by every version: PyObject, PyBytesObject, PyASCIIObject. */
#define OBJECT_FIELDS                                                                              \
    .object_type = 8, .bytes_size = 16, .bytes_data = 32, .unicode_length = 16, .unicode_state = 32

/* 3.8-3.11: str headers before 3.12 dropped wstr. */
#define UNICODE_BEFORE_312 .unicode_ascii_size = 48, .unicode_compact_size = 72

/* 3.8-3.10: PyFrameObject chain, no native thread id, no qualname. */
#define FRAME_OBJECT_FIELDS                                                                        \
    .interp_next = 0, .interp_threads_head = 8, .tstate_next = 8, .tstate_interp = 16,             \
    .tstate_frame = 24, .cframe_frame = PY_NONE, .tstate_thread_id = 176,                          \
    .tstate_native_thread_id = PY_NONE, .gil_base = PY_GIL_IN_RUNTIME, .gil_locked = 16,           \
    .gil_last_holder = 8, .frame_kind = PY_FRAME_OBJECT, .frame_previous = 24, .frame_code = 32,   \
    .frame_owner = PY_NONE, .frame_is_entry = PY_NONE, .owner_cstack = -1, .owner_generator = -1,  \
    .code_filename = 104, .code_name = 112, .code_qualname = PY_NONE, .code_firstlineno = 40,      \
    .code_linetable = 120, .code_adaptive = PY_NONE, .code_code = 48, .code_flags = 36,            \
    UNICODE_BEFORE_312, OBJECT_FIELDS

/* 3.11 and 3.12: _PyInterpreterFrame chain, native thread id, qualname. */
#define INTERP_FRAME_FIELDS                                                                        \
    .runtime_interpreters_head = 40, .gil_locked = 16, .gil_last_holder = 8, .interp_next = 0,     \
    .tstate_next = 8, .tstate_interp = 16, .tstate_frame = 56, .frame_kind = PY_FRAME_INTERP,      \
    .frame_instr = 56, .lasti_scale = 1, .owner_generator = 1, .lines_kind = PY_LINES_LOCATIONS,   \
    .frame_specials = 9, .code_filename = 112, .code_name = 120, .code_qualname = 128,             \
    .code_linetable = 136, .code_code = PY_NONE, .code_flags = PY_NONE, OBJECT_FIELDS

static const struct py_layout layouts[] = {
    {
        .version = 0x03080000,
        .runtime_interpreters_head = 32,
        .gil = 1152,
        .frame_instr = 104,
        .lasti_scale = 1,
        .lines_kind = PY_LINES_LNOTAB,
        FRAME_OBJECT_FIELDS,
    },
    {
        .version = 0x03090000,
        .runtime_interpreters_head = 32,
        .gil = 352,
        .frame_instr = 104,
        .lasti_scale = 1,
        .lines_kind = PY_LINES_LNOTAB,
        FRAME_OBJECT_FIELDS,
    },
    {
        .version = 0x030a0000,
        .runtime_interpreters_head = 32,
        .gil = 352,
        .frame_instr = 96,
        .lasti_scale = 2, /* 3.10 counts f_lasti in code units */
        .lines_kind = PY_LINES_310,
        FRAME_OBJECT_FIELDS,
    },
    {
        .version = 0x030b0000,
        .gil_base = PY_GIL_IN_RUNTIME,
        .gil = 360,
        .interp_threads_head = 16,
        .cframe_frame = 8,
        .tstate_thread_id = 152,
        .tstate_native_thread_id = 160,
        .frame_previous = 48,
        .frame_code = 32,
        .frame_owner = 69,
        .frame_is_entry = 68,
        .owner_cstack = -1,
        .code_firstlineno = 72,
        .code_stacksize = 68,
        .code_nlocalsplus = 76,
        .code_adaptive = 184,
        UNICODE_BEFORE_312,
        INTERP_FRAME_FIELDS,
    },
    {
        .version = 0x030c0000,
        .gil_base = PY_GIL_INTERP_POINTER,
        .gil = 384,
        .interp_threads_head = 72,
        .cframe_frame = 0,
        .tstate_thread_id = 136,
        .tstate_native_thread_id = 144,
        .frame_previous = 8,
        .frame_code = 0,
        .frame_owner = 70,
        .frame_is_entry = PY_NONE,
        .owner_cstack = 3,
        .code_firstlineno = 68,
        .code_stacksize = 64,
        .code_nlocalsplus = 72,
        .code_adaptive = 192,
        .unicode_ascii_size = 40,
        .unicode_compact_size = 56,
        INTERP_FRAME_FIELDS,
    },
};

/* No struct we read is anywhere near this large. */
#define MAX_OFFSET (1u << 20)

int py_debug_fields_fill(void *out, const uint8_t *block, const struct py_debug_field *fields,
                         size_t n, uint64_t limit)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t v;
        uint32_t v32;

        memcpy(&v, block + fields[i].at, sizeof(v));
        if (v >= limit)
            return -ENOTSUP;
        v32 = (uint32_t)v;
        memcpy((char *)out + fields[i].member, &v32, sizeof(v32));
    }
    return 0;
}

static int take(const uint8_t *block, uint16_t at, uint32_t *out)
{
    const struct py_debug_field f = {at, 0};

    return py_debug_fields_fill(out, block, &f, 1, MAX_OFFSET);
}

int py_layout_from_debug_offsets(struct py_layout *out, const uint8_t *block, size_t len)
{
    static const struct py_debug_field fields[] = {
        PY_DEBUG_FIELD(DO_RUNTIME_INTERPRETERS_HEAD, struct py_layout, runtime_interpreters_head),
        PY_DEBUG_FIELD(DO_INTERP_NEXT, struct py_layout, interp_next),
        PY_DEBUG_FIELD(DO_INTERP_THREADS_HEAD, struct py_layout, interp_threads_head),
        PY_DEBUG_FIELD(DO_INTERP_CEVAL_GIL, struct py_layout, gil),
        PY_DEBUG_FIELD(DO_TSTATE_NEXT, struct py_layout, tstate_next),
        PY_DEBUG_FIELD(DO_TSTATE_INTERP, struct py_layout, tstate_interp),
        PY_DEBUG_FIELD(DO_TSTATE_CURRENT_FRAME, struct py_layout, tstate_frame),
        PY_DEBUG_FIELD(DO_TSTATE_THREAD_ID, struct py_layout, tstate_thread_id),
        PY_DEBUG_FIELD(DO_TSTATE_NATIVE_THREAD_ID, struct py_layout, tstate_native_thread_id),
        PY_DEBUG_FIELD(DO_FRAME_PREVIOUS, struct py_layout, frame_previous),
        PY_DEBUG_FIELD(DO_FRAME_EXECUTABLE, struct py_layout, frame_code),
        PY_DEBUG_FIELD(DO_FRAME_INSTR_PTR, struct py_layout, frame_instr),
        PY_DEBUG_FIELD(DO_FRAME_OWNER, struct py_layout, frame_owner),
        PY_DEBUG_FIELD(DO_CODE_FILENAME, struct py_layout, code_filename),
        PY_DEBUG_FIELD(DO_CODE_NAME, struct py_layout, code_name),
        PY_DEBUG_FIELD(DO_CODE_QUALNAME, struct py_layout, code_qualname),
        PY_DEBUG_FIELD(DO_CODE_LINETABLE, struct py_layout, code_linetable),
        PY_DEBUG_FIELD(DO_CODE_FIRSTLINENO, struct py_layout, code_firstlineno),
        PY_DEBUG_FIELD(DO_CODE_ADAPTIVE, struct py_layout, code_adaptive),
        PY_DEBUG_FIELD(DO_OBJECT_TYPE, struct py_layout, object_type),
        PY_DEBUG_FIELD(DO_BYTES_SIZE, struct py_layout, bytes_size),
        PY_DEBUG_FIELD(DO_BYTES_DATA, struct py_layout, bytes_data),
        PY_DEBUG_FIELD(DO_UNICODE_STATE, struct py_layout, unicode_state),
        PY_DEBUG_FIELD(DO_UNICODE_LENGTH, struct py_layout, unicode_length),
        PY_DEBUG_FIELD(DO_UNICODE_ASCII_SIZE, struct py_layout, unicode_ascii_size),
    };
    struct py_layout l;
    uint64_t version, free_threaded;
    uint32_t gil_state, gil_locked, gil_holder;

    if (len < DO_END || memcmp(block, "xdebugpy", 8) != 0)
        return -ENOTSUP;
    memcpy(&version, block + DO_VERSION, sizeof(version));
    memcpy(&free_threaded, block + DO_FREE_THREADED, sizeof(free_threaded));
    /* Later versions reorder this block, and the free-threaded build has
     * other locking: only the layout we know is trusted. */
    if ((version >> 16) != 0x030d || free_threaded != 0)
        return -ENOTSUP;

    memset(&l, 0, sizeof(l));
    if (py_debug_fields_fill(&l, block, fields, sizeof(fields) / sizeof(fields[0]), MAX_OFFSET))
        return -ENOTSUP;
    if (take(block, DO_INTERP_GIL_STATE, &gil_state) ||
        take(block, DO_INTERP_GIL_LOCKED, &gil_locked) ||
        take(block, DO_INTERP_GIL_HOLDER, &gil_holder) || gil_locked < gil_state ||
        gil_holder < gil_state)
        return -ENOTSUP;

    /* The str header is read into a fixed buffer: its fields must lie
     * inside it, and inside the ASCII header, in the order CPython has. */
    if (l.object_type + 8 > l.unicode_length || l.unicode_length + 16 > l.unicode_state ||
        l.unicode_state + 4 > l.unicode_ascii_size || l.unicode_ascii_size + 16 > 128 ||
        l.bytes_size + 8 > l.bytes_data)
        return -ENOTSUP;

    l.version = 0x030d0000;
    /* The block gives the fields inside the interpreter's own GIL; the
     * interpreter follows ceval.gil, which may be shared, so keep them
     * relative to the GIL struct. */
    l.gil_base = PY_GIL_INTERP_POINTER;
    l.gil_locked = gil_locked - gil_state;
    l.gil_last_holder = gil_holder - gil_state;
    l.cframe_frame = PY_NONE;
    l.frame_kind = PY_FRAME_INTERP;
    l.lasti_scale = 1;
    l.frame_is_entry = PY_NONE;
    l.owner_cstack = 3;
    l.owner_generator = 1;
    l.lines_kind = PY_LINES_LOCATIONS;
    l.code_code = PY_NONE;
    l.code_flags = PY_NONE;
    /* The block does not give them; PyCodeObject keeps co_stacksize just
     * before co_firstlineno and co_nlocalsplus just after, from 3.11 on,
     * and _PyInterpreterFrame's own fields take 9 words. */
    l.code_stacksize = l.code_firstlineno - 4;
    l.code_nlocalsplus = l.code_firstlineno + 4;
    l.frame_specials = 9;
    /* The block has no compact-object size; from 3.12 on it is the ASCII
     * header plus utf8_length and utf8. */
    l.unicode_compact_size = l.unicode_ascii_size + 16;
    *out = l;
    return 0;
}

int py_layout_init(struct py_layout *out, unsigned version, bts_python_read_fn read, void *ctx,
                   uint64_t runtime)
{
    unsigned minor = version & 0xffff0000u;

    for (size_t i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++) {
        if (layouts[i].version == minor) {
            *out = layouts[i];
            return 0;
        }
    }
    if (minor == 0x030d0000) {
        uint8_t block[PY_DEBUG_OFFSETS_LEN];
        int err = read(ctx, runtime, block, sizeof(block));

        if (err)
            return err;
        return py_layout_from_debug_offsets(out, block, sizeof(block));
    }
    return -ENOTSUP;
}
