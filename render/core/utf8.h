/* SPDX-License-Identifier: MIT */
/* utf8: decoding untrusted bytes into text a picture can show, and encoding
 * code points. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Decodes one UTF-8 code point from p[0..n) (n >= 1): returns its length
 * (>= 1) and the code point in *cp: U+FFFD for invalid bytes, overlongs,
 * surrogates, controls and other characters XML 1.0 rejects; a space for
 * tab, CR, LF. */
size_t bts_utf8_next(const unsigned char *p, size_t n, uint32_t *cp);
/* Writes code point cp (<= U+10FFFF) as UTF-8 to out; returns the bytes
 * written (1..4). */
size_t bts_utf8_put(char *out, uint32_t cp);
