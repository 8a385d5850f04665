/* SPDX-License-Identifier: MIT */
/* python-lines: CPython line tables decoded into the line that holds a
 * given bytecode offset, one decoder per table format. */
#include "python-lines.h"

#include <limits.h>

/* Lines are summed in 64 bits and clamped, so a table of a million +127
 * deltas cannot overflow. */
static int clamp_line(int64_t line)
{
    if (line > INT_MAX)
        return INT_MAX;
    if (line < INT_MIN + 1)
        return INT_MIN + 1;
    return (int)line;
}

int bts_python_lnotab_line(const uint8_t *table, size_t len, int first_line, int64_t offset)
{
    int64_t line = first_line;
    int64_t at = 0;

    if (offset < 0)
        return first_line;
    /* Each pair moves the offset first; its line step applies only to
     * instructions at or past the new offset. A trailing odd byte is
     * ignored. */
    for (size_t i = 0; i + 1 < len; i += 2) {
        at += table[i];
        if (at > offset)
            break;
        line += (int8_t)table[i + 1];
    }
    return clamp_line(line);
}

int bts_python_linetable_line(const uint8_t *table, size_t len, int first_line, int64_t offset)
{
    int64_t line = first_line;
    int64_t end = 0;

    if (offset < 0)
        return first_line;
    for (size_t i = 0; i + 1 < len; i += 2) {
        int8_t delta = (int8_t)table[i + 1];
        int64_t start = end;

        end += table[i];
        if (delta != -128)
            line += delta;
        if (offset >= start && offset < end)
            return delta == -128 ? -1 : clamp_line(line);
    }
    return -1;
}

/* Location table kinds (the 4 bits after the entry's top bit). */
enum {
    LOC_ONE_LINE_FIRST = 10, /* 10..12: line delta 0..2, then two column bytes */
    LOC_NO_COLUMN = 13,      /* signed varint line delta */
    LOC_LONG = 14,           /* signed varint line delta, then three varints */
    LOC_NONE = 15,           /* no location at all */
};

/* Varints are little-endian 6-bit groups; 0x40 says another group follows.
 * Bits past 32 are dropped so a long run cannot overflow the shift. The
 * reader stops at the next entry's header byte (top bit set) or the end. */
static uint64_t read_varint(const uint8_t *table, size_t len, size_t *at)
{
    uint64_t value = 0;
    unsigned shift = 0;

    while (*at < len) {
        uint8_t b = table[*at];

        if (b & 0x80)
            break;
        (*at)++;
        if (shift < 32)
            value |= (uint64_t)(b & 0x3f) << shift;
        shift += 6;
        if (!(b & 0x40))
            break;
    }
    return value;
}

static int64_t read_svarint(const uint8_t *table, size_t len, size_t *at)
{
    uint64_t u = read_varint(table, len, at);

    return (u & 1) ? -(int64_t)(u >> 1) : (int64_t)(u >> 1);
}

int bts_python_locations_line(const uint8_t *table, size_t len, int first_line, int64_t offset)
{
    int64_t line = first_line;
    int64_t end = 0;
    size_t at = 0;

    if (offset < 0)
        return first_line;
    while (at < len) {
        uint8_t head = table[at++];
        unsigned kind = (head >> 3) & 15;
        int64_t start = end;

        /* A byte without the top bit where a header should be is not a
         * table we understand: stop rather than guess. */
        if (!(head & 0x80))
            return -1;
        end += (int64_t)((head & 7) + 1) * 2;
        if (kind == LOC_LONG || kind == LOC_NO_COLUMN)
            line += read_svarint(table, len, &at);
        else if (kind >= LOC_ONE_LINE_FIRST && kind < LOC_NO_COLUMN)
            line += kind - LOC_ONE_LINE_FIRST;
        /* The rest of the entry (columns, end line) does not matter for
         * the line: skip to the next header byte. */
        while (at < len && !(table[at] & 0x80))
            at++;
        if (offset >= start && offset < end)
            return kind == LOC_NONE ? -1 : clamp_line(line);
    }
    return -1;
}
