/* SPDX-License-Identifier: MIT */
/* python-reader-private: the per-version layout table and the page-cached memory
 * shared by the python-* files. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "python-reader.h"

/* An offset this version's structs do not have. */
#define PY_NONE UINT32_MAX

enum py_frame_kind {
    PY_FRAME_OBJECT, /* 3.8-3.10: heap PyFrameObject, f_lasti an int */
    PY_FRAME_INTERP, /* 3.11+: _PyInterpreterFrame, a pointer into the code */
};

enum py_lines_kind {
    PY_LINES_LNOTAB,    /* 3.8, 3.9 */
    PY_LINES_310,       /* 3.10 */
    PY_LINES_LOCATIONS, /* 3.11+ */
};

enum py_gil_base {
    PY_GIL_IN_RUNTIME,     /* _PyRuntime + gil (3.8-3.11) */
    PY_GIL_INTERP_POINTER, /* *(interp + gil) (3.12+) */
};

/* Every offset the reader uses, in bytes from the start of the struct
 * named by the prefix. One instance per version: code never asks which
 * version it runs on, it asks the layout. */
struct py_layout {
    unsigned version; /* PY_VERSION_HEX with only major and minor: 0x030b0000 */

    uint32_t runtime_interpreters_head;

    uint8_t gil_base;
    uint32_t gil;             /* see gil_base */
    uint32_t gil_locked;      /* int, in struct _gil_runtime_state */
    uint32_t gil_last_holder; /* PyThreadState *, same struct */

    uint32_t interp_next;
    uint32_t interp_threads_head;

    uint32_t tstate_next;
    uint32_t tstate_interp;
    uint32_t tstate_frame; /* the frame, or the _PyCFrame when cframe_frame is set */
    uint32_t cframe_frame; /* _PyCFrame.current_frame (3.11, 3.12) */
    uint32_t tstate_thread_id;
    uint32_t tstate_native_thread_id; /* 3.11+ */

    uint8_t frame_kind;
    uint32_t frame_previous;
    uint32_t frame_code;
    uint32_t frame_instr;    /* int f_lasti, or _Py_CODEUNIT * */
    uint8_t lasti_scale;     /* f_lasti * scale = byte offset (2 in 3.10) */
    uint32_t frame_owner;    /* char (3.11+) */
    uint32_t frame_is_entry; /* bool (3.11 only) */
    int owner_cstack;        /* owner value of C-stack shim frames; -1 if none */
    int owner_generator;     /* owner value of generator frames */

    uint8_t lines_kind;
    uint32_t code_filename;
    uint32_t code_name;
    uint32_t code_qualname; /* 3.11+ */
    uint32_t code_firstlineno;
    uint32_t code_linetable; /* co_lnotab (3.8, 3.9) or co_linetable */
    uint32_t code_adaptive;  /* co_code_adaptive: first code unit (3.11+) */
    uint32_t code_code;      /* co_code, a bytes object (3.8-3.10) */
    uint32_t code_flags;     /* int co_flags (3.8-3.10; later the frame owner tells) */
    /* int co_stacksize and co_nlocalsplus (3.11+), which with the frame's
     * own fields (frame_specials words) size a frame on the thread's data
     * stack; frame_specials 0 where frames are objects (3.8-3.10) */
    uint32_t code_stacksize, code_nlocalsplus;
    uint8_t frame_specials;

    uint32_t object_type;
    uint32_t bytes_size;
    uint32_t bytes_data;
    uint32_t unicode_length;
    uint32_t unicode_state;
    uint32_t unicode_ascii_size;   /* data of a compact ASCII string starts here */
    uint32_t unicode_compact_size; /* data of other compact strings starts here */
};

/* Fills `out` for `version` (PY_VERSION_HEX). 3.8-3.12 come from the
 * tables; 3.13 from the _Py_DebugOffsets at the start of _PyRuntime, read
 * through `read`. 0, -ENOTSUP for other versions or a debug-offsets block
 * that does not look right, or the read's -errno. */
int py_layout_init(struct py_layout *out, unsigned version, bts_python_read_fn read, void *ctx,
                   uint64_t runtime);

/* Parses a _Py_DebugOffsets block (3.13) into `out`. 0 or -ENOTSUP. */
int py_layout_from_debug_offsets(struct py_layout *out, const uint8_t *block, size_t len);

/* Bytes of _Py_DebugOffsets the parser needs. */
#define PY_DEBUG_OFFSETS_LEN 640

/* _Py_DebugOffsets (3.13): an 8-byte cookie, then 64-bit fields. These are
 * the positions of the ones we use (python-layouts.c the reader's,
 * python-locals.c the object reader's) in that block, from its declaration
 * in 3.13's Include/internal/pycore_runtime.h (checked with offsetof). */
enum {
    DO_VERSION = 8,
    DO_FREE_THREADED = 16,
    DO_RUNTIME_INTERPRETERS_HEAD = 40,
    DO_INTERP_NEXT = 64,
    DO_INTERP_THREADS_HEAD = 72,
    DO_INTERP_IMPORTS_MODULES = 88,
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
    DO_FRAME_LOCALSPLUS = 256,
    DO_FRAME_OWNER = 264,
    DO_CODE_FILENAME = 280,
    DO_CODE_NAME = 288,
    DO_CODE_QUALNAME = 296,
    DO_CODE_LINETABLE = 304,
    DO_CODE_FIRSTLINENO = 312,
    DO_CODE_ARGCOUNT = 320,
    DO_CODE_LOCALSPLUSNAMES = 328,
    DO_CODE_LOCALSPLUSKINDS = 336,
    DO_CODE_ADAPTIVE = 344,
    DO_OBJECT_TYPE = 360,
    DO_TYPE_NAME = 376,
    DO_TYPE_FLAGS = 392,
    DO_TUPLE_ITEMS = 408,
    DO_TUPLE_SIZE = 416,
    DO_LIST_SIZE = 440,
    DO_DICT_KEYS = 456,
    DO_DICT_VALUES = 464,
    DO_FLOAT_VALUE = 480,
    DO_LONG_TAG = 496,
    DO_LONG_DIGITS = 504,
    DO_BYTES_SIZE = 520,
    DO_BYTES_DATA = 528,
    DO_UNICODE_STATE = 544,
    DO_UNICODE_LENGTH = 552,
    DO_UNICODE_ASCII_SIZE = 560,
    DO_END = 584,
};

_Static_assert(DO_END <= PY_DEBUG_OFFSETS_LEN, "debug offsets block is read whole");

/* One field taken from a _Py_DebugOffsets block: the position of its
 * 64-bit value in the block and the offset of the uint32_t member of a
 * layout struct it fills. */
struct py_debug_field {
    uint16_t at;
    uint16_t member;
};

#define PY_DEBUG_FIELD(at_, type, m)                                                               \
    {                                                                                              \
        .at = (at_), .member = offsetof(type, m)                                                   \
    }

/* Fills each field's member of `out` from `block` (PY_DEBUG_OFFSETS_LEN
 * bytes). 0, or -ENOTSUP when a value is `limit` or more: no struct we read
 * is anywhere near that large, so the block is not what we think it is. */
int py_debug_fields_fill(void *out, const uint8_t *block, const struct py_debug_field *fields,
                         size_t n, uint64_t limit);

/* A small per-sample page cache over the read callback: pages read once
 * per generation, failures remembered too so a bad pointer costs one
 * call. */
#define PY_PAGE_SIZE  4096u
#define PY_PAGE_SLOTS 128u

/* Pages the previous sample used, fetched together at the next one. */
#define PY_WORKING_SET 64u

struct py_page {
    uint64_t addr; /* page-aligned */
    uint64_t generation;
    uint64_t used; /* generation that last asked for it */
    int error;     /* 0 or -errno of the read */
    uint8_t data[PY_PAGE_SIZE];
};

/* Sees every successful read the walker makes (tests record snapshots
 * with it). */
typedef void (*py_trace_fn)(void *ctx, uint64_t addr, const void *data, size_t len);

struct py_memory {
    py_trace_fn trace;
    void *trace_ctx;
    bts_python_read_fn read;
    bts_python_read_many_fn read_many; /* NULL: pages one by one */
    void *ctx;
    uint64_t generation;
    uint64_t reads;
    uint64_t bytes;
    struct py_page *pages;                    /* PY_PAGE_SLOTS of them */
    const struct bts_python_overlay *overlay; /* NULL: none */
    uint64_t working[PY_WORKING_SET];
    size_t n_working;
};

int py_memory_init(struct py_memory *m, bts_python_read_fn read, void *ctx);
void py_memory_fini(struct py_memory *m);
/* Forgets every cached page: the target has moved on. With read_many,
 * fetches the pages the previous sample used again, in one call. */
void py_memory_next(struct py_memory *m);
/* Forgets every cached page without fetching any. */
void py_memory_forget(struct py_memory *m);
/* 0 or -errno. Reads of more than a page bypass the cache. */
int py_memory_read(struct py_memory *m, uint64_t addr, void *buf, size_t len);
int py_memory_ptr(struct py_memory *m, uint64_t addr, uint64_t *out);

/* Replaces the version string bts_python_version() returns (discovery may
 * know only "3.10" from a file name). */
void py_reader_set_version(struct bts_python *py, const char *version);

/* Calls `trace` for every read that succeeds from now on. */
void py_reader_set_trace(struct bts_python *py, py_trace_fn trace, void *ctx);

/* For python-locals.c, which reads more of the same memory between two
 * samples: the reader's page cache, layout and target, and its str reader
 * (the text of a compact str, interned until the next sample; NULL when
 * `addr` is not one). */
struct py_memory *py_reader_memory(struct bts_python *py);
const struct py_layout *py_reader_layout(const struct bts_python *py);
const struct bts_python_target *py_reader_target(const struct bts_python *py);
const char *py_reader_string(struct bts_python *py, uint64_t addr);
