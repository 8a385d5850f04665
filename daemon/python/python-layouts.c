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

/* 3.8-3.10: PyFrameObject chain, no native thread id, no qualname. */
#define FRAME_OBJECT_FIELDS                                                                        \
    .interp_next = 0, .interp_threads_head = 8, .tstate_next = 8, .tstate_interp = 16,             \
    .tstate_frame = 24, .cframe_frame = PY_NONE, .tstate_thread_id = 176,                          \
    .tstate_native_thread_id = PY_NONE, .gil_base = PY_GIL_IN_RUNTIME, .gil_locked = 16,           \
    .gil_last_holder = 8, .frame_kind = PY_FRAME_OBJECT, .frame_previous = 24, .frame_code = 32,   \
    .frame_owner = PY_NONE, .frame_is_entry = PY_NONE, .owner_cstack = -1, .owner_generator = -1,  \
    .code_filename = 104, .code_name = 112, .code_qualname = PY_NONE, .code_firstlineno = 40,      \
    .code_linetable = 120, .code_adaptive = PY_NONE, .code_code = 48, .code_flags = 36,            \
    .unicode_ascii_size = 48, .unicode_compact_size = 72, OBJECT_FIELDS

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
        .runtime_interpreters_head = 40,
        .gil_base = PY_GIL_IN_RUNTIME,
        .gil = 360,
        .gil_locked = 16,
        .gil_last_holder = 8,
        .interp_next = 0,
        .interp_threads_head = 16,
        .tstate_next = 8,
        .tstate_interp = 16,
        .tstate_frame = 56,
        .cframe_frame = 8,
        .tstate_thread_id = 152,
        .tstate_native_thread_id = 160,
        .frame_kind = PY_FRAME_INTERP,
        .frame_previous = 48,
        .frame_code = 32,
        .frame_instr = 56,
        .lasti_scale = 1,
        .frame_owner = 69,
        .frame_is_entry = 68,
        .owner_cstack = -1,
        .owner_generator = 1,
        .lines_kind = PY_LINES_LOCATIONS,
        .code_filename = 112,
        .code_name = 120,
        .code_qualname = 128,
        .code_firstlineno = 72,
        .code_linetable = 136,
        .code_adaptive = 184,
        .code_code = PY_NONE,
        .code_flags = PY_NONE,
        .unicode_ascii_size = 48,
        .unicode_compact_size = 72,
        OBJECT_FIELDS,
    },
    {
        .version = 0x030c0000,
        .runtime_interpreters_head = 40,
        .gil_base = PY_GIL_INTERP_POINTER,
        .gil = 384,
        .gil_locked = 16,
        .gil_last_holder = 8,
        .interp_next = 0,
        .interp_threads_head = 72,
        .tstate_next = 8,
        .tstate_interp = 16,
        .tstate_frame = 56,
        .cframe_frame = 0,
        .tstate_thread_id = 136,
        .tstate_native_thread_id = 144,
        .frame_kind = PY_FRAME_INTERP,
        .frame_previous = 8,
        .frame_code = 0,
        .frame_instr = 56,
        .lasti_scale = 1,
        .frame_owner = 70,
        .frame_is_entry = PY_NONE,
        .owner_cstack = 3,
        .owner_generator = 1,
        .lines_kind = PY_LINES_LOCATIONS,
        .code_filename = 112,
        .code_name = 120,
        .code_qualname = 128,
        .code_firstlineno = 68,
        .code_linetable = 136,
        .code_adaptive = 192,
        .code_code = PY_NONE,
        .code_flags = PY_NONE,
        .unicode_ascii_size = 40,
        .unicode_compact_size = 56,
        OBJECT_FIELDS,
    },
};

/* _Py_DebugOffsets (3.13): an 8-byte cookie, then 64-bit fields. These are
 * the positions of the ones we use in that block, from its declaration in
 * 3.13's Include/internal/pycore_runtime.h (checked with offsetof). */
enum {
    DO_VERSION = 8,
    DO_FREE_THREADED = 16,
    DO_RUNTIME_INTERPRETERS_HEAD = 40,
    DO_INTERP_NEXT = 64,
    DO_INTERP_THREADS_HEAD = 72,
    DO_INTERP_CEVAL_GIL = 112,
    DO_INTERP_GIL_STATE = 120,
    DO_INTERP_GIL_LOCKED = 136,
    DO_INTERP_GIL_HOLDER = 144,
    DO_TSTATE_NEXT = 168,
    DO_TSTATE_INTERP = 176,
    DO_TSTATE_CURRENT_FRAME = 184,
    DO_TSTATE_THREAD_ID = 192,
    DO_TSTATE_NATIVE_THREAD_ID = 200,
    DO_FRAME_PREVIOUS = 232,
    DO_FRAME_EXECUTABLE = 240,
    DO_FRAME_INSTR_PTR = 248,
    DO_FRAME_OWNER = 264,
    DO_CODE_FILENAME = 280,
    DO_CODE_NAME = 288,
    DO_CODE_QUALNAME = 296,
    DO_CODE_LINETABLE = 304,
    DO_CODE_FIRSTLINENO = 312,
    DO_CODE_ADAPTIVE = 344,
    DO_OBJECT_TYPE = 360,
    DO_BYTES_SIZE = 520,
    DO_BYTES_DATA = 528,
    DO_UNICODE_STATE = 544,
    DO_UNICODE_LENGTH = 552,
    DO_UNICODE_ASCII_SIZE = 560,
    DO_END = 584,
};

_Static_assert(DO_END <= PY_DEBUG_OFFSETS_LEN, "debug offsets block is read whole");

/* No struct we read is anywhere near this large; a bigger offset means the
 * block is not what we think it is. */
#define MAX_OFFSET (1u << 20)

static int take(const uint8_t *block, unsigned at, uint32_t *out)
{
    uint64_t v;

    memcpy(&v, block + at, sizeof(v));
    if (v >= MAX_OFFSET)
        return -ENOTSUP;
    *out = (uint32_t)v;
    return 0;
}

int py_layout_from_debug_offsets(struct py_layout *out, const uint8_t *block, size_t len)
{
    static const struct {
        unsigned at;
        size_t field;
    } fields[] = {
        {DO_RUNTIME_INTERPRETERS_HEAD, offsetof(struct py_layout, runtime_interpreters_head)},
        {DO_INTERP_NEXT, offsetof(struct py_layout, interp_next)},
        {DO_INTERP_THREADS_HEAD, offsetof(struct py_layout, interp_threads_head)},
        {DO_INTERP_CEVAL_GIL, offsetof(struct py_layout, gil)},
        {DO_TSTATE_NEXT, offsetof(struct py_layout, tstate_next)},
        {DO_TSTATE_INTERP, offsetof(struct py_layout, tstate_interp)},
        {DO_TSTATE_CURRENT_FRAME, offsetof(struct py_layout, tstate_frame)},
        {DO_TSTATE_THREAD_ID, offsetof(struct py_layout, tstate_thread_id)},
        {DO_TSTATE_NATIVE_THREAD_ID, offsetof(struct py_layout, tstate_native_thread_id)},
        {DO_FRAME_PREVIOUS, offsetof(struct py_layout, frame_previous)},
        {DO_FRAME_EXECUTABLE, offsetof(struct py_layout, frame_code)},
        {DO_FRAME_INSTR_PTR, offsetof(struct py_layout, frame_instr)},
        {DO_FRAME_OWNER, offsetof(struct py_layout, frame_owner)},
        {DO_CODE_FILENAME, offsetof(struct py_layout, code_filename)},
        {DO_CODE_NAME, offsetof(struct py_layout, code_name)},
        {DO_CODE_QUALNAME, offsetof(struct py_layout, code_qualname)},
        {DO_CODE_LINETABLE, offsetof(struct py_layout, code_linetable)},
        {DO_CODE_FIRSTLINENO, offsetof(struct py_layout, code_firstlineno)},
        {DO_CODE_ADAPTIVE, offsetof(struct py_layout, code_adaptive)},
        {DO_OBJECT_TYPE, offsetof(struct py_layout, object_type)},
        {DO_BYTES_SIZE, offsetof(struct py_layout, bytes_size)},
        {DO_BYTES_DATA, offsetof(struct py_layout, bytes_data)},
        {DO_UNICODE_STATE, offsetof(struct py_layout, unicode_state)},
        {DO_UNICODE_LENGTH, offsetof(struct py_layout, unicode_length)},
        {DO_UNICODE_ASCII_SIZE, offsetof(struct py_layout, unicode_ascii_size)},
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
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        uint32_t *dst = (uint32_t *)((char *)&l + fields[i].field);

        if (take(block, fields[i].at, dst))
            return -ENOTSUP;
    }
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
