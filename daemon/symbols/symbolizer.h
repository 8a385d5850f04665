/* SPDX-License-Identifier: MIT */
/* symbolizer: run-time pc -> frame name, cached per function (per pc where
 * no ELF function covers it, or with lines). Combines
 * maps, ELF symbols, /tmp/perf-PID.map (JIT) and C++/Rust demangling. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bts_maps;
struct bts_symbolizer;

struct bts_symbolizer_opts {
    bool lines;    /* append " (file:line)" via libdw when known */
    bool demangle; /* demangle C++ and Rust names (default true) */
};

/* Symbolizes pcs of the process `maps` describes. `maps` is borrowed and
 * must outlive the symbolizer. NULL + errno on allocation failure. */
struct bts_symbolizer *bts_symbolizer_new(struct bts_maps *maps,
                                          const struct bts_symbolizer_opts *opts);
void bts_symbolizer_free(struct bts_symbolizer *sym);

/* Name of the frame at `pc`. `is_return_address` is true for every frame
 * but the leaf: the lookup then uses pc - 1 so a call at the end of a
 * function is attributed to that function. Never NULL: falls back to
 * "module+0xoff" (module basename, offset from the ELF vaddr), then
 * "[unknown]". The string is owned by the symbolizer, stable for its life,
 * and the same pointer is returned for the same pc (cached), so callers may
 * intern by pointer. */
const char *bts_symbolizer_name(struct bts_symbolizer *sym, uint64_t pc, bool is_return_address);

/* Run-time address of the first instruction of the ELF function holding
 * `pc` (pc - 1 for return addresses, as above), or 0 when no ELF symbol
 * covers it (JIT code, module+0xoff frames). Cached with the name. */
uint64_t bts_symbolizer_function_start(struct bts_symbolizer *sym, uint64_t pc,
                                       bool is_return_address);

/* Module basename for `pc` (e.g. "libc.so.6", "bt-engine", "[jit]"),
 * or "[unknown]". Owned by the symbolizer. */
const char *bts_symbolizer_module(struct bts_symbolizer *sym, uint64_t pc);

/* Why /tmp/perf-PID.map was skipped or read only in part (a FIFO, a link,
 * another uid's file, over the size bound), as a lowercase sentence for the
 * user, or NULL. Owned by the symbolizer. */
const char *bts_symbolizer_jit_note(const struct bts_symbolizer *sym);

/* What the cache holds: address ranges of ELF functions, and single pcs
 * (JIT code, module+0xoff frames, every pc with lines). */
void bts_symbolizer_cache_size(const struct bts_symbolizer *sym, size_t *functions, size_t *pcs);
