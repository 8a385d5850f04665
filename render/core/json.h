/* SPDX-License-Identifier: MIT */
/* json: writing untrusted bytes as JSON string literals. */
#pragma once

#include <stddef.h>
#include <stdio.h>

/* Writes `len` bytes as a quoted JSON string: '"' and '\\' escaped, control
 * characters as \u00XX, invalid UTF-8 replaced by U+FFFD. Errors show in
 * ferror(out). */
void bts_json_write_string(FILE *out, const char *s, size_t len);
