/* SPDX-License-Identifier: MIT */
/* python-locals-private: the per-version offsets python-locals.c reads
 * objects with (types, ints, floats, containers, dicts, instance
 * attributes), shared with the tests that build objects in memory. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Type flags (Include/object.h), the same in 3.8-3.13. */
#define PY_TPFLAG_INLINE_VALUES (1ul << 2) /* 3.13 */
#define PY_TPFLAG_MANAGED_DICT  (1ul << 4) /* 3.11+ */
#define PY_TPFLAG_HEAPTYPE      (1ul << 9)

/* co_localspluskinds bits (3.11+). */
#define PY_KIND_HIDDEN 0x10
#define PY_KIND_LOCAL  0x20
#define PY_KIND_CELL   0x40
#define PY_KIND_FREE   0x80

enum py_long_kind {
    PY_LONG_SIZE, /* ob_size: digit count with the sign (3.8-3.11) */
    PY_LONG_TAG,  /* lv_tag: digits << 3 | sign (3.12+) */
};

enum py_dict_kind {
    PY_DICT_SIZED, /* dk_size, 24-byte entries (3.8-3.10) */
    PY_DICT_LOG2,  /* dk_log2_size, dk_kind picks 16- or 24-byte entries (3.11+) */
};

enum py_instance_kind {
    PY_INSTANCE_DICTOFFSET, /* the dict at tp_dictoffset (3.8-3.10) */
    PY_INSTANCE_MANAGED,    /* dict at -3 words, values pointer at -4 (3.11) */
    PY_INSTANCE_TAGGED,     /* dict, or values - 1 (odd), at -3 words (3.12) */
    PY_INSTANCE_INLINE,     /* dict at -3 words, else values at tp_basicsize (3.13) */
};

/* What the locals and thread names need beyond the reader's layout. Same
 * source as python-layouts.c: offsetof() against each version's headers;
 * 3.13 takes what its _Py_DebugOffsets has from there. */
struct py_object_layout {
    unsigned version;
    uint32_t frame_localsplus;
    uint32_t code_argcount;
    uint32_t code_nlocals;  /* int, 3.8-3.10 */
    uint32_t code_varnames; /* tuples, 3.8-3.10 */
    uint32_t code_cellvars;
    uint32_t code_freevars;
    uint32_t code_localsplusnames; /* tuple, 3.11+ */
    uint32_t code_localspluskinds; /* bytes, 3.11+ */
    uint32_t interp_modules;       /* sys.modules */
    uint32_t type_name;
    uint32_t type_basicsize;
    uint32_t type_flags;
    uint32_t type_dictoffset;
    uint32_t heaptype_cached_keys;
    uint32_t tuple_size;
    uint32_t tuple_items;
    uint32_t list_size;
    uint32_t float_value;
    uint32_t set_used;
    uint32_t cell_ref;
    uint32_t module_dict;
    uint8_t long_kind;
    uint32_t long_size;
    uint32_t long_digits;
    uint8_t dict_kind;
    uint32_t dict_used;
    uint32_t dict_keys;
    uint32_t dict_values;
    uint32_t keys_size;      /* PY_DICT_SIZED */
    uint32_t keys_log2_size; /* PY_DICT_LOG2: u8 fields */
    uint32_t keys_log2_index_bytes;
    uint32_t keys_kind;
    uint32_t keys_nentries;
    uint32_t keys_indices;
    uint8_t instance_kind;
    uint32_t values_items; /* the array inside PyDictValues */
    uint32_t gil_size;     /* struct _gil_runtime_state */
};

/* Fills `out` for `version` (PY_VERSION_HEX): 3.8-3.12 from the table;
 * 3.13 from the table and the _Py_DebugOffsets `block` (PY_DEBUG_OFFSETS_LEN
 * bytes, required then). 0 or -ENOTSUP. */
int py_object_layout_init(struct py_object_layout *out, unsigned version, const uint8_t *block);
