/* SPDX-License-Identifier: MIT */
/* demangle: C++ (Itanium) and Rust (legacy and v0) names through
 * libiberty's cplus_demangle. */
#pragma once

/* The demangled form of `name` in a malloc'd string the caller frees, or
 * NULL when `name` is not a mangled C++/Rust name (errno untouched). Rust
 * legacy hashes ("::h0123..") are dropped, as perf and py-spy do. */
char *bts_demangle(const char *name);
