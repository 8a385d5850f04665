/* SPDX-License-Identifier: MIT */
/* python-lines: CPython line tables decoded into the line that holds a
 * given bytecode offset, one decoder per table format. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Every decoder takes the raw table bytes (untrusted: any length, any
 * content), the code object's co_firstlineno and `offset`, the byte offset
 * of the instruction in co_code. It returns the line (which a hostile table
 * can make zero or negative, clamped to the int range) or -1 when the table
 * says that instruction has no line or does not cover `offset`. None of them
 * reads outside [table, table + len) or allocates. */

/* 3.8 and 3.9 co_lnotab: (offset increment, signed line increment) pairs. */
int bts_python_lnotab_line(const uint8_t *table, size_t len, int first_line, int64_t offset);

/* 3.10 co_linetable: (range length, signed line delta) pairs where a delta
 * of -128 means the range has no line. */
int bts_python_linetable_line(const uint8_t *table, size_t len, int first_line, int64_t offset);

/* 3.11+ co_linetable, the location table: one entry per run of code units,
 * a header byte (1, 4-bit kind, 3-bit length - 1) then varints or column
 * bytes depending on the kind. */
int bts_python_locations_line(const uint8_t *table, size_t len, int first_line, int64_t offset);
