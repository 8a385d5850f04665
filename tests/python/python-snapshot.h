/* SPDX-License-Identifier: MIT */
/* python-snapshot: a recording of the target memory one sample read, so
 * the frame reader can be replayed and fuzzed without a live process. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "python-reader.h"

/* Layout (host byte order): a 40-byte header
 *   u32 version_hex, u32 zero, u64 runtime, u64 code_type,
 *   u64 unicode_type, u64 zero
 * then records until the end: u64 addr, u32 len, u32 zero, len bytes.
 * A record cut short by the end of the file keeps the bytes it has.
 * Records hold only the bytes the reader looked at, so a read of a whole
 * page is served from the records that touch it, zeros elsewhere. */
#define PY_SNAPSHOT_HEADER  40
#define PY_SNAPSHOT_RECORDS 4096

struct py_snapshot_region {
    uint64_t addr;
    size_t len;
    const uint8_t *data;
};

struct py_snapshot {
    struct bts_python_target target;
    size_t n;
    struct py_snapshot_region regions[PY_SNAPSHOT_RECORDS];
};

/* Parses `buf` (which must outlive `out`: regions point into it). 0, or
 * -EINVAL when the header is short. */
int py_snapshot_parse(const uint8_t *buf, size_t len, struct py_snapshot *out);

/* bts_python_read_fn over a parsed snapshot (ctx: struct py_snapshot *):
 * the bytes of every record overlapping the range, later records on top,
 * zeros between them; -EFAULT when no record overlaps. */
int py_snapshot_read(void *ctx, uint64_t addr, void *buf, size_t len);

int py_snapshot_write_header(FILE *out, const struct bts_python_target *target);

/* Appends one record. 0 or -EIO. */
int py_snapshot_write_record(FILE *out, uint64_t addr, const void *data, size_t len);
