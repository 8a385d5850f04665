/* SPDX-License-Identifier: MIT */
/* speedscope-private: the JSON string writer shared with report's JSON table. */
#pragma once

#include <stddef.h>
#include <stdio.h>

/* Writes `len` bytes as a quoted JSON string: '"' and '\\' escaped, control
 * characters as \u00XX, invalid UTF-8 replaced by U+FFFD. */
void bts_speedscope_json_string(FILE *out, const char *s, size_t len);
