/* SPDX-License-Identifier: MIT */
/* fuzz-python-lines: libFuzzer target for the three CPython line-table
 * decoders (3.8-3.9 lnotab, 3.10 linetable, 3.11+ locations). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "python-lines.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Summed so the calls cannot be optimised away. */
static volatile int64_t line_sum;

/* Input: i32 first line, i32 offset, then the table. Each decoder is asked
 * about that offset and about 32 offsets spread over the table's reach. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int32_t first_line, offset;
    const uint8_t *table = data + 8;
    size_t len;

    if (size < 8)
        return 0;
    memcpy(&first_line, data, 4);
    memcpy(&offset, data + 4, 4);
    len = size - 8;
    line_sum += bts_python_lnotab_line(table, len, first_line, offset);
    line_sum += bts_python_linetable_line(table, len, first_line, offset);
    line_sum += bts_python_locations_line(table, len, first_line, offset);
    for (int64_t at = 0, step = (int64_t)len / 2 + 2; at < (int64_t)len * 64; at += step) {
        line_sum += bts_python_lnotab_line(table, len, first_line, at);
        line_sum += bts_python_linetable_line(table, len, first_line, at);
        line_sum += bts_python_locations_line(table, len, first_line, at);
    }
    return 0;
}
