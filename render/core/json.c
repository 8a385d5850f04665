/* SPDX-License-Identifier: MIT */
/* json: JSON string literals from untrusted bytes (frame names, paths). */
#include "json.h"

#include <stdint.h>

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t need;
    uint32_t cp;

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        need = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        need = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        need = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n < need)
        return 0;
    for (size_t i = 1; i < need; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((need == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (need == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return need;
}

void bts_json_write_string(FILE *out, const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0, run = 0;

    putc('"', out);
    while (i < len) {
        unsigned char c = s[i];
        size_t l;

        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            i++;
            run++;
            continue;
        }
        if (run)
            fwrite(s + i - run, 1, run, out);
        run = 0;
        if (c == '"' || c == '\\') {
            putc('\\', out);
            putc(c, out);
            i++;
        } else if (c < 0x20) {
            fprintf(out, "\\u%04x", c);
            i++;
        } else if ((l = utf8_len(s + i, len - i)) > 0) {
            fwrite(s + i, 1, l, out);
            i += l;
        } else {
            fputs("\xef\xbf\xbd", out); /* U+FFFD */
            i++;
        }
    }
    if (run)
        fwrite(s + i - run, 1, run, out);
    putc('"', out);
}
