/* SPDX-License-Identifier: MIT */
/* python-snapshot: a recording of the target memory one sample read, so
 * the frame reader can be replayed and fuzzed without a live process. */
#include "python-snapshot.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

int py_snapshot_parse(const uint8_t *buf, size_t len, struct py_snapshot *out)
{
    uint32_t version;
    size_t at = PY_SNAPSHOT_HEADER;

    memset(&out->target, 0, sizeof(out->target));
    out->n = 0;
    if (len < PY_SNAPSHOT_HEADER)
        return -EINVAL;
    memcpy(&version, buf, 4);
    out->target.version_hex = version;
    memcpy(&out->target.runtime, buf + 8, 8);
    memcpy(&out->target.code_type, buf + 16, 8);
    memcpy(&out->target.unicode_type, buf + 24, 8);
    out->target.pthread_tid_offset = -1;
    while (at + 16 <= len && out->n < PY_SNAPSHOT_RECORDS) {
        struct py_snapshot_region *r = &out->regions[out->n++];
        uint32_t n;

        memcpy(&r->addr, buf + at, 8);
        memcpy(&n, buf + at + 8, 4);
        at += 16;
        r->len = n < len - at ? n : len - at;
        r->data = buf + at;
        at += r->len;
    }
    return 0;
}

int py_snapshot_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
    const struct py_snapshot *s = ctx;
    bool any = false;

    if (addr + len < addr)
        return -EFAULT;
    memset(buf, 0, len);
    for (size_t i = 0; i < s->n; i++) {
        const struct py_snapshot_region *r = &s->regions[i];
        uint64_t lo = r->addr > addr ? r->addr : addr;
        uint64_t r_end = r->addr + r->len < r->addr ? UINT64_MAX : r->addr + r->len;
        uint64_t hi = r_end < addr + len ? r_end : addr + len;

        if (lo >= hi)
            continue;
        memcpy((uint8_t *)buf + (lo - addr), r->data + (lo - r->addr), hi - lo);
        any = true;
    }
    return any ? 0 : -EFAULT;
}

int py_snapshot_write_header(FILE *out, const struct bts_python_target *target)
{
    uint8_t head[PY_SNAPSHOT_HEADER] = {0};
    uint32_t version = target->version_hex;

    memcpy(head, &version, 4);
    memcpy(head + 8, &target->runtime, 8);
    memcpy(head + 16, &target->code_type, 8);
    memcpy(head + 24, &target->unicode_type, 8);
    return fwrite(head, sizeof(head), 1, out) == 1 ? 0 : -EIO;
}

int py_snapshot_write_record(FILE *out, uint64_t addr, const void *data, size_t len)
{
    uint32_t n = (uint32_t)len, zero = 0;

    if (len > UINT32_MAX || fwrite(&addr, 8, 1, out) != 1 || fwrite(&n, 4, 1, out) != 1 ||
        fwrite(&zero, 4, 1, out) != 1 || (len && fwrite(data, len, 1, out) != 1))
        return -EIO;
    return 0;
}
