/* SPDX-License-Identifier: MIT */
/* python-snapshot: a recording of the target memory one sample read, so
 * the frame reader can be replayed and fuzzed without a live process. */
#include "python-snapshot.h"
#include "remote-read.h"

#include <errno.h>
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

    /* The newest record wins, as the last read of that memory. */
    for (size_t i = s->n; i-- > 0;) {
        const struct py_snapshot_region *r = &s->regions[i];

        if (addr >= r->addr && addr - r->addr <= r->len && len <= r->len - (addr - r->addr)) {
            memcpy(buf, r->data + (addr - r->addr), len);
            return 0;
        }
    }
    return -EFAULT;
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

int py_recorder_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
    struct py_recorder *rec = ctx;
    uint32_t n = (uint32_t)len, zero = 0;
    int err = bts_remote_read(rec->pid, addr, buf, len);

    /* Failed reads are left out: replaying them fails the same way. */
    if (err || len > UINT32_MAX)
        return err;
    if (fwrite(&addr, 8, 1, rec->out) != 1 || fwrite(&n, 4, 1, rec->out) != 1 ||
        fwrite(&zero, 4, 1, rec->out) != 1 || fwrite(buf, len, 1, rec->out) != 1)
        return -EIO;
    return 0;
}
